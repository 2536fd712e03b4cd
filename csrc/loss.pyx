# cython: language_level=3
"""Compiled twins of tinygrad_kr/kernels/ref_loss.py: fused softmax cross-entropy and NLL.

The input (C,), (N, C) or (N, C, d1, ...) is seen as M = N * d1 * ... rows of
C classes: row r = (n, s) starts at n * C * S + s and its classes are S apart
(S = d1 * d2 * ..., 1 for 2-D input), so no transposed copy is ever made.

Cross entropy forward makes two passes per row (max, then sum of exp together
with whatever the smoothing/probability term needs) and keeps only the row
log-sum-exp (float64) for backward, which recomputes the softmax in one pass.
All arithmetic is in double; only the stored results are in the input dtype.

Every check (dtypes, shapes, label range) runs before the unchecked loops.
Big inputs split their rows over OpenMP threads; small ones stay serial, as a
parallel region costs more than a 128 x 10 problem.  Row losses are summed in
row order in both paths, so the result does not depend on the thread count.
"""
import numpy as np
cimport numpy as cnp
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport exp, log
from libc.stdint cimport int64_t

cnp.import_array()

# Elements (M * C) from which the row loop runs on OpenMP threads.
cdef Py_ssize_t PARALLEL_MIN = 1 << 15

cdef enum Reduction:
    RED_NONE = 0
    RED_MEAN = 1
    RED_SUM = 2


# -- validation (all before any unchecked loop) ---------------------------------

cdef struct Layout:
    Py_ssize_t n_rows      # M
    Py_ssize_t n_classes   # C
    Py_ssize_t inner       # S: distance between two classes of a row


cdef Reduction _reduction_code(str reduction, str fn) except *:
    if reduction == "mean":
        return RED_MEAN
    if reduction == "sum":
        return RED_SUM
    if reduction == "none":
        return RED_NONE
    raise ValueError(f"{fn}: {reduction} is not a valid value for reduction "
                     f"(expected 'none', 'mean' or 'sum')")


cdef cnp.ndarray _check_input(cnp.ndarray x, str fn, Layout* lay):
    """Check logits/log-probabilities; fill ``lay``; return x C-contiguous."""
    cdef int typenum = cnp.PyArray_TYPE(x)
    cdef int nd = cnp.PyArray_NDIM(x), d
    if typenum != cnp.NPY_FLOAT32 and typenum != cnp.NPY_FLOAT64:
        raise TypeError(f"{fn}: input must be float32 or float64, got {x.dtype}")
    if nd == 0:
        raise ValueError(f"{fn}: input must have a class dimension, got a 0-d input")
    if nd == 1:
        lay.n_rows, lay.n_classes, lay.inner = 1, x.shape[0], 1
    else:
        lay.n_classes = x.shape[1]
        lay.inner = 1
        for d in range(2, nd):
            lay.inner *= x.shape[d]
        lay.n_rows = x.shape[0] * lay.inner
    if lay.n_classes == 0:
        raise ValueError(f"{fn}: input of shape {_shape(x)} has no classes (C=0)")
    if not cnp.PyArray_IS_C_CONTIGUOUS(x):
        x = np.ascontiguousarray(x)
    return x


cdef cnp.ndarray _check_weight(weight, cnp.ndarray x, Py_ssize_t n_classes, str fn):
    if weight is None:
        return None
    if not isinstance(weight, np.ndarray):
        raise TypeError(f"{fn}: weight must be a numpy array or None, got {type(weight).__name__}")
    cdef cnp.ndarray w = weight
    if cnp.PyArray_TYPE(w) != cnp.PyArray_TYPE(x):
        raise TypeError(f"{fn}: weight must have the input's dtype {x.dtype}, got {w.dtype}")
    if cnp.PyArray_NDIM(w) != 1 or w.shape[0] != n_classes:
        raise ValueError(f"{fn}: weight should be defined for all {n_classes} classes, "
                         f"got weight of shape {_shape(w)}")
    if not cnp.PyArray_IS_C_CONTIGUOUS(w):
        w = np.ascontiguousarray(w)
    return w


cdef inline tuple _shape(cnp.ndarray a):
    """The Python shape tuple (``a.shape`` on a typed ndarray is a C pointer)."""
    return (<object> a).shape


cdef tuple _class_target_shape(cnp.ndarray x):
    """The input's shape without the class axis."""
    cdef tuple shape = _shape(x)
    if len(shape) == 1:
        return ()
    return shape[:1] + shape[2:]


