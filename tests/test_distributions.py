"""tinygrad_kr.distributions against torch.distributions: shapes, mean /
mode / variance / stddev / entropy / log_prob / cdf / icdf values and the
gradients of log_prob and entropy with respect to the parameters, across
broadcast batch shapes; kl_divergence for the pairs PyTorch registers;
rsample's reparameterization (values and gradients, from the same noise);
sample shapes and statistics; a REINFORCE and a VAE loss whose gradients
equal PyTorch's; validate_args errors; float64 gradchecks of the Gamma
Functions behind Gamma / Beta / Dirichlet."""
import math

import numpy as np
import pytest

import tinygrad_kr as tk
import tinygrad_kr.distributions as D
from tinygrad_kr.autograd import gradcheck
from tinygrad_kr.distributions._gamma import gammainc, standard_gamma_inverse_cdf

torch = pytest.importorskip("torch")
TD = torch.distributions

RNG = np.random.default_rng(11)


def _positive(*shape):
    return RNG.uniform(0.5, 3.0, shape)


def _probs(*shape):
    p = RNG.uniform(0.05, 1.0, shape)
    return p / p.sum(-1, keepdims=True)


def _spd(n, batch=()):
    a = RNG.standard_normal(batch + (n, n))
    return a @ np.swapaxes(a, -1, -2) + n * np.eye(n)


def _tril(n, batch=()):
    low = np.tril(RNG.standard_normal(batch + (n, n)), -1)
    return low + np.eye(n) * RNG.uniform(0.5, 2.0, batch + (n,))[..., None]


# name: (class name, {parameter: array}, parameters that are not differentiated)
SPECS = {
    "Normal": ("Normal", {"loc": RNG.standard_normal((3, 1)), "scale": _positive(4)}, ()),
    "Normal_scalar": ("Normal", {"loc": 0.3, "scale": 1.7}, ()),
    "Uniform": ("Uniform", {"low": RNG.standard_normal((3, 1)),
                            "high": RNG.standard_normal((3, 1)) + _positive(4) + 2.0}, ()),
    "Bernoulli_probs": ("Bernoulli", {"probs": RNG.uniform(0.05, 0.95, (2, 3))}, ()),
    "Bernoulli_logits": ("Bernoulli", {"logits": RNG.standard_normal((2, 3))}, ()),
    "Categorical_probs": ("Categorical", {"probs": _probs(2, 4)}, ()),
    "Categorical_logits": ("Categorical", {"logits": RNG.standard_normal((3, 2, 4))}, ()),
    "OneHotCategorical": ("OneHotCategorical", {"logits": RNG.standard_normal((2, 4))}, ()),
    "Beta": ("Beta", {"concentration1": _positive(3, 1), "concentration0": _positive(4)}, ()),
    "Gamma": ("Gamma", {"concentration": _positive(3, 1), "rate": _positive(4)}, ()),
    "Dirichlet": ("Dirichlet", {"concentration": _positive(2, 3)}, ()),
    "Exponential": ("Exponential", {"rate": _positive(3)}, ()),
    "Laplace": ("Laplace", {"loc": RNG.standard_normal((3, 1)), "scale": _positive(4)}, ()),
    "Poisson": ("Poisson", {"rate": _positive(2, 3)}, ()),
    "Binomial_probs": ("Binomial", {"total_count": np.full((3,), 10.0),
                                    "probs": RNG.uniform(0.1, 0.9, (2, 3))}, ("total_count",)),
    "Binomial_logits": ("Binomial", {"total_count": np.array([3.0, 7.0, 12.0]),
                                     "logits": RNG.standard_normal((2, 3))}, ("total_count",)),
    "MVN_cov": ("MultivariateNormal", {"loc": RNG.standard_normal((2, 3)),
                                       "covariance_matrix": _spd(3)}, ()),
    "MVN_tril": ("MultivariateNormal", {"loc": RNG.standard_normal(3),
                                        "scale_tril": _tril(3, (2,))}, ()),
    "MVN_precision": ("MultivariateNormal", {"loc": RNG.standard_normal((2, 3)),
                                             "precision_matrix": _spd(3, (2,))}, ()),
}
NO_ENTROPY = {"Poisson", "Binomial_logits"}      # PyTorch has none / needs one total_count
NO_MODE = set()


def _param(value, lib, grad):
    if isinstance(value, float):
        return value
    t = (torch.tensor if lib is torch else tk.tensor)(value)
    return t.requires_grad_() if grad else t


def _make(name):
    """(torch distribution, ours, torch parameters, our parameters)."""
    cls, params, fixed = SPECS[name]
    pt = {k: _param(v, torch, k not in fixed) for k, v in params.items()}
    pk = {k: _param(v, tk, k not in fixed) for k, v in params.items()}
    return getattr(TD, cls)(**pt), getattr(D, cls)(**pk), pt, pk


