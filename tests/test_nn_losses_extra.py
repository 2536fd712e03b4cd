"""The losses of nn/_ops_loss_extra.py and nn/modules/loss_extra.py against
PyTorch: values and gradients (float64 to 1e-10, float32 to 1e-5) for every
reduction and option, float64 gradcheck / gradgradcheck, signatures, module
defaults and reprs, and the errors for bad shapes and values."""
import inspect
import math
import warnings

import numpy as np
import pytest

import tinygrad_kr as tkr
import tinygrad_kr.nn as nn
import tinygrad_kr.nn.functional as F
from tinygrad_kr.autograd import gradcheck, gradgradcheck
from torch_compat import before_2_13, reworded_before_2_13

torch = pytest.importorskip("torch")
TF = torch.nn.functional

REDUCTIONS = ("none", "mean", "sum")
TOL = {np.float64: dict(rtol=1e-10, atol=1e-10), np.float32: dict(rtol=1e-5, atol=1e-5)}


def _signs(rng, *shape):
    return np.where(rng.random(shape) < 0.5, -1.0, 1.0)


# --------------------------------------------------------------------------
# the cases: name, arrays (numpy; float ones take the run's dtype), which
# arrays are differentiable, and the keyword arguments per library
# (lib: tinygrad_kr or torch; fn: its nn.functional; mod: its nn)
# --------------------------------------------------------------------------


def _case(name, arrays, grads, kw=None, id=None):
    return pytest.param(name, arrays, grads, kw or (lambda lib, fn, mod, dt: {}), id=id)


