"""cross_entropy, nll_loss, batch_norm, dropout, dropout2d as differentiable ops
(nn/_ops_loss.py, nn/_ops_norm.py): float64 gradchecks, and values, gradients
and running statistics against torch.nn.functional."""
import itertools
import warnings
import zlib

import numpy as np
import pytest

import tinygrad_kr as tkr
import tinygrad_kr.nn as nn
import tinygrad_kr.nn.functional as F
from tinygrad_kr.autograd import gradcheck


def _rng(*key):
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def _torch():
    torch = pytest.importorskip("torch")
    # tiny problems: torch's thread pool only adds wake-up latency (tens of ms on a busy host)
    torch.set_num_threads(1)
    return torch


def _leaf(a):
    return tkr.tensor(a, requires_grad=True)


def _class_target_shape(shape):
    return () if len(shape) == 1 else (shape[0],) + tuple(shape[2:])


CE_OPTIONS = list(itertools.product(["index", "prob"], [False, True], ["none", "mean", "sum"],
                                    [0.0, 0.3]))


def _ce_problem(shape, kind, weighted, rng, dtype=np.float64, ignore_index=1):
    """logits, target, weight, ignore_index (class-index targets get an ignored entry)."""
    n_classes = shape[0] if len(shape) == 1 else shape[1]
    logits = rng.standard_normal(shape).astype(dtype)
    if kind == "prob":
        target, ignore_index = rng.random(shape).astype(dtype), -100
    else:
        target = rng.integers(0, n_classes, _class_target_shape(shape))
        target[target == ignore_index] = 0
        if target.size > 1:    # one ignored row, never all of them ('mean' would be nan)
            target.reshape(-1)[0] = ignore_index
    weight = (rng.random(n_classes) + 0.5).astype(dtype) if weighted else None
    return logits, target, weight, ignore_index


# -- cross entropy ----------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(4,), (3, 4), (2, 3, 2)])
def test_cross_entropy_gradcheck_every_option(shape):
    for kind, weighted, reduction, ls in CE_OPTIONS:
        rng = _rng("gc", shape, kind, weighted, reduction, ls)
        logits, target, weight, ignore = _ce_problem(shape, kind, weighted, rng)
        w = None if weight is None else tkr.tensor(weight)
        t = _leaf(target) if kind == "prob" else tkr.tensor(target)   # soft targets too

        def loss(x, t):
            return F.cross_entropy(x, t, weight=w, ignore_index=ignore, reduction=reduction,
                                   label_smoothing=ls)

        assert gradcheck(loss, (_leaf(logits), t))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(5,), (6, 4), (1, 1), (0, 3), (2, 3, 4), (2, 4, 1, 3)])
def test_cross_entropy_matches_torch(shape, dtype):
    torch = _torch()
    tol = dict(rtol=2e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
    for kind, weighted, reduction, ls in CE_OPTIONS:
        rng = _rng("torch", shape, dtype, kind, weighted, reduction, ls)
        logits, target, weight, ignore = _ce_problem(shape, kind, weighted, rng, dtype)
        x, xt = _leaf(logits), torch.tensor(logits, requires_grad=True)
        kwargs = dict(ignore_index=ignore, reduction=reduction, label_smoothing=ls)
        ours = F.cross_entropy(x, tkr.tensor(target),
                               weight=None if weight is None else tkr.tensor(weight), **kwargs)
        ref = torch.nn.functional.cross_entropy(
            xt, torch.tensor(target), weight=None if weight is None else torch.tensor(weight),
            **kwargs)
        assert ours.shape == tuple(ref.shape) and ours.dtype == x.dtype
        np.testing.assert_allclose(ours.detach().numpy(), ref.detach().numpy(), **tol)
        g = rng.standard_normal(ref.shape).astype(dtype)
        ours.backward(tkr.tensor(g))
        ref.backward(torch.tensor(g))
        np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), **tol)


