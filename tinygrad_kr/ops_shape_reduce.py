"""Indexing, shape, reduction and product functions of PyTorch, built on the
core ops (ops.py) so that their gradients come from ops already checked.

Selections (median, quantile, kthvalue, mode, cummax...) find their positions
on arrays and then pick the values with ``gather``/getitem, which carry the
gradient to the chosen entries.  Only logcumsumexp, the whole-tensor median
(its gradient shared among ties) and scatter_reduce's 'prod', 'amax' and
'amin' (ScatterReduce) have Functions of their own.
"""
import builtins
import itertools
import math

import numpy as np

from . import dtypes as _dt
from . import ops as _ops
from . import return_types
from .autograd.function import Function
from .backend import get_array_module
from .ops import (GetItem, IndexAdd, _along_axis_index, _norm_dims, _result_dtype, cat, gather,
                  matmul, stack, where)
from .dtypes import scalar_type_name
from .tensor import Tensor, _as_tensor, _host

# --------------------------------------------------------------------------
# named results (attached to tinygrad_kr.return_types so that pickle finds them)
# --------------------------------------------------------------------------


def _named(name):
    cls = type(name, (return_types._ValuesIndices,), {"__slots__": ()})
    cls.__module__ = "tinygrad_kr.return_types"
    cls.__qualname__ = name
    setattr(return_types, name, cls)
    return cls


for _n in ("median", "nanmedian", "mode", "kthvalue", "cummax", "cummin"):
    if not hasattr(return_types, _n):
        _named(_n)


def _t(x, like=None):
    return x if isinstance(x, Tensor) else _as_tensor(x, like)


def _xp(t):
    return get_array_module(t.array)


def _dim(dim, ndim):
    return _ops._norm_dim(dim, ndim)   # a 0-d tensor takes dim 0 or -1 only, as PyTorch


def _long(a):
    return Tensor(get_array_module(a).asarray(a, dtype=np.int64))




def _check_float(fname, t):
    if t.array.dtype.kind != "f":
        raise RuntimeError(f"{fname}(): input tensor must be either float or double dtype")


# --------------------------------------------------------------------------
# indexing
# --------------------------------------------------------------------------


def nonzero(input, *, as_tuple=False):
    x = input.array
    xp = get_array_module(x)
    if as_tuple:
        if x.ndim == 0:
            return (_long(xp.zeros(int(bool(x)), dtype=np.int64)),)
        return tuple(_long(i) for i in xp.nonzero(x))
    if x.ndim == 0:
        return _long(xp.zeros((int(bool(x)), 0), dtype=np.int64))
    idx = xp.nonzero(x)
    return _long(xp.stack(idx, axis=1) if idx else xp.zeros((0, 0), np.int64))


def argwhere(input):
    return nonzero(input)


def masked_select(input, mask):
    m = mask.array if isinstance(mask, Tensor) else np.asarray(mask)
    if m.dtype != np.bool_:
        raise RuntimeError("masked_select: expected BoolTensor for mask")
    shape = np.broadcast_shapes(tuple(input.shape), m.shape)
    x = _ops.expand(input, *shape) if tuple(input.shape) != shape else input
    m = get_array_module(m).broadcast_to(m, shape)
    if not shape:
        x, m = x.reshape(1), m.reshape(1)
    return GetItem.apply(x, index=m)


def take(input, index):
    idx = index.array if isinstance(index, Tensor) else np.asarray(index)
    if idx.dtype.kind not in "iu":
        raise RuntimeError(f"take(): Expected a long tensor for index, but got {idx.dtype}")
    n = input.numel()
    if idx.size and (idx.min() < -n or idx.max() >= n):
        bad = int(idx.max()) if idx.max() >= n else int(idx.min())
        raise IndexError(f"out of range: tried to access index {bad} on a tensor of {n} elements.")
    return GetItem.apply(input.reshape(-1), index=idx)


def _wrap_negative(indices, n):
    """take_along_dim counts negative indices from the end (gather does not)."""
    j = indices.array
    if j.dtype.kind == "i" and j.size and j.min() < 0:
        if j.min() < -n:
            raise RuntimeError(f"index {int(j.min())} is out of bounds for dimension with size {n}")
        return Tensor(get_array_module(j).where(j < 0, j + n, j))
    return indices


def take_along_dim(input, indices, dim=None):
    if dim is None:
        return gather(input.reshape(-1), 0, indices.reshape(-1))  # no wrap here (PyTorch)
    d = _dim(dim, input.ndim)
    indices = _wrap_negative(indices, input.shape[d])
    if indices.ndim != input.ndim:
        raise RuntimeError(f"torch.take_along_dim(): input and indices should have the same "
                           f"number of dimensions, but got {input.ndim} dimensions for input, "
                           f"and {indices.ndim} dimensions for indices")
    ishape, jshape = list(input.shape), list(indices.shape)
    ishape[d] = jshape[d] = 1
    for k, (m, n) in enumerate(zip(ishape, jshape)):
        if m != n and 1 not in (m, n):      # PyTorch's broadcasting error (not NumPy's)
            raise RuntimeError(f"The size of tensor a ({m}) must match the size of tensor b "
                               f"({n}) at non-singleton dimension {k}")
    b = list(np.broadcast_shapes(tuple(ishape), tuple(jshape)))
    xs, js = list(b), list(b)
    xs[d], js[d] = input.shape[d], indices.shape[d]
    x = _ops.expand(input, *xs) if tuple(xs) != tuple(input.shape) else input
    j = indices.array
    if tuple(js) != tuple(j.shape):
        j = get_array_module(j).broadcast_to(j, tuple(js))
    return gather(x, d, Tensor(j))


def select(input, dim, index):
    if not input.ndim:
        raise IndexError("select() cannot be applied to a 0-dim tensor.")
    d = _dim(dim, input.ndim)
    n = input.shape[d]
    if not -n <= index < n:
        raise IndexError(f"select(): index {index} out of range for tensor of size "
                         f"{list(input.shape)} at dimension {d}")
    return GetItem.apply(input, index=(slice(None),) * d + (int(index),))


def scatter_add(input, dim, index, src):
    vector = _ops._scalar_as_vector(input, dim, index)
    if vector is not None:
        return scatter_add(vector[0], 0, vector[1], _t(src, input).reshape(-1)).reshape(())
    d, idx = _ops._index_along("scatter_add", "self", input, dim, index)
    src = _t(src, input)
    if tuple(src.shape) != idx.shape:
        src = src[tuple(slice(n) for n in idx.shape)]
    if src.array.dtype != input.array.dtype:
        src = src.to(input.array.dtype)
    return input + IndexAdd.apply(src, shape=input.shape,
                                  index=_along_axis_index(idx, idx.shape, d))


def scatter_reduce(input, dim, index, src, reduce, *, include_self=True):
    """``src``'s entries reduced into ``input`` at ``index`` along ``dim``
    (``reduce``: 'sum', 'prod', 'mean', 'amax' or 'amin'), each with
    PyTorch's gradient.  Without include_self, an entry of input that
    receives values takes no part in the result (nor in the gradient)."""
    if reduce not in ("sum", "prod", "mean", "amax", "amin"):
        raise RuntimeError(f"reduce argument must be either sum, prod, mean, amax or amin, got "
                           f"{reduce}")
    src = _t(src, input)
    if src.array.dtype != input.array.dtype:
        raise RuntimeError("scatter(): Expected self.dtype to be equal to src.dtype")
    if input.ndim == 0 and _ops._data(index).ndim == 0:     # as one-element vectors
        _norm_dims(dim, 0)
        return scatter_reduce(input.reshape(1), 0, _ops._data(index).reshape(1), src.reshape(1),
                              reduce, include_self=include_self).reshape(())
    d, idx = _ops._index_along("scatter_reduce", "self", input, dim, index)
    if src.ndim != idx.ndim:
        raise RuntimeError("Index tensor must have the same number of dimensions as src tensor")
    if any(n > s or (k != d and n > x) for k, (n, s, x) in
           enumerate(zip(idx.shape, src.shape, input.shape))):
        raise RuntimeError(f"Expected index {list(idx.shape)} to be no larger than self "
                           f"{list(input.shape)} apart from dimension {d} and to be no larger "
                           f"size than src {list(src.shape)}")
    return _scatter_reduce(input, d, idx, src, reduce, include_self, "scatter_reduce")


