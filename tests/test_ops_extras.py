"""Functions course code often calls (einsum, diag, trace, cumprod, roll,
multinomial, type promotion queries), matmul's dtype rules and non-native
byte order: against PyTorch where it is installed (those tests skip without
it), against NumPy and by hand otherwise."""
import itertools

import numpy as np
import pytest

import tinygrad_kr as tkr


def _torch():
    return pytest.importorskip("torch")


def _both(torch, f, *arrays):
    """f on tinygrad_kr and on torch leaves made from ``arrays``: outputs and
    the gradients of a fixed random projection of the output must agree."""
    ours = [tkr.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    y, ty = f(tkr, *ours), f(torch, *theirs)
    assert tuple(y.shape) == tuple(ty.shape)
    np.testing.assert_allclose(y.array, ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    g = np.random.default_rng(1).standard_normal(tuple(y.shape))
    y.backward(tkr.tensor(g))
    ty.backward(torch.tensor(g))
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.grad.array, b.grad.numpy(), rtol=1e-10, atol=1e-12)


rng = np.random.default_rng(0)
A, B, S = rng.standard_normal((3, 4)), rng.standard_normal((4, 5)), rng.standard_normal((4, 4))
T3 = rng.standard_normal((2, 3, 4))

TORCH_CASES = {
    "einsum_mm": (lambda m, a, b: m.einsum("ij,jk->ik", a, b), A, B),
    "einsum_list_implicit": (lambda m, a, b: m.einsum("ij,jk", [a, b]), A, B),
    "einsum_batched_ellipsis": (lambda m, a, b: m.einsum("...ij,jk->...ik", a, b), T3, B),
    "einsum_ellipsis_summed": (lambda m, a: m.einsum("...ij->ij", a), T3),
    "einsum_trace": (lambda m, s: m.einsum("ii", s), S),
    "einsum_diagonal": (lambda m, s: m.einsum("ii->i", s), S),
    "einsum_outer_upper": (lambda m, a, b: m.einsum("i,J->iJ", a, b), A[0], B[0]),
    "einsum_broadcast_1": (lambda m, a, b: m.einsum("ij,jk->ik", a, b), A[:, :1], B),
    "diag": (lambda m, s: m.diag(s, 1) * 2 + m.diag(s, -1).sum(), S),
    "diag_embed": (lambda m, a: m.diag(a, -2), A[0]),
    "trace": (lambda m, a: m.trace(a), A),
    "diagonal": (lambda m, t: t.diagonal(1, 2, 0), T3),
    "cumprod": (lambda m, a: m.cumprod(a, 1), A),
    "cumprod_zeros": (lambda m, a: m.cumprod(a, 1),
                      np.array([[1.5, 0.0, 2.0, -1.0, 0.0], [0.0, 0.0, 3.0, 1.0, 2.0]])),
    "roll": (lambda m, a: m.roll(a, (1, -2), (0, 1)), A),
    "roll_flat": (lambda m, a: a.roll(-5), A),
    "roll_same_dim_twice": (lambda m, a: m.roll(a, (1, 2), (1, 1)), A),
    "flip_varargs": (lambda m, t: t.flip(0, 2) * 2, T3),
    "flip_keyword": (lambda m, t: m.flip(t, dims=[-1]), T3),
    "fliplr_flipud": (lambda m, a: m.fliplr(a) + a.flipud(), A[:, :3].T @ A[:, :3]),
    **{f"rot90_k{k}_{d0}{d1}": (lambda m, t, k=k, d0=d0, d1=d1: m.rot90(t, k, (d0, d1)), T3)
       for k in (-3, -1, 0, 1, 2, 3, 5) for d0, d1 in ((0, 1), (2, 1), (-1, 0))},
    # the result is new memory: an in-place change stays in it (and is recorded)
    "flip_then_in_place": (lambda m, a: a.flip(0).mul_(3) + a, A),
    "rot90_then_in_place": (lambda m, a: m.rot90(a).add_(1) * 2, A),
}


@pytest.mark.parametrize("name", sorted(TORCH_CASES))
def test_matches_torch(name):
    f, *arrays = TORCH_CASES[name]
    _both(_torch(), f, *arrays)


def test_flips_copy_and_check_as_torch():
    x = tkr.tensor(A)
    for y in (x.flip(1), tkr.fliplr(x), x.flipud(), x.rot90(2), tkr.rot90(x, 4)):
        y.zero_()
        np.testing.assert_array_equal(x.array, A)       # x unchanged: new memory each time
    with pytest.raises(TypeError, match="missing 1 required positional argument: 'dims'"):
        tkr.flip(x)
    with pytest.raises(RuntimeError, match="dims = 3"):
        x.rot90(1, (0, 1, 0))
    with pytest.raises(RuntimeError, match="rotation dims to be different"):
        x.rot90(1, (1, -1))
    with pytest.raises(RuntimeError, match=">= 2-d"):
        tkr.fliplr(tkr.zeros(3))
    with pytest.raises(RuntimeError, match=">= 1-d"):
        tkr.flipud(tkr.tensor(1.0))


def test_flip_and_rot90_gradcheck():
    from tinygrad_kr.autograd import gradcheck
    x = tkr.tensor(T3, requires_grad=True)
    assert gradcheck(lambda t: t.flip(0, 2), (x,))
    assert gradcheck(lambda t: tkr.rot90(t, 3, (2, 0)), (x,))


def test_einsum_errors_name_the_problem():
    a, b = tkr.ones(2, 3), tkr.ones(4, 2)
    with pytest.raises(RuntimeError, match="subscript j has size 4 for operand 1"):
        tkr.einsum("ij,jk->ik", a, b)
    with pytest.raises(RuntimeError, match=r"number of subscripts in the equation \(2\) does not "
                                           r"match the number of dimensions \(3\)"):
        tkr.einsum("ij->i", tkr.ones(2, 2, 2))
    with pytest.raises(RuntimeError, match="fewer operands"):
        tkr.einsum("ij,jk->ik", a)
    with pytest.raises(RuntimeError, match="more operands"):
        tkr.einsum("ij->ij", a, a)
    with pytest.raises(RuntimeError, match="output subscript i appears more than once"):
        tkr.einsum("ij->ii", a)
    with pytest.raises(RuntimeError, match="output subscript k does not appear"):
        tkr.einsum("ij->k", a)
    with pytest.raises(RuntimeError, match="same dtype.*float32 and float64"):
        tkr.einsum("i,i->", tkr.ones(3), tkr.ones(3, dtype=tkr.float64))
    with pytest.raises(RuntimeError, match="subscripts must be in"):
        tkr.einsum("i1->i", a)
    i = tkr.tensor([[1, 2], [3, 4]])
    assert tkr.einsum("ij,jk->ik", i, i).tolist() == [[7, 10], [15, 22]]


def test_diag_trace_errors_and_integers():
    with pytest.raises(RuntimeError, match="Supports 1D or 2D"):
        tkr.diag(tkr.ones(2, 2, 2))
    with pytest.raises(RuntimeError, match="expected a matrix"):
        tkr.trace(tkr.ones(3))
    i = tkr.tensor([[1, 2], [3, 4]])
    assert tkr.trace(i).item() == 5 and tkr.trace(i).dtype == tkr.int64
    assert tkr.diag(tkr.tensor([1, 2])).tolist() == [[1, 0], [0, 2]]
    assert tkr.cumprod(tkr.tensor([1, 2, 3]), 0).tolist() == [1, 2, 6]
    assert tkr.cumprod(tkr.tensor([1, 2, 3]), 0).dtype == tkr.int64


# -- multinomial ----------------------------------------------------------------------

def test_multinomial_shapes_dtype_and_generator():
    w = tkr.tensor([[0.0, 1.0, 2.0, 3.0], [5.0, 0.0, 0.0, 1.0]])
    draw = tkr.multinomial(w, 2, generator=tkr.Generator().manual_seed(7))
    assert draw.shape == (2, 2) and draw.dtype == tkr.int64
    again = w.multinomial(2, generator=tkr.Generator().manual_seed(7))
    assert draw.tolist() == again.tolist()                  # a seeded generator repeats
    assert tkr.multinomial(w[0], 5, replacement=True).shape == (5,)
    tkr.manual_seed(3)
    first = tkr.multinomial(w, 3, True).tolist()
    tkr.manual_seed(3)
    assert tkr.multinomial(w, 3, True).tolist() == first     # the default generator too


def test_multinomial_without_replacement_draws_each_category_once_never_a_zero_weight():
    w = tkr.tensor([3.0, 0.0, 1.0, 0.5, 2.0])
    g = tkr.Generator().manual_seed(0)
    for _ in range(50):
        d = tkr.multinomial(w, 4, generator=g).tolist()
        assert sorted(d) == [0, 2, 3, 4]
    d = tkr.multinomial(tkr.tensor([0.0, 1.0, 0.0]), 20, True, generator=g)
    assert set(d.tolist()) == {1}
    # positive weights used up: zero-weight categories follow, as in PyTorch (no error)
    d = tkr.multinomial(tkr.tensor([0.0, 0.0, 1.0, 0.0]), 3, generator=g).tolist()
    assert d[0] == 2 and len(set(d)) == 3


def test_multinomial_frequencies_follow_the_weights():
    w = np.array([1.0, 2.0, 7.0])
    d = tkr.multinomial(tkr.tensor(w), 20000, True, generator=tkr.Generator().manual_seed(1))
    freq = np.bincount(d.array, minlength=3) / 20000
    np.testing.assert_allclose(freq, w / w.sum(), atol=0.02)
    # without replacement the first draw is still proportional to the weights
    g = tkr.Generator().manual_seed(2)
    firsts = [tkr.multinomial(tkr.tensor(w), 2, generator=g).array[0] for _ in range(3000)]
    np.testing.assert_allclose(np.bincount(firsts, minlength=3) / 3000, w / w.sum(), atol=0.03)


@pytest.mark.parametrize("weights,n,replacement,message", [
    ([1.0, -1.0], 1, True, "element < 0"),
    ([1.0, float("nan")], 1, True, "`inf`, `nan`"),
    ([0.0, 0.0], 1, True, "sum of probabilities <= 0"),
    ([1.0, 1.0], 3, False, "cannot sample n_sample > prob_dist.size"),
    ([1.0, 1.0], 0, True, "n_sample <= 0"),
    # PyTorch's order: too many draws is named before an all-zero row
    ([[0.0, 0.0, 0.0]], 5, False, "cannot sample n_sample > prob_dist.size"),
    # no categories at all (NumPy's reshape(-1, 0) raised a ValueError here)
    (np.zeros((2, 0)), 1, False, "cannot sample n_sample > prob_dist.size"),
    (np.zeros(0), 1, False, "cannot sample n_sample > prob_dist.size"),
])
def test_multinomial_errors_as_torch(weights, n, replacement, message):
    with pytest.raises(RuntimeError, match=message.replace("(", r"\(").replace(")", r"\)")):
        tkr.multinomial(tkr.tensor(weights), n, replacement)
    torch = pytest.importorskip("torch")
    with pytest.raises(RuntimeError, match=message.replace("(", r"\(").replace(")", r"\)")):
        torch.multinomial(torch.tensor(weights), n, replacement)


def test_multinomial_with_replacement_and_no_categories_raises():
    """PyTorch fails inside its own aminmax here; the engine names the problem."""
    with pytest.raises(RuntimeError, match="sum of probabilities <= 0"):
        tkr.multinomial(tkr.zeros(2, 0), 1, True)


def test_multinomial_rejects_integers_and_3d():
    with pytest.raises(RuntimeError, match="floating-point"):
        tkr.multinomial(tkr.tensor([1, 2]), 1)
    with pytest.raises(RuntimeError, match="1 or 2 dim"):
        tkr.multinomial(tkr.ones(2, 2, 2), 1)


# -- type promotion queries --------------------------------------------------------------

DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64"]


def test_promotion_queries_by_hand():
    assert tkr.promote_types(tkr.int64, tkr.float16) == tkr.float16
    assert tkr.promote_types(tkr.uint8, tkr.int8) == tkr.int16
    assert tkr.result_type(tkr.ones(2, dtype=tkr.int32), 2.5) == tkr.float32
    assert tkr.result_type(tkr.ones(2), tkr.tensor(1.0, dtype=tkr.float64)) == tkr.float32
    assert tkr.result_type(tkr.ones(2, dtype=tkr.int32), tkr.tensor(1.0, dtype=tkr.float64)) \
        == tkr.float64
    assert tkr.result_type(3, True) == tkr.int64
    assert tkr.can_cast(tkr.float64, tkr.float32) and tkr.can_cast(tkr.int64, tkr.float16)
    assert not tkr.can_cast(tkr.float32, tkr.int64) and not tkr.can_cast(tkr.int8, tkr.bool)


def test_promotion_queries_match_torch():
    torch = _torch()
    name = lambda d: str(d).replace("torch.", "")  # noqa: E731
    for a, b in itertools.product(DTYPES, DTYPES):
        ta, tb = getattr(torch, a), getattr(torch, b)
        assert str(tkr.promote_types(a, b)) == name(torch.promote_types(ta, tb)), (a, b)
        assert tkr.can_cast(a, b) == torch.can_cast(ta, tb), (a, b)
        for sa, sb in [((2,), (2,)), ((), (2,)), ((2,), ()), ((), ())]:
            ours = tkr.result_type(tkr.zeros(sa, dtype=a), tkr.zeros(sb, dtype=b))
            theirs = torch.result_type(torch.zeros(sa, dtype=ta), torch.zeros(sb, dtype=tb))
            assert str(ours) == name(theirs), (a, b, sa, sb)
    for a, number in itertools.product(DTYPES, [True, 3, 2.5]):
        ta = getattr(torch, a)
        assert str(tkr.result_type(tkr.zeros(2, dtype=a), number)) == \
            name(torch.result_type(torch.zeros(2, dtype=ta), number))
        assert str(tkr.result_type(number, tkr.zeros((), dtype=a))) == \
            name(torch.result_type(number, torch.zeros((), dtype=ta)))


def test_numel_T_mT():
    x = tkr.ones(2, 3, 4)
    assert tkr.numel(x) == 24
    assert x.mT.shape == (2, 4, 3) and tkr.ones(2, 3).T.shape == (3, 2)


# -- matmul's dtype rules ------------------------------------------------------------------

MATMULS = {
    "matmul": lambda m, a, b: a @ b, "mm": lambda m, a, b: m.mm(a, b),
    "mv": lambda m, a, b: a @ b[:, 0], "vm": lambda m, a, b: a[0] @ b,
    "bmm": lambda m, a, b: m.bmm(a[None], b[None]), "dot": lambda m, a, b: m.dot(a[0], b[:, 0]),
    "batched": lambda m, a, b: a[None, None] @ b[None],
}


@pytest.mark.parametrize("name", sorted(MATMULS))
def test_matmul_of_two_dtypes_raises_naming_both(name):
    a, b = tkr.ones(2, 3), tkr.ones(3, 2, dtype=tkr.float64)
    with pytest.raises(RuntimeError, match="same dtype, but got: float != double"):
        MATMULS[name](tkr, a, b)
    with pytest.raises(RuntimeError, match="same dtype, but got: int != long int"):
        MATMULS[name](tkr, tkr.ones(2, 3, dtype=tkr.int32), tkr.ones(3, 2, dtype=tkr.int64))


@pytest.mark.parametrize("name", sorted(MATMULS))
@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8", "float16"])
def test_matmul_of_integers_and_half(name, dtype):
    a = np.arange(6).reshape(2, 3).astype(dtype)
    b = np.arange(6).reshape(3, 2).astype(dtype)
    y = MATMULS[name](tkr, tkr.tensor(a), tkr.tensor(b))
    assert y.dtype == dtype
    expected = MATMULS[name](_NumPyAsTorch, a, b)
    np.testing.assert_array_equal(y.array, expected)


class _NumPyAsTorch:
    """The three torch names MATMULS uses, on NumPy arrays."""
    mm = staticmethod(np.matmul)
    bmm = staticmethod(np.matmul)
    dot = staticmethod(np.dot)


def test_matmul_of_bools_is_not_implemented():
    with pytest.raises(NotImplementedError, match="Bool"):
        tkr.ones(2, 2, dtype=tkr.bool) @ tkr.ones(2, 2, dtype=tkr.bool)


def test_half_matmul_has_gradients():
    a = tkr.ones(2, 3, dtype=tkr.float16, requires_grad=True)
    (a @ a.T).sum().backward()
    assert a.grad.dtype == tkr.float16
    np.testing.assert_array_equal(a.grad.array, np.full((2, 3), 4, np.float16))


def test_matmul_dtype_rules_match_torch():
    torch = _torch()
    for name, f in MATMULS.items():
        for da, db in [("float32", "float64"), ("int64", "int64"), ("int32", "int32"),
                       ("float32", "int64")]:
            a = np.ones((2, 3), da)
            b = np.ones((3, 2), db)
            try:
                expected = f(torch, torch.tensor(a), torch.tensor(b))
            except RuntimeError:
                with pytest.raises(RuntimeError, match="same dtype"):
                    f(tkr, tkr.tensor(a), tkr.tensor(b))
                continue
            ours = f(tkr, tkr.tensor(a), tkr.tensor(b))
            assert str(ours.dtype) == str(expected.dtype).replace("torch.", "")
            np.testing.assert_array_equal(ours.array, expected.numpy())


def test_outer_promotes_as_torch():
    assert tkr.outer(tkr.ones(2), tkr.ones(3, dtype=tkr.float64)).dtype == tkr.float64


# -- byte order ------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [">f4", ">f8", ">i8", ">i4", ">i2", "<f4"])
def test_non_native_byte_order_is_converted(dtype):
    a = (np.arange(6).reshape(2, 3) - 2).astype(dtype)
    for t in (tkr.tensor(a), tkr.as_tensor(a), tkr.tensor(a[:, ::2])):
        assert t.dtype.isnative and t.dtype == np.dtype(dtype).newbyteorder("=")
    np.testing.assert_array_equal(tkr.tensor(a).array, a)
    assert tkr.tensor(a, dtype=tkr.float64).array.dtype == np.float64
    np.testing.assert_array_equal(tkr.tensor(np.float32(2).astype(">f4")).array, 2)


def test_from_numpy_refuses_non_native_byte_order():
    """from_numpy shares memory: converting would not (PyTorch refuses too)."""
    with pytest.raises(ValueError, match="byte order"):
        tkr.from_numpy(np.ones(3, ">f4"))