def _close(ours, theirs, atol=1e-9, rtol=1e-7):
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else np.asarray(theirs)
    ours_a = ours.detach().numpy() if isinstance(ours, tk.Tensor) else np.asarray(ours)
    assert ours_a.shape == theirs.shape, (ours_a.shape, theirs.shape)
    np.testing.assert_allclose(ours_a, theirs, atol=atol, rtol=rtol)


def _grads_match(out_t, out_k, pt, pk, atol=1e-8):
    """The gradients of a random weighting of the outputs, parameter by parameter."""
    w = RNG.standard_normal(tuple(out_t.shape))
    wanted = [k for k, v in pt.items() if isinstance(v, torch.Tensor) and v.requires_grad]
    if not wanted:      # number parameters
        assert not out_k.requires_grad
        return
    gt = torch.autograd.grad((out_t * torch.tensor(w)).sum(), [pt[k] for k in wanted],
                             allow_unused=True)
    gk = tk.autograd.grad((out_k * tk.tensor(w)).sum(), [pk[k] for k in wanted],
                          allow_unused=True)
    for k, a, b in zip(wanted, gk, gt):
        if b is None:
            assert a is None or not np.any(a.numpy()), k
        else:
            _close(a, b, atol=atol, rtol=1e-6)


def _values(dist_t, sample_shape=(5,)):
    """Points of the support, from PyTorch's own sampler."""
    torch.manual_seed(3)
    return dist_t.sample(sample_shape).double()


@pytest.mark.parametrize("name", list(SPECS))
def test_shapes_and_moments_match_torch(name):
    dt, dk, _, _ = _make(name)
    assert tuple(dk.batch_shape) == tuple(dt.batch_shape)
    assert tuple(dk.event_shape) == tuple(dt.event_shape)
    for prop in ("mean", "variance", "stddev", "mode"):
        try:
            theirs = getattr(dt, prop)
        except NotImplementedError:
            continue
        _close(getattr(dk, prop), theirs, atol=1e-9)
    assert dk.has_rsample == dt.has_rsample
    assert dk.has_enumerate_support == dt.has_enumerate_support
    assert repr(dk).replace("tinygrad_kr.Size", "torch.Size").split("(")[0] == \
        repr(dt).split("(")[0]


@pytest.mark.parametrize("name", list(SPECS))
def test_log_prob_and_its_gradient_match_torch(name):
    dt, dk, pt, pk = _make(name)
    value = _values(dt)
    lt, lk = dt.log_prob(value), dk.log_prob(tk.tensor(value.numpy()))
    _close(lk, lt, atol=1e-8)
    _grads_match(lt, lk, pt, pk)
    if name == "Uniform":   # its support differs along the batch
        return
    # a value that broadcasts against the batch shape (only the event and last batch dims)
    small = value[0]
    for _ in range(max(0, len(dt.batch_shape) - 1)):
        small = small[0]
    _close(dk.log_prob(tk.tensor(small.numpy())), dt.log_prob(small), atol=1e-8)


@pytest.mark.parametrize("name", sorted(set(SPECS) - NO_ENTROPY))
def test_entropy_and_its_gradient_match_torch(name):
    dt, dk, pt, pk = _make(name)
    et, ek = dt.entropy(), dk.entropy()
    _close(ek, et, atol=1e-8)
    _grads_match(et, ek, pt, pk)


@pytest.mark.parametrize("name", ["Normal", "Uniform", "Exponential", "Laplace", "Gamma",
                                  "Normal_scalar"])
def test_cdf_and_icdf_match_torch(name):
    dt, dk, pt, pk = _make(name)
    value = _values(dt)
    ct, ck = dt.cdf(value), dk.cdf(tk.tensor(value.numpy()))
    _close(ck, ct, atol=1e-9)
    if name != "Gamma":     # PyTorch's gammainc has no gradient in the concentration
        _grads_match(ct, ck, pt, pk)
    else:   # ours does; check it against central differences of PyTorch's values
        conc = pk["concentration"]
        g = tk.autograd.grad(ck.sum(), [conc])[0].numpy()
        h = 1e-6
        c = pt["concentration"].detach()
        num = (TD.Gamma(c + h, pt["rate"].detach()).cdf(value).sum((0, 2))
               - TD.Gamma(c - h, pt["rate"].detach()).cdf(value).sum((0, 2))) / (2 * h)
        np.testing.assert_allclose(g.reshape(-1), num.numpy(), rtol=1e-5, atol=1e-8)
    if name == "Gamma":
        return
    q = RNG.uniform(0.02, 0.98, (5,) + tuple(dt.batch_shape))
    it, ik = dt.icdf(torch.tensor(q)), dk.icdf(tk.tensor(q))
    _close(ik, it, atol=1e-9)
    _grads_match(it, ik, pt, pk)


