"""NumPy twins of the batch-norm kernels (csrc/norm.pyx).

Layout: ``x`` is (N, C) or (N, C, d1, d2, ...), float32 or float64; the
statistics are per channel C over the other M = N * d1 * d2 * ... elements.
``weight``, ``bias``, ``running_mean``, ``running_var`` are (C,) arrays of
x's dtype or None.  Sums are accumulated in float64; the statistics handed
from forward to backward (``mean``, ``invstd``) are float64 (C,).
"""
import numpy as np

from ..backend import get_array_module

__all__ = ["batch_norm_forward", "batch_norm_backward"]


def _check_vector(name, v, x, n_channels):
    if v is None:
        return
    if v.dtype != x.dtype:
        raise TypeError(f"batch_norm: {name} must have the input's dtype {x.dtype}, got {v.dtype}")
    if v.shape != (n_channels,):
        raise ValueError(f"batch_norm: {name} should contain {n_channels} elements (one per "
                         f"channel of input {tuple(x.shape)}), got shape {tuple(v.shape)}")


def check_batch_norm_args(x, weight, bias, running_mean, running_var, training, momentum, eps):
    """Validate batch_norm_forward's arguments; return (C, M)."""
    if x.dtype not in (np.float32, np.float64):
        raise TypeError(f"batch_norm: input must be float32 or float64, got {x.dtype}")
    if x.ndim < 2:
        raise ValueError(f"batch_norm: input must be (N, C) or (N, C, *), "
                         f"got shape {tuple(x.shape)}")
    n_channels = x.shape[1]
    for name, v in (("weight", weight), ("bias", bias), ("running_mean", running_mean),
                    ("running_var", running_var)):
        _check_vector(name, v, x, n_channels)
    if (running_mean is None) != (running_var is None):
        raise ValueError("batch_norm: running_mean and running_var must both be given or "
                         "both be None")
    if not training and running_mean is None:
        raise ValueError("batch_norm: running_mean must be defined in evaluation mode")
    if training and not eps > 0:
        raise ValueError(f"batch_norm: eps must be positive during training, but got {eps}")
    m = x.size // n_channels if n_channels else 0
    # Both buffers are checked before either is written: a read-only running_var
    # found while writing would leave running_mean already updated.
    for name, v in (("running_mean", running_mean), ("running_var", running_var)):
        if training and v is not None:
            if not v.flags.c_contiguous:
                raise ValueError(f"batch_norm: {name} is updated in place and must be contiguous")
            # CuPy's flags have no 'writeable': its arrays always are
            if m > 0 and not getattr(v.flags, "writeable", True):
                raise ValueError(f"batch_norm: {name} is updated in place and must be "
                                 f"writeable (it is read-only)")
    return n_channels, m


def _channel_axes(x):
    return (0,) + tuple(range(2, x.ndim))


def _per_channel(v, x):
    """A (C,) vector shaped to broadcast against x: (C, 1, 1, ...)."""
    return v.reshape((-1,) + (1,) * (x.ndim - 2))


def batch_norm_forward(x, weight, bias, running_mean, running_var, training, momentum, eps):
    """y = (x - mean) * invstd * weight + bias, per channel.

    training: mean and biased variance of the batch; the running statistics
    (if given) are updated IN PLACE: ``r = (1 - momentum) * r + momentum * s``
    with the *unbiased* variance for running_var (PyTorch).  An empty batch
    leaves them unchanged.  Otherwise the running statistics are used.
    Returns ``(y, mean, invstd)``: y of x's shape and dtype, and the float64
    (C,) statistics that were used (for batch_norm_backward).
    """
    xp = get_array_module(x)
    n_channels, m = check_batch_norm_args(x, weight, bias, running_mean, running_var, training,
                                          momentum, eps)
    if training:
        axes = _channel_axes(x)
        with np.errstate(invalid="ignore", divide="ignore"):  # an empty batch gives nan stats
            mean = x.sum(axis=axes, dtype=np.float64) / m
            sq_dev_sum = ((x - _per_channel(mean, x)) ** 2).sum(axis=axes, dtype=np.float64)
            var = sq_dev_sum / m
            unbiased = sq_dev_sum / (m - 1)
        if running_mean is not None and m > 0:   # in float64, stored in their dtype (PyTorch)
            running_mean[...] = (1 - momentum) * running_mean.astype(np.float64) + momentum * mean
            running_var[...] = (1 - momentum) * running_var.astype(np.float64) + momentum * unbiased
    else:
        mean = running_mean.astype(np.float64)
        var = running_var.astype(np.float64)
    invstd = 1.0 / xp.sqrt(var + eps)
    scale = invstd if weight is None else invstd * weight
    y = (x - _per_channel(mean.astype(x.dtype), x)) * _per_channel(scale.astype(x.dtype), x)
    if bias is not None:
        y = y + _per_channel(bias, x)
    return y.astype(x.dtype, copy=False), mean, invstd


def batch_norm_backward(gy, x, weight, mean, invstd, training, input_grad=True):
    """Gradients of batch_norm_forward: ``(gx, gweight, gbias)`` (gx None
    unless ``input_grad``).

    With xhat = (x - mean) * invstd, gbias = sum(gy), gweight = sum(gy * xhat)
    (per channel, x's dtype).  training (batch statistics):
    ``gx = weight * invstd / M * (M * gy - gbias - xhat * gweight)``;
    otherwise the statistics are constants: ``gx = gy * weight * invstd``.
    """
    n_channels = x.shape[1]
    m = x.size // n_channels if n_channels else 0
    axes = _channel_axes(x)
    xhat = (x - _per_channel(mean, x)) * _per_channel(invstd, x)
    gbias = gy.sum(axis=axes, dtype=np.float64)
    gweight = (gy * xhat).sum(axis=axes, dtype=np.float64)
    scale = invstd if weight is None else invstd * weight
    if not input_grad:
        gx = None
    elif training and m > 0:
        gx = _per_channel(scale, x) * (gy - _per_channel(gbias / m, x)
                                       - xhat * _per_channel(gweight / m, x))
    else:
        gx = gy * _per_channel(scale, x)
    if gx is not None:
        gx = gx.astype(x.dtype)
    return gx, gweight.astype(x.dtype), gbias.astype(x.dtype)
