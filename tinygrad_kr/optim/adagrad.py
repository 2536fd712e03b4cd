"""Adagrad: per-coordinate step sizes from the running sum of squared gradients."""
from .optimizer import Optimizer, _check_flags, _check_lr, _datas, _full_like, _grads, _step_tensor

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """sum += g^2; p -= clr * g / (sqrt(sum) + eps), clr = lr / (1 + (step-1) * lr_decay).

    State per parameter: ``step``, ``sum`` (created at construction, filled
    with initial_accumulator_value, as PyTorch does).
    """

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0,
                 initial_accumulator_value=0, eps=1e-10, foreach=None, *, maximize=False,
                 differentiable=False, fused=None):
        _check_lr(lr)
        if not 0.0 <= lr_decay:
            raise ValueError(f"Invalid lr_decay value: {lr_decay}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= initial_accumulator_value:
            raise ValueError(f"Invalid initial_accumulator_value value: "
                             f"{initial_accumulator_value}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        _check_flags(fused, foreach, differentiable)
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p)

    def _init_state(self, p):
        # PyTorch fills every group's sums with the constructor's value.
        state = self.state[p]
        state["step"] = _step_tensor()
        state["sum"] = _full_like(p, self.defaults["initial_accumulator_value"])

    def _update(self, group, params):
        for p in params:
            if len(self.state[p]) == 0:   # added later with add_param_group
                self._init_state(p)
        self._kernel(group, "adagrad_update")(
            self._advance_steps(params), _datas(params), _grads(params),
            self._state_arrays(params, "sum"), lr=float(group["lr"]),
            lr_decay=group["lr_decay"], weight_decay=group["weight_decay"], eps=group["eps"],
            maximize=group["maximize"])
