# cython: language_level=3
"""Compiled twins of tinygrad_kr/kernels/ref_norm.py: batch norm forward and backward.

x (N, C, d1, ...) is seen as (N, C, S), S = d1 * d2 * ... (1 for (N, C)).
Batch norm needs only two array primitives, each written for two layouts:

  * ``_channel_sums``: per channel, sum(u) and sum((u - cu) * (v - cv))
    (forward: sum(x), then sum((x - mean)^2), two-pass for accuracy;
    backward: sum(gy) and sum(gy * (x - mean))), accumulated in double;
  * ``_channel_map``: out = p[c] u + q[c] (v - cv[c]) + r[c]
    (forward: y = scale (x - mean) + bias; backward:
    gx = k gy - k coef (x - mean) - k mean(gy)).

Layouts: with S != 1 each channel owns N contiguous runs of S elements and
channels are split over OpenMP threads; with S == 1 ((N, C) input) rows are
contiguous across channels, so rows are processed in fixed blocks (partial
sums per block, added in block order) and split over threads.  Either way
the result does not depend on the thread count.  The argument checks are
the twin's (check_batch_norm_args).
"""
import numpy as np
cimport numpy as cnp
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport sqrt, NAN
from libc.string cimport memset

from tinygrad_kr.kernels.ref_norm import check_batch_norm_args

cnp.import_array()

# Elements from which the loops run on OpenMP threads.
cdef Py_ssize_t PARALLEL_MIN = 1 << 15
# Rows per block of the (N, C) layout's sums (fixed: it sets the summation order).
cdef Py_ssize_t ROW_BLOCK = 64


cdef struct Layout:
    Py_ssize_t n, c, s      # N, C, S
    double m                # values per channel: N * S
    bint parallel


cdef Layout _layout(cnp.ndarray x):
    cdef Layout lay
    cdef int d
    lay.n, lay.c, lay.s = x.shape[0], x.shape[1], 1
    for d in range(2, cnp.PyArray_NDIM(x)):
        lay.s *= x.shape[d]
    lay.m = <double> (lay.n * lay.s)
    lay.parallel = lay.n * lay.c * lay.s >= PARALLEL_MIN
    return lay


# -- per-channel sums ---------------------------------------------------------------------

cdef inline double _run_sum(const floating* u, Py_ssize_t n) noexcept nogil:
    """sum(u[:n]) with four accumulators: a fixed order that does not wait on
    one add chain (a single accumulator runs at one add per FP-add latency)."""
    cdef double s0 = 0, s1 = 0, s2 = 0, s3 = 0
    cdef Py_ssize_t i = 0
    while i + 4 <= n:
        s0 += u[i]
        s1 += u[i + 1]
        s2 += u[i + 2]
        s3 += u[i + 3]
        i += 4
    while i < n:
        s0 += u[i]
        i += 1
    return (s0 + s1) + (s2 + s3)


cdef inline double _run_dot(const floating* u, const floating* v, Py_ssize_t n, double u0,
                            double v0) noexcept nogil:
    """sum((u[:n] - u0) * (v[:n] - v0)), four accumulators as in _run_sum."""
    cdef double s0 = 0, s1 = 0, s2 = 0, s3 = 0
    cdef Py_ssize_t i = 0
    while i + 4 <= n:
        s0 += (u[i] - u0) * (v[i] - v0)
        s1 += (u[i + 1] - u0) * (v[i + 1] - v0)
        s2 += (u[i + 2] - u0) * (v[i + 2] - v0)
        s3 += (u[i + 3] - u0) * (v[i + 3] - v0)
        i += 4
    while i < n:
        s0 += (u[i] - u0) * (v[i] - v0)
        i += 1
    return (s0 + s1) + (s2 + s3)


cdef void _plane_sums(const floating* u, const floating* v, const double* cu, const double* cv,
                      const Layout* lay, Py_ssize_t c, double* sum_u,
                      double* sum_uv) noexcept nogil:
    """Channel c of the S != 1 layout: its N runs of S contiguous elements."""
    cdef Py_ssize_t n, off
    cdef double su = 0, suv = 0
    for n in range(lay.n):
        off = (n * lay.c + c) * lay.s
        su += _run_sum(u + off, lay.s)
        if v != NULL:
            suv += _run_dot(u + off, v + off, lay.s, cu[c], cv[c])
    sum_u[c] = su
    sum_uv[c] = suv


