"""NumPy twins of the 2-D pooling kernels (csrc/pool.pyx).

x is (N, C, H, W) float32/float64; ``kernel_size``, ``stride``, ``padding``
and ``dilation`` are (h, w) pairs of ints.  Semantics are PyTorch's:

* output size floor((H + 2p - d(k-1) - 1) / s) + 1, or with ``ceil_mode``
  the ceiling, minus one if the last window would start in the right padding;
* max pooling pads with -inf; its indices (int64) are flat offsets h * W + w
  into each (n, c) plane; NaN wins (the last NaN of a window), ties go to the
  first maximum; a window of only -inf points at its first in-bounds element,
  and a window with no in-bounds element at all (possible only with dilation
  and padding on a tiny input) gives -inf and index -1, which backward skips
  (PyTorch returns an out-of-range index there and its backward corrupts memory);
* average pooling divides by the window size clipped to the padded input
  (``count_include_pad``), by the in-bounds size, or by ``divisor_override``.

Resampling (``F.interpolate``): each output row/column is a weighted sum of
k source rows/columns, the "taps" of its axis: (index, weight), an int64
(output length, k) array of indices in [0, size) and a (output length, k)
array of weights in x's dtype, or weight None for k = 1 (a copy: nearest);
None keeps the axis as it is.  k is 1 (nearest), 2 (linear) or 4 (cubic).
The sums group as PyTorch's kernels do, the columns first, taps left to right:
y = sum_i h_i (sum_j w_j x[hi, wj]).
"""
import numpy as np

from ..backend import get_array_module

__all__ = ["max_pool2d_forward", "max_pool2d_backward",
           "avg_pool2d_forward", "avg_pool2d_backward",
           "resample2d_forward", "resample2d_backward"]


def pool_output_size(size, kernel, stride, padding, dilation, ceil_mode):
    """PyTorch's pooling_output_shape for one spatial dim."""
    out = (size + 2 * padding - dilation * (kernel - 1) - 1 + (stride - 1 if ceil_mode else 0)) \
        // stride + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1   # the last window must start inside the input or the left padding
    return out


def _output_shape(x_shape, kernel_size, stride, padding, dilation, ceil_mode, fn):
    """Validate a pooling geometry like PyTorch; return (OH, OW)."""
    if len(x_shape) != 4:
        raise ValueError(f"{fn}: expected a 4-D input (N, C, H, W), got shape {tuple(x_shape)}")
    if min(kernel_size) < 1 or min(stride) < 1 or min(dilation) < 1:
        raise ValueError(f"{fn}: kernel_size, stride and dilation must be positive, got "
                         f"kernel_size={tuple(kernel_size)} stride={tuple(stride)} "
                         f"dilation={tuple(dilation)}")
    for k, p, d in zip(kernel_size, padding, dilation):
        if p < 0 or p > (d * (k - 1) + 1) // 2:
            raise ValueError(f"{fn}: pad should be at most half of effective kernel size, "
                             f"but got pad={p}, kernel_size={k} and dilation={d}")
    out = tuple(pool_output_size(x_shape[2 + i], kernel_size[i], stride[i], padding[i],
                                 dilation[i], ceil_mode) for i in range(2))
    if min(out) < 1:
        raise ValueError(f"{fn}: given input size {tuple(x_shape[1:])}, the calculated "
                         f"output size {(x_shape[1],) + out} is too small")
    return out


def _padded_windows(x, kernel_size, stride, padding, dilation, out, fill):
    """(N, C, OH, OW, kh, kw) view of every pooling window of x padded with
    ``fill``; with ceil_mode the bottom/right padding grows to fit the last window."""
    xp = get_array_module(x)
    pads = [(0, 0), (0, 0)]
    for i in range(2):
        needed = (out[i] - 1) * stride[i] + dilation[i] * (kernel_size[i] - 1) + 1
        pads.append((padding[i], max(0, needed - x.shape[2 + i] - padding[i])))
    xpad = xp.pad(x, pads, constant_values=fill)
    extent = tuple(dilation[i] * (kernel_size[i] - 1) + 1 for i in range(2))
    win = xp.lib.stride_tricks.sliding_window_view(xpad, extent, axis=(2, 3))
    (sh, sw), (dh, dw) = stride, dilation
    return win[:, :, :sh * (out[0] - 1) + 1:sh, :sw * (out[1] - 1) + 1:sw, ::dh, ::dw]


