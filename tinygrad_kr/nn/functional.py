"""nn.functional: stateless layer operations and losses with PyTorch's signatures.

Where things live:
  * linear, conv2d, pooling            -> nn/_ops_dense.py (Functions on compiled kernels)
  * conv1d, conv_transpose1d/2d, 1-D pooling, interpolate -> nn/_ops_conv_extra.py
  * cross_entropy, nll_loss            -> nn/_ops_loss.py
  * batch_norm, dropout, dropout2d     -> nn/_ops_norm.py
  * relu, sigmoid, softmax, ...        -> tinygrad_kr/ops.py (core ops)
  * elu, gelu, silu, softplus, ...     -> nn/_ops_activation.py (one Function each)
  * embedding, layer_norm, group_norm -> nn/_ops_embedding_norm.py
  * scaled_dot_product_attention, multi_head_attention_forward -> nn/_attention.py
  * local_response_norm, alpha_dropout, feature_alpha_dropout, dropout3d, bilinear,
    channel_shuffle, max_unpool1d/2d, lp_pool1d/2d -> nn/_ops_layers_extra.py
  * ctc_loss -> nn/_ops_ctc.py; fractional_max_pool2d/3d -> nn/_ops_fractional.py;
    gumbel_softmax -> nn/_ops_gumbel.py; pdist -> nn/_ops_pdist.py
  * conv3d, conv_transpose3d, 3-D pooling, max_unpool3d, lp_pool3d -> nn/_ops_3d.py
    (on the 2-D kernels); the *_with_indices of 1-D/2-D -> nn/_ops_conv_extra.py
  * the remaining losses, pad, one_hot -> here: compositions of core ops, plus
    two Functions (binary cross-entropy, with and without logits) whose
    PyTorch gradients a composition would get wrong at the edges, and MseLoss
    (one node, for PyTorch's grad_fn).
"""
import math
import warnings

import numpy as np

from .. import ops
from ..autograd.function import Function
from ..backend import get_array_module
from ..tensor import Tensor
from . import _ops_activation as _act
from ._ops_dense import (adaptive_avg_pool2d, adaptive_max_pool2d, avg_pool2d, conv2d, linear,
                         max_pool2d)
from ._ops_loss import cross_entropy, nll_loss
from ._ops_norm import batch_norm, dropout, dropout2d
from ._ops_conv_extra import (adaptive_avg_pool1d, adaptive_max_pool1d, avg_pool1d, conv1d,
                              conv_transpose1d, conv_transpose2d, interpolate, max_pool1d)
from ._attention import multi_head_attention_forward, scaled_dot_product_attention
from ._ops_grid import affine_grid, grid_sample
from ._ops_embedding_norm import embedding, embedding_bag, group_norm, layer_norm

__all__ = ["linear", "conv2d", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d",
           "adaptive_max_pool2d", "adaptive_max_pool2d_with_indices", "relu", "leaky_relu",
           "sigmoid", "tanh", "elu", "elu_", "selu", "celu", "gelu", "silu", "softplus",
           "hardtanh", "hardtanh_", "relu6", "mish", "logsigmoid", "softsign", "softmax",
           "log_softmax", "dropout", "dropout2d", "batch_norm", "cross_entropy", "nll_loss",
           "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "binary_cross_entropy",
           "binary_cross_entropy_with_logits", "kl_div", "normalize", "cosine_similarity",
           "pairwise_distance", "one_hot", "pad"]
__all__ += ["conv1d", "conv_transpose1d", "conv_transpose2d", "max_pool1d", "avg_pool1d",
            "adaptive_avg_pool1d", "adaptive_max_pool1d", "interpolate", "upsample",
            "upsample_nearest", "upsample_bilinear"]
__all__ += ["embedding", "embedding_bag", "layer_norm", "group_norm", "scaled_dot_product_attention",
            "multi_head_attention_forward", "affine_grid", "grid_sample"]

sigmoid = ops.sigmoid
tanh = ops.tanh


# --------------------------------------------------------------------------
# activations
# --------------------------------------------------------------------------


def _inplace(input, out):
    """Make ``input`` hold ``out``, for the ``inplace=True`` variants.

    Without a graph the values are written into ``input``'s array.  With one,
    ``input`` is re-pointed at ``out``'s array and node (the old array is left
    intact, so anything that saved it for backward stays correct)."""
    if out.grad_fn is None:
        return input.copy_(out)
    if input.is_leaf:
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place "
                           "operation (use inplace=False, or work on a copy)")
    input.array, input.grad_fn = out.array, out.grad_fn
    return input