cdef Py_ssize_t _first_bad_label(const int64_t* y, Py_ssize_t m, Py_ssize_t n_classes,
                                 int64_t ignore_index) noexcept nogil:
    """Index of the first label outside [0, C) that is not ignore_index, or -1."""
    cdef Py_ssize_t r
    for r in range(m):
        if (y[r] < 0 or y[r] >= n_classes) and y[r] != ignore_index:
            return r
    return -1


cdef cnp.ndarray _check_class_target(cnp.ndarray target, cnp.ndarray x, Layout* lay,
                                     int64_t ignore_index, str fn):
    """Validate class-index targets (labels included); return them int64 C-contiguous."""
    cdef int typenum = cnp.PyArray_TYPE(target)
    if typenum == cnp.NPY_UINT8:
        target = target.astype(np.int64)
    elif not (cnp.PyArray_ISINTEGER(target) and cnp.PyArray_ISSIGNED(target)
              and cnp.PyArray_ITEMSIZE(target) == 8):
        raise TypeError(f"{fn}: class-index target must be int64 (or uint8), got {target.dtype}")
    expected = _class_target_shape(x)
    if _shape(target) != expected:
        raise ValueError(f"{fn}: target of shape {_shape(target)} does not match input of "
                         f"shape {_shape(x)} (expected target shape {expected})")
    if not cnp.PyArray_IS_C_CONTIGUOUS(target):
        target = np.ascontiguousarray(target)
    cdef Py_ssize_t bad = _first_bad_label(<const int64_t*> cnp.PyArray_DATA(target),
                                           lay.n_rows, lay.n_classes, ignore_index)
    if bad >= 0:
        label = (<const int64_t*> cnp.PyArray_DATA(target))[bad]
        raise IndexError(f"{fn}: target {label} is out of bounds for {lay.n_classes} classes "
                         f"(valid labels are 0..{lay.n_classes - 1} or ignore_index={ignore_index})")
    return target


cdef cnp.ndarray _check_prob_target(cnp.ndarray target, cnp.ndarray x, int64_t ignore_index,
                                    str fn):
    if _shape(target) != _shape(x):
        raise ValueError(f"{fn}: class-probability target of shape {_shape(target)} must "
                         f"have the input's shape {_shape(x)}")
    if ignore_index >= 0:
        raise ValueError(f"{fn}: ignore_index is not supported for class-probability targets")
    return np.ascontiguousarray(target, dtype=x.dtype)


cdef tuple _check_ce(cnp.ndarray logits, cnp.ndarray target, weight, int64_t ignore_index,
                     str reduction, double label_smoothing, Layout* lay):
    """All cross_entropy checks. Returns (logits, target, weight, is_prob, reduction code)."""
    cdef str fn = "cross_entropy"
    logits = _check_input(logits, fn, lay)
    cdef cnp.ndarray w = _check_weight(weight, logits, lay.n_classes, fn)
    cdef Reduction red = _reduction_code(reduction, fn)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{fn}: label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
    if cnp.PyArray_ISFLOAT(target):
        return logits, _check_prob_target(target, logits, ignore_index, fn), w, True, red
    if cnp.PyArray_ISINTEGER(target):
        return logits, _check_class_target(target, logits, lay, ignore_index, fn), w, False, red
    raise TypeError(f"{fn}: target must be int64 class indices or float class probabilities, "
                    f"got {target.dtype}")


# -- small helpers ------------------------------------------------------------------

cdef inline double _ieee_div(double a, double b) noexcept nogil:
    """a / b; with cdivision on, b == 0 gives nan/inf as PyTorch does for an
    all-ignored (or zero-weight) batch."""
    return a / b


cdef cnp.ndarray _new_array(tuple shape, int typenum):
    return np.empty(shape, dtype=cnp.PyArray_DescrFromType(typenum))


cdef cnp.ndarray _scalar_array(double value, int typenum):
    """A 0-d array of ``typenum`` holding value."""
    cdef cnp.ndarray out = cnp.PyArray_EMPTY(0, NULL, typenum, 0)
    if typenum == cnp.NPY_FLOAT32:
        (<float*> cnp.PyArray_DATA(out))[0] = <float> value
    else:
        (<double*> cnp.PyArray_DATA(out))[0] = value
    return out


