"""More of torch.nn.functional, written with the core differentiable ops:
piecewise activations (hardsigmoid, hardswish, hardshrink, softshrink,
tanhshrink, threshold, prelu, rrelu, glu, softmin), pixel_shuffle /
pixel_unshuffle, dropout1d, instance_norm (batch norm over a (1, N*C, ...)
view, as PyTorch does it), rms_norm, and unfold / fold (im2col as a gather of
the padded image, and its adjoint as an index_add).

Piecewise functions pick their pieces with ``where``, so that the gradient at
a breakpoint is the piece PyTorch's backward formula picks there (the
comparisons below are PyTorch's, strict or not).
"""
import math

import numpy as np

from .. import ops
from ..backend import get_array_module
from ..random import get_rng
from ..tensor import Tensor
from ._ops_norm import _apply_dropout, batch_norm

__all__ = ["hardsigmoid", "hardswish", "hardshrink", "softshrink", "tanhshrink", "threshold",
           "threshold_", "prelu", "rrelu", "rrelu_", "glu", "softmin", "pixel_shuffle",
           "pixel_unshuffle", "dropout1d", "instance_norm", "rms_norm", "unfold", "fold"]


def _float(input, name):
    if input.array.dtype.kind != "f":
        raise NotImplementedError(f"{name}: not implemented for integer or bool tensors (got "
                                  f"{input.array.dtype}); convert with .float() first")
    return input


def _result(input, out, inplace):
    """out, or written into input (PyTorch's inplace=True), recorded in the graph."""
    if not inplace:
        return out
    input[...] = out
    return input


def hardsigmoid(input, inplace=False):
    """0 for x <= -3, 1 for x >= 3, else (x + 3) / 6 (gradient 1/6 strictly inside)."""
    x = _float(input, "hardsigmoid")
    out = ops.where(x <= -3, 0.0, ops.where(x >= 3, 1.0, (x + 3) / 6))
    return _result(input, out, inplace)


def hardswish(input, inplace=False):
    """x * hardsigmoid(x): 0 for x <= -3, x for x >= 3, else x (x + 3) / 6
    (gradient 0 at -3 and 1 at 3, as PyTorch's backward)."""
    x = _float(input, "hardswish")
    out = ops.where(x <= -3, 0.0, ops.where(x >= 3, x, x * (x + 3) / 6))
    return _result(input, out, inplace)


def hardshrink(input, lambd=0.5):
    """x where |x| > lambd, else 0."""
    x = _float(input, "hardshrink")
    return ops.where((x > lambd) | (x < -lambd), x, 0.0)


def softshrink(input, lambd=0.5):
    """x - lambd above lambd, x + lambd below -lambd, else 0."""
    if lambd < 0:
        raise RuntimeError(f"lambda must be greater or equal to 0, but found to be {lambd}.")
    x = _float(input, "softshrink")
    return ops.where(x > lambd, x - lambd, ops.where(x < -lambd, x + lambd, 0.0))


def tanhshrink(input):
    """x - tanh(x)."""
    return input - ops.tanh(_float(input, "tanhshrink"))


def threshold(input, threshold, value, inplace=False):
    """x where x > threshold, else value."""
    out = ops.where(input > threshold, input, value)
    return _result(input, out, inplace)


def threshold_(input, threshold, value):
    return _threshold(input, threshold, value, inplace=True)


_threshold = threshold     # the name the parameters above shadow


def prelu(input, weight):
    """x where x > 0, else weight * x; weight has 1 or C (= input.shape[1]) values."""
    x = _float(input, "prelu")
    n = weight.numel()
    channels = x.shape[1] if x.ndim >= 2 else 1
    if n != 1 and n != channels:
        raise RuntimeError(f"Mismatch of parameter numbers and input channel size. Found "
                           f"parameter numbers = {n} and channel size = {channels}.")
    if weight.ndim > 1:
        raise RuntimeError(f"prelu: Expected `weight` to be a scalar or 1D tensor, but got: "
                           f"ndim = {weight.ndim}")
    shape = [1] * x.ndim
    if n > 1:
        shape[1] = n
    w = weight.reshape(shape) if x.ndim else weight.reshape(())
    return ops.where(x > 0, x, w * x)


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):
    """Randomized leaky ReLU: negative x times a slope drawn from U(lower, upper)
    per element while training; the mean slope (lower + upper) / 2 otherwise."""
    x = _float(input, "rrelu")
    if not training:
        out = ops.where(x > 0, x, x * ((lower + upper) / 2))
    else:
        slope = get_rng().uniform(lower, upper, size=tuple(x.shape)).astype(x.array.dtype)
        out = ops.where(x > 0, x, x * Tensor(get_array_module(x.array).asarray(slope)))
    return _result(input, out, inplace)


def rrelu_(input, lower=1.0 / 8, upper=1.0 / 3, training=False):
    return rrelu(input, lower, upper, training, inplace=True)


