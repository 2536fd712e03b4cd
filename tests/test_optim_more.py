"""NAdam, RAdam, Adamax, ASGD, Rprop, LBFGS, SparseAdam and swa_utils against
torch.optim: trajectories (float64 to 1e-10, float32 to rounding) across
options and param groups, checkpoints (ours and PyTorch's), errors."""
import io
import pickle

import numpy as np
import pytest

import tinygrad_kr as tkr
from tinygrad_kr import nn
from tinygrad_kr.optim import ASGD, LBFGS, Adamax, NAdam, RAdam, Rprop, SparseAdam, swa_utils
from torch_compat import torch_message

torch = pytest.importorskip("torch")

CASES = [
    (NAdam, dict(lr=0.01)),
    (NAdam, dict(lr=0.01, betas=(0.8, 0.9), weight_decay=0.1, momentum_decay=0.05)),
    (NAdam, dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    (RAdam, dict(lr=0.01)),
    # beta2 = 0.8: rho_t passes 5 at step 7, so both branches run
    (RAdam, dict(lr=0.01, betas=(0.9, 0.8), weight_decay=0.1)),
    (RAdam, dict(lr=0.01, betas=(0.5, 0.8), weight_decay=0.1, decoupled_weight_decay=True,
                 maximize=True)),
    (Adamax, dict(lr=0.01)),
    (Adamax, dict(lr=0.01, betas=(0.3, 0.5), weight_decay=0.1, maximize=True)),
    (ASGD, dict(lr=0.01)),
    (ASGD, dict(lr=0.05, lambd=0.1, alpha=0.5, t0=2, weight_decay=0.1)),   # averaging from t0
    (ASGD, dict(lr=0.05, lambd=1e-3, t0=0, maximize=True, foreach=False)),
    (Rprop, dict(lr=0.01)),
    (Rprop, dict(lr=0.1, etas=(0.3, 1.5), step_sizes=(0.05, 0.2), maximize=True)),
]
IDS = [f"{cls.__name__}-{i}" for i, (cls, _) in enumerate(CASES)]
SHAPES = [(4, 3), (5,), (), (1,)]
N_STEPS = 8
TOL = {np.float64: dict(rtol=1e-10, atol=1e-13), np.float32: dict(rtol=2e-5, atol=2e-6)}


def _data(dtype=np.float64, seed=0):
    """Initial params and one gradient per param per step."""
    rng = np.random.default_rng(seed)
    params = [np.asarray(rng.standard_normal(s), dtype) for s in SHAPES]
    grads = [[np.asarray(rng.standard_normal(s), dtype) for s in SHAPES] for _ in range(N_STEPS)]
    return params, grads


def _groups(params):
    """Two groups: the second with its own lr."""
    return [{"params": params[:2]}, {"params": params[2:], "lr": 0.03}]


def _drive(lib, opt, params, grads, steps):
    """Run ``steps`` (indices into grads).  Group 0's lr halves after step 1;
    params[1] gets no gradient at step 2 (so it is skipped, step count included)."""
    for t in steps:
        for i, p in enumerate(params):
            p.grad = None if (t == 2 and i == 1) else lib.tensor(grads[t][i].copy())
        opt.step()
        if t == 1:
            opt.param_groups[0]["lr"] *= 0.5


def _arr(v):
    if isinstance(v, (list, tuple)):
        return [_arr(x) for x in v]
    if hasattr(v, "detach"):
        v = v.detach().numpy()
    return np.array(v, dtype=np.float64) if v is not None else None


def _snapshot(opt, params):
    """Params, and every state value as float64 arrays keyed like state_dict."""
    state = {i: {k: _arr(v) for k, v in s.items()} for i, s in opt.state_dict()["state"].items()}
    return [_arr(p) for p in params], state


def _assert_same(ours, ref, tol):
    (params_a, state_a), (params_b, state_b) = ours, ref
    for x, y in zip(params_a, params_b, strict=True):
        np.testing.assert_allclose(x, y, **tol)
    assert state_a.keys() == state_b.keys()
    for i in state_a:
        assert state_a[i].keys() == state_b[i].keys(), i
        for k in state_a[i]:
            a, b = state_a[i][k], state_b[i][k]
            if isinstance(b, list):
                assert len(a) == len(b), f"state[{i}][{k!r}]"
                for x, y in zip(a, b):
                    if y is None:
                        assert x is None
                    else:
                        np.testing.assert_allclose(x, y, **tol, err_msg=f"state[{i}][{k!r}]")
            else:
                np.testing.assert_allclose(a, b, **tol, err_msg=f"state[{i}][{k!r}]")


def _pair(cls, options, dtype=np.float64, steps=range(N_STEPS)):
    """The same run in tinygrad_kr and in PyTorch: (opt, params) for each."""
    init, grads = _data(dtype)
    ours = [tkr.tensor(a.copy(), requires_grad=True) for a in init]
    ref = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    opt = cls(_groups(ours), **options)
    ref_opt = getattr(torch.optim, cls.__name__)(_groups(ref), **options)
    _drive(tkr, opt, ours, grads, steps)
    _drive(torch, ref_opt, ref, grads, steps)
    return (opt, ours), (ref_opt, ref)


def _from_torch(state_dict):
    """A PyTorch state_dict as torch.save writes it and tinygrad_kr.load reads it."""
    buf = io.BytesIO()
    torch.save(state_dict, buf)
    buf.seek(0)
    return tkr.load(buf)


# ----------------------------------------------------------------- first-order optimizers

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("cls,options", CASES, ids=IDS)
def test_trajectory_equals_torch(cls, options, dtype):
    (opt, ours), (ref_opt, ref) = _pair(cls, options, dtype)
    _assert_same(_snapshot(opt, ours), _snapshot(ref_opt, ref), TOL[dtype])
    assert ours[0].dtype == dtype and opt.state[ours[0]]["step"].item() == N_STEPS
    assert opt.state[ours[1]]["step"].item() == N_STEPS - 1     # skipped without a gradient


def _linear_run(lib, cls_or_name, options, dtype, n_steps=6):
    """A Linear(5, 3) + MSE fitted for n_steps; returns (optimizer, params)."""
    rng = np.random.default_rng(1)
    w0, b0 = rng.standard_normal((3, 5)), rng.standard_normal(3)
    x, y = rng.standard_normal((8, 5)), rng.standard_normal((8, 3))
    w = lib.tensor(w0.astype(dtype), requires_grad=True)
    b = lib.tensor(b0.astype(dtype), requires_grad=True)
    x, y = lib.tensor(x.astype(dtype)), lib.tensor(y.astype(dtype))
    cls = getattr(lib.optim, cls_or_name)
    opt = cls([{"params": [w]}, {"params": [b], "lr": 0.02}], **options)
    for _ in range(n_steps):
        opt.zero_grad()
        loss = ((x @ w.T + b - y) ** 2).mean()
        loss.backward()
        opt.step()
    return opt, [w, b]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("cls,options", CASES, ids=IDS)
def test_trains_a_linear_model_like_torch(cls, options, dtype):
    ours = _snapshot(*_linear_run(tkr, cls.__name__, options, dtype))
    ref = _snapshot(*_linear_run(torch, cls.__name__, options, dtype))
    _assert_same(ours, ref, TOL[dtype])


@pytest.mark.parametrize("cls,options", CASES, ids=IDS)
def test_state_dict_round_trip_continues_as_torch(cls, options):
    """Saved after 3 steps (pickled), loaded into a new optimizer over copies
    of the params, 5 more steps: as PyTorch's own round trip (whose
    load_state_dict casts state such as ASGD's eta to the params' dtype)."""
    (opt, ours), (ref_opt, ref) = _pair(cls, options, steps=range(3))
    saved = pickle.loads(pickle.dumps(opt.state_dict()))
    ref_saved = ref_opt.state_dict()
    assert saved["param_groups"][1]["params"] == [2, 3]
    for group, ref_group in zip(saved["param_groups"], ref_saved["param_groups"]):
        assert set(group) == set(ref_group)
    for i in ref_saved["state"]:
        assert set(saved["state"][i]) == set(ref_saved["state"][i])

    _, grads = _data()
    clones = [tkr.tensor(p.detach().numpy().copy(), requires_grad=True) for p in ours]
    ref_clones = [torch.tensor(p.detach().numpy().copy(), requires_grad=True) for p in ref]
    resumed = cls(_groups(clones), **options)
    resumed.load_state_dict(saved)
    ref_resumed = getattr(torch.optim, cls.__name__)(_groups(ref_clones), **options)
    ref_resumed.load_state_dict(ref_saved)
    assert resumed.param_groups[0]["lr"] == ref_resumed.param_groups[0]["lr"]
    _drive(tkr, resumed, clones, grads, range(3, N_STEPS))
    _drive(torch, ref_resumed, ref_clones, grads, range(3, N_STEPS))
    _assert_same(_snapshot(resumed, clones), _snapshot(ref_resumed, ref_clones), TOL[np.float64])


@pytest.mark.parametrize("cls,options", CASES, ids=IDS)
def test_loads_a_torch_state_dict(cls, options):
    (_, ours), (ref_opt, ref) = _pair(cls, options, steps=range(3))
    _, grads = _data()
    resumed = cls(_groups(ours), **options)
    resumed.load_state_dict(_from_torch(ref_opt.state_dict()))
    ref_resumed = getattr(torch.optim, cls.__name__)(_groups(ref), **options)
    ref_resumed.load_state_dict(ref_opt.state_dict())     # the same casts on both sides
    _drive(tkr, resumed, ours, grads, range(3, N_STEPS))
    _drive(torch, ref_resumed, ref, grads, range(3, N_STEPS))
    _assert_same(_snapshot(resumed, ours), _snapshot(ref_resumed, ref), TOL[np.float64])


def test_lr_may_be_a_tensor_and_closure_loss_is_returned():
    for cls in (NAdam, RAdam, Adamax, ASGD, Rprop):
        p = tkr.tensor(np.array([1.0, -2.0]), requires_grad=True)
        q = torch.tensor([1.0, -2.0], dtype=torch.float64, requires_grad=True)
        opt = cls([p], lr=tkr.tensor(0.1))
        ref_opt = getattr(torch.optim, cls.__name__)([q], lr=torch.tensor(0.1))
        for lib, o, x in ((tkr, opt, p), (torch, ref_opt, q)):
            def closure(o=o, x=x):
                o.zero_grad()
                loss = (x * x).sum()
                loss.backward()
                return loss
            for _ in range(3):
                loss = o.step(closure)
            assert float(loss.detach()) > 0
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-6)


