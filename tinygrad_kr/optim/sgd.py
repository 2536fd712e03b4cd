"""SGD: stochastic gradient descent with optional momentum, as torch.optim.SGD."""
import numpy as np

from .optimizer import Optimizer, _check_flags, _check_lr, _datas, _full_like, _grads

__all__ = ["SGD"]


class SGD(Optimizer):
    """p -= lr * g, where g is the gradient (+ weight_decay * p), or its momentum
    buffer b = momentum * b + (1 - dampening) * g (Nesterov: g + momentum * b).

    State per parameter: ``momentum_buffer`` (only when momentum != 0; the
    first step sets it to g, as PyTorch does).
    """

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0,
                 nesterov=False, *, maximize=False, foreach=None, differentiable=False,
                 fused=None):
        _check_lr(lr)
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        _check_flags(fused, foreach, differentiable)
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize,
                        foreach=foreach, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)

    def _update(self, group, params):
        momentum = group["momentum"]
        buffers, is_first_step = None, np.zeros(len(params), dtype=bool)
        if momentum != 0:
            for i, p in enumerate(params):
                state = self.state[p]
                if state.get("momentum_buffer") is None:
                    # The kernel fills it with the gradient (PyTorch's grad.clone()).
                    state["momentum_buffer"] = _full_like(p, 0)
                    is_first_step[i] = True
            buffers = self._state_arrays(params, "momentum_buffer")
        self._kernel(group, "sgd_update")(   # the flags stay on the host (see _advance_steps)
            is_first_step, _datas(params), _grads(params), buffers,
            lr=float(group["lr"]), momentum=momentum, dampening=group["dampening"],
            nesterov=group["nesterov"], weight_decay=group["weight_decay"],
            maximize=group["maximize"])
