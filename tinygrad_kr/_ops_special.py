"""The special functions behind ``tinygrad_kr.special`` (torch.special) that
the engine did not have: their Functions, their array code, and the
top-level names PyTorch also gives some of them (igamma, igammac, mvlgamma,
and the Tensor methods of those).

Where the values come from:

* scipy.special on NumPy arrays, cupyx.scipy.special on CuPy ones
  (``_scipy``, imported on first use): the Bessel functions, erfcx, ndtri,
  log_ndtr, entr, the incomplete gamma functions and zeta.  A function cupyx
  lacks (airy) runs on the host and its result goes back to the device.
* Written out here with ``xp`` where PyTorch's answer is defined by its own
  kernel (aten's Math.h) rather than by the mathematical function: the
  orthogonal polynomials (the order truncated toward zero, nan and inf
  orders counting as negative; fixed values at the ends of the interval; a
  closed trigonometric form above a degree; otherwise n - 1 steps of the
  three-term recurrence in the input's dtype), the spherical Bessel j0, and
  what igamma/igammac/zeta give at nan and infinite arguments.

Gradients are PyTorch's (tools/autograd/derivatives.yaml): a Function where
PyTorch has a formula (i0e, i1e, erfcx, ndtri, log_ndtr, entr, xlog1py,
zeta w.r.t. q, the incomplete gamma functions w.r.t. x); PyTorch's
NotImplementedError where it has ``not_implemented`` (zeta w.r.t. its first
argument, igamma/igammac w.r.t. their first argument), raised by backward
when that gradient is asked for; and a result outside the graph where
PyTorch marks the function non-differentiable (the special-only Bessel
functions, airy_ai, the polynomials: the ``*_array`` functions here).
A backward is written once for arrays and, under create_graph, for Tensors
(``xp`` is TensorMath; ``_call`` applies a Function to a Tensor and its
array code to an array).
"""
import math
import operator

import numpy as np

from .autograd.function import Function
from .backend import cupy_module, get_array_module
from .dtypes import scalar_type_name
from .ops import log1p as _log1p_tensor
from .ops_math import Lgamma, _Unary, _call, _same_pair, _special, _tensor_only, _to_float, \
    lgamma
from .tensor import Tensor

__all__ = ["igamma", "igammac", "mvlgamma"]


def _scipy(name, *arrays):
    """scipy.special.<name> on NumPy arrays, cupyx.scipy.special.<name> on
    CuPy ones; a function cupyx lacks runs on the host, and comes back."""
    fn = getattr(_special(arrays[0]), name, None)
    if fn is not None:
        return fn(*arrays)
    import scipy.special
    cp = cupy_module()
    out = getattr(scipy.special, name)(*[cp.asnumpy(a) for a in arrays])
    return tuple(cp.asarray(o) for o in out) if isinstance(out, tuple) else cp.asarray(out)


def _arr(v):
    """The array of a Tensor: masks in a backward are arrays (they carry no gradient)."""
    return v.array if isinstance(v, Tensor) else v


def not_implemented_for(kernel, t):
    """PyTorch's error for a dtype its kernel lacks ('"ndtri_cpu" not implemented for 'Half'')."""
    device = "cuda" if t.array.__class__ is not np.ndarray else "cpu"
    raise NotImplementedError(f'"{kernel}_{device}" not implemented for '
                              f"'{scalar_type_name(t.array.dtype)}'")


# --------------------------------------------------------------------------
# differentiable unary Functions (ops_math._Unary: forward under errstate,
# the result in x's dtype, ``saves`` says what derivative() reads)
# --------------------------------------------------------------------------

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_SQRT_2PI = math.sqrt(2.0 * math.pi)


class I0e(_Unary):
    """exp(-|x|) I0(x); the derivative is i1e(x) - sgn(x) i0e(x)."""
    saves = "xy"

    @staticmethod
    def array(x):
        return _scipy("i0e", x)

    def derivative(self, xp, x, y, gy):
        return gy * (_call(I1e, x) - xp.sign(x) * y)


