"""nn.utils.parametrizations: weight_norm, spectral_norm and orthogonal,
written as parametrizations (nn.utils.parametrize), as PyTorch's.

Each is a small Module whose forward maps the stored tensor(s) to the weight
the layer sees, composed of differentiable ops; its right_inverse maps a
weight back to what is stored.  State_dict keys are PyTorch's:
``parametrizations.weight.original0`` / ``original1`` (weight_norm's g and
v), ``parametrizations.weight.original`` and ``parametrizations.weight.0._u``
/ ``._v`` (spectral_norm's power-iteration vectors),
``parametrizations.weight.original`` and ``parametrizations.weight.0.base``
(orthogonal).
"""
from enum import Enum, auto

import numpy as np

from ... import factories, linalg, ops
from ...autograd.grad_mode import no_grad
from ...backend import get_array_module
from ...tensor import Tensor
from .. import functional as F
from ..modules.module import Module
from . import parametrize
from .spectral_norm import _default_dim, _weight_matrix
from .weight_norm import _weight_norm, norm_except_dim

__all__ = ["orthogonal", "spectral_norm", "weight_norm"]


# --------------------------------------------------------------------------
# weight_norm
# --------------------------------------------------------------------------


class _WeightNorm(Module):
    """(g, v) -> v * g / ||v|| (norms over every dimension but ``dim``)."""

    def __init__(self, dim=0):
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g, weight_v):
        return _weight_norm(weight_v, weight_g, self.dim)

    def right_inverse(self, weight):
        return norm_except_dim(weight, 2, self.dim), weight


def weight_norm(module, name="weight", dim=0):
    """Store ``module.<name>`` as its magnitude g (original0: the norms over
    every dimension but ``dim``, all of it if ``dim`` is None) and direction v
    (original1), and compute it as v * g / ||v|| on each read.  Returns
    ``module``.  (PyTorch also loads old-style weight_g / weight_v keys into
    it, through a load_state_dict pre-hook this engine's Module does not
    have: rename them to parametrizations.<name>.original0 / original1.)"""
    parametrize.register_parametrization(module, name, _WeightNorm(dim), unsafe=True)
    return module


# --------------------------------------------------------------------------
# spectral_norm
# --------------------------------------------------------------------------


class _SpectralNorm(Module):
    """W -> W / sigma, sigma = u . (W v) with u, v the buffers ``_u``, ``_v``:
    the leading singular vectors of W as a (shape[dim], -1) matrix, refined
    by ``n_power_iterations`` steps of power iteration on each training-mode
    forward (15 when made).  A 1-D W is just normalized."""

    def __init__(self, weight, n_power_iterations=1, dim=0, eps=1e-12):
        super().__init__()
        ndim = weight.ndim
        if dim >= ndim or dim < -ndim:
            raise IndexError(f"Dimension out of range (expected to be in range of [-{ndim}, "
                             f"{ndim - 1}] but got {dim})")
        if n_power_iterations <= 0:
            raise ValueError(f"Expected n_power_iterations to be positive, but got "
                             f"n_power_iterations={n_power_iterations}")
        self.dim = dim if dim >= 0 else dim + ndim
        self.eps = eps
        if ndim > 1:
            self.n_power_iterations = n_power_iterations
            with no_grad():
                weight_mat = self._reshape_weight_to_matrix(weight)
                h, w = weight_mat.shape
                u = weight_mat.new_empty(h).normal_(0, 1)
                v = weight_mat.new_empty(w).normal_(0, 1)
            self.register_buffer("_u", F.normalize(u, dim=0, eps=self.eps))
            self.register_buffer("_v", F.normalize(v, dim=0, eps=self.eps))
            self._power_method(weight_mat, 15)

    def _reshape_weight_to_matrix(self, weight):
        return _weight_matrix(weight, self.dim)

    def _power_method(self, weight_mat, n_power_iterations):
        # in place and without gradient: u and v are state, not part of the graph
        with no_grad():
            for _ in range(n_power_iterations):
                self._u = F.normalize(ops.mv(weight_mat, self._v), dim=0, eps=self.eps,
                                      out=self._u)
                self._v = F.normalize(ops.mv(weight_mat.t(), self._u), dim=0, eps=self.eps,
                                      out=self._v)

    def forward(self, weight):
        if weight.ndim == 1:
            return F.normalize(weight, dim=0, eps=self.eps)
        weight_mat = self._reshape_weight_to_matrix(weight)
        if self.training:
            self._power_method(weight_mat, self.n_power_iterations)
        # copies: the next forward's in-place update must not reach this graph
        u, v = self._u.clone(), self._v.clone()
        sigma = ops.dot(u, ops.mv(weight_mat, v))
        return weight / sigma

    def right_inverse(self, value):
        return value


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """Compute ``module.<name>`` divided by its spectral norm, estimated by
    power iteration (``dim`` defaults to 1 for transposed convolutions, else
    0).  Returns ``module``."""
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    parametrize.register_parametrization(
        module, name, _SpectralNorm(weight, n_power_iterations, _default_dim(module, dim), eps))
    return module


