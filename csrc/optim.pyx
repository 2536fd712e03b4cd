# cython: language_level=3
"""Compiled twins of tinygrad_kr/kernels/ref_optim.py: fused optimizer updates.

One call updates a whole parameter group (lists of parameters, gradients and
state arrays) in place, reading and writing each element once.  The
parameters stay separate arrays (their Tensors own them), so the wrapper
collects their data pointers, cuts the group into pieces of at most CHUNK
elements, and one ``prange`` over all pieces does the work: a single parallel
region per step, however many tensors the model has.  A small group runs on
one thread (threads cost more than they save there).

The element formulas, the order of operations and the dtype of the math
(float32 arrays -> float32 math, hyper-parameters rounded to float32) follow
the twins, which follow PyTorch's ``_single_tensor_*`` functions.
"""
import numpy as np
cimport numpy as cnp
from cython cimport floating
from cython.parallel cimport prange
from libc.math cimport sqrt, sqrtf
from libc.stdint cimport intptr_t
from libc.stdlib cimport bsearch, free, malloc, qsort

from tinygrad_kr.kernels import ref_optim as _ref

cnp.import_array()

# Elements per piece: big enough that scheduling costs nothing, small enough
# that a few large tensors still split evenly over the threads.
cdef Py_ssize_t CHUNK = 1 << 15
# Below this many elements in a call, one thread does it all.
cdef Py_ssize_t MIN_PARALLEL = 1 << 15


# ---------------------------------------------------------------- validation

cdef struct Work:
    # what the nogil loops read: raw pointers into _Group's arrays (no
    # memoryviews: acquiring two per call cost more than a small model's update)
    const intptr_t* addr              # (n_lists, n_params) data pointers, 0 = absent list
    Py_ssize_t n_params
    const Py_ssize_t* pieces          # (n_pieces, 3): t, start, length
    Py_ssize_t n_pieces


cdef class _Group:
    """The validated arrays of one kernel call, as raw pointers, plus the
    work split: piece k covers elements [start, start + length) of param t."""
    cdef bint single                  # float32 (else float64)
    cdef cnp.ndarray addr             # (n_lists, n_params) intp: data pointers, 0 = absent list
    cdef cnp.ndarray pieces           # (n_pieces, 3) intp: t, start, length
    cdef Work work                    # the two above as raw pointers
    cdef bint threads                 # run the prange on several threads
    cdef list keep_alive              # contiguous copies of gradients (pointed to by addr)
    cdef bint aliased                 # two lists share an array (see _aliased)


cdef bint _usable(cnp.ndarray a):
    """Aligned, native byte order, C-contiguous: a raw pointer walks it."""
    return (cnp.PyArray_IS_C_CONTIGUOUS(a) and cnp.PyArray_ISALIGNED(a)
            and cnp.PyArray_ISNOTSWAPPED(a))


cdef bint _same_shape(cnp.ndarray a, cnp.ndarray b):
    cdef int k
    if cnp.PyArray_NDIM(a) != cnp.PyArray_NDIM(b):
        return False
    for k in range(cnp.PyArray_NDIM(a)):
        if cnp.PyArray_DIMS(a)[k] != cnp.PyArray_DIMS(b)[k]:
            return False
    return True


cdef cnp.ndarray _param_array(str kernel, Py_ssize_t i, object obj):
    """params[i], checked: a float32/float64 array we can update in place."""
    if not isinstance(obj, np.ndarray):
        raise TypeError(f"{kernel}: params[{i}] must be a numpy array, got {type(obj).__name__}")
    cdef cnp.ndarray p = <cnp.ndarray> obj
    if cnp.PyArray_TYPE(p) != cnp.NPY_FLOAT and cnp.PyArray_TYPE(p) != cnp.NPY_DOUBLE:
        raise TypeError(f"{kernel}: only float32 and float64 are supported, got {p.dtype}")
    return p


