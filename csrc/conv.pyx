# cython: language_level=3
"""Compiled twins of tinygrad_kr/kernels/ref_conv.py: im2col + one GEMM.

Layouts are PyTorch's: x (N, C, H, W), w (O, C, kh, kw), y/gy (N, O, OH, OW);
stride/padding/dilation are (h, w) pairs; groups == 1.

A batch chunk of ``count`` images is unrolled into a column matrix
col (K = C*kh*kw, count*L) with L = OH*OW, in parallel over (image, channel)
planes.  Then one BLAS call per chunk does all the arithmetic:

    forward          rows (O, count*L) = w (O, K) @ col
    backward input   gcol (K, count*L) = w^T @ rows(gy);  col2im(gcol) -> gx
    backward weight  gw (O, K)        += rows(gy) @ col^T

``rows`` is y or gy regrouped from (count, O, L) to (O, count*L), which is
a cheap O(output) copy.  Chunks bound the col buffer (COL_BUDGET_BYTES), so
big batches do not allocate huge temporaries.  BLAS is called outside the
OpenMP loops, so its own threads never nest inside ours.
"""
import numpy as np
cimport numpy as cnp
from cython cimport floating
from cython.parallel cimport prange
from libc.string cimport memcpy, memset

from _gemm cimport gemm_rowmajor

cnp.import_array()

cdef Py_ssize_t INT_MAX = 2147483647          # BLAS takes 32-bit ints
cdef Py_ssize_t COL_BUDGET_BYTES = 1 << 24    # im2col buffer per chunk (16 MiB)


cdef struct Geometry:
    Py_ssize_t N, C, H, W          # input
    Py_ssize_t O, kh, kw           # weight
    Py_ssize_t sh, sw, ph, pw, dh, dw
    Py_ssize_t OH, OW              # output


# ----------------------------------------------------------------- checks

cdef tuple _pair(value, str what, str fn):
    try:
        pair = tuple(int(v) for v in value)
    except TypeError:
        pair = ()
    if len(pair) != 2:
        raise TypeError(f"{fn}: {what} must be an (h, w) pair of ints, got {value!r}")
    return pair


cdef Geometry _geometry(tuple x_shape, tuple w_shape, stride, padding, dilation, str fn) except *:
    """Validate a conv geometry (same rules as ref_conv._check)."""
    cdef Geometry g
    if len(x_shape) != 4 or len(w_shape) != 4:
        raise ValueError(f"{fn}: expected x (N, C, H, W) and w (O, C, kh, kw), "
                         f"got shapes {x_shape} and {w_shape}")
    if x_shape[1] != w_shape[1]:
        raise ValueError(f"{fn}: x has {x_shape[1]} channels but w {w_shape} expects {w_shape[1]}")
    g.N, g.C, g.H, g.W = x_shape
    g.O, _, g.kh, g.kw = w_shape
    g.sh, g.sw = _pair(stride, "stride", fn)
    g.ph, g.pw = _pair(padding, "padding", fn)
    g.dh, g.dw = _pair(dilation, "dilation", fn)
    if min(g.sh, g.sw) < 1 or min(g.dh, g.dw) < 1 or min(g.ph, g.pw) < 0:
        raise ValueError(f"{fn}: need stride >= 1, dilation >= 1, padding >= 0, got "
                         f"stride={tuple(stride)} padding={tuple(padding)} dilation={tuple(dilation)}")
    g.OH = (g.H + 2 * g.ph - g.dh * (g.kh - 1) - 1) // g.sh + 1
    g.OW = (g.W + 2 * g.pw - g.dw * (g.kw - 1) - 1) // g.sw + 1
    if g.OH < 1 or g.OW < 1:
        raise ValueError(f"{fn}: kernel {w_shape[2:]} (dilation {tuple(dilation)}) is larger "
                         f"than the padded input {x_shape[2:]} + 2*{tuple(padding)}")
    if g.C * g.kh * g.kw > INT_MAX or g.OH * g.OW > INT_MAX or g.O > INT_MAX:
        raise ValueError(f"{fn}: problem too large for 32-bit BLAS dims")
    return g