def relu(input, inplace=False):
    out = ops.relu(input)
    return _inplace(input, out) if inplace else out


def leaky_relu(input, negative_slope=0.01, inplace=False):
    out = ops.leaky_relu(input, negative_slope)
    return _inplace(input, out) if inplace else out


def _floating(input, name):
    """These activations are defined on floating-point tensors only (PyTorch
    raises for integer ones too)."""
    if input.array.dtype.kind != "f":
        raise NotImplementedError(f"{name}: not implemented for integer or bool tensors (got "
                                  f"{input.array.dtype}); convert with .float() first")
    return input


def _activation(name, fn, input, inplace, **options):
    out = fn.apply(_floating(input, name), **options)
    return _inplace(input, out) if inplace else out


def adaptive_max_pool2d_with_indices(input, output_size, return_indices=True):
    return adaptive_max_pool2d(input, output_size, return_indices)


def elu(input, alpha=1.0, inplace=False):
    """x where x > 0, else alpha * (exp(x) - 1)."""
    return _activation("elu", _act.Elu, input, inplace, alpha=alpha, scale=1.0, input_scale=1.0)


def elu_(input, alpha=1.0):
    return elu(input, alpha, inplace=True)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(input, inplace=False):
    """scale * elu(x, alpha) with the self-normalizing constants."""
    return _activation("selu", _act.Elu, input, inplace, alpha=_SELU_ALPHA, scale=_SELU_SCALE,
                       input_scale=1.0)


def celu(input, alpha=1.0, inplace=False):
    """x where x > 0, else alpha * (exp(x / alpha) - 1)."""
    return _activation("celu", _act.Elu, input, inplace, alpha=alpha, scale=1.0,
                       input_scale=1.0 / alpha)


def gelu(input, approximate="none"):
    """x * Phi(x) (Phi the standard normal CDF), or its tanh approximation."""
    if approximate not in ("none", "tanh"):
        raise RuntimeError("approximate argument must be either none or tanh.")
    return _act.Gelu.apply(_floating(input, "gelu"), approximate=approximate)


def silu(input, inplace=False):
    """x * sigmoid(x) (also called swish)."""
    return _activation("silu", _act.Silu, input, inplace)


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + exp(beta * x)) / beta; linear (x) where beta * x > threshold."""
    return _act.Softplus.apply(_floating(input, "softplus"), beta=beta, threshold=threshold)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """x clamped to [min_val, max_val]."""
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    return _activation("hardtanh", _act.Hardtanh, input, inplace, min_val=min_val,
                       max_val=max_val)


def hardtanh_(input, min_val=-1.0, max_val=1.0):
    return hardtanh(input, min_val, max_val, inplace=True)


def relu6(input, inplace=False):
    """min(max(0, x), 6)."""
    return hardtanh(input, 0.0, 6.0, inplace)


def mish(input, inplace=False):
    """x * tanh(softplus(x))."""
    return _activation("mish", _act.Mish, input, inplace)


def logsigmoid(input):
    """log(sigmoid(x)), computed without overflow."""
    return _act.LogSigmoid.apply(_floating(input, "logsigmoid"))


def softsign(input):
    """x / (1 + |x|)."""
    return _act.Softsign.apply(_floating(input, "softsign"))


def _implicit_dim_warning(name, dim):
    if dim is None:
        warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call "
                      f"to include dim=X as an argument.", stacklevel=3)


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    _implicit_dim_warning("softmax", dim)
    return ops.softmax(input, dim, dtype)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    _implicit_dim_warning("log_softmax", dim)
    return ops.log_softmax(input, dim, dtype)


# --------------------------------------------------------------------------
# reductions and shape checks shared by the losses
# --------------------------------------------------------------------------


def _reduction(size_average, reduce, reduction):
    """The reduction string, from PyTorch's legacy (size_average, reduce) if given; validated."""
    if size_average is not None or reduce is not None:
        warnings.warn("size_average and reduce args will be deprecated, please use "
                      "reduction='mean' / 'sum' / 'none' instead.", stacklevel=3)
        size_average = True if size_average is None else size_average
        reduce = True if reduce is None else reduce
        reduction = ("mean" if size_average else "sum") if reduce else "none"
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{reduction!r} is not a valid value for reduction "
                         f"(expected 'none', 'mean' or 'sum')")
    return reduction


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    return loss.sum() if reduction == "sum" else loss


