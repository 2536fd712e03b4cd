# cython: language_level=3
"""Compiled twins of tinygrad_kr/kernels/ref_loss.py: fused softmax cross-entropy and NLL.

The input (C,), (N, C) or (N, C, d1, ...) is seen as M = N * d1 * ... rows of
C classes: row r = (n, s) starts at n * C * S + s and its classes are S apart
(S = d1 * d2 * ..., 1 for 2-D input), so no transposed copy is ever made.

Cross entropy forward makes two passes per row (max, then sum of exp; a third,
exp-free one for label smoothing or probability targets) and keeps only the
row log-sum-exp (float64) for backward, which recomputes the softmax in one
pass.  Sums are in double; the exp is the vectorised one below, in the
input's precision.

Every check (dtypes, shapes, label range) runs before the unchecked loops.
Big inputs split their rows over OpenMP threads; small ones stay serial, as a
parallel region costs more than a 128 x 10 problem.  Row losses are summed in
row order in both paths, so the result does not depend on the thread count.
"""
import numpy as np
cimport numpy as cnp
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport log
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


cdef inline cnp.ndarray _as_array(object a):
    """An ndarray for ``a`` (NumPy returns scalars, not 0-d arrays, from some operations)."""
    return a if isinstance(a, np.ndarray) else np.asarray(a)


cdef cnp.ndarray _check_input(cnp.ndarray x, str fn, Layout* lay):
    """Check logits/log-probabilities; fill ``lay``; return x C-contiguous."""
    cdef int typenum = cnp.PyArray_TYPE(x)
    cdef int nd = cnp.PyArray_NDIM(x), d
    # (a byte-swapped array has the same type number: it must not pass as native)
    if (typenum != cnp.NPY_FLOAT32 and typenum != cnp.NPY_FLOAT64) \
            or not cnp.PyArray_ISNOTSWAPPED(x):
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
    if cnp.PyArray_TYPE(w) != cnp.PyArray_TYPE(x) or not cnp.PyArray_ISNOTSWAPPED(w):
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
              and cnp.PyArray_ITEMSIZE(target) == 8 and cnp.PyArray_ISNOTSWAPPED(target)):
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
                         f"(valid labels are 0..{lay.n_classes - 1} or "
                         f"ignore_index={ignore_index})")
    return target


cdef cnp.ndarray _check_prob_target(cnp.ndarray target, cnp.ndarray x, int64_t ignore_index,
                                    str fn):
    if _shape(target) != _shape(x):
        raise ValueError(f"{fn}: class-probability target of shape {_shape(target)} must "
                         f"have the input's shape {_shape(x)}")
    if ignore_index >= 0:
        raise ValueError(f"{fn}: ignore_index is not supported for class-probability targets")
    return np.ascontiguousarray(target, dtype=x.dtype)


cdef tuple _check_ce(cnp.ndarray logits, object target_obj, weight, int64_t ignore_index,
                     str reduction, double label_smoothing, Layout* lay):
    """All cross_entropy checks. Returns (logits, target, weight, is_prob, reduction code)."""
    cdef str fn = "cross_entropy"
    cdef cnp.ndarray target = _as_array(target_obj)
    logits = _check_input(logits, fn, lay)
    cdef cnp.ndarray w = _check_weight(weight, logits, lay.n_classes, fn)
    cdef Reduction red = _reduction_code(reduction, fn)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{fn}: label_smoothing must be between 0.0 and 1.0, "
                         f"got {label_smoothing}")
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
    """The incoming gradient as float64 (M,) per row (reduction 'none'), or
    None when one number scales every row (see _grad_scale)."""
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


# -- vector math: exp, row log-sum-exp, scaled softmax ------------------------------------
#
# glibc's exp is a scalar call (~5 ns) and the softmax needs one per logit in
# the forward and one in the backward.  The C below is a vectorisable exp
# (< 1 ulp) and the contiguous-row loops over it; strided rows (inputs with
# spatial dims) use the scalar tkr_exp/tkr_expf.