def index_reduce(input, dim, index, source, reduce, *, include_self=True):
    """``source``'s slices along ``dim`` reduced into ``input``'s slices
    ``index`` (a 1-D integer tensor), ``reduce``: 'prod', 'mean', 'amax' or
    'amin'.  It is scatter_reduce with the index spread over source's shape,
    so values and gradients are scatter_reduce's."""
    if reduce not in ("prod", "mean", "amax", "amin"):
        raise RuntimeError(f"index_reduce(): Expected reduce to be one of prod, mean, amax or "
                           f"amin but got {reduce}.")
    idx = _ops._data(index)
    if idx.ndim > 1:
        raise IndexError(f"index_reduce_(): Index is supposed to be a vector, but got dim: "
                         f"{idx.ndim} with type: {scalar_type_name(idx.dtype)} and size: "
                         f"{list(idx.shape)}")
    if idx.dtype.kind not in "iu":
        raise RuntimeError(f"index_reduce_(): Expected dtype int32/int64 for index but got: "
                           f"{scalar_type_name(idx.dtype)}")
    d = _dim(dim, input.ndim)
    if not isinstance(source, Tensor):
        raise TypeError(f"index_reduce(): argument 'source' (position 4) must be Tensor, not "
                        f"{type(source).__name__}")
    if source.array.dtype != input.array.dtype:
        raise RuntimeError(f"index_reduce_(): self ({scalar_type_name(input.array.dtype)}) and "
                           f"source ({scalar_type_name(source.array.dtype)}) must have the same "
                           f"scalar type")
    x = input.reshape(1) if input.ndim == 0 else input
    s = source.reshape(1) if source.ndim == 0 else source
    idx = idx.reshape(-1)
    if idx.size != s.shape[d]:
        raise RuntimeError(f"index_reduce_(): Number of indices ({idx.size}) should be equal to "
                           f"source.size(dim): ({s.shape[d]}), for dim: {d}")
    if input.ndim != source.ndim or any(a != b for k, (a, b) in enumerate(zip(x.shape, s.shape))
                                        if k != d):
        raise RuntimeError(f"source tensor shape must match self tensor shape, excluding the "
                           f"specified dimension. Got self.shape = {list(input.shape)} "
                           f"source.shape = {list(source.shape)}")
    if idx.size and (idx.min() < 0 or idx.max() >= x.shape[d]):
        raise IndexError("index out of range in self")
    along = [1] * s.ndim
    along[d] = idx.size
    spread = get_array_module(idx).broadcast_to(idx.reshape(along), s.shape)
    out = _scatter_reduce(x, d, spread, s, reduce, include_self, "index_reduce")
    return out.reshape(()) if input.ndim == 0 else out


def _scatter_reduce(input, d, idx, src, reduce, include_self, op):
    """scatter_reduce, its arguments checked; ``op`` names it in errors."""
    if tuple(src.shape) != idx.shape:
        src = src[tuple(slice(n) for n in idx.shape)]   # PyTorch reads src's leading block
    targets = _scatter_targets(idx, input.shape, d)
    if reduce in ("prod", "amax", "amin"):
        return ScatterReduce.apply(input, src, targets=targets, reduce=reduce,
                                   include_self=include_self, op=op)
    # 'sum' and 'mean' are sums, whose gradient IndexAdd has
    xp = _xp(input)
    hit = xp.bincount(targets.reshape(-1), minlength=input.numel()).reshape(input.shape)
    base = input if include_self else where(Tensor(hit > 0), _zeros_like(input), input)
    total = base + IndexAdd.apply(src, shape=input.shape,
                                  index=_along_axis_index(idx, idx.shape, d))
    if reduce == "sum":
        return total
    count = hit + (1 if include_self else 0)
    count = xp.where(count == 0, 1, count)
    if input.array.dtype.kind == "f":
        return total / Tensor(count.astype(input.array.dtype))
    return Tensor(xp.floor_divide(total.array, count).astype(input.array.dtype))


def _scatter_targets(idx, shape, d):
    """For each entry of ``idx``, the flat (C-order) position in an array of
    ``shape`` that it goes to along ``d``: one integer array on idx's device,
    which the reductions below index with."""
    xp = get_array_module(idx)
    flat, stride = xp.zeros(idx.shape, np.int64), 1
    for k in reversed(range(len(shape))):
        if k == d:      # in [0, shape[d]): _index_along rejected the rest
            pos = idx.astype(np.int64)
        else:
            pos = xp.arange(idx.shape[k]).reshape((-1,) + (1,) * (idx.ndim - 1 - k))
        flat = flat + pos * stride
        stride *= shape[k]
    return flat


_REDUCE_UFUNC = {"prod": "multiply", "amax": "maximum", "amin": "minimum"}


def _reduce_by_target(targets, values, reduce):
    """(each distinct target, ``reduce`` of the values sent to it), both 1-D.
    Sorted by target, then neighbours are combined in pairs (ranks 2j and
    2j+1 within a target) until one value per target is left: log2(largest
    group) steps of plain array ops, so that it also runs on CuPy, which has
    no multiply.at, and is not one step per repeat."""
    xp = get_array_module(values)
    combine = getattr(xp, _REDUCE_UFUNC[reduce])
    order = xp.argsort(targets, kind="stable")
    t, v = targets[order], values[order]
    starts = xp.ones(t.shape, dtype=bool)
    starts[1:] = t[1:] != t[:-1]
    rank = xp.arange(t.size) - xp.flatnonzero(starts)[xp.cumsum(starts) - 1]
    longest = int(rank.max()) + 1 if t.size else 0
    while longest > 1:
        left = xp.flatnonzero((rank[:-1] % 2 == 0) & (rank[1:] == rank[:-1] + 1))
        v[left] = combine(v[left], v[left + 1])
        kept = rank % 2 == 0
        t, v, rank = t[kept], v[kept], rank[kept] // 2
        longest = (longest + 1) // 2
    return t, v


def _scatter_reduced(x, src, targets, reduce, include_self):
    """The array ``x`` with ``src``'s entries reduced in at ``targets``."""
    t, v = _reduce_by_target(targets.reshape(-1), src.reshape(-1), reduce)
    y = x.copy()
    flat = y.reshape(-1)       # a view: y is C-contiguous
    flat[t] = getattr(get_array_module(y), _REDUCE_UFUNC[reduce])(flat[t], v) if include_self \
        else v
    return y


class ScatterReduce(Function):
    """scatter_reduce's 'prod', 'amax' and 'amin' (also index_reduce's):
    ``targets`` holds, per src entry, its flat position in x.  The gradients
    are PyTorch's formulas (FunctionsManual.cpp, scatter_reduce_backward)."""

    def forward(self, x, src, *, targets, reduce, include_self, op):
        y = _scatter_reduced(x, src, targets, reduce, include_self)
        self.targets, self.reduce, self.include_self, self.op = targets, reduce, include_self, op
        need_x, need_src = self.needs_input_grad
        if not (need_x or need_src):
            return y
        xp = get_array_module(y)
        if need_x and not include_self:
            hits = xp.bincount(targets.reshape(-1), minlength=y.size)
            self.received = (hits > 0).reshape(y.shape)
        if reduce == "prod":
            self.save_for_backward(x, src, y)
            return y
        # the entries equal to the result share its gradient evenly; x's count
        # even without include_self (PyTorch's: their own gradient is then 0)
        x_hits = x == y
        src_hits = src == y.reshape(-1)[targets]
        count = x_hits + xp.bincount(targets[src_hits], minlength=y.size).reshape(y.shape)
        # no entry equals a NaN result: PyTorch's grad / 0 * 0 makes its gradients NaN
        self.count = xp.where(count == 0, xp.nan, count).astype(y.dtype)
        self.x_hits, self.src_hits = x_hits.astype(y.dtype), src_hits.astype(y.dtype)
        return y

    def backward(self, xp, gy):
        need_x, need_src = self.needs_input_grad
        if self.reduce == "prod":
            gx, gsrc = self._prod_grads(xp, gy, need_x, need_src)
        else:
            share = gy / self.count
            gx = share * self.x_hits if need_x else None
            gsrc = xp.reshape(share, (-1,))[self.targets] * self.src_hits if need_src else None
        if gx is not None and not self.include_self:
            gx = xp.where(self.received, 0, gx)
        return gx, gsrc

    def _prod_grads(self, xp, gy, need_x, need_src):
        x, src, y = self.saved_tensors
        t = self.targets
        gx = gsrc = None
        if need_x:
            # with x's zeros made 1, y / x is the product of the others, also where x is 0
            x_zero = _ops._data(x) == 0
            x1 = xp.where(x_zero, 1, x)
            others = self._again(xp, x1, src) if x_zero.any() else y
            gx = gy * others / x1
        if need_src:
            src_zero = _ops._data(src) == 0
            zeros = get_array_module(t).bincount(t[src_zero], minlength=_ops._data(y).size)[t]
            gsrc = xp.reshape(gy * y, (-1,))[t] / xp.where(src_zero, 1, src)
            lone = src_zero & (zeros == 1)
            if lone.any():     # y is 0 there: a lone zero's gradient is the product of the others
                others = self._again(xp, x, xp.where(lone, 1, src))
                gsrc = xp.where(lone, xp.reshape(gy * others, (-1,))[t], gsrc)
            if self._graph_mode and (zeros > 1).any():
                what = "src" if self.op == "scatter_reduce" else "source"
                gsrc = TwoZerosError.apply(gsrc, message=(
                    f"{self.op}(): Double backward is unsupported for {what} when >1 zeros in "
                    f"{what} are scattered to the same position in self"))
        return gx, gsrc

    def _again(self, xp, x, src):
        """This product over other inputs, recorded under create_graph."""
        if self._graph_mode:
            return ScatterReduce.apply(x, src, targets=self.targets, reduce="prod",
                                       include_self=self.include_self, op=self.op)
        return _scatter_reduced(x, src, self.targets, "prod", self.include_self)


