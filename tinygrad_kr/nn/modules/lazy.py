"""Lazy layers (LazyLinear, LazyConv2d, LazyBatchNorm1d/2d): the input size is read
from the first input, as PyTorch's, which d2l's second edition builds its models with.

Until then the parameters are ``UninitializedParameter``s; the first call
gives them their shape in place (an optimizer built before it holds the same
objects), runs the layer's usual init, and the module becomes the plain layer
(``cls_to_become``): ``LazyLinear(10)`` is a ``Linear`` after its first forward.
``load_state_dict`` before that gives them the checkpoint's shapes and values
(as PyTorch's), and the first forward then keeps them.
"""
from ..parameter import UninitializedBuffer, UninitializedParameter
from .conv import Conv2d
from .linear import Linear
from .normalization import BatchNorm1d, BatchNorm2d

__all__ = ["LazyLinear", "LazyConv2d", "LazyBatchNorm1d", "LazyBatchNorm2d"]


class LazyModuleMixin:
    cls_to_become = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._initialize_hook = self.register_forward_pre_hook(LazyModuleMixin._infer_parameters)

    def has_uninitialized_params(self):
        return any(isinstance(t, (UninitializedParameter, UninitializedBuffer))
                   for t in [*self._parameters.values(), *self._buffers.values()])

    def _infer_parameters(self, args):
        self.initialize_parameters(*args)
        if self.has_uninitialized_params():
            raise RuntimeError(f"module {self._get_name()} has not been fully initialized")
        self._initialize_hook.remove()
        del self._initialize_hook
        self.__class__ = self.cls_to_become

    def _uninitialized(self, names, make, dtype):
        for name in names:
            if getattr(self, name, None) is not None:
                setattr(self, name, make(dtype=dtype))


def _uninitialized_parameter(dtype):
    return UninitializedParameter(dtype=dtype)


def _uninitialized_buffer(dtype):
    return UninitializedBuffer(dtype=dtype)


class LazyLinear(LazyModuleMixin, Linear):
    """Linear whose ``in_features`` is the last dimension of the first input."""

    cls_to_become = Linear

    def __init__(self, out_features, bias=True, device=None, dtype=None):
        super().__init__(0, out_features, bias, device, dtype)
        self._uninitialized(("weight", "bias"), _uninitialized_parameter, self.weight.dtype)

    def reset_parameters(self):
        if not self.has_uninitialized_params() and self.in_features != 0:
            super().reset_parameters()

    def initialize_parameters(self, input, *args):
        self.in_features = input.shape[-1]
        if not self.has_uninitialized_params():
            return      # loaded from a checkpoint before the first forward
        self.weight.materialize((self.out_features, self.in_features), input.device)
        if self.bias is not None:
            self.bias.materialize((self.out_features,), input.device)
        self.reset_parameters()


class LazyConv2d(LazyModuleMixin, Conv2d):
    """Conv2d whose ``in_channels`` is the channel dimension of the first input."""

    cls_to_become = Conv2d

    def __init__(self, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__(0, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, device, dtype)
        self._uninitialized(("weight", "bias"), _uninitialized_parameter, self.weight.dtype)

    def reset_parameters(self):
        if not self.has_uninitialized_params() and self.in_channels != 0:
            super().reset_parameters()

    def initialize_parameters(self, input, *args):
        self.in_channels = input.shape[-3] if input.ndim in (3, 4) else input.shape[0]
        if self.in_channels % self.groups != 0:
            raise ValueError(f"in_channels must be divisible by groups (in_channels="
                             f"{self.in_channels}, groups={self.groups})")
        if not self.has_uninitialized_params():
            return      # loaded from a checkpoint before the first forward
        self.weight.materialize((self.out_channels, self.in_channels // self.groups,
                                 *self.kernel_size), input.device)
        if self.bias is not None:
            self.bias.materialize((self.out_channels,), input.device)
        self.reset_parameters()


class _LazyBatchNorm(LazyModuleMixin):
    def __init__(self, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 device=None, dtype=None, *, bias=True):
        super().__init__(0, eps, momentum, affine, track_running_stats, device, dtype, bias=bias)
        dtype = self.running_mean.dtype if track_running_stats else self.weight.dtype
        self._uninitialized(("weight", "bias"), _uninitialized_parameter, dtype)
        self._uninitialized(("running_mean", "running_var"), _uninitialized_buffer, dtype)

    def reset_parameters(self):
        if not self.has_uninitialized_params() and self.num_features != 0:
            super().reset_parameters()

    def initialize_parameters(self, input, *args):
        self._check_input_dim(input)
        self.num_features = input.shape[1]
        if not self.has_uninitialized_params():
            return      # loaded from a checkpoint before the first forward
        for name in ("weight", "bias", "running_mean", "running_var"):
            t = getattr(self, name)
            if t is not None:
                t.materialize((self.num_features,), input.device)
        self.reset_parameters()


class LazyBatchNorm1d(_LazyBatchNorm, BatchNorm1d):
    cls_to_become = BatchNorm1d


class LazyBatchNorm2d(_LazyBatchNorm, BatchNorm2d):
    cls_to_become = BatchNorm2d
