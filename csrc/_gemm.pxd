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
    # m*n*k below which a GEMM is not split over threads: OpenBLAS's own
    # threading starts at 4 * 65536, and a block under that is done faster
    # than threads wake.
    SPLIT_MIN_WORK = 262144
    # Split blocks are multiples of this many rows/columns (whole register
    # tiles for OpenBLAS's kernels, and whole cache lines of C).
    SPLIT_ALIGN = 16
    # OpenBLAS's SkylakeX-family sgemm (SkylakeX, Cooperlake, SapphireRapids
    # cores; AVX-512) runs a product of m*n*k <= 100^3 on "small-matrix"
    # kernels that skip packing the operands.  With the first BLAS operand
    # transposed (our row-major trans_b) it takes them only for an output of
    # <= 1200 elements and k >= 32, and never for two transposed operands
    # (its sgemm_small_kernel_permit).  On this engine's shapes they run
    # 15-25% faster than the packed path (an MLP's 128x784x100 forward:
    # 224 -> 183 us; its 100x784 weight gradient: 222 -> 185 us), and the
    # packed path is at its worst just above the limit (16x784x100: 52 vs
    # 106 GFLOP/s), so a float32 GEMM above the limit is cut into blocks
    # under it.  kernels/_blas_threads.py says when the BLAS has them.
    SMALL_MNK = 1000000
    SMALL_NT_OUTPUT = 1200
    SMALL_NT_MIN_K = 128    # below, the transposed small kernel loses (k=100: 33 vs 29 us; k=128: 36 vs 37)
    SMALL_NT_MIN_ROWS = 4   # and on blocks of fewer rows (n=400: 3-row blocks 401 vs 278 us)
    # They stream op(b) from cache once per block, unpacked: only worth it
    # while op(b) (k x n) stays in L2 (half of 1 MiB, float32).
    SMALL_B_FLOATS = 131072
    # x @ W^T with k < SMALL_NT_MIN_K (a Linear layer of up to 127 inputs)
    # runs on the packed path; on a transposed copy of W it runs as x @ Wt on
    # the small kernels instead, 15-20 % faster from 16 rows up (128x100x100:
    # 29.8 -> 23.9 us + the copy; 256x84x120: 56.5 -> 47.6 us).
    NT_COPY_MIN_ROWS = 16


cdef inline int gemm_threads(bint own_threads, Py_ssize_t m, Py_ssize_t n,
                             Py_ssize_t k) noexcept nogil:
    """Threads to split an (m, n, k) GEMM over: 1 unless the kernels own the
    threading (kernels/_blas_threads.py) and the GEMM is big enough."""
    if not own_threads or m * n * k < SPLIT_MIN_WORK:
        return 1
    return omp_get_max_threads()


