"""torch.conv2d, torch.dropout, torch.batch_norm, torch.kl_div, ...: the
nn.functional ops under PyTorch's top-level names.  This module imports nn,
so the package loads it on first use of one of these names
(``_torch_extras.FUNCTIONAL_NAMES``, resolved by the package's __getattr__).

The top-level names are ATen's functions, not nn.functional's, and several
take other arguments: ``torch.dropout(input, p, train)`` (all required),
``torch.embedding(weight, indices)`` (swapped), ``torch.batch_norm(input,
weight, bias, running_mean, running_var, training, momentum, eps,
cudnn_enabled)``, losses with an integer ``reduction`` (ATen's enum: 1 mean,
2 sum, any other value none).  Each wrapper here translates and calls the
nn.functional op, where the forward, backward and kernel live
(nn/functional.py names the file of each), so no gradient is written twice.

PyTorch 2.13's Python binding reads the losses' schema default
``reduction=at::Reduction::Mean`` as 0: ``torch.kl_div(x, y)`` is *not*
reduced.  The defaults here are 0 too, so the same call gives the same result.
"""
import math

import numpy as np

from . import ops
from .backend import get_array_module
from .dtypes import scalar_type_name
from .nn import functional as F
from .nn._ops_embedding_norm import _bags, _padding_idx
from .nn._ops_layers_extra import _alpha_dropout
from .nn._ops_norm import _apply_dropout
from .random import get_rng
from .tensor import Tensor, _host


def _need_tensor(fname, value, arg="input", position=1):
    """PyTorch's argument-parser error for a non-Tensor where a Tensor goes."""
    if not isinstance(value, Tensor):
        raise TypeError(f"{fname}(): argument '{arg}' (position {position}) must be Tensor, not "
                        f"{type(value).__name__}")
    return value


def _need_int(fname, value, arg, position):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{fname}(): argument '{arg}' (position {position}) must be int, not "
                        f"{type(value).__name__}")
    return int(value)


# ATen's Reduction enum; at::apply_loss_reduction leaves any other value unreduced
_REDUCTIONS = {1: "mean", 2: "sum"}


def _reduce(fname, loss, reduction, position):
    how = _REDUCTIONS.get(_need_int(fname, reduction, "reduction", position), "none")
    if how == "mean":
        return loss.mean()
    return loss.sum() if how == "sum" else loss


# -- convolution and pooling ----------------------------------------------------------

conv1d, conv2d = F.conv1d, F.conv2d
conv_transpose1d, conv_transpose2d = F.conv_transpose1d, F.conv_transpose2d
conv3d, conv_transpose3d = F.conv3d, F.conv_transpose3d
adaptive_avg_pool1d = F.adaptive_avg_pool1d


def _stride(stride):
    return None if stride is None or (isinstance(stride, (tuple, list)) and not stride) else stride


def avg_pool1d(input, kernel_size, stride=(), padding=0, ceil_mode=False,
               count_include_pad=True):
    """As F.avg_pool1d; ATen's default stride ``()`` means the kernel size."""
    return F.avg_pool1d(_need_tensor("avg_pool1d", input), kernel_size, _stride(stride), padding,
                        ceil_mode, count_include_pad)


