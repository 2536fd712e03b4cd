"""torch.special: every function of PyTorch 2.13's namespace, with its
signature, its argument checks and its error messages.

This module only checks arguments and dispatches.  Functions the engine
already had (erf, digamma, lgamma, i0, logit, xlogy, sinc, logsumexp,
softmax...) are those ops themselves; the new ones live in _ops_special.py
(Functions, array code, and why each value is computed where it is).  As in
PyTorch, the arguments must be Tensors (a binary function takes a Python
number on one side), integer and bool tensors are computed in the default
float dtype (gammainc, gammaincc and round refuse them, as PyTorch does),
and the Bessel functions special to this namespace, airy_ai and the
polynomials return results outside the graph (PyTorch does not
differentiate them).  Differences: round's result is outside the graph too
(PyTorch records it with a zero gradient), and ``out=`` is not supported.
"""
import numbers

import numpy as np

from . import ops as _ops
from . import ops_math as _math
from ._ops_special import (NO_GRAD_UNARY, Entr, Erfcx, I0e, I1e, LogNdtr, Ndtri, Xlog1py, Zeta,
                           chebyshev_array, hermite_array, incomplete_gamma, laguerre_array,
                           legendre_array, multivariate_lgamma, not_implemented_for)
from .dtypes import scalar_type_name
from .ops import _norm_dims
from .ops_math import I1, _float_pair, _tensor_only, _to_float
from .tensor import Tensor

__all__ = [
    "airy_ai", "bessel_j0", "bessel_j1", "bessel_y0", "bessel_y1", "chebyshev_polynomial_t",
    "chebyshev_polynomial_u", "chebyshev_polynomial_v", "chebyshev_polynomial_w", "digamma",
    "entr", "erf", "erfc", "erfcx", "erfinv", "exp2", "expit", "expm1", "gammainc", "gammaincc",
    "gammaln", "hermite_polynomial_h", "hermite_polynomial_he", "i0", "i0e", "i1", "i1e",
    "laguerre_polynomial_l", "legendre_polynomial_p", "log1p", "log_ndtr", "log_softmax",
    "logit", "logsumexp", "modified_bessel_i0", "modified_bessel_i1", "modified_bessel_k0",
    "modified_bessel_k1", "multigammaln", "ndtr", "ndtri", "polygamma", "psi", "round",
    "scaled_modified_bessel_k0", "scaled_modified_bessel_k1", "shifted_chebyshev_polynomial_t",
    "shifted_chebyshev_polynomial_u", "shifted_chebyshev_polynomial_v",
    "shifted_chebyshev_polynomial_w", "sinc", "softmax", "spherical_bessel_j0", "xlog1py",
    "xlogy", "zeta"]


def _input(name, input, argname="input"):
    _tensor_only(f"special_{name}", argname, input, 1)


def _float_kernel(name, t):
    """PyTorch has no float16 kernel for these functions."""
    if t.array.dtype.kind != "f" or t.array.dtype.itemsize < 4:
        not_implemented_for(name, t)


# --------------------------------------------------------------------------
# the engine's own ops under torch.special's names
# --------------------------------------------------------------------------


def _same_op(name, op):
    def fn(input):
        _input(name, input)
        return op(input)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"torch.special.{name}: tinygrad_kr.{op.__name__}."
    return fn


erf, erfc, erfinv = _same_op("erf", _math.erf), _same_op("erfc", _math.erfc), \
    _same_op("erfinv", _math.erfinv)
exp2, expm1, log1p = _same_op("exp2", _math.exp2), _same_op("expm1", _ops.expm1), \
    _same_op("log1p", _ops.log1p)
expit, sinc, i0 = _same_op("expit", _ops.sigmoid), _same_op("sinc", _math.sinc), \
    _same_op("i0", _math.i0)
digamma, psi = _same_op("digamma", _math.digamma), _same_op("psi", _math.digamma)
gammaln = _same_op("gammaln", _math.lgamma)


