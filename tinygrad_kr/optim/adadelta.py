"""Adadelta: step sizes from running averages of squared gradients and updates."""
from .optimizer import Optimizer, _check_flags, _check_lr, _datas, _full_like, _grads, _step_tensor

__all__ = ["Adadelta"]


class Adadelta(Optimizer):
    """square_avg = rho * square_avg + (1 - rho) * g^2;
    delta = sqrt(acc_delta + eps) / sqrt(square_avg + eps) * g;
    acc_delta = rho * acc_delta + (1 - rho) * delta^2;  p -= lr * delta.

    State per parameter: ``step``, ``square_avg``, ``acc_delta``.
    ``capturable`` is accepted for PyTorch compatibility and changes nothing.
    """

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *,
                 capturable=False, maximize=False, differentiable=False):
        _check_lr(lr)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        _check_flags(None, foreach, differentiable)
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                        capturable=capturable, foreach=foreach, differentiable=differentiable)
        super().__init__(params, defaults)

    def _update(self, group, params):
        for p in params:
            state = self.state[p]
            if len(state) == 0:
                state["step"] = _step_tensor()
                state["square_avg"] = _full_like(p, 0)
                state["acc_delta"] = _full_like(p, 0)
        self._kernel(group, "adadelta_update")(
            self._advance_steps(params), _datas(params), _grads(params),
            self._state_arrays(params, "square_avg"), self._state_arrays(params, "acc_delta"),
            lr=float(group["lr"]), rho=group["rho"], eps=group["eps"],
            weight_decay=group["weight_decay"], maximize=group["maximize"])
