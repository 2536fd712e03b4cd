"""Lazy layers (LazyLinear, LazyConv1d/2d/3d, LazyConvTranspose1d/2d/3d,
LazyBatchNorm1d/2d/3d, LazyInstanceNorm1d/2d/3d): the input size is read from
the first input, as PyTorch's, which d2l's second edition builds its models with.

Until then the parameters are ``UninitializedParameter``s; the first call
gives them their shape in place (an optimizer built before it holds the same
objects), runs the layer's usual init, and the module becomes the plain layer
(``cls_to_become``): ``LazyLinear(10)`` is a ``Linear`` after its first forward.
``load_state_dict`` before that gives them the checkpoint's shapes and values
(as PyTorch's), and the first forward then keeps them.
"""
from ..parameter import UninitializedBuffer, UninitializedParameter
from .conv import Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d
from .linear import Linear
from .normalization import (BatchNorm1d, BatchNorm2d, BatchNorm3d, InstanceNorm1d, InstanceNorm2d,
                            InstanceNorm3d)

__all__ = ["LazyLinear", "LazyConv1d", "LazyConv2d", "LazyConv3d", "LazyConvTranspose1d",
           "LazyConvTranspose2d", "LazyConvTranspose3d", "LazyBatchNorm1d", "LazyBatchNorm2d",
           "LazyBatchNorm3d", "LazyInstanceNorm1d", "LazyInstanceNorm2d", "LazyInstanceNorm3d"]


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


class _LazyConvMixin(LazyModuleMixin):
    """A convolution whose ``in_channels`` is read from the first input: its
    dimension 1 (batched) or 0 (unbatched).  The weight is (out, in / groups,
    *k), or (in, out / groups, *k) for a transposed one."""

    _transposed = False

    def reset_parameters(self):
        if not self.has_uninitialized_params() and self.in_channels != 0:
            super().reset_parameters()

    def initialize_parameters(self, input, *args):
        batched = len(self.kernel_size) + 2
        if input.ndim not in (batched - 1, batched):
            raise RuntimeError(f"Expected {batched - 1}D (unbatched) or {batched}D (batched) "
                               f"input to {type(self).__name__}, but got input of size: "
                               f"{list(input.shape)}")
        self.in_channels = input.shape[1] if input.ndim == batched else input.shape[0]
        if self.in_channels % self.groups != 0:
            raise ValueError(f"in_channels must be divisible by groups (in_channels="
                             f"{self.in_channels}, groups={self.groups})")
        if not self.has_uninitialized_params():
            return      # loaded from a checkpoint before the first forward
        if self._transposed:
            shape = (self.in_channels, self.out_channels // self.groups)
        else:
            shape = (self.out_channels, self.in_channels // self.groups)
        self.weight.materialize(shape + tuple(self.kernel_size), input.device)
        if self.bias is not None:
            self.bias.materialize((self.out_channels,), input.device)
        self.reset_parameters()


class _LazyConv(_LazyConvMixin):
    def __init__(self, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__(0, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, device, dtype)
        self._uninitialized(("weight", "bias"), _uninitialized_parameter, self.weight.dtype)


class _LazyConvTranspose(_LazyConvMixin):
    _transposed = True

    def __init__(self, out_channels, kernel_size, stride=1, padding=0, output_padding=0,
                 groups=1, bias=True, dilation=1, padding_mode="zeros", device=None,
                 dtype=None):
        super().__init__(0, out_channels, kernel_size, stride, padding, output_padding, groups,
                         bias, dilation, padding_mode, device, dtype)
        self._uninitialized(("weight", "bias"), _uninitialized_parameter, self.weight.dtype)


class LazyConv1d(_LazyConv, Conv1d):
    """Conv1d whose ``in_channels`` is the channel dimension of the first input."""
    cls_to_become = Conv1d


class LazyConv2d(_LazyConv, Conv2d):
    """Conv2d whose ``in_channels`` is the channel dimension of the first input."""
    cls_to_become = Conv2d


class LazyConv3d(_LazyConv, Conv3d):
    """Conv3d whose ``in_channels`` is the channel dimension of the first input."""
    cls_to_become = Conv3d


class LazyConvTranspose1d(_LazyConvTranspose, ConvTranspose1d):
    cls_to_become = ConvTranspose1d


class LazyConvTranspose2d(_LazyConvTranspose, ConvTranspose2d):
    cls_to_become = ConvTranspose2d


class LazyConvTranspose3d(_LazyConvTranspose, ConvTranspose3d):
    cls_to_become = ConvTranspose3d


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

    def _feature_dim(self, input):
        return 1

    def initialize_parameters(self, input, *args):
        self._check_input_dim(input)
        self.num_features = input.shape[self._feature_dim(input)]
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


class LazyBatchNorm3d(_LazyBatchNorm, BatchNorm3d):
    cls_to_become = BatchNorm3d


class _LazyInstanceNorm(_LazyBatchNorm):
    """PyTorch's lazy instance norms default to affine=True and
    track_running_stats=True (its plain ones to False, False)."""

    def _feature_dim(self, input):
        # the channel dimension of a batched or an unbatched input (PyTorch
        # reads dimension 1 even of an unbatched one, and then raises)
        return input.ndim - self._no_batch_dims


class LazyInstanceNorm1d(_LazyInstanceNorm, InstanceNorm1d):
    cls_to_become = InstanceNorm1d


class LazyInstanceNorm2d(_LazyInstanceNorm, InstanceNorm2d):
    cls_to_become = InstanceNorm2d


class LazyInstanceNorm3d(_LazyInstanceNorm, InstanceNorm3d):
    cls_to_become = InstanceNorm3d
