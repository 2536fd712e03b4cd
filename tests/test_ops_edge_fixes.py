"""Regression tests for answers that were silently off at the edges:
sigmoid's negative tail (relative precision), xlogy's gradient at a == 0."""
import numpy as np
import pytest

import tinygrad_kr as tk
from tinygrad_kr.autograd.gradcheck import gradcheck, gradgradcheck

try:
    import torch
except ImportError:
    torch = None


@pytest.mark.parametrize("dtype,rtol", [(np.float32, 1e-6), (np.float64, 1e-14)])
def test_sigmoid_keeps_relative_precision_in_the_negative_tail(dtype, rtol):
    x = np.array([-10.0, -20.0, -80.0, -700.0 if dtype == np.float64 else -85.0, -1.0, 0.0, 3.0],
                 dtype)
    exact = 1.0 / (1.0 + np.exp(-x.astype(np.longdouble)))
    y = tk.tensor(x).sigmoid().numpy()
    assert y.dtype == dtype
    np.testing.assert_allclose(y, exact.astype(dtype), rtol=rtol, atol=0)


def test_sigmoid_limits_and_gradient():
    x = tk.tensor([-np.inf, np.inf, np.nan, 0.0])
    np.testing.assert_array_equal(x.sigmoid().numpy(), [0.0, 1.0, np.nan, 0.5])
    z = tk.tensor(np.array([-30.0, -2.0, 0.0, 1.5, 30.0]), requires_grad=True)
    assert gradcheck(tk.sigmoid, (z,))
    assert gradgradcheck(tk.sigmoid, (z,))


@pytest.mark.skipif(torch is None, reason="PyTorch not installed")
def test_xlogy_gradient_at_zero_a_matches_torch():
    a_values, b_values = [0.0, 0.0, 0.0, 1.0, 2.0], [2.0, -1.0, 0.0, 3.0, 0.5]
    a = tk.tensor(a_values, dtype=tk.float64, requires_grad=True)
    b = tk.tensor(b_values, dtype=tk.float64, requires_grad=True)
    with np.errstate(all="ignore"):
        tk.xlogy(a, b).sum().backward()
    ta = torch.tensor(a_values, dtype=torch.float64, requires_grad=True)
    tb = torch.tensor(b_values, dtype=torch.float64, requires_grad=True)
    torch.xlogy(ta, tb).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), ta.grad.numpy())
    np.testing.assert_array_equal(b.grad.numpy(), tb.grad.numpy())


def test_xlogy_gradcheck_through_a_zero_first_argument():
    a = tk.tensor([0.0, 0.7, 1.3], dtype=tk.float64, requires_grad=True)
    b = tk.tensor([2.0, 0.5, 3.0], dtype=tk.float64, requires_grad=True)
    # the finite difference in a at a == 0 sees log(b): the analytic gradient must too
    assert gradcheck(tk.xlogy, (a, b))


@pytest.mark.parametrize("ord", [float("inf"), -float("inf")])
@pytest.mark.parametrize("shape,dim", [((0,), None), ((0, 3), 0), ((0, 3), None)])
def test_inf_norm_of_an_empty_reduction_raises_as_torch(ord, shape, dim):
    with pytest.raises(RuntimeError, match="does not have an identity"):
        tk.linalg.vector_norm(tk.zeros(*shape), ord, dim=dim)
    if torch is not None:
        with pytest.raises(RuntimeError) as theirs:
            torch.linalg.vector_norm(torch.zeros(*shape), ord, dim=dim)
        with pytest.raises(RuntimeError) as ours:
            tk.linalg.vector_norm(tk.zeros(*shape), ord, dim=dim)
        assert str(ours.value) == str(theirs.value)
    # an empty dimension that is not reduced is fine
    assert tuple(tk.linalg.vector_norm(tk.zeros(0, 3), ord, dim=1).shape) == (0,)


