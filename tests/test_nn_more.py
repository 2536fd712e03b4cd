"""More of torch.nn against PyTorch: the piecewise activations (their
gradients at the breakpoints too), prelu/PReLU, rrelu, glu, softmin,
pixel_shuffle, dropout1d, instance_norm/InstanceNorm (running statistics),
rms_norm/RMSNorm, the padding layers and ParameterDict; float64 gradchecks."""
import warnings

import numpy as np
import pytest

import tinygrad_kr as tkr
import tinygrad_kr.nn as nn
import tinygrad_kr.nn.functional as F
from tinygrad_kr.autograd import gradcheck, gradgradcheck
from torch_compat import as_torch_repr

rng = np.random.default_rng(0)
# values at and around every breakpoint of the activations below
BREAKS = np.array([-4.0, -3.0, -2.5, -0.5, -0.3, 0.0, 0.1, 0.3, 0.5, 0.7, 2.9, 3.0, 3.5, 20.0])


def _torch():
    return pytest.importorskip("torch")


def _both(f, *arrays, dtype=np.float64, grads=True, grad_rtol=None):
    """f on both libraries (leaves from arrays): values and gradients of a fixed
    projection agree (exactly in float64 up to rounding)."""
    torch = _torch()
    ours = [tkr.tensor(a.astype(dtype), requires_grad=grads) for a in arrays]
    theirs = [torch.tensor(a.astype(dtype), requires_grad=grads) for a in arrays]
    y, ty = f(tkr, F, *ours), f(torch, torch.nn.functional, *theirs)
    tol = dict(rtol=1e-12, atol=1e-14) if dtype == np.float64 else dict(rtol=1e-6, atol=1e-6)
    assert y.dtype == tkr.tensor(ty.detach().numpy()).dtype
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), **tol)
    if grads:
        g = np.cos(np.arange(ty.numel())).reshape(tuple(ty.shape)).astype(dtype)
        y.backward(tkr.tensor(g))
        ty.backward(torch.tensor(g))
        if grad_rtol:
            tol = dict(tol, rtol=grad_rtol)
        for a, b in zip(ours, theirs):
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), **tol)


ACTIVATIONS = {
    "hardsigmoid": lambda m, F_, x: F_.hardsigmoid(x),
    "hardswish": lambda m, F_, x: F_.hardswish(x),
    "hardshrink": lambda m, F_, x: F_.hardshrink(x),
    "hardshrink-0.3": lambda m, F_, x: F_.hardshrink(x, 0.3),
    "softshrink": lambda m, F_, x: F_.softshrink(x),
    "softshrink-0.3": lambda m, F_, x: F_.softshrink(x, 0.3),
    "tanhshrink": lambda m, F_, x: F_.tanhshrink(x),
    "threshold": lambda m, F_, x: F_.threshold(x, 0.3, -7.0),
    "glu": lambda m, F_, x: F_.glu(x),
    "softmin": lambda m, F_, x: F_.softmin(x.reshape(2, 7), dim=1),
    "rrelu-eval": lambda m, F_, x: F_.rrelu(x),
    "rrelu-eval-bounds": lambda m, F_, x: F_.rrelu(x, 0.2, 0.6),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_matches_torch_at_its_breakpoints(name, dtype):
    # PyTorch's hardsigmoid backward multiplies by 1/6 rounded to float32, in
    # float64 too: its gradient is 3e-8 off the exact 1/6 this engine uses
    _both(ACTIVATIONS[name], BREAKS, dtype=dtype,
          grad_rtol=1e-7 if name == "hardsigmoid" else None)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_gradcheck(name):
    x = tkr.tensor(rng.standard_normal(14) * 3, requires_grad=True)   # off the breakpoints
    assert gradcheck(lambda t: ACTIVATIONS[name](tkr, F, t), (x,))


@pytest.mark.parametrize("weight", [np.array([0.25]), np.array([0.1, -0.5, 2.0])])
@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 5), (2, 3, 2, 2)])
def test_prelu_matches_torch(shape, weight):
    x = rng.standard_normal(shape)
    x.flat[0] = 0.0           # the breakpoint: PyTorch's backward takes the slope there
    _both(lambda m, F_, a, w: F_.prelu(a, w), x, weight)
    t, w = (tkr.tensor(a, requires_grad=True) for a in (x, weight))
    assert gradcheck(lambda a, b: F.prelu(a, b), (tkr.tensor(x + 0.01, requires_grad=True), w))
    assert t.shape == x.shape


