"""The fused nn kernels (csrc/loss.pyx, elementwise.pyx, norm.pyx) against their
NumPy twins (kernels/ref_loss.py, ref_elementwise.py, ref_norm.py), and the
twins against PyTorch where PyTorch is installed."""
import itertools
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tinygrad_kr import kernels

from cases import rng_for as _rng, torch_one_thread as _torch
from needs import unavailable

DTYPES = [np.float32, np.float64]
# float32: the compiled kernels accumulate in double and use their own exp
# (< 1 ulp), the twins accumulate in float32: agreement to a few float32 ulps
# of the largest term.  float64: both are within an ulp or two per operation.
TOL = {np.float32: dict(rtol=1e-5, atol=2e-6), np.float64: dict(rtol=1e-12, atol=1e-13)}


def _pair(name, group):
    """(compiled, twin) of kernel ``name``; skips when it was not compiled."""
    fn = kernels.compiled(name)
    if fn is None:
        unavailable(f"{name} is not compiled ({kernels.build_errors().get(group)})")
    return fn, kernels.reference(name)


# -- cross entropy / nll: inputs ------------------------------------------------------------

# (C,) unbatched, odd sizes, size-1 dims, an empty batch, spatial dims (strided rows).
CE_SHAPES = [(5,), (1, 1), (7, 3), (3, 1), (0, 4), (2, 3, 4), (2, 5, 1, 3), (1, 4, 0)]
CE_OPTIONS = list(itertools.product(
    ["index", "prob"], [False, True], ["none", "mean", "sum"], [0.0, 0.25]))


def _class_target_shape(shape):
    return () if len(shape) == 1 else (shape[0],) + tuple(shape[2:])


def _ce_case(shape, dtype, kind, weighted, rng, ignore_index=-100, scale=3.0):
    """logits, target and weight for one cross-entropy case."""
    n_classes = shape[0] if len(shape) == 1 else shape[1]
    logits = (rng.standard_normal(shape) * scale).astype(dtype)
    if kind == "prob":
        target = rng.random(shape).astype(dtype)
    else:
        target = rng.integers(0, n_classes, _class_target_shape(shape))
        if target.size > 1:
            target.reshape(-1)[1] = ignore_index   # one ignored row
    weight = (rng.random(n_classes) + 0.5).astype(dtype) if weighted else None
    return logits, target, weight


def _ce_both(logits, target, weight, ignore_index, reduction, ls, gloss=None):
    """Run forward+backward of the compiled kernels and the twins; return both results."""
    fwd_c, fwd_r = _pair("cross_entropy_forward", "loss")
    bwd_c, bwd_r = _pair("cross_entropy_backward", "loss")
    out = []
    for fwd, bwd in ((fwd_c, bwd_c), (fwd_r, bwd_r)):
        loss, lse, total = fwd(logits, target, weight, ignore_index, reduction, ls)
        g = np.ones(loss.shape, logits.dtype) if gloss is None else gloss
        out.append((loss, lse, total, bwd(logits, target, lse, g, total, weight, ignore_index,
                                          reduction, ls)))
    return out


def _assert_same(got, want, dtype):
    np.testing.assert_allclose(got, want, **TOL[dtype])


