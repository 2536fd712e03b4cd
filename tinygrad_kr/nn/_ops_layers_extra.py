"""Yet more of torch.nn.functional, composed of the core differentiable ops
(no Function of their own): local_response_norm, alpha_dropout,
feature_alpha_dropout, dropout3d, bilinear, channel_shuffle,
max_unpool1d/2d and lp_pool1d/2d.  Formulas, options and error messages are
PyTorch's (its functional.py, or ATen where noted).
"""
import math
import warnings

import numpy as np

from .. import dtypes as _dt
from .. import ops
from ..backend import get_array_module
from ..random import get_rng
from ..tensor import Tensor
from . import functional as F     # imported last by functional.py: pad is defined by then
from ._ops_conv_extra import avg_pool1d, max_pool1d
from ._ops_dense import _pair, avg_pool2d, max_pool2d
from ._ops_norm import _apply_dropout, _check_p

__all__ = ["local_response_norm", "alpha_dropout", "feature_alpha_dropout", "dropout3d",
           "bilinear", "channel_shuffle", "native_channel_shuffle", "max_unpool1d",
           "max_unpool2d", "lp_pool1d", "lp_pool2d"]


def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    """x / (k + alpha * mean of x^2 over ``size`` neighbouring channels)^beta
    on (N, C, ...) input; the window is zero-padded at the channel ends and
    divided by ``size`` there too, as PyTorch's."""
    dim = input.ndim
    if dim < 3:
        raise ValueError(f"Expected 3D or higher dimensionality                          input "
                         f"(got {dim} dimensions)")
    if input.numel() == 0:
        return input
    n, c = input.shape[:2]
    # channels as the rows of one plane per sample: the channel window is a
    # (size, 1) average pooling of the zero-padded squares
    div = ops.reshape(input * input, (n, 1, c, -1))
    div = F.pad(div, (0, 0, size // 2, (size - 1) // 2))
    div = ops.reshape(avg_pool2d(div, (size, 1), stride=1), input.shape)
    return input / (div * alpha + k) ** beta


# --------------------------------------------------------------------------
# dropouts
# --------------------------------------------------------------------------

# SELU's negative saturation value, -scale * alpha: what a dropped unit is set to
_ALPHA = 1.7580993408473766


def _alpha_dropout(input, p, training, inplace, feature):
    """ATen's _dropout_impl with alpha: kept units x * a + c, dropped ones
    -alpha' * a + c, with a and c chosen so that zero mean and unit variance
    (SELU's fixed point) are kept.  One draw per (n, c) channel if ``feature``."""
    _check_p(p)
    if p == 0 or not training or input.numel() == 0:
        return input
    if p == 1:
        out = input * 0.0     # PyTorch's: zeros, not the saturation value
    else:
        if feature and input.ndim < 2:
            raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
        shape = tuple(input.shape[:2]) + (1,) * (input.ndim - 2) if feature else \
            tuple(input.shape)
        keep = get_rng().random(shape) < 1.0 - p            # Bernoulli(1 - p), on the host
        xp = get_array_module(input.array)
        noise = xp.asarray(keep, dtype=input.dtype)
        a = 1.0 / math.sqrt((_ALPHA * _ALPHA * p + 1) * (1 - p))
        b = (noise - 1) * (_ALPHA * a) + _ALPHA * a * p      # PyTorch's order of operations
        out = input * Tensor(noise * a) + Tensor(b)
    if inplace:
        return F._inplace(input, out)
    return out


def alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Dropout for SELU networks: dropped units are set to SELU's negative
    saturation value and the result is scaled and shifted to keep zero mean
    and unit variance (training only)."""
    return _alpha_dropout(input, p, training, inplace, feature=False)


def feature_alpha_dropout(input, p=0.5, training=False, inplace=False):
    """alpha_dropout of whole channels: one draw per (n, c) of (N, C, ...) input."""
    return _alpha_dropout(input, p, training, inplace, feature=True)


def dropout3d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W) input with
    probability p and scale the rest by 1 / (1 - p) (training only)."""
    _check_p(p)
    ndim = input.ndim
    if ndim not in (4, 5):
        warnings.warn(f"dropout3d: Received a {ndim}-D input to dropout3d, which is deprecated "
                      f"and will result in an error in a future release. To retain the behavior "
                      f"and silence this warning, please use dropout instead. Note that dropout3d "
                      f"exists to provide channel-wise dropout on inputs with 3 spatial "
                      f"dimensions, a channel dimension, and an optional batch dimension (i.e. 4D "
                      f"or 5D inputs).", stacklevel=2)
    if ndim == 0 and training and 0 < p < 1:    # unsqueezed, it is still 1-D
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    # an input that is not 5-D is taken as one sample (PyTorch unsqueezes it):
    # a channel is everything after the first dimension
    channel = input.shape[2:] if ndim == 5 else input.shape[1:]
    return _apply_dropout(input, p, training, inplace, block=math.prod(channel) or 1)


# --------------------------------------------------------------------------
# bilinear, channel_shuffle
# --------------------------------------------------------------------------


def bilinear(input1, input2, weight, bias=None):
    """y[..., o] = x1[..., :] @ weight[o] @ x2[..., :] + bias[o]: input1
    (*, in1), input2 (*, in2), weight (out, in1, in2), bias (out,) or None."""
    tensors = [("input1", input1), ("input2", input2), ("weight", weight)]
    if bias is not None:
        tensors.append(("bias", bias))
    if len({t.dtype for _, t in tensors}) > 1:
        raise RuntimeError("All tensors must have the same dtype, got " + ", ".join(
            f"{name}: {ops._c_type_name(t.dtype)}" for name, t in tensors))
    if input1.ndim != input2.ndim:
        raise RuntimeError(f"bilinear(): input dimensions do not match: got {input1.ndim} and "
                           f"{input2.ndim}")
    for i in range(input1.ndim - 1):
        if input1.shape[i] != input2.shape[i]:
            raise RuntimeError(f"bilinear(): input batch dimensions do not match at dim {i}: got "
                               f"{input1.shape[i]} and {input2.shape[i]}")
    if weight.ndim != 3:
        raise IndexError(f"Dimension out of range (expected to be in range of [-{weight.ndim}, "
                         f"{weight.ndim - 1}], but got 2)")
    out_features, in1, in2 = weight.shape
    if input1.shape[-1] != in1:
        raise RuntimeError(f"bilinear(): input1 size does not match weight size: got "
                           f"{input1.shape[-1]} but expected {in1}")
    if input2.shape[-1] != in2:
        raise RuntimeError(f"bilinear(): input2 size does not match weight size: got "
                           f"{input2.shape[-1]} but expected {in2}")
    if bias is not None and (bias.ndim == 0 or bias.shape[0] != out_features):
        raise RuntimeError(f"bilinear(): bias size does not match weight size: got "
                           f"{bias.shape[0] if bias.ndim else 0} but expected {out_features}")
    lead = tuple(input1.shape[:-1])
    rows = math.prod(lead)
    x1 = ops.reshape(input1, (rows, in1))
    x2 = ops.reshape(input2, (rows, in2))
    # x1 W: one GEMM against the weight laid out as (in1, out * in2), then
    # the in2 products with x2 summed per output
    w = ops.reshape(ops.permute(weight, 1, 0, 2), (in1, out_features * in2))
    t = ops.reshape(ops.matmul(x1, w), (rows, out_features, in2))
    y = ops.sum(t * ops.unsqueeze(x2, 1), -1)
    if bias is not None:
        y = y + bias
    return ops.reshape(y, lead + (out_features,))


def channel_shuffle(input, groups):
    """(N, C, *) -> (N, C, *) with the channels of ``groups`` groups
    interleaved: channel g * (C / groups) + i goes to i * groups + g."""
    if input.ndim <= 2:
        raise RuntimeError(f"channel_shuffle expects input with > 2 dims, but got input with "
                           f"sizes {list(input.shape)}")
    if groups <= 0:
        raise RuntimeError(f"Number of groups to divide channels in must be positive. Value of "
                           f"groups:{groups}")
    n, c = input.shape[:2]
    if c % groups:
        raise RuntimeError(f"Number of channels must be divisible by groups. Got {c} channels "
                           f"and {groups} groups.")
    x = ops.reshape(input, (n, groups, c // groups, *input.shape[2:]))
    return ops.reshape(ops.transpose(x, 1, 2), input.shape)


native_channel_shuffle = channel_shuffle


# --------------------------------------------------------------------------
# max_unpool
# --------------------------------------------------------------------------


def _ints(value, n):
    """An int or a sequence of n ints (PyTorch's _single / _pair) as a tuple."""
    if isinstance(value, (int, np.integer)):
        return (int(value),) * n
    return tuple(int(v) for v in value)


def _unpool_output_size(input, kernel_size, stride, padding, output_size):
    """PyTorch's: (in - 1) * stride + kernel - 2 * padding per spatial
    dimension, or ``output_size`` (optionally with N, C first) if it lies
    strictly within a stride of that."""
    nd = len(kernel_size)
    default = [(input.shape[-nd + d] - 1) * stride[d] + kernel_size[d] - 2 * padding[d]
               for d in range(nd)]
    if output_size is None:
        ret = default
    else:
        if len(output_size) == nd + 2:
            output_size = output_size[2:]
        if len(output_size) != nd:
            raise ValueError(f"output_size should be a sequence containing {nd} or {nd + 2} "
                             f"elements, but it has a length of '{len(output_size)}'")
        for d in range(nd):
            min_size, max_size = default[d] - stride[d], default[d] + stride[d]
            if not min_size < output_size[d] < max_size:
                raise ValueError(f'invalid output_size "{output_size}" (dim {d} must be between '
                                 f'{min_size} and {max_size})')
        ret = output_size
    for d in range(nd):
        if ret[d] < 0:
            raise ValueError(f"max_unpooling: output_size must contain non-negative spatial "
                             f"dimensions, but got output_size[{d}]={ret[d]}")
    return [int(s) for s in ret]


def _max_unpool2d(input, indices, output_size):
    """ATen's max_unpool2d: each input value written at its flat index
    (h * W + w) in a zero (H, W) plane; the gradient is read back there.  An
    index given twice (overlapping pooling windows) keeps one value, and
    both read the gradient, as in PyTorch."""
    if input.ndim not in (3, 4):
        raise RuntimeError(f"Input to max_unpooling2d should be a 3d or 4d Tensor, but got a "
                           f"tensor with {input.ndim} dimensions.")
    if indices.dtype != np.int64:
        raise RuntimeError(f"elements in indices should be type int64 but got: "
                           f"{_dt.scalar_type_name(indices.dtype)}")
    if tuple(indices.shape) != tuple(input.shape):
        raise RuntimeError(f"Expected shape of indices to be same as that of the input tensor "
                           f"({list(input.shape)}) but got indices tensor with shape: "
                           f"{list(indices.shape)}")
    oh, ow = output_size
    idx = indices.array
    bad = (idx < 0) | (idx >= oh * ow)
    if oh * ow and bool(bad.any()):
        raise RuntimeError(f"Found an invalid max index: {int(idx[bad][0])} (output volumes are "
                           f"of size {oh}x{ow})")
    planes = tuple(input.shape[:-2])
    n_planes = math.prod(planes)
    xp = get_array_module(idx)
    # one flat index into all planes (built on the indices' device)
    where = idx.reshape(n_planes, math.prod(idx.shape[-2:])) + \
        xp.arange(n_planes, dtype=np.int64)[:, None] * (oh * ow)
    out = Tensor(xp.zeros(n_planes * oh * ow, dtype=input.dtype))
    out = ops.scatter(out, 0, Tensor(where.reshape(-1)), ops.reshape(input, (-1,)))
    return ops.reshape(out, planes + (oh, ow))


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The partial inverse of max_pool2d: (N, C, H, W) or (C, H, W) values
    put back at the positions ``indices`` (max_pool2d's return_indices) of a
    zero output of ``output_size`` (default (H - 1) * stride - 2 * padding +
    kernel_size)."""
    kernel_size = _ints(kernel_size, 2)
    stride = _ints(stride, 2) if stride is not None else kernel_size
    padding = _ints(padding, 2)
    size = _unpool_output_size(input, kernel_size, stride, padding, output_size)
    return _max_unpool2d(input, indices, size)


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """max_unpool2d along L of (N, C, L) or (C, L) input (as PyTorch: a 2-D
    unpooling with a trailing width of 1)."""
    kernel_size = _ints(kernel_size, 1)
    stride = _ints(stride, 1) if stride is not None else kernel_size
    padding = _ints(padding, 1)
    size = _unpool_output_size(input, kernel_size, stride, padding, output_size) + [1]
    y = _max_unpool2d(ops.unsqueeze(input, -1), ops.unsqueeze(indices, -1), size)
    return ops.squeeze(y, -1)


# --------------------------------------------------------------------------
# lp_pool
# --------------------------------------------------------------------------


def _lp_from_mean(out, window, norm_type):
    """(window * mean(x^p))^(1/p), the sign-and-relu guard as PyTorch writes it."""
    return ((ops.sign(out) * ops.relu(ops.abs(out))) * window) ** (1.0 / norm_type)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """(sum over each window of x^p)^(1/p); p = inf is max pooling of |x|."""
    kh, kw = _pair(kernel_size, "kernel_size", "lp_pool2d")
    if norm_type == math.inf:
        return max_pool2d(ops.abs(input), kernel_size, stride, 0, 1, ceil_mode)
    if norm_type == -math.inf:
        return -max_pool2d(-ops.abs(input), kernel_size, stride, 0, 1, ceil_mode)
    out = avg_pool2d(input ** norm_type, kernel_size, stride, 0, ceil_mode)
    return _lp_from_mean(out, kh * kw, norm_type)


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """(sum over each window of x^p)^(1/p) along L; p = inf is max pooling of |x|."""
    if norm_type == math.inf:
        return max_pool1d(ops.abs(input), kernel_size, stride, 0, 1, ceil_mode)
    if norm_type == -math.inf:
        return -max_pool1d(-ops.abs(input), kernel_size, stride, 0, 1, ceil_mode)
    out = avg_pool1d(input ** norm_type, kernel_size, stride, 0, ceil_mode)
    return _lp_from_mean(out, _ints(kernel_size, 1)[0], norm_type)
