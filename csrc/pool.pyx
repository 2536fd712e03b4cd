# cython: language_level=3
"""Compiled twins of tinygrad_kr/kernels/ref_pool.py: 2-D max/average pooling
and resampling (interpolate's nearest, linear and cubic modes: 1, 2 or 4 taps).

x is (N, C, H, W) float32/float64; kernel_size/stride/padding/dilation are
(h, w) pairs.  Each (n, c) plane is independent, so every kernel is one
OpenMP loop over the N*C planes with a plain serial loop inside.  Semantics
(output size, -inf padding, NaN and tie rules, divisors) are PyTorch's and
are described in the twin's docstring; the window bounds below follow
PyTorch's CPU kernels so the same elements are visited in the same order.
"""
import numpy as np
cimport numpy as cnp
from cython cimport floating
from cython.parallel cimport prange, threadid
from libc.math cimport INFINITY

from _util cimport data_ptr, float_array, int_pair, num_threads
from tinygrad_kr.kernels.ref_pool import _check_divisor, _check_taps

cnp.import_array()

cdef extern from *:
    """
    #include <stdint.h>
    #include <string.h>
    /* One output row of 2x2 / stride-2 max pooling: the max of each window
       (taps in PyTorch's order: top-left, top-right, bottom-left,
       bottom-right; a later tap wins if it is greater or NaN) and its flat
       index.  Written with integer masks instead of ?: on floats: GCC turns
       those into branches, which on real activations (ties, zeros, values
       that change every batch) mispredict -- measured 2.4-5x slower than on
       an input seen before.  The masks give straight-line code. */
    /* b wins over a (a comes first in PyTorch's tap order) when b > a or b is
       NaN: as an all-ones / all-zeros integer mask. */
    #define TKR_WINS(U, b, a) ((U) 0 - (U) (((b) > (a)) | ((b) != (b))))
    #define TKR_MAX2X2_ROW(NAME, T, U)                                              \
    static inline void NAME##_n(const T* top, const T* bottom, Py_ssize_t n,     \
                                Py_ssize_t W, long long base, T* y, long long* idx) { \
        for (Py_ssize_t ow = 0; ow < n; ow++) {                                   \
            T tl = top[2 * ow], tr = top[2 * ow + 1];                             \
            T bl = bottom[2 * ow], br = bottom[2 * ow + 1];                       \
            U utl, utr, ubl, ubr, ut, ub, u;                                      \
            memcpy(&utl, &tl, sizeof(T)); memcpy(&utr, &tr, sizeof(T));           \
            memcpy(&ubl, &bl, sizeof(T)); memcpy(&ubr, &br, sizeof(T));           \
            /* A tournament, equal to the taps' sequential scan: each row's   \
               winner, then the bottom one beats the top one under the same   \
               rule (ties keep the earlier tap, the last NaN wins). */         \
            U top_r = TKR_WINS(U, tr, tl), bottom_r = TKR_WINS(U, br, bl);        \
            ut = (utr & top_r) | (utl & ~top_r);                                  \
            ub = (ubr & bottom_r) | (ubl & ~bottom_r);                            \
            T t, b;                                                               \
            memcpy(&t, &ut, sizeof(T)); memcpy(&b, &ub, sizeof(T));               \
            U lower = TKR_WINS(U, b, t);                                          \
            u = (ub & lower) | (ut & ~lower);                                     \
            memcpy(&y[ow], &u, sizeof(T));                                        \
            long long at_top = (long long) top_r & 1;                             \
            long long at_bottom = W + ((long long) bottom_r & 1);                 \
            idx[ow] = base + 2 * ow + ((at_bottom & (long long) lower)            \
                                       | (at_top & ~(long long) lower));          \
        }                                                                         \
    }                                                                             \
    /* The loop vectorises 8 windows at a time; a row's last n % 8 would run  \
       as scalar code (several times slower), so they are redone as the last  \
       8 windows of the row: the overlap writes the same values twice. */     \
    static void NAME(const T* top, const T* bottom, Py_ssize_t n, Py_ssize_t W,  \
                     long long base, T* y, long long* idx) {                      \
        if (n < 8) {                                                              \
            NAME##_n(top, bottom, n, W, base, y, idx);                            \
            return;                                                               \
        }                                                                         \
        Py_ssize_t whole = n - n % 8, last = n - 8;                               \
        NAME##_n(top, bottom, whole, W, base, y, idx);                            \
        if (whole < n)                                                            \
            NAME##_n(top + 2 * last, bottom + 2 * last, 8, W, base + 2 * last,    \
                     y + last, idx + last);                                       \
    }
    TKR_MAX2X2_ROW(tkr_max2x2_row_f, float, uint32_t)
    TKR_MAX2X2_ROW(tkr_max2x2_row_d, double, uint64_t)
    """
    void tkr_max2x2_row_f(const float* top, const float* bottom, Py_ssize_t n, Py_ssize_t W,
                          long long base, float* y, long long* idx) noexcept nogil
    void tkr_max2x2_row_d(const double* top, const double* bottom, Py_ssize_t n, Py_ssize_t W,
                          long long base, double* y, long long* idx) noexcept nogil


