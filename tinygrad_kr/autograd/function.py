"""Function: the op recipe, and the backward walk over the graph it records.

An op is a ``Function`` subclass with ``forward`` on arrays and ``backward``
on arrays (see docs/DESIGN.md).  ``Cls.apply(*tensors, **options)`` runs
forward and, when a gradient is wanted, links the result to its inputs.

Graph layout (as in PyTorch): a non-leaf tensor's ``grad_fn`` is the Function
that made it; a Function's ``parents`` hold, per input, the input's own
``grad_fn`` (non-leaf), the input Tensor itself (a leaf that requires grad:
its gradient is accumulated into ``.grad``), or None (no gradient needed).
Tensors are thin handles; the graph is the Functions.
"""
import inspect
import threading
import weakref

import numpy as np

from ..backend import get_array_module
from ._core import FunctionFields, graph
from .grad_mode import _state as _grad_state
from .grad_mode import set_grad_enabled

__all__ = ["Function", "RemovableHandle", "backward", "grad"]

_RELEASED = object()  # marks a Function whose saved values were freed by backward

# In-place changes so far.  Each one bumps this count and stamps the changed
# tensor with it (Tensor._bump_version).  A Function notes the count when it
# saves values; if the count has not moved by its backward, nothing it saved
# can have changed, and the check is one comparison.
_inplace_count = 0
_inplace_lock = threading.Lock()   # "+= 1" on a global is not atomic across threads

# Who watches the ops run (anomaly mode, the profiler: autograd/observe.py), or
# None.  While one is set, the core calls an op's forward and backward through
# it; otherwise the check costs one comparison per op.
_observer = None


def _set_observer(observer):
    """Install ``observer`` (or None) in this core and in the compiled one."""
    global _observer
    _observer = observer
    if graph is not None:
        graph.set_observer(observer)


# A view shares its base's memory, so a change through either is a change of
# both (PyTorch's views share one version counter).  The stamp is therefore
# also kept per memory owner, the array at the root of ``.base``, and the
# check reads it for every saved tensor: y[0].add_(1) is caught for a node
# that saved y, and y.add_(1) for one that saved y[0].
_owner_stamps = {}   # id(owner array) -> [weak reference to the owner, stamp]
_prune_at = 4096


def _memory_owner(a):
    while True:
        base = getattr(a, "base", None)
        if base is None or not hasattr(base, "base"):   # an ndarray's base may be a bytes, mmap...
            return a
        a = base


def inplace_stamp(array):
    """Count one more in-place change of ``array``; returns the stamp for its tensor."""
    global _inplace_count
    with _inplace_lock:
        _inplace_count += 1
        stamp = _inplace_count
    owner = _memory_owner(array)
    entry = _owner_stamps.get(id(owner))
    if entry is not None and entry[0]() is owner:
        entry[1] = stamp            # the usual case: a parameter changed every step
        return stamp
    try:
        ref = weakref.ref(owner)
    except TypeError:       # not weakly referenceable: the tensor's own stamp still counts
        return stamp
    global _prune_at
    if len(_owner_stamps) > _prune_at:  # forget owners that are gone (their ids get reused)
        with _inplace_lock:
            for key in [k for k, (r, _) in list(_owner_stamps.items()) if r() is None]:
                del _owner_stamps[key]
            # amortised: the next scan when the live entries have doubled
            _prune_at = max(4096, 2 * len(_owner_stamps))
    _owner_stamps[id(owner)] = [ref, stamp]
    return stamp


def _memory_stamp(array):
    """The stamp of the last in-place change of ``array``'s memory (0: none)."""
    owner = _memory_owner(array)
    entry = _owner_stamps.get(id(owner))
    return entry[1] if entry is not None and entry[0]() is owner else 0


def device_mismatch(first, second, where):
    """PyTorch's error for arrays (or Tensors) ``first`` and ``second`` on two
    devices; ``where`` names the op or argument."""
    names = []
    for x in (first, second):
        a = x.array if isinstance(x, Tensor) else x
        names.append("cpu" if a.__class__ is np.ndarray else f"cuda:{a.device.id}")
    return RuntimeError(f"Expected all tensors to be on the same device, but found at least two "
                        f"devices, {names[0]} and {names[1]}! ({where})")


