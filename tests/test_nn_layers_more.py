"""LocalResponseNorm, AlphaDropout / FeatureAlphaDropout, Dropout3d,
Bilinear, ChannelShuffle, MaxUnpool1d/2d and LPPool1d/2d (modules and
functional forms) against PyTorch: values and gradients (float64 tight,
float32), reprs, parameters and init, the dropouts' masks and statistics,
the error messages; float64 gradchecks that need no PyTorch."""
import math
import re
import warnings

import numpy as np
import pytest

import tinygrad_kr as tkr
import tinygrad_kr.nn as nn
import tinygrad_kr.nn.functional as F
from tinygrad_kr.autograd import gradcheck
from torch_compat import torch_lp_pool, unpool_refuses_negative_size

rng = np.random.default_rng(0)


def _torch():
    return pytest.importorskip("torch")


def _np(t):
    return np.asarray(t.detach().numpy() if hasattr(t, "detach") else t)


def _both(f, *arrays, dtype=np.float64, grads=True):
    """f(lib, F, *leaves) in both libraries: same values and same gradients
    of a fixed projection (float64 to rounding, float32 to 1e-5)."""
    torch = _torch()
    arrays = [a.astype(dtype) if a.dtype.kind == "f" else a for a in arrays]
    ours = [tkr.tensor(a, requires_grad=grads and a.dtype.kind == "f") for a in arrays]
    theirs = [torch.tensor(a, requires_grad=grads and a.dtype.kind == "f") for a in arrays]
    y, ty = f(tkr, F, *ours), f(torch, torch.nn.functional, *theirs)
    tol = dict(rtol=1e-12, atol=1e-13) if dtype == np.float64 else dict(rtol=1e-5, atol=1e-5)
    assert tuple(y.shape) == tuple(ty.shape)
    assert str(y.dtype).split(".")[-1] == str(ty.dtype).split(".")[-1]
    np.testing.assert_allclose(_np(y), _np(ty), **tol)
    if grads:
        g = np.cos(np.arange(ty.numel())).reshape(tuple(ty.shape)).astype(dtype)
        y.backward(tkr.tensor(g))
        ty.backward(torch.tensor(g))
        for a, b in zip(ours, theirs):
            if b.grad is not None:
                np.testing.assert_allclose(_np(a.grad), _np(b.grad), **tol)


def _same_error(call, exc=RuntimeError, mask=None):
    """call(lib, F) raises the same exception type and message in both (up
    to the parts that match the regex ``mask``)."""
    torch = _torch()
    with pytest.raises(exc) as theirs:
        call(torch, torch.nn.functional)
    with pytest.raises(exc) as ours:
        call(tkr, F)
    if mask:
        assert re.sub(mask, "#", str(ours.value)) == re.sub(mask, "#", str(theirs.value))
    else:
        assert str(ours.value) == str(theirs.value)


def _reprs_match(make):
    torch = _torch()
    assert repr(make(nn)) == repr(make(torch.nn))


# --------------------------------------------------------------------------
# local_response_norm
# --------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(2, 5, 4), (2, 6, 3, 4), (2, 5, 2, 3, 2), (1, 3, 1)])
@pytest.mark.parametrize("size,alpha,beta,k", [(1, 1e-4, 0.75, 1.0), (2, 0.1, 0.5, 2.0),
                                               (3, 1e-4, 0.75, 1.0), (5, 0.5, 1.5, 0.5)])
def test_local_response_norm_matches_torch(dtype, shape, size, alpha, beta, k):
    _both(lambda m, F_, x: F_.local_response_norm(x, size, alpha, beta, k),
          rng.standard_normal(shape), dtype=dtype)


def test_local_response_norm_module_errors_and_gradcheck():
    torch = _torch()
    _reprs_match(lambda nn_: nn_.LocalResponseNorm(3, alpha=0.2))
    x = rng.standard_normal((2, 4, 3))
    np.testing.assert_allclose(_np(nn.LocalResponseNorm(3, 0.2, 0.6, 1.5)(tkr.tensor(x))),
                               _np(torch.nn.LocalResponseNorm(3, 0.2, 0.6, 1.5)(
                                   torch.tensor(x))), rtol=1e-12)
    _same_error(lambda m, F_: F_.local_response_norm(m.ones(2, 3), 2), ValueError)
    empty = tkr.zeros(0, 3, 4)
    assert F.local_response_norm(empty, 2) is empty


