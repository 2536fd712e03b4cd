"""Gradient clipping, in place on ``.grad``, as torch.nn.utils.

``clip_grad_norm_`` is PyTorch's two halves: ``get_total_norm`` (the norm of
the per-tensor norms) and ``clip_grads_with_norm_`` (scale every gradient by
min(1, max_norm / (total_norm + 1e-6))), so code that computes the norm once
(e.g. to all-reduce it) and clips later gets the same numbers.  The
arithmetic follows PyTorch's order and dtypes (the norm and the coefficient
in the gradients' dtype, the coefficient as ``reciprocal(norm + 1e-6) *
max_norm``), so float32 results agree to the last bit where the norms do.
``foreach`` selects nothing: there is one implementation, a loop over arrays.
"""
import math
import types
import warnings

from ...autograd.grad_mode import no_grad
from ...backend import get_array_module
from ...linalg import vector_norm
from ...ops import stack
from ...tensor import Tensor

__all__ = ["clip_grad_norm", "clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_",
           "get_total_norm"]


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """The ``norm_type``-norm of ``tensors`` (a Tensor or an iterable of them)
    viewed as one vector: the norm of their norms.  A 0-d Tensor, in the
    tensors' (promoted) dtype; ``tensor(0.)`` when there are none."""
    tensors = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    norm_type = float(norm_type)
    if not tensors:
        return Tensor(0.0)
    with no_grad():
        norms = [vector_norm(t, norm_type) for t in tensors]
        total = vector_norm(stack(norms), norm_type)   # stack promotes mixed dtypes, as PyTorch's
    if error_if_nonfinite and not math.isfinite(total.item()):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` "
                           f"is non-finite, so it cannot be clipped. To disable this error and "
                           f"scale the gradients by the non-finite norm anyway, set "
                           f"`error_if_nonfinite=False`")
    return total


def clip_grads_with_norm_(parameters, max_norm, total_norm, foreach=None):
    """Scale the gradients of ``parameters`` by min(1, max_norm / (total_norm + 1e-6)),
    ``total_norm`` computed beforehand (e.g. by ``get_total_norm``)."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    grads = [p.grad for p in parameters if p.grad is not None]
    max_norm = float(max_norm)
    if not grads:
        return
    total = total_norm.array if isinstance(total_norm, Tensor) else total_norm
    xp = get_array_module(grads[0].array)
    total = xp.asarray(total)
    if total.dtype.kind != "f":
        total = total.astype(grads[0].dtype)
    # PyTorch's max_norm / t is t.reciprocal() * max_norm, each rounded in t's dtype
    coef = xp.minimum((1 / (total + total.dtype.type(1e-6))) * total.dtype.type(max_norm),
                      total.dtype.type(1.0))
    with no_grad():
        for g in grads:
            g.mul_(Tensor(xp.asarray(coef, dtype=g.dtype)))


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Scale all gradients together so that their joint ``norm_type``-norm is
    at most ``max_norm``; return that norm (before clipping) as a Tensor.
    ``get_total_norm`` of the gradients, then ``clip_grads_with_norm_``."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    else:
        is_generator = isinstance(parameters, types.GeneratorType)
        parameters = list(parameters)   # read twice below: a generator would be spent
        if is_generator and not parameters:
            warnings.warn("`parameters` is an empty generator, no gradient clipping will occur.",
                          stacklevel=2)
    grads = [p.grad for p in parameters if p.grad is not None]
    total_norm = get_total_norm(grads, norm_type, error_if_nonfinite, foreach)
    clip_grads_with_norm_(parameters, max_norm, total_norm, foreach)
    return total_norm


def clip_grad_norm(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Deprecated alias of ``clip_grad_norm_`` (warns, as PyTorch)."""
    warnings.warn("`torch.nn.utils.clip_grad_norm` is now deprecated in favor of "
                  "`torch.nn.utils.clip_grad_norm_`.", FutureWarning, stacklevel=2)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every gradient element to [-clip_value, clip_value]."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    clip_value = float(clip_value)
    with no_grad():
        for g in [p.grad for p in parameters if p.grad is not None]:
            g.clamp_(-clip_value, clip_value)