cdef extern from *:
    """
    #include <stdint.h>
    #include <string.h>
    /* Without no-trapping-math GCC keeps the final select of the exp as a branch
       and will not vectorise the loops. */
    #if defined(__GNUC__) && !defined(__clang__)
    #pragma GCC push_options
    #pragma GCC optimize("no-trapping-math")
    #endif

    /* e^x = 2^k e^r, k = round(x / ln2), |r| <= ln2/2, e^r by its Taylor series
       (degree 13 in double, 8 in float: < 1 ulp).  Branch-free apart from the
       final select (0 below the normal range, which also covers -inf; NaN stays
       NaN), so loops over it vectorise.  For x <= 709 (88 in float): the softmax
       only ever passes x - max <= 0. */
    static inline double tkr_exp(double x) {
        const double log2e = 1.4426950408889634, ln2_hi = 6.93147180369123816490e-01,
                     ln2_lo = 1.90821492927058770002e-10;
        const double shifter = 6755399441055744.0;  /* 1.5 * 2^52: + shifter rounds to integer */
        double kd = x * log2e + shifter;
        double k = kd - shifter;
        double r = (x - k * ln2_hi) - k * ln2_lo;   /* ln2_hi ends in zeros: k * ln2_hi is exact */
        double p = 1.0 / 6227020800.0;
        p = p * r + 1.0 / 479001600.0;
        p = p * r + 1.0 / 39916800.0;
        p = p * r + 1.0 / 3628800.0;
        p = p * r + 1.0 / 362880.0;
        p = p * r + 1.0 / 40320.0;
        p = p * r + 1.0 / 5040.0;
        p = p * r + 1.0 / 720.0;
        p = p * r + 1.0 / 120.0;
        p = p * r + 1.0 / 24.0;
        p = p * r + 1.0 / 6.0;
        p = p * r + 0.5;
        p = p * r + 1.0;
        p = p * r + 1.0;
        uint64_t bits;
        memcpy(&bits, &kd, 8);
        bits = (bits + 1023) << 52;                   /* kd's low bits hold k: this is 2^k */
        double two_k;
        memcpy(&two_k, &bits, 8);
        return x < -708.0 ? 0.0 : p * two_k;
    }

    static inline float tkr_expf(float x) {
        const float log2e = 1.44269504f, ln2_hi = 0.693359375f, ln2_lo = -2.12194440e-4f;
        const float shifter = 12582912.0f;            /* 1.5 * 2^23 */
        float kd = x * log2e + shifter;
        float k = kd - shifter;
        float r = (x - k * ln2_hi) - k * ln2_lo;
        float p = 1.0f / 40320.0f;
        p = p * r + 1.0f / 5040.0f;
        p = p * r + 1.0f / 720.0f;
        p = p * r + 1.0f / 120.0f;
        p = p * r + 1.0f / 24.0f;
        p = p * r + 1.0f / 6.0f;
        p = p * r + 0.5f;
        p = p * r + 1.0f;
        p = p * r + 1.0f;
        uint32_t bits;
        memcpy(&bits, &kd, 4);
        bits = (bits + 127) << 23;
        float two_k;
        memcpy(&two_k, &bits, 4);
        return x < -87.0f ? 0.0f : p * two_k;
    }

    /* The row loops, instantiated for baseline x86-64/any CPU (_base) and, with
       GCC on x86-64, for AVX2+FMA (_avx2), picked once at import by tkr_vec_init.
       The sum of exps goes through a chunk buffer and four accumulators: the
       exps vectorise, and the summation order is fixed, whatever the vector width. */
    #define TKR_CHUNK 256
    #define TKR_VEC_LOOPS(SFX) \
    /* m = max(x[:n]) (n >= 1; a NaN is skipped, the sum below then turns NaN) and \
       sum(exp(x - m)), returned through *sum (>= 1, or NaN) */ \
    static double tkr_max_sum_exp_f64##SFX(const double* x, Py_ssize_t n, double* sum) { \
        double m = x[0], e[TKR_CHUNK], s0 = 0, s1 = 0, s2 = 0, s3 = 0; \
        for (Py_ssize_t i = 1; i < n; i++) m = x[i] > m ? x[i] : m; \
        for (Py_ssize_t start = 0; start < n; start += TKR_CHUNK) { \
            Py_ssize_t len = n - start < TKR_CHUNK ? n - start : TKR_CHUNK, i = 0; \
            for (Py_ssize_t j = 0; j < len; j++) e[j] = tkr_exp(x[start + j] - m); \
            for (; i + 4 <= len; i += 4) { \
                s0 += e[i]; s1 += e[i + 1]; s2 += e[i + 2]; s3 += e[i + 3]; \
            } \
            for (; i < len; i++) s0 += e[i]; \
        } \
        *sum = (s0 + s1) + (s2 + s3); \
        return m; \
    } \
    static double tkr_max_sum_exp_f32##SFX(const float* x, Py_ssize_t n, double* sum) { \
        float m = x[0], e[TKR_CHUNK]; \
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0; \
        for (Py_ssize_t i = 1; i < n; i++) m = x[i] > m ? x[i] : m; \
        for (Py_ssize_t start = 0; start < n; start += TKR_CHUNK) { \
            Py_ssize_t len = n - start < TKR_CHUNK ? n - start : TKR_CHUNK, i = 0; \
            for (Py_ssize_t j = 0; j < len; j++) e[j] = tkr_expf(x[start + j] - m); \
            for (; i + 4 <= len; i += 4) { \
                s0 += e[i]; s1 += e[i + 1]; s2 += e[i + 2]; s3 += e[i + 3]; \
            } \
            for (; i < len; i++) s0 += e[i]; \
        } \
        *sum = (s0 + s1) + (s2 + s3); \
        return m; \
    } \
    static void tkr_exp_shifted_f64##SFX(const double* __restrict x, double* __restrict y, \
                                         Py_ssize_t n, double shift, double scale) { \
        for (Py_ssize_t i = 0; i < n; i++) y[i] = tkr_exp(x[i] - shift) * scale; \
    } \
    static void tkr_exp_shifted_f32##SFX(const float* __restrict x, float* __restrict y, \
                                         Py_ssize_t n, double shift, float scale) { \
        for (Py_ssize_t i = 0; i < n; i++) \
            y[i] = tkr_expf((float) ((double) x[i] - shift)) * scale; \
    }

    TKR_VEC_LOOPS(_base)
    #if defined(__GNUC__) && !defined(__clang__)
    #pragma GCC pop_options
    #endif

    #if defined(__AVX2__) && defined(__FMA__)
    /* Built for this CPU (-march=native): the baseline loops already use its
       vector unit, and calling them directly lets them inline (a call
       through a pointer per row was half the cost of a 10-class row). */
    #define TKR_ISA 2
    #define TKR_DIRECT(fn, SFX) fn##SFX
    #elif defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
    /* A portable build: an AVX2+FMA copy, picked at import if the CPU has it. */
    #define TKR_ISA 1
    #pragma GCC push_options
    #pragma GCC optimize("no-trapping-math")
    #pragma GCC target("avx2,fma")
    TKR_VEC_LOOPS(_avx2)
    #pragma GCC pop_options
    #else
    #define TKR_ISA 0
    #endif

    #if TKR_ISA == 2
    static int tkr_vec_init(void) { return 2; }
    static inline double tkr_max_sum_exp_f64(const double* x, Py_ssize_t n, double* sum) {
        return tkr_max_sum_exp_f64_base(x, n, sum);
    }
    static inline double tkr_max_sum_exp_f32(const float* x, Py_ssize_t n, double* sum) {
        return tkr_max_sum_exp_f32_base(x, n, sum);
    }
    static inline void tkr_exp_shifted_f64(const double* x, double* y, Py_ssize_t n, double shift,
                                           double scale) {
        tkr_exp_shifted_f64_base(x, y, n, shift, scale);
    }
    static inline void tkr_exp_shifted_f32(const float* x, float* y, Py_ssize_t n, double shift,
                                           float scale) {
        tkr_exp_shifted_f32_base(x, y, n, shift, scale);
    }
    #else
    static struct {
        double (*max_sum_exp_f64)(const double*, Py_ssize_t, double*);
        double (*max_sum_exp_f32)(const float*, Py_ssize_t, double*);
        void (*exp_shifted_f64)(const double*, double*, Py_ssize_t, double, double);
        void (*exp_shifted_f32)(const float*, float*, Py_ssize_t, double, float);
    } tkr_vec = {tkr_max_sum_exp_f64_base, tkr_max_sum_exp_f32_base,
                 tkr_exp_shifted_f64_base, tkr_exp_shifted_f32_base};

    static int tkr_vec_init(void) {
    #if TKR_ISA == 1
        __builtin_cpu_init();
        if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
            tkr_vec.max_sum_exp_f64 = tkr_max_sum_exp_f64_avx2;
            tkr_vec.max_sum_exp_f32 = tkr_max_sum_exp_f32_avx2;
            tkr_vec.exp_shifted_f64 = tkr_exp_shifted_f64_avx2;
            tkr_vec.exp_shifted_f32 = tkr_exp_shifted_f32_avx2;
            return 1;
        }
    #endif
        return 0;
    }

    static inline double tkr_max_sum_exp_f64(const double* x, Py_ssize_t n, double* sum) {
        return tkr_vec.max_sum_exp_f64(x, n, sum);
    }
    static inline double tkr_max_sum_exp_f32(const float* x, Py_ssize_t n, double* sum) {
        return tkr_vec.max_sum_exp_f32(x, n, sum);
    }
    static inline void tkr_exp_shifted_f64(const double* x, double* y, Py_ssize_t n, double shift,
                                           double scale) {
        tkr_vec.exp_shifted_f64(x, y, n, shift, scale);
    }
    static inline void tkr_exp_shifted_f32(const float* x, float* y, Py_ssize_t n, double shift,
                                           float scale) {
        tkr_vec.exp_shifted_f32(x, y, n, shift, scale);
    }
    #endif

    static inline double tkr_max_log_sum_exp_f64(const double* x, Py_ssize_t n, double* log_sum) {
        double m = tkr_max_sum_exp_f64(x, n, log_sum);
        *log_sum = log(*log_sum);
        return m;
    }
    static inline double tkr_max_log_sum_exp_f32(const float* x, Py_ssize_t n, double* log_sum) {
        double m = tkr_max_sum_exp_f32(x, n, log_sum);
        *log_sum = log(*log_sum);
        return m;
    }

    /* log(x) for the row sums of exps (x >= 1, or NaN): x = 2^k m with m in
       [sqrt(1/2), sqrt(2)), log m = 2 atanh(t), t = (m - 1)/(m + 1), |t| <= 0.1716,
       by its series to t^23 (< 1 ulp).  Branch-free, so a loop over a block of
       rows vectorises: glibc's scalar log was a quarter of a 10-class forward. */
    #if defined(__GNUC__) && !defined(__clang__)
    #pragma GCC push_options
    #pragma GCC optimize("no-trapping-math")
    #endif
    static inline double tkr_log(double x) {
        const double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
        uint64_t bits;
        memcpy(&bits, &x, 8);
        int64_t k = (int64_t) ((bits >> 52) & 0x7ff) - 1023;
        bits = (bits & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL;   /* m in [1, 2) */
        double m;
        memcpy(&m, &bits, 8);
        int big = m > 1.4142135623730951;
        m = big ? 0.5 * m : m;
        double kd = (double) (k + big);
        double t = (m - 1.0) / (m + 1.0), t2 = t * t;
        double p = 1.0 / 23;
        p = p * t2 + 1.0 / 21;
        p = p * t2 + 1.0 / 19;
        p = p * t2 + 1.0 / 17;
        p = p * t2 + 1.0 / 15;
        p = p * t2 + 1.0 / 13;
        p = p * t2 + 1.0 / 11;
        p = p * t2 + 1.0 / 9;
        p = p * t2 + 1.0 / 7;
        p = p * t2 + 1.0 / 5;
        p = p * t2 + 1.0 / 3;
        double r = kd * ln2_hi + ((2.0 * t) * (t2 * p) + kd * ln2_lo + 2.0 * t);
        return x == x ? r : x;
    }
    #if defined(__GNUC__) && !defined(__clang__)
    #pragma GCC pop_options
    #endif

    """
    double tkr_exp(double x) nogil
    float tkr_expf(float x) nogil
    int tkr_vec_init()
    double tkr_max_log_sum_exp_f64(const double* x, Py_ssize_t n, double* log_sum) nogil
    double tkr_max_log_sum_exp_f32(const float* x, Py_ssize_t n, double* log_sum) nogil
    double tkr_max_sum_exp_f64(const double* x, Py_ssize_t n, double* sum) nogil
    double tkr_max_sum_exp_f32(const float* x, Py_ssize_t n, double* sum) nogil
    double tkr_log(double x) nogil
    void tkr_exp_shifted_f64(const double* x, double* y, Py_ssize_t n, double shift,
                             double scale) nogil
    void tkr_exp_shifted_f32(const float* x, float* y, Py_ssize_t n, double shift,
                             float scale) nogil