def test_local_response_norm_gradcheck():
    x = tkr.tensor(rng.standard_normal((2, 5, 3)), requires_grad=True)
    assert gradcheck(lambda t: F.local_response_norm(t, 3, 0.3, 0.75, 1.0), (x,))


# --------------------------------------------------------------------------
# bilinear
# --------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("lead", [(6,), (), (2, 3)])
@pytest.mark.parametrize("bias", [True, False])
def test_bilinear_matches_torch(dtype, lead, bias):
    arrays = [rng.standard_normal((*lead, 3)), rng.standard_normal((*lead, 4)),
              rng.standard_normal((5, 3, 4))] + ([rng.standard_normal(5)] if bias else [])
    _both(lambda m, F_, *a: F_.bilinear(*a), *arrays, dtype=dtype)


def test_bilinear_module_matches_torch():
    torch = _torch()
    _reprs_match(lambda nn_: nn_.Bilinear(3, 4, 5))
    _reprs_match(lambda nn_: nn_.Bilinear(3, 4, 5, bias=False))
    theirs, ours = torch.nn.Bilinear(3, 4, 5).double(), nn.Bilinear(3, 4, 5).double()
    assert [(n, tuple(p.shape)) for n, p in ours.named_parameters()] == \
        [(n, tuple(p.shape)) for n, p in theirs.named_parameters()]
    bound = 1 / math.sqrt(3)
    assert all(float(np.abs(_np(p)).max()) <= bound for p in ours.parameters())
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    a, b = rng.standard_normal((7, 3)), rng.standard_normal((7, 4))
    y, ty = ours(tkr.tensor(a), tkr.tensor(b)), theirs(torch.tensor(a), torch.tensor(b))
    np.testing.assert_allclose(_np(y), _np(ty), rtol=1e-12)
    y.sum().backward()
    ty.sum().backward()
    for (n, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(_np(p.grad), _np(q.grad), rtol=1e-12, err_msg=n)
    with pytest.raises(ValueError, match=re.escape("in1_features must be > 0, but got "
                                                   "(in1_features=0)")):
        nn.Bilinear(0, 2, 2)


def test_bilinear_errors_match_torch():
    w = rng.standard_normal((5, 3, 4))
    cases = [((2, 3), (3, 4), None), ((2, 3), (2, 1, 4), None), ((2, 2), (2, 4), None),
             ((2, 3), (2, 5), None), ((2, 3), (2, 4), (4,)), ((2, 3), (2, 4), (1, 5))]
    for s1, s2, sb in cases:
        _same_error(lambda m, F_: F_.bilinear(
            m.tensor(np.ones(s1)), m.tensor(np.ones(s2)), m.tensor(w),
            None if sb is None else m.tensor(np.ones(sb))))
    _same_error(lambda m, F_: F_.bilinear(m.ones(2, 3), m.tensor(np.ones((2, 4))),
                                          m.tensor(w).float(), m.ones(5)))


def test_bilinear_gradcheck():
    a = tkr.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    b = tkr.tensor(rng.standard_normal((2, 4)), requires_grad=True)
    w = tkr.tensor(rng.standard_normal((2, 3, 4)), requires_grad=True)
    bias = tkr.tensor(rng.standard_normal(2), requires_grad=True)
    assert gradcheck(F.bilinear, (a, b, w, bias))


# --------------------------------------------------------------------------
# channel_shuffle
# --------------------------------------------------------------------------


@pytest.mark.parametrize("shape,groups", [((2, 6, 3), 3), ((2, 6, 2, 2), 2), ((1, 4, 1, 1, 2), 4),
                                          ((2, 6, 3), 1)])
def test_channel_shuffle_matches_torch(shape, groups):
    _both(lambda m, F_, x: F_.channel_shuffle(x, groups), rng.standard_normal(shape))
    _both(lambda m, F_, x: m.nn.ChannelShuffle(groups)(x), rng.standard_normal(shape))
    # PyTorch has no derivative for native_channel_shuffle
    _both(lambda m, F_, x: F_.native_channel_shuffle(x, groups), rng.standard_normal(shape),
          grads=False)


def test_channel_shuffle_errors_and_repr():
    _reprs_match(lambda nn_: nn_.ChannelShuffle(3))
    for shape, groups in (((2, 6, 3), 4), ((2, 6, 3), 0), ((2, 6, 3), -1), ((6,), 2),
                          ((2, 6), 2)):
        _same_error(lambda m, F_: F_.channel_shuffle(m.ones(*shape), groups))
    y = F.channel_shuffle(tkr.arange(6.0).reshape(1, 6, 1), 2)
    assert y.reshape(-1).tolist() == [0, 3, 1, 4, 2, 5]


# --------------------------------------------------------------------------
# max_unpool
# --------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kernel,stride,padding,size,output_size", [
    (2, None, 0, (4, 4), None), (2, None, 0, (5, 5), (5, 5)), (2, None, 0, (5, 5), (2, 3, 5, 5)),
    (3, 2, 1, (5, 5), None), (3, 1, 1, (4, 5), None), (2, 1, 0, (4, 4), [4, 4]),
    ((2, 3), (1, 2), 0, (4, 5), None)])
