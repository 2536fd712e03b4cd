"""ctc_loss: connectionist temporal classification (PyTorch's F.ctc_loss / nn.CTCLoss).

One Function, ``CTCLoss``, whose forward and backward are here, in NumPy
(no compiled kernel: the work per step is a few small array operations, and
the steps are sequential in time).  Both follow ATen's LossCTC.cpp
(ctc_loss_cpu_template, ctc_loss_backward_cpu_template) step for step, so
the values match PyTorch's to the rounding of exp and log:

  * the extended label sequence l' = (blank, l1, blank, l2, ..., blank) has
    S' = 2 * max_target_length + 1 states per sample; the alpha recursion of
    Graves et al. (2006), eq. 6-7, runs in log space with one NumPy step per
    time step, vectorised over the batch and the states (a state above
    2 * target_length[b] computes a value nothing reads: the recursion only
    moves up the states);
  * the backward runs the beta recursion (eq. 10-11) the same way, from each
    sample's own last time step, then accumulates alpha + beta per class in
    the order ATen does (s descending, a pairwise log-add), and returns
    PyTorch's formula grad = (exp(lp) - exp(log_ab + nll - lp)) * g.  The
    exp(lp) term makes this the gradient for log_probs that come out of a
    log_softmax (through which it cancels), not the derivative with respect
    to free log_probs: PyTorch's choice, kept for parity.  As in PyTorch,
    time steps past a sample's input length get 0, a sample whose loss is
    infinite gets NaN (0 with ``zero_infinity``), and so does any entry of
    log_probs that is -inf.

The gradient is not itself differentiable (PyTorch's
``_ctc_loss_backward`` has no derivative): under create_graph it is
returned tied to gy and log_probs by a node that raises if differentiated
again, with PyTorch's message.

Labels outside [0, C) raise here; PyTorch reads them unchecked.
"""
import math
import operator

import numpy as np

from .. import ops
from ..autograd.ctx_function import DelayedError
from ..autograd.function import Function
from ..backend import get_array_module
from ..dtypes import scalar_type_name
from ..tensor import Tensor

__all__ = ["ctc_loss"]

_CHECKED = " (while checking arguments for ctc_loss_allocate_outputs)"


class CTCLossBackwardError(DelayedError):
    """The node of CTC's gradient under create_graph: PyTorch's
    ``_ctc_loss_backward`` has no derivative."""

    def backward(self, xp, ggx):
        raise RuntimeError("derivative for aten::_ctc_loss_backward is not implemented")


def _log_add3(xp, a, b, c):
    """log(exp(a) + exp(b) + exp(c)) as ATen writes it: shifted by the
    largest, a shift of 0 where all three are -inf."""
    m = xp.maximum(xp.maximum(a, b), c)
    m = xp.where(m == -math.inf, 0, m)
    return xp.log(xp.exp(a - m) + xp.exp(b - m) + xp.exp(c - m)) + m


def _shift_up(xp, a, k, keep=None):
    """a[:, s - k] at state s (-inf for s < k); with ``keep`` (N, S' - k),
    only where it holds."""
    if k >= a.shape[1]:
        return xp.full(a.shape, -math.inf, dtype=a.dtype)
    pad = xp.full((a.shape[0], k), -math.inf, dtype=a.dtype)
    moved = a[:, :-k] if keep is None else xp.where(keep, a[:, :-k], -math.inf)
    return xp.concatenate([pad, moved], axis=1)


def _shift_down(xp, a, k, keep=None):
    """a[:, s + k] at state s (-inf past the last state); with ``keep``
    (N, S' - k), only where it holds."""
    if k >= a.shape[1]:
        return xp.full(a.shape, -math.inf, dtype=a.dtype)
    pad = xp.full((a.shape[0], k), -math.inf, dtype=a.dtype)
    moved = a[:, k:] if keep is None else xp.where(keep, a[:, k:], -math.inf)
    return xp.concatenate([moved, pad], axis=1)


