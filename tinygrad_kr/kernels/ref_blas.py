"""NumPy twins of the BLAS kernels (csrc/blas.pyx)."""
from ..backend import get_array_module

__all__ = ["gemm", "batched_matmul", "bias_grad"]


def gemm(a, b, trans_a=False, trans_b=False, bias=None):
    """C = op(a) @ op(b) (+ bias), op(x) = x.T if trans else x.

    a, b: 2-D float32/float64 arrays of one dtype; bias: 1-D of length
    C.shape[1] or None.  Transposes are flags, so ``x @ W.T``, ``gy @ W`` and
    ``x.T @ gy`` need no transposed copies.  Returns a new C-contiguous array.
    """
    xp = get_array_module(a)
    c = xp.matmul(a.T if trans_a else a, b.T if trans_b else b)
    if bias is not None:
        c += bias
    return c


def batched_matmul(a, b, trans_a=False, trans_b=False):
    """Batched C[i] = op(a[i]) @ op(b[i]) for 3-D a (B, M, K) and b (B, K, N)
    (op as in gemm); a batch of 1 broadcasts.  Returns a new (B, M, N) array."""
    xp = get_array_module(a)
    return xp.matmul(xp.swapaxes(a, 1, 2) if trans_a else a, xp.swapaxes(b, 1, 2) if trans_b else b)


def bias_grad(gy):
    """The gradient of a bias added along axis 1: gy (N, C, *spatial) summed
    over every axis but 1, shape (C,), gy's dtype.  gy (N, C) is Linear's case,
    gy (N, C, H, W) a convolution's."""
    if getattr(gy, "ndim", 0) < 2:
        raise ValueError(f"bias_grad: gy must have at least 2 dims (N, C, ...), got shape "
                         f"{getattr(gy, 'shape', None)}")
    if gy.dtype.kind != "f":
        raise TypeError(f"bias_grad: gy must be float32 or float64, got {gy.dtype}")
    return gy.sum(axis=(0, *range(2, gy.ndim)))
