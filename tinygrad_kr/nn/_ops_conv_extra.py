"""conv1d, 1-D pooling, transposed convolutions and interpolate.

Forward, backward and kernel are three hops apart:
  * conv1d, max_pool1d, avg_pool1d: (N, C, L) is viewed as (N, C, 1, L) and
    run by conv2d / max_pool2d / avg_pool2d (nn/_ops_dense.py), so they use
    the same compiled kernels and the same Functions.
  * ConvTranspose2d: the forward of a transposed convolution is the input
    gradient of a convolution, so it is kernels.conv2d_backward_input; its
    backward is kernels.conv2d_forward (input gradient) and
    kernels.conv2d_backward_weight with the roles of x and gy swapped
    (csrc/conv.pyx, twin kernels/ref_conv.py).  conv_transpose1d is it on
    (N, C, 1, L).
  * create_graph through Conv2d and ConvTranspose2d: their gradients written
    as each other (_conv2d_input, _conv2d_weight, as torch.nn.grad), so each
    graph-mode backward is itself differentiable, to any order.
  * interpolate ('nearest', 'nearest-exact', 'linear', 'bilinear', 'bicubic'):
    kernels.resample2d_forward / _backward (csrc/pool.pyx, twin
    kernels/ref_pool.py) on the taps of every output row and column: one
    source index (nearest, a copy), two indices and weights (linear) or four
    (cubic); 'area' is adaptive average pooling, as in PyTorch.  The two kernels are each other's
    adjoint, so Resample2d and Resample2dAdjoint differentiate each other to
    any order.  Indices and weights follow PyTorch's CPU kernels
    (UpSample.h), in the input's dtype.

The wrappers raise PyTorch's errors (same wording, sizes as given) before
any kernel runs.
"""
import math

import numpy as np

from .. import kernels, ops
from ..autograd.function import Function
from ..backend import get_array_module
from ._ops_dense import (Conv2d, _check_conv_geometry, adaptive_avg_pool2d, adaptive_max_pool2d, avg_pool2d, conv2d,
                         max_pool2d)

__all__ = ["conv1d", "conv_transpose1d", "conv_transpose2d", "max_pool1d", "avg_pool1d",
           "adaptive_avg_pool1d", "adaptive_max_pool1d", "interpolate", "max_pool1d_with_indices",
           "max_pool2d_with_indices", "adaptive_max_pool1d_with_indices"]


def _ntuple(value, n, name, fn):
    """An int or an n-sequence of ints (a 1-sequence is repeated) as an n-tuple."""
    if isinstance(value, (int, np.integer)):
        return (int(value),) * n
    value = tuple(value)
    if len(value) == 1:
        value = value * n
    if len(value) != n or not all(isinstance(v, (int, np.integer)) for v in value):
        raise RuntimeError(f"expected {name} to be a single integer value or a list of {n} "
                           f"values to match the convolution dimensions, but got "
                           f"{name}={list(value)}")
    return tuple(int(v) for v in value)


def _sizes(values):
    """PyTorch's '(8 x 8)' / '(8)' spelling of per-dimension sizes."""
    return "(" + " x ".join(str(v) for v in values) + ")"


def _check_conv(input, weight, bias, stride, padding, dilation, groups, fn, nd,
                transposed=False):
    """PyTorch's convolution argument errors for an nd-D (transposed) conv."""
    if input.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to "
                           f"{fn}, but got input of size: {list(input.shape)}")
    if weight.ndim != nd + 2:
        raise RuntimeError(f"Expected {weight.ndim}-dimensional input for {weight.ndim}-"
                           f"dimensional weight {list(weight.shape)}, but got {input.ndim}-"
                           f"dimensional input of size {list(input.shape)} instead")
    if not isinstance(groups, (int, np.integer)) or groups < 1:
        raise RuntimeError("non-positive groups is not supported")
    if weight.shape[0] % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} "
                           f"at dimension 0, but got weight of size [{list(weight.shape)}] "
                           f"instead")
    channels = input.shape[-nd - 1]
    expected = weight.shape[0] if transposed else weight.shape[1] * groups
    what = "transposed=1" if transposed else f"groups={groups}"
    if channels != expected:
        batched = list(input.shape) if input.ndim == nd + 2 else [1] + list(input.shape)
        raise RuntimeError(f"Given {what}, weight of size {list(weight.shape)}, expected "
                           f"input{batched} to have {expected} channels, but got "
                           f"{channels} channels instead")
    if input.dtype != weight.dtype or (bias is not None and bias.dtype != input.dtype):
        other = weight.dtype if input.dtype != weight.dtype else bias.dtype
        raise RuntimeError(f"expected scalar type {_scalar_name(input.dtype)} but found "
                           f"{_scalar_name(other)}")
    out_channels = weight.shape[1] * groups if transposed else weight.shape[0]
    if bias is not None and tuple(bias.shape) != (out_channels,):
        raise RuntimeError(f"Given {'transposed=1, ' if transposed else ''}"
                           f"weight of size {list(weight.shape)}, expected bias to be "
                           f"1-dimensional with {out_channels} elements, but got bias of size "
                           f"{list(bias.shape)} instead")
    _check_conv_geometry(stride, padding, dilation)