MAX_PLANE = 1 << 61      # padded H * W and kernel extents: their sums stay in Py_ssize_t


cdef struct Pool:
    Py_ssize_t planes, H, W                 # input: N*C planes of H x W
    Py_ssize_t kh, kw, sh, sw, ph, pw, dh, dw
    Py_ssize_t OH, OW                       # output
    bint count_include_pad
    Py_ssize_t divisor                      # divisor_override, 0 = none


# ----------------------------------------------------------------- checks

cdef object _output_size(object size, object k, object s, object p, object d, bint ceil_mode):
    """PyTorch's pooling_output_shape, in Python integers (C arithmetic could
    wrap on absurd arguments, dilation 2**62, into a valid-looking size)."""
    out = (size + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1   # the last window must start inside the input or the left padding
    return out


cdef Pool _geometry(tuple x_shape, kernel_size, stride, padding, dilation, bint ceil_mode,
                    str fn) except *:
    """Validate like ref_pool._output_shape and fill a Pool."""
    cdef Pool g
    cdef object H, W, kh, kw, sh, sw, ph, pw, dh, dw, OH, OW
    if len(x_shape) != 4:
        raise ValueError(f"{fn}: expected a 4-D input (N, C, H, W), got shape {x_shape}")
    g.planes = x_shape[0] * x_shape[1]
    H, W = x_shape[2], x_shape[3]
    kh, kw = int_pair(kernel_size, "kernel_size", fn)
    sh, sw = int_pair(stride, "stride", fn)
    ph, pw = int_pair(padding, "padding", fn)
    dh, dw = int_pair(dilation, "dilation", fn)
    if min(kh, kw) < 1 or min(sh, sw) < 1 or min(dh, dw) < 1:
        raise ValueError(f"{fn}: kernel_size, stride and dilation must be positive, got "
                         f"kernel_size={(kh, kw)} stride={(sh, sw)} "
                         f"dilation={(dh, dw)}")
    for k, p, d in ((kh, ph, dh), (kw, pw, dw)):
        if p < 0 or p > (d * (k - 1) + 1) // 2:
            raise ValueError(f"{fn}: pad should be at most half of effective kernel size, "
                             f"but got pad={p}, kernel_size={k} and dilation={d}")
    OH = _output_size(H, kh, sh, ph, dh, ceil_mode)
    OW = _output_size(W, kw, sw, pw, dw, ceil_mode)
    if OH < 1 or OW < 1:
        raise ValueError(f"{fn}: given input size {x_shape[1:]}, the calculated output size "
                         f"{(x_shape[1], OH, OW)} is too small")
    # Bounds that keep every index and divisor the loops form in Py_ssize_t.
    if (H + 2 * ph) * (W + 2 * pw) > MAX_PLANE or max(dh * (kh - 1), dw * (kw - 1)) > MAX_PLANE:
        raise ValueError(f"{fn}: kernel_size={(kh, kw)} dilation={(dh, dw)} padding={(ph, pw)} "
                         f"is too large")
    g.H, g.W, g.kh, g.kw, g.ph, g.pw, g.dh, g.dw, g.OH, g.OW = H, W, kh, kw, ph, pw, dh, dw, OH, OW
    # A stride beyond the padded input leaves one output, for which it does not matter.
    g.sh, g.sw = min(sh, H + 2 * ph + 1), min(sw, W + 2 * pw + 1)
    g.count_include_pad = True
    g.divisor = 0
    return g


cdef _avg_options(Pool* g, count_include_pad, divisor_override, str fn):
    g.count_include_pad = bool(count_include_pad)
    _check_divisor(divisor_override, fn)
    if divisor_override is not None:
        g.divisor = divisor_override


# ------------------------------------------------------------ max pooling

cdef inline Py_ssize_t _first_tap(Py_ssize_t start, Py_ssize_t dilation) noexcept nogil:
    """The first tap start + t*dilation >= 0 (PyTorch's `while (start < 0) start += d`)."""
    if start < 0:
        start += ((-start + dilation - 1) // dilation) * dilation
    return start


cdef void _max_forward_plane(const floating* x, floating* y, long long* idx,
                             const Pool* geometry) noexcept nogil:
    cdef Pool g = geometry[0]     # a local copy stays in registers
    cdef Py_ssize_t oh, ow, h0, h1, w0, w1, ih, iw, best
    cdef floating best_val, val
    for oh in range(g.OH):
        h1 = min(oh * g.sh - g.ph + (g.kh - 1) * g.dh + 1, g.H)
        h0 = _first_tap(oh * g.sh - g.ph, g.dh)
        for ow in range(g.OW):
            w1 = min(ow * g.sw - g.pw + (g.kw - 1) * g.dw + 1, g.W)
            w0 = _first_tap(ow * g.sw - g.pw, g.dw)
            # an all -inf window points at its first in-bounds element; a
            # window with none at all gets -1 (see ref_pool's docstring)
            best = h0 * g.W + w0 if (h0 < g.H and w0 < g.W) else -1
            best_val = -INFINITY
            ih = h0
            while ih < h1:
                iw = w0
                while iw < w1:
                    val = x[ih * g.W + iw]
                    _max_take(val, ih * g.W + iw, &best_val, &best)   # NaN propagates
                    iw += g.dw
                ih += g.dh
            y[oh * g.OW + ow] = best_val
            idx[oh * g.OW + ow] = best


cdef inline void _max_take(floating val, Py_ssize_t at, floating* best_val,
                           Py_ssize_t* best) noexcept nogil:
    """The running max update of _max_forward_plane, as selects."""
    cdef bint take = (val > best_val[0]) | (val != val)
    best_val[0] = val if take else best_val[0]
    best[0] = at if take else best[0]


cdef void _max_forward_plane_2x2(const floating* x, floating* y, long long* idx,
                                 const Pool* geometry) noexcept nogil:
    """kernel 2, stride 2, no padding or dilation, every window inside the
    input: the common case, row by row through tkr_max2x2_row (branch-free;
    the general loop's data-dependent branches mispredict on real data)."""
    cdef Pool g = geometry[0]
    cdef Py_ssize_t oh
    for oh in range(g.OH):
        if floating is float:
            tkr_max2x2_row_f(x + 2 * oh * g.W, x + (2 * oh + 1) * g.W, g.OW, g.W,
                             2 * oh * g.W, y + oh * g.OW, idx + oh * g.OW)
        else:
            tkr_max2x2_row_d(x + 2 * oh * g.W, x + (2 * oh + 1) * g.W, g.OW, g.W,
                             2 * oh * g.W, y + oh * g.OW, idx + oh * g.OW)


cdef void _max_forward(const floating* x, floating* y, long long* idx,
                       const Pool* g) noexcept nogil:
    cdef Py_ssize_t p, in_plane = g.H * g.W, out_plane = g.OH * g.OW
    cdef int threads = num_threads(g.planes * out_plane * g.kh * g.kw)
    cdef bint two_by_two = (g.kh == 2 and g.kw == 2 and g.sh == 2 and g.sw == 2
                            and g.ph == 0 and g.pw == 0 and g.dh == 1 and g.dw == 1
                            and 2 * g.OH <= g.H and 2 * g.OW <= g.W)
    for p in prange(g.planes, schedule='static', num_threads=threads):
        if two_by_two:
            _max_forward_plane_2x2(x + p * in_plane, y + p * out_plane, idx + p * out_plane, g)
        else:
            _max_forward_plane(x + p * in_plane, y + p * out_plane, idx + p * out_plane, g)


cdef void _max_backward(const floating* gy, const long long* idx, floating* gx,
                        Py_ssize_t planes, Py_ssize_t in_plane,
                        Py_ssize_t out_plane) noexcept nogil:
    """gx[plane][idx] += gy for every output; indices were range-checked."""
    cdef Py_ssize_t p, i, j
    cdef int threads = num_threads(planes * (in_plane + out_plane))
    for p in prange(planes, schedule='static', num_threads=threads):
        for i in range(in_plane):
            gx[p * in_plane + i] = 0
        for i in range(out_plane):
            j = idx[p * out_plane + i]
            if j >= 0:
                gx[p * in_plane + j] += gy[p * out_plane + i]


# -------------------------------------------------------- average pooling

cdef inline void _avg_window(const Pool* g, Py_ssize_t oh, Py_ssize_t ow, Py_ssize_t* h0,
                             Py_ssize_t* h1, Py_ssize_t* w0, Py_ssize_t* w1,
                             Py_ssize_t* divisor) noexcept nogil:
    """PyTorch's avg-pool window: clipped to the padded input for counting,
    then to the input for summing; and its divisor."""
    h0[0] = oh * g.sh - g.ph
    w0[0] = ow * g.sw - g.pw
    h1[0] = min(h0[0] + g.kh, g.H + g.ph)
    w1[0] = min(w0[0] + g.kw, g.W + g.pw)
    cdef Py_ssize_t padded_size = (h1[0] - h0[0]) * (w1[0] - w0[0])
    h0[0] = max(h0[0], 0)
    w0[0] = max(w0[0], 0)
    h1[0] = min(h1[0], g.H)
    w1[0] = min(w1[0], g.W)
    if g.divisor:
        divisor[0] = g.divisor
    elif g.count_include_pad:
        divisor[0] = padded_size
    else:
        divisor[0] = (h1[0] - h0[0]) * (w1[0] - w0[0])


cdef void _avg_forward_plane(const floating* x, floating* y, const Pool* geometry) noexcept nogil:
    cdef Pool g = geometry[0]
    cdef Py_ssize_t oh, ow, h0, h1, w0, w1, ih, iw, divisor
    cdef floating total
    for oh in range(g.OH):
        for ow in range(g.OW):
            _avg_window(&g, oh, ow, &h0, &h1, &w0, &w1, &divisor)
            total = 0
            for ih in range(h0, h1):
                for iw in range(w0, w1):
                    total = total + x[ih * g.W + iw]
            # an empty window (impossible after validation) gives 0, as in PyTorch
            y[oh * g.OW + ow] = total / divisor if h0 < h1 and w0 < w1 else 0


cdef void _avg_backward_plane(const floating* gy, floating* gx,
                              const Pool* geometry) noexcept nogil:
    cdef Pool g = geometry[0]
    cdef Py_ssize_t oh, ow, h0, h1, w0, w1, ih, iw, divisor
    cdef floating share
    for ih in range(g.H * g.W):
        gx[ih] = 0
    for oh in range(g.OH):
        for ow in range(g.OW):
            _avg_window(&g, oh, ow, &h0, &h1, &w0, &w1, &divisor)
            if h0 >= h1 or w0 >= w1:
                continue
            share = gy[oh * g.OW + ow] / divisor
            for ih in range(h0, h1):
                for iw in range(w0, w1):
                    gx[ih * g.W + iw] += share


cdef void _avg_forward(const floating* x, floating* y, const Pool* g) noexcept nogil:
    cdef Py_ssize_t p
    cdef int threads = num_threads(g.planes * g.OH * g.OW * g.kh * g.kw)
    for p in prange(g.planes, schedule='static', num_threads=threads):
        _avg_forward_plane(x + p * g.H * g.W, y + p * g.OH * g.OW, g)


cdef void _avg_backward(const floating* gy, floating* gx, const Pool* g) noexcept nogil:
    cdef Py_ssize_t p
    cdef int threads = num_threads(g.planes * (g.H * g.W + g.OH * g.OW * g.kh * g.kw))
    for p in prange(g.planes, schedule='static', num_threads=threads):
        _avg_backward_plane(gy + p * g.OH * g.OW, gx + p * g.H * g.W, g)


# ------------------------------------------------------------ public API

def max_pool2d_forward(x, kernel_size, stride, padding, dilation, ceil_mode):
    """(y (N, C, OH, OW), indices int64 (N, C, OH, OW)) of max pooling."""
    fn = "max_pool2d_forward"
    x = float_array(x, "x", fn)
    cdef Pool g = _geometry(x.shape, kernel_size, stride, padding, dilation, ceil_mode, fn)
    out_shape = x.shape[:2] + (g.OH, g.OW)
    y = np.empty(out_shape, dtype=x.dtype)
    indices = np.empty(out_shape, dtype=np.int64)
    cdef void* px = data_ptr(x)
    cdef void* py = data_ptr(y)
    cdef long long* pidx = <long long*> data_ptr(indices)
    if x.dtype == np.float32:
        with nogil:
            _max_forward(<const float*> px, <float*> py, pidx, &g)
    else:
        with nogil:
            _max_forward(<const double*> px, <double*> py, pidx, &g)
    return y, indices


def max_pool2d_backward(gy, indices, x_shape, indices_checked=False):
    """gx (x_shape): each gy element added at its argmax (indices from forward).
    The indices are checked even when ``indices_checked`` (two cheap passes
    here, and the loop below follows them unchecked)."""
    fn = "max_pool2d_backward"
    gy = float_array(gy, "gy", fn)
    x_shape = tuple(int(n) for n in x_shape)
    if len(x_shape) != 4:
        raise ValueError(f"{fn}: x_shape must be (N, C, H, W), got {x_shape}")
    if not isinstance(indices, np.ndarray) or indices.dtype != np.int64:
        raise TypeError(f"{fn}: indices must be an int64 numpy array, got "
                        f"{getattr(indices, 'dtype', type(indices).__name__)}")
    N, C, H, W = x_shape
    if gy.shape != indices.shape or gy.ndim != 4 or gy.shape[:2] != (N, C):
        raise ValueError(f"{fn}: gy {gy.shape} and indices {indices.shape} do not match the "
                         f"input shape {x_shape}")
    indices = np.ascontiguousarray(indices)
    if indices.size and (indices.min() < -1 or indices.max() >= H * W):
        raise IndexError(f"{fn}: indices must lie in [0, {H * W}) (or be -1 for an empty "
                         f"window) for a {H}x{W} input")
    gx = np.empty(x_shape, dtype=gy.dtype)
    cdef void* pgy = data_ptr(gy)
    cdef void* pgx = data_ptr(gx)
    cdef const long long* pidx = <const long long*> data_ptr(indices)
    cdef Py_ssize_t planes = N * C, in_plane = H * W, out_plane = gy.shape[2] * gy.shape[3]
    if gy.dtype == np.float32:
        with nogil:
            _max_backward(<const float*> pgy, pidx, <float*> pgx, planes, in_plane, out_plane)
    else:
        with nogil:
            _max_backward(<const double*> pgy, pidx, <double*> pgx, planes, in_plane, out_plane)
    return gx


def avg_pool2d_forward(x, kernel_size, stride, padding, ceil_mode, count_include_pad,
                       divisor_override):
    """y (N, C, OH, OW): window sums of the zero-padded x over their divisor."""
    fn = "avg_pool2d_forward"
    x = float_array(x, "x", fn)
    cdef Pool g = _geometry(x.shape, kernel_size, stride, padding, (1, 1), ceil_mode, fn)
    _avg_options(&g, count_include_pad, divisor_override, fn)
    y = np.empty(x.shape[:2] + (g.OH, g.OW), dtype=x.dtype)
    cdef void* px = data_ptr(x)
    cdef void* py = data_ptr(y)
    if x.dtype == np.float32:
        with nogil:
            _avg_forward(<const float*> px, <float*> py, &g)
    else:
        with nogil:
            _avg_forward(<const double*> px, <double*> py, &g)
    return y


def avg_pool2d_backward(gy, x_shape, kernel_size, stride, padding, ceil_mode,
                        count_include_pad, divisor_override):
    """gx (x_shape): gy / divisor spread over every window."""
    fn = "avg_pool2d_backward"
    gy = float_array(gy, "gy", fn)
    x_shape = tuple(int(n) for n in x_shape)
    cdef Pool g = _geometry(x_shape, kernel_size, stride, padding, (1, 1), ceil_mode, fn)
    _avg_options(&g, count_include_pad, divisor_override, fn)
    if gy.shape != x_shape[:2] + (g.OH, g.OW):
        raise ValueError(f"{fn}: gy has shape {gy.shape}, expected {x_shape[:2] + (g.OH, g.OW)}")
    gx = np.empty(x_shape, dtype=gy.dtype)
    cdef void* pgy = data_ptr(gy)
    cdef void* pgx = data_ptr(gx)
    if gy.dtype == np.float32:
        with nogil:
            _avg_backward(<const float*> pgy, <float*> pgx, &g)
    else:
        with nogil:
            _avg_backward(<const double*> pgy, <double*> pgx, &g)
    return gx


# -------------------------------------------------------------- resampling

cdef struct Taps:
    const long long* index  # (n, k): the source rows/columns of each output
    const void* weight      # (n, k) in the kernel's float type; NULL: k = 1, a copy
    Py_ssize_t n, k         # n = 0: the axis is kept as it is


cdef inline floating _row_value(const floating* row, const Taps* w, Py_ssize_t ow) noexcept nogil:
    """Output column ow of one source row: its taps' weighted sum, left to right."""
    if w.n == 0:
        return row[ow]
    cdef const long long* index = w.index + ow * w.k
    if w.weight == NULL:
        return row[index[0]]
    cdef const floating* weight = <const floating*> w.weight + ow * w.k
    if w.k == 2:        # linear, the common case, unrolled: a loop of unknown length was 3x slower
        return weight[0] * row[index[0]] + weight[1] * row[index[1]]
    cdef floating total = weight[0] * row[index[0]]
    cdef Py_ssize_t t
    for t in range(1, w.k):
        total = total + weight[t] * row[index[t]]
    return total


cdef void _resample_plane(const floating* x, floating* y, floating* rows, Py_ssize_t H,
                          Py_ssize_t W, Py_ssize_t OH, Py_ssize_t OW, const Taps* h,
                          const Taps* w) noexcept nogil:
    """y = sum_i h_i (sum_j w_j x[hi, wj]): every source row resampled along W
    once into ``rows`` (H x OW), then the output rows as sums of those, so a
    bicubic output costs 4 + 4 products, not 16.  The same sums in the same
    order as summing per output (PyTorch's grouping, the columns first)."""
    cdef Py_ssize_t oh, ow, ih, t
    cdef const long long* src
    cdef const floating* weight
    cdef const floating* r0
    cdef const floating* r1
    cdef floating total
    if h.n == 0:
        for oh in range(OH):
            for ow in range(OW):
                y[oh * OW + ow] = _row_value(x + oh * W, w, ow)
        return
    if w.n == 0:
        rows = <floating*> x           # read only: rows of x are already the W-resampled rows
    else:
        for ih in range(H):
            for ow in range(OW):
                rows[ih * OW + ow] = _row_value(x + ih * W, w, ow)
    for oh in range(OH):
        src = h.index + oh * h.k
        if h.weight == NULL:
            r0 = rows + src[0] * OW
            for ow in range(OW):
                y[oh * OW + ow] = r0[ow]
            continue
        weight = <const floating*> h.weight + oh * h.k
        if h.k == 2:   # linear, unrolled (as in _row_value)
            r0, r1 = rows + src[0] * OW, rows + src[1] * OW
            for ow in range(OW):
                y[oh * OW + ow] = weight[0] * r0[ow] + weight[1] * r1[ow]
            continue
        for ow in range(OW):
            total = weight[0] * rows[src[0] * OW + ow]
            for t in range(1, h.k):
                total = total + weight[t] * rows[src[t] * OW + ow]
            y[oh * OW + ow] = total


cdef inline void _spread_row(floating* row, const Taps* w, Py_ssize_t ow,
                             floating g) noexcept nogil:
    """row[index[t]] += weight[t] * g for each tap of column ow."""
    if w.n == 0:
        row[ow] += g
        return
    cdef const long long* index = w.index + ow * w.k
    if w.weight == NULL:
        row[index[0]] += g
        return
    cdef const floating* weight = <const floating*> w.weight + ow * w.k
    if w.k == 2:
        row[index[0]] += weight[0] * g
        row[index[1]] += weight[1] * g
        return
    cdef Py_ssize_t t
    for t in range(w.k):
        row[index[t]] += weight[t] * g


cdef void _resample_backward_plane(const floating* gy, floating* gx, floating* rows,
                                   Py_ssize_t H, Py_ssize_t W, Py_ssize_t OH, Py_ssize_t OW,
                                   const Taps* h, const Taps* w) noexcept nogil:
    """The forward's adjoint in its two steps, reversed: each output row spread
    over its source rows (``rows``, H x OW), then each of those along W."""
    cdef Py_ssize_t oh, ow, ih, t
    cdef const long long* src
    cdef const floating* weight
    cdef floating* acc
    cdef floating a
    for t in range(H * W):
        gx[t] = 0
    if h.n == 0:
        for oh in range(OH):
            for ow in range(OW):
                _spread_row(gx + oh * W, w, ow, gy[oh * OW + ow])
        return
    acc = gx if w.n == 0 else rows    # the kept W axis: straight into gx
    if w.n != 0:
        for t in range(H * OW):
            rows[t] = 0
    for oh in range(OH):
        src = h.index + oh * h.k
        for t in range(h.k):
            a = 1 if h.weight == NULL else (<const floating*> h.weight)[oh * h.k + t]
            for ow in range(OW):
                acc[src[t] * OW + ow] += a * gy[oh * OW + ow]
    if w.n != 0:
        for ih in range(H):
            for ow in range(OW):
                _spread_row(gx + ih * W, w, ow, rows[ih * OW + ow])


cdef void _resample(const floating* src, floating* dst, floating* rows, Py_ssize_t planes,
                    Py_ssize_t H, Py_ssize_t W, Py_ssize_t OH, Py_ssize_t OW, const Taps* h,
                    const Taps* w, bint backward, int threads) noexcept nogil:
    """Every (n, c) plane, each thread with its own H x OW rows buffer."""
    cdef Py_ssize_t p
    cdef floating* mine
    for p in prange(planes, schedule='static', num_threads=threads):
        mine = rows + threadid() * H * OW
        if backward:
            _resample_backward_plane(src + p * OH * OW, dst + p * H * W, mine, H, W, OH, OW, h,
                                     w)
        else:
            _resample_plane(src + p * H * W, dst + p * OH * OW, mine, H, W, OH, OW, h, w)


cdef Taps _taps(taps, list keep):
    """A Taps view of (index, weight) (checked already), or the kept axis."""
    cdef Taps t
    t.index, t.weight, t.n, t.k = NULL, NULL, 0, 0
    if taps is None:
        return t
    index = np.ascontiguousarray(taps[0])
    keep.append(index)                # alive until the loops are done
    t.index = <const long long*> data_ptr(index)
    t.n, t.k = index.shape[0], index.shape[1]
    if taps[1] is not None:
        weight = np.ascontiguousarray(taps[1])
        keep.append(weight)
        t.weight = data_ptr(weight)
    return t


cdef _run_resample(src, dst, tuple x_shape, tuple out, h_taps, w_taps, bint backward):
    cdef list keep = []
    cdef Taps h = _taps(h_taps, keep), w = _taps(w_taps, keep)
    cdef Py_ssize_t planes = x_shape[0] * x_shape[1], H = x_shape[2], W = x_shape[3]
    cdef Py_ssize_t OH = out[0], OW = out[1]
    cdef int threads = num_threads(planes * (H * W + max(h.k, 1) * max(w.k, 1) * OH * OW))
    rows = np.empty((threads, H * OW), dtype=src.dtype)
    cdef void* ps = data_ptr(src)
    cdef void* pd = data_ptr(dst)
    cdef void* pr = data_ptr(rows)
    if src.dtype == np.float32:
        with nogil:
            _resample(<const float*> ps, <float*> pd, <float*> pr, planes, H, W, OH, OW, &h, &w,
                      backward, threads)
    else:
        with nogil:
            _resample(<const double*> ps, <double*> pd, <double*> pr, planes, H, W, OH, OW, &h,
                      &w, backward, threads)


def resample2d_forward(x, h_taps, w_taps):
    """y (N, C, OH, OW) of x (N, C, H, W) resampled by the taps of each axis."""
    fn = "resample2d_forward"
    x = float_array(x, "x", fn)
    out = _check_taps(x.shape, x.dtype, h_taps, w_taps, fn)
    y = np.empty(x.shape[:2] + out, dtype=x.dtype)
    _run_resample(x, y, x.shape, out, h_taps, w_taps, False)
    return y


def resample2d_backward(gy, x_shape, h_taps, w_taps):
    """gx (x_shape) of resample2d_forward: each gy spread back over its taps."""
    fn = "resample2d_backward"
    gy = float_array(gy, "gy", fn)
    x_shape = tuple(int(n) for n in x_shape)
    out = _check_taps(x_shape, gy.dtype, h_taps, w_taps, fn)
    if gy.shape != x_shape[:2] + out:
        raise ValueError(f"{fn}: gy has shape {gy.shape}, expected {x_shape[:2] + out}")
    gx = np.empty(x_shape, dtype=gy.dtype)
    _run_resample(gy, gx, x_shape, out, h_taps, w_taps, True)
    return gx
