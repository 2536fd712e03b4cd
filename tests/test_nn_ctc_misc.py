"""ctc_loss / CTCLoss, gumbel_softmax, pdist, fractional_max_pool2d/3d,
AdaptiveLogSoftmaxWithLoss, nn.Buffer, CrossMapLRN2d and NLLLoss2d against
PyTorch (values, gradients, errors), and the float64 gradchecks of their
Functions (CTCLoss, PairNorm)."""
import copy
import math
import pickle
import warnings

import numpy as np
import pytest

import tinygrad_kr as tk
import tinygrad_kr.nn as nn
import tinygrad_kr.nn.functional as F
from tinygrad_kr.autograd import gradcheck, gradgradcheck
from tinygrad_kr.random import get_rng
from torch_compat import torch_message

TOL = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=1e-5, atol=1e-6)}


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def _same_error(torch_call, our_call):
    """Both raise: the same exception type and message (up to the name of
    the Size class; PyTorch's as 2.13 words it, see torch_compat)."""
    import torch
    with pytest.raises(Exception) as theirs:
        torch_call()
    with pytest.raises(type(theirs.value)) as ours:
        our_call()
    assert str(ours.value).replace("tinygrad_kr.Size", "torch.Size") == \
        torch_message(theirs.value, torch)


def _close(ours, theirs, dtype=np.float64):
    np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), equal_nan=True, **TOL[dtype])


# --------------------------------------------------------------------------
# ctc_loss
# --------------------------------------------------------------------------

# (T, N, C), input lengths, target lengths, padded targets (N, S), options
_CTC_CASES = {
    "basic": ((8, 3, 5), [8, 6, 7], [3, 4, 2],
              [[2, 2, 3, 0], [1, 4, 4, 4], [3, 1, 0, 0]], {}),
    "empty-target": ((6, 2, 4), [6, 5], [0, 2], [[0, 0], [1, 3]], {}),
    "all-empty": ((5, 2, 4), [5, 3], [0, 0], [[0], [0]], {}),
    "length-equal": ((4, 3, 5), [4, 4, 3], [4, 2, 3],
                     [[1, 2, 3, 4], [1, 1, 0, 0], [2, 3, 1, 0]], {}),
    "repeats-too-long": ((4, 2, 5), [4, 4], [3, 2], [[2, 2, 2], [1, 2, 0]], {}),
    "too-long": ((8, 3, 5), [8, 2, 7], [3, 4, 0],
                 [[1, 2, 3, 4], [2, 2, 3, 1], [0, 0, 0, 0]], {}),
    "too-long-zero-inf": ((8, 3, 5), [8, 2, 7], [3, 4, 0],
                          [[1, 2, 3, 4], [2, 2, 3, 1], [0, 0, 0, 0]], {"zero_infinity": True}),
    "zero-input": ((6, 3, 4), [6, 0, 0], [2, 0, 1], [[1, 2], [0, 0], [3, 0]], {}),
    "zero-input-zero-inf": ((6, 3, 4), [6, 0, 0], [2, 0, 1], [[1, 2], [0, 0], [3, 0]],
                            {"zero_infinity": True}),
    "blank-2": ((7, 2, 5), [7, 7], [3, 2], [[1, 3, 3], [4, 0, 0]], {"blank": 2}),
    "blank-last": ((7, 2, 5), [7, 5], [3, 2], [[1, 3, 0], [2, 2, 0]], {"blank": 4}),
    "padding-minus-one": ((6, 2, 4), [6, 6], [2, 1], [[1, 2], [3, -1]], {}),
}


def _ctc_inputs(case, dtype, seed=0):
    (t, n, c), il, tl, targets, options = _CTC_CASES[case]
    x = np.random.default_rng(seed).standard_normal((t, n, c)).astype(dtype)
    return x, il, tl, np.array(targets, dtype=np.int64), options


def _ctc_both(torch, x, targets, il, tl, options, reduction, *, leaf, concat=False,
              lengths=list):
    """Loss and gradient (w.r.t. the logits, or the log-probabilities with
    ``leaf``) from both libraries, for the same upstream gradient."""
    if concat:
        targets = np.concatenate([row[:k] for row, k in zip(targets, tl)])
    out = []
    for lib in (torch, tk):
        xt = lib.tensor(x, requires_grad=True)
        lp = xt if leaf else xt.log_softmax(-1)
        if lengths is list:
            il_, tl_ = list(il), list(tl)
        elif lengths is tuple:
            il_, tl_ = tuple(il), tuple(tl)
        else:
            il_, tl_ = lib.tensor(np.array(il, lengths)), lib.tensor(np.array(tl, lengths))
        fn = lib.nn.functional.ctc_loss
        loss = fn(lp, lib.tensor(targets), il_, tl_, reduction=reduction, **options)
        w = np.linspace(0.5, 1.5, max(loss.numel(), 1)).reshape(tuple(loss.shape))
        loss.backward(lib.tensor(w.astype(x.dtype)))
        out.append((loss.detach().numpy() if lib is torch else loss.array,
                    xt.grad.numpy() if lib is torch else xt.grad.array))
    return out


