"""Adamax: Adam with the infinity norm (Kingma & Ba, section 7), as torch.optim.Adamax."""
from ..backend import get_array_module
from ..kernels.ref_optim import _effective_grad, _lerp_
from .optimizer import (Optimizer, _check_adam_family, _check_flags, _datas, _full_like,
                        _grads, _step_tensor)

__all__ = ["Adamax"]


class Adamax(Optimizer):
    """m = lerp(m, g, 1 - beta1);  u = max(beta2 * u, |g| + eps);
    p -= lr / (1 - beta1^t) * m / u.  weight_decay adds weight_decay * p to g.

    State per parameter: ``step``, ``exp_avg``, ``exp_inf``.  One
    implementation, the reference loop; ``foreach`` selects nothing and
    ``capturable`` changes nothing (accepted for PyTorch compatibility).
    """

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 foreach=None, *, maximize=False, differentiable=False, capturable=False):
        _check_adam_family(lr, eps, betas, weight_decay)
        _check_flags(None, foreach, differentiable)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        foreach=foreach, maximize=maximize, differentiable=differentiable,
                        capturable=capturable)
        super().__init__(params, defaults)

    def _update(self, group, params):
        for p in params:
            state = self.state[p]
            if len(state) == 0:
                state["step"] = _step_tensor()
                state["exp_avg"] = _full_like(p, 0)
                state["exp_inf"] = _full_like(p, 0)
        beta1, beta2 = group["betas"]
        adamax_update(
            self._advance_steps(params), _datas(params), _grads(params),
            self._state_arrays(params, "exp_avg"), self._state_arrays(params, "exp_inf"),
            lr=float(group["lr"]), beta1=float(beta1), beta2=float(beta2), eps=group["eps"],
            weight_decay=group["weight_decay"], maximize=group["maximize"])


def adamax_update(steps, params, grads, exp_avgs, exp_infs, lr, beta1, beta2, eps,
                  weight_decay, maximize):
    """The reference loop (PyTorch's _single_tensor_adamax), in place.

    steps: 1-D float64 host array, one count per param (including this update).
    params, exp_avgs, exp_infs (IN/OUT), grads (IN): arrays of one dtype.
    """
    for i, p in enumerate(params):
        xp = get_array_module(p)
        g = _effective_grad(p, grads[i], weight_decay, maximize)
        exp_avg, exp_inf = exp_avgs[i], exp_infs[i]
        _lerp_(exp_avg, g, 1 - beta1)
        exp_inf *= beta2
        xp.maximum(exp_inf, xp.abs(g) + eps, out=exp_inf)
        clr = lr / (1 - beta1 ** float(steps[i]))
        p += -clr * exp_avg / exp_inf
