"""nn.init (gains, fans, distributions) and the losses (values, gradients vs
PyTorch, float64 gradchecks, shape and option validation)."""
import math
import warnings

import numpy as np
import pytest

import tinygrad_kr as tkr
import tinygrad_kr.nn as nn
import tinygrad_kr.nn.functional as F
from tinygrad_kr.autograd import gradcheck, gradgradcheck
from tinygrad_kr.nn import init


# --------------------------------------------------------------------------
# nn.init
# --------------------------------------------------------------------------


def test_calculate_gain_table():
    torch = pytest.importorskip("torch")
    for name in ["linear", "conv2d", "sigmoid", "tanh", "relu", "selu", "leaky_relu"]:
        assert init.calculate_gain(name) == pytest.approx(torch.nn.init.calculate_gain(name))
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    assert init.calculate_gain("leaky_relu", math.sqrt(5)) == pytest.approx(math.sqrt(1 / 3))
    with pytest.raises(ValueError, match="Unsupported nonlinearity gelu"):
        init.calculate_gain("gelu")
    with pytest.raises(ValueError, match="not a valid number"):
        init.calculate_gain("leaky_relu", True)


@pytest.mark.parametrize("shape, fans", [((10, 784), (784, 10)), ((6, 3, 5, 5), (75, 150)),
                                         ((4, 2, 3), (6, 12))])
def test_fan_in_and_fan_out(shape, fans):
    assert init._calculate_fan_in_and_fan_out(tkr.empty(*shape)) == fans
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init._calculate_fan_in_and_fan_out(tkr.empty(5))


def test_kaiming_uniform_bound_is_exact_and_std_right():
    w = nn.Parameter(tkr.empty(400, 250))
    assert init.kaiming_uniform_(w, a=math.sqrt(5)) is w
    bound = 1 / math.sqrt(250)  # PyTorch's default Linear init
    a = w.detach().numpy()
    assert np.abs(a).max() <= np.float32(bound)
    assert np.abs(a).max() > 0.99 * bound
    assert a.std() == pytest.approx(bound / math.sqrt(3), rel=0.01)
    assert w.requires_grad and w.grad_fn is None and w._version > 0
    init.kaiming_uniform_(w, mode="fan_out", nonlinearity="relu")
    bound = math.sqrt(2) * math.sqrt(3 / 400)
    assert np.abs(w.detach().numpy()).max() <= np.float32(bound)
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        init.kaiming_uniform_(w, mode="fan_avg")


@pytest.mark.parametrize("fn, std", [
    (lambda t: init.kaiming_normal_(t, nonlinearity="relu"), math.sqrt(2 / 300)),
    (lambda t: init.kaiming_normal_(t, mode="fan_out"), math.sqrt(2 / 1.0001 / 200)),
    (lambda t: init.xavier_normal_(t), math.sqrt(2 / 500)),
    (lambda t: init.xavier_uniform_(t, gain=init.calculate_gain("tanh")),
     5 / 3 * math.sqrt(2 / 500)),
    (lambda t: init.normal_(t, 1.0, 0.02), 0.02),
    (lambda t: init.uniform_(t, -2, 2), 4 / math.sqrt(12)),
])
def test_init_statistics(fn, std):
    t = tkr.empty(200, 300, dtype=tkr.float64)
    fn(t)
    assert t.numpy().std() == pytest.approx(std, rel=0.02)


def test_xavier_uniform_bound():
    t = tkr.empty(30, 20, 3, 3)
    init.xavier_uniform_(t)
    fan_in, fan_out = 20 * 9, 30 * 9
    assert np.abs(t.numpy()).max() <= np.float32(math.sqrt(6 / (fan_in + fan_out)))


def test_trunc_normal_orthogonal_eye_constant():
    t = tkr.empty(10000, dtype=tkr.float64)
    init.trunc_normal_(t, mean=0.5, std=1.0, a=-0.5, b=1.0)
    a = t.numpy()
    assert a.min() >= -0.5 and a.max() <= 1.0 and a.std() > 0.2
    q = init.orthogonal_(tkr.empty(4, 6, dtype=tkr.float64), gain=2.0).numpy()
    np.testing.assert_allclose(q @ q.T, 4 * np.eye(4), atol=1e-12)
    np.testing.assert_array_equal(init.eye_(tkr.empty(2, 3)).numpy(), np.eye(2, 3))
    np.testing.assert_array_equal(init.constant_(tkr.empty(3), 0.3).numpy(), np.float32([0.3] * 3))
    np.testing.assert_array_equal(init.zeros_(tkr.ones(2)).numpy(), [0, 0])
    np.testing.assert_array_equal(init.ones_(tkr.zeros(2)).numpy(), [1, 1])
    with pytest.raises(ValueError, match="Only tensors with 2 dimensions"):
        init.eye_(tkr.empty(3))


