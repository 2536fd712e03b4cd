"""Tensor factories with PyTorch's names: tensor, zeros, ones, arange, randn, ..."""
import math
import numpy as np

from . import dtypes as _dt
from .random import get_rng
from .tensor import Size, Tensor, _host, _to_array, _to_device, device as _device

__all__ = ["tensor", "as_tensor", "from_numpy", "zeros", "ones", "full", "empty", "zeros_like",
           "ones_like", "full_like", "empty_like", "arange", "linspace", "eye", "rand", "randn",
           "randint", "randperm", "rand_like", "randn_like", "multinomial", "normal",
           "FloatTensor", "DoubleTensor", "LongTensor", "IntTensor", "BoolTensor", "ByteTensor",
           "set_default_device", "get_default_device"]


_default_device = [None]   # set_default_device's device; None: the CPU


def set_default_device(device):
    """As torch.set_default_device: where the factories put a tensor when not
    told (``None`` goes back to the CPU).  ``from_numpy`` stays on the host."""
    _default_device[0] = None if device is None else _device(device)


def get_default_device():
    return _default_device[0] or _device("cpu")


def _finish(arr, requires_grad=False, device=None):
    if device is None:
        device = _default_device[0]
    t = Tensor._make(arr, None)
    if device is not None and _device(device).type != "cpu":
        t = _to_device(t, _device(device))
    if requires_grad:
        t.requires_grad = True
    return t


def _size(size, keyword=None):
    """The shape from ``zeros(2, 3)``, ``zeros((2, 3))`` or, as PyTorch also
    takes it, ``zeros(size=(2, 3))`` (``keyword``)."""
    if keyword is not None:
        if size:
            raise TypeError("size given both positionally and as size=")
        size = (keyword,)
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    size = tuple(int(s) for s in size)
    if any(s < 0 for s in size):
        raise RuntimeError(f"Trying to create tensor with negative dimension: {list(size)}")
    return size


def _float_dtype(dtype):
    return _dt.get_default_dtype() if dtype is None else _dt.check_dtype(dtype)


def tensor(data, dtype=None, device=None, requires_grad=False):
    """A new tensor holding a copy of ``data`` (float lists give float32)."""
    if isinstance(data, Tensor):
        data = data.array
    arr = _to_array(data, dtype)
    if arr is data or (isinstance(data, np.ndarray) and np.shares_memory(arr, data)):
        arr = arr.copy()
    return _finish(arr, requires_grad, device)


def as_tensor(data, dtype=None, device=None):
    if isinstance(data, Tensor) and dtype is None and device is None:
        return data
    return _finish(_to_array(data.array if isinstance(data, Tensor) else data, dtype), False, device)


