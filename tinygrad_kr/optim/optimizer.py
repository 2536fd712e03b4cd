"""Optimizer: the base class of torch.optim's optimizers, with PyTorch's API.

An optimizer holds ``param_groups`` (a list of dicts: ``"params"`` plus the
hyper-parameters, so ``opt.param_groups[0]["lr"] = 0.1`` takes effect at the
next step), ``defaults``, and ``state`` (one dict per parameter, keyed by the
parameter itself: Tensors hash by identity).  State values are Tensors, so
checkpoints and ``.to(device)`` treat them like any other tensor.

Subclasses implement ``_update(group, params)``: update the parameters of one
group that have a gradient, all of one dtype, with one call of their kernel.
By default that is the fused multi-tensor kernel reached through
``tinygrad_kr.kernels`` (compiled, or its NumPy twin under TKR_KERNELS=numpy);
a group with ``fused=False`` or ``foreach=False`` runs the NumPy reference
loop (``tinygrad_kr/kernels/ref_optim.py``, one parameter at a time, written
like PyTorch's ``_single_tensor_*`` functions).  The optimizers that have no
compiled kernel (NAdam, RAdam, Adamax, ASGD, Rprop) keep their reference
loop in their own module and run it whatever ``foreach`` says; LBFGS and
SparseAdam write their own ``step()``.
"""
import copy
from collections import defaultdict
from itertools import chain

import numpy as np

from .. import kernels
from ..autograd.grad_mode import enable_grad
from ..backend import get_array_module
from ..dtypes import get_default_dtype
from ..tensor import Tensor, _zero_grads

__all__ = ["Optimizer", "required"]


class _RequiredParameter:
    """Marks a hyper-parameter that has no default (``lr=required``)."""

    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()