def _device_mismatch(cls, inputs):
    """The error for an op whose tensors live on different devices."""
    tensors = [x for x in inputs if isinstance(x, Tensor)]
    second = next(t for t in tensors if t.array.__class__ is not tensors[0].array.__class__)
    return device_mismatch(tensors[0], second, f"in {cls.__name__}")


class Function(FunctionFields):
    """Base class of all differentiable ops.

    Subclasses implement ``forward(self, *arrays, **options) -> array`` and
    ``backward(self, xp, gy) -> gradient per input``.
    """

    # fields (_core.py): parents, needs_input_grad, input_meta, saved and the
    # bookkeeping of what was saved, _hooks; anything else an op keeps
    # (self.shape, ...) goes in its __dict__
    __slots__ = ()

    _graph_mode = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        static = isinstance(inspect.getattr_static(cls, "forward"), staticmethod)
        if static and ("forward" in cls.__dict__ or "backward" in cls.__dict__):
            # written PyTorch's way (static forward(ctx, ...) on Tensors): run by
            # a node class of its own (ctx_function.py)
            from . import ctx_function
            cls._node_class = ctx_function.node_class(cls)
            cls.apply = classmethod(ctx_function.apply)

    # -- recording ---------------------------------------------------------
    @classmethod
    def apply(cls, *inputs, **options):
        """Run ``forward`` on the inputs' arrays; return a Tensor linked to them."""
        fn = FunctionFields.__new__(cls)
        arrays, needs, parents, meta = [], [], [], []
        record = False
        grad_on = _grad_state.enabled
        array_class = None     # np.ndarray or cupy.ndarray: one device per op
        # One pass over the inputs (this runs for every op: no generators)
        for x in inputs:
            if x.__class__ is Tensor or isinstance(x, Tensor):
                a = x.array
                if a.__class__ is not array_class:
                    if array_class is not None:
                        raise _device_mismatch(cls, inputs)
                    array_class = a.__class__
                arrays.append(a)
                if grad_on and x._requires_grad:
                    needs.append(True)
                    parents.append(x.grad_fn or x)
                    meta.append((a.shape, a.dtype))
                    record = True
                    continue
            else:  # a Python number or None (e.g. an absent bias)
                arrays.append(x)
            needs.append(False)
            parents.append(None)
            meta.append(None)
        fn.needs_input_grad = tuple(needs)
        if record:
            fn.parents = tuple(parents)
            fn.input_meta = tuple(meta)
        if _observer is None:
            y = fn.forward(*arrays, **options)
        else:
            y = _observer.forward(fn, arrays, options)
        if not record:
            return Tensor._make(y, None)
        out = Tensor._make(y, fn)
        saved = fn.saved
        if saved is not None:
            # Where each saved value came from: an input's position, -1 for the
            # output, None for a value forward computed (create_graph needs
            # this), and the input Tensors among them (the in-place check reads
            # their stamps).  Only the saved inputs are held: an input that
            # backward does not need is freed as soon as nothing else uses it.
            fn._saved_at = _inplace_count
            sources, held = [], []
            for a in saved:
                for i, b in enumerate(arrays):
                    if a is b:
                        sources.append(i)
                        held.append(inputs[i])
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

    def save_for_backward(self, *arrays):
        """Keep arrays for backward (read back with ``self.saved_tensors``)."""
        self.saved = arrays

    @property
    def saved_tensors(self):
        saved = self.saved
        if saved is _RELEASED:
            raise RuntimeError(_SECOND_BACKWARD)
        if self._graph_mode:
            return tuple(self._saved_as_tensor(a, src) for a, src in zip(saved, self._saved_src))
        return saved

    def _saved_as_tensor(self, a, src):
        """Saved value ``a`` as the Tensor create_graph differentiates through."""
        if a is None:
            return None     # not kept: no wanted gradient needs it
        if src is None:
            return Tensor(a)
        if src == -1:
            return Tensor._make(a, self)
        parent = self.parents[src]
        if parent is None:
            return Tensor(a)
        if isinstance(parent, Tensor):
            return parent
        return Tensor._make(a, parent)

    def _check_versions(self):
        """Raise if a saved input or output was changed in place after it was saved."""
        saved_at = self._saved_at
        if saved_at is None or saved_at == _inplace_count:
            return          # no in-place change anywhere since: the common case
        output = self._output
        for t in self._saved_inputs + ([output()] if output is not None else []):
            if isinstance(t, Tensor) and (getattr(t, "_changed_at", 0) > saved_at
                                          or _memory_stamp(t.array) > saved_at):
                raise RuntimeError(
                    f"one of the variables needed for gradient computation has been modified "
                    f"by an inplace operation: a tensor of shape {tuple(t.shape)} saved by "
                    f"{type(self).__name__} was changed in place after it was saved (it is now "
                    f"at version {t._version}). Do the in-place change on a copy (.clone()) or "
                    f"after backward.")

    def release(self):
        """Free what backward needed (after a backward without retain_graph):
        the saved values and any array the op kept for itself (a mask, an
        index).  A node that kept only shapes and options (Sum, Reshape, Add)
        stays usable, so a second backward through it runs, as in PyTorch."""
        kept = self.__dict__
        if self.saved is not None or (kept and _holds_arrays(kept)):
            hooks = kept.get("_hooks")      # a field of the compiled core's nodes
            kept.clear()
            if hooks is not None:
                kept["_hooks"] = hooks
            self.saved = _RELEASED
            if graph is not None:   # the compiled core keeps these as fields, not in __dict__
                self._saved_src = self._saved_inputs = self._output = None

    # -- to implement ------------------------------------------------------
    def forward(self, *arrays, **options):
        raise NotImplementedError

    def backward(self, xp, gy):
        raise NotImplementedError

    @property
    def next_functions(self):
        """Per input, as PyTorch: (its grad_fn, 0), (an AccumulateGrad node for
        a leaf that requires grad, 0), or (None, 0)."""
        return tuple((_accumulate_grad(p) if isinstance(p, Tensor) else p, 0) for p in self.parents)

    @property
    def metadata(self):
        """A dict for whoever inspects the node (PyTorch's ``grad_fn.metadata``):
        anomaly mode keeps the forward call's stack under ``"traceback_"``."""
        kept = self.__dict__
        if "metadata" not in kept:
            kept["metadata"] = {}
        return kept["metadata"]

    def name(self):
        """PyTorch's name for this node, e.g. 'MulBackward0' (see _TORCH_NAMES)."""
        cls = type(self).__name__
        return _TORCH_NAMES.get(cls) or cls + "Backward0"

    def __repr__(self):
        return f"<{self.name()} object at {id(self):#x}>"