@pytest.mark.parametrize("case", list(_CTC_CASES))
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_ctc_loss_values_and_gradients_match_torch(torch, case, reduction):
    for dtype in (np.float64, np.float32):
        x, il, tl, targets, options = _ctc_inputs(case, dtype)
        for leaf in (False, True):
            if leaf:        # log-probabilities as a leaf: PyTorch's exp(lp) term shows
                x = x - np.log(np.exp(x).sum(-1, keepdims=True))
            (lt, gt), (lk, gk) = _ctc_both(torch, x, targets, il, tl, options, reduction,
                                           leaf=leaf)
            assert lk.shape == lt.shape and lk.dtype == lt.dtype
            _close(lk, lt, dtype)
            _close(gk, gt, dtype)
            # NaN exactly where PyTorch has NaN (an infinite loss without zero_infinity)
            assert np.array_equal(np.isnan(gk), np.isnan(gt))


def test_ctc_loss_infinite_loss_gives_nan_gradient_and_zero_infinity_zero(torch):
    x, il, tl, targets, options = _ctc_inputs("too-long", np.float64)
    (lt, gt), (lk, gk) = _ctc_both(torch, x, targets, il, tl, {}, "none", leaf=True)
    assert math.isinf(lk[1]) and np.isnan(gk[:2, 1]).all() and (gk[2:, 1] == 0).all()
    (lt, gt), (lk, gk) = _ctc_both(torch, x, targets, il, tl, {"zero_infinity": True}, "none",
                                   leaf=True)
    assert lk[1] == 0 and (gk[:, 1] == 0).all() and not np.isnan(gk).any()
    _close(gk, gt)


def test_ctc_loss_minus_inf_log_probs_give_nan_gradients_there_as_in_torch(torch):
    x = np.random.default_rng(0).standard_normal((6, 2, 4))
    x = x - np.log(np.exp(x).sum(-1, keepdims=True))
    x[2, 0, 3] = x[1, 1, 1] = -np.inf
    (lt, gt), (lk, gk) = _ctc_both(torch, x, np.array([[1, 2], [1, 3]]), [6, 6], [2, 2], {},
                                   "sum", leaf=True)
    _close(lk, lt)
    _close(gk, gt)
    assert np.argwhere(np.isnan(gk)).tolist() == [[1, 1, 1], [2, 0, 3]]


@pytest.mark.parametrize("lengths", [list, tuple, np.int64, np.int32])
def test_ctc_loss_concatenated_targets_and_length_types(torch, lengths):
    x, il, tl, targets, _ = _ctc_inputs("basic", np.float64)
    (lt, gt), (lk, gk) = _ctc_both(torch, x, targets, il, tl, {}, "mean", leaf=False,
                                   concat=True, lengths=lengths)
    _close(lk, lt)
    _close(gk, gt)
    # the same loss as the padded targets
    (lp, _), _ = _ctc_both(torch, x, targets, il, tl, {}, "mean", leaf=False)
    _close(lk, lp)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_ctc_loss_unbatched_matches_torch(torch, reduction):
    x = np.random.default_rng(3).standard_normal((7, 5))
    results = []
    for lib, lengths in ((torch, ([7], [3])), (tk, ([7], [3])),
                         (tk, (tk.tensor(7), tk.tensor(3)))):
        xt = lib.tensor(x, requires_grad=True)
        loss = lib.nn.functional.ctc_loss(xt.log_softmax(-1), lib.tensor([1, 3, 3]), *lengths,
                                          reduction=reduction)
        assert tuple(loss.shape) == ()
        loss.backward()
        results.append((loss.item(), xt.grad.numpy() if lib is torch else xt.grad.array))
    for value, grad in results[1:]:
        assert value == pytest.approx(results[0][0], rel=1e-12)
        _close(grad, results[0][1])


def test_ctc_loss_module(torch):
    x, il, tl, targets, _ = _ctc_inputs("basic", np.float64)
    lp = x - np.log(np.exp(x).sum(-1, keepdims=True))
    for kwargs in ({}, {"blank": 4, "reduction": "sum", "zero_infinity": True}):
        mt, mk = torch.nn.CTCLoss(**kwargs), nn.CTCLoss(**kwargs)
        assert repr(mk) == repr(mt) == "CTCLoss()"
        assert (mk.blank, mk.reduction, mk.zero_infinity) == \
            (mt.blank, mt.reduction, mt.zero_infinity)
        tg = np.where(targets == 4, 1, targets)
        a = mt(torch.tensor(lp), torch.tensor(tg), torch.tensor(il), torch.tensor(tl))
        b = mk(tk.tensor(lp), tk.tensor(tg), tk.tensor(il), tk.tensor(tl))
        assert b.item() == pytest.approx(a.item(), rel=1e-12)