class TwoZerosError(Function):
    """Passes on the src gradient of a 'prod' scatter (under create_graph)
    where two or more zeros of src go to one place: PyTorch's formula has no
    derivative there, so, as in PyTorch, differentiating it again raises."""

    def forward(self, g, *, message):
        self.message = message
        return g

    def backward(self, xp, gg):
        raise RuntimeError(self.message)


def _zeros_like(t):
    return Tensor(_xp(t).zeros((), t.array.dtype))


# --------------------------------------------------------------------------
# unique, counting, searching
# --------------------------------------------------------------------------


def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    x = input.array
    xp = get_array_module(x)
    if dim is None:
        vals, inv, cnt = np.unique(_host(x).reshape(-1), return_inverse=True, return_counts=True,
                                   equal_nan=False)     # each NaN its own value, as PyTorch
        inv = inv.reshape(x.shape)
    else:
        d = _dim(dim, x.ndim)
        if x.shape[d] == 0 and x.size == 0 and x.ndim > 1:
            vals, inv, cnt = _host(x), np.zeros(0, np.int64), np.zeros(0, np.int64)
        else:
            vals, inv, cnt = np.unique(_host(x), return_inverse=True, return_counts=True, axis=d)
        inv = inv.reshape(-1)
    out = [Tensor(xp.asarray(vals))]
    if return_inverse:
        out.append(Tensor(xp.asarray(inv, dtype=np.int64)))
    if return_counts:
        out.append(Tensor(xp.asarray(cnt, dtype=np.int64)))
    return out[0] if len(out) == 1 else tuple(out)


def unique_consecutive(input, return_inverse=False, return_counts=False, dim=None):
    x = _host(input.array)
    xp = _xp(input)
    if dim is None:
        flat = x.reshape(-1)
        change = np.concatenate([[True], flat[1:] != flat[:-1]]) if flat.size else \
            np.zeros(0, bool)
        vals = flat[change]
        inv = (np.cumsum(change) - 1).reshape(x.shape)
    else:
        d = _dim(dim, x.ndim)
        moved = np.moveaxis(x, d, 0).reshape(x.shape[d], -1)
        change = np.concatenate([[True], (moved[1:] != moved[:-1]).any(axis=1)]) \
            if x.shape[d] else np.zeros(0, bool)
        vals = np.compress(change, x, axis=d)
        inv = np.cumsum(change) - 1
    starts = np.flatnonzero(change)
    cnt = np.diff(np.append(starts, change.size))
    out = [Tensor(xp.asarray(vals))]
    if return_inverse:
        out.append(Tensor(xp.asarray(inv, dtype=np.int64)))
    if return_counts:
        out.append(Tensor(xp.asarray(cnt, dtype=np.int64)))
    return out[0] if len(out) == 1 else tuple(out)


def bincount(input, weights=None, minlength=0):
    x = input.array
    xp = get_array_module(x)
    if x.ndim != 1 or x.dtype.kind not in "iu" or (x.size and x.min() < 0):
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if minlength < 0:
        raise RuntimeError("minlength should be >= 0")
    if weights is not None:
        w = weights.array
        if w.ndim != 1 or w.shape[0] != x.shape[0]:
            raise RuntimeError("weights should be 1-d and have the same length as input")
        dtype = w.dtype if w.dtype.kind == "f" else np.float64
        return Tensor(xp.bincount(x, weights=w.astype(np.float64), minlength=minlength)
                      .astype(dtype))
    return Tensor(xp.bincount(x, minlength=minlength).astype(np.int64))


def histc(input, bins=100, min=0, max=0):
    x = input.array
    xp = get_array_module(x)
    if x.dtype.kind != "f":
        name = {"i": "Long", "u": "Byte", "b": "Bool"}.get(x.dtype.kind, str(x.dtype))
        raise NotImplementedError(f'"histogram_cpu" not implemented for \'{name}\'')
    if bins <= 0:
        raise RuntimeError(f"torch.histc: bins must be > 0, but got {bins} for dimension 0")
    lo, hi = float(min), float(max)
    if lo > hi:
        raise RuntimeError("torch.histc: max must be larger than min")
    if lo == hi and x.size:
        lo, hi = float(x.min()), float(x.max())
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise RuntimeError(f"torch.histc: range of [{lo}, {hi}] is not finite")
    flat = x.reshape(-1)
    keep = (flat >= lo) & (flat <= hi)
    v = flat[keep].astype(np.float64)
    pos = ((v - lo) * bins / (hi - lo)).astype(np.int64)
    pos = xp.minimum(pos, bins - 1)
    return Tensor(xp.bincount(pos, minlength=bins).astype(x.dtype))


def searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None,
                 sorter=None):
    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError(f"torch.searchsorted(): side can only be 'left' or 'right' but "
                               f"got {side}")
        if right and side == "left":
            raise RuntimeError("torch.searchsorted(): side and right can't be set to opposites, "
                               "got side of left while right was True")
        right = side == "right"
    seq = sorted_sequence.array
    scalar = not isinstance(input, Tensor)
    vals = np.asarray(input) if scalar else input.array
    xp = get_array_module(seq)
    srt = None if sorter is None else sorter.array
    if seq.ndim > 1 and (vals.ndim != seq.ndim or vals.shape[:-1] != seq.shape[:-1]):
        raise RuntimeError(f"torch.searchsorted(): boundaries tensor should be 1 dimension or "
                           f"the first N-1 dimensions of boundaries tensor and input value "
                           f"tensor must match, but we got boundaries tensor "
                           f"{list(seq.shape)} and input value tensor {list(vals.shape)}")
    s = "right" if right else "left"
    if seq.ndim <= 1:
        out = xp.searchsorted(seq.reshape(-1), vals, side=s,
                              sorter=None if srt is None else srt.reshape(-1))
    else:
        rows = math.prod(seq.shape[:-1])     # not -1: an empty last dim leaves it open
        s2, v2 = seq.reshape(rows, seq.shape[-1]), vals.reshape(rows, vals.shape[-1])
        o2 = xp.stack([xp.searchsorted(s2[i], v2[i], side=s,
                                       sorter=None if srt is None else
                                       srt.reshape(s2.shape)[i]) for i in range(s2.shape[0])]) \
            if s2.shape[0] else xp.zeros(v2.shape, np.int64)
        out = o2.reshape(vals.shape)
    return Tensor(xp.asarray(out, dtype=np.int32 if out_int32 else np.int64))


def bucketize(input, boundaries, *, out_int32=False, right=False):
    if boundaries.ndim != 1:
        raise RuntimeError(f"boundaries tensor must be 1 dimension, but got dim("
                           f"{boundaries.ndim})")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)


def count_nonzero(input, dim=None):
    x = input.array
    axes = None if dim is None else _ops._reduce_dims(dim, x.ndim)
    return Tensor(get_array_module(x).asarray((x != 0).sum(axis=axes), dtype=np.int64))


# --------------------------------------------------------------------------
# selections along a dim: median, mode, kthvalue, quantile, cummax
# --------------------------------------------------------------------------


def _sorted_along(input, d):
    """(stable argsort indices along d with nan last, count of nan per slice keepdim)."""
    x = input.array
    xp = get_array_module(x)
    order = xp.argsort(x, axis=d, kind="stable")
    nans = xp.isnan(x).sum(axis=d, keepdims=True) if x.dtype.kind == "f" else \
        xp.zeros(_ops._reduced_shape(x.shape, (d,), True), np.int64)
    return order, nans


def _pick(input, d, order, k, keepdim):
    """Values and indices at sorted position k (an array, keepdim-shaped) along d."""
    xp = _xp(input)
    idx = xp.take_along_axis(order, k.astype(np.int64), axis=d)
    values = gather(input, d, Tensor(idx))
    indices = Tensor(idx.astype(np.int64))
    if not keepdim:
        values, indices = values.squeeze(d), indices.squeeze(d)
    return values, indices


