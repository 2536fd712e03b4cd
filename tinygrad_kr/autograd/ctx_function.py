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
``forward(ctx, ...)`` with the node as ``ctx``; its backward calls the static
``backward(ctx, grad_output)`` on Tensors and returns their arrays.  What
``ctx.save_for_backward`` keeps goes where the engine's own ops keep their
saved arrays, so the in-place check and the freeing after backward apply.
Under ``create_graph`` the user's backward runs with grad mode on, on the
Tensors the engine links to the graph, so it is differentiated in turn.
"""
from .function import Function
from .grad_mode import no_grad, set_grad_enabled

__all__ = ["FunctionCtx", "once_differentiable"]


def once_differentiable(backward):
    """Mark a static ``backward`` as not differentiable itself, as PyTorch's
    decorator of the same name: under create_graph its gradients are computed
    and only differentiating them again raises (function.DelayedError)."""
    backward._once_differentiable = True
    return backward


def node_class(user):
    """The Function subclass whose instances are ``user``'s graph nodes."""
    backward = user.__dict__.get("backward")
    once = getattr(getattr(backward, "__func__", backward), "_once_differentiable", False)
    return type(f"{user.__name__}Backward", (FunctionCtx,),
                {"user": user, "double_differentiable": not once, "__slots__": (),
                 "__module__": user.__module__, "__qualname__": f"{user.__qualname__}Backward"})


def apply(user, *inputs):
    """``user.apply(*inputs)``: PyTorch's apply takes no keyword arguments."""
    from ..tensor import Tensor
    return user._node_class.apply(*inputs, tensor_args=tuple(isinstance(x, Tensor)
                                                              for x in inputs))


class FunctionCtx(Function):
    """A graph node running a PyTorch-style Function (``ctx`` in its static
    methods): ``save_for_backward``, ``saved_tensors``, ``needs_input_grad``,
    and any attribute the user's forward sets for its backward."""

    __slots__ = ()
    user = None     # the user's Function subclass (set per node class)

    def forward(self, *arrays, tensor_args):
        from ..tensor import Tensor
        self.tensor_args = tensor_args
        inputs = [Tensor._make(a, None) if is_tensor else a
                  for a, is_tensor in zip(arrays, tensor_args)]
        with no_grad():
            out = self.user.forward(self, *inputs)
        if not isinstance(out, Tensor):
            raise TypeError(f"{self.user.__name__}.forward must return one Tensor here (got "
                            f"{type(out).__name__}); Functions with several outputs are not "
                            f"supported")
        return out.array

    def save_for_backward(self, *tensors):
        from ..tensor import Tensor
        for i, t in enumerate(tensors):
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(f"save_for_backward can only save tensors, but argument {i} is "
                                f"of type {type(t).__name__}")
        self.saved = tuple(None if t is None else t.array for t in tensors)

    @property
    def saved_tensors(self):
        from ..tensor import Tensor
        saved = Function.saved_tensors.fget(self)     # arrays, or Tensors under create_graph
        if self._graph_mode:
            return saved
        return tuple(None if a is None else Tensor._make(a, None) for a in saved)

    def set_materialize_grads(self, value):
        pass    # one output: its gradient always exists when backward runs

    def mark_non_differentiable(self, *outputs):
        raise NotImplementedError("ctx.mark_non_differentiable is not supported: return the "
                                  "output .detach()ed from a separate function instead")

    def mark_dirty(self, *tensors):
        raise NotImplementedError("ctx.mark_dirty (in-place forward) is not supported: "
                                  "return a new tensor")

    def backward(self, xp, gy):
        from ..tensor import Tensor
        graph = self._graph_mode
        with set_grad_enabled(graph):
            grads = self.user.backward(self, gy if graph else Tensor._make(gy, None))
        grads = grads if isinstance(grads, tuple) else (grads,)
        name = type(self).__name__
        if len(grads) != len(self.tensor_args):
            raise RuntimeError(f"function {name} returned an incorrect number of gradients "
                               f"(expected {len(self.tensor_args)}, got {len(grads)})")
        out = []
        for i, (g, is_tensor) in enumerate(zip(grads, self.tensor_args)):
            if g is None:
                out.append(None)
            elif not is_tensor:
                raise RuntimeError(f"function {name} returned a gradient different than None at "
                                   f"position {i + 1}, but the corresponding forward input was "
                                   f"not a Tensor")
            elif not isinstance(g, Tensor):
                raise TypeError(f"function {name} returned a {type(g).__name__} as gradient "
                                f"{i + 1}: expected a Tensor or None")
            else:
                out.append(g if graph else g.array)
        return tuple(out)

    def name(self):
        return type(self).__name__
