"""Every differentiable core op: float64 gradcheck over shapes that include
broadcasting pairs, size-1 dims and empty tensors; forward equals NumPy."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_kr as tkr
from tinygrad_kr.autograd import gradcheck, gradgradcheck

rng = np.random.default_rng(0)


def leaf(*shape, positive=False, low=-2.0, high=2.0):
    a = rng.uniform(0.5, 2.0, shape) if positive else rng.uniform(low, high, shape)
    return tkr.tensor(a, dtype=tkr.float64, requires_grad=True)


BINARY_SHAPES = [((3, 4), (3, 4)), ((3, 4), (4,)), ((3, 1), (1, 4)), ((2, 1, 3), (4, 1)),
                 ((1,), (2, 3)), ((), (2, 3)), ((0, 3), (3,)), ((2, 0), (2, 1))]

BINARY = {
    "add": (lambda a, b: a + b, np.add, False),
    "sub": (lambda a, b: a - b, np.subtract, False),
    "mul": (lambda a, b: a * b, np.multiply, False),
    "div": (lambda a, b: a / b, np.divide, True),
    "pow": (lambda a, b: a ** b, np.power, True),
    "maximum": (tkr.maximum, np.maximum, False),
    "minimum": (tkr.minimum, np.minimum, False),
}


@pytest.mark.parametrize("name", sorted(BINARY))
@pytest.mark.parametrize("sa,sb", BINARY_SHAPES)
def test_binary_ops(name, sa, sb):
    f, ref, positive = BINARY[name]
    a, b = leaf(*sa, positive=positive), leaf(*sb, positive=positive)
    np.testing.assert_allclose(f(a, b).array, ref(a.array, b.array), rtol=1e-12)
    assert gradcheck(f, (a, b))


UNARY = {
    "exp": (tkr.exp, np.exp, False), "log": (tkr.log, np.log, True),
    "sqrt": (tkr.sqrt, np.sqrt, True), "abs": (tkr.abs, np.abs, False),
    "sin": (tkr.sin, np.sin, False), "cos": (tkr.cos, np.cos, False),
    "tanh": (tkr.tanh, np.tanh, False), "sigmoid": (tkr.sigmoid, lambda x: 1 / (1 + np.exp(-x)), False),
    "relu": (tkr.relu, lambda x: np.maximum(x, 0), False),
    "leaky_relu": (lambda x: tkr.leaky_relu(x, 0.1), lambda x: np.where(x > 0, x, 0.1 * x), False),
    "neg": (lambda x: -x, np.negative, False),
    "clamp": (lambda x: tkr.clamp(x, -0.5, 0.7), lambda x: np.clip(x, -0.5, 0.7), False),
    "square": (tkr.square, np.square, False), "log1p": (tkr.log1p, np.log1p, True),
    "log2": (tkr.log2, np.log2, True), "log10": (lambda x: x.log10(), np.log10, True),
    "expm1": (tkr.expm1, np.expm1, False), "rsqrt": (tkr.rsqrt, lambda x: 1 / np.sqrt(x), True),
    "pow_scalar": (lambda x: x ** 3, lambda x: x ** 3, False),
    "rpow": (lambda x: 2.0 ** x, lambda x: 2.0 ** x, False),
    "rsub": (lambda x: 1.0 - x, lambda x: 1.0 - x, False),
    "rdiv": (lambda x: 1.0 / x, lambda x: 1.0 / x, True),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@pytest.mark.parametrize("shape", [(5,), (2, 3), (1, 1), (), (0, 4)])
def test_unary_ops(name, shape):
    f, ref, positive = UNARY[name]
    x = leaf(*shape, positive=positive)
    if name in ("abs", "relu", "leaky_relu", "clamp"):  # keep away from the kinks
        x.array[np.abs(x.array) < 0.05] = 0.3
        x.array[np.abs(x.array - 0.7) < 0.05] = 0.3
        x.array[np.abs(x.array + 0.5) < 0.05] = 0.3
    np.testing.assert_allclose(f(x).array, ref(x.array), rtol=1e-12)
    assert gradcheck(f, (x,))


REDUCTIONS = {
    "sum": (lambda x, d, k: x.sum(d, keepdim=k), lambda a, d, k: a.sum(axis=d, keepdims=k)),
    "mean": (lambda x, d, k: x.mean(d, keepdim=k), lambda a, d, k: a.mean(axis=d, keepdims=k)),
    "amax": (lambda x, d, k: tkr.amax(x, d if d is not None else (), k),
             lambda a, d, k: a.max(axis=d, keepdims=k)),
    "amin": (lambda x, d, k: tkr.amin(x, d if d is not None else (), k),
             lambda a, d, k: a.min(axis=d, keepdims=k)),
    "var": (lambda x, d, k: x.var(d, keepdim=k), lambda a, d, k: a.var(axis=d, keepdims=k, ddof=1)),
    "std": (lambda x, d, k: x.std(d, keepdim=k), lambda a, d, k: a.std(axis=d, keepdims=k, ddof=1)),
    "logsumexp": (lambda x, d, k: tkr.logsumexp(x, d if d is not None else (0, 1, 2), k),
                  lambda a, d, k: np.log(np.exp(a).sum(axis=d, keepdims=k))),
}


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
@pytest.mark.parametrize("dim", [None, 0, 1, -1, (0, 2)])
@pytest.mark.parametrize("keepdim", [False, True])
def test_reductions(name, dim, keepdim):
    f, ref = REDUCTIONS[name]
    x = leaf(2, 3, 4)
    np.testing.assert_allclose(f(x, dim, keepdim).array, ref(x.array, dim, keepdim), rtol=1e-12)
    assert gradcheck(lambda t: f(t, dim, keepdim), (x,))


def test_max_min_along_dim_and_ties():
    x = leaf(3, 4)
    v, i = tkr.max(x, 1)
    np.testing.assert_array_equal(i.array, x.array.argmax(1))
    assert gradcheck(lambda t: tkr.max(t, 1).values, (x,))
    assert gradcheck(lambda t: tkr.min(t, 0, keepdim=True)[0], (x,))
    # ties share the gradient evenly (amax), as in PyTorch
    t = tkr.tensor([1.0, 3.0, 3.0], requires_grad=True)
    tkr.amax(t).backward()
    np.testing.assert_allclose(t.grad.array, [0, 0.5, 0.5])
    assert x.argmax().item() == x.array.argmax()
    assert x.argmin(dim=0).tolist() == x.array.argmin(0).tolist()


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_log_softmax(dim):
    x = leaf(3, 5)
    e = np.exp(x.array - x.array.max(dim, keepdims=True))
    sm = e / e.sum(dim, keepdims=True)
    np.testing.assert_allclose(tkr.softmax(x, dim).array, sm, rtol=1e-12)
    np.testing.assert_allclose(tkr.log_softmax(x, dim).array, np.log(sm), rtol=1e-12)
    assert gradcheck(lambda t: tkr.softmax(t, dim) * tkr.arange(5.0).double()[:t.shape[-1]], (x,))
    assert gradcheck(lambda t: tkr.log_softmax(t, dim), (x,))


def test_softmax_is_stable():
    x = tkr.tensor([[1e4, -1e4, 0.0]], requires_grad=True)
    y = tkr.log_softmax(x, 1)
    assert np.isfinite(y.array).all()
    y.sum().backward()
    assert np.isfinite(x.grad.array).all()


SHAPE_OPS = {
    "reshape": lambda x: x.reshape(4, 6),
    "view_infer": lambda x: x.view(-1, 3),
    "flatten": lambda x: x.flatten(1),
    "squeeze_unsqueeze": lambda x: x.unsqueeze(1).squeeze(1),
    "transpose": lambda x: x.transpose(0, 2),
    "permute": lambda x: x.permute(2, 0, 1),
    "T": lambda x: x.T,
    "expand": lambda x: x[:, :1, :].expand(2, 3, 4),
    "repeat": lambda x: x.repeat(2, 1, 3),
    "cat": lambda x: tkr.cat([x, x * 2], dim=1),
    "stack": lambda x: tkr.stack([x, x.exp()], dim=-1),
    "split": lambda x: x.split([1, 2], dim=1)[1],
    "chunk": lambda x: x.chunk(2, dim=2)[0] * x.chunk(2, dim=2)[1],
    "narrow": lambda x: x.narrow(2, 1, 2),
    "getitem_int_slice": lambda x: x[1, :, ::2],
    "getitem_none_ellipsis": lambda x: x[None, ..., 1],
    "getitem_int_array": lambda x: x[[0, 1, 1, 0]],  # repeated rows accumulate
    "getitem_bool_mask": lambda x: x[x.array > 0],
    "getitem_tensor_index": lambda x: x[:, tkr.tensor([2, 0, 2])],
    "gather": lambda x: x.gather(2, tkr.tensor(np.array([[[3, 0]] * 3] * 2))),
    "cumsum": lambda x: x.cumsum(1),
    "prod": lambda x: x.prod(2),
    "unbind": lambda x: x.unbind(0)[1],
    "norm": lambda x: x.norm(),
    "where": lambda x: tkr.where(x > 0, x, x * x),
}


@pytest.mark.parametrize("name", sorted(SHAPE_OPS))
def test_shape_and_index_ops(name):
    x = leaf(2, 3, 4)
    assert gradcheck(SHAPE_OPS[name], (x,))


def test_getitem_forward_matches_numpy():
    x = leaf(2, 3, 4)
    for idx in [(1, slice(None), slice(None, None, 2)), (None, Ellipsis, 1), ([0, 1, 1],),
                (slice(None), [2, 0])]:
        np.testing.assert_array_equal(x[idx].array, x.array[idx])
    mask = x.array > 0
    np.testing.assert_array_equal(x[tkr.tensor(mask)].array, x.array[mask])


MATMUL_SHAPES = [((3, 4), (4, 5)), ((4,), (4,)), ((4,), (4, 5)), ((3, 4), (4,)),
                 ((2, 3, 4), (4, 5)), ((2, 3, 4), (2, 4, 5)), ((2, 1, 3, 4), (5, 4, 2)),
                 ((4,), (2, 4, 3)), ((2, 3, 4), (4,)), ((0, 4), (4, 3)), ((3, 0), (0, 2))]


@pytest.mark.parametrize("sa,sb", MATMUL_SHAPES)
def test_matmul(sa, sb):
    a, b = leaf(*sa), leaf(*sb)
    np.testing.assert_allclose((a @ b).array, np.matmul(a.array, b.array), rtol=1e-12, atol=1e-14)
    assert gradcheck(lambda p, q: p @ q, (a, b))


def test_double_backward_core_ops():
    x, w = leaf(3, 4), leaf(4, 2)
    assert gradgradcheck(lambda a, b: tkr.tanh(a @ b).sum(1), (x, w))
    assert gradgradcheck(lambda a: (a.exp() * a.sin() / (1 + a * a)).sum(), (x,))
    assert gradgradcheck(lambda a: tkr.log_softmax(a, 1), (x,))
    assert gradgradcheck(lambda a: tkr.sigmoid(a).mean(0) ** 2, (x,))


broadcastable = st.lists(st.integers(1, 3), min_size=0, max_size=3)


@st.composite
def broadcast_pair(draw):
    shape = draw(broadcastable)
    other = [draw(st.sampled_from([1, n])) for n in shape]
    cut = draw(st.integers(0, len(other)))
    other = other[cut:]
    if draw(st.booleans()):
        shape, other = other, shape
    return tuple(shape), tuple(other)


@settings(max_examples=40, deadline=None)
@given(broadcast_pair(), st.sampled_from(["add", "sub", "mul", "div", "maximum"]))
def test_property_broadcast_gradients(pair, name):
    """Gradients of broadcasting binary ops always come back in each input's
    shape and equal the numerical gradient."""
    sa, sb = pair
    f = BINARY[name][0]
    a, b = leaf(*sa, positive=True), leaf(*sb, positive=True)
    y = f(a, b)
    assert y.shape == np.broadcast_shapes(sa, sb)
    y.sum().backward()
    assert a.grad.shape == sa and b.grad.shape == sb
    assert gradcheck(f, (a, b))


# einsum, diag/diagonal/trace, cumprod, roll: gradients and second derivatives
EINSUM_CASES = [("ij,jk->ik", [(3, 4), (4, 5)]), ("ij,jk", [(3, 4), (4, 5)]),
                ("bij,bjk->bik", [(2, 3, 4), (2, 4, 2)]), ("...ij,jk->...ik", [(2, 3, 4), (4, 2)]),
                ("i,j->ij", [(3,), (4,)]), ("ij,ij->i", [(3, 4), (3, 4)]),
                ("ij,ij->ij", [(3, 1), (3, 4)]),       # a size-1 dim broadcast
                ("ii->i", [(4, 4)]), ("ii", [(4, 4)]), ("iij->j", [(3, 3, 2)]),
                ("ij->ji", [(3, 4)]), ("ij->", [(3, 4)]), ("ij->i", [(3, 4)]),
                ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]), ("ii,i->i", [(3, 3), (3,)])]


@pytest.mark.parametrize("equation,shapes", EINSUM_CASES)
def test_einsum(equation, shapes):
    xs = [leaf(*s) for s in shapes]
    np.testing.assert_allclose(tkr.einsum(equation, *xs).array,
                               np.einsum(equation, *[x.array for x in xs]), rtol=1e-12)
    assert gradcheck(lambda *ts: tkr.einsum(equation, *ts), xs)


def test_einsum_second_derivatives():
    a, b = leaf(3, 4), leaf(4, 2)
    assert gradgradcheck(lambda p, q: tkr.einsum("ij,jk->ik", p, q) ** 2, (a, b))
    assert gradgradcheck(lambda p: tkr.einsum("ii->i", p) ** 3, (leaf(3, 3),))


DIAGONAL_OPS = {
    "diag_of_matrix": lambda x: tkr.diag(x),
    "diag_above": lambda x: tkr.diag(x, 1),
    "diag_below": lambda x: tkr.diag(x, -2),
    "diag_of_vector": lambda x: tkr.diag(x[0]),
    "diag_of_vector_offset": lambda x: tkr.diag(x[1], -1) * 2,
    "trace": lambda x: tkr.trace(x),
    "diagonal_dims": lambda x: x.reshape(3, 2, 2).diagonal(0, 0, 2),
    "roll": lambda x: tkr.roll(x, 1, 0),
    "roll_dims": lambda x: tkr.roll(x, (2, -1), (1, 0)),
    "roll_flat": lambda x: x.roll(5),
}


@pytest.mark.parametrize("name", sorted(DIAGONAL_OPS))
def test_diagonals_and_roll(name):
    x = leaf(3, 4)
    assert gradcheck(DIAGONAL_OPS[name], (x,))


def test_diagonal_and_roll_forward_match_numpy():
    x = leaf(3, 4)
    np.testing.assert_array_equal(tkr.diag(x, 1).array, np.diag(x.array, 1))
    np.testing.assert_array_equal(tkr.diag(x[0], -1).array, np.diag(x.array[0], -1))
    np.testing.assert_array_equal(tkr.trace(x).array, np.trace(x.array))
    np.testing.assert_array_equal(tkr.roll(x, (1, 2), (0, 1)).array,
                                  np.roll(x.array, (1, 2), (0, 1)))
    np.testing.assert_array_equal(tkr.roll(x, -3).array, np.roll(x.array, -3))
    assert gradgradcheck(lambda t: tkr.roll(t, 1, 1) ** 2, (x,))


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cumprod(dim):
    x = leaf(3, 4, 2)
    np.testing.assert_allclose(tkr.cumprod(x, dim).array, np.cumprod(x.array, dim), rtol=1e-12)
    assert gradcheck(lambda t: tkr.cumprod(t, dim), (x,))
    assert gradgradcheck(lambda t: tkr.cumprod(t, dim), (x,))


def test_cumprod_gradient_with_zeros():
    """No division by zero: at a slice's first zero the gradient is the
    product of the other factors, after it 0 (PyTorch's handling)."""
    a = np.array([[1.5, 0.0, 2.0, -1.0, 0.0], [0.0, 0.0, 3.0, 1.0, 2.0],
                  [2.0, -0.5, 1.5, 0.7, 1.1]])
    x = tkr.tensor(a, requires_grad=True)
    tkr.cumprod(x, 1).sum().backward()
    assert np.isfinite(x.grad.array).all()
    # gradcheck perturbs around each zero: the kink-free entries agree numerically
    assert gradcheck(lambda t: tkr.cumprod(t, 1), (x,))
    # by hand, row 0: d/dx0 of x0 + x0 x1 + ... = 1 + x1 + x1 x2 + ... = 1 (x1 = 0)
    np.testing.assert_allclose(x.grad.array[0], [1.0, 1.5 * (1 + 2.0 + 2.0 * -1.0), 0, 0, 0])


def test_cast_and_clone_gradcheck():
    x = leaf(3, 4)
    assert gradcheck(lambda t: t.clone() * 2, (x,))
    # through float32 and back: linear, so a wide step keeps float32 rounding out
    assert gradcheck(lambda t: t.float().double() * t, (x,), eps=1e-2, atol=1e-4)
    y = x.float()
    y.sum().backward()
    assert x.grad.dtype == tkr.float64        # the gradient comes back in the input's dtype