cdef cnp.ndarray _row_grads(gloss, Reduction red, Py_ssize_t n_rows, str fn):
    """The incoming gradient as float64 (M,) per row ('none'), or None when
    it is one number for every row (returned through ``scale``)."""
    if red != RED_NONE:
        return None
    cdef cnp.ndarray g = np.ascontiguousarray(gloss, dtype=np.float64)
    if g.size != n_rows:
        raise ValueError(f"{fn}: gradient of {g.size} elements for a loss of {n_rows} elements")
    return g


cdef double _grad_scale(gloss, Reduction red, double total_weight):
    if red == RED_NONE:
        return 1.0
    if red == RED_MEAN:
        return _ieee_div(float(gloss), total_weight)
    return float(gloss)


# -- per-row cores (nogil) -----------------------------------------------------

cdef inline double _row_max(const floating* x, Py_ssize_t n_classes, Py_ssize_t st) noexcept nogil:
    cdef double m = x[0]
    cdef Py_ssize_t c
    for c in range(1, n_classes):
        if x[c * st] > m:
            m = x[c * st]
    return m


cdef inline double _row_sum_exp(const floating* x, Py_ssize_t n_classes, Py_ssize_t st,
                                double m) noexcept nogil:
    cdef double s = 0
    cdef Py_ssize_t c
    for c in range(n_classes):
        s += exp(x[c * st] - m)
    return s


cdef inline double _ce_row_class(const floating* x, Py_ssize_t n_classes, Py_ssize_t st,
                                 int64_t y, int64_t ignore_index, const floating* w,
                                 double w_sum, double eps, double* lse) noexcept nogil:
    """Loss of one row with class index y; writes the row log-sum-exp to lse.

    loss = (1-eps) * w[y] * (lse - x[y]) + eps/C * sum_c w[c] (lse - x[c]),
    with sum_c w[c] (x[c] - m) gathered in the same pass as the exps."""
    cdef double m = _row_max(x, n_classes, st)
    cdef double s = 0, ws = 0, d, log_s, w_y, loss
    cdef Py_ssize_t c
    if eps > 0:
        for c in range(n_classes):
            d = x[c * st] - m
            s += exp(d)
            ws += d if w == NULL else w[c] * d
    else:
        s = _row_sum_exp(x, n_classes, st, m)
    log_s = log(s)
    lse[0] = m + log_s
    if y == ignore_index:
        return 0.0
    w_y = 1.0 if w == NULL else w[y]
    loss = (1 - eps) * w_y * (log_s - (x[y * st] - m))
    if eps > 0:
        loss += eps / n_classes * (w_sum * log_s - ws)
    return loss


cdef inline double _ce_row_prob(const floating* x, const floating* t, Py_ssize_t n_classes,
                                Py_ssize_t st, const floating* w, double eps,
                                double* lse) noexcept nogil:
    """Loss of one row with class probabilities t (smoothed: (1-eps) t + eps/C):
    loss = sum_c w[c] q[c] (lse - x[c])."""
    cdef double m = _row_max(x, n_classes, st)
    cdef double s = 0, wq_sum = 0, wq_dot = 0, d, wq, log_s
    cdef Py_ssize_t c
    for c in range(n_classes):
        d = x[c * st] - m
        s += exp(d)
        wq = (1 - eps) * t[c * st] + eps / n_classes
        if w != NULL:
            wq = wq * w[c]
        wq_sum += wq
        wq_dot += wq * d
    log_s = log(s)
    lse[0] = m + log_s
    return wq_sum * log_s - wq_dot


cdef inline void _ce_grad_row_class(const floating* x, floating* gx, Py_ssize_t n_classes,
                                    Py_ssize_t st, int64_t y, int64_t ignore_index,
                                    const floating* w, double w_sum, double eps, double lse,
                                    double g) noexcept nogil:
    """gx = g * (softmax * (hard + soft*W) - soft * w) - g*hard at y, where
    hard = (1-eps) w[y] and soft = eps/C: softmax minus the (weighted,
    smoothed) target distribution, without building a one-hot."""
    cdef Py_ssize_t c
    if y == ignore_index:
        for c in range(n_classes):
            gx[c * st] = 0
        return
    cdef double hard = (1 - eps) * (1.0 if w == NULL else w[y])
    cdef double soft = eps / n_classes
    cdef double coef = g * (hard + soft * w_sum)
    cdef double g_soft = g * soft
    for c in range(n_classes):
        gx[c * st] = <floating> (exp(x[c * st] - lse) * coef
                                 - (g_soft if w == NULL else g_soft * w[c]))
    gx[y * st] = <floating> (gx[y * st] - g * hard)