class CTCLoss(Function):
    """Per-sample negative log-likelihood of CTC.

    Input: log_probs (T, N, C) float.  Options: ``ext`` (N, S') int64, the
    extended label sequences (blank-padded past 2 * target_length);
    ``input_lengths``, ``target_lengths`` (N,) int64 arrays on the host;
    ``zero_infinity``.  Output (N,): the loss per sample (0 instead of inf
    with ``zero_infinity``).
    """

    def forward(self, log_probs, *, ext, input_lengths, target_lengths, zero_infinity):
        xp = get_array_module(log_probs)
        il = xp.asarray(input_lengths)
        tl = xp.asarray(target_lengths)
        n = log_probs.shape[1]
        steps = int(input_lengths.max()) if n else 0     # nothing to do past the longest input
        lp_ext = xp.take_along_axis(log_probs[:steps], xp.broadcast_to(ext, (steps,) + ext.shape),
                                    axis=2)               # (T', N, S'): lp of each state's label
        # a path may skip the blank between two different labels (eq. 6)
        skip = ext[:, 2:] != ext[:, :-2]
        alpha = xp.full(lp_ext.shape, -math.inf, dtype=log_probs.dtype)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if steps:
                alpha[0, :, 0] = lp_ext[0, :, 0]
                if ext.shape[1] > 1:
                    alpha[0, :, 1] = xp.where(tl > 0, lp_ext[0, :, 1], -math.inf)
            for t in range(1, steps):
                prev = alpha[t - 1]
                alpha[t] = _log_add3(xp, prev, _shift_up(xp, prev, 1),
                                     _shift_up(xp, prev, 2, skip)) + lp_ext[t]
            # eq. 8: the likelihood is the sum over the last two states at each
            # sample's last step (the last blank only, for an empty target)
            rows = xp.arange(n)
            last = alpha[xp.maximum(il - 1, 0), rows] if steps else \
                xp.full((n, ext.shape[1]), -math.inf, dtype=log_probs.dtype)
            l1 = last[rows, 2 * tl]
            l2 = xp.where(tl > 0, last[rows, xp.maximum(2 * tl - 1, 0)], -math.inf)
            m = xp.maximum(l1, l2)
            m = xp.where(m == -math.inf, 0, m)
            log_likelihood = xp.where(tl == 0, l1, xp.log(xp.exp(l1 - m) + xp.exp(l2 - m)) + m)
            log_likelihood = xp.where(il == 0, xp.where(tl == 0, 0, -math.inf), log_likelihood)
        nll = (-log_likelihood).astype(log_probs.dtype)
        if self.needs_input_grad[0]:
            self.save_for_backward(log_probs)
            self.alpha, self.lp_ext, self.nll, self.ext = alpha, lp_ext, nll, ext
            self.lengths = (il, tl)
            self.zero_infinity = zero_infinity
        if zero_infinity:
            return xp.where(nll == math.inf, xp.zeros((), nll.dtype), nll)
        return nll

    def backward(self, xp, gy):
        log_probs, = self.saved_tensors
        if self._graph_mode:
            grad = self._gradient(log_probs.array, gy.array)
            return CTCLossBackwardError.apply(gy, log_probs, value=grad)
        return self._gradient(log_probs, gy)

    def _gradient(self, log_probs, gy):
        xp = get_array_module(log_probs)
        alpha, lp_ext, nll, ext = self.alpha, self.lp_ext, self.nll, self.ext
        il, tl = self.lengths
        steps, n, n_states = alpha.shape
        states = xp.arange(n_states)
        # beta starts at each sample's last step on its last two states
        # (eq. 10), and is -inf after it
        starts = (states == 2 * tl[:, None]) | ((states == 2 * tl[:, None] - 1) & (tl > 0)[:, None])
        skip = ext[:, :-2] != ext[:, 2:]
        beta = xp.full(alpha.shape, -math.inf, dtype=alpha.dtype)
        log_ab = xp.full((steps, n, log_probs.shape[2]), -math.inf, dtype=alpha.dtype)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            after = xp.full((n, n_states), -math.inf, dtype=alpha.dtype)
            for t in range(steps - 1, -1, -1):
                step = _log_add3(xp, after, _shift_down(xp, after, 1),
                                 _shift_down(xp, after, 2, skip)) + lp_ext[t]
                first = xp.where(starts, lp_ext[t], -math.inf)
                after = xp.where((il - 1 == t)[:, None], first,
                                 xp.where((il - 1 > t)[:, None], step, -math.inf))
                beta[t] = after
            # eq. 16's sum over the states of each label, "log+=" in ATen's
            # order (s descending); a state past 2 * target_length has
            # beta = -inf and changes nothing
            ab = alpha + beta
            rows = xp.arange(n)
            for s in range(n_states - 1, -1, -1):
                cls = ext[:, s]
                acc = log_ab[:, rows, cls]
                v = ab[:, :, s]
                top = xp.maximum(acc, v)
                added = xp.log(xp.exp(acc - top) + xp.exp(v - top)) + top
                log_ab[:, rows, cls] = xp.where(acc == -math.inf, v, added)
            lp = log_probs[:steps]
            grad = (xp.exp(lp) - xp.exp(log_ab + nll[None, :, None] - lp)) * gy[None, :, None]
        times = xp.arange(steps)[:, None]
        keep = times < il[None, :]                            # (T', N)
        if self.zero_infinity:
            keep = keep & (nll != math.inf)[None, :]
        grad = xp.where(keep[:, :, None], grad, 0).astype(log_probs.dtype, copy=False)
        if steps < log_probs.shape[0]:
            pad = xp.zeros((log_probs.shape[0] - steps,) + grad.shape[1:], dtype=grad.dtype)
            grad = xp.concatenate([grad, pad], axis=0)
        return grad