@pytest.mark.parametrize("name", list(SPECS))
def test_sample_shapes_and_expand(name):
    dt, dk, _, _ = _make(name)
    s = dk.sample((2, 3))
    assert tuple(s.shape) == tuple(dt.sample((2, 3)).shape)
    assert not s.requires_grad
    assert tuple(dk.sample().shape) == tuple(dt.sample().shape)
    if dk.has_rsample:
        r = dk.rsample((4,))
        assert tuple(r.shape) == (4,) + tuple(dk.batch_shape) + tuple(dk.event_shape)
        assert r.requires_grad == any(not isinstance(p, float) for p in SPECS[name][1].values())
    batch = (5,) + tuple(dt.batch_shape)
    et, ek = dt.expand(batch), dk.expand(batch)
    assert type(ek) is type(dk) and tuple(ek.batch_shape) == tuple(et.batch_shape)
    value = _values(et, ())
    _close(ek.log_prob(tk.tensor(value.numpy())), et.log_prob(value), atol=1e-8)
    _close(ek.mean, et.mean)


def test_samples_are_reproducible_from_manual_seed():
    d = D.Normal(tk.zeros(3), tk.ones(3))
    tk.manual_seed(5)
    a = d.sample((4,))
    tk.manual_seed(5)
    assert np.array_equal(a.numpy(), d.sample((4,)).numpy())


STATISTICS = {   # name: (tolerance in standard errors of the sample mean)
    "Normal": 5, "Uniform": 5, "Bernoulli_probs": 5, "Categorical_probs": 5,
    "OneHotCategorical": 5, "Beta": 5, "Gamma": 5, "Dirichlet": 5, "Exponential": 5,
    "Laplace": 5, "Poisson": 5, "Binomial_probs": 5, "MVN_cov": 5, "MVN_precision": 5,
}


@pytest.mark.parametrize("name", list(STATISTICS))
def test_sample_mean_and_variance(name):
    _, dk, _, _ = _make(name)
    n = 20000
    s = dk.sample((n,)).numpy().astype(np.float64)
    if name.startswith("Categorical"):
        p = dk.probs.detach().numpy()
        one_hot = np.eye(p.shape[-1])[s.astype(int)]
        mean, var = p, p * (1 - p)
        s = one_hot
    else:
        mean, var = dk.mean.detach().numpy(), dk.variance.detach().numpy()
    tol = STATISTICS[name] * np.sqrt(var / n) + 1e-12
    assert np.all(np.abs(s.mean(0) - mean) <= tol), (s.mean(0), mean)
    # the variance, loosely (its standard error depends on the 4th moment)
    np.testing.assert_allclose(s.var(0), var, rtol=0.1, atol=1e-3)


def _replayed_noise(draw, seed=123):
    """The noise the engine's generator gives after manual_seed(seed)."""
    tk.manual_seed(seed)
    return draw(np.random.Generator(np.random.PCG64(seed)))


@pytest.mark.parametrize("name,noise,reparam", [
    ("Normal", lambda rng, s: rng.standard_normal(s), lambda d, e: d.loc + e * d.scale),
    ("Laplace", lambda rng, s: rng.random(s) * (2 - 2 ** -52) + (2 ** -52 - 1),
     lambda d, e: d.loc - d.scale * e.sign() * torch.log1p(-e.abs())),
    ("Uniform", lambda rng, s: rng.random(s), lambda d, e: d.low + e * (d.high - d.low)),
    ("Exponential", lambda rng, s: rng.standard_exponential(s), lambda d, e: e / d.rate),
    ("MVN_cov", lambda rng, s: rng.standard_normal(s),
     lambda d, e: d.loc + (d.scale_tril @ e.unsqueeze(-1)).squeeze(-1)),
])
def test_rsample_matches_torch_from_the_same_noise(name, noise, reparam):
    """rsample = PyTorch's reparameterization of the same noise: values and
    gradients with respect to every parameter."""
    dt, dk, pt, pk = _make(name)
    shape = (6,) + tuple(dt.batch_shape) + tuple(dt.event_shape)
    eps = _replayed_noise(lambda rng: noise(rng, shape))
    rk = dk.rsample((6,))
    rt = reparam(dt, torch.tensor(eps))
    _close(rk, rt, atol=1e-9)
    _grads_match(rt, rk, pt, pk)


def test_gamma_rsample_gradient_is_torchs_implicit_gradient():
    """d sample / d concentration equals torch._standard_gamma_grad at the
    same sample (PyTorch approximates it to ~1e-4; ours is exact to ~1e-9)."""
    conc = tk.tensor(np.array([0.2, 0.9, 1.0, 3.5, 40.0]), requires_grad=True)
    rate = tk.tensor(np.array([1.0, 2.0, 0.5, 1.5, 3.0]), requires_grad=True)
    x = D.Gamma(conc, rate).rsample((50,))
    x.sum().backward()
    standard = x.detach().numpy() * rate.detach().numpy()
    ct = torch.tensor(conc.detach().numpy()).expand(50, 5)
    dx_dconc = torch._standard_gamma_grad(ct, torch.tensor(standard)).numpy() \
        / rate.detach().numpy()
    np.testing.assert_allclose(conc.grad.numpy(), dx_dconc.sum(0), rtol=2e-3)
    np.testing.assert_allclose(rate.grad.numpy(), (-x.detach().numpy() /
                                                   rate.detach().numpy()).sum(0), rtol=1e-9)


