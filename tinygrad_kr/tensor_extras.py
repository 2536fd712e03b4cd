"""More Tensor methods with PyTorch's names: memory layout queries (stride,
storage_offset, data_ptr, get_device), Tensor.unfold (sliding windows),
index_fill / index_copy / index_put / put / masked_scatter / fill_diagonal_,
the in-place random fills (bernoulli_, random_, exponential_, geometric_,
log_normal_, cauchy_), floor_ / ceil_ / round_, pin_memory and as_strided.

The second half (from "the rest of PyTorch's Tensor API" down) is what else
PyTorch's Tensor has that makes sense for dense real tensors: storages (the
memory block a tensor views, at an offset, with strides: resize_, set_,
as_strided_, share_memory_), the complex-number API answered for real
tensors (conj, real, H...), queries (nbytes, layout, is_cpu, dim_order...),
the legacy constructor and splits, bit shifts, apply_/map_ and
register_post_accumulate_grad_hook (whose call is in autograd/function.py's
_deliver, the one place a leaf gets its gradient).  The in-place forms of
existing ops (cumsum_, eq_, tril_...) are in _torch_extras.py's table.

Everything differentiable is built on the core ops (getitem, where,
index_add, the recorded in-place assignment), so gradients come from them.
"""
import builtins
import math
import mmap
import warnings

import numpy as np

from . import ops
from .autograd.function import _memory_owner
from .autograd.grad_mode import _state as _grad_state
from .backend import get_array_module
from .dtypes import scalar_type_name
from .random import get_rng
from .tensor import Size, Tensor, _like_device


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
    if self.array.size == 0:
        # NumPy reports 0 for every dim of an empty array; PyTorch's contiguous
        # strides count a size-0 dim as 1
        steps, step = [], 1
        for n in reversed(self.shape):
            steps.append(step)
            step *= max(n, 1)
        steps = tuple(reversed(steps))
    else:
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
    owner = _memory_owner(a)    # (an array over bytes or an mmap owns its memory)
    return (_address(a) - _address(owner)) // a.itemsize if owner is not a else 0


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


# == the rest of PyTorch's Tensor API for dense real tensors ============================

# PyTorch's C++ names of the dtypes, as some of its messages print them
_CPP_TYPE_NAMES = {"float32": "float", "float64": "double", "float16": "c10::Half",
                   "int64": "long int", "int32": "int", "int16": "short int",
                   "int8": "signed char", "uint8": "unsigned char", "bool": "bool"}


def cpp_type_name(dtype):
    """'float' for float32, 'long int' for int64...: PyTorch's messages' C++ names."""
    name = np.dtype(dtype).name
    return _CPP_TYPE_NAMES.get(name, name)


def _legacy_type_name(dtype):
    """'tinygrad_kr.FloatTensor' for float32 (PyTorch's legacy tensor type names)."""
    return f"tinygrad_kr.{scalar_type_name(dtype)}Tensor"


def _refuse_leaf(self):
    """PyTorch's refusal of an in-place change of a leaf that requires grad."""
    if _grad_state.enabled and self._requires_grad and self.grad_fn is None:
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place "
                           "operation.")


def _sizes(args, fname):
    """A size given as ints, or as one tuple / list / Size."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = tuple(args[0])
    for i, n in enumerate(args):
        if isinstance(n, Tensor) and n.ndim == 0 and n.array.dtype.kind in "iu":
            continue
        if not isinstance(n, (int, np.integer)) or isinstance(n, (bool, np.bool_)):
            raise TypeError(f"{fname}(): argument 'size' failed to unpack the object at pos "
                            f"{i + 1} with error \"type must be tuple of ints,but got "
                            f"{type(n).__name__}\"")
    return tuple(int(n) for n in args)


# -- storage: the memory block a tensor views -------------------------------------------
# A NumPy array's memory belongs to the array at the root of its ``.base`` chain
# (autograd.function._memory_owner, which the version stamps use too): that is
# PyTorch's "storage", and the tensor is a view of it at an offset, with strides.

def _storage_of(a):
    """``(flat, offset)``: a 1-D array of ``a``'s dtype over the whole memory
    block ``a`` views, and the index of ``a``'s first element in it."""
    owner = _memory_owner(a)
    if owner is not a and owner.flags.c_contiguous and owner.nbytes % a.itemsize == 0:
        flat = owner.reshape(-1)
        if flat.dtype != a.dtype:
            flat = flat.view(np.uint8).view(a.dtype)
        start = _address(a) - _address(owner)
        if start % a.itemsize == 0:
            return flat, start // a.itemsize
    if a.flags.c_contiguous:
        return a.reshape(-1), 0
    raise NotImplementedError("this tensor's memory is not one block of its dtype (a view "
                              "made by NumPy's stride tricks?): call .contiguous() first")