cdef void _row_block_sums(const floating* u, const floating* v, const double* cu,
                          const double* cv, const Layout* lay, Py_ssize_t block,
                          double* part_u, double* part_uv) noexcept nogil:
    """Rows [block * ROW_BLOCK, ...) of the (N, C) layout into per-channel partial sums."""
    cdef Py_ssize_t n, c, row
    cdef Py_ssize_t stop = min((block + 1) * ROW_BLOCK, lay.n)
    memset(part_u, 0, lay.c * sizeof(double))
    memset(part_uv, 0, lay.c * sizeof(double))
    for n in range(block * ROW_BLOCK, stop):
        row = n * lay.c
        if v == NULL:
            for c in range(lay.c):
                part_u[c] += u[row + c]
        else:
            for c in range(lay.c):
                part_u[c] += u[row + c]
                part_uv[c] += (u[row + c] - cu[c]) * (v[row + c] - cv[c])


cdef void _channel_sums(const floating* u, const floating* v, const double* cu, const double* cv,
                        const Layout* lay, double* sum_u, double* sum_uv,
                        double* partials) noexcept nogil:
    """sum_u[c] = sum(u), sum_uv[c] = sum((u - cu[c]) * (v - cv[c])) over channel c
    (v NULL: sum_u only, cu and cv unused).  ``partials``: 2 * C * ceil(N / ROW_BLOCK)
    doubles of scratch for the S == 1 layout."""
    cdef Py_ssize_t c, b, n_blocks
    if lay.s != 1:   # planes (S == 0: empty planes, nothing to read)
        if lay.parallel and lay.c > 1:
            for c in prange(lay.c, schedule="static"):
                _plane_sums(u, v, cu, cv, lay, c, sum_u, sum_uv)
        else:
            for c in range(lay.c):
                _plane_sums(u, v, cu, cv, lay, c, sum_u, sum_uv)
        return
    n_blocks = (lay.n + ROW_BLOCK - 1) // ROW_BLOCK
    if lay.parallel and n_blocks > 1:
        for b in prange(n_blocks, schedule="static"):
            _row_block_sums(u, v, cu, cv, lay, b, partials + 2 * b * lay.c,
                            partials + (2 * b + 1) * lay.c)
    else:
        for b in range(n_blocks):
            _row_block_sums(u, v, cu, cv, lay, b, partials + 2 * b * lay.c,
                            partials + (2 * b + 1) * lay.c)
    for c in range(lay.c):
        sum_u[c] = 0
        sum_uv[c] = 0
    for b in range(n_blocks):           # block order: the same sum for any thread count
        for c in range(lay.c):
            sum_u[c] += partials[2 * b * lay.c + c]
            sum_uv[c] += partials[(2 * b + 1) * lay.c + c]


# -- per-channel affine map -----------------------------------------------------------------

cdef void _plane_map(const floating* u, const floating* v, floating* out, const double* p,
                     const double* q, const double* cv, const double* r, const Layout* lay,
                     Py_ssize_t c) noexcept nogil:
    cdef Py_ssize_t n, i, off
    cdef double pc = 0.0 if p == NULL else p[c], qc = q[c], vc = cv[c], rc = r[c]
    for n in range(lay.n):
        off = (n * lay.c + c) * lay.s
        if u == NULL:
            for i in range(off, off + lay.s):
                out[i] = <floating> (qc * (v[i] - vc) + rc)
        else:
            for i in range(off, off + lay.s):
                out[i] = <floating> (pc * u[i] + qc * (v[i] - vc) + rc)