# -- cross entropy: compiled vs twin --------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", CE_SHAPES)
def test_cross_entropy_matches_twin(shape, dtype):
    for kind, weighted, reduction, ls in CE_OPTIONS:
        rng = _rng(shape, dtype, kind, weighted, reduction, ls)
        ignore = -100 if kind == "prob" else 2
        logits, target, weight = _ce_case(shape, dtype, kind, weighted, rng, ignore)
        gloss = None
        if reduction == "none":
            gloss = rng.standard_normal(_class_target_shape(shape)).astype(dtype)
        (lc, sc, tc, gc), (lr, sr, tr, gr) = _ce_both(logits, target, weight, ignore, reduction,
                                                      ls, gloss)
        assert lc.dtype == lr.dtype == dtype and lc.shape == lr.shape
        assert gc.dtype == gr.dtype == dtype and gc.shape == gr.shape == logits.shape
        assert sc.dtype == sr.dtype == np.float64
        _assert_same(lc, lr, dtype)
        _assert_same(gc, gr, dtype)
        np.testing.assert_allclose(sc, sr, **TOL[dtype])
        assert tc == pytest.approx(tr, rel=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_noncontiguous_input(dtype):
    rng = _rng("noncontig", dtype)
    base = rng.standard_normal((9, 14)).astype(dtype)
    for logits in (base.T, base[::2, ::3], base[:, 1:8]):
        assert not logits.flags.c_contiguous
        target = rng.integers(0, logits.shape[1], logits.shape[0])
        (lc, _, _, gc), (lr, _, _, gr) = _ce_both(logits, target, None, -100, "sum", 0.1)
        _assert_same(lc, lr, dtype)
        _assert_same(gc, gr, dtype)
        assert gc.flags.c_contiguous and gc.shape == logits.shape


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_threaded_path_matches_twin(dtype):
    """A problem big enough for the OpenMP row loop, with every option on."""
    rng = _rng("big", dtype)
    for kind in ("index", "prob"):
        logits, target, weight = _ce_case((600, 97), dtype, kind, True, rng)
        for reduction in ("none", "mean"):
            gloss = rng.standard_normal(600).astype(dtype) if reduction == "none" else None
            (lc, _, _, gc), (lr, _, _, gr) = _ce_both(logits, target, weight, -100, reduction,
                                                      0.1, gloss)
            _assert_same(lc, lr, dtype)
            _assert_same(gc, gr, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["index", "prob"])
def test_cross_entropy_extreme_logits_stay_finite(dtype, kind):
    """Logits of +-1e4 (exp would overflow) give finite, correct loss and gradients."""
    rng = _rng("extreme", dtype, kind)
    logits = (rng.choice([-1e4, 1e4], size=(6, 5)) + rng.standard_normal((6, 5))).astype(dtype)
    _, target, weight = _ce_case((6, 5), dtype, kind, True, rng)
    (lc, _, _, gc), (lr, _, _, gr) = _ce_both(logits, target, weight, -100, "none", 0.2)
    for arr in (lc, gc, lr, gr):
        assert np.isfinite(arr).all()
    # a loss of ~1e4 is known to an ulp of 1e4 in float32
    np.testing.assert_allclose(lc, lr, rtol=TOL[dtype]["rtol"], atol=1e4 * np.finfo(dtype).eps)
    _assert_same(gc, gr, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_masked_logits(dtype):
    """-inf logits (masked classes) get probability 0 and gradient 0; a row
    whose target is masked has an infinite loss, as in PyTorch."""
    logits = np.array([[0.5, -np.inf, 2.0], [-np.inf, 1.0, -np.inf], [-np.inf, 0.0, 1.0]],
                      dtype=dtype)
    target = np.array([0, 1, -100])          # the last row is ignored
    with np.errstate(all="raise"):
        (lc, _, _, gc), (lr, _, _, gr) = _ce_both(logits, target, None, -100, "none", 0.0)
    _assert_same(lc, lr, dtype)
    _assert_same(gc, gr, dtype)
    assert np.isfinite(lc).all() and gc[0, 1] == 0 and lc[1] == 0 and lc[2] == 0
    assert (gc[2] == 0).all()
    loss, _, _ = kernels.compiled("cross_entropy_forward")(logits, np.array([1, 1, 1]), None,
                                                           -100, "none", 0.0)
    assert loss[0] == np.inf


def test_cross_entropy_nan_logits_propagate():
    logits = np.array([[0.0, np.nan, 1.0], [0.0, 1.0, 2.0]])
    loss, _, _ = kernels.compiled("cross_entropy_forward")(logits, np.array([0, 2]), None,
                                                           -100, "none", 0.0)
    assert np.isnan(loss[0]) and np.isfinite(loss[1])


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_cross_entropy_all_ignored_or_empty(reduction):
    """'mean' over no counted target is nan (0/0), as in PyTorch; 'sum' is 0."""
    for logits, target in ((np.ones((3, 4)), np.full(3, -100)),
                           (np.ones((0, 4)), np.zeros(0, np.int64))):
        (lc, _, _, gc), (lr, _, _, gr) = _ce_both(logits, target, None, -100, reduction, 0.1)
        np.testing.assert_array_equal(lc, lr)
        assert (np.isnan(lc) if reduction == "mean" else lc == 0)
        np.testing.assert_array_equal(gc == 0, gr == 0)


def test_cross_entropy_uint8_targets():
    logits = _rng("u8").standard_normal((5, 4))
    target = np.array([0, 3, 1, 2, 2], dtype=np.uint8)
    (lc, _, _, gc), (lr, _, _, gr) = _ce_both(logits, target, None, -100, "mean", 0.0)
    (l64, _, _, g64), _ = _ce_both(logits, target.astype(np.int64), None, -100, "mean", 0.0)
    _assert_same(lc, l64, np.float64)
    _assert_same(gc, g64, np.float64)
    _assert_same(lr, l64, np.float64)


# -- bad arguments raise the same clear error in both implementations -----------------------

BAD_CE = [
    # (logits, target, options, exception, words the message must contain)
    (np.zeros((4, 3)), np.array([0, 1, 3, 0]), {}, IndexError, ["target 3", "3 classes"]),
    (np.zeros((4, 3)), np.array([0, -1, 2, 0]), {}, IndexError, ["target -1", "3 classes"]),
    (np.zeros((4, 3)), np.array([0, 1, 2, 10 ** 12]), {}, IndexError, ["1000000000000"]),
    (np.zeros((2, 3, 2)), np.array([[0, 1], [5, 0]]), {}, IndexError, ["target 5"]),
    (np.zeros((4, 3)), np.array([0, 1, 2, -100]), dict(ignore_index=1), IndexError, ["-100"]),
    (np.zeros((4, 3)), np.array([0, 1, 2]), {}, ValueError, ["(3,)", "(4, 3)"]),
    (np.zeros((4, 3)), np.zeros((4, 1), np.int64), {}, ValueError, ["(4, 1)", "(4,)"]),
    (np.zeros((4, 3)), np.zeros(4, np.int32), {}, TypeError, ["int32"]),
    (np.zeros((4, 3)), np.zeros(4, bool), {}, TypeError, ["bool"]),
    (np.zeros((4, 3)), np.zeros(4, np.float64), {}, ValueError, ["(4,)", "(4, 3)"]),
    (np.zeros((4, 3)), np.zeros((4, 3)), dict(ignore_index=0), ValueError, ["ignore_index"]),
    (np.zeros((4, 3), np.int64), np.zeros(4, np.int64), {}, TypeError, ["float32 or float64"]),
    (np.zeros((4, 3), np.float16), np.zeros(4, np.int64), {}, TypeError, ["float16"]),
    (np.zeros(()), np.zeros((), np.int64), {}, ValueError, ["class dimension"]),
    (np.zeros((4, 0)), np.zeros(4, np.int64), {}, ValueError, ["no classes"]),
    (np.zeros((4, 3)), np.zeros(4, np.int64), dict(reduction="avg"), ValueError, ["avg"]),
    (np.zeros((4, 3)), np.zeros(4, np.int64), dict(label_smoothing=1.5), ValueError, ["1.5"]),
    (np.zeros((4, 3)), np.zeros(4, np.int64), dict(weight=np.ones(4)), ValueError, ["3 classes"]),
    (np.zeros((4, 3)), np.zeros(4, np.int64), dict(weight=np.ones(3, np.float32)), TypeError,
     ["float32"]),
]


@pytest.mark.parametrize("case", range(len(BAD_CE)))
@pytest.mark.parametrize("which", ["forward", "backward"])
def test_cross_entropy_bad_arguments_raise(case, which):
    logits, target, options, exc, words = BAD_CE[case]
    args = dict(weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0)
    args.update(options)
    messages = []
    for fn in _pair(f"cross_entropy_{which}", "loss"):
        with pytest.raises(exc) as info:
            if which == "forward":
                fn(logits, target, args["weight"], args["ignore_index"], args["reduction"],
                   args["label_smoothing"])
            else:
                lse = np.zeros(1)   # never reached: the arguments are checked first
                fn(logits, target, lse, np.ones(()), 1.0, args["weight"], args["ignore_index"],
                   args["reduction"], args["label_smoothing"])
        messages.append(str(info.value))
    for word in words:
        assert word in messages[0], messages[0]
    assert messages[0] == messages[1]


def test_cross_entropy_backward_rejects_bad_saved_values():
    bwd = _pair("cross_entropy_backward", "loss")[0]
    logits, target = np.zeros((4, 3)), np.zeros(4, np.int64)
    with pytest.raises(ValueError, match="lse"):
        bwd(logits, target, np.zeros(3), np.ones(()), 4.0)
    with pytest.raises(ValueError, match="lse"):
        bwd(logits, target, np.zeros(4, np.float32), np.ones(()), 4.0)
    with pytest.raises(ValueError, match="gradient"):
        bwd(logits, target, np.zeros(4), np.ones(5), 4.0, None, -100, "none")


# -- hypothesis: compiled and twin agree on everything, errors included ---------------------

@st.composite
def ce_problems(draw):
    ndim = draw(st.integers(1, 4))
    shape = tuple(draw(st.lists(st.integers(0, 5), min_size=ndim, max_size=ndim)))
    if ndim == 1:
        shape = (max(shape[0], 1),)
    n_classes = shape[0] if ndim == 1 else shape[1]
    dtype = draw(st.sampled_from(DTYPES))
    seed = draw(st.integers(0, 2 ** 31))
    rng = np.random.default_rng(seed)
    logits = (rng.standard_normal(shape) * draw(st.sampled_from([0.1, 3.0, 1e3]))).astype(dtype)
    ignore_index = draw(st.sampled_from([-100, -1, 0, 2]))
    if draw(st.booleans()):
        target = rng.random(shape).astype(dtype)     # probabilities (maybe a bad ignore_index)
    else:
        # labels mostly valid, sometimes negative or >= C
        low, high = draw(st.sampled_from([(0, max(n_classes, 1)), (-3, n_classes + 3)]))
        target = rng.integers(low, high, _class_target_shape(shape))
    weight = (rng.random(n_classes) + 0.1).astype(dtype) if draw(st.booleans()) else None
    reduction = draw(st.sampled_from(["none", "mean", "sum"]))
    ls = draw(st.sampled_from([0.0, 0.3, 1.0]))
    return logits, target, weight, ignore_index, reduction, ls


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ce_problems())
def test_cross_entropy_fuzz_matches_twin(problem):
    logits, target, weight, ignore_index, reduction, ls = problem
    results = []
    for fwd, bwd in zip(_pair("cross_entropy_forward", "loss"),
                        _pair("cross_entropy_backward", "loss")):
        try:
            with np.errstate(all="ignore"):
                loss, lse, total = fwd(logits, target, weight, ignore_index, reduction, ls)
                gx = bwd(logits, target, lse, np.ones(loss.shape, logits.dtype), total, weight,
                         ignore_index, reduction, ls)
            results.append((loss, gx))
        except (IndexError, ValueError, TypeError) as e:
            results.append((type(e), str(e)))
    (a0, a1), (b0, b1) = results
    if isinstance(a0, type):
        assert (a0, a1) == (b0, b1)
        return
    assert not isinstance(b0, type), b1
    tol = dict(TOL[logits.dtype.type])
    tol["atol"] *= 1 + float(np.abs(logits).max(initial=0))
    np.testing.assert_allclose(a0, b0, **tol)
    np.testing.assert_allclose(a1, b1, **tol)


# -- nll loss -----------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", CE_SHAPES)
def test_nll_loss_matches_twin(shape, dtype):
    fwd = _pair("nll_loss_forward", "loss")
    bwd = _pair("nll_loss_backward", "loss")
    for weighted, reduction in itertools.product([False, True], ["none", "mean", "sum"]):
        rng = _rng("nll", shape, dtype, weighted, reduction)
        logp, target, weight = _ce_case(shape, dtype, "index", weighted, rng, ignore_index=1)
        (lc, tc), (lr, tr) = (f(logp, target, weight, 1, reduction) for f in fwd)
        g = rng.standard_normal(lc.shape).astype(dtype)
        gc, gr = (b(logp, target, g, t, weight, 1, reduction) for b, t in zip(bwd, (tc, tr)))
        _assert_same(lc, lr, dtype)
        _assert_same(gc, gr, dtype)
        assert tc == pytest.approx(tr)


@pytest.mark.parametrize("target, exc", [(np.array([0, 4]), IndexError),
                                         (np.array([-2, 0]), IndexError),
                                         (np.array([0.0, 1.0]), TypeError),
                                         (np.array([0, 1, 2]), ValueError)])
def test_nll_loss_bad_targets_raise(target, exc):
    messages = []
    for fn in _pair("nll_loss_forward", "loss"):
        with pytest.raises(exc) as info:
            fn(np.zeros((2, 4)), target, None, -100, "mean")
        messages.append(str(info.value))
    assert messages[0] == messages[1] and "nll_loss" in messages[0]


# -- twins against PyTorch (the oracle's oracle) --------------------------------------------

def test_loss_twins_match_torch():
    torch = _torch()
    F = torch.nn.functional
    fwd = kernels.reference("cross_entropy_forward")
    bwd = kernels.reference("cross_entropy_backward")
    for shape in [(5,), (4, 5), (3, 4, 2), (0, 3)]:
        for kind, weighted, reduction, ls in CE_OPTIONS:
            rng = _rng("torch", shape, kind, weighted, reduction, ls)
            ignore = -100 if kind == "prob" else 2
            logits, target, weight = _ce_case(shape, np.float64, kind, weighted, rng, ignore)
            loss, lse, total = fwd(logits, target, weight, ignore, reduction, ls)
            x = torch.tensor(logits, requires_grad=True)
            ref = F.cross_entropy(x, torch.tensor(target), ignore_index=ignore,
                                  weight=None if weight is None else torch.tensor(weight),
                                  reduction=reduction, label_smoothing=ls)
            g = rng.standard_normal(ref.shape)
            ref.backward(torch.tensor(g))
            np.testing.assert_allclose(loss, ref.detach().numpy(), rtol=1e-12, atol=1e-14)
            gx = bwd(logits, target, lse, g, total, weight, ignore, reduction, ls)
            np.testing.assert_allclose(gx, x.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_norm_twins_match_torch():
    torch = _torch()
    F = torch.nn.functional
    fwd, bwd = kernels.reference("batch_norm_forward"), kernels.reference("batch_norm_backward")
    for shape, training, affine in itertools.product([(6, 3), (2, 3, 5), (3, 2, 2, 3)],
                                                     [True, False], [True, False]):
        rng = _rng("bn-torch", shape, training, affine)
        x, w, b, rm, rv = _bn_case(shape, np.float64, affine, rng)
        rm_t, rv_t = torch.tensor(rm), torch.tensor(rv)
        y, mean, invstd = fwd(x, w, b, rm, rv, training, 0.3, 1e-4)
        xt = torch.tensor(x, requires_grad=True)
        wt = torch.tensor(w, requires_grad=True) if affine else None
        bt = torch.tensor(b, requires_grad=True) if affine else None
        ref = F.batch_norm(xt, rm_t, rv_t, wt, bt, training, 0.3, 1e-4)
        np.testing.assert_allclose(y, ref.detach().numpy(), rtol=1e-11, atol=1e-12)
        np.testing.assert_allclose(rm, rm_t.numpy(), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(rv, rv_t.numpy(), rtol=1e-12, atol=1e-14)
        gy = rng.standard_normal(shape)
        ref.backward(torch.tensor(gy))
        gx, gw, gb = bwd(gy, x, w, mean, invstd, training)
        np.testing.assert_allclose(gx, xt.grad.numpy(), rtol=1e-10, atol=1e-11)
        if affine:
            np.testing.assert_allclose(gw, wt.grad.numpy(), rtol=1e-10, atol=1e-11)
            np.testing.assert_allclose(gb, bt.grad.numpy(), rtol=1e-10, atol=1e-11)


# -- OpenMP: the threaded runs equal a one-thread run -------------------------------------------

_ONE_THREAD_SCRIPT = r"""
import pickle, sys
sys.path.insert(0, sys.argv[1])
from test_kernels_fused import _run_problem
problems = pickle.loads(sys.stdin.buffer.read())
sys.stdout.write(pickle.dumps([_run_problem(p) for p in problems]).hex())
"""


def _threaded_problems():
    rng = _rng("threads")
    x = rng.standard_normal((700, 101)).astype(np.float32)
    y = rng.integers(0, 101, 700)
    bn_x = rng.standard_normal((16, 8, 30, 30))
    return [("ce", x, y), ("bn", bn_x), ("relu", rng.standard_normal(300001))]


def _run_problem(p):
    if p[0] == "ce":
        loss, lse, total = kernels.cross_entropy_forward(p[1], p[2], None, -100, "none", 0.1)
        return loss, kernels.cross_entropy_backward(p[1], p[2], lse, np.ones_like(loss), total,
                                                    None, -100, "none", 0.1)
    if p[0] == "bn":
        y, mean, invstd = kernels.batch_norm_forward(p[1], None, None, None, None, True, 0.1, 1e-5)
        return y, kernels.batch_norm_backward(p[1], p[1], None, mean, invstd, True)[0]
    return kernels.relu_forward(p[1]), kernels.leaky_relu_forward(p[1], 0.1)


def test_openmp_matches_one_thread():
    """Rows/channels/elements are independent and sums run in a fixed order,
    so a one-thread run (OMP_NUM_THREADS=1, in a subprocess) is bit-identical."""
    for name in ("cross_entropy_forward", "batch_norm_forward", "relu_forward"):
        if kernels.compiled(name) is None:
            unavailable(f"{name} is not compiled")
    problems = _threaded_problems()
    here = [_run_problem(p) for p in problems]
    out = subprocess.run([sys.executable, "-c", _ONE_THREAD_SCRIPT, os.path.dirname(__file__)],
                         input=pickle.dumps(problems), env=dict(os.environ, OMP_NUM_THREADS="1"),
                         capture_output=True, check=True)
    single = pickle.loads(bytes.fromhex(out.stdout.decode()))
    for a, b in zip(here, single):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)


# -- relu / leaky relu --------------------------------------------------------------------

EW_SHAPES = [(0,), (), (1,), (7, 3), (2, 1, 5), (70001,)]


def _with_specials(x):
    flat = x.reshape(-1)
    if flat.size >= 4:
        flat[:4] = [np.nan, np.inf, -np.inf, -0.0]
    return x


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", EW_SHAPES)
def test_relu_kernels_match_twin(shape, dtype):
    rng = _rng("relu", shape, dtype)
    x = _with_specials(rng.standard_normal(shape).astype(dtype))
    gy = rng.standard_normal(shape).astype(dtype)
    for name, args in (("relu_forward", (x,)), ("relu_backward", (gy, np.maximum(x, 0))),
                       ("leaky_relu_forward", (x, 0.07)), ("leaky_relu_backward", (gy, x, 0.07))):
        comp, ref = _pair(name, "elementwise")
        got, want = comp(*args), ref(*args)
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got, want)


def test_relu_kernels_noncontiguous_and_other_dtypes():
    x = _rng("relu-nc").standard_normal((6, 9))[:, ::2]
    for name, args in (("relu_forward", (x,)), ("leaky_relu_forward", (x.T, 0.2)),
                       ("relu_backward", (x, x.T.copy().T)),
                       ("relu_forward", (np.arange(-3, 3),))):
        comp, ref = _pair(name, "elementwise")
        np.testing.assert_array_equal(comp(*args), ref(*args))
    with pytest.raises(ValueError, match="shape"):
        _pair("relu_backward", "elementwise")[0](np.ones(3), np.ones(4))


# -- dropout ------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, block", [((0,), 1), ((1,), 1), ((7, 3), 1), ((70001,), 1),
                                          ((2, 3, 5, 5), 25), ((4, 3, 1), 1), ((2, 3, 7), 7)])