cdef inline Py_ssize_t _ceil_div(Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    return (a + b - 1) // b


cdef inline bint small_kernel_cut(bint trans_a, bint trans_b, Py_ssize_t m, Py_ssize_t n,
                                  Py_ssize_t k, bint* by_rows, Py_ssize_t* pieces,
                                  Py_ssize_t* align) noexcept nogil:
    """How to cut an (m, n, k) float32 product above SMALL_MNK into blocks that
    OpenBLAS's small-matrix kernels take: sets by_rows, pieces (the number of
    blocks) and align; False when they would take none (or lose).  Each
    block re-reads one operand unpacked: rows re-read op(b) (k x n), columns
    op(a) (m x k), so we cut the way that re-reads the smaller one (as
    gemm_split does), and only while it stays in L2."""
    cdef Py_ssize_t most
    if trans_a and trans_b:
        return False
    if trans_b:
        # rows only: each block's output must stay <= SMALL_NT_OUTPUT elements
        if k < SMALL_NT_MIN_K or n * k > SMALL_B_FLOATS:
            return False
        most = min(SMALL_MNK // (n * k), SMALL_NT_OUTPUT // n)
        if most < SMALL_NT_MIN_ROWS:
            return False
        by_rows[0], align[0], pieces[0] = True, 1, _ceil_div(m, most)
    elif m >= n:
        if n * k > SMALL_B_FLOATS or SMALL_MNK // (n * k) < 1:
            return False
        by_rows[0], align[0], pieces[0] = True, 1, _ceil_div(m, SMALL_MNK // (n * k))
    else:
        # columns in whole 16-float vectors of c's rows
        most = SMALL_MNK // (m * k) // SPLIT_ALIGN * SPLIT_ALIGN
        if m * k > SMALL_B_FLOATS or most < SPLIT_ALIGN:
            return False
        by_rows[0], align[0], pieces[0] = False, SPLIT_ALIGN, _ceil_div(n, most)
    return True


cdef inline bint nt_via_copy(Py_ssize_t m, Py_ssize_t n, Py_ssize_t k) noexcept nogil:
    """Whether a float32 (m, n, k) product a @ b^T (b row-major n x k) should
    run as a @ (copy of b^T): where the small kernels would not take it
    transposed (k < SMALL_NT_MIN_K) and the copy (n x k) stays in L2."""
    return m >= NT_COPY_MIN_ROWS and k < SMALL_NT_MIN_K and n * k <= SMALL_B_FLOATS


cdef inline void transpose_f32(const float* src, Py_ssize_t rows, Py_ssize_t cols,
                               Py_ssize_t ld, float* dst) noexcept nogil:
    """dst (cols x rows, C-contiguous) = src^T, src rows x cols with row stride
    ld.  Contiguous writes, strided reads: faster here than 16 x 16 tiles
    (100 x 100: 1.5 vs 3 us), the whole source being in L1/L2 anyway."""
    cdef Py_ssize_t i, j
    for j in range(cols):
        for i in range(rows):
            dst[j * rows + i] = src[i * ld + j]


cdef struct GemmPlan:
    bint by_rows            # blocks of rows of c (else of columns)
    Py_ssize_t blocks       # how many
    Py_ssize_t align        # block bounds are multiples of this
    Py_ssize_t extent       # m or n


cdef inline GemmPlan gemm_plan(bint trans_a, bint trans_b, Py_ssize_t m, Py_ssize_t n,
                               Py_ssize_t k, int threads, bint small_kernels,
                               bint is_float) noexcept nogil:
    """How gemm_split cuts c: into ``threads`` blocks of rows (m >= n) or of
    columns, bounds on whole SPLIT_ALIGN tiles; or, with ``small_kernels``
    (the BLAS has OpenBLAS's SkylakeX small-matrix kernels; float32 only), a
    product above their limit into blocks under it, even on one thread."""
    cdef GemmPlan plan
    cdef Py_ssize_t pieces = threads if threads > 1 else 1
    plan.by_rows, plan.align = m >= n, SPLIT_ALIGN
    if small_kernels and is_float and m * n * k > SMALL_MNK \
            and small_kernel_cut(trans_a, trans_b, m, n, k, &plan.by_rows, &pieces,
                                 &plan.align) \
            and threads > 1:
        pieces = _ceil_div(pieces, threads) * threads   # whole rounds: as many blocks each
    plan.extent = m if plan.by_rows else n
    # at most one block per align step, so no block is empty
    plan.blocks = max(1, min(pieces, plan.extent // plan.align))
    return plan


cdef inline Py_ssize_t plan_bound(const GemmPlan* plan, Py_ssize_t t) noexcept nogil:
    """Where block t of a plan starts (t = plan.blocks: the end): an even cut
    with each bound rounded down to a multiple of plan.align, so blocks
    differ by at most one align step (and stay within small_kernel_cut's
    limit: the cut there was rounded to align too)."""
    if t >= plan.blocks:
        return plan.extent
    return t * plan.extent // plan.blocks // plan.align * plan.align


cdef inline void gemm_split(bint trans_a, bint trans_b, int m, int n, int k,
                            floating alpha, const floating* a, int lda,
                            const floating* b, int ldb,
                            floating beta, floating* c, int ldc, int threads,
                            bint small_kernels=False) noexcept nogil:
    """gemm_rowmajor with c cut into disjoint blocks (gemm_plan), spread over
    ``threads`` OpenMP threads that each call the single-threaded BLAS on
    their own blocks (no races; every element is still one dot product over
    k).  Never call this inside another prange (a nested team runs on one
    thread)."""
    cdef GemmPlan plan = gemm_plan(trans_a, trans_b, m, n, k, threads, small_kernels,
                                   floating is float)
    cdef Py_ssize_t t
    if plan.blocks <= 1:
        gemm_rowmajor(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
    elif threads <= 1:
        for t in range(plan.blocks):
            _gemm_part(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc,
                       plan.by_rows, plan_bound(&plan, t), plan_bound(&plan, t + 1))
    else:
        for t in prange(plan.blocks, schedule="static", num_threads=threads):
            _gemm_part(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc,
                       plan.by_rows, plan_bound(&plan, t), plan_bound(&plan, t + 1))


cdef inline void _gemm_part(bint trans_a, bint trans_b, int m, int n, int k,
                            floating alpha, const floating* a, int lda,
                            const floating* b, int ldb,
                            floating beta, floating* c, int ldc,
                            bint by_rows, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil:
    """Rows (or columns) lo .. hi of c = op(a) @ op(b)."""
    if hi <= lo:
        return
    if by_rows:     # rows lo.. of op(a) and of c
        gemm_rowmajor(trans_a, trans_b, <int> (hi - lo), n, k, alpha,
                      a + (lo if trans_a else lo * lda), lda, b, ldb,
                      beta, c + lo * ldc, ldc)
    else:           # columns lo.. of op(b) and of c
        gemm_rowmajor(trans_a, trans_b, m, <int> (hi - lo), k, alpha, a, lda,
                      b + (lo * ldb if trans_b else lo), ldb,
                      beta, c + lo, ldc)