def _cases():
    rng = np.random.default_rng(1)
    r = rng.standard_normal
    c = []
    # margin ranking: target differentiable as in PyTorch
    for m in (0, 0.5):
        c.append(_case("margin_ranking_loss", [r(6), r(6), _signs(rng, 6)], [1, 1, 1],
                       lambda lib, fn, mod, dt, m=m: {"margin": m}, id=f"mr-1d-m{m}"))
    c.append(_case("margin_ranking_loss", [r((3, 4)), r((3, 4)), _signs(rng, 3, 4)], [1, 1, 1],
                   lambda lib, fn, mod, dt: {"margin": 0.3}, id="mr-2d"))
    c.append(_case("margin_ranking_loss", [r((3, 1)), r((1, 4)), _signs(rng, 3, 4)], [1, 1, 1],
                   id="mr-broadcast"))
    c.append(_case("margin_ranking_loss", [r(()), r(()), np.array(-1.0)], [1, 1, 1], id="mr-0d"))
    c.append(_case("margin_ranking_loss", [r(5), r(5), _signs(rng, 5).astype(np.int64)], [1, 1, 0],
                   id="mr-long-target"))
    # hinge embedding (target values other than +-1 get both terms)
    for m in (1.0, 0.5, 2):
        c.append(_case("hinge_embedding_loss", [r((3, 4)), _signs(rng, 3, 4)], [1, 0],
                       lambda lib, fn, mod, dt, m=m: {"margin": m}, id=f"he-2d-m{m}"))
    c.append(_case("hinge_embedding_loss", [r(7), np.array([1.0, -1, 0, 2, 1, -1, 1])], [1, 0],
                   id="he-1d-other-labels"))
    c.append(_case("hinge_embedding_loss", [r((3, 4)), np.array([1, -1, -1, 1])], [1, 0],
                   id="he-broadcast-long"))
    # cosine embedding
    for m in (0, 0.3, -0.2):
        c.append(_case("cosine_embedding_loss", [r((5, 3)), r((5, 3)), _signs(rng, 5)], [1, 1, 0],
                       lambda lib, fn, mod, dt, m=m: {"margin": m}, id=f"ce-2d-m{m}"))
    c.append(_case("cosine_embedding_loss", [r(4), r(4), np.array(-1.0)], [1, 1, 0],
                   lambda lib, fn, mod, dt: {"margin": -0.5}, id="ce-1d-neg"))
    c.append(_case("cosine_embedding_loss", [r(4), r(4), np.array(1.0)], [1, 1, 0], id="ce-1d-pos"))
    zero_row = r((3, 4))
    zero_row[1] = 0     # cos = 0 / sqrt(EPSILON * |x2|^2): the gradient shows ATen's EPSILON
    c.append(_case("cosine_embedding_loss", [zero_row, r((3, 4)), np.array([1.0, 1, -1])],
                   [1, 1, 0], lambda lib, fn, mod, dt: {"margin": -0.5}, id="ce-zero-vector"))
    c.append(_case("cosine_embedding_loss", [r((5, 3)), r((1, 3)), np.array([1, -1, 1, -1, 0])],
                   [1, 1, 0], id="ce-broadcast-long"))
    # soft margin
    c.append(_case("soft_margin_loss", [r((3, 4)), _signs(rng, 3, 4)], [1, 0], id="sm-2d"))
    c.append(_case("soft_margin_loss", [r(6) * 3, _signs(rng, 6)], [1, 0], id="sm-1d"))
    c.append(_case("soft_margin_loss", [r((3, 4)), _signs(rng, 4)], [1, 0], id="sm-broadcast"))
    # multilabel soft margin: target and input differentiable
    y = (rng.random((3, 4)) < 0.5).astype(np.float64)
    c.append(_case("multilabel_soft_margin_loss", [r((3, 4)) * 3, y], [1, 1], id="mlsm-2d"))
    c.append(_case("multilabel_soft_margin_loss", [r((3, 4)), y], [1, 1],
                   lambda lib, fn, mod, dt: {"weight": lib.tensor(np.array([0.5, 1, 2, 0.1], dt))}, id="mlsm-weight"))
    w2 = rng.random((3, 4))
    c.append(_case("multilabel_soft_margin_loss", [r((3, 4)), y], [1, 1],
                   lambda lib, fn, mod, dt: {"weight": lib.tensor(w2.astype(dt))},
                   id="mlsm-weight-2d"))
    c.append(_case("multilabel_soft_margin_loss", [r(5), (rng.random(5) < 0.5) * 1.0], [1, 1],
                   id="mlsm-1d"))
    c.append(_case("multilabel_soft_margin_loss", [r((2, 3, 4)), rng.random((2, 3, 4))], [1, 1],
                   id="mlsm-3d-soft-labels"))
    # triplet margin
    for p in (1, 2, 3, 1.5):
        for swap in (False, True):
            c.append(_case("triplet_margin_loss", [r((4, 5)), r((4, 5)), r((4, 5))], [1, 1, 1],
                           lambda lib, fn, mod, dt, p=p, swap=swap: {"p": p, "swap": swap},
                           id=f"tm-p{p}-swap{swap}"))
    c.append(_case("triplet_margin_loss", [r((4, 5)), r((4, 5)), r((4, 5))], [1, 1, 1],
                   lambda lib, fn, mod, dt: {"margin": 0.5, "eps": 0.1, "swap": True},
                   id="tm-margin-eps"))
    c.append(_case("triplet_margin_loss", [r((4, 5)), r((4, 5)), r((4, 5))], [1, 1, 1],
                   lambda lib, fn, mod, dt: {"margin": 3.0, "p": float("inf")}, id="tm-pinf"))
    c.append(_case("triplet_margin_loss", [r((4, 5)), r((4, 5)), r((4, 5))], [1, 1, 1],
                   lambda lib, fn, mod, dt: {"p": -1, "margin": 2.0, "swap": True}, id="tm-p-1"))
    c.append(_case("triplet_margin_loss", [r(5), r(5), r(5)], [1, 1, 1],
                   lambda lib, fn, mod, dt: {"margin": 4.0}, id="tm-1d"))
    c.append(_case("triplet_margin_loss", [r((2, 3, 4)), r((1, 3, 4)), r((2, 1, 4))], [1, 1, 1],
                   lambda lib, fn, mod, dt: {"margin": 2.0, "swap": True}, id="tm-3d-broadcast"))
    # triplet margin with a distance function
    c.append(_case("triplet_margin_with_distance_loss", [r((4, 5)), r((4, 5)), r((4, 5))],
                   [1, 1, 1], lambda lib, fn, mod, dt: {"margin": 2.0}, id="tmd-default"))
    c.append(_case("triplet_margin_with_distance_loss", [r((4, 5)), r((4, 5)), r((4, 5))],
                   [1, 1, 1], lambda lib, fn, mod, dt: {
                       "distance_function": lambda a, b: 1.0 - fn.cosine_similarity(a, b),
                       "swap": True}, id="tmd-cosine-swap"))
    c.append(_case("triplet_margin_with_distance_loss", [r((4, 5)), r((4, 5)), r((4, 5))],
                   [1, 1, 1], lambda lib, fn, mod, dt: {
                       "distance_function": mod.PairwiseDistance(p=1), "margin": 3.0},
                   id="tmd-module-l1"))
    c.append(_case("triplet_margin_with_distance_loss", [r(5), r(5), r(5)], [1, 1, 1],
                   lambda lib, fn, mod, dt: {"margin": 5.0, "swap": True}, id="tmd-1d"))
    # Gaussian NLL (input, target and var all differentiable)
    var = rng.random((4, 3)) + 0.1
    c.append(_case("gaussian_nll_loss", [r((4, 3)), r((4, 3)), var], [1, 1, 1], id="g-hetero"))
    c.append(_case("gaussian_nll_loss", [r((4, 3)), r((4, 3)), var], [1, 1, 1],
                   lambda lib, fn, mod, dt: {"full": True, "eps": 1e-3}, id="g-full"))
    c.append(_case("gaussian_nll_loss", [r((4, 3)), r((4, 3)), rng.random(4) + 0.1], [1, 1, 1],
                   id="g-homo-short"))
    c.append(_case("gaussian_nll_loss", [r((4, 3)), r((4, 3)), rng.random((4, 1)) + 0.1],
                   [1, 1, 1], id="g-homo-keepdim"))
    c.append(_case("gaussian_nll_loss", [r((2, 3, 4)), r((2, 3, 4)), rng.random((2, 1, 4)) + .1],
                   [1, 1, 1], id="g-3d-shared"))
    c.append(_case("gaussian_nll_loss", [r((4, 3)), r(3), var], [1, 1, 1],
                   id="g-target-broadcast"))
    c.append(_case("gaussian_nll_loss", [r(5), r(5), np.array(0.7)], [1, 1, 1], id="g-1d-0d-var"))
    small = np.array([[0.0, 1e-8, 0.5], [2.0, 1e-7, 3.0]])   # clamped entries: identity gradient
    c.append(_case("gaussian_nll_loss", [r((2, 3)), r((2, 3)), small], [1, 1, 1],
                   lambda lib, fn, mod, dt: {"eps": 1e-6 if dt == np.float64 else 1e-3},
                   id="g-clamped"))
    # Poisson NLL (input and target differentiable; full's nan at target 0 as PyTorch's)
    counts = np.array([[0.0, 0.5, 1.0, 2.0], [3.0, 5.0, 1.5, 7.0], [0.0, 4.0, 2.0, 1.0]])
    for log_input in (True, False):
        for full in (False, True):
            x = r((3, 4)) if log_input else rng.random((3, 4)) * 4
            c.append(_case("poisson_nll_loss", [x, counts], [1, 1],
                           lambda lib, fn, mod, dt, li=log_input, f=full: {"log_input": li,
                                                                          "full": f},
                           id=f"p-log{log_input}-full{full}"))
    c.append(_case("poisson_nll_loss", [rng.random((3, 4)), counts], [1, 1],
                   lambda lib, fn, mod, dt: {"log_input": False, "eps": 0.5}, id="p-eps"))
    c.append(_case("poisson_nll_loss", [r(4), counts], [1, 1],
                   lambda lib, fn, mod, dt: {"full": True}, id="p-broadcast"))
    c.append(_case("poisson_nll_loss", [r((3, 4)), counts.astype(np.int64)], [1, 0],
                   lambda lib, fn, mod, dt: {"full": True}, id="p-long-target"))
    # multi-class margin (target int64, weight constant)
    yt = np.array([0, 3, 4, 1])
    for p in (1, 2):
        for m in (1.0, 0.4):
            c.append(_case("multi_margin_loss", [r((4, 5)), yt], [1, 0],
                           lambda lib, fn, mod, dt, p=p, m=m: {"p": p, "margin": m},
                           id=f"mm-p{p}-m{m}"))
        c.append(_case("multi_margin_loss", [r((4, 5)), yt], [1, 0],
                       lambda lib, fn, mod, dt, p=p: {"p": p, "weight": lib.tensor(
                           np.array([0.2, 1.0, 2.0, 0.5, 3.0], dt))}, id=f"mm-p{p}-weight"))
    c.append(_case("multi_margin_loss", [r(5) * 0.3, np.array([2])], [1, 0], id="mm-1d"))
    c.append(_case("multi_margin_loss", [r(5) * 0.3, np.array(2)], [1, 0],
                   lambda lib, fn, mod, dt: {"p": 2}, id="mm-1d-0d-target"))
    c.append(_case("multi_margin_loss", [r(()), np.array(0)], [1, 0], id="mm-0d"))
    # multi-label margin (-1 ends each row's targets; repeats count twice)
    ym = np.array([[3, 0, -1, 1, 2], [1, 1, -1, 0, 0], [-1, 2, 3, 0, 1], [0, 1, 2, 3, 4]])
    c.append(_case("multilabel_margin_loss", [r((4, 5)) * 0.5, ym], [1, 0], id="mlm-2d"))
    c.append(_case("multilabel_margin_loss", [r(5) * 0.5, np.array([4, 1, -1, 2, 0])], [1, 0],
                   id="mlm-1d"))
    c.append(_case("multilabel_margin_loss", [r(()), np.array(0)], [1, 0], id="mlm-0d"))
    return c