cdef void _row_map(const floating* u, const floating* v, floating* out, const double* p,
                   const double* q, const double* cv, const double* r, const Layout* lay,
                   Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t c, row = n * lay.c
    if u == NULL:
        for c in range(lay.c):
            out[row + c] = <floating> (q[c] * (v[row + c] - cv[c]) + r[c])
    else:
        for c in range(lay.c):
            out[row + c] = <floating> (p[c] * u[row + c] + q[c] * (v[row + c] - cv[c]) + r[c])


cdef void _channel_map(const floating* u, const floating* v, floating* out, const double* p,
                       const double* q, const double* cv, const double* r,
                       const Layout* lay) noexcept nogil:
    """out = p[c] u + q[c] (v - cv[c]) + r[c] over channel c, in double (u NULL: no u term)."""
    cdef Py_ssize_t i
    if lay.s != 1:   # planes (S == 0: empty planes, nothing to read)
        if lay.parallel and lay.c > 1:
            for i in prange(lay.c, schedule="static"):
                _plane_map(u, v, out, p, q, cv, r, lay, i)
        else:
            for i in range(lay.c):
                _plane_map(u, v, out, p, q, cv, r, lay, i)
    elif lay.parallel:
        for i in prange(lay.n, schedule="static"):
            _row_map(u, v, out, p, q, cv, r, lay, i)
    else:
        for i in range(lay.n):
            _row_map(u, v, out, p, q, cv, r, lay, i)


# -- typed entry points (the def wrappers dispatch on dtype) ----------------------------------

cdef void _sums(int typenum, const void* u, const void* v, const double* cu, const double* cv,
                const Layout* lay, double* sum_u, double* sum_uv, double* partials) noexcept nogil:
    if typenum == cnp.NPY_FLOAT32:
        _channel_sums(<const float*> u, <const float*> v, cu, cv, lay, sum_u, sum_uv, partials)
    else:
        _channel_sums(<const double*> u, <const double*> v, cu, cv, lay, sum_u, sum_uv, partials)


cdef void _map(int typenum, const void* u, const void* v, void* out, const double* p,
               const double* q, const double* cv, const double* r,
               const Layout* lay) noexcept nogil:
    if typenum == cnp.NPY_FLOAT32:
        _channel_map(<const float*> u, <const float*> v, <float*> out, p, q, cv, r, lay)
    else:
        _channel_map(<const double*> u, <const double*> v, <double*> out, p, q, cv, r, lay)


cdef inline double* _f64(cnp.ndarray a) noexcept nogil:
    return <double*> cnp.PyArray_DATA(a)


cdef cnp.ndarray _scratch(const Layout* lay):
    """Partial-sum scratch for the (N, C) layout (unused otherwise)."""
    cdef Py_ssize_t n_blocks = (lay.n + ROW_BLOCK - 1) // ROW_BLOCK
    return np.empty(2 * lay.c * n_blocks if lay.s == 1 else 0, dtype=np.float64)


cdef cnp.ndarray _as_float64(object v, Py_ssize_t n, double default):
    """A per-channel vector as float64 (n,), ``default`` everywhere for None."""
    if v is None:
        return np.full(n, default)
    return np.asarray(v, dtype=np.float64)


# -- forward ----------------------------------------------------------------------------------

def batch_norm_forward(cnp.ndarray x not None, weight, bias, running_mean, running_var,
                       bint training, double momentum, double eps):
    """y = (x - mean) * invstd * weight + bias per channel; running statistics
    updated IN PLACE in training.  Returns ``(y, mean, invstd)`` (float64 (C,)
    statistics used).  See ref_norm.batch_norm_forward."""
    check_batch_norm_args(x, weight, bias, running_mean, running_var, training, momentum, eps)
    x = np.ascontiguousarray(x)
    cdef Layout lay = _layout(x)
    cdef int typenum = cnp.PyArray_TYPE(x)
    cdef const void* xp = cnp.PyArray_DATA(x)
    cdef cnp.ndarray mean, var, sq_dev
    cdef cnp.ndarray total = np.empty(lay.c), scratch = _scratch(&lay)
    if training:
        mean, sq_dev = np.empty(lay.c), np.empty(lay.c)
        with nogil:
            _sums(typenum, xp, NULL, NULL, NULL, &lay, _f64(total), _f64(sq_dev), _f64(scratch))
        with np.errstate(invalid="ignore", divide="ignore"):   # an empty batch: nan stats
            mean = total / lay.m
            with nogil:
                _sums(typenum, xp, xp, _f64(mean), _f64(mean), &lay, _f64(total), _f64(sq_dev),
                      _f64(scratch))
            var = sq_dev / lay.m
            if running_mean is not None and lay.m > 0:
                _update_running(running_mean, mean, momentum)
                _update_running(running_var, sq_dev / (lay.m - 1), momentum)
    else:
        mean = np.asarray(running_mean, dtype=np.float64)
        var = np.asarray(running_var, dtype=np.float64)
    cdef cnp.ndarray invstd = 1.0 / np.sqrt(var + eps)
    cdef cnp.ndarray scale = invstd * _as_float64(weight, lay.c, 1.0)
    cdef cnp.ndarray shift = _as_float64(bias, lay.c, 0.0)
    cdef cnp.ndarray y = cnp.PyArray_EMPTY(cnp.PyArray_NDIM(x), cnp.PyArray_DIMS(x), typenum, 0)
    with nogil:
        _map(typenum, NULL, xp, cnp.PyArray_DATA(y), NULL, _f64(scale), _f64(mean), _f64(shift),
             &lay)
    return y, mean, invstd


cdef _update_running(cnp.ndarray stat, cnp.ndarray batch, double momentum):
    """stat = (1 - momentum) * stat + momentum * batch, IN PLACE (in double, stored in
    stat's dtype, as PyTorch does)."""
    stat[...] = (1 - momentum) * stat.astype(np.float64) + momentum * batch


# -- backward ---------------------------------------------------------------------------------

cdef _check_statistic(str name, object v, Py_ssize_t n_channels):
    if v.dtype != np.float64 or v.shape != (n_channels,):
        raise ValueError(f"batch_norm_backward: {name} must be float64 of shape ({n_channels},), "
                         f"got {v.dtype} {v.shape}")


def batch_norm_backward(cnp.ndarray gy not None, cnp.ndarray x not None, weight,
                        cnp.ndarray mean not None, cnp.ndarray invstd not None, bint training,
                        bint input_grad=True):
    """``(gx, gweight, gbias)`` of batch_norm_forward (gx None unless
    input_grad).  See ref_norm.batch_norm_backward."""
    if cnp.PyArray_TYPE(x) != cnp.NPY_FLOAT32 and cnp.PyArray_TYPE(x) != cnp.NPY_FLOAT64:
        raise TypeError(f"batch_norm_backward: input must be float32 or float64, got {x.dtype}")
    if cnp.PyArray_NDIM(x) < 2:
        raise ValueError(f"batch_norm_backward: input must be (N, C) or (N, C, *), got shape "
                         f"{(<object> x).shape}")
    if (<object> gy).shape != (<object> x).shape:
        raise ValueError(f"batch_norm_backward: gradient of shape {(<object> gy).shape} for input "
                         f"of shape {(<object> x).shape}")
    cdef Layout lay = _layout(x)
    _check_statistic("mean", mean, lay.c)
    _check_statistic("invstd", invstd, lay.c)
    # native byte order: a '>f4' x has float32's type number but would be read as garbage
    x = np.ascontiguousarray(x, dtype=x.dtype.newbyteorder("="))
    if weight is not None and (weight.dtype != x.dtype or weight.shape != (lay.c,)):
        raise ValueError(f"batch_norm_backward: weight must be {x.dtype} of shape ({lay.c},), "
                         f"got {weight.dtype} {weight.shape}")
    gy = np.ascontiguousarray(gy, dtype=x.dtype)
    mean = np.ascontiguousarray(mean)
    cdef int typenum = cnp.PyArray_TYPE(x)
    cdef cnp.ndarray sum_gy = np.empty(lay.c), sum_gy_dev = np.empty(lay.c)
    cdef cnp.ndarray scratch = _scratch(&lay), zeros = np.zeros(lay.c)
    with nogil:
        _sums(typenum, cnp.PyArray_DATA(gy), cnp.PyArray_DATA(x), _f64(zeros), _f64(mean), &lay,
              _f64(sum_gy), _f64(sum_gy_dev), _f64(scratch))
    # sum(gy * xhat); an empty batch has nan statistics but no terms
    cdef cnp.ndarray sum_gy_xhat = sum_gy_dev * invstd if lay.m > 0 else np.zeros(lay.c)
    cdef cnp.ndarray gx = None, k, q_dev, r_shift
    if input_grad:
        k = invstd * _as_float64(weight, lay.c, 1.0)     # d y / d x with the statistics fixed
        gx = cnp.PyArray_EMPTY(cnp.PyArray_NDIM(x), cnp.PyArray_DIMS(x), typenum, 0)
        if training and lay.m > 0:
            # the batch statistics depend on x too:
            # gx = k gy - k invstd mean(gy xhat) (x - mean) - k mean(gy)
            q_dev = -k * invstd * sum_gy_xhat / lay.m
            r_shift = -k * sum_gy / lay.m
            with nogil:
                _map(typenum, cnp.PyArray_DATA(gy), cnp.PyArray_DATA(x), cnp.PyArray_DATA(gx),
                     _f64(k), _f64(q_dev), _f64(mean), _f64(r_shift), &lay)
        else:   # gx = k gy exactly (x plays no part, even an inf)
            with nogil:
                _map(typenum, NULL, cnp.PyArray_DATA(gy), cnp.PyArray_DATA(gx), NULL, _f64(k),
                     _f64(zeros), _f64(zeros), &lay)
    return gx, sum_gy_xhat.astype(x.dtype), sum_gy.astype(x.dtype)