# PyTorch's grad_fn names where they are not simply the op's class name +
# "Backward0" (Mul -> MulBackward0).  Where PyTorch's name depends on the
# arguments (SumBackward0 or 1, Select/Slice/IndexBackward0) the common one.
_TORCH_NAMES = {
    "MatMul": "MmBackward0", "ReLU": "ReluBackward0", "LeakyReLU": "LeakyReluBackward0",
    "Clamp": "ClampBackward1", "AMax": "AmaxBackward0", "MaxDim": "MaxBackward0",
    "LogSumExp": "LogsumexpBackward0", "Norm": "LinalgVectorNormBackward0",
    "Reshape": "ViewBackward0", "GetItem": "IndexBackward0", "SetItem": "CopySlices",
    "Cast": "ToCopyBackward0", "ToDevice": "ToCopyBackward0", "CumSum": "CumsumBackward0",
    "CumProd": "CumprodBackward0", "Log1p": "Log1PBackward0", "Einsum": "EinsumBackward0",
    "Linear": "AddmmBackward0", "Conv2d": "ConvolutionBackward0",
    "MaxPool2d": "MaxPool2DWithIndicesBackward0", "AvgPool2d": "AvgPool2DBackward0",
    "CrossEntropy": "NllLossBackward0", "NLLLoss": "NllLossBackward0",
    "BatchNorm": "NativeBatchNormBackward0", "Dropout": "MulBackward0",
}