CASES = _cases()


def _tensors(lib, arrays, grads, dtype):
    out = []
    for a, g in zip(arrays, grads):
        a = np.asarray(a)
        if a.dtype.kind == "f":
            a = a.astype(dtype)
        out.append(lib.tensor(a, requires_grad=bool(g)))
    return out


def _run(lib, fn, mod, name, arrays, grads, kw, dtype, reduction, seed):
    xs = _tensors(lib, arrays, grads, dtype)
    out = getattr(fn, name)(*xs, **kw(lib, fn, mod, dtype), reduction=reduction)
    up = np.random.default_rng(seed).standard_normal(tuple(out.shape)).astype(dtype)
    out.backward(lib.tensor(up))
    return out, [x.grad for x, g in zip(xs, grads) if g]


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("name, arrays, grads, kw", CASES)
def test_values_and_gradients_match_torch(name, arrays, grads, kw, dtype):
    value_tol = TOL[dtype]
    if (name == "poisson_nll_loss" and np.asarray(arrays[1]).dtype.kind == "i"
            and kw(torch, TF, torch.nn, dtype).get("full") and before_2_13(torch)):
        # PyTorch computes an integer target's Stirling term in float32, and 2.11
        # rounds it one float32 ulp (1e-6 at 8.5) off 2.13's (and ours)
        value_tol = dict(TOL[dtype], atol=2e-6)
    for k, reduction in enumerate(REDUCTIONS):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)   # log(0) in poisson's full term
            ours, our_grads = _run(tkr, F, nn, name, arrays, grads, kw, dtype, reduction, k)
        ref, ref_grads = _run(torch, TF, torch.nn, name, arrays, grads, kw, dtype, reduction, k)
        assert tuple(ours.shape) == tuple(ref.shape), reduction
        assert ours.detach().numpy().dtype == ref.detach().numpy().dtype, reduction
        np.testing.assert_allclose(ours.detach().numpy(), ref.detach().numpy(), **value_tol,
                                   err_msg=f"{name} {reduction} value")
        for i, (g, h) in enumerate(zip(our_grads, ref_grads)):
            assert (g is None) == (h is None), (reduction, i)
            if g is not None:
                np.testing.assert_allclose(g.numpy(), h.numpy(), **TOL[dtype], equal_nan=True,
                                           err_msg=f"{name} {reduction} grad {i}")


