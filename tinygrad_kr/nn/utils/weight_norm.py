"""The old-style weight_norm / remove_weight_norm (a forward pre-hook), as
torch.nn.utils.weight_norm, and the formula both weight norms share.

``weight_norm(module)`` replaces the parameter ``weight`` by ``weight_g``
(the norms, shaped to broadcast along ``dim``) and ``weight_v`` (the
direction), and recomputes ``module.weight = v * g / ||v||`` (norms over
every dimension but ``dim``) before each forward.  PyTorch deprecates it in
favour of ``nn.utils.parametrizations.weight_norm``; both are here, with
PyTorch's state_dict keys.
"""
import warnings

from ... import ops
from ..parameter import Parameter, UninitializedParameter

__all__ = ["WeightNorm", "weight_norm", "remove_weight_norm", "norm_except_dim"]


def norm_except_dim(v, pow=2, dim=0):
    """The ``pow``-norms of v over every dimension but ``dim``, shaped
    (1, ..., v.shape[dim], ..., 1); ``dim=-1`` means over all of v (a 0-d
    result), as torch.norm_except_dim."""
    if dim == -1:
        return ops.norm(v, pow)
    d = dim % v.ndim
    rows = v if d == 0 else ops.transpose(v, 0, d)
    norms = ops.norm(ops.reshape(rows, (rows.shape[0], -1)), pow, 1)
    shape = [1] * v.ndim
    shape[d] = v.shape[d]
    return ops.reshape(norms, shape)


def _weight_norm(v, g, dim=0):
    """v * (g / ||v||), the norms over every dimension but ``dim`` (torch._weight_norm)."""
    return v * (g / norm_except_dim(v, 2, dim))


class WeightNorm:
    """The forward pre-hook of the old-style weight_norm: module.<name> <-
    weight from <name>_g and <name>_v."""

    def __init__(self, name, dim):
        self.name = name
        self.dim = -1 if dim is None else dim

    def compute_weight(self, module):
        return _weight_norm(getattr(module, self.name + "_v"), getattr(module, self.name + "_g"),
                            self.dim)

    @staticmethod
    def apply(module, name, dim):
        warnings.warn("`torch.nn.utils.weight_norm` is deprecated in favor of "
                      "`torch.nn.utils.parametrizations.weight_norm`.", FutureWarning,
                      stacklevel=3)
        for hook in module._forward_pre_hooks.values():
            if isinstance(hook, WeightNorm) and hook.name == name:
                raise RuntimeError(f"Cannot register two weight_norm hooks on the same parameter "
                                   f"{name}")
        fn = WeightNorm(name, dim)
        weight = getattr(module, name)
        if isinstance(weight, UninitializedParameter):
            raise ValueError("The module passed to `WeightNorm` can't have uninitialized "
                             "parameters. Make sure to run the dummy forward before applying "
                             "weight normalization")
        del module._parameters[name]
        module.register_parameter(name + "_g", Parameter(norm_except_dim(weight, 2, fn.dim).data))
        module.register_parameter(name + "_v", Parameter(weight.data))
        setattr(module, name, fn.compute_weight(module))
        module.register_forward_pre_hook(fn)
        return fn

    def remove(self, module):
        weight = self.compute_weight(module)
        delattr(module, self.name)
        del module._parameters[self.name + "_g"]
        del module._parameters[self.name + "_v"]
        setattr(module, self.name, Parameter(weight.data))

    def __call__(self, module, inputs):
        setattr(module, self.name, self.compute_weight(module))


def weight_norm(module, name="weight", dim=0):
    """Split ``module.<name>`` into <name>_g (its norms over every dimension
    but ``dim``; over all of it if ``dim`` is None) and <name>_v (the
    parameter itself), recombined before each forward.  Returns ``module``."""
    WeightNorm.apply(module, name, dim)
    return module


def remove_weight_norm(module, name="weight"):
    """Undo weight_norm: ``module.<name>`` is one parameter again, holding
    the current g * v / ||v||."""
    for k, hook in module._forward_pre_hooks.items():
        if isinstance(hook, WeightNorm) and hook.name == name:
            hook.remove(module)
            del module._forward_pre_hooks[k]
            return module
    raise ValueError(f"weight_norm of '{name}' not found in {module}")