def _strided_view(flat, size, stride, offset, fname):
    """``flat[offset + sum_k i_k * stride_k]`` as an array of shape ``size``
    sharing ``flat``'s memory, checked to stay inside it (PyTorch's message)."""
    if len(size) != len(stride):
        raise RuntimeError("mismatch in length of strides and shape")
    if builtins.any(s < 0 for s in stride):
        raise RuntimeError(f"{fname}: Negative strides are not supported at the moment, got "
                           f"strides: {list(stride)}")
    if builtins.any(n < 0 for n in size):
        raise RuntimeError(f"Trying to create tensor with negative dimension: {list(size)}")
    needed = 0 if 0 in size else offset + 1 + builtins.sum((n - 1) * s
                                                           for n, s in zip(size, stride))
    if needed > flat.size or offset < 0:
        item = flat.itemsize
        raise RuntimeError(f"setStorage: sizes {list(size)}, strides {list(stride)}, storage "
                           f"offset {offset}, and itemsize {item} requiring a storage size of "
                           f"{needed * item} are out of bounds for storage of size "
                           f"{flat.size * item}")
    base = flat[offset:] if offset < flat.size else flat[:0]
    return get_array_module(flat).lib.stride_tricks.as_strided(
        base, size, tuple(s * flat.itemsize for s in stride))


class UntypedStorage:
    """torch.UntypedStorage, minimal: the bytes of the memory block a tensor
    views (``t.untyped_storage()``), sharing them: ``nbytes()``, ``size()``,
    ``len()``, ``data_ptr()``, ``element_size()`` (1), ``tolist()``,
    indexing, ``is_shared()``, ``device``."""

    def __init__(self, flat):
        self._flat = flat                     # the block as the tensor's dtype (for set_)
        self._bytes = flat.view(np.uint8)

    dtype = np.dtype(np.uint8)

    def nbytes(self):
        return int(self._bytes.size)

    size = nbytes

    def __len__(self):
        return int(self._bytes.size)

    def element_size(self):
        return 1

    def data_ptr(self):
        return _address(self._bytes)

    @property
    def device(self):
        return Tensor._make(self._bytes[:0], None).device

    def tolist(self):
        return _host(self._bytes).tolist()

    def __getitem__(self, index):
        item = self._bytes[index]
        return int(item) if np.ndim(item) == 0 else UntypedStorage(item)

    def __setitem__(self, index, value):
        self._bytes[index] = value

    def is_shared(self):
        return _is_shared(self._bytes)

    def __repr__(self):
        return "\n".join([f" {v}" for v in self.tolist()] + [
            f"[tinygrad_kr.storage.UntypedStorage(device={self.device}) of size {len(self)}]"])


class TypedStorage:
    """torch.TypedStorage (deprecated there too), minimal: the memory block a
    tensor views, as elements of its dtype (``t.storage()``)."""

    def __init__(self, flat):
        self._flat = flat

    @property
    def dtype(self):
        return self._flat.dtype

    def size(self):
        return int(self._flat.size)

    def __len__(self):
        return int(self._flat.size)

    def nbytes(self):
        return int(self._flat.nbytes)

    def element_size(self):
        return self._flat.itemsize

    def data_ptr(self):
        return _address(self._flat)

    @property
    def device(self):
        return Tensor._make(self._flat[:0], None).device

    def tolist(self):
        return _host(self._flat).tolist()

    def __getitem__(self, index):
        item = self._flat[index]
        return item.item() if np.ndim(item) == 0 else TypedStorage(item)

    def __setitem__(self, index, value):
        self._flat[index] = value

    def untyped(self):
        return UntypedStorage(self._flat)

    def is_shared(self):
        return _is_shared(self._flat)

    def __repr__(self):
        return "\n".join([f" {v}" for v in self.tolist()] + [
            f"[tinygrad_kr.storage.TypedStorage(dtype=tinygrad_kr.{self.dtype}, "
            f"device={self.device}) of size {len(self)}]"])


def untyped_storage(self):
    """The bytes of the memory block this tensor views (shared, not copied)."""
    return UntypedStorage(_storage_of(self.array)[0])


def storage(self):
    """The memory block this tensor views, as elements of its dtype (shared)."""
    warnings.warn("TypedStorage is deprecated. It will be removed in the future and "
                  "UntypedStorage will be the only storage class. This should only matter to "
                  "you if you are using storages directly.  To access UntypedStorage directly, "
                  "use tensor.untyped_storage() instead of tensor.storage()", UserWarning,
                  stacklevel=2)
    return TypedStorage(_storage_of(self.array)[0])


def const_data_ptr(self):
    return _address(self.array)


