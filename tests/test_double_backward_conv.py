"""Double backward (create_graph=True) through conv2d and conv_transpose2d
(and conv1d / conv_transpose1d, which run on them): float64 gradgradchecks
over the options, gradient penalties and a third derivative against PyTorch."""

import numpy as np
import pytest

import tinygrad_kr as tkr
import tinygrad_kr.nn.functional as F
from tinygrad_kr.autograd import gradgradcheck
from cases import leaf as _leaf, rng_for as _rng, torch_one_thread as _torch


def _close(ours, theirs, tol=1e-10):
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=tol,
                               atol=tol)


# (x shape, weight shape, options); conv2d weights are (O, C/groups, kh, kw)
CONV2D = [
    ((2, 2, 5, 5), (2, 2, 3, 3), {}),
    ((2, 2, 6, 6), (2, 2, 3, 3), {"stride": 2}),
    ((2, 2, 5, 5), (2, 2, 3, 3), {"padding": 1}),
    ((2, 2, 6, 6), (2, 2, 2, 3), {"stride": 2, "padding": 1}),   # stride 2 misses rows
    ((2, 2, 6, 6), (2, 2, 2, 2), {"dilation": 2}),
    ((2, 4, 5, 5), (4, 2, 3, 3), {"groups": 2, "padding": 1}),
    ((2, 4, 6, 6), (2, 2, 2, 2), {"groups": 2, "stride": 2, "dilation": 2}),
    ((2, 2, 5, 5), (2, 2, 2, 2), {"padding": "same"}),            # asymmetric: extra (1, 1)
    ((2, 2, 5, 6), (2, 2, 2, 3), {"padding": "same", "dilation": (1, 2)}),
]

# conv_transpose2d weights are (C_in, C_out/groups, kh, kw)
CONV_TRANSPOSE2D = [
    ((2, 2, 4, 4), (2, 2, 3, 3), {}),
    ((2, 2, 4, 4), (2, 2, 3, 3), {"stride": 2}),
    ((2, 2, 4, 4), (2, 2, 3, 3), {"padding": 1}),
    ((2, 2, 4, 4), (2, 2, 3, 3), {"stride": 2, "padding": 1, "output_padding": 1}),
    ((2, 2, 4, 4), (2, 2, 2, 2), {"dilation": 2}),
    ((2, 2, 4, 4), (2, 2, 2, 2), {"dilation": 2, "output_padding": 1}),  # past the direct size
    ((2, 4, 4, 4), (4, 1, 3, 3), {"groups": 2, "stride": 2, "padding": 1}),
]


def _case_id(case):
    return "-".join(f"{k}={v}" for k, v in case[2].items()) or "plain"


def _arrays(fn, case, bias):
    x_shape, w_shape, options = case
    rng = _rng(fn, case, bias)
    out_channels = w_shape[1] * options.get("groups", 1) if fn == "convt" else w_shape[0]
    return (rng.standard_normal(x_shape), rng.standard_normal(w_shape),
            rng.standard_normal(out_channels) if bias else None)


@pytest.mark.parametrize("bias", [False, True], ids=["nobias", "bias"])
@pytest.mark.parametrize("case", CONV2D, ids=_case_id)
def test_conv2d_gradgradcheck(case, bias):
    x, w, b = (None if a is None else _leaf(a) for a in _arrays("conv", case, bias))
    assert gradgradcheck(lambda *t: F.conv2d(*t, **case[2]), (x, w) + ((b,) if bias else ()))


@pytest.mark.parametrize("bias", [False, True], ids=["nobias", "bias"])
@pytest.mark.parametrize("case", CONV_TRANSPOSE2D, ids=_case_id)
def test_conv_transpose2d_gradgradcheck(case, bias):
    x, w, b = (None if a is None else _leaf(a) for a in _arrays("convt", case, bias))
    assert gradgradcheck(lambda *t: F.conv_transpose2d(*t, **case[2]),
                         (x, w) + ((b,) if bias else ()))


def test_conv1d_and_conv_transpose1d_gradgradcheck():
    rng = _rng("1d")
    x, w, b = (_leaf(rng.standard_normal(s)) for s in ((2, 2, 7), (4, 1, 3), (4,)))
    assert gradgradcheck(lambda *t: F.conv1d(*t, stride=2, padding=1, groups=2), (x, w, b))
    x, w, b = (_leaf(rng.standard_normal(s)) for s in ((2, 2, 4), (2, 2, 3), (4,)))
    assert gradgradcheck(lambda *t: F.conv_transpose1d(*t, stride=2, output_padding=1,
                                                       groups=2), (x, w, b))


