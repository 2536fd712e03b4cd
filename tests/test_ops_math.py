"""The element-wise math functions of tinygrad_kr/ops_math.py against PyTorch:
values in float32 and float64, integer inputs (result dtype), special values
(inf, nan, 0, -0.0), gradients at random and special points, float64
gradcheck / gradgradcheck of every Function, in-place forms, and errors."""
import warnings

import numpy as np
import pytest

import tinygrad_kr as tkr
from tinygrad_kr.autograd import gradcheck, gradgradcheck

torch = pytest.importorskip("torch")

rng = np.random.default_rng(0)
SPECIAL = np.array([0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.0, -2.0, np.inf, -np.inf, np.nan, 1e-30,
                    30.0, -30.0, 1e4])


def _u(lo, hi, n=12):
    return rng.uniform(lo, hi, n)


# name -> (random inputs in the domain where the derivative is smooth)
UNARY = {
    "tan": _u(-1.4, 1.4), "asin": _u(-0.95, 0.95), "acos": _u(-0.95, 0.95), "atan": _u(-5, 5),
    "sinh": _u(-4, 4), "cosh": _u(-4, 4), "asinh": _u(-5, 5), "acosh": _u(1.1, 5),
    "atanh": _u(-0.95, 0.95), "erf": _u(-3, 3), "erfc": _u(-3, 3), "erfinv": _u(-0.95, 0.95),
    "exp2": _u(-5, 5), "lgamma": _u(0.1, 6), "digamma": _u(0.2, 6), "i0": _u(-4, 4),
    "sinc": _u(-3, 3), "logit": _u(0.05, 0.95), "trunc": _u(-5, 5) + 0.01, "frac": _u(-5, 5) + 0.01,
    "sgn": _u(-5, 5), "deg2rad": _u(-360, 360), "rad2deg": _u(-7, 7), "fix": _u(-5, 5) + 0.01,
    "arcsin": _u(-0.95, 0.95), "arctanh": _u(-0.5, 0.5),
}
# PyTorch refuses these for integer tensors
NO_INT = {"frac"}


def _rtol(dtype):
    return 2e-5 if dtype == np.float32 else 1e-10


def _compare(ours, theirs, rtol, atol=0.0):
    assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1], \
        (ours.dtype, theirs.dtype)
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=rtol,
                               atol=atol, equal_nan=True)


