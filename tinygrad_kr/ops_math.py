"""PyTorch's element-wise math functions beyond the core set in ops.py:
trigonometric and hyperbolic functions and their inverses, erf and friends,
gamma functions, atan2/hypot/logaddexp, remainders, NaN-aware max/min,
predicates (isclose, signbit...) and integer bit operations.

A differentiable op is a ``Function`` whose backward is written once for
arrays and, under ``create_graph``, for Tensors (``xp`` is ``ops.TensorMath``):
where a derivative needs a function TensorMath lacks (cosh, polygamma...),
``_call`` applies that function's own ``Function`` to a Tensor and its array
code to an array.  Functions that are compositions of existing ops (frac,
lerp, deg2rad, nan_to_num, float_power...) are written as compositions.
Non-differentiable ones (comparisons, bit operations, gcd) return tensors
outside the graph, as in PyTorch.
"""
import builtins
import math

import numpy as np

from . import dtypes as _dt
from .autograd.function import Function
from .backend import get_array_module
from .ops import _promote, _result_dtype, _rounded_quotient, clamp, div, mul, pow, sub, where
from .dtypes import scalar_type_name
from .tensor import Tensor, _as_tensor

__all__ = [
    "acos", "acosh", "asin", "asinh", "atan", "atan2", "atanh", "cosh", "sinh", "tan",
    "arccos", "arccosh", "arcsin", "arcsinh", "arctan", "arctan2", "arctanh",
    "erf", "erfc", "erfinv", "exp2", "logit", "xlogy", "sinc", "frac", "trunc", "fix",
    "fmod", "remainder", "floor_divide", "true_divide", "float_power", "hypot", "logaddexp",
    "logaddexp2", "lerp", "heaviside", "sgn", "signbit", "deg2rad", "rad2deg", "nan_to_num",
    "isclose", "isneginf", "isposinf", "isreal", "clamp_min", "clamp_max", "fmax", "fmin",
    "gcd", "lcm", "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not", "lgamma",
    "digamma", "polygamma", "i0"]


def _special(x):
    """scipy.special for NumPy arrays, cupyx.scipy.special for CuPy ones."""
    if isinstance(x, (np.ndarray, np.generic)):
        import scipy.special as special
    else:
        import cupyx.scipy.special as special
    return special


def _call(cls, x, **options):
    """cls applied to a Tensor (recorded under create_graph), or its array code."""
    if isinstance(x, Tensor):
        return cls.apply(x, **options)
    with np.errstate(all="ignore"):
        return cls.array(x, **options)


# --------------------------------------------------------------------------
# unary Functions
# --------------------------------------------------------------------------


class _Unary(Function):
    """y = array(x) element-wise; ``saves`` says what derivative() reads."""
    saves = "x"

    @staticmethod
    def array(x):
        raise NotImplementedError

    def forward(self, x, **options):
        self.options = options
        with np.errstate(all="ignore"):     # inf / nan at the edges of the domain, as PyTorch
            y = self.array(x, **options)
        y = y.astype(x.dtype, copy=False)
        self.save_for_backward(x if "x" in self.saves else None, y if "y" in self.saves else None)
        return y

    def backward(self, xp, gy):
        x, y = self.saved_tensors
        with np.errstate(all="ignore"):
            return self.derivative(xp, x, y, gy)


class Tan(_Unary):
    saves = "y"

    @staticmethod
    def array(x):
        return get_array_module(x).tan(x)

    def derivative(self, xp, x, y, gy):
        return gy * (1 + y * y)


class Asin(_Unary):
    @staticmethod
    def array(x):
        return get_array_module(x).arcsin(x)

    def derivative(self, xp, x, y, gy):
        return gy / xp.sqrt(1 - x * x)


class Acos(_Unary):
    @staticmethod
    def array(x):
        return get_array_module(x).arccos(x)

    def derivative(self, xp, x, y, gy):
        return -gy / xp.sqrt(1 - x * x)


class Atan(_Unary):
    @staticmethod
    def array(x):
        return get_array_module(x).arctan(x)

    def derivative(self, xp, x, y, gy):
        return gy / (1 + x * x)