def is_set_to(self, tensor):
    """Whether both view the same memory with the same offset, sizes and strides."""
    a, b = self.array, tensor.array
    return (a.__class__ is b.__class__ and _memory_owner(a) is _memory_owner(b)
            and _address(a) == _address(b) and a.shape == b.shape and a.strides == b.strides)


def resize_(self, *sizes, memory_format=None):
    """Give self the shape ``sizes``, keeping its storage, as PyTorch: the same
    sizes change nothing; other sizes read the storage from self's offset with
    contiguous strides (shrinking keeps the leading elements, a view of the
    same memory).  Growing past the storage's end moves self to new memory
    holding the old elements first and zeros after (PyTorch's new elements
    are uninitialised; other tensors viewing the old storage keep it, where
    PyTorch grows the storage they share)."""
    sizes = _sizes(sizes, "resize_")
    if self._requires_grad:
        raise RuntimeError("cannot resize variables that require grad")
    if builtins.any(n < 0 for n in sizes):
        raise RuntimeError("numel: integer multiplication overflow")
    if sizes == self.array.shape:
        return self             # nothing changes (the strides stay), no version either
    self._bump_version()
    flat, offset = _storage_of(self.array)
    n = math.prod(sizes)
    if offset + n <= flat.size:
        self.array = flat[offset:offset + n].reshape(sizes)
        return self
    if _is_shared(flat):
        raise RuntimeError("Trying to resize storage that is not resizable")
    grown = get_array_module(flat).zeros(n, flat.dtype)
    kept = flat[offset:]
    grown[:kept.size] = kept
    self.array = grown.reshape(sizes)
    return self


def resize_as_(self, the_template, memory_format=None):
    return resize_(self, the_template.shape)


def resize(self, *sizes):
    """Deprecated out-of-place resize: a reshape, which must keep the element count."""
    warnings.warn("non-inplace resize is deprecated", UserWarning, stacklevel=2)
    return _autograd_resize(self, _sizes(sizes, "resize"))


def resize_as(self, tensor):
    warnings.warn("non-inplace resize_as is deprecated", UserWarning, stacklevel=2)
    return _autograd_resize(self, tuple(tensor.shape))


def _autograd_resize(self, sizes):
    if math.prod(sizes) != self.numel():
        def dims(shape):
            return "x".join(str(n) for n in shape)
        raise RuntimeError(f"requested resize to {dims(sizes)} ({math.prod(sizes)} elements in "
                           f"total), but the given tensor has a size of {dims(self.shape)} "
                           f"({self.numel()} elements). autograd's resize can only change the "
                           f"shape of a given tensor, while preserving the number of elements. ")
    return self.reshape(sizes)


def set_(self, source=None, storage_offset=0, size=None, stride=None):
    """Make self view ``source``'s memory: a tensor (its sizes and strides), or
    a storage (``t.storage()``/``t.untyped_storage()``: all of it as a 1-D
    tensor, or ``size``/``stride`` from ``storage_offset``); no source: an
    empty tensor.  As an in-place change it refuses a leaf that requires
    grad; unlike PyTorch it also refuses to be recorded in a graph (PyTorch
    records a node whose backward is not implemented)."""
    _refuse_leaf(self)
    a = self.array
    if _grad_state.enabled and (self._requires_grad or (isinstance(source, Tensor)
                                                        and source._requires_grad)):
        raise RuntimeError("set_: not differentiable here; use .detach().set_(...) or "
                           "copy_ to change values inside a graph")
    if source is None:
        new = get_array_module(a).zeros((0,), a.dtype)
    elif isinstance(source, Tensor):
        if size is not None:
            return set_(self, TypedStorage(_storage_of(source.array)[0]), storage_offset, size,
                        stride)
        if storage_offset:
            raise TypeError("set_() received an invalid combination of arguments - got (Tensor, "
                            "int): give size too")
        if source.array.dtype != a.dtype:
            raise RuntimeError(f"Could not set tensor of type {cpp_type_name(source.dtype)} to "
                               f"a tensor of type {cpp_type_name(a.dtype)}")
        new = source.array
    elif isinstance(source, (TypedStorage, UntypedStorage)):
        if isinstance(source, TypedStorage):
            if source.dtype != a.dtype:
                raise RuntimeError(f"Expected a Storage of type {cpp_type_name(a.dtype)} or an "
                                   f"UntypedStorage, but got type "
                                   f"{scalar_type_name(source.dtype)} for argument 1 'storage'")
            flat = source._flat
        else:
            raw = source._bytes
            flat = raw[:raw.size - raw.size % a.itemsize].view(a.dtype)
        if size is None:
            if storage_offset:
                raise TypeError("set_() received an invalid combination of arguments - got "
                                "(Storage, int): give size too")
            new = flat
        else:
            size = _sizes((size,), "set_")
            if stride is None:
                stride = tuple(int(math.prod(size[k + 1:])) for k in range(len(size)))
            new = _strided_view(flat, size, tuple(int(s) for s in stride),
                                int(storage_offset), "as_strided")
    else:
        raise TypeError(f"set_(): argument 'source' must be Tensor or Storage, not "
                        f"{type(source).__name__}")
    self._bump_version()
    self.array = new
    return self


