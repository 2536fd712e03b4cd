"""embedding, layer_norm, group_norm: one Function each for embedding and
layer norm (group norm is layer norm of a reshaped input, plus the affine
step as a composition).

* embedding: the forward is a row gather ``weight[indices]``; the backward
  adds each row of the upstream gradient into the row it was read from
  (``xp.add.at``, through ops' ``_index_add``), so repeated indices
  accumulate; the ``padding_idx`` row gets none.
* layer norm: PyTorch's two-pass statistics (mean, then the biased variance
  of the centred values) and its exact backward
  ``gx = rstd * (g - mean(g) - xhat * mean(g * xhat))`` with ``g = gy * w``.
  Under create_graph the statistics are recomputed from the saved input with
  the NumPy subset, so the backward is itself differentiable.
"""
import math

import numpy as np

from .. import ops
from ..autograd.function import Function
from ..backend import get_array_module
from ..tensor import Tensor

__all__ = ["embedding", "embedding_bag", "layer_norm", "group_norm"]


# --------------------------------------------------------------------------
# embedding
# --------------------------------------------------------------------------


class Embedding(Function):
    """weight[indices]: (num_embeddings, D) and int indices of shape S -> (*S, D)."""

    def forward(self, weight, *, indices, padding_idx):
        if self.needs_input_grad[0]:
            self.indices, self.padding_idx, self.shape = indices, padding_idx, weight.shape
        return weight[indices]

    def backward(self, xp, gy):
        if self.padding_idx is not None:
            gy = xp.where((self.indices != self.padding_idx)[..., None], gy, 0)
        if xp is ops.TensorMath:
            return ops.IndexAdd.apply(gy, shape=self.shape, index=(self.indices,))
        return ops._index_add(gy, self.shape, (self.indices,))


def _embedding_indices(input, num_embeddings):
    idx = input.array
    if idx.dtype.kind not in "iu":
        raise RuntimeError(f"Expected tensor for argument #1 'indices' to have one of the "
                           f"following scalar types: Long, Int (or another integer type); but got "
                           f"{idx.dtype} instead (call .long() on the indices)")
    if idx.size:
        low, high = int(idx.min()), int(idx.max())
        if low < 0 or high >= num_embeddings:
            bad = low if low < 0 else high
            raise IndexError(f"embedding: index {bad} is out of range for a weight with "
                             f"{num_embeddings} rows (valid indices are 0 .. "
                             f"{num_embeddings - 1}): index out of range in self")
    return idx


def _padding_idx(padding_idx, num_embeddings):
    if padding_idx is None:
        return None
    if not -num_embeddings <= padding_idx < num_embeddings:
        raise AssertionError(f"Padding_idx must be within num_embeddings (got padding_idx="
                             f"{padding_idx} for num_embeddings={num_embeddings})")
    return padding_idx + num_embeddings if padding_idx < 0 else padding_idx


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0,
              scale_grad_by_freq=False, sparse=False):
    """Rows of ``weight`` (num_embeddings, D) picked by integer ``input`` of any
    shape S: output (*S, D).  The ``padding_idx`` row receives no gradient."""
    if max_norm is not None:
        raise NotImplementedError("embedding: max_norm is not supported (it renormalises the "
                                  "weight's rows in place); renormalise the rows yourself, "
                                  "e.g. under no_grad, before the lookup")
    if scale_grad_by_freq:
        raise NotImplementedError("embedding: scale_grad_by_freq=True is not supported")
    if sparse:
        raise NotImplementedError("embedding: sparse=True is not supported (gradients are dense)")
    if weight.ndim != 2:
        raise RuntimeError(f"embedding: 'weight' must be 2-D (num_embeddings, embedding_dim), "
                           f"got shape {tuple(weight.shape)}")
    num = weight.shape[0]
    idx = _embedding_indices(input, num)
    return Embedding.apply(weight, indices=idx, padding_idx=_padding_idx(padding_idx, num))


# --------------------------------------------------------------------------
# layer norm
# --------------------------------------------------------------------------


def _stats(xp, x, axes, eps):
    """Mean and 1 / sqrt(biased variance + eps) over ``axes`` (kept as size 1)."""
    n = math.prod(x.shape[a] for a in axes)
    mean = xp.sum(x, axis=axes, keepdims=True) / n
    xc = x - mean
    var = xp.sum(xc * xc, axis=axes, keepdims=True) / n
    return xc, 1 / xp.sqrt(var + eps)


