"""The 3-D family of torch.nn (nn/_ops_3d.py and its layers), the *_with_indices
functions and the lazy layers: float64 gradchecks of every new Function
(gradgradcheck of the convolutions), values, gradients and indices against
PyTorch in float32 and float64 over a spread of geometries, PyTorch's errors
(both libraries' messages matched by the same pattern), reprs and state_dict
keys, and a tiny 3-D CNN trained a few steps as PyTorch trains it."""
import re

import numpy as np
import pytest

import tinygrad_kr as tkr
import tinygrad_kr.nn as nn
import tinygrad_kr.nn.functional as F
from tinygrad_kr.autograd import gradcheck, gradgradcheck
from tinygrad_kr.nn._ops_3d import DepthFold, DepthUnfold
from cases import (check_against_torch as _check_against_torch, distinct as _distinct,
                   leaf as _leaf, rng_for as _rng, torch_one_thread as _torch)
from torch_compat import as_torch_repr, torch_lp_pool


DTYPES = [np.float32, np.float64]


def _raises_like_torch(call, exc, pattern):
    """Both libraries raise ``exc`` with a message ``pattern`` matches."""
    torch = _torch()
    with pytest.raises(exc, match=pattern):
        call(tkr, nn, F)
    with pytest.raises(exc, match=pattern):
        call(torch, torch.nn, torch.nn.functional)


# ======================================================================= conv3d

CONV3D = [  # x shape, w shape, kwargs
    ((2, 3, 5, 6, 4), (4, 3, 2, 3, 2), {}),
    ((2, 4, 7, 6, 5), (6, 2, 3, 2, 3), dict(stride=(2, 1, 2), padding=(1, 2, 0),
                                           dilation=(2, 1, 1), groups=2)),
    ((3, 5, 6, 7), (4, 3, 3, 3, 3), dict(padding="same", dilation=(2, 1, 2))),   # unbatched
    ((1, 2, 4, 5, 6), (3, 2, 2, 2, 2), dict(padding="same")),       # the odd pad at the end
    ((2, 2, 6, 5, 5), (2, 2, 3, 1, 3), dict(stride=3, padding="valid")),
    ((1, 6, 3, 4, 4), (6, 1, 1, 3, 2), dict(groups=6, padding=(0, 1, 1))),     # depthwise
    ((2, 2, 4, 4, 4), (3, 2, 4, 2, 2), dict(padding=(2, 0, 0), stride=(3, 2, 1))),
]


@pytest.mark.filterwarnings("ignore:Using padding=.same. with even kernel")
@pytest.mark.parametrize("x_shape, w_shape, kwargs", CONV3D)
@pytest.mark.parametrize("dtype", DTYPES)
def test_conv3d_matches_torch(x_shape, w_shape, kwargs, dtype):
    torch = _torch()
    rng = _rng("conv3d", x_shape, w_shape)
    arrays = [rng.standard_normal(x_shape), rng.standard_normal(w_shape),
              rng.standard_normal(w_shape[0])]
    terms = int(np.prod(w_shape[1:]))
    _check_against_torch(F.conv3d, torch.nn.functional.conv3d, arrays, dtype, terms, **kwargs)
    _check_against_torch(F.conv3d, torch.nn.functional.conv3d, arrays[:2], dtype, terms,
                         **kwargs)


GRADCHECK_CONV3D = [
    ((1, 2, 3, 3, 2), (2, 2, 2, 2, 1), dict(padding=(1, 0, 0))),
    ((2, 2, 4, 3, 3), (2, 1, 2, 2, 2), dict(stride=(2, 1, 1), dilation=(1, 1, 2), groups=2,
                                           padding=(1, 1, 1))),
    ((2, 3, 3, 2), (2, 2, 2, 1, 2), dict(padding="same")),
]


@pytest.mark.parametrize("x_shape, w_shape, kwargs", GRADCHECK_CONV3D)
def test_conv3d_gradcheck_and_gradgradcheck(x_shape, w_shape, kwargs):
    rng = _rng("conv3d-gc", x_shape, w_shape)
    inputs = [_leaf(rng.standard_normal(x_shape)), _leaf(rng.standard_normal(w_shape)),
              _leaf(rng.standard_normal(w_shape[0]))]
    assert gradcheck(lambda *a: F.conv3d(*a, **kwargs), inputs)
    assert gradgradcheck(lambda *a: F.conv3d(*a, **kwargs), inputs)


def test_conv3d_gradient_of_one_input():
    """Only the wanted gradient is computed; each equals PyTorch's."""
    torch = _torch()
    rng = _rng("conv3d-one")
    x, w = rng.standard_normal((2, 2, 4, 3, 3)), rng.standard_normal((3, 2, 2, 2, 2))
    for wanted in (0, 1):
        mine = [tkr.tensor(a, requires_grad=i == wanted) for i, a in enumerate((x, w))]
        ref = [torch.tensor(a, requires_grad=i == wanted) for i, a in enumerate((x, w))]
        F.conv3d(*mine, padding=1).sum().backward()
        torch.nn.functional.conv3d(*ref, padding=1).sum().backward()
        assert mine[1 - wanted].grad is None
        np.testing.assert_allclose(mine[wanted].grad.numpy(), ref[wanted].grad.numpy(),
                                   rtol=1e-12, atol=1e-12)


def test_conv3d_double_backward_matches_torch():
    """d/dw of sum((d loss / dx)^2): through Conv2d's and DepthUnfold's graph-mode backwards."""
    torch = _torch()
    rng = _rng("conv3d-gg")
    x = rng.standard_normal((2, 4, 5, 4, 4))
    w = rng.standard_normal((4, 2, 3, 2, 3))
    kwargs = dict(stride=(2, 1, 1), padding=(1, 1, 0), groups=2)
    results = []
    for lib, fn in ((tkr, F.conv3d), (torch, torch.nn.functional.conv3d)):
        tx, tw = lib.tensor(x, requires_grad=True), lib.tensor(w, requires_grad=True)
        y = fn(tx, tw, **kwargs)
        gx, = lib.autograd.grad((y * y).sum(), tx, create_graph=True)
        (gx * gx).sum().backward()
        results.append((tx.grad.numpy(), tw.grad.numpy()))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)


# =============================================================== conv_transpose3d

