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
