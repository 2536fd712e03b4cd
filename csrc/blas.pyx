# cython: language_level=3
"""Compiled twins of tinygrad_kr/kernels/ref_blas.py: GEMM over SciPy's BLAS.

``gemm`` and ``batched_matmul`` call sgemm/dgemm from scipy.linalg.cython_blas
directly on the arrays' buffers.  Operands whose rows (or, for a transposed
view, columns) are contiguous are passed as they are, with the transpose flag
flipped for the column-major case, so ``x @ W.T`` or ``gy.T @ x`` copy
nothing.  Threads: SciPy's BLAS runs single-threaded and a large GEMM is
split over the OpenMP team (one pool of threads, not two fighting for the
cores: see tinygrad_kr/kernels/_blas_threads.py); a batch is spread over
the team entry by entry.  Without that take-over, BLAS threads itself and
we never call it inside a prange.
"""
import numpy as np
cimport numpy as cnp
from cython cimport floating
from cython.parallel cimport prange
from libc.string cimport memcpy

from _gemm cimport (GemmPlan, gemm_plan, gemm_rowmajor, gemm_split, gemm_threads, nt_via_copy,
                   plan_bound, transpose_f32)

cnp.import_array()

cdef Py_ssize_t INT_MAX = 2147483647   # BLAS takes 32-bit ints (scipy_openblas32)
cdef bint OWN_THREADS = False          # set by kernels/_blas_threads.py
cdef bint SMALL_KERNELS = False        # likewise: BLAS has OpenBLAS's small-matrix kernels


def _use_own_gemm_threads(bint on):
    """Split GEMMs over OpenMP threads (SciPy's BLAS was set to one thread)."""
    global OWN_THREADS
    OWN_THREADS = on


def _use_small_kernels(bint on):
    """Cut float32 GEMMs into blocks that OpenBLAS runs on its small-matrix
    kernels (csrc/_gemm.pxd, SMALL_MNK).  Returns the previous setting."""
    global SMALL_KERNELS
    was, SMALL_KERNELS = SMALL_KERNELS, on
    return was


def _gemm_blocks(bint trans_a, bint trans_b, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
                 int threads, bint float32=True):
    """(by_rows, [(lo, hi), ...]): how a float32 (or float64) GEMM is cut into
    blocks right now (for tests and the curious; see csrc/_gemm.pxd)."""
    cdef GemmPlan plan = gemm_plan(trans_a, trans_b, m, n, k, threads, SMALL_KERNELS, float32)
    return bool(plan.by_rows), [(plan_bound(&plan, t), plan_bound(&plan, t + 1))
                                for t in range(plan.blocks)]


cdef Py_ssize_t _row_stride(Py_ssize_t rows, Py_ssize_t cols,
                            Py_ssize_t s_row, Py_ssize_t s_col):
    """Row stride (elements) of a (rows, cols) matrix that BLAS can address
    as row-major with unit column stride, or -1.  Strides of size-1 dims do
    not matter, so they are not checked."""
    cdef Py_ssize_t min_ld = cols if cols > 1 else 1
    if cols > 1 and s_col != 1:
        return -1
    if rows <= 1:
        return min_ld
    if s_row < min_ld or s_row > INT_MAX:
        return -1
    return s_row


cdef tuple _blas_operand(cnp.ndarray x, bint trans):
    """Make the last two dims of x addressable by BLAS without copying if
    possible.  Returns (array, trans, ld, batch_step): ``trans`` is flipped
    when x is a transposed (column-major) view; ``batch_step`` is the stride
    of dim 0 in elements for a 3-D x (0 for a 2-D x or a batch of one).
    C-API reads only: this runs twice per matmul."""
    cdef int nd = cnp.PyArray_NDIM(x)
    cdef Py_ssize_t item = cnp.PyArray_ITEMSIZE(x)
    cdef cnp.npy_intp* dims = cnp.PyArray_DIMS(x)
    cdef cnp.npy_intp* strides = cnp.PyArray_STRIDES(x)
    cdef Py_ssize_t rows = dims[nd - 2], cols = dims[nd - 1]
    cdef Py_ssize_t ld = -1, s_row, s_col, step = 0
    cdef bint aligned = cnp.PyArray_ISALIGNED(x)
    cdef int d
    for d in range(nd):
        aligned = aligned and strides[d] % item == 0
    if aligned:
        s_row = strides[nd - 2] // item
        s_col = strides[nd - 1] // item
        ld = _row_stride(rows, cols, s_row, s_col)
        if ld < 0:
            ld = _row_stride(cols, rows, s_col, s_row)
            if ld >= 0:
                trans = not trans
        if nd == 3 and dims[0] > 1:
            step = strides[0] // item
    if ld < 0:
        x = np.ascontiguousarray(x)
        ld = cols if cols > 1 else 1
        step = rows * cols if (nd == 3 and dims[0] > 1) else 0
    return x, trans, ld, step


