"""The core differentiable ops: each a Function (forward and backward on
arrays, derivative written once) plus a torch-named wrapper.

Backward formulas use only the NumPy API subset that ``TensorMath`` (bottom
of this file) also speaks, so ``create_graph=True`` runs the very same
formula on Tensors and records it.  Array work that has a compiled kernel
goes through ``tinygrad_kr.kernels``.
"""
import builtins
import math

import numpy as np

from . import dtypes as _dt
from . import kernels, return_types
from .autograd.function import Function, device_mismatch
from .backend import get_array_module
from .tensor import Tensor, _as_tensor

# --------------------------------------------------------------------------
# element-wise binary
# --------------------------------------------------------------------------


class Add(Function):
    def forward(self, a, b):
        return a + b

    def backward(self, xp, gy):
        return gy, gy


class Sub(Function):
    def forward(self, a, b):
        return a - b

    def backward(self, xp, gy):
        return gy, (-gy if self.needs_input_grad[1] else None)


class Mul(Function):
    def forward(self, a, b):
        # each gradient needs only the other input: keep what a wanted one
        # needs (as PyTorch), so that y[0] = y[0] * 5 is no in-place conflict
        need_a, need_b = self.needs_input_grad
        self.save_for_backward(a if need_b else None, b if need_a else None)
        return a * b

    def backward(self, xp, gy):
        a, b = self.saved_tensors
        need_a, need_b = self.needs_input_grad
        return (gy * b if need_a else None), (gy * a if need_b else None)


class Div(Function):
    def forward(self, a, b):
        self.save_for_backward(a if self.needs_input_grad[1] else None, b)
        return a / b

    def backward(self, xp, gy):
        a, b = self.saved_tensors
        ga = gy / b if self.needs_input_grad[0] else None
        gb = -gy * a / (b * b) if self.needs_input_grad[1] else None
        return ga, gb


class Pow(Function):
    """a ** b for tensors a, b (either may be a Python number)."""

    def forward(self, a, b):
        try:
            y = a ** b
        except ValueError:      # NumPy's "Integers to negative integer powers"
            y = _int_pow(a, b)
        self.save_for_backward(a, b, y)
        return y

    def backward(self, xp, gy):
        a, b, y = self.saved_tensors
        ga = gb = None
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.needs_input_grad[0]:
                # b * a**(b-1); written without dividing by a so that a == 0 works
                ga = gy * b * a ** (b - 1)
                if np.any(_data(b == 0)):   # a**0 is constant, even at a == 0 (not 0 * inf)
                    ga = xp.where(b == 0, 0, ga)
            if self.needs_input_grad[1]:
                # d/db a**b = a**b * log(a): nan for a < 0, and 0 where a == 0 and
                # b >= 0 (PyTorch's conventions)
                gb = gy * xp.where((a == 0) & (b >= 0), 0, y * xp.log(a))
        return ga, gb


def _int_pow(a, b):
    """Integer a ** b where b has negative entries: PyTorch's answer, 1 / a**|b|
    truncated (0 unless a is 1 or -1; 0 for a = 0 too)."""
    xp = get_array_module(b if isinstance(b, np.ndarray) or hasattr(b, "shape") else a)
    negative = b < 0
    y = a ** xp.where(negative, -b, b)
    return xp.where(negative & (a != 1) & (a != -1), 0, y).astype(y.dtype, copy=False)


class Maximum(Function):
    def forward(self, a, b):
        self.save_for_backward(a, b)
        return get_array_module(a).maximum(a, b)

    def backward(self, xp, gy):
        a, b = self.saved_tensors
        return _extremum_weights(gy, _data(a), _data(b), 1)


class Minimum(Function):
    def forward(self, a, b):
        self.save_for_backward(a, b)
        return get_array_module(a).minimum(a, b)

    def backward(self, xp, gy):
        a, b = self.saved_tensors
        return _extremum_weights(gy, _data(a), _data(b), -1)


def _extremum_weights(gy, a, b, sign):
    """PyTorch's gradients of maximum (sign 1) / minimum (-1): a tie splits gy
    evenly; a NaN on either side (the result) passes all of gy to both."""
    xp = get_array_module(a)
    with np.errstate(invalid="ignore"):
        half = xp.where(a == b, 0.5, 1.0).astype(_data(gy).dtype, copy=False)
        loses_a = a < b if sign > 0 else a > b
        loses_b = a > b if sign > 0 else a < b
    return gy * (half * ~loses_a), gy * (half * ~loses_b)


class Where(Function):
    """where(cond, a, b); cond is a bool array passed as an option."""

    def forward(self, a, b, *, cond):
        self.cond = cond
        return get_array_module(a).where(cond, a, b)

    def backward(self, xp, gy):
        c = self.cond
        return xp.where(c, gy, 0), xp.where(c, 0, gy)


# --------------------------------------------------------------------------
# element-wise unary
# --------------------------------------------------------------------------


class Neg(Function):
    def forward(self, x):
        return -x

    def backward(self, xp, gy):
        return -gy


class Exp(Function):
    def forward(self, x):
        y = get_array_module(x).exp(x)
        self.save_for_backward(y)
        return y

    def backward(self, xp, gy):
        y, = self.saved_tensors
        return gy * y