def test_max_unpool2d_inverts_torch_max_pool2d(dtype, kernel, stride, padding, size,
                                               output_size):
    def f(m, F_, x):
        y, i = F_.max_pool2d(x, kernel, stride, padding, return_indices=True)
        return F_.max_unpool2d(y * 2, i, kernel, stride, padding, output_size)
    _both(f, rng.standard_normal((2, 3, *size)), dtype=dtype)
    _both(lambda m, F_, x: m.nn.MaxUnpool2d(kernel, stride, padding)(
        *F_.max_pool2d(x, kernel, stride, padding, return_indices=True),
        output_size=output_size), rng.standard_normal((3, *size)), dtype=dtype)


@pytest.mark.parametrize("kernel,stride,output_size", [(2, None, None), (3, 1, None),
                                                       (2, None, [9]), (2, 2, (2, 3, 9))])
def test_max_unpool1d_inverts_torch_max_pool1d(kernel, stride, output_size):
    def f(m, F_, x):
        y, i = F_.max_pool1d(x, kernel, stride, return_indices=True)
        return F_.max_unpool1d(y - 1, i, kernel, stride, 0, output_size)
    _both(f, rng.standard_normal((2, 3, 9)))
    _both(lambda m, F_, x: m.nn.MaxUnpool1d(kernel, stride)(
        *F_.max_pool1d(x, kernel, stride, return_indices=True)), rng.standard_normal((3, 9)))


def test_max_unpool_reprs_and_errors_match_torch():
    _reprs_match(lambda nn_: nn_.MaxUnpool2d(2))
    _reprs_match(lambda nn_: nn_.MaxUnpool2d((2, 3), stride=1, padding=(0, 1)))
    _reprs_match(lambda nn_: nn_.MaxUnpool1d(2, stride=1))
    torch = _torch()
    x = rng.standard_normal((2, 3, 4, 4))
    y, i = torch.nn.functional.max_pool2d(torch.tensor(x), 2, return_indices=True)
    y, i = y.numpy(), i.numpy()
    calls = [
        (lambda m, F_: F_.max_unpool2d(m.tensor(y), m.tensor(i), 2, output_size=(6, 5)),
         ValueError),
        (lambda m, F_: F_.max_unpool2d(m.tensor(y), m.tensor(i), 2, output_size=(5,)),
         ValueError),
        (lambda m, F_: F_.max_unpool2d(m.tensor(y), m.tensor(i[:, :, :1]), 2), RuntimeError),
        (lambda m, F_: F_.max_unpool2d(m.tensor(y), m.tensor(i + 100), 2), RuntimeError),
        (lambda m, F_: F_.max_unpool2d(m.tensor(y), m.tensor(i - 100), 2), RuntimeError),
        (lambda m, F_: F_.max_unpool2d(m.tensor(y), m.tensor(i.astype(np.int32)), 2),
         RuntimeError),
        (lambda m, F_: F_.max_unpool2d(m.tensor(y[0, 0]), m.tensor(i[0, 0]), 2), RuntimeError),
        (lambda m, F_: F_.max_unpool1d(m.tensor(y[0, 0, 0]), m.tensor(i[0, 0, 0]), 2),
         RuntimeError),
    ]
    negative_size = (lambda m, F_: F_.max_unpool2d(m.tensor(y), m.tensor(i), 1, stride=1,
                                                   padding=2))
    if unpool_refuses_negative_size(torch):
        calls.append((negative_size, ValueError))
    else:   # PyTorch 2.11 fails allocating it (a RuntimeError): ours says what 2.13 says
        with pytest.raises(ValueError, match=r"^max_unpooling: output_size must contain "
                                             r"non-negative spatial dimensions, but got "
                                             r"output_size\[0\]=-2$"):
            negative_size(tkr, F)
    for call, exc in calls:
        # which bad index PyTorch names depends on its threads' order
        _same_error(call, exc, mask=r"index: -?\d+")