# --------------------------------------------------------------------------
# orthogonal
# --------------------------------------------------------------------------


def _householder_product(A, tau):
    """The first k columns of H_1 ... H_k, H_i = I - tau_i v_i v_i^T, v_i the
    i-th column of A below the diagonal with a 1 on it (torch.linalg.
    householder_product for A (..., n, k)), composed of matmuls so that it
    is differentiable."""
    n, k = A.shape[-2:]
    xp = get_array_module(A.array)
    eye = Tensor(xp.eye(n, k, dtype=A.dtype))
    V = ops.tril(A, -1) + eye
    Q = ops.expand(eye, *A.shape)
    for i in range(k - 1, -1, -1):      # H_i applied to H_{i+1} ... H_k E
        v = V[..., :, i:i + 1]
        t = ops.unsqueeze(ops.unsqueeze(tau[..., i], -1), -1)
        Q = Q - ops.matmul(t * v, ops.matmul(ops.transpose(v, -2, -1), Q))
    return Q


def _geqrf(A):
    """LAPACK geqrf of A (..., n, k): R on and above the diagonal, the
    Householder vectors below it, and their scales tau (not differentiable)."""
    a = A.array
    xp = get_array_module(a)
    h, tau = xp.linalg.qr(a, mode="raw")    # h is geqrf's result transposed
    return Tensor(xp.ascontiguousarray(xp.swapaxes(h, -1, -2))), Tensor(tau)


def _is_orthogonal(Q):
    n, k = Q.shape[-2:]
    eps = 10.0 * n * float(np.finfo(Q.dtype).eps)
    eye = factories.eye(k, dtype=Q.dtype, device=Q.device)
    return bool(ops.matmul(ops.transpose(Q, -2, -1), Q).allclose(eye, atol=eps))


def _make_orthogonal(A):
    """The Q of A's QR decomposition with R's diagonal made non-negative."""
    Q, R = linalg.qr(A)
    return Q * ops.unsqueeze(ops.sign(ops.diagonal(R, 0, -2, -1)), -2)


class _OrthMaps(Enum):
    matrix_exp = auto()
    cayley = auto()
    householder = auto()