@pytest.mark.parametrize("name", ["Gamma", "Beta", "Dirichlet"])
def test_implicit_reparameterization_is_unbiased(name):
    """The gradient of the mean of many rsamples equals the gradient of the
    distribution's mean (Beta and Dirichlet differentiate through Gammas)."""
    _, dk, _, pk = _make(name)
    params = [p for p in pk.values() if isinstance(p, tk.Tensor)]
    n = 4000
    mc = tk.autograd.grad(dk.rsample((n,)).mean(0).sum(), params)
    exact = tk.autograd.grad(dk.mean.sum(), params)
    for a, b in zip(mc, exact):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=0.08, rtol=0.1)


def test_gamma_functions_gradcheck():
    a = tk.tensor(np.array([0.3, 1.0, 2.5, 30.0]), requires_grad=True)
    u = tk.tensor(np.array([0.1, 0.5, 0.9, 0.7]), requires_grad=True)
    x = tk.tensor(np.array([0.2, 1.0, 4.0, 25.0]), requires_grad=True)
    assert gradcheck(standard_gamma_inverse_cdf, (a, u))
    assert gradcheck(gammainc, (a, x))


def test_incomplete_gamma_derivative_in_a_matches_mpmath():
    """The numerical dP/da behind the Gamma gradients, from the far left to
    the far right tail, small to large a."""
    mp = pytest.importorskip("mpmath")
    import scipy.special as sp
    from tinygrad_kr.distributions._gamma import _dP_da
    mp.mp.dps = 30
    for a in (0.01, 0.3, 1.0, 7.5, 100.0, 1e4):
        for q in (1e-6, 0.05, 0.5, 0.95, 1 - 1e-6):
            x = sp.gammaincinv(a, q)
            exact = float(mp.diff(lambda s: mp.gammainc(s, 0, x, regularized=True), a))
            ours = float(_dP_da(sp, np, np.array(a), np.array(x)))
            assert ours == pytest.approx(exact, rel=1e-9), (a, q)


def test_gamma_gradient_cannot_be_differentiated_again():
    conc = tk.tensor(np.array([1.5, 2.0]), requires_grad=True)
    x = D.Gamma(conc, 1.0).rsample()
    (g,) = tk.autograd.grad(x.sum(), conc, create_graph=True)
    with pytest.raises(RuntimeError, match="differentiate twice"):
        g.sum().backward()


# -- kl_divergence --------------------------------------------------------------

def _pair(cls_p, kw_p, cls_q, kw_q):
    """make(lib, module) -> (p, q, their parameters)."""
    def make(lib, module):
        leaves = []

        def conv(v):
            leaves.append(_param(v, lib, True))
            return leaves[-1]
        return (getattr(module, cls_p)(**{k: conv(v) for k, v in kw_p.items()}),
                getattr(module, cls_q)(**{k: conv(v) for k, v in kw_q.items()}), leaves)
    return make


def _nrm():
    return {"loc": RNG.standard_normal((2, 3)), "scale": _positive(3)}


def _unit_uniform():
    low = RNG.uniform(0.05, 0.3, (3,))
    return {"low": low, "high": low + RNG.uniform(0.2, 0.6, (3,))}


