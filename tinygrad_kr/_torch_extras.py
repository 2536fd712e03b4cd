"""PyTorch's remaining top-level functions: creation (asarray, frombuffer,
logspace, range, scalar_tensor, empty_strided, empty_permuted, fill,
randint_like, the window functions), sampling (bernoulli, poisson,
binomial), element-wise and reduction helpers (isin, unravel_index, aminmax,
msort, copysign, ldexp, frexp, nextafter, angle, positive, rsub, the
comparison aliases, corrcoef, gradient, cumulative_trapezoid, histogramdd),
functional scatters (index_copy/fill/put, select/slice/diagonal_scatter,
as_strided), the deprecated linear-algebra names (qr, lu, lu_solve,
lu_unpack, triangular_solve, nuclear_norm, frobenius_norm, ger), the
top-level in-place forms (``torch.exp_(t)`` is ``t.exp_()``), and the
Tensor methods' in-place forms PyTorch has for ops that exist (cumsum_,
divide_, eq_, sign_, tril_, swapaxes_, logical_and_, the shifts...).

Everything differentiable is a composition of the core ops (slicing,
arithmetic, where, the recorded in-place assignment, torch.linalg's
Functions), so its gradient comes from theirs.  One Function is new:
``ConstantOf``, the output of a piecewise-constant function of its input
(a sample drawn with the input as parameter, a real number's angle, a
comparison or sign written in place), whose gradient is zero, as PyTorch's
for bernoulli, poisson, angle and eq_.
"""
import builtins
import math
import warnings

import numpy as np

from . import dtypes as _dt
from . import linalg as _linalg
from . import ops, return_types
from .autograd.function import Function
from .backend import get_array_module
from .dtypes import scalar_type_name
from .factories import _finish, _size
from .ops_shape_reduce import cov, diff
from .random import get_rng
from .tensor import Tensor, _host, _to_array
from .tensor_extras import (TypedStorage, UntypedStorage, adjoint, as_strided_,
                            bitwise_left_shift, bitwise_right_shift, conj, conj_physical,
                            conj_physical_, cpp_type_name, eig, imag, is_conj, is_neg, layout,
                            lstsq, narrow_copy, nonzero_static, orgqr, real, resize_as_,
                            resolve_conj, resolve_neg, solve, split_with_sizes, strided, symeig,
                            unsafe_chunk, unsafe_split, unsafe_split_with_sizes)
from ._torch_info import _need_tensor

# the named results PyTorch returns (in return_types, where pickle looks for them)
for _name, _fields in (("aminmax", ("min", "max")), ("frexp", ("mantissa", "exponent")),
                       ("histogramdd", ("hist", "bin_edges")), ("qr", ("Q", "R")),
                       ("lu_unpack", ("P", "L", "U")),
                       ("triangular_solve", ("solution", "cloned_coefficient")),
                       ("_lu_with_info", ("LU", "pivots", "info"))):
    if not hasattr(return_types, _name):
        setattr(return_types, _name, return_types._named(_name, _fields))


def _xp(t):
    return get_array_module(t.array)


def _floating(t):
    """t, or t in the default float dtype if it holds integers or bools."""
    return t if t.array.dtype.kind == "f" else t.to(_dt.get_default_dtype())


class ConstantOf(Function):
    """``value`` (an array computed from x) as a function of x that is locally
    constant: the gradient is zero.  ``not_differentiable`` names an op whose
    derivative PyTorch does not implement either: backward raises as it does."""

    def forward(self, x, *, value, not_differentiable=None):
        self.not_differentiable = not_differentiable
        return value

    def backward(self, xp, gy):
        if self.not_differentiable:
            raise RuntimeError(f"derivative for aten::{self.not_differentiable} is not "
                               f"implemented")
        return gy * 0.0


# -- creation ----------------------------------------------------------------------------

def _dtype_or(dtype, default):
    return default if dtype is None else _dt.check_dtype(dtype)


def asarray(obj, *, dtype=None, device=None, copy=None, requires_grad=None):
    """``obj`` as a tensor, sharing its memory where it can, as torch.asarray:
    a tensor comes back itself (a copy only for another dtype, or
    ``copy=True``), a NumPy array or buffer is aliased (``copy=False``
    refuses what needs a copy); sequences and scalars are copied.  A tensor's
    copy stays in the graph unless ``requires_grad=False``; like PyTorch,
    ``requires_grad`` given for an aliased leaf sets its flag."""
    if isinstance(obj, Tensor):
        t = obj
        want = t.array.dtype if dtype is None else _dt.check_dtype(dtype)
        needs_copy = want != t.array.dtype if copy is None else builtins.bool(copy)
        if copy is False and want != t.array.dtype:
            raise ValueError(f"can't alias tensor with dtype '{scalar_type_name(t.array.dtype)}' "
                             f"into dtype '{scalar_type_name(want)}'.")
        if requires_grad is None and t.requires_grad:
            warnings.warn("torch.asarray: unspecified requires_grad now defaults to "
                          "obj.requires_grad instead of False. Pass requires_grad=False "
                          "explicitly to get the old behavior and silence this warning.",
                          stacklevel=2)
        if needs_copy:     # in the graph unless requires_grad=False
            t = t.to(want) if want != t.array.dtype else t.clone()
            if requires_grad is False:
                t = t.detach()
        if device is not None:
            t = t.to(device)
        if requires_grad and not t.requires_grad:
            t.requires_grad_(True)
        elif requires_grad is False and t.requires_grad:
            t = t.requires_grad_(False) if t.is_leaf else t.detach()
        return t
    if isinstance(obj, np.ndarray) or (not isinstance(obj, (list, tuple, builtins.bool,
                                                            builtins.int, builtins.float,
                                                            np.generic))
                                       and _has_buffer(obj)):
        arr = obj if isinstance(obj, np.ndarray) else \
            _frombuffer_array(obj, _dtype_or(dtype, _dt.get_default_dtype()), -1, 0)
        want = arr.dtype if dtype is None else _dt.check_dtype(dtype)
        if copy is False and want != arr.dtype:
            raise ValueError(f"can't alias tensor with dtype '{scalar_type_name(arr.dtype)}' "
                             f"into dtype '{scalar_type_name(want)}'.")
        arr = _to_array(arr, want)
        if copy and np.shares_memory(arr, obj if isinstance(obj, np.ndarray) else arr):
            arr = arr.copy()
    else:
        if copy is False:
            raise ValueError("can't alias arbitrary sequence into a tensor.")
        if obj is None:
            raise RuntimeError("Could not infer dtype of NoneType")
        if isinstance(obj, (list, tuple)) and any(isinstance(o, Tensor) for o in obj):
            obj = [o.detach().numpy() if isinstance(o, Tensor) else o for o in obj]
        arr = _to_array(obj, dtype)
        if dtype is None and arr.dtype.kind == "f" and isinstance(obj, (list, tuple)) and \
                _all_numpy_float64(obj):
            arr = arr.astype(np.float64)
    return _finish(arr, builtins.bool(requires_grad), device)


def _all_numpy_float64(seq):
    """A sequence holding NumPy float64 scalars keeps float64, as PyTorch infers it."""
    flat = list(np.asarray(seq, dtype=object).reshape(-1))
    return builtins.any(isinstance(v, np.float64) for v in flat)


def _has_buffer(obj):
    try:
        memoryview(obj)
    except TypeError:
        return False
    return True