cdef void _gemm_batch(bint trans_a, bint trans_b, int m, int n, int k,
                      Py_ssize_t batch,
                      const floating* a, int lda, Py_ssize_t a_step,   # IN
                      const floating* b, int ldb, Py_ssize_t b_step,   # IN
                      floating beta, floating* c) noexcept nogil:      # IN/OUT
    """c[i] (m, n) = op(a[i]) @ op(b[i]) + beta * c[i] for i < batch; c is
    C-contiguous, a/b advance by a_step/b_step elements per batch entry."""
    cdef Py_ssize_t i
    cdef int threads = gemm_threads(OWN_THREADS, m, n, k * batch)
    if threads > 1 and batch >= threads:
        for i in prange(batch, schedule="static", num_threads=threads):
            gemm_rowmajor(trans_a, trans_b, m, n, k, <floating> 1, a + i * a_step, lda,
                          b + i * b_step, ldb, beta, c + i * m * n, n)
        return
    threads = gemm_threads(OWN_THREADS, m, n, k)
    for i in range(batch):
        gemm_split(trans_a, trans_b, m, n, k, <floating> 1, a + i * a_step, lda,
                   b + i * b_step, ldb, beta, c + i * m * n, n, threads, SMALL_KERNELS)


cdef _check_pair(a, b, int ndim, str fn):
    """dtype/ndim checks shared by gemm and batched_matmul."""
    if not isinstance(a, np.ndarray) or not isinstance(b, np.ndarray):
        raise TypeError(f"{fn}: a and b must be numpy arrays, got "
                        f"{type(a).__name__} and {type(b).__name__}")
    cdef int ta = cnp.PyArray_TYPE(<cnp.ndarray> a), tb = cnp.PyArray_TYPE(<cnp.ndarray> b)
    if ta != tb or not cnp.PyArray_ISNOTSWAPPED(<cnp.ndarray> a) \
            or not cnp.PyArray_ISNOTSWAPPED(<cnp.ndarray> b):
        if a.dtype != b.dtype:
            raise TypeError(f"{fn}: a and b must have the same dtype, got {a.dtype} and {b.dtype}")
        raise TypeError(f"{fn}: only native byte order is supported, got {a.dtype}")
    if ta != cnp.NPY_FLOAT32 and ta != cnp.NPY_FLOAT64:
        raise TypeError(f"{fn}: only float32 and float64 are supported, got {a.dtype}")
    if cnp.PyArray_NDIM(<cnp.ndarray> a) != ndim or cnp.PyArray_NDIM(<cnp.ndarray> b) != ndim:
        raise ValueError(f"{fn}: a and b must be {ndim}-D, got shapes "
                         f"{a.shape} and {b.shape}")


cdef _matmul(cnp.ndarray a, cnp.ndarray b, bint trans_a, bint trans_b,
             Py_ssize_t batch, cnp.ndarray c, bint accumulate):
    """Fill c (batch, M, N) or (M, N), C-contiguous, with op(a) @ op(b)
    (+ c's previous contents when accumulate).  Shapes already checked."""
    cdef Py_ssize_t m = c.shape[c.ndim - 2], n = c.shape[c.ndim - 1]
    cdef Py_ssize_t k = a.shape[a.ndim - 2] if trans_a else a.shape[a.ndim - 1]
    if batch == 0 or m == 0 or n == 0:
        return
    if k == 0:   # an empty sum; BLAS would agree, but its lda >= max(1, k) rules get awkward
        if not accumulate:
            c[...] = 0
        return
    if m > INT_MAX or n > INT_MAX or k > INT_MAX:
        raise ValueError(f"matrix dims ({m}, {n}, {k}) exceed BLAS's 32-bit limit")
    a, trans_a, lda, a_step = _blas_operand(a, trans_a)
    b, trans_b, ldb, b_step = _blas_operand(b, trans_b)
    cdef int im = m, in_ = n, ik = k, ilda = lda, ildb = ldb
    cdef Py_ssize_t sa = a_step, sb = b_step
    cdef bint ta = trans_a, tb = trans_b
    cdef void* pa = cnp.PyArray_DATA(a)
    cdef void* pb = cnp.PyArray_DATA(b)
    cdef void* pc = cnp.PyArray_DATA(c)
    if cnp.PyArray_TYPE(c) == cnp.NPY_FLOAT32:
        with nogil:
            _gemm_batch(ta, tb, im, in_, ik, batch, <const float*> pa, ilda, sa,
                        <const float*> pb, ildb, sb, <float> accumulate, <float*> pc)
    else:
        with nogil:
            _gemm_batch(ta, tb, im, in_, ik, batch, <const double*> pa, ilda, sa,
                        <const double*> pb, ildb, sb, <double> accumulate, <double*> pc)


