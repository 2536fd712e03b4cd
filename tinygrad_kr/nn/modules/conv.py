"""Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d."""
from ... import factories
from .. import functional as F
from ..parameter import Parameter
from .linear import reset_weight_and_bias
from .module import Module

__all__ = ["Conv2d", "Conv1d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"]

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def _single(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v,)


def _triple(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v, v)


_TUPLE = {1: _single, 2: _pair, 3: _triple}


def _check_channels(in_channels, out_channels, groups, padding_mode):
    if groups <= 0:
        raise ValueError("groups must be a positive integer")
    if in_channels % groups != 0:
        raise ValueError(f"in_channels must be divisible by groups (in_channels="
                         f"{in_channels}, groups={groups})")
    if out_channels % groups != 0:
        raise ValueError(f"out_channels must be divisible by groups (out_channels="
                         f"{out_channels}, groups={groups})")
    if padding_mode not in _PADDING_MODES:
        raise ValueError(f"padding_mode must be one of {list(_PADDING_MODES)}, but got "
                         f"padding_mode='{padding_mode}'")


def _conv_extra_repr(self):
    """PyTorch's _ConvNd.extra_repr."""
    s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
         f"stride={self.stride}")
    if self.padding != (0,) * len(self.padding):
        s += f", padding={self.padding}"
    if self.dilation != (1,) * len(self.dilation):
        s += f", dilation={self.dilation}"
    output_padding = getattr(self, "output_padding", ())
    if output_padding != (0,) * len(output_padding):
        s += f", output_padding={output_padding}"
    if self.groups != 1:
        s += f", groups={self.groups}"
    if self.bias is None:
        s += ", bias=False"
    if self.padding_mode != "zeros":
        s += f", padding_mode={self.padding_mode}"
    return s