class LayerNorm(Function):
    """(x - mean) * rstd * weight + bias over the last ``ndim`` dimensions;
    weight and bias (shape x.shape[-ndim:]) may be None."""

    def forward(self, x, weight, bias, *, ndim, eps):
        xp = get_array_module(x)
        axes = tuple(range(x.ndim - ndim, x.ndim))
        with np.errstate(divide="ignore", invalid="ignore"):     # empty input: nan, as PyTorch
            xc, rstd = _stats(xp, x, axes, eps)
        xhat = (xc * rstd).astype(x.dtype, copy=False)
        if any(self.needs_input_grad):
            self.save_for_backward(x, weight)
            self.axes, self.eps, self.xhat, self.rstd = axes, eps, xhat, rstd
        y = xhat if weight is None else xhat * weight
        return y if bias is None else y + bias

    def backward(self, xp, gy):
        x, weight = self.saved_tensors
        need_x, need_w, need_b = self.needs_input_grad
        if self._graph_mode:    # statistics as functions of x, so that they are recorded
            xc, rstd = _stats(xp, x, self.axes, self.eps)
            xhat = xc * rstd
        else:
            xhat, rstd = self.xhat, self.rstd
        gx = gw = None
        if need_x:
            g = gy if weight is None else gy * weight
            n = math.prod(x.shape[a] for a in self.axes)
            mean_g = xp.sum(g, axis=self.axes, keepdims=True) / n
            mean_gx = xp.sum(g * xhat, axis=self.axes, keepdims=True) / n
            gx = (g - mean_g - xhat * mean_gx) * rstd
        if need_w:
            gw = gy * xhat      # summed down to weight's shape by the engine
        return gx, gw, (gy if need_b else None)


