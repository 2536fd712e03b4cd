"""Rprop: resilient backpropagation (Riedmiller & Braun), as torch.optim.Rprop."""
from ..backend import get_array_module
from .optimizer import (Optimizer, _check_flags, _check_lr, _datas, _full_like, _grads,
                        _step_tensor)

__all__ = ["Rprop"]


class Rprop(Optimizer):
    """Each coordinate has its own step size: multiplied by etaplus when the
    gradient kept its sign since the last step, by etaminus when it flipped
    (and that coordinate then skips this step), clamped to step_sizes;
    p -= sign(g) * step_size.  Only the gradient's sign is used.

    State per parameter: ``step``, ``prev`` (the last gradient, 0 where it
    flipped), ``step_size`` (starts at lr).  One implementation, the
    reference loop; ``foreach`` selects nothing and ``capturable`` changes
    nothing (accepted for PyTorch compatibility).
    """

    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        _check_lr(lr)
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        _check_flags(None, foreach, differentiable)
        defaults = dict(lr=lr, etas=etas, step_sizes=step_sizes, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def _update(self, group, params):
        for p in params:
            state = self.state[p]
            if len(state) == 0:
                state["step"] = _step_tensor()
                state["prev"] = _full_like(p, 0)
                state["step_size"] = _full_like(p, float(group["lr"]))
        etaminus, etaplus = group["etas"]
        step_size_min, step_size_max = group["step_sizes"]
        self._advance_steps(params)   # counted, as PyTorch; the update does not use it
        rprop_update(
            _datas(params), _grads(params), self._state_arrays(params, "prev"),
            self._state_arrays(params, "step_size"), step_size_min=step_size_min,
            step_size_max=step_size_max, etaminus=etaminus, etaplus=etaplus,
            maximize=group["maximize"])


def rprop_update(params, grads, prevs, step_sizes, step_size_min, step_size_max, etaminus,
                 etaplus, maximize):
    """The reference loop (PyTorch's _single_tensor_rprop), in place.

    params, prevs, step_sizes (IN/OUT), grads (IN): arrays of one dtype.
    """
    for i, p in enumerate(params):
        xp = get_array_module(p)
        # arrays (xp.array): NumPy's arithmetic makes scalars of 0-d arrays
        g = xp.array(-grads[i] if maximize else grads[i])
        prev, step_size = prevs[i], step_sizes[i]
        factor = xp.array(xp.sign(g * prev))    # +1 same sign, -1 flipped, 0 new or zero
        factor[factor > 0] = etaplus
        factor[factor < 0] = etaminus
        factor[factor == 0] = 1
        step_size *= factor
        xp.clip(step_size, step_size_min, step_size_max, out=step_size)
        g[factor == etaminus] = 0       # a flipped coordinate rests this step
        p += -(xp.sign(g) * step_size)
        prev[...] = g
