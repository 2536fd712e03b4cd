"""torch.linalg: linear algebra on real (float32/float64) tensors, batched over
the leading dims, with PyTorch's results, errors and gradients.

Each decomposition is a Function: forward on arrays through the array
module's ``linalg`` (numpy.linalg on the host, cupy.linalg on a GPU), backward
written once in the NumPy subset that ``TensorMath`` also speaks, so that
``create_graph=True`` differentiates it again.  A backward that needs an
inverse, a solve or a matrix exponential calls the helpers below, which run
the array routine on arrays and the differentiable Function on Tensors.

A Function returns one array: decompositions with several differentiable
results (qr, eigh, svd) return them flattened and concatenated along the last
dim, and the wrapper cuts them apart with differentiable slices (the unused
parts get zero gradients).

The top-level functions of the old API (torch.det, torch.svd returning V,
torch.cholesky(upper=)...) are at the end, with the Tensor methods.
"""
import builtins
import math
import warnings

import numpy as np

from . import return_types
from .autograd.function import Function
from .backend import get_array_module
from .ops import (GetItem, Norm, Where, abs, amax, amin, matmul, reshape, stack, sum,
                  transpose, unsqueeze)
from .dtypes import scalar_type_name
from .tensor import Tensor, _host

__all__ = ["LinAlgError", "inv", "inv_ex", "det", "slogdet", "solve", "solve_ex", "cholesky",
           "cholesky_ex", "qr", "eigh", "eigvalsh", "svd", "svdvals", "pinv", "matrix_power",
           "matrix_exp", "lstsq", "matrix_rank", "cross", "norm", "vector_norm", "matrix_norm",
           "solve_triangular", "multi_dot", "vecdot", "matmul", "diagonal", "cond", "lu",
           "lu_factor", "lu_factor_ex", "lu_solve", "vander", "tensorinv", "tensorsolve",
           "householder_product", "ldl_factor", "ldl_factor_ex", "ldl_solve", "eig", "eigvals"]


class LinAlgError(RuntimeError):
    """PyTorch's torch.linalg.LinAlgError: a singular or not positive-definite input."""


# --------------------------------------------------------------------------
# input checks, with PyTorch's messages
# --------------------------------------------------------------------------



def _check_float(A, fname):
    if A.array.dtype.kind != "f":
        raise RuntimeError(f"{fname}: Expected a floating point or complex tensor as input. Got "
                           f"{scalar_type_name(A.array.dtype)}")


def _check_matrix(A, fname, square=True, floating=True):
    if not isinstance(A, Tensor):
        raise TypeError(f"{fname}(): argument 'A' (position 1) must be Tensor, not "
                        f"{type(A).__name__}")
    if A.ndim < 2:
        raise RuntimeError(f"{fname}: The input tensor A must have at least 2 dimensions.")
    if floating:
        _check_float(A, fname)
    if square and A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"{fname}: A must be batches of square matrices, but they are "
                           f"{A.shape[-2]} by {A.shape[-1]} matrices")


def _batch_prefix(shape, flat_index):
    return f"(Batch element {flat_index}): " if len(shape) > 2 else ""


def _lu_info(a):
    """LAPACK getrf's info per matrix (0, or the 1-based index of the first zero pivot)."""
    from scipy.linalg import lapack
    a = np.asarray(a, dtype=np.float64)
    flat = a.reshape((-1,) + a.shape[-2:])
    info = np.zeros(len(flat), np.int32)
    for i, m in enumerate(flat):
        info[i] = lapack.dgetrf(m)[2]
    return info.reshape(a.shape[:-2])


def _chol_info(a):
    from scipy.linalg import lapack
    a = np.asarray(a, dtype=np.float64)
    flat = a.reshape((-1,) + a.shape[-2:])
    info = np.zeros(len(flat), np.int32)
    for i, m in enumerate(flat):
        info[i] = lapack.dpotrf(m, lower=1)[1]
    return info.reshape(a.shape[:-2])


def _singular_error(a, fname):
    info = _lu_info(_host(a)).reshape(-1)
    k = int(np.argmax(info > 0))
    prefix = _batch_prefix(a.shape, k)
    if fname == "linalg.inv":
        return LinAlgError(f"linalg.inv: {prefix}The diagonal element {info[k]} is zero, the "
                           f"inversion could not be completed because the input matrix is "
                           f"singular.")
    return LinAlgError(f"torch.linalg.solve: {prefix}The solver failed because the input matrix "
                       f"is singular.")


def _not_pd_error(a, fname="linalg.cholesky"):
    info = _chol_info(_host(a)).reshape(-1)
    k = int(np.argmax(info > 0))
    return LinAlgError(f"{fname}: {_batch_prefix(a.shape, k)}The factorization could not be "
                       f"completed because the input is not positive-definite (the leading "
                       f"minor of order {info[k]} is not positive-definite).")


# --------------------------------------------------------------------------
# helpers for backward formulas: arrays or (under create_graph) Tensors
# --------------------------------------------------------------------------

def _arr(x):
    return x.array if isinstance(x, Tensor) else x


def _mT(xp, x):
    return xp.swapaxes(x, -1, -2)


def _eye_like(x, n=None):
    a = _arr(x)
    return get_array_module(a).eye(a.shape[-1] if n is None else n, dtype=a.dtype)


def _tensors(*xs):
    if any(isinstance(x, Tensor) for x in xs):
        return [x if isinstance(x, Tensor) else Tensor(x) for x in xs]
    return None


def _inv(A):
    t = _tensors(A)
    return Inv.apply(*t) if t else get_array_module(A).linalg.inv(A)


def _solve(A, B):
    """A^-1 B for matrices B (..., n, k)."""
    t = _tensors(A, B)
    return Solve.apply(*t) if t else get_array_module(A).linalg.solve(A, B)


def _expm(A):
    t = _tensors(A)
    return MatrixExp.apply(*t) if t else _expm_array(A)


def _diag(xp, X):
    """The diagonal of the last two dims (..., n)."""
    return xp.sum(X * _eye_like(X), axis=-1)


def _diag_embed(xp, v):
    return xp.expand_dims(v, -1) * _eye_like(v, _arr(v).shape[-1])


def _tril(X, k=0):
    a = _arr(X)
    xp = get_array_module(a)
    return X * xp.tril(xp.ones(a.shape[-2:], dtype=a.dtype), k)


def _triu(X, k=0):
    a = _arr(X)
    xp = get_array_module(a)
    return X * xp.triu(xp.ones(a.shape[-2:], dtype=a.dtype), k)


def _is_zero(g):
    """Whether the gradient of a packed part is all zeros (the result was not used).

    Under create_graph a gradient that is zero now but depends on a variable
    is not zero: its derivative may not be (a Jacobian-vector product pushes
    zeros through backward and differentiates them), so it is never skipped."""
    if isinstance(g, Tensor) and g.requires_grad:
        return False
    return not bool(_arr(g).any())


def _pack(xp, batch, *arrays):
    flat = [a.reshape(batch + (-1,)) for a in arrays]
    return xp.concatenate(flat, axis=-1)


def _unpack_arrays(xp, g, shapes):
    """Cut a packed gradient back into the parts (shapes without the batch dims)."""
    batch = tuple(_arr(g).shape[:-1])
    out, start = [], 0
    for s in shapes:
        size = int(np.prod(s))
        out.append(xp.reshape(g[..., start:start + size], batch + tuple(s)))
        start += size
    return out


def _unpack(t, shapes):
    batch = t.shape[:-1]
    out, start = [], 0
    for s in shapes:
        size = int(np.prod(s))
        part = GetItem.apply(t, index=(Ellipsis, slice(start, start + size)))
        out.append(reshape(part, batch + tuple(s)))
        start += size
    return out


# --------------------------------------------------------------------------
# the Functions
# --------------------------------------------------------------------------

class _LinalgFunction(Function):
    """A Function of this module: its grad_fn name is PyTorch's (``torch_name``)."""

    torch_name = None

    def name(self):
        return self.torch_name


