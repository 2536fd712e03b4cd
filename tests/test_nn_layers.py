"""Layers against PyTorch in float64: same weights (loaded through
load_state_dict) give the same outputs, input and weight gradients and
BatchNorm running statistics; default initialisation; shape errors."""
import math
import warnings

import numpy as np
import pytest

import tinygrad_kr as tkr
import tinygrad_kr.nn as nn
import tinygrad_kr.nn.functional as F
from torch_compat import as_torch_repr, batchnorm_has_bias

rng = np.random.default_rng(0)


def _copy_weights(ours, theirs):
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})


def _assert_close(a, b, what, tol=1e-10):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=tol, atol=tol, err_msg=what)


def _parity(make, shape, train=False, steps=1, tol=1e-10):
    """Build the layer in both libraries, copy torch's weights into ours, run
    ``steps`` forward/backward passes, compare outputs, gradients, buffers."""
    torch = pytest.importorskip("torch")
    theirs = make(torch.nn).double().train(train)
    ours = make(nn).double().train(train)
    _copy_weights(ours, theirs)
    assert as_torch_repr(ours, torch) == repr(theirs)
    for step in range(steps):
        x = rng.standard_normal(shape)
        g = None
        xo, xt = tkr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        yo, yt = ours(xo), theirs(xt)
        _assert_close(yo.detach().numpy(), yt.detach().numpy(), f"output, step {step}", tol)
        if yt.requires_grad:
            g = rng.standard_normal(tuple(yt.shape))
            yo.backward(tkr.tensor(g))
            yt.backward(torch.tensor(g))
            _assert_close(xo.grad.numpy(), xt.grad.numpy(), f"input grad, step {step}", tol)
    named = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        if named[name].grad is not None:
            _assert_close(p.grad.numpy(), named[name].grad.numpy(), f"grad of {name}", tol)
    for (name, b), (_, bt) in zip(ours.named_buffers(), theirs.named_buffers()):
        _assert_close(b.numpy(), bt.numpy(), f"buffer {name}", tol)
    return ours, theirs


def _lenet(nn):
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.BatchNorm2d(6), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.BatchNorm2d(16), nn.ReLU(), nn.AvgPool2d(2),
        nn.Flatten(), nn.Linear(400, 120), nn.BatchNorm1d(120), nn.ReLU(),
        nn.Linear(120, 84), nn.LeakyReLU(0.1), nn.Dropout(0.5), nn.Linear(84, 10),
        nn.LogSoftmax(dim=1))