cdef inline void _ce_grad_row_prob(const floating* x, const floating* t, floating* gx,
                                   Py_ssize_t n_classes, Py_ssize_t st, const floating* w,
                                   double eps, double lse, double g) noexcept nogil:
    """gx = g * (softmax * sum(w q) - w q), q = (1-eps) t + eps/C."""
    cdef double wq_sum = 0, wq
    cdef Py_ssize_t c
    for c in range(n_classes):
        wq = (1 - eps) * t[c * st] + eps / n_classes
        wq_sum += wq if w == NULL else wq * w[c]
    for c in range(n_classes):
        wq = (1 - eps) * t[c * st] + eps / n_classes
        if w != NULL:
            wq = wq * w[c]
        gx[c * st] = <floating> (g * (exp(x[c * st] - lse) * wq_sum - wq))


# -- whole-array loops ------------------------------------------------------------

cdef struct CEArgs:
    Py_ssize_t n_rows, n_classes, inner
    bint is_prob
    int64_t ignore_index
    double eps, w_sum
    const int64_t* labels    # class-index targets (M,) or NULL
    const void* probs        # probability targets (input's layout) or NULL
    const void* weight       # (C,) or NULL
    double* lse              # (M,) float64


cdef inline Py_ssize_t _row_offset(Py_ssize_t r, Py_ssize_t n_classes, Py_ssize_t inner) noexcept nogil:
    """Offset of class 0 of row r = (n, s) in the (N, C, S) layout."""
    cdef Py_ssize_t n = r // inner
    return n * n_classes * inner + (r - n * inner)


cdef inline double _ce_row(const floating* x, const CEArgs* a, Py_ssize_t r) noexcept nogil:
    cdef Py_ssize_t off = _row_offset(r, a.n_classes, a.inner)
    if a.is_prob:
        return _ce_row_prob(x + off, <const floating*> a.probs + off, a.n_classes, a.inner,
                            <const floating*> a.weight, a.eps, a.lse + r)
    return _ce_row_class(x + off, a.n_classes, a.inner, a.labels[r], a.ignore_index,
                         <const floating*> a.weight, a.w_sum, a.eps, a.lse + r)


cdef double _ce_forward_loop(const floating* x, const CEArgs* a, floating* out_rows,
                             double* buf, bint parallel) noexcept nogil:
    """Row losses into out_rows (reduction 'none') or their sum (returned).
    ``buf`` (M doubles) holds the row losses of a parallel summed run."""
    cdef Py_ssize_t r
    cdef double total = 0
    if parallel:
        if out_rows != NULL:
            for r in prange(a.n_rows, schedule="static"):
                out_rows[r] = <floating> _ce_row(x, a, r)
            return 0
        for r in prange(a.n_rows, schedule="static"):
            buf[r] = _ce_row(x, a, r)
        for r in range(a.n_rows):
            total += buf[r]
        return total
    for r in range(a.n_rows):
        if out_rows != NULL:
            out_rows[r] = <floating> _ce_row(x, a, r)
        else:
            total += _ce_row(x, a, r)
    return total


cdef inline void _ce_grad_row(const floating* x, floating* gx, const CEArgs* a, Py_ssize_t r,
                              double g) noexcept nogil:
    cdef Py_ssize_t off = _row_offset(r, a.n_classes, a.inner)
    if a.is_prob:
        _ce_grad_row_prob(x + off, <const floating*> a.probs + off, gx + off, a.n_classes,
                          a.inner, <const floating*> a.weight, a.eps, a.lse[r], g)
    else:
        _ce_grad_row_class(x + off, gx + off, a.n_classes, a.inner, a.labels[r],
                           a.ignore_index, <const floating*> a.weight, a.w_sum, a.eps,
                           a.lse[r], g)


cdef void _ce_backward_loop(const floating* x, floating* gx, const CEArgs* a,
                            const double* g_rows, double g_all, bint parallel) noexcept nogil:
    """gx for every row; row r's incoming gradient is g_rows[r] or g_all."""
    cdef Py_ssize_t r
    if parallel:
        for r in prange(a.n_rows, schedule="static"):
            _ce_grad_row(x, gx, a, r, g_all if g_rows == NULL else g_rows[r])
    else:
        for r in range(a.n_rows):
            _ce_grad_row(x, gx, a, r, g_all if g_rows == NULL else g_rows[r])


