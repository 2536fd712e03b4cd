"""The activations, KL divergence, normalize / similarities and adaptive max
pooling of nn.functional and their modules: float64 gradcheck (and
gradgradcheck for the twice-differentiable ones), stability at extreme inputs,
and parity with PyTorch (forward, gradients, errors, reprs) where installed."""
import warnings

import numpy as np
import pytest

import tinygrad_kr as tkr
import tinygrad_kr.nn as nn
import tinygrad_kr.nn.functional as F
from tinygrad_kr.autograd import gradcheck, gradgradcheck

try:
    import torch
except ImportError:     # the parity tests skip; the rest runs
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch not installed")

# name: (our call, torch's call, (lo, hi) where the derivative is smooth for gradcheck)
ACTIVATIONS = {
    "elu": (lambda f, x: f.elu(x), None),
    "elu-alpha": (lambda f, x: f.elu(x, alpha=0.3), None),
    "selu": (lambda f, x: f.selu(x), None),
    "celu": (lambda f, x: f.celu(x, alpha=0.5), None),
    "gelu": (lambda f, x: f.gelu(x), None),
    "gelu-tanh": (lambda f, x: f.gelu(x, approximate="tanh"), None),
    "silu": (lambda f, x: f.silu(x), None),
    "softplus": (lambda f, x: f.softplus(x), None),
    "softplus-beta": (lambda f, x: f.softplus(x, beta=2.0, threshold=3.0), None),
    "softplus-negative-beta": (lambda f, x: f.softplus(x, beta=-1.5), None),
    "hardtanh": (lambda f, x: f.hardtanh(x), None),
    "hardtanh-bounds": (lambda f, x: f.hardtanh(x, -0.5, 1.5), None),
    "relu6": (lambda f, x: f.relu6(x * 4), None),
    "mish": (lambda f, x: f.mish(x), None),
    "logsigmoid": (lambda f, x: f.logsigmoid(x), None),
    "softsign": (lambda f, x: f.softsign(x), None),
}
# kinks (gradcheck's differences would straddle them)
KINKS = {"elu": [0], "elu-alpha": [0], "selu": [0], "celu": [0], "hardtanh": [-1, 1],
         "hardtanh-bounds": [-0.5, 1.5], "relu6": [0, 1.5], "softplus-beta": [1.5]}
TWICE = sorted(set(ACTIVATIONS) - {"hardtanh", "hardtanh-bounds", "relu6"})   # others: 0


def _leaf(shape=(3, 5), seed=0, kinks=()):
    x = np.random.default_rng(seed).uniform(-3, 3, shape)
    for k in kinks:     # keep every point 1e-3 away from a kink
        x = np.where(np.abs(x - k) < 1e-3, x + 2e-3, x)
    return tkr.tensor(x, dtype=tkr.float64, requires_grad=True)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_gradcheck(name):
    f, _ = ACTIVATIONS[name]
    x = _leaf(kinks=KINKS.get(name, ()))
    assert gradcheck(lambda t: f(F, t), (x,))
    if name in TWICE:
        assert gradgradcheck(lambda t: f(F, t), (x,))


@pytest.mark.parametrize("shape", [(), (0, 3), (2, 1, 3)])
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_shapes(name, shape):
    f, _ = ACTIVATIONS[name]
    x = tkr.tensor(np.full(shape, 0.7, dtype=np.float32), requires_grad=True)
    y = f(F, x)
    assert y.shape == x.shape and y.dtype == tkr.float32
    y.sum().backward()
    assert x.grad.shape == x.shape and x.grad.dtype == tkr.float32