class Log(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return get_array_module(x).log(x)

    def backward(self, xp, gy):
        x, = self.saved_tensors
        return gy / x


class Sqrt(Function):
    def forward(self, x):
        y = get_array_module(x).sqrt(x)
        self.save_for_backward(y)
        return y

    def backward(self, xp, gy):
        y, = self.saved_tensors
        return gy / (2 * y)


class Abs(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return get_array_module(x).abs(x)

    def backward(self, xp, gy):
        x = _data(self.saved_tensors[0])
        xp_x = get_array_module(x)
        sign = xp_x.sign(x)
        if x.dtype.kind == "f":     # abs'(nan) taken as 0, as PyTorch (sgn(nan) = 0)
            sign = xp_x.where(sign != sign, 0, sign).astype(x.dtype, copy=False)
        return gy * sign


class Sin(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return get_array_module(x).sin(x)

    def backward(self, xp, gy):
        x, = self.saved_tensors
        return gy * xp.cos(x)


class Cos(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return get_array_module(x).cos(x)

    def backward(self, xp, gy):
        x, = self.saved_tensors
        return -gy * xp.sin(x)


class Tanh(Function):
    def forward(self, x):
        y = get_array_module(x).tanh(x)
        self.save_for_backward(y)
        return y

    def backward(self, xp, gy):
        y, = self.saved_tensors
        return gy * (1 - y * y)


class Sigmoid(Function):
    def forward(self, x):
        xp = get_array_module(x)
        # with e = exp(-|x|) <= 1 nothing overflows, and the tail x << 0 keeps
        # its relative precision (0.5 + 0.5 tanh(x/2) cancels there: 2e-4 off
        # at x = -10 in float32, 0 instead of 1e-304 at -700 in float64)
        e = xp.exp(-xp.abs(x))
        y = xp.where(x >= 0, 1, e) / (1 + e)
        self.save_for_backward(y)
        return y

    def backward(self, xp, gy):
        y, = self.saved_tensors
        return gy * y * (1 - y)


class ReLU(Function):
    def forward(self, x):
        y = kernels.relu_forward(x)
        self.save_for_backward(y)
        return y

    def backward(self, xp, gy):
        y, = self.saved_tensors
        if self._graph_mode:
            return gy * (y > 0)
        return kernels.relu_backward(gy, y)


class LeakyReLU(Function):
    def forward(self, x, *, negative_slope):
        self.slope = negative_slope
        self.save_for_backward(x)
        return kernels.leaky_relu_forward(x, negative_slope)

    def backward(self, xp, gy):
        x, = self.saved_tensors
        if self._graph_mode:
            return gy * xp.where(x > 0, 1.0, self.slope)
        return kernels.leaky_relu_backward(gy, x, self.slope)


class Clamp(Function):
    def forward(self, x, *, lo, hi):
        xp = get_array_module(x)
        self.mask = xp.ones(x.shape, dtype=bool)
        if lo is not None:
            self.mask &= x >= lo
        if hi is not None:
            self.mask &= x <= hi
        return xp.clip(x, lo, hi).astype(x.dtype, copy=False)

    def backward(self, xp, gy):
        return gy * self.mask


class ClampTensor(Function):
    """clamp with tensor bounds (lo or hi may be None), broadcast with x:
    min(max(x, lo), hi), NaN in any of them giving NaN.  PyTorch's gradients:
    to x where lo <= x <= hi; to lo where x < lo and lo < hi (a bound above hi
    loses to it); to hi where x > hi or hi < lo."""

    def forward(self, x, lo, hi):
        xp = get_array_module(x)
        y = x if lo is None else xp.maximum(x, lo)
        y = y if hi is None else xp.minimum(y, hi)
        need_x, need_lo, need_hi = self.needs_input_grad
        with np.errstate(invalid="ignore"):
            if need_x:
                self.inside = (True if lo is None else x >= lo) & (True if hi is None else x <= hi)
            if need_lo:
                self.below = x < lo if hi is None else (x < lo) & (lo < hi)
            if need_hi:
                self.above = x > hi if lo is None else (x > hi) | (hi < lo)
        return y

    def backward(self, xp, gy):
        need_x, need_lo, need_hi = self.needs_input_grad
        return (gy * self.inside if need_x else None, gy * self.below if need_lo else None,
                gy * self.above if need_hi else None)


# --------------------------------------------------------------------------
# reductions
# --------------------------------------------------------------------------


def _norm_dims(dim, ndim):
    """dim (None, int or tuple) -> tuple of non-negative axes, validated."""
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, (int, np.integer)):
        dim = (dim,)
    axes = []
    for d in dim:
        d = int(d)
        if not -builtins.max(ndim, 1) <= d < builtins.max(ndim, 1):
            raise IndexError(f"Dimension out of range (expected to be in range of "
                             f"[{-builtins.max(ndim, 1)}, {builtins.max(ndim, 1) - 1}], but got {d})")
        axes.append(d % builtins.max(ndim, 1))
    if len(set(axes)) != len(axes):
        raise RuntimeError(f"dim {tuple(dim)} appears multiple times in the list of dims")
    return tuple(axes) if ndim else ()


def _norm_dim(dim, ndim):
    """One dim -> its non-negative axis.  A 0-d tensor takes dim 0 or -1 (as
    0) and nothing else, as in PyTorch; ``[0]`` of ``_norm_dims`` alone would
    accept any dim there (and fail on ``()``)."""
    axes = _norm_dims(dim, ndim)
    return axes[0] if ndim else 0


def _reduce_dims(dim, ndim):
    """The axes a reduction's ``dim`` names: PyTorch reduces over all of them
    for ``None`` and also for an empty list (``sum(x, dim=())`` is a full sum,
    not NumPy's no-op)."""
    if isinstance(dim, (tuple, list)) and not len(dim):
        dim = None
    return _norm_dims(dim, ndim)


def _expand_back(xp, g, shape, axes, keepdim):
    """Reshape a reduced gradient so it broadcasts against ``shape``."""
    if g.ndim == 0 and xp is np:  # full reduction: a filled array is cheaper than a view
        full = np.empty(shape, g.dtype)
        full.fill(g)
        return full
    if not keepdim and axes:
        kept = tuple(1 if i in axes else n for i, n in enumerate(shape))
        g = xp.reshape(g, kept)
    return xp.broadcast_to(g, shape)


class Sum(Function):
    def forward(self, x, *, axes, keepdim):
        self.shape, self.axes, self.keepdim = x.shape, axes, keepdim
        return x.sum(axis=axes, keepdims=keepdim, dtype=x.dtype)   # NumPy: int32 -> int64

    def backward(self, xp, gy):
        return _expand_back(xp, gy, self.shape, self.axes, self.keepdim)


class Mean(Function):
    def forward(self, x, *, axes, keepdim):
        self.shape, self.axes, self.keepdim = x.shape, axes, keepdim
        self.count = math.prod(x.shape[a] for a in axes)
        return x.mean(axis=axes, keepdims=keepdim) if self.count else \
            get_array_module(x).full(_reduced_shape(x.shape, axes, keepdim), np.nan, x.dtype)

    def backward(self, xp, gy):
        return _expand_back(xp, gy / builtins.max(self.count, 1), self.shape, self.axes, self.keepdim)


def _reduced_shape(shape, axes, keepdim):
    if keepdim:
        return tuple(1 if i in axes else n for i, n in enumerate(shape))
    return tuple(n for i, n in enumerate(shape) if i not in axes)


class AMax(Function):
    """amax/amin over axes; the gradient is shared evenly among ties (PyTorch).
    A NaN result shares it among the NaNs with ``nan_ties`` (max()/min() of the
    whole tensor, PyTorch's evenly_distribute_backward); amax's NaN result has
    no equal entry and gives nan gradients, as PyTorch's."""

    def forward(self, x, *, axes, keepdim, minimum, nan_ties=False):
        xp = get_array_module(x)
        name = "amin" if minimum else "amax"
        if x.size == 0 and len(axes) == x.ndim:      # PyTorch's two errors, in its order
            raise RuntimeError(f"{name}(): Expected reduction dim to be specified for "
                               f"input.numel() == 0. Specify the reduction dim with the 'dim' "
                               f"argument.")
        for a in axes:
            if x.shape[a] == 0:
                raise IndexError(f"{name}(): Expected reduction dim {a} to have non-zero size.")
        y = (xp.amin if minimum else xp.amax)(x, axis=axes, keepdims=True)
        self.axes, self.keepdim, self.shape = axes, keepdim, x.shape
        mask = x == y
        if nan_ties and x.dtype.kind == "f":
            mask |= xp.isnan(x) & xp.isnan(y)
        with np.errstate(invalid="ignore"):
            self.weight = mask / mask.sum(axis=axes, keepdims=True)     # float64 from bools
        if x.dtype.kind == "f":
            self.weight = self.weight.astype(x.dtype, copy=False)
        return y if keepdim else xp.reshape(y, _reduced_shape(x.shape, axes, False))

    def backward(self, xp, gy):
        return _expand_back(xp, gy, self.shape, self.axes, self.keepdim) * self.weight


class MaxDim(Function):
    """max/min along one dim: values; the gradient goes to the chosen index."""

    def forward(self, x, *, dim, keepdim, minimum):
        xp = get_array_module(x)
        if x.shape[dim] == 0:
            raise IndexError(f"{'min' if minimum else 'max'}(): Expected reduction dim {dim} "
                             f"to have non-zero size (shape {tuple(x.shape)})")
        idx = (xp.argmin if minimum else xp.argmax)(x, axis=dim, keepdims=True)
        self.idx, self.dim, self.keepdim, self.shape = idx, dim, keepdim, x.shape
        y = xp.take_along_axis(x, idx, axis=dim)
        return y if keepdim else xp.squeeze(y, axis=dim)

    def backward(self, xp, gy):
        g = gy if self.keepdim else xp.expand_dims(gy, self.dim)
        return xp.put_along_axis_grad(g, self.idx, self.shape, self.dim) \
            if xp is TensorMath else _scatter_along(xp, g, self.idx, self.shape, self.dim)


def _scatter_along(xp, g, idx, shape, dim):
    out = xp.zeros(shape, dtype=g.dtype)
    xp.put_along_axis(out, idx, g, axis=dim)
    return out


class Var(Function):
    """Variance over axes with ``correction`` (1: Bessel's).  Backward
    recomputes x - mean from the saved x: kept as an array it would be a
    constant under create_graph, and the second derivative would be lost.
    With no degrees of freedom left (n <= correction) the gradient is
    PyTorch's: for a full reduction inf off the mean and nan on it, along
    dims 2 / (n - correction) even where that is infinite or negative."""

    def forward(self, x, *, axes, keepdim, correction, full=False):
        self.axes, self.keepdim, self.shape, self.full = axes, keepdim, x.shape, full
        n = math.prod(x.shape[a] for a in axes)
        self.dof = n - correction
        self.save_for_backward(x)
        centered = x - x.mean(axis=axes, keepdims=True) if n else x
        with np.errstate(divide="ignore", invalid="ignore"):
            ss = (centered * centered).sum(axis=axes, keepdims=keepdim)
            # no degrees of freedom left: ss / 0, nan for a single value (as PyTorch)
            return (ss / x.dtype.type(builtins.max(self.dof, 0))).astype(x.dtype, copy=False)

    def backward(self, xp, gy):
        x = self.saved_tensors[0]
        return self._var_grad(xp, x, _expand_back(xp, gy, self.shape, self.axes, self.keepdim))

    def _var_grad(self, xp, x, g):
        n = math.prod(self.shape[a] for a in self.axes)
        centered = x - xp.sum(x, axis=self.axes, keepdims=True) / n if n else x
        if self.full and self.dof <= 0:
            on_mean = _data(centered) == 0
            return g * get_array_module(on_mean).where(on_mean, np.nan, np.inf).astype(
                _data(x).dtype)
        with np.errstate(divide="ignore", invalid="ignore"):
            return g * centered * (2.0 / self.dof if self.dof else np.inf)


class Std(Var):
    """sqrt(var), one node: the gradient is var's times gy / (2 std), taken
    as 0 where the std is 0 (PyTorch's choice; through sqrt it is 0 * inf =
    nan for a constant slice)."""

    def forward(self, x, **options):
        y = get_array_module(x).sqrt(super().forward(x, **options))
        self.save_for_backward(x, y)
        return y

    def backward(self, xp, gy):
        x, y = self.saved_tensors
        zero = _data(y) == 0
        with np.errstate(divide="ignore", invalid="ignore"):
            g_var = xp.where(zero, 0, gy / (2 * xp.where(zero, 1, y)))
        return self._var_grad(xp, x, _expand_back(xp, g_var, self.shape, self.axes, self.keepdim))


class LogSumExp(Function):
    def forward(self, x, *, axes, keepdim):
        xp = get_array_module(x)
        m = xp.amax(x, axis=axes, keepdims=True) if x.size else xp.zeros(
            _reduced_shape(x.shape, axes, True), x.dtype)
        m = xp.where(xp.isfinite(m), m, 0)
        with np.errstate(divide="ignore"):     # log(0) = -inf: an empty or all -inf slice
            y = xp.log(xp.exp(x - m).sum(axis=axes, keepdims=True)) + m
        self.axes, self.keepdim, self.shape = axes, keepdim, x.shape
        out = y if keepdim else xp.reshape(y, _reduced_shape(x.shape, axes, False))
        self.save_for_backward(x, out)  # the output itself: create_graph differentiates it
        return out

    def backward(self, xp, gy):
        x, out = self.saved_tensors
        g = _expand_back(xp, gy, self.shape, self.axes, self.keepdim)
        return g * xp.exp(x - _expand_back(xp, out, self.shape, self.axes, self.keepdim))


class Norm(Function):
    """The 2-norm over axes.  Its gradient x / norm is taken as 0 where the
    norm is 0, as PyTorch does (through sqrt it would be 0 * inf = nan)."""

    def forward(self, x, *, axes, keepdim):
        self.axes, self.keepdim, self.shape = axes, keepdim, x.shape
        self.save_for_backward(x)
        return get_array_module(x).sqrt((x * x).sum(axis=axes, keepdims=keepdim))

    def backward(self, xp, gy):
        x, = self.saved_tensors
        n = xp.sqrt(xp.sum(x * x, axis=self.axes, keepdims=True))
        g = _expand_back(xp, gy, self.shape, self.axes, self.keepdim)
        return g * x / xp.where(n == 0, 1, n)


class PNorm(Function):
    """(sum |x|^p)^(1/p) over axes, for a p other than 2, 1, +-inf and 0.
    The gradient is PyTorch's sgn(x) |x|^(p-1) / norm^(p-1), taken as 0
    where the norm is 0 and, for p < 1, where x is 0 (as a composition of
    pows it is 0 * inf = nan there)."""

    def forward(self, x, *, p, axes, keepdim):
        xp = get_array_module(x)
        self.p, self.axes, self.keepdim, self.shape = p, axes, keepdim, x.shape
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            y = ((xp.abs(x) ** p).sum(axis=axes, keepdims=keepdim) ** (1.0 / p)).astype(x.dtype)
        self.save_for_backward(x, y)
        return y

    def backward(self, xp, gy):
        x, y = self.saved_tensors
        xd, yd = _data(x), _data(y)
        xpd = get_array_module(xd)
        flat = xpd.broadcast_to(xpd.reshape(yd == 0, _reduced_shape(self.shape, self.axes, True)),
                                self.shape)
        dead = flat | (xd == 0) if self.p < 1 else flat
        # the formula on safe values where the answer is 0 anyway, so that
        # create_graph differentiates no inf there (0 * inf = nan)
        sign = xpd.where(dead | (xd != xd), 1, xpd.sign(xd)).astype(xd.dtype, copy=False)
        x = xp.where(dead, 1, x)
        norm = xp.where(flat, 1, _expand_back(xp, y, self.shape, self.axes, self.keepdim))
        g = _expand_back(xp, gy, self.shape, self.axes, self.keepdim)
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            gx = g * sign * (x * sign) ** (self.p - 1) / norm ** (self.p - 1)
        return xp.where(dead, 0, gx)


class Softmax(Function):
    def forward(self, x, *, dim):
        xp = get_array_module(x)
        e = xp.exp(x - x.max(axis=dim, keepdims=True)) if x.size else x.copy()
        y = e / e.sum(axis=dim, keepdims=True)
        self.dim = dim
        self.save_for_backward(y)
        return y

    def backward(self, xp, gy):
        y, = self.saved_tensors
        gyy = gy * y
        return gyy - y * xp.sum(gyy, axis=self.dim, keepdims=True)


class LogSoftmax(Function):
    def forward(self, x, *, dim):
        xp = get_array_module(x)
        if x.size == 0:
            y = x.copy()
        else:
            z = x - x.max(axis=dim, keepdims=True)
            y = z - xp.log(xp.exp(z).sum(axis=dim, keepdims=True))
        self.dim = dim
        self.save_for_backward(y)
        return y

    def backward(self, xp, gy):
        y, = self.saved_tensors
        return gy - xp.exp(y) * xp.sum(gy, axis=self.dim, keepdims=True)


# --------------------------------------------------------------------------
# shapes
# --------------------------------------------------------------------------


class Reshape(Function):
    def forward(self, x, *, shape):
        self.in_shape = x.shape
        return x.reshape(shape)

    def backward(self, xp, gy):
        return xp.reshape(gy, self.in_shape)


class Permute(Function):
    def forward(self, x, *, axes):
        self.axes = axes
        return get_array_module(x).permute_dims(x, axes)

    def backward(self, xp, gy):
        return xp.permute_dims(gy, tuple(np.argsort(self.axes)))


class Expand(Function):
    def forward(self, x, *, shape):
        return get_array_module(x).broadcast_to(x, shape)

    def backward(self, xp, gy):
        return gy  # the engine sums it back to the input's shape


class Repeat(Function):
    def forward(self, x, *, reps):
        self.in_shape = (1,) * (len(reps) - x.ndim) + x.shape
        self.reps = reps
        return get_array_module(x).tile(x, reps)

    def backward(self, xp, gy):
        # view (r0, s0, r1, s1, ...) and sum the repeat axes
        split = []
        for r, s in zip(self.reps, self.in_shape):
            split += [r, s]
        g = xp.reshape(gy, tuple(split))
        g = xp.sum(g, axis=tuple(range(0, len(split), 2)), keepdims=False)
        return g


class Cat(Function):
    def forward(self, *xs, dim):
        self.dim = dim
        self.sizes = [x.shape[dim] for x in xs]
        return get_array_module(xs[0]).concatenate(xs, axis=dim)

    def backward(self, xp, gy):
        out, start = [], 0
        for size, need in zip(self.sizes, self.needs_input_grad):
            if need:
                idx = (slice(None),) * self.dim + (slice(start, start + size),)
                out.append(gy[idx])
            else:
                out.append(None)
            start += size
        return tuple(out)


class GetItem(Function):
    """x[index]; backward scatters (adds) into zeros, so repeated integer
    indices accumulate."""

    def forward(self, x, *, index):
        self.index, self.in_shape = index, x.shape
        return x[index]

    def backward(self, xp, gy):
        if xp is TensorMath:
            return IndexAdd.apply(gy, shape=self.in_shape, index=self.index)
        return _index_add(gy, self.in_shape, self.index)


def _index_add(gy, shape, index):
    xp = get_array_module(gy)
    g = xp.zeros(shape, dtype=gy.dtype)
    if _is_basic_index(index):
        g[index] = gy  # a view: no duplicates possible
    else:
        xp.add.at(g, index, gy)
    return g


def _is_basic_index(index):
    items = index if isinstance(index, tuple) else (index,)
    return all(i is None or i is Ellipsis or isinstance(i, (int, np.integer, slice))
               for i in items)


class SetItem(Function):
    """x with x[index] = v, as a new array: what ``y[index] = v`` records when
    a gradient flows through it.  The overwritten entries pass no gradient
    back to x; v gets the gradient of the entries it wrote."""

    def forward(self, x, v, *, index):
        y = x.copy()
        _assign(y, index, v)
        self.index, self.v_ndim = index, getattr(v, "ndim", 0)
        return y

    def backward(self, xp, gy):
        gx = None
        if self.needs_input_grad[0]:    # gy with the written entries zeroed (no mask kept)
            if xp is TensorMath:
                gx = SetItem.apply(gy, 0.0, index=self.index)
            else:
                gx = xp.array(gy, copy=True)   # (a 0-d gy may come as a NumPy scalar)
                gx[self.index] = 0
        gv = None
        if self.needs_input_grad[1]:
            gv = gy[self.index]
            if gv.ndim < self.v_ndim:   # v had leading 1s that assignment dropped
                gv = xp.reshape(gv, (1,) * (self.v_ndim - gv.ndim) + tuple(gv.shape))
        return gx, gv


def _assign(y, index, v):
    """``y[index] = v`` with PyTorch's broadcasting, where a value may also
    have more leading 1s than the target has dims (NumPy refuses to write a
    (1,) array into one element)."""
    try:
        y[index] = v
        return
    except ValueError:
        shape = getattr(v, "shape", ())
    lead = 0
    while lead < len(shape) and shape[lead] == 1:
        lead += 1
    try:
        if not lead:
            raise ValueError
        y[index] = v.reshape(shape[lead:])
    except ValueError:
        raise RuntimeError(f"shape mismatch: value tensor of shape {list(shape)} cannot be "
                           f"broadcast to indexing result of shape {list(y[index].shape)}") from None


class IndexAdd(Function):
    """The transpose of GetItem (used when differentiating GetItem's backward)."""

    def forward(self, g, *, shape, index):
        self.index = index
        return _index_add(g, shape, index)

    def backward(self, xp, gy):
        return gy[self.index]


class MatMul(Function):
    """matmul with NumPy/PyTorch semantics (1-D, 2-D, batched, broadcast).

    The 2-D case, the hot one, runs on the GEMM kernel with transpose flags:
    ``ga = gy @ b.T`` and ``gb = a.T @ gy`` make no transposed copies."""

    def forward(self, a, b):
        self.save_for_backward(a, b)
        if a.ndim == 2 and b.ndim == 2 and a.dtype.char in "fd":   # the GEMM kernel's dtypes
            return kernels.gemm(a, b)
        return get_array_module(a).matmul(a, b)     # integers, float16, 1-D and batched

    def backward(self, xp, gy):
        a, b = self.saved_tensors
        need_a, need_b = self.needs_input_grad
        if a.ndim == 2 and b.ndim == 2 and not self._graph_mode and a.dtype.char in "fd":
            ga = kernels.gemm(gy, b, False, True) if need_a else None
            gb = kernels.gemm(a, gy, True, False) if need_b else None
            return ga, gb
        # promote 1-D operands as matmul does, then undo it on the gradients
        a2 = xp.reshape(a, (1,) + a.shape) if a.ndim == 1 else a
        b2 = xp.reshape(b, b.shape + (1,)) if b.ndim == 1 else b
        g = gy
        if a.ndim == 1:
            g = xp.expand_dims(g, -2 if b.ndim > 1 else 0)
        if b.ndim == 1:
            g = xp.expand_dims(g, -1)
        ga = gb = None
        if need_a:
            ga = xp.matmul(g, xp.swapaxes(b2, -1, -2))
            if a.ndim == 1:
                ga = xp.reshape(xp.sum(ga, axis=tuple(range(ga.ndim - 1))), a.shape) \
                    if ga.ndim > 1 else ga
        if need_b:
            gb = xp.matmul(xp.swapaxes(a2, -1, -2), g)
            if b.ndim == 1:
                gb = xp.reshape(xp.sum(gb, axis=tuple(range(gb.ndim - 2)) + (gb.ndim - 1,)),
                                b.shape)
        return ga, gb


# --------------------------------------------------------------------------
# TensorMath: the NumPy API subset used by backward formulas, on Tensors.
# --------------------------------------------------------------------------


class TensorMath:
    """Stands in for ``numpy`` while ``create_graph=True`` differentiates a
    backward formula: same names and arguments, but every call records."""

    @staticmethod
    def exp(x):
        return Exp.apply(x)

    @staticmethod
    def log(x):
        return Log.apply(x)

    @staticmethod
    def sin(x):
        return Sin.apply(x)

    @staticmethod
    def sqrt(x):
        return Sqrt.apply(x)

    @staticmethod
    def cos(x):
        return Cos.apply(x)

    @staticmethod
    def sign(x):
        return Tensor(get_array_module(_data(x)).sign(_data(x)))

    @staticmethod
    def where(cond, a, b):
        cond = _data(cond)
        like = a if isinstance(a, Tensor) else b
        a, b = _as_tensor(a, like), _as_tensor(b, like)
        return Where.apply(a, b, cond=cond)

    @staticmethod
    def sum(x, axis=None, keepdims=False):
        axes = _norm_dims(axis, x.ndim)
        return Sum.apply(x, axes=axes, keepdim=keepdims)

    @staticmethod
    def reshape(x, shape):
        return Reshape.apply(x, shape=tuple(shape))

    @staticmethod
    def broadcast_to(x, shape):
        return Expand.apply(x, shape=tuple(shape))

    @staticmethod
    def expand_dims(x, axis):
        return unsqueeze(x, axis)

    @staticmethod
    def permute_dims(x, axes):
        return Permute.apply(x, axes=tuple(int(a) for a in axes))

    @staticmethod
    def swapaxes(x, a, b):
        return transpose(x, a, b)

    @staticmethod
    def matmul(a, b):
        return MatMul.apply(a, b)

    @staticmethod
    def cumsum(x, axis):
        return CumSum.apply(x, dim=axis)

    @staticmethod
    def cumprod(x, axis):
        return CumProd.apply(x, dim=axis)

    @staticmethod
    def flip(x, axis):
        return flip(x, axis)

    @staticmethod
    def einsum(subscripts, *operands):
        return Einsum.apply(*[_as_tensor(x, None) for x in operands], equation=subscripts)

    @staticmethod
    def put_along_axis_grad(g, idx, shape, dim):
        return IndexAdd.apply(g, shape=shape, index=_along_axis_index(idx, shape, dim))


def _along_axis_index(idx, shape, dim):
    """The fancy index that picks ``idx`` along ``dim`` (as take_along_axis)."""
    grids = list(np.ogrid[tuple(slice(n) for n in idx.shape)])
    grids[dim] = idx
    return tuple(grids)


def _data(x):
    return x.array if isinstance(x, Tensor) else x


# --------------------------------------------------------------------------
# torch-named wrappers
# --------------------------------------------------------------------------


def _binary(cls, a, b):
    try:
        # fast paths: same-dtype tensors, or a float tensor with a Python number
        # (NumPy keeps the tensor's dtype for Python scalars, as PyTorch does)
        if isinstance(a, Tensor):
            if isinstance(b, Tensor):
                if a.array.dtype is b.array.dtype and a.array.__class__ is b.array.__class__:
                    return cls.apply(a, b)
            elif (b.__class__ is float or b.__class__ is int) and a.array.dtype.kind == "f":
                return cls.apply(a, b)
        a, b = _promote(a, b)
        return cls.apply(a, b)
    except ValueError:      # NumPy's "operands could not be broadcast": PyTorch's error
        check_broadcastable(getattr(a, "shape", ()), getattr(b, "shape", ()))
        raise


def check_broadcastable(shape_a, shape_b):
    """Raise PyTorch's RuntimeError if the shapes do not broadcast (the first
    mismatch from the right, numbered in the broadcast result's dims)."""
    shape_a, shape_b = tuple(shape_a), tuple(shape_b)
    ndim = builtins.max(len(shape_a), len(shape_b))
    for i in range(ndim - 1, -1, -1):
        offset = ndim - 1 - i
        size_a = shape_a[len(shape_a) - 1 - offset] if offset < len(shape_a) else 1
        size_b = shape_b[len(shape_b) - 1 - offset] if offset < len(shape_b) else 1
        if size_a != size_b and size_a != 1 and size_b != 1:
            raise RuntimeError(f"The size of tensor a ({size_a}) must match the size of tensor b "
                               f"({size_b}) at non-singleton dimension {i}")


def _promote(a, b):
    """Apply PyTorch's type promotion for the cases NumPy does differently:
    an integer tensor with a float tensor or Python float gives the float
    dtype (float32 by default), not float64."""
    if not isinstance(a, Tensor):
        a, b = _as_tensor(a, b), b
    if not isinstance(b, Tensor):
        b = _as_tensor(b, a)
    if a.array.__class__ is not b.array.__class__:   # before any .to(); div's rounding path
        raise device_mismatch(a, b, "operands")     # reaches no Function.apply
    da, db = a.array.dtype, b.array.dtype
    if da is not db and da != db:
        fa, fb = da.kind == "f", db.kind == "f"
        if (a.array.ndim == 0) != (b.array.ndim == 0) and _category(da) == _category(db):
            # a 0-d tensor of the other's category counts as a number: float32
            # times a float64 scalar tensor stays float32, as in PyTorch
            if a.array.ndim == 0:
                a = a.to(db)
            else:
                b = b.to(da)
        elif fa and not fb:
            b = b.to(da)
        elif fb and not fa:
            a = a.to(db)
        elif fa and fb:
            wide = np.promote_types(da, db)
            a, b = a.to(wide), b.to(wide)
    return a, b


def _category(dtype):
    """PyTorch's promotion categories: bool < integer < floating point."""
    return 0 if dtype.kind == "b" else 2 if dtype.kind == "f" else 1


def _result_dtype(da, db):
    """PyTorch's promotion of two tensor dtypes: a float dtype wins over an
    integer one as it is (float32 with int64 is float32, where NumPy gives
    float64); otherwise the wider of the two."""
    if (da.kind == "f") != (db.kind == "f"):
        return da if da.kind == "f" else db
    return np.promote_types(da, db)


def promote_types(type1, type2):
    """The dtype PyTorch promotes two dtypes to (float16 with int64 is float16)."""
    return _result_dtype(np.dtype(type1), np.dtype(type2))


def result_type(tensor1, tensor2):
    """The dtype of an arithmetic op on ``tensor1`` and ``tensor2`` (Tensors or
    Python numbers), by PyTorch's rules: a tensor with dimensions decides over a
    0-d tensor, which decides over a number, unless the lower one is of a
    higher category (bool < integer < floating point)."""
    return _result_type_of(tensor1, tensor2)


def _result_type_of(*operands):
    """result_type for any number of operands."""
    dims = zero = number = None
    for x in operands:
        if isinstance(x, Tensor):
            d = x.array.dtype
            if x.array.ndim:
                dims = d if dims is None else _result_dtype(dims, d)
            else:
                zero = d if zero is None else _result_dtype(zero, d)
        else:
            d = np.dtype(bool) if isinstance(x, (bool, np.bool_)) else \
                np.dtype(np.int64) if isinstance(x, (int, np.integer)) else _dt.get_default_dtype()
            number = d if number is None else _result_dtype(number, d)
    return _combine_categories(_combine_categories(dims, zero), number)


def _combine_categories(higher, lower):
    if higher is None:
        return lower
    if lower is None or _category(higher) >= _category(lower):
        return higher
    return _result_dtype(higher, lower)


def can_cast(from_, to):
    """Whether PyTorch's casting rules allow ``from_`` -> ``to`` in an in-place
    op: not floating point to integer, not anything else to bool."""
    return _category(np.dtype(from_)) <= _category(np.dtype(to))


def add(input, other, *, alpha=1):
    if alpha != 1:
        other = mul(other, alpha)
    return _binary(Add, input, other)


def sub(input, other, *, alpha=1):
    if alpha != 1:
        other = mul(other, alpha)
    return _binary(Sub, input, other)


def mul(input, other):
    return _binary(Mul, input, other)


def div(input, other, *, rounding_mode=None):
    if rounding_mode is not None:
        a, b = _promote(input, other)
        xp = get_array_module(a.array)
        if a.array.dtype.kind in "biu" and b.array.dtype.kind in "biu" and not b.array.all():
            raise RuntimeError("ZeroDivisionError: integer division by zero")
        q = _rounded_quotient(xp, a.array, b.array, rounding_mode)
        return Tensor(q.astype(np.result_type(a.array, b.array), copy=False))
    if _category_of(input) < 2 and _category_of(other) < 2:
        # true division of integers gives float32; each operand converted on its
        # own, so that a uint8 tensor does not wrap a negative divisor first
        input, other = (_float(x) if isinstance(x, Tensor) else float(x) for x in (input, other))
    a, b = _promote(input, other)
    return Div.apply(a, b)


def _category_of(x):
    """0 bool, 1 integer, 2 floating point: of a Tensor's dtype or a Python number."""
    if isinstance(x, Tensor):
        return _category(x.array.dtype)
    return 0 if isinstance(x, (bool, np.bool_)) else 1 if isinstance(x, (int, np.integer)) else 2


def _rounded_quotient(xp, a, b, rounding_mode):
    """a / b rounded down ("floor") or toward zero ("trunc"), as PyTorch:
    integers exactly (not through float64), floats rounded down from fmod as
    floor_divide does (floor(a / b) is one too high where a / b rounds up to an
    integer: 1 // 0.1 is 9, as 1 % 0.1 is 0.1)."""
    with np.errstate(all="ignore"):
        if rounding_mode == "floor":
            return xp.floor_divide(a, b)
        if np.result_type(a, b).kind in "biu":
            q = xp.floor_divide(a, b)
            return xp.where((q * b != a) & ((a < 0) != (b < 0)), q + 1, q)
        return xp.trunc(a / b)


def pow(input, exponent):
    if isinstance(exponent, (int, float)) and not isinstance(input, Tensor):
        input = _as_tensor(input, None)
    if isinstance(exponent, (int, np.integer)) and not isinstance(exponent, bool) and exponent < 0 \
            and isinstance(input, Tensor) and input.array.dtype.kind in "biu":
        raise RuntimeError("Integers to negative integer powers are not allowed.")
    return _binary(Pow, input, exponent)


def maximum(input, other):
    return _binary(Maximum, input, other)


def minimum(input, other):
    return _binary(Minimum, input, other)


def where(condition, input=None, other=None):
    if input is None and other is None:
        return tuple(Tensor(i) for i in get_array_module(_data(condition)).nonzero(_data(condition)))
    cond = _data(condition)
    if getattr(cond, "dtype", None) != np.bool_:
        raise TypeError(f"where expected condition to be a boolean tensor, but got a tensor with "
                        f"dtype {getattr(cond, 'dtype', type(cond).__name__)}")
    a, b = _promote(input, other)
    if cond.__class__ is not a.array.__class__:      # an option: Function.apply cannot see it
        raise device_mismatch(a, cond, "condition")
    return Where.apply(a, b, cond=cond)


def neg(input):
    if isinstance(input, Tensor) and input.array.dtype == np.bool_:
        raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. If you "
                           "are trying to invert a mask, use the `~` or `logical_not()` operator "
                           "instead.")
    return Neg.apply(input)


def exp(input):
    return Exp.apply(_float(input))


def log(input):
    return Log.apply(_float(input))


def sqrt(input):
    return Sqrt.apply(_float(input))


def abs(input):
    if isinstance(input, Tensor) and input.array.dtype == np.bool_:
        raise NotImplementedError('"abs_cpu" not implemented for \'Bool\'')
    return Abs.apply(input)


def sin(input):
    return Sin.apply(_float(input))


def cos(input):
    return Cos.apply(_float(input))


def tanh(input):
    return Tanh.apply(_float(input))


def sigmoid(input):
    return Sigmoid.apply(_float(input))


def relu(input):
    return ReLU.apply(input)


def leaky_relu(input, negative_slope=0.01):
    return LeakyReLU.apply(input, negative_slope=negative_slope)


def clamp(input, min=None, max=None):
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        # tensor bounds take part in the result's dtype and get gradients
        bounds = [b for b in (min, max) if b is not None]
        dtype = _result_type_of(input, *bounds)
        lo, hi = (None if b is None else _as_tensor(b, input).to(dtype) for b in (min, max))
        return ClampTensor.apply(input.to(dtype), lo, hi)
    if input.array.dtype.kind != "f":
        # an integer tensor clamped to float bounds gives floats, as in PyTorch
        for bound in (min, max):
            if isinstance(bound, float):
                input = _float(input)
            elif isinstance(bound, Tensor) and bound.array.dtype.kind == "f":
                input = input.to(bound.array.dtype)
    return Clamp.apply(input, lo=_data(min), hi=_data(max))


clip = clamp


def square(input):
    if isinstance(input, Tensor) and input.array.dtype == np.bool_:
        input = input.long()    # PyTorch squares bools as int64
    return mul(input, input)


def sign(input):
    if input.array.dtype == np.bool_:
        return Clone.apply(input)
    if input.array.dtype.kind == "f":
        from .ops_math import Sgn      # sign(nan) = 0 and a zero gradient, as PyTorch
        return Sgn.apply(input)
    return Tensor(get_array_module(input.array).sign(input.array))


def _float(t):
    """Ops such as exp promote integer tensors to float32, as PyTorch does."""
    if not isinstance(t, Tensor):
        t = _as_tensor(t, None)
    return t if t.array.dtype.kind == "f" else t.float()


def _check_dim_kw(dim, axis):
    return axis if dim is None else dim


def _keepdim_kw(keepdim, keepdims):
    """PyTorch also takes NumPy's ``keepdims=`` for ``keepdim=`` (as ``axis=`` for ``dim=``)."""
    return keepdim if keepdims is None else keepdims


def sum(input, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=None):
    dim, keepdim = _check_dim_kw(dim, axis), _keepdim_kw(keepdim, keepdims)
    if dtype is not None:
        input = input.to(dtype)
    elif input.array.dtype.kind in "biu" and input.array.dtype != np.int64:
        input = input.long()  # PyTorch sums bools and ints in int64
    return Sum.apply(input, axes=_reduce_dims(dim, input.ndim), keepdim=keepdim)


def mean(input, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=None):
    dim, keepdim = _check_dim_kw(dim, axis), _keepdim_kw(keepdim, keepdims)
    if dtype is not None:
        input = input.to(dtype)
    if input.array.dtype.kind != "f":
        raise RuntimeError(f"mean(): could not infer output dtype. Input dtype must be either a "
                           f"floating point or complex dtype. Got: {input.array.dtype}")
    return Mean.apply(input, axes=_reduce_dims(dim, input.ndim), keepdim=keepdim)


def amax(input, dim=(), keepdim=False, *, axis=None, keepdims=None):
    dim, keepdim = _check_dim_kw(None if dim == () else dim, axis), _keepdim_kw(keepdim, keepdims)
    return AMax.apply(input, axes=_reduce_dims(dim, input.ndim), keepdim=keepdim, minimum=False)


def amin(input, dim=(), keepdim=False, *, axis=None, keepdims=None):
    dim, keepdim = _check_dim_kw(None if dim == () else dim, axis), _keepdim_kw(keepdim, keepdims)
    return AMax.apply(input, axes=_reduce_dims(dim, input.ndim), keepdim=keepdim, minimum=True)


def _max_or_min(input, dim, keepdim, minimum, other):
    if isinstance(dim, Tensor) or other is not None:  # torch.max(a, b) is maximum
        b = dim if other is None else other
        return minimum_(input, b) if minimum else maximum(input, b)
    if dim is None:
        if input.array.size == 0:
            raise RuntimeError(f"{'min' if minimum else 'max'}(): Expected reduction dim to be "
                               f"specified for input.numel() == 0.")
        return AMax.apply(input, axes=tuple(range(input.ndim)), keepdim=False, minimum=minimum,
                          nan_ties=True)
    d = _norm_dims(dim, input.ndim)
    d = d[0] if d else 0
    values = MaxDim.apply(input if input.ndim else input.reshape(1), dim=d, keepdim=keepdim,
                          minimum=minimum)
    xp = get_array_module(input.array)
    arg = (xp.argmin if minimum else xp.argmax)(input.array if input.ndim else input.array.reshape(1),
                                               axis=d, keepdims=keepdim)
    if not input.ndim:
        values, arg = values.reshape(()), arg.reshape(())
    result = return_types.min if minimum else return_types.max
    return result((values, Tensor(arg.astype(np.int64, copy=False))))


minimum_ = minimum


def max(input, dim=None, keepdim=False, *, other=None, axis=None, keepdims=None):
    return _max_or_min(input, _check_dim_kw(dim, axis), _keepdim_kw(keepdim, keepdims), False,
                       other)


def min(input, dim=None, keepdim=False, *, other=None, axis=None, keepdims=None):
    return _max_or_min(input, _check_dim_kw(dim, axis), _keepdim_kw(keepdim, keepdims), True,
                       other)


def argmax(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    return _arg(input, _check_dim_kw(dim, axis), _keepdim_kw(keepdim, keepdims), "argmax")


def argmin(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    return _arg(input, _check_dim_kw(dim, axis), _keepdim_kw(keepdim, keepdims), "argmin")


def _arg(input, dim, keepdim, fname):
    x = _data(input)
    xp = get_array_module(x)
    if x.size == 0:
        # PyTorch's rule: an empty input reduces only along a dimension that is
        # not itself empty (an empty result), IndexError otherwise
        if dim is None:
            raise IndexError(f"{fname}(): Expected reduction dim to be specified for "
                             f"input.numel() == 0.")
        d = _norm_dims(dim, x.ndim)[0]
        if x.shape[d] == 0:
            raise IndexError(f"{fname}(): Expected reduction dim {d} to have non-zero size.")
        shape = tuple(1 if k == d else n for k, n in enumerate(x.shape)) if keepdim \
            else x.shape[:d] + x.shape[d + 1:]
        return Tensor(xp.zeros(shape, dtype=np.int64))
    if dim is None:
        r = getattr(xp, fname)(x.reshape(-1))
        if keepdim:
            r = xp.reshape(r, (1,) * x.ndim)
    else:
        d = _norm_dim(dim, x.ndim)
        r = getattr(xp, fname)(x, axis=d, keepdims=keepdim) if x.ndim else xp.asarray(0)
    return Tensor(xp.asarray(r, dtype=np.int64))


def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None,
        keepdims=None, _node=Var):
    dim, keepdim = _check_dim_kw(dim, axis), _keepdim_kw(keepdim, keepdims)
    if unbiased is not None and correction is not None:
        raise ValueError("var: pass either unbiased or correction, not both")
    if isinstance(dim, bool):  # torch.var(x, False) means unbiased=False
        unbiased, dim = dim, None
    c = correction if correction is not None else (1 if unbiased in (None, True) else 0)
    if input.array.dtype.kind != "f":
        raise RuntimeError("std and var only support floating point and complex dtypes")
    return _node.apply(input, axes=_reduce_dims(dim, input.ndim), keepdim=keepdim, correction=c,
                       full=dim is None or not input.ndim)


def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None,
        keepdims=None):
    return var(input, dim, unbiased, keepdim, correction=correction, axis=axis,
               keepdims=keepdims, _node=Std)


def logsumexp(input, dim, keepdim=False):
    return LogSumExp.apply(_float(input), axes=_reduce_dims(dim, input.ndim), keepdim=keepdim)


def softmax(input, dim=None, dtype=None):
    input = input.to(dtype) if dtype is not None else _float(input)
    return Softmax.apply(input, dim=_softmax_dim(input, dim))


def log_softmax(input, dim=None, dtype=None):
    input = input.to(dtype) if dtype is not None else _float(input)
    return LogSoftmax.apply(input, dim=_softmax_dim(input, dim))


def _softmax_dim(x, dim):
    if dim is None:  # PyTorch's legacy implicit choice
        dim = 0 if x.ndim in (0, 1, 3) else 1
    return _norm_dim(dim, x.ndim)


def norm(input, p="fro", dim=None, keepdim=False):
    """Vector p-norm (p = 2/'fro', 1, inf, -inf, 0 or any other number)."""
    if p in ("fro", 2, 2.0):
        return Norm.apply(_float(input), axes=_reduce_dims(dim, input.ndim), keepdim=keepdim)
    if p == 1:
        return sum(abs(input), dim, keepdim)
    if p in (float("inf"), "inf"):
        return amax(abs(input), dim if dim is not None else (), keepdim)
    if p in (float("-inf"), "-inf"):
        return amin(abs(input), dim if dim is not None else (), keepdim)
    if p == 0:      # the number of nonzero entries (its gradient is zero: not recorded)
        x = _float(input)
        return Tensor(sum(Tensor(x.array != 0), dim, keepdim).array.astype(x.array.dtype))
    axes = _reduce_dims(dim, input.ndim)
    if p < 0 and any(input.shape[a] == 0 for a in axes):
        raise RuntimeError(f"linalg.vector_norm cannot compute the {p} norm on an empty tensor "
                           f"because the operation does not have an identity")
    return PNorm.apply(_float(input), p=float(p), axes=axes, keepdim=keepdim)


# shapes ------------------------------------------------------------------


def _shape_arg(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list, np.ndarray)):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)