KL_PAIRS = {
    "Normal-Normal": _pair("Normal", _nrm(), "Normal", _nrm()),
    # (PyTorch's Bernoulli and Categorical KLs need p and q of one batch shape)
    "Bernoulli-Bernoulli": _pair("Bernoulli", {"probs": RNG.uniform(0.1, 0.9, (2, 3))},
                                 "Bernoulli", {"logits": RNG.standard_normal((2, 3))}),
    "Beta-Beta": _pair("Beta", {"concentration1": _positive(3), "concentration0": _positive(3)},
                       "Beta", {"concentration1": _positive(2, 3),
                                "concentration0": _positive(3)}),
    "Categorical-Categorical": _pair("Categorical", {"probs": _probs(2, 4)},
                                     "Categorical", {"logits": RNG.standard_normal((2, 4))}),
    "OneHot-OneHot": _pair("OneHotCategorical", {"probs": _probs(2, 4)},
                           "OneHotCategorical", {"probs": _probs(2, 4)}),
    "Dirichlet-Dirichlet": _pair("Dirichlet", {"concentration": _positive(2, 3)},
                                 "Dirichlet", {"concentration": _positive(3)}),
    "Exponential-Exponential": _pair("Exponential", {"rate": _positive(3)},
                                     "Exponential", {"rate": _positive(2, 3)}),
    "Gamma-Gamma": _pair("Gamma", {"concentration": _positive(3), "rate": _positive(3)},
                         "Gamma", {"concentration": _positive(3), "rate": _positive(3)}),
    "Laplace-Laplace": _pair("Laplace", _nrm(), "Laplace", _nrm()),
    "Poisson-Poisson": _pair("Poisson", {"rate": _positive(3)}, "Poisson", {"rate": _positive(3)}),
    "Uniform-Uniform": _pair("Uniform", {"low": np.array([0.0, 0.0, -1.0]),
                                         "high": np.array([1.0, 2.0, 1.0])},
                             "Uniform", {"low": np.array([-1.0, 0.5, -2.0]),
                                         "high": np.array([2.0, 3.0, 2.0])}),
    "MVN-MVN": _pair("MultivariateNormal", {"loc": RNG.standard_normal((2, 3)),
                                            "covariance_matrix": _spd(3)},
                     "MultivariateNormal", {"loc": RNG.standard_normal(3),
                                            "scale_tril": _tril(3, (2,))}),
    "Bernoulli-Poisson": _pair("Bernoulli", {"probs": RNG.uniform(0.1, 0.9, (3,))},
                               "Poisson", {"rate": _positive(3)}),
    "Beta-Exponential": _pair("Beta", {"concentration1": _positive(3),
                                       "concentration0": _positive(3)},
                              "Exponential", {"rate": _positive(3)}),
    "Beta-Gamma": _pair("Beta", {"concentration1": _positive(3), "concentration0": _positive(3)},
                        "Gamma", {"concentration": _positive(3), "rate": _positive(3)}),
    "Beta-Normal": _pair("Beta", {"concentration1": _positive(3), "concentration0": _positive(3)},
                         "Normal", _nrm()),
    "Beta-Uniform": _pair("Beta", {"concentration1": _positive(3),
                                   "concentration0": _positive(3)},
                          "Uniform", {"low": np.array([-1.0, 0.0, 0.2]),
                                      "high": np.array([2.0, 1.0, 1.0])}),
    "Exponential-Gamma": _pair("Exponential", {"rate": _positive(3)},
                               "Gamma", {"concentration": _positive(3), "rate": _positive(3)}),
    "Exponential-Normal": _pair("Exponential", {"rate": _positive(3)}, "Normal", _nrm()),
    "Gamma-Exponential": _pair("Gamma", {"concentration": _positive(3), "rate": _positive(3)},
                               "Exponential", {"rate": _positive(3)}),
    "Gamma-Normal": _pair("Gamma", {"concentration": _positive(3), "rate": _positive(3)},
                          "Normal", _nrm()),
    "Laplace-Normal": _pair("Laplace", _nrm(), "Normal", _nrm()),
    "Normal-Laplace": _pair("Normal", _nrm(), "Laplace", _nrm()),
    "Uniform-Beta": _pair("Uniform", _unit_uniform(), "Beta",
                          {"concentration1": _positive(3), "concentration0": _positive(3)}),
    "Uniform-Exponential": _pair("Uniform", _unit_uniform(), "Exponential",
                                 {"rate": _positive(3)}),
    "Uniform-Gamma": _pair("Uniform", _unit_uniform(), "Gamma",
                           {"concentration": _positive(3), "rate": _positive(3)}),
    "Uniform-Normal": _pair("Uniform", _unit_uniform(), "Normal", _nrm()),
    "Normal-Exponential (inf)": _pair("Normal", _nrm(), "Exponential", {"rate": _positive(3)}),
    "Gamma-Uniform (inf)": _pair("Gamma", {"concentration": _positive(3), "rate": _positive(3)},
                                 "Uniform", _unit_uniform()),
    "Poisson-Bernoulli (inf)": _pair("Poisson", {"rate": _positive(3)}, "Bernoulli",
                                     {"probs": RNG.uniform(0.1, 0.9, (3,))}),
}


@pytest.mark.parametrize("name", list(KL_PAIRS))
def test_kl_divergence_and_its_gradient_match_torch(name):
    pt, qt, leaves_t = KL_PAIRS[name](torch, TD)
    pk, qk, leaves_k = KL_PAIRS[name](tk, D)
    kt, kk = TD.kl_divergence(pt, qt), D.kl_divergence(pk, qk)
    _close(kk, kt, atol=1e-8)
    finite = np.isfinite(kt.detach().numpy())
    if finite.any() and kt.requires_grad:
        w = np.where(finite, RNG.standard_normal(tuple(kt.shape)), 0.0)
        kt_w = torch.where(torch.tensor(finite), kt, 0.0)
        kk_w = tk.where(tk.tensor(finite), kk, 0.0)
        gt = torch.autograd.grad((kt_w * torch.tensor(w)).sum(), leaves_t, allow_unused=True)
        gk = tk.autograd.grad((kk_w * tk.tensor(w)).sum(), leaves_k, allow_unused=True)
        for a, b in zip(gk, gt):
            if b is not None:
                _close(a, b, atol=1e-8, rtol=1e-6)


