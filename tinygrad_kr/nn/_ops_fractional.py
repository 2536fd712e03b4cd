"""fractional_max_pool2d / fractional_max_pool3d (Graham, 2014), with PyTorch's
pseudo-random windows (ATen's FractionalMaxPool2d.cpp / FractionalMaxPool3d.cpp).

No Function of their own: the windows and the argmax are index work on the
host (NumPy, or CuPy for GPU arrays), and the pooled values are one
``ops.gather`` of the input at the chosen indices, so the gradient is the
gather's (gy added at each argmax, as PyTorch's backward) and the
second derivative is a gather again.

Each (sample, channel) plane has its own random sample u in [0, 1) per
spatial dimension (``_random_samples``, (N, C, 2) or (N, C, 3); drawn from the
engine's generator when not given).  Window i of a dimension starts at
``int((i + u) * a) - int(u * a)`` with a = (in - k) / (out - 1), computed
in the input's dtype as ATen does (so float32 and float64 inputs can start
windows differently), and the last window ends at the edge.  Sample u[0] is
for the width and u[1] for the height in 2-D; u[0], u[1], u[2] for time,
height and width in 3-D: ATen's order.  Within a window the first maximum
wins, and a NaN wins over any number (the last NaN if several).
"""
import numpy as np

from .. import ops
from ..backend import get_array_module
from ..dtypes import scalar_type_name
from ..random import get_rng
from ..tensor import Tensor

__all__ = ["fractional_max_pool2d", "fractional_max_pool2d_with_indices",
           "fractional_max_pool3d", "fractional_max_pool3d_with_indices"]


def _ntuple(value, n):
    """torch's _pair / _triple: an iterable as a tuple, anything else repeated."""
    if isinstance(value, Tensor) or not hasattr(value, "__iter__"):
        return (value,) * n
    return tuple(value)


def _int_sizes(value, n, fn, what, count_word):
    """kernel_size / output_size as n ints (an int is repeated), PyTorch's
    errors for a wrong count or a non-int."""
    sizes = _ntuple(value, n)
    if len(sizes) == 1:
        sizes = sizes * n
    if len(sizes) != n:
        raise RuntimeError(f"{fn}: {what} must either be a single Int or tuple of {count_word}Ints")
    for pos, v in enumerate(sizes):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool):
            raise TypeError(f"{fn}(): argument '{what}' (position {2 if what == 'kernel_size' else 3})"
                            f" must be tuple of ints, but found element of type "
                            f"{type(v).__name__} at pos {pos}")
    return tuple(int(v) for v in sizes)


def _size(input, dim):
    """input.size(dim), with PyTorch's error for a dim out of range."""
    (axis,) = ops._norm_dims(dim, input.ndim)
    return input.shape[axis]


def generate_intervals(samples, input_size, output_size, pool_size):
    """ATen's generate_intervals for a batch of planes: the start of each
    window, (*samples.shape, output_size) int64, computed in samples' dtype."""
    dt = samples.dtype.type
    starts = np.empty(samples.shape + (output_size,), dtype=np.int64)
    if output_size > 1:
        alpha = dt(input_size - pool_size) / dt(output_size - 1)
        i = np.arange(output_size - 1).astype(samples.dtype)
        # static_cast<int> truncates toward zero, as astype does
        starts[..., :-1] = (((i + samples[..., None]) * alpha).astype(np.int64)
                            - (samples * alpha).astype(np.int64)[..., None])
    if output_size > 0:
        starts[..., -1] = input_size - pool_size
    return starts


def _check_samples(samples, input, batch, channels, nd):
    if samples.array.dtype != input.array.dtype:
        raise RuntimeError("Expect _random_samples to have the same dtype as input")
    if samples.ndim != 3:
        raise RuntimeError(f"Expect _random_samples to have 3 dimensions, got {samples.ndim}")
    n, c, d = samples.shape
    if n < batch:
        raise RuntimeError("Expect _random_samples.size(0) no less then input batch size.")
    if c != channels:
        raise RuntimeError("Expect _random_samples.size(1) equals to input channel size.")
    if d != nd:
        raise RuntimeError(f"Expect _random_samples.size(2) equals to {nd}; got {d}.")


