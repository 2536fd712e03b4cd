"""torch.linalg's vander, tensorinv, tensorsolve, householder_product,
ldl_factor(_ex) / ldl_solve and the eig/eigvals error; Tensor.narrow's
dimension and range handling (a negative dim used to narrow dim 0)."""
import numpy as np
import pytest

import tinygrad_kr as tk
from tinygrad_kr.autograd.gradcheck import gradcheck, gradgradcheck

try:
    import torch
except ImportError:     # the PyTorch comparisons skip; the rest runs
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch not installed")
rng = np.random.default_rng(7)


def _t(a, requires_grad=False):
    return tk.tensor(a, requires_grad=requires_grad)


def _errors_match(ours, theirs):
    with pytest.raises(Exception) as mine:
        ours()
    with pytest.raises(Exception) as ref:
        theirs()
    assert type(mine.value) is type(ref.value) or isinstance(mine.value, type(ref.value))
    assert str(mine.value) == str(ref.value)


# -- narrow ----------------------------------------------------------------------

@needs_torch
@pytest.mark.parametrize("dim,start,length", [(-1, 1, 2), (1, -2, 2), (0, 0, 3), (-2, -3, 1),
                                              (1, 4, 0), (1, -4, 4)])
def test_narrow_matches_torch_for_negative_dims_and_starts(dim, start, length):
    a = rng.standard_normal((3, 4))
    ours = _t(a).narrow(dim, start, length)
    theirs = torch.tensor(a).narrow(dim, start, length)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@needs_torch
@pytest.mark.parametrize("args", [(1, -5, 1), (1, 5, 0), (1, 2, 3), (1, 1, -1), (2, 0, 1)])
def test_narrow_errors_match_torch(args):
    a = rng.standard_normal((3, 4))
    _errors_match(lambda: _t(a).narrow(*args), lambda: torch.tensor(a).narrow(*args))


def test_narrow_gradcheck_on_the_last_dim():
    x = _t(rng.standard_normal((3, 5)), True)
    assert gradcheck(lambda x: x.narrow(-1, 1, 3), (x,))


# -- vander, tensorinv, tensorsolve ------------------------------------------------

@needs_torch
@pytest.mark.parametrize("shape,N", [((4,), None), ((2, 3), 5), ((3,), 2)])
def test_vander_matches_torch(shape, N):
    x = rng.standard_normal(shape)
    x.flat[0] = 0.0     # a zero: the running product keeps its gradient finite
    ours, theirs = _t(x, True), torch.tensor(x, requires_grad=True)
    y, ty = tk.linalg.vander(ours, N=N), torch.linalg.vander(theirs, N=N)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-12)
    w = rng.standard_normal(ty.shape)
    (y * _t(w)).sum().backward()
    (ty * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-10, atol=1e-12)


@needs_torch
def test_vander_integer_input_and_errors():
    np.testing.assert_array_equal(tk.linalg.vander(tk.tensor([1, 2, 3])).numpy(),
                                  torch.linalg.vander(torch.tensor([1, 2, 3])).numpy())
    _errors_match(lambda: tk.linalg.vander(tk.randn(3), N=1),
                  lambda: torch.linalg.vander(torch.randn(3), N=1))


def test_vander_gradcheck():
    x = _t(np.array([0.0, 0.5, -1.2]), True)
    assert gradcheck(lambda x: tk.linalg.vander(x, N=4), (x,))
    assert gradgradcheck(lambda x: tk.linalg.vander(x, N=4), (x,))


@pytest.mark.parametrize("values,dim", [([0.0, 0.5, -1.2], 0), ([0.5, 0.0, -1.2, 2.0], 0),
                                        ([0.0, 0.0, 1.5], 0), ([[0.5, 0.0, -1.2], [1.0, 2.0, 0.0]], 1),
                                        ([[0.5, 0.0, -1.2], [0.0, 2.0, 0.0]], -2)])
def test_cumprod_double_backward_through_zeros(values, dim):
    """The gradient after a slice's first zero is 0 but depends on x: create_graph
    must keep that dependence (it was dropped: a wrong second derivative)."""
    x = _t(np.array(values), True)
    assert gradgradcheck(lambda x: x.cumprod(dim), (x,))