def _infer_shape(shape, numel, old):
    """Resolve one -1 in ``shape``; raise naming both shapes on mismatch."""
    if shape.count(-1) > 1:
        raise RuntimeError("only one dimension can be inferred")
    if -1 in shape:
        known = math.prod(s for s in shape if s != -1)
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel} "
                               f"(tensor of shape {list(old)})")
        shape = tuple(numel // known if s == -1 else s for s in shape)
    if math.prod(shape) != numel or any(s < 0 for s in shape):
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel} "
                           f"(tensor of shape {list(old)})")
    return shape


def reshape(input, *shape):
    shape = _infer_shape(_shape_arg(shape), input.array.size, input.shape)
    if shape == input.shape:
        return input if not input.requires_grad else Reshape.apply(input, shape=shape)
    return Reshape.apply(input, shape=shape)


def flatten(input, start_dim=0, end_dim=-1):
    # each dim checked on its own (a modulo would take an out-of-range dim)
    s, e = _norm_dim(start_dim, input.ndim), _norm_dim(end_dim, input.ndim)
    if input.ndim == 0:
        return reshape(input, 1)
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    shape = input.shape[:s] + (math.prod(input.shape[s:e + 1]),) + input.shape[e + 1:]
    return Reshape.apply(input, shape=shape)


