"""NumPy twins of the fused loss kernels (csrc/loss.pyx).

Layout shared by every kernel here (PyTorch's):
  * ``logits`` / ``logp``: float32 or float64, shape (C,) (one sample),
    (N, C) or (N, C, d1, d2, ...); the class axis is 0 for 1-D input, else 1.
  * class-index ``target``: int64 (uint8 accepted, as in PyTorch), the input's
    shape without the class axis; entries in [0, C) or ``ignore_index``.
  * class-probability ``target`` (cross entropy only): float, the input's shape.
  * ``weight``: None or a (C,) array of the input's dtype.

Internally the input is seen as M = N * d1 * d2 * ... rows of C classes.
Validation (dtypes, shapes, label range) happens before any arithmetic and
raises TypeError / ValueError / IndexError with the same messages as the
compiled kernels.
"""
import numpy as np

from ..backend import get_array_module

__all__ = ["cross_entropy_forward", "cross_entropy_backward", "nll_loss_forward",
           "nll_loss_backward"]

_REDUCTIONS = ("none", "mean", "sum")


# -- validation ---------------------------------------------------------------

def _check_input(x, fn):
    """Check the logits/log-probabilities; return the number of classes C."""
    if x.dtype not in (np.float32, np.float64):
        raise TypeError(f"{fn}: input must be float32 or float64, got {x.dtype}")
    if x.ndim == 0:
        raise ValueError(f"{fn}: input must have a class dimension, got a 0-d input")
    n_classes = x.shape[0 if x.ndim == 1 else 1]
    if n_classes == 0:
        raise ValueError(f"{fn}: input of shape {tuple(x.shape)} has no classes (C=0)")
    return n_classes


def _check_options(x, weight, reduction, n_classes, fn):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{fn}: {reduction} is not a valid value for reduction "
                         f"(expected 'none', 'mean' or 'sum')")
    if weight is not None:
        if weight.dtype != x.dtype:
            raise TypeError(f"{fn}: weight must have the input's dtype {x.dtype}, "
                            f"got {weight.dtype}")
        if weight.shape != (n_classes,):
            raise ValueError(f"{fn}: weight should be defined for all {n_classes} classes, "
                             f"got weight of shape {tuple(weight.shape)}")


def _class_target_shape(x):
    return () if x.ndim == 1 else (x.shape[0],) + tuple(x.shape[2:])


def _check_class_target(x, target, ignore_index, n_classes, fn, count_bad=None):
    """Validate class-index targets; return them as int64.  ``count_bad(target,
    n_classes, ignore_index)``, when given, counts the bad labels in one pass
    (the GPU's fused check); the general expression below then only runs to
    name the first bad label."""
    if target.dtype == np.uint8:
        target = target.astype(np.int64)
    elif target.dtype != np.int64:
        raise TypeError(f"{fn}: class-index target must be int64 (or uint8), got {target.dtype}")
    expected = _class_target_shape(x)
    if target.shape != expected:
        raise ValueError(f"{fn}: target of shape {tuple(target.shape)} does not match input of "
                         f"shape {tuple(x.shape)} (expected target shape {expected})")
    if count_bad is not None and not count_bad(target, n_classes, ignore_index):
        return target
    bad = ((target < 0) | (target >= n_classes)) & (target != ignore_index)
    if bad.any():
        label = int(target[bad].reshape(-1)[0])
        raise IndexError(f"{fn}: target {label} is out of bounds for {n_classes} classes "
                         f"(valid labels are 0..{n_classes - 1} or ignore_index={ignore_index})")
    return target


def _check_prob_target(x, target, ignore_index, fn):
    if target.shape != x.shape:
        raise ValueError(f"{fn}: class-probability target of shape {tuple(target.shape)} must "
                         f"have the input's shape {tuple(x.shape)}")
    if ignore_index >= 0:
        raise ValueError(f"{fn}: ignore_index is not supported for class-probability targets")
    return target.astype(x.dtype, copy=False)


def _check_ce(x, target, weight, ignore_index, reduction, label_smoothing, count_bad=None):
    """All cross_entropy checks; returns (target, is_prob, C).  ``count_bad``:
    see _check_class_target."""
    fn = "cross_entropy"
    n_classes = _check_input(x, fn)
    _check_options(x, weight, reduction, n_classes, fn)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{fn}: label_smoothing must be between 0.0 and 1.0, "
                         f"got {label_smoothing}")
    if target.dtype.kind == "f":
        return _check_prob_target(x, target, ignore_index, fn), True, n_classes
    if target.dtype.kind in "iu":
        return (_check_class_target(x, target, ignore_index, n_classes, fn, count_bad), False,
                n_classes)
    raise TypeError(f"{fn}: target must be int64 class indices or float class probabilities, "
                    f"got {target.dtype}")


