"""Functions written PyTorch's way, as course code writes them:

    class MyReLU(torch.autograd.Function):
        @staticmethod
        def forward(ctx, input):
            ctx.save_for_backward(input)
            return input.clamp(min=0)

        @staticmethod
        def backward(ctx, grad_output):
            input, = ctx.saved_tensors
            return grad_output * (input > 0)

    y = MyReLU.apply(x)

The engine's own ops work on arrays (function.py); such a class is run by a
node class made for it once, when it is defined (``Function.__init_subclass__``):
its forward wraps the input arrays as Tensors and calls the static
``forward(ctx, ...)`` (or ``forward(...)`` then ``setup_context(ctx, inputs,
output)``, PyTorch 2's style) with the node as ``ctx``; its backward calls the
static ``backward(ctx, *grad_outputs)`` on Tensors and returns their arrays.
What ``ctx.save_for_backward`` keeps goes where the engine's own ops keep their
saved arrays, so the in-place check and the freeing after backward apply.
Under ``create_graph`` the user's backward runs with grad mode on, on the
Tensors the engine links to the graph, so it is differentiated in turn.

Several outputs.  A node of the engine has one output.  When forward returns
a tuple, the node's output is a token standing for the whole tuple, and each
Tensor in it is handed out by an ``OutputSlot`` node whose input is the token
(as linalg.py hands out the parts of a packed result, without packing: each
output keeps its own array, dtype and memory).  A slot's backward passes its
gradient on as ``OutputGrads``, one entry per output; the walk adds those
like arrays, so the node's backward sees every output's gradient at once, and
knows which never came (zeros or None, as ``ctx.set_materialize_grads``).
"""
import inspect

import numpy as np

from ..backend import get_array_module
from .function import Function, Tensor, _memory_owner
from .grad_mode import no_grad, set_grad_enabled

__all__ = ["FunctionCtx", "once_differentiable"]

# The output the engine records for a node with several: a 0-d array that
# nothing computes with (the Tensors are handed out by OutputSlot nodes)
_TOKEN = np.zeros(())


def once_differentiable(backward):
    """Mark a static ``backward`` as not differentiable itself, as PyTorch's
    decorator of the same name: under create_graph its gradients are computed
    and only differentiating them again raises (DelayedError)."""
    backward._once_differentiable = True
    return backward


def node_class(user):
    """The Function subclass whose instances are ``user``'s graph nodes."""
    backward = user.__dict__.get("backward")
    once = getattr(getattr(backward, "__func__", backward), "_once_differentiable", False)
    return type(f"{user.__name__}Backward", (FunctionCtx,),
                {"user": user, "backward_is_once_differentiable": once,
                 "forward_takes_ctx": getattr(user, "setup_context", None) is None,
                 "__slots__": (), "__module__": user.__module__,
                 "__qualname__": f"{user.__qualname__}Backward"})


class _Call:
    """What one ``apply`` hands its node's forward and gets back from it."""
    __slots__ = ("kwargs", "node", "inputs", "output")

    def __init__(self, kwargs):
        self.kwargs = kwargs


def apply(user, *args, **kwargs):
    """``user.apply(*args, **kwargs)``: forward's result, its Tensors linked to
    the graph as PyTorch links them."""
    node_cls = user._node_class
    if kwargs or not node_cls.forward_takes_ctx:
        args, kwargs = _bind(user.forward, args, kwargs, node_cls.forward_takes_ctx)
    call = _Call(kwargs)
    # the Tensor the engine made: the one output, or the token standing for several
    result = node_cls.apply(*args, tensor_args=tuple([isinstance(x, Tensor) for x in args]),
                            call=call)
    node, output = call.node, call.output
    dirty = node.__dict__.pop("_dirty", ())
    non_differentiable = node.__dict__.pop("_non_differentiable", ())
    single = isinstance(output, Tensor)
    outputs = (output,) if single else output if isinstance(output, tuple) else ()
    if dirty and any(not any(t is o for o in outputs) for t in dirty):
        raise RuntimeError("Some elements marked as dirty during the forward method were not "
                           "returned as output. The inputs that are modified inplace must all "
                           "be outputs of the Function.")
    if not outputs:
        return output       # no Tensor to link: PyTorch hands it back as it came
    recorded = result.grad_fn is not None
    handed, made = [], {}   # made: id of a user's output -> the Tensor handed out for it
    for k, o in enumerate(outputs):
        if not isinstance(o, Tensor):
            handed.append(o)    # a number, None, a string...: passed through
            continue
        differentiable = recorded and not (non_differentiable and
                                           any(o is t for t in non_differentiable))
        if not differentiable:
            t = Tensor._make(o.array, None)
        elif single:
            t = result          # the node itself is this output's grad_fn
        else:
            t = OutputSlot.apply(result, slot=k, value=o.array)
        i = _position(o, call.inputs) if dirty and _position(o, dirty) is not None else None
        if i is not None:       # an input marked dirty (PyTorch ignores other tensors marked)
            t = _rebase_dirty(args[i], o, t, recorded, differentiable, result)
        elif t.grad_fn is not None and _views_an_input(o.array, call.inputs):
            t.grad_fn.inplace_view_error = _view_error(k, user.__name__)
        if id(o) in made:
            # the same Tensor returned twice: PyTorch hands out one Tensor,
            # linked to the last place it was returned at
            if t.grad_fn is not None:
                made[id(o)].grad_fn = t.grad_fn
            t = made[id(o)]
        made[id(o)] = t
        handed.append(t)
    if recorded and node.saved is not None and (not single or dirty or non_differentiable):
        # (Function.apply linked a single output it made itself)
        _link_saved_outputs(node, outputs, handed, dirty)
    return handed[0] if single else tuple(handed)


