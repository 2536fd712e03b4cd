"""SparseAdam: Adam on the entries a sparse gradient holds, as torch.optim.SparseAdam.

tinygrad_kr's gradients are dense (``nn.Embedding(sparse=True)`` is not
supported), and a dense gradient is refused with PyTorch's error.  The update
itself is here for a gradient in PyTorch's sparse COO form: any ``.grad``
object with ``is_sparse`` true whose ``coalesce()`` gives ``_indices()``
(sparse_dim, nnz) and ``_values()`` (nnz, *dense_dims), as Tensors or arrays.
"""
import math

from ..autograd.grad_mode import enable_grad
from ..backend import get_array_module
from ..tensor import Tensor
from .optimizer import Optimizer, _full_like

__all__ = ["SparseAdam"]

DENSE_GRAD_ERROR = ("SparseAdam does not support dense gradients, please consider Adam instead "
                    "(tinygrad_kr's gradients are all dense: it has no sparse tensors, and "
                    "nn.Embedding(sparse=True) is not supported)")


class SparseAdam(Optimizer):
    """Adam's update applied only where the gradient has entries: there m, v
    and p change (an entry stored as 0 counts as present), elsewhere nothing
    does.

    State per parameter: ``step`` (a Python int, as PyTorch's), ``exp_avg``,
    ``exp_avg_sq``.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, maximize=False):
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 < float(lr):
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 < eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        defaults = dict(lr=lr, betas=betas, eps=eps, maximize=maximize)
        super().__init__(params, defaults)

    def step(self, closure=None):
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            updates = []
            for p in group["params"]:
                if p.grad is None:
                    continue
                if not getattr(p.grad, "is_sparse", False):
                    raise RuntimeError(DENSE_GRAD_ERROR)
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = 0
                    state["exp_avg"] = _full_like(p, 0)
                    state["exp_avg_sq"] = _full_like(p, 0)
                state["step"] += 1
                updates.append((p, state))
            beta1, beta2 = group["betas"]
            for p, state in updates:
                grad = p.grad.coalesce()    # the update is not linear: one entry per index
                if sparse_adam_update(p.array, state["exp_avg"].array,
                                      state["exp_avg_sq"].array, _array(grad._indices()),
                                      _array(grad._values()), state["step"],
                                      lr=float(group["lr"]), beta1=beta1, beta2=beta2,
                                      eps=group["eps"], maximize=group["maximize"]):
                    p._bump_version()
        return loss

    def __setstate__(self, state):
        super().__setstate__(state)
        for s in self.state.values():   # load_state_dict made the step count a tensor
            if "step" in s and isinstance(s["step"], Tensor):
                s["step"] = int(s["step"].item())


def _array(x):
    return x.array if isinstance(x, Tensor) else x


def sparse_adam_update(param, exp_avg, exp_avg_sq, indices, values, step, lr, beta1, beta2,
                       eps, maximize):
    """PyTorch's sparse_adam for one parameter, in place; returns whether
    anything changed (not for an empty gradient).

    param, exp_avg, exp_avg_sq (IN/OUT): arrays of one shape and dtype.
    indices (IN): (sparse_dim, nnz) integers, unique (coalesced);
    values (IN): (nnz, *param.shape[sparse_dim:]); step: the count including
    this update.
    """
    if values.size == 0:
        return False
    xp = get_array_module(param)
    rows = tuple(xp.asarray(indices))
    values = xp.asarray(values)
    grad = -values if maximize else values
    old_exp_avg = exp_avg[rows]
    exp_avg_update = (grad - old_exp_avg) * (1 - beta1)
    exp_avg[rows] += exp_avg_update
    old_exp_avg_sq = exp_avg_sq[rows]
    exp_avg_sq_update = (grad ** 2 - old_exp_avg_sq) * (1 - beta2)
    exp_avg_sq[rows] += exp_avg_sq_update
    numer = exp_avg_update + old_exp_avg
    denom = xp.sqrt(exp_avg_sq_update + old_exp_avg_sq) + eps
    bias_correction1 = 1 - beta1 ** step
    bias_correction2 = 1 - beta2 ** step
    step_size = lr * math.sqrt(bias_correction2) / bias_correction1
    param[rows] += -step_size * (numer / denom)
    return True