def test_cross_entropy_extreme_logits_have_finite_gradients():
    torch = _torch()
    logits = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4], [5.0, 1e4, 1e4]], np.float32)
    target = np.array([1, 2, 0])
    x, xt = _leaf(logits), torch.tensor(logits, requires_grad=True)
    loss = F.cross_entropy(x, tkr.tensor(target), label_smoothing=0.1)
    ref = torch.nn.functional.cross_entropy(xt, torch.tensor(target), label_smoothing=0.1)
    loss.backward()
    ref.backward()
    assert np.isfinite(loss.item()) and np.isfinite(x.grad.numpy()).all()
    np.testing.assert_allclose(loss.item(), ref.item(), rtol=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_cross_entropy_is_log_softmax_plus_nll_loss():
    rng = _rng("compose")
    logits, target = rng.standard_normal((5, 4, 3)), rng.integers(0, 4, (5, 3))
    weight = tkr.tensor(rng.random(4) + 0.5)
    a, b = _leaf(logits), _leaf(logits)
    fused = F.cross_entropy(a, tkr.tensor(target), weight=weight, ignore_index=2)
    composed = F.nll_loss(F.log_softmax(b, dim=1), tkr.tensor(target), weight=weight,
                          ignore_index=2)
    np.testing.assert_allclose(fused.item(), composed.item(), rtol=1e-12)
    fused.backward()
    composed.backward()
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_cross_entropy_bad_labels_raise_before_any_work():
    x = _leaf(np.zeros((3, 4)))
    with pytest.raises(IndexError, match="target 4 is out of bounds for 4 classes"):
        F.cross_entropy(x, tkr.tensor([0, 4, 1]))
    with pytest.raises(IndexError, match="target -3"):
        F.cross_entropy(x, tkr.tensor([0, -3, 1]))
    with pytest.raises(ValueError, match=r"\(2,\)"):
        F.cross_entropy(x, tkr.tensor([0, 1]))
    with pytest.raises(TypeError, match="int32"):
        F.cross_entropy(x, tkr.tensor([0, 1, 2], dtype=tkr.int32))
    with pytest.raises(TypeError, match="Tensor"):
        F.cross_entropy(x, [0, 1, 2])
    with pytest.raises(ValueError, match="reduction"):
        F.cross_entropy(x, tkr.tensor([0, 1, 2]), reduction="avg")
    assert x.grad is None


def test_cross_entropy_graph_and_grad_mode():
    x = _leaf(_rng("modes").standard_normal((4, 3)))
    y = tkr.tensor([0, 2, 1, 1])
    with tkr.no_grad():
        assert F.cross_entropy(x, y).grad_fn is None
    loss = F.cross_entropy(x, y)
    loss.backward(retain_graph=True)
    first = x.grad.numpy().copy()
    loss.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * first)
    # create_graph records the gradient (second derivatives: test_double_backward.py)
    (g,) = tkr.autograd.grad(F.cross_entropy(x, y), x, create_graph=True)
    assert g.requires_grad and g.grad_fn is not None
    # the legacy size_average / reduce arguments still pick a reduction
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        summed = F.cross_entropy(x, y, reduce=True, size_average=False)
    np.testing.assert_allclose(summed.item(), F.cross_entropy(x, y, reduction="sum").item())


def test_cross_entropy_loss_module_trains():
    """nn.CrossEntropyLoss over this op drives a linear softmax classifier to fit."""
    rng = _rng("train")
    x = tkr.tensor(rng.standard_normal((64, 5)))
    y = tkr.tensor(np.argmax(x.numpy() @ rng.standard_normal((5, 3)), axis=1))
    w = _leaf(np.zeros((5, 3)))
    criterion = nn.CrossEntropyLoss(label_smoothing=0.05)
    first = None
    for _ in range(100):
        loss = criterion(x @ w, y)
        first = first if first is not None else loss.item()
        w.grad = None
        loss.backward()
        with tkr.no_grad():
            w -= 0.5 * w.grad
    assert loss.item() < 0.5 * first


