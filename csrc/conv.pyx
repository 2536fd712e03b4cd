# cython: language_level=3
"""Compiled twins of tinygrad_kr/kernels/ref_conv.py: im2col + BLAS GEMM.

Layouts are PyTorch's: x (N, C, H, W), w (O, C, kh, kw), y/gy (N, O, OH, OW);
stride/padding/dilation are (h, w) pairs; groups == 1.

A chunk of ``count`` images is unrolled into a column matrix
col (K = C*kh*kw, count*L) with L = OH*OW, in parallel over (image, channel)
planes.  BLAS then does all the arithmetic:

    forward          rows (O, count*L) = w (O, K) @ col
    backward input   gcol (K, count*L) = w^T @ rows(gy);  col2im(gcol) -> gx
    backward weight  gw^T (K, O)      += col @ rows_t(gy)   (rows_t: (count*L, O))

``rows`` is y or gy regrouped from (count, O, L) to (O, count*L), a cheap
O(output) copy.  Each chunk runs two or three OpenMP loops (im2col, regroup)
with the GEMMs between them, never inside.  A GEMM is split over the same
OpenMP team (gemm_split, with SciPy's BLAS on one thread: see
tinygrad_kr/kernels/_blas_threads.py), so one pool of threads does all the
work; few parallel regions per call keep thread hand-offs rare.  Chunks are small (COL_BUDGET_BYTES): col is still in cache when the
GEMM reads it, and small temporaries are recycled by malloc instead of
being mapped (and page-faulted) afresh on every call, which measured up to
1.7x slower with 32 MiB chunks.  Within a chunk the GEMMs go over column
blocks sized for OpenBLAS's fast small-matrix kernels when the layer is
thin enough (see _gemm_block).
"""
import threading

import numpy as np
cimport numpy as cnp
from cython cimport floating
from cython.parallel cimport prange
from libc.string cimport memcpy

from _util cimport data_ptr, float_array, int_pair, num_threads, omp_get_max_threads
from _gemm cimport SMALL_MNK, SPLIT_MIN_WORK, gemm_split, gemm_threads

cnp.import_array()

cdef extern from *:
    """
    /* d[0:n] += s[0:n] for rows that cannot overlap: restrict spares the
       compiler its run-time overlap test, a large part of a 10-float row. */
    static inline void tkr_add_row_f(float* __restrict d, const float* __restrict s, Py_ssize_t n)
    { for (Py_ssize_t k = 0; k < n; k++) d[k] += s[k]; }
    static inline void tkr_add_row_d(double* __restrict d, const double* __restrict s, Py_ssize_t n)
    { for (Py_ssize_t k = 0; k < n; k++) d[k] += s[k]; }
    static inline void tkr_copy_row_f(float* __restrict d, const float* __restrict s, Py_ssize_t n)
    { for (Py_ssize_t k = 0; k < n; k++) d[k] = s[k]; }
    static inline void tkr_copy_row_d(double* __restrict d, const double* __restrict s, Py_ssize_t n)
    { for (Py_ssize_t k = 0; k < n; k++) d[k] = s[k]; }
    """
    void tkr_copy_row_f(float* d, const float* s, Py_ssize_t n) noexcept nogil
    void tkr_copy_row_d(double* d, const double* s, Py_ssize_t n) noexcept nogil
    void tkr_add_row_f(float* d, const float* s, Py_ssize_t n) noexcept nogil
    void tkr_add_row_d(double* d, const double* s, Py_ssize_t n) noexcept nogil


cdef Py_ssize_t INT_MAX = 2147483647          # BLAS takes 32-bit ints
MAX_PLANE = 1 << 62                             # padded H * W: loop indices stay in Py_ssize_t
cdef Py_ssize_t COL_BUDGET_BYTES = 1 << 20    # im2col buffer per chunk (1 MiB: stays in cache)
cdef Py_ssize_t MIN_BLOCK = 128               # narrower GEMM blocks are not worth it
cdef Py_ssize_t WIDE_COLS = 512               # columns per chunk when the weights are large
cdef Py_ssize_t WIDE_BUDGET_BYTES = 1 << 25   # col for such chunks: at most 32 MiB
cdef Py_ssize_t TEAM_PARTIAL_BYTES = 1 << 20  # largest weight gradient teams sum copies of
cdef bint OWN_THREADS = False                  # set by kernels/_blas_threads.py
cdef bint SMALL_KERNELS = False                # likewise: BLAS has small-matrix kernels