def test_init_is_reproducible_and_uses_generators():
    tkr.manual_seed(3)
    a = init.kaiming_uniform_(tkr.empty(5, 4)).numpy().copy()
    tkr.manual_seed(3)
    b = init.kaiming_uniform_(tkr.empty(5, 4)).numpy()
    np.testing.assert_array_equal(a, b)
    g = tkr.Generator().manual_seed(7)
    c = init.normal_(tkr.empty(5), generator=g).numpy().copy()
    d = init.normal_(tkr.empty(5), generator=tkr.Generator().manual_seed(7)).numpy()
    np.testing.assert_array_equal(c, d)
    tkr.manual_seed(11)
    m1 = nn.Linear(6, 3)
    tkr.manual_seed(11)
    m2 = nn.Linear(6, 3)
    np.testing.assert_array_equal(m1.weight.detach().numpy(), m2.weight.detach().numpy())


def test_kaiming_on_empty_tensor_warns():
    with pytest.warns(UserWarning, match="zero-element tensors is a no-op"):
        init.kaiming_uniform_(tkr.empty(0, 3))


# --------------------------------------------------------------------------
# losses against torch
# --------------------------------------------------------------------------


def _check_against_torch(torch, ours_fn, theirs_fn, arrays, grad_of=(0,), rtol=1e-9):
    """Same forward value and same input gradients (float64)."""
    ours = [tkr.tensor(a, requires_grad=i in grad_of) for i, a in enumerate(arrays)]
    theirs = [torch.tensor(a, requires_grad=i in grad_of) for i, a in enumerate(arrays)]
    y1, y2 = ours_fn(*ours), theirs_fn(*theirs)
    np.testing.assert_allclose(y1.detach().numpy(), y2.detach().numpy(), rtol=1e-10, atol=1e-12)
    g = np.random.default_rng(0).standard_normal(y2.shape)
    y1.backward(tkr.tensor(g))
    y2.backward(torch.tensor(g))
    for i in grad_of:
        np.testing.assert_allclose(ours[i].grad.numpy(), theirs[i].grad.numpy(), rtol=rtol,
                                   atol=1e-12, err_msg=f"gradient of input {i}")


REDUCTIONS = ["mean", "sum", "none"]
rng = np.random.default_rng(42)
X, T = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
P, Y = rng.uniform(0.05, 0.95, (4, 3)), rng.integers(0, 2, (4, 3)).astype(np.float64)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name, kwargs", [("mse_loss", {}), ("l1_loss", {}),
                                          ("smooth_l1_loss", {"beta": 0.5}),
                                          ("huber_loss", {"delta": 0.7})])
def test_regression_losses_match_torch(name, kwargs, reduction):
    torch = pytest.importorskip("torch")
    _check_against_torch(torch, lambda x, t: getattr(F, name)(x, t, reduction=reduction, **kwargs),
                         lambda x, t: getattr(torch.nn.functional, name)(
                             x, t, reduction=reduction, **kwargs), [X, T], grad_of=(0, 1))


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "huber_loss"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_weighted_regression_losses_match_torch(name, reduction):
    torch = pytest.importorskip("torch")
    w = rng.uniform(0.1, 2, X.shape)
    _check_against_torch(
        torch, lambda x, t, w: getattr(F, name)(x, t, reduction=reduction, weight=w),
        lambda x, t, w: getattr(torch.nn.functional, name)(x, t, reduction=reduction, weight=w),
        [X, T, w], grad_of=(0, 2))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_matches_torch(reduction):
    torch = pytest.importorskip("torch")
    w = rng.uniform(0.5, 2, (3,))
    _check_against_torch(torch, lambda p, y: F.binary_cross_entropy(p, y, reduction=reduction),
                         lambda p, y: torch.nn.functional.binary_cross_entropy(
                             p, y, reduction=reduction), [P, Y])
    _check_against_torch(torch,
                         lambda p, y, w: F.binary_cross_entropy(p, y, w, reduction=reduction),
                         lambda p, y, w: torch.nn.functional.binary_cross_entropy(
                             p, y, w, reduction=reduction), [P, rng.uniform(0, 1, P.shape), w],
                         grad_of=(0, 1))


