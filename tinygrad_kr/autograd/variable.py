"""torch.autograd.Variable: the wrapper of PyTorch < 0.4, kept for old code.

Since 0.4 a Tensor is its own Variable: ``Variable(t, requires_grad=...)``
returns a plain Tensor, a leaf sharing ``t``'s data (``t.detach()``) with the
requested ``requires_grad``, and ``isinstance(x, Variable)`` holds for every
Tensor.  ``volatile`` only warns (use ``no_grad``), as in PyTorch.
"""
import warnings

import numpy as np

from ..dtypes import get_default_dtype
from ..tensor import Tensor

__all__ = ["Variable", "VariableMeta"]


class VariableMeta(type):
    def __instancecheck__(cls, other):
        return isinstance(other, Tensor)


class Variable(metaclass=VariableMeta):
    """``Variable(data=None, requires_grad=False, volatile=False, _grad_fn=None, name=None)``
    -> a Tensor (see the module docstring); no data gives an empty tensor of
    the default dtype.  ``name`` is accepted and not kept."""

    def __new__(cls, data=None, requires_grad=False, volatile=False, _grad_fn=None, name=None):
        if volatile:
            warnings.warn("volatile was removed and now has no effect. Use `with torch.no_grad():` "
                          "instead.", UserWarning, stacklevel=2)
        if volatile and requires_grad:
            raise ValueError("Variable can't be volatile and require_grad at the same time!")
        if _grad_fn is not None:
            from .function import Function
            if not isinstance(_grad_fn, Function):
                raise TypeError(f"_grad_fn has to be a Function object or None, but got "
                                f"{type(_grad_fn).__name__}")
            raise RuntimeError("_grad_fn argument to legacy Variable constructor is no longer "
                               "supported.  Instead, please invoke your _grad_fn to produce a "
                               "variable with it as the _grad_fn.")
        if data is None:
            var = Tensor(np.empty(0, dtype=get_default_dtype()))
        elif isinstance(data, Tensor):
            var = data.detach()
        else:
            raise TypeError(f"Variable data has to be a tensor, but got {type(data).__name__}")
        var.requires_grad = requires_grad
        return var
