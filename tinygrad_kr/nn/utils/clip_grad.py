"""Gradient clipping: clip_grad_norm_ and clip_grad_value_ (in place on .grad)."""
import math

from ...autograd.grad_mode import no_grad
from ...backend import get_array_module
from ...tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def _grads(parameters):
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Scale all gradients together so that their joint ``norm_type``-norm is
    at most ``max_norm``; return that norm (before clipping) as a Tensor.

    The joint norm is the norm of the per-parameter norms, computed in the
    gradients' dtype; the scale is min(1, max_norm / (norm + 1e-6))."""
    grads = _grads(parameters)
    if not grads:
        return Tensor(0.0)
    max_norm, norm_type = float(max_norm), float(norm_type)
    xp = get_array_module(grads[0].array)
    if norm_type == math.inf:
        norms = xp.stack([xp.abs(g.array).max() for g in grads])
        total = norms.max()
    else:
        norms = xp.stack([xp.linalg.norm(g.array.reshape(-1), norm_type) for g in grads])
        total = xp.linalg.norm(norms, norm_type)
    total = Tensor(xp.asarray(total, dtype=grads[0].dtype))
    if error_if_nonfinite and not math.isfinite(total.item()):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` "
                           f"is non-finite, so it cannot be clipped. To disable this error and "
                           f"scale the gradients by the non-finite norm anyway, set "
                           f"`error_if_nonfinite=False`")
    coef = min(max_norm / (total.item() + 1e-6), 1.0)
    with no_grad():
        for g in grads:
            g.mul_(coef)
    return total


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every gradient element to [-clip_value, clip_value]."""
    clip_value = float(clip_value)
    with no_grad():
        for g in _grads(parameters):
            g.clamp_(-clip_value, clip_value)