cdef double _weighted_label_count(const int64_t* y, Py_ssize_t m, int64_t ignore_index,
                                  const floating* w) noexcept nogil:
    """Sum of w[y] over the non-ignored labels (their count when w is NULL)."""
    cdef double total = 0
    cdef Py_ssize_t r
    for r in range(m):
        if y[r] != ignore_index:
            total += 1.0 if w == NULL else w[y[r]]
    return total


cdef double _sum_weights(const floating* w, Py_ssize_t n) noexcept nogil:
    cdef double s = 0
    cdef Py_ssize_t c
    for c in range(n):
        s += w[c]
    return s


cdef tuple _prepare_ce(cnp.ndarray logits, cnp.ndarray target, weight, int64_t ignore_index,
                       str reduction, double label_smoothing, CEArgs* a):
    """Validate and fill ``a`` (all but lse); returns (logits, target, weight, reduction code),
    which the caller must keep alive while ``a`` points into them."""
    cdef Layout lay
    cdef cnp.ndarray x, t, w
    cdef bint is_prob
    cdef Reduction red
    x, t, w, is_prob, red = _check_ce(logits, target, weight, ignore_index, reduction,
                                      label_smoothing, &lay)
    a.n_rows, a.n_classes, a.inner = lay.n_rows, lay.n_classes, lay.inner
    a.is_prob = is_prob
    a.ignore_index = ignore_index
    a.eps = label_smoothing
    a.labels = NULL
    a.probs = NULL
    if is_prob:
        a.probs = cnp.PyArray_DATA(t)
    else:
        a.labels = <const int64_t*> cnp.PyArray_DATA(t)
    a.weight = NULL if w is None else cnp.PyArray_DATA(w)
    if w is None:
        a.w_sum = lay.n_classes
    elif cnp.PyArray_TYPE(x) == cnp.NPY_FLOAT32:
        a.w_sum = _sum_weights(<const float*> a.weight, lay.n_classes)
    else:
        a.w_sum = _sum_weights(<const double*> a.weight, lay.n_classes)
    return x, t, w, red


def cross_entropy_forward(cnp.ndarray logits not None, cnp.ndarray target not None, weight=None,
                          int64_t ignore_index=-100, str reduction="mean",
                          double label_smoothing=0.0):
    """Fused log-softmax + negative log-likelihood (``F.cross_entropy``).

    Returns ``(loss, lse, total_weight)``: the loss (target's shape for 'none',
    else 0-d, logits' dtype), the float64 (M,) row log-sum-exp for backward,
    and the 'mean' normaliser.  See ref_loss.cross_entropy_forward.
    """
    cdef CEArgs a
    cdef cnp.ndarray x, t, w, out, buf = None
    cdef Reduction red
    x, t, w, red = _prepare_ce(logits, target, weight, ignore_index, reduction, label_smoothing, &a)
    cdef int typenum = cnp.PyArray_TYPE(x)
    cdef bint parallel = a.n_rows > 1 and a.n_rows * a.n_classes >= PARALLEL_MIN
    cdef cnp.npy_intp n_rows = a.n_rows
    cdef cnp.ndarray lse = cnp.PyArray_EMPTY(1, &n_rows, cnp.NPY_FLOAT64, 0)
    a.lse = <double*> cnp.PyArray_DATA(lse)
    cdef double total_weight, total
    if a.is_prob:
        total_weight = a.n_rows
    elif typenum == cnp.NPY_FLOAT32:
        total_weight = _weighted_label_count(a.labels, a.n_rows, ignore_index, <const float*> a.weight)
    else:
        total_weight = _weighted_label_count(a.labels, a.n_rows, ignore_index, <const double*> a.weight)

    if red == RED_NONE:
        out = _new_array(_class_target_shape(x), typenum)
        with nogil:
            if typenum == cnp.NPY_FLOAT32:
                _ce_forward_loop(<const float*> cnp.PyArray_DATA(x), &a,
                                 <float*> cnp.PyArray_DATA(out), NULL, parallel)
            else:
                _ce_forward_loop(<const double*> cnp.PyArray_DATA(x), &a,
                                 <double*> cnp.PyArray_DATA(out), NULL, parallel)
        return out, lse, total_weight

    if parallel:
        buf = cnp.PyArray_EMPTY(1, &n_rows, cnp.NPY_FLOAT64, 0)
    cdef double* buf_p = NULL if buf is None else <double*> cnp.PyArray_DATA(buf)
    with nogil:
        if typenum == cnp.NPY_FLOAT32:
            total = _ce_forward_loop(<const float*> cnp.PyArray_DATA(x), &a, NULL, buf_p, parallel)
        else:
            total = _ce_forward_loop(<const double*> cnp.PyArray_DATA(x), &a, NULL, buf_p, parallel)
    if red == RED_MEAN:
        total = _ieee_div(total, total_weight)
    return _scalar_array(total, typenum), lse, total_weight


