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

cnp.import_array()

# Elements per piece: big enough that scheduling costs nothing, small enough
# that a few large tensors still split evenly over the threads.
cdef Py_ssize_t CHUNK = 1 << 15
# Below this many elements in a call, one thread does it all.
cdef Py_ssize_t MIN_PARALLEL = 1 << 16


# ---------------------------------------------------------------- validation

cdef class _Group:
    """The validated arrays of one kernel call, as raw pointers, plus the
    work split: piece k covers elements [start, start + length) of param t."""
    cdef object dtype
    cdef intptr_t[:, ::1] addr        # (n_lists, n_params) data pointers, 0 = absent list
    cdef Py_ssize_t[:, ::1] pieces    # (n_pieces, 3): t, start, length
    cdef bint threads                 # run the prange on several threads
    cdef list keep_alive              # contiguous copies of gradients (pointed to by addr)


cdef object _float_dtype(str kernel, object a):
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{kernel}: expected numpy arrays, got {type(a).__name__}")
    if a.dtype != np.float32 and a.dtype != np.float64:
        raise TypeError(f"{kernel}: only float32 and float64 are supported, got {a.dtype}")
    return a.dtype


cdef intptr_t _address(str kernel, str name, Py_ssize_t i, object a, object dtype,
                       tuple shape, bint written) except? 0:
    """Check a[i] of list ``name`` against its parameter; return its data pointer."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{kernel}: {name}[{i}] must be a numpy array, got {type(a).__name__}")
    if a.dtype != dtype:
        raise TypeError(f"{kernel}: {name}[{i}] has dtype {a.dtype}, its parameter has {dtype}")
    if a.shape != shape:
        raise ValueError(f"{kernel}: {name}[{i}] has shape {a.shape}, its parameter has {shape}")
    if written:
        # An in-place update of a copy would be lost: reject instead of copying.
        if not a.flags.c_contiguous:
            raise ValueError(f"{kernel}: {name}[{i}] must be C-contiguous (it is updated in place)")
        if not a.flags.writeable:
            raise ValueError(f"{kernel}: {name}[{i}] is read-only (it is updated in place)")
    return <intptr_t> cnp.PyArray_DATA(<cnp.ndarray> a)


cdef _Group _gather(str kernel, object per_param, object params, object grads, list states):
    """Validate a call and collect its pointers.

    Lists, in the order the cores index them: 0 params, 1 grads, then the
    state lists of ``states`` ((name, list or None) pairs).
    """
    if not isinstance(params, (list, tuple)) or not isinstance(grads, (list, tuple)):
        raise TypeError(f"{kernel}: params and grads must be lists of arrays")
    cdef Py_ssize_t n = len(params), i, k
    if not isinstance(per_param, np.ndarray) or per_param.ndim != 1 or per_param.shape[0] != n:
        raise ValueError(f"{kernel}: the first argument must be a 1-D array with one entry "
                         f"per parameter ({n})")
    named = [("grads", grads)] + [(name, arrays) for name, arrays in states]
    for name, arrays in named:
        if arrays is not None and len(arrays) != n:
            raise ValueError(f"{kernel}: {name} has {len(arrays)} arrays for {n} params")

    cdef _Group group = _Group()
    group.keep_alive = []
    group.addr = np.zeros((2 + len(states), n), dtype=np.intp)
    group.dtype = _float_dtype(kernel, params[0]) if n else np.dtype(np.float64)
    sizes = np.zeros(n, dtype=np.intp)
    for i in range(n):
        p = params[i]
        _float_dtype(kernel, p)
        shape = p.shape
        group.addr[0, i] = _address(kernel, "params", i, p, group.dtype, shape, True)
        g = grads[i]
        if isinstance(g, np.ndarray) and not g.flags.c_contiguous:
            g = np.ascontiguousarray(g)    # only read: a contiguous copy is fine
            group.keep_alive.append(g)
        group.addr[1, i] = _address(kernel, "grads", i, g, group.dtype, shape, False)
        for k, (name, arrays) in enumerate(states):
            if arrays is not None:
                group.addr[2 + k, i] = _address(kernel, name, i, arrays[i], group.dtype,
                                                shape, True)
        sizes[i] = p.size
    group.pieces = _split(sizes)
    group.threads = sizes.sum() >= MIN_PARALLEL
    return group


cdef cnp.ndarray _split(cnp.ndarray sizes):
    """(n_pieces, 3) rows (param, start, length) covering every element once."""
    rows = [np.zeros((0, 3), dtype=np.intp)]
    for t, size in enumerate(sizes.tolist()):
        starts = np.arange(0, size, CHUNK, dtype=np.intp)
        lengths = np.minimum(CHUNK, size - starts)
        rows.append(np.stack([np.full_like(starts, t), starts, lengths], axis=1))
    return np.ascontiguousarray(np.concatenate(rows))


# ---------------------------------------------------------------- element math

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
    if a != a or a > b:
        return a
    return b


# Pointer to the piece of list ``which`` that piece c of the group covers.
cdef inline floating* _at(floating tag, const intptr_t[:, ::1] addr, Py_ssize_t which,
                          const Py_ssize_t[:, ::1] pieces, Py_ssize_t c) noexcept nogil:
    return (<floating*> addr[which, pieces[c, 0]]) + pieces[c, 1]


# ---------------------------------------------------------------- SGD

cdef struct SGDOpts:
    double lr, momentum, dampening, weight_decay
    bint nesterov, maximize


cdef void _sgd_piece(floating* p, const floating* g, floating* buf, Py_ssize_t n,   # IN/OUT, IN, IN/OUT
                     SGDOpts o, bint first_step) noexcept nogil:
    cdef floating neg_lr = -o.lr, mom = o.momentum, keep = 1 - o.dampening
    cdef floating wd = o.weight_decay, gi
    cdef bint maximize = o.maximize, nesterov = o.nesterov
    cdef bint decay = o.weight_decay != 0, has_momentum = o.momentum != 0
    cdef Py_ssize_t i
    for i in range(n):
        gi = -g[i] if maximize else g[i]
        if decay:
            gi = gi + wd * p[i]
        if has_momentum:
            buf[i] = gi if first_step else buf[i] * mom + keep * gi
            gi = gi + mom * buf[i] if nesterov else buf[i]
        p[i] = p[i] + neg_lr * gi


cdef void _sgd_all(floating tag, const intptr_t[:, ::1] addr, const Py_ssize_t[:, ::1] pieces,
                   const unsigned char[::1] first, SGDOpts o, bint threads) noexcept nogil:
    cdef Py_ssize_t c
    for c in prange(pieces.shape[0], schedule="static", use_threads_if=threads):
        _sgd_piece(_at(tag, addr, 0, pieces, c), _at(tag, addr, 1, pieces, c),
                   _at(tag, addr, 2, pieces, c), pieces[c, 2], o, first[pieces[c, 0]])


def sgd_update(is_first_step, params, grads, momentum_buffers, double lr, double momentum,
               double dampening, bint nesterov, double weight_decay, bint maximize):
    """SGD with optional momentum / Nesterov, in place (see ref_optim.sgd_update).

    is_first_step: 1-D bool, one per param.  params (IN/OUT), grads (IN),
    momentum_buffers (IN/OUT, or None when momentum == 0): lists of
    C-contiguous float32/float64 arrays of one dtype.
    """
    buffers = momentum_buffers if momentum != 0 else None
    cdef _Group grp = _gather("sgd_update", is_first_step, params, grads,
                              [("momentum_buffers", buffers)])
    cdef const unsigned char[::1] first = np.ascontiguousarray(is_first_step, dtype=np.bool_).view(np.uint8)
    cdef SGDOpts o = SGDOpts(lr, momentum, dampening, weight_decay, nesterov, maximize)
    if grp.dtype == np.float32:
        with nogil:
            _sgd_all(<float> 0, grp.addr, grp.pieces, first, o, grp.threads)
    else:
        with nogil:
            _sgd_all(<double> 0, grp.addr, grp.pieces, first, o, grp.threads)


# ---------------------------------------------------------------- Adagrad

cdef struct AdagradOpts:
    double weight_decay, eps
    bint maximize


cdef void _adagrad_piece(floating* p, const floating* g, floating* state_sum,   # IN/OUT, IN, IN/OUT
                         Py_ssize_t n, AdagradOpts o, double clr) noexcept nogil:
    cdef floating neg_clr = -clr, wd = o.weight_decay, eps = o.eps, gi
    cdef bint maximize = o.maximize, decay = o.weight_decay != 0
    cdef Py_ssize_t i
    for i in range(n):
        gi = -g[i] if maximize else g[i]
        if decay:
            gi = gi + wd * p[i]
        state_sum[i] = state_sum[i] + gi * gi
        p[i] = p[i] + neg_clr * gi / (_sqrt(state_sum[i]) + eps)


cdef void _adagrad_all(floating tag, const intptr_t[:, ::1] addr, const Py_ssize_t[:, ::1] pieces,
                       const double[::1] clr, AdagradOpts o, bint threads) noexcept nogil:
    cdef Py_ssize_t c
    for c in prange(pieces.shape[0], schedule="static", use_threads_if=threads):
        _adagrad_piece(_at(tag, addr, 0, pieces, c), _at(tag, addr, 1, pieces, c),
                       _at(tag, addr, 2, pieces, c), pieces[c, 2], o, clr[pieces[c, 0]])


def adagrad_update(steps, params, grads, state_sums, double lr, double lr_decay,
                   double weight_decay, double eps, bint maximize):
    """Adagrad, in place (see ref_optim.adagrad_update).

    steps: 1-D float64, one per param (including this update).  params,
    state_sums (IN/OUT), grads (IN): C-contiguous float32/float64 arrays.
    """
    cdef _Group grp = _gather("adagrad_update", steps, params, grads,
                              [("state_sums", state_sums)])
    step = np.asarray(steps, dtype=np.float64)
    cdef double[::1] clr = np.ascontiguousarray(lr / (1 + (step - 1) * lr_decay))
    cdef AdagradOpts o = AdagradOpts(weight_decay, eps, maximize)
    if grp.dtype == np.float32:
        with nogil:
            _adagrad_all(<float> 0, grp.addr, grp.pieces, clr, o, grp.threads)
    else:
        with nogil:
            _adagrad_all(<double> 0, grp.addr, grp.pieces, clr, o, grp.threads)


# ---------------------------------------------------------------- RMSprop

cdef struct RMSpropOpts:
    double lr, alpha, eps, weight_decay, momentum
    bint centered, maximize


cdef void _rmsprop_piece(floating* p, const floating* g, floating* square_avg,   # IN/OUT, IN, IN/OUT
                         floating* grad_avg, floating* buf, Py_ssize_t n,        # IN/OUT, IN/OUT
                         RMSpropOpts o) noexcept nogil:
    cdef floating neg_lr = -o.lr, alpha = o.alpha, w = 1 - o.alpha
    cdef floating one_minus_w = 1 - w, eps = o.eps, wd = o.weight_decay, mom = o.momentum
    cdef floating gi, avg
    cdef bint maximize = o.maximize, decay = o.weight_decay != 0, centered = o.centered
    cdef bint has_momentum = o.momentum > 0, small_w = (1 - o.alpha) < 0.5 and (1 - o.alpha) > -0.5
    cdef Py_ssize_t i
    for i in range(n):
        gi = -g[i] if maximize else g[i]
        if decay:
            gi = gi + wd * p[i]
        square_avg[i] = square_avg[i] * alpha + w * gi * gi
        if centered:
            grad_avg[i] = _lerp(grad_avg[i], gi, w, one_minus_w, small_w)
            avg = _sqrt(square_avg[i] - grad_avg[i] * grad_avg[i]) + eps
        else:
            avg = _sqrt(square_avg[i]) + eps
        if has_momentum:
            buf[i] = buf[i] * mom + gi / avg
            p[i] = p[i] + neg_lr * buf[i]
        else:
            p[i] = p[i] + neg_lr * gi / avg


cdef void _rmsprop_all(floating tag, const intptr_t[:, ::1] addr, const Py_ssize_t[:, ::1] pieces,
                       RMSpropOpts o, bint threads) noexcept nogil:
    cdef Py_ssize_t c
    for c in prange(pieces.shape[0], schedule="static", use_threads_if=threads):
        _rmsprop_piece(_at(tag, addr, 0, pieces, c), _at(tag, addr, 1, pieces, c),
                       _at(tag, addr, 2, pieces, c), _at(tag, addr, 3, pieces, c),
                       _at(tag, addr, 4, pieces, c), pieces[c, 2], o)


def rmsprop_update(steps, params, grads, square_avgs, grad_avgs, momentum_buffers,
                   double lr, double alpha, double eps, double weight_decay,
                   double momentum, bint centered, bint maximize):
    """RMSprop, in place (see ref_optim.rmsprop_update).

    steps: 1-D, one per param (unused by the math).  params, square_avgs
    (IN/OUT), grads (IN), grad_avgs (IN/OUT or None unless centered),
    momentum_buffers (IN/OUT or None unless momentum > 0).
    """
    cdef _Group grp = _gather("rmsprop_update", steps, params, grads,
                              [("square_avgs", square_avgs),
                               ("grad_avgs", grad_avgs if centered else None),
                               ("momentum_buffers", momentum_buffers if momentum > 0 else None)])
    cdef RMSpropOpts o = RMSpropOpts(lr, alpha, eps, weight_decay, momentum, centered, maximize)
    if grp.dtype == np.float32:
        with nogil:
            _rmsprop_all(<float> 0, grp.addr, grp.pieces, o, grp.threads)
    else:
        with nogil:
            _rmsprop_all(<double> 0, grp.addr, grp.pieces, o, grp.threads)


# ---------------------------------------------------------------- Adadelta

cdef struct AdadeltaOpts:
    double lr, rho, eps, weight_decay
    bint maximize


cdef void _adadelta_piece(floating* p, const floating* g, floating* square_avg,   # IN/OUT, IN, IN/OUT
                          floating* acc_delta, Py_ssize_t n,                      # IN/OUT
                          AdadeltaOpts o) noexcept nogil:
    cdef floating neg_lr = -o.lr, rho = o.rho, w = 1 - o.rho, eps = o.eps
    cdef floating wd = o.weight_decay, gi, delta
    cdef bint maximize = o.maximize, decay = o.weight_decay != 0
    cdef Py_ssize_t i
    for i in range(n):
        gi = -g[i] if maximize else g[i]
        if decay:
            gi = gi + wd * p[i]
        square_avg[i] = square_avg[i] * rho + w * gi * gi
        delta = _sqrt(acc_delta[i] + eps) / _sqrt(square_avg[i] + eps) * gi
        acc_delta[i] = acc_delta[i] * rho + w * delta * delta
        p[i] = p[i] + neg_lr * delta


cdef void _adadelta_all(floating tag, const intptr_t[:, ::1] addr, const Py_ssize_t[:, ::1] pieces,
                        AdadeltaOpts o, bint threads) noexcept nogil:
    cdef Py_ssize_t c
    for c in prange(pieces.shape[0], schedule="static", use_threads_if=threads):
        _adadelta_piece(_at(tag, addr, 0, pieces, c), _at(tag, addr, 1, pieces, c),
                        _at(tag, addr, 2, pieces, c), _at(tag, addr, 3, pieces, c),
                        pieces[c, 2], o)


def adadelta_update(steps, params, grads, square_avgs, acc_deltas, double lr, double rho,
                    double eps, double weight_decay, bint maximize):
    """Adadelta, in place (see ref_optim.adadelta_update).

    steps: 1-D, one per param (unused by the math).  params, square_avgs,
    acc_deltas (IN/OUT), grads (IN).
    """
    cdef _Group grp = _gather("adadelta_update", steps, params, grads,
                              [("square_avgs", square_avgs), ("acc_deltas", acc_deltas)])
    cdef AdadeltaOpts o = AdadeltaOpts(lr, rho, eps, weight_decay, maximize)
    if grp.dtype == np.float32:
        with nogil:
            _adadelta_all(<float> 0, grp.addr, grp.pieces, o, grp.threads)
    else:
        with nogil:
            _adadelta_all(<double> 0, grp.addr, grp.pieces, o, grp.threads)


# ---------------------------------------------------------------- Adam / AdamW

cdef struct AdamOpts:
    double lr, beta1, beta2, eps, weight_decay
    bint amsgrad, maximize, decoupled_weight_decay


cdef void _adam_piece(floating* p, const floating* g, floating* exp_avg,       # IN/OUT, IN, IN/OUT
                      floating* exp_avg_sq, floating* max_exp_avg_sq,          # IN/OUT, IN/OUT
                      Py_ssize_t n, AdamOpts o, double step_size,
                      double bias_correction2_sqrt) noexcept nogil:
    cdef floating w1 = 1 - o.beta1, one_minus_w1 = 1 - w1
    cdef floating beta2 = o.beta2, w2 = 1 - o.beta2, eps = o.eps
    cdef floating wd = o.weight_decay, shrink = 1 - o.lr * o.weight_decay
    cdef floating neg_step = -step_size, bc2_sqrt = bias_correction2_sqrt, gi, v
    cdef bint maximize = o.maximize, amsgrad = o.amsgrad
    cdef bint l2 = o.weight_decay != 0 and not o.decoupled_weight_decay
    cdef bint decoupled = o.weight_decay != 0 and o.decoupled_weight_decay
    cdef bint small_w1 = (1 - o.beta1) < 0.5 and (1 - o.beta1) > -0.5
    cdef Py_ssize_t i
    for i in range(n):
        gi = -g[i] if maximize else g[i]
        if decoupled:
            p[i] = p[i] * shrink
        elif l2:
            gi = gi + wd * p[i]
        exp_avg[i] = _lerp(exp_avg[i], gi, w1, one_minus_w1, small_w1)
        exp_avg_sq[i] = exp_avg_sq[i] * beta2 + w2 * gi * gi
        v = exp_avg_sq[i]
        if amsgrad:
            max_exp_avg_sq[i] = _max_nan(max_exp_avg_sq[i], v)
            v = max_exp_avg_sq[i]
        p[i] = p[i] + neg_step * exp_avg[i] / (_sqrt(v) / bc2_sqrt + eps)


cdef void _adam_all(floating tag, const intptr_t[:, ::1] addr, const Py_ssize_t[:, ::1] pieces,
                    const double[::1] step_size, const double[::1] bc2_sqrt, AdamOpts o,
                    bint threads) noexcept nogil:
    cdef Py_ssize_t c, t
    for c in prange(pieces.shape[0], schedule="static", use_threads_if=threads):
        t = pieces[c, 0]
        _adam_piece(_at(tag, addr, 0, pieces, c), _at(tag, addr, 1, pieces, c),
                    _at(tag, addr, 2, pieces, c), _at(tag, addr, 3, pieces, c),
                    _at(tag, addr, 4, pieces, c), pieces[c, 2], o, step_size[t], bc2_sqrt[t])


def adam_update(steps, params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, double lr,
                double beta1, double beta2, double eps, double weight_decay, bint amsgrad,
                bint maximize, bint decoupled_weight_decay):
    """Adam / AdamW, in place (see ref_optim.adam_update).

    steps: 1-D float64, one per param (including this update).  params,
    exp_avgs, exp_avg_sqs (IN/OUT), grads (IN), max_exp_avg_sqs (IN/OUT or
    None unless amsgrad): C-contiguous float32/float64 arrays of one dtype.
    """
    cdef _Group grp = _gather("adam_update", steps, params, grads,
                              [("exp_avgs", exp_avgs), ("exp_avg_sqs", exp_avg_sqs),
                               ("max_exp_avg_sqs", max_exp_avg_sqs if amsgrad else None)])
    # Bias corrections per parameter, in double like PyTorch's Python floats.
    step = np.asarray(steps, dtype=np.float64)
    cdef double[::1] step_size = np.ascontiguousarray(lr / (1 - beta1 ** step))
    cdef double[::1] bc2_sqrt = np.ascontiguousarray((1 - beta2 ** step) ** 0.5)
    cdef AdamOpts o = AdamOpts(lr, beta1, beta2, eps, weight_decay, amsgrad, maximize,
                               decoupled_weight_decay)
    if grp.dtype == np.float32:
        with nogil:
            _adam_all(<float> 0, grp.addr, grp.pieces, step_size, bc2_sqrt, o, grp.threads)
    else:
        with nogil:
            _adam_all(<double> 0, grp.addr, grp.pieces, step_size, bc2_sqrt, o, grp.threads)