def test_ctc_loss_gradcheck():
    x, il, tl, targets, _ = _ctc_inputs("basic", np.float64)
    x = tk.tensor(x[:5, :2], requires_grad=True)
    for reduction in ("none", "mean", "sum"):
        assert gradcheck(lambda a: F.ctc_loss(a.log_softmax(-1), tk.tensor(targets[:2]), [5, 4],
                                              [3, 2], reduction=reduction), (x,))
    # an impossible sample, zeroed: its loss and gradient are 0
    assert gradcheck(lambda a: F.ctc_loss(a.log_softmax(-1), tk.tensor(targets[:2]), [5, 2],
                                          [3, 4], reduction="sum", zero_infinity=True), (x,))
    # empty targets, and target length == input length with a repeat
    assert gradcheck(lambda a: F.ctc_loss(a.log_softmax(-1), tk.tensor([[1, 1, 0], [0, 0, 0]]),
                                          [5, 3], [2, 0], reduction="none"), (x,))


def test_ctc_loss_create_graph_gives_the_gradient_and_refuses_a_second_derivative(torch):
    x, il, tl, targets, _ = _ctc_inputs("basic", np.float64)
    grads, errors = [], []
    for lib in (torch, tk):
        xt = lib.tensor(x, requires_grad=True)
        loss = lib.nn.functional.ctc_loss(xt.log_softmax(-1), lib.tensor(targets), il, tl)
        g, = lib.autograd.grad(loss, xt, create_graph=True)
        assert g.requires_grad
        grads.append(g.detach().numpy() if lib is torch else g.array)
        with pytest.raises(RuntimeError) as info:
            (g * g).sum().backward()
        errors.append(str(info.value))
    _close(grads[1], grads[0])
    assert errors[1] == errors[0] == "derivative for aten::_ctc_loss_backward is not implemented"


def test_ctc_loss_bad_input_errors_match_torch(torch):
    x = np.random.default_rng(0).standard_normal((6, 2, 5))
    tg = np.array([[1, 2, 2], [3, 1, 0]])

    def both(lp=x, targets=tg, il=(6, 5), tl=(3, 2), tensors=False, **kw):
        def call(lib):
            lengths = (lib.tensor(il), lib.tensor(tl)) if tensors else (list(il), list(tl))
            return lambda: lib.nn.functional.ctc_loss(lib.tensor(lp), lib.tensor(targets),
                                                      *lengths, **kw)
        _same_error(call(torch), call(tk))

    both(lp=x[0, 0])                                   # 1-D: unsqueezed to 2-D, refused
    both(lp=x[None])
    both(lp=x.astype(np.int64))
    both(lp=x[:, :0], il=(), tl=())
    both(targets=tg[None])
    both(targets=np.array(3))
    both(blank=5)
    both(blank=-1)
    both(il=(6, 5, 4))
    both(tl=(3,))
    both(tl=(3, -1))
    both(il=(6, -1))
    both(il=(7, 5))
    both(targets=tg[:, :2])
    both(targets=tg[:1])
    both(targets=np.array([1, 2, 2, 3]))              # concatenated: 5 labels expected
    both(il=(6.0, 5.0), tl=(3, 2), tensors=True)
    both(il=(6, 5), tl=(3.0, 2.0), tensors=True)
    both(reduction="bad")
    # lengths must be both tensors or both sequences of ints
    for il, tl in (([6, 5], torch.tensor([3, 2])), (6, 3), ([6.0, 5.0], [3, 2])):
        with pytest.raises(TypeError):
            torch.nn.functional.ctc_loss(torch.tensor(x), torch.tensor(tg), il, tl)
        if isinstance(tl, torch.Tensor):
            tl = tk.tensor(tl.numpy())
        with pytest.raises(TypeError, match="invalid combination of arguments"):
            F.ctc_loss(tk.tensor(x), tk.tensor(tg), il, tl)


def test_ctc_loss_labels_out_of_range_raise():
    # PyTorch reads such labels unchecked; here they are an error, before any work
    lp = tk.tensor(np.random.default_rng(0).standard_normal((6, 2, 5)))
    for bad in (5, -1):
        with pytest.raises(RuntimeError, match=f"target label {bad} is out of range for "
                                               r"log_probs with 5 classes"):
            F.ctc_loss(lp, tk.tensor([[1, bad], [2, 3]]), [6, 6], [2, 2])
        with pytest.raises(RuntimeError, match="out of range"):
            F.ctc_loss(lp, tk.tensor([1, 2, bad]), [6, 6], [1, 2])
    # entries past a target's length are padding, never read
    assert math.isfinite(F.ctc_loss(lp, tk.tensor([[1, 9], [2, -7]]), [6, 6], [1, 1]).item())


# --------------------------------------------------------------------------
# gumbel_softmax
# --------------------------------------------------------------------------