CONVT3D = [  # x shape, w shape, kwargs
    ((2, 3, 3, 4, 2), (3, 4, 2, 3, 2), {}),
    ((2, 4, 3, 4, 5), (4, 2, 3, 2, 3), dict(stride=(2, 3, 2), padding=(1, 2, 0),
                                           dilation=(2, 1, 1), groups=2,
                                           output_padding=(1, 2, 0))),
    ((4, 3, 3, 3), (4, 2, 3, 3, 3), dict(stride=2, padding=1, output_padding=1)),   # unbatched
    ((1, 2, 2, 3, 2), (2, 3, 2, 1, 2), dict(stride=(1, 2, 3), dilation=(3, 1, 2),
                                           output_padding=(2, 1, 1))),   # op >= stride: dilation
    ((1, 2, 3, 2, 2), (2, 1, 4, 2, 2), dict(padding=(2, 0, 1))),   # cropped into the taps
]


@pytest.mark.parametrize("x_shape, w_shape, kwargs", CONVT3D)
@pytest.mark.parametrize("dtype", DTYPES)
def test_conv_transpose3d_matches_torch(x_shape, w_shape, kwargs, dtype):
    torch = _torch()
    rng = _rng("convt3d", x_shape, w_shape)
    arrays = [rng.standard_normal(x_shape), rng.standard_normal(w_shape),
              rng.standard_normal(w_shape[1] * kwargs.get("groups", 1))]
    terms = w_shape[0] * int(np.prod(w_shape[2:]))
    _check_against_torch(F.conv_transpose3d, torch.nn.functional.conv_transpose3d, arrays,
                         dtype, terms, **kwargs)


GRADCHECK_CONVT3D = [
    ((1, 2, 2, 3, 2), (2, 2, 2, 2, 1), dict(stride=(2, 1, 1), output_padding=(1, 0, 0))),
    ((2, 2, 2, 2, 3), (2, 1, 2, 1, 2), dict(groups=2, padding=(1, 0, 1), dilation=(2, 1, 1))),
]


@pytest.mark.parametrize("x_shape, w_shape, kwargs", GRADCHECK_CONVT3D)
def test_conv_transpose3d_gradcheck_and_gradgradcheck(x_shape, w_shape, kwargs):
    rng = _rng("convt3d-gc", x_shape, w_shape)
    inputs = [_leaf(rng.standard_normal(x_shape)), _leaf(rng.standard_normal(w_shape)),
              _leaf(rng.standard_normal(w_shape[1] * kwargs.get("groups", 1)))]
    assert gradcheck(lambda *a: F.conv_transpose3d(*a, **kwargs), inputs)
    assert gradgradcheck(lambda *a: F.conv_transpose3d(*a, **kwargs), inputs)


@pytest.mark.parametrize("geometry", [
    dict(kernel=3, stride=2, padding=1, dilation=1, groups=1, positions=3),
    dict(kernel=2, stride=1, padding=2, dilation=3, groups=2, positions=4),
    dict(kernel=2, stride=3, padding=0, dilation=1, groups=1, positions=1),
])
def test_depth_unfold_and_fold_are_adjoint_and_gradchecked(geometry):
    """<unfold(x), g> == <x, fold(g)> for random x and g; each Function gradchecked
    (and, through the other's graph-mode backward, gradgradchecked)."""
    rng = _rng("unfold", tuple(geometry.values()))
    x = rng.standard_normal((2, 2, 5, 2, 3))
    u = DepthUnfold.apply(tkr.tensor(x), **geometry)
    g = rng.standard_normal(tuple(u.shape))
    folded = DepthFold.apply(tkr.tensor(g), depth=5, **geometry)
    assert tuple(folded.shape) == x.shape
    np.testing.assert_allclose(np.vdot(u.numpy(), g), np.vdot(x, folded.numpy()), rtol=1e-12)
    small = _leaf(x[:1, :, :, :1, :2].copy())
    assert gradcheck(lambda t: DepthUnfold.apply(t, **geometry), (small,))
    assert gradgradcheck(lambda t: DepthUnfold.apply(t, **geometry) ** 2, (small,))
    rows = DepthUnfold.apply(small, **geometry)
    g_small = _leaf(rng.standard_normal(tuple(rows.shape)))
    assert gradcheck(lambda t: DepthFold.apply(t, depth=5, **geometry), (g_small,))
    assert gradgradcheck(lambda t: DepthFold.apply(t, depth=5, **geometry) ** 2, (g_small,))