def test_max_unpool_gradcheck():
    # windows that do not overlap: an index given twice keeps one value in the
    # forward but passes the gradient to both (PyTorch's too), which central
    # differences cannot see
    x = tkr.tensor(rng.standard_normal((1, 2, 5, 4)))
    _, idx = F.max_pool2d(x, 2, return_indices=True)
    v = tkr.tensor(rng.standard_normal(tuple(idx.shape)), requires_grad=True)
    assert gradcheck(lambda t: F.max_unpool2d(t, idx, 2, output_size=(5, 4)), (v,))
    _, idx1 = F.max_pool1d(x[0], 2, return_indices=True)
    v1 = tkr.tensor(rng.standard_normal(tuple(idx1.shape)), requires_grad=True)
    assert gradcheck(lambda t: F.max_unpool1d(t, idx1, 2), (v1,))


# --------------------------------------------------------------------------
# lp_pool
# --------------------------------------------------------------------------


def _lp_pool(lib, dims):
    """lib's lp_pool{dims}d; PyTorch's as 2.13 defines it (2.11 returns ones
    for norm_type=+-inf: there max_pool of |x|, 2.13's definition)."""
    return getattr(F, f"lp_pool{dims}d") if lib is tkr else torch_lp_pool(lib, dims)


def _lp_pool_module(lib, dims, norm_type, *args):
    """lib's LPPool{dims}d(norm_type, *args); where PyTorch's module would
    call its wrong 2.11 functional form, that form as 2.13 defines it."""
    reference = _lp_pool(lib, dims)
    if lib is tkr or reference is getattr(lib.nn.functional, f"lp_pool{dims}d"):
        return getattr(lib.nn, f"LPPool{dims}d")(norm_type, *args)
    return lambda t: reference(t, norm_type, *args)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("norm_type", [1.0, 2.0, 3.0, 1.5, math.inf])
@pytest.mark.parametrize("kernel,stride,ceil_mode", [(2, None, False), ((2, 3), 1, True),
                                                     (3, 2, True)])
def test_lp_pool2d_matches_torch(dtype, norm_type, kernel, stride, ceil_mode):
    x = np.abs(rng.standard_normal((2, 3, 5, 6))) + 0.1   # positive: odd powers stay real
    _both(lambda m, F_, t: _lp_pool(m, 2)(t, norm_type, kernel, stride, ceil_mode), x, dtype=dtype)
    _both(lambda m, F_, t: _lp_pool_module(m, 2, norm_type, kernel, stride, ceil_mode)(t), x[0],
          dtype=dtype)


@pytest.mark.parametrize("norm_type", [1, 2, 2.5, -math.inf])
@pytest.mark.parametrize("kernel,stride,ceil_mode", [(2, None, False), (3, 1, True),
                                                     (3, 2, True)])