class Median(Function):
    """median() / nanmedian() of a whole tensor: the value picked, with its
    gradient shared evenly among the entries equal to it (among the NaNs for a
    NaN result), as PyTorch's evenly_distribute_backward.  (Along a dim the
    gradient goes to the one index returned, as there.)"""

    def forward(self, x, *, value):
        xp = get_array_module(x)
        mask = xp.isnan(x) if x.dtype.kind == "f" and xp.isnan(value) else x == value
        self.weight = mask / mask.sum()
        if x.dtype.kind == "f":
            self.weight = self.weight.astype(x.dtype, copy=False)
        return xp.asarray(value, dtype=x.dtype)

    def backward(self, xp, gy):
        return gy * self.weight


def _median(input, dim, keepdim, ignore_nan, name):
    cls = getattr(return_types, name)
    if dim is None:
        if input.numel() == 0:
            return Tensor(_xp(input).full((), np.nan, input.array.dtype))
        v, _ = _median(input.reshape(-1), 0, False, ignore_nan, name)
        return Median.apply(input, value=v.array)
    d = _dim(dim, input.ndim)
    x = input if input.ndim else input.reshape(1)
    if x.shape[d] == 0:
        raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")
    order, nans = _sorted_along(x, d)
    n = x.shape[d]
    if ignore_nan:
        valid = n - nans
        k = _xp(x).where(valid == 0, 0, (valid - 1) // 2)
    else:
        k = _xp(x).where(nans > 0, n - nans, (n - 1) // 2)
    values, indices = _pick(x, d, order, k, keepdim or not input.ndim)
    if not input.ndim:
        values, indices = values.reshape(()), indices.reshape(())
    return cls((values, indices))


def median(input, dim=None, keepdim=False):
    return _median(input, dim, keepdim, False, "median")


def nanmedian(input, dim=None, keepdim=False):
    return _median(input, dim, keepdim, True, "nanmedian")


def kthvalue(input, k, dim=-1, keepdim=False):
    d = _dim(dim, input.ndim)
    x = input if input.ndim else input.reshape(1)
    n = x.shape[d]
    if n == 0:      # PyTorch's first check
        raise IndexError(f"kthvalue(): Expected reduction dim {d} to have non-zero size.")
    if not 1 <= k <= n:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {d}")
    order, _ = _sorted_along(x, d)
    kk = _xp(x).full(_ops._reduced_shape(x.shape, (d,), True), k - 1)
    values, indices = _pick(x, d, order, kk, keepdim or not input.ndim)
    if not input.ndim:
        values, indices = values.reshape(()), indices.reshape(())
    return return_types.kthvalue((values, indices))


def mode(input, dim=-1, keepdim=False):
    """The most frequent value along ``dim`` (the smallest among ties) and the
    last index where it occurs."""
    d = _dim(dim, input.ndim)
    x = input if input.ndim else input.reshape(1)
    a = _host(x.array)
    if a.shape[d] == 0:
        raise IndexError(f"mode(): Expected reduction dim {d} to have non-zero size.")
    moved = np.moveaxis(a, d, -1)
    rows = moved.reshape(-1, moved.shape[-1])
    best = np.empty(rows.shape[0], np.int64)
    for r, row in enumerate(rows):
        vals, counts = np.unique(row, return_counts=True, equal_nan=False)   # each nan its own
        v = vals[np.argmax(counts)]
        hits = np.flatnonzero((row == v) | (np.isnan(row) & np.isnan(v)) if row.dtype.kind == "f"
                              else row == v)
        best[r] = hits[-1]
    idx = np.moveaxis(best.reshape(moved.shape[:-1] + (1,)), -1, d)
    idx = _xp(x).asarray(idx)
    values = gather(x, d, Tensor(idx))
    indices = Tensor(idx)
    if not keepdim or not input.ndim:
        values, indices = values.squeeze(d), indices.squeeze(d)
    return return_types.mode((values, indices))


def _quantile(input, q, dim, keepdim, interpolation, ignore_nan, fname):
    if not isinstance(input, Tensor):
        raise TypeError(f"{fname}() expected a Tensor")
    if input.array.dtype.kind != "f":
        raise RuntimeError(f"{fname}() input tensor must be either float or double dtype")
    if input.numel() == 0:
        raise RuntimeError(f"{fname}() input tensor must be non-empty")
    if interpolation not in ("linear", "lower", "higher", "midpoint", "nearest"):
        raise RuntimeError(f"{fname}() interpolation must be one of linear, lower, higher, "
                           f"midpoint or nearest, but got {interpolation}")
    xp = _xp(input)
    dt = input.array.dtype
    if isinstance(q, Tensor):
        if q.ndim > 1:
            raise RuntimeError(f"{fname}() q must be a scalar or 1D tensor")
        if q.array.dtype != dt:
            raise RuntimeError(f"{fname}() q tensor must be same dtype as the input tensor")
        qa, scalar_q = q.array.astype(dt), q.ndim == 0
    else:
        qa, scalar_q = xp.asarray(q, dtype=dt), True
    if qa.size and (qa.min() < 0 or qa.max() > 1):
        raise RuntimeError(f"{fname}() q values must be in the range [0, 1]")
    qa = qa.reshape(-1)
    if dim is None:
        x, d = input.reshape(-1), 0
        out_keep = (1,) * input.ndim
    else:
        d = _dim(dim, input.ndim)
        x = input if input.ndim else input.reshape(1)
        out_keep = None
    # sorted values along the last axis
    x = movedim(x, d, -1)
    order, nans = _sorted_along(x, x.ndim - 1)
    srt = gather(x, -1, Tensor(order))                       # (..., n), differentiable
    n = x.shape[-1]
    if ignore_nan:
        ranks = qa * ((n - nans).astype(dt) - 1)
        allnan = nans == n
    else:
        ranks = xp.broadcast_to(qa * dt.type(n - 1), nans.shape[:-1] + qa.shape)
        ranks = xp.where(nans > 0, dt.type(n - 1), ranks)
        allnan = xp.zeros(nans.shape, bool)
    ranks = xp.asarray(ranks, dtype=dt)
    if interpolation == "lower":
        ranks = xp.floor(ranks)
    elif interpolation == "higher":
        ranks = xp.ceil(ranks)
    elif interpolation == "nearest":
        ranks = xp.round(ranks)
    ranks = xp.where(allnan, 0, ranks).astype(dt)
    below = ranks.astype(np.int64)
    below = xp.clip(below, 0, n - 1)
    lo = gather(srt, -1, Tensor(below))
    if interpolation in ("linear", "midpoint"):
        above = xp.clip(xp.ceil(ranks).astype(np.int64), 0, n - 1)
        hi = gather(srt, -1, Tensor(above))
        w = xp.full(ranks.shape, 0.5, dt) if interpolation == "midpoint" else \
            (ranks - below.astype(dt)).astype(dt)
        wt = Tensor(w)
        if interpolation == "linear" and isinstance(q, Tensor) and q.requires_grad:
            # the weight is q * (n - 1) - below: q gets a gradient (PyTorch's)
            fac = (n - nans).astype(dt) - 1 if ignore_nan else \
                xp.where(nans > 0, dt.type(0), dt.type(n - 1))
            wt = q.reshape(-1) * Tensor(fac) - Tensor(below.astype(dt))
        small = Tensor(w < 0.5)
        dlt = hi - lo
        if dt == np.float32:
            # PyTorch's lerp is a fused multiply-add: one rounding, as float64 then float32
            out = where(small, (lo.double() + wt.double() * dlt.double()).float(),
                        (hi.double() - dlt.double() * (1 - wt).double()).float())
        else:
            out = where(small, lo + wt * dlt, hi - dlt * (1 - wt))
    else:
        out = lo
    if ignore_nan:
        out = where(Tensor(xp.broadcast_to(allnan, out.shape)),
                    Tensor(xp.asarray(np.nan, dt)), out)
    # out: (..., len(q)) -> q first
    out = movedim(out, -1, 0)
    if dim is None:
        if keepdim:
            out = out.reshape((qa.size,) + out_keep)
        else:
            out = out.reshape(qa.size)
    else:
        if keepdim:
            out = out.unsqueeze(d + 1) if input.ndim else out
        if not input.ndim:
            out = out.reshape((qa.size,) + ((1,) * 0))
    if scalar_q:
        out = out.squeeze(0) if out.ndim else out
    return out


def quantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    return _quantile(input, q, dim, keepdim, interpolation, False, "quantile")


def nanquantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    return _quantile(input, q, dim, keepdim, interpolation, True, "nanquantile")


def _cum_ext(input, dim, minimum):
    """Running max (min) along ``dim`` and the index of its last occurrence (a
    NaN, once seen, stays, at the last NaN's index), as PyTorch's cummax."""
    if not input.ndim and dim not in (0, -1):
        raise IndexError(f"{'cummin' if minimum else 'cummax'}(): Expected reduction dim -1 or 0 "
                         f"for scalar but got {dim}")
    d = _dim(dim, input.ndim)
    x = input if input.ndim else input.reshape(1)
    a = x.array
    xp = get_array_module(a)
    host = a if xp is np else xp.asnumpy(a)      # ufunc.accumulate: NumPy's
    running = (np.minimum if minimum else np.maximum).accumulate(host, axis=d) \
        if host.shape[d] else host.copy()
    # the running extreme changes only where it is met again (ties: the later
    # position wins) or at a NaN; the index is the last such position so far
    marked = host == running
    if host.dtype.kind == "f":
        marked |= np.isnan(host)
    shape = [1] * host.ndim
    shape[d] = host.shape[d]
    positions = np.where(marked, np.arange(host.shape[d]).reshape(shape), 0)
    idx = np.maximum.accumulate(positions, axis=d) if host.shape[d] else positions
    idx = xp.asarray(idx.astype(np.int64))
    values = gather(x, d, Tensor(idx))
    indices = Tensor(idx)
    if not input.ndim:
        values, indices = values.reshape(()), indices.reshape(())
    cls = return_types.cummin if minimum else return_types.cummax
    return cls((values, indices))


def cummax(input, dim):
    return _cum_ext(input, dim, False)


def cummin(input, dim):
    return _cum_ext(input, dim, True)


def _log_cum_sum_exp(a, axis):
    """log(cumsum(exp(a))) along ``axis``, without overflow or underflow: NumPy's
    logaddexp.accumulate (on the host for a CuPy array: CuPy has no ufunc
    accumulate, and one shift for the whole row would lose its early prefixes)."""
    xp = get_array_module(a)
    if xp is np:
        return np.logaddexp.accumulate(a, axis=axis)
    return xp.asarray(np.logaddexp.accumulate(xp.asnumpy(a), axis=axis))


class LogCumSumExp(Function):
    """y_j = log sum_{k<=j} exp(x_k); dy_j/dx_k = exp(x_k - y_j) for k <= j."""

    def forward(self, x, *, dim):
        self.dim = dim
        y = x.copy() if x.shape[dim] == 0 else _log_cum_sum_exp(x, dim)
        self.save_for_backward(x, y)
        return y

    def backward(self, xp, gy):
        x, y = self.saved_tensors
        d = self.dim
        if xp is TensorMath:
            return self._graph_backward(xp, x, y, gy)
        # gx_k = sum_{j >= k} gy_j exp(x_k - y_j), as PyTorch computes it: the
        # positive and negative parts of gy each as exp(x + a reversed
        # log-cum-sum-exp of log|gy| - y), O(n) and without overflow
        with np.errstate(divide="ignore"):
            tails = [xp.flip(_log_cum_sum_exp(xp.flip(xp.log(part) - y, d), d), d)
                     for part in (xp.where(gy > 0, gy, 0), xp.where(gy < 0, -gy, 0))]
        return xp.exp(x + tails[0]) - xp.exp(x + tails[1])

    def _graph_backward(self, xp, x, y, gy):
        """The same sum as recorded ops (create_graph): the (k, j) table of its
        terms, every exponent <= 0 (y is a running log-sum-exp)."""
        d = self.dim
        x, y, g = (xp.swapaxes(a, d, -1) for a in (x, y, gy))
        n = x.shape[-1]
        upper = get_array_module(x.array).asarray(np.triu(np.ones((n, n), dtype=bool)))  # j >= k
        diff = xp.expand_dims(x, -1) - xp.expand_dims(y, -2)
        terms = xp.where(upper, xp.exp(xp.where(upper, diff, 0)), 0)
        gx = xp.sum(terms * xp.expand_dims(g, -2), axis=-1)
        return xp.swapaxes(gx, d, -1)


TensorMath = _ops.TensorMath


def logcumsumexp(input, dim):
    if input.array.dtype.kind != "f":
        raise NotImplementedError(f'"logcumsumexp_out_cpu" not implemented for '
                                  f"'{scalar_type_name(input.array.dtype)}'")
    x = input
    d = _dim(dim, x.ndim)
    if not x.ndim:      # itself, and its gradient passes as it is (PyTorch's, even for nan)
        return _ops.Clone.apply(x)
    return LogCumSumExp.apply(x, dim=d)


# --------------------------------------------------------------------------
# nan-reductions, moments
# --------------------------------------------------------------------------


def _nan_zeroed(input):
    if input.array.dtype.kind != "f":
        return input
    return where(Tensor(_xp(input).isnan(input.array)), _zeros_like(input), input)


def nansum(input, dim=None, keepdim=False, *, dtype=None):
    return _ops.sum(_nan_zeroed(input), dim, keepdim, dtype=dtype)


def nanmean(input, dim=None, keepdim=False, *, dtype=None):
    if dtype is not None:
        input = input.to(dtype)
    if input.array.dtype.kind != "f":
        raise RuntimeError(f"nanmean(): expected input to have floating point or complex dtype "
                           f"but got {scalar_type_name(input.array.dtype)}")
    xp = _xp(input)
    axes = _ops._reduce_dims(dim, input.ndim)
    cnt = (~xp.isnan(input.array)).sum(axis=axes, keepdims=keepdim).astype(input.array.dtype)
    return nansum(input, dim, keepdim) / Tensor(cnt)


def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    if isinstance(dim, bool):
        unbiased, dim = dim, None
    return (_ops.var(input, dim, unbiased, keepdim, correction=correction),
            _ops.mean(input, dim, keepdim))


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    if isinstance(dim, bool):
        unbiased, dim = dim, None
    return (_ops.std(input, dim, unbiased, keepdim, correction=correction),
            _ops.mean(input, dim, keepdim))


def diff(input, n=1, dim=-1, prepend=None, append=None):
    if input.ndim == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    d = _dim(dim, input.ndim)
    parts = []
    for extra in (prepend, input, append):
        if extra is None:
            continue
        e = _t(extra, input)
        if e.ndim == 0:
            shape = list(input.shape)
            shape[d] = 1
            e = _ops.expand(e.reshape((1,) * input.ndim), *shape)
        parts.append(e)
    x = cat(parts, d) if len(parts) > 1 else input
    for _ in range(n):
        m = x.shape[d]
        if m == 0:
            break
        a = _ops.narrow(x, d, 1, m - 1)
        b = _ops.narrow(x, d, 0, m - 1)
        x = Tensor(a.array ^ b.array) if x.array.dtype == np.bool_ else a - b
    return x


# --------------------------------------------------------------------------
# shapes
# --------------------------------------------------------------------------


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    if repeats is None:           # torch.repeat_interleave(repeats)
        r = input.array
        if r.ndim > 1:
            raise RuntimeError("repeat_interleave only accept 1D vector as repeat")
        xp = get_array_module(r)
        counts = r.tolist()      # (CuPy's repeat takes an int or a list of counts)
        return Tensor(xp.repeat(xp.arange(r.shape[0], dtype=np.int64), counts))
    x = input.reshape(-1) if dim is None else input
    d = 0 if dim is None else _dim(dim, input.ndim)
    if not x.ndim:
        x = x.reshape(1)
    n = x.shape[d]
    xp = _xp(x)
    if isinstance(repeats, Tensor):
        r = repeats.array
        if r.ndim > 1:
            raise RuntimeError("repeat_interleave only accept 1D vector as repeat")
        if r.size == 1:
            r = r.reshape(())
        elif r.shape[0] != n:
            raise RuntimeError("repeats must have the same size as input along dim")
    else:
        r = repeats
    counts = r.tolist() if hasattr(r, "tolist") else r     # host ints (CuPy's repeat)
    if (np.asarray(counts) < 0).any():
        raise RuntimeError("repeats can not be negative")
    idx = xp.repeat(xp.arange(n, dtype=np.int64), counts)
    return GetItem.apply(x, index=(slice(None),) * d + (idx,))


def tile(input, dims):
    dims = (dims,) if isinstance(dims, (int, np.integer)) else tuple(dims)
    if len(dims) < input.ndim:
        dims = (1,) * (input.ndim - len(dims)) + dims
    return _ops.repeat(input, *dims)


def atleast_1d(*tensors):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        return tuple(atleast_1d(t) for t in tensors[0])
    if len(tensors) > 1:
        return tuple(atleast_1d(t) for t in tensors)
    t = tensors[0]
    return t.reshape(1) if t.ndim == 0 else t


def atleast_2d(*tensors):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        return tuple(atleast_2d(t) for t in tensors[0])
    if len(tensors) > 1:
        return tuple(atleast_2d(t) for t in tensors)
    t = tensors[0]
    return t.reshape(1, 1) if t.ndim == 0 else t.unsqueeze(0) if t.ndim == 1 else t


def atleast_3d(*tensors):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        return tuple(atleast_3d(t) for t in tensors[0])
    if len(tensors) > 1:
        return tuple(atleast_3d(t) for t in tensors)
    t = tensors[0]
    if t.ndim == 0:
        return t.reshape(1, 1, 1)
    if t.ndim == 1:
        return t.reshape(1, -1, 1)
    if t.ndim == 2:
        return t.unsqueeze(-1)
    return t


def _nonempty(fname, tensors):
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError(f"{fname} expects a non-empty TensorList")
    return tensors


def hstack(tensors):
    ts = [atleast_1d(t) for t in _nonempty("hstack", tensors)]
    return cat(ts, 0 if ts[0].ndim == 1 else 1)


def vstack(tensors):
    return cat([atleast_2d(t) for t in _nonempty("vstack", tensors)], 0)


row_stack = vstack


def dstack(tensors):
    return cat([atleast_3d(t) for t in _nonempty("dstack", tensors)], 2)


def column_stack(tensors):
    ts = _nonempty("column_stack", tensors)
    return cat([t.reshape(-1, 1) if t.ndim <= 1 else t for t in ts], 1)


def tensor_split(input, indices_or_sections, dim=0):
    if not input.ndim:
        raise RuntimeError("tensor_split expected at least a 1-dimensional tensor, but got a "
                           "tensor with 0 dims")
    d = _dim(dim, input.ndim)
    n = input.shape[d]
    ios = indices_or_sections
    if isinstance(ios, Tensor):
        ios = ios.tolist() if ios.ndim else int(ios.item())
    if isinstance(ios, (int, np.integer)):
        k = int(ios)
        if k <= 0:
            raise RuntimeError(f"number of sections must be larger than 0, got {k}")
        q, r = divmod(n, k)
        bounds = [0]
        for i in range(k):
            bounds.append(bounds[-1] + q + (1 if i < r else 0))
    else:
        bounds = [0] + [builtins.min(builtins.max(int(i) if i >= 0 else n + int(i), 0), n)
                        for i in ios] + [n]
    out = []
    for s, e in zip(bounds[:-1], bounds[1:]):
        s = builtins.min(s, n)
        e = builtins.max(builtins.min(e, n), s)
        out.append(GetItem.apply(input, index=(slice(None),) * d + (slice(s, e),)))
    return tuple(out)


def _dir_split(fname, input, ios, d, min_dim):
    if input.ndim < min_dim:
        raise RuntimeError(f"torch.{fname} requires a tensor with at least {min_dim} dimension, "
                           f"but got a tensor with {input.ndim} dimensions!")
    if isinstance(ios, (int, np.integer)):
        n = input.shape[d]
        if ios == 0 or n % ios:
            raise RuntimeError(f"torch.{fname} attempted to split along dimension {d}, but the "
                               f"size of the dimension {n} is not divisible by the split_size "
                               f"{ios}!")
    return tensor_split(input, ios, d)


def hsplit(input, indices_or_sections):
    return _dir_split("hsplit", input, indices_or_sections, 1 if input.ndim > 1 else 0, 1)


def vsplit(input, indices_or_sections):
    return _dir_split("vsplit", input, indices_or_sections, 0, 2)


def dsplit(input, indices_or_sections):
    return _dir_split("dsplit", input, indices_or_sections, 2, 3)


def movedim(input, source, destination):
    src = (source,) if isinstance(source, (int, np.integer)) else tuple(source)
    dst = (destination,) if isinstance(destination, (int, np.integer)) else tuple(destination)
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: Invalid source or destination dims: source ({list(src)} "
                           f"dims) should contain the same number of dims as destination "
                           f"({list(dst)} dims)")
    nd = input.ndim
    src, dst = _norm_dims(src, nd), _norm_dims(dst, nd)
    if not nd:
        return input
    order = [i for i in range(nd) if i not in src]
    for s, t in sorted(zip(dst, src)):
        order.insert(s, t)
    return _ops.permute(input, *order) if order != list(range(nd)) else input


moveaxis = movedim


def swapdims(input, dim0, dim1):
    return _ops.transpose(input, dim0, dim1)


def ravel(input):
    return input.reshape(-1)


def unflatten(input, dim, sizes):
    d = _dim(dim, input.ndim)
    if not input.ndim:
        raise RuntimeError(f"unflatten got an unexpected error:\nDimension specified as {dim} but "
                           f"tensor has no dimensions")
    sizes = list(sizes)
    if not sizes:
        raise RuntimeError("unflatten: sizes must be non-empty")
    n = input.shape[d]
    if sizes.count(-1) > 1:
        raise RuntimeError("only one dimension can be inferred")
    if -1 in sizes:
        rest = math.prod(s for s in sizes if s != -1)
        sizes[sizes.index(-1)] = n // rest if rest else 0
    if math.prod(sizes) != n:
        raise RuntimeError(f"unflatten: Provided sizes {list(sizes)} don't multiply up to the "
                           f"size of dim {dim} ({n}) in the input tensor")
    return input.reshape(tuple(input.shape[:d]) + tuple(sizes) + tuple(input.shape[d + 1:]))


def broadcast_shapes(*shapes):
    try:
        return _Size(np.broadcast_shapes(*[(s,) if isinstance(s, int) else tuple(s)
                                           for s in shapes]))
    except ValueError:
        raise RuntimeError("Shape mismatch: objects cannot be broadcast to a single shape") \
            from None


def _Size(t):
    from .tensor import Size
    return Size(t)


def broadcast_tensors(*tensors):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    try:
        shape = np.broadcast_shapes(*[tuple(t.shape) for t in tensors])
    except ValueError:
        raise RuntimeError("shape mismatch: objects cannot be broadcast to a single shape") \
            from None
    return tuple(t if tuple(t.shape) == shape else _ops.expand(t, *shape) for t in tensors)


def meshgrid(*tensors, indexing=None):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing is None:
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f"torch.meshgrid: indexing must be one of \"xy\" or \"ij\", but "
                           f"received: {indexing}")
    for t in tensors:
        if t.ndim > 1:
            raise RuntimeError(f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list but "
                               f"got: {t}")
    ts = [t.reshape(-1) for t in tensors]
    swap = indexing == "xy" and len(ts) >= 2
    if swap:
        ts[0], ts[1] = ts[1], ts[0]
    shape = tuple(t.shape[0] for t in ts)
    out = []
    for i, t in enumerate(ts):
        view = [1] * len(ts)
        view[i] = -1
        out.append(_ops.expand(t.reshape(view), *shape))
    if swap:
        out[0], out[1] = out[1], out[0]
    return tuple(out)


def cartesian_prod(*tensors):
    if len(tensors) == 1:
        return tensors[0]
    grids = meshgrid(*tensors, indexing="ij")
    return stack([g.reshape(-1) for g in grids], 1)


def combinations(input, r=2, with_replacement=False):
    if input.ndim != 1:
        raise RuntimeError(f"Expect a 1D vector, but got shape {list(input.shape)}")
    if r < 0:
        raise RuntimeError(f"Expect a non-negative number, but got {r}")
    if r == 0:
        return Tensor(_xp(input).zeros(0, input.array.dtype))
    n = input.shape[0]
    it = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    idx = np.array(list(it(range(n), r)), dtype=np.int64).reshape(-1, r)
    return GetItem.apply(input, index=_xp(input).asarray(idx))


def _tri_indices(row, col, offset, dtype, upper):
    dtype = _dt.int64 if dtype is None else np.dtype(dtype)
    if dtype not in (_dt.int64, _dt.int32):
        raise RuntimeError(f"\"{'triu' if upper else 'tril'}_indices\" not implemented for "
                           f"'{_ops._c_type_name(dtype)}'")
    r, c = (np.triu_indices if upper else np.tril_indices)(row, offset, col)
    return Tensor(np.stack([r, c]).astype(dtype).reshape(2, -1))


def tril_indices(row, col, offset=0, *, dtype=None, device=None, layout=None):
    return _tri_indices(row, col, offset, dtype, False)


def triu_indices(row, col, offset=0, *, dtype=None, device=None, layout=None):
    return _tri_indices(row, col, offset, dtype, True)


def block_diag(*tensors):
    if not tensors:
        return Tensor(np.zeros((1, 0), _dt.float32))
    ts = []
    for i, t in enumerate(tensors):
        if t.ndim > 2:
            raise RuntimeError(f"torch.block_diag: Input tensors must have 2 or fewer "
                               f"dimensions. Input {i} has {t.ndim} dimensions")
        ts.append(t.reshape(1, 1) if t.ndim == 0 else t.reshape(1, -1) if t.ndim == 1 else t)
    dtype = ts[0].array.dtype
    for t in ts[1:]:
        dtype = _result_dtype(dtype, t.array.dtype)
    xp = _xp(ts[0])
    width = builtins.sum(t.shape[1] for t in ts)
    rows, left = [], 0
    for t in ts:
        r, c = t.shape
        parts = []
        if left:
            parts.append(Tensor(xp.zeros((r, left), dtype)))
        parts.append(t.to(dtype))
        if width - left - c:
            parts.append(Tensor(xp.zeros((r, width - left - c), dtype)))
        rows.append(cat(parts, 1) if len(parts) > 1 else parts[0])
        left += c
    return cat(rows, 0)


def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    nd = input.ndim + 1
    d1, d2 = _dim(dim1, nd), _dim(dim2, nd)     # each checked first, as PyTorch
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    n = input.shape[-1] if input.ndim else 1
    x = input if input.ndim else input.reshape(1)
    m = n + abs(offset)
    xp = _xp(x)
    ar = xp.arange(n)
    rows, cols = ar + builtins.max(-offset, 0), ar + builtins.max(offset, 0)
    out = IndexAdd.apply(x, shape=tuple(x.shape[:-1]) + (m, m), index=(Ellipsis, rows, cols))
    return movedim(out, (nd - 2, nd - 1), (d1, d2))


def diagflat(input, offset=0):
    return diag_embed(input.reshape(-1), offset)


def vander(x, N=None, increasing=False):
    if x.ndim != 1:
        raise RuntimeError("x must be a one-dimensional tensor.")
    if N is None:
        N = x.shape[0]
    if N < 0:
        raise RuntimeError("N must be non-negative.")
    if x.array.dtype == np.bool_ or x.array.dtype.kind in "iu" and x.array.dtype != np.int64:
        x = x.long()
    cols, cur = [], None
    for i in range(N):
        cur = Tensor(_xp(x).ones(x.shape, x.array.dtype)) if i == 0 else \
            (x if i == 1 else cur * x)
        cols.append(cur)
    if not cols:
        return Tensor(_xp(x).zeros((x.shape[0], 0), x.array.dtype))
    out = stack(cols, 1)
    return out if increasing else _ops.flip(out, 1)


# --------------------------------------------------------------------------
# products
# --------------------------------------------------------------------------


def kron(input, other):
    nd = builtins.max(input.ndim, other.ndim)
    a = input.reshape((1,) * (nd - input.ndim) + tuple(input.shape))
    b = other.reshape((1,) * (nd - other.ndim) + tuple(other.shape))
    ia, ib = [], []
    for sa, sb in zip(a.shape, b.shape):
        ia += [sa, 1]
        ib += [1, sb]
    out = a.reshape(ia) * b.reshape(ib)
    return out.reshape(tuple(sa * sb for sa, sb in zip(a.shape, b.shape)))


def tensordot(a, b, dims=2, out=None):
    if isinstance(dims, Tensor):
        dims = dims.tolist()
    if isinstance(dims, (int, np.integer)):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        if dims > a.ndim or dims > b.ndim:
            raise RuntimeError(f"tensordot expects dims < ndim_a or ndim_b, but got dims={dims}")
        da, db = list(range(a.ndim - dims, a.ndim)), list(range(dims))
    else:
        da, db = dims
        da = [da] if isinstance(da, (int, np.integer)) else list(da)
        db = [db] if isinstance(db, (int, np.integer)) else list(db)
    if len(da) != len(db):
        raise RuntimeError("both dimension lists should have same length")
    da = list(_norm_dims(da, a.ndim)) if da else []
    db = list(_norm_dims(db, b.ndim)) if db else []
    for i, j in zip(da, db):
        if a.shape[i] != b.shape[j]:
            raise RuntimeError(f"contracted dimensions need to match, but first has size "
                               f"{a.shape[i]} in dim {i} and second has size {b.shape[j]} in "
                               f"dim {j}")
    fa = [i for i in range(a.ndim) if i not in da]
    fb = [j for j in range(b.ndim) if j not in db]
    k = math.prod(a.shape[i] for i in da)
    pa = a.permute(*(fa + da)) if a.ndim else a
    pb = b.permute(*(db + fb)) if b.ndim else b
    ma = pa.reshape(math.prod(a.shape[i] for i in fa), k)
    mb = pb.reshape(k, math.prod(b.shape[j] for j in fb))
    dtype = _result_dtype(ma.array.dtype, mb.array.dtype)
    out = matmul(ma.to(dtype), mb.to(dtype))
    return out.reshape(tuple(a.shape[i] for i in fa) + tuple(b.shape[j] for j in fb))


def inner(input, other):
    if input.ndim == 0 or other.ndim == 0:
        return input * other
    if input.shape[-1] != other.shape[-1]:
        raise RuntimeError(f"inner() the last dimension must match on both input tensors but "
                           f"got shapes {list(input.shape)} and {list(other.shape)}")
    return tensordot(input, other, ([-1], [-1]))


def vdot(input, other):
    if input.ndim != 1 or other.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {input.ndim}D and {other.ndim}D "
                           f"tensors")
    return _ops.dot(input, other)