def squeeze(input, dim=None):
    if dim is None:
        shape = tuple(n for n in input.shape if n != 1)
    else:
        dims = _norm_dims(dim, input.ndim)
        shape = tuple(n for i, n in enumerate(input.shape) if not (i in dims and n == 1))
    return Reshape.apply(input, shape=shape)


def unsqueeze(input, dim):
    nd = input.ndim + 1
    if not -nd <= dim < nd:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-nd}, {nd - 1}], "
                         f"but got {dim})")
    dim %= nd
    return Reshape.apply(input, shape=input.shape[:dim] + (1,) + input.shape[dim:])


def permute(input, *dims):
    dims = _shape_arg(dims)
    if len(dims) != input.ndim:
        raise RuntimeError(f"permute(sparse_coo): number of dimensions in the tensor input does "
                           f"not match the length of the desired ordering of dimensions i.e. "
                           f"input.dim() = {input.ndim} is not equal to len(dims) = {len(dims)}")
    return Permute.apply(input, axes=_norm_dims(dims, input.ndim))


def transpose(input, dim0, dim1):
    axes = list(range(input.ndim))
    d0, d1 = _norm_dim(dim0, input.ndim), _norm_dim(dim1, input.ndim)
    if axes:
        axes[d0], axes[d1] = axes[d1], axes[d0]
    return Permute.apply(input, axes=tuple(axes))


