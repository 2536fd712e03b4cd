"""Padding layers: ZeroPad, ConstantPad, ReflectionPad, ReplicationPad and
CircularPad in 1-D, 2-D and 3-D, over F.pad; PixelShuffle / PixelUnshuffle; and
Unfold / Fold (sliding blocks)."""
from .. import functional as F
from .module import Module

__all__ = ["ZeroPad1d", "ZeroPad2d", "ConstantPad1d", "ConstantPad2d", "ReflectionPad1d",
           "ReflectionPad2d", "ReplicationPad1d", "ReplicationPad2d", "CircularPad1d",
           "CircularPad2d", "PixelShuffle", "PixelUnshuffle", "Unfold", "Fold", "ZeroPad3d",
           "ConstantPad3d", "ReflectionPad3d", "ReplicationPad3d", "CircularPad3d"]


class _PadNd(Module):
    """``padding``: an int (every side) or (left, right[, top, bottom[, front,
    back]]), kept as the full tuple, as PyTorch keeps it."""
    mode = "constant"
    sides = 2

    def __init__(self, padding, value=0.0):
        super().__init__()
        if isinstance(padding, int):
            padding = (padding,) * self.sides
        padding = tuple(int(p) for p in padding)
        if len(padding) != self.sides:
            raise ValueError(f"{type(self).__name__}: padding must be an int or a tuple of "
                             f"{self.sides} ints, got {padding}")
        self.padding = padding
        self.value = value

    def forward(self, input):
        if self.mode == "constant":
            return F.pad(input, self.padding, "constant", self.value)
        return F.pad(input, self.padding, self.mode)

    def extra_repr(self):
        return f"{self.padding}"


class ConstantPad1d(_PadNd):
    def __init__(self, padding, value):
        super().__init__(padding, value)

    def extra_repr(self):
        return f"padding={self.padding}, value={self.value}"


class ConstantPad2d(ConstantPad1d):
    sides = 4


class ZeroPad1d(_PadNd):
    def __init__(self, padding):
        super().__init__(padding, 0.0)


class ZeroPad2d(ZeroPad1d):
    sides = 4


class ReflectionPad1d(_PadNd):
    mode = "reflect"

    def __init__(self, padding):
        super().__init__(padding)


class ReflectionPad2d(ReflectionPad1d):
    sides = 4


class ReplicationPad1d(ReflectionPad1d):
    mode = "replicate"


class ReplicationPad2d(ReplicationPad1d):
    sides = 4


class CircularPad1d(ReflectionPad1d):
    mode = "circular"


class CircularPad2d(CircularPad1d):
    sides = 4


class ZeroPad3d(ZeroPad1d):
    sides = 6


class ConstantPad3d(ConstantPad1d):
    sides = 6


class ReflectionPad3d(ReflectionPad1d):
    sides = 6


class ReplicationPad3d(ReplicationPad1d):
    sides = 6


class CircularPad3d(CircularPad1d):
    sides = 6


class PixelShuffle(Module):
    """(*, C r^2, H, W) -> (*, C, H r, W r) (sub-pixel convolution)."""

    def __init__(self, upscale_factor):
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, input):
        return F.pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self):
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """(*, C, H r, W r) -> (*, C r^2, H, W)."""

    def __init__(self, downscale_factor):
        super().__init__()
        self.downscale_factor = downscale_factor

    def forward(self, input):
        return F.pixel_unshuffle(input, self.downscale_factor)

    def extra_repr(self):
        return f"downscale_factor={self.downscale_factor}"


class Unfold(Module):
    """(N, C, H, W) -> (N, C * k_h * k_w, L): every sliding block as a column."""

    def __init__(self, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.kernel_size, self.dilation = kernel_size, dilation
        self.padding, self.stride = padding, stride

    def forward(self, input):
        return F.unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding}, stride={self.stride}")


class Fold(Module):
    """(N, C * k_h * k_w, L) -> (N, C, *output_size): the blocks summed back in place."""

    def __init__(self, output_size, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.output_size, self.kernel_size, self.dilation = output_size, kernel_size, dilation
        self.padding, self.stride = padding, stride

    def forward(self, input):
        return F.fold(input, self.output_size, self.kernel_size, self.dilation, self.padding,
                      self.stride)

    def extra_repr(self):
        return (f"output_size={self.output_size}, kernel_size={self.kernel_size}, "
                f"dilation={self.dilation}, padding={self.padding}, stride={self.stride}")