# Which build of the row loops this CPU runs (for tests and benchmarks).
VECTOR_ISA = {2: "native (-march=native build)", 1: "avx2+fma", 0: "baseline"}[tkr_vec_init()]


# -- per-row cores (nogil); a row's classes are ``st`` elements apart ----------------

cdef inline floating _row_max_log_sum_exp(const floating* x, Py_ssize_t n_classes, Py_ssize_t st,
                                          double* log_sum) noexcept nogil:
    """Return m = max_c x[c] and set log_sum = log(sum_c exp(x[c] - m)), the sum
    in double (x - m is formed in x's dtype: exactly for the entries near the
    max, which dominate the sum).  lse = m + log_sum."""
    if st == 1:
        if floating is float:
            return <float> tkr_max_log_sum_exp_f32(x, n_classes, log_sum)
        else:
            return tkr_max_log_sum_exp_f64(x, n_classes, log_sum)
    cdef floating m = x[0]
    cdef double s = 0
    cdef Py_ssize_t c
    for c in range(1, n_classes):
        if x[c * st] > m:
            m = x[c * st]
    for c in range(n_classes):
        if floating is float:
            s += tkr_expf(x[c * st] - m)
        else:
            s += tkr_exp(x[c * st] - m)
    log_sum[0] = log(s)
    return m


