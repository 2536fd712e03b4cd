"""Stochastic weight averaging and EMA, as torch.optim.swa_utils.

``AveragedModel`` keeps a copy of a model whose parameters (and, with
``use_buffers=True``, buffers) are a running average of the model's;
``SWALR`` anneals the learning rate to a constant for the averaging phase;
``update_bn`` recomputes the BatchNorm statistics of the averaged weights
with one pass over the data.
"""
import itertools
import math
from copy import deepcopy

from .. import dtypes as _dt
from ..autograd.grad_mode import no_grad
from ..factories import tensor
from ..kernels.ref_optim import _lerp_
from ..nn.modules.module import Module
from ..nn.modules.normalization import _BatchNorm, _InstanceNorm
from ..tensor import Tensor
from .lr_scheduler import LRScheduler, _per_group

__all__ = ["AveragedModel", "update_bn", "SWALR", "get_ema_multi_avg_fn",
           "get_swa_multi_avg_fn", "get_ema_avg_fn", "get_swa_avg_fn"]


_INT_ADDCDIV = (
    "Integer division with addcdiv is no longer supported, and in a future  release addcdiv "
    "will perform a true division of tensor1 and tensor2. The historic addcdiv behavior can be "
    "implemented as (input + value * torch.trunc(tensor1 / tensor2)).to(input.dtype) for "
    "integer inputs and as (input + value * tensor1 / tensor2) for float inputs. The future "
    "addcdiv behavior is just the latter implementation: (input + value * tensor1 / tensor2), "
    "for all dtypes.")


def _lerp_all_(starts, ends, weight):
    """start += weight * (end - start) for each pair (PyTorch's _foreach_lerp_)."""
    for start, end in zip(starts, ends, strict=True):
        _lerp_(start.array, end.array, weight)
        start._bump_version()


def get_ema_multi_avg_fn(decay=0.999):
    """A ``multi_avg_fn`` for an exponential moving average:
    avg = decay * avg + (1 - decay) * current, on lists of tensors, in place."""
    if decay < 0.0 or decay > 1.0:
        raise ValueError(f"Invalid decay value {decay} provided. Please provide a value "
                         f"in [0,1] range.")

    @no_grad()
    def ema_update(ema_param_list, current_param_list, _):
        if ema_param_list[0].is_floating_point():
            _lerp_all_(ema_param_list, current_param_list, 1 - decay)
        else:
            for p_ema, p_model in zip(ema_param_list, current_param_list, strict=True):
                p_ema.copy_(p_ema * decay + p_model * (1 - decay))

    return ema_update


def get_swa_multi_avg_fn():
    """A ``multi_avg_fn`` for the equal-weight average of the models seen so far:
    avg += (current - avg) / (num_averaged + 1), on lists of tensors, in place."""

    @no_grad()
    def swa_update(averaged_param_list, current_param_list, num_averaged):
        if averaged_param_list[0].is_floating_point():
            _lerp_all_(averaged_param_list, current_param_list, float(1 / (num_averaged + 1)))
        elif isinstance(num_averaged, Tensor):   # PyTorch's _foreach_addcdiv_ refuses
            raise RuntimeError(_INT_ADDCDIV)
        else:                                      # and so does its _foreach_add_
            raise RuntimeError("For integral input tensors, argument alpha must not be a "
                               "floating point number.")

    return swa_update


def get_ema_avg_fn(decay=0.999):
    """An ``avg_fn`` for an exponential moving average of one tensor (returns the new value)."""
    if decay < 0.0 or decay > 1.0:
        raise ValueError(f"Invalid decay value {decay} provided. Please provide a value "
                         f"in [0,1] range.")

    @no_grad()
    def ema_update(ema_param, current_param, num_averaged):
        return decay * ema_param + (1 - decay) * current_param

    return ema_update


