"""Which graph core runs: the Python reference or its compiled twin.

The graph core is ``Function.apply`` (run an op's forward, link its result to
the inputs) and the backward walk of ``loss.backward()``: function.py is the
reference, readable top to bottom.  ``csrc/graph.pyx`` is its compiled twin,
the same steps with the fields of Tensor and Function as C struct members; it
is to the graph what the Cython kernels are to the arrays, and it is chosen
the same way: compiled unless ``TKR_KERNELS=numpy`` or it was not built
(``TKR_KERNELS=compiled`` refuses to start without it).

This module supplies the field holders Tensor and Function derive from.
"""
from .. import kernels

graph = None            # the compiled core (tinygrad_kr._C.graph), or None
build_error = None
if kernels._MODE != "numpy":
    try:
        from .._C import graph
    except ImportError as e:
        build_error = str(e)
        if kernels._MODE == "compiled":
            raise ImportError(f"TKR_KERNELS=compiled but the graph core was not compiled "
                              f"({e})") from e

if graph is not None:
    TensorFields, FunctionFields = graph.TensorBase, graph.FunctionBase
else:
    class TensorFields:
        """The fields of a Tensor (the compiled core's are C members)."""
        __slots__ = ("array", "grad", "_requires_grad", "grad_fn", "_version", "_changed_at",
                     "_hooks", "__weakref__")

    class FunctionFields:
        """The fields of a Function.  The Python core keeps its defaults on the
        class (creating a Function then sets nothing it does not need)."""
        __slots__ = ("parents", "needs_input_grad", "input_meta", "__dict__", "__weakref__")
        saved = None
        _saved_at = None    # the in-place count when forward saved its values
        _output = None      # a weak reference to the output, when it is saved
        _hooks = None       # TensorHooks of the tensor this Function made (register_hook)


def name():
    """'compiled' or 'python': the core in use (show_config reports it)."""
    return "compiled" if graph is not None else "python"
