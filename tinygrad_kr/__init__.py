"""tinygrad_kr: a readable autograd engine with PyTorch's API.

``import tinygrad_kr as torch`` and course code written for PyTorch runs.
"""
from . import dtypes, kernels
from .autograd import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from .dtypes import (bool, double, float, float16, float32, float64, get_default_dtype, half, int,
                     int8, int16, int32, int64, long, short, uint8, set_default_dtype)
from .factories import (BoolTensor, ByteTensor, DoubleTensor, FloatTensor, IntTensor,
                        LongTensor, arange, empty, empty_like, eye, from_numpy, full, full_like,
                        linspace, multinomial, normal, ones, ones_like, rand, rand_like, randint,
                        randn, randn_like, randperm, tensor, zeros, zeros_like, as_tensor,
                        set_default_device, get_default_device)
from .ops import (abs, add, amax, amin, argmax, argmin, argsort, bmm, broadcast_to, can_cast, cat,
                  chunk, clamp, clip, concat, concatenate, cos, cumprod, cumsum, diag, diagonal,
                  div, dot, einsum, exp, expand, expm1, flatten, flip, fliplr, flipud, gather,
                  histogram, index_add, index_select, leaky_relu, log, log1p, log2, log10,
                  log_softmax, logsumexp, matmul, max, maximum, mean, min, minimum, mm, mul, mv,
                  narrow, neg, norm, outer, permute, pow, prod, promote_types, reciprocal, relu,
                  repeat, reshape, result_type, roll, rot90, rsqrt, scatter, sigmoid, sign, sin,
                  softmax, sort, split, sqrt, square, squeeze, stack, std, sub, sum, swapaxes, t,
                  tanh, topk, trace, transpose, tril, triu, unbind, unsqueeze, var, where)
from ._tensor_str import get_printoptions, printoptions, set_printoptions
from .random import Generator, get_rng_state, initial_seed, manual_seed, seed, set_rng_state
from .tensor import Size, Tensor, device
from .config import get_num_threads, set_num_threads, show_config
from . import accelerator, autograd, backend, backends, cuda, return_types  # noqa: E402
from .autograd.anomaly_mode import (is_anomaly_check_nan_enabled,  # noqa: E402
                                   is_anomaly_enabled, set_anomaly_enabled)

multiply, divide, subtract, negative, absolute = mul, div, sub, neg, abs
__version__ = "0.1.0"


# PyTorch's functions that are Tensor methods here
all, any, isnan, isinf, isfinite = Tensor.all, Tensor.any, Tensor.isnan, Tensor.isinf, Tensor.isfinite
floor, ceil, round, clone, masked_fill = Tensor.floor, Tensor.ceil, Tensor.round, Tensor.clone, \
    Tensor.masked_fill
eq, ne, lt, le, gt, ge = Tensor.eq, Tensor.ne, Tensor.lt, Tensor.le, Tensor.gt, Tensor.ge
logical_not, logical_and, logical_or, logical_xor = Tensor.logical_not, Tensor.logical_and, \
    Tensor.logical_or, Tensor.logical_xor
is_floating_point = Tensor.is_floating_point


def is_tensor(obj):
    return isinstance(obj, Tensor)


def numel(input):
    return input.numel()


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    return input.allclose(other, rtol, atol, equal_nan)


def equal(input, other):
    return input.equal(other)


def _lazy(name):
    import importlib
    return importlib.import_module(f".{name}", __name__)


def __getattr__(name):
    # subpackages written on top of the core load on first use
    if name in ("nn", "optim", "utils", "vision", "experiments", "func", "distributions",
                "hub", "amp", "profiler"):
        return _lazy(name)
    if name == "autocast":
        return _lazy("amp").autocast
    if name in ("save", "load"):
        return getattr(_lazy("serialization"), name)
    if name == "vmap":
        return _lazy("func").vmap
    if "_torch_extras" in globals():   # (imported below) torch.conv2d, torch.dropout, ...
        if name in _torch_extras.FUNCTIONAL_NAMES:
            return getattr(_lazy("_torch_functional"), name)
        if name in _torch_info.ABSENT_DTYPES:      # complex64, bfloat16, ...: say why not
            raise AttributeError(_torch_info.ABSENT_DTYPES[name])
    raise AttributeError(f"module 'tinygrad_kr' has no attribute {name!r}")


# The rest of torch's functions (element-wise math, torch.linalg and its top-level
# names, shape / indexing / reduction functions): after the core, which they build on
from .ops_math import (  # noqa: E402
    acos, acosh, arccos, arccosh, arcsin, arcsinh, arctan, arctan2, arctanh, asin, asinh, atan,
    atan2, atanh, bitwise_and, bitwise_not, bitwise_or, bitwise_xor, clamp_max, clamp_min, cosh,
    deg2rad, digamma, erf, erfc, erfinv, exp2, fix, float_power, floor_divide, fmax, fmin, fmod,
    frac, gcd, heaviside, hypot, i0, isclose, isneginf, isposinf, isreal, lcm, lerp, lgamma,
    logaddexp, logaddexp2, logit, nan_to_num, polygamma, rad2deg, remainder, sgn, signbit, sinc,
    sinh, tan, true_divide, trunc, xlogy)
from .linalg import (  # noqa: E402
    _logdet as logdet, _top_cholesky as cholesky, _top_cholesky_inverse as cholesky_inverse,
    _top_cholesky_solve as cholesky_solve, _top_pinverse as pinverse, _top_slogdet as slogdet,
    _top_svd as svd, det, inv as inverse, matrix_exp, matrix_power)
from .ops_shape_reduce import (  # noqa: E402
    addbmm, addcdiv, addcmul, addmm, addmv, addr, argwhere, atleast_1d, atleast_2d, atleast_3d,
    baddbmm, bincount, block_diag, broadcast_shapes, broadcast_tensors, bucketize, cartesian_prod,
    cdist, chain_matmul, column_stack, combinations, count_nonzero, cov, cross, cummax, cummin,
    diag_embed, diagflat, diff, dist, dsplit, dstack, histc, hsplit, hstack, index_reduce, inner,
    kron, kthvalue, logcumsumexp, masked_select, median, meshgrid, mode, moveaxis, movedim,
    nanmean, nanmedian, nanquantile, nansum, nonzero, pdist, quantile, ravel, renorm,
    repeat_interleave, row_stack, scatter_add, scatter_reduce, searchsorted, select, std_mean,
    swapdims, take, take_along_dim, tensor_split, tensordot, tile, trapezoid, trapz,
    tril_indices, triu_indices, unflatten, unique, unique_consecutive, vander, var_mean, vdot,
    vsplit, vstack)
from . import tensor_extras  # noqa: E402,F401  (more Tensor methods)
# torch.special and torch.testing; igamma/igammac/mvlgamma are torch.special's functions too
from . import special, testing  # noqa: E402
from ._ops_special import igamma, igammac, mvlgamma  # noqa: E402
# torch's other top-level names: constants, finfo/iinfo, predicates, switches, compile
# (_torch_info.py); creation, sampling, math, scatters, old linalg names, the in-place
# forms torch.exp_(t) (_torch_extras.py); nn.functional's ops under torch's names load
# with nn, on first use (__getattr__ above, _torch_functional.py)
from . import _torch_extras, _torch_info, compiler  # noqa: E402,F401
globals().update({n: getattr(_torch_info, n) for n in _torch_info.__all__})
globals().update({n: getattr(_torch_extras, n) for n in _torch_extras.__all__})
globals().update(_torch_extras.inplace_functions())
