"""GPU versions of the element-wise kernels (twins: ref_elementwise.py).

One fused CuPy ElementwiseKernel each, where the twin on CuPy runs two to
five array passes (comparison, where, casts, scaling).  Same names,
signatures and results as the twins.
"""
import numpy as np

from ..backend import cupy_module
from ._gpu import elementwise, on_device
from .ref_elementwise import (check_dropout_args, dropout_keep_threshold, dropout_random_bits,
                              dropout_scale)

__all__ = ["relu_forward", "relu_backward", "leaky_relu_forward", "leaky_relu_backward",
           "dropout_forward", "dropout_backward"]

# `x < 0 ? 0 : x` keeps NaN, as NumPy's maximum(x, 0) does.
_relu = elementwise("T x", "T y", "y = x < 0 ? (T)0 : x", "tkr_relu")
_relu_grad = elementwise("T gy, T y", "T gx", "gx = y > 0 ? gy : (T)0", "tkr_relu_grad")
_leaky_relu = elementwise("T x, T slope", "T y", "y = x > 0 ? x : x * slope", "tkr_leaky_relu")
_leaky_relu_grad = elementwise("T gy, T x, T slope", "T gx", "gx = x > 0 ? gy : gy * slope",
                               "tkr_leaky_relu_grad")

# Dropout: the random bits come from the engine's host Generator (as for the
# twin, so a seed gives the same mask on every device); the GPU compares them
# with the threshold and applies the mask in one pass each.  x * (mask * scale)
# as in the twin, so a dropped inf or NaN gives NaN, as in PyTorch.
_keep_mask = elementwise("uint32 bits, uint64 threshold", "uint8 mask",
                         "mask = bits >= threshold", "tkr_dropout_mask")
_apply_mask = elementwise("T x, raw uint8 mask, T scale, int64 block", "T y",
                          "y = x * ((T)mask[i / block] * scale)", "tkr_dropout_apply")


@on_device
def relu_forward(x):
    return _relu(x)


@on_device
def relu_backward(gy, y):
    return _relu_grad(gy, y)


@on_device
def leaky_relu_forward(x, negative_slope):
    return _leaky_relu(x, float(negative_slope))


@on_device
def leaky_relu_backward(gy, x, negative_slope):
    return _leaky_relu_grad(gy, x, float(negative_slope))


@on_device
def dropout_forward(x, p, rng, block=1):
    cp = cupy_module()
    n_blocks = check_dropout_args(x, p, block)
    if p >= 1:
        return cp.zeros_like(x), cp.zeros(n_blocks, dtype=np.uint8)
    bits = cp.asarray(dropout_random_bits(rng, n_blocks))
    mask = _keep_mask(bits, dropout_keep_threshold(p))
    return _apply_mask(x, mask, dropout_scale(p, x.dtype), block), mask


@on_device
def dropout_backward(gy, mask, p, block=1):
    n_blocks = check_dropout_args(gy, p, block)
    if mask.shape != (n_blocks,) or mask.dtype != np.uint8:   # the twin's check
        raise ValueError(f"dropout_backward: mask must be uint8 of shape ({n_blocks},), got "
                         f"{mask.dtype} {tuple(mask.shape)}")
    return _apply_mask(gy, mask, dropout_scale(p, gy.dtype), block)