LAYERS = {
    "linear": (lambda nn: nn.Linear(5, 3), (4, 5)),
    "linear_nobias_3d": (lambda nn: nn.Linear(5, 3, bias=False), (2, 4, 5)),
    "conv": (lambda nn: nn.Conv2d(3, 4, 3), (2, 3, 7, 6)),
    "conv_stride_pad": (lambda nn: nn.Conv2d(3, 4, (3, 2), stride=2, padding=(1, 2)),
                        (2, 3, 8, 7)),
    "conv_dilation_groups": (lambda nn: nn.Conv2d(4, 6, 3, dilation=2, groups=2, bias=False),
                             (2, 4, 9, 9)),
    "conv_same_even_kernel": (lambda nn: nn.Conv2d(2, 3, 4, padding="same"), (2, 2, 6, 5)),
    "conv_valid": (lambda nn: nn.Conv2d(2, 3, 3, padding="valid"), (1, 2, 5, 5)),
    "conv_reflect": (lambda nn: nn.Conv2d(2, 3, 3, padding=1, padding_mode="reflect"),
                     (2, 2, 5, 6)),
    "conv_replicate": (lambda nn: nn.Conv2d(2, 3, 3, padding=2, padding_mode="replicate"),
                       (1, 2, 4, 4)),
    "conv_circular": (lambda nn: nn.Conv2d(2, 3, 3, padding=(1, 2), padding_mode="circular"),
                      (1, 2, 5, 4)),
    "conv_unbatched": (lambda nn: nn.Conv2d(3, 2, 3, padding=1), (3, 5, 5)),
    "maxpool": (lambda nn: nn.MaxPool2d(2), (2, 3, 6, 6)),
    "maxpool_stride_pad_ceil": (lambda nn: nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True),
                                (2, 2, 8, 7)),
    "avgpool": (lambda nn: nn.AvgPool2d(2), (2, 3, 6, 5)),
    "avgpool_pad_exclude": (lambda nn: nn.AvgPool2d(3, 2, 1, count_include_pad=False),
                            (2, 2, 7, 7)),
    "adaptive_avgpool": (lambda nn: nn.AdaptiveAvgPool2d((2, 3)), (2, 3, 7, 8)),
    "adaptive_avgpool_1": (lambda nn: nn.AdaptiveAvgPool2d(1), (2, 3, 5, 5)),
    "relu": (lambda nn: nn.ReLU(), (3, 4)),
    "leaky_relu": (lambda nn: nn.LeakyReLU(0.2), (3, 4)),
    "sigmoid": (lambda nn: nn.Sigmoid(), (3, 4)),
    "tanh": (lambda nn: nn.Tanh(), (3, 4)),
    "softmax": (lambda nn: nn.Softmax(dim=1), (3, 4)),
    "log_softmax": (lambda nn: nn.LogSoftmax(dim=-1), (2, 3, 4)),
    "flatten": (lambda nn: nn.Flatten(), (2, 3, 4)),
    "flatten_0_1": (lambda nn: nn.Flatten(0, 1), (2, 3, 4)),
    "unflatten": (lambda nn: nn.Unflatten(1, (2, 6)), (3, 12)),
    "identity": (lambda nn: nn.Identity(54, unused=1), (3, 2)),
    "dropout_eval": (lambda nn: nn.Dropout(0.3), (4, 5)),
    "dropout2d_eval": (lambda nn: nn.Dropout2d(0.3), (2, 3, 4, 4)),
}


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")  # torch's own
@pytest.mark.parametrize("name", list(LAYERS))
def test_layer_matches_torch(name):
    make, shape = LAYERS[name]
    _parity(make, shape)


BATCHNORMS = {
    "bn1d": (lambda nn: nn.BatchNorm1d(4), (8, 4)),
    "bn1d_3d_input": (lambda nn: nn.BatchNorm1d(3, momentum=0.3), (5, 3, 4)),
    "bn2d": (lambda nn: nn.BatchNorm2d(3), (4, 3, 5, 5)),
    "bn2d_cumulative": (lambda nn: nn.BatchNorm2d(3, momentum=None), (4, 3, 3, 3)),
    "bn2d_no_affine": (lambda nn: nn.BatchNorm2d(3, affine=False), (4, 3, 3, 3)),
    "bn1d_no_bias": (lambda nn: nn.BatchNorm1d(3, bias=False), (6, 3)),
    "bn2d_untracked": (lambda nn: nn.BatchNorm2d(2, track_running_stats=False), (3, 2, 4, 4)),
}


@pytest.mark.parametrize("name", list(BATCHNORMS))
def test_batchnorm_train_then_eval_matches_torch(name):
    make, shape = BATCHNORMS[name]
    if name == "bn1d_no_bias" and not batchnorm_has_bias(pytest.importorskip("torch")):
        pytest.skip("this PyTorch has no BatchNorm(bias=False) (added in 2.13)")
    ours, theirs = _parity(make, shape, train=True, steps=3)
    if ours.track_running_stats:
        assert ours.num_batches_tracked.item() == 3
        assert ours.num_batches_tracked.dtype == np.int64
    # evaluation with the running statistics gathered above
    ours.eval()
    theirs.eval()
    x = rng.standard_normal(shape)
    torch = pytest.importorskip("torch")
    _assert_close(ours(tkr.tensor(x)).detach().numpy(),
                  theirs(torch.tensor(x)).detach().numpy(), "eval output")


