"""The activations beyond the core ops' relu/leaky_relu/sigmoid/tanh: one
Function each, forward on arrays, derivative written once.

Every forward is written so that nothing overflows for any input (exp only
of non-positive numbers, log1p of numbers in (0, 1]).  The backwards use the
NumPy subset that TensorMath speaks, so create_graph records them and each
of these is twice differentiable.  Three things that subset lacks, tanh,
the logistic sigmoid and the normal CDF, come from the small helpers below:
on arrays they are computed directly, on Tensors (create_graph) they are
recorded through a differentiable op.
"""
import math

import numpy as np

from .. import ops
from ..autograd.function import Function
from ..backend import get_array_module
from ..tensor import Tensor

__all__ = ["Elu", "Gelu", "Silu", "Softplus", "Hardtanh", "Mish", "LogSigmoid", "Softsign",
           "NormalCdf"]

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_GELU_CUBIC = 0.044715


# --------------------------------------------------------------------------
# helpers: arrays, or Tensors under create_graph
# --------------------------------------------------------------------------


def _abs(xp, x):
    # d|x| = +-1 dx with +1 at 0 (x * sign(x) would give 0 there, and the
    # second derivative of silu/softplus/logsigmoid/mish at 0 with it)
    return xp.where(x >= 0, x, -x)


def _sigmoid(xp, x):
    """1 / (1 + exp(-x)) from e = exp(-|x|) <= 1: no overflow, and exact tails
    (sigmoid(-50) = 2e-22, not 0)."""
    e = xp.exp(-_abs(xp, x))
    return xp.where(x >= 0, 1.0, e) / (1 + e)


def _softplus(xp, x):
    """log(1 + exp(x)) = max(x, 0) + log(1 + exp(-|x|))."""
    e = xp.exp(-_abs(xp, x))
    log1p = xp.log(1 + e) if isinstance(e, Tensor) else xp.log1p(e)
    return xp.where(x >= 0, x, 0.0) + log1p     # x >= 0: the side _abs takes at 0


def _tanh(xp, x):
    return ops.tanh(x) if isinstance(x, Tensor) else xp.tanh(x)


def _erfc(x):
    if isinstance(x, (np.ndarray, np.generic)):     # NumPy (0-d results are scalars)
        from scipy.special import erfc
    else:
        from cupyx.scipy.special import erfc
    return erfc(x)


def _normal_cdf(xp, x):
    """Phi(x) = erfc(-x / sqrt(2)) / 2 (erfc keeps the lower tail's digits)."""
    return NormalCdf.apply(x) if isinstance(x, Tensor) else 0.5 * _erfc(x * -math.sqrt(0.5))


def _normal_pdf(xp, x):
    with np.errstate(over="ignore"):    # x * x = inf for a huge x: exp(-inf) = 0, as meant
        return xp.exp(-0.5 * x * x) * _INV_SQRT_2PI


class NormalCdf(Function):
    """Phi(x), the standard normal CDF; d/dx = phi(x).  GELU's backward
    records it under create_graph (TensorMath has no erf)."""

    def forward(self, x):
        self.save_for_backward(x)
        return (0.5 * _erfc(x * -math.sqrt(0.5))).astype(x.dtype, copy=False)

    def backward(self, xp, gy):
        x, = self.saved_tensors
        return gy * _normal_pdf(xp, x)


# --------------------------------------------------------------------------
# the activations
# --------------------------------------------------------------------------


class Elu(Function):
    """scale * (x if x > 0 else alpha * (exp(input_scale * x) - 1)): ELU
    (scale = input_scale = 1), SELU and CELU (input_scale = 1 / alpha), as
    PyTorch's one kernel.  At x = 0 the slope is the left one,
    scale * alpha * input_scale, as in PyTorch."""

    def forward(self, x, *, alpha, scale, input_scale):
        xp = get_array_module(x)
        self.save_for_backward(x)
        self.alpha, self.scale, self.input_scale = alpha, scale, input_scale
        neg = alpha * xp.expm1(xp.minimum(x, 0) * input_scale)
        return (xp.where(x > 0, x, neg) * scale).astype(x.dtype, copy=False)

    def backward(self, xp, gy):
        x, = self.saved_tensors
        slope = self.scale * self.alpha * self.input_scale
        return gy * xp.where(x > 0, self.scale,
                             # x >= 0 inside: the same value at 0, and a second
                             # derivative of 0 there, as PyTorch's
                             slope * xp.exp(xp.where(x >= 0, 0.0, x) * self.input_scale))


