"""Direct cuBLAS calls on row-major (C-order) CuPy matrices, for the GPU kernels.

``cupy.matmul`` is general (broadcasting, batches, any strides, dtype
promotion); the kernels here need one thing: op(A) @ op(B) or op(A) @ x on
2-D operands that are contiguous one way or the other, into a given output
(the chunked convolution weight gradient accumulates in place, beta = 1).
Measured on an H200's host: a 128x100x100 product 21.4 us this way, 24.3 us
through ``cupy.matmul``; most of either is cuBLAS's own host time per call
(~15-45 us inside a training step), so the number of cuBLAS calls is what
matters, not this wrapper.

Row-major to cuBLAS's column-major: a C-contiguous (r, c) matrix X is the
column-major (c, r) matrix X^T with leading dimension c, so C = op(A) op(B)
is computed as C^T = op(B)^T op(A)^T (cuBLAS's first operand is B), and
y = A x as y = (A^T)^T x.  An F-contiguous operand (a transposed view such as
``w.T``) is the C-contiguous matrix of its transpose with the flag flipped.

The library, the handle and how an array's address is read are functions, so
that the tests can run these calls on the CPU stand-in (tests/cuda_on_cpu.py).
"""
import numpy as np

from ..backend import cupy_module

__all__ = ["gemm", "gemv"]

OP_N, OP_T = 0, 1            # cublasOperation_t
POINTER_MODE_HOST = 0        # alpha/beta read from host memory
INT_MAX = 2**31 - 1          # cuBLAS's dimensions are C ints

_SCALARS = {}                # dtype -> (one, zero): host arrays kept alive for their addresses
_library = None


def library():
    """CuPy's cuBLAS bindings (``cupy_backends.cuda.libs.cublas``)."""
    global _library
    if _library is None:
        from cupy_backends.cuda.libs import cublas
        _library = cublas
    return _library


def handle():
    """The current device's cuBLAS handle, bound by CuPy to the current stream."""
    return cupy_module().cuda.device.get_cublas_handle()


def address(a):
    return a.data.ptr


def _one_zero(dtype):
    pair = _SCALARS.get(dtype)
    if pair is None:
        arrays = (np.ones(1, dtype), np.zeros(1, dtype))
        pair = _SCALARS[dtype] = (arrays, arrays[0].ctypes.data, arrays[1].ctypes.data)
    return pair[1], pair[2]


def _operand(a, trans):
    """(the array to pass, leading dimension, cuBLAS op) of a 2-D operand used
    as op(a), a = a.T if trans; copies only an operand contiguous neither way."""
    flags = a.flags
    if not flags.c_contiguous:
        if flags.f_contiguous:       # a.T is C-contiguous: pass it, transposed the other way
            a, trans = a.T, not trans
        else:
            a = cupy_module().ascontiguousarray(a)
    return a, max(1, a.shape[1]), (OP_T if trans else OP_N)


def _call(fn, *args):
    """fn(handle, *args) with host-side alpha/beta, restoring the handle's mode."""
    lib, h = library(), handle()
    mode = lib.getPointerMode(h)
    if mode != POINTER_MODE_HOST:
        lib.setPointerMode(h, POINTER_MODE_HOST)
    try:
        fn(h, *args)
    finally:
        if mode != POINTER_MODE_HOST:
            lib.setPointerMode(h, mode)


def gemm(a, b, trans_a=False, trans_b=False, out=None, accumulate=False):
    """out = op(a) @ op(b) (+ out's contents when accumulate); op(x) = x.T if trans.

    a, b: 2-D float32/float64 CuPy arrays of one dtype, shapes already checked
    by the caller; out: a C-contiguous (m, n) array of that dtype, or None for
    a new one.  Returns out."""
    m, k = (a.shape[1], a.shape[0]) if trans_a else a.shape
    n = b.shape[0] if trans_b else b.shape[1]
    if out is None:
        out = cupy_module().empty((m, n), dtype=a.dtype)
    if m == 0 or n == 0:
        return out
    if k == 0:      # an empty sum (cuBLAS's ld >= max(1, rows) rules get awkward)
        if not accumulate:
            out.fill(0)
        return out
    if max(m, n, k) > INT_MAX:
        raise ValueError(f"matrix dims ({m}, {n}, {k}) exceed cuBLAS's 32-bit limit")
    a, lda, op_a = _operand(a, trans_a)
    b, ldb, op_b = _operand(b, trans_b)
    one, zero = _one_zero(a.dtype)
    lib = library()
    fn = lib.sgemm if a.dtype == np.float32 else lib.dgemm
    # C^T (n, m) = op(B)^T op(A)^T in column-major terms
    _call(fn, op_b, op_a, n, m, k, one, address(b), ldb, address(a), lda,
          one if accumulate else zero, address(out), n)
    return out


def gemv(a, x, trans=False):
    """op(a) @ x for a C-contiguous 2-D float32/float64 a (r, c) and a
    contiguous vector x of its dtype (length c, or r when trans): a new vector."""
    r, c = a.shape
    out = cupy_module().empty(c if trans else r, dtype=a.dtype)
    if out.size == 0:
        return out
    if r == 0 or c == 0:     # an empty sum
        out.fill(0)
        return out
    if max(r, c) > INT_MAX:
        raise ValueError(f"matrix dims ({r}, {c}) exceed cuBLAS's 32-bit limit")
    one, zero = _one_zero(a.dtype)
    lib = library()
    fn = lib.sgemv if a.dtype == np.float32 else lib.dgemv
    # a is the column-major (c, r) matrix a^T: a @ x = (a^T)^T x, a.T @ x = (a^T) x
    _call(fn, OP_N if trans else OP_T, c, r, one, address(a), c, address(x), 1,
          zero, address(out), 1)
    return out