def _frombuffer_array(buffer, dtype, count, offset):
    """np.frombuffer with PyTorch's checks and messages (in its order)."""
    if not _has_buffer(buffer):
        raise ValueError("object does not implement Python buffer protocol.")
    length = memoryview(buffer).nbytes
    size = dtype.itemsize
    if length == 0 or count == 0:
        raise ValueError(f"both buffer length ({length}) and count ({count}) must not be 0")
    if not 0 <= offset < length:
        raise ValueError(f"offset ({offset} bytes) must be non-negative and no greater than "
                         f"buffer length ({length} bytes) minus 1")
    if count <= 0 and (length - offset) % size:
        raise ValueError(f"buffer length ({length - offset} bytes) after offset ({offset} bytes) "
                         f"must be a multiple of element size ({size})")
    n = (length - offset) // size if count <= 0 else count
    if offset + n * size > length:
        raise ValueError(f"requested buffer length ({n} * {size} bytes) after offset ({offset} "
                         f"bytes) must not be greater than actual buffer length ({length} bytes)")
    arr = np.frombuffer(buffer, dtype=dtype, count=n, offset=offset)
    if not arr.flags.writeable:
        warnings.warn("The given buffer is not writable: the tensor shares its memory read-only "
                      "(an in-place change of it raises). Copy the buffer, or pass a writable "
                      "one (bytearray), to change the tensor.", UserWarning, stacklevel=3)
    return arr


def frombuffer(buffer, *, dtype, count=-1, offset=0, requires_grad=False):
    """A 1-D tensor sharing the memory of an object with the buffer protocol
    (bytes, bytearray, array.array, memoryview), read as ``dtype`` from byte
    ``offset``: ``count`` elements, or all that remain (count <= 0)."""
    arr = _frombuffer_array(buffer, _dt.check_dtype(dtype), int(count), int(offset))
    return _finish(arr, requires_grad)


def _scalar(v):
    return v.item() if isinstance(v, Tensor) else v


def logspace(start, end, steps, base=10.0, *, dtype=None, layout=None, device=None,
             requires_grad=False):
    """``steps`` values base ** linspace(start, end) (computed in float64, then cast)."""
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    d = _dtype_or(dtype, _dt.get_default_dtype())
    values = np.power(float(base), np.linspace(float(_scalar(start)), float(_scalar(end)),
                                               steps))
    if d.kind in "iub":
        values = np.trunc(values)
    return _finish(values.astype(d), requires_grad, device)


def range(start, end, step=1, *, dtype=None, layout=None, device=None, requires_grad=False):
    """[start, end] *including* end, step apart (deprecated in PyTorch, with
    its warning: use arange).  The default dtype is the default float dtype
    whatever the arguments are."""
    warnings.warn("torch.range is deprecated and will be removed in a future release because "
                  "its behavior is inconsistent with Python's range builtin. Instead, use "
                  "torch.arange, which produces values in [start, end).", UserWarning,
                  stacklevel=2)
    start, end, step = _scalar(start), _scalar(end), _scalar(step)
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if (step > 0 and end < start) or (step < 0 and start < end):
        raise RuntimeError("upper bound and lower bound inconsistent with step sign")
    n = int(math.floor((end - start) / step)) + 1
    d = _dtype_or(dtype, _dt.get_default_dtype())
    return _finish((start + np.arange(n) * step).astype(d), requires_grad, device)


def scalar_tensor(s, *, dtype=None, layout=None, device=None, requires_grad=False):
    """A 0-d tensor of ``s`` in ``dtype`` (default: the default float dtype, even for ints)."""
    d = _dtype_or(dtype, _dt.get_default_dtype())
    return _finish(np.asarray(_scalar(s), dtype=d), requires_grad, device)


def empty_strided(size, stride, *, dtype=None, layout=None, device=None, requires_grad=False,
                  pin_memory=False):
    """Uninitialised memory viewed with ``stride`` (in elements) per dimension."""
    size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    if len(size) != len(stride):
        raise RuntimeError(f"dimensionality of sizes ({len(size)}) must match dimensionality of "
                           f"strides ({len(stride)})")
    if builtins.any(s < 0 for s in size):
        raise RuntimeError(f"Trying to create tensor with negative dimension: {list(size)}")
    d = _dtype_or(dtype, _dt.get_default_dtype())
    extent = 0 if 0 in size else 1 + builtins.sum((n - 1) * s for n, s in zip(size, stride))
    memory = np.empty(builtins.max(extent, 0), d)
    arr = np.lib.stride_tricks.as_strided(memory, size, tuple(s * d.itemsize for s in stride))
    return _finish(arr, requires_grad, device)


def empty_permuted(size, physical_layout, *, dtype=None, layout=None, device=None,
                   requires_grad=False, pin_memory=False):
    """Uninitialised memory laid out in ``physical_layout``'s order of dimensions
    (the first outermost), seen in the logical order of ``size``."""
    size, order = _size((size,)), tuple(int(p) for p in physical_layout)
    if len(order) != len(size):
        raise RuntimeError(f"Number of dimensions in size does not match the length of the "
                           f"physical_layout; i.e. len(size) = {len(size)} is not equal to "
                           f"len(physical_layout) = {len(order)}")
    if len(set(order)) != len(order):
        raise RuntimeError("Duplicate dim not allowed")
    d = _dtype_or(dtype, _dt.get_default_dtype())
    memory = np.empty(tuple(size[p] for p in order), d)
    return _finish(memory.transpose(np.argsort(order)), requires_grad, device)


def fill(input, value):
    """A tensor of input's shape and dtype holding ``value`` (a number or a
    0-d tensor, which gets the gradient's sum; input gets zero)."""
    _need_tensor("fill", input)
    if isinstance(value, Tensor):
        if value.ndim:
            raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor "
                               f"with {value.ndim} dimensions.")
        value = value.to(input.array.dtype)
    else:
        value = Tensor(_xp(input).asarray(value).astype(input.array.dtype))
    everywhere = Tensor(_xp(input).ones(input.shape, dtype=bool))
    return ops.where(everywhere, value, input)


def randint_like(input, low=0, high=None, *, generator=None, dtype=None, layout=None,
                 device=None, requires_grad=False, memory_format=None):
    """Integers from [low, high) ([0, low) given one bound) in input's shape and dtype."""
    _need_tensor("randint_like", input)
    if high is None:
        low, high = 0, low
    low, high = int(_scalar(low)), int(_scalar(high))
    if high <= low:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= "
                           f"to={high}")
    d = _dtype_or(dtype, input.array.dtype)
    if d.kind in "iu" and high - 1 > np.iinfo(d).max:
        raise RuntimeError(f"to - 1 is out of bounds for {d}")
    arr = get_rng(generator).integers(low, high, tuple(input.shape)).astype(d)
    return _finish(arr, requires_grad, device if device is not None else input.device)


# -- window functions: PyTorch's formulas, in float64, then cast -------------------------

def _window(name, window_length, periodic, dtype, device, requires_grad, values):
    if window_length < 0:
        raise RuntimeError(f"{name} requires non-negative window_length, got "
                           f"window_length={window_length}")
    d = _dtype_or(dtype, _dt.get_default_dtype())
    if d.kind != "f":
        raise RuntimeError(f"{name} expects floating point dtypes, got: {d}")
    if window_length <= 1:
        return _finish(np.ones(window_length, d), requires_grad, device)
    n = window_length + 1 if periodic else window_length   # periodic: one more, last dropped
    w = values(np.arange(n, dtype=np.float64), n)
    return _finish(w[:window_length].astype(d), requires_grad, device)