def _scalar_name(dtype):
    return {np.dtype(np.float32): "Float", np.dtype(np.float64): "Double"}.get(
        np.dtype(dtype), str(dtype))


# --------------------------------------------------------------------------
# conv1d and 1-D pooling: the 2-D ops on (N, C, 1, L)
# --------------------------------------------------------------------------


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution (cross-correlation) with PyTorch's signature.

    input (N, C, L) or unbatched (C, L); weight (O, C/groups, k); bias (O,)
    or None; padding an int, a 1-tuple, 'valid' or 'same'."""
    stride = _ntuple(stride, 1, "stride", "conv1d")
    dilation = _ntuple(dilation, 1, "dilation", "conv1d")
    pad = (0,) if isinstance(padding, str) else _ntuple(padding, 1, "padding", "conv1d")
    _check_conv(input, weight, bias, stride, pad, dilation, groups, "conv1d", 1)
    if isinstance(padding, str) and padding not in ("valid", "same"):
        raise RuntimeError(f"Invalid padding string: {padding!r}")
    if padding == "same" and stride != (1,):
        raise RuntimeError("padding='same' is not supported for strided convolutions")
    if not isinstance(padding, str):
        extent = dilation[0] * (weight.shape[2] - 1) + 1
        if input.shape[-1] + 2 * pad[0] < extent:
            raise RuntimeError(f"Calculated padded input size per channel: "
                               f"({input.shape[-1] + 2 * pad[0]}). Kernel size: ({extent}). "
                               f"Kernel size can't be greater than actual input size")
        padding = (0, pad[0])
    y = conv2d(ops.unsqueeze(input, -2), ops.unsqueeze(weight, 2), bias, (1, stride[0]),
               padding, (1, dilation[0]), groups)
    return ops.squeeze(y, -2)


def _pool1d_args(kernel_size, stride, padding, dilation, fn):
    def single(value, name):
        if isinstance(value, (int, np.integer)):
            return int(value)
        value = tuple(value)
        if len(value) != 1:
            raise RuntimeError(f"{fn}() {name} must be an int, list of ints or tuple of ints "
                               f"of size 1 but got size {len(value)}")
        return int(value[0])
    k = single(kernel_size, "kernel_size")
    s = k if stride is None or (not isinstance(stride, (int, np.integer))
                                and len(stride) == 0) else single(stride, "stride")
    p, d = single(padding, "padding"), single(dilation, "dilation")
    for name, value in (("kernel_size", k), ("stride", s), ("dilation", d)):
        if value <= 0:
            raise RuntimeError(f"{fn}() {name} must be greater than zero, but got {value}")
    if p < 0:
        raise RuntimeError(f"{fn}() padding must be non-negative, but got {p}")
    return k, s, p, d


def _pool_output_size(size, k, s, p, d, ceil_mode):
    """PyTorch's pooling_output_shape."""
    out = (size + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Max pooling over (N, C, L) or (C, L); with return_indices also the
    int64 argmax positions along L."""
    if input.ndim not in (2, 3):
        raise RuntimeError(f"max_pool1d: Expected 2D or 3D (batch mode) tensor with optional 0 "
                           f"dim batch size for input, but got:{list(input.shape)}")
    k, s, p, d = _pool1d_args(kernel_size, stride, padding, dilation, "max_pool1d")
    if p > k // 2:
        raise RuntimeError(f"max_pool1d() padding should be at most half of kernel size, but got "
                           f"padding={p} and kernel_size={k}")
    out = _pool_output_size(input.shape[-1], k, s, p, d, ceil_mode)
    if out < 1:
        raise RuntimeError(f"max_pool1d() Invalid computed output size: {out}")
    y = max_pool2d(ops.unsqueeze(input, -2), (1, k), (1, s), (0, p), (1, d), ceil_mode,
                   return_indices)
    if not return_indices:
        return ops.squeeze(y, -2)
    # a plane of height 1: the flat index h * L + l is l
    return ops.squeeze(y[0], -2), ops.squeeze(y[1], -2)


def _adaptive_1d(pool2d, input, output_size, fn, *args):
    """A 1-D adaptive pooling of (N, C, L) or (C, L) as the 2-D one of height 1."""
    if input.ndim not in (2, 3):
        raise RuntimeError(f"{fn}(): Expected 2D or 3D tensor, but got: {list(input.shape)}")
    if output_size is None:
        raise TypeError(f"{fn}(): argument 'output_size' must be tuple of ints, not NoneType")
    size = tuple(output_size) if isinstance(output_size, (tuple, list)) else (output_size,)
    if len(size) != 1:
        raise RuntimeError(f"{fn}: output_size must be an int or a 1-tuple, got {output_size!r}")
    y = pool2d(ops.unsqueeze(input, -2), (1, size[0]), *args)
    if isinstance(y, tuple):   # with indices (flat h * L + l on a height-1 plane: l)
        return ops.squeeze(y[0], -2), ops.squeeze(y[1], -2)
    return ops.squeeze(y, -2)


def adaptive_avg_pool1d(input, output_size):
    """Average pooling of (N, C, L) or (C, L) to ``output_size`` (PyTorch's windows)."""
    return _adaptive_1d(adaptive_avg_pool2d, input, output_size, "adaptive_avg_pool1d")


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """Max pooling of (N, C, L) or (C, L) to ``output_size``; with
    return_indices also the int64 argmax positions along L."""
    return _adaptive_1d(adaptive_max_pool2d, input, output_size, "adaptive_max_pool1d",
                        return_indices)


def max_pool1d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=False):
    """max_pool1d's values and int64 argmax positions, always both (PyTorch's;
    ``return_indices`` is ignored, as there)."""
    return max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=False):
    """max_pool2d's values and int64 argmax (flat h * W + w), always both."""
    return max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def adaptive_max_pool1d_with_indices(input, output_size, return_indices=False):
    """adaptive_max_pool1d's values and int64 argmax positions, always both."""
    return adaptive_max_pool1d(input, output_size, True)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    """Average pooling over (N, C, L) or (C, L) with PyTorch's divisor rules."""
    if input.ndim not in (2, 3):
        raise RuntimeError(f"Expected 2 to 3 dimensions, but got {input.ndim}-dimensional tensor "
                           f"for argument #1 'self' (while checking arguments for avg_pool1d)")
    k, s, p, _ = _pool1d_args(kernel_size, stride, padding, 1, "avg_pool1d")
    if p > k // 2:
        raise RuntimeError(f"pad should be at most half of effective kernel size, but got "
                           f"pad={p}, kernel_size={k} and dilation=1")
    out = _pool_output_size(input.shape[-1], k, s, p, 1, ceil_mode)
    if out < 1:
        planes = input.shape[-2]
        raise RuntimeError(f"Given input size: ({planes}x1x{input.shape[-1]}). Calculated "
                           f"output size: ({planes}x1x{out}). Output size is too small")
    y = avg_pool2d(ops.unsqueeze(input, -2), (1, k), (1, s), (0, p), ceil_mode,
                   count_include_pad)
    return ops.squeeze(y, -2)