CONV_ERRORS = [
    (lambda t, nn, F: F.conv3d(t.ones(3, 4, 4), t.ones(4, 3, 3, 3, 3)),
     r"Expected 4D \(unbatched\) or 5D \(batched\) input to conv3d, but got input of size: "
     r"\[3, 4, 4\]"),
    (lambda t, nn, F: F.conv3d(t.ones(2, 3, 4, 4), t.ones(4, 3, 3, 3, 3)),
     r"Given groups=1, weight of size \[4, 3, 3, 3, 3\], expected input\[1, 2, 3, 4, 4\] to have "
     r"3 channels, but got 2 channels instead"),
    (lambda t, nn, F: F.conv3d(t.ones(2, 4, 4, 4, 4), t.ones(6, 2, 3, 3, 3), groups=3),
     r"Given groups=3, weight of size \[6, 2, 3, 3, 3\], expected input\[2, 4, 4, 4, 4\] to have "
     r"6 channels, but got 4 channels instead"),
    (lambda t, nn, F: F.conv3d(t.ones(2, 3, 4, 4, 4), t.ones(4, 3, 5, 3, 3)),
     r"Calculated padded input size per channel: \(4 x 4 x 4\)\. Kernel size: \(5 x 3 x 3\)\. "
     r"Kernel size can't be greater than actual input size"),
    (lambda t, nn, F: F.conv3d(t.ones(2, 3, 4, 4, 4), t.ones(4, 3, 3, 3, 3), stride=0),
     "non-positive stride is not supported"),
    (lambda t, nn, F: F.conv3d(t.ones(2, 3, 4, 4, 4), t.ones(4, 3, 3, 3, 3), dilation=0),
     "non-positive dilation is not supported"),
    (lambda t, nn, F: F.conv3d(t.ones(2, 3, 4, 4, 4), t.ones(4, 3, 3, 3, 3), padding=-1),
     "negative padding is not supported"),
    (lambda t, nn, F: F.conv3d(t.ones(2, 3, 4, 4, 4), t.ones(4, 3, 3, 3, 3), stride=(1, 2)),
     r"expected stride to be a single integer value or a list of 3 values to match the "
     r"convolution dimensions, but got stride=\[1, 2\]"),
    (lambda t, nn, F: F.conv3d(t.ones(2, 3, 4, 4, 4), t.ones(4, 3, 3, 3, 3), padding="same",
                               stride=2),
     "padding='same' is not supported for strided convolutions"),
    (lambda t, nn, F: F.conv3d(t.ones(2, 3, 4, 4, 4), t.ones(4, 3, 3, 3, 3), padding="full"),
     "Invalid padding string: 'full'"),
    (lambda t, nn, F: F.conv3d(t.ones(2, 3, 4, 4, 4), t.ones(4, 3, 3, 3, 3), t.ones(5)),
     r"Given weight of size \[4, 3, 3, 3, 3\], expected bias to be 1-dimensional with 4 "
     r"elements, but got bias of size \[5\] instead"),
    (lambda t, nn, F: F.conv3d(t.ones(2, 3, 4, 4, 4), t.ones(4, 3, 3, 3, 3, dtype=t.float64)),
     r"Input type \(torch.FloatTensor\) and weight type \(torch.DoubleTensor\) should be the "
     r"same"),
    (lambda t, nn, F: F.conv3d(t.ones(2, 3, 4, 4, 4), t.ones(4, 3, 3, 3, 3),
                               t.ones(4, dtype=t.float64)),
     r"Input type \(float\) and bias type \(double\) should be the same"),
    (lambda t, nn, F: F.conv3d(t.ones(2, 3, 4, 4, 4), t.ones(4, 3, 3, 3, 3), groups=0),
     "non-positive groups is not supported"),
    (lambda t, nn, F: F.conv_transpose3d(t.ones(2, 3, 4, 4, 4), t.ones(3, 2, 3, 3, 3),
                                         stride=2, output_padding=2),
     "output padding must be smaller than either stride or dilation, but got "
     "output_padding_depth: 2 output_padding_height: 2 output_padding_width: 2 stride_depth: 2 "
     "stride_height: 2 stride_width: 2 dilation_depth: 1 dilation_height: 1 dilation_width: 1"),
    (lambda t, nn, F: F.conv_transpose3d(t.ones(2, 3, 4, 4, 4), t.ones(4, 2, 3, 3, 3)),
     r"Given transposed=1, weight of size \[4, 2, 3, 3, 3\], expected input\[2, 3, 4, 4, 4\] "
     r"to have 4 channels, but got 3 channels instead"),
    (lambda t, nn, F: F.conv_transpose3d(t.ones(2, 3, 4, 4), t.ones(3, 2, 1, 1, 1)),
     r"expected input\[1, 2, 3, 4, 4\] to have 3 channels, but got 2 channels instead"),
    (lambda t, nn, F: F.conv_transpose3d(t.ones(2, 3, 4, 4, 4),
                                         t.ones(3, 2, 3, 3, 3, dtype=t.float64)),
     r"Input type \(torch.FloatTensor\) and weight type \(torch.DoubleTensor\) should be the "
     r"same"),
]


@pytest.mark.parametrize("call, pattern", CONV_ERRORS)
def test_conv3d_raises_like_torch(call, pattern):
    _raises_like_torch(call, RuntimeError, pattern)


def test_conv_transpose3d_padding_string_raises_like_torch():
    _raises_like_torch(lambda t, nn, F: F.conv_transpose3d(t.ones(1, 2, 3, 3, 3),
                                                           t.ones(2, 2, 3, 3, 3), padding="same"),
                       TypeError, "argument 'padding' must be tuple of ints")


# ======================================================================= pooling

MAXPOOL3D = [  # x shape, kwargs
    ((2, 3, 5, 6, 7), dict(kernel_size=2)),
    ((2, 3, 7, 6, 5), dict(kernel_size=(3, 2, 3), stride=(2, 1, 2), padding=(1, 1, 0),
                           dilation=(1, 2, 1), ceil_mode=True)),
    ((3, 5, 6, 7), dict(kernel_size=3, stride=2, padding=1)),                  # unbatched
    ((1, 2, 6, 6, 6), dict(kernel_size=(2, 3, 2), stride=(3, 2, 2), ceil_mode=True)),
    ((1, 2, 5, 4, 6), dict(kernel_size=(2, 1, 3), stride=1, dilation=(2, 1, 2),
                           padding=(1, 0, 1))),
]


@pytest.mark.parametrize("x_shape, kwargs", MAXPOOL3D)
@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool3d_matches_torch(x_shape, kwargs, dtype):
    torch = _torch()
    x = _distinct(x_shape, _rng("maxpool3d", x_shape))
    tf = torch.nn.functional
    _check_against_torch(F.max_pool3d, tf.max_pool3d, [x], dtype, **kwargs)
    _check_against_torch(F.max_pool3d, tf.max_pool3d, [x], dtype, return_indices=True, **kwargs)
    _check_against_torch(F.max_pool3d_with_indices, tf.max_pool3d_with_indices, [x], dtype,
                         **kwargs)


AVGPOOL3D = [
    ((2, 3, 5, 6, 7), dict(kernel_size=2)),
    ((2, 3, 7, 6, 5), dict(kernel_size=(3, 2, 3), stride=(2, 1, 2), padding=(1, 1, 0),
                           ceil_mode=True)),
    ((2, 3, 7, 6, 5), dict(kernel_size=(3, 2, 3), stride=(2, 1, 2), padding=(1, 1, 0),
                           ceil_mode=True, count_include_pad=False)),
    ((3, 5, 6, 7), dict(kernel_size=3, stride=2, padding=1, divisor_override=5)),
    ((1, 2, 6, 6, 6), dict(kernel_size=(2, 3, 2), stride=(3, 2, 2), ceil_mode=True, padding=1,
                           count_include_pad=False)),
]


@pytest.mark.parametrize("x_shape, kwargs", AVGPOOL3D)
@pytest.mark.parametrize("dtype", DTYPES)
def test_avg_pool3d_matches_torch(x_shape, kwargs, dtype):
    torch = _torch()
    x = _rng("avgpool3d", x_shape).standard_normal(x_shape)
    _check_against_torch(F.avg_pool3d, torch.nn.functional.avg_pool3d, [x], dtype, **kwargs)


ADAPTIVE3D = [((2, 3, 5, 6, 7), 2), ((2, 3, 7, 6, 5), (3, 4, None)), ((3, 5, 6, 7), (5, 3, 3)),
              ((1, 2, 4, 4, 6), (2, 1, 3)), ((1, 1, 3, 5, 4), (5, 7, 4))]   # bigger than the input