def max_pool1d(input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
    """As F.max_pool1d without ``return_indices``; stride ``()`` means the kernel size."""
    return F.max_pool1d(_need_tensor("max_pool1d", input), kernel_size, _stride(stride), padding,
                        dilation, ceil_mode)


def max_pool2d(input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
    """As F.max_pool2d without ``return_indices``; stride ``()`` means the kernel size."""
    return F.max_pool2d(_need_tensor("max_pool2d", input), kernel_size, _stride(stride), padding,
                        dilation, ceil_mode)


def max_pool3d(input, kernel_size, stride=(), padding=0, dilation=1, ceil_mode=False):
    """As F.max_pool3d without ``return_indices``; stride ``()`` means the kernel size."""
    return F.max_pool3d(_need_tensor("max_pool3d", input), kernel_size, _stride(stride), padding,
                        dilation, ceil_mode)


def max_pool1d_with_indices(input, kernel_size, stride=(), padding=0, dilation=1,
                            ceil_mode=False):
    """``(output, indices)``; stride ``()`` means the kernel size."""
    return F.max_pool1d_with_indices(_need_tensor("max_pool1d_with_indices", input), kernel_size,
                                     _stride(stride), padding, dilation, ceil_mode)


def adaptive_max_pool1d(input, output_size):
    """``(output, indices)``: ATen's function always returns both."""
    return tuple(F.adaptive_max_pool1d(_need_tensor("adaptive_max_pool1d", input), output_size,
                                       return_indices=True))


# -- dropout: ATen's _dropout_impl ------------------------------------------------------

def _dropout(fname, input, p, train, *, feature=False, alpha=False, inplace=False):
    """ATen's order: p checked; identity for p == 0, not training or an empty
    input; input * 0 for p == 1 (NaN stays NaN); otherwise a mask drawn per
    element, or per (n, c) channel for the feature forms (any input of >= 2
    dimensions: a 2-D input is masked per element), and for alpha dropout the
    shift that keeps SELU's fixed point."""
    _need_tensor(fname, input)
    if not 0 <= p <= 1:
        raise RuntimeError(f"dropout probability has to be between 0 and 1, but got {p}")
    if p == 0 or not train or input.numel() == 0:
        return input
    if p == 1:
        zero = Tensor(get_array_module(input.array).zeros((), input.array.dtype))
        out = ops.mul(input, zero)
        return F._inplace(input, out) if inplace else out
    if feature and input.ndim < 2:
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    if input.array.dtype.kind != "f":
        # ATen's noise has the input's dtype and is divided by 1 - p
        raise RuntimeError(f"result type Float can't be cast to the desired output type "
                           f"{scalar_type_name(input.array.dtype)}")
    if alpha:
        return _alpha_dropout(input, p, True, inplace, feature)
    block = math.prod(input.shape[2:]) if feature else 1
    return _apply_dropout(input, p, True, inplace, block=block)


def dropout(input, p, train):
    """Zero each element with probability p, scale the rest by 1 / (1 - p) (train only)."""
    return _dropout("dropout", input, p, train)


def dropout_(input, p, train):
    return _dropout("dropout_", input, p, train, inplace=True)


def feature_dropout(input, p, train):
    """Zero whole channels: one draw per (n, c) of (N, C, *) input (per element of a 2-D input)."""
    return _dropout("feature_dropout", input, p, train, feature=True)


def feature_dropout_(input, p, train):
    return _dropout("feature_dropout_", input, p, train, feature=True, inplace=True)


def alpha_dropout(input, p, train):
    """F.alpha_dropout with ATen's arguments."""
    return _dropout("alpha_dropout", input, p, train, alpha=True)


def alpha_dropout_(input, p, train):
    return _dropout("alpha_dropout_", input, p, train, alpha=True, inplace=True)


def feature_alpha_dropout(input, p, train):
    """F.feature_alpha_dropout with ATen's arguments."""
    return _dropout("feature_alpha_dropout", input, p, train, feature=True, alpha=True)


def feature_alpha_dropout_(input, p, train):
    return _dropout("feature_alpha_dropout_", input, p, train, feature=True, alpha=True,
                    inplace=True)


# -- embeddings ---------------------------------------------------------------------

def embedding(weight, indices, padding_idx=-1, scale_grad_by_freq=False, sparse=False):
    """F.embedding(indices, weight, ...): ATen takes the weight first, and a
    negative padding_idx means none."""
    _need_tensor("embedding", weight, "weight")
    padding_idx = _need_int("embedding", padding_idx, "padding_idx", 3)
    return F.embedding(indices, weight, padding_idx if padding_idx >= 0 else None,
                       scale_grad_by_freq=scale_grad_by_freq, sparse=sparse)


_BAG_MODES = ("sum", "mean", "max")


def embedding_bag(weight, indices, offsets, scale_grad_by_freq=False, mode=0, sparse=False,
                  per_sample_weights=None, include_last_offset=False, padding_idx=None):
    """``(output, offset2bag, bag_size, max_indices)`` as ATen's embedding_bag;
    ``mode`` 0 sum, 1 mean, 2 max.  The output is F.embedding_bag's.  The other
    three are what the backward of ATen's general path reads: the bag of each
    index, each bag's count of non-padding indices and, in max mode, the row
    (of ``weight``) each maximum came from (else the counts again).  PyTorch's
    CPU fast path for sum mode leaves them empty or zero; they are computed
    here whatever the mode."""
    _need_tensor("embedding_bag", weight, "weight")
    _need_tensor("embedding_bag", offsets, "offsets", 3)
    mode = _need_int("embedding_bag", mode, "mode", 5)
    if mode not in (0, 1, 2):
        raise RuntimeError("`mode` must be sum, mean, or max.")
    out = F.embedding_bag(indices, weight, offsets, scale_grad_by_freq=scale_grad_by_freq,
                          mode=_BAG_MODES[mode], sparse=sparse,
                          per_sample_weights=per_sample_weights,
                          include_last_offset=include_last_offset, padding_idx=padding_idx)
    idx, bag, n_bags = _bags(indices, offsets, include_last_offset)
    idx = np.asarray(idx.get() if hasattr(idx, "get") else idx, dtype=np.int64)
    pad = _padding_idx(padding_idx, weight.shape[0])
    keep = np.ones(idx.shape, bool) if pad is None else idx != pad
    bag_size = np.bincount(bag[keep], minlength=n_bags).astype(np.int64)
    if mode == 2:
        rows = _host(weight.array)
        max_indices = np.zeros((n_bags, weight.shape[1]), np.int64)
        for b in range(n_bags):
            members = idx[(bag == b) & keep]
            if members.size:
                max_indices[b] = members[np.argmax(rows[members], axis=0)]
    else:
        max_indices = bag_size.copy()
    xp = get_array_module(out.array)
    return (out, Tensor(xp.asarray(bag.astype(np.int64))), Tensor(xp.asarray(bag_size)),
            Tensor(xp.asarray(max_indices)))


# -- normalisation ------------------------------------------------------------------

def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-05, cudnn_enable=True):
    """F.layer_norm (``cudnn_enable`` has nothing to choose here)."""
    return F.layer_norm(_need_tensor("layer_norm", input), normalized_shape, weight, bias, eps)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-05, cudnn_enabled=True):
    """F.group_norm (``cudnn_enabled`` has nothing to choose here)."""
    return F.group_norm(_need_tensor("group_norm", input), num_groups, weight, bias, eps)


def batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps,
               cudnn_enabled):
    """F.batch_norm with ATen's argument order (all required)."""
    _need_tensor("batch_norm", input)
    if not training:
        for name, stat in (("running_mean", running_mean), ("running_var", running_var)):
            if stat is None:
                raise RuntimeError(f"{name} must be defined in evaluation mode")
    return F.batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)


def instance_norm(input, weight, bias, running_mean, running_var, use_input_stats, momentum,
                  eps, cudnn_enabled):
    """F.instance_norm with ATen's argument order (all required)."""
    _need_tensor("instance_norm", input)
    if not use_input_stats and (running_mean is None or running_var is None):
        raise RuntimeError("Expected running_mean and running_var to be defined when "
                           "use_input_stats is false")
    return F.instance_norm(input, running_mean, running_var, weight, bias, use_input_stats,
                           momentum, eps)


def rms_norm(input, normalized_shape, weight=None, eps=None):
    return F.rms_norm(_need_tensor("rms_norm", input), normalized_shape, weight, eps)


# -- activations and rearrangements -------------------------------------------------------

pixel_shuffle, pixel_unshuffle, channel_shuffle = F.pixel_shuffle, F.pixel_unshuffle, \
    F.channel_shuffle
prelu, hardshrink, bilinear = F.prelu, F.hardshrink, F.bilinear
cosine_similarity, pairwise_distance = F.cosine_similarity, F.pairwise_distance


def selu(input):
    return F.selu(_need_tensor("selu", input))


def selu_(input):
    return F.selu_(_need_tensor("selu_", input))


def celu(input, alpha=1.0):
    return F.celu(_need_tensor("celu", input), alpha)


def celu_(input, alpha=1.0):
    return F.celu_(_need_tensor("celu_", input), alpha)


