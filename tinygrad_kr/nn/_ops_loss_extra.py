"""The remaining PyTorch losses, as compositions of the core differentiable ops.

margin_ranking_loss, hinge_embedding_loss, cosine_embedding_loss,
soft_margin_loss, multilabel_soft_margin_loss, triplet_margin_loss,
triplet_margin_with_distance_loss, gaussian_nll_loss, poisson_nll_loss,
multi_margin_loss, multilabel_margin_loss.

Each follows PyTorch 2.13's definition term by term (ATen's Loss.cpp,
LossMultiMargin.cpp, LossMultiLabelMargin.cpp and torch/nn/functional.py):
the same formulas in the same order, PyTorch's argument checks and messages,
and its gradients, which here come from the core ops (no Function of its own):

  * the clamps at 0 (margin ranking, hinge, cosine, triplet) pass the gradient
    where the argument is >= 0, as clamp_min; the multi-class margins count a
    term only where it is > 0, as their kernels do (relu);
  * class indices, -1 terminators, +-1 labels and per-class weights of the
    margin losses are constants (masks and gathers), not differentiable;
  * gaussian_nll_loss clamps var at eps without recording the clamp (PyTorch
    clamps under no_grad): the gradient flows to var as if unclamped.
"""
import math

import numpy as np

from .. import ops
from ..autograd.grad_mode import is_grad_enabled
from ..backend import get_array_module
from ..dtypes import scalar_type_name
from ..tensor import Tensor
from . import functional as F

__all__ = ["margin_ranking_loss", "hinge_embedding_loss", "cosine_embedding_loss",
           "soft_margin_loss", "multilabel_soft_margin_loss", "triplet_margin_loss",
           "triplet_margin_with_distance_loss", "gaussian_nll_loss", "poisson_nll_loss",
           "multi_margin_loss", "multilabel_margin_loss"]

# ATen's EPSILON in cosine_embedding_loss, added to the squared magnitudes: the
# float constant 1e-12f (it shows in the gradient at a zero vector)
_COSINE_EPSILON = float(np.float32(1e-12))

def _type_name(t):
    return scalar_type_name(t.array.dtype)


def _broadcast_shape(a, b):
    """The broadcast of shapes a and b, or PyTorch's RuntimeError naming the
    first mismatch from the right (a and b in the order the op sees them)."""
    a, b = tuple(a), tuple(b)
    n = max(len(a), len(b))
    out = []
    for i in range(n - 1, -1, -1):
        off = n - 1 - i
        sa = a[len(a) - 1 - off] if len(a) - 1 - off >= 0 else 1
        sb = b[len(b) - 1 - off] if len(b) - 1 - off >= 0 else 1
        if sa != sb and sa != 1 and sb != 1:
            raise RuntimeError(f"The size of tensor a ({sa}) must match the size of tensor b "
                               f"({sb}) at non-singleton dimension {i}")
        out.append(sb if sa == 1 else sa)
    return tuple(reversed(out))


def _not_differentiable(fname, argname, t):
    """PyTorch refuses, when recording, a tensor that requires grad where its
    kernel has no derivative."""
    if t is not None and t.requires_grad and is_grad_enabled():
        raise RuntimeError(f"The function '{fname}' is not differentiable with respect to "
                           f"argument '{argname}'. This input cannot have requires_grad True.")


def _mask(t, cond):
    """A bool array (``cond`` of t's array) for ops.where (an array also for
    a 0-d t, where NumPy's comparison gives a scalar)."""
    return get_array_module(t.array).asarray(cond(t.array))


# --------------------------------------------------------------------------
# margin ranking, hinge embedding, cosine embedding, soft margin
# --------------------------------------------------------------------------


def margin_ranking_loss(input1, input2, target, margin=0, size_average=None, reduce=None,
                        reduction="mean"):
    """max(0, -target * (input1 - input2) + margin), target +-1 (which input
    should rank higher)."""
    reduction = F._reduction(size_average, reduce, reduction)
    if input1.ndim != input2.ndim or input1.ndim != target.ndim:
        raise RuntimeError(f"margin_ranking_loss : All input tensors should have same dimension "
                           f"but got sizes: input1: {input1.shape}, input2: {input2.shape}, "
                           f"target: {target.shape} ")
    diff_shape = _broadcast_shape(input1.shape, input2.shape)
    _broadcast_shape(target.shape, diff_shape)
    loss = (-target * (input1 - input2) + margin).clamp(min=0)
    return F._reduce(loss, reduction)


