"""Indexing, shape, reduction and product functions (ops_shape_reduce.py),
each compared with PyTorch: values, dtypes, shapes, float64 gradients, errors."""
import warnings

import numpy as np
import pytest

import tinygrad_kr as tk
from tinygrad_kr.autograd import gradcheck, gradgradcheck
from cases import weighted_grads as _grads

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(0)
A = RNG.standard_normal((3, 4))
B = RNG.standard_normal((4, 5))
V3 = RNG.standard_normal((2, 3, 4))
I = np.array([[0, 2, 2, 1], [3, 3, 0, 1], [1, 1, 1, 2]])
NAN = np.array([[1.0, np.nan, 3.0, 0.5], [2.0, 2.0, -1.0, 4.0], [np.nan, np.nan, np.nan, 1.0]])
DUP = np.array([[1.0, 3.0, 1.0, 3.0, 2.0], [5.0, 5.0, 4.0, 4.0, 4.0]])


def _to(lib, x):
    if isinstance(x, np.ndarray):
        return lib.tensor(x)
    if isinstance(x, (list, tuple)) and x and isinstance(x[0], np.ndarray):
        return type(x)(lib.tensor(a) for a in x)
    return x


def _same(ours, theirs, name):
    if isinstance(theirs, torch.Tensor):
        assert isinstance(ours, tk.Tensor), name
        t = theirs.detach().numpy()
        o = ours.detach().numpy()
        assert o.shape == t.shape, (name, o.shape, t.shape)
        assert str(o.dtype) == str(t.dtype), (name, o.dtype, t.dtype)
        if t.dtype.kind == "f":
            np.testing.assert_allclose(o, t, rtol=1e-12, atol=1e-12, equal_nan=True,
                                       err_msg=name)
        else:
            np.testing.assert_array_equal(o, t, err_msg=name)
    elif isinstance(theirs, (tuple, list)):
        assert len(ours) == len(theirs), name
        if hasattr(theirs, "_fields"):
            assert type(ours).__name__ == type(theirs).__name__, name
        for a, b in zip(ours, theirs):
            _same(a, b, name)
    else:
        assert ours == theirs, name