class Sinh(_Unary):
    @staticmethod
    def array(x):
        return get_array_module(x).sinh(x)

    def derivative(self, xp, x, y, gy):
        return gy * _call(Cosh, x)


class Cosh(_Unary):
    @staticmethod
    def array(x):
        return get_array_module(x).cosh(x)

    def derivative(self, xp, x, y, gy):
        return gy * _call(Sinh, x)


class Asinh(_Unary):
    @staticmethod
    def array(x):
        return get_array_module(x).arcsinh(x)

    def derivative(self, xp, x, y, gy):
        return gy / xp.sqrt(x * x + 1)


class Acosh(_Unary):
    @staticmethod
    def array(x):
        return get_array_module(x).arccosh(x)

    def derivative(self, xp, x, y, gy):
        return gy / xp.sqrt(x * x - 1)


class Atanh(_Unary):
    @staticmethod
    def array(x):
        return get_array_module(x).arctanh(x)

    def derivative(self, xp, x, y, gy):
        return gy / (1 - x * x)


_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


class Erf(_Unary):
    @staticmethod
    def array(x):
        return _special(x).erf(x)

    def derivative(self, xp, x, y, gy):
        return gy * _TWO_OVER_SQRT_PI * xp.exp(-(x * x))


class Erfc(_Unary):
    @staticmethod
    def array(x):
        return _special(x).erfc(x)

    def derivative(self, xp, x, y, gy):
        return gy * -_TWO_OVER_SQRT_PI * xp.exp(-(x * x))


class Erfinv(_Unary):
    saves = "y"

    @staticmethod
    def array(x):
        # erfinv(-0.0) = -0.0, as PyTorch (scipy gives +0.0)
        return get_array_module(x).where(x == 0, x, _special(x).erfinv(x))

    def derivative(self, xp, x, y, gy):
        return gy * (math.sqrt(math.pi) / 2) * xp.exp(y * y)


class Exp2(_Unary):
    saves = "y"

    @staticmethod
    def array(x):
        return get_array_module(x).exp2(x)

    def derivative(self, xp, x, y, gy):
        return gy * y * math.log(2.0)


class Lgamma(_Unary):
    @staticmethod
    def array(x):
        y = _special(x).gammaln(x)
        # PyTorch: lgamma(-inf) = inf (scipy's gammaln gives -inf)
        return get_array_module(x).where(x == -np.inf, np.inf, y)

    def derivative(self, xp, x, y, gy):
        return gy * _call(Polygamma, x, n=0)


class Polygamma(_Unary):
    """The n-th derivative of digamma (n = 0: digamma itself)."""

    @staticmethod
    def array(x, n):
        special = _special(x)
        if n == 0:
            return special.psi(x)
        y = special.polygamma(n, x)
        # PyTorch: polygamma(n >= 1, -inf) is nan
        return get_array_module(x).where(x == -np.inf, np.nan, y)

    def derivative(self, xp, x, y, gy):
        return gy * _call(Polygamma, x, n=self.options["n"] + 1)


class I0(_Unary):
    """The modified Bessel function of the first kind, order 0."""

    @staticmethod
    def array(x):
        return _special(x).i0(x)

    def derivative(self, xp, x, y, gy):
        return gy * _call(I1, x)


class I1(_Unary):
    """Order 1 (i0's derivative); d/dx i1 = i0 - i1 / x, 1/2 at x = 0."""
    saves = "xy"

    @staticmethod
    def array(x):
        return _special(x).i1(x)

    def derivative(self, xp, x, y, gy):
        zero = x == 0
        safe = xp.where(zero, 1.0, x)
        return gy * xp.where(zero, 0.5, _call(I0, x) - y / safe)


