"""NumPy twins of the element-wise kernels (csrc/elementwise.pyx)."""
from ..backend import get_array_module

__all__ = ["relu_forward", "relu_backward", "leaky_relu_forward", "leaky_relu_backward"]


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