def _position(t, tensors):
    """Where Tensor ``t`` itself is in ``tensors`` (None: not there)."""
    return next((i for i, x in enumerate(tensors) if x is t), None)


def _bind(forward, args, kwargs, takes_ctx):
    """apply's arguments as forward's positional ones, as PyTorch binds them
    (with the defaults, for a forward without ctx: setup_context sees them)."""
    signature = inspect.signature(forward)
    if takes_ctx:
        bound = signature.bind(None, *args, **kwargs)    # None: ctx's place
        return bound.args[1:], bound.kwargs
    bound = signature.bind(*args, **kwargs)
    bound.apply_defaults()
    return bound.args, bound.kwargs


def _rebase_dirty(x, wrapper, t, recorded, differentiable, result):
    """Input ``x``, changed in place by forward and marked dirty, is returned
    as itself, now the output ``t`` stands for (PyTorch's ``mark_dirty``)."""
    x._version += wrapper._version      # forward's in-place changes went through wrapper
    if not recorded:
        return x
    if not differentiable:
        return t        # marked non-differentiable too: PyTorch hands out a new tensor
    x._records_inplace(result)  # raises for a leaf that requires grad, or a view
    x.grad_fn, x._requires_grad = t.grad_fn, True
    return x


def _views_an_input(array, inputs):
    """Whether ``array`` is an input's array, or a view of an input's memory."""
    if getattr(array, "base", None) is None:    # not a view: is it an input as it came?
        return any(x.array is array for x in inputs if isinstance(x, Tensor))
    owner = _memory_owner(array)
    return any(_memory_owner(x.array) is owner for x in inputs if isinstance(x, Tensor))


def _view_error(k, name):
    return (f"Output {k} of {name} is a view and is being modified inplace. This view "
            f"was created inside a custom Function (or because an input was returned as-is) "
            f"and the autograd logic to handle view+inplace would override the custom backward "
            f"associated with the custom Function, leading to incorrect gradients. This "
            f"behavior is forbidden. You can fix this by cloning the output of the custom "
            f"Function.")


def _link_saved_outputs(node, outputs, handed, dirty):
    """Tell create_graph and the in-place check which saved values are outputs.

    A saved output k gets the source -1 - k: under create_graph it is linked
    to the graph as that output (a non-differentiable one is a constant), and
    the in-place check watches it.  ``Function.apply`` saw only the array
    forward returned (the token, for several outputs), and took a dirty input
    for the input it was; an input returned as it came stays that input."""
    sources = node._saved_src
    for j, a in enumerate(node.saved):
        k = next((k for k, o in enumerate(outputs) if isinstance(o, Tensor) and o.array is a),
                 None)
        if a is None or k is None:
            continue
        src = sources[j]
        is_dirty = src is not None and src >= 0 and any(outputs[k] is d for d in dirty)
        if src is not None and src >= 0 and not is_dirty:
            continue
        if not is_dirty:        # a dirty input is watched already, as a saved input
            node._saved_inputs.append(Tensor._make(a, None))
        sources[j] = -1 - k if handed[k].grad_fn is not None else None