def _first_valid_tap(out, size, stride, padding, dilation):
    """Per output position (out: an arange): the first window tap inside
    the input, and whether there is one at all."""
    xp = get_array_module(out)
    start = out * stride - padding
    skip = xp.where(start < 0, (-start + dilation - 1) // dilation, 0)
    first = start + skip * dilation
    return first, first < size


def max_pool2d_forward(x, kernel_size, stride, padding, dilation, ceil_mode):
    """(y (N, C, OH, OW), indices int64 (N, C, OH, OW)) of max pooling."""
    xp = get_array_module(x)
    out = _output_shape(x.shape, kernel_size, stride, padding, dilation, ceil_mode,
                        "max_pool2d_forward")
    N, C, H, W = x.shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel_size, stride, padding, dilation
    win = _padded_windows(x, kernel_size, stride, padding, dilation, out, -xp.inf)
    win = win.reshape(N, C, out[0], out[1], kh * kw)
    tap = xp.argmax(win, axis=-1)        # first maximum; NaN counts as the maximum
    nan = xp.isnan(win)
    last_nan = kh * kw - 1 - xp.argmax(nan[..., ::-1], axis=-1)
    tap = xp.where(nan.any(axis=-1), last_nan, tap)
    y = xp.take_along_axis(win, tap[..., None], axis=-1)[..., 0]

    oh = xp.arange(out[0])[:, None]
    ow = xp.arange(out[1])[None, :]
    ih = oh * sh - ph + (tap // kw) * dh
    iw = ow * sw - pw + (tap % kw) * dw
    indices = ih * W + iw
    # No element beat -inf: PyTorch keeps its initial choice, the first
    # in-bounds tap (argmax may have picked a padding position).
    first_h, any_h = _first_valid_tap(oh, H, sh, ph, dh)
    first_w, any_w = _first_valid_tap(ow, W, sw, pw, dw)
    first = xp.where(any_h & any_w, first_h * W + first_w, -1)
    indices = xp.where(y == -xp.inf, first, indices).astype(xp.int64)
    return xp.ascontiguousarray(y), indices


def max_pool2d_backward(gy, indices, x_shape, indices_checked=False):
    """gx (x_shape): each gy element added at its argmax (indices from forward).

    ``indices_checked``: the caller vouches that the indices are max_pool2d_forward's,
    unchanged (the autograd Function does when it never handed them out); an
    implementation may then skip checking them again (the GPU's check is a
    host sync).  Out-of-range indices are never followed either way."""
    xp = get_array_module(gy)
    N, C, H, W = x_shape
    if gy.shape != indices.shape or gy.ndim != 4 or gy.shape[:2] != (N, C):
        raise ValueError(f"max_pool2d_backward: gy {gy.shape} and indices {indices.shape} "
                         f"do not match the input shape {tuple(x_shape)}")
    if indices.size and (int(indices.min()) < -1 or int(indices.max()) >= H * W):
        raise IndexError(f"max_pool2d_backward: indices must lie in [0, {H * W}) (or be -1 "
                         f"for an empty window) for a {H}x{W} input")
    empty = indices < 0
    plane = xp.arange(N * C, dtype=xp.int64).reshape(N, C, 1, 1) * (H * W)
    gx = xp.bincount((xp.where(empty, 0, indices) + plane).ravel(),
                     weights=xp.where(empty, 0, gy).ravel(), minlength=N * C * H * W)
    return gx.astype(gy.dtype, copy=False).reshape(x_shape)


def _avg_divisor(xp, x_shape, kernel_size, stride, padding, out, count_include_pad,
                 divisor_override):
    """(OH, OW) array of the divisor of each window."""
    if divisor_override is not None:
        return xp.full(out, divisor_override)
    sizes = []
    for i in range(2):
        start = xp.arange(out[i]) * stride[i] - padding[i]
        end = xp.minimum(start + kernel_size[i], x_shape[2 + i] + padding[i])
        if not count_include_pad:
            start, end = xp.maximum(start, 0), xp.minimum(end, x_shape[2 + i])
        sizes.append(end - start)
    return sizes[0][:, None] * sizes[1][None, :]


def _check_divisor(divisor_override, fn):
    """divisor_override: None or a non-zero int (PyTorch's rule; a float would
    be truncated by the compiled kernel).  Shared with csrc/pool.pyx."""
    if divisor_override is None:
        return
    if isinstance(divisor_override, (bool, np.bool_)) or \
            not isinstance(divisor_override, (int, np.integer)):
        raise TypeError(f"{fn}: divisor_override must be an int, got "
                        f"{type(divisor_override).__name__} {divisor_override!r}")
    if divisor_override == 0:
        raise ValueError(f"{fn}: divisor_override must be non-zero")


def avg_pool2d_forward(x, kernel_size, stride, padding, ceil_mode, count_include_pad,
                       divisor_override):
    """y (N, C, OH, OW): window sums of the zero-padded x over their divisor."""
    xp = get_array_module(x)
    _check_divisor(divisor_override, "avg_pool2d_forward")
    out = _output_shape(x.shape, kernel_size, stride, padding, (1, 1), ceil_mode,
                        "avg_pool2d_forward")
    win = _padded_windows(x, kernel_size, stride, padding, (1, 1), out, 0)
    div = _avg_divisor(xp, x.shape, kernel_size, stride, padding, out, count_include_pad,
                       divisor_override)
    return xp.ascontiguousarray(win.sum(axis=(4, 5)) / div.astype(x.dtype))


def avg_pool2d_backward(gy, x_shape, kernel_size, stride, padding, ceil_mode,
                        count_include_pad, divisor_override):
    """gx (x_shape): gy / divisor spread over every window."""
    xp = get_array_module(gy)
    _check_divisor(divisor_override, "avg_pool2d_backward")
    out = _output_shape(x_shape, kernel_size, stride, padding, (1, 1), ceil_mode,
                        "avg_pool2d_backward")
    if gy.shape != tuple(x_shape[:2]) + out:
        raise ValueError(f"avg_pool2d_backward: gy has shape {gy.shape}, expected "
                         f"{tuple(x_shape[:2]) + out}")
    N, C, H, W = x_shape
    (kh, kw), (sh, sw), (ph, pw) = kernel_size, stride, padding
    g = gy / _avg_divisor(xp, x_shape, kernel_size, stride, padding, out, count_include_pad,
                          divisor_override).astype(gy.dtype)
    rows_needed = (out[0] - 1) * sh + kh
    cols_needed = (out[1] - 1) * sw + kw
    gx = xp.zeros((N, C, max(rows_needed, H + 2 * ph), max(cols_needed, W + 2 * pw)),
                  dtype=gy.dtype)
    for i in range(kh):
        for j in range(kw):
            gx[:, :, i:i + sh * (out[0] - 1) + 1:sh, j:j + sw * (out[1] - 1) + 1:sw] += g
    return xp.ascontiguousarray(gx[:, :, ph:ph + H, pw:pw + W])


# -- resampling -------------------------------------------------------------------

def _check_taps(x_shape, dtype, h_taps, w_taps, fn):
    """Validate the taps of both axes against an input of ``x_shape`` and ``dtype``
    (indices in range: the compiled kernel reads through them unchecked);
    return the output's (OH, OW).  Shared with csrc/pool.pyx."""
    if len(x_shape) != 4:
        raise ValueError(f"{fn}: expected a 4-D input (N, C, H, W), got shape {tuple(x_shape)}")
    if np.dtype(dtype) not in (np.float32, np.float64):
        raise TypeError(f"{fn}: only float32 and float64 are supported, got {dtype}")
    out = []
    for axis, taps in (("h", h_taps), ("w", w_taps)):
        size = x_shape[2 if axis == "h" else 3]
        if taps is None:
            out.append(size)
            continue
        if not isinstance(taps, tuple) or len(taps) != 2:
            raise TypeError(f"{fn}: {axis}_taps must be None or a tuple (index, weight)")
        index, weight = taps
        if getattr(index, "ndim", None) != 2 or index.dtype != np.int64 or 0 in index.shape:
            raise TypeError(f"{fn}: {axis}_taps index must be a non-empty 2-D int64 array "
                            f"(output length, taps), got {getattr(index, 'dtype', type(index))} "
                            f"{getattr(index, 'shape', '')}")
        if weight is None:
            if index.shape[1] != 1:
                raise ValueError(f"{fn}: {axis}_taps without weights must have one tap per "
                                 f"output (a copy), got {index.shape[1]}")
        elif getattr(weight, "shape", None) != index.shape or weight.dtype != dtype:
            raise TypeError(f"{fn}: {axis}_taps weight must be a {np.dtype(dtype)} array of the "
                            f"index's shape {index.shape}, got "
                            f"{getattr(weight, 'dtype', type(weight).__name__)} "
                            f"{getattr(weight, 'shape', '')}")
        low, high = get_array_module(index).stack([index.min(), index.max()]).tolist()  # 1 read
        if low < 0 or high >= size:
            raise IndexError(f"{fn}: {axis}_taps indices must lie in [0, {size}), got "
                             f"[{low}, {high}]")
        out.append(index.shape[0])
    return tuple(out)


def _resample_axis(x, taps, axis):
    """x resampled along ``axis`` (2 or 3): sum over taps t of w[:, t] x[index[:, t]],
    added left to right (as PyTorch's kernels add them)."""
    index, weight = taps
    take = (lambda t: x[:, :, index[:, t], :]) if axis == 2 else (lambda t: x[..., index[:, t]])
    if weight is None:
        return take(0)
    shape = (-1, 1) if axis == 2 else (-1,)
    y = take(0) * weight[:, 0].reshape(shape)
    for t in range(1, index.shape[1]):
        y = y + take(t) * weight[:, t].reshape(shape)
    return y


def resample2d_forward(x, h_taps, w_taps):
    """y (N, C, OH, OW) of x (N, C, H, W) resampled by the taps of each axis."""
    xp = get_array_module(x)
    _check_taps(x.shape, x.dtype, h_taps, w_taps, "resample2d_forward")
    y = x
    if w_taps is not None:      # the columns first: PyTorch's grouping
        y = _resample_axis(y, w_taps, 3)
    if h_taps is not None:
        y = _resample_axis(y, h_taps, 2)
    return xp.array(y, copy=True) if y is x else xp.ascontiguousarray(y)


def _add_at_axis(xp, values, index, axis, size):
    """out (values' shape, ``size`` along ``axis``) with
    out[.., index[j], ..] += values[.., j, ..]."""
    moved = xp.moveaxis(values, axis, -1)
    if moved.size == 0:
        return xp.zeros(values.shape[:axis] + (size,) + values.shape[axis + 1:], values.dtype)
    rows = moved.size // moved.shape[-1]
    flat = (xp.arange(rows, dtype=xp.int64)[:, None] * size + index[None, :]).ravel()
    out = xp.bincount(flat, weights=moved.reshape(rows, -1).ravel(), minlength=rows * size)
    return xp.moveaxis(out.reshape(moved.shape[:-1] + (size,)), -1, axis)


def _spread(xp, g, taps, axis, size):
    """The adjoint of one axis's resampling: each g added back at its taps."""
    index, weight = taps
    shape = (-1,) + (1,) * (g.ndim - 1 - axis)
    total = 0
    for t in range(index.shape[1]):
        part = g if weight is None else g * weight[:, t].reshape(shape)
        total = total + _add_at_axis(xp, part, index[:, t], axis, size)
    return total


def resample2d_backward(gy, x_shape, h_taps, w_taps):
    """gx (x_shape) of resample2d_forward: each gy spread back over its taps."""
    xp = get_array_module(gy)
    out = _check_taps(x_shape, gy.dtype, h_taps, w_taps, "resample2d_backward")
    if gy.shape != tuple(x_shape[:2]) + out:
        raise ValueError(f"resample2d_backward: gy has shape {gy.shape}, expected "
                         f"{tuple(x_shape[:2]) + out}")
    g = gy
    if h_taps is not None:      # the forward's last step first
        g = _spread(xp, g, h_taps, 2, x_shape[2])
    if w_taps is not None:
        g = _spread(xp, g, w_taps, 3, x_shape[3])
    return xp.ascontiguousarray(g, dtype=gy.dtype) if g is not gy else xp.array(gy, copy=True)