# -- nll loss ---------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(4,), (3, 4), (2, 3, 2)])
def test_nll_loss_gradcheck_and_torch(shape):
    torch = _torch()
    for weighted, reduction in itertools.product([False, True], ["none", "mean", "sum"]):
        rng = _rng("nll", shape, weighted, reduction)
        logp, target, weight, ignore = _ce_problem(shape, "index", weighted, rng)
        w = None if weight is None else tkr.tensor(weight)
        assert gradcheck(lambda x: F.nll_loss(x, tkr.tensor(target), weight=w,
                                              ignore_index=ignore, reduction=reduction),
                         (_leaf(logp),))
        x, xt = _leaf(logp), torch.tensor(logp, requires_grad=True)
        ours = F.nll_loss(x, tkr.tensor(target), weight=w, ignore_index=ignore,
                          reduction=reduction)
        ref = torch.nn.functional.nll_loss(
            xt, torch.tensor(target), weight=None if weight is None else torch.tensor(weight),
            ignore_index=ignore, reduction=reduction)
        np.testing.assert_allclose(ours.detach().numpy(), ref.detach().numpy(), rtol=1e-12,
                                   atol=1e-14)
        ours.sum().backward()
        ref.sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-12, atol=1e-14)


# -- batch norm -------------------------------------------------------------------------------

BN_SHAPES = [(6, 3), (4, 3, 5), (2, 3, 4, 4)]


def _bn_problem(shape, rng, dtype=np.float64):
    n_channels = shape[1]
    return ((rng.standard_normal(shape) * 2 + 1).astype(dtype),
            (rng.standard_normal(n_channels)).astype(dtype),
            (rng.standard_normal(n_channels)).astype(dtype),
            (rng.standard_normal(n_channels)).astype(dtype),
            (rng.random(n_channels) + 0.5).astype(dtype))


@pytest.mark.parametrize("shape", BN_SHAPES)
@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_gradcheck(shape, training):
    x, w, b, rm, rv = _bn_problem(shape, _rng("bn-gc", shape, training))
    for affine in (True, False):
        params = (_leaf(w), _leaf(b)) if affine else (None, None)

        def norm(x, *wb):
            # fresh running stats each call, so the finite differences see the same function
            return F.batch_norm(x, tkr.tensor(rm.copy()), tkr.tensor(rv.copy()), *wb,
                                training=training, momentum=0.1, eps=1e-3)

        assert gradcheck(norm, (_leaf(x),) + tuple(p for p in params if p is not None)
                         if affine else (_leaf(x),))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", BN_SHAPES + [(2, 1, 3), (5, 2, 1, 1)])
def test_batch_norm_matches_torch(shape, dtype):
    torch = _torch()
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-11)
    for training, affine, stats in itertools.product([True, False], [True, False], [True, False]):
        if not training and not stats:
            continue
        x, w, b, rm, rv = _bn_problem(shape, _rng("bn", shape, dtype, training, affine), dtype)
        xo, xt = _leaf(x), torch.tensor(x, requires_grad=True)
        wo, wt = (_leaf(w), torch.tensor(w, requires_grad=True)) if affine else (None, None)
        bo, bt = (_leaf(b), torch.tensor(b, requires_grad=True)) if affine else (None, None)
        rmo, rvo = (tkr.tensor(rm), tkr.tensor(rv)) if stats else (None, None)
        rmt, rvt = (torch.tensor(rm), torch.tensor(rv)) if stats else (None, None)
        ours = F.batch_norm(xo, rmo, rvo, wo, bo, training, 0.3, 1e-4)
        ref = torch.nn.functional.batch_norm(xt, rmt, rvt, wt, bt, training, 0.3, 1e-4)
        np.testing.assert_allclose(ours.detach().numpy(), ref.detach().numpy(), **tol)
        if stats:
            np.testing.assert_allclose(rmo.numpy(), rmt.numpy(), **tol)
            np.testing.assert_allclose(rvo.numpy(), rvt.numpy(), **tol)
        g = _rng("bn-g", shape).standard_normal(shape).astype(dtype)
        ours.backward(tkr.tensor(g))
        ref.backward(torch.tensor(g))
        for a, t in ((xo, xt), (wo, wt), (bo, bt)):
            if a is not None:
                np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), **tol)


