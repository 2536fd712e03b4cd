"""GPU versions of the batch-norm kernels (twins: ref_norm.py).

The per-channel sums are CuPy reductions over the axes (0, 2, 3, ...); the
ones that need the mean (the squared deviations, the gradient of the weight)
are ReductionKernels that read x once, where the twin on CuPy first builds
float64 temporaries of x's size.  y and gx are one ElementwiseKernel pass
each.  Statistics are float64, as in the twin; the (C,) vectors broadcast
against x as (C, 1, 1, ...).
"""
import numpy as np

from ..backend import cupy_module
from ._gpu import elementwise, on_device, reduction
from .ref_norm import _channel_axes, _per_channel, check_batch_norm_args

__all__ = ["batch_norm_forward", "batch_norm_backward"]

_sq_dev_sum = reduction("T x, float64 mean", "float64 total",
                        "((double)x - mean) * ((double)x - mean)", "a + b", "total = a", "0",
                        "tkr_bn_sq_dev_sum")
_gy_xhat_sum = reduction("T gy, T x, float64 mean, float64 invstd", "float64 total",
                         "(double)gy * (((double)x - mean) * invstd)", "a + b", "total = a", "0",
                         "tkr_bn_gy_xhat_sum")

# As the twin: (x - mean) * scale + bias in x's dtype, with mean and scale rounded to it.
_normalize = elementwise("T x, T mean, T scale, T bias", "T y", "y = (x - mean) * scale + bias",
                         "tkr_bn_forward")
# Training: gx = scale * (gy - sum(gy)/M - xhat * sum(gy*xhat)/M), in float64.
_input_grad = elementwise(
    "T gy, T x, float64 mean, float64 invstd, float64 scale, float64 gbias_m, float64 gweight_m",
    "T gx",
    "gx = (T)(scale * ((double)gy - gbias_m - ((double)x - mean) * invstd * gweight_m))",
    "tkr_bn_input_grad")
_scaled = elementwise("T gy, float64 scale", "T gx", "gx = (T)((double)gy * scale)",
                      "tkr_bn_scaled_grad")


@on_device
def batch_norm_forward(x, weight, bias, running_mean, running_var, training, momentum, eps):
    cp = cupy_module()
    n_channels, m = check_batch_norm_args(x, weight, bias, running_mean, running_var, training,
                                          momentum, eps)
    if training:
        axes = _channel_axes(x)
        mean = x.sum(axis=axes, dtype=np.float64) / m        # an empty batch gives nan
        sq_dev_sum = _sq_dev_sum(x, _per_channel(mean, x), axis=axes)
        var = sq_dev_sum / m
        if running_mean is not None and m > 0:
            running_mean[...] = (1 - momentum) * running_mean + momentum * mean
            running_var[...] = (1 - momentum) * running_var + momentum * (sq_dev_sum / (m - 1))
    else:
        mean = running_mean.astype(np.float64)
        var = running_var.astype(np.float64)
    invstd = 1.0 / cp.sqrt(var + eps)
    scale = invstd if weight is None else invstd * weight
    y = _normalize(x, _per_channel(mean.astype(x.dtype), x), _per_channel(scale.astype(x.dtype), x),
                   0 if bias is None else _per_channel(bias, x))
    return y, mean, invstd


@on_device
def batch_norm_backward(gy, x, weight, mean, invstd, training, input_grad=True):
    n_channels = x.shape[1]
    m = x.size // n_channels if n_channels else 0
    axes = _channel_axes(x)
    mean_c, invstd_c = _per_channel(mean, x), _per_channel(invstd, x)
    gbias = gy.sum(axis=axes, dtype=np.float64)
    gweight = _gy_xhat_sum(gy, x, mean_c, invstd_c, axis=axes)
    scale = _per_channel(invstd if weight is None else invstd * weight, x)
    if not input_grad:
        gx = None
    elif training and m > 0:
        gx = _input_grad(gy, x, mean_c, invstd_c, scale, _per_channel(gbias / m, x),
                         _per_channel(gweight / m, x))
    else:
        gx = _scaled(gy, scale)
    return gx, gweight.astype(x.dtype), gbias.astype(x.dtype)
