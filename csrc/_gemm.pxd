# cython: language_level=3
"""Row-major GEMM on raw pointers, shared by csrc/blas.pyx and csrc/conv.pyx.

Only ``cdef inline`` functions live here, so cimporting this file adds no
runtime module.  BLAS is column-major: a row-major (r, c) buffer is the
column-major (c, r) matrix X^T.  So for row-major C = op(A) op(B) we ask BLAS
for C^T = op(B)^T op(A)^T, i.e. we swap the operands and keep each operand's
own transpose flag.  Transposed operands therefore never need a copy.
"""
from cython cimport floating
from scipy.linalg.cython_blas cimport sgemm, dgemm


cdef inline void gemm_rowmajor(bint trans_a, bint trans_b, int m, int n, int k,
                               floating alpha, const floating* a, int lda,
                               const floating* b, int ldb,
                               floating beta, floating* c, int ldc) noexcept nogil:
    """c (m, n) = alpha * op(a) @ op(b) + beta * c, all row-major.

    a holds op(a) (m, k) (stored (k, m) when trans_a); lda is its row stride
    in elements; likewise b and ldb.  Callers guarantee m, n, k > 0 and
    lda/ldb/ldc >= the stored row length (BLAS's own argument rules).
    """
    cdef char flag_b = b'T' if trans_b else b'N'   # b is BLAS's first operand
    cdef char flag_a = b'T' if trans_a else b'N'
    if floating is float:
        sgemm(&flag_b, &flag_a, &n, &m, &k, &alpha, <float*> b, &ldb,
              <float*> a, &lda, &beta, c, &ldc)
    else:
        dgemm(&flag_b, &flag_a, &n, &m, &k, &alpha, <double*> b, &ldb,
              <double*> a, &lda, &beta, c, &ldc)


from cython.parallel cimport prange
from _util cimport omp_get_max_threads

cdef enum:
    # m*n*k below which a GEMM is not split: OpenBLAS's own threading starts
    # at 4 * 65536, and a block under that is done faster than threads wake.
    SPLIT_MIN_WORK = 262144
    # Split blocks are multiples of this many rows/columns (whole register
    # tiles for OpenBLAS's kernels, and whole cache lines of C).
    SPLIT_ALIGN = 16


cdef inline int gemm_threads(bint own_threads, Py_ssize_t m, Py_ssize_t n,
                             Py_ssize_t k) noexcept nogil:
    """Threads to split an (m, n, k) GEMM over: 1 unless the kernels own the
    threading (kernels/_blas_threads.py) and the GEMM is big enough."""
    if not own_threads or m * n * k < SPLIT_MIN_WORK:
        return 1
    return omp_get_max_threads()


cdef inline void gemm_split(bint trans_a, bint trans_b, int m, int n, int k,
                            floating alpha, const floating* a, int lda,
                            const floating* b, int ldb,
                            floating beta, floating* c, int ldc, int threads) noexcept nogil:
    """gemm_rowmajor with c cut into ``threads`` blocks of rows (m >= n) or of
    columns, each done by one OpenMP thread calling the single-threaded BLAS.
    The blocks of c are disjoint (no races), and every element is still one
    dot product over k, so thread counts agree to rounding.  Never call this
    inside another prange (a nested team runs on one thread)."""
    cdef bint by_rows = m >= n
    cdef Py_ssize_t extent = m if by_rows else n
    cdef Py_ssize_t step = (extent + threads - 1) // threads
    step = (step + SPLIT_ALIGN - 1) // SPLIT_ALIGN * SPLIT_ALIGN
    cdef Py_ssize_t blocks = (extent + step - 1) // step if step > 0 else 0
    cdef Py_ssize_t t, lo, size
    if threads <= 1 or blocks <= 1:
        gemm_rowmajor(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
        return
    for t in prange(blocks, schedule="static", num_threads=threads):
        lo = t * step
        size = min(step, extent - lo)
        if by_rows:     # rows lo.. of op(a) and of c
            gemm_rowmajor(trans_a, trans_b, <int> size, n, k, alpha,
                          a + (lo if trans_a else lo * lda), lda, b, ldb,
                          beta, c + lo * ldc, ldc)
        else:           # columns lo.. of op(b) and of c
            gemm_rowmajor(trans_a, trans_b, m, <int> size, k, alpha, a, lda,
                          b + (lo * ldb if trans_b else lo), ldb,
                          beta, c + lo, ldc)