def test_batch_norm_frozen_input_gets_only_parameter_grads():
    x, w, b, rm, rv = _bn_problem((4, 3, 2), _rng("frozen"))
    wo, bo = _leaf(w), _leaf(b)
    F.batch_norm(tkr.tensor(x), None, None, wo, bo, True).sum().backward()
    np.testing.assert_allclose(bo.grad.numpy(), np.full(3, 8.0))
    assert wo.grad is not None


def test_batch_norm_running_stats_bookkeeping():
    x, _, _, rm, rv = _bn_problem((5, 3), _rng("book"))
    rmo, rvo = tkr.tensor(rm), tkr.tensor(rv)
    v0 = rmo._version
    F.batch_norm(_leaf(x), rmo, rvo, training=True)
    assert rmo._version == v0 + 1 and not rmo.requires_grad and rmo.grad_fn is None
    expected_mean = 0.9 * rm + 0.1 * x.mean(0)
    np.testing.assert_allclose(rmo.numpy(), expected_mean, rtol=1e-12)
    np.testing.assert_allclose(rvo.numpy(), 0.9 * rv + 0.1 * x.var(0, ddof=1), rtol=1e-12)
    before = rmo.numpy().copy()
    F.batch_norm(_leaf(x), rmo, rvo, training=False)
    np.testing.assert_array_equal(rmo.numpy(), before)


def test_batch_norm_module_cumulative_average_matches_torch():
    """nn.BatchNorm2d(momentum=None) passes 1/num_batches_tracked as momentum."""
    torch = _torch()
    ours = nn.BatchNorm2d(3, momentum=None, dtype=tkr.float64)
    ref = torch.nn.BatchNorm2d(3, momentum=None).double()
    rng = _rng("cma")
    for _ in range(3):
        x = rng.standard_normal((4, 3, 2, 2)) * 3 + 1
        ours(tkr.tensor(x))
        ref(torch.tensor(x))
    np.testing.assert_allclose(ours.running_mean.numpy(), ref.running_mean.numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours.running_var.numpy(), ref.running_var.numpy(), rtol=1e-12)
    ours.eval()
    ref.eval()
    x = rng.standard_normal((2, 3, 2, 2))
    np.testing.assert_allclose(ours(tkr.tensor(x)).detach().numpy(),
                               ref(torch.tensor(x)).detach().numpy(), rtol=1e-10)


