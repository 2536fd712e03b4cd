"""linear, conv2d and 2-D pooling: Functions over the dense kernels.

Forward, backward and kernel are three hops apart:
  * Linear    -> kernels.gemm                      (csrc/blas.pyx, twin kernels/ref_blas.py)
  * Conv2d    -> kernels.conv2d_forward/_backward_* (csrc/conv.pyx, twin kernels/ref_conv.py)
  * MaxPool2d, AvgPool2d -> kernels.*_pool2d_*     (csrc/pool.pyx, twin kernels/ref_pool.py)
  * adaptive_avg_pool2d is avg_pool2d when the sizes divide, else two small
    matmuls with averaging matrices (core ops, so it is twice differentiable).
  * adaptive_max_pool2d is max_pool2d when the sizes divide, else a Function
    that takes the windows one by one; its backward is max_pool2d's kernel.

The wrappers take PyTorch's arguments (ints or pairs, padding='same'/'valid',
unbatched (C, H, W) input) and raise PyTorch's errors for the usual mistakes
(channel mismatch, mixed dtypes, kernel larger than the padded input) before
any kernel runs.
"""
import math

import numpy as np

from .. import kernels, ops
from ..autograd.function import Function
from ..backend import get_array_module
from ..tensor import Tensor

__all__ = ["linear", "conv2d", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d",
           "adaptive_max_pool2d"]


def _data(t):
    return None if t is None else t.array


def _dtype_name(dtype):
    return {np.dtype(np.float32): "float", np.dtype(np.float64): "double"}.get(np.dtype(dtype),
                                                                              str(dtype))


# --------------------------------------------------------------------------
# linear
# --------------------------------------------------------------------------


class Linear(Function):
    """y = x @ W^T + b for x (*, in), W (out, in), b (out,) or None.

    One GEMM with the transpose as a flag and the bias fused; backward is two
    GEMMs (gx = gy @ W, gW = gy^T @ x) on the same flat (M, in)/(M, out)
    views, so no transposed copy is made.  Under create_graph the same
    products are written with ``xp`` so they are recorded.
    """

    def forward(self, x, weight, bias):
        flat = x.ndim == 2      # (batch, in): the usual case, no reshapes
        x2 = x if flat else x.reshape(math.prod(x.shape[:-1]), x.shape[-1])
        if bias is not None and bias.shape != weight.shape[:1]:
            bias = get_array_module(x).broadcast_to(bias, weight.shape[:1])
        y = kernels.gemm(x2, weight, False, True, bias)
        self.save_for_backward(x, weight)
        return y if flat else y.reshape(x.shape[:-1] + (weight.shape[0],))

    def backward(self, xp, gy):
        x, weight = self.saved_tensors
        need_x, need_w, need_b = self.needs_input_grad
        m = math.prod(x.shape[:-1])
        if x.ndim == 2:
            gy2, x2 = gy, x
        elif gy.__class__ is np.ndarray:    # methods: np.reshape's dispatch costs more
            gy2, x2 = gy.reshape(m, weight.shape[0]), x.reshape(m, x.shape[-1])
        else:
            gy2 = xp.reshape(gy, (m, weight.shape[0]))
            x2 = xp.reshape(x, (m, x.shape[-1]))
        gx = gw = gb = None
        if self._graph_mode:
            if need_x:
                gx = xp.reshape(xp.matmul(gy2, weight), x.shape)
            if need_w:
                gw = xp.matmul(xp.permute_dims(gy2, (1, 0)), x2)
        else:
            if need_x:
                gx = kernels.gemm(gy2, weight).reshape(x.shape)
            if need_w:
                gw = kernels.gemm(gy2, x2, True, False)
        if need_b:
            gb = xp.sum(gy2, axis=0) if self._graph_mode else kernels.bias_grad(gy2)
        return gx, gw, gb