cdef intptr_t _address(str kernel, str name, Py_ssize_t i, object obj, cnp.ndarray param,
                       bint written) except? 0:
    """Check list ``name``'s array i against its parameter (same dtype and
    shape; usable in place when ``written``); return its data pointer.  The
    checks are C-level: this runs for every array of every step."""
    if not isinstance(obj, np.ndarray):
        raise TypeError(f"{kernel}: {name}[{i}] must be a numpy array, got {type(obj).__name__}")
    cdef cnp.ndarray a = <cnp.ndarray> obj
    if cnp.PyArray_TYPE(a) != cnp.PyArray_TYPE(param):
        raise TypeError(f"{kernel}: {name}[{i}] has dtype {a.dtype}, params[{i}] has {param.dtype}")
    if not _same_shape(a, param):
        raise ValueError(f"{kernel}: {name}[{i}] has shape {(<object> a).shape}, "
                         f"params[{i}] has {(<object> param).shape}")
    if written and not (_usable(a) and cnp.PyArray_ISWRITEABLE(a)):
        # An in-place update of a copy would be lost: reject instead of copying.
        what = "is read-only" if not cnp.PyArray_ISWRITEABLE(a) else \
            "must be C-contiguous, aligned and in native byte order"
        raise ValueError(f"{kernel}: {name}[{i}] {what} (it is updated in place)")
    return <intptr_t> cnp.PyArray_DATA(a)


cdef _Group _gather(str kernel, object per_param, object params, object grads, list states):
    """Validate a call and collect its pointers.

    Lists, in the order the cores index them: 0 params, 1 grads, then the
    state lists of ``states``: (name, list or None, needed) triples, a list
    that is not needed (its option is off) being ignored.
    """
    if not isinstance(params, (list, tuple)) or not isinstance(grads, (list, tuple)):
        raise TypeError(f"{kernel}: params and grads must be lists of arrays")
    cdef Py_ssize_t n = len(params), i, k
    if not isinstance(per_param, np.ndarray) or per_param.ndim != 1 or per_param.shape[0] != n:
        raise ValueError(f"{kernel}: the first argument must be a 1-D array with one entry "
                         f"per parameter ({n})")
    states = [(name, arrays if needed else None, needed) for name, arrays, needed in states]
    for name, arrays, needed in states:
        if needed and arrays is None:     # the loops would write through a NULL pointer
            _ref.missing_state(kernel, name)
    named = [("grads", grads)] + [(name, arrays) for name, arrays, _ in states]
    for name, arrays in named:
        if arrays is not None and len(arrays) != n:
            raise ValueError(f"{kernel}: {name} has {len(arrays)} arrays for {n} params")

    cdef _Group group = _Group()
    cdef cnp.ndarray p, first = _param_array(kernel, 0, params[0]) if n else None
    group.keep_alive = []
    cdef cnp.npy_intp addr_dims[2]
    addr_dims[0], addr_dims[1] = 2 + len(states), n
    group.addr = cnp.PyArray_ZEROS(2, addr_dims, cnp.NPY_INTP, 0)
    cdef intptr_t* addr = <intptr_t*> cnp.PyArray_DATA(group.addr)
    group.single = n > 0 and cnp.PyArray_TYPE(first) == cnp.NPY_FLOAT32
    cdef Py_ssize_t total = 0
    for i in range(n):
        p = _param_array(kernel, i, params[i])
        if cnp.PyArray_TYPE(p) != cnp.PyArray_TYPE(first):
            raise TypeError(f"{kernel}: params[{i}] has dtype {p.dtype}, "
                            f"params[0] has {first.dtype}")
        addr[i] = _address(kernel, "params", i, p, p, True)
        g = grads[i]
        if isinstance(g, np.ndarray) and not _usable(<cnp.ndarray> g):
            # Only read, so a contiguous native copy is fine.
            g = np.ascontiguousarray(g, dtype=g.dtype.newbyteorder("="))
            group.keep_alive.append(g)
        addr[n + i] = _address(kernel, "grads", i, g, p, False)
        for k, (name, arrays, _) in enumerate(states):
            if arrays is not None:
                addr[(2 + k) * n + i] = _address(kernel, name, i, arrays[i], p, True)
        total += cnp.PyArray_SIZE(p)
    group.pieces = _split(params, total)
    group.work.addr = addr
    group.work.n_params = n
    group.work.pieces = <const Py_ssize_t*> cnp.PyArray_DATA(group.pieces)
    group.work.n_pieces = cnp.PyArray_DIMS(group.pieces)[0]
    group.threads = total >= MIN_PARALLEL
    group.aliased = _aliased(addr, 2 + len(states), n, params)
    return group