# ----------------------------------------------------------------- argument checks

def _p(lib):
    return lib.ones(2, requires_grad=True)


BAD_ARGUMENTS = [
    ("NAdam", dict(lr=-1.0)), ("NAdam", dict(eps=-1e-8)), ("NAdam", dict(betas=(1.0, 0.9))),
    ("NAdam", dict(betas=(0.9, -0.1))), ("NAdam", dict(weight_decay=-1)),
    ("NAdam", dict(momentum_decay=-0.5)),
    ("RAdam", dict(lr=-0.5)), ("RAdam", dict(eps=-1)), ("RAdam", dict(betas=(-0.1, 0.9))),
    ("RAdam", dict(betas=(0.9, 1.0))), ("RAdam", dict(weight_decay=-0.1)),
    ("Adamax", dict(lr=-1)), ("Adamax", dict(eps=-1)), ("Adamax", dict(betas=(1.5, 0.9))),
    ("Adamax", dict(betas=(0.9, 1.0))), ("Adamax", dict(weight_decay=-2)),
    ("ASGD", dict(lr=-0.01)), ("ASGD", dict(weight_decay=-0.01)),
    ("Rprop", dict(lr=-1)), ("Rprop", dict(etas=(1.0, 1.2))), ("Rprop", dict(etas=(0.5, 1.0))),
    ("Rprop", dict(etas=(0.0, 2.0))),
    ("LBFGS", dict(lr=-1)),
    ("SparseAdam", dict(lr=0.0)), ("SparseAdam", dict(eps=0.0)),
    ("SparseAdam", dict(betas=(1.0, 0.9))), ("SparseAdam", dict(betas=(0.9, 1.0))),
]


