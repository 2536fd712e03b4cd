"""Helpers the distributions share: parameter broadcasting, probs <-> logits,
lazily computed parameters, and drawing noise from the engine's generator."""
import numbers

import numpy as np

from ..autograd.grad_mode import enable_grad
from ..dtypes import get_default_dtype
from ..ops import log, log1p, sigmoid, softmax
from ..ops_shape_reduce import broadcast_tensors
from ..random import get_rng
from ..tensor import Tensor, _like_device

__all__ = ["broadcast_all", "logits_to_probs", "clamp_probs", "probs_to_logits", "lazy_property",
           "euler_constant"]

euler_constant = 0.57721566490153286060  # Euler-Mascheroni constant


def broadcast_all(*values):
    """The values (Tensors or numbers) as Tensors of one broadcast shape; numbers
    take the first Tensor's dtype and device (the default dtype if none)."""
    if not all(isinstance(v, (Tensor, numbers.Number)) for v in values):
        raise ValueError("Input arguments must all be instances of Number, torch.Tensor or "
                         "objects implementing __torch_function__.")
    like = next((v for v in values if isinstance(v, Tensor)), None)
    if like is None:
        dtype = get_default_dtype()
        values = [Tensor(np.asarray(v, dtype=dtype)) for v in values]
    else:
        values = [v if isinstance(v, Tensor) else Tensor(_like_device(np.asarray(v), like.array))
                  for v in values]
    return broadcast_tensors(*values)


def _finfo(t):
    return np.finfo(t.dtype)


def clamp_probs(probs):
    """probs kept off 0 and 1 by the dtype's epsilon (log stays finite)."""
    eps = float(_finfo(probs).eps)
    return probs.clamp(min=eps, max=1 - eps)


def probs_to_logits(probs, is_binary=False):
    ps_clamped = clamp_probs(probs)
    if is_binary:
        return log(ps_clamped) - log1p(-ps_clamped)
    return log(ps_clamped)


def logits_to_probs(logits, is_binary=False):
    return sigmoid(logits) if is_binary else softmax(logits, dim=-1)


class lazy_property:
    """A parameter computed from another on first use (``probs`` from
    ``logits``...), then stored on the instance.  Computed with grad on, so
    it stays differentiable even if first read under no_grad."""

    def __init__(self, wrapped):
        self.wrapped = wrapped
        self.__doc__ = wrapped.__doc__
        self.__name__ = wrapped.__name__

    def __get__(self, instance, obj_type=None):
        if instance is None:
            return self
        with enable_grad():
            value = self.wrapped(instance)
        setattr(instance, self.wrapped.__name__, value)
        return value


def _sum_rightmost(value, dim):
    """Sum the last ``dim`` dimensions."""
    if dim == 0:
        return value
    return value.reshape(tuple(value.shape[:value.dim() - dim]) + (-1,)).sum(-1)


def _noise(like, draw):
    """``draw(rng)`` (a host array, from the engine's generator: manual_seed
    makes it reproducible) as a constant Tensor of ``like``'s dtype and device."""
    return Tensor(_like_device(np.asarray(draw(get_rng())), like.array))


def _standard_normal(shape, like):
    return _noise(like, lambda rng: rng.standard_normal(tuple(shape)))


def _rand(shape, like):
    """Uniform on [0, 1), drawn in ``like``'s precision: a float64 draw cast to
    float32 could round up to 1."""
    dtype = np.float32 if like.array.dtype == np.float32 else np.float64
    return _noise(like, lambda rng: rng.random(tuple(shape), dtype=dtype))