@pytest.mark.parametrize("x_shape, size", ADAPTIVE3D)
@pytest.mark.parametrize("dtype", DTYPES)
def test_adaptive_pool3d_matches_torch(x_shape, size, dtype):
    torch = _torch()
    tf = torch.nn.functional
    x = _distinct(x_shape, _rng("adaptive3d", x_shape))
    _check_against_torch(F.adaptive_avg_pool3d, tf.adaptive_avg_pool3d, [x], dtype,
                         output_size=size)
    _check_against_torch(F.adaptive_max_pool3d, tf.adaptive_max_pool3d, [x], dtype,
                         output_size=size)
    _check_against_torch(F.adaptive_max_pool3d, tf.adaptive_max_pool3d, [x], dtype,
                         output_size=size, return_indices=True)
    _check_against_torch(F.adaptive_max_pool3d_with_indices, tf.adaptive_max_pool3d_with_indices,
                         [x], dtype, output_size=size)


@pytest.mark.parametrize("norm_type, kwargs", [
    (2, dict(kernel_size=2)),
    (3, dict(kernel_size=(2, 3, 1), stride=(1, 2, 2), ceil_mode=True)),
    (1.5, dict(kernel_size=(1, 2, 2), stride=1)),
    (float("inf"), dict(kernel_size=(2, 3, 1), stride=(1, 2, 2), ceil_mode=True)),
])
@pytest.mark.parametrize("dtype", DTYPES)
def test_lp_pool3d_matches_torch(norm_type, kwargs, dtype):
    torch = _torch()
    x = np.abs(_distinct((2, 3, 5, 6, 7), _rng("lp3d"))) + 0.1
    # PyTorch 2.11 returns ones for norm_type=inf: then its 2.13 definition (max_pool3d of |x|)
    _check_against_torch(F.lp_pool3d, torch_lp_pool(torch, 3), [x], dtype,
                         norm_type=norm_type, **kwargs)


def test_max_pool3d_nan_and_inf_indices_as_torch():
    """A NaN always wins (the last in (d, h, w) order); windows of -inf give the
    first position inside the input, not in the padding; ties give the first."""
    torch = _torch()
    x = np.zeros((1, 2, 4, 4, 4))
    x[0, 0, 1, 2, 1] = x[0, 0, 0, 3, 0] = np.nan
    x[0, 1] = -np.inf
    x[0, 1, 3, 3, 3] = 1.0
    for kwargs in (dict(kernel_size=3, stride=1, padding=1), dict(kernel_size=2),
                   dict(kernel_size=(2, 3, 3), stride=2, padding=1, ceil_mode=True)):
        y, i = F.max_pool3d(tkr.tensor(x), return_indices=True, **kwargs)
        ty, ti = torch.nn.functional.max_pool3d(torch.tensor(x), return_indices=True, **kwargs)
        np.testing.assert_array_equal(y.numpy(), ty.numpy())
        np.testing.assert_array_equal(i.numpy(), ti.numpy())


@pytest.mark.parametrize("name, shapes, kwargs", [
    ("conv3d", [(0, 2, 4, 4, 4), (3, 2, 2, 2, 2)], {}),
    ("conv_transpose3d", [(0, 2, 3, 3, 3), (2, 3, 2, 2, 2)], dict(stride=2)),
    ("max_pool3d", [(0, 2, 4, 4, 4)], dict(kernel_size=2)),
    ("avg_pool3d", [(0, 2, 4, 4, 4)], dict(kernel_size=2)),
    ("adaptive_avg_pool3d", [(0, 2, 4, 4, 4)], dict(output_size=3)),
    ("adaptive_max_pool3d", [(0, 2, 4, 4, 4)], dict(output_size=3, return_indices=True)),
    ("adaptive_avg_pool3d", [(1, 2, 4, 4, 4)], dict(output_size=0)),
    ("adaptive_max_pool3d", [(2, 4, 4, 4)], dict(output_size=(0, 2, None),
                                                  return_indices=True)),
])
def test_empty_batches_and_outputs_as_torch(name, shapes, kwargs):
    """Empty results keep PyTorch's shapes and stay in the graph (zero gradients)."""
    torch = _torch()
    arrays = [_rng("empty", s).standard_normal(s) for s in shapes]
    mine = [_leaf(a) for a in arrays]
    ref = [torch.tensor(a, requires_grad=True) for a in arrays]
    y, ty = getattr(F, name)(*mine, **kwargs), getattr(torch.nn.functional, name)(*ref, **kwargs)
    if isinstance(ty, tuple):
        assert y[1].dtype == tkr.int64 and tuple(y[1].shape) == tuple(ty[1].shape)
        y, ty = y[0], ty[0]
    assert tuple(y.shape) == tuple(ty.shape) and y.requires_grad
    y.sum().backward()
    try:
        ty.sum().backward()
    except RuntimeError:    # PyTorch's backward refuses an empty output volume: zeros here
        for t in mine:
            np.testing.assert_array_equal(t.grad.numpy(), np.zeros(t.shape))
        return
    for t, r in zip(mine, ref):
        np.testing.assert_array_equal(t.grad.numpy(), r.grad.numpy())


POOL_GRADCHECKS = [
    (lambda x: F.max_pool3d(x, 2, 1, dilation=(1, 2, 1)), (1, 2, 3, 4, 4)),
    (lambda x: F.max_pool3d(x, (2, 2, 1), (2, 1, 1), padding=(1, 1, 0), ceil_mode=True),
     (2, 3, 3, 3)),
    (lambda x: F.avg_pool3d(x, 2, 1, padding=1, count_include_pad=False), (1, 2, 3, 3, 2)),
    (lambda x: F.avg_pool3d(x, (3, 2, 2), 2, ceil_mode=True, divisor_override=3), (1, 1, 4, 3, 3)),
    (lambda x: F.adaptive_avg_pool3d(x, (2, 3, 1)), (1, 2, 3, 4, 3)),
    (lambda x: F.adaptive_max_pool3d(x, (2, 2, 3)), (1, 2, 3, 3, 4)),
    (lambda x: F.lp_pool3d(x, 2, 2, 1), (1, 1, 3, 3, 3)),
]


@pytest.mark.parametrize("fn, shape", POOL_GRADCHECKS)
def test_pool3d_gradcheck_and_gradgradcheck(fn, shape):
    x = _leaf(_distinct(shape, _rng("pool-gc", shape)) + 0.5 * (np.prod(shape) * 0.01 + 1))
    assert gradcheck(fn, (x,))
    assert gradgradcheck(lambda t: fn(t) ** 2, (x,))