def _broadcast_target(fname, input, target):
    """PyTorch broadcasts input against target with a warning when their sizes
    differ (a (N, 1) prediction against (N,) labels gives an (N, N) loss);
    shapes that cannot broadcast raise, naming both."""
    if target.shape == input.shape:
        return
    warnings.warn(f"{fname}: Using a target size ({target.shape}) that is different to the input "
                  f"size ({input.shape}). This will likely lead to incorrect results due to "
                  f"broadcasting. Please ensure they have the same size.", stacklevel=3)
    try:
        np.broadcast_shapes(tuple(input.shape), tuple(target.shape))
    except ValueError:
        raise RuntimeError(f"{fname}: input of shape {tuple(input.shape)} and target of shape "
                           f"{tuple(target.shape)} cannot be broadcast together") from None


def _pointwise_loss(fname, elementwise, input, target, reduction, weight=None,
                    weighted_mean_by_weight=True):
    """Reduce ``elementwise(input - target)``; with ``weight`` (the input's
    shape) each term is weighted and 'mean' divides by sum(weight) (mse, l1) or
    by the element count (huber), following PyTorch."""
    _broadcast_target(fname, input, target)
    loss = elementwise(input - target)
    if weight is None:
        return _reduce(loss, reduction)
    if weight.shape != input.shape:
        raise ValueError(f"{fname}: Weights and input must have the same size (weight "
                         f"{tuple(weight.shape)}, input {tuple(input.shape)}).")
    loss = loss * weight
    if reduction == "mean" and weighted_mean_by_weight:
        return loss.sum() / weight.sum()
    return _reduce(loss, reduction)


# --------------------------------------------------------------------------
# regression losses
# --------------------------------------------------------------------------


class MseLoss(Function):
    """reduce((x - t)^2) in one node, so that ``loss.grad_fn`` is PyTorch's
    MseLossBackward0 (the 60-minute blitz prints it); x and t broadcast."""

    def forward(self, x, t, *, reduction):
        self.save_for_backward(x, t)
        self.reduction, d = reduction, x - t
        self.count = d.size
        return _reduce_array(d * d, reduction)

    def backward(self, xp, gy):
        x, t = self.saved_tensors
        g = 2 * (x - t) * gy
        if self.reduction == "mean":
            g = g / self.count
        return g, (-g if self.needs_input_grad[1] else None)


def _reduce_array(a, reduction):
    if reduction == "mean":
        return a.mean()
    return a.sum() if reduction == "sum" else a


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean squared error: reduce((input - target)^2)."""
    reduction = _reduction(size_average, reduce, reduction)
    if weight is None and isinstance(input, Tensor) and isinstance(target, Tensor) \
            and input.dtype == target.dtype and input.is_floating_point():
        _broadcast_target("mse_loss", input, target)
        return MseLoss.apply(input, target, reduction=reduction)
    return _pointwise_loss("mse_loss", lambda d: d * d, input, target, reduction, weight)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean absolute error: reduce(|input - target|)."""
    reduction = _reduction(size_average, reduce, reduction)
    return _pointwise_loss("l1_loss", ops.abs, input, target, reduction, weight)


def _huber(d, delta):
    """0.5 d^2 where |d| < delta, else delta * (|d| - 0.5 delta)."""
    a = ops.abs(d)
    return ops.where(a < delta, 0.5 * d * d, delta * (a - 0.5 * delta))


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """Huber loss divided by beta: 0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta."""
    reduction = _reduction(size_average, reduce, reduction)
    if beta < 0:
        raise RuntimeError(f"smooth_l1_loss does not support negative values for beta (got {beta})")
    if beta == 0:
        return l1_loss(input, target, reduction=reduction)
    return _pointwise_loss("smooth_l1_loss", lambda d: _huber(d, beta) / beta, input, target,
                           reduction)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    reduction = _reduction(None, None, reduction)
    if delta <= 0:
        raise RuntimeError(f"huber_loss does not support non-positive values for delta (got "
                           f"{delta})")
    return _pointwise_loss("huber_loss", lambda d: _huber(d, delta), input, target, reduction,
                           weight, weighted_mean_by_weight=False)


# --------------------------------------------------------------------------
# binary cross-entropy
# --------------------------------------------------------------------------