def test_bce_at_exact_zero_and_one_matches_torch():
    torch = pytest.importorskip("torch")
    p = np.array([0.0, 1.0, 0.0, 1.0, 1e-50])
    y = np.array([0.0, 1.0, 1.0, 0.0, 1.0])
    _check_against_torch(torch, lambda p, y: F.binary_cross_entropy(p, y, reduction="sum"),
                         lambda p, y: torch.nn.functional.binary_cross_entropy(
                             p, y, reduction="sum"), [p, y], rtol=1e-8)
    assert F.binary_cross_entropy(tkr.tensor(p), tkr.tensor(y), reduction="none")[2].item() == 100


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("with_weight", [False, True])
@pytest.mark.parametrize("with_pos_weight", [False, True])
def test_bce_with_logits_matches_torch(reduction, with_weight, with_pos_weight):
    torch = pytest.importorskip("torch")
    x = np.concatenate([X * 4, [[0.0, 50.0, -800.0]]])  # 0 and extreme logits included
    y = np.concatenate([rng.uniform(0, 1, X.shape), [[1.0, 0.0, 1.0]]])
    arrays = [x, y, rng.uniform(0.5, 2, (5, 1)), rng.uniform(0.5, 3, (3,))]
    kw = lambda w, pw: {"weight": w if with_weight else None,  # noqa: E731
                        "pos_weight": pw if with_pos_weight else None, "reduction": reduction}
    _check_against_torch(
        torch, lambda x, y, w, pw: F.binary_cross_entropy_with_logits(x, y, **kw(w, pw)),
        lambda x, y, w, pw: torch.nn.functional.binary_cross_entropy_with_logits(x, y, **kw(w, pw)),
        arrays, grad_of=(0, 1))


def test_bce_with_logits_extreme_logits_are_finite():
    x = tkr.tensor([1000.0, -1000.0, 0.0], requires_grad=True)
    loss = F.binary_cross_entropy_with_logits(x, tkr.tensor([0.0, 1.0, 1.0]), reduction="sum")
    assert loss.item() == pytest.approx(2000 + math.log(2))
    loss.backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0, -1.0, -0.5])


@pytest.mark.parametrize("fn", [
    lambda x, t: F.mse_loss(x, t),
    lambda x, t: F.l1_loss(x, t, reduction="sum"),
    lambda x, t: F.smooth_l1_loss(x, t, reduction="none", beta=0.8),
    lambda x, t: F.binary_cross_entropy(tkr.sigmoid(x), tkr.sigmoid(t)),
    lambda x, t: F.binary_cross_entropy_with_logits(x, tkr.sigmoid(t), pos_weight=t[0] * t[0]),
    lambda x, t: F.nll_loss(tkr.log_softmax(x, 1), tkr.tensor([0, 2, 1, 2])),
    lambda x, t: F.cross_entropy(x, tkr.tensor([1, 0, 2, 2]), label_smoothing=0.1),
], ids=["mse", "l1", "smooth_l1", "bce", "bce_logits", "nll", "cross_entropy"])
def test_loss_gradcheck(fn):
    x = tkr.tensor(X + 0.01, requires_grad=True)  # keep |x - t| away from the kinks
    t = tkr.tensor(T, requires_grad=True)
    assert gradcheck(fn, (x, t))


@pytest.mark.parametrize("fn", [
    lambda x, t: F.binary_cross_entropy(tkr.sigmoid(x), tkr.sigmoid(t)),
    lambda x, t: F.binary_cross_entropy_with_logits(x, tkr.sigmoid(t), pos_weight=t[0] * t[0]),
], ids=["bce", "bce_logits"])
def test_bce_gradgradcheck(fn):
    x = tkr.tensor(X[:2], requires_grad=True)
    t = tkr.tensor(T[:2], requires_grad=True)
    assert gradgradcheck(fn, (x, t))


# --------------------------------------------------------------------------
# loss modules and validation
# --------------------------------------------------------------------------


@pytest.mark.parametrize("make", [
    lambda nn: nn.MSELoss(), lambda nn: nn.L1Loss(reduction="sum"),
    lambda nn: nn.SmoothL1Loss(beta=0.5), lambda nn: nn.HuberLoss(delta=2.0),
    lambda nn: nn.BCEWithLogitsLoss(pos_weight=None),
])
def test_regression_loss_modules_match_torch(make):
    torch = pytest.importorskip("torch")
    ours, theirs = make(nn), make(torch.nn)
    assert repr(ours) == repr(theirs)
    _check_against_torch(torch, ours, theirs, [X, rng.uniform(0, 1, X.shape)])