POOL_ERRORS = [
    (lambda t, nn, F: F.max_pool3d(t.ones(2, 4, 4), 2),
     r"non-empty 4D or 5D \(batch mode\) tensor expected for input"),
    (lambda t, nn, F: F.max_pool3d(t.ones(1, 2, 3, 4, 4), 2, padding=2),
     "pad should be at most half of effective kernel size, but got pad=2, kernel_size=2 and "
     "dilation=1"),
    (lambda t, nn, F: F.max_pool3d(t.ones(1, 2, 3, 4, 4), 2, padding=2, dilation=3),
     "pad should be smaller than or equal to half of kernel size, but got kT: 2 kW: 2 kH: 2 "
     "padT: 2 padW: 2 padH: 2"),
    (lambda t, nn, F: F.max_pool3d(t.ones(1, 2, 3, 4, 4), 5),
     r"Given input size: \(2x3x4x4\)\. Calculated output size: \(2x0x0x0\)\. Output size is "
     r"too small"),
    (lambda t, nn, F: F.max_pool3d(t.ones(1, 2, 3, 4, 4), 2, stride=0),
     "stride should not be zero"),
    (lambda t, nn, F: F.max_pool3d(t.ones(1, 2, 3, 4, 4), 0, stride=1),
     "kernel size should be greater than zero, but got kT: 0 kH: 0 kW: 0"),
    (lambda t, nn, F: F.max_pool3d(t.ones(1, 2, 3, 4, 4), (2, 2)),
     "max_pool3d: kernel_size must either be a single int, or a tuple of three ints"),
    (lambda t, nn, F: F.max_pool3d(t.ones(1, 2, 3, 4, 4), 2, padding=(1, 1)),
     "max_pool3d: padding must either be a single int, or a tuple of three ints"),
    (lambda t, nn, F: F.max_pool3d(t.ones(1, 2, 3, 4, 4), 2, dilation=0),
     "dilation should be greater than zero, but got dilationT: 0 dilationH: 0 dilationW: 0"),
    (lambda t, nn, F: F.avg_pool3d(t.ones(2, 4, 4), 2),
     r"non-empty 4D or 5D \(batch mode\) tensor expected for input"),
    (lambda t, nn, F: F.avg_pool3d(t.ones(1, 2, 3, 4, 4), 2, padding=2),
     "pad should be at most half of effective kernel size"),
    (lambda t, nn, F: F.avg_pool3d(t.ones(1, 2, 3, 4, 4), 5),
     r"input image \(T: 3 H: 4 W: 4\) smaller than kernel size \(kT: 5 kH: 5 kW: 5\)"),
    (lambda t, nn, F: F.avg_pool3d(t.ones(1, 2, 3, 6, 6), 4, padding=2),
     r"input image \(T: 3 H: 6 W: 6\) smaller than kernel size"),
    (lambda t, nn, F: F.avg_pool3d(t.ones(1, 2, 3, 4, 4), 2, divisor_override=0),
     "divisor must be not zero"),
    (lambda t, nn, F: F.avg_pool3d(t.ones(1, 2, 3, 4, 4), (2, 2)),
     "avg_pool3d: kernel_size must be a single int, or a tuple of three ints"),
    (lambda t, nn, F: F.adaptive_avg_pool3d(t.ones(2, 4, 4), 2),
     r"adaptive_avg_pool3d\(\): Expected 4D or 5D tensor, but got \[2, 4, 4\]"),
    (lambda t, nn, F: F.adaptive_avg_pool3d(t.ones(1, 2, 0, 4, 4), 2),
     r"adaptive_avg_pool3d\(\): Expected input to have non-zero size for non-batch dimensions, "
     r"but input has sizes \[1, 2, 0, 4, 4\] with dimension 2 being empty"),
    (lambda t, nn, F: F.adaptive_avg_pool3d(t.ones(1, 2, 3, 4, 4), (2, 2)),
     "adaptive_avg_pool3d: output_size must be 3"),
    (lambda t, nn, F: F.adaptive_max_pool3d(t.ones(2, 4, 4), 2),
     r"adaptive_max_pool3d\(\): Expected 4D or 5D tensor, but got: \[2, 4, 4\]"),
    (lambda t, nn, F: F.adaptive_max_pool3d(t.ones(1, 2, 3, 0, 4), 2),
     r"adaptive_max_pool3d\(\): Expected input to have non-zero size for non-batch dimensions, "
     r"but input has sizes \[1, 2, 3, 0, 4\] with dimension 3 being empty"),
    (lambda t, nn, F: F.adaptive_max_pool3d(t.ones(1, 2, 3, 4, 4), (2, 2)),
     "output_size.size\\(\\) must be 3"),
    (lambda t, nn, F: F.max_unpool3d(t.ones(2, 2, 2), t.zeros(2, 2, 2, dtype=t.int64), 2),
     "Input to max_unpooling3d should be a 4d or 5d Tensor, but got a tensor with 3 "
     "dimensions."),
    (lambda t, nn, F: F.max_unpool3d(t.ones(1, 2, 2, 2, 2), t.zeros(1, 2, 2, 2, 2,
                                                                    dtype=t.int32), 2),
     "elements in indices should be type int64"),
    (lambda t, nn, F: F.max_unpool3d(t.ones(1, 2, 2, 2, 2), t.full((1, 2, 2, 2, 2), 64,
                                                                   dtype=t.int64), 2),
     r"Found an invalid max index: 64 \(output volumes are of size 4x4x4"),
    (lambda t, nn, F: F.max_unpool3d(t.ones(1, 2, 2, 2, 2), t.zeros(1, 2, 2, 2, 1,
                                                                    dtype=t.int64), 2),
     r"Expected shape of indices to be same as that of the input tensor \(\[1, 2, 2, 2, 2\]\) "
     r"but got indices tensor with shape: \[1, 2, 2, 2, 1\]"),
]


@pytest.mark.parametrize("call, pattern", POOL_ERRORS)
def test_pool3d_raises_like_torch(call, pattern):
    _raises_like_torch(call, RuntimeError, pattern)


def test_max_unpool3d_bad_output_size_raises_like_torch():
    _raises_like_torch(lambda t, nn, F: F.max_unpool3d(
        t.ones(1, 2, 2, 2, 2), t.zeros(1, 2, 2, 2, 2, dtype=t.int64), 2, output_size=(9, 4, 4)),
        ValueError, r"invalid output_size .* \(dim 0 must be between 2 and 6\)")