def as_strided_(self, size, stride, storage_offset=None):
    """Make self the view of its storage with these sizes and strides (from
    ``storage_offset``, default its own): the same memory, as PyTorch.  In a
    graph it is recorded as as_strided's gather (self contiguous, starting
    its storage)."""
    _refuse_leaf(self)
    size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    flat, start = _storage_of(self.array)
    offset = start if storage_offset is None else int(storage_offset)
    view = _strided_view(flat, size, stride, offset, "as_strided")
    node = None
    if _grad_state.enabled and self._requires_grad:
        node = as_strided(Tensor._make(self.array, self.grad_fn), size, stride,
                          offset - start).grad_fn
    self._bump_version()
    self.array = view
    if node is not None:
        self.grad_fn = node
    return self


def _is_shared(a):
    owner = _memory_owner(a)
    if owner.__class__ is not np.ndarray:
        return True             # CUDA memory: PyTorch's is_shared is always True there
    base = owner.base
    return isinstance(base, memoryview) and isinstance(base.obj, _SharedBlock)


class _SharedBlock(mmap.mmap):
    """Anonymous shared memory (mmap's MAP_SHARED): share_memory_ moves tensors here."""


def share_memory_(self):
    """Move the memory block this tensor views into shared memory (an anonymous
    MAP_SHARED mapping), keeping its offset and strides: a child process
    started by fork (multiprocessing's "fork" start method, DataLoader
    workers under it) then reads and writes the same memory as this one.  A
    process started by spawn or forkserver gets the tensor pickled, a copy,
    as every tensor here (PyTorch passes a handle to the shared memory
    instead).  Other tensors that viewed the old memory keep it (PyTorch
    moves the storage they share).  A no-op on the GPU and when already shared."""
    a = self.array
    if _is_shared(a):
        return self
    try:
        flat, offset = _storage_of(a)
    except NotImplementedError:
        flat, offset = np.ascontiguousarray(a).reshape(-1), 0
    block = _SharedBlock(-1, builtins.max(flat.nbytes, 1))
    shared = np.frombuffer(block, dtype=flat.dtype, count=flat.size)
    shared[...] = flat
    self.array = shared[offset:offset + a.size].reshape(a.shape) if a.flags.c_contiguous \
        else np.lib.stride_tricks.as_strided(shared[offset:], a.shape, a.strides)
    return self


def is_shared(self):
    """Whether the memory is shared memory from share_memory_ (always on the GPU, as PyTorch)."""
    return _is_shared(self.array)


# -- queries ------------------------------------------------------------------------------

class layout:
    """torch.layout: how a tensor's elements are stored.  The engine's tensors
    are all dense and strided (``tinygrad_kr.strided``)."""

    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return f"tinygrad_kr.{self.name}"

    def __reduce__(self):
        return (_layout_named, (self.name,))


strided = layout("strided")


def _layout_named(name):
    return strided if name == "strided" else layout(name)


_FALSE_PROPERTIES = ("is_meta", "is_sparse", "is_sparse_csr", "is_quantized", "is_nested",
                     "is_mkldnn", "is_xpu", "is_mps", "is_xla", "is_ipu", "is_vulkan",
                     "is_maia", "is_mtia")


def dim_order(self, *, ambiguity_check=False):
    """The dimensions from outermost to innermost in memory (PyTorch's
    algorithm: strides compared by an insertion sort; a contiguous tensor is
    0, 1, ...).  ``ambiguity_check=True`` raises when several orders fit
    (a size-1 dimension, equal strides)."""
    if not isinstance(ambiguity_check, (bool, list)):
        raise TypeError("The ambiguity_check argument must be a bool or a list of memory "
                        "formats.")
    shape, strides = self.shape, stride(self)
    if ambiguity_check is not False and (
            builtins.any(a == b for a, b in zip(strides, strides[1:]))
            or builtins.any(n == 1 for n in shape)):
        raise RuntimeError("The tensor does not have unique dim order, or cannot map to exact "
                           "one of the given memory formats.")
    ndim = len(shape)
    if ndim < 2:
        return tuple(range(ndim))
    contiguous = self.numel() < 2 or _dense_in_order(shape, strides,
                                                      tuple(reversed(range(ndim))))
    channels_last = ndim == 4 and _dense_in_order(shape, strides, (1, 3, 2, 0))
    if contiguous and not channels_last:
        return tuple(range(ndim))
    if channels_last and not contiguous:
        return (0, *range(2, ndim), 1)

    def should_swap(a, b):
        sa, sb = strides[a], strides[b]
        if sa == 0 or sb == 0:
            return 0
        if sa == sb:
            return 0 if _ge(shape[b], shape[a]) else 1
        if _ge(sb, sa):
            return -1
        return 1 if _ge(sa, sb) else 0

    perm = list(reversed(range(ndim)))
    for i in range(1, ndim):
        dim1 = i
        for dim0 in reversed(range(i)):
            order = should_swap(perm[dim0], perm[dim1])
            if order > 0:
                perm[dim0], perm[dim1] = perm[dim1], perm[dim0]
                dim1 = dim0
            elif order < 0:
                break
    return tuple(reversed(perm))