cdef int _compare(const void* a, const void* b) noexcept nogil:
    cdef intptr_t x = (<const intptr_t*> a)[0], y = (<const intptr_t*> b)[0]
    return (x > y) - (x < y)


cdef bint _aliased(const intptr_t* addr, Py_ssize_t n_lists, Py_ssize_t n, object params) except -1:
    """Whether an array that is written (a parameter, a state) is also another
    list's array, or a gradient: the same parameter twice in a group, or
    ``p.grad`` sharing p's memory.  The element loops would then race between
    pieces, or read a gradient the update already changed, where the twin
    (PyTorch's order, one array after another) is defined; the caller runs
    the twin instead.  Arrays are compared by their data pointers (a view at
    another offset is not caught); empty arrays touch no memory and are skipped."""
    cdef Py_ssize_t i, list_, count = 0
    cdef intptr_t a
    cdef intptr_t* written = <intptr_t*> malloc(max(1, (n_lists - 1) * n) * sizeof(intptr_t))
    if written == NULL:
        raise MemoryError()
    try:
        for i in range(n):
            if cnp.PyArray_SIZE(<cnp.ndarray> params[i]) == 0:
                continue
            for list_ in range(n_lists):
                a = addr[list_ * n + i]
                if list_ != 1 and a != 0:
                    written[count] = a
                    count += 1
        qsort(written, count, sizeof(intptr_t), _compare)
        for i in range(1, count):
            if written[i] == written[i - 1]:
                return True
        for i in range(n):
            if cnp.PyArray_SIZE(<cnp.ndarray> params[i]) and bsearch(
                    &addr[n + i], written, count, sizeof(intptr_t), _compare) != NULL:
                return True
        return False
    finally:
        free(written)


cdef cnp.ndarray _split(object params, Py_ssize_t total):
    """(n_pieces, 3) rows (param, start, length) covering every element once:
    param t gets ceil(size / CHUNK) pieces (none when empty).  C loops over
    raw memory: this runs every step, and NumPy calls here would cost more
    than a small model's whole update.  ``params`` were checked by _gather."""
    cdef Py_ssize_t n = len(params), t, size, start, c = 0, count = 0
    for t in range(n):
        count += (cnp.PyArray_SIZE(<cnp.ndarray> params[t]) + CHUNK - 1) // CHUNK
    cdef cnp.npy_intp dims[2]
    dims[0], dims[1] = count, 3
    cdef cnp.ndarray out = cnp.PyArray_EMPTY(2, dims, cnp.NPY_INTP, 0)
    cdef Py_ssize_t* rows = <Py_ssize_t*> cnp.PyArray_DATA(out)
    for t in range(n):
        size = cnp.PyArray_SIZE(<cnp.ndarray> params[t])
        start = 0
        while start < size:
            rows[3 * c] = t
            rows[3 * c + 1] = start
            rows[3 * c + 2] = min(CHUNK, size - start)
            start += CHUNK
            c += 1
    return out