EXTREMES = [-1e30, -1e4, -800.0, -100.0, -50.0, -20.0, -1e-8, -0.0, 0.0, 1e-8, 3.0, 6.0, 20.0,
            20.5, 50.0, 100.0, 800.0, 1e4, 1e30]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_at_extreme_inputs_is_finite_and_warns_nothing(name, dtype):
    f, _ = ACTIVATIONS[name]
    x = tkr.tensor(np.array(EXTREMES, dtype=dtype), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", divide="raise", invalid="raise"):   # underflow is fine
            y = f(F, x)
            y.sum().backward()
    # (PyTorch's gelu-tanh gradient is nan beyond |x| ~ 1e13: 0 * inf)
    assert np.isfinite(y.array).all() and np.isfinite(x.grad.array).all()
    assert y.dtype == x.dtype and x.grad.dtype == x.dtype


@needs_torch
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_matches_torch(name, dtype):
    f, _ = ACTIVATIONS[name]
    values = np.concatenate([np.random.default_rng(1).standard_normal(40) * 4,
                             [-60.0, -30.0, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 6.0, 20.0, 30.0, 60.0]])
    values = values.astype(dtype)
    x = tkr.tensor(values, requires_grad=True)
    tx = torch.tensor(values, requires_grad=True)
    y, ty = f(F, x), f(torch.nn.functional, tx)
    g = np.random.default_rng(2).standard_normal(values.shape).astype(dtype)
    y.backward(tkr.tensor(g))
    ty.backward(torch.tensor(g))
    # float32: where tanh saturates, one ulp of tanh(u) (NumPy's and PyTorch's differ)
    # moves gelu-tanh's gradient by |x| * 8 * 6e-8
    tol = dict(rtol=2e-6, atol=5e-6) if dtype == "float32" else dict(rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(y.array, ty.detach().numpy(), **tol)
    np.testing.assert_allclose(x.grad.array, tx.grad.numpy(), **tol)


@needs_torch
def test_activation_kinks_match_torch():
    """The derivative at the kinks themselves (0 for ELU, the bounds of Hardtanh, ReLU6)."""
    values = np.array([-6.0, -2.0, -1.0, -0.5, 0.0, 1.0, 1.5, 2.0, 6.0, 7.0])
    for name in sorted(ACTIVATIONS):
        f, _ = ACTIVATIONS[name]
        x, tx = tkr.tensor(values, requires_grad=True), torch.tensor(values, requires_grad=True)
        f(F, x).sum().backward()
        f(torch.nn.functional, tx).sum().backward()
        np.testing.assert_allclose(x.grad.array, tx.grad.numpy(), rtol=1e-12, atol=1e-15,
                                   err_msg=name)


MODULES = [("ELU", ()), ("ELU", (0.5, True)), ("SELU", ()), ("SELU", (True,)), ("CELU", (2.0,)),
           ("GELU", ()), ("GELU", ("tanh",)), ("SiLU", ()), ("SiLU", (True,)), ("Softplus", ()),
           ("Softplus", (2, 10)), ("Hardtanh", ()), ("Hardtanh", (-2, 2, True)), ("ReLU6", ()),
           ("ReLU6", (True,)), ("Mish", ()), ("LogSigmoid", ()), ("Softsign", ()),
           ("KLDivLoss", ()), ("CosineSimilarity", ()), ("PairwiseDistance", ()),
           ("AdaptiveMaxPool2d", (3,)), ("AdaptiveMaxPool2d", ((3, None), True))]


@needs_torch
@pytest.mark.parametrize("name,args", MODULES)
def test_module_repr_matches_torch(name, args):
    assert repr(getattr(nn, name)(*args)) == repr(getattr(torch.nn, name)(*args))


@pytest.mark.parametrize("name,args,f", [
    ("ELU", (0.5,), lambda x: F.elu(x, 0.5)), ("SELU", (), F.selu),
    ("CELU", (2.0,), lambda x: F.celu(x, 2.0)), ("GELU", ("tanh",), lambda x: F.gelu(x, "tanh")),
    ("SiLU", (), F.silu), ("Softplus", (2, 1), lambda x: F.softplus(x, 2, 1)),
    ("Hardtanh", (-2, 2), lambda x: F.hardtanh(x, -2, 2)), ("ReLU6", (), F.relu6),
    ("Mish", (), F.mish), ("LogSigmoid", (), F.logsigmoid), ("Softsign", (), F.softsign)])
def test_module_is_its_function(name, args, f):
    x = tkr.tensor(np.linspace(-8, 8, 17))
    np.testing.assert_array_equal(getattr(nn, name)(*args)(x).array, f(x).array)


@pytest.mark.parametrize("f,name", [(F.elu, "elu"), (F.selu, "selu"), (F.celu, "celu"),
                                    (F.silu, "silu"), (F.hardtanh, "hardtanh"),
                                    (F.relu6, "relu6"), (F.mish, "mish")])
def test_inplace_variants(f, name):
    values = np.linspace(-8, 8, 9)
    want = f(tkr.tensor(values)).array
    x = tkr.tensor(values)              # no graph: the values are written into x
    assert f(x, inplace=True) is x
    np.testing.assert_array_equal(x.array, want)
    leaf = tkr.tensor(values, requires_grad=True)
    h = leaf * 1.0                      # a graph: h is re-pointed, the gradient still flows
    out = f(h, inplace=True)
    assert out is h
    out.sum().backward()
    ref = tkr.tensor(values, requires_grad=True)
    f(ref).sum().backward()
    np.testing.assert_array_equal(leaf.grad.array, ref.grad.array)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        f(tkr.tensor(values, requires_grad=True), inplace=True)


def test_activation_argument_errors():
    x = tkr.tensor([1.0, 2.0])
    with pytest.raises(RuntimeError, match="approximate argument must be either none or tanh"):
        F.gelu(x, approximate="fast")
    with pytest.raises(ValueError, match="min_val cannot be greater than max_val"):
        F.hardtanh(x, 2.0, 1.0)
    with pytest.raises(AssertionError, match="must be greater than min_val"):
        nn.Hardtanh(1.0, 1.0)
    with pytest.warns(FutureWarning, match="min_value"):
        assert nn.Hardtanh(min_value=-3.0).min_val == -3.0
    for f in (F.elu, F.gelu, F.silu, F.softplus, F.hardtanh, F.relu6, F.mish, F.logsigmoid,
              F.softsign, F.selu, F.celu):
        with pytest.raises(NotImplementedError, match="integer"):
            f(tkr.tensor([1, 2]))


# ------------------------------------------------------------------------- kl_div


def _distributions(shape, seed, log=False):
    a = np.random.default_rng(seed).standard_normal(shape)
    logp = a - np.log(np.exp(a).sum(-1, keepdims=True))
    return logp if log else np.exp(logp)


@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_gradcheck(log_target):
    x = tkr.tensor(_distributions((3, 4), 0, log=True), requires_grad=True)
    t = tkr.tensor(_distributions((3, 4), 1, log=log_target), requires_grad=True)
    for reduction in ("none", "sum", "batchmean"):
        f = lambda a, b: F.kl_div(a, b, reduction=reduction, log_target=log_target)  # noqa: E731
        assert gradcheck(f, (x, t))
        assert gradgradcheck(f, (x, t))


def test_kl_div_values_and_module():
    x, t = _distributions((2, 5), 0, log=True), _distributions((2, 5), 1)
    t[0, 1] = 0.0                       # a zero target term counts 0
    want = np.where(t > 0, t * (np.log(np.where(t > 0, t, 1)) - x), 0.0)
    xt, tt = tkr.tensor(x), tkr.tensor(t)
    np.testing.assert_allclose(F.kl_div(xt, tt, reduction="none").array, want, rtol=1e-12)
    np.testing.assert_allclose(F.kl_div(xt, tt, reduction="batchmean").item(), want.sum() / 2,
                               rtol=1e-12)
    np.testing.assert_allclose(nn.KLDivLoss(reduction="batchmean")(xt, tt).item(),
                               want.sum() / 2, rtol=1e-12)
    np.testing.assert_allclose(nn.KLDivLoss(reduction="sum", log_target=True)(
        xt, tkr.tensor(np.log(t + 1e-300))).item(), want.sum(), rtol=1e-9)
    with pytest.warns(UserWarning, match="'batchmean' divides only by the batch size"):
        np.testing.assert_allclose(F.kl_div(xt, tt).item(), want.mean(), rtol=1e-12)
    with pytest.raises(ValueError, match="is not a valid value for reduction"):
        F.kl_div(xt, tt, reduction="batch")
    with pytest.raises(ValueError, match="is not a valid value for reduction"):
        nn.KLDivLoss(reduction="batch")


@needs_torch
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum", "batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_matches_torch(reduction, log_target, dtype):
    x = _distributions((4, 6), 0, log=True).astype(dtype)
    t = _distributions((4, 6), 1, log=log_target).astype(dtype)
    ours = [tkr.tensor(a, requires_grad=True) for a in (x, t)]
    theirs = [torch.tensor(a, requires_grad=True) for a in (x, t)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # 'mean''s warning, in both
        y = F.kl_div(*ours, reduction=reduction, log_target=log_target)
        ty = torch.nn.functional.kl_div(*theirs, reduction=reduction, log_target=log_target)
    g = np.random.default_rng(3).standard_normal(tuple(ty.shape)).astype(dtype)
    y.backward(tkr.tensor(g))
    ty.backward(torch.tensor(g))
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == "float32" else dict(rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(y.array, ty.detach().numpy(), **tol)
    for a, ta in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.array, ta.grad.numpy(), **tol)


@needs_torch
def test_kl_div_zero_target_matches_torch():
    x, t = np.array([-1.0, -2.0, -0.5]), np.array([0.0, 0.5, 1.0])
    a, b = tkr.tensor(x, requires_grad=True), tkr.tensor(t, requires_grad=True)
    ta, tb = torch.tensor(x, requires_grad=True), torch.tensor(t, requires_grad=True)
    F.kl_div(a, b, reduction="sum").backward()
    torch.nn.functional.kl_div(ta, tb, reduction="sum").backward()
    np.testing.assert_allclose(a.grad.array, ta.grad.numpy())
    np.testing.assert_allclose(b.grad.array, tb.grad.numpy())   # nan at t == 0 in both


# --------------------------------------------------------- normalize, similarities

SIMILARITY = {
    "normalize": lambda f, a, b: f.normalize(a, dim=1),
    "normalize-p1-dim0": lambda f, a, b: f.normalize(a, p=1, dim=0),
    "normalize-dim-last": lambda f, a, b: f.normalize(b, dim=-1),
    "cosine_similarity": lambda f, a, b: f.cosine_similarity(a, b),
    "cosine_similarity-dim0": lambda f, a, b: f.cosine_similarity(a, b, dim=0),
    "cosine_similarity-broadcast": lambda f, a, b: f.cosine_similarity(a[:1], b, dim=1),
    "pairwise_distance": lambda f, a, b: f.pairwise_distance(a, b),
    "pairwise_distance-p1-keepdim": lambda f, a, b: f.pairwise_distance(a, b, p=1,
                                                                        keepdim=True),
    "pairwise_distance-broadcast": lambda f, a, b: f.pairwise_distance(a, b[0]),
    "pairwise_distance-inf": lambda f, a, b: f.pairwise_distance(a, b, p=float("inf")),
    "modules": lambda f, a, b: (nn if f is F else torch.nn).CosineSimilarity(dim=0)(a, b).sum()
    + (nn if f is F else torch.nn).PairwiseDistance(p=3.0)(a, b).sum(),
}


@pytest.mark.parametrize("name", sorted(SIMILARITY))
def test_similarity_gradcheck(name):
    f = SIMILARITY[name]
    a, b = _leaf((3, 4), 0), _leaf((3, 4), 1)
    assert gradcheck(lambda x, y: f(F, x, y), (a, b))


@needs_torch
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(SIMILARITY))
def test_similarity_matches_torch(name, dtype):
    rng = np.random.default_rng(4)
    a_np, b_np = (rng.standard_normal((3, 4)).astype(dtype) for _ in range(2))
    a, b = tkr.tensor(a_np, requires_grad=True), tkr.tensor(b_np, requires_grad=True)
    ta, tb = torch.tensor(a_np, requires_grad=True), torch.tensor(b_np, requires_grad=True)
    y, ty = SIMILARITY[name](F, a, b), SIMILARITY[name](torch.nn.functional, ta, tb)
    assert tuple(y.shape) == tuple(ty.shape)
    y.sum().backward()
    ty.sum().backward()
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == "float32" else dict(rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(y.array, ty.detach().numpy(), **tol)
    for t, tt in ((a, ta), (b, tb)):
        assert (t.grad is None) == (tt.grad is None)
        if tt.grad is not None:
            np.testing.assert_allclose(t.grad.array, tt.grad.numpy(), **tol)


def test_normalize_zero_rows_and_cosine_of_zero_vectors():
    x = tkr.tensor([[0.0, 0.0], [3.0, 4.0]], requires_grad=True)
    y = F.normalize(x)
    np.testing.assert_allclose(y.array, [[0.0, 0.0], [0.6, 0.8]])
    y.sum().backward()
    assert np.isfinite(x.grad.array).all()
    np.testing.assert_allclose(F.cosine_similarity(x, x).array, [0.0, 1.0])
    with pytest.raises(RuntimeError, match="cannot be broadcast"):
        F.cosine_similarity(tkr.ones(2, 3), tkr.ones(2, 4))


# -------------------------------------------------------------- adaptive max pool

POOL_CASES = [((2, 3, 7, 9), (3, 4)), ((2, 3, 6, 8), (3, 4)), ((1, 2, 5, 5), 3),
              ((1, 2, 5, 6), (None, 4)), ((2, 5, 7), (2, 3)), ((2, 1, 4, 4), (1, 1)),
              ((1, 1, 3, 3), (5, 4)), ((0, 2, 5, 5), 3), ((1, 2, 4, 4), (0, 3))]


@pytest.mark.parametrize("shape,size", POOL_CASES)
def test_adaptive_max_pool2d_gradcheck(shape, size):
    x = tkr.tensor(np.random.default_rng(5).permutation(int(np.prod(shape))).reshape(shape)
                   .astype(np.float64) / 7, requires_grad=True)   # distinct values: no ties
    if x.numel():
        assert gradcheck(lambda t: F.adaptive_max_pool2d(t, size), (x,))


@needs_torch
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape,size", POOL_CASES)
def test_adaptive_max_pool2d_matches_torch(shape, size, dtype):
    x_np = np.random.default_rng(6).standard_normal(shape).astype(dtype)
    x_np.reshape(-1)[::5] = 0.5         # ties: the first maximum wins in both
    if x_np.size > 3:
        x_np.reshape(-1)[3] = np.nan   # a NaN wins its windows in both
    x, tx = tkr.tensor(x_np, requires_grad=True), torch.tensor(x_np, requires_grad=True)
    y, idx = F.adaptive_max_pool2d(x, size, return_indices=True)
    ty, tidx = torch.nn.functional.adaptive_max_pool2d(tx, size, return_indices=True)
    np.testing.assert_array_equal(y.array, ty.detach().numpy())
    np.testing.assert_array_equal(idx.array, tidx.numpy())
    if ty.numel():      # PyTorch's backward refuses an empty output
        g = np.random.default_rng(7).standard_normal(tuple(ty.shape)).astype(dtype)
        y.backward(tkr.tensor(g))
        ty.backward(torch.tensor(g))
        np.testing.assert_allclose(x.grad.array, tx.grad.numpy(), rtol=1e-6, atol=1e-6)
    m, tm = nn.AdaptiveMaxPool2d(size), torch.nn.AdaptiveMaxPool2d(size)
    np.testing.assert_array_equal(m(x).array, tm(tx).detach().numpy())


def test_adaptive_max_pool2d_errors():
    with pytest.raises(RuntimeError, match="3D or 4D"):
        F.adaptive_max_pool2d(tkr.ones(4, 4), 2)
    with pytest.raises(RuntimeError, match="non-zero size for non-batch dimensions"):
        F.adaptive_max_pool2d(tkr.ones(1, 0, 4, 4), 2)
    with pytest.raises(RuntimeError, match="float32 and float64"):
        F.adaptive_max_pool2d(tkr.ones(1, 1, 4, 4, dtype=tkr.int64), 3)
    y, idx = F.adaptive_max_pool2d_with_indices(tkr.arange(16.0).reshape(1, 1, 4, 4), 3)
    np.testing.assert_array_equal(idx.array.ravel(), [5, 6, 7, 9, 10, 11, 13, 14, 15])


@needs_torch
def test_new_names_exist_in_torch():
    for name in F.__all__:
        assert hasattr(torch.nn.functional, name), name
    for name in nn.__all__:
        assert hasattr(torch.nn, name), name


@pytest.mark.parametrize("name", ["silu", "softplus", "logsigmoid", "mish", "gelu", "elu",
                                  "selu", "celu"])
def test_second_derivative_at_zero_as_torch(name):
    # the kinks of |x| and max(x, 0) in the stable forms must not leak into
    # create_graph's derivatives at exactly 0 (they did: silu's was 0.25, not 0.5)
    torch = pytest.importorskip("torch")
    out = []
    for lib in (tkr, torch):
        x = lib.tensor([0.0, -0.0, 1.5, -2.0], dtype=lib.float64, requires_grad=True)
        g, = lib.autograd.grad(getattr(lib.nn.functional, name)(x).sum(), x, create_graph=True)
        h, = lib.autograd.grad(g.sum(), x)
        out.append((g.detach().numpy(), h.detach().numpy()))
    np.testing.assert_allclose(out[0][0], out[1][0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out[0][1], out[1][1], rtol=1e-12, atol=1e-12)
