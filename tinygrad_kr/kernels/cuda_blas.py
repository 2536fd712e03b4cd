"""GPU versions of the BLAS-group kernels (twins: ref_blas.py).

gemm and batched_matmul need none: their twins run on CuPy arrays as they
are, and ``cupy.matmul`` is cuBLAS.  ``bias_grad`` is two cuBLAS GEMVs
against vectors of ones, (ones(N) @ gy (N, C*S)) then (that (C, S) @ ones(S)):
CuPy's general reduction over the axes (0, 2, 3) cost 40-50 us of host time
and as much on the GPU per call on an H100, a GEMV a few us.
"""
from ..backend import cupy_module
from ._gpu import on_device, ones
from .ref_blas import bias_grad as _bias_grad_twin

__all__ = ["bias_grad"]


@on_device
def bias_grad(gy):
    if getattr(gy, "ndim", 0) < 2 or gy.dtype.kind != "f" or gy.size == 0:
        return _bias_grad_twin(gy)     # its errors, and the empty cases
    cp = cupy_module()
    n, c = gy.shape[:2]
    s = gy.size // (n * c)
    rows = cp.matmul(ones(n, gy.dtype, gy.device), cp.ascontiguousarray(gy).reshape(n, c * s))
    return rows if s == 1 else cp.matmul(rows.reshape(c, s), ones(s, gy.dtype, gy.device))