def test_kl_for_independent_and_binomial_and_unregistered_pairs():
    loc, scale = RNG.standard_normal((2, 3)), _positive(2, 3)
    pt = TD.Independent(TD.Normal(torch.tensor(loc), torch.tensor(scale)), 1)
    qt = TD.Independent(TD.Normal(torch.tensor(scale), torch.tensor(scale)), 1)
    pk = D.Independent(D.Normal(tk.tensor(loc), tk.tensor(scale)), 1)
    qk = D.Independent(D.Normal(tk.tensor(scale), tk.tensor(scale)), 1)
    _close(D.kl_divergence(pk, qk), TD.kl_divergence(pt, qt))
    bt = [TD.Binomial(torch.tensor([5.0, 6.0]), probs=torch.tensor([0.3, 0.6])),
          TD.Binomial(torch.tensor([5.0, 5.0]), probs=torch.tensor([0.5, 0.2]))]
    bk = [D.Binomial(tk.tensor([5.0, 6.0]), probs=tk.tensor([0.3, 0.6])),
          D.Binomial(tk.tensor([5.0, 5.0]), probs=tk.tensor([0.5, 0.2]))]
    _close(D.kl_divergence(*bk), TD.kl_divergence(*bt), atol=1e-6)
    with pytest.raises(NotImplementedError, match="q.total_count > p.total_count"):
        D.kl_divergence(bk[1], bk[0])
    with pytest.raises(NotImplementedError, match="No KL"):
        D.kl_divergence(D.Categorical(probs=tk.tensor([0.5, 0.5])), D.Normal(0.0, 1.0))

    class MyNormal(D.Normal):
        pass

    @D.register_kl(MyNormal, D.Normal)
    def _kl_mine(p, q):
        return p.loc * 0 + 42.0
    assert D.kl_divergence(MyNormal(0.0, 1.0), D.Normal(1.0, 2.0)).item() == 42.0
    assert D.kl_divergence(D.Normal(0.0, 1.0), MyNormal(1.0, 2.0)).item() != 42.0


# -- toy losses -------------------------------------------------------------------

def _linear_params(n_in, n_out):
    w, b = RNG.standard_normal((n_out, n_in)) * 0.5, RNG.standard_normal(n_out) * 0.1
    return ([torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True)],
            [tk.tensor(w, requires_grad=True), tk.tensor(b, requires_grad=True)])


def test_reinforce_loss_gradients_match_torch():
    """A policy gradient: -(log pi(a|s) * advantage) - beta * entropy, with the
    actions drawn once and fed to both libraries."""
    states = RNG.standard_normal((16, 5))
    (wt, bt), (wk, bk) = _linear_params(5, 3)
    actions = D.Categorical(logits=tk.tensor(states) @ wk.detach().t() + bk.detach()).sample()
    rewards = RNG.standard_normal(16)

    def loss(lib, module, w, b, a):
        pi = module.Categorical(logits=lib.tensor(states) @ w.t() + b)
        adv = lib.tensor(rewards) - lib.tensor(rewards).mean()
        return -(pi.log_prob(a) * adv).mean() - 0.01 * pi.entropy().mean()
    lt = loss(torch, TD, wt, bt, torch.tensor(actions.numpy()))
    lk = loss(tk, D, wk, bk, actions)
    _close(lk, lt)
    lt.backward()
    lk.backward()
    _close(wk.grad, wt.grad)
    _close(bk.grad, bt.grad)


def test_vae_loss_gradients_match_torch():
    """A VAE step: encoder -> Normal(mu, sigma) -> rsample -> decoder ->
    Bernoulli log-likelihood, minus kl_divergence to N(0, I), with the
    encoder's noise replayed for PyTorch."""
    x = (RNG.random((8, 6)) < 0.5).astype(np.float64)
    enc_t, enc_k = _linear_params(6, 4)         # -> mu (2) and log-variance (2)
    dec_t, dec_k = _linear_params(2, 6)
    eps = _replayed_noise(lambda rng: rng.standard_normal((8, 2)))

    def loss(lib, module, enc, dec, z_of):
        h = lib.tensor(x) @ enc[0].t() + enc[1]
        mu, logvar = h[:, :2], h[:, 2:]
        q = module.Independent(module.Normal(mu, (0.5 * logvar).exp()), 1)
        z = z_of(q)
        logits = z @ dec[0].t() + dec[1]
        rec = module.Independent(module.Bernoulli(logits=logits), 1).log_prob(lib.tensor(x))
        prior = module.Independent(module.Normal(lib.zeros(8, 2, dtype=mu.dtype),
                                                 lib.ones(8, 2, dtype=mu.dtype)), 1)
        return -(rec - module.kl_divergence(q, prior)).mean()
    lk = loss(tk, D, enc_k, dec_k, lambda q: q.rsample())
    lt = loss(torch, TD, enc_t, dec_t,
              lambda q: q.base_dist.loc + torch.tensor(eps) * q.base_dist.scale)
    _close(lk, lt)
    lt.backward()
    lk.backward()
    for a, b in zip(enc_k + dec_k, enc_t + dec_t):
        _close(a.grad, b.grad)


# -- validation -----------------------------------------------------------------------