def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None,
                         reduction="mean"):
    """input where target == 1, max(0, margin - input) where target == -1
    (for any other target value, the sum of both terms)."""
    reduction = F._reduction(size_average, reduce, reduction)
    _broadcast_shape(target.shape, input.shape)
    margin_clamp = (margin - input).clamp(min=0)
    out_margin = ops.where(_mask(target, lambda y: y != 1), margin_clamp, 0)
    out_self = ops.where(_mask(target, lambda y: y != -1), input, 0)
    return F._reduce(out_margin + out_self, reduction)


def cosine_embedding_loss(input1, input2, target, margin=0, size_average=None, reduce=None,
                          reduction="mean"):
    """1 - cos(x1, x2) where target == 1, max(0, cos(x1, x2) - margin) where
    target == -1; inputs (N, D) with target (N,), or (D,) with a 0-d target."""
    reduction = F._reduction(size_average, reduce, reduction)
    d = target.ndim
    if d not in (0, 1):
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    if d == 1 and (input1.ndim != 2 or input2.ndim != 2):
        raise RuntimeError(f"1D target tensor expects 2D input tensors, but found inputs with "
                           f"sizes {list(input1.shape)} and {list(input2.shape)}.")
    if d == 0 and (input1.ndim != 1 or input2.ndim != 1):
        raise RuntimeError(f"0D target tensor expects 1D input tensors, but found inputs with "
                           f"sizes {list(input1.shape)} and {list(input2.shape)}.")
    cos_shape = _broadcast_shape(input1.shape, input2.shape)[:d]
    _broadcast_shape(target.shape, cos_shape)
    prod_sum = (input1 * input2).sum(d)
    mag_square1 = (input1 * input1).sum(d) + _COSINE_EPSILON
    mag_square2 = (input2 * input2).sum(d) + _COSINE_EPSILON
    cos = prod_sum / (mag_square1 * mag_square2).sqrt()
    pos = 1 - cos
    neg = (cos - margin).clamp(min=0)
    out = (ops.where(_mask(target, lambda y: y == 1), pos, 0)
           + ops.where(_mask(target, lambda y: y == -1), neg, 0))
    return F._reduce(out, reduction)


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """log(1 + exp(-target * input)), target +-1; the output has the input's
    shape (target may broadcast to it)."""
    reduction = F._reduction(size_average, reduce, reduction)
    shape = _broadcast_shape(input.shape, target.shape)
    if shape != tuple(input.shape):
        raise RuntimeError(f"output with shape {list(input.shape)} doesn't match the broadcast "
                           f"shape {list(shape)}")
    _not_differentiable("soft_margin_loss", "target", target)
    loss = ops.log1p(ops.exp(-input * target))
    return F._reduce(loss, reduction)


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None,
                                reduction="mean"):
    """Per sample, the mean over the classes (last dimension) of the binary
    cross-entropy of sigmoid(input) against the 0/1 target, weighted by
    ``weight`` (broadcast against the input)."""
    if size_average is not None or reduce is not None:
        reduction = F._reduction(size_average, reduce, reduction)
    if input.ndim == 0:
        raise IndexError("Dimension specified as -1 but tensor has no dimensions")
    _broadcast_shape(target.shape, input.shape)
    loss = -(target * F.logsigmoid(input) + (1 - target) * F.logsigmoid(-input))
    if weight is not None:
        _broadcast_shape(loss.shape, weight.shape)
        loss = loss * weight
    class_dim = input.ndim - 1
    loss = loss.sum(class_dim) / input.shape[class_dim]
    if reduction == "none":
        return loss
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    raise ValueError(f"{reduction} is not valid")


# --------------------------------------------------------------------------
# triplet losses
# --------------------------------------------------------------------------


def _pairwise_distance(x1, x2, p, eps):
    """at::pairwise_distance: ||x1 - x2 + eps||_p over the last dimension;
    p = 0 counts the nonzero entries (its gradient is 0, as PyTorch's)."""
    if p != 0:
        return F.pairwise_distance(x1, x2, p, eps)
    d = x1 - x2 + eps
    dim = d.ndim - 1 if d.ndim else None
    count = (d.array != 0).sum(axis=dim).astype(d.array.dtype)
    return ops.sum(ops.abs(d) * 0, dim) + Tensor(count)


