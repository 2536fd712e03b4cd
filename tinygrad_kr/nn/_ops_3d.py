"""conv3d, conv_transpose3d and 3-D pooling, built on the compiled 2-D ops.

Forward, backward and kernel are three hops apart:
  * conv3d: the depth axis is unfolded into channels, then ONE conv2d runs
    (nn/_ops_dense.py Conv2d -> kernels.conv2d_*, csrc/conv.pyx).  Row
    (n, od) of the unfolded input holds, for every depth tap kd, the depth
    slice x[:, :, od * stride + kd * dilation - padding] (zeros outside the
    volume), channels ordered (group, kd, c); the weight (O, C/g, kD, kH, kW)
    is laid out the same way as (O, kD * C/g, kH, kW).  So the 2-D kernel
    does the whole 3-D sum in one GEMM per image chunk (K = kD kH kW C/g, as
    a direct 3-D im2col would), and the gradients and double backward come
    from Conv2d's and from DepthUnfold's, which is a copy: its adjoint
    DepthFold adds each tap's slices back in place.  The unfold and the
    final transpose cost ~6 % of the forward; the rest is the 2-D kernel.
    Measured on one thread (N=2, C 8 -> 16, 16^3, k=3, padding 1) against
    PyTorch 2.13: forward + backward 0.9-1.0x PyTorch's time in float32,
    0.3x in float64; the forward alone 1.6-1.8x (oneDNN's).  kD separate
    2-D convolutions summed, the other way to build it, ran the forward's
    kernels in the same time, with three times the calls and nodes.
  * conv_transpose3d: the other way round: one conv_transpose2d
    (_ops_conv_extra.py ConvTranspose2d) gives every depth tap's (H, W)
    output per input depth slice, and DepthFold adds them at depth
    d * stride + kd * dilation - padding.
  * max/avg/adaptive pooling in 3-D: a box window is the product of a depth
    window and an (h, w) window, so each pooling is the 2-D one over the
    (h, w) of every depth slice, then the 2-D one along depth (a (k, 1)
    window on the (D, Ho * Wo) planes).  Both run the compiled pool kernels
    (csrc/pool.pyx), and both are differentiable to any order.  For max
    pooling the iteration order of PyTorch's kernel (first maximum in
    (d, h, w) order, a NaN always taken) is kept: the depth stage picks the
    first slice holding the maximum, the (h, w) stage its first position.
    The flat index d * H * W + h * W + w is put together from the two.
  * max_unpool3d, lp_pool3d: compositions (a scatter of core ops; an
    average pooling of x^p), as their 2-D versions in _ops_layers_extra.py.

The wrappers raise PyTorch's errors (same wording, checked in the order
ATen checks) before any kernel runs.
"""
import math

import numpy as np

from .. import ops
from ..autograd.function import Function
from ..backend import get_array_module
from ..tensor import Tensor
from ._ops_conv_extra import ConvTranspose2d, _check_conv, _ntuple, _sizes, _transposed_args
from ._ops_dense import (Conv2d, _dtype_name, adaptive_avg_pool2d, adaptive_max_pool2d,
                         avg_pool2d, max_pool2d)
from ._ops_layers_extra import _lp_from_mean, _max_unpool2d, _unpool_output_size

__all__ = ["conv3d", "conv_transpose3d", "max_pool3d", "max_pool3d_with_indices", "avg_pool3d",
           "adaptive_avg_pool3d", "adaptive_max_pool3d", "adaptive_max_pool3d_with_indices",
           "max_unpool3d", "lp_pool3d"]


# --------------------------------------------------------------------------
# depth unfolding: the one new op of the 3-D convolutions
# --------------------------------------------------------------------------


