"""GPU versions of the BLAS-group kernels (twins: ref_blas.py).

``gemm`` is one cuBLAS call (kernels/_cublas.py), with the compiled CPU
kernel's checks and messages.  The bias, when given, is broadcast into C
first and the product added to it (beta = 1), as the compiled kernel does.

``bias_grad`` is one or two cuBLAS GEMVs against a vector of ones: gy (N, C)
summed over its rows, gy (N, C, S...) first over each image's S positions,
then over the N images.  Nothing to zero, no cast pass, no atomics: the sums
are cuBLAS's, in gy's dtype (as PyTorch's), and the same on every run.

batched_matmul needs no GPU version: its twin runs on CuPy arrays as it is.
"""
import numpy as np

from ..backend import cupy_module
from . import _cublas
from ._gpu import on_device, ones
from .ref_blas import bias_grad as _bias_grad_twin
from .ref_blas import gemm as _gemm_twin

__all__ = ["gemm", "bias_grad"]

_FLOATS = (np.float32, np.float64)


@on_device
def gemm(a, b, trans_a=False, trans_b=False, bias=None):
    if getattr(a, "ndim", 0) != 2 or getattr(b, "ndim", 0) != 2 or a.dtype != b.dtype \
            or a.dtype not in _FLOATS:
        return _gemm_twin(a, b, trans_a, trans_b, bias)    # CuPy's own errors and rules
    m, ka = (a.shape[1], a.shape[0]) if trans_a else a.shape
    kb, n = (b.shape[1], b.shape[0]) if trans_b else b.shape
    if ka != kb:
        raise ValueError(f"gemm: inner dimensions differ: a {a.shape}"
                         f"{' transposed' if trans_a else ''} @ b {b.shape}"
                         f"{' transposed' if trans_b else ''} ({ka} != {kb})")
    out = cupy_module().empty((m, n), dtype=a.dtype)
    if bias is not None:
        if getattr(bias, "dtype", None) != a.dtype:
            raise TypeError(f"gemm: bias must be a {a.dtype} array, got "
                            f"{getattr(bias, 'dtype', type(bias).__name__)}")
        if bias.shape != (n,):
            raise ValueError(f"gemm: bias must have shape ({n},) for an output of shape "
                             f"({m}, {n}), got {bias.shape}")
        out[...] = bias       # C starts as the bias in every row; cuBLAS adds the product
    return _cublas.gemm(a, b, trans_a, trans_b, out, accumulate=bias is not None)


@on_device
def bias_grad(gy):
    if getattr(gy, "ndim", 0) < 2 or gy.dtype not in _FLOATS or gy.size == 0:
        return _bias_grad_twin(gy)     # its errors, and the empty cases
    n, c = gy.shape[:2]
    s = gy.size // (n * c)
    g = cupy_module().ascontiguousarray(gy)
    if s > 1:   # each (image, channel) summed over its positions: (N*C, S) @ ones(S)
        g = _cublas.gemv(g.reshape(n * c, s), ones(s, g.dtype, g.device))
    return _cublas.gemv(g.reshape(n, c), ones(n, g.dtype, g.device), trans=True)
