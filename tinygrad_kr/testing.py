"""torch.testing: ``assert_close``, ``make_tensor`` and the deprecated
``assert_allclose``, with PyTorch's rules, defaults and messages.

assert_close follows torch/testing/_comparison.py: the inputs are matched
up (nested sequences by position, mappings by key), and each pair of
leaves is compared by the first kind that takes it: None, bools, numbers
(Python or NumPy scalars), then tensor-likes (Tensors, NumPy arrays, or
anything ``as_tensor`` takes, when the two types are directly related).
Tensor-likes must agree in shape and, unless switched off, in device,
dtype and (``check_stride=True``) strides, which are real here (a Tensor is
a strided NumPy/CuPy array); every tensor here is strided, so
``check_layout`` has nothing to check.  Values are close where
``|actual - expected| <= atol + rtol * |expected|`` (PyTorch's isclose:
infinities only equal to themselves, NaN only with ``equal_nan``), with
PyTorch's default tolerances per dtype.  The first failure raises, its
message built as PyTorch's ("Tensor-likes are not close!", mismatched
elements, greatest absolute and relative difference with their index),
dtypes and shapes written as this package prints them.  The comparison runs
on the host, after the device check.
"""
import cmath
import collections.abc
import functools
import math
import warnings

import numpy as np

from . import dtypes as _dt
from .backend import cupy_module
from .factories import as_tensor, empty, randint, tensor
from .ops import promote_types
from .tensor import Size, Tensor, device as _device

__all__ = ["assert_close", "make_tensor", "assert_allclose"]

# {dtype: (rtol, atol)}; every other dtype compares exactly
_DTYPE_PRECISIONS = {
    np.dtype("float16"): (0.001, 1e-5),
    np.dtype("float32"): (1.3e-6, 1e-5),
    np.dtype("float64"): (1e-7, 1e-7),
    np.dtype("complex64"): (1.3e-6, 1e-5),
    np.dtype("complex128"): (1e-7, 1e-7),
}
# the dtype a Python number stands for
_NUMBER_DTYPES = {bool: np.dtype("int64"), int: np.dtype("int64"),
                  float: np.dtype("float64"), complex: np.dtype("complex128")}


def _dtype_name(dtype):
    return f"tinygrad_kr.{np.dtype(dtype)}"


class _Failure(Exception):
    """A failed check: the exception type to raise, its message, and where
    in nested inputs it happened (PyTorch's ErrorMeta)."""

    def __init__(self, type, msg, id=()):
        super().__init__(msg)
        self.type, self.msg, self.id = type, msg, id

    def to_error(self, msg=None):
        if not isinstance(msg, str):
            generated = self.msg
            if self.id:
                generated += f"\n\nThe failure occurred for item {''.join(str([i]) for i in self.id)}"
            msg = msg(generated) if callable(msg) else generated
        return self.type(msg)


class _Unsupported(Exception):
    """This kind of pair does not take these inputs: try the next."""


def _tolerances(dtypes, rtol, atol, id, table=_DTYPE_PRECISIONS):
    if (rtol is None) != (atol is None):
        raise _Failure(ValueError, f"Both 'rtol' and 'atol' must be either specified or omitted, "
                                   f"but got no {'rtol' if rtol is None else 'atol'}.", id)
    if rtol is not None:
        return rtol, atol
    rtols, atols = zip(*[table.get(np.dtype(d), (0.0, 0.0)) for d in dtypes])
    return max(rtols), max(atols)


def _mismatch_msg(identifier, default, extra, abs_diff, abs_idx, atol, rel_diff, rel_idx, rtol):
    equality = rtol == 0 and atol == 0

    def diff(kind, value, idx, tol):
        line = f"{kind.title()} difference: {value}" if idx is None else \
            f"Greatest {kind} difference: {value} at index {idx}"
        return line + ("" if equality else f" (up to {tol} allowed)") + "\n"

    if identifier is None:
        identifier = default
    elif callable(identifier):
        identifier = identifier(default)
    msg = f"{identifier} are not {'equal' if equality else 'close'}!\n\n"
    if extra:
        msg += f"{extra.strip()}\n"
    msg += diff("absolute", abs_diff, abs_idx, atol) + diff("relative", rel_diff, rel_idx, rtol)
    return msg.strip()


