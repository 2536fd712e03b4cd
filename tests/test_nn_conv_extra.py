"""conv1d, 1-D pooling, transposed convolutions and interpolate
(nn/_ops_conv_extra.py) and their layers: float64 gradchecks, values and
gradients against PyTorch in float32 and float64, PyTorch's errors and reprs."""

import numpy as np
import pytest

import tinygrad_kr as tkr
import tinygrad_kr.nn as nn
import tinygrad_kr.nn.functional as F
from tinygrad_kr.autograd import gradcheck, gradgradcheck
from cases import (check_against_torch as _check_against_torch, distinct as _distinct,
                   leaf as _leaf, rng_for as _rng, torch_one_thread as _torch)


DTYPES = [np.float32, np.float64]


def _raises_like_torch(ours, theirs, exc, message):
    """Both libraries raise ``exc``; ours with ``message`` (a regex)."""
    torch = _torch()
    with pytest.raises(exc, match=message):
        ours(tkr, nn, F)
    with pytest.raises(exc):
        theirs(torch, torch.nn, torch.nn.functional)


# ======================================================================= conv1d

CONV1D = [  # x shape, w shape, kwargs
    ((2, 3, 9), (4, 3, 3), {}),
    ((2, 3, 9), (4, 3, 3), dict(stride=2, padding=1)),
    ((1, 2, 10), (3, 2, 2), dict(padding="same", dilation=3)),
    ((1, 2, 10), (3, 2, 4), dict(padding="same")),
    ((2, 4, 8), (6, 2, 3), dict(groups=2, dilation=2, padding="valid")),
    ((3, 7), (5, 3, 3), dict(stride=(3,), padding=(2,))),          # unbatched
]


@pytest.mark.parametrize("x_shape, w_shape, kwargs", CONV1D)
@pytest.mark.parametrize("with_bias", [True, False])
def test_conv1d_gradcheck(x_shape, w_shape, kwargs, with_bias):
    rng = _rng("conv1d", x_shape, w_shape, with_bias)
    inputs = [_leaf(rng.standard_normal(x_shape)), _leaf(rng.standard_normal(w_shape))]
    if with_bias:
        inputs.append(_leaf(rng.standard_normal(w_shape[0])))
    assert gradcheck(lambda *a: F.conv1d(*a, **kwargs), inputs)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("x_shape, w_shape, kwargs", CONV1D)
@pytest.mark.parametrize("dtype", DTYPES)
def test_conv1d_matches_torch(x_shape, w_shape, kwargs, dtype):
    torch = _torch()
    rng = _rng("conv1d-torch", x_shape, w_shape)
    arrays = [rng.standard_normal(x_shape), rng.standard_normal(w_shape),
              rng.standard_normal(w_shape[0])]
    _check_against_torch(F.conv1d, torch.nn.functional.conv1d, arrays, dtype, **kwargs)


CONV1D_ERRORS = [
    (lambda t, nn, F: F.conv1d(t.ones(3), t.ones(4, 3, 3)), r"Expected 2D \(unbatched\)"),
    (lambda t, nn, F: F.conv1d(t.ones(2, 3, 8), t.ones(4, 2, 3)),
     r"expected input\[2, 3, 8\] to have 2 channels"),
    (lambda t, nn, F: F.conv1d(t.ones(2, 3, 8), t.ones(4, 3, 9)),
     r"padded input size per channel: \(8\)\. Kernel size: \(9\)"),
    (lambda t, nn, F: F.conv1d(t.ones(2, 3, 8), t.ones(4, 3, 3, 3)),
     r"Expected 4-dimensional input for 4-dimensional weight"),
    (lambda t, nn, F: F.conv1d(t.ones(2, 3, 8), t.ones(4, 3, 3), stride=0), "non-positive stride"),
    (lambda t, nn, F: F.conv1d(t.ones(2, 3, 8), t.ones(4, 3, 3), padding=-1), "negative padding"),
    (lambda t, nn, F: F.conv1d(t.ones(2, 3, 8), t.ones(4, 3, 3), padding="same", stride=2),
     "strided"),
    (lambda t, nn, F: F.conv1d(t.ones(2, 3, 8), t.ones(4, 3, 3), stride=(1, 2)),
     r"stride to be a single integer value or a list of 1 values"),
    (lambda t, nn, F: F.conv1d(t.ones(2, 3, 8), t.ones(4, 3, 3, dtype=t.float64)),
     "should be the same|expected scalar type"),
    (lambda t, nn, F: F.conv1d(t.ones(2, 3, 8), t.ones(4, 3, 3), t.ones(5)),
     "bias to be 1-dimensional with 4 elements"),
    (lambda t, nn, F: F.conv1d(t.ones(2, 3, 8), t.ones(4, 1, 3), groups=3), "divisible by 3"),
    (lambda t, nn, F: F.conv1d(t.ones(2, 3, 8), t.ones(4, 1, 3), groups=0), "non-positive groups"),
]