class Inv(_LinalgFunction):
    """A^-1; gradient -A^-T G A^-T."""

    torch_name = "LinalgInvExBackward0"

    def forward(self, A):
        xp = get_array_module(A)
        try:
            Y = xp.linalg.inv(A)
        except Exception as e:
            if type(e).__name__ == "LinAlgError":
                raise _singular_error(A, "linalg.inv") from None
            raise
        if xp is not np and not bool(xp.isfinite(Y).all()):    # CuPy does not raise
            raise _singular_error(A, "linalg.inv")
        self.save_for_backward(Y)
        return Y

    def backward(self, xp, gy):
        Y, = self.saved_tensors
        Yt = _mT(xp, Y)
        return -xp.matmul(Yt, xp.matmul(gy, Yt))


class Det(_LinalgFunction):
    """det(A); gradient g cof(A), the cofactor matrix: det(A) A^-T where A is
    invertible, from the SVD where it is not (see _singular_cofactors)."""

    torch_name = "LinalgDetBackward0"

    def forward(self, A):
        d = get_array_module(A).linalg.det(A)
        self.save_for_backward(A, d)
        return d

    def backward(self, xp, gy):
        A, d = self.saved_tensors
        g = xp.expand_dims(xp.expand_dims(gy, -1), -1)
        da = _arr(d)
        am = get_array_module(da)
        singular = da == 0
        if not bool(am.any(singular)):
            return g * xp.expand_dims(xp.expand_dims(d, -1), -1) * _mT(xp, _inv(A))
        if isinstance(A, Tensor):
            raise RuntimeError("linalg.det: the second derivative at a singular matrix is not "
                               "implemented (its first derivative is the cofactor matrix, "
                               "taken from an SVD that is not differentiated)")
        # invert the identity in place of the singular matrices, then put their
        # cofactors in (det(A) A^-T has no value there, the cofactors do)
        safe = am.where(singular[..., None, None], _eye_like(A), A)
        cof = da[..., None, None] * _mT(am, am.linalg.inv(safe))
        cof = am.where(singular[..., None, None], _singular_cofactors(A), cof)
        return g * cof


def _singular_cofactors(A):
    """The cofactor matrices of A (..., n, n) from its SVD A = U diag(s) V^T:
    cof(A) = det(U) det(V) U diag(prod_{j != i} s_j) V^T, which needs no
    inverse and so holds for singular A too (rank n-1 gives a nonzero one:
    d det/dA, as a finite difference shows; PyTorch 2.13 returns zeros)."""
    am = get_array_module(A)
    U, s, Vh = am.linalg.svd(A)
    n = s.shape[-1]
    # products of all singular values but one, without dividing by a zero one
    left = am.concatenate([am.ones_like(s[..., :1]), am.cumprod(s[..., :-1], axis=-1)], -1)
    right = am.flip(am.concatenate([am.ones_like(s[..., :1]),
                                    am.cumprod(am.flip(s[..., 1:], -1), axis=-1)], -1), -1)
    others = left * right if n else s
    sign = am.linalg.det(U) * am.linalg.det(Vh)
    return sign[..., None, None] * am.matmul(U * others[..., None, :], Vh)


class LogAbsDet(_LinalgFunction):
    """log|det(A)|; gradient g A^-T."""

    torch_name = "LinalgSlogdetBackward0"

    def forward(self, A):
        sign, logabs = get_array_module(A).linalg.slogdet(A)
        self.save_for_backward(A)
        self.sign = sign
        return logabs

    def backward(self, xp, gy):
        A, = self.saved_tensors
        return xp.expand_dims(xp.expand_dims(gy, -1), -1) * _mT(xp, _inv(A))


class Solve(_LinalgFunction):
    """X = A^-1 B for B of matrices (..., n, k), batch dims broadcast;
    gradients gB = A^-T G, gA = -gB X^T."""

    torch_name = "LinalgSolveExBackward0"

    def forward(self, A, B):
        xp = get_array_module(A)
        try:
            X = xp.linalg.solve(A, B)
        except Exception as e:
            if type(e).__name__ == "LinAlgError":
                raise _singular_error(A, "linalg.solve") from None
            raise
        if xp is not np and not bool(xp.isfinite(X).all()):
            raise _singular_error(A, "linalg.solve")
        self.save_for_backward(A, X)
        return X

    def backward(self, xp, gy):
        A, X = self.saved_tensors
        gB = _solve(_mT(xp, A), gy)
        gA = -xp.matmul(gB, _mT(xp, X)) if self.needs_input_grad[0] else None
        return gA, gB


class Cholesky(_LinalgFunction):
    """The lower factor L of A = L L^T; gradient (PyTorch's)
    L^-T Phi(L^T G) L^-1 with Phi the symmetrised lower triangle."""

    torch_name = "LinalgCholeskyExBackward0"

    def forward(self, A):
        xp = get_array_module(A)
        try:
            L = xp.linalg.cholesky(A)
        except Exception as e:
            if type(e).__name__ == "LinAlgError":
                raise _not_pd_error(A) from None
            raise
        if xp is not np and not bool(xp.isfinite(L).all()):
            raise _not_pd_error(A)
        self.save_for_backward(L)
        return L

    def backward(self, xp, gy):
        L, = self.saved_tensors
        gA = _tril(xp.matmul(_mT(xp, L), gy))
        gA = 0.5 * (gA + _mT(xp, _tril(gA, -1)))
        gA = _solve(_mT(xp, L), gA)                      # L^-T gA
        return _mT(xp, _solve(_mT(xp, L), _mT(xp, gA)))  # (L^-T gA^T)^T = gA L^-1


def _qr_backward(xp, Q, R, gQ, gR):
    """m >= n, reduced: gA = (gQ + Q copyltu(M)) R^-T, M = R gR^T - gQ^T Q."""
    M = xp.matmul(R, _mT(xp, gR)) - xp.matmul(_mT(xp, gQ), Q)
    low = _tril(M, -1)
    M = low + _mT(xp, low) + _diag_embed(xp, _diag(xp, M))
    b = gQ + xp.matmul(Q, M)
    return _mT(xp, _solve(R, _mT(xp, b)))               # b R^-T


class QR(_LinalgFunction):
    """Q and R packed; mode 'reduced' or 'complete'."""

    torch_name = "LinalgQrBackward0"

    def forward(self, A, *, mode):
        xp = get_array_module(A)
        Q, R = xp.linalg.qr(A, mode="reduced" if mode == "r" else mode)
        self.mode, self.shapes = mode, (Q.shape[-2:], R.shape[-2:])
        self.m, self.n = A.shape[-2:]
        out = _pack(xp, A.shape[:-2], Q, R)
        self.save_for_backward(out)     # the output: create_graph differentiates through it
        return out

    def backward(self, xp, gy):
        if self.mode == "r":
            raise RuntimeError("The derivative of linalg.qr depends on Q, which is not computed "
                               "when mode='r'. Please use linalg.qr(A, mode='reduced') if you are "
                               "going to differentiate through linalg.qr.")
        if self.mode == "complete" and self.m > self.n:
            raise RuntimeError("The QR decomposition is not differentiable when mode='complete' "
                               "and nrows > ncols.")
        Q, R = _unpack_arrays(xp, self.saved_tensors[0], self.shapes)
        gQ, gR = _unpack_arrays(xp, gy, self.shapes)
        m, n = self.m, self.n
        if m >= n:
            return _qr_backward(xp, Q, R, gQ, gR)
        # m < n: A = Q [X | Y] with X square; R = [R1 | R2], R2 = Q^T Y
        R1, R2 = R[..., :, :m], R[..., :, m:]
        gR1, gR2 = gR[..., :, :m], gR[..., :, m:]
        Y = xp.matmul(Q, R2)
        gX = _qr_backward(xp, Q, R1, gQ + xp.matmul(Y, _mT(xp, gR2)), gR1)
        gY = xp.matmul(Q, gR2)
        return _concat_last(xp, gX, gY)


