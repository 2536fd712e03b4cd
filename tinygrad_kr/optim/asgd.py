"""ASGD: averaged stochastic gradient descent (Polyak & Juditsky), as torch.optim.ASGD."""
from ..kernels.ref_optim import _effective_grad
from .optimizer import (Optimizer, _check_flags, _check_lr, _datas, _full_like, _grads,
                        _step_tensor)

__all__ = ["ASGD"]


class ASGD(Optimizer):
    """p = p * (1 - lambd * eta) - eta * g; the average ax follows p
    (ax += mu * (p - ax), a copy while mu == 1); then
    eta = lr / (1 + lambd * lr * t)^alpha and mu = 1 / max(1, t - t0).
    The averaged parameters are ``state[p]["ax"]``.

    State per parameter: ``step``, ``eta``, ``mu`` (0-d host tensors of
    PyTorch's scalar dtype: eta and mu round as PyTorch's do), ``ax``.  One
    implementation, the reference loop; ``foreach`` selects nothing and
    ``capturable`` changes nothing (accepted for PyTorch compatibility).
    """

    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0,
                 foreach=None, maximize=False, differentiable=False, capturable=False):
        _check_lr(lr)
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        _check_flags(None, foreach, differentiable)
        defaults = dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
                        foreach=foreach, maximize=maximize, differentiable=differentiable,
                        capturable=capturable)
        super().__init__(params, defaults)

    def _update(self, group, params):
        for p in params:
            state = self.state[p]
            if len(state) == 0:
                state["step"] = _step_tensor()
                state["eta"] = _step_tensor(float(group["lr"]))
                state["mu"] = _step_tensor(1.0)
                state["ax"] = _full_like(p, 0)
        asgd_update(
            self._advance_steps(params), _datas(params), _grads(params),
            self._state_arrays(params, "ax"), self._state_arrays(params, "mu"),
            self._state_arrays(params, "eta"), lr=float(group["lr"]), lambd=group["lambd"],
            alpha=group["alpha"], t0=group["t0"], weight_decay=group["weight_decay"],
            maximize=group["maximize"])


def asgd_update(steps, params, grads, axs, mus, etas, lr, lambd, alpha, t0, weight_decay,
                maximize):
    """The reference loop (PyTorch's _single_tensor_asgd), in place.

    steps: 1-D float64 host array, one count per param (including this update).
    params, axs (IN/OUT), grads (IN): arrays of one dtype.
    mus, etas (IN/OUT): 0-d arrays; their values are used as Python floats,
    as PyTorch's ``.item()``, and stored rounded to the scalar dtype (float32
    unless the default dtype is float64) whatever their own dtype, as PyTorch's.
    """
    for i, p in enumerate(params):
        g = _effective_grad(p, grads[i], weight_decay, maximize)
        eta = float(etas[i])
        p *= 1 - lambd * eta            # decay
        p += -eta * g                   # the gradient step
        mu = float(mus[i])
        if mu != 1:
            axs[i] += (p - axs[i]) * mu
        else:
            axs[i][...] = p
        step = float(steps[i])
        # PyTorch's eta.copy_(torch.as_tensor(value)): rounded to its scalar dtype
        etas[i][...] = _as_tensor_value(lr / ((1 + lambd * lr * step) ** alpha))
        mus[i][...] = _as_tensor_value(1 / max(1, step - t0))


def _as_tensor_value(value):
    """``value`` rounded as a 0-d tensor of PyTorch's scalar dtype holds it."""
    return float(_step_tensor(value).array)