@pytest.mark.parametrize("x_shape, kwargs", [
    ((2, 3, 4, 6, 6), dict(kernel_size=2)),        # the default output size is the input's
    ((3, 5, 6, 7), dict(kernel_size=3, stride=2, padding=1)),
    ((1, 2, 5, 5, 4), dict(kernel_size=(2, 3, 2), stride=(2, 1, 2), padding=(1, 1, 0))),
])
@pytest.mark.parametrize("dtype", DTYPES)
def test_max_unpool3d_round_trip_matches_torch(x_shape, kwargs, dtype):
    """Values put back where max_pool3d found them; output_size as given or default;
    the gradient read back at the indices (overlapping windows too)."""
    torch = _torch()
    x = _distinct(x_shape, _rng("unpool3d", x_shape)).astype(dtype)
    y, i = F.max_pool3d(tkr.tensor(x), return_indices=True, **kwargs)
    ty, ti = torch.nn.functional.max_pool3d(torch.tensor(x), return_indices=True, **kwargs)
    unpool = {k: v for k, v in kwargs.items() if k in ("kernel_size", "stride", "padding")}
    for size in ((None,) if x_shape == (2, 3, 4, 6, 6) else ()) + (x_shape[-3:],):
        _check_against_torch(lambda v, **kw: F.max_unpool3d(v, i, **kw),
                             lambda v, **kw: torch.nn.functional.max_unpool3d(v, ti, **kw),
                             [ty.numpy()], dtype, output_size=size, **unpool)
    if "stride" not in kwargs and dtype == np.float64:   # windows apart: no index twice
        xg = _leaf(y.numpy()[:1, :2])
        assert gradcheck(lambda v: F.max_unpool3d(v, i[:1, :2], **unpool), (xg,))


# ============================================================= *_with_indices

def test_with_indices_functions_match_torch():
    torch = _torch()
    tf = torch.nn.functional
    x = _distinct((2, 3, 9, 8), _rng("with-indices"))
    cases = [
        ("max_pool1d_with_indices", x[:, :, 0], dict(kernel_size=3, stride=2, padding=1)),
        ("max_pool1d_with_indices", x[0, :, 0], dict(kernel_size=2, return_indices=False)),
        ("max_pool2d_with_indices", x, dict(kernel_size=(2, 3), stride=1, dilation=(2, 1),
                                            ceil_mode=True)),
        ("max_pool2d_with_indices", x[0], dict(kernel_size=2)),
        ("adaptive_max_pool1d_with_indices", x[:, :, 0], dict(output_size=5)),
        ("adaptive_max_pool2d_with_indices", x, dict(output_size=(4, 3))),
        ("max_pool3d_with_indices", x[None], dict(kernel_size=(1, 2, 2))),
        ("adaptive_max_pool3d_with_indices", x[None], dict(output_size=(1, 5, 3))),
    ]
    for name, a, kwargs in cases:
        for dtype in DTYPES:
            y = getattr(F, name)(tkr.tensor(a.astype(dtype)), **kwargs)
            ty = getattr(tf, name)(torch.tensor(a.astype(dtype)), **kwargs)
            assert isinstance(y, tuple) and len(y) == 2, name
            np.testing.assert_array_equal(y[0].numpy(), ty[0].numpy(), err_msg=name)
            np.testing.assert_array_equal(y[1].numpy(), ty[1].numpy(), err_msg=name)
        assert name in F.__all__


# ======================================================================= layers

LAYERS = [  # make(nn), input shape
    (lambda nn: nn.Conv3d(3, 4, 3), (2, 3, 5, 5, 4)),
    (lambda nn: nn.Conv3d(4, 6, (2, 3, 1), stride=(1, 2, 1), padding=(1, 0, 2), dilation=2,
                          groups=2, bias=False), (1, 4, 5, 6, 3)),
    (lambda nn: nn.Conv3d(2, 4, 3, padding="same", padding_mode="reflect"), (1, 2, 4, 5, 4)),
    (lambda nn: nn.Conv3d(2, 2, 2, padding=1, padding_mode="replicate"), (2, 3, 4, 3)),
    (lambda nn: nn.Conv3d(2, 4, (3, 2, 2), padding=(1, 1, 2), padding_mode="circular",
                          groups=2), (1, 2, 3, 4, 4)),
    (lambda nn: nn.ConvTranspose3d(3, 4, 3), (2, 3, 2, 3, 2)),
    (lambda nn: nn.ConvTranspose3d(4, 6, (3, 2, 2), stride=2, padding=1, output_padding=1,
                                   groups=2, bias=False, dilation=(2, 1, 1)), (1, 4, 3, 2, 3)),
    (lambda nn: nn.MaxPool3d(2), (2, 3, 4, 4, 5)),
    (lambda nn: nn.MaxPool3d((2, 3, 2), 1, 1, 1, True, True), (1, 2, 4, 5, 4)),
    (lambda nn: nn.AvgPool3d(2), (2, 4, 4, 5)),
    (lambda nn: nn.AvgPool3d((2, 2, 3), 1, 1, True, False, 3), (1, 2, 4, 4, 5)),
    (lambda nn: nn.AdaptiveAvgPool3d((2, None, 3)), (1, 2, 5, 4, 7)),
    (lambda nn: nn.AdaptiveMaxPool3d(2, True), (1, 2, 5, 4, 7)),
    (lambda nn: nn.LPPool3d(2, (2, 1, 2)), (1, 2, 4, 4, 4)),
    (lambda nn: nn.BatchNorm3d(3), (2, 3, 2, 3, 2)),
    (lambda nn: nn.BatchNorm3d(3, momentum=None, affine=False), (2, 3, 2, 3, 2)),
    (lambda nn: nn.InstanceNorm3d(3), (2, 3, 2, 3, 2)),
    (lambda nn: nn.InstanceNorm3d(3, affine=True, track_running_stats=True), (3, 2, 3, 2)),
    (lambda nn: nn.ZeroPad3d(1), (1, 2, 2, 3, 2)),
    (lambda nn: nn.ConstantPad3d((1, 2, 0, 1, 2, 0), 2.5), (2, 2, 3, 2)),
    (lambda nn: nn.ReflectionPad3d((1, 2, 0, 1, 2, 1)), (1, 2, 3, 3, 3)),
    (lambda nn: nn.ReplicationPad3d(2), (2, 2, 3, 2)),
    (lambda nn: nn.CircularPad3d((1, 2, 0, 1, 2, 1)), (1, 2, 3, 3, 3)),
]