@pytest.mark.parametrize("hard", [False, True])
@pytest.mark.parametrize("dim", [-1, 0])
def test_gumbel_softmax_matches_torch_given_the_same_noise(torch, hard, dim):
    x = np.random.default_rng(0).standard_normal((4, 6))
    w = np.random.default_rng(1).standard_normal((4, 6))
    tk.manual_seed(5)
    xk = tk.tensor(x, requires_grad=True)
    y = F.gumbel_softmax(xk, tau=0.7, hard=hard, dim=dim)
    y.backward(tk.tensor(w))
    # the same draws again, from the engine's generator, into PyTorch's formula
    tk.manual_seed(5)
    noise = get_rng().exponential(1.0, x.shape)
    xt = torch.tensor(x, requires_grad=True)
    y_soft = ((xt - torch.tensor(noise).log()) / 0.7).softmax(dim)
    if hard:
        index = y_soft.max(dim, keepdim=True)[1]
        expected = torch.zeros_like(xt).scatter_(dim, index, 1.0) - y_soft.detach() + y_soft
        assert ((y.array == 0) | (y.array == 1)).all() and (y.array.sum(dim) == 1).all()
    else:
        expected = y_soft
    expected.backward(torch.tensor(w))
    _close(y.array, expected.detach().numpy())
    _close(xk.grad.array, xt.grad.numpy())


def test_gumbel_softmax_samples_follow_the_softmax_and_eps_warns():
    tk.manual_seed(0)
    logits = tk.tensor(np.log([0.6, 0.3, 0.1])).expand(20000, 3)
    y = F.gumbel_softmax(logits, hard=True)
    np.testing.assert_allclose(y.array.mean(0), [0.6, 0.3, 0.1], atol=0.015)
    with pytest.warns(UserWarning, match="`eps` parameter is deprecated"):
        F.gumbel_softmax(logits[:2], eps=1e-5)


# --------------------------------------------------------------------------
# pdist
# --------------------------------------------------------------------------

_P_VALUES = [0, 0.5, 1, 1.5, 2, 2.5, 3, math.inf]


@pytest.mark.parametrize("p", _P_VALUES)
def test_pdist_matches_torch_including_coincident_rows_and_ties(torch, p):
    rows = np.array([[1.0, 2, 3], [1, 2, 3], [1, 5, 0], [2, 5, 3], [0.5, -1, 2], [1, 2, 0]])
    for dtype in (np.float64, np.float32):
        x = rows.astype(dtype)
        xt, xk = torch.tensor(x, requires_grad=True), tk.tensor(x, requires_grad=True)
        dt, dk = torch.pdist(xt, p), F.pdist(xk, p)
        w = np.linspace(1, 2, dt.numel()).astype(dtype)
        dt.backward(torch.tensor(w))
        dk.backward(tk.tensor(w))
        _close(dk.array, dt.detach().numpy(), dtype)
        _close(xk.grad.array, xt.grad.numpy(), dtype)
        assert not np.isnan(xk.grad.array).any()
    # torch.pdist is the same function
    _close(tk.pdist(tk.tensor(rows), p).array, F.pdist(tk.tensor(rows), p).array)


def test_pdist_shapes_and_errors(torch):
    for shape in ((1, 3), (0, 3), (3, 0)):
        a, b = torch.pdist(torch.ones(shape)), F.pdist(tk.ones(shape))
        assert tuple(b.shape) == tuple(a.shape)
        _close(b.array, a.numpy(), np.float32)
    for args in (((3,), 2), ((3, 2), -1.0)):
        _same_error(lambda: torch.pdist(torch.ones(args[0]), args[1]),
                    lambda: F.pdist(tk.ones(args[0]), args[1]))
    _same_error(lambda: torch.pdist(torch.ones((3, 2), dtype=torch.long)),
                lambda: F.pdist(tk.ones((3, 2), dtype=tk.int64)))


@pytest.mark.parametrize("p", [0.5, 1, 1.5, 2, 3, math.inf])
def test_pdist_gradcheck_and_gradgradcheck(p):
    x = tk.tensor(np.random.default_rng(2).standard_normal((4, 3)), requires_grad=True)
    assert gradcheck(lambda a: F.pdist(a, p), (x,))
    assert gradgradcheck(lambda a: F.pdist(a, p), (x,))


def test_pdist_p0_has_zero_gradient():
    x = tk.tensor(np.random.default_rng(2).standard_normal((4, 3)), requires_grad=True)
    F.pdist(x, 0).sum().backward()
    assert (x.grad.array == 0).all()
    assert gradcheck(lambda a: F.pdist(a, 0), (tk.tensor(x.array.copy(), requires_grad=True),))


# --------------------------------------------------------------------------
# fractional max pooling
# --------------------------------------------------------------------------

_FRACTIONAL_CASES = [
    (2, (2, 3, 7, 8), 2, (4, 5), None),
    (2, (2, 3, 7, 8), 2, (6, 7), None),                # windows overlap: gradients add up
    (2, (2, 3, 7, 8), (3, 2), (3, 5), None),
    (2, (2, 3, 7, 8), 2, None, (0.5, 0.6)),
    (2, (3, 7, 8), 2, 4, None),                         # unbatched
    (2, (2, 3, 17, 19), 3, (6, 7), None),
    (2, (2, 3, 7, 8), 2, (1, 1), None),
    (2, (2, 3, 7, 8), 2, (0, 0), None),
    (3, (2, 3, 5, 6, 7), 2, (3, 3, 3), None),
    (3, (2, 3, 5, 6, 7), (2, 1, 3), (2, 4, 3), None),
    (3, (3, 5, 6, 7), 2, 3, None),
    (3, (2, 3, 9, 10, 11), 2, None, (0.5, 0.6, 0.7)),
]