@pytest.mark.parametrize("call, message", CONV1D_ERRORS)
def test_conv1d_raises_like_torch(call, message):
    _raises_like_torch(call, call, RuntimeError, message)


# ======================================================================= 1-D pooling

POOL1D = [  # x shape, kwargs
    ((2, 3, 9), dict(kernel_size=2)),
    ((2, 3, 9), dict(kernel_size=3, stride=2, padding=1)),
    ((2, 3, 10), dict(kernel_size=3, stride=2, ceil_mode=True)),
    ((3, 11), dict(kernel_size=(2,), stride=(3,), padding=(1,), ceil_mode=True)),   # unbatched
]


@pytest.mark.parametrize("x_shape, kwargs", POOL1D + [((2, 2, 12), dict(kernel_size=3,
                                                                        dilation=2, padding=1))])
def test_max_pool1d_gradcheck(x_shape, kwargs):
    x = _leaf(_distinct(x_shape, _rng("maxpool1d", x_shape)))
    assert gradcheck(lambda x: F.max_pool1d(x, **kwargs), (x,))


@pytest.mark.parametrize("x_shape, kwargs", POOL1D)
@pytest.mark.parametrize("count_include_pad", [True, False])
def test_avg_pool1d_gradcheck(x_shape, kwargs, count_include_pad):
    x = _leaf(_rng("avgpool1d", x_shape).standard_normal(x_shape))
    assert gradcheck(lambda x: F.avg_pool1d(x, count_include_pad=count_include_pad, **kwargs),
                     (x,))


@pytest.mark.parametrize("x_shape, kwargs", POOL1D + [((2, 2, 12), dict(kernel_size=3,
                                                                        dilation=2, padding=1))])