def test_prelu_module_and_errors_as_torch():
    torch = _torch()
    ours, theirs = nn.PReLU(3, init=0.1), torch.nn.PReLU(3, init=0.1)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight"]
    np.testing.assert_array_equal(ours.weight.detach().numpy(), theirs.weight.detach().numpy())
    with pytest.raises(RuntimeError, match="Mismatch of parameter numbers and input channel"):
        nn.PReLU(4)(tkr.zeros(2, 3))


def test_rrelu_training_draws_slopes_in_its_bounds():
    x = -tkr.ones(2000, dtype=tkr.float64)
    tkr.manual_seed(0)
    a = F.rrelu(x, 0.1, 0.3, training=True).numpy()
    tkr.manual_seed(0)
    b = nn.RReLU(0.1, 0.3).train()(x).numpy()
    np.testing.assert_array_equal(a, b)                # the engine's generator: reproducible
    assert (-a >= 0.1).all() and (-a <= 0.3).all() and 0.19 < -a.mean() < 0.21
    assert np.unique(a).size > 1000                    # one slope per element
    np.testing.assert_allclose(nn.RReLU(0.1, 0.3).eval()(x).numpy(), -0.2)
    np.testing.assert_array_equal(F.rrelu(tkr.tensor([1.5, 0.0])).numpy(), [1.5, 0.0])


def test_in_place_variants_as_torch():
    torch = _torch()
    for name, args in (("relu_", ()), ("leaky_relu_", (0.2,)), ("selu_", ()), ("celu_", (0.5,)),
                       ("threshold_", (0.3, 9.0)), ("rrelu_", ())):
        a = BREAKS.copy()
        ours, theirs = tkr.tensor(a), torch.tensor(a)
        out = getattr(F, name)(ours, *args)
        getattr(torch.nn.functional, name)(theirs, *args)
        assert out is ours
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)
    for cls in ("Hardsigmoid", "Hardswish"):
        x = tkr.tensor(BREAKS.copy())
        y = getattr(nn, cls)(inplace=True)(x)
        np.testing.assert_allclose(x.numpy(), getattr(torch.nn, cls)()(torch.tensor(BREAKS)))
        assert y is x


def test_glu_and_softmax2d_errors_as_torch():
    with pytest.raises(RuntimeError, match="Halving dimension must be even, but dimension 1 is "
                                           "size 3"):
        F.glu(tkr.zeros(2, 3), 1)
    with pytest.raises(ValueError, match="expected input to be 3D or 4D"):
        nn.Softmax2d()(tkr.zeros(2, 3))
    torch = _torch()
    x = rng.standard_normal((2, 3, 4, 5))
    np.testing.assert_allclose(nn.Softmax2d()(tkr.tensor(x)).numpy(),
                               torch.nn.Softmax2d()(torch.tensor(x)).numpy(), rtol=1e-12)


@pytest.mark.parametrize("r", [1, 2, 3])
def test_pixel_shuffle_round_trip_and_torch(r):
    x = rng.standard_normal((2, 2 * r * r, 3, 4))
    _both(lambda m, F_, a: F_.pixel_shuffle(a, r), x)
    y = rng.standard_normal((2, 3, 4 * r, 2 * r))
    _both(lambda m, F_, a: F_.pixel_unshuffle(a, r), y)
    _both(lambda m, F_, a: F_.pixel_shuffle(a, r), x[0])            # unbatched
    back = F.pixel_unshuffle(F.pixel_shuffle(tkr.tensor(x), r), r)
    np.testing.assert_array_equal(back.numpy(), x)
    assert repr(nn.PixelShuffle(r)) == f"PixelShuffle(upscale_factor={r})"
    with pytest.raises(RuntimeError, match="divisible by the square of upscale_factor"):
        F.pixel_shuffle(tkr.zeros(1, 3, 2, 2), 2)
    with pytest.raises(RuntimeError, match="at least 3 dimensions"):
        F.pixel_unshuffle(tkr.zeros(4, 4), 2)


def test_dropout1d_zeros_whole_channels():
    x = tkr.ones(4, 50, 30)
    tkr.manual_seed(1)
    y = F.dropout1d(x, 0.5).numpy()
    per_channel = y.reshape(200, 30)
    assert set(np.unique(per_channel)) <= {0.0, 2.0}
    assert all(len(set(row)) == 1 for row in per_channel)         # a channel is dropped whole
    assert 60 < (per_channel[:, 0] == 0).sum() < 140
    np.testing.assert_array_equal(nn.Dropout1d(0.5).eval()(x).numpy(), x.numpy())
    with pytest.raises(RuntimeError, match="Expected 2D or 3D input"):
        F.dropout1d(tkr.ones(2, 3, 4, 5))