@pytest.mark.parametrize("name", sorted(UNARY))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_unary_values(name, dtype):
    x = UNARY[name].astype(dtype)
    _compare(getattr(tkr, name)(tkr.tensor(x)), getattr(torch, name)(torch.tensor(x)),
             _rtol(dtype), atol=1e-6 if dtype == np.float32 else 1e-12)
    # the Tensor method gives the same
    _compare(getattr(tkr.tensor(x), name)(), getattr(torch.tensor(x), name)(), _rtol(dtype),
             atol=1e-6 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_special_values(name):
    with warnings.catch_warnings():
        warnings.simplefilter("error")      # no NumPy warnings at inf / nan / 0
        for dtype in (np.float32, np.float64):
            x = SPECIAL.astype(dtype)
            ours, theirs = getattr(tkr, name)(tkr.tensor(x)), getattr(torch, name)(torch.tensor(x))
            _compare(ours, theirs, 1e-4 if dtype == np.float32 else 1e-9, atol=1e-30)
            # the sign of a zero result as in PyTorch
            o, t = ours.numpy(), theirs.numpy()
            z = (o == 0) & (t == 0)
            assert (np.signbit(o[z]) == np.signbit(t[z])).all(), (name, x[z], o[z], t[z])


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_int_input(name):
    x = np.array([-3, -1, 0, 1, 2, 5])
    if name in NO_INT:
        with pytest.raises(NotImplementedError):
            getattr(torch, name)(torch.tensor(x))
        with pytest.raises(NotImplementedError):
            getattr(tkr, name)(tkr.tensor(x))
        return
    _compare(getattr(tkr, name)(tkr.tensor(x)), getattr(torch, name)(torch.tensor(x)), 2e-5,
             atol=1e-6)


def _grads(fn_ours, fn_theirs, *arrays, rtol=1e-9, atol=1e-12):
    ours = [tkr.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    y, ty = fn_ours(*ours), fn_theirs(*theirs)
    g = rng.standard_normal(tuple(y.shape))
    y.backward(tkr.tensor(g))
    ty.backward(torch.tensor(g))
    for a, b in zip(ours, theirs):
        expected = (b.grad + torch.zeros_like(b)).numpy()     # sgn's grad is a ZeroTensor
        np.testing.assert_allclose(a.grad.numpy(), expected, rtol=rtol, atol=atol, equal_nan=True)


# special points where each derivative is defined (PyTorch's value is the reference)
UNARY_GRAD_SPECIAL = {
    "sinc": [0.0, -0.0, 1.0, -2.0], "trunc": [0.0, 1.0, -1.5], "frac": [0.0, 1.0, -1.5],
    "fix": [0.0, 2.0], "sgn": [0.0, -0.0, 3.0], "logit": [0.0, 1.0, -0.5, 1.5, 0.5],
    "i0": [0.0], "erfinv": [0.0, 1.0, -1.0], "atanh": [1.0, -1.0, 0.0],
    "asin": [1.0, -1.0, 0.0], "acos": [1.0, 0.0], "acosh": [1.0, 2.0], "digamma": [1.0, 0.5],
    "lgamma": [0.0, 1.0, 2.5], "tan": [0.0], "erf": [0.0, np.inf], "exp2": [0.0, -np.inf],
}


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_gradients(name):
    x = np.concatenate([UNARY[name], UNARY_GRAD_SPECIAL.get(name, [])])
    _grads(getattr(tkr, name), getattr(torch, name), x)


def test_logit_eps_and_polygamma():
    x = np.array([-0.5, 0.0, 0.05, 0.3, 0.9, 0.95, 1.0, 1.5])
    for eps in (None, 0.05, 0.1):
        _compare(tkr.logit(tkr.tensor(x), eps), torch.logit(torch.tensor(x), eps), 1e-10)
        _grads(lambda t: tkr.logit(t, eps), lambda t: torch.logit(t, eps), x)
    x = UNARY["digamma"]
    for n in (0, 1, 2, 3):
        _compare(tkr.polygamma(n, tkr.tensor(x)), torch.polygamma(n, torch.tensor(x)), 1e-9)
        _compare(tkr.tensor(x).polygamma(n), torch.tensor(x).polygamma(n), 1e-9)
        _grads(lambda t: tkr.polygamma(n, t), lambda t: torch.polygamma(n, t), x, rtol=1e-8)


A = rng.standard_normal(12)
B = rng.standard_normal(12)
BP = rng.uniform(0.5, 3.0, 12) * np.where(rng.random(12) < 0.5, -1, 1)   # no zero divisor
SPECIAL_A = np.array([0.0, -0.0, 0.0, 1.0, -1.0, np.inf, -np.inf, np.inf, np.nan, 2.0, 0.0, 3.0])
SPECIAL_B = np.array([0.0, 0.0, -0.0, np.inf, -np.inf, np.inf, -np.inf, -np.inf, 1.0, np.nan, 2.0,
                      0.0])

# name -> (first input, second input) for the random comparison
BINARY = {
    "atan2": (A, B), "arctan2": (A, B), "hypot": (A, B), "logaddexp": (A, B),
    "logaddexp2": (A, B), "xlogy": (A, np.abs(B) + 0.1), "fmod": (3 * A, BP),
    "remainder": (3 * A, BP), "fmax": (A, B), "fmin": (A, B), "float_power": (np.abs(A), B),
    "true_divide": (A, BP), "floor_divide": (3 * A, BP),
}
NON_DIFFERENTIABLE = {"floor_divide"}


@pytest.mark.parametrize("name", sorted(BINARY))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_binary_values(name, dtype):
    a, b = (v.astype(dtype) for v in BINARY[name])
    f, tf = getattr(tkr, name), getattr(torch, name)
    _compare(f(tkr.tensor(a), tkr.tensor(b)), tf(torch.tensor(a), torch.tensor(b)), _rtol(dtype),
             atol=1e-6 if dtype == np.float32 else 1e-12)
    _compare(getattr(tkr.tensor(a), name)(tkr.tensor(b)),
             getattr(torch.tensor(a), name)(torch.tensor(b)), _rtol(dtype),
             atol=1e-6 if dtype == np.float32 else 1e-12)
    # broadcasting, a row against a column
    _compare(f(tkr.tensor(a[:4, None]), tkr.tensor(b[None, :3])),
             tf(torch.tensor(a[:4, None]), torch.tensor(b[None, :3])), _rtol(dtype),
             atol=1e-6 if dtype == np.float32 else 1e-12)


# floor_divide is ops.div(rounding_mode="floor"), whose inf // finite is +-inf (PyTorch: nan)
@pytest.mark.parametrize("name", sorted(set(BINARY) - {"floor_divide"}))
def test_binary_special_values(name):
    f, tf = getattr(tkr, name), getattr(torch, name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore" if name == "true_divide" else "error")  # ops.div warns
        for dtype in (np.float32, np.float64):
            a, b = SPECIAL_A.astype(dtype), SPECIAL_B.astype(dtype)
            for x, y in ((a, b), (b, a)):
                _compare(f(tkr.tensor(x), tkr.tensor(y)), tf(torch.tensor(x), torch.tensor(y)),
                         1e-6, atol=1e-30)


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_int_and_mixed_inputs(name):
    f, tf = getattr(tkr, name), getattr(torch, name)
    a, b = np.array([-7, -3, 0, 4, 9, 2]), np.array([2, 3, 5, -4, 4, 7])
    try:
        expected = tf(torch.tensor(a), torch.tensor(b))
    except (RuntimeError, NotImplementedError) as e:
        with pytest.raises(type(e)):
            f(tkr.tensor(a), tkr.tensor(b))
    else:
        _compare(f(tkr.tensor(a), tkr.tensor(b)), expected, 2e-6)
    # int32 with float32 / float32 with float64 tensor: PyTorch's promotion
    x = np.array([1.5, -2.5, 3.25], np.float32)
    _compare(f(tkr.tensor(a[:3].astype(np.int32)), tkr.tensor(x)),
             tf(torch.tensor(a[:3].astype(np.int32)), torch.tensor(x)), 2e-6)
    _compare(f(tkr.tensor(x), tkr.tensor(x.astype(np.float64) + 1)),
             tf(torch.tensor(x), torch.tensor(x.astype(np.float64) + 1)), 2e-6)


BINARY_GRAD_SPECIAL = {
    # (0, 0) and ties, where PyTorch defines the gradient
    "atan2": ([0.0, 0.0, 1.0], [0.0, 1.0, 0.0]), "hypot": ([0.0, 3.0], [0.0, 4.0]),
    "xlogy": ([0.0, 0.0, 2.0], [0.0, 1.0, 3.0]), "fmax": ([1.0, np.nan, 2.0], [1.0, 1.0, np.nan]),
    "fmin": ([1.0, np.nan, 2.0], [1.0, 1.0, np.nan]),
    "logaddexp": ([0.0, -np.inf, 1.0], [0.0, 1.0, -np.inf]),
    "logaddexp2": ([0.0, -np.inf, 30.0], [0.0, 1.0, -30.0]),
    "remainder": ([0.0, 4.0, -4.0], [0.0, 2.0, 3.0]), "fmod": ([0.0, 4.0, -4.0], [0.0, 2.0, 3.0]),
}


@pytest.mark.parametrize("name", sorted(set(BINARY) - NON_DIFFERENTIABLE))
def test_binary_gradients(name):
    a, b = BINARY[name]
    sa, sb = BINARY_GRAD_SPECIAL.get(name, ([], []))
    a, b = np.concatenate([a, sa]), np.concatenate([b, sb])
    _grads(getattr(tkr, name), getattr(torch, name), a, b)
    # a broadcast operand gets its gradient summed
    _grads(getattr(tkr, name), getattr(torch, name), a[:4, None], b[None, :3])


def test_scalar_operands():
    x = np.array([-2.5, 0.5, 3.0])
    for f in ("remainder", "fmod", "float_power", "xlogy", "true_divide", "floor_divide"):
        _compare(getattr(tkr, f)(tkr.tensor(x), 2), getattr(torch, f)(torch.tensor(x), 2), 1e-6)
        _compare(getattr(tkr, f)(tkr.tensor(x), 1.5), getattr(torch, f)(torch.tensor(x), 1.5),
                 1e-6)
    _compare(tkr.xlogy(2, tkr.tensor(np.abs(x))), torch.xlogy(2, torch.tensor(np.abs(x))), 1e-6)
    _compare(tkr.remainder(5, tkr.tensor(x)), torch.remainder(5, torch.tensor(x)), 1e-6)
    _compare(tkr.float_power(2, tkr.tensor(x)), torch.float_power(2, torch.tensor(x)), 1e-12)
    _compare(tkr.float_power(tkr.tensor([1, 2, 3]), 2),
             torch.float_power(torch.tensor([1, 2, 3]), 2), 1e-12)
    xi = np.array([-7, -3, 4, 9])
    _compare(tkr.remainder(tkr.tensor(xi), 3), torch.remainder(torch.tensor(xi), 3), 0)
    _compare(tkr.fmod(tkr.tensor(xi), -3), torch.fmod(torch.tensor(xi), -3), 0)
    # float_power's gradient reaches a float32 input through the cast
    _grads(lambda t: tkr.float_power(t, 3), lambda t: torch.float_power(t, 3), x)


def test_lerp():
    a, b, w = rng.standard_normal(6), rng.standard_normal(6), np.array([0, 0.2, 0.5, 0.7, 1, 1.5])
    for weight in (0.3, 0.8, 1.0):
        _compare(tkr.lerp(tkr.tensor(a), tkr.tensor(b), weight),
                 torch.lerp(torch.tensor(a), torch.tensor(b), weight), 1e-12)
        _grads(lambda s, e: tkr.lerp(s, e, weight), lambda s, e: torch.lerp(s, e, weight), a, b)
    _compare(tkr.lerp(tkr.tensor(a), tkr.tensor(b), tkr.tensor(w)),
             torch.lerp(torch.tensor(a), torch.tensor(b), torch.tensor(w)), 1e-12)
    _grads(tkr.lerp, torch.lerp, a, b, w)
    _compare(tkr.tensor(a).lerp(tkr.tensor(b), 0.25), torch.tensor(a).lerp(torch.tensor(b), 0.25),
             1e-12)
    with pytest.raises(RuntimeError, match="expected dtype"):
        tkr.lerp(tkr.tensor(a), tkr.tensor(b).float(), 0.5)
    with pytest.raises(NotImplementedError):
        tkr.lerp(tkr.tensor([1, 2]), tkr.tensor([3, 4]), 0.5)


def test_nan_to_num():
    x = np.array([np.nan, np.inf, -np.inf, 1.5, -0.0])
    for dtype in (np.float32, np.float64):
        xs = x.astype(dtype)
        for kw in ({}, {"nan": 2.0}, {"posinf": 9.0, "neginf": -9.0}):
            _compare(tkr.nan_to_num(tkr.tensor(xs), **kw), torch.nan_to_num(torch.tensor(xs), **kw),
                     0)
            _compare(tkr.tensor(xs).nan_to_num(**kw), torch.tensor(xs).nan_to_num(**kw), 0)
    _grads(tkr.nan_to_num, torch.nan_to_num, x)
    _grads(tkr.nan_to_num, torch.nan_to_num, np.array([1.0, 2.0]))
    _compare(tkr.nan_to_num(tkr.tensor([1, 2])), torch.nan_to_num(torch.tensor([1, 2])), 0)


def _same(ours, theirs):
    assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
    assert not ours.requires_grad and ours.grad_fn is None
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_predicates():
    x = np.array([0.0, -0.0, 1.0, -2.0, np.inf, -np.inf, np.nan])
    for dtype in (np.float32, np.float64):
        t, tt = tkr.tensor(x.astype(dtype), requires_grad=True), torch.tensor(x.astype(dtype))
        for f in ("signbit", "isneginf", "isposinf", "isreal"):
            _same(getattr(tkr, f)(t), getattr(torch, f)(tt))
            _same(getattr(t, f)(), getattr(tt, f)())
    i = np.array([-3, 0, 2])
    for f in ("signbit", "isneginf", "isposinf", "isreal"):
        _same(getattr(tkr, f)(tkr.tensor(i)), getattr(torch, f)(torch.tensor(i)))
    y = x + np.array([1e-9, 0, 1e-3, 0, 0, 1, np.nan])
    for kw in ({}, {"equal_nan": True}, {"rtol": 1e-2, "atol": 0.0}, {"atol": 1e-2}):
        _same(tkr.isclose(tkr.tensor(x), tkr.tensor(y), **kw),
              torch.isclose(torch.tensor(x), torch.tensor(y), **kw))
    _same(tkr.tensor(x).isclose(tkr.tensor(y)), torch.tensor(x).isclose(torch.tensor(y)))
    _same(tkr.isclose(tkr.tensor(i), tkr.tensor(i + 1), atol=1),
          torch.isclose(torch.tensor(i), torch.tensor(i + 1), atol=1))
    with pytest.raises(RuntimeError):
        torch.isclose(torch.tensor(x), torch.tensor(x).float())
    with pytest.raises(RuntimeError):
        tkr.isclose(tkr.tensor(x), tkr.tensor(x).float())


def test_heaviside():
    x, v = np.array([-1.5, 0.0, -0.0, 2.0, np.nan]), np.array([0.5, 0.25, 0.75, 9.0, 1.0])
    _same(tkr.heaviside(tkr.tensor(x), tkr.tensor(v)),
          torch.heaviside(torch.tensor(x), torch.tensor(v)))
    _same(tkr.heaviside(tkr.tensor([-2, 0, 3]), tkr.tensor([7])),
          torch.heaviside(torch.tensor([-2, 0, 3]), torch.tensor([7])))
    with pytest.raises(RuntimeError, match="different dtypes"):
        tkr.heaviside(tkr.tensor(x), tkr.tensor(v).float())
    with pytest.raises(TypeError):
        tkr.heaviside(tkr.tensor(x), 0.5)


def test_integer_ops():
    a, b = np.array([12, -18, 0, 7, 255, -1]), np.array([8, 12, 5, 0, 15, 6])
    for f in ("gcd", "lcm", "bitwise_and", "bitwise_or", "bitwise_xor"):
        for dtype in (np.int64, np.int32, np.uint8 if f.startswith("bitwise") else np.int16):
            x, y = a.astype(dtype), b.astype(dtype)
            _same(getattr(tkr, f)(tkr.tensor(x), tkr.tensor(y)),
                  getattr(torch, f)(torch.tensor(x), torch.tensor(y)))
            _same(getattr(tkr.tensor(x), f)(tkr.tensor(y)),
                  getattr(torch.tensor(x), f)(torch.tensor(y)))
        with pytest.raises(NotImplementedError):
            getattr(tkr, f)(tkr.tensor([1.0]), tkr.tensor([2.0]))
    # mixed widths promote, bools stay bools, Python ints are accepted by the bit operations
    _same(tkr.gcd(tkr.tensor(a.astype(np.int32)), tkr.tensor(b)),
          torch.gcd(torch.tensor(a.astype(np.int32)), torch.tensor(b)))
    p, q = np.array([True, False, True]), np.array([True, True, False])
    for f in ("bitwise_and", "bitwise_or", "bitwise_xor"):
        _same(getattr(tkr, f)(tkr.tensor(p), tkr.tensor(q)),
              getattr(torch, f)(torch.tensor(p), torch.tensor(q)))
        _same(getattr(tkr, f)(tkr.tensor(a), 6), getattr(torch, f)(torch.tensor(a), 6))
    _same(tkr.bitwise_not(tkr.tensor(a)), torch.bitwise_not(torch.tensor(a)))
    _same(tkr.bitwise_not(tkr.tensor(p)), torch.bitwise_not(torch.tensor(p)))
    _same(tkr.tensor(a).bitwise_not(), torch.tensor(a).bitwise_not())
    with pytest.raises(NotImplementedError):
        tkr.bitwise_not(tkr.tensor([1.0]))
    with pytest.raises(NotImplementedError):
        tkr.gcd(tkr.tensor([True]), tkr.tensor([False]))


def test_clamp_min_max_and_aliases():
    x = rng.standard_normal(8)
    _compare(tkr.clamp_min(tkr.tensor(x), 0.1), torch.clamp_min(torch.tensor(x), 0.1), 0)
    _compare(tkr.clamp_max(tkr.tensor(x), 0.1), torch.clamp_max(torch.tensor(x), 0.1), 0)
    _grads(lambda t: tkr.clamp_min(t, 0.1), lambda t: torch.clamp_min(t, 0.1), x)
    for ours, theirs in (("arccos", "acos"), ("arctan", "atan"), ("arcsinh", "asinh"),
                         ("arccosh", "acosh")):
        assert getattr(tkr, ours) is getattr(tkr, theirs)
        assert hasattr(torch, ours)


def test_errors_as_torch():
    x = tkr.tensor([1.0, 2.0])
    for f in ("atan2", "hypot", "logaddexp", "logaddexp2", "fmax", "fmin", "gcd", "lcm"):
        with pytest.raises(TypeError):
            getattr(torch, f)(torch.tensor([1.0, 2.0]), 2.0)
        with pytest.raises(TypeError):
            getattr(tkr, f)(x, 2.0)
    for f in ("remainder", "fmod"):
        with pytest.raises(RuntimeError, match="ZeroDivisionError"):
            getattr(torch, f)(torch.tensor([1, 2]), torch.tensor([1, 0]))
        with pytest.raises(RuntimeError, match="ZeroDivisionError"):
            getattr(tkr, f)(tkr.tensor([1, 2]), tkr.tensor([1, 0]))
    with pytest.raises(RuntimeError):
        tkr.polygamma(-1, x)
    with pytest.raises(NotImplementedError):
        tkr.hypot(tkr.tensor([3]), tkr.tensor([4]))


def test_non_differentiable_results_with_requires_grad_inputs():
    x = tkr.tensor([1.5, -2.0], requires_grad=True)
    for out in (tkr.signbit(x), tkr.isposinf(x), tkr.isclose(x, x), tkr.floor_divide(x, 2.0),
                tkr.heaviside(x, x)):
        assert not out.requires_grad
    # zero-gradient step functions stay in the graph, as in PyTorch
    for f in ("trunc", "sgn"):
        y = getattr(tkr, f)(x)
        assert y.requires_grad
        y.sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0])
        x.grad = None


def test_inplace_forms():
    x = rng.uniform(0.1, 0.9, 5)
    for name in ("tan", "asin", "erf", "erfinv", "exp2", "lgamma", "digamma", "i0", "sinc",
                 "trunc", "frac", "deg2rad", "sgn", "logit", "nan_to_num"):
        ours, theirs = tkr.tensor(x), torch.tensor(x)
        r = getattr(ours, name + "_")()
        getattr(theirs, name + "_")()
        assert r is ours
        _compare(ours, theirs, 1e-12)
    for name in ("atan2", "hypot", "fmod", "remainder", "xlogy", "floor_divide", "true_divide",
                 "heaviside"):
        ours, theirs = tkr.tensor(x), torch.tensor(x)
        getattr(ours, name + "_")(tkr.tensor(x[::-1].copy()))
        getattr(theirs, name + "_")(torch.tensor(x[::-1].copy()))
        _compare(ours, theirs, 1e-12)
    ours, theirs = tkr.tensor(x), torch.tensor(x)
    ours.float_power_(2.5)
    theirs.float_power_(2.5)
    _compare(ours, theirs, 1e-12)
    with pytest.raises(RuntimeError, match="float_power_"):
        tkr.tensor(x).float().float_power_(2)
    a = tkr.tensor([12, 7])
    a.gcd_(tkr.tensor([8, 21]))
    a.bitwise_and_(tkr.tensor([7, 7]))
    assert a.tolist() == [4, 7]
    # in the graph: the gradient goes through the in-place op
    w = tkr.tensor(x, requires_grad=True)
    tw = torch.tensor(x, requires_grad=True)
    y, ty = w * 1, tw * 1
    y.atan_()
    ty.atan_()
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), rtol=1e-12)
    with pytest.raises(RuntimeError):
        tkr.tensor([1, 2]).tan_()      # a float result can't be written into an int tensor