# ---------------------------------------------------------------- element math
#
# The element loops must vectorize to run at memory speed, so they hold no
# branch the compiler cannot turn into a select: an option with an exact
# arithmetic form takes it (maximize: g * -1; AdamW's decay: p * 1 when off),
# and an optional state array is dropped by calling an inline loop with a
# literal flag (a conditional load/store would stop vectorization).

cdef inline floating _sqrt(floating x) noexcept nogil:
    if floating is float:
        return sqrtf(x)
    else:
        return sqrt(x)


cdef inline floating _lerp(floating start, floating end, floating weight,
                           floating one_minus_weight, bint small_weight) noexcept nogil:
    """PyTorch's lerp: the formula that loses less precision for the weight."""
    if small_weight:
        return start + weight * (end - start)
    return end - (end - start) * one_minus_weight


cdef inline floating _max_nan(floating a, floating b) noexcept nogil:
    """max(a, b) propagating NaN, like np.maximum / torch.maximum."""
    # Bitwise | rather than `or`: no short-circuit branch, so the loop vectorizes.
    cdef bint take_a = (a > b) | (a != a)
    return a if take_a else b


# Pointer to the piece of list ``which`` that piece c of the group covers.
# ``tag`` (here and in the _*_all drivers) only selects float or double.
cdef inline floating* _at(floating tag, const Work* w, Py_ssize_t which,
                          Py_ssize_t c) noexcept nogil:
    return (<floating*> w.addr[which * w.n_params + w.pieces[3 * c]]) + w.pieces[3 * c + 1]


cdef inline Py_ssize_t _param_of(const Work* w, Py_ssize_t c) noexcept nogil:
    return w.pieces[3 * c]


cdef inline Py_ssize_t _length(const Work* w, Py_ssize_t c) noexcept nogil:
    return w.pieces[3 * c + 2]


# ---------------------------------------------------------------- SGD

cdef struct SGDOpts:
    double lr, momentum, dampening, weight_decay
    bint nesterov, maximize


cdef inline void _sgd_loop(floating* p, const floating* g, floating* buf,   # IN/OUT, IN, IN/OUT
                           Py_ssize_t n, SGDOpts o, bint first_step,
                           bint has_momentum) noexcept nogil:
    cdef floating neg_lr = -o.lr, mom = o.momentum, keep = 1 - o.dampening
    cdef floating wd = o.weight_decay, gi, b
    cdef floating sign = -1 if o.maximize else 1
    cdef bint nesterov = o.nesterov, decay = o.weight_decay != 0
    cdef Py_ssize_t i
    for i in range(n):
        gi = sign * g[i]
        gi = gi + wd * p[i] if decay else gi
        if has_momentum:
            b = gi if first_step else buf[i] * mom + keep * gi
            buf[i] = b
            gi = gi + mom * b if nesterov else b
        p[i] = p[i] + neg_lr * gi


cdef void _sgd_piece(floating* p, const floating* g, floating* buf, Py_ssize_t n,
                     SGDOpts o, bint first_step) noexcept nogil:
    if o.momentum != 0:
        _sgd_loop(p, g, buf, n, o, first_step, True)
    else:
        _sgd_loop(p, g, buf, n, o, first_step, False)


cdef void _sgd_all(floating tag, const Work* w,
                   const unsigned char* first, SGDOpts o, bint threads) noexcept nogil:
    cdef Py_ssize_t c
    for c in prange(w.n_pieces, schedule="dynamic", chunksize=1, use_threads_if=threads):
        _sgd_piece(_at(tag, w, 0, c), _at(tag, w, 1, c),
                   _at(tag, w, 2, c), _length(w, c), o, first[_param_of(w, c)])