def get_swa_avg_fn():
    """An ``avg_fn`` for the equal-weight average of one tensor (returns the new value)."""

    @no_grad()
    def swa_update(averaged_param, current_param, num_averaged):
        return averaged_param + (current_param - averaged_param) / (num_averaged + 1)

    return swa_update


class AveragedModel(Module):
    """A copy of ``model`` (on ``device`` if given) whose parameters
    ``update_parameters(model)`` averages with the model's: the first call
    copies them, later ones apply ``avg_fn(avg, current, n_averaged)`` (one
    tensor, returns the new value) or ``multi_avg_fn(avgs, currents,
    n_averaged)`` (lists of one device and dtype, in place); neither gives the
    equal-weight (SWA) average.  Buffers are averaged too with
    ``use_buffers=True``, else copied from the model.  ``n_averaged`` (an
    int64 buffer) counts the calls.  Calling it runs the averaged copy.
    """

    def __init__(self, model, device=None, avg_fn=None, multi_avg_fn=None, use_buffers=False):
        super().__init__()
        if avg_fn is not None and multi_avg_fn is not None:
            raise AssertionError("Only one of avg_fn and multi_avg_fn should be provided")
        self.module = deepcopy(model)
        if device is not None:
            self.module = self.module.to(device)
        self.register_buffer("n_averaged", tensor(0, dtype=_dt.int64, device=device))
        self.avg_fn = avg_fn
        self.multi_avg_fn = multi_avg_fn
        self.use_buffers = use_buffers

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    def update_parameters(self, model):
        """Fold ``model``'s current parameters (and buffers) into the average."""
        with no_grad():
            self._update_parameters(model)

    def _update_parameters(self, model):
        if self.use_buffers:
            self_param = itertools.chain(self.module.parameters(), self.module.buffers())
            model_param = itertools.chain(model.parameters(), model.buffers())
        else:
            self_param, model_param = self.parameters(), model.parameters()
        self_detached, model_detached = [], []
        copy_param = int(self.n_averaged.item()) == 0
        for p_averaged, p_model in zip(self_param, model_param):
            p_model_ = p_model.detach().to(p_averaged.device)
            self_detached.append(p_averaged.detach())
            model_detached.append(p_model_)
            if copy_param:
                p_averaged.detach().copy_(p_model_)

        if int(self.n_averaged.item()) > 0:
            if self.multi_avg_fn is not None or self.avg_fn is None:
                for (device, _), (averaged, current) in _by_device_and_dtype(
                        self_detached, model_detached).items():
                    n_averaged = self.n_averaged.to(device)
                    if self.multi_avg_fn is not None:
                        self.multi_avg_fn(averaged, current, n_averaged)
                    elif device.type == "cuda" and averaged[0].is_floating_point():
                        # PyTorch's foreach path, a lerp (its integer buffers raise
                        # there: here they take the formula below, as on the CPU)
                        get_swa_multi_avg_fn()(averaged, current, n_averaged)
                    else:
                        avg_fn = get_swa_avg_fn()
                        for p_averaged, p_model in zip(averaged, current, strict=True):
                            p_averaged.copy_(avg_fn(p_averaged, p_model, n_averaged))
            else:
                for p_averaged, p_model in zip(self_detached, model_detached, strict=True):
                    n_averaged = self.n_averaged.to(p_averaged.device)
                    p_averaged.copy_(self.avg_fn(p_averaged, p_model, n_averaged))

        if not self.use_buffers:
            # the buffers (BatchNorm's statistics) follow the model's
            for b_swa, b_model in zip(self.module.buffers(), model.buffers(), strict=True):
                b_swa.detach().copy_(b_model.detach().to(b_swa.device))
        self.n_averaged.add_(1)


def _by_device_and_dtype(averaged, current):
    """{(device, dtype): ([averaged...], [current...])}, in first-seen order."""
    groups = {}
    for a, c in zip(averaged, current, strict=True):
        pair = groups.setdefault((a.device, a.dtype), ([], []))
        pair[0].append(a)
        pair[1].append(c)
    return groups


