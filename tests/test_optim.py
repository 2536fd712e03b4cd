"""Optimizers: fused path == reference loop == torch.optim, validation, checkpoints."""
import pickle

import numpy as np
import pytest

import tinygrad_kr as tkr
from tinygrad_kr import kernels
from tinygrad_kr.optim import SGD, Adadelta, Adagrad, Adam, AdamW, Optimizer, RMSprop

CASES = [
    (SGD, dict(lr=0.1)),
    (SGD, dict(lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01)),
    (SGD, dict(lr=0.1, momentum=0.9, nesterov=True, maximize=True)),
    (Adagrad, dict(lr=0.1)),
    (Adagrad, dict(lr=0.1, lr_decay=0.05, weight_decay=0.1, initial_accumulator_value=0.5,
                   maximize=True)),
    (RMSprop, dict(lr=0.01)),
    (RMSprop, dict(lr=0.01, alpha=0.9, momentum=0.5, centered=True, weight_decay=0.1)),
    (RMSprop, dict(lr=0.01, alpha=0.3, centered=True, maximize=True)),
    (Adadelta, dict()),
    (Adadelta, dict(lr=0.5, rho=0.8, weight_decay=0.1, maximize=True)),
    (Adam, dict(lr=0.01)),
    (Adam, dict(lr=0.01, betas=(0.3, 0.9), weight_decay=0.1, amsgrad=True)),
    (Adam, dict(lr=0.01, weight_decay=0.1, maximize=True, decoupled_weight_decay=True)),
    (AdamW, dict(lr=0.01)),
    (AdamW, dict(lr=0.01, amsgrad=True, maximize=True)),
]
IDS = [f"{cls.__name__}-{i}" for i, (cls, _) in enumerate(CASES)]
SHAPES = [(4, 3), (5,), (), (1,)]
N_STEPS = 5


def _data(seed=0):
    """Initial params and one gradient per param per step (float64)."""
    rng = np.random.default_rng(seed)
    params = [np.asarray(rng.standard_normal(s)) for s in SHAPES]
    grads = [[np.asarray(rng.standard_normal(s)) for s in SHAPES] for _ in range(N_STEPS)]
    return params, grads


def _groups(params):
    """Two groups: the second with its own lr."""
    return [{"params": params[:2]}, {"params": params[2:], "lr": 0.05}]


def _drive(lib, opt, params, grads, steps):
    """Run ``steps`` (indices into grads).  Group 0's lr halves after step 1;
    params[1] gets no gradient at step 2 (so it is skipped, step count included)."""
    for t in steps:
        for i, p in enumerate(params):
            p.grad = None if (t == 2 and i == 1) else lib.tensor(grads[t][i].copy())
        opt.step()
        if t == 1:
            opt.param_groups[0]["lr"] *= 0.5


def _snapshot(opt, params):
    """Params and every state value as float64 arrays, state keyed like state_dict."""
    def arr(v):
        return np.array(v.detach().numpy() if hasattr(v, "detach") else v, dtype=np.float64)
    state = {i: {k: arr(v) for k, v in s.items()} for i, s in opt.state_dict()["state"].items()}
    return [arr(p) for p in params], state


def _assert_same(a, b, rtol):
    (params_a, state_a), (params_b, state_b) = a, b
    for x, y in zip(params_a, params_b):
        np.testing.assert_allclose(x, y, rtol=rtol, atol=1e-14)
    assert state_a.keys() == state_b.keys()
    for i in state_a:
        assert state_a[i].keys() == state_b[i].keys(), i
        for k in state_a[i]:
            np.testing.assert_allclose(state_a[i][k], state_b[i][k], rtol=rtol, atol=1e-14,
                                       err_msg=f"state[{i}][{k!r}]")


def _run_tkr(cls, options, steps=range(N_STEPS), seed=0):
    init, grads = _data(seed)
    params = [tkr.tensor(a.copy(), requires_grad=True) for a in init]
    opt = cls(_groups(params), **options)
    _drive(tkr, opt, params, grads, steps)
    return opt, params


@pytest.mark.parametrize("cls,options", CASES, ids=IDS)
def test_fused_equals_reference_loop(cls, options):
    fused = _snapshot(*_run_tkr(cls, options))
    reference = _snapshot(*_run_tkr(cls, {**options, "foreach": False}))
    _assert_same(fused, reference, rtol=1e-12)