# -- layout helpers -------------------------------------------------------------

def _rows(xp, a):
    """View (C,), (N, C) or (N, C, d...) as (M, C) rows (class axis last)."""
    if a.ndim == 1:
        return a[None, :]
    if a.ndim == 2:
        return a
    return xp.moveaxis(a, 1, -1).reshape(-1, a.shape[1])


def _unrows(xp, rows, like):
    """Inverse of _rows: (M, C) back to the layout of ``like``."""
    if like.ndim == 1:
        return rows[0]
    if like.ndim == 2:
        return rows
    moved = (like.shape[0],) + tuple(like.shape[2:]) + (like.shape[1],)
    return xp.ascontiguousarray(xp.moveaxis(rows.reshape(moved), -1, 1))


def _ieee_div(a, b):
    """a / b with IEEE results for b == 0 (nan or inf, as PyTorch gives for an
    all-ignored or zero-weight batch) instead of ZeroDivisionError."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.float64(a) / np.float64(b))


def _reduce(xp, row_loss, reduction, total_weight, out_shape, dtype):
    if reduction == "none":
        return row_loss.reshape(out_shape).astype(dtype, copy=False)
    total = row_loss.astype(np.float64).sum()
    if reduction == "mean":
        total = _ieee_div(total, total_weight)
    return xp.asarray(total, dtype=dtype)


def _row_scale(xp, gloss, reduction, total_weight, n_rows):
    """d(loss)/d(row loss) for each row, as float64 (M,)."""
    if reduction == "none":
        return xp.asarray(gloss, dtype=np.float64).reshape(n_rows)
    g = float(gloss)
    if reduction == "mean":
        g = _ieee_div(g, total_weight)
    return xp.full(n_rows, g)


# -- cross entropy ---------------------------------------------------------------

def _smoothed_probs(xp, target, label_smoothing, n_classes):
    """Probability targets as (M, C) rows, smoothed: (1 - eps) t + eps / C."""
    q = _rows(xp, target)
    if label_smoothing > 0:
        q = q * (1 - label_smoothing) + label_smoothing / n_classes
    return q


def cross_entropy_forward(logits, target, weight=None, ignore_index=-100, reduction="mean",
                          label_smoothing=0.0):
    """Fused log-softmax + negative log-likelihood (``F.cross_entropy``).

    Returns ``(loss, lse, total_weight)``:
      * ``loss``: logits' dtype; target's shape for reduction 'none', else 0-d;
      * ``lse``: float64 (M,), the row log-sum-exp, which backward needs;
      * ``total_weight``: float, the 'mean' normaliser (sum of the weights of
        the non-ignored targets, or M for probability targets).
    Per row with label y (not ignored) and smoothing eps:
    ``loss = (1-eps) * -w[y] logp[y] + eps/C * -sum_c w[c] logp[c]``.
    """
    xp = get_array_module(logits)
    target, is_prob, n_classes = _check_ce(logits, target, weight, ignore_index, reduction,
                                           label_smoothing)
    x = _rows(xp, logits)
    row_max = x.max(axis=1, keepdims=True)
    shifted = x - row_max
    log_sum = xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))
    logp = shifted - log_sum
    lse = (row_max.astype(np.float64) + log_sum.astype(np.float64))[:, 0]
    w = xp.ones(n_classes, dtype=x.dtype) if weight is None else weight
    if is_prob:
        q = _smoothed_probs(xp, target, label_smoothing, n_classes)
        row_loss = -(logp * (q * w)).sum(axis=1)
        total_weight = float(x.shape[0])
        out_shape = _class_target_shape(logits)
    else:
        y = target.reshape(-1)
        valid = y != ignore_index
        y_safe = xp.where(valid, y, 0)
        w_y = xp.where(valid, w[y_safe], 0)
        # an ignored row's stand-in label 0 may have a -inf logit: mask before multiplying
        logp_y = xp.where(valid, logp[xp.arange(x.shape[0]), y_safe], 0)
        row_loss = -(1 - label_smoothing) * w_y * logp_y
        if label_smoothing > 0:
            smooth = -(logp * w).sum(axis=1)
            row_loss = row_loss + label_smoothing / n_classes * xp.where(valid, smooth, 0)
        total_weight = float(w_y.astype(np.float64).sum())
        out_shape = target.shape
    loss = _reduce(xp, row_loss, reduction, total_weight, out_shape, logits.dtype)
    return loss, lse, total_weight


def cross_entropy_backward(logits, target, lse, gloss, total_weight, weight=None, ignore_index=-100,
                           reduction="mean", label_smoothing=0.0, labels_checked=False):
    """Gradient of cross_entropy_forward w.r.t. the logits (logits' shape and dtype).

    ``labels_checked``: the caller vouches that the target is the one the
    forward accepted, unchanged (the autograd Function does: it saved the
    target, and an in-place change of it raises before backward); an
    implementation may then skip counting bad labels again (on the GPU, a
    host sync).  No implementation reads outside the weights for a bad label.

    ``lse`` and ``total_weight`` come from the forward; ``gloss`` is the
    incoming gradient (the loss's shape).  Per row:
    ``gx = g * (softmax * sum(target_dist * w) - target_dist * w)``,
    with the target distribution ``(1-eps) onehot(y) + eps/C`` never
    materialised as a one-hot.
    """
    xp = get_array_module(logits)
    target, is_prob, n_classes = _check_ce(logits, target, weight, ignore_index, reduction,
                                           label_smoothing)
    x = _rows(xp, logits)
    n_rows = x.shape[0]
    g = _row_scale(xp, gloss, reduction, total_weight, n_rows)[:, None]
    p = xp.exp(x.astype(np.float64) - lse[:, None])
    w = xp.ones(n_classes, dtype=np.float64) if weight is None else weight.astype(np.float64)
    if is_prob:
        wq = _smoothed_probs(xp, target, label_smoothing, n_classes) * w
        gx = g * (p * wq.sum(axis=1, keepdims=True) - wq)
    else:
        y = target.reshape(-1)
        valid = (y != ignore_index)[:, None]
        y_safe = xp.where(valid[:, 0], y, 0)
        g = xp.where(valid, g, 0.0)
        hard = (1 - label_smoothing) * w[y_safe][:, None]      # weight of the true class
        soft = label_smoothing / n_classes                     # smoothing mass per class
        gx = g * (p * (hard + soft * w.sum()) - soft * w)
        gx[xp.arange(n_rows), y_safe] -= (g * hard)[:, 0]
    return _unrows(xp, gx.astype(logits.dtype), logits)


# -- nll loss ------------------------------------------------------------------------

def _check_nll(logp, target, weight, ignore_index, reduction):
    fn = "nll_loss"
    n_classes = _check_input(logp, fn)
    _check_options(logp, weight, reduction, n_classes, fn)
    if target.dtype.kind not in "iu":
        raise TypeError(f"{fn}: target must be int64 class indices, got {target.dtype}")
    return _check_class_target(logp, target, ignore_index, n_classes, fn), n_classes


def nll_loss_forward(logp, target, weight=None, ignore_index=-100, reduction="mean"):
    """``F.nll_loss``: per row ``-w[y] * logp[y]`` (0 where y == ignore_index).

    Returns ``(loss, total_weight)`` (see cross_entropy_forward).
    """
    xp = get_array_module(logp)
    target, n_classes = _check_nll(logp, target, weight, ignore_index, reduction)
    x = _rows(xp, logp)
    y = target.reshape(-1)
    valid = y != ignore_index
    y_safe = xp.where(valid, y, 0)
    w_y = xp.where(valid, 1 if weight is None else weight[y_safe], 0).astype(logp.dtype)
    row_loss = -w_y * x[xp.arange(x.shape[0]), y_safe]
    total_weight = float(w_y.astype(np.float64).sum())
    loss = _reduce(xp, row_loss, reduction, total_weight, target.shape, logp.dtype)
    return loss, total_weight


def nll_loss_backward(logp, target, gloss, total_weight, weight=None, ignore_index=-100,
                      reduction="mean"):
    """Gradient of nll_loss_forward w.r.t. ``logp``: ``-w[y] * g`` at the label, else 0."""
    xp = get_array_module(logp)
    target, n_classes = _check_nll(logp, target, weight, ignore_index, reduction)
    n_rows = int(np.prod(_class_target_shape(logp), dtype=np.int64))
    g = _row_scale(xp, gloss, reduction, total_weight, n_rows)
    y = target.reshape(-1)
    rows = xp.nonzero(y != ignore_index)[0]     # ignored rows get no gradient, even a nan one
    w_y = 1.0 if weight is None else weight[y[rows]].astype(np.float64)
    gx = xp.zeros((n_rows, n_classes), dtype=logp.dtype)
    gx[rows, y[rows]] = -w_y * g[rows]
    return _unrows(xp, gx, logp)