# (name, function of the library, inputs as numpy arrays or values)
CASES = [
    ("nonzero", lambda L, x: L.nonzero(x), [I]),
    ("nonzero_tuple", lambda L, x: L.nonzero(x, as_tuple=True), [I]),
    ("argwhere", lambda L, x: L.argwhere(x), [A > 0]),
    ("masked_select", lambda L, x, m: L.masked_select(x, m), [A, A[0] > 0]),
    ("unique", lambda L, x: L.unique(x), [I]),
    ("unique_all", lambda L, x: L.unique(x, return_inverse=True, return_counts=True), [I]),
    ("unique_dim", lambda L, x: L.unique(x, dim=1, return_inverse=True, return_counts=True),
     [np.array([[1, 2, 1], [3, 4, 3]])]),
    ("unique_consecutive", lambda L, x: L.unique_consecutive(x, return_inverse=True,
                                                            return_counts=True),
     [np.array([1, 1, 2, 2, 3, 1, 1, 2])]),
    ("unique_consecutive_dim", lambda L, x: L.unique_consecutive(x, dim=0, return_counts=True),
     [np.array([[1, 2], [1, 2], [3, 4], [1, 2]])]),
    ("bincount", lambda L, x: L.bincount(x), [np.array([0, 3, 3, 1, 7])]),
    ("bincount_w", lambda L, x, w: L.bincount(x, w, minlength=10),
     [np.array([0, 3, 3, 1]), np.array([0.5, 1.0, 2.0, 3.0], np.float32)]),
    ("histc", lambda L, x: L.histc(x, bins=5), [A.astype(np.float32)]),
    ("histc_range", lambda L, x: L.histc(x, bins=4, min=-1, max=1), [A]),
    ("searchsorted", lambda L, s, v: L.searchsorted(s, v), [np.array([1., 3, 5, 7]),
                                                          np.array([[3., 6, 9], [0, 1, 7]])]),
    ("searchsorted_right", lambda L, s, v: L.searchsorted(s, v, right=True),
     [np.array([1., 3, 5, 7]), np.array([3., 6, 7])]),
    ("searchsorted_side", lambda L, s, v: L.searchsorted(s, v, side="right", out_int32=True),
     [np.array([[1., 3, 5], [2, 4, 6]]), np.array([[3., 5], [1, 6]])]),
    # batched with an empty boundary row, or no values per row (a ValueError before)
    ("searchsorted_empty_rows", lambda L, s, v: L.searchsorted(s, v),
     [np.zeros((2, 0)), np.array([[3., 6, 9], [0, 1, 7]])]),
    ("searchsorted_no_values", lambda L, s, v: L.searchsorted(s, v, right=True),
     [np.array([[1., 3, 5], [2, 4, 6]]), np.zeros((2, 0))]),
    ("searchsorted_3d_empty", lambda L, s, v: L.searchsorted(s, v),
     [np.zeros((2, 2, 0)), np.ones((2, 2, 1))]),
    ("bucketize", lambda L, v, b: L.bucketize(v, b, right=True),
     [np.array([[1., 4, 7]]), np.array([1., 4, 9])]),
    ("median", lambda L, x: L.median(x), [DUP]),
    ("median_even", lambda L, x: L.median(x), [A]),
    ("median_dim", lambda L, x: L.median(x, 1).values, [A]),
    ("median_nan", lambda L, x: L.median(x, 1, keepdim=True).values, [NAN]),
    ("nanmedian", lambda L, x: L.nanmedian(x, 1).values, [NAN]),
    ("nanmedian_all", lambda L, x: L.nanmedian(x), [NAN]),
    ("mode", lambda L, x: L.mode(x, 1), [DUP]),
    ("mode0", lambda L, x: L.mode(x, 0, keepdim=True), [I]),
    ("mode_nan", lambda L, x: L.mode(x), [np.array([1.0, np.nan, np.nan, 2.0])]),
    ("kthvalue", lambda L, x: L.kthvalue(x, 2, 1), [A]),
    ("kthvalue_keep", lambda L, x: L.kthvalue(x, 3, 0, True), [B]),
    ("quantile", lambda L, x: L.quantile(x, 0.3), [A]),
    ("quantile_dim", lambda L, x, q: L.quantile(x, q, dim=1, keepdim=True),
     [A, np.array([0.0, 0.25, 0.5, 0.9, 1.0])]),
    ("quantile_nan", lambda L, x: L.quantile(x, 0.5, dim=1), [NAN]),
    ("nanquantile", lambda L, x, q: L.nanquantile(x, q, dim=1), [NAN, np.array([0.1, 0.7])]),
    ("nanquantile_all", lambda L, x: L.nanquantile(x, 0.4), [NAN]),
    ("quantile_f32", lambda L, x: L.quantile(x, 0.37, dim=0), [A.astype(np.float32)]),
    ("nansum", lambda L, x: L.nansum(x, 1), [NAN]),
    ("nansum_all", lambda L, x: L.nansum(x), [NAN]),
    ("nanmean", lambda L, x: L.nanmean(x, 0, keepdim=True), [NAN]),
    ("std_mean", lambda L, x: L.std_mean(x, 1), [A]),
    ("var_mean", lambda L, x: L.var_mean(x, 0, correction=0), [A]),
    ("count_nonzero", lambda L, x: L.count_nonzero(x, 1), [I]),
    ("count_nonzero_all", lambda L, x: L.count_nonzero(x), [I]),
    ("cummax", lambda L, x: L.cummax(x, 1), [DUP]),
    ("cummin", lambda L, x: L.cummin(x, 0), [A]),
    ("cummax_nan", lambda L, x: L.cummax(x, 1), [NAN]),
    ("cummin_int", lambda L, x: L.cummin(x, 1), [I]),
    ("logcumsumexp", lambda L, x: L.logcumsumexp(x, 1), [A]),
    ("logcumsumexp_wide", lambda L, x: L.logcumsumexp(x, 0), [np.array([-1000.0, 0.0, 5.0])]),
    ("diff", lambda L, x: L.diff(x), [A]),
    ("diff_n", lambda L, x, p: L.diff(x, n=2, dim=0, prepend=p), [A, A[:1]]),
    ("diff_bool", lambda L, x: L.diff(x), [A > 0]),
    ("take", lambda L, x, i: L.take(x, i), [A, np.array([[0, 11], [-1, 3]])]),
    ("take_along_dim", lambda L, x, i: L.take_along_dim(x, i, 1), [A, I[:, :2] % 4]),
    ("take_along_dim_none", lambda L, x, i: L.take_along_dim(x, i), [A, np.array([1, 5])]),
    ("take_along_dim_bcast", lambda L, x, i: L.take_along_dim(x, i, 1),
     [A, np.array([[0, 3]])]),
    ("scatter_add", lambda L, x, i, s: L.scatter_add(x, 1, i, s), [A, I[:, :3] % 4, B[:3, :3]]),
    ("scatter_add_bigger_src", lambda L, x, i, s: L.scatter_add(x, 1, i, s).detach(),
     [A, I[:, :3] % 4, B[:3]]),
    ("scatter_reduce_sum", lambda L, x, i, s: L.scatter_reduce(x, 1, i, s, "sum",
                                                               include_self=False),
     [A, I % 4, B[:3, :4]]),
    ("scatter_reduce_mean", lambda L, x, i, s: L.scatter_reduce(x, 1, i, s, "mean"),
     [A, I % 4, B[:3, :4]]),
    ("scatter_reduce_mean_excl", lambda L, x, i, s: L.scatter_reduce(x, 1, i, s, "mean",
                                                                     include_self=False),
     [A, I % 4, B[:3, :4]]),
    ("scatter_reduce_amax", lambda L, x, i, s: L.scatter_reduce(x, 0, i, s, "amax"),
     [A, I % 3, B[:3, :4]]),
    ("scatter_reduce_amin_excl", lambda L, x, i, s: L.scatter_reduce(x, 0, i, s, "amin",
                                                                     include_self=False),
     [A, I % 3, B[:3, :4]]),
    ("scatter_reduce_prod", lambda L, x, i, s: L.scatter_reduce(x, 1, i, s, "prod"),
     [A, I % 4, B[:3, :4]]),
    ("scatter_reduce_prod_excl", lambda L, x, i, s: L.scatter_reduce(x, 1, i, s, "prod",
                                                                     include_self=False),
     [A, I % 4, B[:3, :4]]),
    ("scatter_reduce_amin", lambda L, x, i, s: L.scatter_reduce(x, -1, i, s, "amin"),
     [A, I % 4, B[:3, :4]]),
    ("scatter_reduce_amax_excl", lambda L, x, i, s: L.scatter_reduce(x, 1, i, s, "amax",
                                                                     include_self=False),
     [A, I % 4, B[:3, :4]]),
    ("scatter_reduce_int", lambda L, x, i, s: L.scatter_reduce(x, 1, i, s, "prod"),
     [I, I % 4, I + 1]),
    ("index_reduce_prod", lambda L, x, s: L.index_reduce(x, 1, L.tensor([0, 2, 2]), s, "prod"),
     [A, B[:3, :3]]),
    ("index_reduce_mean", lambda L, x, s: x.index_reduce(0, L.tensor([1, 1, 0, 1]), s, "mean"),
     [A, B[:4, :4]]),
    ("index_reduce_amax_excl", lambda L, x, s: L.index_reduce(x, -1, L.tensor([3, 0, 3]), s,
                                                              "amax", include_self=False),
     [A, B[:3, :3]]),
    ("index_reduce_amin_int", lambda L, x, s: L.index_reduce(x, 0, L.tensor([2, 2]), s, "amin"),
     [I, I[:2] - 1]),
    ("repeat_interleave", lambda L, x: L.repeat_interleave(x, 2), [A]),
    ("repeat_interleave_dim", lambda L, x, r: L.repeat_interleave(x, r, dim=0),
     [A, np.array([1, 0, 3])]),
    ("repeat_interleave_only", lambda L, r: L.repeat_interleave(r), [np.array([2, 0, 1])]),
    ("tile", lambda L, x: L.tile(x, (2,)), [A]),
    ("tile3", lambda L, x: L.tile(x, (2, 1, 2)), [A]),
    ("tile_int", lambda L, x: x.tile(2), [A]),
    ("hstack", lambda L, a, b: L.hstack([a, b]), [A, A[:, :2]]),
    ("hstack1", lambda L, a, b: L.hstack((a, b)), [A[0], B[0]]),
    ("vstack", lambda L, a, b: L.vstack([a, b]), [A, A[0]]),
    ("dstack", lambda L, a, b: L.dstack([a, b]), [A, A]),
    ("column_stack", lambda L, a, b: L.column_stack([a, b]), [A[:, 0], A]),
    ("hsplit", lambda L, x: L.hsplit(x, 2), [A]),
    ("hsplit_idx", lambda L, x: L.hsplit(x, [1, 3]), [A]),
    ("vsplit", lambda L, x: L.vsplit(x, [1]), [A]),
    ("dsplit", lambda L, x: L.dsplit(x, 2), [V3]),
    ("tensor_split", lambda L, x: L.tensor_split(x, 3, dim=1), [A]),
    ("movedim", lambda L, x: L.movedim(x, 0, -1), [V3]),
    ("movedim_multi", lambda L, x: L.movedim(x, (0, 1), (2, 0)), [V3]),
    ("moveaxis", lambda L, x: L.moveaxis(x, -1, 0), [V3]),
    ("swapdims", lambda L, x: L.swapdims(x, 0, 2), [V3]),
    ("ravel", lambda L, x: L.ravel(x), [V3]),
    ("unflatten", lambda L, x: L.unflatten(x, 1, (2, -1)), [A]),
    ("select", lambda L, x: L.select(x, 1, -1), [V3]),
    ("meshgrid", lambda L, a, b: L.meshgrid(a, b, indexing="ij"), [A[0], B[0]]),
    ("meshgrid_xy", lambda L, a, b, c: L.meshgrid([a, b, c], indexing="xy"),
     [A[0], B[0], A[1, :2]]),
    ("cartesian_prod", lambda L, a, b: L.cartesian_prod(a, b), [A[0, :2], B[0, :3]]),
    ("combinations", lambda L, x: L.combinations(x), [A[0]]),
    ("combinations_r", lambda L, x: L.combinations(x, 3, with_replacement=True), [A[0, :3]]),
    ("tril_indices", lambda L: L.tril_indices(3, 4, 1), []),
    ("triu_indices", lambda L: L.triu_indices(4, 3, -1), []),
    ("block_diag", lambda L, a, b, c: L.block_diag(a, b, c), [A, B[0], np.array(2.0)]),
    ("broadcast_tensors", lambda L, a, b: L.broadcast_tensors(a, b), [A[:, :1], B[0, :4]]),
    ("diag_embed", lambda L, x: L.diag_embed(x), [A]),
    ("diag_embed_off", lambda L, x: L.diag_embed(x, 1, 0, 2), [A]),
    ("diagflat", lambda L, x: L.diagflat(x, -2), [A[:2, :2]]),
    ("vander", lambda L, x: L.vander(x), [A[0]]),
    ("vander_inc", lambda L, x: L.vander(x, N=3, increasing=True), [np.array([1, 2, 3])]),
    ("kron", lambda L, a, b: L.kron(a, b), [A[:2, :3], B[:2]]),
    ("kron_nd", lambda L, a, b: L.kron(a, b), [V3, B[0, :2]]),
    ("tensordot", lambda L, a, b: L.tensordot(a, b, 1), [A, B]),
    ("tensordot_dims", lambda L, a, b: L.tensordot(a, b, ([1, 0], [0, 1])), [V3, A[:, :2]]),
    ("tensordot_0", lambda L, a, b: L.tensordot(a, b, 0), [A[0], B[0]]),
    ("inner", lambda L, a, b: L.inner(a, b), [A, V3]),
    ("vdot", lambda L, a, b: L.vdot(a, b), [A[0], A[1]]),
    ("addmm", lambda L, c, a, b: L.addmm(c, a, b, beta=0.5, alpha=2), [B[0], A, B]),
    ("addmm_beta0", lambda L, c, a, b: L.addmm(c, a, b, beta=0), [np.full((3, 5), np.nan), A, B]),
    ("addmv", lambda L, c, a, b: L.addmv(c, a, b), [A[:, 0], A, B[:, 0]]),
    ("addr", lambda L, c, a, b: L.addr(c, a, b, alpha=3), [A, A[:, 0], B[:, 0]]),
    ("baddbmm", lambda L, c, a, b: L.baddbmm(c, a, b, alpha=0.5),
     [V3, V3[:, :, :3], V3[:, :3]]),
    ("addbmm", lambda L, c, a, b: L.addbmm(c, a, b), [A, V3[:, :, :3], V3[:, :3]]),
    ("addcmul", lambda L, c, a, b: L.addcmul(c, a, b, value=0.3), [A, A, B[:3, :4]]),
    ("addcdiv", lambda L, c, a, b: L.addcdiv(c, a, b, value=2), [A, A, B[:3, :4]]),
    ("chain_matmul", lambda L, a, b, c: L.chain_matmul(a, b, c), [A, B, B.T]),
    ("cdist", lambda L, a, b: L.cdist(a, b), [A, B[:, :4]]),
    ("cdist_p1", lambda L, a, b: L.cdist(a, b, p=1), [A, B[:, :4]]),
    ("cdist_p3", lambda L, a, b: L.cdist(a, b, p=3), [V3, V3]),
    ("cdist_inf", lambda L, a, b: L.cdist(a, b, p=float("inf")), [A, B[:, :4]]),
    ("cdist_p0", lambda L, a, b: L.cdist(a, b, p=0), [A, A]),
    ("pdist", lambda L, a: L.pdist(a), [A]),
    ("pdist_p1", lambda L, a: L.pdist(a, p=1.5), [A]),
    ("dist", lambda L, a, b: L.dist(a, b), [A, B[:3, :4]]),
    ("dist_p", lambda L, a, b: L.dist(a, b, 3), [A, B[:3, :4]]),
    ("cross", lambda L, a, b: L.cross(a, b, dim=1), [B[:, :3], A[:, :3].T[:, [1, 2, 0]]
                                                     if False else B[:, 1:4]]),
    ("linalg_cross_default", lambda L, a, b: L.cross(a, b, dim=0), [A[:, :2], B[1:4, :2]]),
    ("cov", lambda L, x: L.cov(x), [A]),
    ("cov_w", lambda L, x, f, a: L.cov(x, correction=0, fweights=f, aweights=a),
     [A, np.array([1, 2, 1, 3]), np.array([0.5, 1.0, 2.0, 0.3])]),
    ("cov_1d", lambda L, x: L.cov(x), [A[0]]),
    ("trapezoid", lambda L, y: L.trapezoid(y), [A]),
    ("trapezoid_dx", lambda L, y: L.trapezoid(y, dx=0.5, dim=0), [A]),
    ("trapezoid_x", lambda L, y, x: L.trapezoid(y, x), [A, np.array([0.0, 0.5, 2.0, 2.5])]),
    ("trapz", lambda L, y, x: L.trapz(y, x, dim=0), [A, np.array([0.0, 1.0, 1.5])]),
    ("renorm", lambda L, x: L.renorm(x, 2, 0, 1.0), [A]),
    ("renorm_p1", lambda L, x: L.renorm(x, 1, 1, 1.5), [A]),
    ("atleast_3d", lambda L, x: L.atleast_3d(x), [A]),
]