def cross_entropy_backward(cnp.ndarray logits not None, cnp.ndarray target not None,
                           cnp.ndarray lse not None, gloss, double total_weight, weight=None,
                           int64_t ignore_index=-100, str reduction="mean",
                           double label_smoothing=0.0):
    """Gradient of cross_entropy_forward w.r.t. the logits (logits' shape and
    dtype, C-contiguous).  See ref_loss.cross_entropy_backward."""
    cdef CEArgs a
    cdef cnp.ndarray x, t, w
    cdef Reduction red
    x, t, w, red = _prepare_ce(logits, target, weight, ignore_index, reduction, label_smoothing, &a)
    if (cnp.PyArray_TYPE(lse) != cnp.NPY_FLOAT64 or cnp.PyArray_NDIM(lse) != 1
            or lse.shape[0] != a.n_rows):
        raise ValueError(f"cross_entropy_backward: lse must be float64 of shape ({a.n_rows},), "
                         f"got {lse.dtype} {_shape(lse)}")
    lse = np.ascontiguousarray(lse)
    a.lse = <double*> cnp.PyArray_DATA(lse)
    cdef cnp.ndarray g_rows = _row_grads(gloss, red, a.n_rows, "cross_entropy_backward")
    cdef const double* g_rows_p = NULL
    if g_rows is not None:
        g_rows_p = <const double*> cnp.PyArray_DATA(g_rows)
    cdef double g_all = _grad_scale(gloss, red, total_weight)
    cdef int typenum = cnp.PyArray_TYPE(x)
    cdef cnp.ndarray gx = cnp.PyArray_EMPTY(cnp.PyArray_NDIM(x), cnp.PyArray_DIMS(x), typenum, 0)
    cdef bint parallel = a.n_rows > 1 and a.n_rows * a.n_classes >= PARALLEL_MIN
    with nogil:
        if typenum == cnp.NPY_FLOAT32:
            _ce_backward_loop(<const float*> cnp.PyArray_DATA(x), <float*> cnp.PyArray_DATA(gx),
                              &a, g_rows_p, g_all, parallel)
        else:
            _ce_backward_loop(<const double*> cnp.PyArray_DATA(x), <double*> cnp.PyArray_DATA(gx),
                              &a, g_rows_p, g_all, parallel)
    return gx


# -- nll loss -------------------------------------------------------------------------

cdef double _nll_forward_loop(const floating* x, const int64_t* y, const floating* w,
                              Py_ssize_t n_rows, Py_ssize_t n_classes, Py_ssize_t inner,
                              int64_t ignore_index, floating* out_rows) noexcept nogil:
    """Row losses -w[y] x[y] into out_rows ('none'), or their sum (returned)."""
    cdef Py_ssize_t r
    cdef double total = 0, loss
    for r in range(n_rows):
        if y[r] == ignore_index:
            loss = 0
        else:
            loss = -(1.0 if w == NULL else w[y[r]]) * x[_row_offset(r, n_classes, inner) + y[r] * inner]
        if out_rows != NULL:
            out_rows[r] = <floating> loss
        else:
            total += loss
    return total


cdef void _nll_backward_loop(floating* gx, const int64_t* y, const floating* w,
                             Py_ssize_t n_rows, Py_ssize_t n_classes, Py_ssize_t inner,
                             int64_t ignore_index, const double* g_rows,
                             double g_all) noexcept nogil:
    """Scatter -w[y] g into the zeroed gx at each row's label."""
    cdef Py_ssize_t r
    cdef double g
    for r in range(n_rows):
        if y[r] != ignore_index:
            g = g_all if g_rows == NULL else g_rows[r]
            gx[_row_offset(r, n_classes, inner) + y[r] * inner] = <floating> (
                -(1.0 if w == NULL else w[y[r]]) * g)