def _concat_last(xp, a, b):
    """[a | b] along the last dim, written with matmuls so it also records."""
    na, nb = _arr(a).shape[-1], _arr(b).shape[-1]
    dt = _arr(a).dtype
    am = get_array_module(_arr(a))
    Pa = am.concatenate([am.eye(na, dtype=dt), am.zeros((na, nb), dt)], axis=1)
    Pb = am.concatenate([am.zeros((nb, na), dt), am.eye(nb, dtype=dt)], axis=1)
    return xp.matmul(a, Pa) + xp.matmul(b, Pb)


class Eigh(_LinalgFunction):
    """Eigenvalues (ascending) and eigenvectors of a symmetric matrix, packed."""

    torch_name = "LinalgEighBackward0"

    def forward(self, A, *, UPLO):
        xp = get_array_module(A)
        L, V = xp.linalg.eigh(A, UPLO=UPLO)
        self.n = A.shape[-1]
        out = _pack(xp, A.shape[:-2], L, V)
        self.save_for_backward(out)
        return out

    def backward(self, xp, gy):
        n = self.n
        L, V = _unpack_arrays(xp, self.saved_tensors[0], ((n,), (n, n)))
        gL, gV = _unpack_arrays(xp, gy, ((n,), (n, n)))
        gA = _diag_embed(xp, gL)
        if not _is_zero(gV):
            VtgV = xp.matmul(_mT(xp, V), gV)
            VtgV = 0.5 * (VtgV - _mT(xp, VtgV))
            E = xp.expand_dims(L, -2) - xp.expand_dims(L, -1) + _eye_like(L, n)
            gA = gA + VtgV / E
        return xp.matmul(V, xp.matmul(gA, _mT(xp, V)))


class SVD(_LinalgFunction):
    """U, S, Vh packed.  The gradient is PyTorch's svd_backward; with
    full_matrices=True it uses the first k = min(m, n) singular vectors, as
    PyTorch does."""

    torch_name = "LinalgSvdBackward0"

    def forward(self, A, *, full_matrices):
        xp = get_array_module(A)
        U, S, Vh = xp.linalg.svd(A, full_matrices=full_matrices)
        self.shapes = (U.shape[-2:], S.shape[-1:], Vh.shape[-2:])
        self.m, self.n = A.shape[-2:]
        out = _pack(xp, A.shape[:-2], U, S, Vh)
        self.save_for_backward(out)
        return out

    def backward(self, xp, gy):
        U, S, Vh = _unpack_arrays(xp, self.saved_tensors[0], self.shapes)
        gU, gS, gVh = _unpack_arrays(xp, gy, self.shapes)
        m, n = self.m, self.n
        k = builtins.min(m, n)
        if _arr(U).shape[-1] != k:
            U, gU = U[..., :, :k], gU[..., :, :k]
        if _arr(Vh).shape[-2] != k:
            Vh, gVh = Vh[..., :k, :], gVh[..., :k, :]
        use_u, use_v = not _is_zero(gU), not _is_zero(gVh)
        if not use_u and not use_v:
            return xp.matmul(U * xp.expand_dims(gS, -2), Vh)
        S2 = S * S
        E = xp.expand_dims(S2, -2) - xp.expand_dims(S2, -1) + _eye_like(S, k)
        gA = 0.0
        if use_u:
            UtgU = xp.matmul(_mT(xp, U), gU)
            gA = (UtgU - _mT(xp, UtgU)) * xp.expand_dims(S, -2)
        if use_v:
            VtgV = xp.matmul(Vh, _mT(xp, gVh))
            gA = gA + xp.expand_dims(S, -1) * (VtgV - _mT(xp, VtgV))
        gA = gA / E + _diag_embed(xp, gS)
        if m > n and use_u:
            gA = xp.matmul(U, gA)
            gUSinv = gU / xp.expand_dims(S, -2)
            gA = gA + gUSinv - xp.matmul(U, xp.matmul(_mT(xp, U), gUSinv))
            return xp.matmul(gA, Vh)
        if m < n and use_v:
            gA = xp.matmul(gA, Vh)
            gVhSinv = gVh / xp.expand_dims(S, -1)
            gA = gA + gVhSinv - xp.matmul(xp.matmul(gVhSinv, _mT(xp, Vh)), Vh)
            return xp.matmul(U, gA)
        return xp.matmul(U, xp.matmul(gA, Vh))


class Pinv(_LinalgFunction):
    """The pseudo-inverse (singular values at or below max(atol, rtol * S_max)
    dropped); gradient: PyTorch's pinv_backward, matmuls of A and A^+."""

    torch_name = "LinalgPinvBackward0"

    def forward(self, A, *, atol, rtol, rcond, hermitian):
        xp = get_array_module(A)
        m, n = A.shape[-2:]
        if A.size == 0:
            P = xp.zeros(A.shape[:-2] + (n, m), A.dtype)
        elif hermitian:
            L, V = xp.linalg.eigh(A)
            absL = xp.abs(L)
            tol = xp.asarray(_tolerances(_host(absL.max(axis=-1, keepdims=True)), A.dtype, m, n,
                                         atol, rtol, rcond))
            keep = absL > tol
            Linv = xp.where(keep, 1 / xp.where(keep, L, 1), 0).astype(A.dtype)
            P = xp.matmul(V * Linv[..., None, :], xp.swapaxes(V, -1, -2))
        else:
            U, S, Vh = xp.linalg.svd(A, full_matrices=False)
            tol = xp.asarray(_tolerances(_host(S[..., :1]), A.dtype, m, n, atol, rtol, rcond))
            keep = S > tol
            Sinv = xp.where(keep, 1 / xp.where(keep, S, 1), 0).astype(A.dtype)
            P = xp.matmul(xp.swapaxes(Vh, -1, -2) * Sinv[..., None, :], xp.swapaxes(U, -1, -2))
        self.save_for_backward(A, P)
        return P

    def backward(self, xp, gy):
        A, P = self.saved_tensors
        m, n = _arr(A).shape[-2:]
        Pt, gt = _mT(xp, P), _mT(xp, gy)
        if m <= n:
            K = xp.matmul(gt, P)
            KPt = xp.matmul(K, Pt)
            return (-_mT(xp, xp.matmul(P, K)) + KPt - xp.matmul(xp.matmul(A, P), KPt)
                    + xp.matmul(xp.matmul(Pt, P), gt - xp.matmul(K, A)))
        K = xp.matmul(P, gt)
        PtK = xp.matmul(Pt, K)
        return (-_mT(xp, xp.matmul(K, P)) + xp.matmul(xp.matmul(gt - xp.matmul(A, K), P), Pt)
                + PtK - xp.matmul(xp.matmul(PtK, P), A))