@pytest.mark.parametrize("name,fn,args", CASES, ids=[c[0] for c in CASES])
def test_matches_torch(name, fn, args):
    ours = fn(tk, *_to(tk, args))
    theirs = fn(torch, *_to(torch, args))
    _same(ours, theirs, name)


GRAD_SKIP = {"nanmedian_all", "median_nan", "quantile_nan", "cummax_nan", "nansum", "nansum_all",
             "nanmean", "nanquantile", "nanquantile_all", "nanmedian", "median", "cdist_p0",
             "mode", "cummax", "vander"}   # vander: torch's own backward fails


@pytest.mark.parametrize("name,fn,args", [c for c in CASES if c[0] not in GRAD_SKIP],
                         ids=[c[0] for c in CASES if c[0] not in GRAD_SKIP])
def test_gradients_match_torch(name, fn, args):
    ours = _grads(tk, fn, args)
    theirs = _grads(torch, fn, args)
    if theirs is None:
        return
    assert ours is not None, name
    for o, t in zip(ours, theirs):
        if t is None:
            continue
        np.testing.assert_allclose(o.numpy(), t.numpy(), rtol=1e-10, atol=1e-12, err_msg=name)


def test_gradients_with_ties_and_nans_match_torch():
    # median/mode/cummax with ties: the gradient goes to torch's index
    x = np.array([[1.0, 3.0, 1.0, 2.0], [5.0, 4.0, 6.0, 0.5]])
    for fn in (lambda L, t: L.median(t, 1).values, lambda L, t: L.cummax(t, 1).values,
               lambda L, t: L.nansum(t), lambda L, t: L.nanmean(t, 1),
               lambda L, t: L.nanquantile(t, 0.3, dim=1), lambda L, t: L.median(t)):
        ours, theirs = _grads(tk, fn, [x]), _grads(torch, fn, [x])
        np.testing.assert_allclose(ours[0].numpy(), theirs[0].numpy(), rtol=1e-12)
    ours, theirs = _grads(tk, lambda L, t: L.nansum(t, 1), [NAN]), \
        _grads(torch, lambda L, t: L.nansum(t, 1), [NAN])
    np.testing.assert_array_equal(ours[0].numpy(), theirs[0].numpy())