def test_batch_norm_bad_arguments_raise():
    x = _leaf(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        F.batch_norm(_leaf(np.zeros((1, 3))), None, None, training=True)
    with pytest.raises(TypeError, match="momentum"):
        F.batch_norm(x, tkr.zeros(3, dtype=tkr.float64), tkr.ones(3, dtype=tkr.float64),
                     training=True, momentum=None)
    with pytest.raises(ValueError, match="evaluation mode"):
        F.batch_norm(x, None, None, training=False)
    with pytest.raises(ValueError, match="running_mean should contain 3"):
        F.batch_norm(x, tkr.zeros(4, dtype=tkr.float64), tkr.ones(4, dtype=tkr.float64))
    # create_graph records the gradient (second derivatives: test_double_backward.py)
    (g,) = tkr.autograd.grad((F.batch_norm(x, None, None, training=True) ** 2).sum(), x,
                             create_graph=True)
    assert g.requires_grad and g.grad_fn is not None


# -- dropout ----------------------------------------------------------------------------------

def test_dropout_values_and_grads_use_one_mask():
    x = _leaf(_rng("drop").standard_normal((50, 40)))
    tkr.manual_seed(7)
    y = F.dropout(x, 0.4)
    kept = y.detach().numpy() != 0
    np.testing.assert_allclose(y.detach().numpy()[kept], x.array[kept] / 0.6, rtol=1e-15)
    y.backward(tkr.ones_like(y))
    np.testing.assert_allclose(x.grad.numpy(), kept / 0.6)
    assert abs(kept.mean() - 0.6) < 0.05
    tkr.manual_seed(7)
    again = F.dropout(x, 0.4)    # the seed reproduces the mask
    np.testing.assert_array_equal(again.detach().numpy(), y.detach().numpy())


def test_dropout_gradcheck_with_a_fixed_mask():
    def fixed_mask_dropout(fn, p):
        def run(x):
            tkr.manual_seed(123)    # the same mask at every finite-difference evaluation
            return fn(x, p)
        return run

    x = _leaf(_rng("drop-gc").standard_normal((3, 4, 2, 2)))
    assert gradcheck(fixed_mask_dropout(F.dropout, 0.3), (x,))
    assert gradcheck(fixed_mask_dropout(F.dropout2d, 0.5), (x,))


def test_dropout_double_backward():
    x = _leaf(_rng("drop-gg").standard_normal(20))
    tkr.manual_seed(1)
    y = F.dropout(x, 0.5)
    (g,) = tkr.autograd.grad((y * y).sum(), x, create_graph=True)
    g.sum().backward()
    mask = (y.detach().numpy() != 0) * 2.0
    np.testing.assert_allclose(x.grad.numpy(), 2 * mask * mask)


def test_dropout_identity_cases_and_p_bounds():
    x = _leaf(np.ones((3, 4)))
    images = _leaf(np.ones((2, 3, 4, 4)))
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x
    assert F.dropout2d(images, 0.5, training=False) is images
    zeros = F.dropout(x, 1.0)
    assert (zeros.detach().numpy() == 0).all()
    zeros.sum().backward()
    assert (x.grad.numpy() == 0).all()
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match="between 0 and 1"):
            F.dropout(x, bad)
        with pytest.raises(ValueError, match="between 0 and 1"):
            F.dropout2d(images, bad)
    with pytest.raises(TypeError):
        F.dropout(tkr.tensor([1, 2, 3]), 0.5)


def test_dropout_inplace():
    x = tkr.tensor(np.ones((4, 5)))
    tkr.manual_seed(2)
    out = F.dropout(x, 0.5, inplace=True)
    assert out is x and set(np.unique(x.numpy())) <= {0.0, 2.0}
    leaf = _leaf(np.ones(3))
    with pytest.raises(RuntimeError, match="leaf"):
        F.dropout(leaf, 0.5, inplace=True)


def test_dropout2d_drops_whole_channels():
    x = _leaf(_rng("d2").standard_normal((8, 6, 3, 5)) + 10)    # no zeros in x
    tkr.manual_seed(4)
    y = F.dropout2d(x, 0.5).detach().numpy()
    per_channel = (y != 0).reshape(8, 6, -1)
    assert (per_channel.all(-1) | ~per_channel.any(-1)).all()   # all kept or all dropped
    assert 0 < per_channel.all(-1).mean() < 1
    np.testing.assert_allclose(y[y != 0], x.array[y != 0] * 2)
    with pytest.warns(UserWarning, match="3D input"):
        F.dropout2d(_leaf(np.ones((2, 3, 4))), 0.5)
    with pytest.warns(UserWarning, match="2-D input"):
        F.dropout2d(_leaf(np.ones((2, 3))), 0.5)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        F.dropout2d(_leaf(np.ones(3)), 0.5)
    empty = F.dropout2d(_leaf(np.ones((2, 3, 0, 4))), 0.5)
    assert empty.shape == (2, 3, 0, 4)


def test_dropout_module_train_eval():
    torch = _torch()
    layer = nn.Dropout(0.25)
    x = tkr.tensor(np.ones((200, 50), np.float32))
    y = layer(x).numpy()
    assert set(np.unique(y)) <= {0.0, np.float32(1 / 0.75)}
    ref = torch.nn.functional.dropout(torch.ones(200, 50), 0.25)
    assert abs((y == 0).mean() - (ref.numpy() == 0).mean()) < 0.03
    layer.eval()
    np.testing.assert_array_equal(layer(x).numpy(), x.numpy())