class LU(_LinalgFunction):
    """L and U of A = P L U (partial pivoting), packed; P is kept aside (no
    gradient).  The gradient is PyTorch's linalg_lu_backward (square, wide and
    tall matrices)."""

    torch_name = "LinalgLuBackward0"

    def forward(self, A):
        import scipy.linalg
        xp = get_array_module(A)
        m, n = A.shape[-2:]
        k = builtins.min(m, n)
        if A.size == 0:
            P = np.broadcast_to(np.eye(m, dtype=A.dtype), A.shape[:-2] + (m, m)).copy()
            L = np.zeros(A.shape[:-2] + (m, k), A.dtype)
            U = np.zeros(A.shape[:-2] + (k, n), A.dtype)
        else:
            P, L, U = scipy.linalg.lu(_host(A))
        P, L, U = (xp.asarray(x, dtype=A.dtype) for x in (P, L, U))
        self.P, self.shapes, self.m, self.n = P, ((m, k), (k, n)), m, n
        out = _pack(xp, A.shape[:-2], L, U)
        self.save_for_backward(out)
        return out

    def backward(self, xp, gy):
        L, U = _unpack_arrays(xp, self.saved_tensors[0], self.shapes)
        gL, gU = _unpack_arrays(xp, gy, self.shapes)
        m, n = self.m, self.n
        k = builtins.min(m, n)
        if m <= n:      # square or wide: A = P L [U1 | U2]
            U1, gU1, gU2 = U[..., :, :k], gU[..., :, :k], gU[..., :, k:]
            g = _tril(xp.matmul(_mT(xp, L), gL) - xp.matmul(_triu(gU), _mT(xp, U)), -1)
            g = _mT(xp, _solve(U1, _mT(xp, g))) + _triu(gU1)          # g U1^-T + triu(gU1)
            if m < n:
                g = _concat_last(xp, g, gU2)
            gA = _solve(_mT(xp, L), g)                               # L^-T g
        else:           # tall: A = P [L1; L2] U
            L1, gL1, gL2 = L[..., :k, :], gL[..., :k, :], gL[..., k:, :]
            g = xp.matmul(gU, _mT(xp, U)) - xp.matmul(_mT(xp, L), _tril(gL, -1))
            g = _solve(_mT(xp, L1), _triu(g)) + _tril(gL1, -1)        # L1^-T triu(g) + ...
            g = _mT(xp, _concat_last(xp, _mT(xp, g), _mT(xp, gL2)))
            gA = _mT(xp, _solve(U, _mT(xp, g)))                      # g U^-T
        return xp.matmul(self.P, gA)


def _expm_array(A):
    xp = get_array_module(A)
    if xp is np:
        import scipy.linalg
        return np.asarray(scipy.linalg.expm(A), dtype=A.dtype)
    # on a GPU: scaling and squaring with a degree-18 Taylor polynomial
    norm = float(xp.abs(A).sum(axis=-2).max()) if A.size else 0.0
    s = builtins.max(0, int(math.ceil(math.log2(norm))) + 1) if norm > 0 else 0
    X = A / (2.0 ** s)
    term = xp.broadcast_to(xp.eye(A.shape[-1], dtype=A.dtype), A.shape).copy()
    out = term.copy()
    for i in range(1, 19):
        term = xp.matmul(term, X) / i
        out = out + term
    for _ in range(s):
        out = xp.matmul(out, out)
    return out


class MatrixExp(_LinalgFunction):
    """exp(A); gradient: the top-right block of exp([[A^T, G], [0, A^T]])."""

    torch_name = "LinalgMatrixExpBackward0"

    def forward(self, A):
        self.save_for_backward(A)
        return _expm_array(A)

    def backward(self, xp, gy):
        A, = self.saved_tensors
        a = _arr(A)
        n, dt = a.shape[-1], a.dtype
        am = get_array_module(a)
        P1 = am.concatenate([am.eye(n, dtype=dt), am.zeros((n, n), dt)], axis=0)   # (2n, n)
        P2 = am.concatenate([am.zeros((n, n), dt), am.eye(n, dtype=dt)], axis=0)
        At = _mT(xp, A)
        B = (xp.matmul(P1, xp.matmul(At, P1.T)) + xp.matmul(P1, xp.matmul(gy, P2.T))
             + xp.matmul(P2, xp.matmul(At, P2.T)))
        return xp.matmul(P1.T, xp.matmul(_expm(B), P2))


# --------------------------------------------------------------------------
# torch.linalg
# --------------------------------------------------------------------------

def inv(A, *, out=None):
    _check_matrix(A, "linalg.inv")
    return Inv.apply(A)


def inv_ex(A, *, check_errors=False, out=None):
    _check_matrix(A, "linalg.inv")
    info = _lu_info(_host(A.array)) if A.numel() else np.zeros(A.shape[:-2], np.int32)
    if info.any():
        if check_errors:
            raise _singular_error(A.array, "linalg.inv")
        with np.errstate(all="ignore"):
            from scipy.linalg import lapack
            flat = _host(A.array).reshape((-1,) + A.shape[-2:])
            res = []
            for m in flat:
                lu, piv, _ = lapack.dgetrf(m)
                res.append(lapack.dgetri(lu, piv)[0])
            Y = np.stack(res).reshape(A.shape).astype(A.array.dtype)
        return return_types.linalg_inv_ex((Tensor(Y), Tensor(info)))
    return return_types.linalg_inv_ex((Inv.apply(A), Tensor(info)))


def det(A, *, out=None):
    _check_matrix(A, "linalg.det")
    return Det.apply(A)


def slogdet(A, *, out=None):
    _check_matrix(A, "linalg.slogdet")
    logabs = LogAbsDet.apply(A)
    sign = logabs.grad_fn.sign if logabs.grad_fn is not None else \
        get_array_module(A.array).linalg.slogdet(A.array)[0]
    return return_types.linalg_slogdet((Tensor(sign), logabs))


def _is_vector_rhs(A, B):
    return B.ndim == 1 or (B.ndim == A.ndim - 1 and B.shape == A.shape[:-1])


def solve(A, B, *, left=True, out=None):
    _check_matrix(A, "linalg.solve")
    _check_float(B, "linalg.solve")
    if A.array.dtype != B.array.dtype:
        raise RuntimeError(f"linalg.solve: Expected A and B to have the same dtype, but found "
                           f"A of type {scalar_type_name(A.array.dtype)} and B of type "
                           f"{scalar_type_name(B.array.dtype)} instead")
    vector = _is_vector_rhs(A, B)
    if not left:
        if vector:
            raise RuntimeError("linalg.solve: Vector broadcasting of the left hand side is not "
                               "supported for left=False. In this case linalg.solve is "
                               "equivalent to B / A.squeeze(-1)")
        return transpose(solve(transpose(A, -2, -1), transpose(B, -2, -1)), -2, -1)
    Bm = unsqueeze(B, -1) if vector else B
    n = A.shape[-1]
    if Bm.shape[-2] != n:
        raise RuntimeError(f"linalg.solve: Incompatible shapes of A and B for the equation "
                           f"AX = B ({A.shape[-2]}x{n} and {Bm.shape[-2]}x{Bm.shape[-1]})")
    X = Solve.apply(A, Bm)
    return reshape(X, X.shape[:-1]) if vector else X


def solve_ex(A, B, *, left=True, check_errors=False, out=None):
    try:
        X = solve(A, B, left=left)
        info = Tensor(np.zeros(A.shape[:-2], np.int32))
    except LinAlgError:
        if check_errors:
            raise
        info = Tensor(_lu_info(_host(A.array)))
        X = Tensor(np.full(np.broadcast_shapes(A.shape[:-2], B.shape[:-2]) + B.shape[-2:]
                           if not _is_vector_rhs(A, B) else B.shape, np.nan, A.array.dtype))
    return return_types.linalg_solve_ex((X, info))


def solve_triangular(A, B, *, upper, left=True, unitriangular=False, out=None):
    _check_matrix(A, "linalg.solve_triangular")
    T = _triu(A) if upper else _tril(A)
    if unitriangular:
        T = _triu(A, 1) + Tensor(_eye_like(A)) if upper else _tril(A, -1) + Tensor(_eye_like(A))
    if left:
        return Solve.apply(T, B)
    return transpose(Solve.apply(transpose(T, -2, -1), transpose(B, -2, -1)), -2, -1)


def cholesky(A, *, upper=False, out=None):
    _check_matrix(A, "linalg.cholesky")
    L = Cholesky.apply(A)
    return transpose(L, -2, -1) if upper else L


def cholesky_ex(A, *, upper=False, check_errors=False, out=None):
    _check_matrix(A, "linalg.cholesky")
    info = _chol_info(_host(A.array)) if A.numel() else np.zeros(A.shape[:-2], np.int32)
    if info.any():
        if check_errors:
            raise _not_pd_error(A.array)
        from scipy.linalg import lapack
        flat = _host(A.array).reshape((-1,) + A.shape[-2:])
        L = np.stack([np.tril(lapack.dpotrf(m, lower=1)[0]) for m in flat])
        L = Tensor(L.reshape(A.shape).astype(A.array.dtype))
        return return_types.linalg_cholesky_ex((L.mT if upper else L, Tensor(info)))
    return return_types.linalg_cholesky_ex((cholesky(A, upper=upper), Tensor(info)))


