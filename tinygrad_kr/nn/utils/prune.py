"""torch.nn.utils.prune: zero out parts of a parameter through a mask.

    prune.l1_unstructured(model.fc, "weight", amount=0.3)

Pruning ``name`` of a module moves the parameter to ``name_orig``, adds a
buffer ``name_mask`` and makes ``name`` a plain attribute ``name_orig *
name_mask``, recomputed by a forward pre-hook before every forward: training
updates ``name_orig`` and the pruned entries stay zero in the forward pass.
Pruning the same parameter again prunes only what is still unpruned
(``PruningContainer``); ``remove`` makes the pruned values the parameter.
Masks are computed on the arrays (they are not differentiated).
"""
import numbers
from abc import ABC, abstractmethod

import numpy as np

from ...backend import get_array_module
from ...random import get_rng
from ...tensor import Tensor

__all__ = ["BasePruningMethod", "PruningContainer", "Identity", "RandomUnstructured",
           "L1Unstructured", "RandomStructured", "LnStructured", "CustomFromMask", "identity",
           "random_unstructured", "l1_unstructured", "random_structured", "ln_structured",
           "global_unstructured", "custom_from_mask", "remove", "is_pruned"]


class BasePruningMethod(ABC):
    """A way to compute a mask; ``apply`` installs it on a module's parameter."""

    _tensor_name = None
    PRUNING_TYPE = None

    def __call__(self, module, inputs):
        setattr(module, self._tensor_name, self.apply_mask(module))

    @abstractmethod
    def compute_mask(self, t, default_mask):
        """The new mask (an array shaped like t) given the current one."""

    def apply_mask(self, module):
        if self._tensor_name is None:
            raise AssertionError(f"Module {module} has to be pruned")
        orig = getattr(module, self._tensor_name + "_orig")
        mask = getattr(module, self._tensor_name + "_mask")
        return orig * mask

    @classmethod
    def apply(cls, module, name, *args, importance_scores=None, **kwargs):
        """Prune ``module.<name>`` with a new ``cls(*args, **kwargs)``."""
        old_method = None
        found = 0
        for k, hook in list(module._forward_pre_hooks.items()):
            if isinstance(hook, BasePruningMethod) and hook._tensor_name == name:
                old_method, found = hook, found + 1
                hook_key = k
        if found > 1:
            raise AssertionError(f"Avoid adding multiple pruning hooks to the same tensor {name} "
                                 f"of module {module}. Use a PruningContainer.")
        method = cls(*args, **kwargs)
        method._tensor_name = name
        if old_method is not None:
            container = old_method if isinstance(old_method, PruningContainer) \
                else PruningContainer(old_method)
            container.add_pruning_method(method)
            method = container
            del module._forward_pre_hooks[hook_key]

        orig = getattr(module, name)
        scores = importance_scores if importance_scores is not None else orig
        if scores.shape != orig.shape:
            raise AssertionError(f"importance_scores should have the same shape as parameter "
                                 f"{name} of {module}")
        if old_method is None:       # first pruning: move the parameter aside
            module.register_parameter(name + "_orig", orig)
            del module._parameters[name]
            default_mask = get_array_module(orig.array).ones_like(orig.array)
        else:
            default_mask = getattr(module, name + "_mask").array.copy()
        try:
            mask = method.compute_mask(_data(scores), default_mask=default_mask)
            if name + "_mask" in module._buffers:
                module._buffers[name + "_mask"] = Tensor(mask)
            else:
                module.register_buffer(name + "_mask", Tensor(mask))
            setattr(module, name, method.apply_mask(module))
            module.register_forward_pre_hook(method)
        except Exception:
            if old_method is None:   # leave the module as it was
                orig_param = module._parameters.pop(name + "_orig")
                module._buffers.pop(name + "_mask", None)
                module.register_parameter(name, orig_param)
            raise
        return method

    def prune(self, t, default_mask=None, importance_scores=None):
        """t with this method's mask applied (no module involved)."""
        scores = importance_scores if importance_scores is not None else t
        if default_mask is None:
            default_mask = get_array_module(_data(t)).ones_like(_data(t))
        return t * Tensor(self.compute_mask(_data(scores), default_mask=_data(default_mask)))

    def remove(self, module):
        """Make the pruned values ``module.<name>``'s parameter again."""
        if self._tensor_name is None:
            raise AssertionError(f"Module {module} has to be pruned before pruning can be "
                                 f"removed")
        weight = self.apply_mask(module)
        if hasattr(module, self._tensor_name):
            delattr(module, self._tensor_name)
        orig = module._parameters[self._tensor_name + "_orig"]
        orig.array = weight.array if weight.array.dtype == orig.array.dtype else \
            weight.array.astype(orig.array.dtype)
        del module._parameters[self._tensor_name + "_orig"]
        del module._buffers[self._tensor_name + "_mask"]
        module.register_parameter(self._tensor_name, orig)