@pytest.mark.parametrize("cls,options", CASES, ids=IDS)
def test_equals_torch(cls, options):
    torch = pytest.importorskip("torch")
    init, grads = _data()
    params = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    opt = getattr(torch.optim, cls.__name__)(_groups(params), **options)
    _drive(torch, opt, params, grads, range(N_STEPS))
    _assert_same(_snapshot(*_run_tkr(cls, options)), _snapshot(opt, params), rtol=1e-10)


@pytest.mark.parametrize("cls,options", CASES[1::2], ids=IDS[1::2])
def test_state_dict_round_trip_continues_identically(cls, options):
    opt, params = _run_tkr(cls, options, steps=range(2))
    saved = pickle.loads(pickle.dumps(opt.state_dict()))
    assert saved["param_groups"][1]["params"] == [2, 3]
    assert all(isinstance(i, int) for i in saved["state"])

    init, grads = _data()
    clones = [tkr.tensor(p.detach().numpy().copy(), requires_grad=True) for p in params]
    resumed = cls(_groups(clones), **options)
    resumed.load_state_dict(saved)
    assert resumed.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    _drive(tkr, opt, params, grads, range(2, N_STEPS))
    _drive(tkr, resumed, clones, grads, range(2, N_STEPS))
    _assert_same(_snapshot(resumed, clones), _snapshot(opt, params), rtol=0)


def test_load_state_dict_copies_and_casts_state():
    opt, params = _run_tkr(Adam, {}, steps=range(1))
    p32 = [tkr.tensor(p.detach().numpy().astype(np.float32), requires_grad=True) for p in params]
    other = Adam(_groups(p32))
    other.load_state_dict(opt.state_dict())
    exp_avg = other.state[p32[0]]["exp_avg"]
    assert exp_avg.dtype == tkr.float32
    assert other.state[p32[0]]["step"].item() == 1
    assert exp_avg is not opt.state[params[0]]["exp_avg"]


@pytest.mark.parametrize("change,match", [
    (lambda sd: sd["param_groups"].pop(), "different number of parameter groups"),
    (lambda sd: sd["param_groups"][0]["params"].pop(), "doesn't match the size"),
])
def test_load_state_dict_rejects_mismatched_groups(change, match):
    opt, _ = _run_tkr(SGD, dict(momentum=0.9), steps=range(1))
    saved = opt.state_dict()
    change(saved)
    with pytest.raises(ValueError, match=match):
        opt.load_state_dict(saved)


def test_fused_false_selects_the_reference_loop():
    assert Optimizer._kernel({"fused": False}, "adam_update") is kernels.reference("adam_update")
    assert Optimizer._kernel({"foreach": False}, "sgd_update") is kernels.reference("sgd_update")
    assert Optimizer._kernel({"fused": None}, "sgd_update") is kernels.sgd_update


