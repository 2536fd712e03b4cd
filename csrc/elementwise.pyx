# cython: language_level=3
"""Compiled twins of tinygrad_kr/kernels/ref_elementwise.py: relu, leaky_relu, dropout.

One pass over C-contiguous float32/float64 arrays; arrays of at least
PARALLEL_MIN elements are split over OpenMP threads (smaller ones stay
serial: a parallel region costs more than it saves there).  Other dtypes
(relu on integers) go to the NumPy twin.  Dropout draws its mask exactly as
the twin does (``dropout_random_bits``), so both give the same mask for the
same generator state, and fuses the keep test, the mask and the 1/(1-p)
scaling into one loop.
"""
import numpy as np
cimport numpy as cnp
from cython cimport floating
from cython.parallel cimport prange
from libc.stdint cimport uint8_t, uint32_t

from tinygrad_kr.kernels import ref_elementwise as _ref

cnp.import_array()

# Elements from which a loop runs on OpenMP threads.
cdef Py_ssize_t PARALLEL_MIN = 1 << 16


cdef inline bint _is_float(cnp.ndarray x):
    cdef int t = cnp.PyArray_TYPE(x)
    return t == cnp.NPY_FLOAT32 or t == cnp.NPY_FLOAT64


cdef cnp.ndarray _contiguous(cnp.ndarray x):
    """x C-contiguous and in native byte order (the type number ignores byte
    order: a '>f4' array would be read as garbage)."""
    if cnp.PyArray_IS_C_CONTIGUOUS(x) and cnp.PyArray_ISNOTSWAPPED(x):
        return x
    return np.ascontiguousarray(x, dtype=x.dtype.newbyteorder("="))


cdef cnp.ndarray _empty_like(cnp.ndarray x):
    """An uninitialised C-contiguous array of x's shape and dtype."""
    return cnp.PyArray_EMPTY(cnp.PyArray_NDIM(x), cnp.PyArray_DIMS(x), cnp.PyArray_TYPE(x), 0)


cdef cnp.ndarray _same_layout(object other_obj, cnp.ndarray like, str fn, str name):
    """``other_obj`` (an array, or a NumPy scalar for 0-d data) as a C-contiguous
    array of ``like``'s dtype, which must have like's shape."""
    cdef cnp.ndarray other = np.asarray(other_obj)
    if (<object> other).shape != (<object> like).shape:
        raise ValueError(f"{fn}: {name} of shape {(<object> other).shape} does not match "
                         f"shape {(<object> like).shape}")
    if cnp.PyArray_TYPE(other) != cnp.PyArray_TYPE(like):
        other = other.astype(like.dtype)
    return _contiguous(other)


# -- relu / leaky relu ----------------------------------------------------------

cdef void _relu(const floating* x, floating* y, Py_ssize_t n) noexcept nogil:
    """y = x < 0 ? 0 : x (a NaN stays NaN, as in max(x, 0))."""
    cdef Py_ssize_t i
    if n >= PARALLEL_MIN:
        for i in prange(n, schedule="static"):
            y[i] = 0 if x[i] < 0 else x[i]
    else:
        for i in range(n):
            y[i] = 0 if x[i] < 0 else x[i]


cdef void _relu_grad(const floating* gy, const floating* y, floating* gx,
                     Py_ssize_t n) noexcept nogil:
    """gx = gy where y > 0 else 0."""
    # gy[i] is read into g before the test: a load inside the conditional
    # would keep the compiler from vectorising the select (2.7x slower).
    cdef Py_ssize_t i
    cdef floating g
    if n >= PARALLEL_MIN:
        for i in prange(n, schedule="static"):
            g = gy[i]
            gx[i] = g if y[i] > 0 else 0
    else:
        for i in range(n):
            g = gy[i]
            gx[i] = g if y[i] > 0 else 0


cdef void _leaky(const floating* x, const floating* v, floating* out, floating slope,
                 Py_ssize_t n) noexcept nogil:
    """out = v where x > 0 else slope * v (forward: v = x; backward: v = gy)."""
    cdef Py_ssize_t i
    cdef floating a
    if n >= PARALLEL_MIN:
        for i in prange(n, schedule="static"):
            a = v[i]
            out[i] = a if x[i] > 0 else slope * a
    else:
        for i in range(n):
            a = v[i]
            out[i] = a if x[i] > 0 else slope * a