def sgd_update(is_first_step, params, grads, momentum_buffers, double lr, double momentum,
               double dampening, bint nesterov, double weight_decay, bint maximize):
    """SGD with optional momentum / Nesterov, in place (see ref_optim.sgd_update).

    is_first_step: 1-D bool, one per param.  params (IN/OUT), grads (IN),
    momentum_buffers (IN/OUT, or None when momentum == 0): lists of
    C-contiguous float32/float64 arrays of one dtype.
    """
    cdef _Group grp = _gather("sgd_update", is_first_step, params, grads,
                              [("momentum_buffers", momentum_buffers, momentum != 0)])
    if grp.aliased:
        return _ref.sgd_update(is_first_step, params, grads, momentum_buffers, lr, momentum,
                               dampening, nesterov, weight_decay, maximize)
    cdef cnp.ndarray first_arr = cnp.PyArray_GETCONTIGUOUS(<cnp.ndarray> is_first_step)
    if cnp.PyArray_TYPE(first_arr) != cnp.NPY_BOOL:
        first_arr = first_arr.astype(np.bool_)
    cdef const unsigned char* first = <const unsigned char*> cnp.PyArray_DATA(first_arr)
    cdef SGDOpts o = SGDOpts(lr, momentum, dampening, weight_decay, nesterov, maximize)
    if grp.single:
        with nogil:
            _sgd_all(<float> 0, &grp.work, first, o, grp.threads)
    else:
        with nogil:
            _sgd_all(<double> 0, &grp.work, first, o, grp.threads)


# ---------------------------------------------------------------- Adagrad

cdef struct AdagradOpts:
    double weight_decay, eps
    bint maximize


cdef void _adagrad_piece(floating* p, const floating* g, floating* state_sum,   # IN/OUT, IN, IN/OUT
                         Py_ssize_t n, AdagradOpts o, double clr) noexcept nogil:
    cdef floating neg_clr = -clr, wd = o.weight_decay, eps = o.eps, gi, pi, total
    cdef floating sign = -1 if o.maximize else 1
    cdef bint decay = o.weight_decay != 0
    cdef Py_ssize_t i
    for i in range(n):
        pi = p[i]
        gi = sign * g[i]
        gi = gi + wd * pi if decay else gi
        total = state_sum[i] + gi * gi
        state_sum[i] = total
        p[i] = pi + neg_clr * gi / (_sqrt(total) + eps)


cdef void _adagrad_all(floating tag, const Work* w,
                       const double[::1] clr, AdagradOpts o, bint threads) noexcept nogil:
    cdef Py_ssize_t c
    for c in prange(w.n_pieces, schedule="dynamic", chunksize=1, use_threads_if=threads):
        _adagrad_piece(_at(tag, w, 0, c), _at(tag, w, 1, c),
                       _at(tag, w, 2, c), _length(w, c), o, clr[_param_of(w, c)])


def adagrad_update(steps, params, grads, state_sums, double lr, double lr_decay,
                   double weight_decay, double eps, bint maximize):
    """Adagrad, in place (see ref_optim.adagrad_update).

    steps: 1-D float64, one per param (including this update).  params,
    state_sums (IN/OUT), grads (IN): C-contiguous float32/float64 arrays.
    """
    cdef _Group grp = _gather("adagrad_update", steps, params, grads,
                              [("state_sums", state_sums, True)])
    if grp.aliased:
        return _ref.adagrad_update(steps, params, grads, state_sums, lr, lr_decay, weight_decay,
                                   eps, maximize)
    step = np.asarray(steps, dtype=np.float64)
    cdef double[::1] clr = np.ascontiguousarray(lr / (1 + (step - 1) * lr_decay))
    cdef AdagradOpts o = AdagradOpts(weight_decay, eps, maximize)
    if grp.single:
        with nogil:
            _adagrad_all(<float> 0, &grp.work, clr, o, grp.threads)
    else:
        with nogil:
            _adagrad_all(<double> 0, &grp.work, clr, o, grp.threads)


# ---------------------------------------------------------------- RMSprop

cdef struct RMSpropOpts:
    double lr, alpha, eps, weight_decay, momentum
    bint centered, maximize