def test_indices_pick_the_values():
    """Where torch leaves the index among ties unspecified, ours must still point at the value."""
    x = tk.tensor(DUP)
    for r in (tk.median(x, 1), tk.kthvalue(x, 2, 1), tk.mode(x, 1), tk.nanmedian(x, 1)):
        np.testing.assert_array_equal(x.gather(1, r.indices.unsqueeze(1)).squeeze(1).numpy(),
                                      r.values.numpy())


@pytest.mark.parametrize("interp", ["linear", "lower", "higher", "midpoint", "nearest"])
def test_quantile_interpolations(interp):
    x = RNG.standard_normal((5, 7))
    q = np.array([0.0, 0.1, 0.25, 0.5, 0.75, 0.99, 1.0])
    for dt in (np.float64, np.float32):
        ours = tk.quantile(tk.tensor(x.astype(dt)), tk.tensor(q.astype(dt)), dim=1,
                           interpolation=interp)
        theirs = torch.quantile(torch.tensor(x.astype(dt)), torch.tensor(q.astype(dt)), dim=1,
                                interpolation=interp)
        _same(ours, theirs, interp)
    ours = tk.nanquantile(tk.tensor(NAN), 0.5, interpolation=interp, keepdim=True)
    theirs = torch.nanquantile(torch.tensor(NAN), 0.5, interpolation=interp, keepdim=True)
    _same(ours, theirs, interp)


def test_tensor_methods():
    x, t = tk.tensor(A), torch.tensor(A)
    _same(x.median(), t.median(), "median")
    _same(x.cummax(0), t.cummax(0), "cummax")
    _same(x.movedim(0, 1), t.movedim(0, 1), "movedim")
    _same(x.tile((2, 1)), t.tile((2, 1)), "tile")
    _same(x.repeat_interleave(2, 1), t.repeat_interleave(2, 1), "repeat_interleave")
    _same(x.quantile(0.25, 1), t.quantile(0.25, 1), "quantile")
    _same(x.nonzero(), t.nonzero(), "nonzero")
    _same(x.unflatten(1, (2, 2)), t.unflatten(1, (2, 2)), "unflatten")
    _same(x.addmm(x, tk.tensor(np.eye(4))), t.addmm(t, torch.eye(4, dtype=torch.float64)), "addmm")
    i = tk.tensor(I % 3)
    y = tk.zeros(3, 4, dtype=tk.float64)
    y.scatter_add_(0, i, x)
    z = torch.zeros(3, 4, dtype=torch.float64)
    z.scatter_add_(0, torch.tensor(I % 3), t)
    _same(y, z, "scatter_add_")
    c = tk.tensor(A.copy())
    c.addcmul_(x, x, value=2)
    _same(c, t + 2 * t * t, "addcmul_")


def test_pickle_of_named_results():
    import pickle
    r = pickle.loads(pickle.dumps(tk.median(tk.tensor(A), 1)))
    assert type(r).__name__ == "median" and isinstance(r.values, tk.Tensor)
    assert repr(r).startswith("tinygrad_kr.return_types.median(")


def test_logcumsumexp_function_gradcheck():
    x = tk.tensor(RNG.standard_normal((3, 4)), requires_grad=True)
    assert gradcheck(lambda t: tk.logcumsumexp(t, 1), (x,))
    assert gradgradcheck(lambda t: tk.logcumsumexp(t, 0), (x,))


def test_composed_ops_gradcheck():
    x = tk.tensor(RNG.standard_normal((3, 4)), requires_grad=True)
    y = tk.tensor(RNG.standard_normal((5, 4)), requires_grad=True)
    assert gradcheck(lambda a: tk.quantile(a, 0.3, dim=1), (x,))
    assert gradcheck(lambda a, b: tk.cdist(a, b), (x, y))
    assert gradcheck(lambda a: tk.pdist(a, 3), (x,))
    assert gradcheck(lambda a: tk.cummin(a, 1).values, (x,))
    assert gradgradcheck(lambda a, b: tk.cdist(a, b), (x, y))
    assert gradgradcheck(lambda a: tk.kron(a, a[:2, :2]), (x,))
    assert gradcheck(lambda a: tk.vander(a[0]), (x,))
    assert gradcheck(lambda a: tk.median(a, 1).values, (x,))
    assert gradcheck(lambda a: tk.nanquantile(a, 0.6, dim=0, interpolation="midpoint"), (x,))
    assert gradcheck(lambda a: tk.diag_embed(a, -1, 0, 2), (x,))
    assert gradcheck(lambda a: tk.block_diag(a, a[0]), (x,))
    assert gradcheck(lambda a: tk.repeat_interleave(a, tk.tensor([2, 0, 1]), 0), (x,))
    assert gradcheck(lambda a, b: tk.scatter_add(a, 0, tk.tensor([[0, 2, 2, 1]]), b[:1]), (x, y))
    assert gradcheck(lambda a: tk.renorm(a, 2, 0, 1.0), (x,))
    assert gradcheck(lambda a: tk.logcumsumexp(a, 0), (tk.tensor([-800.0, 0.0, 3.0], dtype=tk.float64,
                                                                 requires_grad=True),))