@needs_torch
def test_tensorinv_and_tensorsolve_match_torch():
    A = rng.standard_normal((2, 3, 6))
    np.testing.assert_allclose(tk.linalg.tensorinv(_t(A)).numpy(),
                               torch.linalg.tensorinv(torch.tensor(A)).numpy(), rtol=1e-10)
    A4 = rng.standard_normal((4, 2, 2))
    np.testing.assert_allclose(tk.linalg.tensorinv(_t(A4), ind=1).numpy(),
                               torch.linalg.tensorinv(torch.tensor(A4), ind=1).numpy(), rtol=1e-10)
    B = rng.standard_normal((2, 3))
    np.testing.assert_allclose(tk.linalg.tensorsolve(_t(A), _t(B)).numpy(),
                               torch.linalg.tensorsolve(torch.tensor(A), torch.tensor(B)).numpy(),
                               rtol=1e-10)
    A2 = rng.standard_normal((6, 2, 3))
    np.testing.assert_allclose(
        tk.linalg.tensorsolve(_t(A2), _t(B), dims=(0,)).numpy(),
        torch.linalg.tensorsolve(torch.tensor(A2), torch.tensor(B), dims=(0,)).numpy(), rtol=1e-10)
    _errors_match(lambda: tk.linalg.tensorinv(tk.randn(2, 3, 4), ind=1),
                  lambda: torch.linalg.tensorinv(torch.randn(2, 3, 4), ind=1))
    _errors_match(lambda: tk.linalg.tensorinv(tk.randn(4, 4), ind=0),
                  lambda: torch.linalg.tensorinv(torch.randn(4, 4), ind=0))
    _errors_match(lambda: tk.linalg.tensorsolve(tk.randn(6, 4), tk.randn(6)),
                  lambda: torch.linalg.tensorsolve(torch.randn(6, 4), torch.randn(6)))


def test_tensorinv_tensorsolve_gradcheck():
    A = _t(rng.standard_normal((2, 3, 6)) + 3 * np.eye(6).reshape(2, 3, 6), True)
    B = _t(rng.standard_normal((2, 3)), True)
    assert gradcheck(lambda A: tk.linalg.tensorinv(A), (A,))
    assert gradcheck(lambda A, B: tk.linalg.tensorsolve(A, B), (A, B))


# -- householder_product -----------------------------------------------------------

@needs_torch
@pytest.mark.parametrize("shape,k", [((5, 4), 3), ((4, 4), 4), ((2, 6, 3), 3), ((3, 3), 0)])
def test_householder_product_matches_torch_values_and_gradients(shape, k):
    A = rng.standard_normal(shape)
    tau = rng.standard_normal(shape[:-2] + (k,))
    ours_A, ours_tau = _t(A, True), _t(tau, True)
    tA, ttau = torch.tensor(A, requires_grad=True), torch.tensor(tau, requires_grad=True)
    Q = tk.linalg.householder_product(ours_A, ours_tau)
    tQ = torch.linalg.householder_product(tA, ttau)
    np.testing.assert_allclose(Q.detach().numpy(), tQ.detach().numpy(), rtol=1e-10, atol=1e-12)
    if k == 0:
        return      # no reflector: the identity's first columns, depending on nothing
    w = rng.standard_normal(tQ.shape)
    (Q * _t(w)).sum().backward()
    (tQ * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(ours_A.grad.numpy(), tA.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ours_tau.grad.numpy(), ttau.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_householder_product_of_geqrf_is_qr_q_and_gradcheck():
    from scipy.linalg import lapack
    A = rng.standard_normal((5, 3))
    qr, tau, _, _ = lapack.dgeqrf(A)
    Q = tk.linalg.householder_product(_t(qr), _t(tau)).numpy()
    np.testing.assert_allclose(np.abs(Q), np.abs(np.linalg.qr(A)[0]), rtol=1e-10)
    a, t = _t(qr, True), _t(tau, True)
    assert gradcheck(lambda a, t: tk.linalg.householder_product(a, t), (a, t))


@needs_torch
def test_householder_product_errors_match_torch():
    _errors_match(lambda: tk.linalg.householder_product(tk.randn(3, 4), tk.randn(2)),
                  lambda: torch.linalg.householder_product(torch.randn(3, 4), torch.randn(2)))
    _errors_match(lambda: tk.linalg.householder_product(tk.randn(4, 3), tk.randn(4)),
                  lambda: torch.linalg.householder_product(torch.randn(4, 3), torch.randn(4)))


# -- ldl_factor / ldl_solve ---------------------------------------------------------

def _symmetric(shape, dtype=np.float64):
    S = rng.standard_normal(shape)
    return (S + np.swapaxes(S, -1, -2)).astype(dtype)


@needs_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(5, 5), (3, 4, 4)])
def test_ldl_factor_and_solve_match_torch(dtype, shape):
    S = _symmetric(shape, dtype)
    LD, piv = tk.linalg.ldl_factor(_t(S))
    tLD, tpiv = torch.linalg.ldl_factor(torch.tensor(S))
    rtol = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(LD.numpy(), tLD.numpy(), rtol=rtol, atol=rtol)
    np.testing.assert_array_equal(piv.numpy(), tpiv.numpy())
    assert piv.dtype == tk.int32 and LD.dtype == _t(S).dtype
    B = rng.standard_normal(shape[:-1] + (2,)).astype(dtype)
    X = tk.linalg.ldl_solve(LD, piv, _t(B))
    np.testing.assert_allclose(X.numpy(), torch.linalg.ldl_solve(tLD, tpiv, torch.tensor(B)).numpy(),
                               rtol=10 * rtol, atol=10 * rtol)
    np.testing.assert_allclose(S @ X.numpy(), B, rtol=100 * rtol, atol=100 * rtol)