def _scaled(x, s):
    return x if s == 1 else x * s


def _addprod(input, prod, beta, alpha):
    """beta * input + alpha * prod, in prod's shape (the addmm family); with
    beta == 0 input is ignored (nan and inf too)."""
    p = _scaled(prod, alpha)
    if beta != 0:
        out = _scaled(input, beta) + p
    elif isinstance(input, Tensor) and input.requires_grad:    # a zero gradient, not None
        out = p + where(Tensor(_xp(p).zeros((), bool)), input.to(p.array.dtype),
                        Tensor(_xp(p).zeros((), p.array.dtype)))
    else:
        out = p
    return _ops.expand(out, *prod.shape) if tuple(out.shape) != tuple(prod.shape) else out


def _check_dims(fname, names_tensors):
    for name, t, nd in names_tensors:
        if t.ndim != nd:
            kind = {2: "matrix", 1: "vector"}.get(nd, f"{nd}D tensor")
            raise RuntimeError(f"{name} must be a {kind}, got {t.ndim}-D tensor")


def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    _check_dims("addmm", [("mat1", mat1, 2), ("mat2", mat2, 2)])
    prod = _ops.mm(mat1, mat2)
    return _addprod(input, prod, beta, alpha)


def addmv(input, mat, vec, *, beta=1, alpha=1):
    _check_dims("addmv", [("mat", mat, 2), ("vec", vec, 1)])
    prod = _ops.mv(mat, vec)
    return _addprod(input, prod, beta, alpha)


