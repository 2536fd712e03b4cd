"""RAdam: Adam with a rectified adaptive learning rate (Liu et al., 2019), as torch.optim.RAdam."""
from ..backend import get_array_module
from ..kernels.ref_optim import _effective_grad, _lerp_
from .optimizer import (Optimizer, _check_adam_family, _check_flags, _datas, _full_like,
                        _grads, _step_tensor)

__all__ = ["RAdam"]


class RAdam(Optimizer):
    """m and v as in Adam; rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t) with
    rho_inf = 2 / (1 - beta2) - 1.  While rho_t <= 5 the step is plain momentum,
    p -= lr * m / (1 - beta1^t); after, it is scaled by the rectification
    r_t and the adaptive rate sqrt(1 - beta2^t) / (sqrt(v) + eps).
    weight_decay adds weight_decay * p to g, or with decoupled_weight_decay
    (RAdamW) shrinks p by 1 - lr * weight_decay first.

    State per parameter: ``step``, ``exp_avg``, ``exp_avg_sq``.  One
    implementation, the reference loop; ``foreach`` selects nothing and
    ``capturable`` changes nothing (accepted for PyTorch compatibility).
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False,
                 capturable=False, differentiable=False):
        _check_adam_family(lr, eps, betas, weight_decay)
        _check_flags(None, foreach, differentiable)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        maximize=maximize, foreach=foreach, capturable=capturable,
                        decoupled_weight_decay=decoupled_weight_decay,
                        differentiable=differentiable)
        super().__init__(params, defaults)

    def _update(self, group, params):
        for p in params:
            state = self.state[p]
            if len(state) == 0:
                state["step"] = _step_tensor()
                state["exp_avg"] = _full_like(p, 0)
                state["exp_avg_sq"] = _full_like(p, 0)
        beta1, beta2 = group["betas"]
        radam_update(
            self._advance_steps(params), _datas(params), _grads(params),
            self._state_arrays(params, "exp_avg"), self._state_arrays(params, "exp_avg_sq"),
            lr=float(group["lr"]), beta1=float(beta1), beta2=float(beta2), eps=group["eps"],
            weight_decay=group["weight_decay"],
            decoupled_weight_decay=group["decoupled_weight_decay"], maximize=group["maximize"])


def radam_update(steps, params, grads, exp_avgs, exp_avg_sqs, lr, beta1, beta2, eps,
                 weight_decay, decoupled_weight_decay, maximize):
    """The reference loop (PyTorch's _single_tensor_radam, line for line), in place.

    steps: 1-D float64 host array, one count per param (including this update).
    params, exp_avgs, exp_avg_sqs (IN/OUT), grads (IN): arrays of one dtype.
    """
    rho_inf = 2 / (1 - beta2) - 1     # the longest the approximated SMA gets
    for i, p in enumerate(params):
        xp = get_array_module(p)
        if decoupled_weight_decay:
            g = _effective_grad(p, grads[i], 0, maximize)
            if weight_decay != 0:
                p *= 1 - lr * weight_decay
        else:
            g = _effective_grad(p, grads[i], weight_decay, maximize)
        exp_avg, exp_avg_sq = exp_avgs[i], exp_avg_sqs[i]
        _lerp_(exp_avg, g, 1 - beta1)
        exp_avg_sq *= beta2
        exp_avg_sq += (1 - beta2) * g * g
        step = float(steps[i])
        bias_correction1 = 1 - beta1 ** step
        bias_correction2 = 1 - beta2 ** step
        bias_corrected_exp_avg = exp_avg / bias_correction1
        rho_t = rho_inf - 2 * step * (beta2 ** step) / bias_correction2
        if rho_t > 5.0:
            adaptive_lr = (bias_correction2 ** 0.5) / (xp.sqrt(exp_avg_sq) + eps)
            rect = ((rho_t - 4) * (rho_t - 2) * rho_inf
                    / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
            p -= bias_corrected_exp_avg * lr * adaptive_lr * rect
        else:
            p -= bias_corrected_exp_avg * lr