cdef inline void _row_scaled_softmax(const floating* x, floating* gx, Py_ssize_t n_classes,
                                     Py_ssize_t st, double lse, double scale) noexcept nogil:
    """gx[c] = exp(x[c] - lse) * scale (softmax times a row constant)."""
    if st == 1:
        if floating is float:
            tkr_exp_shifted_f32(x, gx, n_classes, lse, <float> scale)
        else:
            tkr_exp_shifted_f64(x, gx, n_classes, lse, scale)
        return
    cdef Py_ssize_t c
    for c in range(n_classes):
        if floating is float:
            gx[c * st] = tkr_expf(<float> (x[c * st] - lse)) * <float> scale
        else:
            gx[c * st] = tkr_exp(x[c * st] - lse) * scale


cdef inline double _ce_row_class(const floating* x, Py_ssize_t n_classes, Py_ssize_t st,
                                 int64_t y, int64_t ignore_index, const floating* w,
                                 double w_sum, double eps, double* lse) noexcept nogil:
    """Loss of one row with class index y; writes the row log-sum-exp to lse.

    loss = (1-eps) * w[y] * (lse - x[y]) + eps/C * sum_c w[c] (lse - x[c]).
    The smoothing sum is taken as W log_s - sum_c w[c] (x[c] - m), never as
    differences of two large numbers (logits of 1e4 keep their precision)."""
    cdef double log_s
    cdef floating m = _row_max_log_sum_exp(x, n_classes, st, &log_s)
    return _ce_row_class_given(x, n_classes, st, y, ignore_index, w, w_sum, eps, m, log_s, lse)