class Sinc(_Unary):
    """sin(pi x) / (pi x), 1 at x = 0; the derivative (cos(pi x) - sinc(x)) / x is 0 there."""
    saves = "xy"

    @staticmethod
    def array(x):
        xp = get_array_module(x)
        zero = x == 0
        px = xp.where(zero, 1.0, x) * math.pi
        return xp.where(zero, 1.0, xp.sin(px) / px)

    def derivative(self, xp, x, y, gy):
        zero = x == 0
        safe = xp.where(zero, 1.0, x)
        # at 0 the branch x * sinc''(0) (value 0, slope -pi^2/3) keeps double backward exact
        at_zero = x * (-math.pi ** 2 / 3)
        return gy * xp.where(zero, at_zero, (xp.cos(x * math.pi) - y) / safe)


class Logit(_Unary):
    """log(x / (1 - x)), x first clamped to [eps, 1 - eps] if eps is given.
    The derivative 1 / (x (1 - x)) is nan outside [0, 1], and with eps 0
    outside [eps, 1 - eps], as PyTorch's (as a clamp then logit it would be
    0 * inf = nan at a clamped 0 or 1)."""

    @staticmethod
    def array(x, eps=None):
        xp = get_array_module(x)
        if eps is not None:
            x = xp.clip(x, eps, 1 - eps)
        return xp.log(x / (1 - x))

    def derivative(self, xp, x, y, gy):
        eps = self.options.get("eps")
        lo, hi = (0, 1) if eps is None else (eps, 1 - eps)
        outside = (x < lo) | (x > hi)
        return xp.where(outside, np.nan if eps is None else 0, gy / (x * (1 - x)))


class _Step(_Unary):
    """A piecewise constant function: its gradient is 0 (PyTorch's convention)."""
    saves = ""

    def derivative(self, xp, x, y, gy):
        return gy * 0


class Trunc(_Step):
    @staticmethod
    def array(x):
        return get_array_module(x).trunc(x)


class Floor(_Step):
    @staticmethod
    def array(x):
        return get_array_module(x).floor(x)


class Ceil(_Step):
    @staticmethod
    def array(x):
        return get_array_module(x).ceil(x)


class Round(_Step):
    """Half to even, as PyTorch (and NumPy)."""

    @staticmethod
    def array(x, decimals=0):
        return get_array_module(x).round(x, decimals)


def _rounded(input, how, decimals=0):
    """floor / ceil / round of a float tensor in the graph with a zero
    gradient (PyTorch's FloorBackward0 and friends); integers are their own."""
    t = _tensor(input)
    if t.array.dtype.kind != "f":
        xp = get_array_module(t.array)
        return Tensor(xp.round(t.array, decimals) if how == "round" else t.array.copy())
    if how == "round":
        return Round.apply(t, decimals=decimals)
    return (Floor if how == "floor" else Ceil).apply(t)


class Sgn(_Step):
    @staticmethod
    def array(x):
        xp = get_array_module(x)
        return xp.where(xp.isnan(x), 0, xp.sign(x))     # sgn(nan) = 0, as PyTorch


# --------------------------------------------------------------------------
# binary Functions
# --------------------------------------------------------------------------


class Atan2(Function):
    """atan2(a, b); the gradient (b, -a) / (a^2 + b^2) is 0 at (0, 0), as PyTorch."""

    def forward(self, a, b):
        self.save_for_backward(a, b)
        return get_array_module(a).arctan2(a, b)

    def backward(self, xp, gy):
        a, b = self.saved_tensors
        with np.errstate(all="ignore"):
            den = a * a + b * b
            den = xp.where(den == 0, 1.0, den)
            return gy * b / den, -gy * a / den


class Hypot(Function):
    """sqrt(a^2 + b^2); the gradient (a, b) / hypot is nan at (0, 0), as PyTorch."""

    def forward(self, a, b):
        y = get_array_module(a).hypot(a, b)
        self.save_for_backward(a, b, y)
        return y

    def backward(self, xp, gy):
        a, b, y = self.saved_tensors
        with np.errstate(all="ignore"):
            return gy * a / y, gy * b / y


