"""More Tensor methods with PyTorch's names: memory layout queries (stride,
storage_offset, data_ptr, get_device), Tensor.unfold (sliding windows),
index_fill / index_copy / index_put / put / masked_scatter / fill_diagonal_,
the in-place random fills (bernoulli_, random_, exponential_, geometric_,
log_normal_, cauchy_), floor_ / ceil_ / round_, pin_memory and as_strided.

Everything differentiable is built on the core ops (getitem, where,
index_add, the recorded in-place assignment), so gradients come from them.
"""
import math

import numpy as np

from . import ops
from .backend import get_array_module
from .random import get_rng
from .tensor import Tensor, _like_device


def _host(a):
    return a if a.__class__ is np.ndarray else a.get()


def _index_array(index, what="index"):
    idx = index.array if isinstance(index, Tensor) else np.asarray(index)
    if idx.dtype.kind not in "iu":
        raise IndexError(f"{what}_(): Expected dtype int64 for index")
    return idx


# -- memory layout -------------------------------------------------------------------

def stride(self, dim=None):
    """Steps, in elements, between neighbours along each dimension."""
    steps = tuple(s // self.array.itemsize for s in self.array.strides)
    if dim is None:
        return steps
    return steps[ops._norm_dims(dim, self.ndim)[0]] if self.ndim else steps[dim]


def _address(a):
    return a.ctypes.data if a.__class__ is np.ndarray else a.data.ptr


def data_ptr(self):
    """The address of the first element."""
    return _address(self.array)


def storage_offset(self):
    """Elements between the start of the memory this tensor views and its first element."""
    a = self.array
    base = a
    while getattr(base, "base", None) is not None:
        base = base.base
    return (_address(a) - _address(base)) // a.itemsize if base is not a else 0


def get_device(self):
    """-1 on the CPU, the GPU's index on CUDA (as PyTorch)."""
    return self.device.index if self.is_cuda else -1


def pin_memory(self, device=None):
    """A copy (PyTorch's is in page-locked memory; NumPy has none to offer)."""
    return self.clone()


def is_pinned(self, device=None):
    return False


def bfloat16(self, memory_format=None):
    raise TypeError("bfloat16 is not supported: NumPy has no bfloat16 dtype (use half() or "
                    "float())")


# -- sliding windows ------------------------------------------------------------------

def unfold(self, dimension, size, step):
    """Every ``size``-long window along ``dimension``, ``step`` apart: that
    dimension becomes the window count and the window is a new last dimension."""
    d = ops._norm_dims(dimension, self.ndim)[0] if self.ndim else 0
    length = self.shape[d] if self.ndim else 1
    if step <= 0:
        raise RuntimeError(f"step is {step} but must be > 0")
    if size > length:
        raise RuntimeError(f"maximum size for tensor at dimension {d} is {length} but size is "
                           f"{size}")
    if size < 0:
        raise RuntimeError(f"size is {size} but must be >= 0")
    x = self if self.ndim else self.reshape(1)
    count = (length - size) // step + 1
    xp = get_array_module(x.array)
    index = xp.asarray(np.arange(count)[:, None] * step + np.arange(size)[None, :])
    windows = x[(slice(None),) * d + (Tensor(index),)]      # (..., count, size, ...)
    return windows.permute(*range(d + 1), *range(d + 2, windows.ndim), d + 1)


# -- index_* writes ---------------------------------------------------------------

def _dim_mask(self, dim, idx):
    """A boolean array True at positions ``idx`` along ``dim`` (broadcastable)."""
    d = ops._norm_dims(dim, self.ndim)[0] if self.ndim else 0
    n = self.shape[d] if self.ndim else 1
    host = _host(idx).reshape(-1)
    if host.size and (host.min() < -n or host.max() >= n):
        raise IndexError(f"index out of range in self (index {int(host.max())} for size {n})")
    mask = np.zeros(n, dtype=bool)
    mask[host % n if n else host] = True
    shape = [1] * max(self.ndim, 1)
    shape[d] = n
    return Tensor(get_array_module(self.array).asarray(mask.reshape(shape))), d


def index_fill(self, dim, index, value):
    """A copy with the slices ``index`` along ``dim`` set to ``value``."""
    mask, _ = _dim_mask(self, dim, _index_array(index, "index_fill"))
    if isinstance(value, Tensor) and value.ndim:
        raise IndexError(f"index_fill_ only supports a 0-dimensional value tensor, but got "
                         f"tensor with {value.ndim} dimension(s).")
    return ops.where(mask, value, self)


def index_fill_(self, dim, index, value):
    return self._inplace(lambda x, v: index_fill(x, dim, index, v), value)


def index_copy(self, dim, index, source):
    """A copy with the slices ``index`` along ``dim`` replaced by ``source``'s."""
    idx = _index_array(index, "index_copy")
    d = ops._norm_dims(dim, self.ndim)[0] if self.ndim else 0
    if idx.ndim > 1:
        raise IndexError("index_copy_(): Index should have dimension 1 or 0 (got "
                         f"{idx.ndim})")
    out = self.clone()
    out[(slice(None),) * d + (Tensor(idx.reshape(-1)),)] = source
    return out


def index_copy_(self, dim, index, source):
    return self._inplace(lambda x, s: index_copy(x, dim, index, s), source)


def index_put(self, indices, values, accumulate=False):
    """A copy with ``self[indices] = values`` (``+=``, repeats adding up, with accumulate)."""
    indices = tuple(indices)
    if not accumulate:
        out = self.clone()
        out[indices] = values
        return out
    xp = get_array_module(self.array)
    k = len(indices)
    arrays = np.broadcast_arrays(*[_host(_index_array(i, "index_put")) for i in indices])
    lead = self.shape[:k]
    flat = np.ravel_multi_index(tuple(a.reshape(-1) % n for a, n in zip(arrays, lead)), lead)
    rest = tuple(self.shape[k:])
    source = values if isinstance(values, Tensor) else Tensor(
        xp.asarray(values, dtype=self.array.dtype))
    source = source.expand(*(arrays[0].shape + rest)).reshape(flat.size, *rest)
    table = self.reshape(math.prod(lead), *rest)
    return ops.index_add(table, 0, Tensor(xp.asarray(flat)), source).reshape(self.shape)


def index_put_(self, indices, values, accumulate=False):
    return self._inplace(lambda x, v: index_put(x, indices, v, accumulate), values)


def put(self, index, source, accumulate=False):
    """A copy with the flattened self's elements ``index`` set (or added) to ``source``."""
    flat = self.reshape(-1)
    return index_put(flat, (index,), source.reshape(-1) if isinstance(source, Tensor) else source,
                     accumulate).reshape(self.shape)


def put_(self, index, source, accumulate=False):
    return self._inplace(lambda x, s: put(x, index, s, accumulate), source)


def masked_scatter(self, mask, source):
    """A copy with the positions where ``mask`` is True filled, in order, from ``source``."""
    m = mask.array if isinstance(mask, Tensor) else np.asarray(mask)
    if m.dtype != np.bool_:
        raise RuntimeError(f"masked_scatter_ only supports boolean masks, but got mask with "
                           f"dtype {m.dtype}")
    m = get_array_module(self.array).broadcast_to(m, self.shape)
    n = int(m.sum())
    if n > source.numel():
        raise RuntimeError("masked_scatter: expected source to have at least as many elements "
                           f"as ones in mask ({n}), got {source.numel()}")
    out = self.clone()
    out[Tensor(m)] = source.reshape(-1)[:n]
    return out


def masked_scatter_(self, mask, source):
    return self._inplace(lambda x, s: masked_scatter(x, mask, s), source)


def fill_diagonal_(self, fill_value, wrap=False):
    """The main diagonal set to ``fill_value`` in place (all dimensions equal, or
    2-D; ``wrap``: a tall matrix's diagonal restarts below, as NumPy's)."""
    if self.ndim < 2:
        raise RuntimeError("dimensions must larger than 1")
    if self.ndim > 2 and len(set(self.shape)) != 1:
        raise RuntimeError("all dimensions of input must be of equal length")
    mask = np.zeros(self.shape, dtype=bool)
    np.fill_diagonal(mask, True, wrap=wrap)
    self[Tensor(get_array_module(self.array).asarray(mask))] = fill_value
    return self


# -- in-place random fills ------------------------------------------------------------

def _fill_random(self, values):
    self[...] = _like_device(values, self.array)
    return self


def bernoulli_(self, p=0.5, *, generator=None):
    """1 with probability p (a number or a tensor of probabilities), else 0."""
    prob = _host(p.array) if isinstance(p, Tensor) else p
    draw = get_rng(generator).random(self.array.shape) < prob
    return _fill_random(self, draw)


def random_(self, from_=0, to=None, *, generator=None):
    """Integers from [from_, to) (from [0, from_) given one bound); with none, [0, 2^mantissa]
    for floats and [0, max] for integers, as PyTorch."""
    if to is None and from_ != 0:
        from_, to = 0, from_
    if to is None:
        kind = self.array.dtype
        to = (2 ** (np.finfo(kind).nmant + 1) + 1) if kind.kind == "f" else \
            (2 if kind == np.bool_ else int(np.iinfo(kind).max) + 1)
    if to <= from_:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={from_} "
                           f">= to={to}")
    return _fill_random(self, get_rng(generator).integers(from_, to, self.array.shape))