cdef inline void _rmsprop_loop(floating* p, const floating* g,          # IN/OUT, IN
                               floating* square_avg, floating* grad_avg,  # IN/OUT, IN/OUT
                               floating* buf, Py_ssize_t n,               # IN/OUT
                               RMSpropOpts o, bint centered, bint has_momentum) noexcept nogil:
    cdef floating neg_lr = -o.lr, alpha = o.alpha, w = 1 - o.alpha
    cdef floating one_minus_w = 1 - w, eps = o.eps, wd = o.weight_decay, mom = o.momentum
    cdef floating gi, pi, sq, ga, avg, b
    cdef floating sign = -1 if o.maximize else 1
    cdef bint decay = o.weight_decay != 0
    cdef bint small_w = (1 - o.alpha) < 0.5 and (1 - o.alpha) > -0.5
    cdef Py_ssize_t i
    for i in range(n):
        pi = p[i]
        gi = sign * g[i]
        gi = gi + wd * pi if decay else gi
        sq = square_avg[i] * alpha + w * gi * gi
        square_avg[i] = sq
        if centered:
            ga = _lerp(grad_avg[i], gi, w, one_minus_w, small_w)
            grad_avg[i] = ga
            avg = _sqrt(sq - ga * ga) + eps
        else:
            avg = _sqrt(sq) + eps
        if has_momentum:
            b = buf[i] * mom + gi / avg
            buf[i] = b
            p[i] = pi + neg_lr * b
        else:
            p[i] = pi + neg_lr * gi / avg


cdef void _rmsprop_piece(floating* p, const floating* g, floating* square_avg,
                         floating* grad_avg, floating* buf, Py_ssize_t n,
                         RMSpropOpts o) noexcept nogil:
    if o.centered and o.momentum > 0:
        _rmsprop_loop(p, g, square_avg, grad_avg, buf, n, o, True, True)
    elif o.centered:
        _rmsprop_loop(p, g, square_avg, grad_avg, buf, n, o, True, False)
    elif o.momentum > 0:
        _rmsprop_loop(p, g, square_avg, grad_avg, buf, n, o, False, True)
    else:
        _rmsprop_loop(p, g, square_avg, grad_avg, buf, n, o, False, False)


cdef void _rmsprop_all(floating tag, const Work* w,
                       RMSpropOpts o, bint threads) noexcept nogil:
    cdef Py_ssize_t c
    for c in prange(w.n_pieces, schedule="dynamic", chunksize=1, use_threads_if=threads):
        _rmsprop_piece(_at(tag, w, 0, c), _at(tag, w, 1, c),
                       _at(tag, w, 2, c), _at(tag, w, 3, c),
                       _at(tag, w, 4, c), _length(w, c), o)


def rmsprop_update(steps, params, grads, square_avgs, grad_avgs, momentum_buffers,
                   double lr, double alpha, double eps, double weight_decay,
                   double momentum, bint centered, bint maximize):
    """RMSprop, in place (see ref_optim.rmsprop_update).

    steps: 1-D, one per param (unused by the math).  params, square_avgs
    (IN/OUT), grads (IN), grad_avgs (IN/OUT or None unless centered),
    momentum_buffers (IN/OUT or None unless momentum > 0).
    """
    cdef _Group grp = _gather("rmsprop_update", steps, params, grads,
                              [("square_avgs", square_avgs, True),
                               ("grad_avgs", grad_avgs, centered),
                               ("momentum_buffers", momentum_buffers, momentum > 0)])
    if grp.aliased:
        return _ref.rmsprop_update(steps, params, grads, square_avgs, grad_avgs,
                                   momentum_buffers, lr, alpha, eps, weight_decay, momentum,
                                   centered, maximize)
    cdef RMSpropOpts o = RMSpropOpts(lr, alpha, eps, weight_decay, momentum, centered, maximize)
    if grp.single:
        with nogil:
            _rmsprop_all(<float> 0, &grp.work, o, grp.threads)
    else:
        with nogil:
            _rmsprop_all(<double> 0, &grp.work, o, grp.threads)