def test_quantile_gradient_to_q_matches_torch():
    x = RNG.standard_normal((3, 6))
    q = np.array([0.2, 0.55])
    grads = []
    for L in (tk, torch):
        xt, qt = L.tensor(x, requires_grad=True), L.tensor(q, requires_grad=True)
        (L.quantile(xt, qt, dim=1) * L.tensor([[1.0], [2.0]])).sum().backward()
        grads.append((xt.grad.numpy(), qt.grad.numpy()))
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_cdist_gradient_at_zero_distance_is_zero_like_torch():
    x = np.array([[1.0, 2.0], [1.0, 2.0]])
    fn = lambda L, a: L.cdist(a, a)     # noqa: E731
    np.testing.assert_allclose(_grads(tk, fn, [x])[0].numpy(), _grads(torch, fn, [x])[0].numpy())


ERRORS = [
    ("bincount_neg", lambda L: L.bincount(L.tensor([1, -1]))),
    ("bincount_2d", lambda L: L.bincount(L.tensor([[1]]))),
    ("kthvalue_k", lambda L: L.kthvalue(L.tensor([1.0, 2.0]), 3)),
    ("kthvalue_empty_dim", lambda L: L.kthvalue(L.zeros(3, 0), 1)),    # IndexError, first
    ("quantile_q", lambda L: L.quantile(L.tensor([1.0, 2.0]), 1.5)),
    ("quantile_int", lambda L: L.quantile(L.tensor([1, 2]), 0.5)),
    ("quantile_empty", lambda L: L.quantile(L.tensor([]), 0.5)),
    ("quantile_interp", lambda L: L.quantile(L.tensor([1.0]), 0.5, interpolation="foo")),
    ("hsplit_div", lambda L: L.hsplit(L.zeros(2, 5), 2)),
    ("vsplit_1d", lambda L: L.vsplit(L.zeros(4), 2)),
    ("movedim_len", lambda L: L.movedim(L.zeros(2, 3), (0, 1), (1,))),
    ("tensordot_mismatch", lambda L: L.tensordot(L.zeros(2, 3), L.zeros(4, 2), 1)),
    ("vdot_2d", lambda L: L.vdot(L.zeros(2, 2), L.zeros(2))),
    ("cdist_cols", lambda L: L.cdist(L.zeros(2, 3), L.zeros(2, 4))),
    ("cross_len", lambda L: L.cross(L.zeros(2, 4), L.zeros(2, 4), dim=1)),
    ("masked_select_mask", lambda L: L.masked_select(L.zeros(2), L.tensor([1, 0]))),
    ("searchsorted_side", lambda L: L.searchsorted(L.zeros(3), L.zeros(2), side="middle")),
    ("repeat_interleave_neg", lambda L: L.repeat_interleave(L.zeros(2), L.tensor([1, -1]))),
    ("meshgrid_2d", lambda L: L.meshgrid(L.zeros(2, 2), L.zeros(2), indexing="ij")),
    ("median_empty_dim", lambda L: L.median(L.zeros(2, 0), 1)),
    ("diff_0d", lambda L: L.diff(L.tensor(1.0))),
    ("unflatten_bad", lambda L: L.unflatten(L.zeros(2, 6), 1, (4, 2))),
    ("cov_3d", lambda L: L.cov(L.zeros(2, 2, 2))),
    ("renorm_1d", lambda L: L.renorm(L.zeros(3), 2, 0, 1.0)),
    ("block_diag_3d", lambda L: L.block_diag(L.zeros(1, 1, 1))),
    ("addmm_shape", lambda L: L.addmm(L.zeros(2, 2), L.zeros(2), L.zeros(2, 2))),
    ("take_range", lambda L: L.take(L.zeros(2, 2), L.tensor([4]))),
    ("select_range", lambda L: L.select(L.zeros(2, 2), 1, 2)),
    ("logcumsumexp_int", lambda L: L.logcumsumexp(L.tensor([1, 2]), 0)),
    ("nanmean_int", lambda L: L.nanmean(L.tensor([1, 2]))),
    ("scatter_reduce_reduce", lambda L: L.scatter_reduce(L.zeros(2), 0, L.tensor([0]),
                                                         L.zeros(1), "max_")),
    ("scatter_reduce_dtype", lambda L: L.scatter_reduce(L.zeros(2), 0, L.tensor([0]),
                                                        L.zeros(1, dtype=L.float64), "prod")),
    ("scatter_reduce_index_dtype", lambda L: L.scatter_reduce(L.zeros(2), 0, L.tensor([0.0]),
                                                              L.zeros(1), "amax")),
    ("scatter_reduce_index_ndim", lambda L: L.scatter_reduce(L.zeros(2, 2), 0, L.tensor([0]),
                                                             L.zeros(2, 2), "amax")),
    ("scatter_reduce_src_ndim", lambda L: L.scatter_reduce(L.zeros(2, 2), 0, L.tensor([[0]]),
                                                           L.zeros(2, 2, 1), "amin")),
    ("scatter_reduce_index_big", lambda L: L.scatter_reduce(
        L.zeros(2, 3), 1, L.zeros((2, 4), dtype=L.int64), L.zeros(2, 3), "prod")),
    ("scatter_reduce_index_vs_src", lambda L: L.scatter_reduce(
        L.zeros(2, 3), 1, L.zeros((3, 1), dtype=L.int64), L.zeros(4, 3), "mean")),
    ("scatter_reduce_range", lambda L: L.scatter_reduce(L.zeros(2), 0, L.tensor([2]),
                                                        L.zeros(1), "amin")),
    ("scatter_reduce_dim", lambda L: L.scatter_reduce(L.zeros(2), 1, L.tensor([0]),
                                                      L.zeros(1), "amin")),
    ("index_reduce_sum", lambda L: L.index_reduce(L.zeros(2), 0, L.tensor([0]), L.zeros(1),
                                                  "sum")),
    ("index_reduce_index_2d", lambda L: L.index_reduce(L.zeros(2), 0, L.tensor([[0]]),
                                                       L.zeros(1), "prod")),
    ("index_reduce_index_float", lambda L: L.index_reduce(L.zeros(2), 0, L.tensor([0.0]),
                                                          L.zeros(1), "prod")),
    ("index_reduce_dtype", lambda L: L.index_reduce(L.zeros(2), 0, L.tensor([0]),
                                                    L.zeros(1, dtype=L.float64), "prod")),
    ("index_reduce_count", lambda L: L.index_reduce(L.zeros(2, 3), 1, L.tensor([0, 1]),
                                                    L.zeros(2, 3), "amax")),
    ("index_reduce_shape", lambda L: L.index_reduce(L.zeros(2, 3), 1, L.tensor([0, 1]),
                                                    L.zeros(3, 2), "amax")),
    ("index_reduce_0d_source", lambda L: L.index_reduce(L.zeros(2), 0, L.tensor(1),
                                                        L.tensor(5.0), "amax")),
    ("index_reduce_range", lambda L: L.index_reduce(L.zeros(2), 0, L.tensor([2]), L.zeros(1),
                                                    "mean")),
    ("index_reduce_negative", lambda L: L.index_reduce(L.zeros(2), 0, L.tensor([-1]),
                                                       L.zeros(1), "mean")),
    ("index_reduce_dim", lambda L: L.index_reduce(L.zeros(2), 1, L.tensor([0]), L.zeros(1),
                                                  "amin")),
    ("index_reduce_source_number", lambda L: L.index_reduce(L.zeros(2), 0, L.tensor([0]), 1.0,
                                                            "amin")),
]