class AccumulateGrad:
    """What ``next_functions`` shows for a leaf that requires grad (the graph
    links the leaf itself, see the module docstring): ``.variable`` is the leaf;
    code that walks a graph (printing it, torchviz) stops here, as in PyTorch."""

    __slots__ = ("variable", "metadata", "__weakref__")
    next_functions = ()

    def __init__(self, variable):
        self.variable, self.metadata = variable, {}

    def name(self):
        return "torch::autograd::AccumulateGrad"

    def __repr__(self):
        return f"<AccumulateGrad object at {id(self):#x}>"


_accumulators = weakref.WeakValueDictionary()   # id(leaf) -> its AccumulateGrad, while one is held


def _accumulate_grad(leaf):
    """The leaf's AccumulateGrad: the same object while anyone holds it, as in
    PyTorch (graph walkers keep a set of the nodes seen)."""
    node = _accumulators.get(id(leaf))
    if node is None or node.variable is not leaf:
        node = _accumulators[id(leaf)] = AccumulateGrad(leaf)
    return node


def _holds_arrays(kept):
    """Whether the values an op kept in its __dict__ include an array (or a
    Tensor, or a tuple/list holding one): release() must free those."""
    return any(map(_holds_array, kept.values()))


def _holds_array(v):
    cls = v.__class__
    if cls is int or cls is bool or cls is float or v is None:
        return False
    if cls is tuple or cls is list:
        return any(map(_holds_array, v))
    return hasattr(v, "dtype")      # an array, a NumPy scalar, a Tensor (not a np.dtype)


# -- hooks (Tensor.register_hook, retain_grad) ---------------------------------

class RemovableHandle:
    """What ``register_hook`` returns: ``handle.remove()`` unregisters the hook
    (also as a context manager, as torch.utils.hooks.RemovableHandle)."""

    _next_id = 0

    def __init__(self, hooks, table="fns"):
        self._hooks = weakref.ref(hooks)
        self._table = table     # "fns", or "post_accumulate" (register_post_accumulate_grad_hook)
        self.id = RemovableHandle._next_id
        RemovableHandle._next_id += 1

    def remove(self):
        hooks = self._hooks()
        if hooks is not None:
            getattr(hooks, self._table).pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


class TensorHooks:
    """What the backward walk does with the gradient reaching one tensor,
    before anything else: the ``register_hook`` functions in the order
    registered (each sees the previous one's result and may return a
    replacement), then, for a non-leaf with ``retain_grad()``, adding it to
    ``.grad`` (last, as in PyTorch).  A leaf's are on the Tensor (``_hooks``),
    a non-leaf's on its grad_fn: the walk meets that, not the Tensor.  Where no
    tensor has hooks (``_hooks`` None) the walk pays one field read per node.
    A leaf's ``post_accumulate`` hooks (``register_post_accumulate_grad_hook``)
    run after the sum has gone into ``.grad``: see _deliver."""

    __slots__ = ("fns", "retained", "post_accumulate", "__weakref__")

    def __init__(self):
        self.fns = {}           # handle id -> hook
        self.retained = None    # weak reference to the non-leaf tensor that keeps .grad
        self.post_accumulate = {}   # handle id -> hook(leaf), after .grad is accumulated

    def add(self, hook, table="fns"):
        handle = RemovableHandle(self, table)
        getattr(self, table)[handle.id] = hook
        return handle


def _call_hooks(hooks, g, create_graph):
    """Run ``hooks`` (a TensorHooks) on gradient ``g`` (an array, or a Tensor
    with create_graph); returns the gradient that goes on."""
    for hook in tuple(hooks.fns.values()):
        new = hook(g if create_graph else Tensor._make(g, None))
        if new is None:
            continue
        if not isinstance(new, Tensor):
            raise TypeError(f"expected Tensor, but hook returned '{type(new).__name__}'")
        name = getattr(hook, "__name__", repr(hook))
        if new.shape != g.shape:
            raise RuntimeError(f"hook '{name}' has changed the size of value (was "
                               f"{list(g.shape)}, got {list(new.shape)})")
        if new.dtype != g.dtype:
            raise RuntimeError(f"hook '{name}' has changed the type of value (was {g.dtype} "
                               f"got {new.dtype})")
        g = new if create_graph else new.array
    if hooks.retained is not None:
        t = hooks.retained()
        if t is not None:       # retain_grad(): accumulated like a leaf's .grad
            # its own array: the same gradient may flow to another input (Add)
            kept = g if create_graph else Tensor(g.copy())
            t.grad = kept if t.grad is None else t.grad + kept
    return g


