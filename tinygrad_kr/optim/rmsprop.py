"""RMSprop: gradient scaled by a running RMS of the gradients (Hinton's lecture 6e)."""
from .optimizer import Optimizer, _check_flags, _check_lr, _datas, _full_like, _grads, _step_tensor

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """square_avg = alpha * square_avg + (1 - alpha) * g^2;
    p -= lr * g / (sqrt(square_avg [- grad_avg^2 if centered]) + eps),
    through a momentum buffer when momentum > 0.

    State per parameter: ``step``, ``square_avg``, ``momentum_buffer`` (when
    momentum > 0), ``grad_avg`` (when centered).  ``capturable`` is accepted
    for PyTorch compatibility and changes nothing.
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, capturable=False, foreach=None, maximize=False,
                 differentiable=False):
        _check_lr(lr)
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= momentum:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= alpha:
            raise ValueError(f"Invalid alpha value: {alpha}")
        _check_flags(None, foreach, differentiable)
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, capturable=capturable, foreach=foreach,
                        maximize=maximize, differentiable=differentiable)
        super().__init__(params, defaults)

    def _update(self, group, params):
        momentum, centered = group["momentum"], group["centered"]
        for p in params:
            state = self.state[p]
            if len(state) == 0:
                state["step"] = _step_tensor()
                state["square_avg"] = _full_like(p, 0)
                if momentum > 0:
                    state["momentum_buffer"] = _full_like(p, 0)
                if centered:
                    state["grad_avg"] = _full_like(p, 0)
        self._kernel(group, "rmsprop_update")(
            self._advance_steps(params), _datas(params), _grads(params),
            self._state_arrays(params, "square_avg"),
            self._state_arrays(params, "grad_avg") if centered else None,
            self._state_arrays(params, "momentum_buffer") if momentum > 0 else None,
            lr=float(group["lr"]), alpha=group["alpha"], eps=group["eps"],
            weight_decay=group["weight_decay"], momentum=momentum, centered=centered,
            maximize=group["maximize"])