def gemm(a, b, bint trans_a=False, bint trans_b=False, bias=None):
    """C = op(a) @ op(b) (+ bias), op(x) = x.T if trans else x.

    a, b: 2-D float32/float64 arrays of one dtype (any strides; copied only
    if neither rows nor columns are contiguous); bias: 1-D of length
    C.shape[1] or None, added by BLAS (beta=1 on a bias-filled C).  Returns a
    new C-contiguous (M, N) array.
    """
    _check_pair(a, b, 2, "gemm")
    cdef cnp.ndarray A = a, B = b
    cdef Py_ssize_t m = A.shape[1] if trans_a else A.shape[0]
    cdef Py_ssize_t ka = A.shape[0] if trans_a else A.shape[1]
    cdef Py_ssize_t kb = B.shape[1] if trans_b else B.shape[0]
    cdef Py_ssize_t n = B.shape[0] if trans_b else B.shape[1]
    if ka != kb:
        raise ValueError(f"gemm: inner dimensions differ: a {a.shape}"
                         f"{' transposed' if trans_a else ''} @ b {b.shape}"
                         f"{' transposed' if trans_b else ''} ({ka} != {kb})")
    cdef cnp.npy_intp c_dims[2]
    c_dims[0], c_dims[1] = m, n
    cdef cnp.ndarray c = cnp.PyArray_EMPTY(2, c_dims, cnp.PyArray_TYPE(A), 0)
    cdef cnp.ndarray bias_c
    cdef Py_ssize_t i, row_bytes = n * cnp.PyArray_ITEMSIZE(A)
    cdef char* c_data = <char*> cnp.PyArray_DATA(c)
    if bias is not None:
        if not isinstance(bias, np.ndarray) or bias.dtype != a.dtype:
            raise TypeError(f"gemm: bias must be a {a.dtype} numpy array, got "
                            f"{getattr(bias, 'dtype', type(bias).__name__)}")
        if bias.shape != (n,):
            raise ValueError(f"gemm: bias must have shape ({n},) for an output of shape "
                             f"({m}, {n}), got {bias.shape}")
        bias_c = np.ascontiguousarray(bias)
        for i in range(m):     # C starts as the bias in every row; BLAS adds the product
            memcpy(c_data + i * row_bytes, cnp.PyArray_DATA(bias_c), row_bytes)
    if trans_b and not trans_a and _transpose_first(B, m, n, ka):
        B, trans_b = _transposed_f32(B), False      # x @ W^T as x @ (W^T copied)
    _matmul(A, B, trans_a, trans_b, 1, c, bias is not None)
    return c


cdef bint _transpose_first(cnp.ndarray b, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k):
    """a @ b^T with a C-contiguous float32 b (a Linear layer's weight) where
    the small kernels take a @ (b^T copied) but not b transposed (_gemm.pxd),
    on one thread only: a copy this thread just wrote, read by the other
    cores, made a split product 1.6-2x slower (2 threads, 256x84x120: 39 ->
    49 us instead of 25)."""
    return SMALL_KERNELS and cnp.PyArray_TYPE(b) == cnp.NPY_FLOAT32 \
        and cnp.PyArray_IS_C_CONTIGUOUS(b) and nt_via_copy(m, n, k) \
        and gemm_threads(OWN_THREADS, m, n, k) == 1


cdef cnp.ndarray _transposed_f32(cnp.ndarray b):
    """A C-contiguous copy of b.T for a C-contiguous float32 b."""
    cdef Py_ssize_t rows = b.shape[0], cols = b.shape[1]
    cdef cnp.npy_intp dims[2]
    dims[0], dims[1] = cols, rows
    cdef cnp.ndarray out = cnp.PyArray_EMPTY(2, dims, cnp.NPY_FLOAT32, 0)
    cdef const float* src = <const float*> cnp.PyArray_DATA(b)
    cdef float* dst = <float*> cnp.PyArray_DATA(out)
    with nogil:
        transpose_f32(src, rows, cols, cols, dst)
    return out