def logit(input, eps=None):
    _input("logit", input)
    return _math.logit(input, eps)


def polygamma(n, input):
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"special_polygamma(): argument 'n' (position 1) must be int, not "
                        f"{type(n).__name__}")
    _tensor_only("special_polygamma", "input", input, 2)
    return _math.polygamma(int(n), input)


def multigammaln(input, p):
    return multivariate_lgamma("special_multigammaln", input, p)


def logsumexp(input, dim, keepdim=False):
    _input("logsumexp", input)
    return _ops.logsumexp(input, dim, keepdim)


def _softmax_dtype_check(name, input, dim, dtype):
    """PyTorch's softmax kernels take float dtypes only (no promotion)."""
    target = input.array.dtype if dtype is None else np.dtype(dtype)
    if target.kind != "f":
        last = input.ndim == 0 or _norm_dims(dim, input.ndim)[0] == input.ndim - 1
        kernel = f"{name}_lastdim_kernel_impl" if last else f"{name}_kernel_impl"
        raise NotImplementedError(f'"{kernel}" not implemented for '
                                  f"'{scalar_type_name(target)}'")


def softmax(input, dim, *, dtype=None):
    _input("softmax", input)
    _softmax_dtype_check("softmax", input, dim, dtype)
    return _ops.softmax(input, dim, dtype=dtype)


def log_softmax(input, dim, *, dtype=None):
    _input("log_softmax", input)
    _softmax_dtype_check("log_softmax", input, dim, dtype)
    return _ops.log_softmax(input, dim, dtype=dtype)


def round(input, *, decimals=0):
    """Round half to even (to ``decimals`` places); PyTorch's special.round
    refuses integer tensors, unlike torch.round."""
    _input("round", input)
    if input.array.dtype.kind != "f":
        not_implemented_for("round_vml" if decimals == 0 else "round", input)
    return input.round(decimals)


def xlogy(input, other):
    _binary_args("xlogy", input, other)
    return _math.xlogy(input, other)


def i1(input):
    _input("i1", input)
    return I1.apply(_to_float(input))


# --------------------------------------------------------------------------
# new differentiable functions (_ops_special.py)
# --------------------------------------------------------------------------


def _new_op(name, cls, half=True):
    def fn(input):
        _input(name, input)
        x = _to_float(input)
        if not half:
            _float_kernel(name, x)
        return cls.apply(x)
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = cls.__doc__
    return fn


i0e, i1e, entr = _new_op("i0e", I0e), _new_op("i1e", I1e), _new_op("entr", Entr)
erfcx, ndtri, log_ndtr = _new_op("erfcx", Erfcx, half=False), \
    _new_op("ndtri", Ndtri, half=False), _new_op("log_ndtr", LogNdtr, half=False)

_SQRT1_2 = 0.7071067811865476


def ndtr(input):
    """The standard normal CDF, PyTorch's composition (1 + erf(x / sqrt 2)) / 2
    (its values and gradients: the lower tail rounds to 0 below about -8.3)."""
    _input("ndtr", input)
    return (1 + _math.erf(_to_float(input) * _SQRT1_2)) * 0.5


def _binary_args(name, input, other, names=("input", "other"), first_number="self"):
    """PyTorch's binary special functions: Tensors, or a number on one side."""
    def kind(v):
        return "Tensor" if isinstance(v, Tensor) else \
            "Number" if isinstance(v, numbers.Number) else None
    kinds = (kind(input), kind(other))
    if kinds not in (("Tensor", "Tensor"), ("Number", "Tensor"), ("Tensor", "Number")):
        got = ", ".join("Tensor" if isinstance(v, Tensor) else type(v).__name__
                        for v in (input, other))
        a, b = names
        raise TypeError(f"special_{name}() received an invalid combination of arguments - got "
                        f"({got}), but expected one of:\n"
                        f" * (Tensor {a}, Tensor {b}, *, Tensor out = None)\n"
                        f" * (Number {first_number}, Tensor {b}, *, Tensor out = None)\n"
                        f" * (Tensor {a}, Number {b}, *, Tensor out = None)\n")