# --------------------------------------------------------------------------
# argument handling, as at::ctc_loss
# --------------------------------------------------------------------------


def _lengths_from_tensor(t, name):
    a = t.array
    if a.dtype.kind not in "iu":
        raise RuntimeError(f"{name} must be integral")
    a = a if a.__class__ is np.ndarray else a.get()
    return a.reshape(-1).astype(np.int64)


def _lengths_from_sequence(seq):
    out = []
    for v in seq:
        if isinstance(v, Tensor):
            if v.numel() != 1 or v.array.dtype.kind not in "iu":
                return None
            v = v.item()
        try:
            out.append(operator.index(v))
        except TypeError:
            return None
    return np.asarray(out, dtype=np.int64).reshape(-1)


def _lengths(input_lengths, target_lengths):
    """Both as (N,) int64 host arrays: both Tensors (of any shape, integral)
    or both sequences of ints, as PyTorch's two overloads."""
    if isinstance(input_lengths, Tensor) and isinstance(target_lengths, Tensor):
        return (_lengths_from_tensor(input_lengths, "input_lengths"),
                _lengths_from_tensor(target_lengths, "target_lengths"))
    if isinstance(input_lengths, (list, tuple)) and isinstance(target_lengths, (list, tuple)):
        il, tl = _lengths_from_sequence(input_lengths), _lengths_from_sequence(target_lengths)
        if il is not None and tl is not None:
            return il, tl
    raise TypeError(f"ctc_loss() received an invalid combination of arguments - got "
                    f"input_lengths of type {type(input_lengths).__name__} and target_lengths "
                    f"of type {type(target_lengths).__name__}, but expected both to be tuples of "
                    f"ints or both Tensors")


