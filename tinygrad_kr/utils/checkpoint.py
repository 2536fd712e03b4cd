"""Activation checkpointing, as torch.utils.checkpoint: trade compute for memory.

    y = checkpoint(block, x, use_reentrant=False)

``block`` runs without recording a graph, so none of its intermediate
results is kept; backward runs it again, with the graph, from the saved
inputs (and the random state they were first run with, so dropout draws the
same masks), and backpropagates through that. The parameters ``block`` uses
get their gradients from the recomputed graph.

Both of PyTorch's variants give the same gradients here. ``use_reentrant=True``
keeps PyTorch's documented limit: when no input requires grad the output does
not either (PyTorch warns, and so do we), even if ``block`` has parameters;
``use_reentrant=False`` has no such limit (a hidden input that requires grad
makes the checkpoint part of the graph in any case).
"""
import warnings

from ..autograd import Function, backward, enable_grad, no_grad
from ..random import get_rng_state, set_rng_state
from ..tensor import Tensor

__all__ = ["checkpoint", "checkpoint_sequential"]


def noop_context_fn():
    import contextlib
    return contextlib.nullcontext(), contextlib.nullcontext()


class _Checkpoint(Function):
    @staticmethod
    def forward(ctx, run, preserve_rng_state, context_fn, dummy, *args):
        ctx.run, ctx.context_fn = run, context_fn
        ctx.rng_state = get_rng_state() if preserve_rng_state else None
        # Tensors go through save_for_backward (an in-place change of one
        # before backward is then caught); the rest is kept as it is
        ctx.tensor_at = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        ctx.others = [None if isinstance(a, Tensor) else a for a in args]
        ctx.save_for_backward(*(args[i] for i in ctx.tensor_at))
        forward_context, _ = context_fn()
        with no_grad(), forward_context:
            out = run(*args)
        ctx.single = not isinstance(out, tuple)
        return out

    @staticmethod
    def backward(ctx, *grads):
        args = list(ctx.others)
        saved = ctx.saved_tensors
        for i, t in zip(ctx.tensor_at, saved):
            # a fresh leaf per input: the recomputed graph ends here
            # (needs_input_grad counts run, preserve_rng_state, context_fn, dummy first)
            leaf = t.detach()
            leaf.requires_grad_(ctx.needs_input_grad[4 + i])
            args[i] = leaf
        current = None
        if ctx.rng_state is not None:
            current = get_rng_state()
            set_rng_state(ctx.rng_state)
        try:
            _, recompute_context = ctx.context_fn()
            with enable_grad(), recompute_context:
                out = ctx.run(*args)
        finally:
            if current is not None:
                set_rng_state(current)
        outs = (out,) if ctx.single else out
        pairs = [(o, g) for o, g in zip(outs, grads)
                 if isinstance(o, Tensor) and o.requires_grad and g is not None]
        if not pairs:
            raise RuntimeError("none of output has requires_grad=True, this checkpoint() is "
                               "not necessary")
        backward([o for o, _ in pairs], [g for _, g in pairs])
        grads_in = [None] * len(args)
        for i in ctx.tensor_at:
            grads_in[i] = args[i].grad if args[i].requires_grad else None
        return (None, None, None, None) + tuple(grads_in)


def checkpoint(function, *args, use_reentrant=None, context_fn=noop_context_fn,
               determinism_check="default", debug=False, preserve_rng_state=True, **kwargs):
    """``function(*args, **kwargs)`` without keeping its intermediate results;
    recomputed during backward."""
    if use_reentrant is None:
        warnings.warn("torch.utils.checkpoint: the use_reentrant parameter should be passed "
                      "explicitly. use_reentrant=False is recommended, but if you need to "
                      "preserve the current default behavior, you can pass "
                      "use_reentrant=True.", UserWarning, stacklevel=2)
        use_reentrant = True
    if determinism_check not in ("default", "none"):
        raise ValueError(f"determinism_check should be one of ['default', 'none'], but got "
                         f"{determinism_check}")
    if use_reentrant:
        if context_fn is not noop_context_fn or debug:
            raise ValueError("Passing `context_fn` or `debug` is only supported when "
                             "use_reentrant=False.")
        if kwargs:
            raise ValueError("Unexpected keyword arguments: " + ",".join(kwargs))
        if not any(isinstance(a, Tensor) and a.requires_grad for a in args):
            warnings.warn("None of the inputs have requires_grad=True. Gradients will be None",
                          UserWarning, stacklevel=2)
        run, dummy = function, None
    else:
        def run(*a):
            return function(*a, **kwargs)
        # makes the output part of the graph even when no input requires grad,
        # so the parameters inside ``function`` still get their gradients
        dummy = Tensor([0.0], requires_grad=True)
    return _Checkpoint.apply(run, preserve_rng_state, context_fn, dummy, *args)


def checkpoint_sequential(functions, segments, input, use_reentrant=None, **kwargs):
    """A Sequential (or list of modules) in ``segments`` checkpointed runs; the
    last segment runs normally, as PyTorch does."""
    if use_reentrant is None:
        warnings.warn("torch.utils.checkpoint.checkpoint_sequential: the use_reentrant "
                      "parameter should be passed explicitly. use_reentrant=False is "
                      "recommended, but if you need to preserve the current default behavior, "
                      "you can pass use_reentrant=True.", UserWarning, stacklevel=2)
        use_reentrant = True
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs:
        raise ValueError("Unexpected keyword arguments: " + ",".join(kwargs))
    if hasattr(functions, "children") and not isinstance(functions, (list, tuple)):
        functions = list(functions.children())
    functions = list(functions)

    def run_segment(start, end):
        def forward(x):
            for j in range(start, end + 1):
                x = functions[j](x)
            return x
        return forward

    size = len(functions) // segments
    end = -1
    for start in range(0, size * (segments - 1), size):
        end = start + size - 1
        input = checkpoint(run_segment(start, end), input, use_reentrant=use_reentrant,
                           preserve_rng_state=preserve)
    return run_segment(end + 1, len(functions) - 1)(input)
