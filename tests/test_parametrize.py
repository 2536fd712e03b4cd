"""nn.utils.parametrize, nn.utils.parametrizations (weight_norm,
spectral_norm, orthogonal) and the old-style nn.utils.weight_norm /
spectral_norm hooks, against PyTorch: state_dict keys (a PyTorch state loads
here and gives the same outputs), training steps equal to PyTorch's (the
power-iteration buffers copied over from PyTorch), gradients, the bookkeeping
(class swap, right_inverse, remove, cached, unsafe, deepcopy, pickling) and
the error messages; float64 gradchecks that need no PyTorch."""
import copy
import io
import pickle
import re
import warnings

import numpy as np
import pytest

import tinygrad_kr as tkr
import tinygrad_kr.nn as nn
from tinygrad_kr.autograd import gradcheck
from tinygrad_kr.nn.utils import parametrizations as PZ
from tinygrad_kr.nn.utils import parametrize as P

rng = np.random.default_rng(0)


def _torch():
    return pytest.importorskip("torch")


def _np(t):
    return np.asarray(t.detach().numpy() if hasattr(t, "detach") else t)


def _close(a, b, tol=1e-12, what=""):
    np.testing.assert_allclose(_np(a), _np(b), rtol=tol, atol=tol, err_msg=what)


def _state(module):
    return {k: v.detach().numpy() for k, v in module.state_dict().items()}


def _layer(lib, kind, dtype="float64"):
    torch_like = lib.nn
    if kind == "linear":
        m = torch_like.Linear(4, 3)
    elif kind == "conv":
        m = torch_like.Conv2d(2, 3, 3)
    else:
        m = torch_like.ConvTranspose2d(2, 3, 3)
    return m.to(getattr(lib, dtype))


def _input(kind, dtype="float64", seed=0, features=4):
    g = np.random.default_rng(seed)
    shape = (5, features) if kind == "linear" else (2, 2, 5, 5)
    return g.standard_normal(shape).astype(dtype)


def _same_layer(kind, apply_ours, apply_theirs, dtype="float64"):
    """The layer in both libraries, PyTorch's weights copied into ours before
    and after the reparametrization; state_dict keys equal."""
    torch = _torch()
    theirs, ours = _layer(torch, kind, dtype), _layer(tkr, kind, dtype)
    ours.load_state_dict(_state(theirs))
    apply_theirs(theirs)
    apply_ours(ours)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict(_state(theirs))      # spectral norm's u, v from PyTorch's draw
    return ours, theirs


def _train_both(ours, theirs, kind, steps=4, dtype="float64", optimizer="SGD", tol=1e-12,
                features=4):
    """``steps`` optimizer steps on the same data in both: outputs, gradients
    of every parameter and the final state agree."""
    torch = _torch()
    opt_t = getattr(torch.optim, optimizer)(theirs.parameters(), lr=0.05)
    opt_o = getattr(tkr.optim, optimizer)(ours.parameters(), lr=0.05)
    for step in range(steps):
        x = _input(kind, dtype, step, features)
        yt, yo = theirs(torch.tensor(x)), ours(tkr.tensor(x))
        _close(yo, yt, tol, f"output at step {step}")
        opt_t.zero_grad()
        opt_o.zero_grad()
        (yt * yt).sum().backward()
        (yo * yo).sum().backward()
        grads = {n: p.grad for n, p in theirs.named_parameters()}
        for n, p in ours.named_parameters():
            _close(p.grad, grads[n], tol * 100, f"gradient of {n} at step {step}")
        opt_t.step()
        opt_o.step()
    mine = _state(ours)
    for k, v in _state(theirs).items():
        _close(mine[k], v, tol * 100, f"state {k}")


# --------------------------------------------------------------------------
# register_parametrization with a Module of one's own
# --------------------------------------------------------------------------


def _symmetric(lib):
    class Symmetric(lib.nn.Module):
        def forward(self, X):
            return X.triu() + X.triu(1).transpose(-1, -2)

        def right_inverse(self, A):
            return A.triu()
    return Symmetric()


def _scaled(lib, factor):
    class Scale(lib.nn.Module):
        def forward(self, X):
            return X * factor
    return Scale()