class LogAddExp(Function):
    """log(exp(a) + exp(b)) (base e) or log2(2^a + 2^b) (base 2)."""

    def forward(self, a, b, *, base):
        self.save_for_backward(a, b)
        self.scale = 1.0 if base == "e" else math.log(2.0)
        xp = get_array_module(a)
        with np.errstate(all="ignore"):
            return xp.logaddexp(a, b) if base == "e" else xp.logaddexp2(a, b)

    def backward(self, xp, gy):
        a, b = self.saved_tensors
        k = self.scale
        with np.errstate(all="ignore"):
            ga = gy / (1 + xp.exp((b - a) * k)) if self.needs_input_grad[0] else None
            gb = gy / (1 + xp.exp((a - b) * k)) if self.needs_input_grad[1] else None
        return ga, gb


class Xlogy(Function):
    """a * log(b), 0 where a == 0 (unless b is nan)."""

    def forward(self, a, b):
        self.save_for_backward(a, b)
        xp = get_array_module(a)
        with np.errstate(all="ignore"):
            y = xp.where((a == 0) & ~xp.isnan(b), 0.0, a * xp.log(b))
        return y.astype(np.result_type(a, b), copy=False)

    def backward(self, xp, gy):
        a, b = self.saved_tensors
        with np.errstate(all="ignore"):
            # PyTorch's: log(b), except 0 where a == 0 and log(b) is not finite (b <= 0)
            ga = gy * xp.where((a == 0) & (b <= 0), 0.0, xp.log(b)) \
                if self.needs_input_grad[0] else None
            gb = gy * a / b if self.needs_input_grad[1] else None
        return ga, gb


class Remainder(Function):
    """a - b * round(a / b), the quotient rounded down (remainder) or toward
    zero (fmod); the gradients are 1 and -round(a / b)."""

    def forward(self, a, b, *, mode):
        xp = get_array_module(a)
        with np.errstate(all="ignore"):
            if self.needs_input_grad[1]:
                self.quotient = _rounded_quotient(xp, a, b, mode)
            return xp.remainder(a, b) if mode == "floor" else xp.fmod(a, b)

    def backward(self, xp, gy):
        gb = -gy * self.quotient if self.needs_input_grad[1] else None
        return gy, gb


class FMaxMin(Function):
    """fmax / fmin: the maximum (minimum) ignoring a nan.  The gradient goes
    to a where a wins or ties or b is nan, else to b (PyTorch's rule)."""

    def forward(self, a, b, *, minimum):
        xp = get_array_module(a)
        self.mask = ((a <= b) if minimum else (a >= b)) | xp.isnan(b)
        return xp.fmin(a, b) if minimum else xp.fmax(a, b)

    def backward(self, xp, gy):
        return xp.where(self.mask, gy, 0.0), xp.where(self.mask, 0.0, gy)


# --------------------------------------------------------------------------
# dtype helpers
# --------------------------------------------------------------------------


def _tensor(x):
    return x if isinstance(x, Tensor) else _as_tensor(x, None)


def _to_float(t):
    """Integer and bool tensors become the default float dtype (PyTorch's
    promotion for float functions such as sin)."""
    t = _tensor(t)
    return t if t.array.dtype.kind == "f" else t.to(_dt.get_default_dtype())


def _float_pair(a, b):
    a, b = _promote(a, b)
    if a.array.dtype.kind != "f" or b.array.dtype.kind != "f":
        a, b = _to_float(a), _to_float(b)
    return a, b


def _same_pair(a, b):
    """PyTorch's promotion of two operands, ending with one dtype for both."""
    a, b = _promote(a, b)
    if a.array.dtype != b.array.dtype:
        dtype = _result_dtype(a.array.dtype, b.array.dtype)
        a, b = a.to(dtype), b.to(dtype)
    return a, b


def _tensor_only(fname, name, x, position):
    if not isinstance(x, Tensor):
        raise TypeError(f"{fname}(): argument '{name}' (position {position}) must be Tensor, "
                        f"not {type(x).__name__}")


def _not_implemented(fname, t):
    fname = fname if fname.startswith("lerp") else fname + "_cpu"
    raise NotImplementedError(f'"{fname}" not implemented for '
                              f"'{scalar_type_name(t.array.dtype)}'")