def qr(A, mode="reduced", *, out=None):
    if mode not in ("reduced", "r", "complete"):
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of "
                           f"'reduced' (default), 'r', or 'complete'")
    _check_matrix(A, "linalg.qr", square=False)
    m, n = A.shape[-2:]
    k = builtins.min(m, n)
    if mode == "r":     # R alone; differentiating it raises, as in PyTorch
        R = _unpack(QR.apply(A, mode="r"), ((m, k), (k, n)))[1]
        return return_types.linalg_qr((Tensor(np.zeros((0,), A.array.dtype)), R))
    kq = m if mode == "complete" else k
    packed = QR.apply(A, mode=mode)
    Q, R = _unpack(packed, ((m, kq), (kq, n)))
    return return_types.linalg_qr((Q, R))


def _check_uplo(UPLO, fname):
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"Expected UPLO argument to be 'L' or 'U', but got {UPLO}")


def eigh(A, UPLO="L", *, out=None):
    _check_matrix(A, "linalg.eigh")
    _check_uplo(UPLO, "linalg.eigh")
    n = A.shape[-1]
    L, V = _unpack(Eigh.apply(A, UPLO=UPLO), ((n,), (n, n)))
    return return_types.linalg_eigh((L, V))


def eigvalsh(A, UPLO="L", *, out=None):
    _check_matrix(A, "linalg.eigvalsh")
    _check_uplo(UPLO, "linalg.eigvalsh")
    return eigh(A, UPLO)[0]


def svd(A, full_matrices=True, *, driver=None, out=None):
    _check_matrix(A, "linalg.svd", square=False)
    m, n = A.shape[-2:]
    k = builtins.min(m, n)
    ku, kv = (m, n) if full_matrices else (k, k)
    U, S, Vh = _unpack(SVD.apply(A, full_matrices=full_matrices), ((m, ku), (k,), (kv, n)))
    return return_types.linalg_svd((U, S, Vh))


def svdvals(A, *, driver=None, out=None):
    _check_matrix(A, "linalg.svdvals", square=False)
    return svd(A, full_matrices=False)[1]


def _tolerances(S_max, dtype, m, n, atol, rtol, rcond=None):
    """PyTorch's max(atol, rtol * S_max) with its defaults."""
    if rcond is not None:
        rtol = rcond
    if isinstance(atol, Tensor):
        atol = atol.array
    if isinstance(rtol, Tensor):
        rtol = rtol.array
    if rtol is None:
        rtol = np.finfo(dtype).eps * builtins.max(m, n) if (atol is None or np.all(atol == 0)) \
            else 0.0
    atol = 0.0 if atol is None else atol
    return np.maximum(atol, rtol * S_max)


def pinv(A, *, atol=None, rtol=None, hermitian=False, rcond=None, out=None):
    if not isinstance(A, Tensor) or A.ndim < 2 or A.array.dtype.kind != "f":
        raise RuntimeError(f"linalg.pinv({scalar_type_name(A.array.dtype)}"
                           f"{{{list(A.shape)}}}): expected a tensor with 2 or more dimensions "
                           f"of float, double, cfloat or cdouble types")
    return Pinv.apply(A, atol=atol, rtol=rtol, rcond=rcond, hermitian=hermitian)


def matrix_rank(A, tol=None, hermitian=False, *, atol=None, rtol=None, out=None):
    _check_matrix(A, "linalg.matrix_rank", square=hermitian)
    a = A.array
    xp = get_array_module(a)
    m, n = a.shape[-2:]
    S = xp.abs(xp.linalg.eigvalsh(a)) if hermitian else xp.linalg.svd(a, compute_uv=False)
    if tol is not None:
        atol, rtol = tol, 0.0
    Smax = S.max(axis=-1, keepdims=True) if S.shape[-1] else xp.zeros(S.shape[:-1] + (1,))
    t = _tolerances(_host(Smax) if xp is not np else Smax, a.dtype, m, n, atol, rtol)
    return Tensor((S > xp.asarray(t)).sum(axis=-1).astype(np.int64))


def matrix_power(A, n, *, out=None):
    _check_matrix(A, "linalg.matrix_power", floating=False)
    if not isinstance(n, (int, np.integer)):
        raise TypeError(f"linalg_matrix_power(): argument 'n' (position 2) must be int, not "
                        f"{type(n).__name__}")
    if n == 0:
        eye = np.broadcast_to(np.eye(A.shape[-1], dtype=A.array.dtype), A.shape).copy()
        return Tensor(get_array_module(A.array).asarray(eye))
    if n < 0:
        A = inv(A)
        n = -n
    result, base = None, A
    while n:
        if n & 1:
            result = base if result is None else matmul(result, base)
        n >>= 1
        if n:
            base = matmul(base, base)
    return result


def lu(A, *, pivot=True, out=None):
    _check_matrix(A, "linalg.lu", square=False)
    if not pivot:
        raise RuntimeError("linalg.lu_factor: LU without pivoting is not implemented on the CPU")
    m, n = A.shape[-2:]
    k = builtins.min(m, n)
    packed = LU.apply(A)
    L, U = _unpack(packed, ((m, k), (k, n)))
    P = packed.grad_fn.P if packed.grad_fn is not None else \
        Tensor(_lu_permutation(_host(A.array)))
    return return_types.linalg_lu((Tensor(P) if not isinstance(P, Tensor) else P, L, U))


def _lu_permutation(a):
    import scipy.linalg
    if a.size == 0:
        m = a.shape[-2]
        return np.broadcast_to(np.eye(m, dtype=a.dtype), a.shape[:-2] + (m, m)).copy()
    return scipy.linalg.lu(a)[0].astype(a.dtype)


def _getrf(a):
    """LAPACK getrf per matrix: the packed LU, 1-based pivots and info."""
    from scipy.linalg import lapack
    m, n = a.shape[-2:]
    flat = a.reshape((-1, m, n))
    getrf = lapack.sgetrf if a.dtype == np.float32 else lapack.dgetrf
    lus = np.empty_like(flat)
    piv = np.empty((len(flat), builtins.min(m, n)), np.int32)
    info = np.zeros(len(flat), np.int32)
    for i, x in enumerate(flat):
        lu_, p, inf = getrf(x)
        lus[i], piv[i], info[i] = lu_, p + 1, inf
    return (lus.reshape(a.shape), piv.reshape(a.shape[:-2] + (builtins.min(m, n),)),
            info.reshape(a.shape[:-2]))


def lu_factor_ex(A, *, pivot=True, check_errors=False, out=None):
    _check_matrix(A, "linalg.lu_factor_ex", square=False)
    if not pivot:
        raise RuntimeError("linalg.lu_factor: LU without pivoting is not implemented on the CPU")
    a = _host(A.array)
    lus, piv, info = _getrf(a)
    if check_errors and info.any():
        raise _lu_factor_error(a.shape, info, "torch.linalg.lu_factor_ex")
    if A.requires_grad:
        # differentiable: L and U from the LU Function, packed as LAPACK does
        P, L, U = lu(A)
        m, n = A.shape[-2:]
        k = builtins.min(m, n)
        if m >= n:
            LUt = _tril(L, -1) + _concat_last_tensor(U, m, n, k)
        else:
            LUt = _concat_last_tensor(L, m, n, k, lower=True) + U
        return return_types.linalg_lu_factor_ex((LUt, Tensor(piv), Tensor(info)))
    return return_types.linalg_lu_factor_ex((Tensor(lus), Tensor(piv), Tensor(info)))


def _concat_last_tensor(X, m, n, k, lower=False):
    """U (k, n) padded with zero rows to (m, n) (m >= n), or strictly lower
    L (m, k) padded with zero columns to (m, n) (m < n)."""
    xp = get_array_module(X.array)
    dt = X.array.dtype
    if lower:
        E = xp.concatenate([xp.eye(k, dtype=dt), xp.zeros((k, n - k), dt)], axis=1)
        return matmul(_tril(X, -1), Tensor(E))
    E = xp.concatenate([xp.eye(k, dtype=dt), xp.zeros((m - k, k), dt)], axis=0)
    return matmul(Tensor(E), X)