def linear(input, weight, bias=None):
    """y = input @ weight^T + bias; input (*, in_features), weight (out, in)."""
    # Checks on the arrays (Tensor.shape builds a Size per call): this runs
    # for every layer of every step.
    x, w = input.array, weight.array
    if w.ndim != 2 or x.ndim == 0:
        raise RuntimeError(f"linear: expected input (*, in_features) and a 2-D weight "
                           f"(out_features, in_features), got input of shape "
                           f"{tuple(x.shape)} and weight of shape {tuple(w.shape)}")
    if x.shape[-1] != w.shape[1]:
        rows = math.prod(x.shape[:-1])
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({rows}x{x.shape[-1]} "
                           f"and {w.shape[1]}x{w.shape[0]})")
    if x.dtype != w.dtype:
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: "
                           f"{_dtype_name(x.dtype)} != {_dtype_name(w.dtype)}")
    if bias is not None:
        b = bias.array
        if b.dtype != x.dtype:
            raise RuntimeError(f"linear: bias has dtype {b.dtype}, but input and weight "
                               f"have {x.dtype}")
        if b.ndim > 1 or b.size not in (1, w.shape[0]):
            raise RuntimeError(f"linear: bias of shape {tuple(b.shape)} does not broadcast "
                               f"to out_features={w.shape[0]}")
    return Linear.apply(input, weight, bias)


# --------------------------------------------------------------------------
# conv2d
# --------------------------------------------------------------------------


def _pair(value, name, fn):
    """An int or a 1-/2-sequence of ints as an (h, w) tuple."""
    if isinstance(value, (int, np.integer)):
        return (int(value), int(value))
    value = tuple(value)
    if len(value) == 1:
        value = value * 2
    if len(value) != 2 or not all(isinstance(v, (int, np.integer)) for v in value):
        raise RuntimeError(f"{fn}: {name} must either be a single int, or a tuple of two ints, "
                           f"got {value!r}")
    return (int(value[0]), int(value[1]))