@pytest.mark.parametrize("name,options", BAD_ARGUMENTS,
                         ids=[f"{n}-{'-'.join(o)}" for n, o in BAD_ARGUMENTS])
def test_bad_hyperparameters_raise_pytorchs_value_error(name, options):
    with pytest.raises(ValueError) as ref:
        getattr(torch.optim, name)([_p(torch)], **options)
    with pytest.raises(ValueError) as ours:
        getattr(tkr.optim, name)([_p(tkr)], **options)
    assert str(ours.value) == str(ref.value)


@pytest.mark.parametrize("name", ["NAdam", "RAdam", "Adamax", "ASGD", "Rprop", "LBFGS",
                                  "SparseAdam"])
def test_tensor_lr_must_hold_one_number(name):
    with pytest.raises(ValueError, match="Tensor lr must be 1-element"):
        getattr(tkr.optim, name)([_p(tkr)], lr=tkr.tensor([0.1, 0.2]))


def test_lbfgs_refuses_param_groups_as_pytorch():
    groups = lambda lib: [{"params": [_p(lib)]}, {"params": [_p(lib)], "lr": 0.1}]  # noqa: E731
    with pytest.raises(ValueError) as ref:
        torch.optim.LBFGS(groups(torch))
    with pytest.raises(ValueError) as ours:
        LBFGS(groups(tkr))
    assert str(ours.value) == str(ref.value)


@pytest.mark.parametrize("cls", [NAdam, RAdam, Adamax, ASGD, Rprop])
def test_execution_flags(cls):
    cls([_p(tkr)], foreach=True)         # one implementation: foreach selects it too
    cls([_p(tkr)], capturable=True)      # no CUDA graphs here: accepted, changes nothing
    with pytest.raises(RuntimeError, match="differentiable=True is not supported"):
        cls([_p(tkr)], differentiable=True)
    assert "fused" not in cls([_p(tkr)]).defaults   # not an option of these in PyTorch