def _penalty(lib, conv, x, w, b, options):
    """g = d sum(conv(x)^2) / dx with create_graph; then sum(g^2).backward()."""
    g = lib.autograd.grad(conv(x, w, b, **options).pow(2).sum(), x, create_graph=True)[0]
    g.pow(2).sum().backward()
    return g


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("fn,case", [("conv", c) for c in CONV2D]
                         + [("convt", c) for c in CONV_TRANSPOSE2D],
                         ids=[f"conv2d-{_case_id(c)}" for c in CONV2D]
                         + [f"conv_transpose2d-{_case_id(c)}" for c in CONV_TRANSPOSE2D])
def test_gradient_penalty_matches_torch(fn, case):
    torch = _torch()
    arrays = _arrays(fn, case, True)
    ours = [_leaf(a) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    g = _penalty(tkr, F.conv2d if fn == "conv" else F.conv_transpose2d, *ours, case[2])
    tg = _penalty(torch, torch.nn.functional.conv2d if fn == "conv"
                  else torch.nn.functional.conv_transpose2d, *theirs, case[2])
    _close(g, tg)
    for a, t in zip(ours, theirs):
        _close(a.grad, t.grad)


def test_third_derivative_matches_torch():
    torch = _torch()
    rng = _rng("third")
    arrays = [rng.standard_normal(s) for s in ((2, 4, 6, 6), (4, 2, 3, 3), (4,))]
    u, v = rng.standard_normal((2, 4, 6, 6)), rng.standard_normal((2, 4, 6, 6))

    def third(lib, conv, x, w, b):
        y = conv(x, w, b, stride=2, padding=1, groups=2)
        g1 = lib.autograd.grad(y.pow(3).sum(), x, create_graph=True)[0]
        g2 = lib.autograd.grad((g1 * lib.tensor(u)).sum(), (x, w), create_graph=True)
        g3 = lib.autograd.grad((g2[0] * lib.tensor(v)).sum() + g2[1].pow(2).sum(), (x, w, b))
        return (g1,) + g2 + g3

    ours = third(tkr, F.conv2d, *[_leaf(a) for a in arrays])
    theirs = third(torch, torch.nn.functional.conv2d,
                   *[torch.tensor(a, requires_grad=True) for a in arrays])
    for a, t in zip(ours, theirs):
        _close(a, t)


def test_wgan_gp_penalty_of_small_cnn_matches_torch():
    """A critic conv -> relu -> conv_transpose -> sum per sample, and the WGAN-GP
    penalty mean((|d critic / d x| - 1)^2) on a mix of two batches."""
    torch = _torch()
    rng = _rng("wgan")
    shapes = [(3, 2, 3, 3), (3,), (3, 2, 3, 3), (2,)]
    params = [rng.standard_normal(s) * 0.5 for s in shapes]
    real, fake = rng.standard_normal((2, 2, 6, 6)), rng.standard_normal((2, 2, 6, 6))
    eps = rng.uniform(size=(2, 1, 1, 1))
    mixed = eps * real + (1 - eps) * fake

    def penalty(lib, fn, w1, b1, w2, b2):
        x = lib.tensor(mixed, requires_grad=True)
        h = fn.relu(fn.conv2d(x, w1, b1, stride=2, padding=1))
        score = fn.conv_transpose2d(h, w2, b2, stride=2, padding=1, output_padding=1)
        g = lib.autograd.grad(score.sum(), x, create_graph=True)[0]
        norm = g.pow(2).sum(dim=(1, 2, 3)).sqrt()
        loss = (norm - 1).pow(2).mean()
        loss.backward()
        return loss

    ours = [_leaf(a) for a in params]
    theirs = [torch.tensor(a, requires_grad=True) for a in params]
    _close(penalty(tkr, F, *ours), penalty(torch, torch.nn.functional, *theirs))
    for a, t in zip(ours, theirs):
        if a.grad is None:  # b2 never reaches the penalty; b1 only through relu's mask,
            # where PyTorch's relu double backward hands back zeros rather than None
            assert t.grad is None or not t.grad.any()
        else:
            _close(a.grad, t.grad)