def glu(input, dim=-1):
    """a * sigmoid(b), with a and b the two halves of ``dim``."""
    if input.ndim == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    d = dim % input.ndim
    if input.shape[d] % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {d} is size "
                           f"{input.shape[d]}")
    a, b = ops.chunk(_float(input, "glu"), 2, d)
    return a * ops.sigmoid(b)


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    """softmax(-x) along ``dim``."""
    from .functional import softmax
    return softmax(-input if dtype is None else -input.to(dtype), dim)


def _shuffle_check(input, name):
    if input.ndim < 3:
        raise RuntimeError(f"{name} expects input to have at least 3 dimensions, but got input "
                           f"with {input.ndim} dimension(s)")


def pixel_shuffle(input, upscale_factor):
    """(*, C r^2, H, W) -> (*, C, H r, W r): sub-pixel convolution's rearrangement."""
    _shuffle_check(input, "pixel_shuffle")
    r = int(upscale_factor)
    if r <= 0:
        raise RuntimeError(f"pixel_shuffle expects a positive upscale_factor, but got {r}")
    *batch, c, h, w = input.shape
    if c % (r * r):
        raise RuntimeError(f"pixel_shuffle expects its input's 'channel' dimension to be "
                           f"divisible by the square of upscale_factor, but input.size(-3)={c} "
                           f"is not divisible by {r * r}")
    nb = len(batch)
    x = input.reshape(*batch, c // (r * r), r, r, h, w)
    x = x.permute(*range(nb), nb, nb + 3, nb + 1, nb + 4, nb + 2)
    return x.reshape(*batch, c // (r * r), h * r, w * r)


def pixel_unshuffle(input, downscale_factor):
    """(*, C, H r, W r) -> (*, C r^2, H, W): pixel_shuffle's inverse."""
    _shuffle_check(input, "pixel_unshuffle")
    r = int(downscale_factor)
    if r <= 0:
        raise RuntimeError(f"pixel_unshuffle expects a positive downscale_factor, but got {r}")
    *batch, c, h, w = input.shape
    if h % r or w % r:
        which, size = ("height", h) if h % r else ("width", w)
        raise RuntimeError(f"pixel_unshuffle expects {which} to be divisible by "
                           f"downscale_factor, but input.size({-2 if which == 'height' else -1})"
                           f"={size} is not divisible by {r}")
    nb = len(batch)
    x = input.reshape(*batch, c, h // r, r, w // r, r)
    x = x.permute(*range(nb), nb, nb + 2, nb + 4, nb + 1, nb + 3)
    return x.reshape(*batch, c * r * r, h // r, w // r)


def dropout1d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of (N, C, L) or (C, L) input, scaled by 1 / (1 - p)."""
    if p < 0 or p > 1:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if input.ndim not in (2, 3):
        raise RuntimeError(f"dropout1d: Expected 2D or 3D input, but received a {input.ndim}D "
                           f"input. Note that dropout1d exists to provide channel-wise dropout on "
                           f"inputs with 1 spatial dimension, a channel dimension, and an "
                           f"optional batch dimension (i.e. 2D or 3D inputs).")
    return _apply_dropout(input, p, training, inplace, block=input.shape[-1] or 1)


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats=True, momentum=0.1, eps=1e-5):
    """Each (n, c) slice normalised over its own positions: PyTorch's way, batch
    norm of the (1, N*C, ...) view with the per-channel weights and running
    statistics repeated N times (the statistics then averaged back over N)."""
    if input.ndim < 2:
        raise ValueError(f"Expected 2D or more input (got {input.ndim}D input)")
    if use_input_stats and math.prod(input.shape[2:]) <= 1:
        raise ValueError(f"Expected more than 1 spatial element when training, got input size "
                         f"{list(input.shape)}")
    n, c = input.shape[:2]
    x = input.reshape(1, n * c, *input.shape[2:])
    rm, rv = (None if t is None else Tensor(get_array_module(t.array).tile(t.array, n))
              for t in (running_mean, running_var))
    w = None if weight is None else ops.repeat(weight, n)
    b = None if bias is None else ops.repeat(bias, n)
    y = batch_norm(x, rm, rv, w, b, training=use_input_stats, momentum=momentum, eps=eps)
    if use_input_stats:     # the running statistics: their mean over the batch
        for kept, tiled in ((running_mean, rm), (running_var, rv)):
            if kept is not None:
                kept.array[...] = tiled.array.reshape(n, c).mean(axis=0)
                kept._bump_version()
    return y.reshape(input.shape)


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """x / sqrt(mean(x^2) + eps) over the last len(normalized_shape) dims (times
    weight); eps None is the dtype's machine epsilon, as in PyTorch."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if tuple(input.shape[input.ndim - len(shape):]) != shape or len(shape) > input.ndim:
        raise RuntimeError(f"Given normalized_shape={list(shape)}, expected input with shape "
                           f"[*, {', '.join(map(str, shape))}], but got input of size"
                           f"{list(input.shape)}")
    x = _float(input, "rms_norm")
    if eps is None:
        eps = float(np.finfo(x.array.dtype).eps)
    dims = tuple(range(x.ndim - len(shape), x.ndim))
    y = x * ops.rsqrt((x * x).mean(dims, keepdim=True) + eps)
    return y if weight is None else y * weight


# -- unfold / fold (im2col and its adjoint) ----------------------------------------

def _pair2(v, name):
    pair = (v, v) if isinstance(v, int) else tuple(v)
    if len(pair) != 2:
        raise ValueError(f"{name} must be an int or a pair of ints, got {v!r}")
    return tuple(int(p) for p in pair)


def _blocks(size, kernel, dilation, padding, stride):
    """(rows, cols) index arrays (k_h*k_w, L) of every block's taps in the padded
    image of ``size``, and the number of blocks per axis."""
    counts, taps = [], []
    for n, k, d, p, s in zip(size, kernel, dilation, padding, stride):
        count = (n + 2 * p - d * (k - 1) - 1) // s + 1
        counts.append(count)
        taps.append(np.arange(k)[:, None] * d + np.arange(max(count, 0))[None, :] * s)  # (k, n)
    (kh, kw), (nh, nw) = kernel, counts
    rows = np.broadcast_to(taps[0][:, None, :, None], (kh, kw, nh, max(nw, 0)))
    cols = np.broadcast_to(taps[1][None, :, None, :], (kh, kw, max(nh, 0), nw))
    return rows.reshape(kh * kw, -1), cols.reshape(kh * kw, -1), counts


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """(N, C, H, W) -> (N, C * k_h * k_w, L): every k_h x k_w block (im2col),
    columns in row-major block order, as torch.nn.functional.unfold."""
    if input.ndim not in (3, 4):
        raise NotImplementedError(f"Input Error: Only 3D or 4D input Tensors are supported "
                                  f"(got {input.ndim}D)")
    if input.ndim == 3:
        return unfold(input.unsqueeze(0), kernel_size, dilation, padding, stride).squeeze(0)
    k, d, p, s = (_pair2(v, name) for v, name in ((kernel_size, "kernel_size"),
                                                   (dilation, "dilation"), (padding, "padding"),
                                                   (stride, "stride")))
    n, c, h, w = input.shape
    rows, cols, counts = _blocks((h, w), k, d, p, s)
    if min(counts) < 1:
        raise RuntimeError(f"Given input with spatial size ({h}, {w}), kernel_size={k}, "
                           f"dilation={d}, padding={p}, calculated shape of the array of sliding "
                           f"blocks as ({counts[0]}, {counts[1]}), but its components must be at "
                           f"least one.")
    from .functional import pad as _pad
    x = _pad(input, (p[1], p[1], p[0], p[0])) if any(p) else input
    xp = get_array_module(x.array)
    blocks = x[:, :, xp.asarray(rows), xp.asarray(cols)]          # (N, C, k_h k_w, L)
    return blocks.reshape(n, c * k[0] * k[1], rows.shape[1])


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """(N, C * k_h * k_w, L) -> (N, C, H, W): blocks summed back where they
    overlap (unfold's adjoint), as torch.nn.functional.fold."""
    if input.ndim not in (2, 3):
        raise NotImplementedError(f"Input Error: Only unbatched (2D) or batched (3D) input "
                                  f"Tensors are supported (got {input.ndim}D)")
    if input.ndim == 2:
        return fold(input.unsqueeze(0), output_size, kernel_size, dilation, padding,
                    stride).squeeze(0)
    size, k, d, p, s = (_pair2(v, name) for v, name in (
        (output_size, "output_size"), (kernel_size, "kernel_size"), (dilation, "dilation"),
        (padding, "padding"), (stride, "stride")))
    n, ckk, length = input.shape
    if ckk % (k[0] * k[1]):
        raise RuntimeError(f"Expected size of input's dimension 1 to be divisible by the product "
                           f"of kernel_size, but got input.size(1)={ckk} and "
                           f"kernel_size={k}")
    rows, cols, counts = _blocks(size, k, d, p, s)
    if counts[0] * counts[1] != length:
        raise RuntimeError(f"Given output_size={size}, kernel_size={k}, dilation={d}, "
                           f"padding={p}, stride={s}, expected size of input's dimension 2 to "
                           f"match the calculated number of sliding blocks {counts[0]} * "
                           f"{counts[1]} = {counts[0] * counts[1]}, but got "
                           f"input.size(2)={length}.")
    c = ckk // (k[0] * k[1])
    hp, wp = size[0] + 2 * p[0], size[1] + 2 * p[1]
    xp = get_array_module(input.array)
    flat = xp.asarray((rows * wp + cols).reshape(-1))
    out = ops.index_add(Tensor(xp.zeros((n, c, hp * wp), dtype=input.array.dtype)), 2,
                        Tensor(flat), input.reshape(n, c, -1))
    out = out.reshape(n, c, hp, wp)
    return out[:, :, p[0]:p[0] + size[0], p[1]:p[1] + size[1]] if any(p) else out