def test_triplet_p0_counts_nonzeros():
    """p = 0: the distance counts the nonzero differences, as PyTorch's norm;
    its gradient is 0 (PyTorch leaves the inputs' .grad None instead)."""
    rng = np.random.default_rng(2)
    a, p, n = rng.standard_normal((3, 4, 5))
    n[0, :2] = a[0, :2]                  # x1 - x2 + eps == 0 (eps 0): not counted
    n[1, :4] = p[1, :4]
    for reduction in REDUCTIONS:
        xs = [tkr.tensor(v, requires_grad=True) for v in (a, p, n)]
        ours = F.triplet_margin_loss(*xs, p=0, margin=2.5, eps=0.0, swap=True,
                                     reduction=reduction)
        ref = TF.triplet_margin_loss(*map(torch.tensor, (a, p, n)), p=0, margin=2.5, eps=0.0,
                                     swap=True, reduction=reduction)
        np.testing.assert_array_equal(ours.detach().numpy(), ref.numpy())
        ours.sum().backward()
        assert all(not x.grad.numpy().any() for x in xs)


def test_kinks_take_torchs_side():
    """Exactly at the clamp: clamp_min losses pass the gradient (>= 0), the
    multi-class margins do not count z == 0 (> 0), as PyTorch's kernels."""
    def both(fn_name, arrays, grads, **kw):
        res = []
        for lib, fn in ((tkr, F), (torch, TF)):
            xs = _tensors(lib, arrays, grads, np.float64)
            out = getattr(fn, fn_name)(*xs, **kw, reduction="sum")
            out.backward()
            res.append([out.detach().numpy()] + [x.grad.numpy() for x, g in zip(xs, grads) if g])
        for a, b in zip(*res):
            np.testing.assert_array_equal(a, b)
        return res[0]

    # -y (x1 - x2) + margin == 0 in every entry
    r = both("margin_ranking_loss", [np.array([1.0, 2.0]), np.array([0.0, 3.0]),
                                     np.array([1.0, -1.0])], [1, 1, 1], margin=1.0)
    assert r[1].tolist() == [-1.0, 1.0]
    both("hinge_embedding_loss", [np.array([1.0, 0.5]), np.array([-1.0, -1.0])], [1, 0])
    r = both("multi_margin_loss", [np.array([[0.0, 1.0, 0.0]]), np.array([1])], [1, 0])
    assert r[0] == 0 and not r[1].any()
    both("multilabel_margin_loss", [np.array([[0.0, 1.0, 0.5]]), np.array([[1, -1, 0]])], [1, 0])
    both("cosine_embedding_loss", [np.array([[1.0, 0.0]]), np.array([[1.0, 0.0]]),
                                   np.array([-1.0])], [1, 1, 0], margin=1.0)


# --------------------------------------------------------------------------
# gradcheck / gradgradcheck (float64, finite differences)
# --------------------------------------------------------------------------


def _d(*shape, seed=0, scale=1.0, shift=0.0):
    a = np.random.default_rng(seed).standard_normal(shape) * scale + shift
    return tkr.tensor(a, requires_grad=True)


def _gradcheck_cases():
    y = tkr.tensor(np.array([1.0, -1, -1, 1]))
    lab = tkr.tensor(np.array([[1.0, 0, 1], [0, 0, 1], [1, 1, 0], [0, 1, 0]]))
    counts = tkr.tensor(np.array([[0.0, 2.0, 5.0], [1.0, 3.0, 0.5]]))
    return [
        ("margin_ranking", lambda a, b, t: F.margin_ranking_loss(a, b, t, margin=0.2,
                                                                 reduction="none"),
         (_d(4), _d(4, seed=1), _d(4, seed=2)), True),
        ("hinge_embedding", lambda a: F.hinge_embedding_loss(a, y, margin=0.7, reduction="none"),
         (_d(4),), True),
        ("cosine_embedding", lambda a, b: F.cosine_embedding_loss(a, b, y, margin=0.1,
                                                                  reduction="none"),
         (_d(4, 3), _d(4, 3, seed=1)), True),
        ("soft_margin", lambda a: F.soft_margin_loss(a, y), (_d(4),), True),
        ("multilabel_soft_margin", lambda a, t: F.multilabel_soft_margin_loss(
            a, t, weight=tkr.tensor(np.array([1.0, 2.0, 0.5])), reduction="none"),
         (_d(4, 3), lab.clone().requires_grad_()), True),
        ("triplet_p2_swap", lambda a, p, n: F.triplet_margin_loss(a, p, n, margin=2.0, swap=True,
                                                                  reduction="none"),
         (_d(3, 4), _d(3, 4, seed=1), _d(3, 4, seed=2)), True),
        ("triplet_p3", lambda a, p, n: F.triplet_margin_loss(a, p, n, margin=2.0, p=3),
         (_d(3, 4), _d(3, 4, seed=1), _d(3, 4, seed=2)), True),
        ("triplet_with_distance", lambda a, p, n: F.triplet_margin_with_distance_loss(
            a, p, n, distance_function=lambda u, v: 1 - F.cosine_similarity(u, v), margin=1.5,
            reduction="sum"), (_d(3, 4), _d(3, 4, seed=1), _d(3, 4, seed=2)), True),
        ("gaussian_nll", lambda x, t, v: F.gaussian_nll_loss(x, t, v, full=True, reduction="none"),
         (_d(4, 3), _d(4, 3, seed=1), _d(4, 1, seed=2, scale=0.1, shift=1.0)), True),
        ("poisson_nll", lambda x: F.poisson_nll_loss(x, counts, full=True, reduction="none"),
         (_d(2, 3),), True),
        ("poisson_nll_rate", lambda x, t: F.poisson_nll_loss(x, t, log_input=False),
         (_d(2, 3, scale=0.1, shift=2.0), _d(2, 3, seed=1)), True),
        ("multi_margin_p1", lambda x: F.multi_margin_loss(x, tkr.tensor([0, 2, 1]), margin=0.5,
                                                          reduction="none"),
         (_d(3, 4, scale=0.5),), True),
        ("multi_margin_p2_weight", lambda x: F.multi_margin_loss(
            x, tkr.tensor([0, 2, 1]), p=2, weight=tkr.tensor(np.array([1.0, 2, 3, 4]))),
         (_d(3, 4, scale=0.5),), True),
        ("multilabel_margin", lambda x: F.multilabel_margin_loss(
            x, tkr.tensor([[2, 0, -1, 1], [1, -1, 0, 0], [3, 2, 1, 0]]), reduction="none"),
         (_d(3, 4, scale=0.3),), True),
    ]