cdef cnp.ndarray _float_array(a, str name, str fn, dtype=None):
    """a as a C-contiguous float32/float64 ndarray (of ``dtype`` if given)."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{fn}: {name} must be a numpy array, got {type(a).__name__}")
    if dtype is None and a.dtype != np.float32 and a.dtype != np.float64:
        raise TypeError(f"{fn}: only float32 and float64 are supported, got {name} {a.dtype}")
    if dtype is not None and a.dtype != dtype:
        raise TypeError(f"{fn}: {name} has dtype {a.dtype}, expected {dtype}")
    return np.ascontiguousarray(a)


cdef Py_ssize_t _chunk(const Geometry* g, Py_ssize_t itemsize):
    """Images per chunk so that col (K, chunk*L) stays within the budget."""
    cdef Py_ssize_t per_image = g.C * g.kh * g.kw * g.OH * g.OW * itemsize
    cdef Py_ssize_t chunk = COL_BUDGET_BYTES // per_image if per_image > 0 else g.N
    chunk = max(1, min(chunk, g.N))
    while chunk > 1 and chunk * g.OH * g.OW > INT_MAX:
        chunk //= 2
    return chunk


# ------------------------------------------------------- im2col / col2im

cdef inline Py_ssize_t _ceil_div_pos(Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    """ceil(a / b) for b > 0, or 0 when a <= 0."""
    return (a + b - 1) // b if a > 0 else 0


cdef inline void _valid_range(Py_ssize_t tap, Py_ssize_t size, Py_ssize_t stride,
                              Py_ssize_t pad, Py_ssize_t out,
                              Py_ssize_t* lo, Py_ssize_t* hi) noexcept nogil:
    """Outputs o in [lo, hi) read input o*stride - pad + tap inside [0, size)."""
    lo[0] = min(_ceil_div_pos(pad - tap, stride), out)
    hi[0] = max(min(_ceil_div_pos(size + pad - tap, stride), out), lo[0])


cdef void _im2col_plane(const floating* src, floating* dst, Py_ssize_t ld,
                        const Geometry* g) noexcept nogil:
    """One (n, c) plane src (H, W) -> its kh*kw col rows dst[tap * ld + oh*OW + ow]
    (zeros where the tap falls in the padding)."""
    cdef Py_ssize_t i, j, oh, ow, ih, lo, hi, iw0
    cdef floating* out
    cdef const floating* s
    for i in range(g.kh):
        for j in range(g.kw):
            _valid_range(j * g.dw, g.W, g.sw, g.pw, g.OW, &lo, &hi)
            iw0 = lo * g.sw - g.pw + j * g.dw      # input column read by ow = lo
            for oh in range(g.OH):
                out = dst + (i * g.kw + j) * ld + oh * g.OW
                ih = oh * g.sh - g.ph + i * g.dh
                if ih < 0 or ih >= g.H:
                    memset(out, 0, g.OW * sizeof(floating))
                    continue
                memset(out, 0, lo * sizeof(floating))
                memset(out + hi, 0, (g.OW - hi) * sizeof(floating))
                s = src + ih * g.W + iw0
                if g.sw == 1:
                    memcpy(out + lo, s, (hi - lo) * sizeof(floating))
                else:
                    for ow in range(hi - lo):
                        out[lo + ow] = s[ow * g.sw]


cdef void _col2im_plane(const floating* src, floating* dst, Py_ssize_t ld,
                        const Geometry* g) noexcept nogil:
    """Adjoint of _im2col_plane: dst (H, W) = sum of the plane's col rows
    src[tap * ld + ...] at the input positions they were read from."""
    cdef Py_ssize_t i, j, oh, ow, ih, lo, hi, iw0
    cdef const floating* col_row
    cdef floating* d
    memset(dst, 0, g.H * g.W * sizeof(floating))
    for i in range(g.kh):
        for j in range(g.kw):
            _valid_range(j * g.dw, g.W, g.sw, g.pw, g.OW, &lo, &hi)
            iw0 = lo * g.sw - g.pw + j * g.dw
            for oh in range(g.OH):
                ih = oh * g.sh - g.ph + i * g.dh
                if ih < 0 or ih >= g.H:
                    continue
                col_row = src + (i * g.kw + j) * ld + oh * g.OW + lo
                d = dst + ih * g.W + iw0
                for ow in range(hi - lo):
                    d[ow * g.sw] += col_row[ow]


cdef void _im2col(const floating* x, floating* col, Py_ssize_t count,
                  const Geometry* g) noexcept nogil:
    """col (K, count*L) <- x (count, C, H, W), one OpenMP task per plane."""
    cdef Py_ssize_t L = g.OH * g.OW, ld = count * L, p, n, c
    for p in prange(count * g.C, schedule='static'):
        n = p // g.C
        c = p % g.C
        _im2col_plane(x + p * g.H * g.W, col + c * g.kh * g.kw * ld + n * L, ld, g)


cdef void _col2im(const floating* col, floating* x, Py_ssize_t count,
                  const Geometry* g) noexcept nogil:
    """x (count, C, H, W) <- col2im(col (K, count*L)); planes are disjoint."""
    cdef Py_ssize_t L = g.OH * g.OW, ld = count * L, p, n, c
    for p in prange(count * g.C, schedule='static'):
        n = p // g.C
        c = p % g.C
        _col2im_plane(col + c * g.kh * g.kw * ld + n * L, x + p * g.H * g.W, ld, g)


cdef void _batch_to_rows(const floating* y, floating* rows, Py_ssize_t count,
                         Py_ssize_t O, Py_ssize_t L) noexcept nogil:
    """rows (O, count*L) <- y (count, O, L)."""
    cdef Py_ssize_t p, n, o
    for p in prange(count * O, schedule='static'):
        n = p // O
        o = p % O
        memcpy(rows + o * count * L + n * L, y + p * L, L * sizeof(floating))


cdef void _rows_to_batch(const floating* rows, floating* y, Py_ssize_t count,
                         Py_ssize_t O, Py_ssize_t L, const floating* bias) noexcept nogil:
    """y (count, O, L) <- rows (O, count*L) + bias[o] (bias may be NULL)."""
    cdef Py_ssize_t p, n, o, l
    cdef floating add
    for p in prange(count * O, schedule='static'):
        n = p // O
        o = p % O
        add = bias[o] if bias != NULL else 0
        for l in range(L):
            y[p * L + l] = rows[o * count * L + n * L + l] + add


# ---------------------------------------------------------- chunk drivers

cdef void _forward(const floating* x, const floating* w, const floating* b, floating* y,
                   floating* col, floating* rows, const Geometry* g,
                   Py_ssize_t chunk) noexcept nogil:
    cdef Py_ssize_t L = g.OH * g.OW, K = g.C * g.kh * g.kw, n0 = 0, count
    while n0 < g.N:
        count = min(chunk, g.N - n0)
        _im2col(x + n0 * g.C * g.H * g.W, col, count, g)
        gemm_rowmajor(False, False, <int> g.O, <int> (count * L), <int> K, <floating> 1,
                      w, <int> K, col, <int> (count * L), <floating> 0, rows, <int> (count * L))
        _rows_to_batch(rows, y + n0 * g.O * L, count, g.O, L, b)
        n0 += count


cdef void _backward_input(const floating* gy, const floating* w, floating* gx,
                          floating* col, floating* rows, const Geometry* g,
                          Py_ssize_t chunk) noexcept nogil:
    cdef Py_ssize_t L = g.OH * g.OW, K = g.C * g.kh * g.kw, n0 = 0, count
    while n0 < g.N:
        count = min(chunk, g.N - n0)
        _batch_to_rows(gy + n0 * g.O * L, rows, count, g.O, L)
        gemm_rowmajor(True, False, <int> K, <int> (count * L), <int> g.O, <floating> 1,
                      w, <int> K, rows, <int> (count * L), <floating> 0, col, <int> (count * L))
        _col2im(col, gx + n0 * g.C * g.H * g.W, count, g)
        n0 += count


cdef void _backward_weight(const floating* gy, const floating* x, floating* gw,
                           floating* col, floating* rows, const Geometry* g,
                           Py_ssize_t chunk) noexcept nogil:
    cdef Py_ssize_t L = g.OH * g.OW, K = g.C * g.kh * g.kw, n0 = 0, count
    cdef floating beta = 0      # the first chunk overwrites gw, later ones accumulate
    while n0 < g.N:
        count = min(chunk, g.N - n0)
        _im2col(x + n0 * g.C * g.H * g.W, col, count, g)
        _batch_to_rows(gy + n0 * g.O * L, rows, count, g.O, L)
        gemm_rowmajor(False, True, <int> g.O, <int> K, <int> (count * L), <floating> 1,
                      rows, <int> (count * L), col, <int> (count * L), beta, gw, <int> K)
        beta = 1
        n0 += count


cdef enum Op:
    FORWARD
    BACKWARD_INPUT
    BACKWARD_WEIGHT


cdef void _run(Op op, const floating* a, const floating* b, const floating* bias,
               floating* out, floating* col, floating* rows, const Geometry* g,
               Py_ssize_t chunk) noexcept nogil:
    """forward: a = x, b = w; backward input: a = gy, b = w;
    backward weight: a = gy, b = x."""
    if op == FORWARD:
        _forward(a, b, bias, out, col, rows, g, chunk)
    elif op == BACKWARD_INPUT:
        _backward_input(a, b, out, col, rows, g, chunk)
    else:
        _backward_weight(a, b, out, col, rows, g, chunk)


cdef inline void* _ptr(a):
    return NULL if a is None else cnp.PyArray_DATA(a)


cdef _launch(Op op, a, b, bias, out, Geometry* g):
    """Allocate one chunk's col/rows buffers and run ``op`` on out's dtype."""
    cdef Py_ssize_t chunk = _chunk(g, out.itemsize)
    col = np.empty(g.C * g.kh * g.kw * chunk * g.OH * g.OW, dtype=out.dtype)
    rows = np.empty(g.O * chunk * g.OH * g.OW, dtype=out.dtype)
    cdef void* pa = _ptr(a)
    cdef void* pb = _ptr(b)
    cdef void* pbias = _ptr(bias)
    cdef void* pout = _ptr(out)
    cdef void* pcol = _ptr(col)
    cdef void* prows = _ptr(rows)
    if out.dtype == np.float32:
        with nogil:
            _run(op, <const float*> pa, <const float*> pb, <const float*> pbias,
                 <float*> pout, <float*> pcol, <float*> prows, g, chunk)
    else:
        with nogil:
            _run(op, <const double*> pa, <const double*> pb, <const double*> pbias,
                 <double*> pout, <double*> pcol, <double*> prows, g, chunk)


# ------------------------------------------------------------ public API

def conv2d_forward(x, w, b, stride, padding, dilation):
    """y (N, O, OH, OW) = conv(x (N, C, H, W), w (O, C, kh, kw)) + b (O,) or None."""
    fn = "conv2d_forward"
    x = _float_array(x, "x", fn)
    w = _float_array(w, "w", fn, x.dtype)
    cdef Geometry g = _geometry(x.shape, w.shape, stride, padding, dilation, fn)
    if b is not None:
        b = _float_array(b, "b", fn, x.dtype)
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
    gy = _float_array(gy, "gy", fn)
    w = _float_array(w, "w", fn, gy.dtype)
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
    gy = _float_array(gy, "gy", fn)
    x = _float_array(x, "x", fn, gy.dtype)
    cdef Geometry g = _geometry(x.shape, tuple(w_shape), stride, padding, dilation, fn)
    if gy.shape != (g.N, g.O, g.OH, g.OW):
        raise ValueError(f"{fn}: gy has shape {gy.shape}, expected {(g.N, g.O, g.OH, g.OW)}")
    gw = np.empty((g.O, g.C, g.kh, g.kw), dtype=gy.dtype)
    if g.N == 0 or g.O == 0 or g.C == 0:
        gw[...] = 0
    else:
        _launch(BACKWARD_WEIGHT, gy, x, None, gw, &g)
    return gw