def test_float32_and_float64_params_in_one_group():
    p32 = tkr.tensor(np.ones(3, np.float32), requires_grad=True)
    p64 = tkr.tensor(np.ones(2), requires_grad=True)
    opt = Adam([p32, p64], lr=0.1)
    p32.grad, p64.grad = tkr.tensor(np.ones(3, np.float32)), tkr.tensor(np.ones(2))
    opt.step()
    expected = 1 - 0.1 / (1 + 1e-8)   # first Adam step: m_hat = v_hat = g = 1
    np.testing.assert_allclose(p32.detach().numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(p64.detach().numpy(), expected, rtol=1e-12)
    assert p32.dtype == tkr.float32 and opt.state[p32]["exp_avg"].dtype == tkr.float32


def test_minimizes_a_quadratic_with_autograd():
    x = tkr.tensor(np.array([3.0, -2.0]), requires_grad=True)
    opt = Adam([x], lr=0.1)
    for _ in range(300):
        opt.zero_grad()
        loss = ((x - 1.0) ** 2).sum()
        loss.backward()
        opt.step()
    np.testing.assert_allclose(x.detach().numpy(), [1.0, 1.0], atol=1e-3)


def test_step_bumps_the_version_of_updated_params():
    a = tkr.tensor(np.ones(2), requires_grad=True)
    b = tkr.tensor(np.ones(2), requires_grad=True)
    a.grad = tkr.tensor(np.ones(2))
    before = (a._version, b._version)
    SGD([a, b], lr=0.1).step()
    assert (a._version, b._version) == (before[0] + 1, before[1])


@pytest.mark.parametrize("set_to_none", [True, False])
def test_zero_grad(set_to_none):
    p = tkr.tensor(np.ones(3), requires_grad=True)
    p.grad = tkr.tensor(np.full(3, 2.0))
    SGD([p]).zero_grad(set_to_none=set_to_none)
    if set_to_none:
        assert p.grad is None
    else:
        np.testing.assert_array_equal(p.grad.numpy(), 0.0)


def test_step_with_closure_records_the_graph_and_returns_the_loss():
    x = tkr.tensor(np.array([2.0]), requires_grad=True)
    opt = SGD([x], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (x * x).sum()
        loss.backward()
        return loss

    with tkr.no_grad():   # the closure still runs with recording on
        loss = opt.step(closure)
    assert loss.item() == 4.0
    np.testing.assert_allclose(x.detach().numpy(), [2.0 - 0.25 * 4.0])


def test_lr_may_be_a_tensor():
    p = tkr.tensor(np.ones(2), requires_grad=True)
    p.grad = tkr.tensor(np.ones(2))
    SGD([p], lr=tkr.tensor(0.5)).step()
    np.testing.assert_allclose(p.detach().numpy(), 0.5)


def _p():
    return tkr.tensor(np.ones(2), requires_grad=True)


@pytest.mark.parametrize("make,error,match", [
    (lambda: SGD([_p()], lr=-1), ValueError, "Invalid learning rate: -1"),
    (lambda: SGD([_p()], momentum=-0.5), ValueError, "Invalid momentum value: -0.5"),
    (lambda: SGD([_p()], weight_decay=-1), ValueError, "Invalid weight_decay value"),
    (lambda: SGD([_p()], nesterov=True), ValueError, "Nesterov momentum requires"),
    (lambda: Adam([_p()], betas=(1.0, 0.9)), ValueError, "Invalid beta parameter at index 0"),
    (lambda: Adam([_p()], betas=(0.9, -0.1)), ValueError, "Invalid beta parameter at index 1"),
    (lambda: AdamW([_p()], eps=-1), ValueError, "Invalid epsilon value"),
    (lambda: Adagrad([_p()], lr_decay=-1), ValueError, "Invalid lr_decay value"),
    (lambda: Adagrad([_p()], initial_accumulator_value=-1), ValueError,
     "Invalid initial_accumulator_value"),
    (lambda: RMSprop([_p()], alpha=-1), ValueError, "Invalid alpha value"),
    (lambda: Adadelta([_p()], rho=1.5), ValueError, "Invalid rho value"),
    (lambda: Adam([_p()], fused=True, foreach=True), RuntimeError, "cannot be `True` together"),
    (lambda: Adam([_p()], differentiable=True), RuntimeError, "differentiable"),
    (lambda: SGD([]), ValueError, "empty parameter list"),
    (lambda: SGD(_p()), TypeError, "iterable of Tensors or dicts"),
    (lambda: SGD([np.ones(2)]), TypeError, "can only optimize Tensors"),
    (lambda: SGD([_p() * 2]), ValueError, "non-leaf"),
    (lambda: SGD([{"params": {_p()}}]), TypeError, "ordered collections"),
])
def test_bad_arguments_raise(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_param_groups_validation_and_defaults():
    a, b = _p(), _p()
    opt = SGD([{"params": [a], "lr": 0.5}], lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [a]})
    with pytest.raises(ValueError, match="duplicate"):
        opt.add_param_group({"params": [b, b]})
    opt.add_param_group({"params": b})
    assert [g["lr"] for g in opt.param_groups] == [0.5, 0.1]
    assert opt.param_groups[1]["momentum"] == 0.9
    assert "Parameter Group 1" in repr(opt)


def test_named_parameters_are_kept_in_the_state_dict():
    opt = Adam([("w", _p()), ("b", _p())])
    assert opt.state_dict()["param_groups"][0]["param_names"] == ["w", "b"]