def test_register_parametrization_matches_torch():
    torch = _torch()
    theirs, ours = torch.nn.Linear(3, 3).double(), nn.Linear(3, 3).double()
    ours.load_state_dict(_state(theirs))
    opt_o = tkr.optim.SGD(ours.parameters(), lr=0.1)   # built before: still trains `original`
    weight = ours.weight
    torch.nn.utils.parametrize.register_parametrization(theirs, "weight", _symmetric(torch))
    P.register_parametrization(ours, "weight", _symmetric(tkr))
    assert type(ours).__name__ == "ParametrizedLinear" and isinstance(ours, nn.Linear)
    assert P.type_before_parametrizations(ours) is nn.Linear
    assert P.is_parametrized(ours) and P.is_parametrized(ours, "weight")
    assert not P.is_parametrized(ours, "bias")
    assert ours.parametrizations.weight.original is weight    # the same Parameter object
    assert list(ours.state_dict()) == list(theirs.state_dict()) == \
        ["bias", "parametrizations.weight.original"]
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    _close(ours.weight, theirs.weight, 0)
    W = _np(ours.weight)
    np.testing.assert_array_equal(W, W.T)
    opt_t = torch.optim.SGD(theirs.parameters(), lr=0.1)
    for step in range(3):
        x = rng.standard_normal((4, 3))
        yt, yo = theirs(torch.tensor(x)), ours(tkr.tensor(x))
        _close(yo, yt)
        opt_t.zero_grad()
        opt_o.zero_grad()
        yt.pow(3).sum().backward()
        (yo ** 3).sum().backward()
        _close(ours.parametrizations.weight.original.grad,
               theirs.parametrizations.weight.original.grad)
        opt_t.step()
        opt_o.step()
    _close(ours.weight, theirs.weight)
    # the class change is per instance
    assert type(nn.Linear(2, 2)) is nn.Linear


def test_right_inverse_assignment_and_chained_parametrizations():
    torch = _torch()
    theirs, ours = torch.nn.Linear(3, 3).double(), nn.Linear(3, 3).double()
    ours.load_state_dict(_state(theirs))
    for lib, m in ((torch, theirs), (tkr, ours)):
        utils = lib.nn.utils.parametrize
        utils.register_parametrization(m, "weight", _symmetric(lib))
        utils.register_parametrization(m, "weight", _scaled(lib, 2.0))
    assert len(ours.parametrizations.weight) == 2
    _close(ours.weight, theirs.weight, 0)
    A = rng.standard_normal((3, 3))
    A = A + A.T
    # the second one has no right_inverse: assigning raises PyTorch's error
    with pytest.raises(RuntimeError, match="parametrization Scale does not implement "
                                           "right_inverse."):
        ours.weight = tkr.tensor(A)
    for lib, m in ((torch, theirs), (tkr, ours)):
        lib.nn.utils.parametrize.remove_parametrizations(m, "weight", leave_parametrized=False)
        lib.nn.utils.parametrize.register_parametrization(m, "weight", _symmetric(lib))
    theirs.weight = torch.tensor(A)
    ours.weight = tkr.tensor(A)
    _close(ours.parametrizations.weight.original, theirs.parametrizations.weight.original, 0)
    _close(ours.weight, A, 0)
    # assigning a Parameter to the property's name is refused, as in PyTorch
    with pytest.raises(KeyError, match="attribute 'weight' already exists"):
        ours.weight = nn.Parameter(tkr.tensor(A))


def test_remove_parametrizations_keeps_the_tensor_object_and_restores_the_class():
    m = nn.Linear(3, 3).double()
    original = m.weight
    P.register_parametrization(m, "weight", _scaled(tkr, 3.0))
    before = _np(m.weight).copy()
    P.remove_parametrizations(m, "weight")              # leave_parametrized=True
    assert type(m) is nn.Linear and not hasattr(m, "parametrizations")
    assert m.weight is original and isinstance(m.weight, nn.Parameter)
    _close(m.weight, before, 0)
    assert list(m.state_dict()) == ["bias", "weight"]     # re-registered last, as in PyTorch
    P.register_parametrization(m, "weight", _scaled(tkr, 3.0))
    P.remove_parametrizations(m, "weight", leave_parametrized=False)
    _close(m.weight, before, 0)
    with pytest.raises(ValueError, match="does not have a parametrization on weight"):
        P.remove_parametrizations(m, "weight")
    # a buffer stays a buffer
    bn = nn.BatchNorm1d(3)
    P.register_parametrization(bn, "running_mean", _scaled(tkr, 1.0))
    assert "parametrizations.running_mean.original" in bn.state_dict()
    P.remove_parametrizations(bn, "running_mean")
    assert "running_mean" in dict(bn.named_buffers())