def _normalized_shape(normalized_shape):
    if isinstance(normalized_shape, (int, np.integer)):
        return (int(normalized_shape),)
    return tuple(int(n) for n in normalized_shape)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-05):
    """Normalise over the last len(normalized_shape) dimensions (biased
    variance), then scale by ``weight`` and shift by ``bias`` (both of shape
    normalized_shape, or None)."""
    shape = _normalized_shape(normalized_shape)
    if not shape or tuple(input.shape[input.ndim - len(shape):]) != shape \
            or input.ndim < len(shape):
        raise RuntimeError(f"Given normalized_shape={list(shape)}, expected input with shape "
                           f"[*, {', '.join(map(str, shape))}], but got input of size "
                           f"{list(input.shape)}")
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and tuple(p.shape) != shape:
            raise RuntimeError(f"layer_norm: expected {name} of shape {list(shape)}, got "
                               f"{list(p.shape)}")
    return LayerNorm.apply(input, weight, bias, ndim=len(shape), eps=eps)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-05):
    """Normalise (N, C, *) input over each group of C // num_groups channels
    (and all of *), then scale and shift per channel."""
    if input.ndim < 2:
        raise RuntimeError(f"group_norm: expected input of at least 2 dimensions (N, C, *), got "
                           f"shape {tuple(input.shape)}")
    n, c = input.shape[0], input.shape[1]
    if c % num_groups:
        raise RuntimeError(f"Expected number of channels in input to be divisible by num_groups, "
                           f"but got input of shape {list(input.shape)} and num_groups="
                           f"{num_groups}")
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and tuple(p.shape) != (c,):
            raise RuntimeError(f"group_norm: expected {name} of shape [{c}], got "
                               f"{list(p.shape)}")
    grouped = ops.reshape(input, (n, num_groups, -1)) if input.numel() else \
        ops.reshape(input, (n, num_groups, c // num_groups * math.prod(input.shape[2:])))
    y = ops.reshape(LayerNorm.apply(grouped, None, None, ndim=1, eps=eps), tuple(input.shape))
    per_channel = (c,) + (1,) * (input.ndim - 2)
    if weight is not None:
        y = y * ops.reshape(weight, per_channel)
    if bias is not None:
        y = y + ops.reshape(bias, per_channel)
    return y


# --------------------------------------------------------------------------
# embedding_bag
# --------------------------------------------------------------------------


def _bags(input, offsets, include_last_offset, fn="embedding_bag"):
    """(flat indices, the bag of each, number of bags) of a 2-D input (one bag
    per row) or a 1-D input cut at ``offsets``, checked as PyTorch checks them."""
    idx = input.array if isinstance(input, Tensor) else np.asarray(input)
    if idx.dtype.kind not in "iu":
        raise RuntimeError(f"{fn}: expected input of dtype int64 or int32, got {idx.dtype}")
    if idx.ndim == 2:
        if offsets is not None:
            raise ValueError("if input is 2D, then offsets has to be None, as input is treated "
                             "is a mini-batch of fixed length sequences. However, found offsets "
                             f"of type {type(offsets)}")
        n, length = idx.shape
        return idx.reshape(-1), np.repeat(np.arange(n), length), n
    if idx.ndim != 1:
        raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension "
                         f"{idx.ndim}")
    if offsets is None:
        raise ValueError("offsets has to be a 1D Tensor but got None")
    off = offsets.array if isinstance(offsets, Tensor) else np.asarray(offsets)
    if off.ndim != 1:
        raise ValueError("offsets has to be a 1D Tensor")
    off = np.asarray(off.get() if hasattr(off, "get") else off, dtype=np.int64)
    if off.size and off[0] != 0:
        raise RuntimeError(f"{fn}: offsets[0] has to be 0, i.e., the first sequence in the "
                           f"mini-batch has to start from position 0. However, got {off[0]}")
    if off.size and (off[-1] > idx.size or (np.diff(off) < 0).any()):
        raise RuntimeError(f"{fn}: offsets must be non-decreasing and at most the input's "
                           f"length {idx.size}, got {off.tolist()}")
    if include_last_offset and off.size and off[-1] != idx.size:
        # PyTorch's contract (CSR offsets); its kernels disagree on a shorter last
        # offset (sum stops there, mean divides and max reads to the end): refuse it
        raise ValueError(f"{fn}: with include_last_offset=True the last offset must equal the "
                         f"number of indices ({idx.size}), got {int(off[-1])}")
    bounds = off if include_last_offset else np.append(off, idx.size)
    n = max(len(bounds) - 1, 0)
    bag = np.repeat(np.arange(n), np.diff(bounds)) if n else np.zeros(0, np.int64)
    return idx[:bounds[-1]] if n else idx[:0], bag, n


def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2, scale_grad_by_freq=False,
                  mode="mean", sparse=False, per_sample_weights=None, include_last_offset=False,
                  padding_idx=None):
    """Sums, means or maxima of bags of ``weight``'s rows (PyTorch's
    F.embedding_bag): bags are the rows of a 2-D input, or a 1-D input cut at
    ``offsets``; entries equal to padding_idx are left out (an empty bag gives
    zeros); per_sample_weights scale the rows (mode 'sum' only)."""
    if mode not in ("sum", "mean", "max"):
        raise ValueError(f"mode has to be one of sum, mean or max, but got {mode}")
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError(f"embedding_bag: per_sample_weights was not None. "
                                  f"per_sample_weights is only supported for mode='sum' (got "
                                  f"mode='{mode}'). Please open a feature request on GitHub.")
    idx, bag, n_bags = _bags(input, offsets, include_last_offset)
    xp = get_array_module(weight.array)
    pad = _padding_idx(padding_idx, weight.shape[0])
    keep = np.ones(idx.shape, dtype=bool) if pad is None else np.asarray(
        idx.get() if hasattr(idx, "get") else idx) != pad
    rows = embedding(Tensor(xp.asarray(idx)), weight, None, max_norm, norm_type,
                     scale_grad_by_freq, sparse)                     # (entries, D)
    d = weight.shape[1]
    if per_sample_weights is not None:
        if tuple(per_sample_weights.shape) != tuple(input.shape):
            raise ValueError(f"embedding_bag: If per_sample_weights ({per_sample_weights.shape}) "
                             f"is not None, then it must have the same shape as the input "
                             f"({tuple(input.shape)})")
        rows = rows * per_sample_weights.reshape(-1)[:rows.shape[0]].unsqueeze(1)
    kept_rows, kept_bags = rows, bag
    if not keep.all():
        where = xp.asarray(np.flatnonzero(keep))
        kept_rows, kept_bags = ops.index_select(rows, 0, Tensor(where)), bag[keep]
    counts = np.bincount(kept_bags, minlength=n_bags)
    if mode == "max":
        if not kept_bags.size:
            return Tensor(xp.zeros((n_bags, d), dtype=weight.array.dtype))
        # each bag's largest row per column: the position of its maximum, gathered
        values = kept_rows.array
        host = values.get() if hasattr(values, "get") else values
        # rows grouped by bag (stable), each group's column maxima, and the first row
        # reaching each (as PyTorch): one reduceat per quantity, no loop over bags
        order = np.argsort(kept_bags, kind="stable")
        grouped, groups = host[order], kept_bags[order]
        starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
        maxima = np.maximum.reduceat(grouped, starts, axis=0)              # (bags present, D)
        group_of_row = np.repeat(np.arange(starts.size), np.diff(np.r_[starts, groups.size]))
        first = np.where(grouped == maxima[group_of_row], np.arange(groups.size)[:, None],
                         groups.size)
        best = np.zeros((n_bags, d), np.int64)
        best[groups[starts]] = order[np.minimum.reduceat(first, starts, axis=0)]
        empty = counts == 0
        out = ops.gather(kept_rows, 0, Tensor(xp.asarray(best)))
        if empty.any():
            out = ops.where(Tensor(xp.asarray(empty[:, None])), 0.0, out)
        return out
    total = ops.index_add(Tensor(xp.zeros((n_bags, d), dtype=weight.array.dtype)), 0,
                          Tensor(xp.asarray(kept_bags)), kept_rows)
    if mode == "mean":
        total = total / Tensor(xp.asarray(np.maximum(counts, 1)[:, None].astype(
            weight.array.dtype)))
    return total
