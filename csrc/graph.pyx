# cython: language_level=3
"""The compiled twin of the autograd graph core (tinygrad_kr/autograd/function.py).

Same algorithm, line for line, as the Python reference: ``Function.apply``
(run forward, link the result to its inputs) and the backward walk of
``loss.backward()``.  What compiling buys is the bookkeeping around each op:
the Tensor and Function fields are C struct members here (``TensorBase``,
``FunctionBase``), the loops over inputs and parents are C loops.  The ops'
own forward and backward stay Python and run unchanged.

The Python module binds its classes and helpers once (``bind``); this module
imports nothing of tinygrad_kr itself.
"""
import weakref

import numpy as np

cdef object _np_ndarray = np.ndarray
cdef object _np_generic = np.generic
cdef object _np_asarray = np.asarray


cdef class TensorBase:
    """The fields of a Tensor (see tinygrad_kr/tensor.py)."""
    cdef public object array, grad, grad_fn, _hooks
    cdef public bint _requires_grad
    cdef public long long _version, _changed_at
    cdef object __weakref__


cdef class FunctionBase:
    """The fields of a Function (see tinygrad_kr/autograd/function.py)."""
    cdef public object parents, needs_input_grad, input_meta, _hooks
    cdef public object saved, _saved_at, _saved_src, _saved_inputs, _output
    cdef dict __dict__
    cdef object __weakref__


# The Python core's classes and helpers, taken from function.py by bind()
cdef object Tensor = None           # the Tensor class
cdef object _fn_module = None       # function.py itself: _inplace_count changes
cdef object _grad_state = None      # grad_mode's state (.enabled)
cdef object _RELEASED = None
cdef object _SECOND_BACKWARD = None
cdef object _device_mismatch = None
cdef object _sum_to = None
cdef object _deliver = None
cdef object _root_grad = None
cdef object _get_array_module = None
cdef object _call_hooks = None
cdef object _observer = None        # function.py's _observer (anomaly mode, the profiler)


def set_observer(observer):
    """function.py's _set_observer: who watches the ops run, or None."""
    global _observer
    _observer = observer


def bind(fn_module):
    """Take what the compiled core shares with the reference from function.py."""
    global Tensor, _fn_module, _grad_state, _RELEASED, _SECOND_BACKWARD, _device_mismatch
    global _sum_to, _deliver, _root_grad, _get_array_module, _call_hooks
    m = _fn_module = fn_module
    Tensor, _grad_state, _RELEASED, _SECOND_BACKWARD = \
        m.Tensor, m._grad_state, m._RELEASED, m._SECOND_BACKWARD
    _device_mismatch, _sum_to, _deliver, _root_grad, _get_array_module = \
        m._device_mismatch, m._sum_to, m._deliver, m._root_grad, m.get_array_module
    _call_hooks = m._call_hooks


cdef inline TensorBase _make(object data, object grad_fn):
    if type(data) is not _np_ndarray and isinstance(data, _np_generic):
        data = _np_asarray(data)    # NumPy returns scalars from 0-d arithmetic
    cdef TensorBase t = TensorBase.__new__(Tensor)
    t.array = data
    t.grad = None
    t.grad_fn = grad_fn
    if grad_fn is not None:
        if data.dtype.kind != "f":
            t.grad_fn = None        # integer results (argmax...) carry no gradient
        else:
            t._requires_grad = True
    return t


def make(data, grad_fn):
    """Tensor._make."""
    return _make(data, grad_fn)


def apply(cls, *inputs, **options):
    """Function.apply (see function.py)."""
    cdef FunctionBase fn = FunctionBase.__new__(cls)
    cdef Py_ssize_t n = len(inputs), i, j
    cdef list arrays = [None] * n, needs = [False] * n, parents = [None] * n, meta = [None] * n
    cdef bint record = False, grad_on = _grad_state.enabled
    cdef object array_class = None, x, a
    cdef TensorBase t
    for i in range(n):          # one pass over the inputs
        x = inputs[i]
        if isinstance(x, TensorBase):
            t = <TensorBase> x
            a = t.array
            if type(a) is not array_class:
                if array_class is not None:
                    raise _device_mismatch(cls, inputs)
                array_class = type(a)
            arrays[i] = a
            if grad_on and t._requires_grad:
                needs[i] = True
                parents[i] = t.grad_fn if t.grad_fn is not None else t
                meta[i] = (a.shape, a.dtype)
                record = True
        else:
            arrays[i] = x       # a Python number or None (an absent bias)
    fn.needs_input_grad = tuple(needs)
    if record:
        fn.parents = tuple(parents)
        fn.input_meta = tuple(meta)
    if _observer is None:
        y = fn.forward(*arrays, **options)
    else:
        y = _observer.forward(fn, arrays, options)
    if not record:
        return _make(y, None)
    out = _make(y, fn)
    saved = fn.saved
    if saved is not None:
        fn._saved_at = _fn_module._inplace_count
        sources, held = [], []
        for a in saved:
            for j in range(n):
                if a is arrays[j]:
                    sources.append(j)
                    held.append(inputs[j])
                    break
            else:
                if a is y:
                    sources.append(-1)
                    fn._output = weakref.ref(out)
                else:
                    sources.append(None)
        fn._saved_src = sources
        fn._saved_inputs = held
    return out