def _same_padding(weight_shape, dilation):
    """PyTorch's 'same': total d*(k-1) per dim, the odd one on the bottom/right.
    Returns the symmetric part and the extra (h, w) padding at the end."""
    total = [d * (k - 1) for d, k in zip(dilation, weight_shape[2:])]
    padding = tuple(t // 2 for t in total)
    extra = tuple(t - 2 * p for t, p in zip(total, padding))
    return padding, extra


class Conv2d(Function):
    """2-D cross-correlation of x (N, C, H, W) with w (O, C/groups, kh, kw).

    Options: stride/padding/dilation (h, w) pairs, ``groups``, and ``extra``:
    zero rows/columns added at the bottom/right first (for an asymmetric
    'same' padding).  Groups run one kernel call each on their channel slice.
    """

    def forward(self, x, weight, bias, *, stride, padding, dilation, groups, extra):
        self.x_shape = x.shape
        self.geometry = (stride, padding, dilation)
        self.groups, self.extra = groups, extra
        if self.needs_input_grad[0] or self.needs_input_grad[1]:
            # the input itself, not its padded copy: create_graph differentiates
            # through it (and an in-place change of it is caught, as in PyTorch)
            self.save_for_backward(x, weight)
        if extra != (0, 0):
            x = self._pad_extra(x)
        if groups == 1:
            return kernels.conv2d_forward(x, weight, bias, *self.geometry)
        xs, ws = self._group_slices(x.shape[1], weight.shape[0])
        return get_array_module(x).concatenate(
            [kernels.conv2d_forward(x[:, cs], weight[ws_], None if bias is None else bias[ws_],
                                    *self.geometry)
             for cs, ws_ in zip(xs, ws)], axis=1)

    def _pad_extra(self, x):
        """x with the ``extra`` zero rows/columns at the bottom/right."""
        return get_array_module(x).pad(x, ((0, 0), (0, 0), (0, self.extra[0]),
                                           (0, self.extra[1])))

    def _group_slices(self, in_channels, out_channels):
        ci, co = in_channels // self.groups, out_channels // self.groups
        return ([slice(g * ci, (g + 1) * ci) for g in range(self.groups)],
                [slice(g * co, (g + 1) * co) for g in range(self.groups)])

    def backward(self, xp, gy):
        need_x, need_w, need_b = self.needs_input_grad
        gx = gw = gb = None
        if self._graph_mode and (need_x or need_w):
            # create_graph: the same gradients as differentiable convolutions
            # (these two call ConvTranspose2d and Conv2d, whose graph-mode
            # backwards call these again: every order works)
            from ._ops_conv_extra import _conv2d_input, _conv2d_weight
            x, weight = self.saved_tensors
            if need_x:
                gx = _conv2d_input(self.x_shape, weight, gy, *self.geometry, self.groups,
                                   self.extra)
            if need_w:
                gw = _conv2d_weight(x, weight.shape, gy, *self.geometry, self.groups,
                                    self.extra)
        elif need_x or need_w:
            x, weight = self.saved_tensors
            if self.extra != (0, 0):    # forward padded a copy that it did not keep
                x = self._pad_extra(x)
            xs, ws = self._group_slices(x.shape[1], weight.shape[0])
            if need_x:
                group_shape = (x.shape[0], x.shape[1] // self.groups) + x.shape[2:]
                gx = [kernels.conv2d_backward_input(gy[:, o], weight[o], group_shape,
                                                    *self.geometry) for o in ws]
                gx = gx[0] if self.groups == 1 else xp.concatenate(gx, axis=1)
                H, W = self.x_shape[2:]
                if gx.shape[2:] != (H, W):   # drop the extra 'same' padding
                    gx = gx[:, :, :H, :W]
            if need_w:
                gw = [kernels.conv2d_backward_weight(gy[:, o], x[:, c], weight[o].shape,
                                                     *self.geometry) for c, o in zip(xs, ws)]
                gw = gw[0] if self.groups == 1 else xp.concatenate(gw, axis=0)
        if need_b:
            gb = xp.sum(gy, axis=(0, 2, 3)) if self._graph_mode else kernels.bias_grad(gy)
        return gx, gw, gb


def _check_conv_geometry(stride, padding, dilation):
    """PyTorch's checks of a (transposed) convolution's geometry, its messages."""
    if min(stride) < 1:
        raise RuntimeError("non-positive stride is not supported")
    if min(dilation) < 1:
        raise RuntimeError("dilation should be greater than zero")
    if min(padding) < 0:
        raise RuntimeError("negative padding is not supported")


def _check_conv2d(input, weight, bias, stride, padding, dilation, groups):
    """PyTorch's conv2d argument errors (RuntimeError, same wording)."""
    if input.ndim not in (3, 4):
        raise RuntimeError(f"Expected 3D (unbatched) or 4D (batched) input to conv2d, but got "
                           f"input of size: {list(input.shape)}")
    if weight.ndim != 4:
        raise RuntimeError(f"conv2d: expected a 4-D weight (out_channels, in_channels/groups, "
                           f"kH, kW), got weight of size {list(weight.shape)}")
    if not isinstance(groups, (int, np.integer)) or groups < 1:
        raise RuntimeError(f"non-positive groups is not supported, got groups={groups!r}")
    if weight.shape[0] % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} "
                           f"at dimension 0, but got weight of size {list(weight.shape)} instead")
    channels = input.shape[-3]
    if channels != weight.shape[1] * groups:
        raise RuntimeError(f"Given groups={groups}, weight of size {list(weight.shape)}, expected "
                           f"input{list(input.shape)} to have {weight.shape[1] * groups} channels, "
                           f"but got {channels} channels instead")
    if input.dtype != weight.dtype:
        raise RuntimeError(f"Input type ({_dtype_name(input.dtype)}) and weight type "
                           f"({_dtype_name(weight.dtype)}) should be the same")
    if bias is not None:
        if bias.dtype != input.dtype:
            raise RuntimeError(f"Input type ({_dtype_name(input.dtype)}) and bias type "
                               f"({_dtype_name(bias.dtype)}) should be the same")
        if bias.shape != (weight.shape[0],):
            raise RuntimeError(f"Given weight of size {list(weight.shape)}, expected bias to be "
                               f"1-dimensional with {weight.shape[0]} elements, but got bias of "
                               f"size {list(bias.shape)} instead")
    _check_conv_geometry(stride, padding, dilation)
    padded = tuple(n + 2 * p for n, p in zip(input.shape[-2:], padding))
    extent = tuple(d * (k - 1) + 1 for d, k in zip(dilation, weight.shape[2:]))
    if padded[0] < extent[0] or padded[1] < extent[1]:
        raise RuntimeError(f"Calculated padded input size per channel: ({padded[0]} x "
                           f"{padded[1]}). Kernel size: ({extent[0]} x {extent[1]}). Kernel size "
                           f"can't be greater than actual input size")


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (cross-correlation) with PyTorch's signature.

    input (N, C, H, W) or unbatched (C, H, W); weight (O, C/groups, kH, kW);
    bias (O,) or None; padding an int, a pair, 'valid' or 'same'.
    """
    stride = _pair(stride, "stride", "conv2d")
    dilation = _pair(dilation, "dilation", "conv2d")
    extra = (0, 0)
    if isinstance(padding, str):
        if padding == "valid":
            padding = (0, 0)
        elif padding == "same":
            if stride != (1, 1):
                raise RuntimeError("padding='same' is not supported for strided convolutions")
            padding, extra = _same_padding(weight.shape, dilation)
        else:
            raise RuntimeError(f"Invalid padding string: {padding!r}")
    else:
        padding = _pair(padding, "padding", "conv2d")
    _check_conv2d(input, weight, bias, stride, padding, dilation, groups)
    batched = input.ndim == 4
    x = input if batched else ops.unsqueeze(input, 0)
    y = Conv2d.apply(x, weight, bias, stride=stride, padding=padding, dilation=dilation,
                     groups=int(groups), extra=extra)
    return y if batched else ops.squeeze(y, 0)


# --------------------------------------------------------------------------
# pooling
# --------------------------------------------------------------------------


class MaxPool2d(Function):
    """Max over windows of x (N, C, H, W); the argmax indices (flat h*W + w
    per plane) are kept for backward, and handed out through ``sink``."""

    indices_checked = False   # see forward

    def forward(self, x, *, kernel_size, stride, padding, dilation, ceil_mode, sink):
        y, indices = kernels.max_pool2d_forward(x, kernel_size, stride, padding, dilation,
                                                ceil_mode)
        if self.needs_input_grad[0]:
            self.indices, self.x_shape = indices, x.shape
        # indices that no one else holds cannot change before backward: the GPU
        # kernel need not check them again (a host sync)
        self.indices_checked = sink is None
        if sink is not None:
            sink.append(indices)
        return y

    def backward(self, xp, gy):
        if self._graph_mode:
            return ScatterAtIndices.apply(gy, indices=self.indices, x_shape=self.x_shape)
        return kernels.max_pool2d_backward(gy, self.indices, self.x_shape,
                                           indices_checked=self.indices_checked)


# A pooling's input gradient is a linear map of gy, and the gradient of that map is
# its adjoint: for max pooling (indices fixed) scatter and gather, for average
# pooling the pooling itself.  Each map's backward under create_graph is the other
# one's Function, so poolings can be differentiated to any order, as in PyTorch.

class ScatterAtIndices(Function):
    """gx (N, C, H, W) of a max pooling: each gy (N, C, oh, ow) added at its
    window's argmax (``indices``, flat h*W + w per plane)."""

    def forward(self, gy, *, indices, x_shape):
        self.indices, self.x_shape = indices, x_shape
        return kernels.max_pool2d_backward(gy, indices, x_shape)

    def backward(self, xp, ggx):
        if self._graph_mode:
            return GatherAtIndices.apply(ggx, indices=self.indices, x_shape=self.x_shape)
        return _gather_planes(ggx, self.indices)