@pytest.mark.parametrize("nd, shape, kernel, size, ratio", _FRACTIONAL_CASES)
@pytest.mark.parametrize("values", ["normal", "ties", "nan"])
def test_fractional_max_pool_matches_torch_given_the_samples(torch, nd, shape, kernel, size,
                                                             ratio, values):
    rng = np.random.default_rng(0)
    for dtype in (np.float64, np.float32):
        x = rng.standard_normal(shape).astype(dtype)
        if values == "ties":
            x = np.round(x)
        elif values == "nan":
            x.reshape(-1)[rng.integers(0, x.size, 6)] = np.nan
        batch = shape[0] if len(shape) == nd + 2 else 1
        samples = rng.random((batch + 1, shape[-nd - 1], nd)).astype(dtype)
        results = []
        for lib, mod in ((torch, torch.nn.functional), (tk, F)):
            xt = lib.tensor(x, requires_grad=True)
            fn = getattr(mod, f"fractional_max_pool{nd}d")
            out, idx = fn(xt, kernel, size, ratio, return_indices=True,
                          _random_samples=lib.tensor(samples))
            w = np.linspace(-1, 1, out.numel()).reshape(tuple(out.shape)).astype(dtype)
            out.backward(lib.tensor(w))
            results.append([t.detach().numpy() if lib is torch else t.array
                            for t in (out, idx, xt.grad)])
        (ot, it, gt), (ok, ik, gk) = results
        assert ok.shape == ot.shape and ik.dtype == np.int64
        assert np.array_equal(ik, it.astype(np.int64))
        assert np.array_equal(ok, ot, equal_nan=True)
        _close(gk, gt, dtype)


def test_fractional_max_pool_window_starts_in_float32_match_torch(torch):
    # many samples and sizes: the window starts are computed in the input's
    # dtype, as ATen does (float32 rounding included)
    rng = np.random.default_rng(7)
    for size_in, size_out, kernel in ((97, 40, 3), (50, 49, 2), (31, 7, 5)):
        x = np.arange(size_in * size_in, dtype=np.float32).reshape(1, 1, size_in, size_in)
        x = np.broadcast_to(x, (4, 8, size_in, size_in)).copy()
        samples = rng.random((4, 8, 2)).astype(np.float32)
        _, it = torch.nn.functional.fractional_max_pool2d(
            torch.tensor(x), kernel, size_out, return_indices=True,
            _random_samples=torch.tensor(samples))
        _, ik = F.fractional_max_pool2d(tk.tensor(x), kernel, size_out, return_indices=True,
                                        _random_samples=tk.tensor(samples))
        assert np.array_equal(ik.array, it.numpy())


def test_fractional_max_pool_default_samples_come_from_the_engine_generator():
    x = tk.tensor(np.random.default_rng(0).standard_normal((2, 3, 9, 9)))
    tk.manual_seed(11)
    a = F.fractional_max_pool2d(x, 2, output_size=4)
    tk.manual_seed(11)
    samples = tk.tensor(get_rng().random((2, 3, 2)))
    b = F.fractional_max_pool2d(x, 2, output_size=4, _random_samples=samples)
    assert np.array_equal(a.array, b.array)
    tk.manual_seed(11)
    c = F.fractional_max_pool3d(x.unsqueeze(0), 2, output_size=(1, 4, 4))
    tk.manual_seed(11)
    samples = tk.tensor(get_rng().random((1, 2, 3)))
    d = F.fractional_max_pool3d(x.unsqueeze(0), 2, output_size=(1, 4, 4),
                                _random_samples=samples)
    assert np.array_equal(c.array, d.array)


def test_fractional_max_pool_gradcheck_and_gradgradcheck():
    rng = np.random.default_rng(1)
    x = tk.tensor(rng.standard_normal((1, 2, 5, 6)), requires_grad=True)
    samples = tk.tensor(rng.random((1, 2, 2)))
    fn = lambda a: F.fractional_max_pool2d(a, 2, output_size=3, _random_samples=samples)  # noqa: E731
    assert gradcheck(fn, (x,)) and gradgradcheck(fn, (x,))
    x3 = tk.tensor(rng.standard_normal((2, 4, 4, 5)), requires_grad=True)
    samples3 = tk.tensor(rng.random((1, 2, 3)))
    assert gradcheck(lambda a: F.fractional_max_pool3d(a, 2, output_size=(2, 2, 3),
                                                       _random_samples=samples3), (x3,))


