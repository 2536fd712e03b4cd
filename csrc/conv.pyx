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

3x3 convolutions with stride and dilation 1 and padding <= 2 take a
second path where it measured faster (_winograd_pays: enough channels and
tiles): Winograd's F(2x2, 3x3), 16 GEMMs over transformed 4x4 input tiles
with 2.25x fewer multiplies, for all three kernels (see the Winograd
section), when their inputs are finite (see "non-finite inputs").
Everything else runs the im2col path above.  Kernel rows / columns that
read only padding at every output position (3x3 on a 1x1 map) are
cropped off in the wrappers before either path (see "taps that read only
padding").
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
    #ifdef _OPENMP
    #include <omp.h>
    #else
    static int omp_get_thread_num(void) { return 0; }
    #endif
    #include <float.h>
    #include <math.h>
    /* 1 if a[0:n] holds an inf or a NaN (|v| <= max is false for exactly
       those), else 0.  An integer OR with no early exit: the loop
       vectorises without reordering any floating-point sum. */
    static inline int tkr_nonfinite_f(const float* a, Py_ssize_t n)
    { int bad = 0; for (Py_ssize_t k = 0; k < n; k++) bad |= !(fabsf(a[k]) <= FLT_MAX); return bad; }
    static inline int tkr_nonfinite_d(const double* a, Py_ssize_t n)
    { int bad = 0; for (Py_ssize_t k = 0; k < n; k++) bad |= !(fabs(a[k]) <= DBL_MAX); return bad; }
    """
    void tkr_copy_row_f(float* d, const float* s, Py_ssize_t n) noexcept nogil
    void tkr_copy_row_d(double* d, const double* s, Py_ssize_t n) noexcept nogil
    void tkr_add_row_f(float* d, const float* s, Py_ssize_t n) noexcept nogil
    void tkr_add_row_d(double* d, const double* s, Py_ssize_t n) noexcept nogil
    int omp_get_thread_num() noexcept nogil        # which thread's scratch (Winograd)
    int tkr_nonfinite_f(const float* a, Py_ssize_t n) noexcept nogil
    int tkr_nonfinite_d(const double* a, Py_ssize_t n) noexcept nogil


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


# ------------------------------------------------- Winograd F(2x2, 3x3)
#
# Lavin & Gray 2015, "Fast Algorithms for Convolutional Neural Networks".
# A 2x2 block of a 3x3 convolution's outputs, from the 4x4 input tile d
# under it and the filter g, is
#
#     Y = A^T [ (G g G^T) (.) (B^T d B) ] A          (.): elementwise
#
#     G = [ 1    0    0  ]    B^T = [ 1  0 -1  0 ]    A^T = [ 1  1  1  0 ]
#         [ 1/2  1/2  1/2]          [ 0  1  1  0 ]          [ 0  1 -1 -1 ]
#         [ 1/2 -1/2  1/2]          [ 0 -1  1  0 ]
#         [ 0    0    1  ]          [ 0  1  0 -1 ]
#
# 16 products per (output, input) channel pair and tile instead of
# im2col's 36.  Summed over the input channels, the 16 elementwise
# products are 16 independent GEMMs, one per tile position xi:
#
#     M[xi] (O, T) = U[xi] (O, C) @ V[xi] (C, T)
#
# U (16, O, C): the transformed filters, once per call; V (16, C, T): the
# transformed input tiles of a chunk of images; M (16, O, T): their
# products, which the output transform turns into 2x2 outputs (+ bias).
# Tiles step by 2 over the padded input; rows and columns past the input
# read as zeros, and the last tile row / column of an odd output size
# writes only its first row / column.
#
# The input gradient of a stride-1 3x3 convolution with padding p is the
# same product: a convolution of gy with the filters turned by 180 degrees,
# input and output channels swapped, padding 2 - p (so p <= 2 here).  The
# weight gradient is the adjoint: gU[xi] (O, C) = the sum over tiles of
# Z[xi] (O, T) @ V[xi]^T with Z = A z A^T of gy's 2x2 tiles z, then
# gw = G^T gU G.
#
# The transforms are additions only and the GEMMs the same BLAS calls as
# im2col's; the price is 16 narrower GEMMs, the transforms' passes over
# memory, and U (16/9 the size of the weights).  _winograd_pays says where
# the 2.25x fewer multiplies win.  Results differ from im2col's by
# rounding only: the transforms add at most 4 terms before the products
# and 9 after them (the tests hold both paths to the same tolerance).

cdef struct Wino:
    Py_ssize_t N, C, H, W     # input planes: x, or gy for the input gradient
    Py_ssize_t O, OH, OW      # output planes
    Py_ssize_t ph, pw         # zero rows / columns before the input
    Py_ssize_t TH, TW         # tiles per plane: ceil(OH / 2), ceil(OW / 2)


cdef int WINOGRAD_MODE = 1                     # see _use_winograd
cdef Py_ssize_t WINOGRAD_CALLS = 0             # kernel calls that took the path
cdef Py_ssize_t WINO_BUDGET_BYTES = 1 << 21   # V and M per chunk (2 MiB: two L2s)
cdef Py_ssize_t WINO_WIDE_TILES = 256          # tiles per chunk at least, where U is large


def _use_winograd(int mode):
    """Which 3x3, stride-1 convolutions take the Winograd path: 0 none,
    1 those _winograd_pays picks (the default), 2 all with padding <= 2
    (for tests on small shapes).  Returns the previous mode."""
    global WINOGRAD_MODE
    if mode not in (0, 1, 2):
        raise ValueError(f"_use_winograd: mode must be 0, 1 or 2, got {mode}")
    was, WINOGRAD_MODE = WINOGRAD_MODE, mode
    return was


def _winograd_calls():
    """How many kernel calls have taken the Winograd path in this process
    (the tests check that theirs did)."""
    return WINOGRAD_CALLS


def _set_winograd_budget(Py_ssize_t nbytes):
    """Set the bytes of V and M per chunk; returns the old value (for tests
    that need several chunks without large inputs)."""
    global WINO_BUDGET_BYTES
    if nbytes < 1:
        raise ValueError(f"_set_winograd_budget: nbytes must be >= 1, got {nbytes}")
    old = WINO_BUDGET_BYTES
    WINO_BUDGET_BYTES = nbytes
    return old


cdef bint _winograd_pays(const Geometry* g, Py_ssize_t itemsize):
    """Whether this convolution takes the Winograd path.  It must have a
    3x3 filter, stride and dilation 1 and padding <= 2 (so that the input
    gradient's padding 2 - p is one too).  Then, from timings against
    im2col over channels 8..512, maps 1..32 and batches 1..32, float32 and
    float64, 1 and 2 threads (docs/BENCHMARKS.md):

      * both channel counts >= 32: the transforms cost (C + O) per tile,
        the GEMMs C * O; below that im2col's one GEMM is about as fast;
      * at least 2 output rows and columns: a single row or column leaves
        half of every 4x4 tile unused (a 1x1 map: 16 products for 9);
      * at least 32 tiles in the batch: narrower GEMMs run well below
        BLAS's speed, and 16 calls cost more than one;
      * the multiplies saved, 9 per output less 16 per tile, counted in
        tiles of an even map (36 - 16 = 20 each), at least 16, and one
        more per 256 KiB of U: every call builds U (16 O C elements) and
        streams it through the GEMMs, and the saving must pay for that
        (on 256 and 512 channels, small odd maps lost up to 2x without).
    """
    if WINOGRAD_MODE == 0 or g.kh != 3 or g.kw != 3 or g.sh != 1 or g.sw != 1 \
            or g.dh != 1 or g.dw != 1 or g.ph > 2 or g.pw > 2:
        return False
    if WINOGRAD_MODE == 2:
        return True
    cdef Py_ssize_t tiles = g.N * ((g.OH + 1) // 2) * ((g.OW + 1) // 2)
    cdef Py_ssize_t saved = (9 * g.N * g.OH * g.OW - 16 * tiles) // 20
    return (min(g.C, g.O) >= 32 and g.OH >= 2 and g.OW >= 2 and tiles >= 32
            and saved >= max(16, (16 * g.O * g.C * itemsize) >> 18))


cdef enum:
    BLOCK = 64      # tiles transformed together (their values fit on the stack)


cdef inline Py_ssize_t _matrix_stride(Py_ssize_t elements, Py_ssize_t itemsize) noexcept nogil:
    """Elements between the 16 matrices of U, V or M: rounded up to whole
    4 KiB pages plus one cache line.  The transforms read or write all 16
    at once, and a multiple of 4 KiB apart (C*T = 64*512 floats, say) the
    16 streams would share a few L1 sets and evict each other (measured:
    a forward 3-10% faster with the offset)."""
    cdef Py_ssize_t nbytes = (elements * itemsize + 4095) // 4096 * 4096 + 64
    return nbytes // itemsize


cdef void _filter_transforms(const floating* w, floating* U, Py_ssize_t O, Py_ssize_t C,
                             bint for_input_grad) noexcept nogil:
    """U (16, rows, cols), matrices _matrix_stride apart, from w (O, C, 3, 3):
    for the forward rows = O, cols = C; for the input gradient the turned
    filters with rows = C, cols = O.  BLOCK filters at a time, each block
    one contiguous run of every matrix."""
    cdef Py_ssize_t us = _matrix_stride(O * C, sizeof(floating)), blk, c, o0
    cdef Py_ssize_t per_c = (O + BLOCK - 1) // BLOCK
    cdef int threads = num_threads(16 * O * C)
    if for_input_grad:          # U[xi][c][o] from w[o, c]: runs of o for one c
        for blk in prange(C * per_c, schedule='static', num_threads=threads):
            c = blk // per_c
            o0 = (blk % per_c) * BLOCK
            _filter_block(w + 9 * (o0 * C + c), 9 * C, min(<Py_ssize_t> BLOCK, O - o0),
                          U + c * O + o0, us, True)
    else:                       # U[xi][o][c] from w[o, c]: runs of consecutive filters
        for blk in prange((O * C + BLOCK - 1) // BLOCK, schedule='static', num_threads=threads):
            _filter_block(w + 9 * blk * BLOCK, 9, min(<Py_ssize_t> BLOCK, O * C - blk * BLOCK),
                          U + blk * BLOCK, us, False)


cdef void _filter_block(const floating* w, Py_ssize_t step, Py_ssize_t count,
                        floating* u, Py_ssize_t ld, bint turn) noexcept nogil:
    """u[xi * ld + k] = (G g G^T)[xi] for the 3x3 filters g = w[k * step : +9]
    (k < count <= BLOCK; turned by 180 degrees when ``turn``), computed in
    double along the block (vectorised)."""
    cdef double f[9][BLOCK]
    cdef double r[3][BLOCK]
    cdef Py_ssize_t k, i, j
    for k in range(count):
        for i in range(9):
            f[8 - i if turn else i][k] = w[k * step + i]
    for i in range(4):          # row i of G g, then (G g) G^T
        for j in range(3):
            if i == 0 or i == 3:
                for k in range(count):
                    r[j][k] = f[j if i == 0 else 6 + j][k]
            elif i == 1:
                for k in range(count):
                    r[j][k] = 0.5 * (f[j][k] + f[3 + j][k] + f[6 + j][k])
            else:
                for k in range(count):
                    r[j][k] = 0.5 * (f[j][k] - f[3 + j][k] + f[6 + j][k])
        for k in range(count):
            u[(4 * i) * ld + k] = <floating> r[0][k]
        for k in range(count):
            u[(4 * i + 1) * ld + k] = <floating> (0.5 * (r[0][k] + r[1][k] + r[2][k]))
        for k in range(count):
            u[(4 * i + 2) * ld + k] = <floating> (0.5 * (r[0][k] - r[1][k] + r[2][k]))
        for k in range(count):
            u[(4 * i + 3) * ld + k] = <floating> r[2][k]


cdef void _filter_grad_block(const floating* gu, Py_ssize_t ld, Py_ssize_t count,
                             floating* gw) noexcept nogil:
    """The adjoint of _filter_block: gw[9 k : 9 k + 9] = G^T X G for the
    4x4 X[xi] = gu[xi * ld + k], k < count <= BLOCK, in double.

        G^T = [ 1  1/2  1/2  0 ]
              [ 0  1/2 -1/2  0 ]
              [ 0  1/2  1/2  1 ]"""
    cdef double f[9][BLOCK]
    cdef double r[4][BLOCK]
    cdef Py_ssize_t k, i, j
    for i in range(3):          # row i of G^T X, then (G^T X) G
        for j in range(4):
            if i == 0:
                for k in range(count):
                    r[j][k] = gu[j * ld + k] + 0.5 * (<double> gu[(4 + j) * ld + k] + gu[(8 + j) * ld + k])
            elif i == 1:
                for k in range(count):
                    r[j][k] = 0.5 * (<double> gu[(4 + j) * ld + k] - gu[(8 + j) * ld + k])
            else:
                for k in range(count):
                    r[j][k] = 0.5 * (<double> gu[(4 + j) * ld + k] + gu[(8 + j) * ld + k]) + gu[(12 + j) * ld + k]
        for k in range(count):
            f[3 * i][k] = r[0][k] + 0.5 * (r[1][k] + r[2][k])
            f[3 * i + 1][k] = 0.5 * (r[1][k] - r[2][k])
            f[3 * i + 2][k] = 0.5 * (r[1][k] + r[2][k]) + r[3][k]
    for k in range(count):
        for i in range(9):
            gw[9 * k + i] = <floating> f[i][k]


cdef void _filter_grads(const floating* gU, floating* gw, Py_ssize_t O, Py_ssize_t C) noexcept nogil:
    """gw (O, C, 3, 3) from gU (16, O, C), matrices _matrix_stride apart."""
    cdef Py_ssize_t us = _matrix_stride(O * C, sizeof(floating)), blk
    for blk in prange((O * C + BLOCK - 1) // BLOCK, schedule='static',
                      num_threads=num_threads(16 * O * C)):
        _filter_grad_block(gU + blk * BLOCK, us, min(<Py_ssize_t> BLOCK, O * C - blk * BLOCK),
                           gw + 9 * blk * BLOCK)


cdef inline Py_ssize_t _padded_size(const Wino* g) noexcept nogil:
    """Elements of a zero-padded input plane that every tile lies inside."""
    return (2 * g.TH + 2) * (2 * g.TW + 2)


cdef void _pad_plane(const floating* src, floating* pad, const Wino* g) noexcept nogil:
    """pad ((2 TH + 2), (2 TW + 2)) = plane src (H, W) with its zero border:
    input row r at pad row r + ph, column 0 at pad column pw."""
    cdef Py_ssize_t pw = 2 * g.TW + 2, r, j
    for r in range(2 * g.TH + 2):
        if r < g.ph or r - g.ph >= g.H:
            for j in range(pw):
                pad[r * pw + j] = 0
            continue
        for j in range(g.pw):
            pad[r * pw + j] = 0
        memcpy(pad + r * pw + g.pw, src + (r - g.ph) * g.W, g.W * sizeof(floating))
        for j in range(g.pw + g.W, pw):
            pad[r * pw + j] = 0


cdef void _input_tiles(const floating* src, Py_ssize_t images, Py_ssize_t plane_step,
                       floating* dst, Py_ssize_t ld, floating* pad,
                       const Wino* geometry) noexcept nogil:
    """``images`` planes of one channel, src + n * plane_step (H, W), ->
    dst[xi * ld + n * P + th * TW + tw] = (B^T d B)[xi] for each tile d
    (zeros outside the plane).

    Each plane is first copied into ``pad`` with its zero border, so no
    tile needs a bounds check.  Then BLOCK tiles at a time, across planes:
    their 16 values are gathered into d[16][BLOCK] and the transform (sums
    of two to four of them) runs along the block, vectorised, into 16
    contiguous runs of dst.  Done tile by tile, or plane by plane, the
    maps of a ResNet on CIFAR (8x8 down to 2x2: 16 to 1 tiles per plane)
    spent more time in loop overhead than the GEMMs took."""
    cdef Wino g = geometry[0]        # in registers (see _im2col_plane)
    cdef floating d[16][BLOCK]
    cdef Py_ssize_t pw = 2 * g.TW + 2, total = images * g.TH * g.TW
    cdef Py_ssize_t i, j, blk, k0, nb, b, th = 0, tw = 0, n = 0
    cdef const floating* base
    cdef floating* out
    for blk in range((total + BLOCK - 1) // BLOCK):
        k0 = blk * BLOCK
        nb = min(<Py_ssize_t> BLOCK, total - k0)
        for b in range(nb):
            if th == 0 and tw == 0:
                _pad_plane(src + n * plane_step, pad, &g)
            base = pad + 2 * th * pw + 2 * tw
            for i in range(4):
                for j in range(4):
                    d[4 * i + j][b] = base[i * pw + j]
            tw += 1
            if tw == g.TW:
                tw = 0
                th += 1
                if th == g.TH:
                    th = 0
                    n += 1
        # B^T d B, a row of the tile at a time: row i of B^T d, then its B columns
        out = dst + k0
        _input_row(d[0], d[8], -1, out, ld, nb)
        _input_row(d[4], d[8], 1, out + 4 * ld, ld, nb)
        _input_row(d[8], d[4], -1, out + 8 * ld, ld, nb)
        _input_row(d[4], d[12], -1, out + 12 * ld, ld, nb)


cdef inline void _input_row(const floating* a, const floating* b, floating sign,
                            floating* out, Py_ssize_t ld, Py_ssize_t nb) noexcept nogil:
    """Row t = a + sign * b of B^T d (a, b: four rows of BLOCK tiles' values,
    one per tile column) -> out[j * ld + k] = (t B)[j] for the nb tiles.
    (One loop per output, each vectorised; ``sign`` is +-1, exact.)"""
    cdef Py_ssize_t k
    for k in range(nb):
        out[k] = (a[k] + sign * b[k]) - (a[2 * BLOCK + k] + sign * b[2 * BLOCK + k])
    for k in range(nb):
        out[ld + k] = (a[BLOCK + k] + sign * b[BLOCK + k]) + (a[2 * BLOCK + k] + sign * b[2 * BLOCK + k])
    for k in range(nb):
        out[2 * ld + k] = (a[2 * BLOCK + k] + sign * b[2 * BLOCK + k]) - (a[BLOCK + k] + sign * b[BLOCK + k])
    for k in range(nb):
        out[3 * ld + k] = (a[BLOCK + k] + sign * b[BLOCK + k]) - (a[3 * BLOCK + k] + sign * b[3 * BLOCK + k])


cdef void _output_tiles(const floating* src, Py_ssize_t ld, floating* dst,
                        Py_ssize_t images, Py_ssize_t plane_step, floating add,
                        const Wino* geometry) noexcept nogil:
    """``images`` output planes of one channel, dst + n * plane_step
    (OH, OW), = A^T m A + add from each tile's
    m[xi] = src[xi * ld + n * P + th * TW + tw]: BLOCK tiles at a time
    across planes, the transform along the block (vectorised), then the
    2x2 outputs scattered to their planes (the last row / column of tiles
    of an odd size has fewer)."""
    cdef Wino g = geometry[0]
    cdef floating y[4][BLOCK]
    cdef Py_ssize_t total = images * g.TH * g.TW, blk, k0, nb, b, th = 0, tw = 0, n = 0, at
    cdef const floating* m
    cdef floating* plane
    cdef bint even = g.OH % 2 == 0 and g.OW % 2 == 0
    for blk in range((total + BLOCK - 1) // BLOCK):
        k0 = blk * BLOCK
        nb = min(<Py_ssize_t> BLOCK, total - k0)
        m = src + k0
        _output_row(m, m + 4 * ld, m + 8 * ld, 1, ld, y[0], y[1], add, nb)
        _output_row(m + 4 * ld, m + 8 * ld, m + 12 * ld, -1, ld, y[2], y[3], add, nb)
        for b in range(nb):
            plane = dst + n * plane_step
            at = 2 * th * g.OW + 2 * tw
            if even or (2 * th + 1 < g.OH and 2 * tw + 1 < g.OW):
                plane[at] = y[0][b]
                plane[at + 1] = y[1][b]
                plane[at + g.OW] = y[2][b]
                plane[at + g.OW + 1] = y[3][b]
            else:
                plane[at] = y[0][b]
                if 2 * tw + 1 < g.OW:
                    plane[at + 1] = y[1][b]
                if 2 * th + 1 < g.OH:
                    plane[at + g.OW] = y[2][b]
                    if 2 * tw + 1 < g.OW:
                        plane[at + g.OW + 1] = y[3][b]
            tw += 1
            if tw == g.TW:
                tw = 0
                th += 1
                if th == g.TH:
                    th = 0
                    n += 1


cdef inline void _output_row(const floating* a, const floating* b, const floating* c,
                             floating sign, Py_ssize_t ld, floating* y0, floating* y1,
                             floating add, Py_ssize_t nb) noexcept nogil:
    """Row r = a + sign * (b + c) of A^T m (rows a, b, c of the tiles' m, the
    four tile columns ld apart) -> the tiles' outputs y0 = (r A)[0] + add,
    y1 = (r A)[1] + add, for nb tiles."""
    cdef Py_ssize_t k
    for k in range(nb):
        y0[k] = ((a[k] + sign * (b[k] + c[k])) + (a[ld + k] + sign * (b[ld + k] + c[ld + k]))
                 + (a[2 * ld + k] + sign * (b[2 * ld + k] + c[2 * ld + k]))) + add
    for k in range(nb):
        y1[k] = ((a[ld + k] + sign * (b[ld + k] + c[ld + k]))
                 - (a[2 * ld + k] + sign * (b[2 * ld + k] + c[2 * ld + k]))
                 - (a[3 * ld + k] + sign * (b[3 * ld + k] + c[3 * ld + k]))) + add


cdef void _grad_tiles(const floating* src, Py_ssize_t images, Py_ssize_t plane_step,
                      floating* dst, Py_ssize_t ld, const Wino* geometry) noexcept nogil:
    """The adjoint of _output_tiles: ``images`` output-gradient planes of one
    channel, src + n * plane_step (OH, OW), -> dst[xi * ld + n * P + th * TW
    + tw] = (A z A^T)[xi] for each 2x2 tile z (zeros past an odd OH or OW),
    BLOCK tiles at a time.

        A z A^T, z = [a b; c d]:  row r of A z is (a, b), (a + c, b + d),
        (a - c, b - d), (-c, -d); row (p, q) times A^T is (p, p + q, p - q, -q)."""
    cdef Wino g = geometry[0]
    cdef floating z[4][BLOCK]
    cdef Py_ssize_t total = images * g.TH * g.TW, blk, k0, nb, b, th = 0, tw = 0, n = 0, at
    cdef const floating* plane
    cdef floating* out
    cdef bint even = g.OH % 2 == 0 and g.OW % 2 == 0, right, down
    for blk in range((total + BLOCK - 1) // BLOCK):
        k0 = blk * BLOCK
        nb = min(<Py_ssize_t> BLOCK, total - k0)
        for b in range(nb):
            plane = src + n * plane_step
            at = 2 * th * g.OW + 2 * tw
            right = even or 2 * tw + 1 < g.OW
            down = even or 2 * th + 1 < g.OH
            z[0][b] = plane[at]
            z[1][b] = plane[at + 1] if right else 0
            z[2][b] = plane[at + g.OW] if down else 0
            z[3][b] = plane[at + g.OW + 1] if right and down else 0
            tw += 1
            if tw == g.TW:
                tw = 0
                th += 1
                if th == g.TH:
                    th = 0
                    n += 1
        out = dst + k0
        _grad_row(z[0], z[1], out, ld, nb)                  # (a, b)
        for b in range(nb):                                  # (a + c, b + d)
            out[4 * ld + b] = z[0][b] + z[2][b]
            out[5 * ld + b] = (z[0][b] + z[2][b]) + (z[1][b] + z[3][b])
            out[6 * ld + b] = (z[0][b] + z[2][b]) - (z[1][b] + z[3][b])
            out[7 * ld + b] = -(z[1][b] + z[3][b])
        for b in range(nb):                                  # (a - c, b - d)
            out[8 * ld + b] = z[0][b] - z[2][b]
            out[9 * ld + b] = (z[0][b] - z[2][b]) + (z[1][b] - z[3][b])
            out[10 * ld + b] = (z[0][b] - z[2][b]) - (z[1][b] - z[3][b])
            out[11 * ld + b] = -(z[1][b] - z[3][b])
        for b in range(nb):                                  # (-c, -d)
            out[12 * ld + b] = -z[2][b]
            out[13 * ld + b] = -z[2][b] - z[3][b]
            out[14 * ld + b] = -z[2][b] + z[3][b]
            out[15 * ld + b] = z[3][b]


cdef inline void _grad_row(const floating* p, const floating* q, floating* out, Py_ssize_t ld,
                           Py_ssize_t nb) noexcept nogil:
    """out[j * ld + k] = (p, p + q, p - q, -q)[j] for the nb tiles."""
    cdef Py_ssize_t k
    for k in range(nb):
        out[k] = p[k]
        out[ld + k] = p[k] + q[k]
        out[2 * ld + k] = p[k] - q[k]
        out[3 * ld + k] = -q[k]


cdef void _chunk_input_tiles(const floating* x, Py_ssize_t count, floating* V, Py_ssize_t vs,
                             floating* pad, const Wino* g) noexcept nogil:
    """V (16, C, count * P): the input tiles of ``count`` images from x on,
    by channel and runs of ``group`` images (about BLOCK tiles, contiguous in
    V), over the OpenMP team; ``pad`` holds a padded plane per thread."""
    cdef Py_ssize_t P = g.TH * g.TW, T = count * P, in_plane = g.H * g.W, p, c, n
    cdef Py_ssize_t group = max(1, BLOCK // P), groups = (count + group - 1) // group
    cdef Py_ssize_t pad_size = _padded_size(g)
    for p in prange(g.C * groups, schedule='static', num_threads=num_threads(16 * count * g.C * P)):
        c = p // groups
        n = (p % groups) * group
        _input_tiles(x + (n * g.C + c) * in_plane, min(group, count - n), g.C * in_plane,
                     V + c * T + n * P, vs, pad + omp_get_thread_num() * pad_size, g)


cdef void _winograd_chunks(const floating* x, const floating* U, const floating* bias,
                           floating* y, floating* V, floating* M, floating* pad,
                           const Wino* g, Py_ssize_t chunk) noexcept nogil:
    """All images, ``chunk`` at a time: input tiles -> V (_chunk_input_tiles),
    16 GEMMs -> M, output tiles (+ bias) -> y, each step spread over the
    OpenMP team; the output transform goes by channel and runs of ``group``
    images, as the input one.

    Cutting the batch into teams of images, one per thread (as _run does),
    measured up to 1.4x slower here: each team streams all of U through
    its GEMMs, where the 16 GEMMs split over the threads read it once."""
    cdef Py_ssize_t P = g.TH * g.TW, n0 = 0, count, T, p, o, xi, vs, ms, n
    cdef Py_ssize_t us = _matrix_stride(g.O * g.C, sizeof(floating))
    cdef Py_ssize_t group = max(1, BLOCK // P), groups
    cdef Py_ssize_t in_plane = g.H * g.W, out_plane = g.OH * g.OW
    cdef int threads
    while n0 < g.N:
        count = min(chunk, g.N - n0)
        T = count * P
        vs = _matrix_stride(g.C * T, sizeof(floating))
        ms = _matrix_stride(g.O * T, sizeof(floating))
        groups = (count + group - 1) // group
        _chunk_input_tiles(x + n0 * g.C * in_plane, count, V, vs, pad, g)
        # one BLAS thread per GEMM, the 16 spread over the team; where BLAS
        # threads itself (not OWN_THREADS), one after another
        threads = gemm_threads(OWN_THREADS, 16 * g.O, T, g.C)
        for xi in prange(16, schedule='static', num_threads=threads):
            gemm_split(False, False, <int> g.O, <int> T, <int> g.C, <floating> 1,
                       U + xi * us, <int> g.C, V + xi * vs, <int> T,
                       <floating> 0, M + xi * ms, <int> T, 1, SMALL_KERNELS)
        for p in prange(g.O * groups, schedule='static', num_threads=num_threads(16 * count * g.O * P)):
            o = p // groups
            n = (p % groups) * group
            _output_tiles(M + o * T + n * P, ms, y + ((n0 + n) * g.O + o) * out_plane,
                          min(group, count - n), g.O * out_plane,
                          bias[o] if bias != NULL else 0, g)
        n0 += count


cdef void _winograd_weight_chunks(const floating* gy, const floating* x, floating* gU,
                                  floating* V, floating* Z, floating* pad, const Wino* g,
                                  Py_ssize_t chunk) noexcept nogil:
    """gU (16, O, C) = sum over all tiles of Z[xi] (O, T) @ V[xi]^T (T, C):
    the gradient of the transformed filters, from the input tiles V (as in
    the forward) and the output gradient's tiles Z = A z A^T, ``chunk``
    images at a time; each GEMM accumulates into its own gU[xi], so the 16
    spread over the team without a race."""
    cdef Py_ssize_t P = g.TH * g.TW, n0 = 0, count, T, p, o, xi, vs, zs, n
    cdef Py_ssize_t us = _matrix_stride(g.O * g.C, sizeof(floating))
    cdef Py_ssize_t group = max(1, BLOCK // P), groups
    cdef Py_ssize_t in_plane = g.H * g.W, out_plane = g.OH * g.OW
    cdef floating beta = 0      # the first chunk overwrites gU, later ones add
    cdef int threads
    while n0 < g.N:
        count = min(chunk, g.N - n0)
        T = count * P
        vs = _matrix_stride(g.C * T, sizeof(floating))
        zs = _matrix_stride(g.O * T, sizeof(floating))
        groups = (count + group - 1) // group
        _chunk_input_tiles(x + n0 * g.C * in_plane, count, V, vs, pad, g)
        for p in prange(g.O * groups, schedule='static', num_threads=num_threads(16 * count * g.O * P)):
            o = p // groups
            n = (p % groups) * group
            _grad_tiles(gy + ((n0 + n) * g.O + o) * out_plane, min(group, count - n),
                        g.O * out_plane, Z + o * T + n * P, zs, g)
        threads = gemm_threads(OWN_THREADS, 16 * g.O, g.C, T)
        for xi in prange(16, schedule='static', num_threads=threads):
            gemm_split(False, True, <int> g.O, <int> g.C, <int> T, <floating> 1,
                       Z + xi * zs, <int> T, V + xi * vs, <int> T,
                       beta, gU + xi * us, <int> g.C, 1, SMALL_KERNELS)
        beta = 1
        n0 += count


cdef Py_ssize_t _winograd_chunk(const Wino* g, Py_ssize_t itemsize):
    """Images per chunk: V and M within WINO_BUDGET_BYTES, at least one, and
    every GEMM dimension and leading dimension within BLAS's 32-bit ints.

    Every chunk's 16 GEMMs read all of U (16 O C elements).  Where U is
    larger than the budget (256 channels and more) and a chunk has few
    tiles, they stream U through memory once per chunk for little
    arithmetic, so such chunks take at least WINO_WIDE_TILES tiles (V and M
    then up to WIDE_BUDGET_BYTES, as the im2col chunks)."""
    cdef Py_ssize_t P = g.TH * g.TW, per_image = 16 * (g.C + g.O) * P * itemsize
    cdef Py_ssize_t chunk = WINO_BUDGET_BYTES // max(1, per_image)
    if 16 * g.O * g.C * itemsize > WINO_BUDGET_BYTES:
        chunk = max(chunk, min((WINO_WIDE_TILES + P - 1) // max(1, P),
                               WIDE_BUDGET_BYTES // max(1, per_image)))
    chunk = max(1, min(chunk, g.N))
    while chunk > 1 and chunk * P > INT_MAX:
        chunk //= 2
    return chunk


cdef Wino _wino_geometry(const Geometry* g, bint for_input_grad):
    """The Winograd view of a convolution: its own (forward, weight gradient)
    or, for the input gradient, gy (N, O, OH, OW) -> gx (N, C, H, W) with
    padding 2 - p."""
    cdef Wino wg
    if for_input_grad:
        wg.N, wg.C, wg.H, wg.W = g.N, g.O, g.OH, g.OW
        wg.O, wg.OH, wg.OW = g.C, g.H, g.W
        wg.ph, wg.pw = 2 - g.ph, 2 - g.pw
    else:
        wg.N, wg.C, wg.H, wg.W = g.N, g.C, g.H, g.W
        wg.O, wg.OH, wg.OW = g.O, g.OH, g.OW
        wg.ph, wg.pw = g.ph, g.pw
    wg.TH, wg.TW = (wg.OH + 1) // 2, (wg.OW + 1) // 2
    return wg


cdef tuple _wino_buffers(const Wino* wg, Py_ssize_t chunk, dtype):
    """This thread's U (or gU), V, M (or Z) and per-thread padded-plane scratch."""
    cdef Py_ssize_t itemsize = (<cnp.dtype> dtype).itemsize, P = wg.TH * wg.TW
    return (_scratch_buffer("wino_U", 16 * _matrix_stride(wg.O * wg.C, itemsize), dtype),
            _scratch_buffer("col", 16 * _matrix_stride(wg.C * chunk * P, itemsize), dtype),
            _scratch_buffer("rows", 16 * _matrix_stride(wg.O * chunk * P, itemsize), dtype),
            _scratch_buffer("wino_pad", omp_get_max_threads() * _padded_size(wg), dtype))


cdef _winograd_launch(a, w, bias, out, const Geometry* g, bint for_input_grad):
    """Forward (a = x, out = y) or input gradient (a = gy, out = gx) of a
    convolution _winograd_pays took."""
    global WINOGRAD_CALLS
    cdef Wino wg = _wino_geometry(g, for_input_grad)
    cdef Py_ssize_t chunk = _winograd_chunk(&wg, out.itemsize)
    U, V, M, pad = _wino_buffers(&wg, chunk, out.dtype)
    cdef void* pa = data_ptr(a)
    cdef void* pw = data_ptr(w)
    cdef void* pbias = data_ptr(bias)
    cdef void* pout = data_ptr(out)
    cdef void* pU = data_ptr(U)
    cdef void* pV = data_ptr(V)
    cdef void* pM = data_ptr(M)
    cdef void* ppad = data_ptr(pad)
    if out.dtype == np.float32:
        with nogil:
            _filter_transforms(<const float*> pw, <float*> pU, g.O, g.C, for_input_grad)
            _winograd_chunks(<const float*> pa, <const float*> pU, <const float*> pbias,
                             <float*> pout, <float*> pV, <float*> pM, <float*> ppad, &wg, chunk)
    else:
        with nogil:
            _filter_transforms(<const double*> pw, <double*> pU, g.O, g.C, for_input_grad)
            _winograd_chunks(<const double*> pa, <const double*> pU, <const double*> pbias,
                             <double*> pout, <double*> pV, <double*> pM, <double*> ppad, &wg,
                             chunk)
    WINOGRAD_CALLS += 1


cdef _winograd_weight_launch(gy, x, gw, const Geometry* g):
    """Weight gradient gw (O, C, 3, 3) of a convolution _winograd_pays took."""
    global WINOGRAD_CALLS
    cdef Wino wg = _wino_geometry(g, False)
    cdef Py_ssize_t chunk = _winograd_chunk(&wg, gw.itemsize)
    gU, V, Z, pad = _wino_buffers(&wg, chunk, gw.dtype)
    cdef void* pgy = data_ptr(gy)
    cdef void* px = data_ptr(x)
    cdef void* pgw = data_ptr(gw)
    cdef void* pU = data_ptr(gU)
    cdef void* pV = data_ptr(V)
    cdef void* pZ = data_ptr(Z)
    cdef void* ppad = data_ptr(pad)
    if gw.dtype == np.float32:
        with nogil:
            _winograd_weight_chunks(<const float*> pgy, <const float*> px, <float*> pU,
                                    <float*> pV, <float*> pZ, <float*> ppad, &wg, chunk)
            _filter_grads(<const float*> pU, <float*> pgw, g.O, g.C)
    else:
        with nogil:
            _winograd_weight_chunks(<const double*> pgy, <const double*> px, <double*> pU,
                                    <double*> pV, <double*> pZ, <double*> ppad, &wg, chunk)
            _filter_grads(<const double*> pU, <double*> pgw, g.O, g.C)
    WINOGRAD_CALLS += 1


# ------------------------------------------------ non-finite inputs
#
# Winograd's transforms subtract input values (B^T d B, A z A^T), so one
# inf in a tile becomes inf - inf = NaN there, where im2col (like the twin
# and PyTorch) gives inf; and a NaN, once transformed, reaches every
# output of its tile, also those that never read it.  So the Winograd path
# runs only on finite arrays: a scan of the arrays it would transform, done
# only after _winograd_pays picked it (a pass over memory next to the
# transforms' several; its cost is in docs/BENCHMARKS.md), and anything
# else goes to im2col, whose products and sums are the twin's.

cdef enum:
    FINITE_BLOCK = 1 << 14      # elements per scan step (64 KiB of float32)
    # Elements from which the scan runs on all threads.  One thread reads
    # 2M cached floats in 0.1 ms (every ResNet-18 CIFAR layer's x or w);
    # waking a team for less saves little, and on a busy machine costs ms.
    FINITE_PARALLEL = 1 << 22


cdef bint _all_finite(cnp.ndarray a):
    """Whether float array a (C-contiguous) holds no inf and no NaN."""
    cdef Py_ssize_t n = cnp.PyArray_SIZE(a), blk, lo
    cdef Py_ssize_t blocks = (n + FINITE_BLOCK - 1) // FINITE_BLOCK
    cdef int bad = 0
    cdef int threads = omp_get_max_threads() if n >= FINITE_PARALLEL else 1
    cdef void* p = data_ptr(a)
    if cnp.PyArray_TYPE(a) == cnp.NPY_FLOAT32:
        for blk in prange(blocks, nogil=True, schedule='static', num_threads=threads):
            lo = blk * FINITE_BLOCK
            bad |= tkr_nonfinite_f(<const float*> p + lo, min(<Py_ssize_t> FINITE_BLOCK, n - lo))
    else:
        for blk in prange(blocks, nogil=True, schedule='static', num_threads=threads):
            lo = blk * FINITE_BLOCK
            bad |= tkr_nonfinite_d(<const double*> p + lo, min(<Py_ssize_t> FINITE_BLOCK, n - lo))
    return bad == 0


def _is_finite(a):
    """_all_finite on a float32/float64 array (for tests of the scan's
    blocks and tail, and for timing it)."""
    return _all_finite(float_array(a, "a", "_is_finite"))


# ------------------------------------------- taps that read only padding
#
# Where padding is wide next to a small map, some kernel rows or columns
# read only padding at every output position: ResNet-18's last stage on
# 32x32 images runs 3x3 convolutions with padding 1 on 1x1 maps, where 8 of
# the 9 taps multiply zeros.  The wrappers then run the kernels on the
# taps that read the input, w[:, :, i0:i1, j0:j1], with the padding less
# by the dropped leading taps (p - i0*d): every remaining tap reads the
# same input element at every output position as before, and the output
# size stays (asserted).  The weight gradient of a dropped tap is a sum of
# gy times zeros, so gw is the cropped gradient in a zero-filled array.
#
# The twin multiplies those zeros, and 0 * inf is NaN: the crop is skipped
# where that shows, a non-finite dropped tap of w in the forward, a
# non-finite gy for the weight gradient.  (In the input gradient a
# dropped tap writes only padding, which is cut off.)

cdef bint CROP = True                   # see _use_crop
cdef Py_ssize_t CROP_CALLS = 0          # kernel calls that ran on cropped taps


def _use_crop(bint on):
    """Whether the wrappers drop taps that read only padding (default on;
    off for tests of the kernels on such geometries, and for timing the
    crop).  Returns the previous setting."""
    global CROP
    was, CROP = CROP, on
    return was


def _crop_calls():
    """How many kernel calls have run on cropped taps in this process (the
    tests check that theirs did, or did not)."""
    return CROP_CALLS


cdef void _used_taps(Py_ssize_t size, Py_ssize_t k, Py_ssize_t stride, Py_ssize_t pad,
                     Py_ssize_t dil, Py_ssize_t out, Py_ssize_t* first,
                     Py_ssize_t* end) noexcept nogil:
    """[first, end): from the first to the last tap along one axis that
    reads the input at some output position; [0, k) if none does (nothing
    to gain: the output is the bias)."""
    cdef Py_ssize_t i, lo, hi
    first[0], end[0] = k, 0
    for i in range(k):
        _valid_range(i * dil, size, stride, pad, out, &lo, &hi)
        if lo < hi:
            first[0] = min(first[0], i)
            end[0] = i + 1
    if end[0] == 0:
        first[0], end[0] = 0, k


cdef inline bint _same_output(Py_ssize_t size, Py_ssize_t k, Py_ssize_t stride,
                              Py_ssize_t pad, Py_ssize_t dil, Py_ssize_t out,
                              Py_ssize_t t0, Py_ssize_t t1) noexcept nogil:
    """Whether taps [t0, t1) with padding pad - t0*dil keep ``out`` outputs."""
    cdef Py_ssize_t spare = size + 2 * (pad - t0 * dil) - dil * (t1 - t0 - 1) - 1
    return pad - t0 * dil >= 0 and spare >= 0 and spare // stride + 1 == out


cdef void _crop_axis(Py_ssize_t size, Py_ssize_t k, Py_ssize_t stride, Py_ssize_t pad,
                     Py_ssize_t dil, Py_ssize_t out, Py_ssize_t* t0,
                     Py_ssize_t* t1) noexcept nogil:
    """The taps [t0, t1) to keep along one axis.  The padding is symmetric,
    so dropping more taps at one end than at the other moves the far edge:
    first try every unread tap at both ends (kept when the output size
    stays, by stride rounding), else as many at each end as at the other;
    leading taps only while the padding covers them (p - t0*d >= 0)."""
    cdef Py_ssize_t first, end, even
    _used_taps(size, k, stride, pad, dil, out, &first, &end)
    t0[0], t1[0] = min(first, pad // dil), end
    if _same_output(size, k, stride, pad, dil, out, t0[0], t1[0]):
        return
    even = min(min(first, k - end), pad // dil)
    t0[0], t1[0] = even, k - even


cdef void _crop_weights(const floating* w, floating* cropped, Py_ssize_t planes,
                        Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t i0, Py_ssize_t i1,
                        Py_ssize_t j0, Py_ssize_t j1, int* nonfinite) noexcept nogil:
    """cropped (planes, i1-i0, j1-j0) = w (planes, kh, kw)[:, i0:i1, j0:j1]
    in one pass that also sets *nonfinite if any tap of w is inf or NaN."""
    cdef Py_ssize_t p, i, j, ch = i1 - i0, cw = j1 - j0
    cdef int bad = 0
    for p in prange(planes, schedule='static', num_threads=num_threads(planes * kh * kw)):
        for i in range(ch):
            for j in range(cw):
                cropped[(p * ch + i) * cw + j] = w[(p * kh + i0 + i) * kw + j0 + j]
        if floating is float:
            bad |= tkr_nonfinite_f(w + p * kh * kw, kh * kw)
        else:
            bad |= tkr_nonfinite_d(w + p * kh * kw, kh * kw)
    nonfinite[0] = bad


cdef bint _crop_plan(const Geometry* g, Py_ssize_t* taps) noexcept nogil:
    """taps = (i0, i1, j0, j1) to keep; whether that drops any."""
    if not CROP:
        return False
    _crop_axis(g.H, g.kh, g.sh, g.ph, g.dh, g.OH, &taps[0], &taps[1])
    _crop_axis(g.W, g.kw, g.sw, g.pw, g.dw, g.OW, &taps[2], &taps[3])
    return taps[1] - taps[0] < g.kh or taps[3] - taps[2] < g.kw


cdef Geometry _cropped_geometry(const Geometry* g, const Py_ssize_t* taps, str fn) except *:
    """The convolution on taps [i0, i1) x [j0, j1), validated like any."""
    cdef Geometry c = _geometry((g.N, g.C, g.H, g.W),
                                (g.O, g.C, taps[1] - taps[0], taps[3] - taps[2]),
                                (g.sh, g.sw),
                                (g.ph - taps[0] * g.dh, g.pw - taps[2] * g.dw),
                                (g.dh, g.dw), fn)
    assert c.OH == g.OH and c.OW == g.OW and c.ph >= 0 and c.pw >= 0, "crop changed the output"
    return c


cdef object _crop(w, Geometry* g, bint need_finite_taps, str fn):
    """w cropped to the taps that read the input, with *g made that
    convolution, if that drops any taps; else None and *g unchanged.
    need_finite_taps: also None if some tap of w is inf or NaN."""
    global CROP_CALLS
    cdef Py_ssize_t taps[4]
    cdef int nonfinite = 0
    if not _crop_plan(g, taps):
        return None
    cdef Geometry c = _cropped_geometry(g, taps, fn)
    cropped = np.empty((c.O, c.C, c.kh, c.kw), dtype=w.dtype)
    cdef void* pw = data_ptr(w)
    cdef void* pc = data_ptr(cropped)
    if w.dtype == np.float32:
        with nogil:
            _crop_weights(<const float*> pw, <float*> pc, g.O * g.C, g.kh, g.kw,
                          taps[0], taps[1], taps[2], taps[3], &nonfinite)
    else:
        with nogil:
            _crop_weights(<const double*> pw, <double*> pc, g.O * g.C, g.kh, g.kw,
                          taps[0], taps[1], taps[2], taps[3], &nonfinite)
    if need_finite_taps and nonfinite:
        return None
    g[0] = c
    CROP_CALLS += 1
    return cropped


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
        return y
    cropped = _crop(w, &g, True, fn)
    if cropped is not None:
        w = cropped
    if _winograd_pays(&g, y.itemsize) and _all_finite(x) and _all_finite(w):
        _winograd_launch(x, w, b, y, &g, False)
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
        return gx
    cropped = _crop(w, &g, False, fn)     # dropped taps only ever write padding
    if cropped is not None:
        w = cropped
    if _winograd_pays(&g, gx.itemsize) and _all_finite(gy) and _all_finite(w):
        _winograd_launch(gy, w, None, gx, &g, True)
    else:
        _launch(BACKWARD_INPUT, gy, w, None, gx, &g)
    return gx


def conv2d_backward_weight(gy, x, w_shape, stride, padding, dilation):
    """gw (w_shape) from gy (N, O, OH, OW) and x (N, C, H, W)."""
    global CROP_CALLS
    fn = "conv2d_backward_weight"
    gy = float_array(gy, "gy", fn)
    x = float_array(x, "x", fn, gy)
    cdef Geometry g = _geometry(x.shape, tuple(w_shape), stride, padding, dilation, fn)
    if gy.shape != (g.N, g.O, g.OH, g.OW):
        raise ValueError(f"{fn}: gy has shape {gy.shape}, expected {(g.N, g.O, g.OH, g.OW)}")
    if g.N == 0 or g.O == 0 or g.C == 0:
        return np.zeros((g.O, g.C, g.kh, g.kw), dtype=gy.dtype)
    cdef Py_ssize_t taps[4]
    cdef Geometry c
    if _crop_plan(&g, taps) and _all_finite(gy):    # gy * 0 is NaN where gy is not finite
        c = _cropped_geometry(&g, taps, fn)
        gw = np.zeros((g.O, g.C, g.kh, g.kw), dtype=gy.dtype)
        gw[:, :, taps[0]:taps[1], taps[2]:taps[3]] = _weight_grad(gy, x, &c)
        CROP_CALLS += 1
        return gw
    return _weight_grad(gy, x, &g)


cdef _weight_grad(gy, x, Geometry* g):
    """gw (O, C, kh, kw) on either path; the arrays are checked."""
    if _winograd_pays(g, gy.itemsize) and _all_finite(x) and _all_finite(gy):
        gw = np.empty((g.O, g.C, g.kh, g.kw), dtype=gy.dtype)
        _winograd_weight_launch(gy, x, gw, g)
        return gw
    gw_t = np.empty((g.C * g.kh * g.kw, g.O), dtype=gy.dtype)
    _launch(BACKWARD_WEIGHT, gy, x, None, gw_t, g)
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