@pytest.mark.parametrize("name, fn, inputs, twice", _gradcheck_cases(),
                         ids=[c[0] for c in _gradcheck_cases()])
def test_gradcheck(name, fn, inputs, twice):
    assert gradcheck(fn, inputs, eps=1e-6, atol=1e-6)
    if twice:
        assert gradgradcheck(fn, inputs, eps=1e-6, atol=1e-5)


# --------------------------------------------------------------------------
# signatures, modules
# --------------------------------------------------------------------------

FUNCTIONS = ["margin_ranking_loss", "hinge_embedding_loss", "cosine_embedding_loss",
             "soft_margin_loss", "multilabel_soft_margin_loss", "triplet_margin_loss",
             "triplet_margin_with_distance_loss", "gaussian_nll_loss", "poisson_nll_loss",
             "multi_margin_loss", "multilabel_margin_loss"]
MODULES = ["MarginRankingLoss", "HingeEmbeddingLoss", "CosineEmbeddingLoss", "SoftMarginLoss",
           "MultiLabelSoftMarginLoss", "TripletMarginLoss", "TripletMarginWithDistanceLoss",
           "GaussianNLLLoss", "PoissonNLLLoss", "MultiMarginLoss", "MultiLabelMarginLoss"]


def _params(f):
    return [(p.name, p.kind, p.default) for p in inspect.signature(f).parameters.values()]


@pytest.mark.parametrize("name", FUNCTIONS)
def test_functional_signature_and_export(name):
    assert name in F.__all__
    assert _params(getattr(F, name)) == _params(getattr(TF, name))


@pytest.mark.parametrize("name", MODULES)
def test_module_defaults_and_repr(name):
    assert name in nn.__all__ and name in nn.modules.__all__
    ours, ref = getattr(nn, name), getattr(torch.nn, name)
    assert _params(ours.__init__) == _params(ref.__init__)
    a, b = ours(), ref()
    assert repr(a) == repr(b)
    assert ours.__constants__ == ref.__constants__
    for attr in ref.__constants__:
        assert getattr(a, attr) == getattr(b, attr), attr
        assert type(getattr(a, attr)) is type(getattr(b, attr)), attr
    assert isinstance(a, nn.Module)


def test_module_options_repr_buffers_and_legacy():
    w = np.array([1.0, 2.0, 0.5])
    pairs = [
        (nn.TripletMarginLoss(margin=2.0, p=1, eps=0.1, swap=True),
         torch.nn.TripletMarginLoss(margin=2.0, p=1, eps=0.1, swap=True)),
        (nn.MultiMarginLoss(p=2, margin=0.5, weight=tkr.tensor(w)),
         torch.nn.MultiMarginLoss(p=2, margin=0.5, weight=torch.tensor(w))),
        (nn.TripletMarginWithDistanceLoss(distance_function=nn.PairwiseDistance(p=1)),
         torch.nn.TripletMarginWithDistanceLoss(distance_function=torch.nn.PairwiseDistance(p=1))),
        (nn.TripletMarginWithDistanceLoss(distance_function=lambda a, b: a - b),
         torch.nn.TripletMarginWithDistanceLoss(distance_function=lambda a, b: a - b)),
        (nn.GaussianNLLLoss(full=True, eps=1e-3, reduction="sum"),
         torch.nn.GaussianNLLLoss(full=True, eps=1e-3, reduction="sum")),
        (nn.PoissonNLLLoss(log_input=False, full=True, eps=0.5),
         torch.nn.PoissonNLLLoss(log_input=False, full=True, eps=0.5)),
    ]
    for a, b in pairs:
        assert repr(a) == repr(b)
        assert list(a.state_dict()) == list(b.state_dict())
        assert [n for n, _ in a.named_modules()] == [n for n, _ in b.named_modules()]
        for attr in type(b).__constants__:
            assert getattr(a, attr) == getattr(b, attr)
    mm = pairs[1][0]
    assert np.array_equal(mm.weight.numpy(), w) and "weight" in dict(mm.named_buffers())
    assert nn.MultiLabelSoftMarginLoss().weight is None
    with pytest.warns(UserWarning), warnings.catch_warnings():
        warnings.simplefilter("always")
        legacy = [nn.MarginRankingLoss(size_average=False), nn.SoftMarginLoss(reduce=False),
                  nn.PoissonNLLLoss(size_average=True, reduce=True),
                  nn.MultiLabelMarginLoss(size_average=False, reduce=False)]
    assert [m.reduction for m in legacy] == ["sum", "none", "mean", "none"]