def _data(t):
    return t.array if isinstance(t, Tensor) else t


class PruningContainer(BasePruningMethod):
    """Successive pruning of one parameter: each method prunes what is left."""

    def __init__(self, *args):
        self._pruning_methods = ()
        if len(args) == 1 and isinstance(args[0], BasePruningMethod):
            self._tensor_name = args[0]._tensor_name
            self.add_pruning_method(args[0])
        else:
            for method in (args[0] if len(args) == 1 else args):
                self.add_pruning_method(method)

    def add_pruning_method(self, method):
        if not isinstance(method, BasePruningMethod) and method is not None:
            raise TypeError(f"{type(method)} is not a BasePruningMethod subclass")
        if method is not None and self._tensor_name != method._tensor_name:
            raise ValueError(f"Can only add pruning methods acting on the parameter named "
                             f"'{self._tensor_name}' to PruningContainer {self}. Found "
                             f"'{method._tensor_name}'")
        self._pruning_methods += (method,)

    def __len__(self):
        return len(self._pruning_methods)

    def __iter__(self):
        return iter(self._pruning_methods)

    def __getitem__(self, idx):
        return self._pruning_methods[idx]

    def compute_mask(self, t, default_mask):
        """The last method's mask computed on the entries still unpruned, combined."""
        method = self._pruning_methods[-1]
        xp = get_array_module(t)
        new_mask = default_mask.copy()
        if method.PRUNING_TYPE == "unstructured":
            kept = default_mask == 1
            partial = method.compute_mask(t[kept], default_mask=default_mask[kept])
            new_mask[kept] = partial.astype(new_mask.dtype)
        elif method.PRUNING_TYPE == "structured":
            if not hasattr(method, "dim"):
                raise AttributeError("Pruning methods of PRUNING_TYPE 'structured' need to "
                                     "have the attribute `dim` defined.")
            dim = method.dim if method.dim >= 0 else t.ndim + method.dim
            others = tuple(d for d in range(t.ndim) if d != dim)
            alive = xp.flatnonzero(default_mask.sum(axis=others) != 0)
            index = [slice(None)] * t.ndim
            index[dim] = alive
            index = tuple(index)
            partial = method.compute_mask(t[index], default_mask=default_mask[index])
            new_mask[index] = partial.astype(new_mask.dtype)
        elif method.PRUNING_TYPE == "global":
            new_mask = method.compute_mask(t, default_mask=default_mask)
        else:
            raise ValueError(f"Unrecognized PRUNING_TYPE {method.PRUNING_TYPE}")
        return new_mask


class Identity(BasePruningMethod):
    PRUNING_TYPE = "unstructured"

    def compute_mask(self, t, default_mask):
        return default_mask

    @classmethod
    def apply(cls, module, name):
        return super().apply(module, name)


def _validate_amount_init(amount):
    if not isinstance(amount, numbers.Real):
        raise TypeError(f"Invalid type for amount: {amount}. Must be int or float.")
    if (isinstance(amount, numbers.Integral) and amount < 0) or \
            (not isinstance(amount, numbers.Integral) and (float(amount) > 1.0
                                                          or float(amount) < 0.0)):
        raise ValueError(f"amount={amount} should either be a float in the range [0, 1] or a "
                         f"non-negative integer")