@pytest.mark.parametrize("p", [0.0, 0.3, 0.9, 1.0])
def test_dropout_matches_twin_with_the_same_seed(shape, block, p, dtype):
    x = _rng("drop", shape, dtype).standard_normal(shape).astype(dtype)
    fwd, bwd = _pair("dropout_forward", "elementwise"), _pair("dropout_backward", "elementwise")
    (yc, mc), (yr, mr) = (f(x, p, np.random.default_rng(11), block) for f in fwd)
    assert mc.dtype == mr.dtype == np.uint8 and mc.shape == (x.size // block,)
    np.testing.assert_array_equal(mc, mr)
    np.testing.assert_array_equal(yc, yr)
    gy = _rng("drop-g", shape).standard_normal(shape).astype(dtype)
    np.testing.assert_array_equal(bwd[0](gy, mc, p, block), bwd[1](gy, mr, p, block))
    # the values are x * mask / (1 - p), one mask entry per block
    keep = np.repeat(mc, block).reshape(shape).astype(bool)
    if p < 1:
        np.testing.assert_allclose(yc[keep], x[keep] / dtype(1 - p), rtol=1e-6)
    assert (yc[~keep] == 0).all()


def test_dropout_seed_reproduces_and_rate_is_right():
    import tinygrad_kr as tkr
    from tinygrad_kr.random import get_rng
    x = np.ones(200_000, np.float32)
    tkr.manual_seed(3)
    y1, m1 = kernels.dropout_forward(x, 0.3, get_rng())
    y2, m2 = kernels.dropout_forward(x, 0.3, get_rng())
    tkr.manual_seed(3)
    y3, m3 = kernels.dropout_forward(x, 0.3, get_rng())
    np.testing.assert_array_equal(m1, m3)
    np.testing.assert_array_equal(y1, y3)
    assert (m1 != m2).any()
    assert abs(m1.mean() - 0.7) < 5 * np.sqrt(0.21 / x.size)   # 5 sigma


@pytest.mark.parametrize("args, exc", [((np.ones(3), 1.5, 1), ValueError),
                                       ((np.ones(3), -0.1, 1), ValueError),
                                       ((np.ones(6), 0.5, 4), ValueError),
                                       ((np.ones(3, np.int64), 0.5, 1), TypeError)])
def test_dropout_bad_arguments_raise(args, exc):
    x, p, block = args
    for fn in _pair("dropout_forward", "elementwise"):
        with pytest.raises(exc):
            fn(x, p, np.random.default_rng(0), block)
    for fn in _pair("dropout_backward", "elementwise"):
        with pytest.raises(ValueError, match="mask"):
            fn(np.ones(4), np.ones(3, np.uint8), 0.5, 1)


# -- batch norm -----------------------------------------------------------------------------

BN_SHAPES = [(5, 3), (1, 2), (2, 1), (0, 3), (3, 4, 7), (2, 3, 5, 5), (1, 1, 1, 9), (2, 3, 0, 4),
             (64, 8, 9, 9)]


def _bn_case(shape, dtype, affine, rng):
    n_channels = shape[1]
    x = (rng.standard_normal(shape) * 2 + 3).astype(dtype)
    w = rng.standard_normal(n_channels).astype(dtype) if affine else None
    b = rng.standard_normal(n_channels).astype(dtype) if affine else None
    rm = rng.standard_normal(n_channels).astype(dtype)
    rv = (rng.random(n_channels) + 0.5).astype(dtype)
    return x, w, b, rm, rv


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", BN_SHAPES)
def test_batch_norm_matches_twin(shape, dtype):
    fwd = _pair("batch_norm_forward", "norm")
    bwd = _pair("batch_norm_backward", "norm")
    for training, affine, stats in itertools.product([True, False], [True, False], [True, False]):
        if not training and not stats:
            continue
        rng = _rng("bn", shape, dtype, training, affine, stats)
        x, w, b, rm, rv = _bn_case(shape, dtype, affine, rng)
        gy = rng.standard_normal(shape).astype(dtype)
        outs = []
        for f, g in zip(fwd, bwd):
            rm_i, rv_i = (rm.copy(), rv.copy()) if stats else (None, None)
            y, mean, invstd = f(x, w, b, rm_i, rv_i, training, 0.2, 1e-3)
            outs.append((y, mean, invstd, rm_i, rv_i) + g(gy, x, w, mean, invstd, training))
        for got, want in zip(*outs):
            if got is None:
                assert want is None
                continue
            assert got.dtype == want.dtype and got.shape == want.shape
            tol = dict(TOL[dtype])
            tol["atol"] = tol["atol"] * 100 if dtype == np.float32 else 1e-12  # sums over M values
            np.testing.assert_allclose(got, want, **tol, equal_nan=True)


def test_batch_norm_backward_without_input_grad():
    x, w, _, _, _ = _bn_case((4, 3, 2), np.float64, True, _rng("bn-nogx"))
    for f, g in zip(_pair("batch_norm_forward", "norm"), _pair("batch_norm_backward", "norm")):
        _, mean, invstd = f(x, w, None, None, None, True, 0.1, 1e-5)
        gx, gw, gb = g(np.ones_like(x), x, w, mean, invstd, True, False)
        assert gx is None and gw.shape == gb.shape == (3,)


def test_batch_norm_noncontiguous_input():
    base = _rng("bn-nc").standard_normal((6, 4, 5))
    x = base.transpose(2, 1, 0)              # (5, 4, 6), not contiguous
    (yc, mc, ic), (yr, mr, ir) = (f(x, None, None, None, None, True, 0.1, 1e-5)
                                  for f in _pair("batch_norm_forward", "norm"))
    np.testing.assert_allclose(yc, yr, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(ic, ir, rtol=1e-12)


BAD_BN = [
    (dict(x=np.zeros((4, 3), np.int64)), TypeError, "float32 or float64"),
    (dict(x=np.zeros(3)), ValueError, "(N, C)"),
    (dict(weight=np.ones(4)), ValueError, "weight should contain 3"),
    (dict(running_mean=np.zeros(3, np.float32)), TypeError, "running_mean"),
    (dict(running_var=None), ValueError, "both"),
    (dict(running_mean=None, running_var=None, training=False), ValueError, "evaluation mode"),
    (dict(eps=-1.0), ValueError, "eps"),
    (dict(running_mean=np.zeros(6)[::2]), ValueError, "contiguous"),
]


@pytest.mark.parametrize("case", range(len(BAD_BN)))
def test_batch_norm_bad_arguments_raise(case):
    change, exc, words = BAD_BN[case]
    args = dict(x=np.zeros((4, 3)), weight=None, bias=None, running_mean=np.zeros(3),
                running_var=np.ones(3), training=True, momentum=0.1, eps=1e-5)
    args.update(change)
    for fn in _pair("batch_norm_forward", "norm"):
        with pytest.raises(exc, match=words.replace("(", r"\(").replace(")", r"\)")):
            fn(*args.values())


@pytest.mark.parametrize("read_only", ["running_mean", "running_var"])
def test_batch_norm_read_only_running_stat_updates_neither(read_only):
    # Before: a writeable running_mean was updated, then the read-only
    # running_var raised, leaving the statistics half updated.
    x = _rng("bn-ro").standard_normal((4, 3))
    for fn in _pair("batch_norm_forward", "norm"):
        stats = dict(running_mean=np.zeros(3), running_var=np.ones(3))
        stats[read_only].flags.writeable = False
        with pytest.raises(ValueError, match=f"{read_only} is updated in place and must be "
                                             f"writeable"):
            fn(x, None, None, stats["running_mean"], stats["running_var"], True, 0.1, 1e-5)
        np.testing.assert_array_equal(stats["running_mean"], np.zeros(3))
        np.testing.assert_array_equal(stats["running_var"], np.ones(3))
        # not updated: an empty batch, or evaluation mode, reads them only
        for x_, training in ((np.zeros((0, 3)), True), (x, False)):
            fn(x_, None, None, stats["running_mean"], stats["running_var"], training, 0.1, 1e-5)