cdef tuple _check_nll(cnp.ndarray logp, cnp.ndarray target, weight, int64_t ignore_index,
                      str reduction, Layout* lay):
    cdef str fn = "nll_loss"
    logp = _check_input(logp, fn, lay)
    cdef cnp.ndarray w = _check_weight(weight, logp, lay.n_classes, fn)
    cdef Reduction red = _reduction_code(reduction, fn)
    if not cnp.PyArray_ISINTEGER(target):
        raise TypeError(f"{fn}: target must be int64 class indices, got {target.dtype}")
    return logp, _check_class_target(target, logp, lay, ignore_index, fn), w, red


def nll_loss_forward(cnp.ndarray logp not None, cnp.ndarray target not None, weight=None,
                     int64_t ignore_index=-100, str reduction="mean"):
    """``F.nll_loss``: per row ``-w[y] * logp[y]``.  Returns ``(loss, total_weight)``."""
    cdef Layout lay
    cdef cnp.ndarray x, t, w, out
    cdef Reduction red
    x, t, w, red = _check_nll(logp, target, weight, ignore_index, reduction, &lay)
    cdef int typenum = cnp.PyArray_TYPE(x)
    cdef const int64_t* y = <const int64_t*> cnp.PyArray_DATA(t)
    cdef void* wp = NULL if w is None else cnp.PyArray_DATA(w)
    cdef void* outp = NULL
    cdef double total, total_weight
    if red == RED_NONE:
        out = _new_array(_class_target_shape(x), typenum)
        outp = cnp.PyArray_DATA(out)
    with nogil:
        if typenum == cnp.NPY_FLOAT32:
            total_weight = _weighted_label_count(y, lay.n_rows, ignore_index, <const float*> wp)
            total = _nll_forward_loop(<const float*> cnp.PyArray_DATA(x), y, <const float*> wp,
                                      lay.n_rows, lay.n_classes, lay.inner, ignore_index,
                                      <float*> outp)
        else:
            total_weight = _weighted_label_count(y, lay.n_rows, ignore_index, <const double*> wp)
            total = _nll_forward_loop(<const double*> cnp.PyArray_DATA(x), y, <const double*> wp,
                                      lay.n_rows, lay.n_classes, lay.inner, ignore_index,
                                      <double*> outp)
    if red == RED_NONE:
        return out, total_weight
    if red == RED_MEAN:
        total = _ieee_div(total, total_weight)
    return _scalar_array(total, typenum), total_weight


def nll_loss_backward(cnp.ndarray logp not None, cnp.ndarray target not None, gloss,
                      double total_weight, weight=None, int64_t ignore_index=-100,
                      str reduction="mean"):
    """Gradient of nll_loss_forward w.r.t. ``logp`` (zero except at the labels)."""
    cdef Layout lay
    cdef cnp.ndarray x, t, w
    cdef Reduction red
    x, t, w, red = _check_nll(logp, target, weight, ignore_index, reduction, &lay)
    cdef cnp.ndarray g_rows = _row_grads(gloss, red, lay.n_rows, "nll_loss_backward")
    cdef const double* g_rows_p = NULL
    if g_rows is not None:
        g_rows_p = <const double*> cnp.PyArray_DATA(g_rows)
    cdef double g_all = _grad_scale(gloss, red, total_weight)
    cdef int typenum = cnp.PyArray_TYPE(x)
    cdef cnp.ndarray gx = cnp.PyArray_ZEROS(cnp.PyArray_NDIM(x), cnp.PyArray_DIMS(x), typenum, 0)
    cdef const int64_t* y = <const int64_t*> cnp.PyArray_DATA(t)
    cdef void* wp = NULL if w is None else cnp.PyArray_DATA(w)
    with nogil:
        if typenum == cnp.NPY_FLOAT32:
            _nll_backward_loop(<float*> cnp.PyArray_DATA(gx), y, <const float*> wp, lay.n_rows,
                               lay.n_classes, lay.inner, ignore_index, g_rows_p, g_all)
        else:
            _nll_backward_loop(<double*> cnp.PyArray_DATA(gx), y, <const double*> wp, lay.n_rows,
                               lay.n_classes, lay.inner, ignore_index, g_rows_p, g_all)
    return gx