def _validate_amount(amount, size):
    if isinstance(amount, numbers.Integral) and amount > size:
        raise ValueError(f"amount={amount} should be smaller than the number of parameters to "
                         f"prune={size}")


def _count_to_prune(amount, size):
    """An int amount is a count; a float one a fraction (rounded as Python rounds)."""
    if isinstance(amount, numbers.Integral):
        return amount
    return round(amount * size)


def _lowest(values, k):
    """Indices of the k smallest values (ties: the first ones, a stable sort)."""
    xp = get_array_module(values)
    return xp.argsort(values, kind="stable")[:k]


class RandomUnstructured(BasePruningMethod):
    PRUNING_TYPE = "unstructured"

    def __init__(self, amount):
        _validate_amount_init(amount)
        self.amount = amount

    def compute_mask(self, t, default_mask):
        size = t.size
        _validate_amount(self.amount, size)
        k = _count_to_prune(self.amount, size)
        mask = default_mask.copy()
        if k:
            xp = get_array_module(t)
            prob = xp.asarray(get_rng().random(size))
            mask.reshape(-1)[_lowest(-prob, k)] = 0
        return mask

    @classmethod
    def apply(cls, module, name, amount):
        return super().apply(module, name, amount=amount)


class L1Unstructured(BasePruningMethod):
    PRUNING_TYPE = "unstructured"

    def __init__(self, amount):
        _validate_amount_init(amount)
        self.amount = amount

    def compute_mask(self, t, default_mask):
        size = t.size
        _validate_amount(self.amount, size)
        k = _count_to_prune(self.amount, size)
        mask = default_mask.copy()
        if k:
            xp = get_array_module(t)
            mask.reshape(-1)[_lowest(xp.abs(t).reshape(-1), k)] = 0
        return mask

    @classmethod
    def apply(cls, module, name, amount, importance_scores=None):
        return super().apply(module, name, amount=amount, importance_scores=importance_scores)


def _structured_mask(t, dim, keep, default_mask):
    """default_mask with the slices along dim not in ``keep`` zeroed."""
    xp = get_array_module(t)
    mask = xp.zeros_like(default_mask)
    index = [slice(None)] * t.ndim
    index[dim] = keep
    mask[tuple(index)] = 1
    return mask * default_mask


def _structured_count(method, t):
    """(dim, slices along it, how many of them to prune) for a structured method."""
    if t.ndim <= 1:
        raise ValueError("Structured pruning can only be applied to multidimensional "
                         "tensors. Found tensor of shape {} with {} dims".format(
                             tuple(t.shape), t.ndim))
    dim = method.dim if method.dim >= 0 else t.ndim + method.dim
    size = t.shape[dim]
    _validate_amount(method.amount, size)
    return dim, size, _count_to_prune(method.amount, size)


class RandomStructured(BasePruningMethod):
    PRUNING_TYPE = "structured"

    def __init__(self, amount, dim=-1):
        _validate_amount_init(amount)
        self.amount = amount
        self.dim = dim

    def compute_mask(self, t, default_mask):
        dim, size, k = _structured_count(self, t)
        if k == 0:
            return default_mask
        xp = get_array_module(t)
        prob = xp.asarray(get_rng().random(size))
        keep = xp.sort(_lowest(prob, size - k))   # the highest draws are pruned
        return _structured_mask(t, dim, keep, default_mask)

    @classmethod
    def apply(cls, module, name, amount, dim=-1):
        return super().apply(module, name, amount=amount, dim=dim)


class LnStructured(BasePruningMethod):
    PRUNING_TYPE = "structured"

    def __init__(self, amount, n, dim=-1):
        _validate_amount_init(amount)
        self.amount = amount
        self.n = n
        self.dim = dim

    def compute_mask(self, t, default_mask):
        dim, size, k = _structured_count(self, t)
        if k == 0:
            return default_mask
        xp = get_array_module(t)
        flat = xp.moveaxis(t, dim, 0).reshape(size, -1)
        if self.n in ("fro", 2):
            norms = xp.sqrt((flat * flat).sum(axis=1))
        elif self.n == float("inf"):
            norms = xp.abs(flat).max(axis=1)
        elif self.n == 0:
            norms = (flat != 0).sum(axis=1).astype(flat.dtype)
        else:
            norms = (xp.abs(flat) ** self.n).sum(axis=1) ** (1.0 / self.n)
        keep = xp.sort(_lowest(-norms, size - k))     # the largest norms are kept
        return _structured_mask(t, dim, keep, default_mask)

    @classmethod
    def apply(cls, module, name, amount, n, dim, importance_scores=None):
        return super().apply(module, name, amount=amount, n=n, dim=dim,
                             importance_scores=importance_scores)