cdef inline double _ce_row_class_given(const floating* x, Py_ssize_t n_classes, Py_ssize_t st,
                                       int64_t y, int64_t ignore_index, const floating* w,
                                       double w_sum, double eps, floating m, double log_s,
                                       double* lse) noexcept nogil:
    """_ce_row_class with the row's max m and log_s = log(sum exp(x - m)) given."""
    cdef double shifted_dot = 0, loss
    cdef Py_ssize_t c
    lse[0] = m + log_s
    if y == ignore_index:
        return 0.0
    loss = (1 - eps) * (1.0 if w == NULL else w[y]) * (log_s - (x[y * st] - m))
    if eps > 0:
        for c in range(n_classes):
            shifted_dot += (x[c * st] - m) * (1.0 if w == NULL else w[c])
        loss += eps / n_classes * (w_sum * log_s - shifted_dot)
    return loss


cdef inline double _smoothed_weighted_prob(const floating* t, const floating* w, Py_ssize_t c,
                                           Py_ssize_t st, double eps,
                                           Py_ssize_t n_classes) noexcept nogil:
    """w[c] * q[c], q = (1-eps) t + eps/C: the weighted target distribution."""
    cdef double q = (1 - eps) * t[c * st] + eps / n_classes
    return q if w == NULL else q * w[c]