def _check_and_extend(log_probs, targets, il, tl, blank):
    """PyTorch's checks of ctc_loss_allocate_outputs, then the label range;
    returns the extended label sequences (N, S') as an int64 array."""
    if log_probs.ndim != 3:
        raise RuntimeError(f"Expected 3-dimensional tensor, but got {log_probs.ndim}-dimensional "
                           f"tensor for argument #1 'log_probs'{_CHECKED}")
    if targets.ndim not in (1, 2):
        raise RuntimeError(f"Expected 1 to 2 dimensions, but got {targets.ndim}-dimensional "
                           f"tensor for argument #2 'targets'{_CHECKED}")
    max_time, batch, n_classes = log_probs.shape
    if not 0 <= blank < n_classes:
        raise RuntimeError("blank must be in label range")
    if il.size != batch:
        raise RuntimeError("input_lengths must be of size batch_size")
    if tl.size != batch:
        raise RuntimeError("target_lengths must be of size batch_size")
    for v in tl:
        if v < 0:
            raise RuntimeError(f"Expected target_lengths to have value at least 0, but got value "
                               f"{int(v)}{_CHECKED}")
    max_target = int(tl.max()) if batch else 0
    y = targets.array
    y = (y if y.__class__ is np.ndarray else y.get()).astype(np.int64)
    if y.ndim == 1:                   # concatenated: sample b's labels follow sample b-1's
        total = int(tl.sum())
        if y.shape[0] != total:
            raise RuntimeError(f"Expected tensor to have size {total} at dimension 0, but got "
                               f"size {y.shape[0]} for argument #2 'targets'{_CHECKED}")
        offsets = np.concatenate([[0], np.cumsum(tl)[:-1]]).astype(np.int64)
        cols = np.arange(max_target)
        padded = y[np.minimum(offsets[:, None] + cols, max(total - 1, 0))] if total else \
            np.zeros((batch, max_target), np.int64)
    else:
        if y.shape[0] != batch:
            raise RuntimeError(f"Expected tensor to have size {batch} at dimension 0, but got "
                               f"size {y.shape[0]} for argument #2 'targets'{_CHECKED}")
        if y.shape[1] < max_target:
            raise RuntimeError(f"Expected tensor to have size at least {max_target} at dimension "
                               f"1, but got size {y.shape[1]} for argument #2 'targets'{_CHECKED}")
        padded = y[:, :max_target]
    for v in il:
        if v < 0:
            raise RuntimeError(f"Expected input_lengths to have value at least 0, but got value "
                               f"{int(v)}{_CHECKED}")
        if v > max_time:
            raise RuntimeError(f"Expected input_lengths to have value at most {max_time}, but got "
                               f"value {int(v)}{_CHECKED}")
    used = np.arange(max_target)[None, :] < tl[:, None]    # the padding is never read
    labels = padded[used]
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        bad = labels[(labels < 0) | (labels >= n_classes)][0]
        raise RuntimeError(f"ctc_loss(): target label {int(bad)} is out of range for log_probs "
                           f"with {n_classes} classes (labels must lie in [0, {n_classes}))")
    ext = np.full((batch, 2 * max_target + 1), blank, dtype=np.int64)
    ext[:, 1::2] = np.where(used, padded, blank)
    xp = get_array_module(log_probs.array)
    return ext if xp is np else xp.asarray(ext)


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean",
             zero_infinity=False):
    """The CTC loss of log-probabilities ``log_probs`` (T, N, C) (or (T, C)
    for one sample; usually a log_softmax over C) against ``targets``:
    padded (N, S) or concatenated (sum(target_lengths),) class indices, never
    ``blank``.  ``input_lengths``/``target_lengths``: (N,) Tensors or
    sequences of ints.  reduction 'mean' divides each loss by its target
    length (at least 1) and averages over the batch; ``zero_infinity``
    replaces infinite losses (targets too long for their inputs) and their
    gradients by 0."""
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    il, tl = _lengths(input_lengths, target_lengths)
    if log_probs.array.dtype not in (np.float32, np.float64):
        raise NotImplementedError(f"\"ctc_loss_cpu\" not implemented for "
                                  f"'{scalar_type_name(log_probs.array.dtype)}'")
    if log_probs.numel() == 0:
        raise RuntimeError("log_probs tensor must not be empty")
    batched = log_probs.ndim == 3
    if not batched:
        log_probs = ops.unsqueeze(log_probs, 1)
    ext = _check_and_extend(log_probs, targets, il, tl, blank)
    loss = CTCLoss.apply(log_probs, ext=ext, input_lengths=il, target_lengths=tl,
                         zero_infinity=bool(zero_infinity))
    if reduction == "mean":
        xp = get_array_module(loss.array)
        divisor = xp.asarray(np.maximum(tl, 1), dtype=loss.array.dtype)
        return (loss / Tensor(divisor)).mean()
    if reduction == "sum":
        return loss.sum()
    return loss if batched else ops.squeeze(loss, 0)