def hamming_window(window_length, periodic=True, alpha=0.54, beta=0.46, *, dtype=None,
                   layout=None, device=None, requires_grad=False):
    """alpha - beta cos(2 pi k / (N - 1))."""
    return _window("hamming_window", window_length, periodic, dtype, device, requires_grad,
                   lambda k, n: alpha - beta * np.cos(2 * math.pi * k / (n - 1)))


def hann_window(window_length, periodic=True, *, dtype=None, layout=None, device=None,
                requires_grad=False):
    """0.5 - 0.5 cos(2 pi k / (N - 1))."""
    return _window("hann_window", window_length, periodic, dtype, device, requires_grad,
                   lambda k, n: 0.5 - 0.5 * np.cos(2 * math.pi * k / (n - 1)))


def bartlett_window(window_length, periodic=True, *, dtype=None, layout=None, device=None,
                    requires_grad=False):
    """1 - |2k / (N - 1) - 1| (a triangle)."""
    return _window("bartlett_window", window_length, periodic, dtype, device, requires_grad,
                   lambda k, n: 1 - np.abs(2 * k / (n - 1) - 1))


def blackman_window(window_length, periodic=True, *, dtype=None, layout=None, device=None,
                    requires_grad=False):
    """0.42 - 0.5 cos(2 pi k / (N - 1)) + 0.08 cos(4 pi k / (N - 1))."""
    return _window("blackman_window", window_length, periodic, dtype, device, requires_grad,
                   lambda k, n: 0.42 - 0.5 * np.cos(2 * math.pi * k / (n - 1))
                   + 0.08 * np.cos(4 * math.pi * k / (n - 1)))


def kaiser_window(window_length, periodic=True, beta=12.0, *, dtype=None, layout=None,
                  device=None, requires_grad=False):
    """I0(beta sqrt(1 - ((k - (N-1)/2) / ((N-1)/2))^2)) / I0(beta)."""
    def values(k, n):
        half = (n - 1) / 2
        return np.i0(beta * np.sqrt(np.clip(1 - ((k - half) / half) ** 2, 0, None))) / \
            np.i0(beta)
    return _window("kaiser_window", window_length, periodic, dtype, device, requires_grad,
                   values)


# -- sampling: the engine's generator; the gradient is zero, as PyTorch's ---------------------

def _sampled(input, value, not_differentiable=None):
    value = _xp(input).asarray(value)
    if input.requires_grad:
        return ConstantOf.apply(input, value=value, not_differentiable=not_differentiable)
    return Tensor._make(value, None)


def bernoulli(input, p=None, *, generator=None):
    """1 with probability ``input`` (or ``p``: a number or a tensor), else 0, in input's dtype."""
    _need_tensor("bernoulli", input)
    if input.array.dtype.kind != "f":
        raise NotImplementedError(f'"bernoulli_tensor_cpu_p_" not implemented for '
                                  f"'{scalar_type_name(input.array.dtype)}'")
    prob = _host(input.array) if p is None else (_host(p.array) if isinstance(p, Tensor) else p)
    prob = np.asarray(prob, dtype=np.float64)
    if prob.size and not ((prob >= 0) & (prob <= 1)).all():
        raise RuntimeError("Expected p_in >= 0 && p_in <= 1 to be true, but got false.  (Could "
                           "this error message be improved?  If so, please report an "
                           "enhancement request to PyTorch.)")
    draw = get_rng(generator).random(tuple(input.shape)) < prob
    return _sampled(input, draw.astype(input.array.dtype))


def poisson(input, generator=None):
    """Counts drawn from Poisson(rate = input), in input's dtype."""
    _need_tensor("poisson", input)
    if input.array.dtype.kind != "f":
        raise NotImplementedError(f"\"poisson_cpu\" not implemented for "
                                  f"'{scalar_type_name(input.array.dtype)}'")
    rate = _host(input.array)
    if (rate < 0).any():
        raise RuntimeError("invalid Poisson rate, expected rate to be non-negative")
    return _sampled(input, get_rng(generator).poisson(rate).astype(input.array.dtype))


def binomial(count, prob, generator=None):
    """Successes in ``count`` trials of probability ``prob`` (broadcast), in count's dtype.
    NumPy's sampler needs 0 <= prob <= 1 and count >= 0: other values raise
    (PyTorch returns unspecified numbers for them)."""
    _need_tensor("binomial", count, "count")
    _need_tensor("binomial", prob, "prob", 2)
    if count.array.dtype.kind != "f":
        raise ValueError(f"binomial only supports floating-point dtypes for count, got: "
                         f"{scalar_type_name(count.array.dtype)}")
    n, p = np.broadcast_arrays(_host(count.array), _host(prob.array))
    if (p < 0).any() or (p > 1).any() or (n < 0).any():
        raise RuntimeError("binomial: expected 0 <= prob <= 1 and count >= 0")
    draw = get_rng(generator).binomial(n.astype(np.int64), p).astype(count.array.dtype)
    source = count if count.requires_grad or not prob.requires_grad else prob
    if source.shape != draw.shape:
        source = source.expand(*draw.shape)
    return _sampled(source, draw, not_differentiable="binomial")


# -- element-wise and reductions -------------------------------------------------------------

def isin(elements, test_elements, *, assume_unique=False, invert=False):
    """Whether each of ``elements`` is among ``test_elements`` (either may be a number)."""
    if not isinstance(elements, Tensor) and not isinstance(test_elements, Tensor):
        raise TypeError("isin() received an invalid combination of arguments: one of elements "
                        "and test_elements must be a Tensor")
    like = elements if isinstance(elements, Tensor) else test_elements
    for t in (elements, test_elements):
        if isinstance(t, Tensor) and t.array.dtype == np.bool_:
            raise RuntimeError("Unsupported input type encountered for isin(): Bool")
    a = _host(elements.array) if isinstance(elements, Tensor) else np.asarray(elements)
    b = _host(test_elements.array) if isinstance(test_elements, Tensor) else \
        np.asarray(test_elements)
    out = np.isin(a, b, assume_unique=assume_unique, invert=invert)
    return Tensor(_xp(like).asarray(out))


def unravel_index(indices, shape):
    """The coordinates (a tuple of tensors, one per dimension of ``shape``) of flat ``indices``."""
    if not isinstance(indices, Tensor):
        raise TypeError(f"expected 'indices' to be a Tensor, but got "
                        f"{type(indices).__name__}")
    if indices.array.dtype.kind not in "iu":
        raise TypeError(f"expected 'indices' to be integer dtype, but got "
                        f"torch.{indices.array.dtype.name}")
    shape = (int(shape),) if isinstance(shape, (builtins.int, np.integer)) else \
        tuple(int(s) for s in shape)
    if builtins.any(s < 0 for s in shape):
        raise ValueError(f"'shape' cannot have negative values, but got {shape}")
    if not shape:
        return ()
    flat = _host(indices.array).astype(np.int64)
    total = math.prod(shape)
    coords = np.unravel_index(flat % total, shape) if total else \
        tuple(np.zeros_like(flat) for _ in shape)
    return tuple(Tensor(_xp(indices).asarray(c.astype(np.int64))) for c in coords)