def _lu_factor_error(shape, info, fname):
    flat = info.reshape(-1)
    b = int(np.argmax(flat > 0))
    return RuntimeError(f"{fname}: {_batch_prefix(shape, b)}U[{flat[b]},{flat[b]}] is zero and "
                        f"using it on lu_solve would result in a division by zero. If you still "
                        f"want to perform the factorization, consider calling linalg.lu(A, pivot) "
                        f"or linalg.lu_factor_ex(A, pivot)")


def lu_factor(A, *, pivot=True, out=None):
    LU_, piv, info = lu_factor_ex(A, pivot=pivot)
    if info.array.any():
        raise _lu_factor_error(A.shape, info.array, "torch.linalg.lu_factor")
    return return_types.linalg_lu_factor((LU_, piv))


def lu_solve(LU, pivots, B, *, left=True, adjoint=False, out=None):
    """Solve A X = B (or X A = B, A^T ...) from lu_factor's result; differentiable
    in LU and B (through the triangular solves)."""
    n = LU.shape[-1]
    L = _tril(LU, -1) + Tensor(_eye_like(LU))
    U = _triu(LU)
    piv = _host(pivots.array) - 1
    perm = np.broadcast_to(np.arange(n), piv.shape[:-1] + (n,)).copy()
    for idx in np.ndindex(piv.shape[:-1]):
        for i, p in enumerate(piv[idx]):
            perm[idx + (i,)], perm[idx + (p,)] = perm[idx + (p,)], perm[idx + (i,)]
    # A = P L U with P^T = I[perm]
    Pt = np.eye(n, dtype=LU.array.dtype)[perm]
    Pt = Tensor(get_array_module(LU.array).asarray(Pt))
    P = transpose(Pt, -2, -1)
    A_parts = (P, L, U)
    if adjoint:     # A^T = U^T L^T P^T
        A_parts = (transpose(U, -2, -1), transpose(L, -2, -1), Pt)
    if not left:    # X A = B  <=>  A^T X^T = B^T
        return transpose(lu_solve(LU, pivots, transpose(B, -2, -1), adjoint=not adjoint),
                         -2, -1)
    X1, X2, X3 = A_parts
    # X = X3^-1 X2^-1 X1^-1 B (X1^-1 = X1^T for the permutation)
    Y = matmul(transpose(X1, -2, -1), B) if not adjoint else Solve.apply(X1, B)
    Y = Solve.apply(X2, Y)
    return Solve.apply(X3, Y) if not adjoint else matmul(transpose(X3, -2, -1), Y)


def matrix_exp(A):
    _check_matrix(A, "linalg.matrix_exp")
    return MatrixExp.apply(A)


def lstsq(A, B, rcond=None, *, driver=None):
    _check_matrix(A, "linalg.lstsq", square=False)
    _check_float(B, "linalg.lstsq")
    if driver not in (None, "gels", "gelsy", "gelsd", "gelss"):
        raise RuntimeError(f"torch.linalg.lstsq: parameter `driver` should be one of (gels, "
                           f"gelsy, gelsd, gelss), but got {driver}")
    driver = driver or "gelsy"
    vector = B.ndim == A.ndim - 1
    Bm = unsqueeze(B, -1) if vector else B
    m, n = A.shape[-2:]
    if Bm.shape[-2] != m:
        raise RuntimeError("torch.linalg.lstsq: input.size(-2) should match other.size(-2)")
    a, b = _host(A.array), _host(Bm.array)
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    a = np.broadcast_to(a, batch + a.shape[-2:]).reshape((-1, m, n))
    b = np.broadcast_to(b, batch + b.shape[-2:]).reshape((-1, m, b.shape[-1]))
    if rcond is None:
        rcond = np.finfo(a.dtype).eps * builtins.max(m, n)
    sols, res, ranks, svs = [], [], [], []
    for ai, bi in zip(a, b):
        x, r, rank, s = np.linalg.lstsq(ai, bi, rcond=rcond)
        sols.append(x)
        res.append(r)
        ranks.append(rank)
        svs.append(s)
    dt = A.array.dtype
    from .autograd import is_grad_enabled
    if (A.requires_grad or B.requires_grad) and is_grad_enabled():
        # PyTorch's lstsq gradient is that of pinv(A) B (linalg_lstsq_backward);
        # as a composition it is also differentiable twice
        X = matmul(pinv(A), Bm)
    else:
        X = Tensor(np.stack(sols).reshape(batch + (n, b.shape[-1])).astype(dt)
                   if sols else np.zeros(batch + (n, b.shape[-1]), dt))
    if vector:
        X = reshape(X, X.shape[:-1])
    full_rank = all(r == builtins.min(m, n) for r in ranks)
    if m > n and driver != "gelsy" and (full_rank or driver == "gels"):
        sol = np.stack(sols) if sols else np.zeros((0, n, b.shape[-1]), dt)
        R = ((a @ sol - b) ** 2).sum(axis=-2).reshape(batch + (b.shape[-1],)).astype(dt)
        residuals = Tensor(R)
    else:
        residuals = Tensor(np.zeros((0,), dt))
    rank = Tensor(np.array(ranks, np.int64).reshape(batch)) if driver != "gels" \
        else Tensor(np.zeros((0,), np.int64))
    sv = Tensor(np.stack(svs).reshape(batch + (-1,)).astype(dt)) \
        if driver in ("gelsd", "gelss") else Tensor(np.zeros((0,), dt))
    return return_types.linalg_lstsq((X, residuals, rank, sv))


def cross(input, other, *, dim=-1, out=None):
    shape = np.broadcast_shapes(input.shape, other.shape)
    d = dim % len(shape)
    if input.shape[dim] != 3 or other.shape[dim] != 3:
        raise RuntimeError(f"linalg.cross: inputs dimension {dim} must have length 3. Got "
                           f"{input.shape[dim]} and {other.shape[dim]}")

    def comp(t, i):
        return GetItem.apply(t, index=(slice(None),) * (t.ndim - len(shape) + d) + (i,))
    a = [comp(input, i) for i in range(3)]
    b = [comp(other, i) for i in range(3)]
    return stack([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2],
                  a[0] * b[1] - a[1] * b[0]], dim=d)