# ---------------------------------------------------------------- Adadelta

cdef struct AdadeltaOpts:
    double lr, rho, eps, weight_decay
    bint maximize


cdef void _adadelta_piece(floating* p, const floating* g,           # IN/OUT, IN
                          floating* square_avg, floating* acc_delta,  # IN/OUT, IN/OUT
                          Py_ssize_t n, AdadeltaOpts o) noexcept nogil:
    cdef floating neg_lr = -o.lr, rho = o.rho, w = 1 - o.rho, eps = o.eps
    cdef floating wd = o.weight_decay, gi, pi, sq, delta
    cdef floating sign = -1 if o.maximize else 1
    cdef bint decay = o.weight_decay != 0
    cdef Py_ssize_t i
    for i in range(n):
        pi = p[i]
        gi = sign * g[i]
        gi = gi + wd * pi if decay else gi
        sq = square_avg[i] * rho + w * gi * gi
        square_avg[i] = sq
        delta = _sqrt(acc_delta[i] + eps) / _sqrt(sq + eps) * gi
        acc_delta[i] = acc_delta[i] * rho + w * delta * delta
        p[i] = pi + neg_lr * delta


cdef void _adadelta_all(floating tag, const Work* w,
                        AdadeltaOpts o, bint threads) noexcept nogil:
    cdef Py_ssize_t c
    for c in prange(w.n_pieces, schedule="dynamic", chunksize=1, use_threads_if=threads):
        _adadelta_piece(_at(tag, w, 0, c), _at(tag, w, 1, c),
                        _at(tag, w, 2, c), _at(tag, w, 3, c),
                        _length(w, c), o)


def adadelta_update(steps, params, grads, square_avgs, acc_deltas, double lr, double rho,
                    double eps, double weight_decay, bint maximize):
    """Adadelta, in place (see ref_optim.adadelta_update).

    steps: 1-D, one per param (unused by the math).  params, square_avgs,
    acc_deltas (IN/OUT), grads (IN).
    """
    cdef _Group grp = _gather("adadelta_update", steps, params, grads,
                              [("square_avgs", square_avgs, True),
                               ("acc_deltas", acc_deltas, True)])
    if grp.aliased:
        return _ref.adadelta_update(steps, params, grads, square_avgs, acc_deltas, lr, rho, eps,
                                    weight_decay, maximize)
    cdef AdadeltaOpts o = AdadeltaOpts(lr, rho, eps, weight_decay, maximize)
    if grp.single:
        with nogil:
            _adadelta_all(<float> 0, &grp.work, o, grp.threads)
    else:
        with nogil:
            _adadelta_all(<double> 0, &grp.work, o, grp.threads)


# ---------------------------------------------------------------- Adam / AdamW

cdef struct AdamOpts:
    double lr, beta1, beta2, eps, weight_decay
    bint amsgrad, maximize, decoupled_weight_decay


cdef inline void _adam_loop(floating* p, const floating* g,                  # IN/OUT, IN
                            floating* exp_avg, floating* exp_avg_sq,         # IN/OUT, IN/OUT
                            floating* max_exp_avg_sq,                        # IN/OUT
                            Py_ssize_t n, AdamOpts o, double step_size,
                            double bias_correction2_sqrt, bint amsgrad) noexcept nogil:
    cdef floating w1 = 1 - o.beta1, one_minus_w1 = 1 - w1
    cdef floating beta2 = o.beta2, w2 = 1 - o.beta2, eps = o.eps
    cdef floating wd = o.weight_decay, neg_step = -step_size, bc2_sqrt = bias_correction2_sqrt
    cdef floating gi, pi, m, v
    cdef bint l2 = o.weight_decay != 0 and not o.decoupled_weight_decay
    cdef floating sign = -1 if o.maximize else 1
    cdef floating shrink = 1 - o.lr * o.weight_decay if o.decoupled_weight_decay else 1
    cdef bint small_w1 = (1 - o.beta1) < 0.5 and (1 - o.beta1) > -0.5
    cdef Py_ssize_t i
    for i in range(n):
        gi = sign * g[i]
        pi = p[i] * shrink
        gi = gi + wd * pi if l2 else gi
        m = _lerp(exp_avg[i], gi, w1, one_minus_w1, small_w1)
        v = exp_avg_sq[i] * beta2 + w2 * gi * gi
        exp_avg[i] = m
        exp_avg_sq[i] = v
        if amsgrad:
            v = _max_nan(max_exp_avg_sq[i], v)
            max_exp_avg_sq[i] = v
        p[i] = pi + neg_step * m / (_sqrt(v) / bc2_sqrt + eps)