@pytest.mark.parametrize("name,fn", ERRORS, ids=[e[0] for e in ERRORS])
def test_errors_as_torch(name, fn):
    with pytest.raises(Exception) as theirs:
        fn(torch)
    with pytest.raises(Exception) as ours:
        fn(tk)
    assert isinstance(ours.value, type(theirs.value)) or \
        type(ours.value).__name__ == type(theirs.value).__name__, \
        (name, repr(ours.value), repr(theirs.value))


def test_review_fixes_match_torch():
    """cummax/cummin on ties and NaN (vectorised), logcumsumexp at extreme
    values and its O(n) backward on a long row, cdist's matrix-product path
    beyond 25 rows, unique keeping each NaN."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    for trial in range(60):
        shape = [(7,), (3, 6), (4, 3, 5)][trial % 3]
        a = rng.integers(0, 4, shape).astype(float)
        if trial % 4 == 0:
            a.flat[rng.integers(0, a.size)] = np.nan
        dim = trial % len(shape)
        for name in ("cummax", "cummin"):
            ours, theirs = getattr(tk, name)(tk.tensor(a), dim), getattr(torch, name)(
                torch.tensor(a), dim)
            np.testing.assert_array_equal(ours.values.numpy(), theirs.values.numpy())
            np.testing.assert_array_equal(ours.indices.numpy(), theirs.indices.numpy())
    a = np.array([-1000.0, 0.0, -800.0, 5.0])
    x, t = tk.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    tk.logcumsumexp(x, 0).sum().backward()
    torch.logcumsumexp(t, 0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-12)
    long = tk.tensor(rng.standard_normal(20000), requires_grad=True)   # no n x n table
    tk.logcumsumexp(long, 0).sum().backward()
    assert np.isfinite(long.grad.numpy()).all()
    p, r = rng.standard_normal((2, 30, 6)), rng.standard_normal((2, 40, 6))
    x, y = tk.tensor(p, requires_grad=True), tk.tensor(r, requires_grad=True)
    t, u = torch.tensor(p, requires_grad=True), torch.tensor(r, requires_grad=True)
    d, td = tk.cdist(x, y), torch.cdist(t, u)
    np.testing.assert_allclose(d.detach().numpy(), td.detach().numpy(), rtol=1e-9)
    g = rng.standard_normal(tuple(td.shape))
    d.backward(tk.tensor(g))
    td.backward(torch.tensor(g))
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-8, atol=1e-10)
    values, counts = tk.unique(tk.tensor([1.0, np.nan, np.nan]), return_counts=True)
    assert counts.tolist() == [1, 1, 1]


# --------------------------------------------------------------------------
# scatter_reduce / index_reduce: values and gradients against PyTorch
# --------------------------------------------------------------------------

REDUCES = ("sum", "prod", "mean", "amax", "amin")
# (self shape, dim, index shape): several dims, index narrower than self, repeats
SCATTER_LAYOUTS = [((5,), 0, (8,)), ((3, 4), 0, (6, 4)), ((3, 4), 1, (2, 7)),
                   ((2, 3, 4), -1, (2, 3, 6)), ((2, 3, 4), 1, (1, 5, 2)), ((4, 3), 0, (0, 3))]


def _values(rng, shape, kind, dtype):
    """'normal': no ties, no zeros; 'ties': small integers (ties, zeros, two
    zeros in a group); 'zeros': normal values with about a third zeros."""
    if kind == "normal":
        x = rng.standard_normal(shape)
    elif kind == "ties":
        x = rng.integers(-2, 3, shape).astype(float)
    else:
        x = np.where(rng.random(shape) < 0.35, 0.0, rng.standard_normal(shape))
    return x.astype(dtype)


def _reduce_run(lib, fn, x, src, weight):
    """fn's output and the gradients of (output * weight).sum() to x and src."""
    xt = lib.tensor(x, requires_grad=True)
    st = lib.tensor(src, requires_grad=True)
    y = fn(lib, xt, st)
    (y * lib.tensor(weight)).sum().backward()
    return [t.detach().numpy() for t in (y, xt.grad, st.grad)]


def _assert_reduce_matches(fn, x, src, weight, name):
    ours, theirs = _reduce_run(tk, fn, x, src, weight), _reduce_run(torch, fn, x, src, weight)
    # products of many entries may round differently (their order differs)
    tol = 1e-12 if x.dtype == np.float64 else 1e-5
    for o, t, what in zip(ours, theirs, ("value", "grad self", "grad src")):
        assert o.shape == t.shape and o.dtype == t.dtype, (name, what, o.shape, t.shape)
        np.testing.assert_allclose(o, t, rtol=tol, atol=tol, equal_nan=True,
                                   err_msg=f"{name}: {what}")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("reduce", REDUCES)
def test_scatter_reduce_values_and_gradients_match_torch(reduce, include_self, dtype):
    rng = np.random.default_rng(11)
    for shape, dim, ishape in SCATTER_LAYOUTS:
        for kind in ("normal", "ties", "zeros"):
            for trial in range(3):
                idx = rng.integers(0, shape[dim], ishape)
                x, src = _values(rng, shape, kind, dtype), _values(rng, ishape, kind, dtype)
                weight = rng.standard_normal(shape).astype(dtype)
                fn = (lambda L, a, b: L.scatter_reduce(a, dim, L.tensor(idx), b,  # noqa: B023
                                                       reduce, include_self=include_self))
                _assert_reduce_matches(fn, x, src, weight, (reduce, shape, dim, kind, trial))