class GatherAtIndices(Function):
    """x (N, C, H, W) read at ``indices`` (N, C, oh, ow), flat h*W + w per plane."""

    def forward(self, x, *, indices, x_shape):
        self.indices, self.x_shape = indices, x_shape
        return _gather_planes(x, indices)

    def backward(self, xp, gy):
        if self._graph_mode:
            return ScatterAtIndices.apply(gy, indices=self.indices, x_shape=self.x_shape)
        return kernels.max_pool2d_backward(gy, self.indices, self.x_shape)


def _gather_planes(x, indices):
    n, c = indices.shape[:2]
    flat = get_array_module(x).take_along_axis(x.reshape(n, c, -1), indices.reshape(n, c, -1), 2)
    return flat.reshape(indices.shape)


class AvgPool2d(Function):
    """Mean over windows of x (N, C, H, W) (PyTorch's divisor rules)."""

    def forward(self, x, *, options):
        self.options = options
        self.x_shape = x.shape
        return kernels.avg_pool2d_forward(x, *options)

    def backward(self, xp, gy):
        if self._graph_mode:
            return AvgPool2dAdjoint.apply(gy, x_shape=self.x_shape, options=self.options)
        return kernels.avg_pool2d_backward(gy, self.x_shape, *self.options)


class AvgPool2dAdjoint(Function):
    """gx of an average pooling: each gy spread over its window, divided as the
    forward divided.  Its own gradient is the average pooling."""

    def forward(self, gy, *, x_shape, options):
        self.options = options
        return kernels.avg_pool2d_backward(gy, x_shape, *options)

    def backward(self, xp, ggx):
        if self._graph_mode:
            return AvgPool2d.apply(ggx, options=self.options)
        return kernels.avg_pool2d_forward(ggx, *self.options)