def aminmax(input, *, dim=None, keepdim=False):
    """``(min, max)`` over all elements or along ``dim`` (gradients as amin's and amax's)."""
    _need_tensor("aminmax", input)
    if dim is None:
        if input.numel() == 0:
            raise RuntimeError("aminmax(): cannot compute aminmax over an empty dimension as "
                               "the operation has no identity.")
        lo, hi = ops.amin(input), ops.amax(input)
        if keepdim:
            lo, hi = lo.reshape((1,) * input.ndim), hi.reshape((1,) * input.ndim)
    else:
        d = ops._norm_dims(dim, input.ndim)[0] if input.ndim else 0
        if input.ndim and input.shape[d] == 0:
            raise IndexError(f"aminmax: Expected reduction dim {d} to have non-zero size.")
        x = input if input.ndim else input.reshape(1)
        lo, hi = ops.amin(x, dim, keepdim), ops.amax(x, dim, keepdim)
        if not input.ndim:
            lo, hi = lo.reshape(()), hi.reshape(())
    return return_types.aminmax((lo, hi))


def msort(input):
    """input sorted along its first dimension."""
    return ops.sort(_need_tensor("msort", input), dim=0).values


def copysign(input, other):
    """|input| with the sign bit of ``other`` (-0.0 counts as negative); a float result.
    The gradient is input's: result / input, 0 where input is 0."""
    _need_tensor("copysign", input)
    x = _floating(input)
    negative = np.signbit(_host(other.array) if isinstance(other, Tensor) else
                          np.asarray(other, dtype=np.float64))
    if isinstance(other, Tensor) and other.array.dtype.kind == "f" and \
            x.array.dtype.itemsize < other.array.dtype.itemsize:
        x = x.to(other.array.dtype)
    shape = np.broadcast_shapes(tuple(x.shape), negative.shape)
    magnitude = ops.abs(x).expand(*shape) if tuple(x.shape) != shape else ops.abs(x)
    return ops.where(Tensor(_xp(x).asarray(np.broadcast_to(negative, shape))), -magnitude,
                     magnitude)


def ldexp(input, other):
    """input * 2 ** other, as PyTorch computes it (a float result)."""
    _need_tensor("ldexp", input)
    _need_tensor("ldexp", other, "other", 2)
    scale = ops.pow(2.0, _floating(other))
    return ops.mul(input, scale)


def frexp(input):
    """``(mantissa, exponent)`` with input = mantissa * 2 ** exponent, |mantissa|
    in [0.5, 1); exponent int32.  The mantissa's gradient is 2 ** -exponent."""
    _need_tensor("frexp", input)
    if input.array.dtype.kind != "f":
        raise RuntimeError("torch.frexp() only supports floating-point dtypes")
    xp = _xp(input)
    _, exponent = np.frexp(_host(input.array))
    scale = np.ldexp(np.ones((), input.array.dtype), -exponent).astype(input.array.dtype)
    mantissa = ops.mul(input, Tensor(xp.asarray(scale)))
    return return_types.frexp((mantissa, Tensor(xp.asarray(exponent.astype(np.int32)))))


def nextafter(input, other):
    """The next representable float after input towards other (not differentiable)."""
    _need_tensor("nextafter", input)
    _need_tensor("nextafter", other, "other", 2)
    dtype = ops._result_dtype(input.array.dtype, other.array.dtype)
    if np.dtype(dtype).kind != "f":
        raise NotImplementedError(f"\"nextafter_cpu\" not implemented for "
                                  f"'{scalar_type_name(dtype)}'")
    xp = _xp(input)
    return Tensor(xp.nextafter(input.array.astype(dtype), other.array.astype(dtype)))


def angle(input):
    """The angle of a real number: pi for negatives, 0 otherwise (NaN stays NaN);
    a float result with zero gradient."""
    _need_tensor("angle", input)
    x = _floating(input)
    a = x.array
    xp = _xp(x)
    value = xp.where(xp.isnan(a), a, xp.where(a < 0, math.pi, 0.0)).astype(a.dtype)
    return ConstantOf.apply(x, value=value) if x.requires_grad else Tensor._make(value, None)


def positive(input):
    """input itself."""
    if _need_tensor("positive", input).array.dtype == np.bool_:
        raise RuntimeError("The `+` operator, on a bool tensor is not supported.")
    return input


def rsub(input, other, alpha=1):
    """other - alpha * input."""
    _need_tensor("rsub", input)
    if input.array.dtype == np.bool_ and (not isinstance(other, Tensor) or
                                          other.array.dtype == np.bool_):
        raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not "
                           "supported. Use the `^` or `logical_xor()` operator instead.")
    return ops.sub(other if isinstance(other, Tensor) else ops._as_tensor(other, input), input,
                   alpha=alpha)


greater, greater_equal = Tensor.gt, Tensor.ge
less, less_equal, not_equal = Tensor.lt, Tensor.le, Tensor.ne


def corrcoef(input):
    """Pearson correlation coefficients of the rows (variables) of a 2-D input,
    clipped to [-1, 1]: cov / (std_i std_j), as PyTorch computes it."""
    _need_tensor("corrcoef", input)
    if input.ndim > 2:
        raise RuntimeError(f"corrcoef(): expected input to have two or fewer dimensions but got "
                           f"an input with {input.ndim} dimensions")
    c = cov(input)
    if c.ndim == 0:
        return c / c
    std = ops.sqrt(ops.diagonal(c))
    c = c / std.reshape(-1, 1)
    c = c / std.reshape(1, -1)
    return ops.clamp(c, -1, 1)


def _slice(t, d, start=None, stop=None):
    return t[(slice(None),) * d + (slice(start, stop),)]


def gradient(input, *, spacing=1, dim=None, edge_order=1):
    """The derivative estimated by central differences along each of ``dim``
    (all by default), one tensor each: second-order accurate inside, first- or
    second-order (``edge_order``) at the ends.  ``spacing``: one number, a
    number per dimension, or each dimension's coordinates (1-D tensors).
    PyTorch's formulas (NumPy's), written with differentiable slices."""
    _need_tensor("gradient", input)
    if input.array.dtype == np.uint8:
        raise RuntimeError("torch.gradient does not support uint8 input.")
    dims = None if dim is None else ([dim] if isinstance(dim, (builtins.int, np.integer))
                                     else list(dim))
    listed = isinstance(spacing, (list, tuple))
    if listed:
        if dims is None and len(spacing) != input.ndim:
            raise RuntimeError(f"torch.gradient expected spacing to be unspecified, a scalar, or "
                               f"a list of length equal to 'self.dim() = {input.ndim}', since "
                               f"dim argument was not given, but got a list of length "
                               f"{len(spacing)}")
        if dims is not None and len(spacing) != len(dims):
            raise RuntimeError(f"torch.gradient expected spacing to be unspecified, a scalar or "
                               f"it's spacing and dim arguments to have the same length, but got "
                               f"a spacing argument of length {len(spacing)} and a dim argument "
                               f"of length {len(dims)}.")
    if edge_order not in (1, 2):
        raise RuntimeError("torch.gradient only supports edge_order=1 and edge_order=2.")
    dims = list(builtins.range(input.ndim)) if dims is None else \
        [ops._norm_dims(d, input.ndim)[0] for d in dims]
    if len(set(dims)) != len(dims):
        raise RuntimeError(f"dim {dims[0]} appears multiple times in the list of dims")
    for d in dims:
        if input.shape[d] < edge_order + 1:
            raise RuntimeError("torch.gradient expected each dimension size to be at least "
                               "edge_order+1")
    steps = list(spacing) if listed else [spacing] * len(dims)
    f = _floating(input)
    results = []
    for d, h in zip(dims, steps):
        if isinstance(h, Tensor):
            results.append(_gradient_coordinates(f, d, h, edge_order))
        else:
            results.append(_gradient_uniform(f, d, _scalar(h), edge_order))
    return tuple(results)