def _ge(a, b):
    return b == 0 or (a != 0 and (a >= b or a % b == 0))


def _dense_in_order(shape, strides, innermost_first):
    """Whether the strides are those of a dense layout visiting the dimensions
    in this order (size-1 dimensions ignored, as PyTorch's contiguity checks)."""
    expected = 1
    for d in innermost_first:
        if shape[d] != 1:
            if strides[d] != expected:
                return False
            expected *= shape[d]
    return True


def _add_properties():
    if hasattr(Tensor, "nbytes"):
        return
    Tensor.nbytes = property(lambda self: self.array.size * self.array.itemsize,
                             doc="Bytes of the elements (numel * itemsize; not the storage's).")
    Tensor.itemsize = property(lambda self: self.array.itemsize, doc="Bytes per element.")
    Tensor.is_cpu = property(lambda self: not self.is_cuda)
    Tensor.layout = property(lambda self: strided)
    Tensor.output_nr = property(
        lambda self: 0, doc="0: each op's node makes one output here (PyTorch numbers the "
                            "outputs of its multi-output nodes, such as split's).")
    Tensor.name = None          # named tensors' name, as PyTorch's unnamed tensors
    Tensor.real = property(real)
    Tensor.imag = property(imag)
    Tensor.H = property(_H)
    Tensor.mH = property(_mH)
    for name in _FALSE_PROPERTIES:
        if not hasattr(Tensor, name):
            setattr(Tensor, name, property(lambda self: False))


# -- the complex-number API on real tensors ------------------------------------------------
# The engine's dtypes are all real (NumPy has complex dtypes, but no kernel
# here takes them), so the conjugate is the tensor itself, as PyTorch answers
# for a real tensor: the same object, not a copy.

def conj(input):
    return input


resolve_conj = resolve_neg = conj_physical = conj


def conj_physical_(self):
    """In place, the identity on real values: counted as an in-place change
    (version, leaf refusal) as PyTorch; the gradient (identity) needs no node."""
    _refuse_leaf(self)
    self._bump_version()
    return self


def is_conj(input):
    return False


def is_neg(input):
    return False


def real(input):
    """A real tensor's real part: the tensor itself (PyTorch's answer)."""
    return input


def imag(input):
    raise RuntimeError("imag is not implemented for tensors with non-complex dtypes.")


def _matrix_transpose(self, what, warning):
    if self.ndim == 0:
        warnings.warn(warning, UserWarning, stacklevel=3)
        return self
    if self.ndim == 1:
        raise RuntimeError(f"{what} is only supported on matrices or batches of matrices. Got "
                           f"1-D tensor.")
    return ops.transpose(self, -2, -1)


def adjoint(input):
    """The conjugate transpose of the last two dimensions: their transpose here."""
    return _matrix_transpose(input, "tensor.adjoint()", "adjoint() is deprecated on 0-D "
                             "tensors. Consider using x.conj().")


def _mH(self):
    return _matrix_transpose(self, "tensor.mH", "Tensor.mH is deprecated on 0-D tensors. "
                             "Consider using x.conj().")


def _H(self):
    if self.ndim == 0:
        warnings.warn("Tensor.H is deprecated on 0-D tensors. Consider using x.conj().",
                      UserWarning, stacklevel=2)
        return self
    if self.ndim != 2:
        hint = " For batches of matrices, consider using tensor.mH" if self.ndim > 2 else ""
        raise RuntimeError(f"tensor.H is only supported on matrices (2-D tensors). Got "
                           f"{self.ndim}-D tensor.{hint}")
    return ops.transpose(self, 0, 1)


def _no_complex(name):
    from ._torch_info import ABSENT_DTYPES

    def method(self, memory_format=None):
        raise TypeError(ABSENT_DTYPES[name])
    method.__name__ = name
    return method


# -- constructors, splits, reductions -------------------------------------------------------