class BinaryCrossEntropy(Function):
    """Element-wise -(t log x + (1 - t) log(1 - x)), each log clamped at -100.

    Gradients as PyTorch's: d/dx = (x - t) / max(x (1 - x), 1e-12) (finite at
    x = 0 or 1, where the clamped logs are flat), d/dt = log(1 - x) - log(x)."""

    def forward(self, x, t):
        xp = get_array_module(x)
        self.save_for_backward(x, t)
        with np.errstate(divide="ignore"):
            log_x = xp.maximum(xp.log(x), -100)
            log_1mx = xp.maximum(xp.log1p(-x), -100)
        return -(t * log_x + (1 - t) * log_1mx)

    def backward(self, xp, gy):
        x, t = self.saved_tensors
        gx = gt = None
        if self.needs_input_grad[0]:
            d = x * (1 - x)
            gx = gy * (x - t) / xp.where(d > 1e-12, d, 1e-12)
        if self.needs_input_grad[1]:
            gt = gy * (xp.log(1 - x) - xp.log(x))
        return gx, gt


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction="mean"):
    """BCE on probabilities ``input`` in [0, 1] (apply sigmoid first, or use
    binary_cross_entropy_with_logits, which is more stable)."""
    reduction = _reduction(size_average, reduce, reduction)
    if target.shape != input.shape:
        raise ValueError(f"Using a target size ({target.shape}) that is different to the input "
                         f"size ({input.shape}) is deprecated. Please ensure they have the same "
                         f"size.")
    x = input.array
    if x.size and not bool(((x >= 0) & (x <= 1)).all()):
        raise RuntimeError(f"all elements of input should be between 0 and 1 (got min "
                           f"{float(x.min()):.6g}, max {float(x.max()):.6g}); apply sigmoid first "
                           f"or use binary_cross_entropy_with_logits")
    loss = BinaryCrossEntropy.apply(input, target.to(input.dtype))
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def _softplus_neg(xp, x):
    """softplus(-x) = -log(sigmoid(x)), stable for any x (PyTorch's formula)."""
    m = xp.where(x < 0, -x, 0)
    return xp.log(xp.exp(-m) + xp.exp(-x - m)) + m


class BinaryCrossEntropyWithLogits(Function):
    """Element-wise -(p t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))), with
    pos_weight p (an optional third input; 1 without it), computed as
    (1 - t) x + (1 + (p - 1) t) softplus(-x) so that no exp overflows."""

    def forward(self, x, t, pos_weight=None):
        xp = get_array_module(x)
        self.save_for_backward(x, t, *(() if pos_weight is None else (pos_weight,)))
        sp = _softplus_neg(xp, x)
        if pos_weight is None:
            return (1 - t) * x + sp
        return (1 - t) * x + (1 + (pos_weight - 1) * t) * sp

    def backward(self, xp, gy):
        x, t, *rest = self.saved_tensors
        sp = _softplus_neg(xp, x)
        sig = xp.exp(-sp)
        if rest:
            p, = rest
            gx = gy * (sig * (p * t + 1 - t) - p * t)
            gt = gy * ((p - 1) * sp - x) if self.needs_input_grad[1] else None
            gp = gy * t * sp if self.needs_input_grad[2] else None
            return gx, gt, gp
        gt = -gy * x if self.needs_input_grad[1] else None
        return gy * (sig - t), gt


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    """sigmoid + BCE in one numerically stable step, on raw scores ``input``.
    ``pos_weight`` (broadcast over the last dimension) weighs the positive terms."""
    reduction = _reduction(size_average, reduce, reduction)
    if target.shape != input.shape:
        raise ValueError(f"Target size ({target.shape}) must be the same as input size "
                         f"({input.shape})")
    target = target.to(input.dtype)
    if pos_weight is None:
        loss = BinaryCrossEntropyWithLogits.apply(input, target)
    else:
        try:
            np.broadcast_shapes(tuple(pos_weight.shape), tuple(input.shape))
        except ValueError:
            raise RuntimeError(f"binary_cross_entropy_with_logits: pos_weight of shape "
                               f"{tuple(pos_weight.shape)} cannot be broadcast to the input's "
                               f"shape {tuple(input.shape)} (it should have one entry per "
                               f"class, the last dimension)") from None
        loss = BinaryCrossEntropyWithLogits.apply(input, target, pos_weight.to(input.dtype))
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