def _same_value_error(make_ours, make_theirs):
    with pytest.raises(ValueError) as theirs:
        make_theirs()
    with pytest.raises(ValueError) as ours:
        make_ours()
    # the first line (the rest prints the tensors, which print their own way)
    first = lambda e: str(e.value).replace("tinygrad_kr.", "torch.").split("\n")[0]  # noqa: E731
    assert first(ours) == first(theirs)


def test_validate_args_errors_match_torch():
    _same_value_error(lambda: D.Normal(0.0, -1.0), lambda: TD.Normal(0.0, -1.0))
    _same_value_error(lambda: D.Normal(tk.zeros(2), tk.tensor([1.0, 0.0])),
                      lambda: TD.Normal(torch.zeros(2), torch.tensor([1.0, 0.0])))
    _same_value_error(lambda: D.Bernoulli(probs=tk.tensor(1.5)),
                      lambda: TD.Bernoulli(probs=torch.tensor(1.5)))
    _same_value_error(lambda: D.Bernoulli(), lambda: TD.Bernoulli())
    _same_value_error(lambda: D.Categorical(probs=tk.tensor(0.5)),
                      lambda: TD.Categorical(probs=torch.tensor(0.5)))
    _same_value_error(lambda: D.Uniform(1.0, 0.0), lambda: TD.Uniform(1.0, 0.0))
    _same_value_error(lambda: D.Gamma(tk.tensor([1.0, -2.0]), 1.0),
                      lambda: TD.Gamma(torch.tensor([1.0, -2.0]), 1.0))
    _same_value_error(lambda: D.Poisson(tk.tensor(-1.0)), lambda: TD.Poisson(torch.tensor(-1.0)))
    _same_value_error(lambda: D.Binomial(tk.tensor(2.5), probs=tk.tensor(0.5)),
                      lambda: TD.Binomial(torch.tensor(2.5), probs=torch.tensor(0.5)))
    _same_value_error(lambda: D.MultivariateNormal(tk.zeros(2), tk.tensor([[1.0, 2.0],
                                                                          [2.0, 1.0]])),
                      lambda: TD.MultivariateNormal(torch.zeros(2), torch.tensor([[1.0, 2.0],
                                                                                 [2.0, 1.0]])))
    _same_value_error(lambda: D.MultivariateNormal(tk.zeros(2)),
                      lambda: TD.MultivariateNormal(torch.zeros(2)))
    _same_value_error(lambda: D.Independent(D.Normal(0.0, 1.0), 1),
                      lambda: TD.Independent(TD.Normal(0.0, 1.0), 1))
    n_k, n_t = D.Normal(tk.zeros(3), tk.ones(3)), TD.Normal(torch.zeros(3), torch.ones(3))
    _same_value_error(lambda: n_k.log_prob(tk.zeros(4)), lambda: n_t.log_prob(torch.zeros(4)))
    _same_value_error(lambda: n_k.log_prob([0.0]), lambda: n_t.log_prob([0.0]))
    _same_value_error(lambda: n_k.log_prob(tk.tensor(math.nan)),
                      lambda: n_t.log_prob(torch.tensor(math.nan)))
    b_k, b_t = D.Bernoulli(probs=tk.tensor(0.3)), TD.Bernoulli(probs=torch.tensor(0.3))
    _same_value_error(lambda: b_k.log_prob(tk.tensor(0.5)), lambda: b_t.log_prob(torch.tensor(0.5)))
    m_k = D.MultivariateNormal(tk.zeros(3), tk.eye(3))
    m_t = TD.MultivariateNormal(torch.zeros(3), torch.eye(3))
    _same_value_error(lambda: m_k.log_prob(tk.zeros(2)), lambda: m_t.log_prob(torch.zeros(2)))
    c_k, c_t = D.Categorical(probs=tk.ones(2, 3) / 3), TD.Categorical(probs=torch.ones(2, 3) / 3)
    _same_value_error(lambda: c_k.log_prob(tk.tensor([3, 0])),
                      lambda: c_t.log_prob(torch.tensor([3, 0])))


def test_validation_can_be_turned_off():
    d = D.Normal(0.0, -1.0, validate_args=False)
    assert math.isnan(d.log_prob(tk.tensor(0.0)).item())
    D.Normal(0.0, 1.0, validate_args=False).log_prob(tk.tensor(math.nan))
    try:
        D.Distribution.set_default_validate_args(False)
        D.Normal(0.0, -1.0)
        with pytest.raises(ValueError, match="scale"):
            D.Normal(0.0, -1.0, validate_args=True)
    finally:
        D.Distribution.set_default_validate_args(True)
    with pytest.raises(ValueError):
        D.Normal(0.0, -1.0)