cdef bint _holds_array(object v):
    """function.py's _holds_array: an array, NumPy scalar or Tensor, or a
    tuple/list holding one."""
    cdef type cls = type(v)
    if cls is int or cls is bool or cls is float or v is None:
        return False
    if cls is tuple or cls is list:
        for x in v:
            if _holds_array(x):
                return True
        return False
    return hasattr(v, "dtype")


cpdef bint holds_arrays(dict kept):
    """function.py's _holds_arrays: whether an op kept an array in its __dict__."""
    for v in kept.values():
        if _holds_array(v):
            return True
    return False


cdef list _topological_order(FunctionBase root):
    """Functions reachable from ``root``, each before all of its parents
    (function.py's _topological_order, for one root)."""
    cdef list chain = [], order = [], stack
    cdef set visited
    cdef object fn = root, after, p
    cdef bint done
    # a chain (each Function has at most one Function parent): the walk is the order
    while fn is not None:
        chain.append(fn)
        after = None
        for p in (<FunctionBase> fn).parents:
            if p is not None and not isinstance(p, TensorBase):
                if after is not None:
                    break
                after = p
        else:
            fn = after
            continue
        break
    else:
        return chain
    # a branch: iterative depth-first post-order, in a fixed order
    visited = set()
    stack = [(root, False)]
    while stack:
        fn, done = stack.pop()
        if done:
            order.append(fn)
            continue
        if fn in visited:
            continue
        visited.add(fn)
        stack.append((fn, True))
        for p in (<FunctionBase> fn).parents:
            if p is not None and not isinstance(p, TensorBase) and p not in visited:
                stack.append((p, False))
    order.reverse()
    return order


def backward_loss(TensorBase loss, bint retain_graph):
    """loss.backward() for a non-leaf ``loss`` (function.py's backward fast path)."""
    data = loss.array
    if type(data) is _np_ndarray and data.ndim == 0:
        root_grad = np.array(1, data.dtype)     # the usual root: a 0-d loss
    else:
        root_grad = _root_grad(loss, None, False)
    run_backward(loss.grad_fn, root_grad, retain_graph)


def run_backward(FunctionBase root, object root_grad, bint retain_graph):
    """function.py's _run_backward for loss.backward(): one root Function,
    gradients accumulated into the leaves' .grad, no create_graph."""
    cdef dict grads = {root: root_grad}
    cdef list hooked = []
    cdef FunctionBase fn
    cdef TensorBase leaf
    cdef object gy, gxs, xp, parent, gx, shape, dtype, saved
    cdef tuple gtuple, parents, metas
    cdef Py_ssize_t i, n
    for fn in _topological_order(root):
        gy = grads.pop(fn, None)
        if gy is None:
            continue
        if fn._hooks is not None:
            gy = _call_hooks(fn._hooks, gy, False)
        saved = fn.saved
        if saved is not None:
            if saved is _RELEASED:
                raise RuntimeError(_SECOND_BACKWARD)
            if fn._saved_at != _fn_module._inplace_count:
                fn._check_versions()
        xp = np if type(gy) is _np_ndarray else _get_array_module(gy)
        gxs = fn.backward(xp, gy) if _observer is None else _observer.backward(fn, xp, gy)
        gtuple = gxs if type(gxs) is tuple else (gxs,)
        parents, metas = fn.parents, fn.input_meta
        n = min(len(parents), len(gtuple))
        for i in range(n):
            parent = parents[i]
            gx = gtuple[i]
            if parent is None or gx is None:
                continue
            shape, dtype = metas[i]
            if gx.shape != shape:
                gx = _sum_to(xp, gx, shape)
            if gx.dtype is not dtype and gx.dtype != dtype:
                gx = gx.astype(dtype)
            if isinstance(parent, TensorBase) and (<TensorBase> parent)._hooks is None:
                leaf = <TensorBase> parent
                if leaf.grad is None:
                    # a leaf's first gradient: copy an array that may be shared (see _deliver)
                    if gx is gy or gx.base is not None:
                        gx = gx.copy()
                    leaf.grad = _make(gx, None)
                else:
                    _deliver(leaf, gx, None, False, gy)
            elif parent in grads:
                grads[parent] = grads[parent] + gx
            else:
                grads[parent] = gx
                if isinstance(parent, TensorBase):
                    hooked.append(parent)      # a leaf with hooks: delivered at the end
        if not retain_graph:
            namespace = (<object> fn).__dict__
            if saved is not None or (namespace and holds_arrays(namespace)):  # Function.release()
                namespace.clear()
                fn.saved = _RELEASED
                fn._saved_src = fn._saved_inputs = fn._output = None
    for leaf in hooked:
        _deliver(leaf, grads.pop(leaf), None, False, None)