def _gradient_uniform(f, d, h, edge_order):
    center = (_slice(f, d, 2) - _slice(f, d, 0, -2)) / h
    if edge_order == 1:
        first = (_slice(f, d, 1, 2) - _slice(f, d, 0, 1)) / h
        last = (_slice(f, d, -1) - _slice(f, d, -2, -1)) / h
    else:
        first = (_slice(f, d, 0, 1) * -1.5 + _slice(f, d, 1, 2) * 2.0
                 + _slice(f, d, 2, 3) * -0.5) / h
        last = (_slice(f, d, -3, -2) * 0.5 + _slice(f, d, -2, -1) * -2.0
                + _slice(f, d, -1) * 1.5) / h
    return ops.cat([first, center / 2, last], d)


def _gradient_coordinates(f, d, x, edge_order):
    if x.ndim != 1:
        raise RuntimeError(f"torch.gradient expected each element of spacing to have one "
                           f"dimension, but got an element with {x.ndim} dimensions!")
    shape = [1] * f.ndim
    shape[d] = -1
    dx = diff(x)
    dx1, dx2 = dx[:-1], dx[1:]
    a = (-dx2 / (dx1 * (dx1 + dx2))).reshape(*shape)
    b = ((dx2 - dx1) / (dx1 * dx2)).reshape(*shape)
    c = (dx1 / (dx2 * (dx1 + dx2))).reshape(*shape)
    center = a * _slice(f, d, 0, -2) + b * _slice(f, d, 1, -1) + c * _slice(f, d, 2)
    if edge_order == 1:
        first = (_slice(f, d, 1, 2) - _slice(f, d, 0, 1)) / dx[0]
        last = (_slice(f, d, -1) - _slice(f, d, -2, -1)) / dx[-1]
    else:
        a = -(2.0 * dx[0] + dx[1]) / (dx[0] * (dx[0] + dx[1]))
        b = (dx[0] + dx[1]) / (dx[0] * dx[1])
        c = (-dx[0]) / (dx[1] * (dx[0] + dx[1]))
        first = a * _slice(f, d, 0, 1) + b * _slice(f, d, 1, 2) + c * _slice(f, d, 2, 3)
        a = dx[-1] / (dx[-2] * (dx[-1] + dx[-2]))
        b = -(dx[-1] + dx[-2]) / (dx[-1] * dx[-2])
        c = (2 * dx[-1] + dx[-2]) / (dx[-1] * (dx[-1] + dx[-2]))
        last = a * _slice(f, d, -3, -2) + b * _slice(f, d, -2, -1) + c * _slice(f, d, -1)
    return ops.cat([first, center, last], d)


def cumulative_trapezoid(y, x=None, *, dx=None, dim=-1):
    """The running trapezoid-rule integral of ``y`` along ``dim`` (one value
    fewer than y): sample spacing ``dx`` (default 1) or sample points ``x``."""
    _need_tensor("cumulative_trapezoid", y, "y")
    if y.ndim == 0:
        raise IndexError("slice() cannot be applied to a 0-dim tensor.")
    d = ops._norm_dims(dim, y.ndim)[0]
    if x is None and y.array.dtype == np.bool_:
        raise RuntimeError("cumulative_trapezoid: received a bool input for `y`, but bool is "
                           "not supported")
    if x is not None and np.bool_ in (y.array.dtype, x.array.dtype):
        raise RuntimeError("cumulative_trapezoid: received a bool input for `x` or `y`, but "
                           "bool is not supported")
    left, right = _slice(y, d, 0, -1), _slice(y, d, 1)
    if x is None:
        step = 1 if dx is None else _scalar(dx)
        return ops.cumsum(step / 2.0 * (left + right), d)
    if x.ndim == 1:
        if x.shape[0] != y.shape[d]:
            raise RuntimeError("cumulative_trapezoid: There must be one `x` value for each "
                               "sample point")
        shape = [1] * y.ndim
        shape[d] = x.shape[0]
        x = x.reshape(*shape)
    spacing = _slice(x, d, 1) - _slice(x, d, 0, -1)
    return ops.cumsum(spacing * (left + right) / 2.0, d)


def histogramdd(input, bins, *, range=None, weight=None, density=False):
    """``(hist, bin_edges)`` of the points in input's last dimension (N
    coordinates each): ``bins`` a count for all, a count per dimension, or
    each dimension's edges; the last bin includes its right edge, points
    outside are left out (not differentiable)."""
    _need_tensor("histogramdd", input)
    if input.array.dtype.kind != "f":
        raise NotImplementedError(f"\"histogramdd\" not implemented for "
                                  f"'{scalar_type_name(input.array.dtype)}'")
    if input.ndim < 2:
        raise RuntimeError("torch.histogramdd: input tensor should have at least 2 dimensions")
    n = input.shape[-1]
    points = _host(input.array).reshape(-1, n)
    dtype = input.array.dtype
    if isinstance(bins, (builtins.int, np.integer)):
        bins = [int(bins)] * n
    if len(bins) != n:
        raise RuntimeError("histogramdd: The size of bins must be equal to the innermost "
                           "dimension of the input.")
    if range is not None and len(range) != 2 * n:
        raise RuntimeError(f"torch.histogramdd: for a {n}-dimensional histogram range should "
                           f"have {2 * n} elements, but got {len(range)}")
    edges = []
    for k, b in enumerate(bins):
        if isinstance(b, Tensor):
            edges.append(_host(b.array).astype(dtype))
            continue
        if b <= 0:
            raise RuntimeError(f"torch.histogram(): bins must be > 0, but got {b} for dimension "
                               f"{k}")
        if range is not None:
            lo, hi = float(range[2 * k]), float(range[2 * k + 1])
        elif points.shape[0]:
            lo, hi = float(points[:, k].min()), float(points[:, k].max())
        else:
            lo, hi = 0.0, 0.0
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise RuntimeError(f"torch.histogramdd: dimension {k}'s range [{lo:g}, {hi:g}] is "
                               f"not finite")
        if lo > hi:
            raise RuntimeError(f"torch.histogramdd: min should not exceed max, but got min "
                               f"{lo:g} max {hi:g} for dimension {k}")
        if lo == hi:
            lo, hi = lo - 0.5, hi + 0.5
        edges.append(np.linspace(lo, hi, int(b) + 1).astype(dtype))
    w = None
    if weight is not None:
        w = _host(weight.array).reshape(-1)
    hist, _ = np.histogramdd(points, bins=edges, weights=w)
    hist = hist.astype(dtype)
    if density:
        hist = hist / hist.sum()
        for k, e in enumerate(edges):
            shape = [1] * n
            shape[k] = -1
            hist = hist / np.diff(e).reshape(shape)
        hist = hist.astype(dtype)
    xp = _xp(input)
    return return_types.histogramdd((Tensor(xp.asarray(hist)),
                                     tuple(Tensor(xp.asarray(e)) for e in edges)))


# -- functional scatters -------------------------------------------------------------------

def index_copy(input, dim, index, source):
    return _need_tensor("index_copy", input).index_copy(dim, index, source)


def index_fill(input, dim, index, value):
    return _need_tensor("index_fill", input).index_fill(dim, index, value)


def index_put(input, indices, values, accumulate=False):
    return _need_tensor("index_put", input).index_put(indices, values, accumulate)


def _check_src(src, expected):
    if tuple(src.shape) != tuple(expected):
        raise RuntimeError(f"expected src to have a size equal to the slice of self. src size = "
                           f"{list(src.shape)}, slice size = {list(expected)}")