def exponential_(self, lambd=1.0, *, generator=None):
    if lambd <= 0:
        raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={lambd}")
    return _fill_random(self, get_rng(generator).exponential(1.0 / lambd, self.array.shape))


def geometric_(self, p, *, generator=None):
    if not 0 < p < 1:
        raise RuntimeError(f"geometric_ expects p to be in (0, 1), but got p={p}")
    return _fill_random(self, get_rng(generator).geometric(p, self.array.shape))


def log_normal_(self, mean=1.0, std=2.0, *, generator=None):
    if std <= 0:
        raise RuntimeError(f"log_normal_ expects std > 0.0, but found std={std}")
    return _fill_random(self, get_rng(generator).lognormal(mean, std, self.array.shape))


def cauchy_(self, median=0.0, sigma=1.0, *, generator=None):
    return _fill_random(self, median + sigma * get_rng(generator).standard_cauchy(
        self.array.shape))


# -- in-place rounding ----------------------------------------------------------------

def floor_(self):
    self[...] = self.floor()
    return self


def ceil_(self):
    self[...] = self.ceil()
    return self


def round_(self, decimals=0):
    self[...] = self.round(decimals)
    return self


# -- as_strided -------------------------------------------------------------------------

def as_strided(self, size, stride, storage_offset=None):
    """The elements at storage_offset + sum_k i_k * stride_k of this tensor's
    (row-major) storage: a gather, so it is differentiable and checked."""
    if not self.is_contiguous() or (self.array.base is not None and self.storage_offset()):
        raise NotImplementedError("as_strided: only on a contiguous tensor that starts its "
                                  "memory (call .contiguous() first)")
    size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    if len(size) != len(stride):
        raise RuntimeError("mismatch in length of strides and shape")
    offset = 0 if storage_offset is None else int(storage_offset)
    index = np.full(size, offset, dtype=np.int64)
    for k, (n, s) in enumerate(zip(size, stride)):
        shape = [1] * len(size)
        shape[k] = n
        index = index + (np.arange(n) * s).reshape(shape)
    if index.size and (index.min() < 0 or index.max() >= self.numel()):
        raise RuntimeError(f"setStorage: sizes {list(size)}, strides {list(stride)}, storage "
                           f"offset {offset} require elements beyond the storage's "
                           f"{self.numel()}")
    flat = self.reshape(-1)
    return flat[Tensor(get_array_module(self.array).asarray(index))]


_METHODS = ("stride", "data_ptr", "storage_offset", "get_device", "pin_memory", "is_pinned",
            "bfloat16", "unfold", "index_fill", "index_fill_", "index_copy", "index_copy_",
            "index_put", "index_put_", "put", "put_", "masked_scatter", "masked_scatter_",
            "fill_diagonal_", "bernoulli_", "random_", "exponential_", "geometric_",
            "log_normal_", "cauchy_", "floor_", "ceil_", "round_", "as_strided")
for _name in _METHODS:
    if not hasattr(Tensor, _name):
        setattr(Tensor, _name, globals()[_name])
del _name