def test_modules_compute_the_functional_losses():
    rng = np.random.default_rng(3)
    x, x2, x3 = (tkr.tensor(rng.standard_normal((4, 5))) for _ in range(3))
    y = tkr.tensor(np.array([1.0, -1, 1, -1]))
    cls = tkr.tensor([0, 4, 2, 1])
    lab = tkr.tensor((rng.random((4, 5)) < 0.5) * 1.0)
    var = tkr.tensor(rng.random((4, 5)) + 0.1)
    cnt = tkr.tensor(rng.poisson(2.0, (4, 5)) * 1.0)
    w = tkr.tensor(np.array([1.0, 2.0, 0.5, 1.5, 3.0]))
    checks = [
        (nn.MarginRankingLoss(margin=0.2), F.margin_ranking_loss(x[:, 0], x2[:, 0], y, 0.2),
         (x[:, 0], x2[:, 0], y)),
        (nn.HingeEmbeddingLoss(margin=0.5, reduction="sum"),
         F.hinge_embedding_loss(x[:, 0], y, 0.5, reduction="sum"), (x[:, 0], y)),
        (nn.CosineEmbeddingLoss(margin=0.1), F.cosine_embedding_loss(x, x2, y, 0.1), (x, x2, y)),
        (nn.SoftMarginLoss(reduction="none"), F.soft_margin_loss(x[:, 0], y, reduction="none"),
         (x[:, 0], y)),
        (nn.MultiLabelSoftMarginLoss(weight=w), F.multilabel_soft_margin_loss(x, lab, w),
         (x, lab)),
        (nn.TripletMarginLoss(margin=0.5, p=1, swap=True),
         F.triplet_margin_loss(x, x2, x3, 0.5, 1, swap=True), (x, x2, x3)),
        (nn.TripletMarginWithDistanceLoss(swap=True),
         F.triplet_margin_with_distance_loss(x, x2, x3, swap=True), (x, x2, x3)),
        (nn.GaussianNLLLoss(full=True), F.gaussian_nll_loss(x, x2, var, full=True), (x, x2, var)),
        (nn.PoissonNLLLoss(full=True), F.poisson_nll_loss(x, cnt, full=True), (x, cnt)),
        (nn.MultiMarginLoss(p=2, weight=w), F.multi_margin_loss(x, cls, 2, weight=w), (x, cls)),
        (nn.MultiLabelMarginLoss(), F.multilabel_margin_loss(x, cls.new_zeros(4, 5) - 1),
         (x, cls.new_zeros(4, 5) - 1)),
    ]
    for module, expected, args in checks:
        np.testing.assert_array_equal(module(*args).numpy(), expected.numpy(),
                                      err_msg=type(module).__name__)


def test_legacy_reduction_arguments():
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal((2, 5))
    y = np.sign(rng.standard_normal(5))
    for kw in ({"size_average": False}, {"reduce": False}, {"size_average": True}):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ours = F.margin_ranking_loss(tkr.tensor(a), tkr.tensor(b), tkr.tensor(y), **kw)
            ref = TF.margin_ranking_loss(torch.tensor(a), torch.tensor(b), torch.tensor(y), **kw)
            np.testing.assert_allclose(ours.numpy(), ref.numpy(), rtol=1e-12)
            ours = F.poisson_nll_loss(tkr.tensor(a), tkr.tensor(np.abs(b)), **kw)
            ref = TF.poisson_nll_loss(torch.tensor(a), torch.tensor(np.abs(b)), **kw)
            np.testing.assert_allclose(ours.numpy(), ref.numpy(), rtol=1e-12)
            ours = F.multilabel_soft_margin_loss(tkr.tensor(a[None]), tkr.tensor(y[None]), **kw)
            ref = TF.multilabel_soft_margin_loss(torch.tensor(a[None]), torch.tensor(y[None]),
                                                 **kw)
            np.testing.assert_allclose(ours.numpy(), ref.numpy(), rtol=1e-12)
    with pytest.warns(UserWarning, match="size_average and reduce"):
        F.soft_margin_loss(tkr.tensor(a), tkr.tensor(y), size_average=False)


# --------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------


def _L(*a):
    return np.array(a, dtype=np.int64)


def _f(*shape, fill=None):
    return np.full(shape, 0.5) if fill is None else np.full(shape, fill, dtype=np.float64)


_r = np.random.default_rng(5).standard_normal