# --------------------------------------------------------------------------
# transposed convolution
# --------------------------------------------------------------------------


class ConvTranspose2d(Function):
    """Transposed 2-D convolution of x (N, C_in, H, W) with w
    (C_in, C_out/groups, kh, kw): the input gradient of the convolution that
    maps (N, C_out, H_out, W_out) to x.

    Options: stride/padding/dilation/output_padding (h, w) pairs and
    ``groups``.  When output_padding < stride (always, unless dilation > 1
    allows more), that convolution of (H_out, W_out) has exactly (H, W)
    outputs and the kernels run on it directly.  Otherwise they run on the
    uncropped, unpadded size F = (H - 1) stride + dilation (k - 1) + 1,
    and the output is rows [padding, padding + H_out) of it (zeros past F)."""

    def forward(self, x, weight, bias, *, stride, padding, dilation, output_padding, groups):
        xp = get_array_module(x)
        N, _, H, W = x.shape
        self.groups = groups
        self.conv = (stride, padding, dilation)    # of the convolution this transposes
        self.out = tuple((n - 1) * s - 2 * p + d * (k - 1) + op + 1 for n, s, p, d, k, op in
                         zip((H, W), stride, padding, dilation, weight.shape[2:],
                             output_padding))
        self.direct = all(op < s for op, s in zip(output_padding, stride))
        if self.direct:
            self.geometry, size = (stride, padding, dilation), self.out
        else:
            self.geometry = (stride, (0, 0), dilation)
            size = tuple((n - 1) * s + d * (k - 1) + 1 for n, s, d, k in
                         zip((H, W), stride, dilation, weight.shape[2:]))
            self.padding, self.full = padding, size
        if self.needs_input_grad[0] or self.needs_input_grad[1]:
            self.save_for_backward(x, weight)
        group_shape = (N, weight.shape[1]) + size
        y = [kernels.conv2d_backward_input(x[:, c], weight[c], group_shape, *self.geometry)
             for c in self._group_slices(x.shape[1])]
        y = y[0] if groups == 1 else xp.concatenate(y, axis=1)
        if not self.direct:
            y = self._crop(xp, y)
        if bias is not None:
            y += bias[:, None, None]
        return y

    def _group_slices(self, channels):
        c = channels // self.groups
        return [slice(g * c, (g + 1) * c) for g in range(self.groups)]

    def _crop(self, xp, y_full):
        """Rows/columns [padding, padding + out) of the uncropped output."""
        (ph, pw), (fh, fw), (oh, ow) = self.padding, self.full, self.out
        mh, mw = min(oh, fh - ph), min(ow, fw - pw)
        y = xp.zeros(y_full.shape[:2] + self.out, dtype=y_full.dtype)
        y[:, :, :mh, :mw] = y_full[:, :, ph:ph + mh, pw:pw + mw]
        return y

    def _uncrop(self, xp, gy):
        """The gradient of the uncropped output: gy placed at [padding, ...)."""
        (ph, pw), (fh, fw), (oh, ow) = self.padding, self.full, self.out
        mh, mw = min(oh, fh - ph), min(ow, fw - pw)
        g = xp.zeros(gy.shape[:2] + self.full, dtype=gy.dtype)
        g[:, :, ph:ph + mh, pw:pw + mw] = gy[:, :, :mh, :mw]
        return g

    def backward(self, xp, gy):
        need_x, need_w, need_b = self.needs_input_grad
        gx = gw = gb = None
        if self._graph_mode:
            # create_graph: the gradients as differentiable convolutions.  The
            # input gradient is the convolution itself (more rows than x only
            # when output_padding >= stride: the first H are x's); the weight
            # gradient is the convolution's weight gradient with gy as its
            # input and x as its output gradient.
            if need_x or need_w:
                x, weight = self.saved_tensors
                if need_x:
                    gx = _crop(Conv2d.apply(gy, weight, None, stride=self.conv[0],
                                            padding=self.conv[1], dilation=self.conv[2],
                                            groups=self.groups, extra=(0, 0)), x.shape[2:])
                if need_w:
                    gw = _conv2d_weight(gy, weight.shape, x, *self.conv, self.groups)
            if need_b:
                gb = xp.sum(gy, axis=(0, 2, 3))
            return gx, gw, gb
        if need_x or need_w:
            x, weight = self.saved_tensors
            g = gy if self.direct else self._uncrop(xp, gy)
            cs = self._group_slices(x.shape[1])
            os_ = self._group_slices(gy.shape[1])
            if need_x:
                gx = [kernels.conv2d_forward(g[:, o], weight[c], None, *self.geometry)
                      for c, o in zip(cs, os_)]
                gx = gx[0] if self.groups == 1 else xp.concatenate(gx, axis=1)
            if need_w:
                gw = [kernels.conv2d_backward_weight(x[:, c], g[:, o], weight[c].shape,
                                                     *self.geometry) for c, o in zip(cs, os_)]
                gw = gw[0] if self.groups == 1 else xp.concatenate(gw, axis=0)
        if need_b:
            gb = kernels.bias_grad(gy)
        return gx, gw, gb