def _same_ndim(anchor, positive, negative):
    a, p, n = anchor.ndim, positive.ndim, negative.ndim
    if not (a == p and p == n):
        raise RuntimeError(f"The anchor, positive, and negative tensors are expected to have the "
                           f"same number of dimensions, but got: anchor {a}D, positive {p}D, and "
                           f"negative {n}D inputs")


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False,
                        size_average=None, reduce=None, reduction="mean"):
    """max(0, margin + d(a, p) - d(a, n)) with d the p-norm pairwise distance
    over the last dimension; with ``swap``, d(a, n) becomes min(d(a, n), d(p, n))."""
    reduction = F._reduction(size_average, reduce, reduction)
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    _same_ndim(anchor, positive, negative)
    _broadcast_shape(anchor.shape, positive.shape)
    _broadcast_shape(anchor.shape, negative.shape)
    dist_pos = _pairwise_distance(anchor, positive, p, eps)
    dist_neg = _pairwise_distance(anchor, negative, p, eps)
    if swap:
        _broadcast_shape(positive.shape, negative.shape)
        dist_neg = ops.minimum(dist_neg, _pairwise_distance(positive, negative, p, eps))
    loss = (margin + dist_pos - dist_neg).clamp(min=0)
    return F._reduce(loss, reduction)


def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None,
                                      margin=1.0, swap=False, reduction="mean"):
    """triplet_margin_loss with any distance ``distance_function(x1, x2)``
    (default: pairwise_distance, the 2-norm)."""
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    _same_ndim(anchor, positive, negative)
    if distance_function is None:
        distance_function = F.pairwise_distance
    dist_pos = distance_function(anchor, positive)
    dist_neg = distance_function(anchor, negative)
    if swap:
        dist_neg = ops.minimum(dist_neg, distance_function(positive, negative))
    loss = (margin + dist_pos - dist_neg).clamp(min=0)
    return F._reduce(loss, reduction)


# --------------------------------------------------------------------------
# Gaussian and Poisson negative log-likelihoods
# --------------------------------------------------------------------------


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """0.5 * (log(max(var, eps)) + (input - target)^2 / max(var, eps)), plus
    0.5 log(2 pi) with ``full``.  ``var`` has the input's shape, or one
    dimension fewer (the last), or one dimension of size 1 (a variance shared
    along it), or is a number."""
    if isinstance(var, (float, int)) and not isinstance(var, bool):
        if var < 0:
            raise ValueError("var has negative entry/entries")
        var = Tensor(get_array_module(input.array).full(input.shape, float(var),
                                                        dtype=input.array.dtype))
    elif bool((var.array < 0).any()):
        raise ValueError("var has negative entry/entries")
    if tuple(var.shape) != tuple(input.shape):
        if tuple(input.shape[:-1]) == tuple(var.shape):
            var = var.unsqueeze(-1)
        elif input.ndim == var.ndim and sum(
                y for x, y in zip(input.shape, var.shape) if x != y) == 1:
            pass
        else:
            raise ValueError("var is of incorrect size")
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(reduction + " is not valid")
    diff_shape = _broadcast_shape(input.shape, target.shape)
    _broadcast_shape(diff_shape, var.shape)
    # clamp at eps as PyTorch does, under no_grad: the clamped entries keep
    # an identity gradient (v - v is exactly 0 for the finite v < eps)
    v = var.detach()
    small = _mask(v, lambda a: a < eps)
    if small.any():
        var = ops.where(small, var - v + eps, var)
    loss = 0.5 * (ops.log(var) + (input - target) ** 2 / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return F._reduce(loss, reduction)


def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8,
                     reduce=None, reduction="mean"):
    """exp(input) - target * input (log_input), else input - target *
    log(input + eps); ``full`` adds Stirling's approximation of log(target!)
    where target > 1."""
    reduction = F._reduction(size_average, reduce, reduction)
    _broadcast_shape(target.shape, input.shape)
    if log_input:
        loss = ops.exp(input) - target * input
    else:
        loss = input - target * ops.log(input + eps)
    if full:
        with np.errstate(divide="ignore", invalid="ignore"):
            stirling = (target * ops.log(target) - target
                        + 0.5 * ops.log(2 * math.pi * target))
        loss = loss + ops.where(_mask(target, lambda y: y <= 1), 0, stirling)
    return F._reduce(loss, reduction)


# --------------------------------------------------------------------------
# multi-class margins
# --------------------------------------------------------------------------


def _frames(input):
    """(nframe, dim) of a multi-class margin loss's input: (C,), (N, C), or
    a 0-d input (one sample, one class); C must not be 0."""
    ndims = input.ndim
    if not ((ndims == 2 and input.shape[1] != 0) or (ndims == 1 and input.shape[0] != 0)
            or ndims == 0):
        raise RuntimeError(f"Expected non-empty vector or matrix with optional 0-dim batch "
                           f"size, but got: {list(input.shape)}")
    if ndims <= 1:
        return 1, (input.shape[0] if ndims else 1)
    return input.shape[0], input.shape[1]