def test_group_options_and_repr_match_pytorchs():
    for name in ("NAdam", "RAdam", "Adamax", "ASGD", "Rprop", "LBFGS", "SparseAdam"):
        ours = getattr(tkr.optim, name)([_p(tkr)])
        ref = getattr(torch.optim, name)([_p(torch)])
        assert set(ours.param_groups[0]) == set(ref.param_groups[0]), name
        for k, v in ref.param_groups[0].items():
            if k != "params":
                assert ours.param_groups[0][k] == v, (name, k)
        assert repr(ours) == repr(ref)


# ----------------------------------------------------------------- LBFGS

def _rosenbrock(lib, x, y):
    """The 4-d Rosenbrock function of cat(x, y)."""
    z = lib.cat([x, y])
    return (100 * (z[1:] - z[:-1] ** 2) ** 2 + (1 - z[:-1]) ** 2).sum()


LBFGS_CASES = [
    dict(lr=0.1),
    dict(lr=0.5, max_iter=5, max_eval=7, history_size=2),
    dict(line_search_fn="strong_wolfe"),
    dict(line_search_fn="strong_wolfe", history_size=3, max_iter=10, tolerance_change=1e-12),
    dict(line_search_fn="strong_wolfe", max_iter=50, tolerance_grad=1e-5),   # converges
    dict(tolerance_grad=1e3),         # optimal at once: nothing moves
    dict(lr=0.1, tolerance_change=0.5),       # stops when a step moves less than that
    dict(line_search_fn="strong_wolfe", max_iter=4, max_eval=5, lr=3.0),    # out of evaluations
    dict(line_search_fn="strong_wolfe", lr=10.0, max_iter=30),   # zooms from a long first step
    dict(line_search_fn="strong_wolfe", lr=0.01, max_iter=30),   # extrapolates
    # the zoom's trial points near an end of the bracket move off it
    dict(line_search_fn="strong_wolfe", lr=1000.0, history_size=1, max_iter=30),
]


def _lbfgs_run(lib, options, n_steps, dtype=np.float64):
    """LBFGS on Rosenbrock from (-1.5, 2, -1, 1.2) with an unused third
    parameter (no gradient); returns (opt, params, losses)."""
    x = lib.tensor(np.array([-1.5, 2.0], dtype), requires_grad=True)
    y = lib.tensor(np.array([-1.0, 1.2], dtype), requires_grad=True)
    unused = lib.tensor(np.array([3.0], dtype), requires_grad=True)
    opt = lib.optim.LBFGS([x, y, unused], **options)

    def closure():
        opt.zero_grad()
        loss = _rosenbrock(lib, x, y)
        loss.backward()
        return loss

    return opt, [x, y, unused], [float(opt.step(closure).detach()) for _ in range(n_steps)], closure


def _lbfgs_tol(options):
    """Float64 tolerances.  PyTorch's ``p.add_(d, alpha=t)`` is a fused
    multiply-add, NumPy's ``p += t * d`` rounds twice: the line search's
    trial points differ in the last bit, which Rosenbrock's curved valley
    amplifies to about 1e-10 before the iterates meet again at the minimum
    (with a fixed step they agree to the last bits)."""
    if options.get("line_search_fn") is None:
        return TOL[np.float64]
    return dict(rtol=1e-7, atol=1e-8)


@pytest.mark.parametrize("options", LBFGS_CASES,
                         ids=[str(i) for i in range(len(LBFGS_CASES))])
def test_lbfgs_iterates_equal_torch_on_rosenbrock(options):
    ours, ours_params, ours_losses, _ = _lbfgs_run(tkr, options, 4)
    ref, ref_params, ref_losses, _ = _lbfgs_run(torch, options, 4)
    tol = _lbfgs_tol(options)
    np.testing.assert_allclose(ours_losses, ref_losses, rtol=tol["rtol"], atol=1e-12)
    for p, q in zip(ours_params, ref_params):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), **tol)
    state, ref_state = ours.state[ours_params[0]], ref.state[ref_params[0]]
    assert set(state) == set(ref_state)
    assert (state["func_evals"], state["n_iter"]) == (ref_state["func_evals"],
                                                      ref_state["n_iter"])
    if options.get("line_search_fn") is None:
        _assert_same(_snapshot(ours, ours_params), _snapshot(ref, ref_params), tol)
    assert ours_params[2].grad is None and ours_params[2].item() == 3.0


def test_lbfgs_converges_on_rosenbrock():
    opt, params, losses, _ = _lbfgs_run(tkr, dict(line_search_fn="strong_wolfe", max_iter=100),
                                        3)
    np.testing.assert_allclose(np.concatenate([p.detach().numpy() for p in params[:2]]),
                               1.0, atol=1e-4)
    assert losses[-1] < 1e-9


