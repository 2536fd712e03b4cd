"""create_graph=True through the fused layers (cross-entropy, nll, batch norm,
pooling, interpolate): gradients of gradients equal PyTorch's (gradient penalties,
Hessian-vector products), float64 gradgradchecks, and third derivatives
through the pooling maps' adjoint pairs.  Convolutions: test_double_backward_conv.py."""
import numpy as np
import pytest

import tinygrad_kr as tkr
import tinygrad_kr.nn.functional as F
from tinygrad_kr.autograd import gradcheck, gradgradcheck
from tinygrad_kr.nn._ops_dense import AvgPool2dAdjoint, GatherAtIndices, ScatterAtIndices

rng = np.random.default_rng(0)
X = rng.standard_normal((5, 4))
LABELS = np.array([0, 3, -100, 2, 1])          # one ignored row
WEIGHT = np.array([1.0, 2.0, 0.5, 3.0])
PROBS = rng.random((5, 4))
PROBS /= PROBS.sum(1, keepdims=True)
IMAGES = rng.standard_normal((2, 3, 5, 5))


def _torch():
    return pytest.importorskip("torch")


def _penalty_both(torch, f, *arrays, power=2):
    """g = d sum(f(x)^power) / dx with create_graph, then sum(g^3) backward, on
    both libraries: the gradients g and the second-order x.grad must agree."""
    def run(lib, F_):
        xs = [lib.tensor(a, requires_grad=True) for a in arrays]
        gs = lib.autograd.grad((f(lib, F_, *xs) ** power).sum(), xs, create_graph=True)
        sum((g * g * g).sum() for g in gs).backward()
        return [g.detach().numpy() for g in gs] + [x.grad.numpy() for x in xs]
    ours, theirs = run(tkr, F), run(torch, torch.nn.functional)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11)


LOSSES = {
    f"{name}-{reduction}-eps{eps}-{'w' if w is not None else 'now'}": (
        (lambda lib, F_, x, loss=name, r=reduction, e=eps, w=w: getattr(F_, loss)(
            x, lib.tensor(LABELS), weight=None if w is None else lib.tensor(w), reduction=r,
            **({"label_smoothing": e} if loss == "cross_entropy" else {}))), X)
    for name in ("cross_entropy", "nll_loss") for reduction in ("mean", "sum", "none")
    for eps in (0.0, 0.2) for w in (None, WEIGHT) if not (name == "nll_loss" and eps)}
LOSSES.update({
    "cross_entropy-4d": (lambda lib, F_, x: F_.cross_entropy(
        x, lib.tensor(np.array([[[0, 2], [1, 1]], [[2, 0], [0, 1]]])), label_smoothing=0.1),
        rng.standard_normal((2, 3, 2, 2))),
    "cross_entropy-1d-input": (lambda lib, F_, x: F_.cross_entropy(x, lib.tensor(2),
                                                                  reduction="none"), X[0]),
    "cross_entropy-all-ignored-sum": (lambda lib, F_, x: F_.cross_entropy(
        x, lib.tensor(np.full(5, -100)), reduction="sum"), X),
    # class probabilities: the target is differentiable too
    "cross_entropy-probabilities": (lambda lib, F_, x, t: F_.cross_entropy(
        x, t, weight=lib.tensor(WEIGHT), label_smoothing=0.1), X, PROBS),
})


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_loss_double_backward_matches_torch(name):
    f, *arrays = LOSSES[name]
    _penalty_both(_torch(), f, *arrays)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_loss_gradgradcheck(name):
    f, *arrays = LOSSES[name]
    inputs = [tkr.tensor(a, requires_grad=True) for a in arrays]
    assert gradgradcheck(lambda *xs: f(tkr, F, *xs), inputs)


NORMS = {
    f"{shape}-{'train' if training else 'eval'}": (shape, training)
    for shape in ((4, 3), (3, 2, 5), (3, 2, 4, 5)) for training in (True, False)}


def _batch_norm(lib, F_, x, w, b, training):
    c = x.shape[1]
    return F_.batch_norm(x, lib.tensor(np.linspace(-0.5, 0.5, c)),
                         lib.tensor(np.linspace(0.5, 2, c)), w, b, training=training)


@pytest.mark.parametrize("name", sorted(NORMS))
def test_batch_norm_double_backward_matches_torch(name):
    shape, training = NORMS[name]
    arrays = (rng.standard_normal(shape), rng.standard_normal(shape[1]),
              rng.standard_normal(shape[1]))
    _penalty_both(_torch(), lambda lib, F_, x, w, b: _batch_norm(lib, F_, x, w, b, training),
                  *arrays, power=3)


@pytest.mark.parametrize("name", sorted(NORMS))
def test_batch_norm_gradgradcheck(name):
    shape, training = NORMS[name]
    x, w, b = (tkr.tensor(rng.standard_normal(s), requires_grad=True)
               for s in (shape, shape[1], shape[1]))
    assert gradgradcheck(lambda *t: _batch_norm(tkr, F, *t, training), (x, w, b))
    assert gradgradcheck(lambda t: F.batch_norm(t, None, None, training=True), (x,))