@pytest.mark.parametrize("make, shape", LAYERS)
def test_layers_match_torch(make, shape):
    """Same repr and state_dict keys; same outputs, gradients and running
    statistics (torch's parameters copied in), in training and evaluation."""
    torch = _torch()
    theirs = make(torch.nn).double()
    ours = make(nn).double()
    assert as_torch_repr(ours, torch) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict({k: tkr.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
    for mode in ("train", "eval"):
        getattr(ours, mode)()
        getattr(theirs, mode)()
        x = _distinct(shape, _rng("layer", shape, mode))
        xo, xt = _leaf(x), torch.tensor(x, requires_grad=True)
        yo, yt = ours(xo), theirs(xt)
        if isinstance(yt, tuple):
            np.testing.assert_array_equal(yo[1].numpy(), yt[1].numpy())
            yo, yt = yo[0], yt[0]
        np.testing.assert_allclose(yo.detach().numpy(), yt.detach().numpy(), rtol=1e-10,
                                   atol=1e-12)
        gy = _rng("layer-gy", shape).standard_normal(tuple(yt.shape))
        yo.backward(tkr.tensor(gy))
        yt.backward(torch.tensor(gy))
        np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-12)
        for (_, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
            np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-10, atol=1e-12)
        for (k, a), (_, b) in zip(ours.state_dict().items(), theirs.state_dict().items()):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12, atol=1e-14, err_msg=k)