class FunctionCtx(Function):
    """A graph node running a PyTorch-style Function (``ctx`` in its static
    methods): ``save_for_backward``, ``saved_tensors``, ``needs_input_grad``,
    ``mark_non_differentiable``, ``mark_dirty``, ``set_materialize_grads``,
    and any attribute the user's forward sets for its backward."""

    # inplace_view_error: set when the output views an input; a slot, so that
    # it outlives release() as the output does
    __slots__ = ("inplace_view_error",)
    user = None                 # the user's Function subclass (set per node class)
    backward_is_once_differentiable = False
    forward_takes_ctx = True    # False: forward(*inputs), then setup_context(ctx, inputs, output)
    materialize_grads = True
    output_meta = None          # several outputs: (shape, dtype) per output, None for a non-Tensor

    def forward(self, *arrays, tensor_args, call):
        self.tensor_args = tensor_args
        inputs = [Tensor._make(a, None) if is_tensor else a
                  for a, is_tensor in zip(arrays, tensor_args)]
        with no_grad():
            if self.forward_takes_ctx:
                out = self.user.forward(self, *inputs, **call.kwargs)
            else:
                out = self.user.forward(*inputs, **call.kwargs)
                self.user.setup_context(self, tuple(inputs), out)
        call.node, call.inputs, call.output = self, inputs, out
        if isinstance(out, Tensor):
            return out.array        # one output: this node is its grad_fn
        if isinstance(out, tuple):
            self.output_meta = tuple((o.array.shape, o.array.dtype) if isinstance(o, Tensor)
                                     else None for o in out)
        return _TOKEN

    def save_for_backward(self, *tensors):
        for i, t in enumerate(tensors):
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(f"save_for_backward can only save tensors, but argument {i} is "
                                f"of type {type(t).__name__}")
        self.saved = tuple(None if t is None else t.array for t in tensors)

    @property
    def saved_tensors(self):
        saved = Function.saved_tensors.fget(self)     # arrays, or Tensors under create_graph
        if self._graph_mode:
            return saved
        return tuple(None if a is None else Tensor._make(a, None) for a in saved)

    def _saved_as_tensor(self, a, src):
        if self.output_meta is not None and src is not None and src < 0:
            # output -1 - src of several: linked through a slot of its own
            return OutputSlot.apply(Tensor._make(_TOKEN, self), slot=-1 - src, value=a)
        return Function._saved_as_tensor(self, a, src)

    def set_materialize_grads(self, value):
        """Whether backward gets zeros (True, the default) or None for the
        gradient of an output that none reached."""
        self.materialize_grads = bool(value)

    def mark_non_differentiable(self, *outputs):
        """These outputs come out not requiring grad; backward gets zeros (or
        None) as their gradient."""
        self._non_differentiable = self._tensors_only(outputs, "mark_non_differentiable only "
                                                               "accepts variable arguments")

    def mark_dirty(self, *tensors):
        """These inputs were changed in place by forward, and are returned:
        apply returns them, now outputs of this node."""
        self._dirty = self._tensors_only(tensors, "mark_dirty can only accept variables")

    @staticmethod
    def _tensors_only(tensors, what):
        for i, t in enumerate(tensors):
            if not isinstance(t, Tensor):
                raise RuntimeError(f"{what}, but argument {i} is of type {type(t).__name__}")
        return tensors

    def backward(self, xp, gy):
        graph = self._graph_mode
        grad_outputs = (gy,) if self.output_meta is None else self._grad_outputs(gy.grads)
        if graph and self.backward_is_once_differentiable:
            return self._once_differentiable_backward(grad_outputs)
        with set_grad_enabled(graph):
            grads = self.user.backward(self, *map(_as_tensor, grad_outputs))
        return self._input_grads(grads, graph)

    def _grad_outputs(self, grads):
        """Per output, the gradient that reached it; for one that none reached,
        zeros (materialize_grads) or None; None for a non-Tensor output."""
        present = next(iter(grads.values()))
        xp = get_array_module(getattr(present, "array", present))
        materialize = self.materialize_grads
        return tuple(None if meta is None else grads[k] if k in grads else
                     xp.zeros(meta[0], dtype=meta[1]) if materialize else None
                     for k, meta in enumerate(self.output_meta))

    def _once_differentiable_backward(self, grad_outputs):
        """Under create_graph, a backward marked @once_differentiable: run it
        on plain Tensors, and tie its gradients to the incoming ones with
        DelayedError nodes (differentiating them again raises, as in PyTorch)."""
        self._graph_mode = False    # saved_tensors as plain Tensors (the walk resets it)
        with no_grad():
            plain = [None if g is None else Tensor._make(getattr(g, "array", g), None)
                     for g in grad_outputs]
            grads = self.user.backward(self, *plain)
        tied = [g for g in grad_outputs if isinstance(g, Tensor)]
        return tuple(None if a is None else DelayedError.apply(*tied, value=a)
                     for a in self._input_grads(grads, graph=False))

    def _input_grads(self, grads, graph):
        """The user's gradients, checked as PyTorch checks them: arrays, or
        Tensors under create_graph."""
        grads = grads if isinstance(grads, tuple) else (grads,)
        name, n = type(self).__name__, len(self.tensor_args)
        if len(grads) > n and all(g is None for g in grads[n:]):
            grads = grads[:n]       # PyTorch lets extra gradients through if they are None
        if len(grads) != n:
            raise RuntimeError(f"function {name} returned an incorrect number of gradients "
                               f"(expected {n}, got {len(grads)})")
        out = []
        for i, (g, is_tensor, meta) in enumerate(zip(grads, self.tensor_args, self.input_meta)):
            if g is None:
                out.append(None)
                continue
            if not isinstance(g, Tensor):
                raise RuntimeError(f"function {name} returned a {type(g).__name__} as gradient "
                                   f"{i}: expected Variable or None (got {type(g).__name__})")
            if not is_tensor:
                raise RuntimeError(f"function {name} returned a gradient different than None at "
                                   f"position {i + 1}, but the corresponding forward input was "
                                   f"not a Tensor")
            if meta is not None and g.array.shape != meta[0] \
                    and not _sums_to(g.array.shape, meta[0]):
                raise RuntimeError(f"Function {name} returned an invalid gradient at index {i} - "
                                   f"got {list(g.shape)} but expected shape compatible with "
                                   f"{list(meta[0])}")
            out.append(g if graph else g.array)
        return tuple(out)

    def name(self):
        return type(self).__name__