def _fractional_max_pool(input, kernel_size, output_size, samples, nd):
    """The pooling proper: checks (ATen's, in its order), the windows, the
    argmax; returns (output, indices)."""
    fn = f"fractional_max_pool{nd}d"
    word = "" if nd == 2 else "three "
    kernel = _int_sizes(kernel_size, nd, fn, "kernel_size", word)
    out_size = _int_sizes(output_size, nd, fn, "output_size", word)
    where = f"{fn}()" if nd == 2 else f"{fn}_out()"
    if any(k <= 0 for k in kernel):
        # PyTorch pools empty windows into -inf and indices past the plane
        # (its backward then fails an internal assert): refused here
        raise RuntimeError(f"{fn}: kernel_size must be greater than 0, but got {kernel}")
    ndims = input.ndim
    if ndims not in (nd + 1, nd + 2):
        raise RuntimeError(f"{where}: Expected {nd + 1}D or {nd + 2}D tensor, but got: "
                           f"{list(input.shape)}")
    for i in range(1, ndims):
        if input.shape[i] <= 0:
            raise RuntimeError(f"{where}: Expected input to have non-zero size for non-batch "
                               f"dimensions, but got{list(input.shape)} with dimension {i} being "
                               f"empty.")
    batched = ndims == nd + 2
    spatial = tuple(input.shape[-nd:])
    names = ("height", "width") if nd == 2 else ("time", "height", "width")
    # 2-D allows out + k - 1 == in, 3-D does not; 3-D checks width before height
    order = (0, 1) if nd == 2 else (0, 2, 1)
    for d in order:
        last = out_size[d] + kernel[d] - 1
        if (last > spatial[d]) if nd == 2 else (last >= spatial[d]):
            raise RuntimeError(f"{where}: pool {names[d]} {kernel[d]} too large relative to "
                               f"input {names[d]} {spatial[d]}")
    batch = input.shape[0] if batched else 1
    channels = input.shape[-nd - 1]
    _check_samples(samples, input, batch, channels, nd)
    if input.array.dtype.kind != "f":
        raise NotImplementedError(f"\"{fn}_out_frame\" not implemented for "
                                  f"'{scalar_type_name(input.array.dtype)}'")
    if any(s < 0 for s in out_size):
        shape = [batch, channels, *out_size] if batched else [channels, *out_size]
        bad = next(s for s in out_size if s < 0)
        raise RuntimeError(f"Trying to create tensor with negative dimension {bad}: {shape}")

    x = input if batched else ops.unsqueeze(input, 0)
    xp = get_array_module(x.array)
    u = samples.array[:batch]
    u = u if u.__class__ is np.ndarray else u.get()
    # sample order per plane: (width, height) in 2-D, (time, height, width) in 3-D
    sample_of = (1, 0) if nd == 2 else (0, 1, 2)
    # a plane index is linear in the coordinates: each window's flat index
    # is its start's plus the kernel element's offset
    starts = np.zeros((batch, channels) + out_size, dtype=np.int64)
    offsets = np.zeros(kernel, dtype=np.int64)
    stride = 1
    for d in range(nd - 1, -1, -1):
        first = generate_intervals(u[:, :, sample_of[d]], spatial[d], out_size[d], kernel[d])
        shape = [batch, channels] + [1] * nd
        shape[2 + d] = out_size[d]
        starts = starts + first.reshape(shape) * stride
        shape = [1] * nd
        shape[d] = kernel[d]
        offsets = offsets + np.arange(kernel[d]).reshape(shape) * stride
        stride *= spatial[d]
    starts = starts.reshape(batch, channels, -1)
    flat = starts[..., None] + offsets.reshape(-1)              # (N, C, out, window)
    x_planes = x.array.reshape(batch, channels, -1)
    x_host = x_planes if x_planes.__class__ is np.ndarray else x_planes.get()
    vals = np.take_along_axis(x_host, flat.reshape(batch, channels, -1), axis=2)
    vals = vals.reshape(flat.shape)
    nan = np.isnan(vals)
    last_nan = flat.shape[-1] - 1 - np.argmax(nan[..., ::-1], axis=-1)
    choice = np.where(nan.any(-1), last_nan, np.argmax(vals, axis=-1))
    idx = xp.asarray(np.take_along_axis(flat, choice[..., None], axis=-1)[..., 0])
    out = ops.gather(ops.reshape(x, (batch, channels, -1)), 2, Tensor(idx))
    out = ops.reshape(out, (batch, channels) + out_size)
    indices = Tensor(idx.reshape((batch, channels) + out_size))
    if not batched:
        out, indices = ops.squeeze(out, 0), indices.squeeze(0)
    return out, indices