@pytest.mark.filterwarnings("ignore:index_reduce\\(\\) is in beta")
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("reduce", ["prod", "mean", "amax", "amin"])
def test_index_reduce_values_and_gradients_match_torch(reduce, include_self, dtype):
    rng = np.random.default_rng(12)
    calls = [lambda L, x, d, i, s: L.index_reduce(x, d, i, s, reduce, include_self=include_self),
             lambda L, x, d, i, s: x.index_reduce(d, i, s, reduce, include_self=include_self),
             lambda L, x, d, i, s: (x * 1).index_reduce_(d, i, s, reduce,
                                                         include_self=include_self)]
    for shape, dim, n in [((), 0, 1), ((5,), 0, 7), ((3, 4), 0, 5), ((3, 4), -1, 6),
                          ((2, 3, 4), 1, 4), ((3, 2), 1, 0)]:
        for kind in ("normal", "ties", "zeros"):
            for k, call in enumerate(calls):
                sshape = list(shape)
                if shape:
                    sshape[dim] = n
                idx = rng.integers(0, shape[dim] if shape else 1, n if shape else ())
                x, src = _values(rng, shape, kind, dtype), _values(rng, tuple(sshape), kind, dtype)
                weight = rng.standard_normal(shape).astype(dtype)
                fn = lambda L, a, b: call(L, a, dim, L.tensor(idx), b)  # noqa: E731,B023
                _assert_reduce_matches(fn, x, src, weight, (reduce, shape, dim, kind, k))


def test_scatter_reduce_prod_zeros_match_torch_exactly():
    """One zero in a group: its gradient is the product of the others; two
    zeros: every gradient of the group is 0; a zero in self likewise."""
    x = np.array([[2.0, 0.0, 3.0, 5.0], [0.0, 4.0, 1.5, -2.0]])
    src = np.array([[0.0, 3.0, 0.0, 7.0, 2.0], [0.0, 6.0, -1.0, 0.5, 3.0]])
    idx = np.array([[0, 0, 2, 2, 3], [1, 1, 3, 0, 0]])
    # row 0: group 0 has one src zero, group 1 only self's zero, group 2 two src zeros;
    # row 1: group 0 self's zero and src's, group 1 one src zero, group 3 none
    weight = np.array([[1.0, -2.0, 0.5, 3.0], [2.0, 1.0, -1.0, 0.25]])
    for include_self in (True, False):
        fn = lambda L, a, b: L.scatter_reduce(a, 1, L.tensor(idx), b, "prod",  # noqa: E731
                                              include_self=include_self)
        for o, t in zip(_reduce_run(tk, fn, x, src, weight),
                        _reduce_run(torch, fn, x, src, weight)):
            np.testing.assert_array_equal(o, t)


def test_scatter_reduce_amax_amin_ties_match_torch_exactly():
    """Ties split the gradient evenly (self's entry counts, and without
    include_self it still counts, as in PyTorch, but gets 0); NaN results
    give NaN gradients, as PyTorch's grad / 0 * 0."""
    x = np.array([[5.0, 1.0, 2.0, 7.0], [3.0, 3.0, -1.0, np.nan]])
    src = np.array([[5.0, 5.0, 1.0, 2.0, 7.0], [3.0, np.nan, -1.0, -1.0, 0.0]])
    idx = np.array([[0, 0, 1, 2, 3], [0, 1, 2, 2, 2]])
    weight = np.array([[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]])
    for reduce in ("amax", "amin"):
        for include_self in (True, False):
            fn = lambda L, a, b: L.scatter_reduce(a, 1, L.tensor(idx), b, reduce,  # noqa: E731
                                                  include_self=include_self)
            ours, theirs = _reduce_run(tk, fn, x, src, weight), _reduce_run(torch, fn, x, src,
                                                                            weight)
            for o, t in zip(ours, theirs):
                np.testing.assert_array_equal(o, t, err_msg=f"{reduce} {include_self}")


def test_scatter_reduce_integers_match_torch():
    rng = np.random.default_rng(13)
    x, src = rng.integers(-5, 6, (3, 4)), rng.integers(-5, 6, (3, 6))
    idx = rng.integers(0, 4, (3, 6))
    for reduce in REDUCES:
        for include_self in (True, False):
            fn = lambda L: L.scatter_reduce(L.tensor(x), 1, L.tensor(idx), L.tensor(src),  # noqa
                                            reduce, include_self=include_self)
            _same(fn(tk), fn(torch), (reduce, include_self))