class I1e(_Unary):
    """exp(-|x|) I1(x); the derivative i0e(x) - i1e(x) (sgn(x) + 1/x) is 1/2
    where |x| is not above the dtype's eps (PyTorch's i1e_backward: nan too)."""
    saves = "xy"

    @staticmethod
    def array(x):
        return _scipy("i1e", x)

    def derivative(self, xp, x, y, gy):
        a = _arr(x)
        eps = float(np.finfo(a.dtype).eps)
        tiny = ~(get_array_module(a).abs(a) > eps)
        safe = xp.where(tiny, eps, x)
        slope = _call(I0e, safe) - y * (xp.sign(safe) + 1 / safe)
        return gy * xp.where(tiny, 0.5, slope)


class Erfcx(_Unary):
    """exp(x^2) erfc(x); the derivative is 2 x erfcx(x) - 2 / sqrt(pi)."""
    saves = "xy"

    @staticmethod
    def array(x):
        return _scipy("erfcx", x)

    def derivative(self, xp, x, y, gy):
        return gy * (2.0 * x * y - _TWO_OVER_SQRT_PI)


class Ndtri(_Unary):
    """The standard normal quantile; the derivative is sqrt(2 pi) exp(y^2 / 2)."""
    saves = "y"

    @staticmethod
    def array(x):
        return _scipy("ndtri", x)

    def derivative(self, xp, x, y, gy):
        return gy * _SQRT_2PI * xp.exp(y * y / 2)


class LogNdtr(_Unary):
    """log of the standard normal CDF; the derivative is the normal density
    over the CDF, exp(-(y + x^2 / 2)) / sqrt(2 pi)."""
    saves = "xy"

    @staticmethod
    def array(x):
        return _scipy("log_ndtr", x)

    def derivative(self, xp, x, y, gy):
        return gy / _SQRT_2PI * xp.exp(-(y + x * x / 2))


class Entr(_Unary):
    """-x log x (0 at 0, -inf below); the derivative is -(1 + log x)."""

    @staticmethod
    def array(x):
        return _scipy("entr", x)

    def derivative(self, xp, x, y, gy):
        return gy * -(1 + xp.log(x))


# --------------------------------------------------------------------------
# differentiable binary Functions
# --------------------------------------------------------------------------


def _log1p(v):
    return _log1p_tensor(v) if isinstance(v, Tensor) else get_array_module(v).log1p(v)


class Xlog1py(Function):
    """a * log1p(b): 0 where a == 0, nan where b is nan (PyTorch's kernel)."""

    def forward(self, a, b):
        self.save_for_backward(a, b)
        xp = get_array_module(a)
        with np.errstate(all="ignore"):
            y = xp.where(xp.isnan(b), np.nan, xp.where(a == 0, 0.0, a * xp.log1p(b)))
        return y.astype(a.dtype, copy=False)

    def backward(self, xp, gy):
        a, b = self.saved_tensors
        ga = gb = None
        with np.errstate(all="ignore"):
            if self.needs_input_grad[0]:
                # PyTorch: xlog1py(gy, b), set to 0 where a == 0 and b <= -1 (the
                # derivative along the line a = 0, where log1p(b) is -inf or nan)
                am, bm, gm = _arr(a), _arr(b), _arr(gy)
                zero = ((gm == 0) & ~get_array_module(bm).isnan(bm)) | ((am == 0) & (bm <= -1))
                ga = xp.where(zero, 0.0, gy * _log1p(b))
            if self.needs_input_grad[1]:
                gb = gy * a / (b + 1)
        return ga, gb


def _zeta_array(x, q):
    xp = get_array_module(x)
    with np.errstate(all="ignore"):
        y = _scipy("zeta", x, q)
        # PyTorch's series gives nan for q = +inf (scipy: 0)
        y = xp.where((q == np.inf) & (x > 1), np.nan, y)
    return y.astype(x.dtype, copy=False)


class Zeta(Function):
    """The Hurwitz zeta function sum_k (k + q)^-x.  The derivative w.r.t. q is
    -x zeta(x + 1, q); PyTorch has none w.r.t. x."""

    def forward(self, x, q):
        self.save_for_backward(x, q)
        return _zeta_array(x, q)

    def backward(self, xp, gy):
        if self.needs_input_grad[0]:
            raise NotImplementedError("the derivative for 'zeta' is not implemented.")
        x, q = self.saved_tensors
        with np.errstate(all="ignore"):
            next_zeta = Zeta.apply(x + 1.0, q) if isinstance(q, Tensor) else _zeta_array(x + 1.0, q)
            return None, gy * -x * next_zeta