def _use_own_gemm_threads(bint on):
    """Split GEMMs over OpenMP threads (SciPy's BLAS was set to one thread)."""
    global OWN_THREADS
    OWN_THREADS = on


def _use_small_kernels(bint on):
    """Cut a chunk's GEMM into column blocks that OpenBLAS runs on its
    small-matrix kernels (_gemm_block).  Returns the previous setting."""
    global SMALL_KERNELS
    was, SMALL_KERNELS = SMALL_KERNELS, on
    return was


cdef struct Geometry:
    Py_ssize_t N, C, H, W          # input
    Py_ssize_t O, kh, kw           # weight
    Py_ssize_t sh, sw, ph, pw, dh, dw
    Py_ssize_t OH, OW              # output


# ----------------------------------------------------------------- checks

cdef Geometry _geometry(tuple x_shape, tuple w_shape, stride, padding, dilation, str fn) except *:
    """Validate a conv geometry (same rules as ref_conv._check)."""
    cdef Geometry g
    cdef object sh, sw, ph, pw, dh, dw, spare_h, spare_w, OH, OW, C, kh, kw
    if len(x_shape) != 4 or len(w_shape) != 4:
        raise ValueError(f"{fn}: expected x (N, C, H, W) and w (O, C, kh, kw), "
                         f"got shapes {x_shape} and {w_shape}")
    if x_shape[1] != w_shape[1]:
        raise ValueError(f"{fn}: x has {x_shape[1]} channels but w {w_shape} expects {w_shape[1]}")
    if min(x_shape) < 0 or min(w_shape) < 0:
        raise ValueError(f"{fn}: negative dimension in x {x_shape} or w {w_shape}")
    g.N, g.C, g.H, g.W = x_shape
    g.O, _, g.kh, g.kw = w_shape
    # The geometry is checked in Python integers: on absurd values (dilation
    # 2**62) C arithmetic would overflow into a valid-looking geometry.
    sh, sw = int_pair(stride, "stride", fn)
    ph, pw = int_pair(padding, "padding", fn)
    dh, dw = int_pair(dilation, "dilation", fn)
    if min(sh, sw) < 1 or min(dh, dw) < 1 or min(ph, pw) < 0:
        raise ValueError(f"{fn}: need stride >= 1, dilation >= 1, padding >= 0, got "
                         f"stride={tuple(stride)} padding={tuple(padding)} "
                         f"dilation={tuple(dilation)}")
    # spare = padded size - kernel extent; negative means no output
    spare_h = g.H + 2 * ph - dh * (g.kh - 1) - 1
    spare_w = g.W + 2 * pw - dw * (g.kw - 1) - 1
    if spare_h < 0 or spare_w < 0:
        raise ValueError(f"{fn}: kernel {w_shape[2:]} (dilation {tuple(dilation)}) is larger "
                         f"than the padded input {x_shape[2:]} + 2*{tuple(padding)}")
    OH, OW = spare_h // sh + 1, spare_w // sw + 1
    C, kh, kw = g.C, g.kh, g.kw          # Python ints: the products below cannot wrap
    if (C * kh * kw > INT_MAX or OH * OW > INT_MAX or g.O > INT_MAX
            or (g.H + 2 * ph) * (g.W + 2 * pw) > MAX_PLANE):
        raise ValueError(f"{fn}: problem too large for 32-bit BLAS dims")
    g.OH, g.OW = OH, OW
    # Now every index the loops form is below MAX_PLANE.  A stride beyond the
    # padded input leaves one output, for which it does not matter.
    g.sh, g.sw = min(sh, spare_h + 1), min(sw, spare_w + 1)
    g.ph, g.pw, g.dh, g.dw = ph, pw, dh, dw
    return g