def _scatter_into(input, index, src):
    """A copy of input with input[index] = src (recorded: src gets the gradient
    of what it wrote, input of the rest)."""
    out = input.clone()
    out[index] = src
    return out


def select_scatter(input, src, dim, index):
    """input with the slice ``select(dim, index)`` replaced by src."""
    _need_tensor("select_scatter", input)
    d = ops._norm_dims(dim, input.ndim)[0]
    n = input.shape[d]
    if not -n <= index < n:
        raise IndexError(f"select(): index {index} out of range for tensor of size "
                         f"{list(input.shape)} at dimension {d}")
    key = (slice(None),) * d + (int(index) % n,)
    _check_src(src, input.shape[:d] + input.shape[d + 1:])
    return _scatter_into(input, key, src)


def slice_scatter(input, src, dim=0, start=None, end=None, step=1):
    """input with the slice ``start:end:step`` of ``dim`` replaced by src."""
    _need_tensor("slice_scatter", input)
    if step <= 0:
        raise RuntimeError("slice step must be positive")
    d = ops._norm_dims(dim, input.ndim)[0]
    key = (slice(None),) * d + (slice(start, end, step),)
    _check_src(src, input.array[key].shape)
    return _scatter_into(input, key, src)


def diagonal_scatter(input, src, offset=0, dim1=0, dim2=1):
    """input with its ``diagonal(offset, dim1, dim2)`` replaced by src."""
    _need_tensor("diagonal_scatter", input)
    d1, d2 = ops._norm_dims((dim1, dim2), input.ndim)
    _check_src(src, ops.diagonal(input.detach(), offset, d1, d2).shape)
    length = src.shape[-1]
    rows = np.arange(length) + builtins.max(-offset, 0)
    cols = np.arange(length) + builtins.max(offset, 0)
    # the two diagonal dimensions last, so that the index's result is (..., length) like src
    order = [k for k in builtins.range(input.ndim) if k not in (d1, d2)] + [d1, d2]
    moved = input.permute(*order).clone()
    moved[(Ellipsis, Tensor(rows), Tensor(cols))] = src
    return moved.permute(*np.argsort(order).tolist()).contiguous()


def as_strided(input, size, stride, storage_offset=None):
    """Tensor.as_strided: a gather of the strided positions, differentiable
    (its backward adds the gradient back at each position, overlaps summed)."""
    return _need_tensor("as_strided", input).as_strided(size, stride, storage_offset)


def detach(input):
    return _need_tensor("detach", input).detach()


# -- deprecated linear-algebra names: torch.linalg's functions -------------------------------

def _deprecated(message):
    warnings.warn(message, UserWarning, stacklevel=3)


def qr(input, some=True):
    """``(Q, R)``: linalg.qr(input, 'reduced' if some else 'complete')."""
    _deprecated("torch.qr is deprecated in favor of torch.linalg.qr and will be removed in a "
                "future PyTorch release.\nThe boolean parameter 'some' has been replaced with a "
                "string parameter 'mode'.\nQ, R = torch.qr(A, some)\nshould be replaced with\n"
                "Q, R = torch.linalg.qr(A, 'reduced' if some else 'complete')")
    Q, R = _linalg.qr(_need_tensor("qr", input), "reduced" if some else "complete")
    return return_types.qr((Q, R))


def lu(A, pivot=True, get_infos=False, out=None):
    """``(LU, pivots)`` or, with get_infos, ``(LU, pivots, infos)``:
    linalg.lu_factor_ex (a singular matrix is reported in infos, never raised)."""
    _deprecated("torch.lu is deprecated in favor of torch.linalg.lu_factor / "
                "torch.linalg.lu_factor_ex and will be removed in a future PyTorch release.\n"
                "LU, pivots = torch.lu(A, compute_pivots)\nshould be replaced with\n"
                "LU, pivots = torch.linalg.lu_factor(A, compute_pivots)\nand\n"
                "LU, pivots, info = torch.lu(A, compute_pivots, get_infos=True)\n"
                "should be replaced with\nLU, pivots, info = torch.linalg.lu_factor_ex(A, "
                "compute_pivots)")
    LU, pivots, info = _linalg.lu_factor_ex(A, pivot=pivot)
    return return_types._lu_with_info((LU, pivots, info)) if get_infos else (LU, pivots)


def lu_solve(b, LU_data, LU_pivots):
    """X with A X = b, A given by lu's result: linalg.lu_solve(LU, pivots, b)."""
    _deprecated("torch.lu_solve is deprecated in favor of torch.linalg.lu_solveand will be "
                "removed in a future PyTorch release.\nNote that torch.linalg.lu_solve has its "
                "arguments reversed.\nX = torch.lu_solve(B, LU, pivots)\nshould be replaced "
                "with\nX = torch.linalg.lu_solve(LU, pivots, B)")
    return _linalg.lu_solve(LU_data, LU_pivots, b)


def lu_unpack(LU_data, LU_pivots, unpack_data=True, unpack_pivots=True):
    """``(P, L, U)`` from lu_factor's packed result (A = P L U): L unit lower
    (m, k), U upper (k, n), both differentiable in LU_data; P (m, m) from the
    1-based row swaps.  What is not unpacked comes back empty."""
    _need_tensor("lu_unpack", LU_data, "LU_data")
    if LU_pivots.array.dtype != np.int32:
        raise RuntimeError("torch.lu_unpack: LU_pivots is expected to be a contiguous tensor of "
                           "torch.int32 dtype.\nNote: this function is intended to be used with "
                           "the output produced by torch.linalg.lu_factor")
    m, n = LU_data.shape[-2:]
    k = builtins.min(m, n)
    xp = _xp(LU_data)
    dtype = LU_data.array.dtype
    empty = Tensor(xp.zeros((0,), dtype))
    L = U = P = empty
    if unpack_data:
        L = ops.tril(LU_data[..., :, :k], -1) + Tensor(xp.eye(m, k, dtype=dtype))
        U = ops.triu(LU_data[..., :k, :])
    if unpack_pivots:
        piv = _host(LU_pivots.array).astype(np.int64) - 1
        perm = np.broadcast_to(np.arange(m), piv.shape[:-1] + (m,)).copy()
        for idx in np.ndindex(piv.shape[:-1]):
            for i, p in enumerate(piv[idx]):
                perm[idx + (i,)], perm[idx + (p,)] = perm[idx + (p,)], perm[idx + (i,)]
        # row i of P^T is e_perm[i]: P = I[perm]^T
        P = Tensor(xp.asarray(np.swapaxes(np.eye(m, dtype=dtype)[perm], -1, -2).copy()))
    return return_types.lu_unpack((P, L, U))


def triangular_solve(b, A, upper=True, transpose=False, unitriangular=False):
    """``(X, A.clone())`` with op(T) X = b, T the upper (or lower) triangle of
    A (unit diagonal if unitriangular), op a transpose if ``transpose``."""
    _deprecated("torch.triangular_solve is deprecated in favor of "
                "torch.linalg.solve_triangularand will be removed in a future PyTorch release.\n"
                "torch.linalg.solve_triangular has its arguments reversed and does not return a "
                "copy of one of the inputs.\nX = torch.triangular_solve(B, A).solution\nshould "
                "be replaced with\nX = torch.linalg.solve_triangular(A, B).")
    _need_tensor("triangular_solve", b)
    _need_tensor("triangular_solve", A, "A", 2)
    T, up = (A.mT, not upper) if transpose else (A, upper)
    X = _linalg.solve_triangular(T, b, upper=up, unitriangular=unitriangular)
    return return_types.triangular_solve((X, A.clone()))


