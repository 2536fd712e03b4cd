"""batch_norm, dropout, dropout2d: Functions over the fused kernels.

* batch norm: ``kernels.batch_norm_forward/backward`` (csrc/norm.pyx, twin
  kernels/ref_norm.py); the running statistics are updated in place by the
  forward kernel, outside the graph.
* dropout: ``kernels.dropout_forward/backward`` (csrc/elementwise.pyx, twin
  kernels/ref_elementwise.py); the mask comes from the engine's generator
  (``tinygrad_kr.random.get_rng``), so ``manual_seed`` reproduces it, and is
  kept as uint8 for backward.
"""
import math
import warnings

from .. import kernels
from ..autograd.function import Function
from ..random import get_rng
from ..tensor import Tensor

__all__ = ["batch_norm", "dropout", "dropout2d"]


def _data(t):
    return None if t is None else t.array


class BatchNorm(Function):
    """Per-channel normalisation; inputs x, weight, bias (the last two may be None).
    Under create_graph the gradients are written with recorded ops, the batch
    statistics recomputed from x, so that they are differentiable again."""

    def forward(self, x, weight, bias, *, running_mean, running_var, training, momentum, eps):
        y, mean, invstd = kernels.batch_norm_forward(x, weight, bias, running_mean, running_var,
                                                     training, momentum, eps)
        if any(self.needs_input_grad):
            self.save_for_backward(x, weight)
            self.mean, self.invstd, self.training, self.eps = mean, invstd, training, eps
        return y

    def backward(self, xp, gy):
        x, weight = self.saved_tensors
        need_x, need_w, need_b = self.needs_input_grad
        if self._graph_mode:
            return self._graph_backward(x, weight, gy)
        gx, gweight, gbias = kernels.batch_norm_backward(gy, x, weight, self.mean, self.invstd,
                                                         self.training, need_x)
        return gx, (gweight if need_w else None), (gbias if need_b else None)

    def _graph_backward(self, x, weight, gy):
        """gx, gw, gb of the kernel, as recorded ops: with x_hat = (x - mean) * invstd,
        gb = sum(gy), gw = sum(gy * x_hat) and, in training (batch statistics of M
        values per channel), gx = w * invstd / M * (M gy - gb - x_hat gw); in
        evaluation (running statistics, constants) gx = w * invstd * gy."""
        axes = (0,) + tuple(range(2, x.ndim))
        channel = [1] * x.ndim      # per-channel values broadcast over the other axes
        channel[1] = x.shape[1]
        if self.training:
            mean = x.mean(axes, keepdim=True)
            centred = x - mean
            invstd = ((centred * centred).mean(axes, keepdim=True) + self.eps).rsqrt()
        else:
            dtype = x.array.dtype
            centred = x - Tensor(self.mean.astype(dtype).reshape(channel))
            invstd = Tensor(self.invstd.astype(dtype).reshape(channel))
        x_hat = centred * invstd
        gb = gy.sum(axes, keepdim=True)
        gw = (gy * x_hat).sum(axes, keepdim=True)
        scale = invstd if weight is None else invstd * weight.reshape(channel)
        need_x, need_w, need_b = self.needs_input_grad
        gx = None
        if need_x:
            if self.training:
                m = x.numel() // x.shape[1]
                gx = scale / m * (m * gy - gb - x_hat * gw)
            else:
                gx = scale * gy
        return (gx, gw.reshape(-1) if need_w else None, gb.reshape(-1) if need_b else None)


def _check_batch_size(input):
    """PyTorch refuses batch statistics of a single value per channel."""
    values_per_channel = input.shape[0] * math.prod(input.shape[2:])
    if values_per_channel == 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got input size "
                         f"{tuple(input.shape)}")


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-05):
    """Batch normalisation of (N, C) or (N, C, *) input over all dimensions but C.

    training=True: batch statistics, and running_mean/running_var (Tensors, or
    None) are updated in place with ``momentum`` and the unbiased variance.
    training=False: the running statistics are used.  nn.BatchNorm* pass the
    cumulative-average factor 1/num_batches_tracked as momentum when their
    momentum is None.
    """
    if momentum is None or isinstance(momentum, bool) or not isinstance(momentum, (int, float)):
        raise TypeError(f"batch_norm: momentum must be a float, got {momentum!r} (for a "
                        f"cumulative moving average pass 1 / num_batches_tracked, as "
                        f"nn.BatchNorm does when its momentum is None)")
    if training:
        _check_batch_size(input)
    y = BatchNorm.apply(input, weight, bias, running_mean=_data(running_mean),
                        running_var=_data(running_var), training=training,
                        momentum=float(momentum), eps=eps)
    if training and running_mean is not None and input.numel() > 0:
        running_mean._bump_version()   # updated in place by the kernel
        running_var._bump_version()
    return y


class Dropout(Function):
    """y = x * mask / (1 - p), mask drawn per block of ``block`` elements."""

    def forward(self, x, *, p, block):
        y, mask = kernels.dropout_forward(x, p, get_rng(), block)
        if self.needs_input_grad[0]:
            self.mask, self.p, self.block = mask, p, block
        return y

    def backward(self, xp, gy):
        if self._graph_mode:  # create_graph: the backward is a product with a constant
            scale = 0.0 if self.p >= 1 else 1.0 / (1.0 - self.p)
            factor = (self.mask * scale).astype(gy.dtype).reshape(-1, self.block)
            return xp.reshape(xp.reshape(gy, (-1, self.block)) * factor, gy.shape)
        return kernels.dropout_backward(gy, self.mask, self.p, self.block)


def _check_p(p):
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _apply_dropout(input, p, training, inplace, block):
    _check_p(p)
    if not training or p == 0:
        return input
    out = Dropout.apply(input, p=p, block=block)
    if inplace:
        from .functional import _inplace   # functional.py imports this module
        return _inplace(input, out)
    return out


def dropout(input, p=0.5, training=True, inplace=False):
    """Zero each element with probability p and scale the others by 1 / (1 - p)
    (training only; the identity otherwise)."""
    return _apply_dropout(input, p, training, inplace, block=1)


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels: one draw per (n, c) of (N, C, H, W) input (and,
    as in PyTorch, of (N, C, L) input, with a warning), scaled by 1 / (1 - p)."""
    ndim = input.ndim
    if ndim < 2:
        raise ValueError(f"dropout2d: feature dropout requires at least 2 dimensions in the "
                         f"input, got shape {tuple(input.shape)}")
    if ndim == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise "
                      "1D dropout behavior is desired - input is interpreted as shape (N, C, L), "
                      "where C is the channel dim. This behavior will change in a future release "
                      "to interpret the input as one without a batch dimension, i.e. shape "
                      "(C, H, W). To maintain the 1D channel-wise dropout behavior, please switch "
                      "to using dropout1d instead.", stacklevel=2)
    elif ndim != 4:
        warnings.warn(f"dropout2d: Received a {ndim}-D input to dropout2d, which is deprecated "
                      f"and will result in an error in a future release. To retain the behavior "
                      f"and silence this warning, please use dropout instead. Note that dropout2d "
                      f"exists to provide channel-wise dropout on inputs with 2 spatial "
                      f"dimensions, "
                      f"a channel dimension, and an optional batch dimension (i.e. 3D or 4D "
                      f"inputs).", stacklevel=2)
    block = math.prod(input.shape[2:]) or 1   # elements per channel (1 if the input is empty)
    return _apply_dropout(input, p, training, inplace, block=block)