def test_lenet_with_batchnorm_matches_torch():
    """A whole model, two training steps (Dropout off: its masks differ) then eval."""
    torch = pytest.importorskip("torch")

    def make(nn):
        model = _lenet(nn)
        model[14].p = 0.0
        return model

    ours, theirs = _parity(make, (4, 1, 28, 28), train=True, steps=2, tol=1e-9)
    ours.eval()
    theirs.eval()
    x = rng.standard_normal((3, 1, 28, 28))
    _assert_close(ours(tkr.tensor(x)).detach().numpy(), theirs(torch.tensor(x)).detach().numpy(),
                  "eval output", 1e-9)


# --------------------------------------------------------------------------
# default initialisation
# --------------------------------------------------------------------------


@pytest.mark.parametrize("make, fan_in", [(lambda: nn.Linear(300, 200), 300),
                                          (lambda: nn.Conv2d(16, 32, 5), 16 * 25),
                                          (lambda: nn.Conv2d(8, 64, 3, groups=4), 2 * 9)])
def test_default_init_matches_pytorch_rule(make, fan_in):
    layer = make()
    bound = np.float32(1 / math.sqrt(fan_in))
    w, b = layer.weight.detach().numpy(), layer.bias.detach().numpy()
    assert w.dtype == np.float32
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    assert w.std() == pytest.approx(bound / math.sqrt(3), rel=0.05)
    assert np.abs(b).max() <= bound


def test_layers_take_device_and_dtype():
    fc = nn.Linear(3, 2, dtype=tkr.float64, device="cpu")
    bn = nn.BatchNorm1d(2, dtype=tkr.float64)
    assert fc.weight.dtype == bn.running_mean.dtype == np.float64
    assert bn.num_batches_tracked.dtype == np.int64
    assert fc(tkr.randn(4, 3, dtype=tkr.float64)).dtype == np.float64
    state = nn.BatchNorm2d(3).state_dict()
    assert list(state) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    np.testing.assert_array_equal(state["running_var"].numpy(), [1, 1, 1])


# --------------------------------------------------------------------------
# dropout
# --------------------------------------------------------------------------


def test_dropout_train_and_eval():
    drop = nn.Dropout(0.25)
    x = tkr.ones(200, 100)
    y = drop(x).numpy()
    assert set(np.unique(y)) <= {0.0, np.float32(1 / 0.75)}
    assert (y == 0).mean() == pytest.approx(0.25, abs=0.02)
    tkr.manual_seed(5)
    a = drop(x).numpy().copy()
    tkr.manual_seed(5)
    np.testing.assert_array_equal(drop(x).numpy(), a)
    drop.eval()
    assert drop(x) is x or np.array_equal(drop(x).numpy(), x.numpy())
    channels = nn.Dropout2d(0.5)(tkr.ones(8, 16, 3, 3)).numpy()
    per_channel = channels.reshape(8, 16, 9)
    assert np.all(per_channel.min(-1) == per_channel.max(-1))  # whole channels dropped
    with pytest.raises(ValueError, match="between 0 and 1, but got 1.5"):
        nn.Dropout(1.5)


# --------------------------------------------------------------------------
# activations, in-place variants, softmax, pad
# --------------------------------------------------------------------------


def test_inplace_relu():
    x = tkr.tensor([-1.0, 2.0])
    assert F.relu(x, inplace=True) is x
    np.testing.assert_array_equal(x.numpy(), [0.0, 2.0])
    leaf = tkr.tensor([-1.0, 2.0, -3.0], requires_grad=True)
    h = leaf * 2
    out = nn.ReLU(inplace=True)(h)
    assert out is h
    (out * tkr.tensor([1.0, 2.0, 3.0])).sum().backward()
    np.testing.assert_array_equal(leaf.grad.numpy(), [0.0, 4.0, 0.0])
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        F.leaky_relu(leaf, 0.1, inplace=True)
    assert repr(nn.ReLU(inplace=True)) == "ReLU(inplace=True)"