class _ConvNd(Module):
    """What Conv1d, Conv2d and Conv3d share: the arguments, their checks, the weight
    (C_out, C_in / groups, *kernel_size) and bias, PyTorch's init and repr.
    ``_tuple`` spreads an int over the layer's dimensions."""

    _tuple = None

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__()
        _check_channels(in_channels, out_channels, groups, padding_mode)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = self._tuple(kernel_size)
        self.stride = self._tuple(stride)
        self.dilation = self._tuple(dilation)
        self.groups = groups
        self.padding_mode = padding_mode
        if isinstance(padding, str):
            if padding not in ("valid", "same"):
                raise ValueError(f"Invalid padding string {padding!r}, should be one of "
                                 f"['valid', 'same']")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError("padding='same' is not supported for strided convolutions")
            self.padding = padding
        else:
            self.padding = self._tuple(padding)
        self._reversed_padding_repeated_twice = self._padding_amounts()
        self.weight = Parameter(factories.empty(out_channels, in_channels // groups,
                                                *self.kernel_size, device=device, dtype=dtype))
        if bias:
            self.bias = Parameter(factories.empty(out_channels, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def _padding_amounts(self):
        """[left, right(, top, bottom(, front, back))] as F.pad takes them (for
        padding_mode != 'zeros')."""
        if self.padding == "valid":
            return [0, 0] * len(self.kernel_size)
        amounts = []
        if self.padding == "same":
            for d, k in zip(reversed(self.dilation), reversed(self.kernel_size)):
                total = d * (k - 1)
                amounts += [total // 2, total - total // 2]
        else:
            for p in reversed(self.padding):
                amounts += [p, p]
        return amounts

    def reset_parameters(self):
        reset_weight_and_bias(self.weight, self.bias)

    extra_repr = _conv_extra_repr


class Conv2d(_ConvNd):
    """2-D convolution (cross-correlation, as in PyTorch).

    Input (N, C_in, H, W) or unbatched (C_in, H, W); weight
    (C_out, C_in / groups, kH, kW); output (N, C_out, H_out, W_out) with
    H_out = (H + 2 padding - dilation (kH - 1) - 1) // stride + 1.
    ``padding`` may also be 'valid' (0) or 'same' (output size = input size,
    stride 1 only)."""

    _tuple = staticmethod(_pair)

    def forward(self, input):
        # F.conv2d checks everything else (dims, dtypes, kernel larger than the input)
        if input.ndim in (3, 4) and input.shape[-3] != self.in_channels:
            raise RuntimeError(f"{self!r}: expected input with {self.in_channels} channels, got "
                               f"input of shape {tuple(input.shape)} ({input.shape[-3]} channels)")
        if self.padding_mode == "zeros":
            return F.conv2d(input, self.weight, self.bias, self.stride, self.padding,
                            self.dilation, self.groups)
        padded = F.pad(input, self._reversed_padding_repeated_twice, mode=self.padding_mode)
        return F.conv2d(padded, self.weight, self.bias, self.stride, 0, self.dilation,
                        self.groups)


class Conv1d(_ConvNd):
    """1-D convolution (cross-correlation, as in PyTorch).

    Input (N, C_in, L) or unbatched (C_in, L); weight (C_out, C_in / groups, k);
    output (N, C_out, L_out) with
    L_out = (L + 2 padding - dilation (k - 1) - 1) // stride + 1.
    ``padding`` may also be 'valid' (0) or 'same' (stride 1 only)."""

    _tuple = staticmethod(_single)

    def forward(self, input):
        if self.padding_mode == "zeros":
            return F.conv1d(input, self.weight, self.bias, self.stride, self.padding,
                            self.dilation, self.groups)
        padded = F.pad(input, self._reversed_padding_repeated_twice, mode=self.padding_mode)
        return F.conv1d(padded, self.weight, self.bias, self.stride, 0, self.dilation,
                        self.groups)


class Conv3d(_ConvNd):
    """3-D convolution (cross-correlation, as in PyTorch).

    Input (N, C_in, D, H, W) or unbatched (C_in, D, H, W); weight
    (C_out, C_in / groups, kD, kH, kW); output (N, C_out, D_out, H_out, W_out)
    with D_out = (D + 2 padding - dilation (kD - 1) - 1) // stride + 1.
    ``padding`` may also be 'valid' (0) or 'same' (stride 1 only)."""

    _tuple = staticmethod(_triple)

    def forward(self, input):
        if self.padding_mode == "zeros":
            return F.conv3d(input, self.weight, self.bias, self.stride, self.padding,
                            self.dilation, self.groups)
        padded = F.pad(input, self._reversed_padding_repeated_twice, mode=self.padding_mode)
        return F.conv3d(padded, self.weight, self.bias, self.stride, 0, self.dilation,
                        self.groups)


class _ConvTransposeNd(Module):
    """Transposed convolution; weight (C_in, C_out / groups, *kernel_size)."""

    _nd = 2

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, padding_mode="zeros",
                 device=None, dtype=None):
        super().__init__()
        if padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for '
                             f'{type(self).__name__}')
        _check_channels(in_channels, out_channels, groups, padding_mode)
        tup = _TUPLE[self._nd]
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = tup(kernel_size)
        self.stride = tup(stride)
        self.padding = padding if isinstance(padding, str) else tup(padding)
        self.output_padding = tup(output_padding)
        self.dilation = tup(dilation)
        self.groups = groups
        self.padding_mode = padding_mode
        self.weight = Parameter(factories.empty(in_channels, out_channels // groups,
                                                *self.kernel_size, device=device, dtype=dtype))
        if bias:
            self.bias = Parameter(factories.empty(out_channels, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        reset_weight_and_bias(self.weight, self.bias)

    def _output_padding(self, input, output_size):
        """PyTorch's: the output_padding that gives ``output_size`` (spatial
        sizes, optionally with the leading batch/channel sizes)."""
        if output_size is None:
            return self.output_padding
        nd = self._nd
        non_spatial = 2 if input.ndim == nd + 2 else 1
        output_size = list(output_size)
        if len(output_size) == non_spatial + nd:
            output_size = output_size[non_spatial:]
        if len(output_size) != nd:
            raise ValueError(f"ConvTranspose{nd}D: for {input.ndim}D input, output_size must "
                             f"have {nd} or {non_spatial + nd} elements (got "
                             f"{len(output_size)})")
        min_sizes = [(input.shape[d + non_spatial] - 1) * self.stride[d] - 2 * self.padding[d]
                     + self.dilation[d] * (self.kernel_size[d] - 1) + 1 for d in range(nd)]
        max_sizes = [m + s - 1 for m, s in zip(min_sizes, self.stride)]
        for size, lo, hi in zip(output_size, min_sizes, max_sizes):
            if size < lo or size > hi:
                raise ValueError(f"requested an output size of {output_size}, but valid sizes "
                                 f"range from {min_sizes} to {max_sizes} (for an input of "
                                 f"{input.shape[non_spatial:]})")
        return tuple(size - lo for size, lo in zip(output_size, min_sizes))

    def forward(self, input, output_size=None):
        fn = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}[self._nd]
        return fn(input, self.weight, self.bias, self.stride, self.padding,
                  self._output_padding(input, output_size), self.groups, self.dilation)

    extra_repr = _conv_extra_repr


class ConvTranspose2d(_ConvTransposeNd):
    """Transposed 2-D convolution: input (N, C_in, H, W) or (C_in, H, W);
    H_out = (H - 1) stride - 2 padding + dilation (kH - 1) + output_padding + 1.
    ``forward(input, output_size=None)`` as PyTorch's."""

    _nd = 2


class ConvTranspose1d(_ConvTransposeNd):
    """Transposed 1-D convolution: input (N, C_in, L) or (C_in, L)."""

    _nd = 1


class ConvTranspose3d(_ConvTransposeNd):
    """Transposed 3-D convolution: input (N, C_in, D, H, W) or (C_in, D, H, W);
    D_out = (D - 1) stride - 2 padding + dilation (kD - 1) + output_padding + 1.
    ``forward(input, output_size=None)`` as PyTorch's."""

    _nd = 3