def test_lp_pool1d_matches_torch(norm_type, kernel, stride, ceil_mode):
    x = np.abs(rng.standard_normal((2, 3, 8))) + 0.1
    _both(lambda m, F_, t: _lp_pool(m, 1)(t, norm_type, kernel, stride, ceil_mode), x)
    _both(lambda m, F_, t: _lp_pool_module(m, 1, norm_type, kernel, stride, ceil_mode)(t), x[0])


def test_lp_pool_signs_reprs_and_gradcheck():
    # a negative sum of odd powers gives nan, as in PyTorch
    _both(lambda m, F_, t: F_.lp_pool2d(t, 2, 2), rng.standard_normal((1, 2, 4, 4)))
    _reprs_match(lambda nn_: nn_.LPPool2d(2, 3))
    _reprs_match(lambda nn_: nn_.LPPool1d(1.5, 2, stride=1, ceil_mode=True))
    x = tkr.tensor(np.abs(rng.standard_normal((1, 2, 4, 5))) + 0.5, requires_grad=True)
    assert gradcheck(lambda t: F.lp_pool2d(t, 3, (2, 3), 1), (x,))
    assert gradcheck(lambda t: F.lp_pool1d(t[0], 1.5, 2), (x,))


# --------------------------------------------------------------------------
# dropout3d
# --------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(3, 4, 2, 3, 2), (4, 2, 3, 2)])
def test_dropout3d_drops_whole_channels(shape):
    tkr.manual_seed(0)
    x = tkr.tensor(rng.standard_normal(shape) + 5.0, requires_grad=True)
    y = F.dropout3d(x, 0.4, training=True)
    channels = _np(y).reshape(-1, math.prod(shape[-3:]))     # one row per (D, H, W) channel
    kept = np.all(channels != 0, axis=1)
    assert np.all(kept | np.all(channels == 0, axis=1))    # each channel: all kept or all zero
    assert 0 < kept.sum() < kept.size
    np.testing.assert_allclose(channels[kept], (_np(x).reshape(channels.shape) / 0.6)[kept])
    y.sum().backward()
    np.testing.assert_allclose(_np(x.grad).reshape(channels.shape),
                               np.broadcast_to(np.where(kept[:, None], 1 / 0.6, 0.0),
                                               channels.shape))
    assert F.dropout3d(x, 0.4, training=False) is x
    m = nn.Dropout3d(0.4).eval()
    assert m(x) is x