def _pool_args(input, kernel_size, stride, fn):
    if input.ndim not in (3, 4):
        raise RuntimeError(f"{fn}: expected 3D (unbatched) or 4D (batched) input, got input of "
                           f"size: {list(input.shape)}")
    if input.dtype not in (np.float32, np.float64):
        raise RuntimeError(f"{fn}: only float32 and float64 inputs are supported, got "
                           f"{input.dtype}")
    kernel_size = _pair(kernel_size, "kernel_size", fn)
    if stride is None or (not isinstance(stride, (int, np.integer)) and len(stride) == 0):
        stride = kernel_size
    return kernel_size, _pair(stride, "stride", fn)


def _batched(fn, input, *args, **kwargs):
    """Run a 4-D op on (C, H, W) input too, like PyTorch's unbatched mode."""
    if input.ndim == 4:
        return fn(input, *args, **kwargs)
    return ops.squeeze(fn(ops.unsqueeze(input, 0), *args, **kwargs), 0)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Max pooling; with return_indices also the int64 argmax (flat h*W + w)."""
    kernel_size, stride = _pool_args(input, kernel_size, stride, "max_pool2d")
    options = dict(kernel_size=kernel_size, stride=stride,
                   padding=_pair(padding, "padding", "max_pool2d"),
                   dilation=_pair(dilation, "dilation", "max_pool2d"), ceil_mode=bool(ceil_mode))
    sink = [] if return_indices else None
    y = _batched(lambda x: MaxPool2d.apply(x, sink=sink, **options), input)
    if not return_indices:
        return y
    indices = sink[0] if input.ndim == 4 else sink[0][0]
    return y, Tensor(indices)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """Average pooling with PyTorch's divisor rules."""
    kernel_size, stride = _pool_args(input, kernel_size, stride, "avg_pool2d")
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("divisor must be not zero")
    options = (kernel_size, stride, _pair(padding, "padding", "avg_pool2d"), bool(ceil_mode),
               bool(count_include_pad), divisor_override)     # the kernel checks it is an int
    return _batched(lambda x: AvgPool2d.apply(x, options=options), input)


def _adaptive_matrix(size, out, dtype):
    """(out, size) averaging matrix of PyTorch's adaptive windows
    [floor(i*size/out), ceil((i+1)*size/out))."""
    a = np.zeros((out, size), dtype=dtype)
    for i in range(out):
        start, end = (i * size) // out, -((-(i + 1) * size) // out)
        a[i, start:end] = 1.0 / (end - start)
    return a


def _adaptive_size(input, output_size, fn):
    """(H, W, oh, ow) for an adaptive pooling of ``input`` to ``output_size``."""
    if input.ndim not in (3, 4):
        raise RuntimeError(f"{fn}: expected 3D or 4D input, got input of size: "
                           f"{list(input.shape)}")
    H, W = input.shape[-2:]
    if isinstance(output_size, (int, np.integer)) or output_size is None:
        output_size = (output_size, output_size)
    size = tuple(output_size)
    if len(size) != 2:
        raise RuntimeError(f"{fn}: output_size must be an int or a pair, got {output_size!r}")
    oh = H if size[0] is None else int(size[0])
    ow = W if size[1] is None else int(size[1])
    if oh < 0 or ow < 0:
        raise RuntimeError(f"{fn}: output_size must be >= 0, got {(oh, ow)}")
    return H, W, oh, ow


