"""Adam and AdamW (Kingma & Ba; Loshchilov & Hutter), as torch.optim."""
from .optimizer import (Optimizer, _check_adam_family, _check_flags, _datas, _full_like,
                        _grads, _step_tensor)

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """m = beta1 * m + (1 - beta1) * g;  v = beta2 * v + (1 - beta2) * g^2;
    p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps),
    with v replaced by its running maximum when amsgrad.  weight_decay adds
    weight_decay * p to g, or with decoupled_weight_decay (AdamW) shrinks p by
    1 - lr * weight_decay first.

    State per parameter: ``step``, ``exp_avg``, ``exp_avg_sq``,
    ``max_exp_avg_sq`` (when amsgrad).  ``capturable`` is accepted for
    PyTorch compatibility and changes nothing.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False, fused=None, decoupled_weight_decay=False):
        _check_adam_family(lr, eps, betas, weight_decay)
        _check_flags(fused, foreach, differentiable)
        defaults = dict(lr=lr, betas=(float(betas[0]), float(betas[1])), eps=eps,
                        weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize,
                        foreach=foreach, capturable=capturable, differentiable=differentiable,
                        fused=fused, decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def _update(self, group, params):
        amsgrad = group["amsgrad"]
        for p in params:
            state = self.state[p]
            if len(state) == 0:
                state["step"] = _step_tensor()
                state["exp_avg"] = _full_like(p, 0)
                state["exp_avg_sq"] = _full_like(p, 0)
                if amsgrad:
                    state["max_exp_avg_sq"] = _full_like(p, 0)
        beta1, beta2 = group["betas"]
        self._kernel(group, "adam_update")(
            self._advance_steps(params), _datas(params), _grads(params),
            self._state_arrays(params, "exp_avg"), self._state_arrays(params, "exp_avg_sq"),
            self._state_arrays(params, "max_exp_avg_sq") if amsgrad else None,
            lr=float(group["lr"]), beta1=float(beta1), beta2=float(beta2), eps=group["eps"],
            weight_decay=group["weight_decay"], amsgrad=amsgrad, maximize=group["maximize"],
            decoupled_weight_decay=group["decoupled_weight_decay"])


class AdamW(Adam):
    """Adam with decoupled weight decay (default 1e-2): p *= 1 - lr * weight_decay."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False, foreach=None, capturable=False,
                 differentiable=False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach,
                         maximize=maximize, capturable=capturable,
                         differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)

    def __setstate__(self, state):
        # A checkpoint of Adam loaded into AdamW still decays decoupled.
        super().__setstate__(state)
        for group in self.param_groups:
            group["decoupled_weight_decay"] = True