def test_ldl_factor_of_a_singular_matrix():
    S = np.zeros((2, 3, 3))
    S[1] = _symmetric((3, 3))
    LD, piv, info = tk.linalg.ldl_factor_ex(_t(S))
    np.testing.assert_array_equal(info.numpy(), [1, 0])
    with pytest.raises(tk.linalg.LinAlgError, match=r"Batch element 0.*not invertible"):
        tk.linalg.ldl_factor(_t(S))
    with pytest.raises(tk.linalg.LinAlgError, match="not invertible"):
        tk.linalg.ldl_factor_ex(_t(S), check_errors=True)


@needs_torch
def test_ldl_has_no_derivative_as_in_torch():
    S = _symmetric((4, 4))
    A = _t(S, True)
    LD, piv = tk.linalg.ldl_factor(A)
    tA = torch.tensor(S, requires_grad=True)
    tLD, tpiv = torch.linalg.ldl_factor(tA)
    _errors_match(lambda: LD.sum().backward(), lambda: tLD.sum().backward())
    B = _t(rng.standard_normal((4, 1)), True)
    tB = torch.tensor(B.detach().numpy(), requires_grad=True)
    _errors_match(lambda: tk.linalg.ldl_solve(LD.detach(), piv, B).sum().backward(),
                  lambda: torch.linalg.ldl_solve(tLD.detach(), tpiv, tB).sum().backward())


def test_ldl_solve_checks_its_inputs():
    LD, piv = tk.linalg.ldl_factor(_t(_symmetric((3, 3))))
    with pytest.raises(RuntimeError, match="at least 2 dimensions"):
        tk.linalg.ldl_solve(LD, piv, tk.randn(3, dtype=tk.float64))
    with pytest.raises(RuntimeError, match="Incompatible shapes"):
        tk.linalg.ldl_solve(LD, piv, tk.randn(4, 1, dtype=tk.float64))
    with pytest.raises(RuntimeError, match="same dtype"):
        tk.linalg.ldl_solve(LD, piv, tk.randn(3, 1))
    with pytest.raises(RuntimeError, match="pivots to be integers"):
        tk.linalg.ldl_solve(LD, piv.double(), tk.randn(3, 1, dtype=tk.float64))


def test_eig_names_the_missing_complex_dtype():
    with pytest.raises(RuntimeError, match="complex.*eigh"):
        tk.linalg.eig(tk.randn(3, 3))
    with pytest.raises(RuntimeError, match="complex.*eigvalsh"):
        tk.linalg.eigvals(tk.randn(3, 3))