class Gelu(Function):
    """x * Phi(x) (approximate='none'), or PyTorch's tanh approximation
    0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).  The cube may overflow
    to inf for a huge x: tanh(inf) = 1 is the value meant."""

    def forward(self, x, *, approximate):
        xp = get_array_module(x)
        self.save_for_backward(x)
        self.approximate = approximate
        if approximate == "tanh":
            with np.errstate(over="ignore"):
                y = 0.5 * x * (1 + xp.tanh(_SQRT_2_OVER_PI * (x + _GELU_CUBIC * x * x * x)))
        else:
            y = x * _normal_cdf(xp, x)
        return y.astype(x.dtype, copy=False)

    def backward(self, xp, gy):
        x, = self.saved_tensors
        if self.approximate == "tanh":
            with np.errstate(over="ignore"):
                t = _tanh(xp, _SQRT_2_OVER_PI * (x + _GELU_CUBIC * x * x * x))
            # where tanh is saturated (|t| = 1) the second term is 0: computed with
            # x = 0 there, not as 0 * inf = nan (PyTorch's nan for |x| > ~1e13)
            xs = xp.where(t * t < 1, x, 0.0)
            dinner = _SQRT_2_OVER_PI * (1 + 3 * _GELU_CUBIC * xs * xs)
            return gy * (0.5 * (1 + t) + 0.5 * xs * (1 - t * t) * dinner)
        return gy * (_normal_cdf(xp, x) + x * _normal_pdf(xp, x))


class Silu(Function):
    """x * sigmoid(x); d/dx = s (1 + x (1 - s))."""

    def forward(self, x):
        self.save_for_backward(x)
        return x * _sigmoid(get_array_module(x), x)

    def backward(self, xp, gy):
        x, = self.saved_tensors
        s = _sigmoid(xp, x)
        return gy * s * (1 + x * (1 - s))


class Softplus(Function):
    """log(1 + exp(beta x)) / beta, and x itself where beta x > threshold
    (PyTorch's switch to the linear function); d/dx = sigmoid(beta x) (1 there)."""

    def forward(self, x, *, beta, threshold):
        xp = get_array_module(x)
        self.save_for_backward(x)
        self.beta, self.threshold = beta, threshold
        bx = x * beta
        return xp.where(bx > threshold, x, _softplus(xp, bx) / beta).astype(x.dtype, copy=False)

    def backward(self, xp, gy):
        x, = self.saved_tensors
        bx = x * self.beta
        return gy * xp.where(bx > self.threshold, 1.0, _sigmoid(xp, bx))


class Hardtanh(Function):
    """x clamped to [min_val, max_val]; the slope is 1 strictly inside and 0
    at and beyond the bounds (PyTorch's; clamp's is 1 at the bounds)."""

    def forward(self, x, *, min_val, max_val):
        xp = get_array_module(x)
        self.save_for_backward(x)
        self.bounds = (min_val, max_val)
        return xp.clip(x, min_val, max_val).astype(x.dtype, copy=False)

    def backward(self, xp, gy):
        x, = self.saved_tensors
        lo, hi = self.bounds
        return xp.where(x > lo, xp.where(x < hi, gy, 0.0), 0.0)


class Mish(Function):
    """x * tanh(softplus(x)); d/dx = t + x sigmoid(x) (1 - t^2), t = tanh(softplus(x))."""

    def forward(self, x):
        xp = get_array_module(x)
        self.save_for_backward(x)
        return x * xp.tanh(_softplus(xp, x))

    def backward(self, xp, gy):
        x, = self.saved_tensors
        t = _tanh(xp, _softplus(xp, x))
        return gy * (t + x * _sigmoid(xp, x) * (1 - t * t))


class LogSigmoid(Function):
    """log(sigmoid(x)) = -softplus(-x); d/dx = sigmoid(-x)."""

    def forward(self, x):
        self.save_for_backward(x)
        return -_softplus(get_array_module(x), -x)

    def backward(self, xp, gy):
        x, = self.saved_tensors
        return gy * _sigmoid(xp, -x)


class Softsign(Function):
    """x / (1 + |x|); d/dx = 1 / (1 + |x|)^2."""

    def forward(self, x):
        self.save_for_backward(x)
        return x / (1 + get_array_module(x).abs(x))

    def backward(self, xp, gy):
        x, = self.saved_tensors
        d = 1 + _abs(xp, x)
        return gy / d / d       # not / (d * d): that overflows for |x| > 1e19 (float32)