_SECOND_BACKWARD = (
    "Trying to backward through the graph a second time (or directly access saved tensors "
    "after they have already been freed). Saved intermediate values of the graph are freed "
    "when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to "
    "backward through the graph a second time.")


def _node_of(t):
    """The graph node an input tensor feeds: its grad_fn, or itself if a leaf."""
    return t.grad_fn if t.grad_fn is not None else t


def _sum_to(xp, g, shape):
    """Sum a broadcast gradient ``g`` down to ``shape`` -- the one place where
    broadcasting is undone."""
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and g.shape[lead + i] != 1)
    if axes:
        g = xp.sum(g, axis=axes, keepdims=True)
    if lead or g.shape != shape:
        g = xp.reshape(g, shape)
    return g


def _chain_from(fn):
    """The Functions from ``fn`` down, if each has at most one parent that is
    a Function (a Sequential model and its loss: the common case), else None.
    In a chain the topological order is simply the walk."""
    chain = []
    while fn is not None:
        chain.append(fn)
        after = None
        for p in fn.parents:
            if p is not None and p.__class__ is not Tensor and not isinstance(p, Tensor):
                if after is not None:
                    return None     # a branch: sort it properly
                after = p
        fn = after
    return chain


def _topological_order(roots):
    """Functions reachable from ``roots``, each before all of its parents.

    Iterative depth-first post-order (no recursion limit: a chain of 10,000
    ops works), in a fixed order so accumulation is deterministic."""
    if len(roots) == 1:
        chain = _chain_from(roots[0])
        if chain is not None:
            return chain
    order, visited = [], set()
    stack = [(fn, False) for fn in reversed(roots)]
    while stack:
        fn, children_done = stack.pop()
        if children_done:
            order.append(fn)
            continue
        if fn in visited:
            continue
        visited.add(fn)
        stack.append((fn, True))
        for p in fn.parents:
            if p is not None and p.__class__ is not Tensor and not isinstance(p, Tensor) \
                    and p not in visited:
                stack.append((p, False))
    order.reverse()
    return order


def _run_backward(roots, root_grads, retain_graph, create_graph, capture=None):
    """Propagate ``root_grads`` from the ``roots`` (Tensors) to the leaves.

    Without ``capture`` leaf gradients accumulate into ``.grad``.  With
    ``capture`` (a dict node -> None) the gradients reaching those nodes are
    stored there instead and ``.grad`` is left alone (autograd.grad).  A
    leaf with hooks gets its gradients summed first, and once, at the end: its
    hooks see this backward's whole gradient, as in PyTorch."""
    grads = {}      # node (a Function, or a leaf with hooks) -> gradient so far
    fns = []
    hooked = []     # leaves with hooks, in the order their first gradient came
    for t, g in zip(roots, root_grads):
        node = _node_of(t)
        if isinstance(node, Tensor):  # backward on a leaf: its own gradient
            _deliver(node, g, capture, create_graph, None)
            continue
        if node in grads:
            grads[node] = grads[node] + g
        else:
            grads[node] = g
            fns.append(node)
    for fn in _topological_order(fns):
        gy = grads.pop(fn, None)
        if gy is None:
            continue
        if fn._hooks is not None:
            gy = _call_hooks(fn._hooks, gy, create_graph)
        if capture is not None and fn in capture:
            capture[fn] = gy
        saved = fn.saved
        if saved is not None:
            if saved is _RELEASED:
                raise RuntimeError(_SECOND_BACKWARD)
            if fn._saved_at != _inplace_count:
                fn._check_versions()
        if create_graph:
            from ..ops import TensorMath
            xp = TensorMath
            fn._graph_mode = True
            try:
                gxs = fn.backward(xp, gy) if _observer is None else _observer.backward(fn, xp, gy)
            finally:
                fn.__dict__.pop("_graph_mode", None)
        else:
            xp = np if gy.__class__ is np.ndarray else get_array_module(gy)
            gxs = fn.backward(xp, gy) if _observer is None else _observer.backward(fn, xp, gy)
        if gxs.__class__ is not tuple:
            gxs = (gxs,)
        for parent, gx, meta in zip(fn.parents, gxs, fn.input_meta):
            if parent is None or gx is None:
                continue
            shape, dtype = meta
            if gx.shape != shape:
                gx = _sum_to(xp, gx, shape)
            if gx.dtype is not dtype and gx.dtype != dtype:
                # each input gets its gradient in its own dtype; under
                # create_graph too, as a recorded cast (a float32 input mixed
                # with float64 got float64 gradients there before)
                gx = gx.to(dtype) if create_graph and isinstance(gx, Tensor) else gx.astype(dtype)
            if (parent.__class__ is Tensor or isinstance(parent, Tensor)) \
                    and parent._hooks is None:
                _deliver(parent, gx, capture, create_graph, gy)
            elif parent in grads:
                grads[parent] = grads[parent] + gx
            else:
                grads[parent] = gx
                if parent.__class__ is Tensor or isinstance(parent, Tensor):
                    hooked.append(parent)
        if not retain_graph:
            fn.release()
    for leaf in hooked:
        _deliver(leaf, grads.pop(leaf), capture, create_graph, None)


