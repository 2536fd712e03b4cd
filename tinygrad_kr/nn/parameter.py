"""Parameter: a Tensor that a Module registers as one of its learnable weights."""
import numpy as np

from ..dtypes import get_default_dtype
from ..tensor import Tensor

__all__ = ["Parameter"]


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