def adaptive_avg_pool2d(input, output_size):
    """Average pooling to ``output_size`` (an int, or (h, w) with None = keep)."""
    H, W, oh, ow = _adaptive_size(input, output_size, "adaptive_avg_pool2d")
    if 0 in tuple(input.shape[-3:]):
        raise RuntimeError(f"adaptive_avg_pool2d(): Expected input to have non-zero size for "
                           f"non-batch dimensions, but input has sizes {list(input.shape)}")
    if oh and ow and H % oh == 0 and W % ow == 0 and H and W:
        return avg_pool2d(input, (H // oh, W // ow))
    xp = get_array_module(input.array)
    rows = Tensor(xp.asarray(_adaptive_matrix(H, oh, input.dtype)))
    cols = Tensor(xp.asarray(_adaptive_matrix(W, ow, input.dtype).T))
    return ops.matmul(ops.matmul(rows, input), cols)



def _adaptive_windows(size, out):
    """PyTorch's adaptive windows [floor(i*size/out), ceil((i+1)*size/out)), i < out."""
    return [((i * size) // out, -((-(i + 1) * size) // out)) for i in range(out)]


class AdaptiveMaxPool2d(Function):
    """Max over PyTorch's adaptive windows of x (N, C, H, W), for sizes that
    do not divide (those run as max_pool2d).  The windows differ in size and
    may overlap, so the forward takes them one by one (out_h * out_w array
    reductions over N and C); the backward is max_pool2d's: each gradient
    added at its argmax (flat h*W + w, first maximum; the last NaN wins, as in
    PyTorch's adaptive kernel)."""

    def forward(self, x, *, output_size, sink):
        xp = get_array_module(x)
        N, C, H, W = x.shape
        oh, ow = output_size
        y = xp.empty((N, C, oh, ow), dtype=x.dtype)
        indices = xp.empty((N, C, oh, ow), dtype=np.int64)
        for i, (h0, h1) in enumerate(_adaptive_windows(H, oh)):
            for j, (w0, w1) in enumerate(_adaptive_windows(W, ow)):
                window = x[:, :, h0:h1, w0:w1].reshape(N, C, (h1 - h0) * (w1 - w0))
                a = xp.argmax(window, axis=2)      # the first maximum, or the first NaN
                nan = xp.isnan(window)
                if nan.any():   # PyTorch's adaptive kernel takes every NaN it meets: the last
                    last = window.shape[2] - 1 - xp.argmax(nan[..., ::-1], axis=2)
                    a = xp.where(nan.any(axis=2), last, a)
                y[:, :, i, j] = xp.take_along_axis(window, a[..., None], axis=2)[..., 0]
                indices[:, :, i, j] = (h0 + a // (w1 - w0)) * W + w0 + a % (w1 - w0)
        if self.needs_input_grad[0]:
            self.indices, self.x_shape = indices, x.shape
        if sink is not None:
            sink.append(indices)
        return y

    indices_checked = False   # they may have been handed out (sink): checked again
    backward = MaxPool2d.backward


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Max pooling to ``output_size`` (an int, or (h, w) with None = keep);
    with return_indices also the int64 argmax (flat h*W + w per plane)."""
    H, W, oh, ow = _adaptive_size(input, output_size, "adaptive_max_pool2d")
    if input.dtype not in (np.float32, np.float64):
        raise RuntimeError(f"adaptive_max_pool2d: only float32 and float64 inputs are "
                           f"supported, got {input.dtype}")
    if 0 in tuple(input.shape[-3:]):
        raise RuntimeError(f"adaptive_max_pool2d(): Expected input to have non-zero size for "
                           f"non-batch dimensions, but input has sizes {list(input.shape)}")
    if oh and ow and H % oh == 0 and W % ow == 0:
        return max_pool2d(input, (H // oh, W // ow), return_indices=return_indices)
    sink = [] if return_indices else None
    y = _batched(lambda x: AdaptiveMaxPool2d.apply(x, output_size=(oh, ow), sink=sink), input)
    if not return_indices:
        return y
    indices = sink[0] if input.ndim == 4 else sink[0][0]
    return y, Tensor(indices)