class _Orthogonal(Module):
    """X -> an orthogonal matrix (or one with orthonormal columns or rows) of
    X's shape: exp or Cayley transform of the skew-symmetric part of X's
    lower triangle, or a product of Householder reflections; with
    ``use_trivialization`` multiplied by the buffer ``base`` (the orthogonal
    matrix last assigned), so that the stored tensor starts near 0."""

    def __init__(self, weight, orthogonal_map, *, use_trivialization=True):
        super().__init__()
        self.shape = weight.shape
        self.orthogonal_map = orthogonal_map
        if use_trivialization:
            self.register_buffer("base", None)

    def forward(self, X):
        n, k = X.shape[-2:]
        transposed = n < k
        if transposed:
            X = ops.transpose(X, -2, -1)
            n, k = k, n
        if self.orthogonal_map in (_OrthMaps.matrix_exp, _OrthMaps.cayley):
            X = ops.tril(X)
            if n != k:
                zeros = factories.zeros(n, n - k, dtype=X.dtype, device=X.device)
                X = ops.cat([X, ops.expand(zeros, *X.shape[:-2], n, n - k)], -1)
            A = X - ops.transpose(X, -2, -1)       # skew-symmetric
            if self.orthogonal_map == _OrthMaps.matrix_exp:
                Q = linalg.matrix_exp(A)
            else:
                eye = factories.eye(n, dtype=A.dtype, device=A.device)
                Q = linalg.solve(eye - 0.5 * A, eye + 0.5 * A)
            if n != k:
                Q = Q[..., :k]
        else:
            A = ops.tril(X, -1)
            tau = 2.0 / (1.0 + ops.sum(A * A, -2))
            Q = _householder_product(A, tau)
            # the diagonal of X (+-1 after right_inverse) flips columns
            Q = Q * ops.unsqueeze(ops.diagonal(X, 0, -2, -1).int(), -2)
        if hasattr(self, "base"):
            Q = ops.matmul(self.base, Q)
        if transposed:
            Q = ops.transpose(Q, -2, -1)
        return Q

    def right_inverse(self, Q):
        with no_grad():
            if Q.shape != self.shape:
                raise ValueError(f"Expected a matrix or batch of matrices of shape {self.shape}. "
                                 f"Got a tensor of shape {Q.shape}.")
            Q_init = Q
            n, k = Q.shape[-2:]
            transpose = n < k
            if transpose:
                Q = ops.transpose(Q, -2, -1)
                n, k = k, n
            if not hasattr(self, "base"):
                if self.orthogonal_map in (_OrthMaps.cayley, _OrthMaps.matrix_exp):
                    raise NotImplementedError("It is not possible to assign to the matrix "
                                              "exponential or the Cayley parametrizations when "
                                              "use_trivialization=False.")
                # the reflectors of Q's QR decomposition, with R's diagonal
                # turned into the signs forward multiplies by
                A, tau = _geqrf(Q)
                a = A.array
                xp = get_array_module(a)
                diag = xp.sign(xp.diagonal(a, 0, -2, -1))
                diag = xp.where(tau.array == 0.0, -diag, diag)
                idx = xp.arange(k)
                a[..., idx, idx] = diag
                return ops.transpose(A, -2, -1) if transpose else A
            if n == k:
                Q = Q.clone() if _is_orthogonal(Q) else _make_orthogonal(Q)
            else:   # complete the columns to a square orthogonal base
                N = factories.randn(*Q.shape[:-2], n, n - k, dtype=Q.dtype, device=Q.device)
                Q = _make_orthogonal(ops.cat([Q, N], -1))
            self.base = Q
            # -I: forward maps it to the identity, so the weight is base
            neg_id = factories.zeros_like(Q_init)
            xp = get_array_module(neg_id.array)
            idx = xp.arange(min(Q_init.shape[-2:]))
            neg_id.array[..., idx, idx] = -1.0
            return neg_id


def orthogonal(module, name="weight", orthogonal_map=None, *, use_trivialization=True):
    """Keep ``module.<name>`` (a matrix or a batch of matrices) orthogonal:
    Q^T Q = I for a tall one, Q Q^T = I for a wide one.  ``orthogonal_map``:
    'matrix_exp' (default for square matrices), 'cayley', or 'householder'
    (default otherwise).  The weight's current value is kept (made
    orthogonal if it is not).  Returns ``module``."""
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    if weight.ndim < 2:
        raise ValueError(f"Expected a matrix or batch of matrices. Got a tensor of {weight.ndim} "
                         f"dimensions.")
    if orthogonal_map is None:
        orthogonal_map = "matrix_exp" if weight.shape[-2] == weight.shape[-1] else "householder"
    orth_enum = getattr(_OrthMaps, orthogonal_map, None)
    if orth_enum is None:
        raise ValueError(f'orthogonal_map has to be one of "matrix_exp", "cayley", "householder". '
                         f'Got: {orthogonal_map}')
    orth = _Orthogonal(weight, orth_enum, use_trivialization=use_trivialization)
    parametrize.register_parametrization(module, name, orth, unsafe=True)
    return module
