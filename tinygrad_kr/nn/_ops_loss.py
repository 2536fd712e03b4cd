"""cross_entropy and nll_loss: Functions over the fused loss kernels.

Forward and backward are ``kernels.cross_entropy_forward/backward`` and
``kernels.nll_loss_forward/backward`` (csrc/loss.pyx, twin
kernels/ref_loss.py), which validate every argument (label range included)
and implement PyTorch's semantics: (C,), (N, C) or (N, C, d1, ...) input,
class-index or class-probability targets, weight, ignore_index, reduction,
label_smoothing.  The forward keeps only the row log-sum-exp for backward.
"""
import numpy as np

from .. import kernels, ops
from ..autograd.function import Function, device_mismatch
from ..backend import get_array_module
from ..tensor import Tensor

__all__ = ["cross_entropy", "nll_loss"]


def _array(t, what, like=None):
    """The array behind a Tensor (or a NumPy array passed as is); with
    ``like`` (the input Tensor), it must be on the input's device: these
    arrays reach the kernels as options, past Function.apply's device check."""
    if t.__class__ is Tensor or isinstance(t, Tensor):
        a = t.array
    elif isinstance(t, np.ndarray):
        a = t
    else:
        raise TypeError(f"{what} must be a Tensor, got {type(t).__name__}")
    if like is not None and a.__class__ is not like.array.__class__:
        raise device_mismatch(like, a, what)
    return a


def _legacy_reduction(size_average, reduce, reduction):
    # functional.py imports this module, so its helper is looked up on use
    from .functional import _reduction
    return _reduction(size_average, reduce, reduction)


class _ClassAxis:
    """Shapes and constants of a loss's backward in the logits' own layout
    (class axis 0 for (C,) input, else 1), for the create_graph formulas."""

    def __init__(self, logits, weight):
        self.axis = 0 if logits.ndim == 1 else 1
        self.n_classes = logits.shape[self.axis]
        self.row_shape = list(logits.shape)          # one value per row: 1 on the class axis
        self.row_shape[self.axis] = 1
        self.class_shape = [1] * logits.ndim         # one value per class
        self.class_shape[self.axis] = self.n_classes
        self.xp = get_array_module(logits.array)
        self.dtype = logits.array.dtype
        w = self.xp.ones(self.n_classes, self.dtype) if weight is None else weight
        self.w = w.astype(self.dtype).reshape(self.class_shape)

    def labels(self, target, ignore_index):
        """(the labels with ignored ones as 0, their validity), in the row shape."""
        y = target.array.reshape(self.row_shape)
        valid = y != ignore_index
        return self.xp.where(valid, y, 0), valid

    def one_hot(self, y_safe, valid):
        classes = self.xp.arange(self.n_classes).reshape(self.class_shape)
        return ((classes == y_safe) & valid).astype(self.dtype)

    def upstream(self, gy, reduction, total_weight):
        """d loss / d row loss, broadcastable against the logits (a Tensor)."""
        if reduction == "none":
            return gy.reshape(self.row_shape)
        if reduction == "mean":      # no valid row at all: every row's gradient is 0 anyway
            return gy / (total_weight or 1.0)
        return gy