def from_numpy(ndarray):
    """A tensor sharing memory with ``ndarray`` (its dtype is kept)."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    if not ndarray.dtype.isnative:      # converting would copy: no memory shared
        raise ValueError("given numpy array has byte order different from the native byte "
                         "order. Conversion between byte orders is currently not supported "
                         "(tinygrad_kr.tensor(array) converts it, as a copy).")
    return Tensor._make(_to_array(ndarray), None)


def zeros(*sizes, size=None, dtype=None, device=None, requires_grad=False):
    return _finish(np.zeros(_size(sizes, size), _float_dtype(dtype)), requires_grad, device)


def ones(*sizes, size=None, dtype=None, device=None, requires_grad=False):
    return _finish(np.ones(_size(sizes, size), _float_dtype(dtype)), requires_grad, device)


def empty(*sizes, size=None, dtype=None, device=None, requires_grad=False):
    return _finish(np.empty(_size(sizes, size), _float_dtype(dtype)), requires_grad, device)


def full(size, fill_value, dtype=None, device=None, requires_grad=False):
    if dtype is None:
        dtype = _to_array(fill_value).dtype
    return _finish(np.full(_size((size,)), fill_value, _dt.check_dtype(dtype)), requires_grad, device)


def _like(input, fill, dtype, device, requires_grad):
    dtype = input.dtype if dtype is None else _dt.check_dtype(dtype)
    arr = np.full(input.shape, fill, dtype) if fill is not None else np.empty(input.shape, dtype)
    return _finish(arr, requires_grad, device if device is not None else input.device)


def zeros_like(input, dtype=None, device=None, requires_grad=False):
    return _like(input, 0, dtype, device, requires_grad)


def ones_like(input, dtype=None, device=None, requires_grad=False):
    return _like(input, 1, dtype, device, requires_grad)


def full_like(input, fill_value, dtype=None, device=None, requires_grad=False):
    return _like(input, fill_value, dtype, device, requires_grad)


def empty_like(input, dtype=None, device=None, requires_grad=False):
    return _like(input, None, dtype, device, requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError("step must be nonzero")
    is_float = any(isinstance(v, float) for v in (start, end, step))
    dtype = _dt.check_dtype(dtype) if dtype is not None else \
        (_dt.get_default_dtype() if is_float else _dt.int64)
    return _finish(np.arange(start, end, step).astype(dtype), requires_grad, device)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False):
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    return _finish(np.linspace(start, end, steps).astype(_float_dtype(dtype)), requires_grad, device)


def eye(n, m=None, dtype=None, device=None, requires_grad=False):
    return _finish(np.eye(n, m, dtype=_float_dtype(dtype)), requires_grad, device)


def rand(*sizes, size=None, generator=None, dtype=None, device=None, requires_grad=False):
    arr = get_rng(generator).random(_size(sizes, size)).astype(_float_dtype(dtype))
    return _finish(arr, requires_grad, device)


def randn(*sizes, size=None, generator=None, dtype=None, device=None, requires_grad=False):
    arr = get_rng(generator).standard_normal(_size(sizes, size)).astype(_float_dtype(dtype))
    return _finish(arr, requires_grad, device)


def randint(low=0, high=None, size=None, *, generator=None, dtype=None, device=None,
            requires_grad=False):
    if size is None and isinstance(high, (tuple, list)):  # PyTorch's randint(high, size)
        low, high, size = 0, low, high
    if high is None:
        low, high = 0, low
    if size is None:
        raise TypeError("randint() missing required argument 'size'")
    if high <= low:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= "
                           f"to={high}")
    dtype = _dt.int64 if dtype is None else _dt.check_dtype(dtype)
    arr = get_rng(generator).integers(low, high, _size((size,))).astype(dtype)
    return _finish(arr, requires_grad, device)


def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False):
    dtype = _dt.int64 if dtype is None else _dt.check_dtype(dtype)
    return _finish(get_rng(generator).permutation(n).astype(dtype), requires_grad, device)


def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None, device=None,
           requires_grad=False):
    """Samples of N(mean, std) as torch.normal: a tensor ``mean`` and/or ``std``
    give the shape (broadcast) and dtype; two numbers need ``size``."""
    tensors = [a for a in (mean, std) if isinstance(a, Tensor)]
    if not tensors and size is None:
        raise TypeError("normal() received an invalid combination of arguments - got (float, "
                        "float), but expected one of: (Tensor mean, Tensor std), (Tensor mean, "
                        "float std), (float mean, Tensor std), (float mean, float std, tuple "
                        "of ints size)")
    if tensors and size is not None:
        raise TypeError("normal() received an invalid combination of arguments: size= is only "
                        "taken with a number mean and std")
    m = _host(mean.array) if isinstance(mean, Tensor) else float(mean)
    s = _host(std.array) if isinstance(std, Tensor) else float(std)
    if np.any(np.asarray(s) < 0):
        raise RuntimeError(f"normal expects std >= 0.0, but found std {np.min(s)}")
    if tensors:
        shape = np.broadcast_shapes(*(t.shape for t in tensors))
        dtype = dtype or tensors[0].dtype
        device = device or tensors[0].device
    else:
        shape = _size((size,))
    arr = get_rng(generator).normal(m, s, shape).astype(_float_dtype(dtype))
    return _finish(arr, requires_grad, device)


class _LegacyTensorType(type):
    """``torch.FloatTensor`` and its kin: a constructor (``FloatTensor([1, 2])``
    and ``FloatTensor((2, 3))`` copy data, ``FloatTensor(2, 3)`` and
    ``FloatTensor(x.size())`` make a shape) and, for isinstance, the
    CPU tensors of one dtype."""

    def __call__(cls, *args, device=None):
        # a Size is a shape (FloatTensor(x.size())); any other tuple is data, as in PyTorch
        if len(args) == 1 and not isinstance(args[0], (int, np.integer, Size)):
            if isinstance(args[0], Tensor) and args[0].dtype != cls.dtype:
                raise TypeError(f"expected a tensor of dtype {cls.dtype} (got {args[0].dtype})")
            return tensor(args[0], dtype=cls.dtype, device=device)
        return zeros(*args, dtype=cls.dtype, device=device)  # PyTorch's memory is uninitialized

    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor) and obj.dtype == cls.dtype and obj.device.type == "cpu"


FloatTensor = _LegacyTensorType("FloatTensor", (), {"dtype": _dt.float32})
DoubleTensor = _LegacyTensorType("DoubleTensor", (), {"dtype": _dt.float64})
LongTensor = _LegacyTensorType("LongTensor", (), {"dtype": _dt.int64})
IntTensor = _LegacyTensorType("IntTensor", (), {"dtype": _dt.int32})
BoolTensor = _LegacyTensorType("BoolTensor", (), {"dtype": _dt.bool})
ByteTensor = _LegacyTensorType("ByteTensor", (), {"dtype": _dt.uint8})


def rand_like(input, dtype=None, device=None, requires_grad=False):
    return rand(*input.shape, dtype=dtype or input.dtype, device=device or input.device,
                requires_grad=requires_grad)


def randn_like(input, dtype=None, device=None, requires_grad=False):
    return randn(*input.shape, dtype=dtype or input.dtype, device=device or input.device,
                 requires_grad=requires_grad)


def multinomial(input, num_samples, replacement=False, *, generator=None):
    """Indices drawn from the categories of each row of ``input`` (1-D or 2-D
    non-negative weights, not necessarily summing to 1): ``num_samples`` per
    row, int64, as torch.multinomial.  Without replacement a category is drawn
    at most once, each draw from the weights of those not drawn yet; once the
    categories of positive weight are used up, zero-weight ones follow (as in
    PyTorch, which does not raise there either; its order among them differs)."""
    w = _host(input.array)
    if w.ndim not in (1, 2):
        raise RuntimeError(f"prob_dist must be 1 or 2 dim (got {w.ndim})")
    if w.dtype.kind != "f":
        raise RuntimeError(f"multinomial only supports floating-point dtypes for input, got: "
                           f"{w.dtype}")
    num_samples = int(num_samples)
    if num_samples <= 0:
        raise RuntimeError("cannot sample n_sample <= 0 samples")
    n = w.shape[-1]
    if not replacement and num_samples > n:     # PyTorch checks this first
        raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without "
                           "replacement")
    # (not reshape(-1, n): with no categories, n = 0, the -1 is left open)
    rows = w.reshape(math.prod(w.shape[:-1]), n).astype(np.float64)
    if not np.isfinite(rows).all() or (rows < 0).any():
        raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
    if (rows.sum(axis=1) <= 0).any():
        raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
    rng = get_rng(generator)
    if replacement:
        cdf = np.cumsum(rows, axis=1)
        u = rng.random((rows.shape[0], num_samples)) * cdf[:, -1:]
        out = np.stack([np.searchsorted(c, x, side="right") for c, x in zip(cdf, u)])
        out = np.minimum(out, n - 1)    # u < total, but guard the last float
    else:
        # the largest w / Exp(1): the same law as drawing one at a time in
        # proportion to the weights left (Efraimidis-Spirakis), all rows at once
        keys = rows / rng.standard_exponential(rows.shape)
        out = np.argsort(-keys, axis=1, kind="stable")[:, :num_samples]
    out = out.astype(np.int64).reshape(w.shape[:-1] + (num_samples,))
    return _finish(out, device=input.device)