@pytest.mark.parametrize("return_indices", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool1d_matches_torch(x_shape, kwargs, return_indices, dtype):
    torch = _torch()
    x = _distinct(x_shape, _rng("maxpool1d-torch", x_shape))
    _check_against_torch(F.max_pool1d, torch.nn.functional.max_pool1d, [x], dtype,
                         return_indices=return_indices, **kwargs)


@pytest.mark.parametrize("x_shape, kwargs", POOL1D)
@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("dtype", DTYPES)
def test_avg_pool1d_matches_torch(x_shape, kwargs, count_include_pad, dtype):
    torch = _torch()
    x = _rng("avgpool1d-torch", x_shape).standard_normal(x_shape)
    _check_against_torch(F.avg_pool1d, torch.nn.functional.avg_pool1d, [x], dtype,
                         count_include_pad=count_include_pad, **kwargs)


POOL1D_ERRORS = [
    (lambda t, nn, F: F.max_pool1d(t.ones(3), 2), "Expected 2D or 3D"),
    (lambda t, nn, F: F.max_pool1d(t.ones(2, 3, 8), 2, padding=2),
     "padding should be at most half of kernel size"),
    (lambda t, nn, F: F.max_pool1d(t.ones(2, 3, 8), 10), "Invalid computed output size: 0"),
    (lambda t, nn, F: F.max_pool1d(t.ones(2, 3, 8), (2, 2)), "tuple of ints of size 1"),
    (lambda t, nn, F: F.max_pool1d(t.ones(2, 3, 8), 0), "kernel_size must be greater than zero"),
    (lambda t, nn, F: F.avg_pool1d(t.ones(3), 2), "Expected 2 to 3 dimensions"),
    (lambda t, nn, F: F.avg_pool1d(t.ones(2, 3, 8), 2, padding=2),
     "pad should be at most half of effective kernel size"),
    (lambda t, nn, F: F.avg_pool1d(t.ones(2, 3, 8), 10),
     r"Given input size: \(3x1x8\)\. Calculated output size: \(3x1x0\)"),
]


@pytest.mark.parametrize("call, message", POOL1D_ERRORS)
def test_pool1d_raises_like_torch(call, message):
    _raises_like_torch(call, call, RuntimeError, message)


# ======================================================================= conv_transpose

CONVT2D = [  # x shape, w shape, kwargs
    ((2, 3, 4, 5), (3, 2, 3, 3), {}),
    ((2, 3, 4, 5), (3, 2, 3, 2), dict(stride=2, padding=1, output_padding=1)),
    ((1, 4, 3, 3), (4, 3, 2, 3), dict(stride=(2, 3), groups=2, output_padding=(1, 2))),
    ((1, 2, 4, 4), (2, 2, 3, 3), dict(dilation=2, padding=2, output_padding=1)),  # op < dilation
    ((2, 3, 4), (2, 4, 3, 3), dict(stride=3, padding=(0, 1), output_padding=(2, 0))),  # unbatched
]


@pytest.mark.parametrize("x_shape, w_shape, kwargs", CONVT2D)
@pytest.mark.parametrize("with_bias", [True, False])
def test_conv_transpose2d_gradcheck(x_shape, w_shape, kwargs, with_bias):
    rng = _rng("convt2d", x_shape, w_shape, with_bias)
    inputs = [_leaf(rng.standard_normal(x_shape)), _leaf(rng.standard_normal(w_shape))]
    if with_bias:
        inputs.append(_leaf(rng.standard_normal(w_shape[1] * kwargs.get("groups", 1))))
    assert gradcheck(lambda *a: F.conv_transpose2d(*a, **kwargs), inputs)


@pytest.mark.parametrize("x_shape, w_shape, kwargs", CONVT2D)
@pytest.mark.parametrize("dtype", DTYPES)
def test_conv_transpose2d_matches_torch(x_shape, w_shape, kwargs, dtype):
    torch = _torch()
    rng = _rng("convt2d-torch", x_shape, w_shape)
    arrays = [rng.standard_normal(x_shape), rng.standard_normal(w_shape),
              rng.standard_normal(w_shape[1] * kwargs.get("groups", 1))]
    _check_against_torch(F.conv_transpose2d, torch.nn.functional.conv_transpose2d, arrays, dtype,
                         **kwargs)


CONVT1D = [
    ((2, 3, 5), (3, 2, 3), {}),
    ((2, 4, 5), (4, 3, 2), dict(stride=2, padding=1, output_padding=1, groups=2, dilation=2)),
    ((3, 6), (3, 2, 4), dict(stride=(3,), output_padding=(2,))),
]


@pytest.mark.parametrize("x_shape, w_shape, kwargs", CONVT1D)
def test_conv_transpose1d_gradcheck(x_shape, w_shape, kwargs):
    rng = _rng("convt1d", x_shape, w_shape)
    inputs = [_leaf(rng.standard_normal(x_shape)), _leaf(rng.standard_normal(w_shape)),
              _leaf(rng.standard_normal(w_shape[1] * kwargs.get("groups", 1)))]
    assert gradcheck(lambda *a: F.conv_transpose1d(*a, **kwargs), inputs)


@pytest.mark.parametrize("x_shape, w_shape, kwargs", CONVT1D)
@pytest.mark.parametrize("dtype", DTYPES)
def test_conv_transpose1d_matches_torch(x_shape, w_shape, kwargs, dtype):
    torch = _torch()
    rng = _rng("convt1d-torch", x_shape, w_shape)
    arrays = [rng.standard_normal(x_shape), rng.standard_normal(w_shape),
              rng.standard_normal(w_shape[1] * kwargs.get("groups", 1))]
    _check_against_torch(F.conv_transpose1d, torch.nn.functional.conv_transpose1d, arrays, dtype,
                         **kwargs)


def test_conv_transpose2d_grad_of_one_input():
    """(create_graph through it: test_double_backward_conv.py)"""
    rng = _rng("convt-one")
    x, w = _leaf(rng.standard_normal((1, 2, 3, 3))), tkr.tensor(rng.standard_normal((2, 2, 3, 3)))
    F.conv_transpose2d(x, w).sum().backward()
    assert x.grad is not None and w.grad is None


x4 = (1, 3, 4, 4)
CONVT_ERRORS = [
    (lambda t, nn, F: F.conv_transpose2d(t.ones(*x4), t.ones(3, 2, 3, 3), output_padding=1),
     r"output padding must be smaller than either stride or dilation, but got "
     r"output_padding_height: 1 output_padding_width: 1 stride_height: 1 stride_width: 1 "
     r"dilation_height: 1 dilation_width: 1"),
    (lambda t, nn, F: F.conv_transpose2d(t.ones(*x4), t.ones(3, 2, 3, 3), padding=4),
     r"Given input size per channel: \(4 x 4\)\. Calculated output size per channel: "
     r"\(-2 x -2\)\. Output size is too small"),
    (lambda t, nn, F: F.conv_transpose2d(t.ones(*x4), t.ones(2, 2, 3, 3)),
     r"Given transposed=1, weight of size \[2, 2, 3, 3\], expected input\[1, 3, 4, 4\] to have "
     r"2 channels, but got 3 channels instead"),
    (lambda t, nn, F: F.conv_transpose2d(t.ones(*x4), t.ones(3, 2, 3, 3), groups=2),
     r"expected weight to be divisible by 2"),
    (lambda t, nn, F: F.conv_transpose2d(t.ones(*x4), t.ones(3, 2, 3, 3), t.ones(3)),
     r"expected bias to be 1-dimensional with 2 elements"),
    (lambda t, nn, F: F.conv_transpose2d(t.ones(4), t.ones(3, 2, 3, 3)),
     r"Expected 3D \(unbatched\) or 4D \(batched\) input to conv_transpose2d"),
    (lambda t, nn, F: F.conv_transpose2d(t.ones(*x4), t.ones(3, 2, 3, 3), stride=0),
     "non-positive stride"),
    (lambda t, nn, F: F.conv_transpose2d(t.ones(*x4), t.ones(3, 2, 3, 3), padding=-1),
     "negative padding"),
    (lambda t, nn, F: F.conv_transpose2d(t.ones(*x4), t.ones(3, 2, 3, 3, dtype=t.float64)),
     "expected scalar type Float but found Double"),
    (lambda t, nn, F: F.conv_transpose1d(t.ones(1, 3, 4), t.ones(3, 2, 3), padding=4),
     r"Given input size per channel: \(4\)\. Calculated output size per channel: \(-2\)"),
]


@pytest.mark.parametrize("call, message", CONVT_ERRORS)
def test_conv_transpose_raises_like_torch(call, message):
    _raises_like_torch(call, call, RuntimeError, message)


def test_conv_transpose_padding_string_raises_like_torch():
    def call(t, nn, F):
        return nn.ConvTranspose2d(3, 4, 3, padding="same")(t.ones(1, 3, 4, 4))
    _raises_like_torch(call, call, TypeError, "argument 'padding' must be tuple of ints")


@pytest.mark.parametrize("call, message", [
    (lambda t, nn, F: nn.ConvTranspose2d(3, 4, 3, padding_mode="reflect"),
     'Only "zeros" padding mode is supported for ConvTranspose2d'),
    (lambda t, nn, F: nn.ConvTranspose2d(3, 4, 3, groups=2), "in_channels must be divisible"),
    (lambda t, nn, F: nn.ConvTranspose2d(4, 3, 3, groups=2), "out_channels must be divisible"),
    (lambda t, nn, F: nn.ConvTranspose2d(2, 3, 3, stride=2)(t.ones(1, 2, 4, 4),
                                                            output_size=(11, 9)),
     r"requested an output size of \[11, 9\], but valid sizes range from \[9, 9\] to \[10, 10\]"),
    (lambda t, nn, F: nn.ConvTranspose2d(2, 3, 3)(t.ones(1, 2, 4, 4), output_size=(1, 2, 3)),
     "output_size must have 2 or 4 elements"),
])
def test_conv_transpose_layer_raises_like_torch(call, message):
    _raises_like_torch(call, call, ValueError, message)


# ======================================================================= interpolate

INTERP = [  # x shape, kwargs
    ((2, 3, 4, 5), dict(scale_factor=2)),
    ((2, 3, 4, 5), dict(scale_factor=(1.7, 0.6))),
    ((1, 2, 5, 7), dict(size=(3, 11))),
    ((1, 2, 6, 3), dict(size=4)),
    ((1, 1, 3, 3), dict(scale_factor=3.3)),
    ((1, 2, 5, 4), dict(size=(5, 9))),      # one dimension unchanged
    ((1, 1, 1, 4), dict(size=(1, 1))),
]
MODES_4D = [dict(mode="nearest"), dict(mode="bilinear"),
            dict(mode="bilinear", align_corners=True), dict(mode="bilinear", align_corners=False),
            dict(mode="bicubic"), dict(mode="bicubic", align_corners=True),
            dict(mode="nearest-exact"), dict(mode="area")]


@pytest.mark.parametrize("x_shape, kwargs", INTERP)
@pytest.mark.parametrize("mode", MODES_4D)
@pytest.mark.parametrize("dtype", DTYPES)
def test_interpolate_matches_torch(x_shape, kwargs, mode, dtype):
    torch = _torch()
    x = _rng("interp", x_shape).standard_normal(x_shape)
    _check_against_torch(F.interpolate, torch.nn.functional.interpolate, [x], dtype,
                         **kwargs, **mode)


@pytest.mark.parametrize("x_shape, kwargs", [((2, 3, 5), dict(scale_factor=2)),
                                             ((1, 2, 7), dict(size=3)),
                                             ((1, 2, 4), dict(scale_factor=2.6))])
@pytest.mark.parametrize("mode", [dict(mode="nearest"), dict(mode="linear"),
                                  dict(mode="linear", align_corners=True),
                                  dict(mode="nearest-exact"), dict(mode="area")])
@pytest.mark.parametrize("dtype", DTYPES)
def test_interpolate_1d_matches_torch(x_shape, kwargs, mode, dtype):
    torch = _torch()
    x = _rng("interp1d", x_shape).standard_normal(x_shape)
    _check_against_torch(F.interpolate, torch.nn.functional.interpolate, [x], dtype,
                         **kwargs, **mode)


@pytest.mark.parametrize("recompute", [None, True, False])
def test_interpolate_recompute_scale_factor_matches_torch(recompute):
    torch = _torch()
    x = _rng("recompute").standard_normal((1, 2, 5, 7))
    for mode in ("nearest", "bilinear"):
        _check_against_torch(F.interpolate, torch.nn.functional.interpolate, [x], np.float64,
                             scale_factor=(1.3, 2.55), mode=mode,
                             recompute_scale_factor=recompute)


def test_nearest_matches_torch_where_float32_index_rounding_matters():
    """PyTorch computes the nearest source index in float32 (floor(dst * s));
    sizes whose exact ratios land on integers show the difference."""
    torch = _torch()
    for n_in in range(1, 30):
        for n_out in range(1, 40):
            x = np.arange(n_in, dtype=np.float32).reshape(1, 1, 1, n_in)
            ours = F.interpolate(tkr.tensor(x), size=(1, n_out)).numpy()
            theirs = torch.nn.functional.interpolate(torch.tensor(x), size=(1, n_out)).numpy()
            np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("scale", [1.0, 1.1, 2.0, 2.1, 0.5, 3.0])
@pytest.mark.parametrize("ndim", [3, 4])
def test_nearest_with_a_scale_factor_matches_torch(scale, ndim):
    """PyTorch's 2-D nearest kernel copies or halves the index when the output
    is the same size or twice it, whatever the scale factor; its 1-D kernel
    does not (scale 1.1 on 5 samples: 0 0 1 2 3)."""
    torch = _torch()
    x = np.arange(20, dtype=np.float32).reshape((1, 1, 4, 5) if ndim == 4 else (1, 4, 5))
    t = tkr.tensor(x, requires_grad=True)
    ours = F.interpolate(t, scale_factor=scale)
    tt = torch.tensor(x, requires_grad=True)
    theirs = torch.nn.functional.interpolate(tt, scale_factor=scale)
    np.testing.assert_array_equal(ours.detach().numpy(), theirs.detach().numpy())
    if ndim == 4:
        (ours * ours).sum().backward()
        (theirs * theirs).sum().backward()
        np.testing.assert_allclose(t.grad.numpy(), tt.grad.numpy())
    # PyTorch 2.13's 1-D nearest backward takes the shortcuts its forward does
    # not (its gradient for scale 1.1 misses x[1], which the output uses):
    # ours is checked against finite differences instead
    x64 = tkr.tensor(x.astype(np.float64), requires_grad=True)
    assert gradcheck(lambda v: F.interpolate(v, scale_factor=scale), (x64,))


@pytest.mark.parametrize("kwargs", [dict(scale_factor=2, mode="nearest"),
                                    dict(size=(3, 7), mode="bilinear"),
                                    dict(size=(5, 2), mode="bilinear", align_corners=True)])
def test_interpolate_gradcheck(kwargs):
    x = _leaf(_rng("interp-gc").standard_normal((2, 2, 4, 3)))
    assert gradcheck(lambda x: F.interpolate(x, **kwargs), (x,))
    assert gradgradcheck(lambda x: F.interpolate(x, **kwargs) ** 2, (x,))


INTERP_ERRORS = [
    (lambda t, nn, F: F.interpolate(t.ones(1, 3, 4, 4)), ValueError,
     "either size or scale_factor should be defined"),
    (lambda t, nn, F: F.interpolate(t.ones(1, 3, 4, 4), size=3, scale_factor=2), ValueError,
     "only one of size or scale_factor should be defined"),
    (lambda t, nn, F: F.interpolate(t.ones(1, 3, 4, 4), size=3, align_corners=True), ValueError,
     "align_corners option can only be set with the interpolating modes"),
    (lambda t, nn, F: F.interpolate(t.ones(1, 3, 4), size=3, mode="bilinear"),
     NotImplementedError, "Got 3D input, but bilinear mode needs 4D input"),
    (lambda t, nn, F: F.interpolate(t.ones(1, 3, 4, 4), size=3, mode="linear"),
     NotImplementedError, "Got 4D input, but linear mode needs 3D input"),
    (lambda t, nn, F: F.interpolate(t.ones(1, 3, 4), size=3, mode="bicubic"),
     NotImplementedError, "Got 3D input, but bicubic mode needs 4D input"),
    (lambda t, nn, F: F.interpolate(t.ones(1, 3, 4), size=3, mode="area", align_corners=False),
     ValueError, "align_corners option can only be set with the interpolating modes"),
    (lambda t, nn, F: F.interpolate(t.ones(1, 3, 4, 4), size=(3, 3, 3)), ValueError,
     "Input and output must have the same number of spatial dimensions"),
    (lambda t, nn, F: F.interpolate(t.ones(1, 3, 4, 4), scale_factor=(2, 2, 2)), ValueError,
     "Input and scale_factor must have the same number of spatial dimensions"),
    (lambda t, nn, F: F.interpolate(t.ones(1, 3, 4, 4), size=3, mode="foo"), NotImplementedError,
     r"Only 3D, 4D and 5D input Tensors supported \(got 4D\)"),
    (lambda t, nn, F: F.interpolate(t.ones(1, 3, 4, 4), size=0), RuntimeError,
     r"Input and output sizes should be greater than 0, but got input \(H: 4, W: 4\) output "
     r"\(H: 0, W: 0\)"),
    (lambda t, nn, F: F.interpolate(t.ones(1, 3, 4, 4), scale_factor=0.1), RuntimeError,
     "Input and output sizes should be greater than 0"),
    (lambda t, nn, F: F.interpolate(t.ones(1, 3, 4, 4), size=3, recompute_scale_factor=True),
     ValueError, "recompute_scale_factor is not meaningful with an explicit size"),
]


@pytest.mark.parametrize("call, exc, message", INTERP_ERRORS)
def test_interpolate_raises_like_torch(call, exc, message):
    _raises_like_torch(call, call, exc, message)


def test_upsample_aliases_warn_as_torch():
    x = tkr.ones(1, 1, 2, 2)
    with pytest.warns(UserWarning, match="upsample` is deprecated"):
        assert F.upsample(x, scale_factor=2).shape == (1, 1, 4, 4)
    with pytest.warns(UserWarning, match="upsample_bilinear` is deprecated"):
        assert F.upsample_bilinear(x, size=3).shape == (1, 1, 3, 3)


# ======================================================================= layers

LAYERS = [  # make(nn), input shape
    (lambda nn: nn.Conv1d(3, 4, 3), (2, 3, 9)),
    (lambda nn: nn.Conv1d(3, 4, 3, stride=2, padding=1, dilation=2, bias=False,
                          padding_mode="reflect"), (2, 3, 9)),
    (lambda nn: nn.Conv1d(3, 6, 4, padding="same", groups=3, padding_mode="circular"), (3, 8)),
    (lambda nn: nn.Conv1d(2, 2, 3, padding="valid", padding_mode="replicate"), (1, 2, 6)),
    (lambda nn: nn.MaxPool1d(2), (2, 3, 9)),
    (lambda nn: nn.MaxPool1d(3, 1, 1, 2, False, True), (2, 3, 9)),
    (lambda nn: nn.AvgPool1d(2), (3, 9)),
    (lambda nn: nn.AvgPool1d(3, 1, 1, True, False), (2, 3, 9)),
    (lambda nn: nn.ConvTranspose2d(3, 4, 3), (2, 3, 4, 4)),
    (lambda nn: nn.ConvTranspose2d(4, 6, (3, 2), stride=2, padding=1, output_padding=1,
                                   groups=2, bias=False, dilation=2), (1, 4, 3, 5)),
    (lambda nn: nn.ConvTranspose1d(3, 4, 3, stride=2, output_padding=1), (2, 3, 5)),
    (lambda nn: nn.Upsample(scale_factor=2), (1, 2, 3, 3)),
    (lambda nn: nn.Upsample(size=(4, 5), mode="bilinear", align_corners=True), (1, 2, 3, 3)),
    (lambda nn: nn.Upsample(scale_factor=(2, 1.5), mode="bilinear"), (1, 2, 3, 4)),
    (lambda nn: nn.Upsample(scale_factor=2, mode="linear"), (1, 2, 3)),
    (lambda nn: nn.UpsamplingNearest2d(scale_factor=2), (1, 2, 3, 3)),
    (lambda nn: nn.UpsamplingBilinear2d(size=5), (1, 2, 3, 3)),
]


@pytest.mark.parametrize("make, shape", LAYERS)
def test_layers_match_torch(make, shape):
    """Same repr, same outputs and gradients (torch's weights copied in)."""
    torch = _torch()
    theirs = make(torch.nn).double()
    ours = make(nn).double()
    assert repr(ours) == repr(theirs)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    for (_, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert tuple(p.shape) == tuple(q.shape)
        p.data.copy_(tkr.tensor(q.detach().numpy()))
    x = _rng("layer", shape).standard_normal(shape)
    xo, xt = _leaf(x), torch.tensor(x, requires_grad=True)
    yo, yt = ours(xo), theirs(xt)
    if isinstance(yt, tuple):
        np.testing.assert_array_equal(yo[1].numpy(), yt[1].numpy())
        yo, yt = yo[0], yt[0]
    np.testing.assert_allclose(yo.detach().numpy(), yt.detach().numpy(), rtol=1e-12, atol=1e-12)
    gy = _rng("layer-gy", shape).standard_normal(tuple(yt.shape))
    yo.backward(tkr.tensor(gy))
    yt.backward(torch.tensor(gy))
    np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), rtol=1e-12, atol=1e-12)
    for (_, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_conv_transpose2d_output_size_matches_torch():
    torch = _torch()
    theirs = torch.nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1).double()
    ours = nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1).double()
    ours.load_state_dict({k: tkr.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
    x = _rng("output-size").standard_normal((1, 2, 4, 4))
    for size in [(7, 7), (8, 7), [1, 3, 8, 8]]:
        yo, yt = ours(tkr.tensor(x), output_size=size), theirs(torch.tensor(x), output_size=size)
        np.testing.assert_allclose(yo.detach().numpy(), yt.detach().numpy(), rtol=1e-12,
                                   atol=1e-12)


def test_layer_default_init_has_torch_bounds():
    """kaiming_uniform(a=sqrt(5)): bound 1/sqrt(fan_in), fan_in from weight.shape[1:]
    (C_out/groups * k for a transposed layer)."""
    tkr.manual_seed(0)
    for layer, fan_in in [(nn.Conv1d(4, 8, 5), 4 * 5),
                          (nn.ConvTranspose2d(4, 6, 3, groups=2), 3 * 9)]:
        bound = 1 / np.sqrt(fan_in)
        assert np.abs(layer.weight.detach().numpy()).max() <= bound
        assert np.abs(layer.bias.detach().numpy()).max() <= bound
        assert np.abs(layer.weight.detach().numpy()).max() > bound * 0.7


def test_names_exported_where_torch_has_them():
    torch = _torch()
    for name in ["Conv1d", "ConvTranspose1d", "ConvTranspose2d", "MaxPool1d", "AvgPool1d",
                 "Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d"]:
        assert hasattr(torch.nn, name) and name in nn.__all__ and hasattr(nn, name)
    for name in ["conv1d", "conv_transpose1d", "conv_transpose2d", "max_pool1d", "avg_pool1d",
                 "interpolate", "upsample", "upsample_nearest", "upsample_bilinear"]:
        assert hasattr(torch.nn.functional, name) and name in F.__all__


def test_lenet_style_autoencoder_trains_like_torch():
    """A small conv / transposed-conv / upsample model: one SGD step equal to PyTorch's."""
    torch = _torch()

    def make(nn):
        return nn.Sequential(nn.Conv1d(2, 4, 3, padding=1), nn.ReLU(), nn.MaxPool1d(2),
                             nn.Unflatten(2, (1, 4)), nn.ConvTranspose2d(4, 3, 2, stride=2),
                             nn.Upsample(scale_factor=2, mode="bilinear"),
                             nn.Conv2d(3, 1, 3, padding="same"))
    theirs = make(torch.nn).double()
    ours = make(nn).double()
    ours.load_state_dict({k: tkr.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
    x = _rng("ae").standard_normal((2, 2, 8))
    target = _rng("ae-t").standard_normal((2, 1, 4, 16))
    for lib, model, t in ((tkr, ours, tkr.tensor), (torch, theirs, torch.tensor)):
        opt = (tkr.optim if lib is tkr else torch.optim).SGD(model.parameters(), lr=0.1)
        loss = ((model(t(x)) - t(target)) ** 2).mean()
        loss.backward()
        opt.step()
    for (k, p), (_, q) in zip(ours.state_dict().items(), theirs.state_dict().items()):
        np.testing.assert_allclose(p.numpy(), q.numpy(), rtol=1e-10, atol=1e-12, err_msg=k)


def test_interpolate_nearest_copies_inf_and_nan_and_uint8_as_torch():
    torch = _torch()
    x = np.array([[[[np.inf, 1.0, -2.0], [np.nan, -np.inf, 3.0]]]], dtype=np.float32)
    for kwargs in (dict(scale_factor=2), dict(size=(3, 7)), dict(scale_factor=(1.5, 0.7))):
        ours = F.interpolate(tkr.tensor(x), **kwargs).numpy()
        np.testing.assert_array_equal(ours, torch.nn.functional.interpolate(torch.tensor(x),
                                                                            **kwargs).numpy())
    img = np.arange(24, dtype=np.uint8).reshape(1, 2, 3, 4)
    ours = F.interpolate(tkr.tensor(img), size=(5, 7))
    assert ours.dtype == tkr.uint8
    np.testing.assert_array_equal(ours.numpy(), torch.nn.functional.interpolate(
        torch.tensor(img), size=(5, 7)).numpy())


@pytest.mark.parametrize("size", [1, 3, 4, 7, (5,)])
@pytest.mark.parametrize("kind", ["avg", "max"])
def test_adaptive_pool1d_matches_torch(kind, size):
    torch = _torch()
    x = _rng("adaptive1d", kind).standard_normal((2, 3, 9))
    name = f"adaptive_{kind}_pool1d"
    _check_against_torch(getattr(F, name), getattr(torch.nn.functional, name), [x], np.float64,
                         output_size=size)
    module = f"Adaptive{kind.capitalize()}Pool1d"
    ours, theirs = getattr(nn, module)(size), getattr(torch.nn, module)(size)
    assert repr(ours) == repr(theirs)
    np.testing.assert_allclose(ours(tkr.tensor(x[0])).numpy(), theirs(torch.tensor(x[0])).numpy())
    if kind == "max":
        y, idx = F.adaptive_max_pool1d(tkr.tensor(x), size, return_indices=True)
        ty, tidx = torch.nn.functional.adaptive_max_pool1d(torch.tensor(x), size,
                                                           return_indices=True)
        np.testing.assert_array_equal(idx.numpy(), tidx.numpy())
    with pytest.raises(RuntimeError, match="Expected 2D or 3D"):
        getattr(F, name)(tkr.zeros(2, 3, 4, 5), 2)


@pytest.mark.parametrize("mode", ["nearest", "nearest-exact"])
@pytest.mark.parametrize("ndim", [3, 4])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint8])
def test_nearest_source_indices_match_torch_bit_for_bit(mode, ndim, dtype):
    """PyTorch computes the nearest index in float32 in its 2-D kernel, and in
    the input's type (a fused multiply-add) in its generic 1-D kernel: every
    size pair and a few scale factors pick the same source element."""
    torch = _torch()
    for n in range(1, 40):
        x = np.arange(n).astype(dtype)
        x = x.reshape((1, 1, n) if ndim == 3 else (1, 1, 1, n))
        for kwargs in [dict(size=o if ndim == 3 else (1, o)) for o in range(1, 80, 3)] + \
                [dict(scale_factor=s) for s in (0.7, 1.3, 2.0000001, 2 / 3)
                 if int(n * s) >= 1 and ndim == 3]:
            ours = F.interpolate(tkr.tensor(x), mode=mode, **kwargs).numpy()
            theirs = torch.nn.functional.interpolate(torch.tensor(x), mode=mode, **kwargs)
            np.testing.assert_array_equal(ours, theirs.numpy(), err_msg=f"{n} {kwargs}")


def test_interpolate_empty_batches_and_outputs_as_torch():
    torch = _torch()
    for mode in ("bilinear", "nearest", "bicubic"):        # no rows at all: empty gradients
        x = tkr.zeros(0, 3, 4, 5, dtype=tkr.float64, requires_grad=True)
        y = F.interpolate(x, size=(7, 3), mode=mode)
        y.sum().backward()
        assert tuple(y.shape) == (0, 3, 7, 3) and tuple(x.grad.shape) == (0, 3, 4, 5)
    # 'area' is adaptive average pooling: an empty output is allowed, as in PyTorch
    ours = F.interpolate(tkr.ones(1, 1, 1, 5), scale_factor=0.5, mode="area")
    theirs = torch.nn.functional.interpolate(torch.ones(1, 1, 1, 5), scale_factor=0.5,
                                             mode="area")
    assert tuple(ours.shape) == tuple(theirs.shape) == (1, 1, 0, 2)
    with pytest.raises(RuntimeError, match="non-zero size for non-batch dimensions"):
        F.adaptive_avg_pool1d(tkr.zeros(2, 3, 0), 2)
    with pytest.raises(TypeError, match="output_size"):
        F.adaptive_avg_pool1d(tkr.zeros(2, 3, 4), None)