swapaxes = transpose


def t(input):
    if input.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {input.ndim}D")
    return transpose(input, 0, 1) if input.ndim == 2 else input


def expand(input, *sizes):
    sizes = _shape_arg(sizes)
    if len(sizes) < input.ndim:
        raise RuntimeError(f"expand: the number of sizes provided ({len(sizes)}) must be greater "
                           f"or equal to the number of dimensions in the tensor ({input.ndim})")
    lead = len(sizes) - input.ndim
    shape = tuple(input.shape[i - lead] if s == -1 else s for i, s in enumerate(sizes))
    for i, n in enumerate(input.shape):
        if n != 1 and n != shape[lead + i]:
            raise RuntimeError(f"The expanded size of the tensor ({shape[lead + i]}) must match "
                               f"the existing size ({n}) at non-singleton dimension {lead + i}. "
                               f"Target sizes: {list(sizes)}. Tensor sizes: {list(input.shape)}")
    return Expand.apply(input, shape=shape)


def broadcast_to(input, shape):
    return expand(input, *shape)


def repeat(input, *sizes):
    reps = _shape_arg(sizes)
    if len(reps) < input.ndim:
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number "
                           "of dimensions of tensor")
    return Repeat.apply(input, reps=reps)


def cat(tensors, dim=0):
    tensors = [t for t in tensors]
    if not tensors:
        raise RuntimeError("torch.cat(): expected a non-empty list of Tensors")
    # PyTorch skips legacy 1-D empty tensors
    nonempty = [t for t in tensors if not (t.ndim == 1 and t.shape[0] == 0)] or tensors[:1]
    ref = nonempty[0]
    for i, t in enumerate(tensors):
        if not t.ndim:
            raise RuntimeError(f"zero-dimensional tensor (at position {i}) cannot be concatenated")
    d = _norm_dims(dim, ref.ndim)[0]
    for i, t in enumerate(nonempty):
        if t.ndim != ref.ndim or any(a != b for j, (a, b) in enumerate(zip(t.shape, ref.shape))
                                     if j != d):
            raise RuntimeError(f"Sizes of tensors must match except in dimension {d}. "
                               f"Expected size {list(ref.shape)} but got size {list(t.shape)} "
                               f"for tensor number {i} in the list.")
    dtype = ref.array.dtype
    for t in nonempty[1:]:
        dtype = _result_dtype(dtype, t.array.dtype)
    return Cat.apply(*[t.to(dtype) for t in nonempty], dim=d)


concat = concatenate = cat


def stack(tensors, dim=0):
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    shape = tensors[0].shape
    _norm_dim(dim, len(shape) + 1)     # PyTorch checks the dim first
    for i, t in enumerate(tensors):
        if t.shape != shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got "
                               f"{list(shape)} at entry 0 and {list(t.shape)} at entry {i}")
    return cat([unsqueeze(t, dim) for t in tensors], dim)


def split(tensor, split_size_or_sections, dim=0):
    if not tensor.ndim:
        raise RuntimeError("split expects at least a 1-dimensional tensor")
    d = _norm_dims(dim, tensor.ndim)[0]
    n = tensor.shape[d]
    if isinstance(split_size_or_sections, int):
        step = split_size_or_sections
        if step < 0:
            raise RuntimeError(f"split expects split_size be non-negative, but got "
                               f"split_size={step}")
        if step == 0 and n:
            raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got "
                               f"dimension size of {n}")
        sizes = [builtins.min(step, n - s) for s in range(0, n, step)] if step else []
        sizes = sizes or [0]
    else:
        sizes = list(split_size_or_sections)
        if builtins.sum(sizes) != n:
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {n} "
                               f"(input tensor's size at dimension {d}), but got "
                               f"split_sizes={sizes}")
    out, start = [], 0
    for size in sizes:
        out.append(narrow(tensor, d, start, size))
        start += size
    return tuple(out)