# --------------------------------------------------------------------------
# unary wrappers
# --------------------------------------------------------------------------


def _unary(cls):
    def op(input):
        return cls.apply(_to_float(input))
    return op


tan, asin, acos, atan = _unary(Tan), _unary(Asin), _unary(Acos), _unary(Atan)
sinh, cosh, asinh, acosh, atanh = _unary(Sinh), _unary(Cosh), _unary(Asinh), _unary(Acosh), \
    _unary(Atanh)
erf, erfc, erfinv, exp2 = _unary(Erf), _unary(Erfc), _unary(Erfinv), _unary(Exp2)
lgamma, i0, sinc = _unary(Lgamma), _unary(I0), _unary(Sinc)
for _name, _fn in (("tan", tan), ("asin", asin), ("acos", acos), ("atan", atan), ("sinh", sinh),
                   ("cosh", cosh), ("asinh", asinh), ("acosh", acosh), ("atanh", atanh),
                   ("erf", erf), ("erfc", erfc), ("erfinv", erfinv), ("exp2", exp2),
                   ("lgamma", lgamma), ("i0", i0), ("sinc", sinc)):
    _fn.__name__ = _fn.__qualname__ = _name
arcsin, arccos, arctan, arcsinh, arccosh, arctanh = asin, acos, atan, asinh, acosh, atanh


def digamma(input):
    return Polygamma.apply(_to_float(input), n=0)


def polygamma(n, input):
    if not isinstance(n, int) or n < 0:
        raise RuntimeError("polygamma(n, x) does not support negative n.")
    return Polygamma.apply(_to_float(input), n=n)


def logit(input, eps=None):
    return Logit.apply(_to_float(input), eps=eps)


def trunc(input):
    input = _tensor(input)
    if input.array.dtype.kind != "f":
        return input.clone()          # integers are their own truncation (PyTorch keeps the dtype)
    return Trunc.apply(input)


fix = trunc


def frac(input):
    input = _tensor(input)
    if input.array.dtype.kind != "f":
        _not_implemented("frac", input)
    with np.errstate(invalid="ignore"):     # frac(+-inf) = nan, as PyTorch
        return sub(input, Trunc.apply(input))


def sgn(input):
    input = _tensor(input)
    if input.array.dtype.kind == "b":
        return input.clone()
    return Sgn.apply(input)


def deg2rad(input):
    return mul(_to_float(input), math.pi / 180.0)


def rad2deg(input):
    return mul(_to_float(input), 180.0 / math.pi)


def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    input = _tensor(input)
    a = input.array
    if a.dtype.kind != "f":
        return input.clone()
    xp = get_array_module(a)
    info = np.finfo(a.dtype)
    finite = xp.isfinite(a)
    if bool(finite.all()):
        return input.clone()
    fill = xp.where(xp.isnan(a), nan, xp.where(a > 0, info.max if posinf is None else posinf,
                                              info.min if neginf is None else neginf))
    return where(Tensor(finite), input, Tensor(fill.astype(a.dtype)))


def signbit(input):
    a = _tensor(input).array
    return Tensor(get_array_module(a).signbit(a))


def isneginf(input):
    a = _tensor(input).array
    return Tensor(a == -np.inf) if a.dtype.kind == "f" else \
        Tensor(get_array_module(a).zeros(a.shape, dtype=bool))


def isposinf(input):
    a = _tensor(input).array
    return Tensor(a == np.inf) if a.dtype.kind == "f" else \
        Tensor(get_array_module(a).zeros(a.shape, dtype=bool))


def isreal(input):
    a = _tensor(input).array
    return Tensor(get_array_module(a).ones(a.shape, dtype=bool))


def clamp_min(input, min):
    return clamp(input, min=min)


def clamp_max(input, max):
    return clamp(input, max=max)


def bitwise_not(input):
    t = _tensor(input)
    if t.array.dtype.kind not in "biu":
        _not_implemented("bitwise_not", t)
    return Tensor(~t.array)


# --------------------------------------------------------------------------
# binary wrappers
# --------------------------------------------------------------------------