def update_bn(loader, model, device=None):
    """Recompute the running statistics of ``model``'s BatchNorm layers with one
    pass over ``loader`` (batches: a tensor, or a list/tuple whose first entry
    is the input), as their cumulative average; the model's train/eval mode
    and the layers' momenta are restored afterwards."""
    with no_grad():
        momenta = {}
        for module in model.modules():
            # PyTorch's _BatchNorm; the instance norms derive from it here, not there
            if isinstance(module, _BatchNorm) and not isinstance(module, _InstanceNorm):
                module.reset_running_stats()
                momenta[module] = module.momentum
        if not momenta:
            return
        was_training = model.training
        model.train()
        for module in momenta:
            module.momentum = None
        for input in loader:
            if isinstance(input, (list, tuple)):
                input = input[0]
            if device is not None:
                input = input.to(device)
            model(input)
        for bn_module in momenta:
            bn_module.momentum = momenta[bn_module]
        model.train(was_training)


class SWALR(LRScheduler):
    """Anneal each group's lr from its current value to ``swa_lr`` (one value,
    or one per group) over ``anneal_epochs`` steps, along a cosine
    (``anneal_strategy="cos"``) or a straight line (``"linear"``), then hold it.

    As PyTorch's, each step starts from the group's current lr (it works out
    the lr the annealing started from), so a change made to ``group["lr"]``
    carries through.
    """

    def __init__(self, optimizer, swa_lr, anneal_epochs=10, anneal_strategy="cos",
                 last_epoch=-1):
        swa_lrs = _per_group("swa_lr", optimizer, swa_lr)
        for lr, group in zip(swa_lrs, optimizer.param_groups, strict=True):
            group["swa_lr"] = lr
        if anneal_strategy not in ["cos", "linear"]:
            raise ValueError("anneal_strategy must be one of 'cos' or 'linear', "
                             f"instead got {anneal_strategy}")
        self._set_anneal_func(anneal_strategy)
        if not isinstance(anneal_epochs, int) or anneal_epochs < 0:
            raise ValueError(f"anneal_epochs must be equal or greater than 0, got {anneal_epochs}")
        self.anneal_epochs = anneal_epochs
        super().__init__(optimizer, last_epoch)

    @staticmethod
    def _linear_anneal(t):
        return t

    @staticmethod
    def _cosine_anneal(t):
        return (1 - math.cos(math.pi * t)) / 2

    @staticmethod
    def _get_initial_lr(lr, swa_lr, alpha):
        if alpha == 1:
            return swa_lr
        return (lr - alpha * swa_lr) / (1 - alpha)

    def _set_anneal_func(self, anneal_strategy):
        self._anneal_strategy = anneal_strategy
        self.anneal_func = self._cosine_anneal if anneal_strategy == "cos" else self._linear_anneal

    def get_lr(self):
        self._warn_if_not_in_step()
        step = self._step_count - 1     # 0 at construction
        if self.anneal_epochs == 0:
            step = max(1, step)
        prev_t = max(0, min(1, (step - 1) / max(1, self.anneal_epochs)))
        prev_alpha = self.anneal_func(prev_t)
        prev_lrs = [self._get_initial_lr(group["lr"], group["swa_lr"], prev_alpha)
                    for group in self.optimizer.param_groups]
        t = max(0, min(1, step / max(1, self.anneal_epochs)))
        alpha = self.anneal_func(t)
        return [group["swa_lr"] * alpha + lr * (1 - alpha)
                for group, lr in zip(self.optimizer.param_groups, prev_lrs, strict=True)]

    def state_dict(self):
        """Every attribute but the optimizer and the annealing function (a copy)."""
        return deepcopy({k: v for k, v in self.__dict__.items()
                         if k not in ("optimizer", "anneal_func")})

    def load_state_dict(self, state_dict):
        self.__dict__.update(deepcopy(state_dict))
        self._set_anneal_func(self._anneal_strategy)