def _check_types(kernel, input, target, weight=None):
    if input.array.dtype.kind != "f":
        raise NotImplementedError(f'"{kernel}" not implemented for \'{_type_name(input)}\'')
    if target.array.dtype != np.int64:
        raise RuntimeError(f"expected scalar type Long but found {_type_name(target)}")
    if weight is not None and weight.array.dtype != input.array.dtype:
        raise RuntimeError(f"expected scalar type {_type_name(input)} but found "
                           f"{_type_name(weight)}")


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None,
                      reduce=None, reduction="mean"):
    """Per sample, sum over the classes d != y of
    w[y] * max(0, margin - x[y] + x[d])^p, divided by the number of classes
    (p 1 or 2; y the target class, int64)."""
    reduction = F._reduction(size_average, reduce, reduction)
    if p != 1 and p != 2:
        raise ValueError("only p == 1 and p == 2 supported")
    if weight is not None and weight.ndim != 1:
        raise ValueError("weight must be one-dimensional")
    _not_differentiable("multi_margin_loss", "weight", weight)
    nframe, dim = _frames(input)
    if target.ndim > 1 or target.numel() != nframe:
        raise RuntimeError(f"multi_margin_loss: target tensor should be 1-D with size equal to "
                           f"the number of input samples (batch size). Expected target size "
                           f"[{nframe}], but got {list(target.shape)}. Input has shape "
                           f"{list(input.shape)}.")
    if weight is not None and (weight.ndim > 1 or weight.numel() != dim):
        raise RuntimeError(f"inconsistent weight size, expected {dim} but got "
                           f"{list(weight.shape)}")
    _check_types("multi_margin_loss_cpu_kernel", input, target, weight)
    xp = get_array_module(input.array)
    y = target.array.reshape(nframe)
    if y.size and (int(y.min()) < 0 or int(y.max()) >= dim):
        raise RuntimeError("target out of range")
    x = input.reshape(nframe, dim)
    x_target = ops.gather(x, 1, y.reshape(nframe, 1))
    z = margin - x_target + x
    h = ops.relu(z)                   # the kernel counts z > 0 only
    if p == 2:
        h = h * h
    if weight is not None:
        h = h * Tensor(weight.array[y].reshape(nframe, 1))
    others = xp.arange(dim).reshape(1, dim) != y.reshape(nframe, 1)
    loss = ops.where(others, h, 0).sum(1) / dim
    if reduction == "none":
        return loss if target.ndim > 0 else loss.reshape(())
    return F._reduce(loss, reduction)


def multilabel_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """Per sample, sum over its target classes j (the leading entries of
    ``target`` before the first -1) and its non-target classes d of
    max(0, 1 - x[j] + x[d]), divided by the number of classes."""
    reduction = F._reduction(size_average, reduce, reduction)
    nframe, dim = _frames(input)
    if input.ndim <= 1:
        ok = target.ndim <= 1 and target.numel() == dim
    else:
        ok = target.ndim == 2 and tuple(target.shape) == (nframe, dim)
    if not ok:
        raise RuntimeError(f"inconsistent target size: {list(target.shape)} for input of size: "
                           f"{list(input.shape)}")
    _check_types("multilabel_margin_loss_forward_out_frame", input, target)
    xp = get_array_module(input.array)
    y = target.array.reshape(nframe, dim)
    if y.size and (int(y.min()) < -1 or int(y.max()) >= dim):
        raise RuntimeError("argument #2 'target' is out of range")
    valid = xp.cumprod(y >= 0, axis=1).astype(bool)         # entries before the first -1
    y_safe = xp.where(valid, y, 0)
    is_target = xp.zeros((nframe, dim), dtype=bool)
    rows = xp.broadcast_to(xp.arange(nframe).reshape(nframe, 1), (nframe, dim))
    is_target[rows[valid], y_safe[valid]] = True
    # the targets are each row's leading entries: the pairs (target entry,
    # class) need only as many entries as the longest row has
    k = max(int(valid.sum(axis=1).max()) if nframe else 0, 1)
    valid, y_safe = valid[:, :k], y_safe[:, :k]
    x = input.reshape(nframe, dim)
    x_target = ops.gather(x, 1, y_safe)                      # (N, target entry)
    z = (1 - x_target).unsqueeze(2) + x.unsqueeze(1)         # (N, target entry, class)
    counted = valid[:, :, None] & ~is_target[:, None, :]
    loss = ops.where(counted, ops.relu(z), 0).sum((1, 2)) / dim
    if reduction == "none":
        return loss if input.ndim == 2 else loss.reshape(())
    return F._reduce(loss, reduction)