def _igamma_array(a, x, upper):
    xp = get_array_module(a)
    with np.errstate(all="ignore"):
        y = _scipy("gammaincc" if upper else "gammainc", a, x)
        # PyTorch's kernel settles these cases before its series, in this order
        # (applied here last to first), so a nan argument can give a number
        at_zero, at_inf = (1.0, 0.0) if upper else (0.0, 1.0)    # the values at x = 0, x = inf
        y = xp.where(xp.isinf(x), at_inf, y)
        y = xp.where(xp.isinf(a), xp.where(xp.isinf(x), np.nan, at_zero), y)
        y = xp.where(x == 0, at_zero, y)
        y = xp.where(a == 0, xp.where(x > 0, at_inf, np.nan), y)
        y = xp.where((x < 0) | (a < 0), np.nan, y)
    return y.astype(a.dtype, copy=False)


class Igamma(Function):
    """The regularized lower (P) or, with ``upper``, upper (Q) incomplete
    gamma function of (a, x).  The derivative w.r.t. x is +-x^(a-1) e^-x /
    Gamma(a); PyTorch has none w.r.t. a."""

    def forward(self, a, x, *, upper):
        self.upper = upper
        self.save_for_backward(a, x)
        return _igamma_array(a, x, upper)

    def backward(self, xp, gy):
        if self.needs_input_grad[0]:
            name = "igammac" if self.upper else "igamma"
            raise NotImplementedError(f"the derivative for '{name}: input' is not implemented.")
        a, x = self.saved_tensors
        with np.errstate(all="ignore"):
            density = xp.exp((a - 1) * xp.log(x) - x - _call(Lgamma, a))
            return None, -gy * density if self.upper else gy * density


# --------------------------------------------------------------------------
# functions PyTorch does not differentiate: arrays in, arrays out
# --------------------------------------------------------------------------


def _scipy_unary(name):
    def array(x):
        return _scipy(name, x)
    return array


def spherical_bessel_j0_array(x):
    """sin(x) / x; PyTorch's Taylor polynomial below 1/2, 0 at +-inf."""
    xp = get_array_module(x)
    s = x * x
    series = 1 + s * (-1 / 6 + s * (1 / 120 + s * (-1 / 5040 + s * (1 / 362880 + s * (
        -1 / 39916800 + s * (1 / 6227020800))))))
    return xp.where(xp.isinf(x), 0.0, xp.where(xp.abs(x) < 0.5, series, xp.sin(x) / x))


NO_GRAD_UNARY = {   # torch.special name -> its array code
    "bessel_j0": _scipy_unary("j0"), "bessel_j1": _scipy_unary("j1"),
    "bessel_y0": _scipy_unary("y0"), "bessel_y1": _scipy_unary("y1"),
    "modified_bessel_i0": _scipy_unary("i0"), "modified_bessel_i1": _scipy_unary("i1"),
    "modified_bessel_k0": _scipy_unary("k0"), "modified_bessel_k1": _scipy_unary("k1"),
    "scaled_modified_bessel_k0": _scipy_unary("k0e"),
    "scaled_modified_bessel_k1": _scipy_unary("k1e"),
    "airy_ai": lambda x: _scipy("airy", x)[0],
    "spherical_bessel_j0": spherical_bessel_j0_array,
}


def _order(n):
    """The degree as PyTorch's kernels take it, static_cast<int64_t>(n) on
    x86: truncated toward zero; nan, +-inf and out-of-range values become
    INT64_MIN (a negative degree: the polynomial is 0 there)."""
    xp = get_array_module(n)
    if n.dtype.kind != "f":
        return n.astype(np.int64)
    ok = xp.isfinite(n) & (xp.abs(n) < 2.0 ** 63)
    return xp.where(ok, xp.trunc(xp.where(ok, n, 0)), -2.0 ** 63).astype(np.int64)