def relu_forward(cnp.ndarray x not None):
    """y = max(x, 0): a new C-contiguous array of x's shape and dtype."""
    if not _is_float(x):
        return _ref.relu_forward(x)
    x = _contiguous(x)
    cdef cnp.ndarray y = _empty_like(x)
    cdef Py_ssize_t n = cnp.PyArray_SIZE(x)
    with nogil:
        if cnp.PyArray_TYPE(x) == cnp.NPY_FLOAT32:
            _relu(<const float*> cnp.PyArray_DATA(x), <float*> cnp.PyArray_DATA(y), n)
        else:
            _relu(<const double*> cnp.PyArray_DATA(x), <double*> cnp.PyArray_DATA(y), n)
    return y


def relu_backward(cnp.ndarray gy not None, y):
    """gx = gy where y > 0 else 0 (y is the forward output, gy's shape)."""
    if not _is_float(gy):
        return _ref.relu_backward(gy, y)
    gy = _contiguous(gy)
    cdef cnp.ndarray y_arr = _same_layout(y, gy, "relu_backward", "y")
    cdef cnp.ndarray gx = _empty_like(gy)
    cdef Py_ssize_t n = cnp.PyArray_SIZE(gy)
    with nogil:
        if cnp.PyArray_TYPE(gy) == cnp.NPY_FLOAT32:
            _relu_grad(<const float*> cnp.PyArray_DATA(gy), <const float*> cnp.PyArray_DATA(y_arr),
                       <float*> cnp.PyArray_DATA(gx), n)
        else:
            _relu_grad(<const double*> cnp.PyArray_DATA(gy),
                       <const double*> cnp.PyArray_DATA(y_arr), <double*> cnp.PyArray_DATA(gx), n)
    return gx


cdef cnp.ndarray _leaky_call(cnp.ndarray x, cnp.ndarray v, double negative_slope):
    """The shared body of leaky_relu_forward (v = x) and leaky_relu_backward (v = gy)."""
    cdef cnp.ndarray out = _empty_like(v)
    cdef Py_ssize_t n = cnp.PyArray_SIZE(v)
    with nogil:
        if cnp.PyArray_TYPE(v) == cnp.NPY_FLOAT32:
            _leaky(<const float*> cnp.PyArray_DATA(x), <const float*> cnp.PyArray_DATA(v),
                   <float*> cnp.PyArray_DATA(out), <float> negative_slope, n)
        else:
            _leaky(<const double*> cnp.PyArray_DATA(x), <const double*> cnp.PyArray_DATA(v),
                   <double*> cnp.PyArray_DATA(out), negative_slope, n)
    return out


def leaky_relu_forward(cnp.ndarray x not None, double negative_slope):
    """y = x if x > 0 else negative_slope * x."""
    if not _is_float(x):
        return _ref.leaky_relu_forward(x, negative_slope)
    x = _contiguous(x)
    return _leaky_call(x, x, negative_slope)


def leaky_relu_backward(cnp.ndarray gy not None, x, double negative_slope):
    """gx = gy if x > 0 else negative_slope * gy (x is the forward input)."""
    if not _is_float(gy):
        return _ref.leaky_relu_backward(gy, x, negative_slope)
    gy = _contiguous(gy)
    return _leaky_call(_same_layout(x, gy, "leaky_relu_backward", "x"), gy, negative_slope)


# -- dropout ------------------------------------------------------------------------

cdef void _dropout_draw(const floating* x, floating* y, uint8_t* mask, const uint32_t* bits,
                        uint32_t threshold, floating scale, Py_ssize_t n_blocks,
                        Py_ssize_t block) noexcept nogil:
    """mask[b] = bits[b] >= threshold; y = x * (mask ? scale : 0) over block b."""
    cdef Py_ssize_t b, i
    cdef floating factor
    if block == 1:   # element-wise dropout: one flat loop the compiler can vectorise
        if n_blocks >= PARALLEL_MIN:
            for i in prange(n_blocks, schedule="static"):
                mask[i] = bits[i] >= threshold
                y[i] = x[i] * (scale if bits[i] >= threshold else 0)
        else:
            for i in range(n_blocks):
                mask[i] = bits[i] >= threshold
                y[i] = x[i] * (scale if bits[i] >= threshold else 0)
    elif n_blocks * block >= PARALLEL_MIN:
        for b in prange(n_blocks, schedule="static"):
            mask[b] = bits[b] >= threshold
            factor = scale if mask[b] else 0
            for i in range(b * block, (b + 1) * block):
                y[i] = x[i] * factor
    else:
        for b in range(n_blocks):
            mask[b] = bits[b] >= threshold
            factor = scale if mask[b] else 0
            for i in range(b * block, (b + 1) * block):
                y[i] = x[i] * factor