def _deliver(leaf, g, capture, create_graph, gy):
    """Hand gradient ``g`` to a leaf tensor: through its hooks, then captured
    or accumulated in .grad."""
    if capture is not None and leaf not in capture:
        return      # autograd.grad: a leaf it was not asked for (its hooks do not run)
    if leaf._hooks is not None:
        g = _call_hooks(leaf._hooks, g, create_graph)
        gy = g      # the hooks saw this array and may keep it: .grad gets a copy
    if capture is not None:
        if leaf in capture:
            prev = capture[leaf]
            capture[leaf] = g if prev is None else prev + g
        return
    if create_graph:
        leaf.grad = g if leaf.grad is None else leaf.grad + g
    # A gradient that is the incoming array or a view of something else may be
    # shared with another leaf: copy it so an in-place change to one .grad
    # (grad.zero_(), an optimizer) cannot reach the other.
    elif leaf.grad is None:
        if g is gy or g.base is not None:
            g = g.copy()
        leaf.grad = Tensor._make(g, None)
    else:
        total = leaf.grad.array + g
        if isinstance(total, np.generic):  # 0-d + 0-d gives a NumPy scalar
            total = np.asarray(total)
        leaf.grad.array = total
    if leaf._hooks is not None and leaf._hooks.post_accumulate:
        _call_post_accumulate_hooks(leaf, create_graph)


def _call_post_accumulate_hooks(leaf, create_graph):
    """Run ``leaf``'s register_post_accumulate_grad_hook functions, once its
    ``.grad`` holds this backward's gradient: ``hook(leaf)``, in the order
    registered, under no_grad unless create_graph (as PyTorch).  Both graph
    cores come here: a leaf with hooks is always delivered by _deliver."""
    with set_grad_enabled(create_graph):
        for hook in tuple(leaf._hooks.post_accumulate.values()):
            result = hook(leaf)
            if result is None or result is leaf:    # (p.add_(...) returns p: PyTorch allows it)
                continue
            if isinstance(result, Tensor):
                raise RuntimeError("Tensor post accumulate grad hooks should return None.")
            raise TypeError(f"expected Variable, but hook returned "
                            f"'{type(result).__name__}'")


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate d(tensors)/d(leaves) into the leaves' ``.grad``."""
    if tensors.__class__ is Tensor and grad_tensors is None and inputs is None \
            and not create_graph:
        # loss.backward(), once per training step: skip the general argument handling
        if graph is not None and tensors.grad_fn is not None:
            graph.backward_loss(tensors, bool(retain_graph))    # the compiled twin
        else:
            _run_backward((tensors,), (_root_grad(tensors, None, False),), bool(retain_graph),
                          False)
        return
    if isinstance(tensors, Tensor):
        tensors = [tensors]
    if grad_tensors is None or isinstance(grad_tensors, Tensor):
        grad_tensors = [grad_tensors] * len(tensors) if grad_tensors is None else [grad_tensors]
    if retain_graph is None:
        retain_graph = create_graph
    roots, root_grads = [], []
    for t, g in zip(tensors, grad_tensors):
        roots.append(t)
        root_grads.append(_root_grad(t, g, create_graph))
    capture = None
    if inputs is not None:
        inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
        capture = {_node_of(t): None for t in inputs}
    _run_backward(roots, root_grads, retain_graph, create_graph, capture)
    if capture is not None:
        for t in inputs:
            g = capture[_node_of(t)]
            if g is not None:
                if not create_graph:
                    g = Tensor(g)
                t.grad = g if t.grad is None else t.grad + g
                if t.grad_fn is None and t._hooks is not None and t._hooks.post_accumulate:
                    _call_post_accumulate_hooks(t, create_graph)