def new(self, *args, device=None):
    """PyTorch's legacy constructor, in self's dtype (and device unless given):
    ``new()`` empty, ``new(2, 3)`` / ``new(Size)`` a new tensor of that shape
    (zeros here; PyTorch's is uninitialised), ``new([1, 2])`` those values,
    ``new(tensor)`` a tensor sharing ``tensor``'s memory (same dtype only),
    ``new(storage)`` a 1-D tensor over the storage."""
    from .factories import tensor as _tensor
    from .factories import zeros
    dtype, dev = self.array.dtype, device if device is not None else self.device
    if len(args) == 1:
        data = args[0]
        if isinstance(data, Tensor):
            if data.array.dtype != dtype:
                raise TypeError(f"expected {_options(dtype)} (got {_options(data.dtype)})")
            return Tensor._make(data.array, None)
        if isinstance(data, (TypedStorage, UntypedStorage)):
            return set_(self.new(), data)
        if not isinstance(data, (Size, int, np.integer)) or isinstance(data, bool):
            if isinstance(data, (list, tuple, np.ndarray)):
                return _tensor(data, dtype=dtype, device=dev)
            raise TypeError(f"new(): data must be a sequence (got {type(data).__name__})")
    shape = _sizes(args, "new") if args else (0,)
    for n in shape:
        if n < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {n}: "
                               f"{list(shape)}")
    return zeros(shape, dtype=dtype, device=dev)


def _options(dtype):
    return (f"TensorOptions(dtype={cpp_type_name(dtype)}, device=cpu, layout=Strided, "
            f"requires_grad=false (default), pinned_memory=false (default), "
            f"memory_format=(nullopt))")


def broadcast_to(self, *size):
    return ops.expand(self, *_sizes(size, "broadcast_to"))


def split_with_sizes(self, split_sizes, dim=0):
    if not isinstance(split_sizes, (tuple, list)):
        raise TypeError(f"split_with_sizes(): argument 'split_sizes' (position 1) must be tuple "
                        f"of ints, not {type(split_sizes).__name__}")
    return ops.split(self, list(split_sizes), dim)


def unsafe_split(self, split_size, dim=0):
    """split (PyTorch's unsafe_ forms skip autograd's view checks: the values are split's)."""
    return ops.split(self, split_size, dim)


def unsafe_split_with_sizes(self, split_sizes, dim=0):
    return split_with_sizes(self, split_sizes, dim)


def unsafe_chunk(self, chunks, dim=0):
    return ops.chunk(self, chunks, dim)


def narrow_copy(self, dim, start, length):
    """narrow, as a new contiguous tensor (differentiable)."""
    return ops.narrow(self, dim, start, length).clone()


def sum_to_size(self, *size):
    """self summed down to ``size``, which must broadcast to self's shape
    (the reduction of a broadcast gradient; differentiable).  Self itself when
    the sizes are equal, as PyTorch."""
    size = _sizes(size, "sum_to_size")
    shape = tuple(self.shape)
    lead = len(shape) - len(size)
    if lead < 0 or builtins.any(n != 1 and n != m for n, m in zip(size, shape[lead:])):
        raise RuntimeError(f"size {{{list(size)}}} is not expandable to size {{{list(shape)}}}.")
    if size == shape:
        return self
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(size)
                                      if n == 1 and shape[lead + i] != 1)
    out = ops.sum(self, axes, keepdim=True) if axes else self
    return out.reshape(size)


def nonzero_static(self, *, size, fill_value=-1):
    """nonzero's (count, ndim) indices cut or padded with ``fill_value`` to ``size`` rows."""
    from .ops_shape_reduce import nonzero
    idx = nonzero(self).array[:size]
    xp = get_array_module(idx)
    pad = xp.full((size - idx.shape[0], self.ndim), fill_value, dtype=np.int64)
    return Tensor(xp.concatenate([idx, pad]))


# -- bit shifts ----------------------------------------------------------------------------

def _shift(fname, input, other, left):
    """PyTorch's shifts (its CPU kernels): by a count < 0 or >= the dtype's
    bits, a left shift gives 0, a right shift the sign (0 or -1)."""
    from .ops_math import _not_implemented, _same_pair
    a, b = _same_pair(input, other)
    x, n = a.array, b.array
    if x.dtype.kind not in "iu":
        _not_implemented(("lshift" if left else "rshift"), a)
    xp = get_array_module(x)
    bits = x.dtype.itemsize * 8
    outside = (n < 0) | (n >= bits)
    count = xp.where(outside, 0, n).astype(x.dtype)
    if left:
        out = xp.where(outside, xp.zeros((), x.dtype), xp.left_shift(x, count))
    else:
        sign = xp.where(x < 0, -1, 0).astype(x.dtype) if x.dtype.kind == "i" else \
            xp.zeros((), x.dtype)
        out = xp.where(outside, sign, xp.right_shift(x, count))
    return Tensor(xp.asarray(out, dtype=x.dtype))