@pytest.mark.parametrize("line_search_fn", [None, "strong_wolfe"])
def test_lbfgs_float32_linear_model_equals_torch(line_search_fn):
    def run(lib):
        rng = np.random.default_rng(2)
        w = lib.tensor(rng.standard_normal((3, 5)).astype(np.float32), requires_grad=True)
        b = lib.tensor(np.zeros(3, np.float32), requires_grad=True)
        x = lib.tensor(rng.standard_normal((16, 5)).astype(np.float32))
        y = lib.tensor(rng.standard_normal((16, 3)).astype(np.float32))
        opt = lib.optim.LBFGS([w, b], lr=0.8, max_iter=4, history_size=5,
                              line_search_fn=line_search_fn)

        def closure():
            opt.zero_grad()
            loss = ((x @ w.T + b - y) ** 2).mean()
            loss.backward()
            return loss

        losses = [float(opt.step(closure).detach()) for _ in range(3)]
        return losses, [w, b]

    losses, params = run(tkr)
    ref_losses, ref_params = run(torch)
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-4)
    for p, q in zip(params, ref_params):
        assert p.dtype == np.float32
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("options", LBFGS_CASES[1:4], ids=["fixed", "wolfe", "wolfe-h3"])
def test_lbfgs_state_dict_round_trip_continues_as_torch(options):
    def resume(lib, opt, params):
        saved = opt.state_dict()
        if lib is tkr:
            saved = pickle.loads(pickle.dumps(saved))
        clones = [lib.tensor(p.detach().numpy().copy(), requires_grad=True) for p in params]
        new = lib.optim.LBFGS(clones, **options)
        new.load_state_dict(saved)

        def closure():
            new.zero_grad()
            loss = _rosenbrock(lib, clones[0], clones[1])
            loss.backward()
            return loss

        return new, clones, [float(new.step(closure).detach()) for _ in range(2)]

    ours, params, _, _ = _lbfgs_run(tkr, options, 2)
    ref, ref_params, _, _ = _lbfgs_run(torch, options, 2)
    assert set(ours.state_dict()["state"][0]) == set(ref.state_dict()["state"][0])
    ours, params, losses = resume(tkr, ours, params)
    ref, ref_params, ref_losses = resume(torch, ref, ref_params)
    tol = _lbfgs_tol(options)
    np.testing.assert_allclose(losses, ref_losses, rtol=tol["rtol"], atol=1e-12)
    for p, q in zip(params, ref_params):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), **tol)
    assert ours.state[params[0]]["func_evals"] == ref.state[ref_params[0]]["func_evals"]


def test_lbfgs_loads_a_torch_state_dict():
    options = dict(line_search_fn="strong_wolfe", history_size=3)
    ours, params, _, closure = _lbfgs_run(tkr, options, 2)
    ref, ref_params, _, ref_closure = _lbfgs_run(torch, options, 2)
    ours.load_state_dict(_from_torch(ref.state_dict()))
    for p, q in zip(params, ref_params):
        p.detach().copy_(tkr.tensor(q.detach().numpy().copy()))
    ours.step(closure)
    ref.step(ref_closure)
    for p, q in zip(params, ref_params):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(),
                                   **_lbfgs_tol(options))
    assert ours.state[params[0]]["n_iter"] == ref.state[ref_params[0]]["n_iter"]


def test_lbfgs_unknown_line_search_raises_as_torch():
    x = tkr.tensor(np.array([1.0, 2.0]), requires_grad=True)
    opt = LBFGS([x], line_search_fn="backtracking")

    def closure():
        opt.zero_grad()
        loss = (x * x).sum()
        loss.backward()
        return loss

    with pytest.raises(RuntimeError, match="only 'strong_wolfe' is supported"):
        opt.step(closure)


# ----------------------------------------------------------------- SparseAdam

class _SparseGrad:
    """What PyTorch's sparse COO gradient offers SparseAdam, around a torch
    sparse tensor (tinygrad_kr has no sparse tensors of its own)."""
    is_sparse = True

    def __init__(self, t):
        self._t = t

    def coalesce(self):
        return _SparseGrad(self._t.coalesce())

    def _indices(self):
        return tkr.tensor(self._t._indices().numpy().copy())

    def _values(self):
        return tkr.tensor(self._t._values().numpy().copy())