@pytest.mark.parametrize("shape", [(3, 4, 5), (2, 3, 4, 5)])
@pytest.mark.parametrize("affine", [False, True])
@pytest.mark.parametrize("track", [False, True])
def test_instance_norm_module_matches_torch(shape, affine, track):
    torch = _torch()
    cls = "InstanceNorm1d" if len(shape) == 3 else "InstanceNorm2d"
    ours = getattr(nn, cls)(shape[1], affine=affine, track_running_stats=track, momentum=0.3)
    theirs = getattr(torch.nn, cls)(shape[1], affine=affine, track_running_stats=track,
                                    momentum=0.3)
    assert as_torch_repr(ours, torch) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    if affine:
        w, b = rng.standard_normal(shape[1]), rng.standard_normal(shape[1])
        for m in (ours, theirs):
            m.weight.data.copy_(type(m.weight.data)(w) if m is theirs else tkr.tensor(w))
            m.bias.data.copy_(type(m.bias.data)(b) if m is theirs else tkr.tensor(b))
        theirs.double()
        ours.double()
    else:
        theirs.double()
        ours.double()
    for step in range(2):
        x = rng.standard_normal(shape) * 2 + 1
        tx, ox = torch.tensor(x, requires_grad=True), tkr.tensor(x, requires_grad=True)
        ty, oy = theirs(tx), ours(ox)
        np.testing.assert_allclose(oy.detach().numpy(), ty.detach().numpy(), rtol=1e-10,
                                   atol=1e-12)
        g = np.sin(np.arange(x.size)).reshape(shape)
        ty.backward(torch.tensor(g))
        oy.backward(tkr.tensor(g))
        np.testing.assert_allclose(ox.grad.numpy(), tx.grad.numpy(), rtol=1e-9, atol=1e-12)
    for k, v in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[k].detach().numpy(), v.detach().numpy(),
                                   rtol=1e-10)
    ours.eval()
    theirs.eval()
    x = rng.standard_normal(shape)
    np.testing.assert_allclose(ours(tkr.tensor(x)).detach().numpy(),
                               theirs(torch.tensor(x)).detach().numpy(), rtol=1e-10, atol=1e-12)
    # unbatched input
    np.testing.assert_allclose(ours(tkr.tensor(x[0])).detach().numpy(),
                               theirs(torch.tensor(x[0])).detach().numpy(), rtol=1e-10,
                               atol=1e-12)


def test_instance_norm_errors_and_gradcheck():
    x = tkr.tensor(rng.standard_normal((2, 3, 4)), requires_grad=True)
    w = tkr.tensor(rng.standard_normal(3), requires_grad=True)
    b = tkr.tensor(rng.standard_normal(3), requires_grad=True)
    assert gradcheck(lambda a, c, d: F.instance_norm(a, weight=c, bias=d), (x, w, b))
    assert gradgradcheck(lambda a: F.instance_norm(a), (x,))
    with pytest.raises(ValueError, match="expected 2D or 3D input"):
        nn.InstanceNorm1d(3)(tkr.zeros(2, 3, 4, 5))
    with pytest.raises(ValueError, match="to match num_features"):
        nn.InstanceNorm1d(4, affine=True)(tkr.zeros(2, 3, 5))
    with pytest.warns(UserWarning, match="does not match num_features"):
        nn.InstanceNorm1d(4)(tkr.randn(2, 3, 5))
    with pytest.raises(ValueError, match="Expected more than 1 spatial element"):
        F.instance_norm(tkr.zeros(2, 3, 1))