def addr(input, vec1, vec2, *, beta=1, alpha=1):
    prod = _ops.outer(vec1, vec2)
    return _addprod(input, prod, beta, alpha)


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1):
    _check_dims("baddbmm", [("batch1", batch1, 3), ("batch2", batch2, 3)])
    prod = _ops.bmm(batch1, batch2)
    return _addprod(input, prod, beta, alpha)


def addbmm(input, batch1, batch2, *, beta=1, alpha=1):
    _check_dims("addbmm", [("batch1", batch1, 3), ("batch2", batch2, 3)])
    prod = _ops.sum(_ops.bmm(batch1, batch2), 0)
    return _addprod(input, prod, beta, alpha)


def addcmul(input, tensor1, tensor2, *, value=1):
    return input + _scaled(tensor1 * tensor2, value)


def addcdiv(input, tensor1, tensor2, *, value=1):
    if tensor1.array.dtype.kind in "biu" and tensor2.array.dtype.kind in "biu":
        raise RuntimeError("Integer division with addcdiv is no longer supported, and in a future "
                           "release addcdiv will perform a true division of tensor1 and tensor2. "
                           "The historic addcdiv behavior can be implemented as (input + value * "
                           "torch.trunc(tensor1 / tensor2)).to(input.dtype) for integer inputs "
                           "and as (input + value * tensor1 / tensor2) for float inputs. The "
                           "future addcdiv behavior is just the latter implementation: (input + "
                           "value * tensor1 / tensor2), for all dtypes.")
    return input + _scaled(tensor1 / tensor2, value)