class Optimizer:
    """Base class of all optimizers.

    params: an iterable of Tensors, of ``(name, Tensor)`` pairs, or of dicts
    (param groups: ``{"params": [...], "lr": ...}``, options missing from a
    dict come from ``defaults``).
    """

    def __init__(self, params, defaults):
        self.defaults = defaults
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            f"Tensors or dicts, but got {_typename(params)}")
        self.state = defaultdict(dict)
        self.param_groups = []
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for param_group in param_groups:
            self.add_param_group(param_group)

    # -- groups --------------------------------------------------------------
    def add_param_group(self, param_group):
        """Add a group of parameters (a dict with ``"params"``) with its own options."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group)}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, "
                            "but the ordering of tensors in sets will change between runs. "
                            "Please use a list instead.")
        params = list(params)
        names = [p[0] for p in params if isinstance(p, tuple)]
        params = [p[1] if isinstance(p, tuple) else p for p in params]
        if names and len(names) != len(params):
            raise ValueError("all optimizer params should be with/without names. "
                             "Some param names are missing")
        param_group["params"] = params
        if names:
            param_group["param_names"] = names

        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is "
                                + _typename(p))
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError("parameter group didn't specify a value of required "
                                 f"optimization parameter {name}")
            param_group.setdefault(name, default)

        if len({id(p) for p in params}) != len(params):
            raise ValueError("optimizer contains a parameter group with duplicate parameters")
        seen = {id(p) for group in self.param_groups for p in group["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        if any(("param_names" in g) != ("param_names" in param_group) for g in self.param_groups):
            kind = "with names" if "param_names" in param_group else "without names"
            raise ValueError("all optimizer param groups should be with/without names. "
                             f"cannot add param group {kind} to the optimizer")
        self.param_groups.append(param_group)

    # -- the training loop ---------------------------------------------------
    def zero_grad(self, set_to_none=True):
        """Forget the gradients: ``p.grad = None`` (default), or fill them with 0."""
        for group in self.param_groups:
            _zero_grads(group["params"], set_to_none)

    def step(self, closure=None):
        """One optimization step; returns ``closure()``'s loss (evaluated first,
        with gradient recording on) or None."""
        if type(self)._update is Optimizer._update:
            raise NotImplementedError(f"{type(self).__name__} must implement step()")
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            for params in _with_grad_by_dtype(group["params"]):
                self._update(group, params)
                for p in params:
                    p._bump_version()   # an in-place change, as for p.add_(...)
        return loss

    def _update(self, group, params):
        """Update ``params`` (the group's parameters that have a gradient, one
        dtype and device) in place, creating their state on first use."""
        raise NotImplementedError

    # -- helpers for the subclasses -----------------------------------------
    @staticmethod
    def _kernel(group, name):
        """The update kernel for this group: the fused one (via the dispatcher)
        or, with fused=False / foreach=False, the NumPy reference loop."""
        if group.get("fused") is False or group.get("foreach") is False:
            return kernels.reference(name)
        return getattr(kernels, name)

    def _state_arrays(self, params, key):
        return [self.state[p][key].array for p in params]

    def _advance_steps(self, params):
        """Add 1 to each parameter's ``state["step"]``; return the new counts
        (float64, one per parameter) as a host NumPy array on every device:
        the GPU kernels take them as launch arguments, so a step uploads
        nothing (the dispatcher routes on the parameters, not on this)."""
        state = self.state
        counts = []
        for p in params:
            step = state[p]["step"].array   # a 0-d host array: item access is the fast path
            step[()] = step.item() + 1
            counts.append(step.item())     # as stored (float32 rounds, like PyTorch)
        return np.array(counts, dtype=np.float64)

    # -- checkpoints ---------------------------------------------------------
    def state_dict(self):
        """{"state": {index: {key: value}}, "param_groups": [{..., "params": [indices]}]}.

        Parameters are numbered in the order of the groups, as in PyTorch; the
        state values are the live Tensors (save or copy them to keep them).
        """
        index = {}
        param_groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            param_groups.append(packed)
        state = {(index[id(p)] if isinstance(p, Tensor) else p): v for p, v in self.state.items()}
        return {"state": state, "param_groups": param_groups}

    def load_state_dict(self, state_dict):
        """Load ``state_dict()`` output.  Groups must match in number and size;
        state is copied, with floating tensors moved to each parameter's
        device and dtype (``step`` counters stay as saved)."""
        groups = self.param_groups
        saved_groups = copy.deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"]) for g, s in zip(groups, saved_groups)):
            raise ValueError("loaded state dict contains a parameter group that doesn't match "
                             "the size of optimizer's group")
        param_of = dict(zip(chain.from_iterable(g["params"] for g in saved_groups),
                            chain.from_iterable(g["params"] for g in groups)))
        state = defaultdict(dict)
        for key, values in state_dict["state"].items():
            if key in param_of:
                p = param_of[key]
                state[p] = {k: _cast_state(p, k, v) for k, v in values.items()}
            else:
                state[key] = copy.deepcopy(values)
        for group, saved in zip(groups, saved_groups):
            for name, default in self.defaults.items():   # options newer than the checkpoint
                saved.setdefault(name, default)
            saved["params"] = group["params"]
            if "param_names" in group and "param_names" not in saved:
                saved["param_names"] = group["param_names"]
        self.__setstate__({"state": state, "param_groups": saved_groups})

    def __getstate__(self):
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __setstate__(self, state):
        self.__dict__.update(state)

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            if i:
                lines.append("")   # PyTorch separates the groups by a blank line
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {group[k]}" for k in sorted(group) if k != "params"]
        return "\n".join(lines) + "\n)"


# ---------------------------------------------------------------- module helpers

def _typename(obj):
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def _with_grad_by_dtype(params):
    """The parameters that have a gradient, in lists of one array type and
    dtype (one kernel call each); parameters without a gradient are skipped."""
    batches = {}
    for p in params:
        if p.grad is not None:
            batches.setdefault((type(p.array), p.array.dtype), []).append(p)
    return list(batches.values())


def _check_lr(lr):
    """PyTorch's learning-rate check (a Tensor lr must hold one number)."""
    if isinstance(lr, Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")
    if not 0.0 <= float(lr):
        raise ValueError(f"Invalid learning rate: {lr}")


def _check_adam_family(lr, eps, betas, weight_decay):
    """The checks (and messages, in PyTorch's order) of Adam and its variants."""
    _check_lr(lr)
    if not 0.0 <= eps:
        raise ValueError(f"Invalid epsilon value: {eps}")
    if not 0.0 <= betas[0] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
    if not 0.0 <= betas[1] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
    if not 0.0 <= weight_decay:
        raise ValueError(f"Invalid weight_decay value: {weight_decay}")


def _check_flags(fused, foreach, differentiable):
    """The execution options all optimizers share."""
    if differentiable:
        raise RuntimeError("differentiable=True is not supported: tinygrad_kr's optimizer "
                           "updates are not recorded by autograd")
    if fused and foreach:
        raise RuntimeError("`fused` and `foreach` cannot be `True` together.")


def _step_tensor(count=0.0):
    """A step counter: a 0-d host tensor of PyTorch's scalar dtype (float64
    when that is the default dtype, else float32)."""
    dtype = np.float64 if get_default_dtype() == np.float64 else np.float32
    return Tensor(np.array(count, dtype=dtype))


def _full_like(p, value):
    """A state tensor shaped like parameter ``p``, filled with ``value``."""
    return Tensor(get_array_module(p.array).full_like(p.array, value))


def _grads(params):
    return [p.grad.array for p in params]


def _datas(params):
    return [p.array for p in params]


def _cast_state(param, key, value):
    """A copy of one loaded state value.  Tensors move to ``param``'s device and
    floating ones take its dtype, except the ``step`` counter (as PyTorch)."""
    if key == "step":   # a counter; an old checkpoint may hold a plain number
        return Tensor(value.array.copy()) if isinstance(value, Tensor) else _step_tensor(value)
    if isinstance(value, (list, tuple)):   # LBFGS's histories: cast each entry, as PyTorch
        return type(value)(_cast_state(param, None, v) for v in value)
    if not isinstance(value, Tensor):
        return copy.deepcopy(value)
    value = value.to(param.device)
    if value.is_floating_point() and param.is_floating_point():
        value = value.to(param.dtype)
    return Tensor(value.array.copy())