def xlog1py(input, other):
    _binary_args("xlog1py", input, other)
    return Xlog1py.apply(*_float_pair(input, other))


def zeta(input, other):
    _binary_args("zeta", input, other)
    x, q = _float_pair(input, other)
    _float_kernel("zeta", x)
    return Zeta.apply(x, q)


def gammainc(input, other):
    return incomplete_gamma("special_gammainc", input, other, upper=False)


def gammaincc(input, other):
    return incomplete_gamma("special_gammaincc", input, other, upper=True)


# --------------------------------------------------------------------------
# functions PyTorch does not differentiate: the result is outside the graph
# --------------------------------------------------------------------------


def _bessel(name, argname="input"):
    array = NO_GRAD_UNARY[name]

    def fn(input):
        _input(name, input, argname)
        x = _to_float(input)
        _float_kernel(name, x)
        with np.errstate(all="ignore"):     # inf / nan at the edges of the domain, as PyTorch
            y = array(x.array)
        return Tensor(y.astype(x.array.dtype, copy=False))
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"torch.special.{name} (not differentiable, as in PyTorch)."
    return fn


bessel_j0, bessel_j1 = _bessel("bessel_j0"), _bessel("bessel_j1")
bessel_y0, bessel_y1 = _bessel("bessel_y0"), _bessel("bessel_y1")
modified_bessel_i0, modified_bessel_i1 = _bessel("modified_bessel_i0"), \
    _bessel("modified_bessel_i1")
modified_bessel_k0, modified_bessel_k1 = _bessel("modified_bessel_k0"), \
    _bessel("modified_bessel_k1")
scaled_modified_bessel_k0 = _bessel("scaled_modified_bessel_k0", "x")
scaled_modified_bessel_k1 = _bessel("scaled_modified_bessel_k1", "x")
airy_ai, spherical_bessel_j0 = _bessel("airy_ai", "x"), _bessel("spherical_bessel_j0", "x")


def _polynomial(name, array):
    def fn(x, n):
        _binary_args(name, x, n, names=("x", "n"), first_number="x")
        x, n = _float_pair(x, n)
        _float_kernel(name, x)
        return Tensor(array(x.array, n.array))
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"torch.special.{name}(x, n): degree n (truncated toward zero; not differentiable)."
    return fn


def _kind(kind, shifted=False):
    return lambda x, n: chebyshev_array(kind, x, n, shifted)


chebyshev_polynomial_t = _polynomial("chebyshev_polynomial_t", _kind("t"))
chebyshev_polynomial_u = _polynomial("chebyshev_polynomial_u", _kind("u"))
chebyshev_polynomial_v = _polynomial("chebyshev_polynomial_v", _kind("v"))
chebyshev_polynomial_w = _polynomial("chebyshev_polynomial_w", _kind("w"))
shifted_chebyshev_polynomial_t = _polynomial("shifted_chebyshev_polynomial_t", _kind("t", True))
shifted_chebyshev_polynomial_u = _polynomial("shifted_chebyshev_polynomial_u", _kind("u", True))
shifted_chebyshev_polynomial_v = _polynomial("shifted_chebyshev_polynomial_v", _kind("v", True))
shifted_chebyshev_polynomial_w = _polynomial("shifted_chebyshev_polynomial_w", _kind("w", True))
hermite_polynomial_h = _polynomial("hermite_polynomial_h", hermite_array)
hermite_polynomial_he = _polynomial("hermite_polynomial_he",
                                    lambda x, n: hermite_array(x, n, probabilists=True))
laguerre_polynomial_l = _polynomial("laguerre_polynomial_l", laguerre_array)
legendre_polynomial_p = _polynomial("legendre_polynomial_p", legendre_array)