class CustomFromMask(BasePruningMethod):
    PRUNING_TYPE = "global"

    def __init__(self, mask):
        self.mask = mask

    def compute_mask(self, t, default_mask):
        mask = _data(self.mask)
        if default_mask.shape != mask.shape:
            raise AssertionError(f"mask of shape {tuple(mask.shape)} for a parameter of shape "
                                 f"{tuple(default_mask.shape)}")
        return default_mask * mask.astype(default_mask.dtype)

    @classmethod
    def apply(cls, module, name, mask):
        return super().apply(module, name, mask=mask)


def identity(module, name):
    Identity.apply(module, name)
    return module


def random_unstructured(module, name, amount):
    RandomUnstructured.apply(module, name, amount)
    return module


def l1_unstructured(module, name, amount, importance_scores=None):
    L1Unstructured.apply(module, name, amount=amount, importance_scores=importance_scores)
    return module


def random_structured(module, name, amount, dim):
    RandomStructured.apply(module, name, amount, dim)
    return module


def ln_structured(module, name, amount, n, dim, importance_scores=None):
    LnStructured.apply(module, name, amount, n, dim, importance_scores=importance_scores)
    return module


def custom_from_mask(module, name, mask):
    CustomFromMask.apply(module, name, mask)
    return module


def global_unstructured(parameters, pruning_method, importance_scores=None, **kwargs):
    """Prune several (module, name) pairs with one mask over all their entries."""
    if not hasattr(parameters, "__iter__") or isinstance(parameters, Tensor):
        raise TypeError("global_unstructured(): parameters is not an Iterable")
    parameters = list(parameters)
    importance_scores = importance_scores if importance_scores is not None else {}
    if not isinstance(importance_scores, dict):
        raise TypeError("global_unstructured(): importance_scores must be of type dict")
    scores = [_data(importance_scores.get((m, n), getattr(m, n))) for m, n in parameters]
    xp = get_array_module(scores[0]) if scores else np
    relevant = xp.concatenate([s.reshape(-1) for s in scores])
    defaults = xp.concatenate([
        (getattr(m, n + "_mask").array if hasattr(m, n + "_mask")
         else xp.ones_like(_data(getattr(m, n)))).reshape(-1) for m, n in parameters])
    container = PruningContainer()
    container._tensor_name = "temp"
    method = pruning_method(**kwargs)
    method._tensor_name = "temp"
    if method.PRUNING_TYPE != "unstructured":
        raise TypeError(f'Only "unstructured" PRUNING_TYPE supported for the '
                        f'`pruning_method`. Found method {pruning_method} of type '
                        f'{method.PRUNING_TYPE}')
    container.add_pruning_method(method)
    final = container.compute_mask(relevant, defaults)
    start = 0
    for m, n in parameters:
        size = _data(getattr(m, n)).size
        custom_from_mask(m, n, mask=Tensor(final[start:start + size].reshape(
            _data(getattr(m, n)).shape)))
        start += size


def remove(module, name):
    """Make the pruned ``module.<name>`` a parameter again and drop the mask and hook."""
    for k, hook in list(module._forward_pre_hooks.items()):
        if isinstance(hook, BasePruningMethod) and hook._tensor_name == name:
            hook.remove(module)
            del module._forward_pre_hooks[k]
            return module
    raise ValueError(f"Parameter '{name}' of module {module} has to be pruned before pruning "
                     f"can be removed")


def is_pruned(module):
    """Whether any submodule of ``module`` has a pruning hook."""
    return any(isinstance(hook, BasePruningMethod)
               for m in module.modules() for hook in m._forward_pre_hooks.values())
