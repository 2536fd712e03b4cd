"""Tensor API and autograd against PyTorch's behaviour, for what course code
does: in-place changes inside a graph (``out[t] = h``, ``y += h``), dtype
promotion, edge values of the gradients, indexing rules and the commonly used
functions.  Expected values are PyTorch 2.13's, written out so the tests run
without it; the ``torch`` fixture's tests compare with it directly and skip
cleanly where it is not installed."""
import numpy as np
import pytest

import tinygrad_kr as tkr
from tinygrad_kr.autograd import gradcheck, gradgradcheck

rng = np.random.default_rng(0)


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def leaf(*shape):
    return tkr.tensor(rng.uniform(-2.0, 2.0, shape), dtype=tkr.float64, requires_grad=True)


# -- in-place changes recorded in the graph ---------------------------------


def test_setitem_into_plain_buffer_carries_the_gradient():
    """The RNN-from-scratch pattern: out = zeros(T, H); out[t] = h_t."""
    w = tkr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    out = tkr.zeros(2, 3)
    out[0] = w * 2
    out[1] = w * w
    assert out.requires_grad and not out.is_leaf
    out.sum().backward()
    np.testing.assert_allclose(w.grad.array, [4.0, 6.0, 8.0])


def test_inplace_add_into_plain_tensor_carries_the_gradient():
    w = tkr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    acc = tkr.zeros(3)
    acc += w * 2
    acc.sum().backward()
    np.testing.assert_allclose(w.grad.array, [2.0, 2.0, 2.0])


def test_inplace_on_non_leaf_is_recorded():
    """y += h on an intermediate (a ResNet block's out += identity)."""
    x = tkr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2
    y += x.exp()
    y *= 2
    (y * y).sum().backward()
    xd = x.array.astype(np.float64)
    expected = 2 * (2 * (2 * xd + np.exp(xd))) * 2 * (2 + np.exp(xd))
    np.testing.assert_allclose(x.grad.array, expected, rtol=1e-5)


def test_setitem_on_non_leaf_zeroes_the_overwritten_gradient():
    x = tkr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2
    y[0] = 10
    (y * y).sum().backward()
    np.testing.assert_allclose(x.grad.array, [0.0, 16.0, 24.0])


def test_setitem_with_mask_and_advanced_index_on_non_leaf():
    x = tkr.tensor([[1.0, -2.0, 3.0], [4.0, 5.0, -6.0]], requires_grad=True)
    y = x * 1
    y[y > 2] = 0.0
    y[[0, 1], [1, 2]] = x[0, :2] * 10
    (y * tkr.arange(6.0).view(2, 3)).sum().backward()
    # x[0, 0] reaches y[0, 1] (weight 1) and x[0, 1] y[1, 2] (weight 5), times 10; the
    # rest was overwritten (y[0, 0] is kept but weighs 0)
    np.testing.assert_allclose(x.grad.array, [[10.0, 50.0, 0.0], [0.0, 0.0, 0.0]])


def test_inplace_keeps_the_array_so_aliases_see_it():
    x = tkr.ones(3, requires_grad=True)
    y = x * 2
    d = y.detach()
    y.add_(1)
    np.testing.assert_allclose(d.array, [3.0, 3.0, 3.0])


def test_inplace_on_a_value_a_node_saved_still_raises():
    x = tkr.tensor([1.0, 2.0], requires_grad=True)
    y = x * 1
    z = (y * y).sum()
    y[0] = 5.0
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.backward()
    y = x.exp()
    y += 1
    with pytest.raises(RuntimeError, match="modified by an inplace operation.*Exp"):
        y.sum().backward()


def test_inplace_on_leaf_requiring_grad_raises_for_every_inplace_op():
    w = tkr.ones(3, requires_grad=True)
    for change in (lambda: w.add_(1), lambda: w.__setitem__(0, 1.0), lambda: w.zero_(),
                   lambda: w.fill_(2.0), lambda: w.copy_(tkr.ones(3)), lambda: w.normal_(),
                   lambda: w.mul_(2)):
        with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
            change()
    with tkr.no_grad():
        w.zero_()
        w.add_(1)
    np.testing.assert_allclose(w.array, [1.0, 1.0, 1.0])


def test_inplace_arithmetic_refuses_to_truncate_like_torch():
    x = tkr.tensor([1, 2, 3])
    with pytest.raises(RuntimeError, match="can't be cast"):
        x += 1.5
    with pytest.raises(RuntimeError, match="can't be cast"):
        x /= 2
    x[0] = 7.9                      # assignment casts, as in PyTorch
    x.copy_(tkr.tensor([4.7, 5.0, 6.0]))
    assert x.tolist() == [4, 5, 6] and x.dtype == tkr.int64


