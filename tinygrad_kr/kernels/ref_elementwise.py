"""NumPy twins of the element-wise kernels (csrc/elementwise.pyx)."""
import numpy as np

from ..backend import get_array_module

__all__ = ["relu_forward", "relu_backward", "leaky_relu_forward", "leaky_relu_backward",
           "dropout_forward", "dropout_backward"]


def relu_forward(x):
    """y = max(x, 0)."""
    xp = get_array_module(x)
    return xp.maximum(x, 0)


def relu_backward(gy, y):
    """gx = gy where y > 0 else 0 (y is the forward output)."""
    xp = get_array_module(gy)
    return xp.where(y > 0, gy, 0).astype(gy.dtype, copy=False)


def leaky_relu_forward(x, negative_slope):
    """y = x if x > 0 else negative_slope * x."""
    xp = get_array_module(x)
    return xp.where(x > 0, x, x * x.dtype.type(negative_slope))


def leaky_relu_backward(gy, x, negative_slope):
    """gx = gy if x > 0 else negative_slope * gy."""
    xp = get_array_module(gy)
    return xp.where(x > 0, gy, gy * gy.dtype.type(negative_slope))


# -- dropout -------------------------------------------------------------------
#
# The mask is drawn as one uint32 per block from the engine's NumPy Generator
# (tinygrad_kr.random.get_rng), so manual_seed reproduces it and the compiled
# kernel (which draws the same way) gives the very same mask.  A block is
# ``block`` consecutive elements: 1 for dropout, a channel's H*W for dropout2d.

_TWO_32 = 1 << 32


def check_dropout_args(x, p, block):
    """Validate dropout's arguments; return the number of blocks (mask size)."""
    if x.dtype.kind != "f":
        raise TypeError(f"dropout: input must be a floating point array, got {x.dtype}")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if block < 1 or x.size % block:
        raise ValueError(f"dropout: block of {block} elements does not divide an input of "
                         f"{x.size} elements")
    return x.size // block


def dropout_keep_threshold(p):
    """A random uint32 r keeps its block when r >= threshold: P(keep) = 1 - p
    (to within 2^-33).  Only valid for p < 1 (p == 1 drops everything)."""
    return int(round(p * _TWO_32))


def dropout_random_bits(rng, n_blocks):
    """One random uint32 per block from the NumPy Generator ``rng`` (a host array)."""
    return rng.integers(0, _TWO_32, size=n_blocks, dtype=np.uint32)


def dropout_scale(p, dtype):
    """1 / (1 - p) in ``dtype`` (0 for p == 1, where every element is dropped)."""
    return dtype.type(0.0 if p >= 1 else 1.0 / (1.0 - p))


def dropout_forward(x, p, rng, block=1):
    """y = x * mask / (1 - p) with mask ~ Bernoulli(1 - p), one draw per block.

    x: float array whose size is a multiple of ``block``; rng: a NumPy Generator.
    Returns ``(y, mask)``: y of x's shape and dtype, mask uint8 (x.size // block,)
    of 0/1, for dropout_backward.  p == 1 returns zeros without drawing.
    """
    xp = get_array_module(x)
    n_blocks = check_dropout_args(x, p, block)
    if p >= 1:
        return xp.zeros_like(x), xp.zeros(n_blocks, dtype=np.uint8)
    bits = xp.asarray(dropout_random_bits(rng, n_blocks))
    mask = (bits >= dropout_keep_threshold(p)).astype(np.uint8)
    return _apply_mask(x, mask, dropout_scale(p, x.dtype), block), mask


def dropout_backward(gy, mask, p, block=1):
    """gx = gy * mask / (1 - p), the mask from dropout_forward."""
    n_blocks = check_dropout_args(gy, p, block)
    if mask.shape != (n_blocks,) or mask.dtype != np.uint8:
        raise ValueError(f"dropout_backward: mask must be uint8 of shape ({n_blocks},), got "
                         f"{mask.dtype} {tuple(mask.shape)}")
    return _apply_mask(gy, mask, dropout_scale(p, gy.dtype), block)


def _apply_mask(x, mask, scale, block):
    """x * (mask * scale), the mask repeated over each block."""
    factor = mask.astype(x.dtype) * scale
    return (x.reshape(-1, block) * factor[:, None]).reshape(x.shape)