def nuclear_norm(input, dim=None, keepdim=False):
    """Sum of singular values over ``dim`` (the last two by default):
    linalg.matrix_norm(input, 'nuc', dim, keepdim).  Also ``nuclear_norm(input, keepdim)``."""
    warnings.warn("at::nuclear_norm is deprecated and it is just left for JIT compatibility. It "
                  "will be removed in a future PyTorch release. Please use "
                  "`linalg.matrix_norm(A, 'nuc', dim, keepdim)` instead", UserWarning,
                  stacklevel=2)
    if isinstance(dim, builtins.bool):      # nuclear_norm(input, keepdim)
        dim, keepdim = None, dim
    return _linalg.matrix_norm(input, "nuc", (-2, -1) if dim is None else tuple(dim), keepdim)


def frobenius_norm(input, dim, keepdim=False):
    """sqrt of the sum of squares over ``dim`` (at most two dimensions):
    linalg.vector_norm(input, 2, dim, keepdim)."""
    warnings.warn("at::frobenius_norm is deprecated and it is just left for JIT compatibility. "
                  "It will be removed in a future PyTorch release. Please use "
                  "`linalg.vector_norm(A, 2., dim, keepdim)` instead", UserWarning, stacklevel=2)
    dims = (dim,) if isinstance(dim, (builtins.int, np.integer)) else tuple(dim)
    if len(dims) > 2:
        raise RuntimeError(f"Expected at most 2 dimensions, but got {len(dims)} dimensions "
                           f"instead.")
    return _linalg.vector_norm(input, 2, dims, keepdim)


def ger(input, vec2):
    """The outer product of two vectors (PyTorch's old name of outer)."""
    for name, v in (("self", input), ("vec2", vec2)):
        if _need_tensor("ger", v, "input" if name == "self" else name).ndim != 1:
            raise RuntimeError(f"outer: Expected 1-D argument {name}, but got {v.ndim}-D")
    return ops.outer(input, vec2)


# -- Tensor methods PyTorch has for these ------------------------------------------------------

def _inplace_of(fn):
    def method(self, *args, **kwargs):
        return self._inplace(lambda x, _: _same_shape(self, fn(x, *args, **kwargs)), None)
    method.__name__ = fn.__name__ + "_"
    return method


def _same_shape(self, result):
    """``result``, if it fits in ``self`` for an in-place op (PyTorch's error otherwise)."""
    if result.shape != self.shape:
        raise RuntimeError(f"output with shape {list(self.shape)} doesn't match the broadcast "
                           f"shape {list(result.shape)}")
    return result


def _zero_gradient(value, *inputs):
    """The array ``value``, computed from ``inputs`` by a piecewise-constant op
    (a comparison, sign), as a Tensor whose gradient is zero (a constant when
    no input needs one)."""
    for t in inputs:
        if isinstance(t, Tensor) and t.requires_grad and value.dtype.kind == "f":
            return ConstantOf.apply(t, value=value)
    return Tensor(value)


def _constant_inplace(fn):
    """In place, a comparison's 0/1 in self's dtype.  In a graph the result is
    a zero-gradient node, as PyTorch's EqBackward: self's old gradient path
    must not stay attached to the new values."""
    def method(self, other):
        def op(x, o):
            value = _same_shape(self, fn(x.detach(), o.detach() if isinstance(o, Tensor) else o))
            return _zero_gradient(value.array.astype(self.array.dtype), x, o)
        return self._inplace(op, other)
    method.__name__ = method.__qualname__ = fn.__name__ + "_"
    return method


def _sign_(self):
    def op(x, _):
        a = x.array
        return _zero_gradient(a if a.dtype == np.bool_ else _xp(x).sign(a), x)
    return self._inplace(op, None)


def _logical_inplace(fn):
    """In place, a logical op's True/False in self's dtype, written as
    PyTorch does: its logical ops are not differentiable, so the write is
    not recorded and a leaf that requires grad is not refused (the version
    moves; grad_fn stays)."""
    def method(self, *other):
        value = _same_shape(self, fn(self.detach(), *other))
        self._bump_version()
        self.array[...] = value.array
        return self
    method.__name__ = method.__qualname__ = fn.__name__ + "_"
    return method


def _cumulative_inplace(fn, kernel):
    def method(self, dim, *, dtype=None):
        if self.array.dtype == np.bool_:
            raise NotImplementedError(f'"{kernel}" not implemented for \'Bool\'')
        if dtype is not None and _dt.check_dtype(dtype) != self.array.dtype:
            raise RuntimeError(f"Bad in-place call: input tensor dtype "
                               f"{cpp_type_name(self.array.dtype)} and output tensor dtype "
                               f"{cpp_type_name(dtype)} should match")
        return self._inplace(lambda x, _: fn(x, dim), None)
    method.__name__ = method.__qualname__ = fn.__name__ + "_"
    return method


def _checked(self, fn):
    """fn (x, other, **options) with its result checked to fit self."""
    return lambda x, o, **options: _same_shape(self, fn(x, o, **options))


def _absolute_(self):
    if self.array.dtype == np.bool_:
        raise NotImplementedError("\"abs_cpu\" not implemented for 'Bool'")
    return self.abs_()


def _divide_(self, other, *, rounding_mode=None):
    return self._inplace(_checked(self, ops.div), other, rounding_mode=rounding_mode)


def _multiply_(self, other):
    return self._inplace(_checked(self, ops.mul), other)


def _subtract_(self, other, *, alpha=1):
    return self._inplace(_checked(self, ops.sub), other, alpha=alpha)


def _shift_inplace(fn):
    def method(self, other):
        result = ops.result_type(self, other)
        if not np.can_cast(result, self.array.dtype, "same_kind"):   # before the kernel's check
            raise RuntimeError(f"result type {scalar_type_name(result)} can't be cast to the "
                               f"desired output type {scalar_type_name(self.array.dtype)}")
        return self._inplace(_checked(self, fn), other)
    method.__name__ = method.__qualname__ = fn.__name__ + "_"
    return method


def _swapaxes_(self, axis0, axis1):
    return self._inplace_view(ops.transpose, axis0, axis1)


def _new_empty_strided(self, size, stride, *, dtype=None, layout=None, device=None,
                       requires_grad=False, pin_memory=False):
    return empty_strided(size, stride, dtype=self.array.dtype if dtype is None else dtype,
                         device=self.device if device is None else device,
                         requires_grad=requires_grad)