def _as_tensor(g):
    """A gradient for the user's backward: a Tensor (or None)."""
    return g if g is None or isinstance(g, Tensor) else Tensor._make(g, None)


def _sums_to(grad_shape, shape):
    """Whether a gradient of ``grad_shape`` is ``shape`` broadcast (the engine
    sums it down, as PyTorch)."""
    lead = len(grad_shape) - len(shape)
    return lead >= 0 and all(s == 1 or s == g for s, g in zip(shape, grad_shape[lead:]))


class OutputGrads:
    """The gradient reaching a node with several outputs: output index ->
    its gradient, for the outputs some gradient reached.  The walk handles it
    as the gradient of the node's token: it compares ``shape`` and ``dtype``
    with the token's and adds."""

    __slots__ = ("grads", "shape", "dtype")

    def __init__(self, grads, shape, dtype):
        self.grads, self.shape, self.dtype = grads, shape, dtype

    def __add__(self, other):
        grads = dict(self.grads)
        for k, g in other.grads.items():
            grads[k] = grads[k] + g if k in grads else g
        return OutputGrads(grads, self.shape, self.dtype)


class OutputSlot(Function):
    """Output ``slot`` of a ctx node with several outputs; its input is the
    node's token.  It shows as the node (name, next_functions), as PyTorch
    shows every output's grad_fn as the one node."""

    def forward(self, token, *, slot, value):
        self.slot = slot
        return value

    def backward(self, xp, gy):
        shape, dtype = self.input_meta[0]
        return OutputGrads({self.slot: gy}, shape, dtype)

    @property
    def next_functions(self):
        return self.parents[0].next_functions

    def name(self):
        return self.parents[0].name()

    @property
    def saved_tensors(self):
        return self.parents[0].saved_tensors

    def __getattr__(self, name):
        # what the user's forward set on ctx: PyTorch's grad_fn is ctx itself
        if name.startswith("__") or name == "parents":
            raise AttributeError(name)
        return getattr(self.parents[0], name)


class DelayedError(Function):
    """The node of a gradient computed by a backward that cannot itself be
    differentiated (``@once_differentiable``) under create_graph: as in PyTorch,
    the gradient is there, and only differentiating it again raises."""

    def forward(self, *grad_outputs, value):
        return value

    def backward(self, xp, ggx):
        raise RuntimeError("trying to differentiate twice a function that was marked with "
                           "@once_differentiable")