def _dims(dim, ndim):
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, (int, np.integer)):
        dim = (dim,)
    return tuple(int(d) % builtins.max(ndim, 1) for d in dim)


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None, out=None):
    if isinstance(ord, str):
        raise TypeError("linalg_vector_norm(): argument 'ord' must be Number, not str")
    _check_float(x, "linalg.vector_norm")
    if dtype is not None:
        x = x.to(dtype)
    dims = _dims(dim, x.ndim)
    if x.ndim == 0:
        dims = ()
    if ord == 2:
        return Norm.apply(x, axes=dims, keepdim=keepdim)
    if ord in (math.inf, -math.inf):
        name = "inf" if ord > 0 else "-inf"
        if x.numel() == 0 and dim is None:
            raise RuntimeError(f"linalg.vector_norm cannot compute the {name} norm on an empty "
                               f"tensor because the operation does not have an identity")
        for d in dims:
            if x.shape[d] == 0:
                raise RuntimeError(f"linalg.vector_norm cannot compute the {name} norm on the "
                                   f"dimension {d}because this dimension is empty and the "
                                   f"operation does not have an identity")
        return (amax if ord > 0 else amin)(abs(x), dims, keepdim)
    if ord == 0:
        count = Tensor((x.array != 0).sum(axis=dims, keepdims=keepdim).astype(x.array.dtype))
        return sum(x * 0, dims, keepdim) + count if x.requires_grad else count
    if ord == 1:
        return sum(abs(x), dims, keepdim)
    # Where a slice's norm is 0 PyTorch's gradient is 0 (its formula would give
    # 0 * inf): such slices are computed on ones instead, and their result set to 0.
    from .ops import where
    xp = get_array_module(x.array)
    with np.errstate(divide="ignore"):
        value = (xp.abs(x.array) ** ord).sum(axis=dims, keepdims=True) ** (1.0 / ord)
    zero = value == 0
    safe = where(Tensor(xp.broadcast_to(zero, x.shape)), 1.0, x) if zero.any() else x
    powered = abs(safe) ** ord
    if 0 < ord < 1 and (safe.array == 0).any():     # |x|^p has an infinite slope at 0:
        at_zero = Tensor(safe.array == 0)           # PyTorch gives those entries 0
        powered = where(at_zero, 0.0, abs(where(at_zero, 1.0, safe)) ** ord)
    norm = sum(powered, dims, True) ** (1.0 / ord)
    out = where(Tensor(zero), 0.0, norm) if zero.any() else norm
    return out if keepdim or not dims else out.reshape(
        [n for i, n in enumerate(out.shape) if i not in dims])


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None, out=None):
    _check_matrix(A, "linalg.matrix_norm", square=False, floating=False)
    _check_float(A, "linalg.matrix_norm")
    if dtype is not None:
        A = A.to(dtype)
    d0, d1 = _dims(dim, A.ndim)
    if ord == "fro":
        return vector_norm(A, 2, (d0, d1), keepdim)
    if ord not in ("nuc", 2, -2, 1, -1, math.inf, -math.inf):
        raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")
    if ord in ("nuc", 2, -2):
        rest = [i for i in range(A.ndim) if i not in (d0, d1)]
        S = svdvals(A.permute(*rest, d0, d1))
        r = sum(S, -1) if ord == "nuc" else (amax(S, -1) if ord == 2 else amin(S, -1))
        if keepdim:
            for d in sorted((d0, d1)):
                r = unsqueeze(r, d)
        return r
    # 1 / -1: max / min column sum; inf / -inf: max / min row sum
    sum_dim, red_dim = (d0, d1) if ord in (1, -1) else (d1, d0)
    s = sum(abs(A), sum_dim, True)
    r = (amax if ord > 0 else amin)(s, red_dim, True)
    if not keepdim:
        r = reshape(r, tuple(n for i, n in enumerate(r.shape) if i not in (d0, d1)))
    return r


def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None, out=None):
    if dim is not None and not isinstance(dim, (int, np.integer)) and len(dim) == 1:
        dim = dim[0]
    if isinstance(dim, (int, np.integer)):
        return vector_norm(A, 2 if ord is None else ord, dim, keepdim, dtype=dtype)
    if dim is not None:
        return matrix_norm(A, "fro" if ord is None else ord, dim, keepdim, dtype=dtype)
    if ord is None:
        return vector_norm(A, 2, None, keepdim, dtype=dtype)
    if A.ndim not in (1, 2):
        raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input must be "
                           f"1D or 2D. Got {A.ndim}D.")
    if A.ndim == 1 and not isinstance(ord, str):
        return vector_norm(A, ord, None, keepdim, dtype=dtype)
    return matrix_norm(A, ord, (-2, -1), keepdim, dtype=dtype)


def cond(A, p=None, *, out=None):
    if p is None or p in (2, -2):
        S = svdvals(A)
        r = amax(S, -1) / amin(S, -1)
        return r if p != -2 else 1 / r
    return matrix_norm(A, p) * matrix_norm(inv(A), p)


def multi_dot(tensors, *, out=None):
    tensors = list(tensors)
    if len(tensors) < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {len(tensors)}")
    result = tensors[0]
    for t in tensors[1:]:
        result = matmul(result, t)
    return result


def vecdot(x, y, *, dim=-1, out=None):
    return sum(x * y, dim)


def diagonal(A, *, offset=0, dim1=-2, dim2=-1):
    from .ops import diagonal as _diagonal
    return _diagonal(A, offset, dim1, dim2)


def vander(x, *, N=None):
    """The Vandermonde matrix of ``x`` (*, n): columns x^0, x^1, ..., x^(N-1)
    (N defaults to n).  A running product (cumprod), as PyTorch computes it, so
    the gradient at x = 0 is finite."""
    from .factories import ones_like
    from .ops import cat, cumprod, expand
    n = x.shape[-1] if x.ndim else 1
    N = n if N is None else N
    if N <= 1:
        raise RuntimeError("N must be greater than 1.")
    column = unsqueeze(x, -1)
    factors = cat([ones_like(column), expand(column, tuple(column.shape[:-1]) + (N - 1,))], -1)
    return cumprod(factors, -1)


def tensorinv(A, ind=2, *, out=None):
    """The inverse of ``A`` seen as a matrix (prod(shape[:ind]), prod(shape[ind:])),
    shaped shape[ind:] + shape[:ind]: tensordot(tensorinv(A), A, ind) is the identity."""
    if ind <= 0:
        raise RuntimeError(f"Expected a strictly positive integer for 'ind', but got {ind}")
    front, back = tuple(A.shape[:ind]), tuple(A.shape[ind:])
    rows, cols = math.prod(front), math.prod(back)
    if rows != cols:
        raise RuntimeError(f"Expected self to satisfy the requirement prod(self.shape[ind:]) == "
                           f"prod(self.shape[:ind]), but got {cols} != {rows}")
    return reshape(inv(reshape(A, (rows, cols))), back + front)


def tensorsolve(A, B, dims=None, *, out=None):
    """X with tensordot(A, X, X.ndim) == B: A's leading dims are B's shape and
    its trailing dims X's (``dims``: A's dims to move to the end first)."""
    from .ops_shape_reduce import movedim
    if dims is not None:
        dims = [d % A.ndim for d in dims]
        A = movedim(A, dims, list(range(A.ndim - len(dims), A.ndim)))
    result_shape = tuple(A.shape[B.ndim:])
    rows, cols = math.prod(A.shape[:B.ndim]), math.prod(result_shape)
    if rows != cols:
        raise RuntimeError(f"Expected self to satisfy the requirement prod(self.shape[other.ndim:]) "
                           f"== prod(self.shape[:other.ndim]), but got {cols} != {rows}")
    return reshape(solve(reshape(A, (rows, cols)), reshape(B, (rows,))), result_shape)


def householder_product(A, tau, *, out=None):
    """The first n columns of H_1 H_2 ... H_k, H_i = I - tau_i v_i v_i^T, where
    v_i is column i of A below the diagonal with a 1 on it (LAPACK's orgqr: Q
    from geqrf's result).  Built from differentiable ops, one reflector at a time."""
    from .ops import narrow
    _check_matrix(A, "torch.linalg.householder_product", square=False)
    m, n = A.shape[-2:]
    k = tau.shape[-1] if tau.ndim else 1
    if m < n:
        raise RuntimeError("torch.linalg.householder_product: input.shape[-2] must be greater "
                           "than or equal to input.shape[-1]")
    if n < k:
        raise RuntimeError("torch.linalg.householder_product: input.shape[-1] must be greater "
                           "than or equal to tau.shape[-1]")
    if tau.ndim != A.ndim - 1 or tuple(tau.shape[:-1]) != tuple(A.shape[:-2]):
        raise RuntimeError(f"torch.linalg.householder_product: Expected batch dimensions of tau "
                           f"to be equal to input.shape[:-2], but got {list(tau.shape[:-1])}")
    xp = get_array_module(A.array)
    V = _tril(A, -1) + Tensor(xp.eye(m, n, dtype=A.array.dtype))   # the reflectors' vectors
    Q = Tensor(xp.eye(m, dtype=A.array.dtype))
    for i in range(k):
        v = narrow(V, -1, i, 1)                                     # (*, m, 1)
        t = unsqueeze(narrow(tau, -1, i, 1), -1)                    # (*, 1, 1)
        Q = Q - t * matmul(matmul(Q, v), transpose(v, -2, -1))
    return narrow(Q, -1, 0, n)