cdef inline double _ce_row_prob(const floating* x, const floating* t, Py_ssize_t n_classes,
                                Py_ssize_t st, const floating* w, double eps,
                                double* lse) noexcept nogil:
    """Loss of one row with class probabilities t: sum_c w[c] q[c] (lse - x[c])."""
    cdef double log_s
    cdef floating m = _row_max_log_sum_exp(x, n_classes, st, &log_s)
    cdef double wq_sum = 0, wq_dot = 0, wq
    cdef Py_ssize_t c
    lse[0] = m + log_s
    for c in range(n_classes):
        wq = _smoothed_weighted_prob(t, w, c, st, eps, n_classes)
        wq_sum += wq
        wq_dot += wq * (x[c * st] - m)
    return wq_sum * log_s - wq_dot


cdef inline void _ce_grad_row_class(const floating* x, floating* gx, Py_ssize_t n_classes,
                                    Py_ssize_t st, int64_t y, int64_t ignore_index,
                                    const floating* w, double w_sum, double eps, double lse,
                                    double g) noexcept nogil:
    """gx = g * (softmax * (hard + soft*W) - soft*w), minus g*hard at y, where
    hard = (1-eps) w[y] and soft = eps/C: softmax minus the (weighted,
    smoothed) target distribution, without building a one-hot."""
    cdef Py_ssize_t c
    if y == ignore_index:
        for c in range(n_classes):
            gx[c * st] = 0
        return
    cdef double hard = (1 - eps) * (1.0 if w == NULL else w[y])
    cdef double soft = eps / n_classes
    _row_scaled_softmax(x, gx, n_classes, st, lse, g * (hard + soft * w_sum))
    if eps > 0:
        for c in range(n_classes):
            gx[c * st] -= <floating> (g * soft * (1.0 if w == NULL else w[c]))
    gx[y * st] -= <floating> (g * hard)