def test_embedding_bag_refuses_a_last_offset_short_of_the_input():
    """PyTorch's own kernels disagree there (sum stops at the last offset, max
    reads to the end): a clear error instead of one of those answers."""
    w = tk.randn(10, 3)
    with pytest.raises(ValueError, match="last offset must equal the number of indices"):
        tk.nn.functional.embedding_bag(tk.tensor([1, 2, 4, 5, 4]), w, tk.tensor([0, 2, 3]),
                                       include_last_offset=True)
    out = tk.nn.functional.embedding_bag(tk.tensor([1, 2, 4, 5, 4]), w, tk.tensor([0, 2, 5]),
                                         include_last_offset=True)
    assert tuple(out.shape) == (2, 3)


@pytest.mark.skipif(torch is None, reason="PyTorch not installed")
@pytest.mark.parametrize("output_size", [(3, 2), (4, 3), (2, 2)])
def test_adaptive_max_pool2d_with_several_nans_in_a_window_takes_torchs_index(output_size):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 7, 5))
    x[0, 0, 1, 1] = x[0, 0, 2, 2] = np.nan
    x[1, 2] = np.nan
    ours, ours_idx = tk.nn.functional.adaptive_max_pool2d(tk.tensor(x), output_size,
                                                          return_indices=True)
    theirs, their_idx = torch.nn.functional.adaptive_max_pool2d(torch.tensor(x), output_size,
                                                                 return_indices=True)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    np.testing.assert_array_equal(ours_idx.numpy(), their_idx.numpy())


@pytest.mark.skipif(torch is None, reason="PyTorch not installed")
@pytest.mark.parametrize("case", [
    lambda L: L.zeros(3).add_(L.zeros(2, 3)),          # in place: the result would grow
    lambda L: L.zeros(3).mul_(L.zeros(2)),             # not broadcastable
    lambda L: L.zeros(2, 3) + L.zeros(4),
    lambda L: L.zeros(5, 2, 3) * L.zeros(4, 1, 3),
    lambda L: L.zeros(3) - 2 * L.ones(2, dtype=L.float64),   # the promoting path
    lambda L: L.abs(L.tensor([True, False])),
    lambda L: L.tensor([True]).abs_(),
    lambda L: -L.tensor([True]),
])
def test_shape_and_bool_errors_are_torchs(case):
    with pytest.raises(Exception) as theirs:
        case(torch)
    with pytest.raises(Exception) as ours:
        case(tk)
    assert type(ours.value) is type(theirs.value)
    assert str(ours.value) == str(theirs.value)


@pytest.mark.skipif(torch is None, reason="PyTorch not installed")
@pytest.mark.parametrize("shape", [(0, 3), (2, 0, 3), (0,), (3, 0)])
def test_strides_of_empty_tensors_are_torchs(shape):
    assert tk.zeros(*shape).stride() == torch.zeros(*shape).stride()


@pytest.mark.skipif(torch is None, reason="PyTorch not installed")
@pytest.mark.parametrize("case", [
    lambda L: L.tensor(5.).gather(0, L.tensor(0)),
    lambda L: L.tensor(5.).gather(-1, L.tensor([0, 0])),
    lambda L: L.tensor(1.).scatter(0, L.tensor(0), L.tensor(7.)),
    lambda L: L.tensor(1.).scatter(0, L.tensor(0), value=3.),
    lambda L: L.tensor(1.).scatter_add(0, L.tensor([0, 0]), L.tensor([2., 3.])),
])
def test_gather_and_scatter_on_0d_tensors_as_torch(case):
    np.testing.assert_array_equal(case(tk).numpy(), case(torch).numpy())
    assert tuple(case(tk).shape) == tuple(case(torch).shape)


def test_gather_and_scatter_on_0d_tensors_errors_and_gradients():
    with pytest.raises(RuntimeError, match="index 1 is out of bounds for dimension 0 with size 1"):
        tk.tensor(5.).gather(0, tk.tensor(1))
    with pytest.raises(IndexError, match="Dimension out of range"):
        tk.tensor(5.).gather(1, tk.tensor(0))
    x = tk.tensor(2.0, dtype=tk.float64, requires_grad=True)
    assert gradcheck(lambda x: x.gather(0, tk.tensor([0, 0])), (x,))
    assert gradcheck(lambda x: x.scatter_add(0, tk.tensor([0]), x.reshape(1) * 3), (x,))
