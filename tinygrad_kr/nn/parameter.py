"""Parameter: a Tensor that a Module registers as one of its learnable weights;
Buffer: one it registers as a buffer (state that is not learned)."""
import copy

import numpy as np

from ..dtypes import get_default_dtype
from ..tensor import Tensor

__all__ = ["Parameter", "UninitializedParameter", "UninitializedBuffer", "Buffer"]


class Parameter(Tensor):
    """A Tensor that, assigned as a Module attribute, is listed by ``parameters()``.

    ``Parameter(t)`` shares ``t``'s array (like PyTorch's, no copy is made) and
    requires grad by default.  The results of operations on a Parameter are
    plain Tensors.
    """

    __slots__ = ()

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            data = np.empty(0, dtype=get_default_dtype())
        super().__init__(data, requires_grad=requires_grad)

    def __deepcopy__(self, memo):
        # as PyTorch: the data and requires_grad, not .grad
        if id(self) in memo:
            return memo[id(self)]
        result = memo[id(self)] = type(self)(self.array.copy(), self.requires_grad)
        return result

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    __str__ = __repr__


class Buffer(Tensor):
    """torch.nn.Buffer (PyTorch >= 2.5): a Tensor that, assigned as a Module
    attribute (``self.x = nn.Buffer(t, persistent=False)``), is registered as
    a buffer; ``persistent=False`` leaves it out of ``state_dict()``.

    ``Buffer(t)`` shares t's array, detached, and keeps t.requires_grad, as
    PyTorch's.  PyTorch returns a plain Tensor flagged as a buffer; here it is
    this subclass (``isinstance(b, nn.Buffer)`` holds either way), whose
    ``persistent`` survives pickling and deepcopy."""

    __slots__ = ("persistent",)

    def __init__(self, data=None, *, persistent=True):
        if data is None:
            data = np.empty(0, dtype=get_default_dtype())
        requires_grad = data.requires_grad if isinstance(data, Tensor) else False
        super().__init__(data, requires_grad=requires_grad)
        self.persistent = persistent

    def __reduce_ex__(self, protocol):
        return (_rebuild_buffer, (self.array, self.requires_grad, self.persistent))

    def __deepcopy__(self, memo):
        if id(self) not in memo:
            new = memo[id(self)] = _rebuild_buffer(self.array.copy(), self.requires_grad,
                                                   self.persistent)
            if self.grad is not None:
                new.grad = copy.deepcopy(self.grad, memo)
        return memo[id(self)]


def _rebuild_buffer(data, requires_grad, persistent):
    b = Buffer(data, persistent=persistent)
    b.requires_grad_(requires_grad)
    return b


class _Uninitialized:
    """A tensor of the lazy layers (nn/modules/lazy.py) whose shape is not known
    yet; ``materialize(shape)`` gives it one in place and makes it a
    ``cls_to_become`` (its contents are left for the layer's init)."""

    __slots__ = ()
    cls_to_become = None

    def materialize(self, shape, device=None, dtype=None):
        from ..factories import empty
        self.array = empty(*shape, dtype=dtype or self.array.dtype, device=device).array
        self.__class__ = self.cls_to_become

    def __deepcopy__(self, memo):
        if id(self) not in memo:
            memo[id(self)] = type(self)(self.requires_grad, dtype=self.array.dtype)
        return memo[id(self)]

    def __repr__(self):
        return f"<{type(self).__name__}>"

    __str__ = __repr__


class UninitializedParameter(_Uninitialized, Parameter):
    __slots__ = ()
    cls_to_become = Parameter

    def __init__(self, requires_grad=True, device=None, dtype=None):
        super().__init__(np.empty(0, dtype=dtype or get_default_dtype()), requires_grad)


class UninitializedBuffer(_Uninitialized, Tensor):
    __slots__ = ()
    cls_to_become = Tensor

    def __init__(self, requires_grad=False, device=None, dtype=None):
        super().__init__(np.empty(0, dtype=dtype or get_default_dtype()), requires_grad)