def test_fractional_max_pool_errors_match_torch(torch):
    x2 = np.random.default_rng(0).standard_normal((2, 3, 7, 8))
    x3 = np.random.default_rng(0).standard_normal((2, 3, 5, 6, 7))

    def both(nd, x, *args, samples=None, **kw):
        def call(lib, mod):
            s = None if samples is None else lib.tensor(samples)
            fn = getattr(mod, f"fractional_max_pool{nd}d")
            return lambda: fn(lib.tensor(x), *args, _random_samples=s, **kw)
        _same_error(call(torch, torch.nn.functional), call(tk, F))

    rand = np.random.default_rng(1).random
    both(2, x2, 2)
    both(2, x2, 2, output_ratio=0.5)                    # PyTorch's len() of a float
    both(2, x2, 2, output_ratio=(0.5, 0.5, 0.5))
    both(2, x2, 2, output_size=(7, 5))
    both(2, x2, 2, output_size=(4, 8))
    both(2, x2, 2, output_size=(8, 3), samples=rand((2, 3, 3)))
    both(2, x2[0, 0], 2, output_size=3)
    both(2, x2[None], 2, output_size=3, samples=rand((2, 3, 3)))
    both(2, x2[:, :0], 2, output_size=3)
    both(2, x2, (2, 2, 2), output_size=3)
    both(2, x2, 2, output_size=(3, 3, 3))
    both(2, x2, 2, output_size=(3.5, 3))
    both(2, x2.astype(np.float32), 2, output_size=3, samples=rand((2, 3, 2)))   # float64 samples
    both(2, x2.astype(np.float32), 2, output_size=3, samples=rand((2, 3, 3)).astype(np.float32))
    both(2, x2.astype(np.float32), 2, output_size=3, samples=rand((1, 3, 2)).astype(np.float32))
    both(2, x2.astype(np.float32), 2, output_size=3, samples=rand((2, 2, 2)).astype(np.float32))
    both(2, x2.astype(np.float32), 2, output_size=3, samples=rand((6, 2)).astype(np.float32))
    both(2, x2.astype(np.int64), 2, output_size=3, samples=np.zeros((2, 3, 2), np.int64))
    both(2, x2, 2, output_size=-1, samples=rand((2, 3, 2)))
    both(3, x3, 2, output_size=(4, 3, 3))
    both(3, x3, 2, output_size=(3, 5, 3))
    both(3, x3, 2, output_size=(3, 6, 7))
    both(3, x3, (2, 2), output_size=3)
    both(3, x3, 2, output_size=(3, 3))
    both(3, x3[None], 2, output_size=3)
    both(3, x3[:, :, :0], 2, output_size=3)
    both(3, x3, 2, output_size=3, samples=rand((2, 3, 2)))
    both(3, x3, 2, output_size=3, samples=rand((1, 3, 3)))
    both(3, x3, 2, output_ratio=(0.5, 0.5))
    # an empty window: PyTorch pools -inf and fails in its backward; refused here
    with pytest.raises(RuntimeError, match="kernel_size must be greater than 0"):
        F.fractional_max_pool2d(tk.tensor(x2), 0, output_size=3)


def test_fractional_max_pool_modules(torch):
    x = np.random.default_rng(0).standard_normal((2, 3, 9, 10))
    samples = np.random.default_rng(1).random((2, 3, 2))
    mt = torch.nn.FractionalMaxPool2d(3, output_ratio=0.5, return_indices=True,
                                      _random_samples=torch.tensor(samples))
    mk = nn.FractionalMaxPool2d(3, output_ratio=0.5, return_indices=True,
                                _random_samples=tk.tensor(samples))
    assert repr(mk) == repr(mt) == "FractionalMaxPool2d()"
    assert (mk.kernel_size, mk.output_size, mk.output_ratio) == \
        (mt.kernel_size, mt.output_size, mt.output_ratio)
    assert list(mk.state_dict()) == list(mt.state_dict()) == ["_random_samples"]
    (ot, it), (ok, ik) = mt(torch.tensor(x)), mk(tk.tensor(x))
    assert np.array_equal(ok.array, ot.numpy()) and np.array_equal(ik.array, it.numpy())
    x3 = np.random.default_rng(0).standard_normal((2, 6, 7, 8))
    a = torch.nn.FractionalMaxPool3d(2, output_size=(3, 3, 4),
                                     _random_samples=torch.tensor(samples[:1, :2].repeat(3, -1)
                                                                  [..., :3]))
    b = nn.FractionalMaxPool3d(2, output_size=(3, 3, 4),
                               _random_samples=tk.tensor(samples[:1, :2].repeat(3, -1)[..., :3]))
    assert np.array_equal(b(tk.tensor(x3)).array, a(torch.tensor(x3)).numpy())
    for cls, kw in ((torch.nn.FractionalMaxPool2d, {}), (torch.nn.FractionalMaxPool2d,
                                                         {"output_ratio": 1.5}),
                    (torch.nn.FractionalMaxPool2d, {"output_size": 2, "output_ratio": 0.5}),
                    (torch.nn.FractionalMaxPool3d, {"output_ratio": (0.5, 0.5, 1)}),
                    (torch.nn.FractionalMaxPool3d, {"output_size": 2, "output_ratio": 0.5})):
        ours = getattr(nn, cls.__name__)
        _same_error(lambda: cls(2, **kw), lambda: ours(2, **kw))
    _same_error(lambda: torch.nn.FractionalMaxPool3d(0, output_size=2),
                lambda: nn.FractionalMaxPool3d(0, output_size=2))


# --------------------------------------------------------------------------
# AdaptiveLogSoftmaxWithLoss
# --------------------------------------------------------------------------