def bitwise_left_shift(input, other):
    """input * 2**other in the integers of the result dtype (wrapping)."""
    return _shift("bitwise_left_shift", input, other, left=True)


def bitwise_right_shift(input, other):
    """input // 2**other (arithmetic shift for signed integers)."""
    return _shift("bitwise_right_shift", input, other, left=False)


# -- element-wise Python callables (CPU, no autograd) ----------------------------------------

def _python_map(self, fname, others, fn):
    if self._requires_grad:
        raise RuntimeError(f"Can't call {fname}() on Variable that requires grad. Use "
                           f"var.detach().{fname}() instead.")
    if self.is_cuda:
        raise TypeError(f"{fname} is only implemented on CPU tensors")
    arrays = []
    for what, other in others:
        if other.array.dtype != self.array.dtype:
            where = f"argument '{what}'" if fname == "map2_" else f"'{what}'"
            raise TypeError(f"{fname}: expected {_legacy_type_name(self.dtype)} for {where} "
                            f"(got {_legacy_type_name(other.dtype)})")
        arrays.append(_host(ops.expand(other, *self.shape).array).reshape(-1).tolist())
    values = []
    for args in zip(self.array.reshape(-1).tolist(), *arrays):
        v = fn(*args)
        if not isinstance(v, (int, float, bool, np.number, np.bool_)):
            raise TypeError(f"must be real number, not {type(v).__name__}")
        values.append(v)
    # Unlike PyTorch, counted as an in-place change: a node that saved self sees it
    self._bump_version()
    self.array[...] = np.array(values, dtype=self.array.dtype).reshape(self.shape)
    return self


def apply_(self, callable):
    """Each element replaced by ``callable(element)`` (Python numbers; slow, CPU only)."""
    return _python_map(self, "apply_", (), callable)


def map_(self, tensor, callable):
    """Each element replaced by ``callable(element, tensor's element)``; ``tensor``
    (same dtype) broadcasts to self's shape."""
    return _python_map(self, "map_", (("other", tensor),), callable)


def map2_(self, x, y, callable):
    """Each element replaced by ``callable(element, x's, y's)``."""
    return _python_map(self, "map2_", (("x", x), ("y", y)), callable)


# -- autograd and subclasses ----------------------------------------------------------------

def register_post_accumulate_grad_hook(self, hook):
    """Call ``hook(tensor)`` after a backward has accumulated this leaf's
    ``.grad`` (once per backward, with the whole gradient), under no_grad: an
    optimizer step per parameter inside backward (PyTorch's
    optimizer-in-backward recipe).  Returns a handle with ``.remove()``."""
    if not self._requires_grad:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    if self.grad_fn is not None:
        raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
    return self._tensor_hooks().add(hook, "post_accumulate")


def as_subclass(self, cls):
    """This tensor's data as an instance of ``cls`` (a Tensor subclass; its
    __init__ is not called), sharing memory; it stays in the graph, as an
    alias (a view node) when self requires grad, as PyTorch."""
    if not (isinstance(cls, type) and issubclass(cls, Tensor)):
        raise TypeError("Creating a Tensor subclass from a class that does not inherit from "
                        "Tensor is not possible. Make sure your class inherits from Tensor.")
    source, requires_grad = self, self._requires_grad and self.grad_fn is None
    if _grad_state.enabled and self._requires_grad:
        source = ops.reshape(self, *self.shape)       # the alias: a view node, gradient 1
        requires_grad = True
    out = Tensor.__new__(cls)
    # (under no_grad PyTorch's alias of a leaf that requires grad still does, as a leaf)
    out.array, out.grad, out.grad_fn, out._version, out._hooks = \
        source.array, None, source.grad_fn if source is not self else None, 0, None
    out._requires_grad = requires_grad
    return out


# -- nn.functional's and linalg's ops as methods --------------------------------------------

def hardshrink(self, lambd=0.5):
    from .nn import _ops_more
    return _ops_more.hardshrink(self, lambd)


def prelu(self, weight):
    from .nn import _ops_more
    return _ops_more.prelu(self, weight)


def orgqr(self, input2):
    """The Q of a QR from Householder reflectors: linalg.householder_product(self, input2)."""
    from .linalg import householder_product
    return householder_product(self, input2)


# -- removed in PyTorch 2: raise its messages -----------------------------------------------