def _recurrence(q, n, use, step):
    """p_0 = 1, p_1 = q; p_{k+1} = step(k, p_{k-1}, p_k) for k = 1 .. n-1, on
    the elements in ``use``; returns p_n there."""
    xp = get_array_module(q)
    p = xp.ones_like(q)
    last = int(n[use].max()) if bool(use.any()) else 0
    for k in range(1, last):
        live = use & (n > k)
        r = step(k, p, q)
        p, q = xp.where(live, q, p), xp.where(live, r, q)
        if k % 64 == 0 and not bool((live & ~xp.isnan(q)).any()):
            break    # only nan left to carry (PyTorch stops at a nan too)
    return q


def _parity(n, even, odd):
    return get_array_module(n).where(n % 2 == 0, even, odd)


# kind -> degree above which the trigonometric form is used (unshifted, shifted)
_TRIG_FROM = {"t": (6, 6), "u": (8, 6), "v": (8, 6), "w": (8, 4)}


def chebyshev_array(kind, x, n, shifted=False):
    """Chebyshev polynomials of the first to fourth kind (t, u, v, w) of
    degree n, of x or (shifted) of 2x - 1, as PyTorch's kernels.  At x = nan
    with n >= 2 the result is nan (PyTorch's loop stops before its first step
    and returns an uninitialized value; so do laguerre's and legendre's)."""
    xp = get_array_module(x)
    x, n = xp.broadcast_arrays(x, _order(n))
    y = x + x - 1 if shifted else x
    # the ends of the interval: tested on x, as PyTorch does
    top, bottom = (x == 1, x == 0) if shifted else (x == 1, x == -1)
    nf = n.astype(x.dtype)
    with np.errstate(all="ignore"):
        theta = xp.arccos(y)
        trig = (n > _TRIG_FROM[kind][shifted]) & (xp.abs(y) < 1)
        if kind == "t":
            ends = (1, _parity(n, 1, -1))
            closed = xp.cos(nf * theta)
            first = y
        elif kind == "u":
            ends = (n + 1, _parity(n, n + 1, -(n + 1)))
            s = xp.sin(theta)
            closed = xp.where(s != 0, xp.sin((nf + 1) * theta) / s,
                              (nf + 1) * xp.cos((nf + 1) * theta) / y)
            first = y + y
        elif kind == "v":
            ends = (1, _parity(n, n + n + 1, -(n + n + 1)))
            closed = xp.where(xp.sin(theta / 2) != 1,
                              xp.cos((nf + 0.5) * theta) / xp.cos(theta / 2), ends[1])
            first = y + y - 1
        else:
            ends = (n + n + 1, _parity(n, 1, -1))
            # where cos(theta / 2) rounds to 1: PyTorch's unshifted kernel gives
            # 2n + 1 for x > 0, its shifted one the value at the bottom end
            degenerate = ends[1] if shifted else xp.where(x > 0, n + n + 1, ends[1])
            closed = xp.where(xp.cos(theta / 2) != 1,
                              xp.sin((nf + 0.5) * theta) / xp.sin(theta / 2), degenerate)
            first = y + y + 1
        use = (n >= 2) & ~trig & ~top & ~bottom
        out = _recurrence(first, n, use, lambda k, p, q: (y + y) * q - p)
        out = xp.where(n == 1, first, out)
        out = xp.where(n == 0, 1, out)
        out = xp.where(trig, closed, out)
        out = xp.where(bottom, ends[1], out)
        out = xp.where(top, ends[0], out)
        out = xp.where(n < 0, 0, out)
    return out.astype(x.dtype, copy=False)


def hermite_array(x, n, probabilists=False):
    """Hermite polynomials H_n (physicists') or He_n (probabilists'); nan
    above PyTorch's degree limit (128 in float32, 512 in float64)."""
    xp = get_array_module(x)
    x, n = xp.broadcast_arrays(x, _order(n))
    limit = 128 if x.dtype == np.float32 else 512
    with np.errstate(all="ignore"):
        if probabilists:
            first = x
            out = _recurrence(first, n, (n >= 2) & (n <= limit), lambda k, p, q: x * q - k * p)
        else:
            first = x + x
            out = _recurrence(first, n, (n >= 2) & (n <= limit),
                              lambda k, p, q: (x + x) * q - (k + k) * p)
        out = xp.where(n > limit, np.nan, out)
        out = xp.where(n == 1, first, out)
        out = xp.where(n == 0, 1, out)
        out = xp.where(n < 0, 0, out)
    return out.astype(x.dtype, copy=False)