def _depth_taps(depth, positions, kernel, stride, padding, dilation):
    """For each tap kd: (kd, first, stop, start) where outputs od in
    [first, stop) read depth od * stride + kd * dilation - padding, which lies
    in [0, depth) exactly for them; ``start`` is the first one's depth."""
    taps = []
    for kd in range(kernel):
        offset = kd * dilation - padding
        first = max(0, -(offset // stride))                       # ceil(-offset / stride)
        stop = min(positions, (depth - 1 - offset) // stride + 1) if depth - 1 >= offset else 0
        if stop > first:
            taps.append((kd, first, stop, first * stride + offset))
    return taps


class DepthUnfold(Function):
    """x (N, C, D, H, W) -> (N * P, G * k * C/G, H, W): row n * P + p holds, in
    channel (g, kd, c), x[n, g * C/G + c, p * stride + kd * dilation - padding]
    (zero where that depth is outside [0, D)); P = ``positions``."""

    def forward(self, x, *, kernel, stride, padding, dilation, groups, positions):
        self.geometry = (kernel, stride, padding, dilation, groups, positions)
        self.depth = x.shape[2]
        return _unfold(get_array_module(x), x, self.depth, *self.geometry)

    def backward(self, xp, gy):
        if self._graph_mode:
            return DepthFold.apply(gy, depth=self.depth, **_geometry_kwargs(self.geometry))
        return _fold(xp, gy, self.depth, *self.geometry)


class DepthFold(Function):
    """The adjoint of DepthUnfold: g (N * P, G * k * C/G, H, W) ->
    (N, C, ``depth``, H, W), each row's taps added at their depths (outside
    [0, depth) dropped)."""

    def forward(self, g, *, depth, kernel, stride, padding, dilation, groups, positions):
        self.geometry = (kernel, stride, padding, dilation, groups, positions)
        self.depth = depth
        return _fold(get_array_module(g), g, depth, *self.geometry)

    def backward(self, xp, ggx):
        if self._graph_mode:
            return DepthUnfold.apply(ggx, **_geometry_kwargs(self.geometry))
        return _unfold(xp, ggx, self.depth, *self.geometry)


def _geometry_kwargs(geometry):
    return dict(zip(("kernel", "stride", "padding", "dilation", "groups", "positions"), geometry))


def _unfold(xp, x, depth, kernel, stride, padding, dilation, groups, positions):
    N, C, _, H, W = x.shape
    cg = C // groups
    taps = _depth_taps(depth, positions, kernel, stride, padding, dilation)
    covered = len(taps) == kernel and all(t[1] == 0 and t[2] == positions for t in taps)
    out = (xp.empty if covered else xp.zeros)((N, positions, groups, kernel, cg, H, W),
                                              dtype=x.dtype)
    xg = x.reshape(N, groups, cg, depth, H, W)
    for kd, first, stop, start in taps:
        source = xg[:, :, :, start:start + (stop - first - 1) * stride + 1:stride]
        out[:, first:stop, :, kd] = source.transpose(0, 3, 1, 2, 4, 5)
    return out.reshape(N * positions, groups * kernel * cg, H, W)


def _fold(xp, g, depth, kernel, stride, padding, dilation, groups, positions):
    H, W = g.shape[2:]
    N = g.shape[0] // positions
    cg = g.shape[1] // (groups * kernel)
    rows = g.reshape(N, positions, groups, kernel, cg, H, W)
    out = xp.zeros((N, groups, cg, depth, H, W), dtype=g.dtype)
    for kd, first, stop, start in _depth_taps(depth, positions, kernel, stride, padding,
                                              dilation):
        out[:, :, :, start:start + (stop - first - 1) * stride + 1:stride] += \
            rows[:, first:stop, :, kd].transpose(0, 2, 3, 1, 4, 5)
    return out.reshape(N, groups * cg, depth, H, W)


# --------------------------------------------------------------------------
# conv3d, conv_transpose3d
# --------------------------------------------------------------------------


def _check_conv3d_dtypes(input, weight, bias):
    """PyTorch's messages for mixed dtypes (checked before the shapes)."""
    if input.dtype != weight.dtype:
        names = {np.dtype(np.float32): "torch.FloatTensor", np.dtype(np.float64):
                 "torch.DoubleTensor"}
        raise RuntimeError(f"Input type ({names.get(np.dtype(input.dtype), input.dtype)}) and "
                           f"weight type ({names.get(np.dtype(weight.dtype), weight.dtype)}) "
                           f"should be the same or input should be a MKLDNN tensor and weight "
                           f"is a dense tensor")
    if bias is not None and bias.dtype != input.dtype:
        raise RuntimeError(f"Input type ({_dtype_name(input.dtype)}) and bias type "
                           f"({_dtype_name(bias.dtype)}) should be the same")


def _same_padding3d(kernel, dilation):
    """PyTorch's 'same': d (k - 1) in total per dimension, the odd one at the end."""
    total = [d * (k - 1) for d, k in zip(dilation, kernel)]
    padding = tuple(t // 2 for t in total)
    return padding, tuple(t - 2 * p for t, p in zip(total, padding))


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """3-D convolution (cross-correlation) with PyTorch's signature.

    input (N, C, D, H, W) or unbatched (C, D, H, W); weight
    (O, C/groups, kD, kH, kW); bias (O,) or None; padding an int, a triple,
    'valid' or 'same'.  Output (N, O, D_out, H_out, W_out) with
    D_out = (D + 2 padding - dilation (kD - 1) - 1) // stride + 1."""
    fn = "conv3d"
    stride = _ntuple(stride, 3, "stride", fn)
    dilation = _ntuple(dilation, 3, "dilation", fn)
    extra = (0, 0, 0)
    if isinstance(padding, str):
        if padding not in ("valid", "same"):
            raise RuntimeError(f"Invalid padding string: {padding!r}")
        if padding == "same" and stride != (1, 1, 1):
            raise RuntimeError("padding='same' is not supported for strided convolutions")
        pad = (0, 0, 0)
    else:
        pad = _ntuple(padding, 3, "padding", fn)
    if min(dilation) < 1:
        raise RuntimeError("non-positive dilation is not supported")
    if input.ndim in (4, 5) and weight.ndim == 5:
        _check_conv3d_dtypes(input, weight, bias)
    _check_conv(input, weight, bias, stride, pad, dilation, groups, fn, 3)
    if padding == "same":
        pad, extra = _same_padding3d(weight.shape[2:], dilation)
    sizes = tuple(input.shape[-3:])
    padded = tuple(n + 2 * p + e for n, p, e in zip(sizes, pad, extra))
    extent = tuple(d * (k - 1) + 1 for d, k in zip(dilation, weight.shape[2:]))
    if any(p < e for p, e in zip(padded, extent)):
        raise RuntimeError(f"Calculated padded input size per channel: {_sizes(padded)}. Kernel "
                           f"size: {_sizes(extent)}. Kernel size can't be greater than actual "
                           f"input size")
    batched = input.ndim == 5
    x = input if batched else ops.unsqueeze(input, 0)
    N = x.shape[0]
    O, cg, kd, kh, kw = weight.shape
    positions = (padded[0] - extent[0]) // stride[0] + 1
    rows = DepthUnfold.apply(x, kernel=kd, stride=stride[0], padding=pad[0],
                             dilation=dilation[0], groups=int(groups), positions=positions)
    w2 = ops.reshape(ops.permute(weight, 0, 2, 1, 3, 4), (O, kd * cg, kh, kw))
    y = Conv2d.apply(rows, w2, bias, stride=stride[1:], padding=pad[1:], dilation=dilation[1:],
                     groups=int(groups), extra=extra[1:])
    y = ops.reshape(y, (N, positions, O) + tuple(y.shape[2:]))
    y = ops.permute(y, 0, 2, 1, 3, 4).contiguous()
    return y if batched else ops.squeeze(y, 0)


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """Transposed 3-D convolution with PyTorch's signature.

    input (N, C_in, D, H, W) or (C_in, D, H, W); weight
    (C_in, C_out/groups, kD, kH, kW); bias (C_out,) or None.
    D_out = (D - 1) stride - 2 padding + dilation (kD - 1) + output_padding + 1."""
    if input.ndim in (4, 5) and weight.ndim == 5:
        _check_conv3d_dtypes(input, weight, bias)
    stride, padding, output_padding, dilation = _transposed_args(
        input, weight, bias, stride, padding, output_padding, groups, dilation,
        "conv_transpose3d", 3)
    batched = input.ndim == 5
    x = input if batched else ops.unsqueeze(input, 0)
    N, C, D, H, W = x.shape
    _, cog, kd, kh, kw = weight.shape
    G = int(groups)
    depth = (D - 1) * stride[0] - 2 * padding[0] + dilation[0] * (kd - 1) + output_padding[0] + 1
    # every depth slice through the 2-D transposed convolution at once, the
    # weight's depth taps as extra output channels (group, kd, c_out)
    x2 = ops.reshape(ops.permute(x, 0, 2, 1, 3, 4), (N * D, C, H, W))
    w2 = ops.reshape(ops.permute(weight, 0, 2, 1, 3, 4), (C, kd * cog, kh, kw))
    z = ConvTranspose2d.apply(x2, w2, None, stride=stride[1:], padding=padding[1:],
                              dilation=dilation[1:], output_padding=output_padding[1:],
                              groups=G)
    y = DepthFold.apply(z, depth=depth, kernel=kd, stride=stride[0], padding=padding[0],
                        dilation=dilation[0], groups=G, positions=D)
    if bias is not None:
        y = y + ops.reshape(bias, (-1, 1, 1, 1))
    return y if batched else ops.squeeze(y, 0)


# --------------------------------------------------------------------------
# pooling: argument checks in ATen's order and words
# --------------------------------------------------------------------------


def _pool_triple(value, name, fn, what):
    """An int or a 1-/3-sequence as a triple; ``what`` is PyTorch's wording."""
    if isinstance(value, (int, np.integer)):
        return (int(value),) * 3
    value = tuple(value)
    if len(value) not in (1, 3):
        raise RuntimeError(f"{fn}: {name} {what}")
    return tuple(int(v) for v in (value * 3 if len(value) == 1 else value))


def _pool_stride(stride, kernel, fn, what):
    """The pooling stride: the kernel size when omitted (None, or ATen's ())."""
    if stride is None or (not isinstance(stride, (int, np.integer)) and len(stride) == 0):
        return kernel
    return _pool_triple(stride, "stride", fn, what)

def _pooling_output_shape(size, k, pad, stride, dilation, ceil_mode):
    """ATen's pooling_output_shape, with its checks."""
    if stride == 0:
        raise RuntimeError("stride should not be zero")
    if pad < 0:
        raise RuntimeError(f"pad must be non-negative, but got pad: {pad}")
    if pad > ((k - 1) * dilation + 1) // 2:
        raise RuntimeError(f"pad should be at most half of effective kernel size, but got "
                           f"pad={pad}, kernel_size={k} and dilation={dilation}")
    out = (size + 2 * pad - dilation * (k - 1) - 1 + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1
    return out


def _pool3d_shape_check(input, k, s, p, d, out, fn, check_input_size=False):
    """ATen's pool3d_shape_check."""
    if min(k) <= 0:
        raise RuntimeError(f"kernel size should be greater than zero, but got kT: {k[0]} kH: "
                           f"{k[1]} kW: {k[2]}")
    if min(s) <= 0:
        raise RuntimeError(f"stride should be greater than zero, but got dT: {s[0]} dH: {s[1]} "
                           f"dW: {s[2]}")
    if min(d) <= 0:
        raise RuntimeError(f"dilation should be greater than zero, but got dilationT: {d[0]} "
                           f"dilationH: {d[1]} dilationW: {d[2]}")
    shape = list(input.shape)
    for i, n in enumerate(shape):
        if n <= 0 and not (len(shape) == 5 and i == 0):
            raise RuntimeError(f"{fn}: Expected input's non-batch dimensions to have positive "
                               f"length, but input has a shape of {shape} and non-batch "
                               f"dimension {n} has length zero!")
    T, H, W = shape[-3:]
    if check_input_size and (T < k[0] or H < k[1] or W < k[2]):
        raise RuntimeError(f"input image (T: {T} H: {H} W: {W}) smaller than kernel size (kT: "
                           f"{k[0]} kH: {k[1]} kW: {k[2]})")
    if k[0] // 2 < p[0] or k[2] // 2 < p[2] or k[1] // 2 < p[1]:
        raise RuntimeError(f"pad should be smaller than or equal to half of kernel size, but got "
                           f"kT: {k[0]} kW: {k[2]} kH: {k[1]} padT: {p[0]} padW: {p[2]} padH: "
                           f"{p[1]}")
    if min(out) < 1:
        planes = shape[-4]
        raise RuntimeError(f"Given input size: ({planes}x{T}x{H}x{W}). Calculated output size: "
                           f"({planes}x{out[0]}x{out[1]}x{out[2]}). Output size is too small")


def _check_pool3d_input(input):
    if input.ndim not in (4, 5):
        raise RuntimeError("non-empty 4D or 5D (batch mode) tensor expected for input")
    if input.dtype not in (np.float32, np.float64):
        raise RuntimeError(f"3-D pooling: only float32 and float64 inputs are supported by "
                           f"tinygrad_kr, got {input.dtype}")


def _as_5d(input):
    return input if input.ndim == 5 else ops.unsqueeze(input, 0)


def _planes(x):
    """(N, C, D, H, W) as (N, C * D, H, W): every depth slice a plane of the 2-D op."""
    N, C, D, H, W = x.shape
    return ops.reshape(x, (N, C * D, H, W))


def _depth_planes(t, C, D):
    """The 2-D op's (N, C * D, Ho, Wo) result as (N, C, D, Ho * Wo): depth as rows."""
    N, _, Ho, Wo = t.shape
    return ops.reshape(t, (N, C, D, Ho * Wo))


def _flat_indices(hw_indices, d_indices, D, H, W, out):
    """PyTorch's flat index d * H * W + h * W + w of each 3-D window's argmax,
    from the (h, w) stage's (N, C * D, Ho, Wo) indices and the depth stage's
    (N, C, Do, Ho * Wo) ones (flat d * Ho * Wo + j on its planes)."""
    xp = get_array_module(d_indices)
    N, C, Do, HWo = d_indices.shape
    depth = d_indices // HWo
    hw = xp.take_along_axis(hw_indices.reshape(N, C, D, HWo), depth, axis=2)
    return (depth * (H * W) + hw).reshape((N, C) + tuple(out))


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Max pooling over (N, C, D, H, W) or (C, D, H, W); with return_indices
    also the int64 argmax, flat d * H * W + h * W + w per (n, c) volume."""
    fn = "max_pool3d"
    k = _pool_triple(kernel_size, "kernel_size", fn, "must either be a single int, or a tuple "
                                                     "of three ints")
    s = _pool_stride(stride, k, fn, "must either be omitted, a single int, or a tuple of three "
                                    "ints")
    p = _pool_triple(padding, "padding", fn, "must either be a single int, or a tuple of three "
                                             "ints")
    d = _pool_triple(dilation, "dilation", fn, "must be either a single int, or a tuple of three "
                                               "ints")
    _check_pool3d_input(input)
    out = tuple(_pooling_output_shape(n, *args, ceil_mode)
                for n, args in zip(input.shape[-3:], zip(k, p, s, d)))
    _pool3d_shape_check(input, k, s, p, d, out, "max_pool3d_with_indices()")
    x = _as_5d(input)
    N, C, D, H, W = x.shape
    t, hw_indices = max_pool2d(_planes(x), k[1:], s[1:], p[1:], d[1:], ceil_mode, True)
    y, d_indices = max_pool2d(_depth_planes(t, C, D), (k[0], 1), (s[0], 1), (p[0], 0),
                              (d[0], 1), ceil_mode, True)
    y = ops.reshape(y, (N, C) + out)
    if input.ndim == 4:
        y = ops.squeeze(y, 0)
    if not return_indices:
        return y
    indices = _flat_indices(hw_indices.array, d_indices.array, D, H, W, out)
    return y, Tensor(indices if input.ndim == 5 else indices[0])


def max_pool3d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=False):
    """max_pool3d's values and int64 argmax indices, always both (PyTorch's)."""
    return max_pool3d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """Average pooling over (N, C, D, H, W) or (C, D, H, W) with PyTorch's
    divisor rules (they are products of per-dimension counts, so the two
    stages divide each by its own; divisor_override divides the box sum)."""
    fn = "avg_pool3d"
    k = _pool_triple(kernel_size, "kernel_size", fn, "must be a single int, or a tuple of three "
                                                     "ints")
    s = _pool_stride(stride, k, fn, "must be omitted, a single int, or a tuple of three ints")
    p = _pool_triple(padding, "padding", fn, "must be a single int, or a tuple of three ints")
    _check_pool3d_input(input)
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("divisor must be not zero")
    out = tuple(_pooling_output_shape(n, *args, 1, ceil_mode)
                for n, args in zip(input.shape[-3:], zip(k, p, s)))
    _pool3d_shape_check(input, k, s, p, (1, 1, 1), out, "avg_pool3d()", check_input_size=True)
    x = _as_5d(input)
    N, C, D = x.shape[:3]
    sums = 1 if divisor_override is not None else None    # each stage sums, one division
    t = avg_pool2d(_planes(x), k[1:], s[1:], p[1:], ceil_mode, count_include_pad, sums)
    y = avg_pool2d(_depth_planes(t, C, D), (k[0], 1), (s[0], 1), (p[0], 0), ceil_mode,
                   count_include_pad, sums)
    if divisor_override is not None:
        y = y / divisor_override
    y = ops.reshape(y, (N, C) + out)
    return y if input.ndim == 5 else ops.squeeze(y, 0)


def _adaptive3d_size(input, output_size, fn, wording):
    """(oD, oH, oW) for an adaptive 3-D pooling, None = keep the input's size."""
    if isinstance(output_size, (int, np.integer)) or output_size is None:
        output_size = (output_size,) * 3
    size = tuple(output_size)
    if len(size) != 3:
        raise RuntimeError(wording)
    shape = list(input.shape)
    if input.ndim not in (4, 5):
        raise RuntimeError(f"{fn}(): Expected 4D or 5D tensor, but got{':' if 'max' in fn else ''}"
                           f" {shape}")
    for i in range(1, input.ndim):
        if shape[i] == 0:
            raise RuntimeError(f"{fn}(): Expected input to have non-zero size for non-batch "
                               f"dimensions, but input has sizes {shape} with dimension {i} "
                               f"being empty")
    if input.dtype not in (np.float32, np.float64):
        raise RuntimeError(f"{fn}: only float32 and float64 inputs are supported by "
                           f"tinygrad_kr, got {input.dtype}")
    out = tuple(n if o is None else int(o) for n, o in zip(shape[-3:], size))
    if min(out) < 0:
        raise RuntimeError(f"{fn}: elements of output_size must be greater than or equal to 0 "
                           f"but received {list(out)}")
    return out


def _empty_like_pooled(input, out):
    """The empty result of pooling ``input`` to ``out`` (a size 0 among them),
    still in the graph as PyTorch's is (its gradient is zeros)."""
    shape = tuple(input.shape[:-3]) + tuple(out)
    nothing = ops.reshape(ops.sum(input) * 0, (1,) * len(shape))
    return ops.broadcast_to(nothing, shape)


def adaptive_avg_pool3d(input, output_size):
    """Average pooling of (N, C, D, H, W) or (C, D, H, W) to ``output_size``
    (an int, or a triple with None = keep), over PyTorch's adaptive windows."""
    out = _adaptive3d_size(input, output_size, "adaptive_avg_pool3d",
                           "adaptive_avg_pool3d: output_size must be 3")
    if 0 in out:
        return _empty_like_pooled(input, out)
    x = _as_5d(input)
    N, C, D = x.shape[:3]
    t = adaptive_avg_pool2d(_planes(x), out[1:])
    y = adaptive_avg_pool2d(_depth_planes(t, C, D), (out[0], out[1] * out[2]))
    y = ops.reshape(y, (N, C) + out)
    return y if input.ndim == 5 else ops.squeeze(y, 0)


def adaptive_max_pool3d(input, output_size, return_indices=False):
    """Max pooling of (N, C, D, H, W) or (C, D, H, W) to ``output_size``;
    with return_indices also the int64 argmax (flat d * H * W + h * W + w)."""
    out = _adaptive3d_size(input, output_size, "adaptive_max_pool3d",
                           "adaptive_max_pool3d(): internal error: output_size.size() must be 3")
    if 0 in out:
        y = _empty_like_pooled(input, out)
        indices = Tensor(get_array_module(y.array).zeros(tuple(y.shape), dtype=np.int64))
        return (y, indices) if return_indices else y
    x = _as_5d(input)
    N, C, D, H, W = x.shape
    t, hw_indices = adaptive_max_pool2d(_planes(x), out[1:], True)
    y, d_indices = adaptive_max_pool2d(_depth_planes(t, C, D), (out[0], out[1] * out[2]), True)
    y = ops.reshape(y, (N, C) + out)
    if input.ndim == 4:
        y = ops.squeeze(y, 0)
    if not return_indices:
        return y
    indices = _flat_indices(hw_indices.array, d_indices.array, D, H, W, out)
    return y, Tensor(indices if input.ndim == 5 else indices[0])


def adaptive_max_pool3d_with_indices(input, output_size, return_indices=False):
    """adaptive_max_pool3d's values and int64 argmax indices, always both."""
    return adaptive_max_pool3d(input, output_size, True)


# --------------------------------------------------------------------------
# max_unpool3d, lp_pool3d
# --------------------------------------------------------------------------


def _triple(value):
    """PyTorch's _triple: an int repeated, a sequence kept."""
    if isinstance(value, (int, np.integer)):
        return (int(value),) * 3
    return tuple(int(v) for v in value)


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """The partial inverse of max_pool3d: (N, C, D, H, W) or (C, D, H, W)
    values put back at ``indices`` (flat d * H * W + h * W + w, as
    max_pool3d's return_indices gives them) of a zero output of
    ``output_size`` (default (D - 1) * stride - 2 * padding + kernel_size)."""
    kernel_size = _triple(kernel_size)
    stride = _triple(stride) if stride is not None else kernel_size
    padding = _triple(padding)
    size = _unpool_output_size(input, kernel_size, stride, padding, output_size)
    if indices.dtype != np.int64:
        raise RuntimeError("elements in indices should be type int64")
    if input.ndim not in (4, 5):
        raise RuntimeError(f"Input to max_unpooling3d should be a 4d or 5d Tensor, but got a "
                           f"tensor with {input.ndim} dimensions.")
    if tuple(indices.shape) != tuple(input.shape):
        raise RuntimeError(f"Expected shape of indices to be same as that of the input tensor "
                           f"({list(input.shape)}) but got indices tensor with shape: "
                           f"{list(indices.shape)}")
    for i in range(1, input.ndim):
        if input.shape[i] <= 0:
            raise RuntimeError(f"max_unpooling3d(): Expected input to have non-zero size for "
                               f"non-batch dimensions, but got {list(input.shape)} with "
                               f"dimension {i} being empty.")
    if min(stride) <= 0:
        raise RuntimeError(f"strides should be greater than zero, but got stride: "
                           f"{list(stride)}")
    volume = math.prod(size)
    idx = indices.array
    bad = (idx < 0) | (idx >= volume)
    if idx.size and bool(bad.any()):
        raise RuntimeError(f"Found an invalid max index: {int(idx[bad][0])} (output volumes are "
                           f"of size {size[0]}x{size[1]}x{size[2]}")
    # each volume as one row of a 2-D plane: the flat index is the same
    flat = ops.unsqueeze(ops.flatten(input, -3), -2)
    y = _max_unpool2d(flat, Tensor(idx.reshape(tuple(idx.shape[:-3]) + (1, -1))), (1, volume))
    return ops.reshape(y, tuple(input.shape[:-3]) + tuple(size))


def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """(sum over each window of x^p)^(1/p); p = inf is max pooling of |x|."""
    kd, kh, kw = _triple(kernel_size)
    if norm_type == math.inf:
        return max_pool3d(ops.abs(input), kernel_size, stride, 0, 1, ceil_mode)
    if norm_type == -math.inf:
        return -max_pool3d(-ops.abs(input), kernel_size, stride, 0, 1, ceil_mode)
    out = avg_pool3d(input ** norm_type, kernel_size, stride, 0, ceil_mode)
    return _lp_from_mean(out, kd * kh * kw, norm_type)