def chain_matmul(*matrices):
    if len(matrices) == 1 and isinstance(matrices[0], (list, tuple)):
        matrices = tuple(matrices[0])
    if not matrices:
        raise RuntimeError("chain_matmul(): Expected one or more matrices")
    for i, m in enumerate(matrices):
        if m.ndim != 2:
            raise RuntimeError(f"Tensor dimension is {m.ndim}, expected 2 instead.")
    out = matrices[0]
    for m in matrices[1:]:
        out = _ops.mm(out, m)
    return out


def _pnorm_last(d, p):
    """p-norm over the last axis of differences ``d``."""
    if p == 2:
        return _ops.Norm.apply(d, axes=(d.ndim - 1,), keepdim=False)
    if p == 0:
        return _ops.sum((d != 0).to(d.array.dtype), -1)
    if p == float("inf"):
        return _ops.amax(_ops.abs(d), -1)
    if p == 1:
        return _ops.sum(_ops.abs(d), -1)
    s = _ops.sum(_ops.pow(_ops.abs(d), p), -1)
    zero = Tensor(s.array == 0)
    # at distance 0 the gradient is 0 (PyTorch's), not 0 * inf
    one, nil = (Tensor(_xp(s).asarray(v, s.array.dtype)) for v in (1, 0))
    return where(zero, nil, _ops.pow(where(zero, one, s), 1.0 / p))