# --------------------------------------------------------------------------
# KL divergence, normalize, similarities
# --------------------------------------------------------------------------


class KLDiv(Function):
    """Element-wise t (log t - x) for log-probabilities x and probabilities t
    (0 where t == 0), or exp(t) (t - x) with log_target.

    PyTorch's gradients: d/dx = -t (-exp(t)); d/dt = log t + 1 - x (nan at
    t == 0, as PyTorch's xlogy gives), or exp(t) (t - x + 1) with log_target."""

    def forward(self, x, t, *, log_target):
        xp = get_array_module(x)
        self.save_for_backward(x, t)
        self.log_target = log_target
        if log_target:
            return xp.exp(t) * (t - x)
        with np.errstate(invalid="ignore"):     # t < 0 gives nan, as in PyTorch
            return t * xp.log(xp.where(t == 0, 1, t)) - t * x

    def backward(self, xp, gy):
        x, t = self.saved_tensors
        gx = gt = None
        if self.log_target:
            e = xp.exp(t)
            if self.needs_input_grad[0]:
                gx = -gy * e
            if self.needs_input_grad[1]:
                gt = gy * e * (t - x + 1)
        else:
            if self.needs_input_grad[0]:
                gx = -gy * t
            if self.needs_input_grad[1]:
                with np.errstate(invalid="ignore"):
                    gt = gy * xp.where(t == 0, math.nan, xp.log(xp.where(t == 0, 1, t)) + 1 - x)
        return gx, gt


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """KL(target || exp(input)) term by term: ``input`` are log-probabilities,
    ``target`` probabilities (log-probabilities with log_target).  Use
    reduction='batchmean' for the true KL divergence of a batch of
    distributions; 'mean' divides by the element count (with PyTorch's warning)."""
    batchmean = reduction == "batchmean" and size_average is None and reduce is None
    if batchmean:
        reduction = "sum"
    elif size_average is None and reduce is None and reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the "
                      "support size.'batchmean' divides only by the batch size, and aligns with "
                      "the KL div math definition.'mean' will be changed to behave the same as "
                      "'batchmean' in the next major release.", stacklevel=2)
    if reduction not in ("none", "mean", "sum", "batchmean"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    reduction = _reduction(size_average, reduce, "mean" if reduction == "batchmean"
                           else reduction)
    try:
        np.broadcast_shapes(tuple(input.shape), tuple(target.shape))
    except ValueError:
        raise RuntimeError(f"kl_div: input of shape {tuple(input.shape)} and target of shape "
                           f"{tuple(target.shape)} cannot be broadcast together") from None
    loss = _reduce(KLDiv.apply(input, target.to(input.dtype), log_target=bool(log_target)),
                   reduction)
    if batchmean and input.ndim != 0:
        loss = loss / input.shape[0]
    return loss


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    """input / max(||input||_p, eps) along ``dim`` (rows scaled to unit norm)."""
    denom = ops.clamp(ops.norm(input, p, dim, keepdim=True), min=eps)
    y = input / denom
    if out is None:
        return y
    return out.copy_(y)


def _broadcast_pair(fname, x1, x2):
    try:
        shape = np.broadcast_shapes(tuple(x1.shape), tuple(x2.shape))
    except ValueError:
        raise RuntimeError(f"{fname}: x1 of shape {tuple(x1.shape)} and x2 of shape "
                           f"{tuple(x2.shape)} cannot be broadcast together") from None
    return tuple(ops.broadcast_to(x, shape) if tuple(x.shape) != shape else x for x in (x1, x2))


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """sum(x1 * x2) / (max(||x1||, eps) * max(||x2||, eps)) along ``dim``
    (after broadcasting x1 against x2)."""
    x1, x2 = _broadcast_pair("cosine_similarity", x1, x2)
    n1 = ops.clamp(ops.norm(x1, 2, dim, keepdim=True), min=eps)
    n2 = ops.clamp(ops.norm(x2, 2, dim, keepdim=True), min=eps)
    return ops.sum((x1 / n1) * (x2 / n2), dim)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """||x1 - x2 + eps||_p over the last dimension."""
    dim = max(x1.ndim, x2.ndim) - 1
    return ops.norm(x1 - x2 + eps, p, dim if dim >= 0 else None, keepdim)


# --------------------------------------------------------------------------
# one_hot, pad
# --------------------------------------------------------------------------


def one_hot(tensor, num_classes=-1):
    """int64 tensor of shape (*tensor.shape, num_classes) with a 1 at each index."""
    idx = tensor.array
    if idx.dtype != np.int64:
        raise RuntimeError(f"one_hot is only applicable to index tensor of type LongTensor "
                           f"(int64), got {idx.dtype}")
    if num_classes == -1:
        if idx.size == 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        num_classes = int(idx.max()) + 1
    if idx.size:
        if int(idx.min()) < 0:
            raise RuntimeError(f"Class values must be non-negative (got {int(idx.min())}).")
        if int(idx.max()) >= num_classes:
            raise RuntimeError(f"Class values must be smaller than num_classes (got "
                               f"{int(idx.max())} with num_classes={num_classes}).")
    xp = get_array_module(idx)
    return Tensor((idx[..., None] == xp.arange(num_classes)).astype(np.int64))


_PAD_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def pad(input, pad, mode="constant", value=None):
    """Pad the last len(pad)//2 dimensions: ``pad = (left, right, top, bottom, ...)``
    starting from the last dimension.  Modes: 'constant' (``value``, default 0;
    negative amounts crop), 'reflect', 'replicate', 'circular'.  Built from
    core ops (cat / indexing), so it is differentiable."""
    pad = [int(p) for p in pad]
    if len(pad) % 2:
        raise RuntimeError(f"Padding length must be divisible by 2 (got {len(pad)})")
    if len(pad) // 2 > input.ndim:
        raise RuntimeError(f"Padding length too large: {len(pad)} values pad {len(pad) // 2} "
                           f"dimensions, but the input has {input.ndim}")
    if mode != "constant" and mode not in _PAD_MODES:
        raise NotImplementedError(f"Unrecognised padding mode {mode!r} (expected 'constant', "
                                  f"'reflect', 'replicate' or 'circular')")
    if mode != "constant" and value:
        raise ValueError(f"Padding mode {mode!r} doesn't take in value argument")
    if mode != "constant" and not (0 < len(pad) <= 6 and 1 <= input.ndim - len(pad) // 2 <= 2):
        raise NotImplementedError(      # ATen's kernels: 1 to 3 dims, (batch and) channels
            f"Padding size {len(pad)} is not supported for {input.ndim}D input tensor.\n"
            f"Supported combinations for non-constant padding:\n"
            f"  - 2D or 3D input: padding size = 2 (pads last dimension)\n"
            f"  - 3D or 4D input: padding size = 4 (pads last 2 dimensions)\n"
            f"  - 4D or 5D input: padding size = 6 (pads last 3 dimensions)")
    out = input
    for k in range(len(pad) // 2):
        dim = input.ndim - 1 - k
        lo, hi = pad[2 * k], pad[2 * k + 1]
        if lo or hi:
            out = _pad_constant(out, dim, lo, hi, value or 0) if mode == "constant" \
                else _pad_by_index(out, dim, lo, hi, mode)
    return out


def _pad_constant(x, dim, lo, hi, value):
    n = x.shape[dim]
    start, stop = max(-lo, 0), n - max(-hi, 0)
    if start or stop != n:
        x = ops.narrow(x, dim, start, max(stop - start, 0))
    xp = get_array_module(x.array)
    parts = []
    for amount in (lo, hi):
        shape = list(x.shape)
        shape[dim] = max(amount, 0)
        parts.append(Tensor(xp.full(shape, value, dtype=x.dtype)))
    return ops.cat([parts[0], x, parts[1]], dim)


def _pad_by_index(x, dim, lo, hi, mode):
    n = x.shape[dim]
    if lo < 0 or hi < 0:
        raise RuntimeError(f"negative padding ({lo}, {hi}) is only supported in 'constant' mode")
    if mode == "reflect" and (lo >= n or hi >= n):
        raise RuntimeError(f"Padding size should be less than the corresponding input dimension, "
                           f"but got: padding ({lo}, {hi}) at dimension {dim} of input "
                           f"{tuple(x.shape)}")
    if mode == "circular" and (lo > n or hi > n):
        raise RuntimeError(f"Padding value causes wrapping around more than once: padding "
                           f"({lo}, {hi}) at dimension {dim} of input {tuple(x.shape)}")
    idx = np.pad(np.arange(n), (lo, hi), mode=_PAD_MODES[mode])
    return ops.getitem(x, (slice(None),) * dim + (idx,))


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """Deprecated alias of interpolate (PyTorch warns the same)."""
    warnings.warn("`nn.functional.upsample` is deprecated. Use `nn.functional.interpolate` "
                  "instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    warnings.warn("`nn.functional.upsample_nearest` is deprecated. Use "
                  "`nn.functional.interpolate` instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    warnings.warn("`nn.functional.upsample_bilinear` is deprecated. Use "
                  "`nn.functional.interpolate` instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)



def relu_(input):
    return relu(input, inplace=True)


def leaky_relu_(input, negative_slope=0.01):
    return leaky_relu(input, negative_slope, inplace=True)


def selu_(input):
    return selu(input, inplace=True)


def celu_(input, alpha=1.0):
    return celu(input, alpha, inplace=True)


# Last: these modules use this one's helpers (_reduction, softmax, pairwise_distance)
from ._ops_loss_extra import (cosine_embedding_loss, gaussian_nll_loss,  # noqa: E402
                              hinge_embedding_loss, margin_ranking_loss, multi_margin_loss,
                              multilabel_margin_loss, multilabel_soft_margin_loss,
                              poisson_nll_loss, soft_margin_loss, triplet_margin_loss,
                              triplet_margin_with_distance_loss)
from ._ops_more import (dropout1d, fold, glu, hardshrink, hardsigmoid, hardswish,  # noqa: E402
                        instance_norm, pixel_shuffle, pixel_unshuffle, prelu, rms_norm, rrelu,
                        rrelu_, softmin, softshrink, tanhshrink, threshold, threshold_, unfold)
from ._ops_layers_extra import (alpha_dropout, bilinear, channel_shuffle,  # noqa: E402
                                dropout3d, feature_alpha_dropout, local_response_norm, lp_pool1d,
                                lp_pool2d, max_unpool1d, max_unpool2d, native_channel_shuffle)

__all__ += ["hardsigmoid", "hardswish", "hardshrink", "softshrink", "tanhshrink", "threshold",
            "threshold_", "prelu", "rrelu", "rrelu_", "glu", "softmin", "pixel_shuffle",
            "pixel_unshuffle", "dropout1d", "instance_norm", "rms_norm", "relu_", "leaky_relu_",
            "selu_", "celu_", "unfold", "fold"]
__all__ += ["margin_ranking_loss", "hinge_embedding_loss", "cosine_embedding_loss",
            "soft_margin_loss", "multilabel_soft_margin_loss", "triplet_margin_loss",
            "triplet_margin_with_distance_loss", "gaussian_nll_loss", "poisson_nll_loss",
            "multi_margin_loss", "multilabel_margin_loss"]
__all__ += ["local_response_norm", "alpha_dropout", "feature_alpha_dropout", "dropout3d",
            "bilinear", "channel_shuffle", "native_channel_shuffle", "max_unpool1d",
            "max_unpool2d", "lp_pool1d", "lp_pool2d"]

from ._ops_3d import (adaptive_avg_pool3d, adaptive_max_pool3d,  # noqa: E402
                      adaptive_max_pool3d_with_indices, avg_pool3d, conv3d, conv_transpose3d,
                      lp_pool3d, max_pool3d, max_pool3d_with_indices, max_unpool3d)
from ._ops_conv_extra import (adaptive_max_pool1d_with_indices,  # noqa: E402
                              max_pool1d_with_indices, max_pool2d_with_indices)

__all__ += ["conv3d", "conv_transpose3d", "max_pool3d", "max_pool3d_with_indices", "avg_pool3d",
            "adaptive_avg_pool3d", "adaptive_max_pool3d", "adaptive_max_pool3d_with_indices",
            "max_unpool3d", "lp_pool3d", "max_pool1d_with_indices", "max_pool2d_with_indices",
            "adaptive_max_pool1d_with_indices"]

from ._ops_ctc import ctc_loss  # noqa: E402
from ._ops_fractional import (fractional_max_pool2d,  # noqa: E402
                              fractional_max_pool2d_with_indices, fractional_max_pool3d,
                              fractional_max_pool3d_with_indices)
from ._ops_gumbel import gumbel_softmax  # noqa: E402
from ._ops_pdist import pdist  # noqa: E402

__all__ += ["ctc_loss", "gumbel_softmax", "pdist", "fractional_max_pool2d",
            "fractional_max_pool2d_with_indices", "fractional_max_pool3d",
            "fractional_max_pool3d_with_indices"]