def _crop(t, size):
    """Tensor t (N, C, h, w) cut to its first size = (H, W) rows and columns."""
    return t if tuple(t.shape[2:]) == tuple(size) else t[:, :, :size[0], :size[1]]


def _conv2d_input(input_size, weight, grad_output, stride, padding, dilation, groups,
                  extra=(0, 0)):
    """The input gradient of conv2d as a differentiable op (torch.nn.grad.conv2d_input):
    the transposed convolution of grad_output by the same weight, with the
    output_padding that gives back the padded input's size, cut to the input's
    (H, W) when the 'same' padding added ``extra`` rows/columns."""
    padded = tuple(n + e for n, e in zip(input_size[2:], extra))
    output_padding = tuple(n - ((o - 1) * s - 2 * p + d * (k - 1) + 1) for n, o, s, p, d, k in
                           zip(padded, grad_output.shape[2:], stride, padding, dilation,
                               weight.shape[2:]))
    gx = ConvTranspose2d.apply(grad_output, weight, None, stride=stride, padding=padding,
                               dilation=dilation, output_padding=output_padding, groups=groups)
    return _crop(gx, input_size[2:])


def _conv2d_weight(input, weight_size, grad_output, stride, padding, dilation, groups,
                   extra=(0, 0)):
    """The weight gradient of conv2d as a differentiable op (torch.nn.grad.conv2d_weight):
    gw[o, c, i, j] = sum over n, h, w of grad_output[n, o, h, w] *
    input_padded[n, c, h stride + i dilation, w stride + j dilation], which is a
    conv2d of the input (batch and channel axes swapped) by grad_output (the
    same) with stride and dilation exchanged, cut to (kh, kw).  Groups: the
    input's (g, c) channels become batch c and channel (g, n), grad_output's
    (g, o) the output channels, so group g only meets group g."""
    xp = ops.TensorMath
    (N, C), O, G = input.shape[:2], grad_output.shape[1], groups
    x = xp.reshape(input, (N, G, C // G) + tuple(input.shape[2:]))
    x = xp.reshape(xp.permute_dims(x, (2, 1, 0, 3, 4)), (C // G, G * N) + tuple(input.shape[2:]))
    g = xp.reshape(grad_output, (N, G, O // G) + tuple(grad_output.shape[2:]))
    g = xp.reshape(xp.permute_dims(g, (1, 2, 0, 3, 4)), (O, N) + tuple(grad_output.shape[2:]))
    gw = Conv2d.apply(x, g, None, stride=dilation, padding=padding, dilation=stride, groups=G,
                      extra=extra)                                  # (C / G, O, >= kh, >= kw)
    return xp.permute_dims(_crop(gw, weight_size[2:]), (1, 0, 2, 3))


def _transposed_args(input, weight, bias, stride, padding, output_padding, groups, dilation,
                     fn, nd):
    """Checked (stride, padding, output_padding, dilation) n-tuples."""
    if isinstance(padding, str):
        raise TypeError(f"{fn}(): argument 'padding' must be tuple of ints, not str "
                        f"(padding={padding!r} is for non-transposed convolutions)")
    stride = _ntuple(stride, nd, "stride", fn)
    padding = _ntuple(padding, nd, "padding", fn)
    output_padding = _ntuple(output_padding, nd, "output_padding", fn)
    dilation = _ntuple(dilation, nd, "dilation", fn)
    _check_conv(input, weight, bias, stride, padding, dilation, groups, fn, nd, transposed=True)
    if min(output_padding) < 0:
        raise RuntimeError("negative output_padding is not supported")
    if any(op >= max(s, d) for op, s, d in zip(output_padding, stride, dilation)):
        names = ("depth", "height", "width")[-nd:]
        parts = [f"{what}_{n}: {v}" for what, values in (("output_padding", output_padding),
                                                         ("stride", stride),
                                                         ("dilation", dilation))
                 for n, v in zip(names, values)]
        raise RuntimeError("output padding must be smaller than either stride or dilation, but "
                           "got " + " ".join(parts))
    sizes = tuple(input.shape[-nd:])
    out = tuple((n - 1) * s - 2 * p + d * (k - 1) + op + 1 for n, s, p, d, k, op in
                zip(sizes, stride, padding, dilation, weight.shape[2:], output_padding))
    if min(out) < 1 or min(sizes) < 1:
        raise RuntimeError(f"Given input size per channel: {_sizes(sizes)}. Calculated output "
                           f"size per channel: {_sizes(out)}. Output size is too small")
    return stride, padding, output_padding, dilation


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """Transposed 2-D convolution with PyTorch's signature.

    input (N, C_in, H, W) or (C_in, H, W); weight (C_in, C_out/groups, kH, kW);
    bias (C_out,) or None.  H_out = (H - 1) stride - 2 padding +
    dilation (kH - 1) + output_padding + 1."""
    stride, padding, output_padding, dilation = _transposed_args(
        input, weight, bias, stride, padding, output_padding, groups, dilation,
        "conv_transpose2d", 2)
    batched = input.ndim == 4
    x = input if batched else ops.unsqueeze(input, 0)
    y = ConvTranspose2d.apply(x, weight, bias, stride=stride, padding=padding,
                              dilation=dilation, output_padding=output_padding,
                              groups=int(groups))
    return y if batched else ops.squeeze(y, 0)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """Transposed 1-D convolution: input (N, C_in, L) or (C_in, L); weight
    (C_in, C_out/groups, k); run as conv_transpose2d on (N, C_in, 1, L)."""
    stride, padding, output_padding, dilation = _transposed_args(
        input, weight, bias, stride, padding, output_padding, groups, dilation,
        "conv_transpose1d", 1)
    y = conv_transpose2d(ops.unsqueeze(input, -2), ops.unsqueeze(weight, 2), bias,
                         (1,) + stride, (0,) + padding, (0,) + output_padding, groups,
                         (1,) + dilation)
    return ops.squeeze(y, -2)


# --------------------------------------------------------------------------
# interpolate
# --------------------------------------------------------------------------


def _nearest_indices(in_size, out_size, scale, dtype, ndim, exact=False):
    """PyTorch's source index of 'nearest' (legacy: floor(dst * s)) or
    'nearest-exact' (floor((dst + 0.5) * s)), at most in - 1; s = 1/scale_factor
    if given, else in/out.  Its two kernels compute it differently, and the
    index is matched bit for bit with each:
    * 4-D input (the 2-D kernel): in float32; 'nearest' copies (same size) or
      halves the index (twice the size) whatever the scale factor;
    * 3-D input (the generic kernel): s and the product in the input's float
      type (float32 for integer images), the product's rounding once as with
      a fused multiply-add, then floored in float32."""
    i = np.arange(out_size)
    if ndim == 4:
        if not exact and out_size == in_size:
            return i
        if not exact and out_size == 2 * in_size:
            return i >> 1
        s = np.float32(1.0 / scale) if scale is not None and scale > 0 \
            else np.float32(in_size) / np.float32(out_size)
        if exact:   # (dst + 0.5) * s in double, rounded to float, floored
            src = ((i + 0.5) * np.float64(s)).astype(np.float32)
        else:
            src = i.astype(np.float32) * s
        return np.minimum(np.floor(src).astype(np.int64), in_size - 1)
    t = np.dtype(dtype if np.dtype(dtype).kind == "f" else np.float32).type
    s = t(1.0 / scale) if scale is not None and scale > 0 else t(in_size) / t(out_size)
    if exact:       # max(s (dst + 0.5) - 0.5, 0) + 0.5
        real = np.maximum((np.float64(s) * (i + 0.5) - 0.5).astype(t), t(0))
        real = (real + t(0.5)).astype(t)
    else:
        real = (np.float64(s) * i).astype(t)
    return np.minimum(np.floor(real.astype(np.float32)).astype(np.int64), in_size - 1)


def _linear_indices(in_size, out_size, scale, align_corners, dtype):
    """PyTorch's linear interpolation: (i0, i1, w0, w1) per output position,
    source index scale * dst (align_corners) or scale * (dst + 0.5) - 0.5
    clamped at 0, computed in ``dtype`` (PyTorch's opmath for float32/64)."""
    t = np.dtype(dtype).type
    dst = np.arange(out_size)
    if out_size == in_size:
        return dst, dst, np.ones(out_size, dtype), np.zeros(out_size, dtype)
    if align_corners:
        ratio = t(in_size - 1) / t(out_size - 1) if out_size > 1 else t(0)
        src = ratio * dst.astype(dtype)
    else:
        ratio = t(1.0 / scale) if scale is not None and scale > 0 else t(in_size) / t(out_size)
        src = ratio * (dst.astype(dtype) + t(0.5)) - t(0.5)
        src = np.where(src < 0, t(0), src).astype(dtype)
    i0 = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
    w1 = np.minimum(np.maximum(src - i0.astype(dtype), t(0)), t(1)).astype(dtype)
    i1 = i0 + (i0 < in_size - 1)
    return i0, i1, (t(1) - w1).astype(dtype), w1


def _cubic_taps(in_size, out_size, scale, align_corners, dtype):
    """PyTorch's bicubic taps (HelperInterpCubic): the source position as for
    linear but not clamped at 0, its floor i (at most in - 1) and fraction t
    in [0, 1]; rows i-1 .. i+2 clamped into the input, weighted by Keys'
    cubic convolution with A = -0.75; computed in ``dtype``."""
    t = np.dtype(dtype).type
    dst = np.arange(out_size).astype(dtype)
    if align_corners:
        ratio = t(in_size - 1) / t(out_size - 1) if out_size > 1 else t(0)
        src = ratio * dst
    else:
        ratio = t(1.0 / scale) if scale is not None and scale > 0 else t(in_size) / t(out_size)
        src = ratio * (dst + t(0.5)) - t(0.5)
    i = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
    lam = np.minimum(np.maximum(src - i.astype(dtype), t(0)), t(1)).astype(dtype)
    a = t(-0.75)

    def near(x):    # |x| <= 1
        return ((a + t(2)) * x - (a + t(3))) * x * x + t(1)

    def far(x):     # 1 < |x| < 2
        return ((a * x - t(5) * a) * x + t(8) * a) * x - t(4) * a
    weight = np.stack([far(lam + t(1)), near(lam), near(t(1) - lam), far(t(2) - lam)], 1)
    index = np.clip(i[:, None] - 1 + np.arange(4), 0, in_size - 1)
    return index, weight.astype(dtype)


def _taps(mode, in_size, out_size, scale, align_corners, dtype, ndim):
    """(index, weight) of one axis (see kernels/ref_pool.py): weight None for a copy."""
    if mode in ("nearest", "nearest-exact"):
        index = _nearest_indices(in_size, out_size, scale, dtype, ndim, mode == "nearest-exact")
        return index[:, None], None
    if mode == "bicubic":
        return _cubic_taps(in_size, out_size, scale, align_corners, dtype)
    i0, i1, w0, w1 = _linear_indices(in_size, out_size, scale, align_corners, dtype)
    return np.stack([i0, i1], 1), np.stack([w0, w1], 1).astype(dtype)


def _along(x, dim, index):
    return ops.getitem(x, (slice(None),) * dim + (index,))


_MODES = "nearest | linear | bilinear | bicubic | trilinear | lanczos | area | nearest-exact"


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resize the spatial dimensions of (N, C, L) or (N, C, H, W) input, to
    ``size`` or by ``scale_factor``: modes 'nearest' (PyTorch's legacy
    nearest), 'nearest-exact' and 'area' on 3-D/4-D, 'linear' on 3-D,
    'bilinear' and 'bicubic' on 4-D."""
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError("align_corners option can only be set with the interpolating "
                             "modes: linear | bilinear | bicubic | trilinear")
    elif align_corners is None:
        align_corners = False
    dim = input.ndim - 2
    spatial = list(input.shape[2:])
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is not None:
        if isinstance(size, (list, tuple)):
            if len(size) != dim:
                raise ValueError(f"Input and output must have the same number of spatial "
                                 f"dimensions, but got input with spatial dimensions of "
                                 f"{spatial} and output size of {size}. Please provide input "
                                 f"tensor in (N, C, d1, d2, ...,dK) format and output size in "
                                 f"(o1, o2, ...,oK) format.")
            output_size = [int(n) for n in size]
        else:
            output_size = [int(size)] * dim
        scales = [None] * dim
    elif scale_factor is not None:
        if isinstance(scale_factor, (list, tuple)):
            if len(scale_factor) != dim:
                raise ValueError(f"Input and scale_factor must have the same number of spatial "
                                 f"dimensions, but got input with spatial dimensions of "
                                 f"{spatial} and scale_factor of shape {scale_factor}. Please "
                                 f"provide input tensor in (N, C, d1, d2, ...,dK) format and "
                                 f"scale_factor in (s1, s2, ...,sK) format.")
            scales = [float(s) for s in scale_factor]
        else:
            scales = [float(scale_factor)] * dim
        output_size = [int(math.floor(float(n) * s)) for n, s in zip(spatial, scales)]
        if recompute_scale_factor:
            scales = [None] * dim
    else:
        raise ValueError("either size or scale_factor should be defined")
    if recompute_scale_factor and size is not None:
        raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not supported by tinygrad_kr")
    wanted = {"nearest": (3, 4), "nearest-exact": (3, 4), "area": (3, 4), "linear": (3,),
              "bilinear": (4,), "bicubic": (4,)}
    if mode not in wanted:
        raise NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported (got "
                                  f"{input.ndim}D) for the modes: {_MODES} (got {mode})"
                                  if mode not in _MODES.split(" | ") else
                                  f"interpolate: mode {mode!r} is not supported by tinygrad_kr "
                                  f"(supported: {', '.join(map(repr, wanted))}, on 3-D and "
                                  f"4-D input)")
    if input.ndim not in wanted[mode]:
        need = {"linear": 3, "bilinear": 4, "bicubic": 4}.get(mode)
        if need:
            raise NotImplementedError(f"Got {input.ndim}D input, but {mode} mode needs {need}D "
                                      f"input")
        raise NotImplementedError(f"interpolate: mode {mode!r} supports 3D and 4D input, got "
                                  f"{input.ndim}D input of size {list(input.shape)}")
    if mode == "area":       # PyTorch's 'area' is adaptive average pooling (empty outputs too)
        return (adaptive_avg_pool2d if dim == 2 else adaptive_avg_pool1d)(input, output_size)
    if min(spatial + output_size) < 1:
        names = ("H", "W")[-dim:] if dim <= 2 else ("D", "H", "W")
        given = ", ".join(f"{n}: {v}" for n, v in zip(names, spatial))
        got = ", ".join(f"{n}: {v}" for n, v in zip(names, output_size))
        raise RuntimeError(f"Input and output sizes should be greater than 0, but got input "
                           f"({given}) {'and ' if dim == 1 else ''}output ({got})")
    if input.dtype not in (np.float32, np.float64) and not mode.startswith("nearest"):
        raise RuntimeError(f"interpolate: mode {mode!r} needs a float32 or float64 input, got "
                           f"{input.dtype}")
    xp = get_array_module(input.array)
    if mode.startswith("nearest") and input.dtype not in (np.float32, np.float64):
        y = input      # integer images (uint8): a gather, last dimension first
        for d in reversed(range(dim)):
            index = _taps(mode, spatial[d], output_size[d], scales[d], None, y.dtype, y.ndim)[0]
            y = _along(y, 2 + d, index[:, 0])
        return y
    taps = []
    for n, out, scale in zip(spatial, output_size, scales):
        index, weight = _taps(mode, n, out, scale, align_corners, input.dtype, input.ndim)
        taps.append((xp.asarray(index), None if weight is None else xp.asarray(weight)))
    if dim == 1:      # (N, C, L) as (N, C, 1, L), its one row kept
        return ops.squeeze(Resample2d.apply(ops.unsqueeze(input, 2), h_taps=None,
                                            w_taps=taps[0]), 2)
    return Resample2d.apply(input, h_taps=taps[0], w_taps=taps[1])


class Resample2d(Function):
    """x (N, C, H, W) resampled by the taps of each output row and column (an
    axis whose taps are None is kept)."""

    def forward(self, x, *, h_taps, w_taps):
        self.x_shape, self.taps = x.shape, (h_taps, w_taps)
        return kernels.resample2d_forward(x, h_taps, w_taps)

    def backward(self, xp, gy):
        if self._graph_mode:
            return Resample2dAdjoint.apply(gy, x_shape=self.x_shape, taps=self.taps)
        return kernels.resample2d_backward(gy, self.x_shape, *self.taps)


class Resample2dAdjoint(Function):
    """gx of Resample2d: each gy spread back over its taps.  Its own gradient
    is the resampling itself."""

    def forward(self, gy, *, x_shape, taps):
        self.taps = taps
        return kernels.resample2d_backward(gy, x_shape, *taps)

    def backward(self, xp, ggx):
        if self._graph_mode:
            return Resample2d.apply(ggx, h_taps=self.taps[0], w_taps=self.taps[1])
        return kernels.resample2d_forward(ggx, *self.taps)