_TENSOR_METHODS = {
    "aminmax": aminmax, "msort": msort, "copysign": copysign, "ldexp": ldexp, "frexp": frexp,
    "nextafter": nextafter, "angle": angle, "positive": positive, "greater": greater,
    "greater_equal": greater_equal, "less": less, "less_equal": less_equal,
    "not_equal": not_equal, "corrcoef": corrcoef, "select_scatter": select_scatter,
    "slice_scatter": slice_scatter, "diagonal_scatter": diagonal_scatter,
    "bernoulli": bernoulli, "ger": ger, "qr": qr, "lu": lu,
    "copysign_": _inplace_of(copysign), "ldexp_": _inplace_of(ldexp),
    "nextafter_": _inplace_of(nextafter),
    "lu_solve": lu_solve, "triangular_solve": triangular_solve,
    "new_empty_strided": _new_empty_strided,
    # the in-place forms of ops that exist (Tensor._inplace: self's dtype kept,
    # recorded in a graph, a leaf that requires grad refused)
    "absolute_": _absolute_, "divide_": _divide_, "multiply_": _multiply_,
    "subtract_": _subtract_, "cumsum_": _cumulative_inplace(ops.cumsum, "cumsum_out_cpu"),
    "cumprod_": _cumulative_inplace(ops.cumprod, "cumprod_out_cpu"),
    "tril_": _inplace_of(ops.tril), "triu_": _inplace_of(ops.triu), "sign_": _sign_,
    "swapaxes_": _swapaxes_, "swapdims_": _swapaxes_,
    "bitwise_left_shift_": _shift_inplace(bitwise_left_shift),
    "bitwise_right_shift_": _shift_inplace(bitwise_right_shift),
    "logical_and_": _logical_inplace(Tensor.logical_and),
    "logical_or_": _logical_inplace(Tensor.logical_or),
    "logical_xor_": _logical_inplace(Tensor.logical_xor),
    "logical_not_": _logical_inplace(Tensor.logical_not),
}
for _name, _fn in (("eq", Tensor.eq), ("ne", Tensor.ne), ("lt", Tensor.lt), ("le", Tensor.le),
                   ("gt", Tensor.gt), ("ge", Tensor.ge), ("greater", greater),
                   ("greater_equal", greater_equal), ("less", less), ("less_equal", less_equal),
                   ("not_equal", not_equal)):
    _TENSOR_METHODS[_name + "_"] = _constant_inplace(_fn)
for _name, _fn in _TENSOR_METHODS.items():
    if not hasattr(Tensor, _name):
        setattr(Tensor, _name, _fn)
# x <<= n, x >>= n, x &= m...: in place, as PyTorch (without these Python rebinds x)
for _name, _method in (("__ilshift__", "bitwise_left_shift_"),
                       ("__irshift__", "bitwise_right_shift_"), ("__iand__", "bitwise_and_"),
                       ("__ior__", "bitwise_or_"), ("__ixor__", "bitwise_xor_")):
    if _name not in Tensor.__dict__ and hasattr(Tensor, _method):
        setattr(Tensor, _name, getattr(Tensor, _method))


def _predicate_method(fn):
    return lambda self, *args: fn(self, *args)


def _attach_predicates():
    from . import _torch_info
    for name in ("is_complex", "is_signed", "is_nonzero", "is_same_size", "is_inference"):
        if not hasattr(Tensor, name):
            setattr(Tensor, name, _predicate_method(getattr(_torch_info, name)))


_attach_predicates()


# -- in-place forms: torch.name_(t, *args) is t.name_(*args) -----------------------------------

def _unary_method(name):
    op = getattr(ops, name, None) or getattr(Tensor, name)

    def method(self):
        return self._inplace(lambda x, _: op(x), None)
    method.__name__ = method.__qualname__ = name + "_"
    return method


# Tensor methods PyTorch has whose out-of-place op exists: in place through
# Tensor._inplace, recorded in a graph like add_
for _name in ("cos", "sin", "expm1", "log10", "log1p", "log2", "reciprocal", "rsqrt", "square",
              "negative"):
    if not hasattr(Tensor, _name + "_"):
        setattr(Tensor, _name + "_", _unary_method(_name))
if not hasattr(Tensor, "clip_"):
    Tensor.clip_ = Tensor.clamp_

# PyTorch's top-level in-place functions that are one Tensor method each
INPLACE = ("abs_", "acos_", "acosh_", "addmv_", "arccos_", "arccosh_", "arcsin_", "arcsinh_",
           "arctan_", "arctanh_", "asin_", "asinh_", "atan_", "atanh_", "ceil_", "clamp_",
           "clamp_max_", "clamp_min_", "clip_", "cos_", "cosh_", "deg2rad_", "detach_", "erf_",
           "erfc_", "exp2_", "exp_", "expm1_", "fill_", "fix_", "floor_", "frac_", "gcd_", "i0_",
           "index_put_", "lcm_", "ldexp_", "log10_", "log1p_", "log2_", "log_", "logit_",
           "nan_to_num_", "neg_", "negative_", "rad2deg_", "reciprocal_", "relu_", "round_",
           "rsqrt_", "sigmoid_", "sin_", "sinc_", "sinh_", "sqrt_", "square_", "tan_", "tanh_",
           "trunc_", "xlogy_", "zero_")


def _inplace_function(name):
    def function(input, *args, **kwargs):
        return getattr(_need_tensor(name, input), name)(*args, **kwargs)
    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"``torch.{name}(input, ...)``: ``input.{name}(...)``, in place."
    return function


def inplace_functions():
    """{name: function} for each name of INPLACE whose Tensor method exists."""
    return {name: _inplace_function(name) for name in INPLACE if hasattr(Tensor, name)}


# torch's names for nn.functional's ops (_torch_functional.py), loaded with nn on first use
FUNCTIONAL_NAMES = frozenset((
    "conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d", "avg_pool1d", "max_pool1d",
    "max_pool2d", "adaptive_avg_pool1d", "adaptive_max_pool1d", "dropout", "dropout_",
    "feature_dropout", "feature_dropout_", "alpha_dropout", "alpha_dropout_",
    "feature_alpha_dropout", "feature_alpha_dropout_", "embedding", "embedding_bag",
    "layer_norm", "group_norm", "batch_norm", "instance_norm", "rms_norm", "pixel_shuffle",
    "pixel_unshuffle", "channel_shuffle", "prelu", "hardshrink", "bilinear",
    "cosine_similarity", "pairwise_distance", "selu", "selu_", "celu", "celu_", "threshold",
    "threshold_", "rrelu", "rrelu_", "constant_pad_nd", "kl_div",
    "binary_cross_entropy_with_logits", "poisson_nll_loss", "cosine_embedding_loss",
    "hinge_embedding_loss", "margin_ranking_loss", "triplet_margin_loss", "conv3d",
    "conv_transpose3d", "max_pool3d", "max_pool1d_with_indices"))

__all__ = ["asarray", "frombuffer", "logspace", "range", "scalar_tensor", "empty_strided",
           "empty_permuted", "fill", "randint_like", "hamming_window", "hann_window",
           "bartlett_window", "blackman_window", "kaiser_window", "bernoulli", "poisson",
           "binomial", "isin", "unravel_index", "aminmax", "msort", "copysign", "ldexp",
           "frexp", "nextafter", "angle", "positive", "rsub", "greater", "greater_equal",
           "less", "less_equal", "not_equal", "corrcoef", "gradient", "cumulative_trapezoid",
           "histogramdd", "index_copy", "index_fill", "index_put", "select_scatter",
           "slice_scatter", "diagonal_scatter", "as_strided", "detach", "qr", "lu", "lu_solve",
           "lu_unpack", "triangular_solve", "nuclear_norm", "frobenius_norm", "ger",
           # Tensor methods' functions (tensor_extras.py)
           "bitwise_left_shift", "bitwise_right_shift", "layout", "strided", "conj",
           "resolve_conj", "resolve_neg", "conj_physical", "adjoint", "is_conj", "is_neg",
           "real", "imag", "split_with_sizes", "unsafe_split", "unsafe_split_with_sizes",
           "unsafe_chunk", "narrow_copy", "orgqr", "nonzero_static", "eig", "symeig", "lstsq",
           "solve", "TypedStorage", "UntypedStorage",
           # torch's in-place functions whose Tensor methods are there too (a method is
           # the function of its tensor: torch.as_strided_(t, size, stride))
           "as_strided_", "conj_physical_", "resize_as_"]