def _adaptive_pair(torch, head_bias, cutoffs=(4, 9, 15), n_classes=20, in_features=16):
    torch.manual_seed(0)
    mt = torch.nn.AdaptiveLogSoftmaxWithLoss(in_features, n_classes, list(cutoffs),
                                             div_value=2.0, head_bias=head_bias).double()
    mk = nn.AdaptiveLogSoftmaxWithLoss(in_features, n_classes, list(cutoffs), div_value=2.0,
                                       head_bias=head_bias, dtype=tk.float64)
    assert list(mk.state_dict()) == list(mt.state_dict())
    mk.load_state_dict({k: tk.tensor(v.numpy()) for k, v in mt.state_dict().items()})
    return mt, mk


@pytest.mark.parametrize("head_bias", [False, True])
def test_adaptive_log_softmax_matches_torch(torch, head_bias):
    mt, mk = _adaptive_pair(torch, head_bias)
    x = np.random.default_rng(0).standard_normal((7, 16))
    for y in ([0, 3, 5, 19, 12, 9, 4], [0, 1, 2, 3, 0, 1, 2], [5, 6, 19, 19, 10, 16, 9]):
        xt, xk = torch.tensor(x, requires_grad=True), tk.tensor(x, requires_grad=True)
        ot, ok = mt(xt, torch.tensor(y)), mk(xk, tk.tensor(y))
        assert type(ok).__name__ == "_ASMoutput" and ok._fields == ("output", "loss")
        _close(ok.output.array, ot.output.detach().numpy())
        assert ok.loss.item() == pytest.approx(ot.loss.item(), rel=1e-12)
        mt.zero_grad()
        mk.zero_grad()
        ot.loss.backward()
        ok.loss.backward()
        _close(xk.grad.array, xt.grad.numpy())
        for (name, p), q in zip(mt.named_parameters(), mk.parameters()):
            if p.grad is None:
                assert q.grad is None or not q.grad.array.any(), name
            else:
                _close(q.grad.array, p.grad.numpy())
    _close(mk.log_prob(tk.tensor(x)).array, mt.log_prob(torch.tensor(x)).detach().numpy())
    one_t, one_k = mt(torch.tensor(x[0]), torch.tensor(12)), mk(tk.tensor(x[0]), tk.tensor(12))
    assert tuple(one_k.output.shape) == tuple(one_t.output.shape) == ()
    assert one_k.output.item() == pytest.approx(one_t.output.item(), rel=1e-12)


def test_adaptive_log_softmax_predict_all_paths(torch):
    mt, mk = _adaptive_pair(torch, True)
    x = np.random.default_rng(1).standard_normal((40, 16)) * 3
    with torch.no_grad():
        head = mt.head(torch.tensor(x)).argmax(1).numpy()
    mixed = (head >= mt.shortlist_size).any() and (head < mt.shortlist_size).any()
    assert mixed
    short, clusters = x[head < mt.shortlist_size], x[head >= mt.shortlist_size]
    for rows in (x, short, clusters):
        assert np.array_equal(mk.predict(tk.tensor(rows)).array,
                              mt.predict(torch.tensor(rows)).numpy())


def test_adaptive_log_softmax_gradcheck():
    tk.manual_seed(0)
    m = nn.AdaptiveLogSoftmaxWithLoss(6, 8, [2, 5], div_value=2.0, head_bias=True,
                                      dtype=tk.float64)
    x = tk.tensor(np.random.default_rng(0).standard_normal((4, 6)), requires_grad=True)
    y = tk.tensor([0, 3, 7, 5])
    assert gradcheck(lambda a: m(a, y), (x,))
    assert gradcheck(lambda a: m.log_prob(a), (x,))


def test_adaptive_log_softmax_errors_match_torch(torch):
    for cutoffs in ([], [3, 2], [0, 3], [3, 10], [3, 3], [2.5]):
        _same_error(lambda: torch.nn.AdaptiveLogSoftmaxWithLoss(8, 10, cutoffs),
                    lambda: nn.AdaptiveLogSoftmaxWithLoss(8, 10, cutoffs))
    mt, mk = _adaptive_pair(torch, False)
    x = np.random.default_rng(0).standard_normal((3, 16))
    for inp, target in ((x, [1, 2]), (x[None], [1, 2, 3]), (x, [[1, 2, 3]]), (x, 3),
                        (x, [1, 20, 2]), (x, [1, -1, 2])):
        _same_error(lambda: mt(torch.tensor(inp), torch.tensor(target)),
                    lambda: mk(tk.tensor(inp), tk.tensor(target)))


# --------------------------------------------------------------------------
# nn.Buffer
# --------------------------------------------------------------------------