def _scalar_mismatch_msg(actual, expected, rtol, atol, identifier=None):
    abs_diff = abs(actual - expected)
    rel_diff = float("inf") if expected == 0 else abs_diff / abs(expected)
    return _mismatch_msg(identifier, "Scalars", f"Expected {expected} but got {actual}.",
                         abs_diff, None, atol, rel_diff, None, rtol)


def _tensor_mismatch_msg(actual, expected, matches, rtol, atol):
    total = matches.size
    mismatches = total - int(matches.sum())
    extra = f"Mismatched elements: {mismatches} / {total} ({mismatches / total:.1%})"
    a, e, m = actual.ravel(), expected.ravel(), matches.ravel()
    if a.dtype.kind not in "fc":
        a, e = a.astype(np.int64), e.astype(np.int64)
    with np.errstate(all="ignore"):
        abs_diff = np.abs(a - e)
        abs_diff[m] = 0
        # integer differences divide in the default float dtype, as PyTorch's true division
        quotient = _dt.get_default_dtype() if abs_diff.dtype.kind not in "fc" else abs_diff.dtype
        rel_diff = abs_diff.astype(quotient) / np.abs(e).astype(quotient)
        rel_diff[m] = 0
    abs_at, rel_at = int(np.argmax(abs_diff)), int(np.argmax(rel_diff))

    def index(flat):
        return tuple(int(i) for i in np.unravel_index(flat, matches.shape))
    return _mismatch_msg(None, "Tensor-likes", extra, abs_diff[abs_at].item(), index(abs_at),
                         atol, rel_diff[rel_at].item(), index(rel_at), rtol)


def _isclose(a, b, rtol, atol, equal_nan):
    """PyTorch's isclose on two host arrays of one dtype."""
    close = a == b
    if equal_nan and a.dtype.kind in "fc":
        close |= np.isnan(a) & np.isnan(b)
    if rtol == 0 and atol == 0:
        return close
    if a.dtype.kind == "b":
        a, b = a.astype(_dt.get_default_dtype()), b.astype(_dt.get_default_dtype())
    with np.errstate(all="ignore"):
        # rtol * b is a float of b's precision, or of the default float dtype for integers
        scale = b if b.dtype.kind in "fc" else b.astype(_dt.get_default_dtype())
        allowed = atol + np.abs(rtol * scale)
        error = np.abs(a - b)
        close |= np.isfinite(error) & (error <= allowed)
    return close


# --------------------------------------------------------------------------
# the kinds of pairs, tried in this order
# --------------------------------------------------------------------------


class _NonePair:
    def __init__(self, actual, expected, id, **options):
        if not (actual is None or expected is None):
            raise _Unsupported
        self.actual, self.expected, self.id = actual, expected, id

    def compare(self):
        if not (self.actual is None and self.expected is None):
            raise _Failure(AssertionError,
                           f"None mismatch: {self.actual} is not {self.expected}", self.id)


class _BooleanPair:
    def __init__(self, actual, expected, id, **options):
        if not all(isinstance(v, (bool, np.bool_)) for v in (actual, expected)):
            raise _Unsupported
        self.actual, self.expected, self.id = bool(actual), bool(expected), id

    def compare(self):
        if self.actual is not self.expected:
            raise _Failure(AssertionError,
                           f"Booleans mismatch: {self.actual} is not {self.expected}", self.id)