class CrossEntropy(Function):
    """log_softmax + nll over the class axis, fused.

    Inputs: logits (differentiable) and target (differentiable only when it
    holds class probabilities).  Options: weight (array or None),
    ignore_index, reduction, label_smoothing.  Under create_graph the
    gradients are written with recorded ops (log_softmax, products), so the
    loss can be differentiated to any order, as PyTorch's."""

    def forward(self, logits, target, *, weight, ignore_index, reduction, label_smoothing):
        self.options = (weight, ignore_index, reduction, label_smoothing)
        loss, lse, total_weight = kernels.cross_entropy_forward(
            logits, target, weight, ignore_index, reduction, label_smoothing)
        if self.needs_input_grad[0] or self.needs_input_grad[1]:
            self.save_for_backward(logits, target)
            self.lse, self.total_weight = lse, total_weight
        return loss

    def backward(self, xp, gy):
        if self._graph_mode:
            return self._graph_backward(gy)
        logits, target = self.saved_tensors
        gx = gt = None
        if self.needs_input_grad[0]:
            # the target is saved: an in-place change since forward's check raised above
            gx = kernels.cross_entropy_backward(logits, target, self.lse, gy, self.total_weight,
                                                *self.options, labels_checked=True)
        if self.needs_input_grad[1]:
            gt = self._probability_target_grad(xp, logits, gy)
        return gx, gt

    def _probability_target_grad(self, xp, logits, gy):
        """d loss / d target[c] = -g * (1 - eps) * w[c] * log_softmax(logits)[c]
        (target holds class probabilities, so it has the logits' shape)."""
        weight, _, reduction, eps = self.options
        row_shape = list(logits.shape)               # per-row values: 1 on the class axis
        class_axis = 0 if logits.ndim == 1 else 1
        row_shape[class_axis] = 1
        logp = logits - self.lse.astype(logits.dtype).reshape(row_shape)
        if reduction == "none":
            g = xp.reshape(gy, row_shape)
        elif reduction == "mean":
            g = gy / logits.dtype.type(self.total_weight)
        else:
            g = gy
        gt = -(1 - eps) * g * logp
        if weight is not None:
            w_shape = [1] * logits.ndim
            w_shape[class_axis] = -1
            gt = gt * weight.reshape(w_shape)
        return gt

    def _graph_backward(self, gy):
        """The kernels' gradients as recorded ops (the twin's formulas, per row:
        gx = g * (softmax * sum(q * w) - q * w) with the target distribution
        q = (1-eps) onehot(y) + eps/C, or the given probabilities, smoothed)."""
        logits, target = self.saved_tensors
        weight, ignore_index, reduction, eps = self.options
        k = _ClassAxis(logits, weight)
        g = k.upstream(gy, reduction, self.total_weight)
        logp = ops.log_softmax(logits, k.axis)
        gx = gt = None
        if target.array.dtype.kind == "f":      # class probabilities
            wq = ((1 - eps) * target + eps / k.n_classes) * Tensor(k.w)
            if self.needs_input_grad[0]:
                gx = g * (logp.exp() * wq.sum(k.axis, keepdim=True) - wq)
            if self.needs_input_grad[1]:
                gt = -(1 - eps) * g * Tensor(k.w) * logp
            return gx, gt
        y_safe, valid = k.labels(target, ignore_index)
        soft = eps / k.n_classes
        hard = (1 - eps) * k.xp.take(k.w.reshape(-1), y_safe) * valid      # w[y], row shape
        p_scale = (hard + soft * k.w.sum() * valid).astype(k.dtype)
        rest = -(soft * k.w * valid + k.one_hot(y_safe, valid) * hard).astype(k.dtype)
        return g * (logp.exp() * Tensor(p_scale) + Tensor(rest)), None


class NLLLoss(Function):
    """Negative log-likelihood of log-probabilities at the target classes.
    The gradient, -g w[y] at each row's label, is a constant times g: under
    create_graph it is that product, recorded."""

    def forward(self, logp, target, *, weight, ignore_index, reduction):
        self.options = (weight, ignore_index, reduction)
        loss, total_weight = kernels.nll_loss_forward(logp, target, weight, ignore_index, reduction)
        if self.needs_input_grad[0]:
            self.save_for_backward(logp, target)
            self.total_weight = total_weight
        return loss

    def backward(self, xp, gy):
        logp, target = self.saved_tensors
        if self._graph_mode:
            weight, ignore_index, reduction = self.options
            k = _ClassAxis(logp, weight)
            y_safe, valid = k.labels(target, ignore_index)
            scale = -(k.one_hot(y_safe, valid) * k.w)
            return k.upstream(gy, reduction, self.total_weight) * Tensor(scale), None
        return kernels.nll_loss_backward(logp, target, gy, self.total_weight, *self.options), None


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    """Cross entropy between raw scores ``input`` and ``target`` (PyTorch's
    F.cross_entropy).

    input: (C,), (N, C) or (N, C, d1, ...) float.  target: class indices
    (int64 or uint8, input's shape without the class axis; ``ignore_index``
    entries count for nothing) or class probabilities (float, input's shape).
    'mean' divides by the summed weight of the non-ignored targets (by the
    number of rows for probability targets).
    """
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction(size_average, reduce, reduction)
    w = None if weight is None else _array(weight, "weight", input)
    if target.__class__ is not Tensor and not isinstance(target, Tensor):
        target = _array(target, "target", input)
    return CrossEntropy.apply(input, target, weight=w, ignore_index=ignore_index,
                              reduction=reduction, label_smoothing=label_smoothing)


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
             reduction="mean"):
    """Negative log-likelihood (PyTorch's F.nll_loss): ``input`` holds
    log-probabilities (C,), (N, C) or (N, C, d1, ...); ``target`` class indices."""
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction(size_average, reduce, reduction)
    w = None if weight is None else _array(weight, "weight", input)
    if target.__class__ is not Tensor and not isinstance(target, Tensor):
        target = _array(target, "target", input)
    return NLLLoss.apply(input, target, weight=w, ignore_index=ignore_index, reduction=reduction)