def threshold(input, threshold, value):
    return F.threshold(_need_tensor("threshold", input), threshold, value)


def threshold_(input, threshold, value):
    return F.threshold_(_need_tensor("threshold_", input), threshold, value)


def rrelu(input, lower=0.125, upper=1.0 / 3, training=False, generator=None, *, _inplace=False):
    """F.rrelu; while training the slopes come from ``generator`` (else the default one)."""
    _need_tensor("rrelu_" if _inplace else "rrelu", input)
    if generator is None or not training:
        return F.rrelu(input, lower, upper, training, inplace=_inplace)
    slope = get_rng(generator).uniform(lower, upper, size=tuple(input.shape))
    slope = Tensor(get_array_module(input.array).asarray(slope.astype(input.array.dtype)))
    out = ops.where(input > 0, input, input * slope)
    if _inplace:
        input[...] = out
        return input
    return out


def rrelu_(input, lower=0.125, upper=1.0 / 3, training=False, generator=None):
    return rrelu(input, lower, upper, training, generator, _inplace=True)


def constant_pad_nd(input, pad, value=0):
    """F.pad(input, pad, value=value); negative entries crop."""
    _need_tensor("constant_pad_nd", input)
    if len(pad) % 2:
        raise RuntimeError(f"Length of pad must be even but instead it equals {len(pad)}")
    if len(pad) > 2 * input.ndim:
        raise RuntimeError(f"Length of pad should be no more than twice the number of dimensions "
                           f"of the input. Pad length is {len(pad)}while the input has "
                           f"{input.ndim}dimensions.")
    return F.pad(input, tuple(pad), value=value)


# -- losses: ATen's integer reduction (default 0 as PyTorch's binding reads it) -------------

def kl_div(input, target, reduction=0, *, log_target=False):
    """F.kl_div; reduction 1 is the mean over all elements (no 'batchmean' here)."""
    _need_tensor("kl_div", input)
    loss = F.kl_div(input, target, reduction="none", log_target=log_target)
    return _reduce("kl_div", loss, reduction, 3)


def binary_cross_entropy_with_logits(input, target, weight=None, pos_weight=None, reduction=0):
    _need_tensor("binary_cross_entropy_with_logits", input)
    loss = F.binary_cross_entropy_with_logits(input, target, weight, reduction="none",
                                              pos_weight=pos_weight)
    return _reduce("binary_cross_entropy_with_logits", loss, reduction, 5)


def poisson_nll_loss(input, target, log_input, full, eps, reduction):
    _need_tensor("poisson_nll_loss", input)
    loss = F.poisson_nll_loss(input, target, log_input, full, eps=eps, reduction="none")
    return _reduce("poisson_nll_loss", loss, reduction, 6)


def cosine_embedding_loss(input1, input2, target, margin=0.0, reduction=0):
    _need_tensor("cosine_embedding_loss", input1, "input1")
    loss = F.cosine_embedding_loss(input1, input2, target, margin, reduction="none")
    return _reduce("cosine_embedding_loss", loss, reduction, 5)


def hinge_embedding_loss(input, target, margin=1.0, reduction=0):
    _need_tensor("hinge_embedding_loss", input)
    loss = F.hinge_embedding_loss(input, target, margin, reduction="none")
    return _reduce("hinge_embedding_loss", loss, reduction, 4)


def margin_ranking_loss(input1, input2, target, margin=0.0, reduction=0):
    _need_tensor("margin_ranking_loss", input1, "input1")
    loss = F.margin_ranking_loss(input1, input2, target, margin, reduction="none")
    return _reduce("margin_ranking_loss", loss, reduction, 5)


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2.0, eps=1e-06, swap=False,
                        reduction=0):
    _need_tensor("triplet_margin_loss", anchor, "anchor")
    loss = F.triplet_margin_loss(anchor, positive, negative, margin, p, eps, swap,
                                 reduction="none")
    return _reduce("triplet_margin_loss", loss, reduction, 8)


from ._torch_extras import FUNCTIONAL_NAMES  # noqa: E402 (the names __init__ resolves here)

__all__ = sorted(FUNCTIONAL_NAMES)