cdef void _adam_piece(floating* p, const floating* g, floating* exp_avg,
                      floating* exp_avg_sq, floating* max_exp_avg_sq,
                      Py_ssize_t n, AdamOpts o, double step_size,
                      double bias_correction2_sqrt) noexcept nogil:
    if o.amsgrad:
        _adam_loop(p, g, exp_avg, exp_avg_sq, max_exp_avg_sq, n, o, step_size,
                   bias_correction2_sqrt, True)
    else:
        _adam_loop(p, g, exp_avg, exp_avg_sq, max_exp_avg_sq, n, o, step_size,
                   bias_correction2_sqrt, False)


cdef void _adam_all(floating tag, const Work* w,
                    const double[::1] step_size, const double[::1] bc2_sqrt, AdamOpts o,
                    bint threads) noexcept nogil:
    cdef Py_ssize_t c, t
    for c in prange(w.n_pieces, schedule="dynamic", chunksize=1, use_threads_if=threads):
        t = _param_of(w, c)
        _adam_piece(_at(tag, w, 0, c), _at(tag, w, 1, c),
                    _at(tag, w, 2, c), _at(tag, w, 3, c),
                    _at(tag, w, 4, c), _length(w, c), o, step_size[t], bc2_sqrt[t])


def adam_update(steps, params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, double lr,
                double beta1, double beta2, double eps, double weight_decay, bint amsgrad,
                bint maximize, bint decoupled_weight_decay):
    """Adam / AdamW, in place (see ref_optim.adam_update).

    steps: 1-D float64, one per param (including this update).  params,
    exp_avgs, exp_avg_sqs (IN/OUT), grads (IN), max_exp_avg_sqs (IN/OUT or
    None unless amsgrad): C-contiguous float32/float64 arrays of one dtype.
    """
    cdef _Group grp = _gather("adam_update", steps, params, grads,
                              [("exp_avgs", exp_avgs, True), ("exp_avg_sqs", exp_avg_sqs, True),
                               ("max_exp_avg_sqs", max_exp_avg_sqs, amsgrad)])
    if grp.aliased:
        return _ref.adam_update(steps, params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs,
                                lr, beta1, beta2, eps, weight_decay, amsgrad, maximize,
                                decoupled_weight_decay)
    # Bias corrections per parameter with Python's float pow, exactly as the
    # twin and PyTorch compute them.
    counts = [float(t) for t in steps]
    cdef double[::1] step_size = np.array([lr / (1 - beta1 ** t) for t in counts])
    cdef double[::1] bc2_sqrt = np.array([(1 - beta2 ** t) ** 0.5 for t in counts])
    cdef AdamOpts o = AdamOpts(lr, beta1, beta2, eps, weight_decay, amsgrad, maximize,
                               decoupled_weight_decay)
    if grp.single:
        with nogil:
            _adam_all(<float> 0, &grp.work, step_size, bc2_sqrt, o, grp.threads)
    else:
        with nogil:
            _adam_all(<double> 0, &grp.work, step_size, bc2_sqrt, o, grp.threads)
