"""CrossMapLRN2d: PyTorch's legacy (Lua Torch) local response normalization
across channels, for 4-D input.

Its forward is not local_response_norm's: PyTorch builds each channel's sum
of squares by sliding a window (torch/nn/modules/_functions.py), and the
slide never drops channel 0 once more than (size - 1) // 2 + 1 channels
follow it.  That window is reproduced exactly here, as a (C, C) 0/1 matrix
built by running the same slide on indicator vectors, applied to the
squares with one matmul; the rest is core ops, so the gradient is the
derivative of this forward.

PyTorch's own backward is not (its gradcheck fails for most sizes and
channel counts, and size=1 raises): gradients here equal PyTorch's only
where its backward is right (e.g. C <= size // 2), and are the true
derivative elsewhere.
"""
import numpy as np

from ... import ops
from ...backend import get_array_module
from ...tensor import Tensor
from .module import Module

__all__ = ["CrossMapLRN2d"]


def _window(channels, size):
    """window[c, j] = 1 where channel j's square counts in channel c's sum."""
    pre_pad = int((size - 1) / 2 + 1)
    window = np.zeros((channels, channels))
    window[0, :min(pre_pad, channels)] = 1
    for c in range(1, channels):
        window[c] = window[c - 1]
        if c < channels - pre_pad + 1:
            window[c, c + pre_pad - 1] += 1
        if c > pre_pad:
            window[c, c - pre_pad] -= 1
    return window


def cross_map_lrn2d(input, size, alpha=1e-4, beta=0.75, k=1):
    """x * (k + alpha / size * (sum of x^2 over the channel window))^-beta."""
    if input.ndim != 4:
        raise ValueError(f"CrossMapLRN2d: Expected input to be 4D, got {input.ndim}D instead.")
    n, c, h, w = input.shape
    xp = get_array_module(input.array)
    window = Tensor(xp.asarray(_window(c, size), dtype=input.array.dtype))
    squares = ops.reshape(input * input, (n, c, h * w))
    scale = ops.reshape(ops.matmul(window, squares), (n, c, h, w)) * (alpha / size) + k
    return scale ** -beta * input


class CrossMapLRN2d(Module):
    def __init__(self, size, alpha=1e-4, beta=0.75, k=1):
        super().__init__()
        self.size = size
        self.alpha = alpha
        self.beta = beta
        self.k = k

    def forward(self, input):
        return cross_map_lrn2d(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self):
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"
