"""skip_init: build a module without initializing its parameters, as
torch.nn.utils.skip_init.

PyTorch builds the module on the "meta" device (shapes, no data) and then
allocates it uninitialized with ``to_empty``.  This engine has no meta device;
it builds the module on the final device with every ``nn.init`` fill turned
into a no-op, so the parameters keep the uninitialized memory of the
``empty`` they were created with and the random generator is not drawn from.
PyTorch's conditions hold the same way: the module must take a ``device``
argument, and its constructor must set its parameters only through
``nn.init`` (which is how every module of this package initializes).
"""
import inspect

from ..init import _fills_skipped
from ..modules.module import Module

__all__ = ["skip_init"]


def skip_init(module_cls, *args, **kwargs):
    """``module_cls(*args, **kwargs)`` with its parameters and buffers left
    uninitialized (as if made by ``torch.empty``)."""
    if not issubclass(module_cls, Module):
        raise RuntimeError(f"Expected a Module; got {module_cls}")
    if "device" not in inspect.signature(module_cls).parameters:
        raise RuntimeError("Module must support a 'device' arg to skip initialization")
    kwargs["device"] = kwargs.pop("device", "cpu")
    with _fills_skipped():
        return module_cls(*args, **kwargs)