@pytest.mark.parametrize("options", [dict(), dict(lr=0.05, betas=(0.5, 0.7), maximize=True)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sparse_adam_on_sparse_gradients_equals_torch(options, dtype):
    rng = np.random.default_rng(3)
    tables = [rng.standard_normal((10, 3)).astype(dtype), rng.standard_normal((6, 2)).astype(dtype)]
    ref = [torch.nn.Embedding.from_pretrained(torch.tensor(t), freeze=False, sparse=True)
           for t in tables]
    ours = [tkr.tensor(t.copy(), requires_grad=True) for t in tables]
    groups = lambda ps: [{"params": [ps[0]]}, {"params": [ps[1]], "lr": 0.02}]  # noqa: E731
    ref_opt = torch.optim.SparseAdam(groups([e.weight for e in ref]), **options)
    opt = SparseAdam(groups(ours), **options)

    def drive(opt, steps):
        for step in steps:
            ref_opt.zero_grad()
            loss = 0
            for e in ref:
                idx = torch.tensor(rng.integers(0, e.num_embeddings, 7))   # repeats: uncoalesced
                weight = torch.arange(7.0, dtype=e.weight.dtype)[:, None]
                loss = loss + (e(idx) ** 2 * weight).sum()
            loss.backward()
            for p, e in zip(ours, ref):
                p.grad = None if step == 2 and e is ref[1] else _SparseGrad(e.weight.grad.clone())
            if step == 2:
                ref[1].weight.grad = None
            ref_opt.step()
            opt.step()

    drive(opt, range(5))
    _assert_same(_snapshot(opt, ours), _snapshot(ref_opt, [e.weight for e in ref]), TOL[dtype])
    assert opt.state[ours[0]]["step"] == 5 and opt.state[ours[1]]["step"] == 4

    saved = pickle.loads(pickle.dumps(opt.state_dict()))
    resumed = SparseAdam(groups(ours), **options)
    resumed.load_state_dict(saved)
    assert type(resumed.state[ours[0]]["step"]) is int      # a Python int, as PyTorch's
    resumed.load_state_dict(_from_torch(ref_opt.state_dict()))
    assert type(resumed.state[ours[1]]["step"]) is int
    drive(resumed, range(5, 8))
    _assert_same(_snapshot(resumed, ours), _snapshot(ref_opt, [e.weight for e in ref]),
                 TOL[dtype])


def test_sparse_adam_empty_gradient_and_closure_as_torch():
    ref = torch.ones(4, 2, dtype=torch.float64, requires_grad=True)
    p = tkr.tensor(np.ones((4, 2)), requires_grad=True)
    ref_opt, opt = torch.optim.SparseAdam([ref]), SparseAdam([p])
    empty = torch.sparse_coo_tensor(torch.zeros((1, 0), dtype=torch.long),
                                    torch.zeros((0, 2), dtype=torch.float64), (4, 2),
                                    check_invariants=True)

    def closure(grad):
        ref.grad = grad
        p.grad = _SparseGrad(grad)
        return tkr.tensor(1.5)

    assert opt.step(lambda: closure(empty)).item() == 1.5
    ref_opt.step(lambda: closure(empty))
    grad = torch.sparse_coo_tensor(torch.tensor([[3, 1, 3]]),
                                   torch.ones(3, 2, dtype=torch.float64), (4, 2),
                                   check_invariants=True)
    opt.step(lambda: closure(grad))
    ref_opt.step(lambda: closure(grad))
    _assert_same(_snapshot(opt, [p]), _snapshot(ref_opt, [ref]), TOL[np.float64])
    assert opt.state[p]["step"] == 2


def test_sparse_adam_refuses_dense_gradients_as_torch():
    ref = torch.ones(3, requires_grad=True)
    ref.grad = torch.ones(3)
    with pytest.raises(RuntimeError) as err:
        torch.optim.SparseAdam([ref]).step()
    p = tkr.ones(3, requires_grad=True)
    opt = SparseAdam([p])
    opt.step()                      # no gradient: nothing to do
    p.grad = tkr.ones(3)            # what this engine's backward produces: dense
    with pytest.raises(RuntimeError, match=str(err.value)) as ours:
        opt.step()
    assert "no sparse tensors" in str(ours.value)
    x = tkr.tensor([0, 2, 2])
    with pytest.raises(NotImplementedError, match="sparse=True"):
        nn.Embedding(4, 2, sparse=True)(x)


# ----------------------------------------------------------------- swa_utils

def _bn_models(dtype=np.float64):
    """The same Linear -> BatchNorm1d -> ReLU -> Linear in both libraries."""
    torch.manual_seed(0)
    ref = torch.nn.Sequential(torch.nn.Linear(4, 5), torch.nn.BatchNorm1d(5), torch.nn.ReLU(),
                              torch.nn.Linear(5, 2))
    ours = nn.Sequential(nn.Linear(4, 5), nn.BatchNorm1d(5), nn.ReLU(), nn.Linear(5, 2))
    if dtype == np.float64:
        ref, ours = ref.double(), ours.double()
    ours.load_state_dict({k: tkr.tensor(v.detach().numpy().copy())
                          for k, v in ref.state_dict().items()})
    return ours, ref


def _batches(dtype=np.float64, n=4):
    rng = np.random.default_rng(4)
    return [(rng.standard_normal((6, 4)).astype(dtype), rng.standard_normal((6, 2)).astype(dtype))
            for _ in range(n)]


AVERAGING = {
    "swa": lambda m: m.AveragedModel,
    "swa-buffers": lambda m: lambda model: m.AveragedModel(model, use_buffers=True),
    "ema-multi": lambda m: lambda model: m.AveragedModel(
        model, multi_avg_fn=m.get_ema_multi_avg_fn(0.9)),
    "ema-multi-buffers": lambda m: lambda model: m.AveragedModel(
        model, multi_avg_fn=m.get_ema_multi_avg_fn(0.7), use_buffers=True),
    "swa-multi": lambda m: lambda model: m.AveragedModel(
        model, multi_avg_fn=m.get_swa_multi_avg_fn()),
    "ema-avg_fn": lambda m: lambda model: m.AveragedModel(model, avg_fn=m.get_ema_avg_fn(0.8)),
    "swa-avg_fn": lambda m: lambda model: m.AveragedModel(model, avg_fn=m.get_swa_avg_fn()),
}


def _swa_training(lib, model, averaging, strategy, batches):
    """SGD for 5 epochs, averaging from epoch 1 with SWALR; then update_bn.
    Returns the averaged model, the lrs after each epoch and the eval output."""
    m = lib.optim.swa_utils
    opt = lib.optim.SGD([{"params": list(model[0].parameters()) + list(model[1].parameters())},
                         {"params": model[3].parameters(), "lr": 0.05}], lr=0.1, momentum=0.9)
    swa_model = AVERAGING[averaging](m)(model)
    sched = m.SWALR(opt, swa_lr=[0.05, 0.01], anneal_epochs=2, anneal_strategy=strategy)
    lrs = []
    for epoch in range(5):
        for x, y in batches:
            opt.zero_grad()
            loss = ((model(lib.tensor(x)) - lib.tensor(y)) ** 2).mean()
            loss.backward()
            opt.step()
        if epoch >= 1:
            swa_model.update_parameters(model)
            sched.step()
        lrs.append(sched.get_last_lr())
    m.update_bn([(lib.tensor(x), lib.tensor(y)) for x, y in batches], swa_model)
    swa_model.eval()
    out = swa_model(lib.tensor(batches[0][0]))
    return swa_model, lrs, out


@pytest.mark.parametrize("strategy", ["cos", "linear"])
@pytest.mark.parametrize("averaging", list(AVERAGING))
def test_averaged_model_swalr_update_bn_equal_torch(averaging, strategy):
    ours, ref = _bn_models()
    batches = _batches()
    swa, lrs, out = _swa_training(tkr, ours, averaging, strategy, batches)
    ref_swa, ref_lrs, ref_out = _swa_training(torch, ref, averaging, strategy, batches)
    np.testing.assert_allclose(lrs, ref_lrs, rtol=1e-12)
    sd, ref_sd = swa.state_dict(), ref_swa.state_dict()
    assert list(sd) == list(ref_sd)
    for k in ref_sd:
        assert sd[k].dtype == ref_sd[k].detach().numpy().dtype, k
        np.testing.assert_allclose(sd[k].numpy(), ref_sd[k].numpy(), rtol=1e-10, atol=1e-12,
                                   err_msg=k)
    np.testing.assert_allclose(out.detach().numpy(), ref_out.detach().numpy(), rtol=1e-10)
    assert int(swa.n_averaged.item()) == 4
    assert not swa.training and swa.module[1].momentum == 0.1


def test_averaged_model_float32():
    ours, ref = _bn_models(np.float32)
    batches = _batches(np.float32)
    swa, _, out = _swa_training(tkr, ours, "ema-multi", "cos", batches)
    ref_swa, _, ref_out = _swa_training(torch, ref, "ema-multi", "cos", batches)
    for k, v in ref_swa.state_dict().items():
        np.testing.assert_allclose(swa.state_dict()[k].numpy(), v.numpy(), rtol=1e-4, atol=1e-5)
    assert out.dtype == np.float32


def test_averaged_model_copies_and_refuses_two_averaging_functions():
    model = nn.Linear(2, 2)
    swa = swa_utils.AveragedModel(model, device="cpu")
    assert swa.module is not model and swa.module.weight is not model.weight
    assert [k for k, _ in swa.named_buffers()] == ["n_averaged"]
    assert swa.n_averaged.dtype == tkr.int64
    with pytest.raises(AssertionError, match="Only one of avg_fn and multi_avg_fn"):
        swa_utils.AveragedModel(model, avg_fn=swa_utils.get_swa_avg_fn(),
                                multi_avg_fn=swa_utils.get_swa_multi_avg_fn())


@pytest.mark.parametrize("decay", [-0.1, 1.5])
def test_ema_decay_checked_as_torch(decay):
    for name in ("get_ema_multi_avg_fn", "get_ema_avg_fn"):
        with pytest.raises(ValueError) as ref:
            getattr(torch.optim.swa_utils, name)(decay)
        with pytest.raises(ValueError) as ours:
            getattr(swa_utils, name)(decay)
        assert str(ours.value) == str(ref.value)


def test_swa_multi_avg_fn_on_integers_raises_as_torch():
    for n in (2, "tensor"):
        with pytest.raises(RuntimeError) as ref:
            torch.optim.swa_utils.get_swa_multi_avg_fn()(
                [torch.tensor([3, 5])], [torch.tensor([9, 9])],
                torch.tensor(2) if n == "tensor" else n)
        with pytest.raises(RuntimeError) as ours:
            swa_utils.get_swa_multi_avg_fn()([tkr.tensor([3, 5])], [tkr.tensor([9, 9])],
                                             tkr.tensor(2) if n == "tensor" else n)
        assert str(ours.value) == str(ref.value)


class _WithInstanceNorm(nn.Module):
    """A model holding an InstanceNorm1d that tracks running stats (a
    _BatchNorm subclass here, not in PyTorch: update_bn must leave it)."""

    def __init__(self, net):
        super().__init__()
        self.net = net
        self.inorm = nn.InstanceNorm1d(3, track_running_stats=True, dtype=tkr.float64)

    def forward(self, x):
        return self.net(x)


def test_update_bn_leaves_other_layers_and_modes_alone():
    ours, ref = _bn_models()
    model = _WithInstanceNorm(ours)
    model.eval()
    model.inorm.running_mean.fill_(5.0)
    ours[1].momentum = 0.3
    batches = [tkr.tensor(x) for x, _ in _batches()]
    swa_utils.update_bn(batches, model, device="cpu")
    torch.optim.swa_utils.update_bn([torch.tensor(x) for x, _ in _batches()], ref)
    assert not model.training and not ours.training and ours[1].momentum == 0.3
    np.testing.assert_array_equal(model.inorm.running_mean.numpy(), 5.0)
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        np.testing.assert_allclose(getattr(ours[1], name).numpy(),
                                   getattr(ref[1], name).numpy(), rtol=1e-12)
    swa_utils.update_bn(batches, nn.Linear(4, 2))     # no BatchNorm: nothing to do


@pytest.mark.parametrize("anneal_epochs", [0, 1, 3])
@pytest.mark.parametrize("strategy", ["cos", "linear"])
def test_swalr_sequence_equals_torch(strategy, anneal_epochs):
    def run(lib):
        opt = lib.optim.SGD([{"params": [_p(lib)]}, {"params": [_p(lib)], "lr": 0.3}], lr=0.1)
        sched = lib.optim.swa_utils.SWALR(opt, swa_lr=0.02, anneal_epochs=anneal_epochs,
                                          anneal_strategy=strategy)
        lrs = [sched.get_last_lr()]
        for i in range(6):
            opt.step()
            sched.step()
            if i == 1:
                opt.param_groups[1]["lr"] = 0.5     # carried through, as PyTorch's
            lrs.append(sched.get_last_lr())
        return lrs, sched

    lrs, sched = run(tkr)
    ref_lrs, ref_sched = run(torch)
    np.testing.assert_allclose(lrs, ref_lrs, rtol=1e-12)
    assert set(sched.state_dict()) == set(ref_sched.state_dict())


def test_swalr_state_dict_round_trip():
    def make(lib):
        opt = lib.optim.SGD([_p(lib)], lr=0.1)
        return opt, lib.optim.swa_utils.SWALR(opt, swa_lr=0.01, anneal_epochs=4,
                                              anneal_strategy="linear")
    opt, sched = make(tkr)
    for _ in range(2):
        opt.step()
        sched.step()
    saved = pickle.loads(pickle.dumps(sched.state_dict()))
    opt2, sched2 = make(tkr)
    opt2.load_state_dict(opt.state_dict())
    sched2.load_state_dict(saved)
    assert sched2.anneal_func is sched2._linear_anneal
    for _ in range(3):
        for o, s in ((opt, sched), (opt2, sched2)):
            o.step()
            s.step()
        assert sched2.get_last_lr() == sched.get_last_lr()


@pytest.mark.parametrize("options", [dict(anneal_strategy="exp"), dict(anneal_epochs=-1),
                                     dict(anneal_epochs=2.5), dict(swa_lr=[0.1, 0.2])])
def test_swalr_bad_arguments_raise_as_torch(options):
    options = {"swa_lr": 0.05, **options}
    with pytest.raises(ValueError) as ref:
        torch.optim.swa_utils.SWALR(torch.optim.SGD([_p(torch)], lr=0.1), **options)
    with pytest.raises(ValueError) as ours:
        swa_utils.SWALR(tkr.optim.SGD([_p(tkr)], lr=0.1), **options)
    assert str(ours.value) == torch_message(ref.value, torch)     # 2.11: "must by one of"


def test_exported_names_match_torch():
    for name in ("NAdam", "RAdam", "Adamax", "ASGD", "Rprop", "LBFGS", "SparseAdam"):
        assert name in tkr.optim.__all__ and hasattr(torch.optim, name)
    assert set(swa_utils.__all__) == set(torch.optim.swa_utils.__all__)