@pytest.mark.parametrize("shape,norm", [((2, 5), 5), ((2, 3, 4), (3, 4)), ((3, 4), [4])])
@pytest.mark.parametrize("eps", [None, 1e-3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rms_norm_matches_torch(shape, norm, eps, dtype):
    torch = _torch()
    x = rng.standard_normal(shape)
    wshape = (norm,) if isinstance(norm, int) else tuple(norm)
    w = rng.standard_normal(wshape)
    listed = [norm] if isinstance(norm, int) else list(norm)    # PyTorch's F wants a list
    _both(lambda m, F_, a, b: F_.rms_norm(a, listed, b, eps), x, w, dtype=dtype)
    ours, theirs = nn.RMSNorm(norm, eps=eps), torch.nn.RMSNorm(norm, eps=eps)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.double()
    theirs.double()
    np.testing.assert_allclose(ours(tkr.tensor(x)).detach().numpy(),
                               theirs(torch.tensor(x)).detach().numpy(), rtol=1e-12)
    t = tkr.tensor(x, requires_grad=True)
    assert gradcheck(lambda a: F.rms_norm(a, norm, tkr.tensor(w), eps), (t,))
    with pytest.raises(RuntimeError, match="expected input with shape"):
        F.rms_norm(tkr.zeros(2, 3), 4)


PADS = [("ZeroPad1d", (1, 2), 3), ("ZeroPad2d", 1, 4), ("ZeroPad2d", (1, 0, 2, 3), 4),
        ("ConstantPad1d", ((1, 2), 3.5), 3), ("ConstantPad2d", ((1, 0, 2, 0), -1.0), 4),
        ("ReflectionPad1d", 2, 3), ("ReflectionPad2d", (1, 1, 2, 0), 4),
        ("ReplicationPad1d", (3, 1), 3), ("ReplicationPad2d", 2, 4),
        ("CircularPad1d", 1, 3), ("CircularPad2d", (1, 0, 0, 1), 4)]


@pytest.mark.parametrize("cls,args,ndim", PADS)
def test_padding_layers_match_torch(cls, args, ndim):
    torch = _torch()
    args = args if isinstance(args, tuple) and cls.startswith("Constant") else (args,)
    ours, theirs = getattr(nn, cls)(*args), getattr(torch.nn, cls)(*args)
    assert repr(ours) == repr(theirs) and ours.padding == theirs.padding
    x = rng.standard_normal((2, 3, 4, 5)[:ndim])
    _both(lambda m, F_, a: (ours if m is tkr else theirs)(a), x)


def test_parameter_dict_as_torch():
    torch = _torch()
    for lib in (tkr, torch):
        d = lib.nn.ParameterDict({"a": lib.nn.Parameter(lib.ones(2)), "b": lib.zeros(3)})
        d["c"] = lib.nn.Parameter(lib.ones(1))
        assert list(d) == ["a", "b", "c"] and len(d) == 3 and "b" in d
        assert isinstance(d["b"], lib.nn.Parameter) and d.get("zz") is None
        assert [k for k, _ in d.named_parameters()] == ["a", "b", "c"]
        assert list(d.state_dict()) == ["a", "b", "c"]
        popped = d.pop("a")
        assert tuple(popped.shape) == (2,) and list(d.keys()) == ["b", "c"]
        merged = d | {"z": lib.nn.Parameter(lib.ones(4))}
        assert list(merged) == ["b", "c", "z"] and list(d) == ["b", "c"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = lib.nn.Module()
            model.params = d
            assert [k for k, _ in model.named_parameters()] == ["params.b", "params.c"]
    ours = nn.ParameterDict({"w": nn.Parameter(tkr.ones(2, 3)), "b": nn.Parameter(tkr.ones(3))})
    assert repr(ours) == ("ParameterDict(\n"
                          "    (w): Parameter containing: [tinygrad_kr.float32 of size 2x3]\n"
                          "    (b): Parameter containing: [tinygrad_kr.float32 of size 3]\n)")


UNFOLDS = [dict(kernel_size=(2, 3)), dict(kernel_size=2, padding=1, stride=2),
           dict(kernel_size=3, dilation=2, padding=1), dict(kernel_size=(1, 2), stride=(2, 1))]


@pytest.mark.parametrize("kwargs", UNFOLDS)
def test_unfold_fold_match_torch(kwargs):
    torch = _torch()
    x = rng.standard_normal((2, 3, 5, 6))
    _both(lambda m, F_, a: F_.unfold(a, **kwargs), x)
    _both(lambda m, F_, a: F_.unfold(a, **kwargs), x[0])                  # unbatched
    cols = torch.nn.functional.unfold(torch.tensor(x), **kwargs).shape
    y = rng.standard_normal(tuple(cols))
    _both(lambda m, F_, a: F_.fold(a, (5, 6), **kwargs), y)
    ours, theirs = nn.Unfold(**kwargs), torch.nn.Unfold(**kwargs)
    assert repr(ours) == repr(theirs)
    assert repr(nn.Fold((5, 6), **kwargs)) == repr(torch.nn.Fold((5, 6), **kwargs))
    t = tkr.tensor(x, requires_grad=True)
    assert gradcheck(lambda a: F.unfold(a, **kwargs), (t,))
    assert gradcheck(lambda a: F.fold(a, (5, 6), **kwargs), (tkr.tensor(y, requires_grad=True),))


def test_fold_errors_as_torch():
    with pytest.raises(RuntimeError, match=r"calculated number of sliding blocks 3 \* 3 = 9, but "
                                           r"got input.size\(2\)=7"):
        F.fold(tkr.ones(1, 12, 7), (4, 5), (2, 3))
    with pytest.raises(NotImplementedError, match="Only 3D or 4D input"):
        F.unfold(tkr.ones(4, 5), (2, 3))
    with pytest.raises(RuntimeError, match="components must be at least one"):
        F.unfold(tkr.ones(1, 1, 2, 2), 3)