# -- float64 gradcheck / gradgradcheck of every Function in ops_math -----------

def _leaf(a):
    return tkr.tensor(np.asarray(a, dtype=np.float64), requires_grad=True)


GRADCHECK = {
    "Tan": (tkr.tan, [UNARY["tan"][:4]]), "Asin": (tkr.asin, [UNARY["asin"][:4]]),
    "Acos": (tkr.acos, [UNARY["acos"][:4]]), "Atan": (tkr.atan, [UNARY["atan"][:4]]),
    "Sinh": (tkr.sinh, [UNARY["sinh"][:4]]), "Cosh": (tkr.cosh, [UNARY["cosh"][:4]]),
    "Asinh": (tkr.asinh, [UNARY["asinh"][:4]]), "Acosh": (tkr.acosh, [UNARY["acosh"][:4]]),
    "Atanh": (tkr.atanh, [UNARY["atanh"][:4]]), "Erf": (tkr.erf, [UNARY["erf"][:4]]),
    "Erfc": (tkr.erfc, [UNARY["erfc"][:4]]), "Erfinv": (tkr.erfinv, [UNARY["erfinv"][:4]]),
    "Exp2": (tkr.exp2, [UNARY["exp2"][:4]]), "Lgamma": (tkr.lgamma, [UNARY["lgamma"][:4]]),
    "Polygamma": (lambda t: tkr.polygamma(1, t), [UNARY["digamma"][:4]]),
    "I0": (tkr.i0, [np.array([0.0, -1.3, 0.7, 2.5])]),
    "Sinc": (tkr.sinc, [np.array([0.3, -1.3, 0.7, 2.5])]),
    "Logit": (tkr.logit, [UNARY["logit"][:4]]),
    "Trunc": (tkr.frac, [np.array([0.3, -1.3, 0.7, 2.5])]),
    "Sgn": (tkr.sgn, [np.array([0.3, -1.3, 0.7, 2.5])]),
    "Floor_Ceil_Round": (lambda t: t.floor() + t.ceil() + t.round(),
                         [np.array([0.3, -1.3, 0.7, 2.4])]),
    "Atan2": (tkr.atan2, [A[:4], B[:4]]), "Hypot": (tkr.hypot, [A[:4], B[:4]]),
    "LogAddExp": (tkr.logaddexp, [A[:4], B[:4]]),
    "LogAddExp2": (tkr.logaddexp2, [A[:4], B[:4]]),
    "Xlogy": (tkr.xlogy, [A[:4], np.abs(B[:4]) + 0.5]),
    "Remainder": (tkr.remainder, [3 * A[:4], BP[:4]]),
    "Fmod": (tkr.fmod, [3 * A[:4], BP[:4]]),
    "FMax": (tkr.fmax, [A[:4], B[:4]]), "FMin": (tkr.fmin, [A[:4], B[:4]]),
    "Lerp": (lambda s, e, w: tkr.lerp(s, e, w), [A[:4], B[:4], [0.1, 0.6, 0.9, 1.2]]),
    "I0_broadcast": (lambda a, b: tkr.i0(a) * tkr.hypot(a, b), [A[:3, None], B[None, :2]]),
}