def atan2(input, other):
    _tensor_only("atan2", "other", other, 2)
    return Atan2.apply(*_float_pair(input, other))


arctan2 = atan2


def hypot(input, other):
    _tensor_only("hypot", "other", other, 2)
    a, b = _same_pair(input, other)
    if a.array.dtype.kind != "f":
        _not_implemented("hypot", a)
    return Hypot.apply(a, b)


def logaddexp(input, other):
    _tensor_only("logaddexp", "other", other, 2)
    a, b = _same_pair(input, other)
    if a.array.dtype.kind != "f":
        _not_implemented("logaddexp", a)
    return LogAddExp.apply(a, b, base="e")


def logaddexp2(input, other):
    _tensor_only("logaddexp2", "other", other, 2)
    a, b = _same_pair(input, other)
    if a.array.dtype.kind != "f":
        _not_implemented("logaddexp2", a)
    return LogAddExp.apply(a, b, base="2")


def xlogy(input, other):
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        raise TypeError("xlogy(): expected at least one of 'input' and 'other' to be a Tensor")
    return Xlogy.apply(*_float_pair(input, other))


def _remainder(fname, mode, input, other):
    a, b = _same_pair(input, other)
    if a.array.dtype.kind in "iu" and not bool(b.array.all()):
        raise RuntimeError("ZeroDivisionError")
    if a.array.dtype.kind == "b":
        _not_implemented(fname, a)
    return Remainder.apply(a, b, mode=mode)


def remainder(input, other):
    return _remainder("remainder", "floor", input, other)


def fmod(input, other):
    return _remainder("fmod", "trunc", input, other)


def floor_divide(input, other):
    return div(input, other, rounding_mode="floor")


def true_divide(input, other):
    return div(input, other)


def float_power(input, exponent):
    def f64(x):
        return x.double() if isinstance(x, Tensor) else float(x)
    if not isinstance(input, Tensor):
        input = _as_tensor(float(input), None).double()
    with np.errstate(invalid="ignore"):     # a negative base to a fractional power: nan, silently
        return pow(f64(input), f64(exponent))


def lerp(input, end, weight):
    _tensor_only("lerp", "end", end, 2)
    for name, t in (("end", end), ("weight", weight)):
        if isinstance(t, Tensor) and t.array.dtype != input.array.dtype:
            raise RuntimeError(f"expected dtype {scalar_type_name(input.array.dtype).lower()} for `{name}` "
                               f"but got dtype {scalar_type_name(t.array.dtype).lower()}")
    if input.array.dtype.kind != "f":
        _not_implemented("lerp_kernel_scalar" if not isinstance(weight, Tensor)
                         else "lerp_kernel_tensor", input)
    diff = end - input
    # PyTorch's two forms: exact at weight 0 (start + w d) and at weight 1 (end - (1 - w) d)
    if isinstance(weight, Tensor):
        small = builtins.abs(weight.array) < 0.5
        return where(Tensor(small), input + weight * diff, end - diff * (1 - weight))
    return input + diff * weight if builtins.abs(weight) < 0.5 else end - diff * (1 - weight)


def heaviside(input, values):
    _tensor_only("heaviside", "values", values, 2)
    a, v = _tensor(input).array, values.array
    if a.dtype != v.dtype:
        raise RuntimeError("heaviside is not yet implemented for tensors with different dtypes")
    xp = get_array_module(a)
    out = xp.where(a == 0, v, (a > 0).astype(a.dtype))
    return Tensor(out.astype(a.dtype, copy=False))


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    a, b = _tensor(input), _tensor(other)
    if a.array.dtype != b.array.dtype:
        raise RuntimeError(f"{scalar_type_name(a.array.dtype)} did not match {scalar_type_name(b.array.dtype)}")
    x, y = a.array, b.array
    xp = get_array_module(x)
    if x.dtype.kind == "b":
        return Tensor(x == y)
    if x.dtype.kind != "f":
        x, y = x.astype(np.float64), y.astype(np.float64)
    with np.errstate(all="ignore"):
        close = (x == y) | (xp.abs(x - y) <= atol + rtol * xp.abs(y))
    if equal_nan:
        close |= xp.isnan(x) & xp.isnan(y)
    return Tensor(close)