def batched_matmul(a, b, trans_a=False, trans_b=False):
    """C[i] = op(a[i]) @ op(b[i]) for 3-D a (B, M, K) and b (B, K, N).

    A batch dim of 1 broadcasts against B.  float32/float64 of one dtype.
    Returns a new C-contiguous (B, M, N) array.
    """
    _check_pair(a, b, 3, "batched_matmul")
    cdef Py_ssize_t ba = a.shape[0], bb = b.shape[0]
    if ba != bb and ba != 1 and bb != 1:
        raise ValueError(f"batched_matmul: batch sizes differ: a {a.shape} and b {b.shape}")
    cdef Py_ssize_t m = a.shape[2] if trans_a else a.shape[1]
    cdef Py_ssize_t ka = a.shape[1] if trans_a else a.shape[2]
    cdef Py_ssize_t kb = b.shape[2] if trans_b else b.shape[1]
    cdef Py_ssize_t n = b.shape[1] if trans_b else b.shape[2]
    if ka != kb:
        raise ValueError(f"batched_matmul: inner dimensions differ: a {a.shape}"
                         f"{' transposed' if trans_a else ''} @ b {b.shape}"
                         f"{' transposed' if trans_b else ''} ({ka} != {kb})")
    cdef Py_ssize_t batch = bb if ba == 1 else ba
    c = np.empty((batch, m, n), dtype=a.dtype)
    _matmul(a, b, trans_a, trans_b, batch, c, False)
    return c


cdef enum:
    LANES = 16      # independent partial sums in _bias_grad


cdef void _bias_grad(const floating* g, double* out, Py_ssize_t n, Py_ssize_t c,
                     Py_ssize_t s) noexcept nogil:
    """out[j] = sum over i, k of g[i, j, k] for a C-contiguous g (n, c, s), in double."""
    cdef Py_ssize_t i, j, k
    cdef const floating* row
    for j in range(c):
        out[j] = 0
    if s == 1:          # Linear: (n, c) rows added in order, a vectorisable inner loop
        for i in range(n):
            row = g + i * c
            for j in range(c):
                out[j] += row[j]
        return
    # LANES independent sums, lane q taking elements k = q (mod LANES): a fixed
    # order the compiler can run as vector adds (one chain of dependent adds,
    # or four scalar ones, ran at a fraction of the memory speed).
    cdef double acc[LANES]
    cdef double total
    cdef Py_ssize_t q, whole = s - s % LANES
    for i in range(n):
        for j in range(c):
            row = g + (i * c + j) * s
            for q in range(LANES):
                acc[q] = 0
            k = 0
            while k < whole:
                for q in range(LANES):
                    acc[q] = acc[q] + row[k + q]
                k = k + LANES
            total = 0
            for q in range(LANES):
                total = total + acc[q]
            while k < s:
                total = total + row[k]
                k = k + 1
            out[j] += total


def bias_grad(gy):
    """The gradient of a bias added along axis 1: gy (N, C, *spatial) summed
    over every axis but 1 -> (C,), gy's dtype (summed in float64)."""
    # dtype and layout read through the C API: this runs once per layer and
    # step, and each NumPy-level dtype comparison costs ~0.3 us
    if not isinstance(gy, np.ndarray):
        raise TypeError(f"bias_grad: gy must be a numpy array, got {type(gy).__name__}")
    cdef cnp.ndarray g = gy
    if cnp.PyArray_NDIM(g) < 2:
        raise ValueError(f"bias_grad: gy must have at least 2 dims (N, C, ...), got shape "
                         f"{gy.shape}")
    cdef int kind = cnp.PyArray_TYPE(g)
    if kind != cnp.NPY_FLOAT32 and kind != cnp.NPY_FLOAT64:
        raise TypeError(f"bias_grad: gy must be float32 or float64, got {gy.dtype}")
    if not cnp.PyArray_ISNOTSWAPPED(g):     # same type number, bytes in the other order
        g = g.astype(g.dtype.newbyteorder("="), order="C")
    g = cnp.PyArray_GETCONTIGUOUS(g)
    cdef Py_ssize_t n = g.shape[0], c = g.shape[1]
    cdef Py_ssize_t s = cnp.PyArray_SIZE(g) // (n * c) if n * c else 0
    cdef cnp.npy_intp dims[1]
    dims[0] = c
    cdef cnp.ndarray out = cnp.PyArray_ZEROS(1, dims, cnp.NPY_FLOAT64, 0)
    if cnp.PyArray_SIZE(g):
        if kind == cnp.NPY_FLOAT32:
            with nogil:
                _bias_grad(<const float*> cnp.PyArray_DATA(g), <double*> cnp.PyArray_DATA(out),
                           n, c, s)
        else:
            with nogil:
                _bias_grad(<const double*> cnp.PyArray_DATA(g), <double*> cnp.PyArray_DATA(out),
                           n, c, s)
    return out if kind == cnp.NPY_FLOAT64 else out.astype(np.float32)


def _transposed(b):
    """Test hook: the C-contiguous copy of b.T that a @ b^T may run on."""
    return _transposed_f32(np.ascontiguousarray(b, dtype=np.float32))