def test_softmax_without_dim_warns():
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        y = nn.Softmax()(tkr.randn(3, 4))
    np.testing.assert_allclose(y.sum(1).numpy(), 1, rtol=1e-6)


@pytest.mark.parametrize("pad, mode", [((1, 2), "constant"), ((1, 0, 2, 3), "constant"),
                                       ((-1, 2, 0, -2), "constant"), ((2, 1, 1, 2), "reflect"),
                                       ((3, 1, 0, 2), "replicate"), ((1, 2, 2, 1), "circular")])
def test_pad_matches_torch(pad, mode):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal((2, 3, 4, 5))
    kw = {"value": 0.5} if mode == "constant" else {}
    xo, xt = tkr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    yo, yt = F.pad(xo, pad, mode, **kw), torch.nn.functional.pad(xt, pad, mode, **kw)
    _assert_close(yo.detach().numpy(), yt.detach().numpy(), "pad")
    g = rng.standard_normal(tuple(yt.shape))
    yo.backward(tkr.tensor(g))
    yt.backward(torch.tensor(g))
    _assert_close(xo.grad.numpy(), xt.grad.numpy(), "pad grad")


def test_pad_errors():
    with pytest.raises(RuntimeError, match="divisible by 2"):
        F.pad(tkr.zeros(2, 2), (1,))
    with pytest.raises(RuntimeError, match="should be less than"):
        F.pad(tkr.zeros(1, 1, 3), (3, 0), mode="reflect")
    with pytest.raises(NotImplementedError, match="Unrecognised padding mode"):
        F.pad(tkr.zeros(1, 1, 3), (1, 1), mode="mirror")


# --------------------------------------------------------------------------
# shape and argument errors name the layer and both shapes
# --------------------------------------------------------------------------


def test_linear_wrong_features():
    with pytest.raises(RuntimeError) as e:
        nn.Linear(784, 10)(tkr.zeros(32, 100))
    assert str(e.value) == ("Linear(in_features=784, out_features=10, bias=True): expected input "
                            "with 784 features in the last dimension, got input of shape (32, 100)")


def test_conv_errors():
    conv = nn.Conv2d(1, 6, 5)
    with pytest.raises(RuntimeError, match=r"expected input with 1 channels, got input of shape "
                                           r"\(8, 3, 32, 32\) \(3 channels\)"):
        conv(tkr.zeros(8, 3, 32, 32))
    with pytest.raises(RuntimeError, match=r"Expected 3D \(unbatched\) or 4D \(batched\) input"):
        conv(tkr.zeros(32, 32))
    with pytest.raises(RuntimeError, match=r"padded input size per channel: \(3 x 3\). Kernel "
                                           r"size: \(5 x 5\)"):
        conv(tkr.zeros(1, 1, 3, 3))
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        nn.Conv2d(3, 6, 3, groups=2)
    with pytest.raises(ValueError, match="Invalid padding string 'full'"):
        nn.Conv2d(3, 6, 3, padding="full")
    with pytest.raises(ValueError, match="not supported for strided"):
        nn.Conv2d(3, 6, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        nn.Conv2d(3, 6, 3, padding_mode="mirror")


def test_batchnorm_errors():
    with pytest.raises(ValueError, match=r"expected 2D or 3D input \(got 4D input"):
        nn.BatchNorm1d(3)(tkr.zeros(2, 3, 4, 4))
    with pytest.raises(ValueError, match=r"expected 4D input \(got 2D input"):
        nn.BatchNorm2d(3)(tkr.zeros(2, 3))
    with pytest.raises(RuntimeError, match=r"BatchNorm2d\(3, .*expected input with 3 channels in "
                                           r"dimension 1, got input of shape \(2, 4, 5, 5\)"):
        nn.BatchNorm2d(3)(tkr.zeros(2, 4, 5, 5))


def test_module_errors_propagate_through_sequential():
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    with pytest.raises(RuntimeError, match=r"got input of shape \(4, 3072\)"):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            model(tkr.zeros(4, 3, 32, 32))