def chunk(input, chunks, dim=0):
    if not input.ndim:
        raise RuntimeError("chunk expects at least a 1-dimensional tensor")
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    d = _norm_dims(dim, input.ndim)[0]
    n = input.shape[d]
    if n == 0:      # PyTorch gives ``chunks`` empty pieces here
        return tuple(narrow(input, d, 0, 0) for _ in range(chunks))
    return split(input, -(-n // chunks), d)


def narrow(input, dim, start, length):
    if not input.ndim:
        raise RuntimeError("narrow() cannot be applied to a 0-dim tensor.")
    d = _norm_dims(dim, input.ndim)[0]
    size = input.shape[d]
    start = int(start.item()) if isinstance(start, Tensor) else int(start)
    if not -size <= start <= size:
        raise IndexError(f"start out of range (expected to be in range of [{-size}, {size}], "
                         f"but got {start})")
    if length < 0:
        raise RuntimeError("narrow(): length must be non-negative.")
    start = start + size if start < 0 else start
    if start + length > size:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size ({size}).")
    return GetItem.apply(input, index=(slice(None),) * d + (slice(start, start + length),))


def unbind(input, dim=0):
    if not input.ndim:
        raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
    d = _norm_dims(dim, input.ndim)[0]
    return tuple(GetItem.apply(input, index=(slice(None),) * d + (i,))
                 for i in range(input.shape[d]))


def getitem(input, index):
    return GetItem.apply(input, index=_convert_index(index, input.shape))


def _convert_index(index, shape):
    """Tensors inside an index become arrays; bounds are checked up front."""
    items = index if isinstance(index, tuple) else (index,)
    out = []
    for it in items:
        if isinstance(it, Tensor):
            it = it.array
            if it.dtype == np.uint8:        # a byte tensor is a mask, as in PyTorch
                it = it.astype(bool)
            elif it.dtype not in (np.bool_, np.int64, np.int32):
                raise IndexError(f"tensors used as indices must be long, int, byte or bool "
                                 f"tensors, got {it.dtype}")
        elif isinstance(it, list):
            it = np.asarray(it) if it else np.zeros(0, np.int64)   # [] would be float64
        elif isinstance(it, slice) and it.step is not None and it.step <= 0:
            raise ValueError("step must be greater than zero (PyTorch has no negative "
                             "slicing steps; use .flip(dim))")
        if hasattr(it, "dtype") and it.dtype.kind not in "biu":
            raise IndexError(f"tensors used as indices must be long, int, byte or bool tensors, "
                             f"got {it.dtype}")
        out.append(it)
    return tuple(out) if isinstance(index, tuple) or len(out) != 1 else out[0]


def matmul(input, other):
    if input.ndim == 0 or other.ndim == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are "
                           f"{input.ndim}D and {other.ndim}D")
    k1 = input.shape[-1]
    k2 = other.shape[-2] if other.ndim > 1 else other.shape[0]
    if k1 != k2:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied "
                           f"({_shape_str(input.shape)} and {_shape_str(other.shape)})")
    if input.ndim > 2 and other.ndim > 2:
        try:
            np.broadcast_shapes(input.shape[:-2], other.shape[:-2])
        except ValueError:
            raise RuntimeError(f"matmul: batch dimensions of {list(input.shape)} and "
                               f"{list(other.shape)} are not broadcastable") from None
    _same_dtype_for_matmul(input.array.dtype, other.array.dtype)
    return MatMul.apply(input, other)


def _same_dtype_for_matmul(da, db):
    """PyTorch multiplies matrices of one dtype only (no promotion), and no bools."""
    if da != db:
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: "
                           f"{_c_type_name(da)} != {_c_type_name(db)}")
    if da.kind == "b":
        raise NotImplementedError("\"matmul\" not implemented for 'Bool'")


def _c_type_name(dtype):
    """The C name PyTorch's messages give a dtype (float32 -> 'float')."""
    return {"float32": "float", "float64": "double", "float16": "c10::Half", "int64": "long int",
            "int32": "int", "int16": "short int", "int8": "signed char", "uint8": "unsigned char",
            "bool": "bool"}.get(str(dtype), str(dtype))


def _shape_str(shape):
    return "x".join(str(s) for s in shape)


mm = matmul


def bmm(input, mat2):
    if input.ndim != 3 or mat2.ndim != 3:
        raise RuntimeError(f"bmm: expected 3-D tensors, got {input.ndim}-D and {mat2.ndim}-D")
    return matmul(input, mat2)


def mv(input, vec):
    if input.ndim != 2 or vec.ndim != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got 1, {input.ndim}, {vec.ndim}")
    if input.shape[1] != vec.shape[0]:
        raise RuntimeError(f"size mismatch, got input ({input.shape[0]}), mat "
                           f"({input.shape[0]}x{input.shape[1]}), vec ({vec.shape[0]})")
    return matmul(input, vec)


def dot(input, other):
    if input.ndim != 1 or other.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {input.ndim}D and {other.ndim}D tensors")
    return matmul(input, other)


def outer(input, vec2):
    return mul(unsqueeze(input, 1), unsqueeze(vec2, 0))


# --------------------------------------------------------------------------
# casts, copies, devices, gather, and a few more element-wise ops
# --------------------------------------------------------------------------


class Cast(Function):
    def forward(self, x, *, dtype):
        self.in_dtype = x.dtype
        return x.astype(dtype)

    def backward(self, xp, gy):
        return gy if self._graph_mode else gy.astype(self.in_dtype)


class Clone(Function):
    def forward(self, x):
        return x.copy()

    def backward(self, xp, gy):
        return gy


class ToDevice(Function):
    """Copy between host and GPU memory; the gradient goes back the other way."""

    def forward(self, x, *, device):
        from .backend import cupy_module
        self.src_is_host = x.__class__ is np.ndarray
        if device.type == "cpu":
            return x.get()
        cp = cupy_module()
        with cp.cuda.Device(device.index or 0):
            return cp.asarray(x)

    def backward(self, xp, gy):
        if self._graph_mode:
            return gy.to("cpu" if self.src_is_host else "cuda")
        if self.src_is_host:
            return gy.get() if gy.__class__ is not np.ndarray else gy
        from .backend import cupy_module
        return cupy_module().asarray(gy)


class Gather(Function):
    """out[i][j] = x[i][index[i][j]] along ``dim`` (torch.gather)."""

    def forward(self, x, *, dim, index):
        self.dim, self.in_shape = dim, x.shape
        self.index = _along_axis_index(index, x.shape, dim)
        return x[self.index]

    def backward(self, xp, gy):
        if xp is TensorMath:
            return IndexAdd.apply(gy, shape=self.in_shape, index=self.index)
        return _index_add(gy, self.in_shape, self.index)


def _index_along(fname, what, input, dim, index):
    """(dim normalised, index array) for gather/scatter, checked as PyTorch checks them."""
    idx = _data(index)
    if idx.dtype.kind not in "iu":
        raise RuntimeError(f"{fname}(): Expected dtype int64 for index, got {idx.dtype}")
    if idx.ndim != input.ndim:
        raise RuntimeError(f"Index tensor must have the same number of dimensions as {what} "
                           f"tensor ({idx.ndim} vs {input.ndim})")
    d = _norm_dims(dim, input.ndim)[0]
    for i, (m, n) in enumerate(zip(idx.shape, input.shape)):
        if i != d and m > n:        # (NumPy would index out of bounds: an IndexError)
            if fname == "gather":
                raise RuntimeError(f"Size does not match at dimension {i} expected index "
                                   f"{list(idx.shape)} to be no larger than self "
                                   f"{list(input.shape)} apart from dimension {d}")
            raise RuntimeError(f"Expected index {list(idx.shape)} to be no larger than self "
                               f"{list(input.shape)} apart from dimension {d}")
    # no wrap-around of negative indices: PyTorch rejects them here
    if idx.size and (idx.min() < 0 or idx.max() >= input.shape[d]):
        bad = int(idx.max()) if idx.max() >= input.shape[d] else int(idx.min())
        raise RuntimeError(f"index {bad} is out of bounds for dimension {d} with size "
                           f"{input.shape[d]}")     # PyTorch's error, RuntimeError as there
    return d, idx


def _scalar_as_vector(input, dim, index):
    """A 0-d input (and a 0-d or 1-d index) as PyTorch treats it in gather and
    scatter: a one-element vector; None when input is not 0-d."""
    if not (isinstance(input, Tensor) and input.ndim == 0):
        return None
    _norm_dims(dim, 0)                  # 0 or -1, else PyTorch's IndexError
    idx = _data(index)
    if idx.ndim > 1:
        raise RuntimeError(f"Index tensor must have the same number of dimensions as input "
                           f"tensor ({idx.ndim} vs 0)")
    return input.reshape(1), idx.reshape(-1)


def gather(input, dim, index):
    vector = _scalar_as_vector(input, dim, index)
    if vector is not None:
        return gather(vector[0], 0, vector[1]).reshape(_data(index).shape)
    d, idx = _index_along("gather", "input", input, dim, index)
    return Gather.apply(input, dim=d, index=idx)


