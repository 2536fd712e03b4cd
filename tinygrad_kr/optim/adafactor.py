"""Adafactor (Shazeer & Stern, 2018), as torch.optim.Adafactor.

The second moment of a parameter with two or more dims is kept factored:
per row (the mean of g^2 over the last dim) and per column (over the one
before), and rebuilt as their outer product divided by the rows' mean, so
its memory is O(rows + cols) instead of O(rows * cols).  Vectors (and 0-d
parameters) keep a full second moment.  No compiled kernel: the reference
loop below, PyTorch's ``_single_tensor_adafactor`` line for line.
"""

import numpy as np

from ..backend import get_array_module
from ..kernels.ref_optim import _lerp_
from ..tensor import Tensor
from .optimizer import Optimizer, _check_flags, _datas, _full_like, _grads, _step_tensor

__all__ = ["Adafactor"]


class Adafactor(Optimizer):
    """beta2_t = 1 - t^beta2_decay; rho_t = min(lr, 1 / sqrt(t));
    alpha = max(eps2, RMS(p)) * rho_t.  The second moment v (factored, see the
    module docstring) is lerped towards g^2 by 1 - beta2_t; the update
    u = g / sqrt(max(v, eps1^2)) is scaled down to RMS at most ``d`` and
    p -= alpha * u.  weight_decay shrinks p by 1 - lr * weight_decay first
    (decoupled).  eps1 None means the parameters' dtype's machine epsilon.

    State per parameter: ``step``, and ``row_var`` (shape (..., R, 1)) and
    ``col_var`` ((..., 1, C)) for params with 2+ dims, else ``variance``.
    ``foreach`` selects nothing (one implementation).
    """

    def __init__(self, params, lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0,
                 weight_decay=0.0, *, foreach=None, maximize=False):
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
        if not 0.0 >= beta2_decay:
            raise ValueError(f"beta2_decay should be <= 0 but is: {beta2_decay}")
        if eps[0] is not None and not 0.0 <= eps[0]:
            raise ValueError(f"epsilon1 should be >= 0 but is: {eps[0]}")
        if not 0.0 <= eps[1]:
            raise ValueError(f"epsilon2 should be >= 0 but is: {eps[1]}")
        if not 1.0 <= d:
            raise ValueError(f"Clipping threshold d should be >= 1 but is: {d}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight_decay should be >= 0 but is: {weight_decay}")
        _check_flags(None, foreach, False)
        defaults = dict(lr=lr, beta2_decay=beta2_decay, eps=eps, d=d,
                        weight_decay=weight_decay, foreach=foreach, maximize=maximize)
        super().__init__(params, defaults)

    def _update(self, group, params):
        for p in params:
            state = self.state[p]
            if len(state) == 0:
                state["step"] = _step_tensor()
                g = p.grad.array
                if g.ndim > 1:
                    # keepdims shapes: (..., R, 1) and (..., 1, C)
                    xp = get_array_module(g)
                    state["row_var"] = Tensor(xp.zeros(g.shape[:-1] + (1,), g.dtype))
                    state["col_var"] = Tensor(xp.zeros(g.shape[:-2] + (1,) + g.shape[-1:],
                                                       g.dtype))
                else:
                    state["variance"] = _full_like(p.grad, 0)
        eps1, eps2 = group["eps"]
        adafactor_update(
            self._advance_steps(params), _datas(params), _grads(params),
            [self._state_array(p, "row_var") for p in params],
            [self._state_array(p, "col_var") for p in params],
            [self._state_array(p, "variance") for p in params],
            lr=float(group["lr"]), beta2_decay=group["beta2_decay"], eps1=eps1, eps2=eps2,
            d=group["d"], weight_decay=group["weight_decay"], maximize=group["maximize"])

    def _state_array(self, p, key):
        value = self.state[p].get(key)
        return None if value is None else value.array


def adafactor_update(steps, params, grads, row_vars, col_vars, variances, lr, beta2_decay,
                     eps1, eps2, d, weight_decay, maximize):
    """The reference loop, in place.

    steps: 1-D float64 host array, one count per param (including this update).
    params, row_vars / col_vars (2+ dims) or variances (else) (IN/OUT), grads (IN).
    """
    for i, p in enumerate(params):
        xp = get_array_module(p)
        g = -grads[i] if maximize else grads[i]
        if eps1 is None:
            eps1 = float(np.finfo(p.dtype).eps)
        step = float(steps[i])
        one_minus_beta2_t = step ** beta2_decay
        rho_t = min(lr, 1 / (step ** 0.5))
        alpha = max(eps2, float(xp.linalg.norm(p.reshape(-1))) / (p.size ** 0.5)) * rho_t
        if weight_decay != 0:
            p *= 1 - lr * weight_decay
        if g.ndim > 1:
            row_var, col_var = row_vars[i], col_vars[i]
            # PyTorch's norm(g, dim).square() / n: the mean of g^2 along dim
            row_mean = xp.sqrt(xp.sum(g * g, axis=-1, keepdims=True)) ** 2 / g.shape[-1]
            _lerp_(row_var, row_mean, one_minus_beta2_t)
            col_mean = xp.sqrt(xp.sum(g * g, axis=-2, keepdims=True)) ** 2 / g.shape[-2]
            _lerp_(col_var, col_mean, one_minus_beta2_t)
            var_estimate = xp.matmul(row_var, col_var)
            var_estimate /= xp.maximum(row_var.mean(axis=-2, keepdims=True),
                                       p.dtype.type(eps1))
        else:
            variance = variances[i]
            _lerp_(variance, g * g, one_minus_beta2_t)
            var_estimate = variance.copy()
        update = 1 / xp.sqrt(xp.maximum(var_estimate, p.dtype.type(eps1 * eps1)))
        update *= g
        denom = max(1.0, float(xp.linalg.norm(update.reshape(-1))) / ((update.size ** 0.5) * d))
        p += (-alpha / denom) * update
