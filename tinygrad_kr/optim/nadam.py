"""NAdam: Adam with Nesterov momentum (Dozat, 2016), as torch.optim.NAdam."""
from ..backend import get_array_module
from ..kernels.ref_optim import _effective_grad, _lerp_
from .optimizer import (Optimizer, _check_adam_family, _check_flags, _datas, _full_like,
                        _grads, _step_tensor)

__all__ = ["NAdam"]


class NAdam(Optimizer):
    """mu_t = beta1 * (1 - 0.5 * 0.96^(t * momentum_decay)); m and v as in Adam;
    p -= lr * ((1 - mu_t) / (1 - prod mu_1..t) * g
               + mu_{t+1} / (1 - prod mu_1..t+1) * m) / (sqrt(v / (1 - beta2^t)) + eps).
    weight_decay adds weight_decay * p to g, or with decoupled_weight_decay
    (NAdamW) shrinks p by 1 - lr * weight_decay first.

    State per parameter: ``step``, ``mu_product`` (a 0-d host tensor of
    PyTorch's scalar dtype, like ``step``), ``exp_avg``, ``exp_avg_sq``.
    There is one implementation, the reference loop; ``foreach`` selects
    nothing and ``capturable`` changes nothing (accepted for PyTorch
    compatibility).
    """

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 momentum_decay=4e-3, decoupled_weight_decay=False, *, foreach=None,
                 maximize=False, capturable=False, differentiable=False):
        _check_adam_family(lr, eps, betas, weight_decay)
        if not 0.0 <= momentum_decay:
            raise ValueError(f"Invalid momentum_decay value: {momentum_decay}")
        _check_flags(None, foreach, differentiable)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize,
                        foreach=foreach, capturable=capturable, differentiable=differentiable)
        super().__init__(params, defaults)

    def _update(self, group, params):
        for p in params:
            state = self.state[p]
            if len(state) == 0:
                state["step"] = _step_tensor()
                state["mu_product"] = _step_tensor(1.0)
                state["exp_avg"] = _full_like(p, 0)
                state["exp_avg_sq"] = _full_like(p, 0)
        beta1, beta2 = group["betas"]
        nadam_update(
            self._advance_steps(params), _datas(params), _grads(params),
            self._state_arrays(params, "exp_avg"), self._state_arrays(params, "exp_avg_sq"),
            self._state_arrays(params, "mu_product"), lr=float(group["lr"]),
            beta1=float(beta1), beta2=float(beta2), eps=group["eps"],
            weight_decay=group["weight_decay"], momentum_decay=group["momentum_decay"],
            decoupled_weight_decay=group["decoupled_weight_decay"], maximize=group["maximize"])


def nadam_update(steps, params, grads, exp_avgs, exp_avg_sqs, mu_products, lr, beta1, beta2,
                 eps, weight_decay, momentum_decay, decoupled_weight_decay, maximize):
    """The reference loop (PyTorch's _single_tensor_nadam, line for line), in place.

    steps: 1-D float64 host array, one count per param (including this update).
    params, exp_avgs, exp_avg_sqs (IN/OUT), grads (IN): arrays of one dtype.
    mu_products (IN/OUT): 0-d arrays, the running product of the mu_t.
    """
    for i, p in enumerate(params):
        xp = get_array_module(p)
        step = float(steps[i])
        bias_correction2 = 1 - beta2 ** step
        if decoupled_weight_decay:
            g = _effective_grad(p, grads[i], 0, maximize)
            if weight_decay != 0:
                p *= 1 - lr * weight_decay
        else:
            g = _effective_grad(p, grads[i], weight_decay, maximize)
        mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay)))
        mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * momentum_decay)))
        mu_products[i] *= mu            # in its own dtype, as PyTorch's 0-d tensor
        mu_product = float(mu_products[i])
        exp_avg, exp_avg_sq = exp_avgs[i], exp_avg_sqs[i]
        _lerp_(exp_avg, g, 1 - beta1)
        exp_avg_sq *= beta2
        exp_avg_sq += (1 - beta2) * g * g
        denom = xp.sqrt(exp_avg_sq / bias_correction2) + eps
        p += (-lr * (1.0 - mu) / (1.0 - mu_product)) * g / denom
        p += ((-lr * mu_next) / (1.0 - mu_product * mu_next)) * exp_avg / denom