class _NumberPair:
    def __init__(self, actual, expected, id, rtol=None, atol=None, equal_nan=False,
                 check_dtype=False, **options):
        if not all(isinstance(v, (int, float, complex, np.number)) for v in (actual, expected)):
            raise _Unsupported
        self.actual, self.expected = (v.item() if isinstance(v, np.number) else v
                                      for v in (actual, expected))
        self.id = id
        self.rtol, self.atol = _tolerances(
            [_NUMBER_DTYPES[type(v)] for v in (self.actual, self.expected)], rtol, atol, id)
        self.equal_nan, self.check_dtype = equal_nan, check_dtype

    def compare(self):
        a, e = self.actual, self.expected
        if self.check_dtype and type(a) is not type(e):
            raise _Failure(AssertionError,
                           f"The (d)types do not match: {type(a)} != {type(e)}.", self.id)
        if a == e or (self.equal_nan and cmath.isnan(a) and cmath.isnan(e)):
            return
        abs_diff = abs(a - e)
        if cmath.isfinite(abs_diff) and abs_diff <= self.atol + self.rtol * abs(e):
            return
        raise _Failure(AssertionError,
                       _scalar_mismatch_msg(a, e, self.rtol, self.atol), self.id)


class _Like:
    """A tensor-like as the comparison sees it: its array, device and strides."""

    def __init__(self, x):
        if isinstance(x, np.ndarray):
            self.array, self.device = x, _device("cpu")
        else:
            t = x if isinstance(x, Tensor) else as_tensor(x)
            self.array, self.device = t.array, t.device
        self.shape, self.dtype = tuple(self.array.shape), self.array.dtype
        self.stride = tuple(s // self.array.itemsize for s in self.array.strides)

    def host(self):
        cp = cupy_module()
        return cp.asnumpy(self.array) if self.array.__class__ is not np.ndarray else self.array


class _TensorLikePair:
    def __init__(self, actual, expected, id, allow_subclasses=True, rtol=None, atol=None,
                 equal_nan=False, check_device=True, check_dtype=True, check_layout=True,
                 check_stride=False, **options):
        if not (isinstance(actual, type(expected)) or isinstance(expected, type(actual))):
            raise _Unsupported
        if not allow_subclasses and type(actual) is not type(expected):
            raise _Unsupported
        try:
            self.actual, self.expected = _Like(actual), _Like(expected)
        except Exception:
            raise _Unsupported from None
        self.id = id
        self.rtol, self.atol = _tolerances([self.actual.dtype, self.expected.dtype], rtol, atol,
                                           id)
        self.equal_nan, self.check_device = equal_nan, check_device
        self.check_dtype, self.check_stride = check_dtype, check_stride

    def _attribute_mismatch(self, name, actual, expected):
        raise _Failure(AssertionError, f"The values for attribute '{name}' do not match: "
                                       f"{actual} != {expected}.", self.id)

    def compare(self):
        a, e = self.actual, self.expected
        if a.shape != e.shape:
            self._attribute_mismatch("shape", Size(a.shape), Size(e.shape))
        if self.check_stride and a.stride != e.stride:
            self._attribute_mismatch("stride()", a.stride, e.stride)
        if self.check_device and a.device != e.device:
            self._attribute_mismatch("device", a.device, e.device)
        if self.check_dtype and a.dtype != e.dtype:
            self._attribute_mismatch("dtype", _dtype_name(a.dtype), _dtype_name(e.dtype))
        x, y = a.host(), e.host()
        if x.dtype != y.dtype:
            common = promote_types(x.dtype, y.dtype)
            x, y = x.astype(common), y.astype(common)
        matches = _isclose(x, y, self.rtol, self.atol, self.equal_nan)
        if matches.all():
            return
        if x.shape == ():
            msg = _scalar_mismatch_msg(x.item(), y.item(), self.rtol, self.atol)
        else:
            msg = _tensor_mismatch_msg(x, y, matches, self.rtol, self.atol)
        raise _Failure(AssertionError, msg, self.id)


_PAIRS = (_NonePair, _BooleanPair, _NumberPair, _TensorLikePair)


def _pairs(actual, expected, id, options):
    """The leaf pairs of (possibly nested) inputs, in order."""
    Sequence, Mapping = collections.abc.Sequence, collections.abc.Mapping
    if isinstance(actual, Sequence) and not isinstance(actual, str) and \
            isinstance(expected, Sequence) and not isinstance(expected, str):
        if len(actual) != len(expected):
            raise _Failure(AssertionError, f"The length of the sequences mismatch: "
                                           f"{len(actual)} != {len(expected)}", id)
        return [p for i in range(len(actual))
                for p in _pairs(actual[i], expected[i], (*id, i), options)]
    if isinstance(actual, Mapping) and isinstance(expected, Mapping):
        actual_keys, expected_keys = set(actual.keys()), set(expected.keys())
        if actual_keys != expected_keys:
            raise _Failure(AssertionError,
                           f"The keys of the mappings do not match:\n"
                           f"Missing keys in the actual mapping: "
                           f"{sorted(expected_keys - actual_keys)}\n"
                           f"Additional keys in the actual mapping: "
                           f"{sorted(actual_keys - expected_keys)}", id)
        try:
            keys = sorted(actual_keys)
        except Exception:
            keys = actual_keys
        return [p for k in keys for p in _pairs(actual[k], expected[k], (*id, k), options)]
    for kind in _PAIRS:
        try:
            return [kind(actual, expected, id, **options)]
        except _Unsupported:
            continue
    raise _Failure(TypeError, f"No comparison pair was able to handle inputs of type "
                              f"{type(actual)} and {type(expected)}.", id)


def assert_close(actual, expected, *, allow_subclasses=True, rtol=None, atol=None,
                 equal_nan=False, check_device=True, check_dtype=True, check_layout=True,
                 check_stride=False, msg=None):
    """Raise if ``actual`` and ``expected`` are not close (see the module
    docstring; PyTorch's default tolerances: float16 rtol 1e-3 / atol 1e-5,
    float32 1.3e-6 / 1e-5, float64 1e-7 / 1e-7, other dtypes exact).
    ``msg`` replaces the message (a str) or rewrites it (a callable)."""
    __tracebackhide__ = True
    options = dict(allow_subclasses=allow_subclasses, rtol=rtol, atol=atol,
                   equal_nan=equal_nan, check_device=check_device, check_dtype=check_dtype,
                   check_layout=check_layout, check_stride=check_stride)
    try:
        pairs = _pairs(actual, expected, (), options)
    except _Failure as failure:
        # as PyTorch: a failure to match the inputs up ignores ``msg``
        raise failure.to_error() from None
    for pair in pairs:
        try:
            pair.compare()
        except _Failure as failure:
            raise failure.to_error(msg) from None


def assert_allclose(actual, expected, rtol=None, atol=None, equal_nan=True, msg=""):
    """Deprecated (as in PyTorch since 1.12): assert_close with looser
    defaults (float16 1e-3 / 1e-3, float32 1e-4 / 1e-5, float64 1e-5 / 1e-8),
    NaNs equal, and dtypes allowed to differ."""
    warnings.warn("`tinygrad_kr.testing.assert_allclose()` is deprecated since 1.12 and will be "
                  "removed in a future release. Please use `tinygrad_kr.testing.assert_close()` "
                  "instead. You can find detailed upgrade instructions in "
                  "https://github.com/pytorch/pytorch/issues/61844.", FutureWarning, stacklevel=2)
    if not isinstance(actual, Tensor):
        actual = tensor(actual)
    if not isinstance(expected, Tensor):
        expected = tensor(expected, dtype=actual.dtype)
    if rtol is None and atol is None:
        rtol, atol = _tolerances([actual.dtype, expected.dtype], None, None, (), table={
            np.dtype("float16"): (1e-3, 1e-3), np.dtype("float32"): (1e-4, 1e-5),
            np.dtype("float64"): (1e-5, 1e-8)})
    assert_close(actual, expected, rtol=rtol, atol=atol, equal_nan=equal_nan, check_device=True,
                 check_dtype=False, check_stride=False, msg=msg or None)


# --------------------------------------------------------------------------
# make_tensor
# --------------------------------------------------------------------------

_INTEGRAL = {np.dtype(d) for d in ("uint8", "int8", "int16", "int32", "int64")}
_FLOATING = {np.dtype(d) for d in ("float16", "float32", "float64")}


def make_tensor(*shape, dtype, device, low=None, high=None, requires_grad=False,
                noncontiguous=False, exclude_zero=False, memory_format=None):
    """A tensor of ``shape`` with values drawn uniformly from [low, high)
    (defaults: bool [0, 2), unsigned [0, 10), signed integers [-9, 10),
    floats [-9, 9)); bounds outside the dtype's range are clamped to it.
    ``noncontiguous`` gives a strided view (when there are two elements or
    more), ``exclude_zero`` replaces zeros by 1 (bool, integers) or the
    dtype's smallest normal number.  ``memory_format`` is accepted and
    ignored: every tensor here is row-major."""
    if len(shape) == 1 and isinstance(shape[0], collections.abc.Sequence):
        shape = shape[0]
    shape = tuple(shape)
    dtype = np.dtype(dtype)
    if noncontiguous and memory_format is not None:
        raise ValueError(f"The parameters `noncontiguous` and `memory_format` are mutually "
                         f"exclusive, but got noncontiguous={noncontiguous} and "
                         f"memory_format={memory_format}")
    if requires_grad and dtype not in _FLOATING:
        raise ValueError(f"`requires_grad=True` is not supported for boolean and integral "
                         f"dtypes, but got dtype={_dtype_name(dtype)}")

    def bounds(lowest, highest_exclusive, default_low, default_high):
        lo = default_low if low is None else low
        hi = default_high if high is None else high
        if any(isinstance(v, float) and math.isnan(v) for v in (lo, hi)):
            raise ValueError(f"`low` and `high` cannot be NaN, but got low={lo} and high={hi}")
        if lo == hi and dtype in _FLOATING:
            warnings.warn("Passing `low==high` to `tinygrad_kr.testing.make_tensor` for floating "
                          "types is deprecated (as in PyTorch since 2.1). Use "
                          "`tinygrad_kr.full(...)` instead.", FutureWarning, stacklevel=3)
        elif lo >= hi:
            raise ValueError(f"`low` must be less than `high`, but got {lo} >= {hi}")
        elif hi < lowest or lo >= highest_exclusive:
            raise ValueError(f"The value interval specified by `low` and `high` is [{lo}, {hi}), "
                             f"but {_dtype_name(dtype)} only supports "
                             f"[{lowest}, {highest_exclusive})")
        lo, hi = (min(max(v, lowest), highest_exclusive) for v in (lo, hi))
        return (math.ceil(lo), math.ceil(hi)) if dtype not in _FLOATING else (lo, hi)

    if noncontiguous and functools.reduce(lambda a, b: a * b, shape, 1) > 1:
        shape = (*shape[:-1], 2 * shape[-1])
    else:
        noncontiguous = False
    if dtype == np.dtype("bool"):
        lo, hi = bounds(0, 2, 0, 2)
        result = randint(lo, hi, shape, dtype=dtype, device=device)
    elif dtype in _INTEGRAL:
        info = np.iinfo(dtype)
        lo, hi = bounds(int(info.min), int(info.max) + (dtype != np.int64), -9, 10)
        result = randint(lo, hi, shape, dtype=dtype, device=device)
    elif dtype in _FLOATING:
        info = np.finfo(dtype)
        lo, hi = bounds(float(info.min), float(info.max), -9, 9)
        result = empty(shape, dtype=dtype, device=device)
        if hi - lo >= float(info.max):     # the width itself would overflow: draw half of it
            result.uniform_(lo / 2, hi / 2).mul_(2)
        else:
            result.uniform_(lo, hi)
    else:
        raise TypeError(f"The requested dtype '{_dtype_name(dtype)}' is not supported by "
                        f"tinygrad_kr.testing.make_tensor().")
    if noncontiguous:
        result = result[..., 1::2]
    if exclude_zero:
        result[result == 0] = 1 if dtype not in _FLOATING else float(np.finfo(dtype).tiny)
    if dtype in _FLOATING:
        result.requires_grad = requires_grad
    return result