cdef Py_ssize_t _chunk(const Geometry* g, Py_ssize_t itemsize):
    """Images per chunk: as many as fit col (K, chunk*L) in the budget, >= 1.

    Every chunk's GEMM reads (forward, backward input) or accumulates into
    (backward weight) the whole (O, K) weight matrix.  Where that matrix is
    bigger than the budget (a ResNet's deep layers: 512 x 4608) and a chunk
    holds few columns (4x4 outputs per image), those GEMMs stream the weights
    through memory once per chunk and do little arithmetic per byte, so the
    chunk then takes at least WIDE_COLS columns."""
    cdef Py_ssize_t K = g.C * g.kh * g.kw, L = g.OH * g.OW
    cdef Py_ssize_t chunk = COL_BUDGET_BYTES // max(1, K * L * itemsize)
    if K * g.O * itemsize > COL_BUDGET_BYTES:
        chunk = max(chunk, min((WIDE_COLS + L - 1) // max(1, L),
                               WIDE_BUDGET_BYTES // max(1, K * L * itemsize)))
    chunk = max(1, min(chunk, g.N))
    while chunk > 1 and chunk * L > INT_MAX:
        chunk //= 2
    return chunk


cdef inline Py_ssize_t _gemm_block(Py_ssize_t O, Py_ssize_t K, Py_ssize_t cols) noexcept nogil:
    """Columns per GEMM call.  OpenBLAS's SkylakeX-family cores run products
    of M*N*K <= 1e6 on unpacked small-matrix kernels (csrc/_gemm.pxd),
    about 2x faster than its packed path for thin conv shapes, so where the
    BLAS has them we split the chunk's columns into such blocks when a block
    keeps >= MIN_BLOCK columns; otherwise one GEMM takes the whole chunk.
    Either is then split over the threads."""
    if not SMALL_KERNELS:
        return cols
    cdef Py_ssize_t block = SMALL_MNK // max(1, O * K)
    return block if MIN_BLOCK <= block < cols else cols


# ------------------------------------------------------- im2col / col2im

cdef inline Py_ssize_t _ceil_div_pos(Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    """ceil(a / b) for b > 0, or 0 when a <= 0."""
    return (a + b - 1) // b if a > 0 else 0


cdef inline void _valid_range(Py_ssize_t tap, Py_ssize_t size, Py_ssize_t stride,
                              Py_ssize_t pad, Py_ssize_t out,
                              Py_ssize_t* lo, Py_ssize_t* hi) noexcept nogil:
    """Outputs o in [lo, hi) read input o*stride - pad + tap inside [0, size).
    Called per plane and tap, so stride 1 skips the (slow) integer division."""
    if stride == 1:
        lo[0] = min(max(pad - tap, 0), out)
        hi[0] = max(min(max(size + pad - tap, 0), out), lo[0])
    else:
        lo[0] = min(_ceil_div_pos(pad - tap, stride), out)
        hi[0] = max(min(_ceil_div_pos(size + pad - tap, stride), out), lo[0])


cdef inline void _im2col_row(const floating* src, floating* out, Py_ssize_t row,
                             Py_ssize_t j, Py_ssize_t lo, Py_ssize_t hi,
                             const Geometry* g) noexcept nogil:
    """One output row of tap column j: out[ow] = x[row, ow*sw - pw + j*dw],
    zero where that falls in the padding ([lo, hi) are the columns inside).
    ``row`` is an input row index, zeros if outside [0, H)."""
    cdef Py_ssize_t ow
    cdef const floating* s
    if row < 0 or row >= g.H:
        for ow in range(g.OW):
            out[ow] = 0
        return
    s = src + row * g.W + (lo * g.sw - g.pw + j * g.dw)
    for ow in range(lo):
        out[ow] = 0
    if g.sw == 1:
        if floating is float:
            tkr_copy_row_f(out + lo, s, hi - lo)
        else:
            tkr_copy_row_d(out + lo, s, hi - lo)
    else:
        for ow in range(hi - lo):
            out[lo + ow] = s[ow * g.sw]
    for ow in range(hi, g.OW):
        out[ow] = 0


cdef void _im2col_plane(const floating* src, floating* dst, Py_ssize_t ld,
                        const Geometry* geometry) noexcept nogil:
    """One (n, c) plane src (H, W) -> its kh*kw col rows dst[tap * ld + oh*OW + ow]
    (zeros where the tap falls in the padding).

    Rows are short (OW elements), so copying them one by one costs more in
    loop overhead than in bytes.  With vertical stride and dilation 1, tap
    (i, j) is tap (0, j) moved up by i rows: output row oh of tap (i, j) reads
    input row oh + i - ph, which is row oh + i of tap (0, j).  So tap (0, j) is
    built row by row and each later tap is one long copy of it plus its last
    i rows: 2.5x fewer short rows for LeNet's 5x5 (the kernel's hot spot)."""
    # A local copy lets the compiler keep the sizes in registers: extensions
    # build with -fno-strict-aliasing, so every float store could otherwise
    # change *geometry and force a reload.
    cdef Geometry g = geometry[0]
    cdef Py_ssize_t i, j, oh, lo, hi, reuse
    cdef floating* first
    cdef floating* tap_row
    cdef bint shift = g.sh == 1 and g.dh == 1
    for j in range(g.kw):
        _valid_range(j * g.dw, g.W, g.sw, g.pw, g.OW, &lo, &hi)
        first = dst + j * ld
        for i in range(g.kh):
            tap_row = dst + (i * g.kw + j) * ld
            reuse = max(g.OH - i, 0) if shift and i > 0 else 0
            if reuse:
                memcpy(tap_row, first + i * g.OW, reuse * g.OW * sizeof(floating))
            for oh in range(reuse, g.OH):
                _im2col_row(src, tap_row + oh * g.OW, oh * g.sh - g.ph + i * g.dh, j, lo, hi, &g)


cdef inline void _col2im_row(const floating* row_in, floating* dst, Py_ssize_t row,
                             Py_ssize_t j, Py_ssize_t lo, Py_ssize_t hi,
                             const Geometry* g) noexcept nogil:
    """Adjoint of _im2col_row: add the row's inside columns [lo, hi) back to
    input row ``row`` of dst (nothing if the row is padding)."""
    cdef Py_ssize_t ow
    cdef floating* d
    if row < 0 or row >= g.H:
        return
    d = dst + row * g.W + (lo * g.sw - g.pw + j * g.dw)
    if g.sw == 1:
        if floating is float:
            tkr_add_row_f(d, row_in + lo, hi - lo)
        else:
            tkr_add_row_d(d, row_in + lo, hi - lo)
    else:
        for ow in range(hi - lo):
            d[ow * g.sw] += row_in[lo + ow]


cdef void _col2im_plane(floating* src, floating* dst, Py_ssize_t ld,
                        const Geometry* geometry) noexcept nogil:
    """Adjoint of _im2col_plane: dst (H, W) = sum of the plane's col rows
    src[tap * ld + ...] at the input positions they were read from.

    The same shift as in _im2col_plane, run backwards: tap (i, j)'s first
    OH - i rows are added onto tap (0, j)'s rows i.. in one long pass, its
    last i rows go to the input directly, and tap (0, j) goes last.  This
    overwrites ``src`` (the gradient columns, scratch for the caller)."""
    cdef Geometry g = geometry[0]      # in registers (see _im2col_plane)
    cdef Py_ssize_t i, j, oh, k, lo, hi, reuse
    cdef floating* first
    cdef floating* tap_row
    cdef bint shift = g.sh == 1 and g.dh == 1
    for k in range(g.H * g.W):
        dst[k] = 0
    for j in range(g.kw):
        _valid_range(j * g.dw, g.W, g.sw, g.pw, g.OW, &lo, &hi)
        first = src + j * ld
        for i in range(g.kh - 1, -1, -1):
            tap_row = src + (i * g.kw + j) * ld
            reuse = max(g.OH - i, 0) if shift and i > 0 else 0
            for oh in range(reuse, g.OH):
                _col2im_row(tap_row + oh * g.OW, dst, oh * g.sh - g.ph + i * g.dh, j, lo, hi, &g)
            if reuse:       # onto rows i.. of tap (0, j), in one long loop
                first = first + i * g.OW
                for k in range(reuse * g.OW):
                    first[k] += tap_row[k]
                first = src + j * ld


cdef void _im2col(const floating* x, floating* col, Py_ssize_t count,
                  const Geometry* g, bint parallel) noexcept nogil:
    """col (K, count*L) <- x (count, C, H, W), one OpenMP task per plane."""
    cdef Py_ssize_t L = g.OH * g.OW, ld = count * L, p, n, c
    cdef int threads = num_threads(count * g.C * g.kh * g.kw * L) if parallel else 1
    for p in prange(count * g.C, schedule='static', num_threads=threads):
        n = p // g.C
        c = p % g.C
        _im2col_plane(x + p * g.H * g.W, col + c * g.kh * g.kw * ld + n * L, ld, g)


cdef void _col2im(floating* col, floating* x, Py_ssize_t count,
                  const Geometry* g, bint parallel) noexcept nogil:
    """x (count, C, H, W) <- col2im(col (K, count*L)); planes are disjoint.
    col is overwritten (see _col2im_plane)."""
    cdef Py_ssize_t L = g.OH * g.OW, ld = count * L, p, n, c
    cdef int threads = num_threads(count * g.C * g.kh * g.kw * L) if parallel else 1
    for p in prange(count * g.C, schedule='static', num_threads=threads):
        n = p // g.C
        c = p % g.C
        _col2im_plane(col + c * g.kh * g.kw * ld + n * L, x + p * g.H * g.W, ld, g)


cdef void _batch_to_rows(const floating* y, floating* rows, Py_ssize_t count,
                         Py_ssize_t O, Py_ssize_t L, bint parallel) noexcept nogil:
    """rows (O, count*L) <- y (count, O, L)."""
    cdef Py_ssize_t p, n, o
    cdef int threads = num_threads(count * O * L) if parallel else 1
    for p in prange(count * O, schedule='static', num_threads=threads):
        n = p // O
        o = p % O
        memcpy(rows + o * count * L + n * L, y + p * L, L * sizeof(floating))


cdef void _batch_to_rows_t(const floating* y, floating* rows_t, Py_ssize_t count,
                           Py_ssize_t O, Py_ssize_t L, bint parallel) noexcept nogil:
    """rows_t (count*L, O) <- y (count, O, L): the transpose of _batch_to_rows."""
    cdef Py_ssize_t n, o, l
    cdef int threads = num_threads(count * O * L) if parallel else 1
    for n in prange(count, schedule='static', num_threads=threads):
        for o in range(O):
            for l in range(L):
                rows_t[(n * L + l) * O + o] = y[(n * O + o) * L + l]


cdef void _rows_to_batch(const floating* rows, floating* y, Py_ssize_t count,
                         Py_ssize_t O, Py_ssize_t L, const floating* bias,
                         bint parallel) noexcept nogil:
    """y (count, O, L) <- rows (O, count*L) + bias[o] (bias may be NULL)."""
    cdef Py_ssize_t p, n, o, l
    cdef floating add
    cdef int threads = num_threads(count * O * L) if parallel else 1
    for p in prange(count * O, schedule='static', num_threads=threads):
        n = p // O
        o = p % O
        add = bias[o] if bias != NULL else 0
        for l in range(L):
            y[p * L + l] = rows[o * count * L + n * L + l] + add


# ---------------------------------------------------------- chunk drivers
#
# Each driver does images [n_begin, n_end) chunk by chunk with its own col /
# rows buffers.  ``parallel``: the driver runs alone and spreads each step
# (im2col, GEMM, regrouping) over the OpenMP team; otherwise it is one of
# several teams' workers (see _run) and does everything on its own thread.

cdef inline int _split_threads(bint parallel, Py_ssize_t m, Py_ssize_t n,
                               Py_ssize_t k) noexcept nogil:
    return gemm_threads(OWN_THREADS, m, n, k) if parallel else 1


cdef void _forward(const floating* x, const floating* w, const floating* b, floating* y,
                   floating* col, floating* rows, const Geometry* g, Py_ssize_t chunk,
                   Py_ssize_t n_begin, Py_ssize_t n_end, bint parallel) noexcept nogil:
    cdef Py_ssize_t L = g.OH * g.OW, K = g.C * g.kh * g.kw, n0 = n_begin, count, cols, c0, nc
    cdef Py_ssize_t block
    while n0 < n_end:
        count = min(chunk, n_end - n0)
        cols = count * L
        block = _gemm_block(g.O, K, cols)
        _im2col(x + n0 * g.C * g.H * g.W, col, count, g, parallel)
        c0 = 0
        while c0 < cols:
            nc = min(block, cols - c0)
            gemm_split(False, False, <int> g.O, <int> nc, <int> K, <floating> 1,
                       w, <int> K, col + c0, <int> cols, <floating> 0, rows + c0, <int> cols,
                       _split_threads(parallel, g.O, nc, K))
            c0 += nc
        _rows_to_batch(rows, y + n0 * g.O * L, count, g.O, L, b, parallel)
        n0 += count


cdef void _backward_input(const floating* gy, const floating* w, floating* gx,
                          floating* col, floating* rows, const Geometry* g, Py_ssize_t chunk,
                          Py_ssize_t n_begin, Py_ssize_t n_end, bint parallel) noexcept nogil:
    cdef Py_ssize_t L = g.OH * g.OW, K = g.C * g.kh * g.kw, n0 = n_begin, count, cols, c0, nc
    cdef Py_ssize_t block
    while n0 < n_end:
        count = min(chunk, n_end - n0)
        cols = count * L
        block = _gemm_block(g.O, K, cols)
        _batch_to_rows(gy + n0 * g.O * L, rows, count, g.O, L, parallel)
        c0 = 0
        while c0 < cols:
            nc = min(block, cols - c0)
            gemm_split(True, False, <int> K, <int> nc, <int> g.O, <floating> 1,
                       w, <int> K, rows + c0, <int> cols, <floating> 0, col + c0, <int> cols,
                       _split_threads(parallel, K, nc, g.O))
            c0 += nc
        _col2im(col, gx + n0 * g.C * g.H * g.W, count, g, parallel)
        n0 += count


cdef void _backward_weight(const floating* gy, const floating* x, floating* gw_t,
                           floating* col, floating* rows_t, const Geometry* g, Py_ssize_t chunk,
                           Py_ssize_t n_begin, Py_ssize_t n_end, bint parallel) noexcept nogil:
    """gw_t (K, O) = col @ rows_t summed over column blocks: the transposed
    weight gradient.  With gy regrouped as rows_t (count*L, O) the product is
    a plain NN GEMM, which OpenBLAS may run on its small-matrix kernels (its
    TN kernels refuse thin outputs like these)."""
    cdef Py_ssize_t L = g.OH * g.OW, K = g.C * g.kh * g.kw, n0 = n_begin, count, cols, c0, nc
    cdef Py_ssize_t block
    cdef floating beta = 0      # the first block overwrites gw_t, later ones accumulate
    while n0 < n_end:
        count = min(chunk, n_end - n0)
        cols = count * L
        block = _gemm_block(g.O, K, cols)
        _im2col(x + n0 * g.C * g.H * g.W, col, count, g, parallel)
        _batch_to_rows_t(gy + n0 * g.O * L, rows_t, count, g.O, L, parallel)
        c0 = 0
        while c0 < cols:
            nc = min(block, cols - c0)
            gemm_split(False, False, <int> K, <int> g.O, <int> nc, <floating> 1,
                       col + c0, <int> cols, rows_t + c0 * g.O, <int> g.O, beta, gw_t, <int> g.O,
                       _split_threads(parallel, K, g.O, nc))
            beta = 1
            c0 += nc
        n0 += count


cdef enum Op:
    FORWARD
    BACKWARD_INPUT
    BACKWARD_WEIGHT


cdef struct Plan:
    Py_ssize_t chunk          # images per chunk
    Py_ssize_t teams          # workers, each with its own images and buffers (1: one worker)
    Py_ssize_t per_team       # images per worker
    Py_ssize_t col_size, rows_size, out_size   # elements of each worker's buffers


cdef void _drive(Op op, const floating* a, const floating* b, const floating* bias,
                 floating* out, floating* col, floating* rows, const Geometry* g,
                 Py_ssize_t chunk, Py_ssize_t n_begin, Py_ssize_t n_end,
                 bint parallel) noexcept nogil:
    """forward: a = x, b = w; backward input: a = gy, b = w;
    backward weight: a = gy, b = x."""
    if op == FORWARD:
        _forward(a, b, bias, out, col, rows, g, chunk, n_begin, n_end, parallel)
    elif op == BACKWARD_INPUT:
        _backward_input(a, b, out, col, rows, g, chunk, n_begin, n_end, parallel)
    else:
        _backward_weight(a, b, out, col, rows, g, chunk, n_begin, n_end, parallel)


cdef void _run(Op op, const floating* a, const floating* b, const floating* bias,
               floating* out, floating* col, floating* rows, floating* partial,
               const Geometry* g, const Plan* plan) noexcept nogil:
    """With one team, one driver over the whole batch, each step parallel.
    With several, the batch is cut into ``teams`` runs of images, one per
    thread: one parallel region per call, and each thread's im2col buffer,
    GEMM and output stay in its own cache.  Weight gradients are summed per
    team into ``partial`` and added up at the end."""
    cdef Py_ssize_t t, lo, i, K = g.C * g.kh * g.kw
    cdef Py_ssize_t size = K * g.O
    cdef floating total
    if plan.teams <= 1:
        _drive(op, a, b, bias, out, col, rows, g, plan.chunk, 0, g.N, True)
        return
    for t in prange(plan.teams, schedule='static', num_threads=plan.teams):
        lo = t * plan.per_team
        _drive(op, a, b, bias, partial + t * size if op == BACKWARD_WEIGHT else out,
               col + t * plan.col_size, rows + t * plan.rows_size, g, plan.chunk,
               lo, min(lo + plan.per_team, g.N), False)
    if op == BACKWARD_WEIGHT:
        for i in range(size):
            total = partial[i]
            for t in range(1, plan.teams):
                total = total + partial[t * size + i]
            out[i] = total


# Per-thread scratch memory for col/rows, kept between calls.  A fresh
# buffer per call is returned to the OS and faulted in again whenever malloc
# serves it by mmap, and whether it does depends on the process's history
# (measured: importing PyTorch made every LeNet conv call 2.5x slower).
# Thread-local, because the kernels run without the GIL.
_scratch = threading.local()


cdef cnp.ndarray _scratch_buffer(str name, Py_ssize_t size, dtype):
    """A 1-D ``dtype`` array of ``size`` elements from this thread's cache
    (contents undefined: every kernel writes before it reads)."""
    cdef Py_ssize_t nbytes = size * (<cnp.dtype> dtype).itemsize
    buf = getattr(_scratch, name, None)
    if buf is None or buf.nbytes < nbytes:
        buf = np.empty(max(nbytes, 64), dtype=np.uint8)
        setattr(_scratch, name, buf)
    return buf[:nbytes].view(dtype)


cdef Plan _plan(Op op, const Geometry* g, Py_ssize_t itemsize):
    """How to cut the batch: teams of images when the kernels own the GEMM
    threads (kernels/_blas_threads.py), there are threads to use, and the
    call is big enough to pay for waking them."""
    cdef Plan plan
    cdef Py_ssize_t K = g.C * g.kh * g.kw, L = g.OH * g.OW
    cdef Py_ssize_t threads = omp_get_max_threads() if OWN_THREADS else 1
    plan.chunk = _chunk(g, itemsize)
    plan.teams = 1
    plan.per_team = g.N
    # teams sum their weight gradients in partial copies of the (K, O) matrix
    # (added up on one thread): only worth it while that matrix is small
    if threads > 1 and g.N > 1 and g.N * L * K * max(g.O, 1) >= SPLIT_MIN_WORK \
            and not (op == BACKWARD_WEIGHT and K * g.O * itemsize > TEAM_PARTIAL_BYTES):
        plan.per_team = (g.N + threads - 1) // threads
        plan.teams = (g.N + plan.per_team - 1) // plan.per_team
        plan.chunk = min(plan.chunk, plan.per_team)
    plan.col_size = K * plan.chunk * L
    plan.rows_size = g.O * plan.chunk * L
    return plan


cdef _launch(Op op, a, b, bias, out, Geometry* g):
    """Take the workers' col/rows buffers and run ``op`` on out's dtype."""
    cdef Plan plan = _plan(op, g, out.itemsize)
    col = _scratch_buffer("col", plan.teams * plan.col_size, out.dtype)
    rows = _scratch_buffer("rows", plan.teams * plan.rows_size, out.dtype)
    partial = _scratch_buffer("partial", plan.teams * g.C * g.kh * g.kw * g.O, out.dtype)
    cdef void* pa = data_ptr(a)
    cdef void* pb = data_ptr(b)
    cdef void* pbias = data_ptr(bias)
    cdef void* pout = data_ptr(out)
    cdef void* pcol = data_ptr(col)
    cdef void* prows = data_ptr(rows)
    cdef void* ppartial = data_ptr(partial)
    if out.dtype == np.float32:
        with nogil:
            _run(op, <const float*> pa, <const float*> pb, <const float*> pbias,
                 <float*> pout, <float*> pcol, <float*> prows, <float*> ppartial, g, &plan)
    else:
        with nogil:
            _run(op, <const double*> pa, <const double*> pb, <const double*> pbias,
                 <double*> pout, <double*> pcol, <double*> prows, <double*> ppartial, g, &plan)


# ------------------------------------------------------------ public API

def conv2d_forward(x, w, b, stride, padding, dilation):
    """y (N, O, OH, OW) = conv(x (N, C, H, W), w (O, C, kh, kw)) + b (O,) or None."""
    fn = "conv2d_forward"
    x = float_array(x, "x", fn)
    w = float_array(w, "w", fn, x)
    cdef Geometry g = _geometry(x.shape, w.shape, stride, padding, dilation, fn)
    if b is not None:
        b = float_array(b, "b", fn, x)
        if b.shape != (g.O,):
            raise ValueError(f"{fn}: b must have shape ({g.O},), got {b.shape}")
    y = np.empty((g.N, g.O, g.OH, g.OW), dtype=x.dtype)
    if g.N == 0 or g.O == 0 or g.C == 0:     # nothing to multiply: y is the bias
        y[...] = 0 if b is None else b[:, None, None]
    else:
        _launch(FORWARD, x, w, b, y, &g)
    return y


def conv2d_backward_input(gy, w, x_shape, stride, padding, dilation):
    """gx (x_shape) from gy (N, O, OH, OW) and w (O, C, kh, kw)."""
    fn = "conv2d_backward_input"
    gy = float_array(gy, "gy", fn)
    w = float_array(w, "w", fn, gy)
    cdef Geometry g = _geometry(tuple(x_shape), w.shape, stride, padding, dilation, fn)
    if gy.shape != (g.N, g.O, g.OH, g.OW):
        raise ValueError(f"{fn}: gy has shape {gy.shape}, expected {(g.N, g.O, g.OH, g.OW)}")
    gx = np.empty((g.N, g.C, g.H, g.W), dtype=gy.dtype)
    if g.N == 0 or g.O == 0 or g.C == 0:
        gx[...] = 0
    else:
        _launch(BACKWARD_INPUT, gy, w, None, gx, &g)
    return gx


def conv2d_backward_weight(gy, x, w_shape, stride, padding, dilation):
    """gw (w_shape) from gy (N, O, OH, OW) and x (N, C, H, W)."""
    fn = "conv2d_backward_weight"
    gy = float_array(gy, "gy", fn)
    x = float_array(x, "x", fn, gy)
    cdef Geometry g = _geometry(x.shape, tuple(w_shape), stride, padding, dilation, fn)
    if gy.shape != (g.N, g.O, g.OH, g.OW):
        raise ValueError(f"{fn}: gy has shape {gy.shape}, expected {(g.N, g.O, g.OH, g.OW)}")
    if g.N == 0 or g.O == 0 or g.C == 0:
        return np.zeros((g.O, g.C, g.kh, g.kw), dtype=gy.dtype)
    gw_t = np.empty((g.C * g.kh * g.kw, g.O), dtype=gy.dtype)
    _launch(BACKWARD_WEIGHT, gy, x, None, gw_t, &g)
    gw = np.empty((g.O, g.C, g.kh, g.kw), dtype=gy.dtype)
    _transpose(gw_t, gw, g.C * g.kh * g.kw, g.O)
    return gw


cdef Py_ssize_t TILE = 32


cdef void _transpose_tiles(const floating* src, floating* dst, Py_ssize_t rows,
                           Py_ssize_t cols) noexcept nogil:
    """dst (cols, rows) = src (rows, cols)^T in TILE x TILE tiles, so both sides
    are read and written a cache line at a time (numpy's strided copy of a
    4608 x 512 transpose took 12.6 ms, as long as the GEMM before it)."""
    cdef Py_ssize_t bi, bj, i0, j0, i, j, i1, j1
    cdef Py_ssize_t row_tiles = (rows + TILE - 1) // TILE, col_tiles = (cols + TILE - 1) // TILE
    cdef int threads = num_threads(rows * cols)
    for bi in prange(row_tiles, schedule='static', num_threads=threads):
        i0 = bi * TILE
        i1 = min(i0 + TILE, rows)
        for bj in range(col_tiles):
            j0 = bj * TILE
            j1 = min(j0 + TILE, cols)
            for i in range(i0, i1):
                for j in range(j0, j1):
                    dst[j * rows + i] = src[i * cols + j]


cdef _transpose(src, dst, Py_ssize_t rows, Py_ssize_t cols):
    cdef void* ps = data_ptr(src)
    cdef void* pd = data_ptr(dst)
    if src.dtype == np.float32:
        with nogil:
            _transpose_tiles(<const float*> ps, <float*> pd, rows, cols)
    else:
        with nogil:
            _transpose_tiles(<const double*> ps, <double*> pd, rows, cols)


def _set_wide_chunks(Py_ssize_t cols, Py_ssize_t team_partial_bytes):
    """Set WIDE_COLS and TEAM_PARTIAL_BYTES; returns the old pair (for tests and
    for measuring the rule)."""
    global WIDE_COLS, TEAM_PARTIAL_BYTES
    if cols < 0 or team_partial_bytes < 0:
        raise ValueError("_set_wide_chunks: values must be >= 0")
    old = (WIDE_COLS, TEAM_PARTIAL_BYTES)
    WIDE_COLS, TEAM_PARTIAL_BYTES = cols, team_partial_bytes
    return old


def _set_col_budget(Py_ssize_t nbytes):
    """Set the im2col chunk budget in bytes; returns the old one (for tests
    that need several chunks without allocating large inputs)."""
    global COL_BUDGET_BYTES
    if nbytes < 1:
        raise ValueError(f"_set_col_budget: nbytes must be >= 1, got {nbytes}")
    old = COL_BUDGET_BYTES
    COL_BUDGET_BYTES = nbytes
    return old