def test_bce_modules_with_weight_buffers():
    torch = pytest.importorskip("torch")
    w, pw = rng.uniform(0.5, 2, 3), rng.uniform(1, 3, 3)
    ours = nn.BCEWithLogitsLoss(weight=tkr.tensor(w), pos_weight=tkr.tensor(pw))
    theirs = torch.nn.BCEWithLogitsLoss(weight=torch.tensor(w), pos_weight=torch.tensor(pw))
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight", "pos_weight"]
    _check_against_torch(torch, ours, theirs, [X, Y])
    _check_against_torch(torch, nn.BCELoss(tkr.tensor(w)), torch.nn.BCELoss(torch.tensor(w)),
                         [P, Y])


@pytest.mark.parametrize("kwargs", [{}, {"reduction": "sum"}, {"ignore_index": 1},
                                    {"label_smoothing": 0.2}, {"weight": "w"}])
def test_cross_entropy_and_nll_modules_match_torch(kwargs):
    torch = pytest.importorskip("torch")
    w = rng.uniform(0.5, 2, 3)
    ours_kw = {k: tkr.tensor(w) if v == "w" else v for k, v in kwargs.items()}
    theirs_kw = {k: torch.tensor(w) if v == "w" else v for k, v in kwargs.items()}
    target = np.array([0, 1, 2, 1])
    ce, ce_t = nn.CrossEntropyLoss(**ours_kw), torch.nn.CrossEntropyLoss(**theirs_kw)
    assert repr(ce) == repr(ce_t) == "CrossEntropyLoss()"
    _check_against_torch(torch, lambda x: ce(x, tkr.tensor(target)),
                         lambda x: ce_t(x, torch.tensor(target)), [X])
    ours_kw.pop("label_smoothing", None)
    theirs_kw.pop("label_smoothing", None)
    nll, nll_t = nn.NLLLoss(**ours_kw), torch.nn.NLLLoss(**theirs_kw)
    _check_against_torch(torch, lambda x: nll(tkr.log_softmax(x, 1), tkr.tensor(target)),
                         lambda x: nll_t(torch.log_softmax(x, 1), torch.tensor(target)), [X])


def test_reduction_is_validated():
    with pytest.raises(ValueError, match="'avg' is not a valid value for reduction"):
        nn.MSELoss(reduction="avg")
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        F.l1_loss(tkr.zeros(2), tkr.zeros(2), reduction="max")
    with pytest.warns(UserWarning, match="size_average and reduce"):
        assert nn.MSELoss(size_average=False).reduction == "sum"


def test_mse_broadcast_warns_like_torch():
    x, t = tkr.randn(4, 1), tkr.randn(4)
    with pytest.warns(UserWarning, match="different to the input size"):
        loss = F.mse_loss(x, t, reduction="none")
    assert loss.shape == (4, 4)  # PyTorch broadcasts too: the warning is the point
    with pytest.raises(RuntimeError, match=r"input of shape \(4, 3\) and target of shape \(2,\)"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            F.mse_loss(tkr.randn(4, 3), tkr.randn(2))


def test_bce_validation():
    with pytest.raises(ValueError, match="different to the input size"):
        F.binary_cross_entropy(tkr.rand(4, 1), tkr.rand(4))
    with pytest.raises(RuntimeError, match="between 0 and 1"):
        F.binary_cross_entropy(tkr.tensor([0.5, 1.5]), tkr.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="must be the same as input size"):
        F.binary_cross_entropy_with_logits(tkr.randn(4, 1), tkr.rand(4))
    with pytest.raises(RuntimeError, match="pos_weight of shape"):
        F.binary_cross_entropy_with_logits(tkr.randn(4, 3), tkr.rand(4, 3), pos_weight=tkr.ones(2))
    # integer targets are accepted for BCE (cast to the input's dtype)
    loss = F.binary_cross_entropy(tkr.tensor([0.25, 0.5]), tkr.tensor([0, 1]))
    assert loss.dtype == np.float32


def test_one_hot_matches_torch():
    torch = pytest.importorskip("torch")
    idx = np.array([[0, 2], [1, 4]])
    np.testing.assert_array_equal(F.one_hot(tkr.tensor(idx)).numpy(),
                                  torch.nn.functional.one_hot(torch.tensor(idx)).numpy())
    out = F.one_hot(tkr.tensor([1, 0]), num_classes=4)
    assert out.dtype == np.int64 and out.shape == (2, 4)
    with pytest.raises(RuntimeError, match="smaller than num_classes"):
        F.one_hot(tkr.tensor([3]), 3)
    with pytest.raises(RuntimeError, match="non-negative"):
        F.one_hot(tkr.tensor([-1]), 3)
    with pytest.raises(RuntimeError, match="index tensor"):
        F.one_hot(tkr.tensor([1.0]))