def test_multi_tensor_right_inverse_remove():
    m = nn.Linear(3, 2).double()
    PZ.weight_norm(m)
    w = _np(m.weight).copy()
    with pytest.raises(ValueError, match="Cannot leave unparametrized"):
        P.remove_parametrizations(m, "weight", leave_parametrized=False)
    P.remove_parametrizations(m, "weight")
    assert isinstance(m.weight, nn.Parameter) and m.weight.requires_grad
    assert m.weight.grad_fn is None
    _close(m.weight, w, 0)


def test_unsafe_and_the_shape_and_dtype_checks():
    class Half(nn.Module):
        def forward(self, X):
            return X[:1]

    class ToFloat32(nn.Module):
        def forward(self, X):
            return X.float()

    m = nn.Linear(3, 2).double()
    with pytest.raises(ValueError, match=re.escape(
            "Registering a parametrization may not change the shape of the tensor, unless "
            "`unsafe` flag is enabled.\nunparametrized shape: tinygrad_kr.Size([2, 3])")):
        P.register_parametrization(m, "weight", Half())
    with pytest.raises(ValueError, match="may not change the dtype of the tensor"):
        P.register_parametrization(m, "weight", ToFloat32())
    assert type(m) is nn.Linear and isinstance(m.weight, nn.Parameter)   # nothing changed
    P.register_parametrization(m, "weight", Half(), unsafe=True)
    assert tuple(m.weight.shape) == (1, 3)
    with pytest.raises(ValueError, match="does not have a parameter, a buffer, or a "
                                         "parametrized element with name 'nope'"):
        P.register_parametrization(m, "nope", Half())


def test_cached_computes_each_parametrization_once():
    calls = []

    class Counting(nn.Module):
        def forward(self, X):
            calls.append(1)
            return X * 2

    m = nn.Linear(2, 2)
    P.register_parametrization(m, "weight", Counting())
    calls.clear()
    x = tkr.ones(1, 2)
    with P.cached():
        a, b = m.weight, m.weight
        m(x)
        with P.cached():
            m(x)
    assert a is b and len(calls) == 1
    m(x)
    m(x)
    assert len(calls) == 3


def test_deepcopy_train_mode_and_pickling():
    m = nn.Sequential(nn.Linear(3, 3))
    PZ.spectral_norm(m[0])
    m.eval()
    assert not m[0].parametrizations.weight[0].training     # train()/eval() reach it
    clone = copy.deepcopy(m)
    assert type(clone[0]).__name__ == "ParametrizedLinear"
    assert clone[0].parametrizations.weight.original is not m[0].parametrizations.weight.original
    _close(clone[0].weight, m[0].weight, 0)
    with pytest.raises(RuntimeError, match="Serialization of parametrized modules is only "
                                           "supported through state_dict()"):
        pickle.dumps(m)
    buf = io.BytesIO()
    tkr.save(m.state_dict(), buf)
    buf.seek(0)
    fresh = nn.Sequential(nn.Linear(3, 3))
    PZ.spectral_norm(fresh[0])
    fresh.eval()
    fresh.load_state_dict(tkr.load(buf))
    _close(fresh[0].weight, m[0].weight, 0)


def test_transfer_parametrizations_and_params():
    a, b = nn.Linear(3, 3).double(), nn.Linear(3, 3).double()
    P.register_parametrization(a, "weight", _symmetric(tkr))
    P.transfer_parametrizations_and_params(a, b)
    assert b.parametrizations.weight.original is a.parametrizations.weight.original
    _close(b.weight, a.weight, 0)


# --------------------------------------------------------------------------
# parametrizations.weight_norm / spectral_norm
# --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["linear", "conv"])
@pytest.mark.parametrize("dim", [0, 1, None, -1])
def test_weight_norm_parametrization_trains_like_torch(kind, dim):
    torch = _torch()
    ours, theirs = _same_layer(
        kind, lambda m: PZ.weight_norm(m, dim=dim),
        lambda m: torch.nn.utils.parametrizations.weight_norm(m, dim=dim))
    assert list(ours.state_dict()) == ["bias", "parametrizations.weight.original0",
                                       "parametrizations.weight.original1"]
    _train_both(ours, theirs, kind, optimizer="Adam")


@pytest.mark.parametrize("kind", ["linear", "conv", "convT"])
@pytest.mark.parametrize("options", [{}, {"n_power_iterations": 3, "eps": 1e-6},
                                     {"dim": 1}])