def test_dropout3d_warnings_errors_and_repr():
    torch = _torch()
    _reprs_match(lambda nn_: nn_.Dropout3d(0.3))
    for shape in ((2, 3), (2, 3, 4)):
        with pytest.warns(UserWarning) as ours:
            F.dropout3d(tkr.ones(*shape), 0.5, True)
        with pytest.warns(UserWarning) as theirs:
            torch.nn.functional.dropout3d(torch.ones(*shape), 0.5, True)
        assert str(ours[0].message) == str(theirs[0].message)
    _same_error(lambda m, F_: F_.dropout3d(m.ones(2, 3, 4, 5), 1.5), ValueError)
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but "
                                         "got -0.1"):
        nn.Dropout3d(-0.1)
    # 3-D input: one draw per first-dimension slice (PyTorch adds a batch dimension)
    tkr.manual_seed(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y = _np(F.dropout3d(tkr.ones(6, 2, 3), 0.5, True))
    assert all(len(set(s.ravel().tolist())) == 1 for s in y)


# --------------------------------------------------------------------------
# alpha_dropout / feature_alpha_dropout
# --------------------------------------------------------------------------

ALPHA = 1.7580993408473766


class _FixedDraws:
    """Stands in for the random generator: ``random(shape)`` gives 0 where
    ``keep`` and 1 elsewhere, so that the engine keeps exactly those units."""

    def __init__(self, keep):
        self.keep = keep

    def random(self, shape):
        assert tuple(shape) == self.keep.shape
        return np.where(self.keep, 0.0, 1.0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("feature", [False, True])
def test_alpha_dropout_equals_torch_for_the_same_mask(monkeypatch, dtype, feature):
    """PyTorch's output and gradient, with its mask read off its output (a
    dropped unit is the constant -alpha' a + alpha' a p)."""
    torch = _torch()
    import tinygrad_kr.nn._ops_layers_extra as ops_extra
    p = 0.3
    x = rng.standard_normal((4, 5, 3)).astype(dtype)
    tx = torch.tensor(x, requires_grad=True)
    fn = "feature_alpha_dropout" if feature else "alpha_dropout"
    torch.manual_seed(0)
    ty = getattr(torch.nn.functional, fn)(tx, p, True)
    a = 1.0 / math.sqrt((ALPHA * ALPHA * p + 1) * (1 - p))
    dropped_value = np.asarray((np.asarray(0.0, dtype) - 1) * (ALPHA * a) + ALPHA * a * p,
                               dtype)
    keep = _np(ty) != dropped_value
    if feature:
        assert np.all(keep == keep[:, :, :1])       # whole channels
        keep = keep[:, :, :1]
    assert 0 < keep.sum() < keep.size
    monkeypatch.setattr(ops_extra, "get_rng", lambda: _FixedDraws(keep))
    ox = tkr.tensor(x, requires_grad=True)
    y = getattr(F, fn)(ox, p, True)
    np.testing.assert_allclose(_np(y), _np(ty), rtol=1e-6 if dtype == np.float32 else 1e-15,
                               atol=1e-7 if dtype == np.float32 else 1e-15)
    g = rng.standard_normal(x.shape).astype(dtype)
    y.backward(tkr.tensor(g))
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(_np(ox.grad), _np(tx.grad), rtol=1e-6)


def test_alpha_dropout_keeps_zero_mean_and_unit_variance():
    tkr.manual_seed(0)
    x = tkr.tensor(rng.standard_normal(200_000))
    for p in (0.1, 0.5):
        y = _np(F.alpha_dropout(x, p, True))
        assert abs(y.mean()) < 0.01 and abs(y.std() - 1) < 0.01
        a = 1.0 / math.sqrt((ALPHA * ALPHA * p + 1) * (1 - p))
        assert abs((y == ALPHA * a * (p - 1)).mean() - p) < 0.01


def test_alpha_dropout_edge_cases_and_modules():
    x = tkr.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    assert F.alpha_dropout(x, 0.5) is x                   # training defaults to False
    assert F.alpha_dropout(x, 0.0, True) is x
    assert F.feature_alpha_dropout(tkr.ones(3), 0.5, False).shape == (3,)
    z = F.alpha_dropout(x, 1.0, True)                     # PyTorch: zeros (not -alpha')
    assert np.all(_np(z) == 0)
    with pytest.raises(RuntimeError, match="Feature dropout requires at least 2 dimensions in "
                                           "the input"):
        F.feature_alpha_dropout(tkr.ones(3), 0.5, True)
    _same_error(lambda m, F_: F_.alpha_dropout(m.ones(3), 1.5), ValueError)
    _same_error(lambda m, F_: F_.feature_alpha_dropout(m.ones(2, 3), -0.5, True), ValueError)
    _reprs_match(lambda nn_: nn_.AlphaDropout(0.2))
    _reprs_match(lambda nn_: nn_.FeatureAlphaDropout())
    m = nn.AlphaDropout(0.5)
    tkr.manual_seed(0)
    y = m(x)
    assert y is not x and tuple(y.shape) == (3, 4)
    assert m.eval()(x) is x
    # in place (functional only; the modules ignore it, as PyTorch's)
    h = x * 1.0
    tkr.manual_seed(0)
    out = F.alpha_dropout(h, 0.5, True, inplace=True)
    assert out is h
    tkr.manual_seed(0)
    np.testing.assert_array_equal(_np(h), _np(F.alpha_dropout(x, 0.5, True)))


def test_alpha_dropout_gradcheck():
    x = tkr.tensor(rng.standard_normal((3, 4, 2)), requires_grad=True)

    def f(t):
        tkr.manual_seed(3)         # the same mask on every call
        return F.alpha_dropout(t, 0.4, True) + F.feature_alpha_dropout(t, 0.4, True)

    assert gradcheck(f, (x,))