cdef inline void _ce_grad_row_prob(const floating* x, const floating* t, floating* gx,
                                   Py_ssize_t n_classes, Py_ssize_t st, const floating* w,
                                   double eps, double lse, double g) noexcept nogil:
    """gx = g * (softmax * sum(w q) - w q), q = (1-eps) t + eps/C."""
    cdef double wq_sum = 0
    cdef Py_ssize_t c
    for c in range(n_classes):
        wq_sum += _smoothed_weighted_prob(t, w, c, st, eps, n_classes)
    _row_scaled_softmax(x, gx, n_classes, st, lse, g * wq_sum)
    for c in range(n_classes):
        gx[c * st] -= <floating> (g * _smoothed_weighted_prob(t, w, c, st, eps, n_classes))


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


cdef inline Py_ssize_t _row_offset(Py_ssize_t r, Py_ssize_t n_classes,
                                   Py_ssize_t inner) noexcept nogil:
    """Offset of class 0 of row r = (n, s) in the (N, C, S) layout."""
    if inner == 1:  # (N, C): skip the integer division (slow next to a 10-class row)
        return r * n_classes
    cdef Py_ssize_t n = r // inner
    return n * n_classes * inner + (r - n * inner)


cdef inline double _ce_row(const floating* x, const CEArgs* a, Py_ssize_t r) noexcept nogil:
    cdef Py_ssize_t off = _row_offset(r, a.n_classes, a.inner)
    if a.is_prob:
        return _ce_row_prob(x + off, <const floating*> a.probs + off, a.n_classes, a.inner,
                            <const floating*> a.weight, a.eps, a.lse + r)
    return _ce_row_class(x + off, a.n_classes, a.inner, a.labels[r], a.ignore_index,
                         <const floating*> a.weight, a.w_sum, a.eps, a.lse + r)


# Rows per block of the class-index path below: the row maxima and sums of
# one block, then one vectorised pass of logs over them.
cdef enum:
    ROW_BLOCK = 64


cdef void _ce_block_class(const floating* x, const CEArgs* a, Py_ssize_t r0, Py_ssize_t r1,
                          floating* out_rows, double* row_losses, double* running) noexcept nogil:
    """Rows [r0, r1) (at most ROW_BLOCK) of contiguous (N, C) logits with class
    targets: each loss goes to out_rows[r] and/or row_losses[r], and/or is
    added to running[0] in row order (pointers may be NULL).  The arithmetic
    of _ce_row_class, with the logs of a block taken together (tkr_log: a loop
    the compiler vectorises, where glibc's log is one call per row)."""
    cdef floating m[ROW_BLOCK]
    cdef double log_s[ROW_BLOCK]
    cdef double loss
    cdef Py_ssize_t j, n = r1 - r0, C = a.n_classes
    for j in range(n):
        if floating is float:
            m[j] = <float> tkr_max_sum_exp_f32(x + (r0 + j) * C, C, &log_s[j])
        else:
            m[j] = tkr_max_sum_exp_f64(x + (r0 + j) * C, C, &log_s[j])
    for j in range(n):
        log_s[j] = tkr_log(log_s[j])
    for j in range(n):
        loss = _ce_row_class_given(x + (r0 + j) * C, C, 1, a.labels[r0 + j], a.ignore_index,
                                   <const floating*> a.weight, a.w_sum, a.eps, m[j], log_s[j],
                                   a.lse + r0 + j)
        if out_rows != NULL:
            out_rows[r0 + j] = <floating> loss
        if row_losses != NULL:
            row_losses[r0 + j] = loss
        if running != NULL:
            running[0] += loss