def laguerre_array(x, n):
    """Laguerre polynomials L_n(x); 1 at x = 0."""
    xp = get_array_module(x)
    x, n = xp.broadcast_arrays(x, _order(n))
    with np.errstate(all="ignore"):
        first = 1 - x
        out = _recurrence(first, n, (n >= 2) & (x != 0),
                          lambda k, p, q: (((k + k) + (1 - x)) * q - k * p) / (k + 1))
        out = xp.where(n == 1, first, out)
        out = xp.where((n == 0) | (x == 0), 1, out)
        out = xp.where(n < 0, 0, out)
    return out.astype(x.dtype, copy=False)


def legendre_array(x, n):
    """Legendre polynomials P_n(x); +-1 at x = +-1."""
    xp = get_array_module(x)
    x, n = xp.broadcast_arrays(x, _order(n))
    end = xp.abs(x) == 1
    with np.errstate(all="ignore"):
        out = _recurrence(x, n, (n >= 2) & ~end,
                          lambda k, p, q: ((k + k + 1) * x * q - k * p) / (k + 1))
        out = xp.where(n == 1, x, out)
        out = xp.where(n == 0, 1, out)
        out = xp.where(end, xp.where((x > 0) | (n % 2 == 0), 1, -1), out)
        out = xp.where(n < 0, 0, out)
    return out.astype(x.dtype, copy=False)


# --------------------------------------------------------------------------
# top-level names (torch.igamma, torch.igammac, torch.mvlgamma), shared with
# torch.special's gammainc, gammaincc and multigammaln
# --------------------------------------------------------------------------


def incomplete_gamma(fname, input, other, upper):
    """igamma/igammac after PyTorch's checks; ``fname`` names the caller in errors."""
    _tensor_only(fname, "input", input, 1)
    _tensor_only(fname, "other", other, 2)
    a, x = _same_pair(input, other)
    if a.array.dtype.kind != "f":
        not_implemented_for("igammac" if upper else "igamma", a)
    return Igamma.apply(a, x, upper=upper)


def multivariate_lgamma(fname, input, p):
    """log of the multivariate gamma function of dimension p:
    sum_{j<p} lgamma(x - j/2) + p (p-1)/4 log(pi), a composition of lgamma
    (so its gradient is PyTorch's mvlgamma_backward, a sum of digammas)."""
    _tensor_only(fname, "input", input, 1)
    if isinstance(p, bool) or not hasattr(type(p), "__index__"):
        raise TypeError(f"{fname}(): argument 'p' (position 2) must be int, not "
                        f"{type(p).__name__}")
    p = operator.index(p)
    if p < 1:
        raise RuntimeError("p has to be greater than or equal to 1")
    x = _to_float(input)
    xp = get_array_module(x.array)
    shifts = Tensor((xp.arange(p, dtype=x.array.dtype) - (p - 1)) * 0.5)   # -(p-1)/2 .. 0
    return lgamma(x.unsqueeze(-1) + shifts).sum(-1) + p * (p - 1) * math.log(math.pi) / 4


def igamma(input, other):
    """The regularized lower incomplete gamma function P(input, other)."""
    return incomplete_gamma("igamma", input, other, upper=False)


def igammac(input, other):
    """The regularized upper incomplete gamma function Q(input, other) = 1 - P."""
    return incomplete_gamma("igammac", input, other, upper=True)


def mvlgamma(input, p):
    """The log multivariate gamma function of dimension ``p``."""
    return multivariate_lgamma("mvlgamma", input, p)


def _attach():
    Tensor.igamma = igamma
    Tensor.igammac = igammac
    Tensor.mvlgamma = mvlgamma
    Tensor.igamma_ = lambda self, other: self._inplace(igamma, other)
    Tensor.igammac_ = lambda self, other: self._inplace(igammac, other)
    Tensor.mvlgamma_ = lambda self, p: self._inplace(lambda x, _: mvlgamma(x, p), None)


_attach()