POOLS = {
    "max": lambda F_, x: F_.max_pool2d(x, 2),
    "max-overlapping-padded": lambda F_, x: F_.max_pool2d(x, 3, 1, 1),
    "max-dilated-ceil": lambda F_, x: F_.max_pool2d(x, 2, 2, dilation=2, ceil_mode=True),
    "avg": lambda F_, x: F_.avg_pool2d(x, 2),
    "avg-ceil-no-pad-count": lambda F_, x: F_.avg_pool2d(x, 3, 2, 1, ceil_mode=True,
                                                          count_include_pad=False),
    "avg-divisor": lambda F_, x: F_.avg_pool2d(x, 2, 1, divisor_override=3),
    "adaptive-max": lambda F_, x: F_.adaptive_max_pool2d(x, (3, 2)),
    "adaptive-avg": lambda F_, x: F_.adaptive_avg_pool2d(x, (3, 2)),
    "max1d": lambda F_, x: F_.max_pool1d(x.flatten(2), 3, 2),
    "avg1d": lambda F_, x: F_.avg_pool1d(x.flatten(2), 4, 3),
    # interpolate's resampling is a linear map too (Resample2d and its adjoint)
    "bilinear": lambda F_, x: F_.interpolate(x, size=(7, 4), mode="bilinear"),
    "bilinear-corners": lambda F_, x: F_.interpolate(x, scale_factor=1.6, mode="bilinear",
                                                     align_corners=True),
    "nearest": lambda F_, x: F_.interpolate(x, size=(8, 3)),
    "bicubic": lambda F_, x: F_.interpolate(x, size=(7, 9), mode="bicubic"),
    "nearest-exact": lambda F_, x: F_.interpolate(x, size=(3, 8), mode="nearest-exact"),
    "linear1d": lambda F_, x: F_.interpolate(x.flatten(2), scale_factor=0.7, mode="linear"),
}


@pytest.mark.parametrize("name", sorted(POOLS))
def test_pool_double_backward_matches_torch(name):
    _penalty_both(_torch(), lambda lib, F_, x: POOLS[name](F_, x), IMAGES, power=3)


@pytest.mark.parametrize("name", sorted(POOLS))
def test_pool_gradgradcheck(name):
    x = tkr.tensor(IMAGES, requires_grad=True)
    assert gradgradcheck(lambda t: POOLS[name](F, t) ** 2, (x,))


@pytest.mark.parametrize("name", ["max", "avg-ceil-no-pad-count", "bilinear", "nearest"])
def test_pool_third_derivative_matches_torch(name):
    """d/dx of sum(d/dx of sum(d/dx sum(pool(x)^4))^2): through the adjoint pairs."""
    torch = _torch()

    def run(lib, F_):
        x = lib.tensor(IMAGES, requires_grad=True)
        g1, = lib.autograd.grad((POOLS[name](F_, x) ** 4).sum(), x, create_graph=True)
        g2, = lib.autograd.grad((g1 ** 2).sum(), x, create_graph=True)
        (g2 ** 2).sum().backward()
        return g1.detach().numpy(), g2.detach().numpy(), x.grad.numpy()
    for a, b in zip(run(tkr, F), run(torch, torch.nn.functional)):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-11)


def test_pool_adjoint_maps_gradcheck():
    x = tkr.tensor(IMAGES, requires_grad=True)
    _, indices = F.max_pool2d(x, 2, return_indices=True)
    gy = tkr.tensor(rng.standard_normal(tuple(indices.shape)), requires_grad=True)
    options = ((2, 2), (2, 2), (0, 0), False, True, None)
    assert gradcheck(lambda g: ScatterAtIndices.apply(g, indices=indices.array,
                                                      x_shape=IMAGES.shape), (gy,))
    assert gradcheck(lambda t: GatherAtIndices.apply(t, indices=indices.array,
                                                     x_shape=IMAGES.shape), (x,))
    assert gradcheck(lambda g: AvgPool2dAdjoint.apply(g, x_shape=IMAGES.shape, options=options),
                     (gy,))
    # each is the other's adjoint: <scatter(g), v> == <g, gather(v)>
    v = rng.standard_normal(IMAGES.shape)
    lhs = (ScatterAtIndices.apply(gy, indices=indices.array, x_shape=IMAGES.shape).array * v).sum()
    rhs = (gy.array * GatherAtIndices.apply(tkr.tensor(v), indices=indices.array,
                                            x_shape=IMAGES.shape).array).sum()
    assert lhs == pytest.approx(rhs, rel=1e-12)


def test_mlp_hessian_vector_product_matches_torch():
    """The Hessian of a small classifier's cross-entropy loss times a vector
    (the sharpness measurements of a course's optimizer comparison)."""
    torch = _torch()
    data = rng.standard_normal((8, 6))
    labels = rng.integers(0, 3, 8)
    w1, w2 = rng.standard_normal((5, 6)) * 0.5, rng.standard_normal((3, 5)) * 0.5
    vs = [rng.standard_normal(w1.shape), rng.standard_normal(w2.shape)]

    def hvp(lib, F_):
        ws = [lib.tensor(w1, requires_grad=True), lib.tensor(w2, requires_grad=True)]
        h = F_.batch_norm(lib.tanh(F_.linear(lib.tensor(data), ws[0])), None, None,
                          training=True)
        loss = F_.cross_entropy(F_.linear(h, ws[1]), lib.tensor(labels), label_smoothing=0.1)
        gs = lib.autograd.grad(loss, ws, create_graph=True)
        dot = sum((g * lib.tensor(v)).sum() for g, v in zip(gs, vs))
        return [h.numpy() for h in lib.autograd.grad(dot, ws)]
    for a, b in zip(hvp(tkr, F), hvp(torch, torch.nn.functional)):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
