"""torch.compiler: there is no compiler here, so everything runs eagerly.

``compile`` is ``tinygrad_kr.compile`` (returns its argument unchanged);
``disable`` and the graph-marking decorators return their function; the
queries answer that nothing is being compiled or exported.
"""
from ._torch_info import compile

__all__ = ["compile", "disable", "reset", "is_compiling", "is_dynamo_compiling", "is_exporting",
           "allow_in_graph", "assume_constant_result", "list_backends",
           "cudagraph_mark_step_begin"]


def disable(fn=None, recursive=True, *, reason=None):
    """``fn`` itself (as a decorator too): it runs eagerly, as everything here."""
    if fn is None:
        return lambda f: f
    return fn


def allow_in_graph(fn):
    return fn


def assume_constant_result(fn):
    return fn


def reset():
    """Nothing to clear: no compiled code is cached."""


def is_compiling():
    return False


def is_dynamo_compiling():
    return False


def is_exporting():
    return False


def list_backends(exclude_tags=("debug", "experimental")):
    """No compiler backends are available."""
    return []


def cudagraph_mark_step_begin():
    """Nothing to mark: no CUDA graphs are recorded."""