def test_inplace_variants_record_gradients(torch):
    def f(m, x):
        w = m.arange(6.0, dtype=x.dtype).view(2, 3)
        a = (x * 2).relu_() * w
        b = (x * 1).clamp_(-1, 3).sigmoid_() * w
        c = (x * 1).masked_fill_(x > 2, 0.0) * w
        d = m.zeros(2, 4, dtype=x.dtype).scatter_(1, m.tensor([[1, 3], [2, 0]]), x[:, :2]) * 3
        e = (x * 1).pow_(2).mul_(x).div_(x.abs() + 1)
        return a.sum() + b.sum() + c.sum() + d.sum() + e.sum()
    data = [[1.0, -2.0, 3.0], [4.0, 5.0, -6.0]]
    x, tx = tkr.tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
    y, ty = f(tkr, x), f(torch, tx)
    y.backward()
    ty.backward()
    np.testing.assert_allclose(y.item(), ty.item(), rtol=1e-6)
    np.testing.assert_allclose(x.grad.array, tx.grad.numpy(), rtol=1e-6)


def test_setitem_gradcheck():
    def f(x, v):
        y = x * 1
        y[1:, [0, 2]] = v * v       # v broadcasts over the rows it writes
        y[0] = 3.0
        return y
    assert gradcheck(f, (leaf(3, 4), leaf(1, 2)))
    assert gradgradcheck(f, (leaf(3, 4), leaf(1, 2)))

    def into_buffer(v):
        out = tkr.zeros(2, 3, dtype=tkr.float64)
        out[1] = v.sin()
        return out
    assert gradcheck(into_buffer, (leaf(3),))


# -- values and dtypes -------------------------------------------------------


def test_cat_promotes_int_with_float_to_the_float_dtype():
    y = tkr.cat([tkr.ones(2, 3), tkr.zeros(1, 3, dtype=tkr.int64)])
    assert y.dtype == tkr.float32


def test_clamp_of_int_tensor_with_float_bounds_gives_floats():
    y = tkr.tensor([1, 2, 3]).clamp(0.5, 2.5)
    assert y.dtype == tkr.float32 and y.tolist() == [1.0, 2.0, 2.5]
    assert tkr.tensor([1, 2, 3]).clamp(0, 2).dtype == tkr.int64


def test_logical_not_of_int_tensor_is_a_bool_test_not_bitwise():
    y = tkr.tensor([0, 2, 3]).logical_not()
    assert y.dtype == tkr.bool and y.tolist() == [True, False, False]
    assert tkr.logical_and(tkr.tensor([1, 0, 3]), tkr.tensor([True, True, False])).tolist() == \
        [True, False, False]


def test_masked_fill_keeps_the_dtype():
    y = tkr.tensor([1, 2, 3]).masked_fill(tkr.tensor([True, False, True]), 1.5)
    assert y.dtype == tkr.int64 and y.tolist() == [1, 2, 1]


# -- gradients at edge values -------------------------------------------------


def test_pow_zero_exponent_gradient_at_zero_is_zero():
    x = tkr.tensor([0.0, 1.0, 2.0], requires_grad=True)
    (x ** 0).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0]
    x.grad = None
    (x ** tkr.tensor([0.0, 0.0, 2.0])).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 4.0]


def test_pow_exponent_gradient_for_negative_base_is_nan():
    x = tkr.tensor([-2.0, 0.0, 2.0])
    e = tkr.tensor([2.0, 2.0, 2.0], requires_grad=True)
    (x ** e).sum().backward()
    assert np.isnan(e.grad.array[0])
    np.testing.assert_allclose(e.grad.array[1:], [0.0, 4 * np.log(2)], rtol=1e-6)


def test_norm_gradient_at_zero_is_zero():
    x = tkr.zeros(2, 3, requires_grad=True)
    (x.norm() + x.norm(dim=1).sum()).backward()
    assert x.grad.tolist() == [[0.0] * 3] * 2


def test_norm_gradcheck():
    assert gradcheck(lambda x: x.norm(dim=1, keepdim=True), (leaf(3, 4),))
    assert gradcheck(lambda x: x.norm(), (leaf(3, 4),))
    assert gradgradcheck(lambda x: x.norm(dim=(0, 2)), (leaf(2, 3, 2),))


# -- indexing ----------------------------------------------------------------


def test_negative_slice_step_raises_as_in_torch():
    with pytest.raises(ValueError, match="step must be greater than zero"):
        tkr.arange(5)[::-1]


def test_empty_list_and_byte_mask_indices():
    assert tkr.arange(4)[[]].shape == (0,) and tkr.arange(4)[[]].dtype == tkr.int64
    mask = tkr.tensor([1, 0, 1, 0, 1], dtype=tkr.uint8)
    assert tkr.arange(5)[mask].tolist() == [0, 2, 4]
    with pytest.raises(IndexError, match="long, int, byte or bool"):
        tkr.arange(5)[tkr.tensor([1, 0], dtype=tkr.int8)]


# -- functions course code uses --------------------------------------------