# (id, function, args (numpy arrays; None stays None), kwargs, compare messages)
ERRORS = [
    ("mr-ndim", "margin_ranking_loss", (_f(3), _f(3), _f(3, 1)), {}, False),
    ("mr-broadcast", "margin_ranking_loss", (_f(3), _f(4), _f(3)), {}, True),
    ("mr-target-broadcast", "margin_ranking_loss", (_f(3), _f(3), _f(4)), {}, True),
    ("mr-reduction", "margin_ranking_loss", (_f(3), _f(3), _f(3)), {"reduction": "avg"}, False),
    ("he-broadcast", "hinge_embedding_loss", (_f(3), _f(2)), {}, True),
    ("ce-target-2d", "cosine_embedding_loss", (_f(4, 3), _f(4, 3), _f(4, 1)), {}, True),
    ("ce-1d-target-1d-inputs", "cosine_embedding_loss", (_f(3), _f(3), _f(4)), {}, True),
    ("ce-0d-target-2d-inputs", "cosine_embedding_loss", (_f(4, 3), _f(4, 3), _f()), {}, True),
    ("ce-target-size", "cosine_embedding_loss", (_f(4, 3), _f(4, 3), _f(5)), {}, True),
    ("ce-input-sizes", "cosine_embedding_loss", (_f(4, 3), _f(4, 2), _f(4)), {}, True),
    ("sm-broadcast-grows", "soft_margin_loss", (_f(3, 1), _f(3)), {}, True),
    ("sm-input-smaller", "soft_margin_loss", (_f(2), _f(3, 2)), {}, True),
    ("sm-sizes", "soft_margin_loss", (_f(3), _f(2)), {}, True),
    ("mlsm-0d", "multilabel_soft_margin_loss", (_f(), _f()), {}, True),
    ("mlsm-weight", "multilabel_soft_margin_loss", (_f(3, 4), _f(3, 4)), {"weight": _f(3)}, True),
    ("mlsm-reduction", "multilabel_soft_margin_loss", (_f(3, 4), _f(3, 4)), {"reduction": "x"},
     True),
    ("tm-margin", "triplet_margin_loss", (_f(3, 4),) * 3, {"margin": 0}, True),
    ("tm-margin-neg", "triplet_margin_loss", (_f(3, 4),) * 3, {"margin": -1.0}, True),
    ("tm-ndim", "triplet_margin_loss", (_f(3, 4), _f(4), _f(3, 4)), {}, True),
    ("tm-sizes", "triplet_margin_loss", (_f(3, 4), _f(3, 5), _f(3, 4)), {}, True),
    ("tmd-reduction", "triplet_margin_with_distance_loss", (_f(3, 4),) * 3, {"reduction": "x"},
     True),
    ("tmd-margin", "triplet_margin_with_distance_loss", (_f(3, 4),) * 3, {"margin": 0.0}, True),
    ("tmd-ndim", "triplet_margin_with_distance_loss", (_f(3, 4), _f(3, 4), _f(4)), {}, True),
    ("g-neg-var", "gaussian_nll_loss", (_f(3, 4), _f(3, 4), _f(3, 4, fill=-0.1)), {}, True),
    ("g-neg-float", "gaussian_nll_loss", (_f(3, 4), _f(3, 4), -0.5), {}, True),
    ("g-var-size-1-1", "gaussian_nll_loss", (_f(3, 4), _f(3, 4), _f(1, 1)), {}, True),
    ("g-var-size-last", "gaussian_nll_loss", (_f(3, 4), _f(3, 4), _f(4)), {}, True),
    ("g-var-0d", "gaussian_nll_loss", (_f(3, 4), _f(3, 4), _f()), {}, True),
    ("g-var-3d", "gaussian_nll_loss", (_f(2, 3, 4), _f(2, 3, 4), _f(1, 3, 1)), {}, True),
    ("g-reduction", "gaussian_nll_loss", (_f(3, 4), _f(3, 4), _f(3, 4)), {"reduction": "x"},
     True),
    ("g-target", "gaussian_nll_loss", (_f(3, 4), _f(3), _f(3, 4)), {}, True),
    ("p-broadcast", "poisson_nll_loss", (_f(3, 4), _f(3)), {}, True),
    ("p-reduction", "poisson_nll_loss", (_f(3, 4), _f(3, 4)), {"reduction": "x"}, False),
    ("mm-p", "multi_margin_loss", (_f(3, 4), _L(0, 1, 2)), {"p": 3}, True),
    ("mm-weight-2d", "multi_margin_loss", (_f(3, 4), _L(0, 1, 2)), {"weight": _f(1, 4)}, True),
    ("mm-weight-size", "multi_margin_loss", (_f(3, 4), _L(0, 1, 2)), {"weight": _f(3)}, True),
    ("mm-weight-dtype", "multi_margin_loss", (_f(3, 4).astype(np.float32), _L(0, 1, 2)),
     {"weight": _f(4)}, True),
    ("mm-3d", "multi_margin_loss", (_f(2, 3, 4), _L(0, 1)), {}, True),
    ("mm-no-classes", "multi_margin_loss", (_f(3, 0), _L(0, 1, 1)), {}, True),
    ("mm-target-size", "multi_margin_loss", (_f(3, 4), _L(0, 1)), {}, True),
    ("mm-target-2d", "multi_margin_loss", (_f(3, 4), _L(0, 1, 2).reshape(3, 1)), {}, True),
    ("mm-target-range", "multi_margin_loss", (_f(3, 4), _L(0, 1, 4)), {}, True),
    ("mm-target-negative", "multi_margin_loss", (_f(3, 4), _L(0, -1, 2)), {}, True),
    ("mm-target-float", "multi_margin_loss", (_f(3, 4), _f(3)), {}, True),
    ("mm-target-int32", "multi_margin_loss", (_f(3, 4), _L(0, 1, 2).astype(np.int32)), {}, True),
    ("mm-int-input", "multi_margin_loss", (_L(1, 2, 3, 4).reshape(2, 2), _L(0, 1)), {}, True),
    ("mlm-3d", "multilabel_margin_loss", (_f(2, 3, 4), _L(0, 1, -1, 0)), {}, True),
    ("mlm-no-classes", "multilabel_margin_loss", (_f(4, 0), _L().reshape(4, 0)), {}, True),
    ("mlm-target-size", "multilabel_margin_loss", (_f(3, 4), _L(0, 1, -1, 0)), {}, True),
    ("mlm-target-size-1d", "multilabel_margin_loss", (_f(4), _L(0, 1, -1)), {}, True),
    ("mlm-target-range", "multilabel_margin_loss", (_f(4), _L(0, 4, -1, 0)), {}, True),
    ("mlm-target-below", "multilabel_margin_loss", (_f(4), _L(0, -2, -1, 0)), {}, True),
    ("mlm-target-after-end", "multilabel_margin_loss", (_f(4), _L(0, -1, -2, 9)), {}, True),
    ("mlm-target-float", "multilabel_margin_loss", (_f(4), _f(4)), {}, True),
    ("mlm-int-input", "multilabel_margin_loss", (_L(1, 2, 3, 4).reshape(2, 2), _L(0, 1, 1, -1)
                                                 .reshape(2, 2)), {}, True),
]