class Log1p(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return get_array_module(x).log1p(x)

    def backward(self, xp, gy):
        x, = self.saved_tensors
        return gy / (1 + x)


class LogBase(Function):
    """log2 / log10: log(x) / log(base), differentiated once."""
    def forward(self, x, *, base):
        self.save_for_backward(x)
        self.base = base
        xp = get_array_module(x)
        return xp.log2(x) if base == 2 else xp.log10(x)

    def backward(self, xp, gy):
        x, = self.saved_tensors
        return gy / (x * math.log(self.base))


class Expm1(Function):
    def forward(self, x):
        y = get_array_module(x).expm1(x)
        self.save_for_backward(y)
        return y

    def backward(self, xp, gy):
        y, = self.saved_tensors
        return gy * (y + 1)


class CumSum(Function):
    def forward(self, x, *, dim):
        self.dim = dim
        return get_array_module(x).cumsum(x, axis=dim, dtype=x.dtype)     # NumPy: int32 -> int64

    def backward(self, xp, gy):
        # the gradient of a running sum is the running sum from the end
        total = xp.sum(gy, axis=self.dim, keepdims=True)
        return total - CumSum.apply(gy, dim=self.dim) + gy if xp is TensorMath else \
            total - xp.cumsum(gy, axis=self.dim) + gy


def log1p(input):
    return Log1p.apply(_float(input))


def log2(input):
    return LogBase.apply(_float(input), base=2)


def log10(input):
    return LogBase.apply(_float(input), base=10)


def expm1(input):
    return Expm1.apply(_float(input))


def reciprocal(input):
    return div(1.0, _float(input))


def rsqrt(input):
    return div(1.0, sqrt(input))


def cumsum(input, dim=None, dtype=None, *, axis=None):
    dim = _check_dim_kw(dim, axis)
    if dim is None:
        raise TypeError('cumsum() missing 1 required positional arguments: "dim"')
    input = _cumulative_dtype(input, dtype)
    d = _norm_dim(dim, input.ndim)
    if not input.ndim:
        return CumSum.apply(input.reshape(1), dim=0).reshape(())
    return CumSum.apply(input, dim=d)


def _cumulative_dtype(input, dtype):
    """cumsum/cumprod's dtype: the one asked for, else int64 for bools and
    integers (PyTorch's), else the input's."""
    if dtype is not None:
        return input.to(dtype)
    if input.array.dtype.kind in "biu" and input.array.dtype != np.int64:
        return input.long()
    return input


def prod(input, dim=None, keepdim=False, *, dtype=None):
    """Product as exp(sum(log|x|)) with signs would lose zeros; use a Function-free
    composition that is exact: reduce by multiplication over the unbound slices.
    Bools and integers multiply in int64, as PyTorch's."""
    if dtype is not None:
        input = input.to(dtype)
    elif input.array.dtype.kind in "biu" and input.array.dtype != np.int64:
        input = input.long()
    if dim is None:
        input, dim = input.reshape(-1), 0
    d = _norm_dim(dim, input.ndim)
    if not input.ndim:          # a 0-d tensor is its own product, shape () even with keepdim
        return Clone.apply(input)
    out = None
    for s in unbind(input, d):
        out = s if out is None else out * s
    if out is None:             # the empty product, 1, still in the graph as PyTorch's
        return Sum.apply(input, axes=(d,), keepdim=keepdim) + 1
    return unsqueeze(out, d) if keepdim else out


class CumProd(Function):
    """Running product along ``dim``.  dy_j/dx_k = y_j / x_k (j >= k), so the
    gradient is a running sum from the end of gy * y, divided by x -- before a
    slice's first zero.  At the first zero it is that sum with the zero taken
    as 1 (the product of the other factors), after it 0: PyTorch's handling,
    without dividing by zero."""

    def forward(self, x, *, dim):
        self.dim = dim
        y = get_array_module(x).cumprod(x, axis=dim, dtype=x.dtype)
        self.save_for_backward(x, y)
        self.single = x.size <= 1 or x.shape[dim] == 1
        return y

    def backward(self, xp, gy):
        if self.single:     # y = x: PyTorch passes gy on as it is (no nan / nan from a nan x)
            return gy
        x, y = self.saved_tensors
        d = self.dim
        is_zero = _data(x) == 0
        if self._graph_mode and is_zero.any():
            return self._differentiable_backward(xp, x, gy)
        zeros_so_far = get_array_module(is_zero).cumsum(is_zero, axis=d)
        before = zeros_so_far == 0
        gx = xp.where(before, _sum_from_end(xp, gy * y, d) / xp.where(before, x, 1), 0)
        if not before.all():
            first = is_zero & (zeros_so_far == 1)
            y_skip = xp.cumprod(xp.where(first, 1, x), axis=d)
            gx = gx + xp.where(first, _sum_from_end(xp, gy * y_skip, d), 0)
        return gx

    def _differentiable_backward(self, xp, x, gy):
        """create_graph with zeros in x: the gradient above is 0 after a
        slice's first zero, but its derivative is not (d/dx_0 of x_0 x_2 at
        x_0 = 0).  Here every gx_k is a product without x_k, as PyTorch's
        double backward computes it: gx_k = sum_{j >= k} gy_j prod_{i <= j, i != k} x_i,
        the n running products of x with x_k set to 1, stacked on a new axis 0."""
        d, shape = self.dim % x.ndim, tuple(x.shape)
        n = shape[d]
        on_d = [1] * len(shape)
        on_d[d] = n
        k = np.arange(n).reshape((n,) + (1,) * len(shape))   # k on the new axis 0
        i = np.arange(n).reshape((1,) + tuple(on_d))         # i along d (now d + 1)
        without_k = xp.where(get_array_module(_data(x)).asarray(k == i), 1,
                             xp.reshape(x, (1,) + shape))
        terms = xp.reshape(gy, (1,) + shape) * xp.cumprod(without_k, axis=d + 1)
        from_k = get_array_module(_data(x)).asarray(i >= k)
        per_k = xp.sum(xp.where(from_k, terms, 0), axis=d + 1)   # (n, shape without d)
        axes = list(range(1, len(shape)))
        axes.insert(d, 0)
        return xp.permute_dims(per_k, tuple(axes))


def _sum_from_end(xp, a, axis):
    """out[k] = sum of a[j] for j >= k along ``axis`` (by flips, not total - cumsum,
    which loses the small tail of a series that shrinks)."""
    return xp.flip(xp.cumsum(xp.flip(a, axis), axis), axis)


class Roll(Function):
    def forward(self, x, *, shifts, dims):
        self.shifts, self.dims = shifts, dims
        return get_array_module(x).roll(x, shifts, axis=dims)

    def backward(self, xp, gy):
        back = tuple(-s for s in self.shifts)
        return Roll.apply(gy, shifts=back, dims=self.dims) if xp is TensorMath else \
            xp.roll(gy, back, axis=self.dims)


class Einsum(Function):
    """np.einsum on an explicit equation without ellipsis ('ij,jk->ik'; the
    wrapper ``einsum`` writes any equation so).  The gradient of an operand is
    the einsum of the output's gradient with the other operands, back to that
    operand's subscripts; a subscript repeated in it ('ii->i') is reached
    through an identity matrix, one summed over only there ('ij->i') through
    a vector of ones, a size-1 dim that broadcast by a sum or a broadcast."""

    def forward(self, *arrays, equation):
        self.equation = equation
        self.save_for_backward(*arrays)
        return get_array_module(arrays[0]).einsum(equation, *arrays, optimize=len(arrays) > 1)

    def backward(self, xp, gy):
        arrays = self.saved_tensors
        ins, out = self.equation.split("->")
        ins = ins.split(",")
        return tuple(_einsum_grad(xp, gy, out, arrays, ins, k) if need else None
                     for k, need in enumerate(self.needs_input_grad))


def _einsum_grad(xp, gy, out, arrays, ins, k):
    """d(einsum)/d(operand k), contracted with gy (see Einsum)."""
    subs = [out] + [s for i, s in enumerate(ins) if i != k]
    operands = [gy] + [a for i, a in enumerate(arrays) if i != k]
    reached = set("".join(subs))
    shape = _data(arrays[k]).shape
    in_use = set("".join(ins) + out)
    unused = iter(c for c in _EINSUM_LETTERS if c not in in_use)
    like = _data(gy)
    mod = get_array_module(like)
    target, seen = "", set()
    for c, n in zip(ins[k], shape):
        if c in seen:                       # a repeated subscript: a new one tied by eye
            fresh = next(unused)
            subs.append(c + fresh)
            operands.append(_const(mod.eye(n, dtype=like.dtype), xp))
            c = fresh
        elif c not in reached:              # summed over in this operand alone
            subs.append(c)
            operands.append(_const(mod.ones(n, dtype=like.dtype), xp))
            reached.add(c)
        seen.add(c)
        target += c
    gx = xp.einsum(",".join(subs) + "->" + target, *operands)
    if tuple(gx.shape) != shape:    # a size-1 dim broadcast: here, or in the other operands
        ones_here = tuple(i for i, (m, n) in enumerate(zip(gx.shape, shape)) if n == 1 != m)
        if ones_here:
            gx = xp.sum(gx, axis=ones_here, keepdims=True)
        gx = xp.broadcast_to(gx, shape)
    return gx


def _const(a, xp):
    return Tensor(a) if xp is TensorMath else a


_EINSUM_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def einsum(equation, *operands):
    """torch.einsum: 'ij,jk->ik', implicit outputs ('ij,jk'), '...' for
    leading dims that broadcast, size-1 dims that broadcast; operands may be
    given as one list.  Differentiable in every operand."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not operands:
        raise RuntimeError("einsum(): must provide at least one operand")
    operands = [_as_tensor(x, None) for x in operands]
    dtype = operands[0].array.dtype
    for x in operands[1:]:
        if x.array.dtype != dtype:
            raise RuntimeError(f"einsum(): expected all operands to have the same dtype, but "
                               f"found {dtype} and {x.array.dtype}")
    return Einsum.apply(*operands, equation=_einsum_explicit(equation,
                                                             [x.shape for x in operands]))


def _einsum_explicit(equation, shapes):
    """``equation`` written out: an output after '->', each '...' replaced by
    letters of its own (right-aligned across operands, as broadcasting)."""
    eq = equation.replace(" ", "")
    lhs, arrow, out = eq.partition("->")
    ins = lhs.split(",")
    if len(ins) > len(shapes):
        raise RuntimeError("einsum(): fewer operands were provided than specified in the equation")
    if len(ins) < len(shapes):
        raise RuntimeError("einsum(): more operands were provided than specified in the equation")
    for part in ins + [out]:
        rest = part.replace("...", "", 1)
        bad = [c for c in rest if c not in _EINSUM_LETTERS]
        if bad:
            raise RuntimeError(f"einsum(): invalid subscript given at index "
                               f"{eq.index(bad[0])} in the equation string, subscripts must be "
                               f"in [a-zA-Z] ('{equation}')")
    used = set(c for c in eq if c.isalpha())
    free = [c for c in _EINSUM_LETTERS if c not in used]
    n_ell = 0
    for i, (part, shape) in enumerate(zip(ins, shapes)):
        named = len(part.replace("...", ""))
        if ("..." in part and named > len(shape)) or ("..." not in part and named != len(shape)):
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({named}) "
                               f"does not match the number of dimensions ({len(shape)}) for "
                               f"operand {i}"
                               + ("" if "..." in part else " and no ellipsis was given"))
        if "..." in part:
            n_ell = builtins.max(n_ell, len(shape) - named)
    ell = "".join(free[:n_ell])
    # an operand's '...' covers its dims not named, the last of the letters of ell
    ins = [part.replace("...", ell[n_ell - (len(shape) - len(part.replace("...", ""))):])
           for part, shape in zip(ins, shapes)]
    if arrow:
        out = out.replace("...", ell)
        for c in out:
            if out.count(c) > 1:
                raise RuntimeError(f"einsum(): output subscript {c} appears more than once in "
                                   f"the output")
            if not any(c in part for part in ins):
                raise RuntimeError(f"einsum(): output subscript {c} does not appear in the "
                                   f"equation for any input operand")
    else:   # implicit: the broadcast dims, then the subscripts used once, sorted
        joined = "".join(ins)
        out = ell + "".join(sorted(c for c in set(lhs) if c.isalpha() and joined.count(c) == 1))
    sizes = {}
    for i, (part, shape) in enumerate(zip(ins, shapes)):
        for c, n in zip(part, shape):
            if sizes.get(c, 1) != 1 and n != 1 and n != sizes[c]:
                raise RuntimeError(f"einsum(): subscript {c} has size {n} for operand {i} which "
                                   f"does not broadcast with previously seen size {sizes[c]}")
            if n != 1 or c not in sizes:
                sizes[c] = n
    return ",".join(ins) + "->" + out


def diagonal(input, offset=0, dim1=0, dim2=1):
    """The diagonal ``offset`` of the matrices spanned by ``dim1`` and ``dim2``,
    as the last dim of the result (a copy here, a view in PyTorch)."""
    d1, d2 = _norm_dim(dim1, input.ndim), _norm_dim(dim2, input.ndim)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    n1, n2 = input.shape[d1], input.shape[d2]
    length = builtins.max(builtins.min(n1, n2 - offset) if offset >= 0 else
                          builtins.min(n1 + offset, n2), 0)
    if (d1, d2) != (input.ndim - 2, input.ndim - 1):
        input = permute(input, *[d for d in range(input.ndim) if d not in (d1, d2)], d1, d2)
    xp = get_array_module(input.array)
    rows = xp.arange(length) + builtins.max(-offset, 0)
    cols = xp.arange(length) + builtins.max(offset, 0)
    return GetItem.apply(input, index=(Ellipsis, rows, cols))


_diagonal = diagonal    # diag's argument of that name hides it


def diag(input, diagonal=0):
    """A 1-D input as the diagonal ``diagonal`` of a square matrix; a 2-D
    input's diagonal ``diagonal`` as a 1-D tensor."""
    if input.ndim == 2:
        return _diagonal(input, diagonal)
    if input.ndim != 1:
        raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {input.ndim}D")
    xp = get_array_module(input.array)
    n = input.shape[0] + builtins.abs(diagonal)
    steps = xp.arange(input.shape[0])
    index = (steps + builtins.max(-diagonal, 0), steps + builtins.max(diagonal, 0))
    return SetItem.apply(Tensor._make(xp.zeros((n, n), input.array.dtype), None), input,
                         index=index)


def trace(input):
    """The sum of a matrix's diagonal."""
    if input.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {input.ndim}")
    return sum(diagonal(input))


def cumprod(input, dim, dtype=None):
    input = _cumulative_dtype(input, dtype)
    d = _norm_dim(dim, input.ndim)
    if not input.ndim:      # NumPy's cumprod of a 0-d array has shape (1,)
        return CumProd.apply(input.reshape(1), dim=0).reshape(())
    return CumProd.apply(input, dim=d)


def roll(input, shifts, dims=None):
    """Shift the entries along ``dims`` by ``shifts``, wrapping around; with no
    dims, along the flattened tensor."""
    shifts = (shifts,) if isinstance(shifts, (int, np.integer)) else tuple(shifts)
    if dims is None:
        if len(shifts) != 1:
            raise RuntimeError(f"roll: with no dims, shifts must be one number (got {shifts})")
        flat = Roll.apply(reshape(input, -1), shifts=(int(shifts[0]),), dims=(0,))
        return reshape(flat, *input.shape)
    dims = (dims,) if isinstance(dims, (int, np.integer)) else tuple(dims)
    if len(shifts) != len(dims):
        raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, "
                           f"dims:{len(dims)}")
    return Roll.apply(input, shifts=tuple(int(s) for s in shifts),
                      dims=tuple(_norm_dim(d, input.ndim) for d in dims))