_REMOVED = {
    "eig": "This function was deprecated since version 1.9 and is now removed. "
           "`torch.linalg.eig` returns complex tensors of dtype `cfloat` or `cdouble` rather "
           "than real tensors mimicking complex tensors.\n\nL, _ = torch.eig(A) should be "
           "replaced with:\nL_complex = torch.linalg.eigvals(A)\n\nand\n\nL, V = torch.eig(A, "
           "eigenvectors=True) should be replaced with:\nL_complex, V_complex = "
           "torch.linalg.eig(A)",
    "symeig": "This function was deprecated since version 1.9 and is now removed. The default "
              "behavior has changed from using the upper triangular portion of the matrix by "
              "default to using the lower triangular portion.\n\nL, _ = torch.symeig(A, "
              "upper=upper) should be replaced with:\nL = torch.linalg.eigvalsh(A, UPLO='U' if "
              "upper else 'L')\n\nand\n\nL, V = torch.symeig(A, eigenvectors=True) should be "
              "replaced with:\nL, V = torch.linalg.eigh(A, UPLO='U' if upper else 'L')",
    "lstsq": "This function was deprecated since version 1.9 and is now removed. `torch.lstsq` "
             "is deprecated in favor of `torch.linalg.lstsq`.\n`torch.linalg.lstsq` has "
             "reversed arguments and does not return the QR decomposition in the returned tuple "
             "(although it returns other information about the problem).\n\nTo get the QR "
             "decomposition consider using `torch.linalg.qr`.\n\nThe returned solution in "
             "`torch.lstsq` stored the residuals of the solution in the last m - n columns of "
             "the returned value whenever m > n. In torch.linalg.lstsq, the residuals are in "
             "the field 'residuals' of the returned named tuple.\n\nThe unpacking of the "
             "solution, as in\nX, _ = torch.lstsq(B, A).solution[:A.size(1)]\nshould be "
             "replaced with:\nX = torch.linalg.lstsq(A, B).solution",
    "solve": "This function was deprecated since version 1.9 and is now removed. `torch.solve` "
             "is deprecated in favor of `torch.linalg.solve`. `torch.linalg.solve` has its "
             "arguments reversed and does not return the LU factorization.\n\nTo get the LU "
             "factorization see `torch.lu`, which can be used with `torch.lu_solve` or "
             "`torch.lu_unpack`.\nX = torch.solve(B, A).solution should be replaced with:\nX = "
             "torch.linalg.solve(A, B)",
}


def _removed(name):
    def function(*args, **kwargs):
        raise RuntimeError(_REMOVED[name])
    function.__name__ = function.__qualname__ = name
    return function


eig, symeig, lstsq, solve = (_removed(n) for n in ("eig", "symeig", "lstsq", "solve"))


_METHODS = ("stride", "data_ptr", "storage_offset", "get_device", "pin_memory", "is_pinned",
            "bfloat16", "unfold", "index_fill", "index_fill_", "index_copy", "index_copy_",
            "index_put", "index_put_", "put", "put_", "masked_scatter", "masked_scatter_",
            "fill_diagonal_", "bernoulli_", "random_", "exponential_", "geometric_",
            "log_normal_", "cauchy_", "floor_", "ceil_", "round_", "as_strided",
            # the rest of the API
            "storage", "untyped_storage", "const_data_ptr", "is_set_to", "resize_",
            "resize_as_", "resize", "resize_as", "set_", "as_strided_", "share_memory_",
            "is_shared", "dim_order", "conj", "resolve_conj", "resolve_neg", "conj_physical",
            "conj_physical_", "is_conj", "is_neg", "adjoint", "new", "broadcast_to",
            "split_with_sizes", "unsafe_split", "unsafe_split_with_sizes", "unsafe_chunk",
            "narrow_copy", "sum_to_size", "nonzero_static", "bitwise_left_shift",
            "bitwise_right_shift", "apply_", "map_", "map2_",
            "register_post_accumulate_grad_hook", "as_subclass", "hardshrink", "prelu",
            "orgqr", "eig", "symeig", "lstsq", "solve")
for _name in _METHODS:
    if not hasattr(Tensor, _name):
        setattr(Tensor, _name, globals()[_name])
for _name in ("cdouble", "cfloat", "chalf"):
    if not hasattr(Tensor, _name):
        setattr(Tensor, _name, _no_complex(_name))
_add_properties()
# the shift operators (x << n, n << x, x >>= n...) and the reflected bitwise ones
for _name, _fn in (("__lshift__", bitwise_left_shift), ("__rshift__", bitwise_right_shift),
                   ("__rlshift__", lambda self, other: bitwise_left_shift(other, self)),
                   ("__rrshift__", lambda self, other: bitwise_right_shift(other, self)),
                   ("__rand__", lambda self, other: self & other),
                   ("__ror__", lambda self, other: self | other),
                   ("__rxor__", lambda self, other: self ^ other)):
    if _name not in Tensor.__dict__:
        setattr(Tensor, _name, _fn)
del _name
