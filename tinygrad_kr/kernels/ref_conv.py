"""NumPy twins of the 2-D convolution kernels (csrc/conv.pyx).

Layouts are PyTorch's: x (N, C, H, W), w (O, C, kh, kw), y and gy
(N, O, OH, OW).  ``stride``, ``padding`` and ``dilation`` are (h, w) pairs of
ints; padding is symmetric zero padding; groups == 1 (the conv2d Function
splits channel groups itself).  float32/float64, one dtype throughout.

The twin is im2col done with a strided view: ``_windows`` gives every
receptive field as a (N, C, OH, OW, kh, kw) view of the padded input, and
tensordot contracts it with the weight.
"""
from ..backend import get_array_module

__all__ = ["conv2d_forward", "conv2d_backward_input", "conv2d_backward_weight"]


def conv2d_output_size(size, kernel, stride, padding, dilation):
    """PyTorch's rule: floor((size + 2p - d(k-1) - 1) / s) + 1."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def _check(x_shape, w_shape, stride, padding, dilation, fn):
    """Validate a conv geometry; return the output spatial size (OH, OW)."""
    if len(x_shape) != 4 or len(w_shape) != 4:
        raise ValueError(f"{fn}: expected x (N, C, H, W) and w (O, C, kh, kw), "
                         f"got shapes {tuple(x_shape)} and {tuple(w_shape)}")
    if x_shape[1] != w_shape[1]:
        raise ValueError(f"{fn}: x has {x_shape[1]} channels but w {tuple(w_shape)} "
                         f"expects {w_shape[1]}")
    if min(x_shape) < 0 or min(w_shape) < 0:
        raise ValueError(f"{fn}: negative dimension in x {tuple(x_shape)} or w {tuple(w_shape)}")
    if min(stride) < 1 or min(dilation) < 1 or min(padding) < 0:
        raise ValueError(f"{fn}: need stride >= 1, dilation >= 1, padding >= 0, got "
                         f"stride={tuple(stride)} padding={tuple(padding)} "
                         f"dilation={tuple(dilation)}")
    out = tuple(conv2d_output_size(x_shape[2 + d], w_shape[2 + d], stride[d], padding[d],
                                   dilation[d]) for d in range(2))
    if min(out) < 1:
        raise ValueError(f"{fn}: kernel {tuple(w_shape[2:])} (dilation {tuple(dilation)}) is "
                         f"larger than the padded input {tuple(x_shape[2:])} + 2*{tuple(padding)}")
    return out


def _check_gy(gy, x_shape, w_shape, out, fn):
    expected = (x_shape[0], w_shape[0]) + tuple(out)
    if gy.shape != expected:
        raise ValueError(f"{fn}: gy has shape {gy.shape}, expected {expected}")


def _windows(x, kernel, stride, padding, dilation, out):
    """Every receptive field of x: a (N, C, OH, OW, kh, kw) strided view."""
    xp = get_array_module(x)
    (ph, pw), (sh, sw), (dh, dw), (kh, kw) = padding, stride, dilation, kernel
    if ph or pw:
        x = xp.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    extent = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)
    win = xp.lib.stride_tricks.sliding_window_view(x, extent, axis=(2, 3))
    return win[:, :, :sh * (out[0] - 1) + 1:sh, :sw * (out[1] - 1) + 1:sw, ::dh, ::dw]


def conv2d_forward(x, w, b, stride, padding, dilation):
    """y (N, O, OH, OW) = conv(x, w) + b; b is (O,) or None."""
    xp = get_array_module(x)
    out = _check(x.shape, w.shape, stride, padding, dilation, "conv2d_forward")
    win = _windows(x, w.shape[2:], stride, padding, dilation, out)
    y = xp.tensordot(win, w, axes=([1, 4, 5], [1, 2, 3]))        # (N, OH, OW, O)
    if b is not None:
        y += b
    return xp.ascontiguousarray(xp.moveaxis(y, 3, 1))


def conv2d_backward_input(gy, w, x_shape, stride, padding, dilation):
    """gx (x_shape) from gy (N, O, OH, OW): col2im of w^T gy."""
    xp = get_array_module(gy)
    out = _check(x_shape, w.shape, stride, padding, dilation, "conv2d_backward_input")
    _check_gy(gy, x_shape, w.shape, out, "conv2d_backward_input")
    N, C, H, W = x_shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = w.shape[2:], stride, padding, dilation
    gcol = xp.tensordot(gy, w, axes=([1], [0]))                  # (N, OH, OW, C, kh, kw)
    gx = xp.zeros((N, C, H + 2 * ph, W + 2 * pw), dtype=gy.dtype)
    for i in range(kh):
        for j in range(kw):
            rows = slice(i * dh, i * dh + sh * (out[0] - 1) + 1, sh)
            cols = slice(j * dw, j * dw + sw * (out[1] - 1) + 1, sw)
            gx[:, :, rows, cols] += xp.moveaxis(gcol[..., i, j], 3, 1)
    return xp.ascontiguousarray(gx[:, :, ph:ph + H, pw:pw + W])


def conv2d_backward_weight(gy, x, w_shape, stride, padding, dilation):
    """gw (w_shape) = sum over batch and positions of gy * receptive field."""
    xp = get_array_module(gy)
    out = _check(x.shape, w_shape, stride, padding, dilation, "conv2d_backward_weight")
    _check_gy(gy, x.shape, w_shape, out, "conv2d_backward_weight")
    win = _windows(x, w_shape[2:], stride, padding, dilation, out)
    return xp.ascontiguousarray(xp.tensordot(gy, win, axes=([0, 2, 3], [0, 2, 3])))