def fmax(input, other):
    _tensor_only("fmax", "other", other, 2)
    a, b = _same_pair(input, other)
    return FMaxMin.apply(a, b, minimum=False)


def fmin(input, other):
    _tensor_only("fmin", "other", other, 2)
    a, b = _same_pair(input, other)
    return FMaxMin.apply(a, b, minimum=True)


def _integer_op(fname, xp_name, input, other, bools=False):
    a, b = _same_pair(input, other)
    kinds = "biu" if bools else "iu"
    if a.array.dtype.kind not in kinds:
        _not_implemented(fname, a)
    return Tensor(getattr(get_array_module(a.array), xp_name)(a.array, b.array))


def gcd(input, other):
    _tensor_only("gcd", "other", other, 2)
    return _integer_op("gcd", "gcd", input, other)


def lcm(input, other):
    _tensor_only("lcm", "other", other, 2)
    return _integer_op("lcm", "lcm", input, other)


def bitwise_and(input, other):
    return _integer_op("bitwise_and", "bitwise_and", input, other, bools=True)


def bitwise_or(input, other):
    return _integer_op("bitwise_or", "bitwise_or", input, other, bools=True)


def bitwise_xor(input, other):
    return _integer_op("bitwise_xor", "bitwise_xor", input, other, bools=True)


# --------------------------------------------------------------------------
# Tensor methods, and in-place forms through Tensor._inplace
# --------------------------------------------------------------------------

_UNARY_NAMES = ("tan", "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh",
                "arcsin", "arccos", "arctan", "arcsinh", "arccosh", "arctanh", "erf", "erfc",
                "erfinv", "exp2", "lgamma", "digamma", "i0", "sinc", "trunc", "fix", "frac",
                "sgn", "deg2rad", "rad2deg")
_BINARY_NAMES = ("atan2", "arctan2", "hypot", "logaddexp", "logaddexp2", "xlogy", "remainder",
                 "fmod", "floor_divide", "true_divide", "float_power", "fmax", "fmin", "gcd",
                 "lcm", "bitwise_and", "bitwise_or", "bitwise_xor", "heaviside")


def _float_power_(self, exponent):
    if self.array.dtype != np.float64:
        raise RuntimeError(f"the base given to float_power_ has dtype {scalar_type_name(self.array.dtype)} "
                           f"but the operation's result requires dtype Double")
    return self._inplace(float_power, exponent)


def _attach():
    g = globals()
    for name in _UNARY_NAMES + _BINARY_NAMES + ("logit", "nan_to_num", "signbit", "isneginf",
                                                 "isposinf", "isreal", "isclose", "lerp",
                                                 "bitwise_not"):
        setattr(Tensor, name, g[name])
    Tensor.polygamma = lambda self, n: polygamma(n, self)

    def unary_inplace(fn):
        return lambda self: self._inplace(lambda x, _: fn(x), None)

    def binary_inplace(fn):
        return lambda self, other: self._inplace(fn, other)

    for name in _UNARY_NAMES + ("bitwise_not",):
        setattr(Tensor, name + "_", unary_inplace(g[name]))
    for name in _BINARY_NAMES:
        if name not in ("float_power", "fmax", "fmin", "logaddexp", "logaddexp2"):  # not in PyTorch
            setattr(Tensor, name + "_", binary_inplace(g[name]))
    Tensor.float_power_ = _float_power_
    Tensor.logit_ = lambda self, eps=None: self._inplace(lambda x, _: logit(x, eps), None)
    Tensor.nan_to_num_ = lambda self, nan=0.0, posinf=None, neginf=None: self._inplace(
        lambda x, _: nan_to_num(x, nan, posinf, neginf), None)
    Tensor.lerp_ = lambda self, end, weight: self._inplace(lambda x, e: lerp(x, e, weight), end)
    Tensor.polygamma_ = lambda self, n: self._inplace(lambda x, _: polygamma(n, x), None)


_attach()