@pytest.mark.parametrize("name", sorted(GRADCHECK))
def test_gradcheck_float64(name):
    f, arrays = GRADCHECK[name]
    inputs = [_leaf(a) for a in arrays]
    assert gradcheck(f, inputs, eps=1e-6, atol=1e-6, rtol=1e-4)
    assert gradgradcheck(f, inputs, eps=1e-6, atol=1e-5, rtol=1e-3)


def test_sinc_second_derivative_at_zero():
    # -pi^2 / 3 (PyTorch's double backward gives nan there)
    x = tkr.tensor([0.0, 0.5], dtype=tkr.float64, requires_grad=True)
    g, = tkr.autograd.grad(tkr.sinc(x).sum(), x, create_graph=True)
    h, = tkr.autograd.grad(g.sum(), x)
    tx = torch.tensor([0.5], dtype=torch.float64, requires_grad=True)
    tg, = torch.autograd.grad(torch.sinc(tx).sum(), tx, create_graph=True)
    th, = torch.autograd.grad(tg.sum(), tx)
    np.testing.assert_allclose(h.numpy(), [-np.pi ** 2 / 3, th.item()], rtol=1e-12)
    np.testing.assert_array_equal(g.detach().numpy()[:1], [0.0])


def test_every_ops_math_function_is_gradchecked():
    """Every Function subclass of ops_math is in a GRADCHECK graph."""
    from tinygrad_kr import ops_math
    from tinygrad_kr.autograd.function import Function
    classes = {c for c in vars(ops_math).values()
               if isinstance(c, type) and issubclass(c, Function) and c is not Function
               and not c.__name__.startswith("_")}
    seen = set()
    for f, arrays in GRADCHECK.values():
        inputs = [_leaf(a) for a in arrays]
        out = f(*inputs)
        g, = tkr.autograd.grad(out.sum(), inputs[:1], create_graph=True)
        stack = [out.grad_fn, g.grad_fn]
        while stack:
            node = stack.pop()
            if isinstance(node, Function) and node not in seen:
                seen.add(node)
                stack.extend(node.parents or ())
    missing = classes - {type(n) for n in seen}
    assert not missing, sorted(c.__name__ for c in missing)