def _root_grad(t, g, create_graph):
    if not isinstance(t, Tensor):
        raise TypeError(f"backward expects Tensors, got {type(t).__name__}")
    if not t.requires_grad:
        raise RuntimeError("element 0 of tensors does not require grad and does not have a "
                           "grad_fn: call .requires_grad_() on a leaf or compute it from "
                           "tensors that require grad (and not under no_grad())")
    if g is None:
        if t.array.size != 1:
            raise RuntimeError(f"grad can be implicitly created only for scalar outputs: "
                               f"backward() on a tensor of shape {tuple(t.shape)} needs "
                               f"gradient= of that shape")
        data = t.array
        if data.__class__ is np.ndarray:
            # a 0-d loss is the usual root: np.array(1) is 4x cheaper than ones
            g = np.array(1, data.dtype) if data.ndim == 0 else np.ones(data.shape, data.dtype)
        else:
            g = get_array_module(data).ones_like(data)
    else:
        g_arr = g.array if isinstance(g, Tensor) else np.asarray(g, dtype=t.dtype)
        if g_arr.shape != t.array.shape:
            raise RuntimeError(f"Mismatch in shape: grad_output has a shape of "
                               f"{tuple(g_arr.shape)} and output has a shape of {tuple(t.shape)}")
        if create_graph:
            return g if isinstance(g, Tensor) else Tensor(g_arr)
        g = g_arr
    return Tensor(g) if create_graph else g


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=False):
    """d(outputs)/d(inputs) as a tuple of Tensors, without touching ``.grad``."""
    single = isinstance(inputs, Tensor)
    inputs = [inputs] if single else list(inputs)
    if not inputs:
        raise RuntimeError("`inputs` argument to `grad()` cannot be empty.")
    if isinstance(outputs, Tensor):
        outputs = [outputs]
    if grad_outputs is None or isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs] * len(outputs) if grad_outputs is None else [grad_outputs]
    if retain_graph is None:
        retain_graph = create_graph
    for t in inputs:
        if not t.requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    capture = {_node_of(t): None for t in inputs}
    root_grads = [_root_grad(t, g, create_graph) for t, g in zip(outputs, grad_outputs)]
    _run_backward(list(outputs), root_grads, retain_graph, create_graph, capture)
    result = []
    for t in inputs:
        g = capture[_node_of(t)]
        if g is None:
            if not allow_unused:
                raise RuntimeError("One of the differentiated Tensors appears to not have been "
                                   "used in the graph. Set allow_unused=True if this is the "
                                   "desired behavior.")
            result.append(None)
        else:
            result.append(g if create_graph else Tensor(g))
    return tuple(result)


from ..tensor import Tensor  # noqa: E402  (tensor.py imports this module's names lazily)

if graph is not None:
    # The compiled twins of Function.apply, Tensor._make and (for loss.backward())
    # _run_backward: same steps, fields as C struct members (csrc/graph.pyx).
    import sys
    graph.bind(sys.modules[__name__])
    Function._python_apply = Function.__dict__["apply"]     # the reference (twin tests)
    Function.apply = classmethod(graph.apply)
    Tensor._make = staticmethod(graph.make)

# PyTorch's names: torch.autograd.function.once_differentiable / FunctionCtx
from .ctx_function import FunctionCtx, once_differentiable  # noqa: E402
__all__ += ["FunctionCtx", "once_differentiable"]