def _buffer_module(lib):
    class M(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = lib.nn.Buffer(lib.ones(2))
            self.b = lib.nn.Buffer(lib.zeros(3), persistent=False)
            self.c = lib.ones(1)                   # a plain tensor stays an attribute
            self.lin = lib.nn.Linear(2, 2)
    return M()


def test_buffer_registers_as_in_torch(torch):
    mt, mk = _buffer_module(torch), _buffer_module(tk)
    assert list(dict(mk.named_buffers())) == list(dict(mt.named_buffers())) == ["a", "b"]
    assert list(mk.state_dict()) == list(mt.state_dict())
    assert isinstance(mk.a, nn.Buffer) and not isinstance(mk.c, nn.Buffer)
    # re-assigning a Buffer changes the persistence, a plain tensor keeps it
    for m, lib in ((mt, torch), (mk, tk)):
        m.b = lib.nn.Buffer(lib.zeros(3))
        m.a = lib.zeros(2)
    assert list(mk.state_dict()) == list(mt.state_dict())
    for m, lib in ((mt, torch), (mk, tk)):
        m.a = lib.nn.Buffer(lib.zeros(2), persistent=False)
    assert list(mk.state_dict()) == list(mt.state_dict())
    # data shared, detached, requires_grad kept
    t = tk.ones(3, requires_grad=True)
    b = nn.Buffer(t * 2)
    assert b.grad_fn is None and b.requires_grad
    src = tk.zeros(2)
    assert np.shares_memory(nn.Buffer(src).array, src.array)


def test_buffer_errors_match_torch(torch):
    def before_init(lib):
        class M(lib.nn.Module):
            def __init__(self):
                self.x = lib.nn.Buffer(lib.ones(1))
        return lambda: M()

    def name_taken(lib):
        class M(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.x = 1
                self.x = lib.nn.Buffer(lib.ones(1))
        return lambda: M()

    def over_parameter(lib):
        def make():
            m = lib.nn.Linear(2, 2)
            m.weight = lib.nn.Buffer(lib.ones(2, 2))
        return make

    for case in (before_init, name_taken):
        _same_error(case(torch), case(tk))
    with pytest.raises(TypeError):
        over_parameter(torch)()
    with pytest.raises(TypeError, match="as parameter 'weight'"):
        over_parameter(tk)()


def test_buffer_survives_deepcopy_pickle_and_to():
    m = _buffer_module(tk)
    m2 = copy.deepcopy(m)
    assert isinstance(m2.b, nn.Buffer) and m2.b.persistent is False
    assert list(m2.state_dict()) == list(m.state_dict())
    b = pickle.loads(pickle.dumps(nn.Buffer(tk.ones(2), persistent=False)))
    assert type(b) is nn.Buffer and b.persistent is False
    buffer = m.a
    m.to(tk.float64)
    assert m.a is buffer and m.a.dtype == tk.float64


# --------------------------------------------------------------------------
# CrossMapLRN2d, NLLLoss2d
# --------------------------------------------------------------------------


@pytest.mark.parametrize("size, channels", [(5, 3), (5, 4), (3, 8), (2, 7), (1, 6), (4, 9),
                                            (5, 2), (6, 3), (3, 1)])
def test_cross_map_lrn2d_forward_matches_torch(torch, size, channels):
    x = np.random.default_rng(1).standard_normal((2, channels, 3, 4))
    mt, mk = torch.nn.CrossMapLRN2d(size, 0.3, 0.8, 1.5), nn.CrossMapLRN2d(size, 0.3, 0.8, 1.5)
    assert repr(mk) == repr(mt)
    _close(mk(tk.tensor(x)).array, mt(torch.tensor(x)).numpy())
    # PyTorch's backward is the derivative of its forward only with a few
    # channels (its own gradcheck fails otherwise); there, the gradients agree
    if channels <= size // 2:
        xt, xk = torch.tensor(x, requires_grad=True), tk.tensor(x, requires_grad=True)
        mt(xt).sum().backward()
        mk(xk).sum().backward()
        _close(xk.grad.array, xt.grad.numpy())


def test_cross_map_lrn2d_gradient_is_the_derivative_of_its_forward(torch):
    x = np.random.default_rng(2).standard_normal((1, 7, 2, 2))
    m = nn.CrossMapLRN2d(5, 0.5, 0.75, 1)
    assert gradcheck(m, (tk.tensor(x, requires_grad=True),))
    assert not torch.autograd.gradcheck(torch.nn.CrossMapLRN2d(5, 0.5, 0.75, 1),
                                        (torch.tensor(x, requires_grad=True),),
                                        raise_exception=False)
    _same_error(lambda: torch.nn.CrossMapLRN2d(3)(torch.ones(2, 3, 4)),
                lambda: nn.CrossMapLRN2d(3)(tk.ones(2, 3, 4)))


def test_nll_loss2d_is_nll_loss_with_torchs_warning(torch):
    with warnings.catch_warnings(record=True) as theirs:
        warnings.simplefilter("always")
        torch.nn.NLLLoss2d()
    with pytest.warns(FutureWarning) as ours:
        m = nn.NLLLoss2d(ignore_index=1)
    assert str(ours[0].message) == str(theirs[0].message)
    assert isinstance(m, nn.NLLLoss) and m.ignore_index == 1
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5))
    y = np.random.default_rng(1).integers(0, 3, (2, 4, 5))
    a = torch.nn.functional.nll_loss(torch.tensor(x), torch.tensor(y), ignore_index=1)
    assert m(tk.tensor(x), tk.tensor(y)).item() == pytest.approx(a.item(), rel=1e-12)