def _to(lib, a):
    if isinstance(a, np.ndarray):
        return lib.tensor(a)
    return a


def _raised(fn):
    try:
        fn()
    except Exception as e:       # noqa: BLE001 - the type is what is compared
        return e
    return None


@pytest.mark.parametrize("name, args, kwargs, same_message", [e[1:] for e in ERRORS],
                         ids=[e[0] for e in ERRORS])
def test_errors_match_torch(name, args, kwargs, same_message):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = _raised(lambda: getattr(TF, name)(*[_to(torch, a) for a in args],
                                                **{k: _to(torch, v) for k, v in kwargs.items()}))
        ours = _raised(lambda: getattr(F, name)(*[_to(tkr, a) for a in args],
                                                **{k: _to(tkr, v) for k, v in kwargs.items()}))
    assert ref is not None, "torch accepted it"
    assert type(ours) is type(ref), (ours, ref)
    # (PyTorch 2.11 words multi_margin_loss's target size as 2.13 no longer does)
    if same_message and not reworded_before_2_13(str(ref), torch):
        assert str(ours) == str(ref).replace("torch.Size", "tinygrad_kr.Size")


def test_not_differentiable_arguments_are_refused_as_torch():
    x = np.array([[0.5, -1.0, 2.0]])
    for lib, fn in ((tkr, F), (torch, TF)):
        w = lib.tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
        with pytest.raises(RuntimeError, match="not differentiable with respect to argument "
                                               "'weight'"):
            fn.multi_margin_loss(lib.tensor(x), lib.tensor([1]), weight=w)
        with lib.no_grad():
            fn.multi_margin_loss(lib.tensor(x), lib.tensor([1]), weight=w)
        t = lib.tensor(np.array([1.0, -1.0, 1.0]), requires_grad=True)
        with pytest.raises(RuntimeError, match="'soft_margin_loss' is not differentiable with "
                                               "respect to argument 'target'"):
            fn.soft_margin_loss(lib.tensor(x[0]), t)


def test_module_constructor_errors_match_torch():
    for args in ({"margin": 0}, {"margin": -1.0}):
        for ours, ref in ((nn.TripletMarginLoss, torch.nn.TripletMarginLoss),
                          (nn.TripletMarginWithDistanceLoss,
                           torch.nn.TripletMarginWithDistanceLoss)):
            with pytest.raises(ValueError) as a:
                ours(**args)
            with pytest.raises(ValueError) as b:
                ref(**args)
            assert str(a.value) == str(b.value)
    for ours_kw, ref_kw in (({"p": 3}, {"p": 3}),
                            ({"weight": tkr.ones(2, 2)}, {"weight": torch.ones(2, 2)})):
        with pytest.raises(ValueError) as a:
            nn.MultiMarginLoss(**ours_kw)
        with pytest.raises(ValueError) as b:
            torch.nn.MultiMarginLoss(**ref_kw)
        assert str(a.value) == str(b.value)


def test_gaussian_float_variance_and_shapes():
    """A number as var (PyTorch's homoscedastic shorthand), and the var shapes
    PyTorch accepts, each equal to PyTorch's value."""
    rng = np.random.default_rng(6)
    x, t = rng.standard_normal((2, 3, 4))
    for var in (0.7, 0.0, 2, rng.random((3, 4)), rng.random(3), rng.random((3, 1)),
                rng.random((1, 4))):
        v = (tkr.tensor(var), torch.tensor(var)) if isinstance(var, np.ndarray) else (var, var)
        ours = F.gaussian_nll_loss(tkr.tensor(x), tkr.tensor(t), v[0], reduction="none")
        if isinstance(var, int):      # PyTorch takes float only (an int fails in torch.any)
            v = (var, float(var))
        ref = TF.gaussian_nll_loss(torch.tensor(x), torch.tensor(t), v[1], reduction="none")
        np.testing.assert_allclose(ours.numpy(), ref.numpy(), rtol=1e-12, atol=1e-12)
    assert math.isfinite(float(F.gaussian_nll_loss(tkr.tensor(x), tkr.tensor(t), 0.0)))


@pytest.mark.parametrize("name, target", [("multi_margin_loss", np.zeros(0, np.int64)),
                                          ("multilabel_margin_loss", np.zeros((0, 5), np.int64))])
def test_multi_class_margins_on_an_empty_batch(name, target):
    """An empty batch: 'none' gives (0,) as PyTorch; 'sum' 0 and 'mean' nan
    (PyTorch returns uninitialised memory for these two)."""
    x = tkr.tensor(np.zeros((0, 5)), requires_grad=True)
    out = getattr(F, name)(x, tkr.tensor(target), reduction="none")
    ref = getattr(TF, name)(torch.zeros(0, 5, dtype=torch.float64), torch.tensor(target),
                            reduction="none")
    assert tuple(out.shape) == tuple(ref.shape) == (0,)
    assert float(getattr(F, name)(x, tkr.tensor(target), reduction="sum")) == 0
    loss = getattr(F, name)(x, tkr.tensor(target))
    assert math.isnan(float(loss))
    loss.backward()
    assert x.grad.shape == (0, 5)