def test_spectral_norm_parametrization_trains_like_torch(kind, options):
    torch = _torch()
    ours, theirs = _same_layer(
        kind, lambda m: PZ.spectral_norm(m, **options),
        lambda m: torch.nn.utils.parametrizations.spectral_norm(m, **options))
    assert list(ours.state_dict()) == ["bias", "parametrizations.weight.original",
                                       "parametrizations.weight.0._u",
                                       "parametrizations.weight.0._v"]
    _train_both(ours, theirs, kind)                       # training mode: power iteration
    ours.eval()
    theirs.eval()
    _train_both(ours, theirs, kind, steps=2)              # eval: u, v fixed
    for name in ("_u", "_v"):
        _close(getattr(ours.parametrizations.weight[0], name),
               getattr(theirs.parametrizations.weight[0], name))


def test_spectral_norm_estimates_the_largest_singular_value():
    m = nn.Linear(6, 4).double()
    PZ.spectral_norm(m)
    for _ in range(20):
        w = m.weight
    assert abs(np.linalg.svd(_np(w), compute_uv=False)[0] - 1) < 1e-8


def test_spectral_norm_of_a_vector_and_errors():
    torch = _torch()
    ours, theirs = nn.Linear(3, 4).double(), torch.nn.Linear(3, 4).double()
    ours.load_state_dict(_state(theirs))
    PZ.spectral_norm(ours, "bias")
    torch.nn.utils.parametrizations.spectral_norm(theirs, "bias")
    assert list(ours.state_dict()) == list(theirs.state_dict())
    _close(ours.bias, theirs.bias)
    with pytest.raises(ValueError, match="Expected n_power_iterations to be positive, but got "
                                         "n_power_iterations=0"):
        PZ.spectral_norm(nn.Linear(2, 2), n_power_iterations=0)
    with pytest.raises(IndexError, match=re.escape("Dimension out of range (expected to be in "
                                                   "range of [-2, 1] but got 2)")):
        PZ.spectral_norm(nn.Linear(2, 2), dim=2)
    with pytest.raises(ValueError, match="has no parameter or buffer with name 'nope'"):
        PZ.spectral_norm(nn.Linear(2, 2), "nope")


def test_parametrizations_gradcheck():
    v = tkr.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    g = tkr.tensor(rng.standard_normal((3, 1)), requires_grad=True)
    norm = PZ._WeightNorm(0)
    assert gradcheck(lambda g, v: norm(g, v), (g, v))
    assert gradcheck(lambda v: PZ._WeightNorm(None)(norm.right_inverse(v)[0].sum(), v), (v,))
    w = tkr.tensor(rng.standard_normal((3, 2, 2)), requires_grad=True)
    sn = PZ._SpectralNorm(w, dim=1).eval()          # u, v fixed: a function of w alone
    assert gradcheck(sn, (w,))
    for orth_map in ("matrix_exp", "cayley", "householder"):
        X = tkr.tensor(rng.standard_normal((4, 3)) * 0.3, requires_grad=True)
        orth = PZ._Orthogonal(X, PZ._OrthMaps[orth_map])
        orth.right_inverse(X.detach())               # sets the base
        assert gradcheck(orth, (X,)), orth_map


# --------------------------------------------------------------------------
# orthogonal
# --------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5)])
@pytest.mark.parametrize("orthogonal_map", [None, "matrix_exp", "cayley", "householder"])
@pytest.mark.parametrize("use_trivialization", [True, False])
def test_orthogonal_matches_torch(shape, orthogonal_map, use_trivialization):
    """The weight stays orthogonal and equals PyTorch's, before and during
    training.  (Without trivialization the exp and Cayley maps cannot invert
    an assignment: the registered weight is then their image of the old one,
    as in PyTorch.)"""
    torch = _torch()
    theirs = torch.nn.Linear(shape[1], shape[0]).double()
    ours = nn.Linear(shape[1], shape[0]).double()
    ours.load_state_dict(_state(theirs))
    torch.nn.utils.parametrizations.orthogonal(theirs, orthogonal_map=orthogonal_map,
                                               use_trivialization=use_trivialization)
    PZ.orthogonal(ours, orthogonal_map=orthogonal_map, use_trivialization=use_trivialization)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    W = _np(ours.weight)
    gram = W @ W.T if shape[0] < shape[1] else W.T @ W
    _close(gram, np.eye(min(shape)), 1e-12)
    _close(W, theirs.weight, 1e-12)
    # a non-square weight's base is completed with random columns: take PyTorch's
    ours.load_state_dict(_state(theirs))
    _train_both(ours, theirs, "linear", steps=3, optimizer="Adam", tol=1e-11,
                features=shape[1])


def test_householder_product_matches_torch():
    torch = _torch()
    A = rng.standard_normal((2, 5, 3))
    tau = rng.standard_normal((2, 3))
    _close(PZ._householder_product(tkr.tensor(A), tkr.tensor(tau)),
           torch.linalg.householder_product(torch.tensor(A), torch.tensor(tau)))