class _NoDerivative(Function):
    """Hands ``value`` out as the op's result; its backward raises as PyTorch's
    does for ops without a derivative (ldl_factor, ldl_solve)."""

    def forward(self, *inputs, value, op):
        self.op = op
        return value

    def backward(self, xp, gy):
        raise RuntimeError(f"derivative for aten::{self.op} is not implemented")


def _lapack(name, a):
    from scipy.linalg import lapack
    return lapack.get_lapack_funcs((name,), (a,))[0]


def _host_only(A, fname):
    if not isinstance(A.array, np.ndarray):
        raise RuntimeError(f"{fname}: runs on the CPU only (LAPACK's sytrf/sytrs); move the "
                           f"tensors there with .cpu()")


def ldl_factor_ex(A, *, hermitian=False, check_errors=False, out=None):
    """LAPACK's Bunch-Kaufman LDL^T of symmetric ``A`` (its lower triangle), as
    PyTorch returns it: the compact factor LD, LAPACK's 1-based pivots, and
    info (> 0: D has an exact zero on its diagonal)."""
    _check_matrix(A, "torch.linalg.ldl_factor_ex")
    _host_only(A, "torch.linalg.ldl_factor_ex")
    a = A.array
    batch = a.shape[:-2]
    LD = np.zeros_like(a)
    pivots = np.zeros(batch + a.shape[-1:], np.int32)
    info = np.zeros(batch, np.int32)
    sytrf = _lapack("sytrf", a)
    for idx in np.ndindex(batch):
        ld, ipiv, inf = sytrf(a[idx], lower=1)
        LD[idx], pivots[idx], info[idx] = np.tril(ld), ipiv, inf
    if check_errors and info.any():
        raise LinAlgError(f"torch.linalg.ldl_factor_ex: The factorization could not be completed "
                          f"because the input is not invertible (D[{int(info.flat[np.flatnonzero(info)[0]])}] "
                          f"is exactly zero).")
    return return_types.linalg_ldl_factor_ex((
        _NoDerivative.apply(A, value=LD, op="linalg_ldl_factor_ex"), Tensor(pivots), Tensor(info)))


def ldl_factor(A, *, hermitian=False, out=None):
    LD, pivots, info = ldl_factor_ex(A, hermitian=hermitian)
    if info.array.any():
        bad = info.array.reshape(-1)
        where = "" if A.ndim == 2 else f" (Batch element {int(np.flatnonzero(bad)[0])})"
        raise LinAlgError(f"torch.linalg.ldl_factor{where}: The factorization could not be "
                          f"completed because the input is not invertible: D[{int(bad[bad != 0][0])}] "
                          f"is exactly zero.")
    return return_types.linalg_ldl_factor((LD, pivots))


def ldl_solve(LD, pivots, B, *, hermitian=False, out=None):
    """Solve A X = B from ldl_factor's (LD, pivots), batched (LAPACK's sytrs)."""
    _check_matrix(LD, "torch.linalg.ldl_solve")
    _host_only(LD, "torch.linalg.ldl_solve")
    if B.ndim < 2:
        raise RuntimeError(f"torch.linalg.ldl_solve: Expected B to have at least 2 dimensions, "
                           f"but it has {B.ndim} dimensions instead")
    if pivots.array.dtype != np.int32:
        raise RuntimeError(f"torch.linalg.ldl_solve: Expected pivots to be integers. Got "
                           f"{scalar_type_name(pivots.array.dtype)}")
    if LD.array.dtype != B.array.dtype:
        raise RuntimeError(f"torch.linalg.ldl_solve: Expected LD and B to have the same dtype, but "
                           f"got LD with dtype {scalar_type_name(LD.array.dtype)} and B with dtype "
                           f"{scalar_type_name(B.array.dtype)} instead")
    n = LD.shape[-1]
    if B.shape[-2] != n:
        raise RuntimeError(f"torch.linalg.ldl_solve: Incompatible shapes of A and B for the equation "
                           f"AX = B ({n}x{n} and {B.shape[-2]}x{B.shape[-1]})")
    batch = np.broadcast_shapes(LD.shape[:-2], pivots.shape[:-1], B.shape[:-2])
    ld = np.broadcast_to(LD.array, batch + (n, n))
    piv = np.broadcast_to(pivots.array, batch + (n,))
    b = np.broadcast_to(B.array, batch + tuple(B.shape[-2:]))
    X = np.empty(b.shape, b.dtype)
    sytrs = _lapack("sytrs", ld)
    for idx in np.ndindex(batch):
        X[idx] = sytrs(ld[idx], piv[idx], b[idx], lower=1)[0]
    return _NoDerivative.apply(LD, B, value=X, op="linalg_ldl_solve")


def _complex_results(fname, instead):
    raise RuntimeError(f"{fname} returns complex tensors, and tinygrad_kr has no complex dtype; "
                       f"{instead}")


def eig(A, *, out=None):
    _complex_results("torch.linalg.eig", "for a symmetric matrix use torch.linalg.eigh")


def eigvals(A, *, out=None):
    _complex_results("torch.linalg.eigvals", "for a symmetric matrix use torch.linalg.eigvalsh")


# --------------------------------------------------------------------------
# the top-level functions (old API) and the Tensor methods
# --------------------------------------------------------------------------

def _logdet(input):
    sign, logabs = slogdet(input)
    return Where.apply(logabs, Tensor(np.full((), np.nan, logabs.array.dtype)),
                       cond=get_array_module(sign.array).asarray(sign.array >= 0))


def _top_slogdet(input):
    sign, logabs = slogdet(input)
    return return_types.slogdet((sign, logabs))


def _top_cholesky(input, upper=False, *, out=None):
    warnings.warn("torch.cholesky is deprecated in favor of torch.linalg.cholesky and will be "
                  "removed in a future PyTorch release.", UserWarning, stacklevel=2)
    return cholesky(input, upper=upper)


def _top_svd(input, some=True, compute_uv=True, *, out=None):
    if not compute_uv:      # zero-filled U (m, m) and V (n, n), as PyTorch
        m, n = input.shape[-2:]
        dt = input.array.dtype
        return return_types.svd((Tensor(np.zeros(input.shape[:-2] + (m, m), dt)),
                                 svdvals(input), Tensor(np.zeros(input.shape[:-2] + (n, n), dt))))
    U, S, Vh = svd(input, full_matrices=not some)
    return return_types.svd((U, S, transpose(Vh, -2, -1)))


def _top_pinverse(input, rcond=1e-15):
    return pinv(input, rtol=rcond)


def _top_cross(input, other, dim=None, *, out=None):
    if dim is None:
        warnings.warn("Using torch.cross without specifying the dim arg is deprecated.",
                      UserWarning, stacklevel=2)
        shape = np.broadcast_shapes(input.shape, other.shape)
        dim = next((i for i, n in enumerate(shape) if n == 3), -1)
    return cross(input, other, dim=dim)


def _top_cholesky_solve(B, L, upper=False):
    Lo = transpose(L, -2, -1) if upper else L
    return Solve.apply(transpose(Lo, -2, -1), Solve.apply(Lo, B))


def _top_cholesky_inverse(L, upper=False):
    Lo = transpose(L, -2, -1) if upper else L
    return inv(matmul(Lo, transpose(Lo, -2, -1)))


_TENSOR_METHODS = {
    "det": det, "logdet": _logdet, "slogdet": _top_slogdet, "inverse": inv,
    "cholesky": lambda self, upper=False: _top_cholesky(self, upper),
    "svd": _top_svd, "matrix_power": matrix_power, "matrix_exp": matrix_exp,
    "pinverse": _top_pinverse, "cholesky_solve": _top_cholesky_solve,
    "cholesky_inverse": _top_cholesky_inverse,
}
for _name, _fn in _TENSOR_METHODS.items():
    if _name not in Tensor.__dict__:
        setattr(Tensor, _name, _fn)
del _name, _fn