def cdist(x1, x2, p=2.0, compute_mode="use_mm_for_euclid_dist_if_necessary"):
    if x1.ndim < 2 or x2.ndim < 2:
        raise RuntimeError(f"cdist only supports at least 2D tensors, X1 got: {x1.ndim}D")
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(f"X1 and X2 must have the same number of columns. X1: "
                           f"{x1.shape[-1]} X2: {x2.shape[-1]}")
    if p < 0:
        raise RuntimeError("cdist only supports non-negative p values")
    if x1.array.dtype.kind != "f" or x2.array.dtype.kind != "f":
        raise RuntimeError(f"cdist only supports floating-point dtypes, X1 got: "
                           f"{_ops._c_type_name(x1.array.dtype)}")
    if p == 2 and compute_mode != "donot_use_mm_for_euclid_dist" and (
            compute_mode == "use_mm_for_euclid_dist" or x1.shape[-2] > 25 or x2.shape[-2] > 25):
        return _euclidean_dist(x1, x2)
    d = x1.unsqueeze(-2) - x2.unsqueeze(-3)
    return _pnorm_last(d, p)


def _euclidean_dist(x1, x2):
    """PyTorch's matrix-product form of the 2-norm distances (its default beyond
    25 rows): |a|^2 + |b|^2 - 2 a.b, clamped at 1e-30 before the square root
    (so a zero distance has gradient 0), without the (P, R, M) differences."""
    sq1 = (x1 * x1).sum(-1, keepdim=True)                        # (..., P, 1)
    sq2 = (x2 * x2).sum(-1, keepdim=True).transpose(-2, -1)      # (..., 1, R)
    cross = _ops.matmul(x1, x2.transpose(-2, -1))
    return _ops.sqrt(_ops.clamp(sq1 + sq2 - 2 * cross, min=1e-30))


def pdist(input, p=2):
    # one implementation for torch.pdist and F.pdist, with PyTorch's gradients
    from .nn._ops_pdist import pdist as _pdist
    return _pdist(input, p)


def dist(input, other, p=2):
    d = (input - other).reshape(-1)
    if isinstance(p, Tensor):
        p = p.item()
    return _pnorm_last(d, p)


def cross(input, other, dim=None):
    if input.ndim != other.ndim:
        raise RuntimeError("linalg.cross: inputs must have the same number of dimensions.")
    shape = np.broadcast_shapes(tuple(input.shape), tuple(other.shape))
    if dim is None:
        dim = next((i for i, n in enumerate(shape) if n == 3), None)
        if dim is None:
            raise RuntimeError("no dimension of size 3 in input")
    d = _dim(dim, len(shape))
    if input.shape[d] != 3 or other.shape[d] != 3:
        raise RuntimeError(f"linalg.cross: inputs dimension {d} must have length 3. Got "
                           f"{input.shape[d]} and {other.shape[d]}")
    a = [select(input, d, i) for i in range(3)]
    b = [select(other, d, i) for i in range(3)]
    return stack([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2],
                  a[0] * b[1] - a[1] * b[0]], d)


def cov(input, *, correction=1, fweights=None, aweights=None):
    if input.ndim > 2:
        raise RuntimeError(f"cov(): expected input to have two or fewer dimensions but got an "
                           f"input with {input.ndim} dimensions")
    x = input.reshape(1, -1) if input.ndim < 2 else input
    if x.array.dtype.kind != "f":
        x = x.float()
    n = x.shape[1]
    xp = _xp(x)
    w = None
    if fweights is not None:
        fw = fweights.array
        if fw.ndim > 1 or fw.dtype.kind not in "iu":
            raise RuntimeError("cov(): expected fweights to have integral dtype")
        if fw.size and fw.min() < 0:
            raise RuntimeError("cov(): fweights cannot be negative")
        w = fweights.to(x.array.dtype)
    if aweights is not None:
        aw = aweights.array
        if aw.dtype.kind != "f":
            raise RuntimeError("cov(): expected aweights to have floating point dtype")
        if aw.size and aw.min() < 0:
            raise RuntimeError("cov(): aweights cannot be negative")
        aweights = aweights.to(x.array.dtype)
        w = aweights if w is None else w * aweights
    if w is None:
        wsum = Tensor(xp.asarray(n, x.array.dtype))
        avg = _ops.mean(x, 1, keepdim=True)
        norm = wsum - correction
    else:
        wsum = _ops.sum(w)
        avg = _ops.sum(x * w, 1, keepdim=True) / wsum
        if aweights is None:
            norm = wsum - correction
        else:
            norm = wsum - correction * _ops.sum(w * aweights) / wsum
    norm = _ops.clamp(norm, min=0)
    xm = x - avg
    xw = xm if w is None else xm * w
    c = matmul(xw, xm.t()) / norm
    return c.reshape(()) if input.ndim < 2 else c


def trapezoid(y, x=None, *, dx=None, dim=-1):
    d = _dim(dim, y.ndim)
    n = y.shape[d]
    if x is not None and dx is not None:
        raise TypeError("trapezoid() received an invalid combination of arguments")
    if x is None or not isinstance(x, Tensor):
        h = (1 if dx is None else dx) if x is None else x
        if n == 0:
            return _ops.sum(y, d) * 0
        return (_ops.sum(y, d) - (select(y, d, 0) + select(y, d, -1)) * 0.5) * h
    if x.ndim == 1:
        if x.shape[0] != n:
            raise RuntimeError("trapezoid: There must be one `x` value for each sample point")
        shape = [1] * y.ndim
        shape[d] = n
        x = x.reshape(shape)
    if n == 0:
        return _ops.sum(y, d) * 0
    h = diff(x, dim=d)
    return _ops.sum(h * (_ops.narrow(y, d, 1, n - 1) + _ops.narrow(y, d, 0, n - 1)) / 2.0, d)


def trapz(y, x=None, *, dx=None, dim=-1):
    return trapezoid(y, x, dx=dx, dim=dim)


def renorm(input, p, dim, maxnorm):
    if input.ndim <= 1:
        raise RuntimeError(f"renorm: input needs at least 2 dimensions, got {input.ndim} "
                           f"dimensions")
    if p <= 0:
        raise RuntimeError("renorm: non-positive-norm not supported")
    if maxnorm < 0:
        raise RuntimeError(f"renorm: expected maxnorm to be >= 0 but got {maxnorm}")
    d = _dim(dim, input.ndim)
    other = tuple(i for i in range(input.ndim) if i != d)
    if p == 2:
        nrm = _ops.Norm.apply(input, axes=other, keepdim=True)
    elif p == float("inf"):
        nrm = _ops.amax(_ops.abs(input), other, keepdim=True)
    else:
        nrm = _ops.pow(_ops.sum(_ops.pow(_ops.abs(input), p), other, keepdim=True), 1.0 / p)
    big = Tensor(nrm.array > maxnorm)
    factor = where(big, maxnorm / (nrm + 1e-7), Tensor(_xp(input).ones((), input.array.dtype)))
    return input * factor


# --------------------------------------------------------------------------
# Tensor methods with PyTorch's names
# --------------------------------------------------------------------------

_METHODS = ("nonzero", "argwhere", "masked_select", "unique", "unique_consecutive", "bincount",
            "histc", "median", "nanmedian", "mode", "kthvalue", "quantile", "nanquantile",
            "nansum", "nanmean", "count_nonzero", "cummax", "cummin", "logcumsumexp", "diff",
            "take", "take_along_dim", "scatter_add", "scatter_reduce", "index_reduce",
            "repeat_interleave", "tile", "hsplit", "vsplit", "dsplit", "tensor_split", "movedim",
            "moveaxis", "swapdims", "ravel", "unflatten", "select", "diag_embed", "diagflat",
            "kron", "inner", "vdot", "addmm", "addmv", "addr", "addbmm", "baddbmm", "addcmul",
            "addcdiv", "dist", "cross", "cov", "renorm", "count_nonzero")
for _name in _METHODS:
    if _name not in Tensor.__dict__:
        setattr(Tensor, _name, globals()[_name])


def _inplace_method(fn):
    def method(self, *args, **kwargs):
        # an argument that requires grad (a scatter's src) has the change
        # recorded even when self does not, on a copy of self's old value
        other = next((a for a in itertools.chain(args, kwargs.values())
                      if isinstance(a, Tensor) and a.requires_grad), None)
        return self._inplace(lambda x, _unused: fn(x, *args, **kwargs), other)
    method.__name__ = fn.__name__ + "_"
    return method


for _name in ("scatter_add", "scatter_reduce", "index_reduce", "addmm", "addmv", "addr",
              "addbmm", "baddbmm", "addcmul", "addcdiv", "renorm"):
    if _name + "_" not in Tensor.__dict__:
        setattr(Tensor, _name + "_", _inplace_method(globals()[_name]))
del _name