cdef double _ce_forward_loop(const floating* x, const CEArgs* a, floating* out_rows,
                             double* buf, bint parallel) noexcept nogil:
    """Row losses into out_rows (reduction 'none') or their sum (returned),
    added in row order whatever the thread count.  ``buf`` (M doubles) holds
    the row losses of a parallel summed run."""
    cdef Py_ssize_t r, b
    cdef Py_ssize_t n_blocks = (a.n_rows + ROW_BLOCK - 1) // ROW_BLOCK
    cdef double total = 0
    if a.inner == 1 and not a.is_prob:       # (N, C) logits, class indices: by blocks
        if parallel:
            for b in prange(n_blocks, schedule="static"):
                _ce_block_class(x, a, b * ROW_BLOCK, min((b + 1) * ROW_BLOCK, a.n_rows),
                                out_rows, NULL if out_rows != NULL else buf, NULL)
            if out_rows != NULL:
                return 0
            for r in range(a.n_rows):
                total += buf[r]
            return total
        for b in range(n_blocks):
            _ce_block_class(x, a, b * ROW_BLOCK, min((b + 1) * ROW_BLOCK, a.n_rows),
                            out_rows, NULL, &total)
        return total
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


cdef tuple _prepare_ce(cnp.ndarray logits, object target, weight, int64_t ignore_index,
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


def cross_entropy_forward(cnp.ndarray logits not None, target, weight=None,
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
        total_weight = _weighted_label_count(a.labels, a.n_rows, ignore_index,
                                             <const float*> a.weight)
    else:
        total_weight = _weighted_label_count(a.labels, a.n_rows, ignore_index,
                                             <const double*> a.weight)

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


def cross_entropy_backward(cnp.ndarray logits not None, target, lse, gloss,
                           double total_weight, weight=None,
                           int64_t ignore_index=-100, str reduction="mean",
                           double label_smoothing=0.0, labels_checked=False):
    """Gradient of cross_entropy_forward w.r.t. the logits (logits' shape and
    dtype, C-contiguous).  See ref_loss.cross_entropy_backward; the labels are
    checked here even when ``labels_checked`` (one cheap pass, and the loop
    indexes the weights with them unchecked)."""
    cdef CEArgs a
    cdef cnp.ndarray x, t, w
    cdef Reduction red
    x, t, w, red = _prepare_ce(logits, target, weight, ignore_index, reduction, label_smoothing, &a)
    cdef cnp.ndarray lse_arr = _as_array(lse)
    if (cnp.PyArray_TYPE(lse_arr) != cnp.NPY_FLOAT64 or cnp.PyArray_NDIM(lse_arr) != 1
            or lse_arr.shape[0] != a.n_rows):
        raise ValueError(f"cross_entropy_backward: lse must be float64 of shape ({a.n_rows},), "
                         f"got {lse_arr.dtype} {_shape(lse_arr)}")
    lse_arr = np.ascontiguousarray(lse_arr, dtype=np.float64)     # native byte order too
    a.lse = <double*> cnp.PyArray_DATA(lse_arr)
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
            loss = -(1.0 if w == NULL else w[y[r]]) * x[_row_offset(r, n_classes, inner)
                                                          + y[r] * inner]
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


cdef tuple _check_nll(cnp.ndarray logp, object target_obj, weight, int64_t ignore_index,
                      str reduction, Layout* lay):
    cdef str fn = "nll_loss"
    cdef cnp.ndarray target = _as_array(target_obj)
    logp = _check_input(logp, fn, lay)
    cdef cnp.ndarray w = _check_weight(weight, logp, lay.n_classes, fn)
    cdef Reduction red = _reduction_code(reduction, fn)
    if not cnp.PyArray_ISINTEGER(target):
        raise TypeError(f"{fn}: target must be int64 class indices, got {target.dtype}")
    return logp, _check_class_target(target, logp, lay, ignore_index, fn), w, red


def nll_loss_forward(cnp.ndarray logp not None, target, weight=None,
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


def nll_loss_backward(cnp.ndarray logp not None, target, gloss,
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