cdef void _dropout_apply(const floating* gy, floating* gx, const uint8_t* mask, floating scale,
                         Py_ssize_t n_blocks, Py_ssize_t block) noexcept nogil:
    """gx = gy * (mask ? scale : 0) over each block."""
    cdef Py_ssize_t b, i
    cdef floating factor
    if block == 1:
        if n_blocks >= PARALLEL_MIN:
            for i in prange(n_blocks, schedule="static"):
                gx[i] = gy[i] * (scale if mask[i] else 0)
        else:
            for i in range(n_blocks):
                gx[i] = gy[i] * (scale if mask[i] else 0)
    elif n_blocks * block >= PARALLEL_MIN:
        for b in prange(n_blocks, schedule="static"):
            factor = scale if mask[b] else 0
            for i in range(b * block, (b + 1) * block):
                gx[i] = gy[i] * factor
    else:
        for b in range(n_blocks):
            factor = scale if mask[b] else 0
            for i in range(b * block, (b + 1) * block):
                gx[i] = gy[i] * factor


def dropout_forward(cnp.ndarray x not None, double p, rng, Py_ssize_t block=1):
    """y = x * mask / (1 - p), one Bernoulli(1 - p) draw per block of ``block``
    elements.  Returns ``(y, mask)`` (mask uint8 (x.size // block,)); see
    ref_elementwise.dropout_forward."""
    if not _is_float(x):  # float16, or a bad dtype the twin reports
        return _ref.dropout_forward(x, p, rng, block)
    cdef Py_ssize_t n_blocks = _ref.check_dropout_args(x, p, block)
    if p >= 1:
        return np.zeros_like(x), np.zeros(n_blocks, dtype=np.uint8)
    keep_from = _ref.dropout_keep_threshold(p)
    if keep_from > 0xFFFFFFFF:   # p within 2^-33 of 1: no uint32 draw is kept
        return _ref.dropout_forward(x, p, rng, block)
    x = _contiguous(x)
    cdef cnp.ndarray bits = _contiguous(_ref.dropout_random_bits(rng, n_blocks))
    cdef uint32_t threshold = keep_from
    cdef cnp.ndarray y = _empty_like(x)
    cdef cnp.ndarray mask = np.empty(n_blocks, dtype=np.uint8)
    cdef double scale = _ref.dropout_scale(p, x.dtype)
    cdef const uint32_t* bits_p = <const uint32_t*> cnp.PyArray_DATA(bits)
    cdef uint8_t* mask_p = <uint8_t*> cnp.PyArray_DATA(mask)
    with nogil:
        if cnp.PyArray_TYPE(x) == cnp.NPY_FLOAT32:
            _dropout_draw(<const float*> cnp.PyArray_DATA(x), <float*> cnp.PyArray_DATA(y), mask_p,
                          bits_p, threshold, <float> scale, n_blocks, block)
        else:
            _dropout_draw(<const double*> cnp.PyArray_DATA(x), <double*> cnp.PyArray_DATA(y),
                          mask_p, bits_p, threshold, scale, n_blocks, block)
    return y, mask


def dropout_backward(cnp.ndarray gy not None, mask_obj, double p, Py_ssize_t block=1):
    """gx = gy * mask / (1 - p), the mask from dropout_forward."""
    if not _is_float(gy):
        return _ref.dropout_backward(gy, mask_obj, p, block)
    cdef Py_ssize_t n_blocks = _ref.check_dropout_args(gy, p, block)
    cdef cnp.ndarray mask = np.asarray(mask_obj)
    if (<object> mask).shape != (n_blocks,) or cnp.PyArray_TYPE(mask) != cnp.NPY_UINT8:
        raise ValueError(f"dropout_backward: mask must be uint8 of shape ({n_blocks},), got "
                         f"{mask.dtype} {(<object> mask).shape}")
    gy = _contiguous(gy)
    mask = _contiguous(mask)
    cdef cnp.ndarray gx = _empty_like(gy)
    cdef double scale = _ref.dropout_scale(p, gy.dtype)
    cdef const uint8_t* mask_p = <const uint8_t*> cnp.PyArray_DATA(mask)
    with nogil:
        if cnp.PyArray_TYPE(gy) == cnp.NPY_FLOAT32:
            _dropout_apply(<const float*> cnp.PyArray_DATA(gy), <float*> cnp.PyArray_DATA(gx),
                           mask_p, <float> scale, n_blocks, block)
        else:
            _dropout_apply(<const double*> cnp.PyArray_DATA(gy), <double*> cnp.PyArray_DATA(gx),
                           mask_p, scale, n_blocks, block)
    return gx