def test_conv_transpose3d_output_size_matches_torch():
    torch = _torch()
    theirs = torch.nn.ConvTranspose3d(2, 3, 3, stride=2, padding=1).double()
    ours = nn.ConvTranspose3d(2, 3, 3, stride=2, padding=1).double()
    ours.load_state_dict({k: tkr.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
    x = _rng("output-size").standard_normal((1, 2, 3, 4, 3))
    for size in [(5, 7, 5), (6, 8, 5), [1, 3, 6, 7, 6]]:
        yo, yt = ours(tkr.tensor(x), output_size=size), theirs(torch.tensor(x), output_size=size)
        np.testing.assert_allclose(yo.detach().numpy(), yt.detach().numpy(), rtol=1e-12,
                                   atol=1e-12)
    with pytest.raises(ValueError, match="requested an output size of"):
        ours(tkr.tensor(x), output_size=(8, 7, 5))


LAYER_ERRORS = [
    (lambda t, nn, F: nn.BatchNorm3d(3)(t.ones(3, 4, 4, 3)), r"expected 5D input \(got 4D input\)"),
    (lambda t, nn, F: nn.InstanceNorm3d(3)(t.ones(3, 4, 4)),
     r"expected 4D or 5D input \(got 3D input\)"),
    (lambda t, nn, F: nn.InstanceNorm3d(3, affine=True)(t.ones(1, 4, 2, 2, 2)),
     r"expected input's size at dim=1 to match num_features \(3\), but got: 4\."),
    (lambda t, nn, F: nn.LazyBatchNorm3d()(t.ones(2, 3, 4, 4)),
     r"expected 5D input \(got 4D input\)"),
    (lambda t, nn, F: nn.LazyConvTranspose3d(4, 3, groups=2)(t.ones(3, 4, 4, 4)),
     "in_channels must be divisible by groups"),
    (lambda t, nn, F: nn.ConvTranspose3d(3, 4, 3, padding_mode="reflect"),
     'Only "zeros" padding mode is supported for ConvTranspose3d'),
    (lambda t, nn, F: nn.Conv3d(3, 4, 3, padding="same", stride=2),
     "padding='same' is not supported for strided convolutions"),
]


@pytest.mark.parametrize("call, pattern", LAYER_ERRORS)
def test_layers_raise_like_torch(call, pattern):
    _raises_like_torch(call, ValueError, pattern)


def test_lazy_conv_wrong_rank_raises_like_torch():
    _raises_like_torch(lambda t, nn, F: nn.LazyConv3d(4, 2)(t.ones(2, 3, 4)), RuntimeError,
                       r"Expected 4D \(unbatched\) or 5D \(batched\) input to LazyConv3d, but got "
                       r"input of size: ")


@pytest.mark.parametrize("shape, pad, mode", [
    ((2, 3, 4, 4, 4), (1, 1, 1, 1, 1, 1), "reflect"),
    ((2, 3, 4, 3, 5), (1, 2, 0, 1, 2, 1), "replicate"),
    ((3, 4, 3, 5), (1, 2, 0, 1, 2, 1), "circular"),
    ((4, 4, 4), (1, 1, 1, 1, 1, 1), "reflect"),             # 3-D input, three dims: no
    ((2, 3, 4, 4, 4), (1, 1, 1, 1, 1, 1, 1, 1), "replicate"),
    ((1, 2, 3, 4, 4, 4), (1, 1, 1, 1, 1, 1), "circular"),
    ((4,), (1, 1), "reflect"),
    ((2, 3, 4, 4, 4), (4, 1, 1, 1, 1, 1), "reflect"),
    ((2, 3, 4, 4, 4), (5, 1, 1, 1, 1, 1), "circular"),
])
def test_pad_5d_and_its_errors_as_torch(shape, pad, mode):
    torch = _torch()
    x = _rng("pad", shape).standard_normal(shape)
    try:
        expected = torch.nn.functional.pad(torch.tensor(x), pad, mode).numpy()
    except (RuntimeError, NotImplementedError) as e:
        message = re.sub(r"^Argument #\d+: ", "", str(e))     # ATen's argument prefix
        with pytest.raises(type(e), match=re.escape(message[:45])):
            F.pad(tkr.tensor(x), pad, mode)
        return
    np.testing.assert_array_equal(F.pad(tkr.tensor(x), pad, mode).numpy(), expected)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular", "constant"])
def test_pad_5d_gradcheck(mode):
    x = _leaf(_rng("pad-gc", mode).standard_normal((1, 1, 2, 3, 2)))
    assert gradcheck(lambda t: F.pad(t, (1, 0, 0, 2, 1, 1), mode), (x,))


# ======================================================================= lazy layers

LAZY = [  # make(nn), input shape
    (lambda nn: nn.LazyConv1d(4, 3, stride=2), (2, 3, 9)),
    (lambda nn: nn.LazyConv1d(4, 3, groups=2), (4, 8)),                # unbatched
    (lambda nn: nn.LazyConv2d(4, 3, padding=1), (3, 5, 5)),
    (lambda nn: nn.LazyConv3d(4, 2, padding="same"), (2, 3, 4, 3, 4)),
    (lambda nn: nn.LazyConv3d(4, (2, 1, 2), groups=2, bias=False), (4, 3, 3, 3)),
    (lambda nn: nn.LazyConvTranspose1d(4, 3, stride=2), (2, 3, 5)),
    (lambda nn: nn.LazyConvTranspose2d(4, 3, groups=2, output_padding=1, stride=2), (2, 4, 3, 3)),
    (lambda nn: nn.LazyConvTranspose3d(2, 2, stride=2), (1, 3, 2, 3, 2)),
    (lambda nn: nn.LazyBatchNorm3d(), (2, 3, 2, 3, 2)),
    (lambda nn: nn.LazyInstanceNorm1d(), (2, 3, 5)),
    (lambda nn: nn.LazyInstanceNorm2d(affine=False), (2, 3, 4, 3)),
    (lambda nn: nn.LazyInstanceNorm3d(track_running_stats=False), (2, 3, 2, 3, 2)),
]


@pytest.mark.parametrize("make, shape", LAZY)
def test_lazy_layers_match_torch(make, shape):
    """Same repr before and after the first forward, the same class to become,
    the same parameter shapes and state_dict keys; same outputs once given
    torch's values."""
    torch = _torch()
    theirs, ours = make(torch.nn), make(nn)
    assert as_torch_repr(ours, torch) == repr(theirs)
    assert type(ours).__name__ == type(theirs).__name__
    x = _distinct(shape, _rng("lazy", shape))
    theirs(torch.tensor(x, dtype=torch.float32))
    ours(tkr.tensor(x, dtype=tkr.float32))
    assert type(ours).__name__ == type(theirs).__name__
    assert as_torch_repr(ours, torch) == repr(theirs)
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == \
        {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
    theirs, ours = theirs.double(), ours.double()
    ours.load_state_dict({k: tkr.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
    np.testing.assert_allclose(ours(tkr.tensor(x)).detach().numpy(),
                               theirs(torch.tensor(x)).detach().numpy(), rtol=1e-10, atol=1e-12)


def test_lazy_layers_load_a_checkpoint_before_the_first_forward():
    """load_state_dict gives the uninitialized parameters torch's shapes and values."""
    torch = _torch()
    for make, shape in [(lambda nn: nn.LazyConv3d(4, 2), (1, 3, 3, 3, 3)),
                        (lambda nn: nn.LazyConvTranspose3d(4, 2, groups=2), (1, 2, 2, 2, 2)),
                        (lambda nn: nn.LazyInstanceNorm3d(), (2, 3, 2, 2, 2))]:
        plain = make(torch.nn).double()
        x = _distinct(shape, _rng("lazy-load", shape))
        expected = plain(torch.tensor(x)).detach().numpy()
        ours = make(nn)
        ours.load_state_dict({k: tkr.tensor(v.numpy()) for k, v in plain.state_dict().items()})
        np.testing.assert_allclose(ours(tkr.tensor(x)).detach().numpy(), expected, rtol=1e-10,
                                   atol=1e-12)


def test_names_exported_where_torch_has_them():
    torch = _torch()
    for name in ["Conv3d", "ConvTranspose3d", "MaxPool3d", "AvgPool3d", "AdaptiveAvgPool3d",
                 "AdaptiveMaxPool3d", "MaxUnpool3d", "LPPool3d", "BatchNorm3d", "InstanceNorm3d",
                 "ZeroPad3d", "ConstantPad3d", "ReflectionPad3d", "ReplicationPad3d",
                 "CircularPad3d", "LazyConv1d", "LazyConv3d", "LazyConvTranspose1d",
                 "LazyConvTranspose2d", "LazyConvTranspose3d", "LazyBatchNorm3d",
                 "LazyInstanceNorm1d", "LazyInstanceNorm2d", "LazyInstanceNorm3d"]:
        assert hasattr(torch.nn, name) and name in nn.__all__ and hasattr(nn, name), name
    for name in ["conv3d", "conv_transpose3d", "max_pool3d", "avg_pool3d", "adaptive_avg_pool3d",
                 "adaptive_max_pool3d", "max_unpool3d", "lp_pool3d", "max_pool1d_with_indices",
                 "max_pool2d_with_indices", "max_pool3d_with_indices",
                 "adaptive_max_pool1d_with_indices", "adaptive_max_pool3d_with_indices"]:
        assert hasattr(torch.nn.functional, name) and name in F.__all__, name


# ======================================================================= training

def test_tiny_3d_cnn_trains_like_torch():
    """Conv3d / BatchNorm3d / MaxPool3d / ConvTranspose3d / AdaptiveAvgPool3d: three
    SGD steps from the same weights give the same losses, parameters and buffers."""
    torch = _torch()

    def make(nn):
        return nn.Sequential(nn.Conv3d(2, 4, 3, padding=1), nn.BatchNorm3d(4), nn.ReLU(),
                             nn.MaxPool3d(2), nn.ConvTranspose3d(4, 3, 2, stride=2),
                             nn.InstanceNorm3d(3, affine=True), nn.ReLU(),
                             nn.Conv3d(3, 4, (1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1),
                                       padding_mode="replicate"),
                             nn.AvgPool3d((1, 2, 2)), nn.AdaptiveAvgPool3d(1), nn.Flatten(),
                             nn.Linear(4, 3))
    theirs = make(torch.nn).double()
    ours = make(nn).double()
    ours.load_state_dict({k: tkr.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
    x = _rng("cnn").standard_normal((4, 2, 4, 8, 8))
    labels = np.array([0, 2, 1, 2])
    losses = {}
    for lib, model, F_ in ((tkr, ours, F), (torch, theirs, torch.nn.functional)):
        opt = (tkr.optim if lib is tkr else torch.optim).SGD(model.parameters(), lr=0.1,
                                                             momentum=0.9)
        for _ in range(3):
            opt.zero_grad()
            loss = F_.cross_entropy(model(lib.tensor(x)), lib.tensor(labels))
            loss.backward()
            opt.step()
            losses.setdefault(lib.__name__, []).append(float(loss.detach()))
    np.testing.assert_allclose(losses["tinygrad_kr"], losses["torch"], rtol=1e-10)
    for (k, p), (_, q) in zip(ours.state_dict().items(), theirs.state_dict().items()):
        np.testing.assert_allclose(p.numpy(), q.numpy(), rtol=1e-9, atol=1e-12, err_msg=k)