def test_scatter_reduce_in_place_matches_torch():
    rng = np.random.default_rng(14)
    x, src = rng.standard_normal((3, 4)), rng.standard_normal((3, 5))
    idx = rng.integers(0, 4, (3, 5))
    for reduce in REDUCES:
        fn = lambda L, a, b: (a * 1).scatter_reduce_(1, L.tensor(idx), b, reduce,  # noqa: E731
                                                      include_self=False)
        for o, t in zip(_reduce_run(tk, fn, x, src, np.ones((3, 4))),
                        _reduce_run(torch, fn, x, src, np.ones((3, 4)))):
            np.testing.assert_allclose(o, t, rtol=1e-12, atol=1e-12)

    def into_plain(L, reduce):
        """self needs no gradient, src does: the change is recorded all the same"""
        y, b = L.tensor(x), L.tensor(src, requires_grad=True)
        if reduce == "sum":
            y.scatter_reduce_(1, L.tensor(idx), b, reduce)
        else:
            y.index_reduce_(1, L.tensor([3, 0, 0, 2, 3]), b, reduce, include_self=False)
        (y * y).sum().backward()
        return y.detach().numpy(), b.grad.numpy()

    for reduce in ("sum", "prod", "amax"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")     # torch: index_reduce is in beta
            for o, t in zip(into_plain(tk, reduce), into_plain(torch, reduce)):
                np.testing.assert_allclose(o, t, rtol=1e-12, atol=1e-12)


def test_scatter_reduce_gradcheck():
    """float64 finite differences; amax/amin on tie-free values (not smooth at
    ties); prod is a polynomial, so zeros are fine."""
    rng = np.random.default_rng(15)
    idx = tk.tensor(rng.integers(0, 4, (3, 6)))
    x = tk.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    src = tk.tensor(rng.standard_normal((3, 6)), requires_grad=True)
    x0 = tk.tensor(np.where(rng.random((3, 4)) < 0.4, 0.0, rng.standard_normal((3, 4))),
                   requires_grad=True)
    src0 = tk.tensor(np.where(rng.random((3, 6)) < 0.4, 0.0, rng.standard_normal((3, 6))),
                     requires_grad=True)
    for reduce in REDUCES:
        for include_self in (True, False):
            fn = lambda a, b: tk.scatter_reduce(a, 1, idx, b, reduce,  # noqa: E731,B023
                                                include_self=include_self)
            assert gradcheck(fn, (x, src)), (reduce, include_self)
            if reduce == "prod":
                assert gradcheck(fn, (x0, src0)), (reduce, include_self)
                assert gradgradcheck(fn, (x, src)), (reduce, include_self)
            if reduce in ("amax", "amin"):
                assert gradgradcheck(fn, (x, src)), (reduce, include_self)
    fn = lambda a, b: tk.index_reduce(a, 0, tk.tensor([2, 0, 2]), b[:, :4], "prod")  # noqa: E731
    assert gradcheck(fn, (x, src)) and gradgradcheck(fn, (x, src))
    fn = lambda a, b: tk.index_reduce(a, 1, tk.tensor([3, 3, 1, 0, 3, 1]), b,  # noqa: E731
                                      "amin", include_self=False)
    assert gradcheck(fn, (x, src))


@pytest.mark.filterwarnings("ignore:index_reduce\\(\\) is in beta")
def test_scatter_reduce_prod_double_backward_matches_torch():
    """Hessian-vector products through 'prod' (no zero, one zero per group);
    with two zeros in a group, differentiating src's gradient again raises,
    with PyTorch's message."""
    x = np.array([[2.0, 0.0, 3.0], [1.5, -2.0, 0.5]])
    idx = np.array([[0, 0, 1, 2], [2, 2, 1, 0]])
    w, vx, vs = (np.arange(1.0, 7.0).reshape(2, 3), np.full((2, 3), 0.5),
                 np.linspace(-1, 1, 8).reshape(2, 4))
    calls = {"scatter_reduce": lambda L, a, i, b, inc: L.scatter_reduce(a, 1, i, b, "prod",
                                                                        include_self=inc),
             "index_reduce": lambda L, a, i, b, inc: L.index_reduce(a, 1, i[0], b, "prod",
                                                                    include_self=inc)}
    for src in (np.array([[1.5, 2.0, -1.0, 3.0], [2.0, 0.5, 4.0, -3.0]]),
                np.array([[0.0, 2.0, -1.0, 0.0], [2.0, 0.0, 4.0, -3.0]]),
                np.array([[0.0, 0.0, -1.0, 3.0], [2.0, 0.5, 4.0, -3.0]])):
        for name, call in calls.items():
            for include_self in (True, False):
                out = []
                for L in (tk, torch):
                    a, b = L.tensor(x, requires_grad=True), L.tensor(src, requires_grad=True)
                    y = call(L, a, L.tensor(idx), b, include_self)
                    ga, gb = L.autograd.grad((y * L.tensor(w)).sum(), (a, b), create_graph=True)
                    try:
                        h = L.autograd.grad((ga * L.tensor(vx)).sum() + (gb * L.tensor(vs)).sum(),
                                            (a, b))
                        out.append([t.numpy() for t in (ga.detach(), gb.detach()) + h])
                    except RuntimeError as e:
                        out.append(str(e))
                if isinstance(out[1], str):
                    assert out[0] == out[1]
                else:
                    for o, t in zip(*out):
                        np.testing.assert_allclose(o, t, rtol=1e-12, atol=1e-12)


def test_reduce_by_target_matches_ufunc_at():
    """The pairwise group reduction (no ufunc.at, so that CuPy runs it) against
    NumPy's ufunc.at, with groups far longer than one pairing step."""
    from tinygrad_kr.ops_shape_reduce import _reduce_by_target
    rng = np.random.default_rng(16)
    for n, bins in ((0, 3), (1, 1), (7, 1), (1000, 3), (999, 50), (33, 40)):
        targets = rng.integers(0, bins, n)
        for reduce, ufunc in (("prod", np.multiply), ("amax", np.maximum), ("amin", np.minimum)):
            for values in (rng.uniform(0.5, 1.5, n), rng.integers(-9, 10, n)):
                t, v = _reduce_by_target(targets, values.copy(), reduce)
                assert np.array_equal(t, np.unique(targets))
                first = np.zeros(n, bool)
                first[np.unique(targets, return_index=True)[1]] = True
                expected = np.zeros(bins, values.dtype)
                expected[targets[first]] = values[first]
                ufunc.at(expected, targets[~first], values[~first])
                np.testing.assert_allclose(v, expected[t], rtol=1e-12)


def test_gather_and_scatter_reject_negative_indices_take_along_dim_wraps_them():
    # PyTorch: gather/scatter never wrap a negative index (it would silently
    # read or write the wrong element); take_along_dim along a dim does
    x = tk.arange(6.0).reshape(2, 3)
    bad = tk.tensor([[-1], [0]])
    for call in (lambda: tk.gather(x, 1, bad),
                 lambda: x.scatter(1, bad, 1.0),
                 lambda: x.scatter_add(1, bad, tk.ones(2, 1)),
                 lambda: x.scatter_reduce(1, bad, tk.ones(2, 1), "amax"),
                 lambda: tk.take_along_dim(x, tk.tensor([-1]))):
        with pytest.raises(RuntimeError, match="index -1 is out of bounds"):
            call()
    assert tk.take_along_dim(x, bad, 1).tolist() == [[2.0], [3.0]]
    with pytest.raises(RuntimeError, match="index -4 is out of bounds"):
        tk.take_along_dim(x, tk.tensor([[-4], [0]]), 1)


def test_argmax_argmin_of_empty_inputs_as_pytorch():
    x = tk.zeros(0, 4)
    for lib in (tk, torch):
        t = lib.zeros(0, 4)
        assert tuple(t.argmax(1).shape) == (0,) and tuple(t.argmin(1, keepdim=True).shape) == (0, 1)
        assert tuple(lib.zeros(3, 0).argmax(0).shape) == (0,)
        for call in (lambda: t.argmax(0), lambda: t.argmax(), lambda: lib.zeros(3, 0).argmin(1)):
            with pytest.raises(IndexError, match="Expected reduction dim"):
                call()
    assert x.argmax(1).dtype == np.int64


def test_grad_with_no_inputs_raises():
    y = tk.ones(2, requires_grad=True).sum()
    with pytest.raises(RuntimeError, match="`inputs` argument to `grad\\(\\)` cannot be empty"):
        tk.autograd.grad(y, [])


def test_logsumexp_of_empty_and_all_minus_inf_slices_is_minus_inf_without_warnings():
    """log(0) = -inf is the answer there (as PyTorch's, silently), not a
    RuntimeWarning from NumPy."""
    x = np.array([[-np.inf, -np.inf], [0.0, 1.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours = tk.logsumexp(tk.tensor(x), 1).numpy()
        empty = tk.logsumexp(tk.zeros(3, 0), 1).numpy()
    np.testing.assert_array_equal(ours, torch.logsumexp(torch.tensor(x), 1).numpy())
    np.testing.assert_array_equal(empty, torch.logsumexp(torch.zeros(3, 0), 1).numpy())