# --------------------------------------------------------------------------
# selections built on the ops above (their gradients are GetItem's, Where's
# and SetItem's)
# --------------------------------------------------------------------------


def _reversed_view(input, dims):
    """input[::-1] along the normalised ``dims``: a view (a GetItem)."""
    return GetItem.apply(input, index=tuple(slice(None, None, -1) if d in dims else slice(None)
                                            for d in range(input.ndim)))


def flip(input, *dims_args, dims=None):
    """Reverse the order along ``dims`` (PyTorch's answer to x[::-1]): x.flip(0),
    x.flip(0, 1), torch.flip(x, dims=(0, 1)).  Into new memory, as PyTorch's: the
    view would share x's memory, and an in-place change to the result would reach x."""
    if dims is None:
        if not dims_args:
            raise TypeError("flip() missing 1 required positional argument: 'dims'")
        dims = dims_args[0] if len(dims_args) == 1 else dims_args
    elif dims_args:
        raise TypeError("flip() got multiple values for argument 'dims'")
    return Clone.apply(_reversed_view(input, _norm_dims(dims, input.ndim)))


def fliplr(input):
    """Reverse the columns (dim 1) of a tensor of >= 2 dims; a copy, as PyTorch's."""
    if input.ndim < 2:
        raise RuntimeError("Input must be >= 2-d.")
    return flip(input, 1)


def flipud(input):
    """Reverse the rows (dim 0) of a tensor of >= 1 dim; a copy, as PyTorch's."""
    if input.ndim < 1:
        raise RuntimeError("Input must be >= 1-d.")
    return flip(input, 0)


def rot90(input, k=1, dims=(0, 1)):
    """Rotate by k * 90 degrees in the plane of ``dims``, from the first axis towards
    the second (PyTorch's direction); a copy, as PyTorch's."""
    dims = tuple(dims)
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    if input.ndim < 2:
        raise RuntimeError(f"expected total dims >= 2, but got total dims = {input.ndim}")
    d0, d1 = (_norm_dim(d, input.ndim) for d in dims)
    if d0 == d1:
        raise RuntimeError(f"expected rotation dims to be different, but got dim0 = {d0} and "
                           f"dim1 = {d1}")
    k = int(k) % 4
    view = (input if k == 0 else
            transpose(_reversed_view(input, (d1,)), d0, d1) if k == 1 else
            _reversed_view(input, (d0, d1)) if k == 2 else
            transpose(_reversed_view(input, (d0,)), d0, d1))
    return Clone.apply(view)


def _triangle(input, diagonal, upper):
    if input.ndim < 2:
        raise RuntimeError(f"{'triu' if upper else 'tril'}: input tensor must have at least 2 "
                           f"dimensions (got {input.ndim})")
    xp = get_array_module(input.array)
    n, m = input.shape[-2:]
    keep = (xp.triu if upper else xp.tril)(xp.ones((n, m), dtype=bool), diagonal)
    # where, not a product with a 0/1 mask: -inf * 0 would be nan (causal masks
    # are built as triu(full(-inf)))
    return Where.apply(input, Tensor(xp.zeros((), input.array.dtype)), cond=keep)


def tril(input, diagonal=0):
    return _triangle(input, diagonal, upper=False)


def triu(input, diagonal=0):
    return _triangle(input, diagonal, upper=True)


def _sort_order(x, d, descending):
    """Stable argsort along ``d`` (int64), NaN counted as the largest value,
    as PyTorch: last ascending, first descending.  Descending sorts the
    reversed array and reverses back, which keeps ties in their order (a
    negated key would not: -nan is nan, and unsigned integers wrap)."""
    xp = get_array_module(x)
    if not descending:
        return xp.argsort(x, axis=d, kind="stable").astype(np.int64)
    rev = xp.flip(xp.argsort(xp.flip(x, d), axis=d, kind="stable"), d)
    return (x.shape[d] - 1 - rev).astype(np.int64)


def sort(input, dim=-1, descending=False, stable=False):
    """(values, indices) sorted along ``dim``; values carry the gradient."""
    d = _norm_dim(dim, input.ndim)
    x = input.array if input.ndim else input.array.reshape(1)
    idx = _sort_order(x, d, descending)
    values = gather(input if input.ndim else input.reshape(1), d, Tensor(idx))
    indices = Tensor(idx)
    if not input.ndim:
        values, indices = values.reshape(()), indices.reshape(())
    return return_types.sort((values, indices))


def argsort(input, dim=-1, descending=False, stable=False):
    return sort(input, dim, descending).indices


def topk(input, k, dim=-1, largest=True, sorted=True):
    """The k largest (smallest) along ``dim``, in order; NaN counts as the
    largest, as in PyTorch.  Among ties PyTorch's order comes from its
    selection algorithm; here it is the order of the input."""
    d = _norm_dim(dim, input.ndim)
    x = input if input.ndim else input.reshape(1)
    if not 0 <= k <= x.shape[d]:
        raise RuntimeError("selected index k out of range")
    order = _sort_order(x.array, d, largest)
    # a 0-d input gives itself, for k = 0 too (PyTorch's)
    idx = get_array_module(order).take(order, np.arange(k if input.ndim else 1), axis=d)
    values, indices = gather(x, d, Tensor(idx)), Tensor(idx)
    if not input.ndim:
        values, indices = values.reshape(()), indices.reshape(())
    return return_types.topk((values, indices))


def histogram(input, bins=100, *, range=None, weight=None, density=False):
    """``(hist, bin_edges)`` of the flattened input, as ``torch.histogram``
    (not differentiable): ``bins`` equal bins over ``range`` (default: the
    input's min and max), or the given edges."""
    x = _data(input)
    if x.dtype.kind != "f":
        name = {"i": "Long", "u": "Byte", "b": "Bool"}.get(x.dtype.kind, str(x.dtype))
        raise NotImplementedError(f'"histogramdd" not implemented for \'{name}\'')
    xp = get_array_module(x)
    edges = _data(bins)
    if not isinstance(edges, (builtins.int, np.integer)):
        edges = xp.asarray(edges, dtype=x.dtype)
    elif edges <= 0:
        raise RuntimeError(f"torch.histogram(): bins must be > 0, but got {edges} for dimension 0")
    w = None if weight is None else _data(weight).reshape(-1)
    hist, edges = xp.histogram(x.reshape(-1), bins=edges, range=range, weights=w, density=density)
    return return_types.histogram((Tensor(hist.astype(x.dtype)), Tensor(edges.astype(x.dtype))))


def index_select(input, dim, index):
    """The slices ``index`` (a 1-D integer tensor) along ``dim``."""
    idx = _data(index)
    if idx.ndim > 1 or idx.dtype.kind not in "iu":
        raise IndexError(f"index_select(): Index is supposed to be a vector of integers "
                         f"(got {idx.ndim}-D {idx.dtype})")
    d = _norm_dim(dim, input.ndim)
    n = input.shape[d] if input.ndim else 1
    if not input.ndim and idx.size != 1:
        raise RuntimeError(f"index_select(): Index to scalar can have only 1 value, got "
                           f"{idx.size} value(s)")
    if input.ndim and n == 0 and idx.size:
        raise RuntimeError("index_select(): self indexing axis dim should be positive")
    # no wrap-around of negative indices: PyTorch rejects them (its dim-1 and empty-input
    # kernels with another error than the others')
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        if d != 1 and input.array.size:
            raise IndexError("index out of range in self")
        bad = int(idx.min()) if idx.min() < 0 else int(idx.max())
        raise RuntimeError(f"INDICES element is out of DATA bounds, id={bad} axis_dim={n}")
    if not input.ndim:
        return Clone.apply(input)
    return GetItem.apply(input, index=(slice(None),) * d + (idx.reshape(-1),))


def index_add(input, dim, index, source, *, alpha=1):
    """A copy of ``input`` with ``alpha * source``'s slices added at the
    positions ``index`` (a 1-D integer tensor; repeats accumulate) along ``dim``."""
    idx = _data(index)
    if idx.ndim > 1:
        raise IndexError(f"index_add_(): Index is supposed to be a vector, but got dim: "
                         f"{idx.ndim} with size: {list(idx.shape)}")
    if idx.dtype.kind not in "iu":
        raise RuntimeError(f"index_add_(): Expected dtype int32/int64 for index but got: "
                           f"{idx.dtype}")
    d = _norm_dim(dim, input.ndim)
    idx = idx.reshape(-1)
    if source.ndim and idx.size != source.shape[d]:
        raise RuntimeError(f"index_add_(): Number of indices ({idx.size}) should be equal to "
                           f"source.size(dim): ({source.shape[d]}), for dim: {d}")
    if input.ndim and idx.size and (idx.min() < -input.shape[d] or idx.max() >= input.shape[d]):
        bad = int(idx.max()) if idx.max() >= input.shape[d] else int(idx.min())
        raise RuntimeError(f"index {bad} is out of bounds for dimension {d} with size "
                           f"{input.shape[d]}")
    if alpha != 1:
        source = source * alpha
    return input + IndexAdd.apply(source, shape=input.shape,
                                  index=(slice(None),) * d + (idx,) if input.ndim else ())


def scatter(input, dim, index, src=None, *, value=None):
    """A copy of ``input`` with ``out[i][index[i][j]] = src[i][j]`` along
    ``dim`` (src a tensor or, as ``value``, a number)."""
    if src is None:
        src = value
    vector = _scalar_as_vector(input, dim, index)
    if vector is not None:
        if isinstance(src, Tensor):
            src = src.reshape(-1)
        return scatter(vector[0], 0, vector[1], src).reshape(())
    d, idx = _index_along("scatter", "self", input, dim, index)
    if isinstance(src, Tensor) and src.shape != idx.shape:
        src = src[tuple(slice(n) for n in idx.shape)]   # PyTorch reads src's leading block
    return SetItem.apply(input, src, index=_along_axis_index(idx, idx.shape, d))