def test_constraints_match_torch():
    C, TC = D.constraints, TD.constraints
    values = [np.array([-1.0, 0.0, 0.5, 1.0, 2.0, math.nan]), np.array([0.0, 1.0, 3.0, 2.5])]
    for name in ("real", "positive", "nonnegative", "unit_interval", "boolean",
                 "nonnegative_integer", "positive_integer"):
        for v in values:
            _close(getattr(C, name).check(tk.tensor(v)), getattr(TC, name).check(torch.tensor(v)))
        assert repr(getattr(C, name)) == repr(getattr(TC, name))
    m = np.stack([_spd(3), -_spd(3), _tril(3), np.ones((3, 3))])
    for name in ("positive_definite", "lower_cholesky", "lower_triangular", "symmetric",
                 "positive_semidefinite"):
        _close(getattr(C, name).check(tk.tensor(m)), getattr(TC, name).check(torch.tensor(m)))
    s = np.array([[0.2, 0.8], [0.5, 0.6], [1.0, 0.0]])
    _close(C.simplex.check(tk.tensor(s)), TC.simplex.check(torch.tensor(s)))
    _close(C.one_hot.check(tk.tensor(s)), TC.one_hot.check(torch.tensor(s)))
    _close(C.interval(0.0, 0.7).check(tk.tensor(s)), TC.interval(0.0, 0.7).check(torch.tensor(s)))
    _close(C.independent(C.positive, 1).check(tk.tensor(s)),
           TC.independent(TC.positive, 1).check(torch.tensor(s)))
    assert C.is_dependent(C.dependent) and not C.is_dependent(C.real)
    assert D.Uniform(0.0, 1.0).support.check(tk.tensor(0.5)).item()


def test_enumerate_support_matches_torch():
    for name in ("Bernoulli_probs", "Categorical_probs", "OneHotCategorical", "Binomial_probs"):
        dt, dk, _, _ = _make(name)
        for expand in (True, False):
            _close(dk.enumerate_support(expand), dt.enumerate_support(expand))


def test_dirichlet_and_beta_mode_at_the_boundaries_match_torch():
    # a flat row (no concentration above 1, not all below) has no mode: NaN
    # as PyTorch's 0 / 0, not zeros; all below 1: a corner
    c = np.array([[1.0, 1.0, 1.0], [0.5, 1.0, 0.3], [0.5, 0.2, 0.3], [2.0, 0.5, 3.0]])
    _close(D.Dirichlet(tk.tensor(c)).mode, TD.Dirichlet(torch.tensor(c)).mode)
    a, b = np.array([1.0, 0.5, 2.0, 0.5]), np.array([1.0, 1.0, 0.5, 0.3])
    _close(D.Beta(tk.tensor(a), tk.tensor(b)).mode,
           TD.Beta(torch.tensor(a), torch.tensor(b)).mode)


def test_float32_parameters_stay_float32():
    d = D.Normal(tk.zeros(3), tk.ones(3))
    assert d.sample().dtype == tk.float32 and d.log_prob(tk.zeros(3)).dtype == tk.float32
    g = D.Gamma(tk.ones(2), tk.ones(2))
    assert g.rsample().dtype == tk.float32 and g.log_prob(tk.ones(2)).dtype == tk.float32
    assert D.Normal(0.0, 1.0).sample().dtype == tk.float32


BREGMAN = {   # two members of one exponential family each
    "Normal": lambda: (D.Normal(tk.tensor(RNG.standard_normal(3)), tk.tensor(_positive(3))),
                       D.Normal(tk.tensor(RNG.standard_normal(3)), tk.tensor(_positive(3)))),
    "Gamma": lambda: (D.Gamma(tk.tensor(_positive(3)), tk.tensor(_positive(3))),
                      D.Gamma(tk.tensor(_positive(3)), tk.tensor(_positive(3)))),
    "Exponential": lambda: (D.Exponential(tk.tensor(_positive(3))),
                            D.Exponential(tk.tensor(_positive(3)))),
    "Bernoulli": lambda: (D.Bernoulli(logits=tk.tensor(RNG.standard_normal(3))),
                          D.Bernoulli(logits=tk.tensor(RNG.standard_normal(3)))),
    "Poisson": lambda: (D.Poisson(tk.tensor(_positive(3))), D.Poisson(tk.tensor(_positive(3)))),
    "Beta": lambda: (D.Beta(tk.tensor(_positive(3)), tk.tensor(_positive(3))),
                     D.Beta(tk.tensor(_positive(3)), tk.tensor(_positive(3)))),
    "Dirichlet": lambda: (D.Dirichlet(tk.tensor(_positive(2, 3))),
                          D.Dirichlet(tk.tensor(_positive(2, 3)))),
}


@pytest.mark.parametrize("name", list(BREGMAN))
def test_exponential_family_bregman_formulas_agree_with_closed_forms(name):
    """ExponentialFamily's KL (and, where the carrier measure is known, its
    entropy), derived by autograd from the log normalizer, equal the closed
    forms."""
    from tinygrad_kr.distributions.kl import _kl_expfamily_expfamily
    p, q = BREGMAN[name]()
    _close(_kl_expfamily_expfamily(p, q), D.kl_divergence(p, q), atol=1e-9)
    if name not in ("Beta", "Dirichlet", "Poisson"):    # no _mean_carrier_measure (as PyTorch)
        _close(D.ExponentialFamily.entropy(p), p.entropy(), atol=1e-9)