def test_flip_tril_triu_sort_values(torch):
    a = np.array([[3.0, 1.0, 2.0], [0.0, 5.0, 5.0]], dtype=np.float32)
    x, tx = tkr.tensor(a), torch.tensor(a)
    cases = [lambda m, t: t.flip(0), lambda m, t: m.flip(t, (0, 1)), lambda m, t: t.tril(),
             lambda m, t: m.triu(t, diagonal=1), lambda m, t: m.sort(t, dim=1).values,
             lambda m, t: t.sort(0, descending=True).indices, lambda m, t: m.argsort(t[0]),
             lambda m, t: t.index_select(1, m.tensor([2, 0, 2])),
             lambda m, t: m.zeros(3, 4).scatter_(1, m.tensor([[1], [3], [0]]), 1.0),
             lambda m, t: t.new_zeros(2, 3), lambda m, t: t.new_full((2,), 7),
             lambda m, t: t.clamp_min(2), lambda m, t: t.clamp_max(2),
             lambda m, t: m.isinf(t.masked_fill(t > 2, float('inf'))), lambda m, t: m.all(t > -1)]
    for f in cases:
        ours, ref = f(tkr, x), f(torch, tx)
        assert ours.dtype == tkr.tensor(ref.numpy()).dtype
        np.testing.assert_array_equal(ours.array, ref.numpy())


def test_causal_mask_from_triu_of_minus_inf_has_no_nan():
    mask = tkr.triu(tkr.full((3, 3), float("-inf")), diagonal=1)
    assert not mask.isnan().any()
    assert mask.tolist() == [[0.0, float("-inf"), float("-inf")], [0.0, 0.0, float("-inf")],
                             [0.0, 0.0, 0.0]]


def test_sort_returns_values_and_indices():
    values, indices = tkr.tensor([[3.0, 1.0, 2.0]]).sort(dim=1, descending=True)
    assert values.tolist() == [[3.0, 2.0, 1.0]] and indices.tolist() == [[0, 2, 1]]
    assert indices.dtype == tkr.int64


NEW_OPS = {
    "flip": lambda x: x.flip((0, 2)),
    "tril": lambda x: x.tril(-1),
    "triu": lambda x: tkr.triu(x, 1),
    "sort": lambda x: x.sort(1, descending=True).values,
    "index_select": lambda x: x.index_select(2, tkr.tensor([3, 0, 0])),
    "scatter": lambda x: tkr.zeros(2, 3, 5, dtype=tkr.float64).scatter(
        2, tkr.tensor(np.array([[[4, 0]] * 3] * 2)), x),
    "scatter_into": lambda x: (x * 1).scatter(1, tkr.tensor(np.zeros((2, 1, 4), np.int64)), 0.5),
}


@pytest.mark.parametrize("name", sorted(NEW_OPS))
def test_new_ops_gradcheck(name):
    assert gradcheck(NEW_OPS[name], (leaf(2, 3, 4),))


def test_zero_dim_tensor_takes_the_dtype_of_a_dimensioned_one():
    """PyTorch treats a 0-d tensor of the same category as a number."""
    assert (tkr.ones(2) * tkr.tensor(2.0, dtype=tkr.float64)).dtype == tkr.float32
    assert (tkr.tensor([1, 2], dtype=tkr.int32) + tkr.tensor(2)).dtype == tkr.int32
    assert (tkr.ones(2, dtype=tkr.float16) * tkr.tensor(2.5, dtype=tkr.float64)).dtype == \
        tkr.float16
    # a higher category, or two 0-d tensors, promote as before
    assert (tkr.tensor([1, 2]) * tkr.tensor(2.5, dtype=tkr.float64)).dtype == tkr.float64
    assert (tkr.tensor(1.0, dtype=tkr.float64) + tkr.tensor(2.0)).dtype == tkr.float64
    x = tkr.ones(2, requires_grad=True)
    (x * tkr.tensor(2.0, dtype=tkr.float64)).sum().backward()
    assert x.grad.dtype == tkr.float32 and x.grad.tolist() == [2.0, 2.0]


def test_var_without_degrees_of_freedom_is_nan_and_var_of_ints_raises():
    assert np.isnan(tkr.tensor([1.0]).var().item())
    assert np.isnan(tkr.tensor([1.0]).std().item())
    assert tkr.tensor([1.0, 2.0]).var(correction=2).item() == float("inf")
    with pytest.raises(RuntimeError, match="floating point"):
        tkr.tensor([1, 2]).var()


def test_integer_floor_division_by_zero_raises():
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        tkr.tensor([1]) // 0
    with np.errstate(divide="ignore"):
        assert tkr.tensor([1.0]) // 0 == float("inf")


def test_second_order_tests_of_new_backward_formulas():
    assert gradgradcheck(lambda x: x ** 0 + x ** 2, (leaf(3),))
    assert gradcheck(lambda x, e: x.abs() ** e, (leaf(3), leaf(3)))