def _default_samples(input, nd):
    """torch.rand(n_batch, C, nd) in the input's dtype, from the engine's generator."""
    batch = 1 if input.ndim == nd + 1 else _size(input, 0)
    draws = get_rng().random((batch, _size(input, -nd - 1), nd)).astype(input.array.dtype)
    return Tensor(get_array_module(input.array).asarray(draws))


def fractional_max_pool2d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                       return_indices=False, _random_samples=None):
    """Fractional max pooling over (N, C, H, W) or (C, H, W): ``output_size``
    (oH, oW), or ``output_ratio`` of the input's size; returns (output,
    indices), the indices flat within each (H, W) plane."""
    if output_size is None and output_ratio is None:
        raise ValueError("fractional_max_pool2d requires specifying either an output_size or an "
                         "output_ratio")
    if output_size is None:
        if len(output_ratio) > 2:
            raise ValueError("fractional_max_pool2d requires output_ratio to either be a single "
                             "Int or tuple of Ints.")
        ratio = _ntuple(output_ratio, 2)
        output_size = [int(_size(input, -2) * ratio[0]), int(_size(input, -1) * ratio[1])]
    if _random_samples is None:
        _random_samples = _default_samples(input, 2)
    return _fractional_max_pool(input, kernel_size, output_size, _random_samples, 2)


def fractional_max_pool3d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                       return_indices=False, _random_samples=None):
    """Fractional max pooling over (N, C, T, H, W) or (C, T, H, W); returns
    (output, indices), the indices flat within each (T, H, W) volume."""
    if output_size is None and output_ratio is None:
        raise ValueError("fractional_max_pool3d requires specifying either an output_size or an "
                         "output_ratio")
    if output_size is None:
        ratio = _ntuple(output_ratio, 3)
        output_size = [int(_size(input, -3) * ratio[0]), int(_size(input, -2) * ratio[1]),
                       int(_size(input, -1) * ratio[2])]
    if _random_samples is None:
        _random_samples = _default_samples(input, 3)
    return _fractional_max_pool(input, kernel_size, output_size, _random_samples, 3)


def fractional_max_pool2d(input, kernel_size, output_size=None, output_ratio=None,
                          return_indices=False, _random_samples=None):
    """The output of fractional_max_pool2d_with_indices, or (output,
    indices) with ``return_indices``."""
    out = fractional_max_pool2d_with_indices(input, kernel_size, output_size, output_ratio,
                                             return_indices, _random_samples)
    return out if return_indices else out[0]


def fractional_max_pool3d(input, kernel_size, output_size=None, output_ratio=None,
                          return_indices=False, _random_samples=None):
    """The output of fractional_max_pool3d_with_indices, or (output,
    indices) with ``return_indices``."""
    out = fractional_max_pool3d_with_indices(input, kernel_size, output_size, output_ratio,
                                             return_indices, _random_samples)
    return out if return_indices else out[0]