def test_orthogonal_errors():
    with pytest.raises(ValueError, match="Expected a matrix or batch of matrices. Got a tensor "
                                         "of 1 dimensions."):
        PZ.orthogonal(nn.Linear(2, 2), "bias")
    with pytest.raises(ValueError, match='orthogonal_map has to be one of "matrix_exp", '
                                         '"cayley", "householder". Got: qr'):
        PZ.orthogonal(nn.Linear(2, 2), orthogonal_map="qr")
    m = PZ.orthogonal(nn.Linear(2, 3))
    with pytest.raises(ValueError, match="Expected a matrix or batch of matrices of shape"):
        m.weight = tkr.ones(2, 2)
    m = PZ.orthogonal(nn.Linear(3, 3), orthogonal_map="cayley", use_trivialization=False)
    with pytest.raises(NotImplementedError, match="It is not possible to assign to the matrix "
                                                  "exponential or the Cayley parametrizations "
                                                  "when use_trivialization=False."):
        m.weight = tkr.eye(3)


# --------------------------------------------------------------------------
# the old-style hooks: nn.utils.weight_norm / spectral_norm
# --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["linear", "conv"])
@pytest.mark.parametrize("dim", [0, 1, None])
def test_old_weight_norm_trains_like_torch(kind, dim):
    torch = _torch()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        ours, theirs = _same_layer(kind, lambda m: nn.utils.weight_norm(m, dim=dim),
                                   lambda m: torch.nn.utils.weight_norm(m, dim=dim))
    assert list(ours.state_dict()) == ["bias", "weight_g", "weight_v"]
    assert type(ours) is (nn.Linear if kind == "linear" else nn.Conv2d)
    _train_both(ours, theirs, kind, optimizer="Adam")
    nn.utils.remove_weight_norm(ours)
    torch.nn.utils.remove_weight_norm(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["bias", "weight"]
    assert isinstance(ours.weight, nn.Parameter)
    _close(ours.weight, theirs.weight, 1e-10)


def test_old_weight_norm_warning_and_errors():
    m = nn.Linear(2, 2)
    with pytest.warns(FutureWarning, match="`torch.nn.utils.weight_norm` is deprecated in "
                                           "favor of `torch.nn.utils.parametrizations."
                                           "weight_norm`."):
        nn.utils.weight_norm(m)
    with pytest.raises(RuntimeError, match="Cannot register two weight_norm hooks on the same "
                                           "parameter weight"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            nn.utils.weight_norm(m)
    with pytest.raises(ValueError, match="weight_norm of 'bias' not found in Linear"):
        nn.utils.remove_weight_norm(m, "bias")


@pytest.mark.parametrize("kind", ["linear", "conv", "convT"])
@pytest.mark.parametrize("options", [{}, {"n_power_iterations": 2, "eps": 1e-4}])
def test_old_spectral_norm_trains_like_torch(kind, options):
    torch = _torch()
    ours, theirs = _same_layer(kind, lambda m: nn.utils.spectral_norm(m, **options),
                               lambda m: torch.nn.utils.spectral_norm(m, **options))
    assert list(ours.state_dict()) == ["bias", "weight_orig", "weight_u", "weight_v"]
    _train_both(ours, theirs, kind)
    ours.eval()
    theirs.eval()
    _train_both(ours, theirs, kind, steps=2)
    _close(ours.weight_u, theirs.weight_u)
    _close(ours.weight_v, theirs.weight_v)
    nn.utils.remove_spectral_norm(ours)
    torch.nn.utils.remove_spectral_norm(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    _close(ours.weight, theirs.weight, 1e-10)
    assert not ours._forward_pre_hooks


def test_old_spectral_norm_errors():
    m = nn.utils.spectral_norm(nn.Linear(2, 2))
    with pytest.raises(RuntimeError, match="Cannot register two spectral_norm hooks on the "
                                           "same parameter weight"):
        nn.utils.spectral_norm(m)
    with pytest.raises(ValueError, match="spectral_norm of 'bias' not found in Linear"):
        nn.utils.remove_spectral_norm(m, "bias")
    with pytest.raises(ValueError, match="Expected n_power_iterations to be positive"):
        nn.utils.spectral_norm(nn.Linear(2, 2), n_power_iterations=0)
    with pytest.raises(ValueError, match="`SpectralNorm` cannot be applied as parameter `bias` "
                                         "is None"):
        nn.utils.spectral_norm(nn.Linear(2, 2, bias=False), "bias")
