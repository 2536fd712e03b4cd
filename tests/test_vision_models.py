"""vision.models: torchvision's AlexNet, VGG and ResNet families, their weights
API and torch.hub's cache (tinygrad_kr.hub).

Always run: parameter counts and state_dict keys/shapes/dtypes against
torchvision's (its documented num_params; digests of its state_dict listings,
generated with torchvision 0.28), initialisation schemes, forward outputs
against independent functional forwards, the weights mechanism offline (a
temporary TORCH_HOME and a fake urlopen). Where PyTorch is installed the
functional forwards also run on torch.nn.functional and the weight files are
written by torch.save (zip and legacy formats); where torchvision is
installed, outputs are compared with torchvision's models.

Big models are built with nn.init stubbed out (``no_init``): their arrays
are then allocated but never touched, so building VGG-19 costs nothing.
"""
import hashlib
import io
import math
import os
import pickle
import tomllib
import urllib.error
import urllib.request
import warnings
from pathlib import Path

import numpy as np
import pytest

import tinygrad_kr as tg
import tinygrad_kr.nn.functional as F
from tinygrad_kr import hub, nn
from tinygrad_kr.serialization import CheckpointError
from tinygrad_kr.vision import models
from tinygrad_kr.vision.models import _presets

# name -> (number of state_dict entries, sha256[:16] of "key (shape) dtype" lines), torchvision 0.28
TORCHVISION_STATE_DICTS = {
    "alexnet": (16, "559fbdc7eb5c0bcc"),
    "resnet101": (626, "0f13b66610123216"),
    "resnet152": (932, "027d8e7bddbac424"),
    "resnet18": (122, "11f76d8656482c93"),
    "resnet34": (218, "6adcd49f2178d075"),
    "resnet50": (320, "14c3929c40dc540d"),
    "resnext101_32x8d": (626, "4e17f8a5928f5635"),
    "resnext101_64x4d": (626, "28d7f28f7ca60821"),
    "resnext50_32x4d": (320, "e150f6efb9a46694"),
    "vgg11": (22, "fd56df2a3d7de461"),
    "vgg11_bn": (62, "362083fadc0d4121"),
    "vgg13": (26, "4ee82791bdd98e55"),
    "vgg13_bn": (76, "64f0ccc032f2a705"),
    "vgg16": (32, "e44d8019af45b27a"),
    "vgg16_bn": (97, "e016cb3f386d85c1"),
    "vgg19": (38, "417d28c247cebea1"),
    "vgg19_bn": (118, "a332557a4c483966"),
    "wide_resnet101_2": (626, "84330b7ebd470fb2"),
    "wide_resnet50_2": (320, "62665e9100f197a8"),
}

ALEXNET_STATE_DICT = [
    ("features.0.weight", (64, 3, 11, 11)), ("features.0.bias", (64,)),
    ("features.3.weight", (192, 64, 5, 5)), ("features.3.bias", (192,)),
    ("features.6.weight", (384, 192, 3, 3)), ("features.6.bias", (384,)),
    ("features.8.weight", (256, 384, 3, 3)), ("features.8.bias", (256,)),
    ("features.10.weight", (256, 256, 3, 3)), ("features.10.bias", (256,)),
    ("classifier.1.weight", (4096, 9216)), ("classifier.1.bias", (4096,)),
    ("classifier.4.weight", (4096, 4096)), ("classifier.4.bias", (4096,)),
    ("classifier.6.weight", (1000, 4096)), ("classifier.6.bias", (1000,))]

INITIALISERS = ("kaiming_normal_", "kaiming_uniform_", "normal_", "uniform_", "constant_")


@pytest.fixture
def no_init(monkeypatch):
    """nn.init's random and constant fills as no-ops; returns the calls made:
    [(function name, tensor, args, kwargs)]."""
    calls = []
    for name in INITIALISERS:
        def stub(tensor, *args, _name=name, **kwargs):
            calls.append((_name, tensor, args, kwargs))
            return tensor
        monkeypatch.setattr(nn.init, name, stub)
    return calls


def listing_digest(model):
    sd = model.state_dict()
    text = "\n".join(f"{k} {tuple(int(n) for n in v.shape)} {v.dtype}" for k, v in sd.items())
    return len(sd), hashlib.sha256(text.encode()).hexdigest()[:16]


# -- architecture: what torchvision documents and what its state_dicts hold ----------

def test_the_registry_lists_the_models():
    assert models.list_models() == sorted(TORCHVISION_STATE_DICTS)
    assert models.list_models(module=models, include="vgg*", exclude="*_bn") == \
        ["vgg11", "vgg13", "vgg16", "vgg19"]
    assert models.get_model_builder("ResNet18") is models.resnet18
    assert models.get_model_weights("resnet50") is models.ResNet50_Weights
    assert models.get_model_weights(models.vgg16) is models.VGG16_Weights
    assert models.get_weight("ResNet50_Weights.IMAGENET1K_V2") is \
        models.ResNet50_Weights.DEFAULT
    with pytest.raises(ValueError, match="Unknown model"):
        models.get_model("resnet7")
    with pytest.raises(ValueError, match="Invalid weight name"):
        models.get_weight("resnet50")


@pytest.mark.parametrize("name", sorted(TORCHVISION_STATE_DICTS))
def test_parameters_and_state_dict_equal_torchvisions(name, no_init):
    model = models.get_model(name)
    enum = models.get_model_weights(name)
    n_params = sum(p.numel() for p in model.parameters())
    assert all(w.meta["num_params"] == n_params for w in enum)
    assert listing_digest(model) == TORCHVISION_STATE_DICTS[name]


def test_alexnet_state_dict_in_full(no_init):
    sd = models.alexnet().state_dict()
    assert [(k, tuple(v.shape)) for k, v in sd.items()] == ALEXNET_STATE_DICT


def test_builder_arguments(no_init):
    model = models.resnet18(num_classes=10)
    assert tuple(model.fc.weight.shape) == (10, 512)
    assert models.alexnet(dropout=0.2).classifier[0].p == 0.2
    assert not models.vgg11(dropout=0.3, num_classes=7).classifier[2].inplace
    # the variant's defining arguments may be repeated, not changed
    assert models.resnext50_32x4d(groups=32).layer1[0].conv2.groups == 32
    with pytest.raises(ValueError, match="'width_per_group' expected value 128 but got 64"):
        models.wide_resnet50_2(width_per_group=64)
    with pytest.raises(ValueError, match="'num_classes' expected value 1000 but got 10"):
        models.resnet18(weights="DEFAULT", num_classes=10)
    with pytest.raises(TypeError, match="expected ResNet18_Weights but received "
                                        "ResNet34_Weights"):
        models.resnet18(weights=models.ResNet34_Weights.DEFAULT)
    with pytest.raises(ValueError, match="BasicBlock only supports groups=1"):
        models.resnet18(groups=2)
    with pytest.raises(NotImplementedError, match="Dilation > 1 not supported in BasicBlock"):
        models.resnet18(replace_stride_with_dilation=[False, False, True])
    with pytest.raises(ValueError, match="3-element tuple"):
        models.resnet50(replace_stride_with_dilation=[True])
    # norm_layer replaces every BatchNorm2d
    gn = models.resnet50(norm_layer=lambda c: nn.GroupNorm(32, c))
    assert not any(isinstance(m, nn.BatchNorm2d) for m in gn.modules())
    assert isinstance(gn.layer4[2].bn3, nn.GroupNorm)


def test_forward_shapes(no_init):
    x = tg.randn(1, 3, 64, 64)
    model = models.resnet18(num_classes=10)
    model = put_state(model, cheap_state(model)).eval()
    with tg.no_grad():
        assert tuple(model(x).shape) == (1, 10)
        # dilation instead of stride keeps layer3/layer4 at 1/8 of the input
        net = models.ResNet(models.resnet.Bottleneck, [1, 1, 1, 1], num_classes=5, groups=2,
                            width_per_group=8, replace_stride_with_dilation=[False, True, True])
        net = put_state(net, cheap_state(net)).eval()
        feats = net.layer4(net.layer3(net.layer2(net.layer1(net.maxpool(net.relu(
            net.bn1(net.conv1(x))))))))
        assert tuple(feats.shape) == (1, 2048, 8, 8)
        assert tuple(net(x).shape) == (1, 5)
        assert net.layer4[0].conv2.dilation == (2, 2) and net.layer4[0].conv2.padding == (2, 2)


# -- initialisation ---------------------------------------------------------------------

def last_calls(calls):
    """id(tensor) -> the last (name, args, kwargs) applied to it."""
    return {id(t): (name, args, kwargs) for name, t, args, kwargs in calls}


def test_vgg_initialisation_is_torchvisions(no_init):
    model = models.vgg11_bn()
    last = last_calls(no_init)
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            assert last[id(m.weight)] == ("kaiming_normal_", (),
                                          {"mode": "fan_out", "nonlinearity": "relu"})
            assert last[id(m.bias)] == ("constant_", (0,), {})
        elif isinstance(m, nn.BatchNorm2d):
            assert last[id(m.weight)] == ("constant_", (1,), {})
            assert last[id(m.bias)] == ("constant_", (0,), {})
        elif isinstance(m, nn.Linear):
            assert last[id(m.weight)] == ("normal_", (0, 0.01), {})
            assert last[id(m.bias)] == ("constant_", (0,), {})
    no_init.clear()
    models.vgg11(init_weights=False)
    assert {name for name, *_ in no_init} == {"kaiming_uniform_", "uniform_"}  # layer defaults


def test_resnet_initialisation_is_torchvisions():
    model = models.resnet18(zero_init_residual=True)
    w = model.layer3[1].conv2.weight.detach().numpy()
    fan_out = w.shape[0] * w.shape[2] * w.shape[3]
    assert abs(w.std() / math.sqrt(2.0 / fan_out) - 1) < 0.05 and abs(w.mean()) < 2e-3
    bound = 1 / math.sqrt(512)   # fc keeps Linear's default
    assert np.abs(model.fc.weight.detach().numpy()).max() <= bound
    for name, m in model.named_modules():
        if isinstance(m, nn.BatchNorm2d):
            gamma = 0 if name.endswith(".bn2") else 1   # zero_init_residual: a block's last norm
            assert (m.weight.detach().numpy() == gamma).all(), name
            assert (m.bias.detach().numpy() == 0).all()
    # every block then starts as the identity (after its ReLU), in train mode too
    x = tg.relu(tg.randn(2, 64, 8, 8))
    np.testing.assert_allclose(model.layer1[0](x).detach().numpy(), x.numpy(), atol=1e-6)


def test_zero_init_residual_of_bottlenecks(no_init):
    net = models.ResNet(models.resnet.Bottleneck, [1, 1, 1, 1], zero_init_residual=True)
    last = last_calls(no_init)
    for block in (net.layer1[0], net.layer4[0]):
        assert last[id(block.bn3.weight)] == ("constant_", (0,), {})
        assert last[id(block.bn2.weight)] == ("constant_", (1,), {})
        assert last[id(block.conv2.weight)] == ("kaiming_normal_", (),
                                                {"mode": "fan_out", "nonlinearity": "relu"})


# -- outputs: independent functional forwards on the same weights ----------------------

def cheap_state(model, seed=0):
    """name -> float32/int64 array for every state_dict entry, random but cheap:
    a matrix of more than 2**20 entries is zero except a band of random rows
    (zero pages: VGG's 400 MB first Linear costs nothing to make or read)."""
    rng = np.random.default_rng(seed)
    state = {}
    for key, value in model.state_dict().items():
        shape = tuple(value.shape)
        if key.endswith("num_batches_tracked"):
            a = np.array(0, np.int64)
        elif key.endswith("running_var"):
            a = rng.uniform(0.5, 1.5, shape).astype(np.float32)
        elif key.endswith("running_mean") or key.endswith("bias"):
            a = (0.1 * rng.standard_normal(shape)).astype(np.float32)
        elif len(shape) == 1:   # norm weights
            a = rng.uniform(0.5, 1.5, shape).astype(np.float32)
        else:
            scale = np.float32(1 / math.sqrt(math.prod(shape[1:])))
            if math.prod(shape) > 1 << 20:
                a = np.zeros(shape, np.float32)
                a[:16] = rng.standard_normal((16,) + shape[1:], dtype=np.float32) * scale
            else:
                a = rng.standard_normal(shape, dtype=np.float32) * scale
        state[key] = a
    return state


def put_state(model, state):
    """Make ``state``'s arrays the model's parameters and buffers, without copies."""
    for key, array in state.items():
        owner, _, attr = key.rpartition(".")
        module = model.get_submodule(owner)
        tensor = tg.from_numpy(array)
        if attr in module._parameters:
            setattr(module, attr, nn.Parameter(tensor))
        else:
            module._buffers[attr] = tensor
    return model


def reference_resnet18(F, S, x, training=False):
    def bn(x, p):
        return F.batch_norm(x, S[p + ".running_mean"], S[p + ".running_var"],
                            S[p + ".weight"], S[p + ".bias"], training, 0.1, 1e-5)
    x = F.relu(bn(F.conv2d(x, S["conv1.weight"], stride=2, padding=3), "bn1"))
    x = F.max_pool2d(x, 3, 2, 1)
    for stage, stride in zip((1, 2, 3, 4), (1, 2, 2, 2)):
        for b in range(2):
            p, s = f"layer{stage}.{b}.", stride if b == 0 else 1
            out = F.relu(bn(F.conv2d(x, S[p + "conv1.weight"], stride=s, padding=1), p + "bn1"))
            out = bn(F.conv2d(out, S[p + "conv2.weight"], padding=1), p + "bn2")
            if p + "downsample.0.weight" in S:
                x = bn(F.conv2d(x, S[p + "downsample.0.weight"], stride=s), p + "downsample.1")
            x = F.relu(out + x)
    return F.linear(F.adaptive_avg_pool2d(x, 1).flatten(1), S["fc.weight"], S["fc.bias"])


def reference_vgg11_bn(F, S, x):
    i = 0
    for v in models.vgg.cfgs["A"]:
        if v == "M":
            x, i = F.max_pool2d(x, 2, 2), i + 1
            continue
        x = F.conv2d(x, S[f"features.{i}.weight"], S[f"features.{i}.bias"], padding=1)
        x = F.batch_norm(x, S[f"features.{i + 1}.running_mean"],
                         S[f"features.{i + 1}.running_var"], S[f"features.{i + 1}.weight"],
                         S[f"features.{i + 1}.bias"], False, 0.1, 1e-5)
        x, i = F.relu(x), i + 3
    x = F.adaptive_avg_pool2d(x, 7).flatten(1)
    x = F.relu(F.linear(x, S["classifier.0.weight"], S["classifier.0.bias"]))
    x = F.relu(F.linear(x, S["classifier.3.weight"], S["classifier.3.bias"]))
    return F.linear(x, S["classifier.6.weight"], S["classifier.6.bias"])


def reference_alexnet(F, S, x):
    for i, stride, padding, pool in ((0, 4, 2, True), (3, 1, 2, True), (6, 1, 1, False),
                                     (8, 1, 1, False), (10, 1, 1, True)):
        x = F.relu(F.conv2d(x, S[f"features.{i}.weight"], S[f"features.{i}.bias"],
                            stride=stride, padding=padding))
        if pool:
            x = F.max_pool2d(x, 3, 2)
    x = F.adaptive_avg_pool2d(x, 6).flatten(1)
    x = F.relu(F.linear(x, S["classifier.1.weight"], S["classifier.1.bias"]))
    x = F.relu(F.linear(x, S["classifier.4.weight"], S["classifier.4.bias"]))
    return F.linear(x, S["classifier.6.weight"], S["classifier.6.bias"])


REFERENCES = {"resnet18": reference_resnet18, "vgg11_bn": reference_vgg11_bn,
              "alexnet": reference_alexnet}


@pytest.fixture(scope="module")
def prepared():
    """name -> (model in eval mode on cheap_state, the state, an input (2, 3, 64, 64))."""
    out = {}
    with pytest.MonkeyPatch.context() as mp:
        for fn in INITIALISERS:
            mp.setattr(nn.init, fn, lambda t, *a, **k: t)
        for i, name in enumerate(REFERENCES):
            model = models.get_model(name)
            state = cheap_state(model, seed=i)
            x = np.random.default_rng(10 + i).standard_normal((2, 3, 64, 64), dtype=np.float32)
            out[name] = (put_state(model, state).eval(), state, x)
    return out


def ours(model, x):
    with tg.no_grad():
        return model(tg.tensor(x)).numpy()


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_forward_equals_a_functional_forward(name, prepared):
    model, state, x = prepared[name]
    with tg.no_grad():
        expected = REFERENCES[name](F, {k: tg.from_numpy(v) for k, v in state.items()},
                                    tg.tensor(x)).numpy()
    y = ours(model, x)
    assert y.shape == (2, 1000) and np.abs(y).max() > 1e-2
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_forward_equals_pytorch_functional(name, prepared):
    torch = pytest.importorskip("torch")
    model, state, x = prepared[name]
    with torch.no_grad():
        expected = REFERENCES[name](torch.nn.functional,
                                    {k: torch.from_numpy(v) for k, v in state.items()},
                                    torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours(model, x), expected, rtol=1e-4, atol=1e-5)


def test_resnet18_training_step_equals_pytorch_functional(no_init):
    """Train mode (batch statistics, running-stat updates) and gradients
    through the in-place residual add and ReLUs."""
    torch = pytest.importorskip("torch")
    model = models.resnet18(num_classes=10)
    state = cheap_state(model)
    model.load_state_dict(state)
    # 64x64: layer4's batch statistics then average 2 x 2 x 2 values, not an ill-conditioned 2
    x = np.random.default_rng(0).standard_normal((2, 3, 64, 64), dtype=np.float32)
    xt = tg.tensor(x, requires_grad=True)
    y = model(xt)
    (y * y).sum().backward()
    S = {k: torch.tensor(v, requires_grad=v.dtype == np.float32 and "running" not in k)
         for k, v in state.items()}
    xr = torch.tensor(x, requires_grad=True)
    yr = reference_resnet18(torch.nn.functional, S, xr, training=True)
    (yr * yr).sum().backward()
    np.testing.assert_allclose(y.detach().numpy(), yr.detach().numpy(), rtol=1e-4, atol=1e-4)
    scale = np.abs(xr.grad.numpy()).max()
    np.testing.assert_allclose(xt.grad.numpy() / scale, xr.grad.numpy() / scale, atol=1e-4)
    for key in ("conv1.weight", "layer2.0.downsample.0.weight", "layer4.1.bn2.weight"):
        g, gr = model.get_parameter(key).grad.numpy(), S[key].grad.numpy()
        np.testing.assert_allclose(g / np.abs(gr).max(), gr / np.abs(gr).max(), atol=1e-4)
    np.testing.assert_allclose(model.bn1.running_mean.numpy(), S["bn1.running_mean"].numpy(),
                               rtol=1e-4, atol=1e-6)
    assert int(model.bn1.num_batches_tracked.item()) == 1


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_forward_equals_torchvision(name, prepared):
    torch = pytest.importorskip("torch")
    tv_models = pytest.importorskip("torchvision.models")
    model, state, x = prepared[name]
    reference = tv_models.get_model(name)
    reference.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    with torch.no_grad():
        expected = reference.eval()(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours(model, x), expected, rtol=1e-4, atol=1e-5)


# -- weights: meta, preprocessing ------------------------------------------------------

def test_weights_enums():
    w = models.ResNet18_Weights.IMAGENET1K_V1
    assert models.ResNet18_Weights.DEFAULT is w and repr(w) == "ResNet18_Weights.IMAGENET1K_V1"
    assert w.url == "https://download.pytorch.org/models/resnet18-f37072fd.pth"
    assert models.ResNet18_Weights.verify("ResNet18_Weights.IMAGENET1K_V1") is w
    assert models.ResNet50_Weights.DEFAULT is models.ResNet50_Weights.IMAGENET1K_V2
    assert w.meta["_metrics"]["ImageNet-1K"]["acc@1"] == 69.758
    cats = w.meta["categories"]
    assert len(cats) == 1000 == len(set(cats)) and cats[0] == "tench" and cats[281] == "tabby"
    assert hashlib.sha256("\n".join(cats).encode()).hexdigest()[:16] == "0b0f9fee7c952f25"
    assert models.VGG16_Weights.IMAGENET1K_FEATURES.meta["categories"] is None
    assert models.AlexNet_Weights.DEFAULT.meta["min_size"] == (63, 63)


def test_categories_ship_as_package_data():
    root = Path(__file__).resolve().parents[1]
    config = tomllib.loads((root / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["tinygrad_kr.vision.models"]
    data = Path(models.__file__).parent / "imagenet_categories.txt"
    assert any(data.match(p) for p in patterns)


def test_transforms_preset():
    v1 = models.ResNet50_Weights.IMAGENET1K_V1.transforms()
    v2 = models.ResNet50_Weights.IMAGENET1K_V2.transforms()
    assert (v1.crop_size, v1.resize_size, v2.resize_size) == ([224], [256], [232])
    assert v1.mean == [0.485, 0.456, 0.406] and v1.std == [0.229, 0.224, 0.225]
    assert repr(v1).startswith("ImageClassification(\n    crop_size=[224]\n    resize_size=[256]")
    feats = models.VGG16_Weights.IMAGENET1K_FEATURES.transforms()
    assert feats.mean == [0.48235, 0.45882, 0.40784] and feats.std[0] == 1 / 255

    preset = _presets.ImageClassification(crop_size=6, resize_size=8)
    img = np.random.default_rng(0).integers(0, 256, (8, 12, 3), dtype=np.uint8)  # H, W, C
    crop = img[1:7, 3:9].transpose(2, 0, 1) / np.float32(255)   # no resize: short side is 8
    mean, std = np.array(preset.mean)[:, None, None], np.array(preset.std)[:, None, None]
    expected = ((crop - mean) / std).astype(np.float32)
    out = preset(img)
    assert isinstance(out, tg.Tensor) and out.dtype == np.float32 and tuple(out.shape) == (3, 6, 6)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6, atol=1e-6)
    chw = tg.tensor(np.ascontiguousarray(img.transpose(2, 0, 1)))
    np.testing.assert_allclose(preset(chw).numpy(), expected, rtol=1e-6, atol=1e-6)
    batch = preset(chw.float().unsqueeze(0) / 255)
    assert tuple(batch.shape) == (1, 3, 6, 6)
    np.testing.assert_allclose(batch.numpy()[0], expected, rtol=1e-5, atol=1e-5)
    PIL = pytest.importorskip("PIL.Image")
    np.testing.assert_allclose(preset(PIL.fromarray(img)).numpy(), expected, rtol=1e-6,
                               atol=1e-6)
    assert tuple(preset(PIL.fromarray(img).resize((24, 16))).shape) == (3, 6, 6)


def test_transforms_preset_equals_torchvisions():
    torch = pytest.importorskip("torch")
    presets = pytest.importorskip("torchvision.transforms._presets")
    theirs = presets.ImageClassification(crop_size=16, resize_size=20)
    mine = _presets.ImageClassification(crop_size=16, resize_size=20)
    img = np.random.default_rng(1).integers(0, 256, (2, 3, 30, 41), dtype=np.uint8)
    for x in (img, img / np.float32(255)):
        np.testing.assert_allclose(mine(tg.tensor(x)).numpy(),
                                   theirs(torch.from_numpy(x)).numpy(), atol=1e-5)
    # PIL images: torchvision resizes them with PIL, we as tensors: one uint8 level apart at most
    PIL = pytest.importorskip("PIL.Image")
    pil = PIL.fromarray(np.ascontiguousarray(img[0].transpose(1, 2, 0)))
    np.testing.assert_allclose(mine(pil).numpy(), theirs(pil).numpy(),
                               atol=1.001 / 255 / min(mine.std))


# -- weights: the hub cache, downloads, legacy pretrained= ----------------------------

@pytest.fixture
def hub_home(tmp_path, monkeypatch):
    """A fresh TORCH_HOME and a network that refuses every request."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(hub, "_hub_dir", None)

    def offline(*args, **kwargs):
        raise urllib.error.URLError("network unreachable (test)")
    monkeypatch.setattr(urllib.request, "urlopen", offline)
    return tmp_path / "torch" / "hub" / "checkpoints"


def torch_zip_bytes(state):
    torch = pytest.importorskip("torch")
    buf = io.BytesIO()
    torch.save({k: torch.from_numpy(v.numpy().copy()) for k, v in state.items()}, buf)
    return buf.getvalue()


def torch_legacy_bytes(state):
    torch = pytest.importorskip("torch")
    buf = io.BytesIO()
    torch.save({k: torch.from_numpy(v.numpy().copy()) for k, v in state.items()}, buf,
               _use_new_zipfile_serialization=False)
    return buf.getvalue()


def tinygrad_kr_bytes(state):
    buf = io.BytesIO()
    tg.save(state, buf)
    return buf.getvalue()


def publish(monkeypatch, weights, data, stem="resnet18"):
    """Point ``weights`` at a URL whose file name carries ``data``'s sha256
    prefix, as torchvision's do; returns that file name."""
    name = f"{stem}-{hashlib.sha256(data).hexdigest()[:8]}.pth"
    monkeypatch.setattr(weights.value, "url", f"https://download.pytorch.org/models/{name}")
    return name


@pytest.fixture(scope="module")
def small_resnet_state():
    with pytest.MonkeyPatch.context() as mp:
        for fn in INITIALISERS:
            mp.setattr(nn.init, fn, lambda t, *a, **k: t)
        model = models.resnet18()
    return {k: tg.from_numpy(v) for k, v in cheap_state(model).items()}


def assert_state_equal(model, state):
    got = model.state_dict()
    assert list(got) == list(state)
    for k in state:
        np.testing.assert_array_equal(got[k].numpy(), state[k].numpy())


@pytest.mark.parametrize("writer", [torch_zip_bytes, torch_legacy_bytes, tinygrad_kr_bytes])
def test_weights_load_from_the_hub_cache(writer, hub_home, monkeypatch, small_resnet_state,
                                         no_init):
    weights = models.ResNet18_Weights.IMAGENET1K_V1
    data = writer(small_resnet_state)
    name = publish(monkeypatch, weights, data)
    hub_home.mkdir(parents=True)
    (hub_home / name).write_bytes(data)
    assert_state_equal(models.resnet18(weights=weights), small_resnet_state)


def test_weights_by_name_and_legacy_pretrained(hub_home, monkeypatch, small_resnet_state,
                                               no_init):
    weights = models.ResNet18_Weights.IMAGENET1K_V1
    data = tinygrad_kr_bytes(small_resnet_state)
    hub_home.mkdir(parents=True)
    (hub_home / publish(monkeypatch, weights, data)).write_bytes(data)
    assert_state_equal(models.get_model("resnet18", weights="DEFAULT"), small_resnet_state)
    with pytest.warns(UserWarning) as record:
        legacy = models.resnet18(pretrained=True)
    messages = [str(w.message) for w in record]
    assert any("'pretrained' is deprecated since 0.13" in m for m in messages)
    assert any("equivalent to passing `weights=ResNet18_Weights.IMAGENET1K_V1`" in m
               for m in messages)
    assert_state_equal(legacy, small_resnet_state)


def test_pretrained_false_and_positional_arguments(no_init):
    with pytest.warns(UserWarning) as record:
        models.resnet18(pretrained=False)
    messages = [str(w.message) for w in record]
    assert len(messages) == 2 and messages[0].startswith("The parameter 'pretrained' is deprec")
    assert "equivalent to passing `weights=None`." in messages[1]
    with pytest.warns(UserWarning) as record:
        models.alexnet(False)
    assert "'weights' as positional parameter(s) is deprecated" in str(record[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        models.resnet18(weights=None)


def test_download_checks_the_hash_and_lands_atomically(hub_home, monkeypatch, capsys,
                                                        small_resnet_state, no_init):
    data = tinygrad_kr_bytes(small_resnet_state)
    weights = models.ResNet18_Weights.IMAGENET1K_V1
    name = publish(monkeypatch, weights, data)
    served = []

    class Response(io.BytesIO):
        headers = {"Content-Length": str(len(data))}

    def serve(payload):
        def urlopen(request, timeout=None):
            served.append(request.full_url)
            return Response(payload)
        monkeypatch.setattr(urllib.request, "urlopen", urlopen)

    serve(data[:-1] + bytes([data[-1] ^ 1]))      # corrupted in transit
    with pytest.raises(RuntimeError, match="invalid hash value"):
        models.resnet18(weights=weights, progress=False)
    assert not hub_home.exists() or os.listdir(hub_home) == []   # no partial file left
    serve(data)
    assert_state_equal(models.resnet18(weights=weights, progress=False), small_resnet_state)
    assert served == [weights.url] * 2 and os.listdir(hub_home) == [name]
    assert f'Downloading: "{weights.url}" to {hub_home / name}' in capsys.readouterr().out


def test_offline_error_names_the_url_and_the_path(hub_home, monkeypatch):
    weights = models.VGG11_Weights.IMAGENET1K_V1
    with pytest.raises(RuntimeError) as info:
        hub.load_state_dict_from_url(weights.url, check_hash=True, progress=False)
    message = str(info.value)
    assert weights.url in message and str(hub_home / "vgg11-8a719046.pth") in message
    assert "network unreachable" in message
    assert os.listdir(hub_home) == []


def test_hub_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(hub, "_hub_dir", None)
    monkeypatch.delenv("TORCH_HOME", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert hub.get_dir() == str(tmp_path / "xdg" / "torch" / "hub")
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert hub.get_dir() == os.path.expanduser("~/.cache/torch/hub")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    assert hub.get_dir() == str(tmp_path / "th" / "hub")
    hub.set_dir(tmp_path / "mine")
    assert hub.get_dir() == str(tmp_path / "mine")


# -- PyTorch < 1.6 files (the legacy format of many torchvision weights) ---------------

def legacy_file(obj_pickle, storages):
    """A legacy torch.save file: header pickles, ``obj_pickle``, then ``storages``
    ({key: float32 array}) as the format lays them out."""
    out = io.BytesIO()
    for header in (0x1950a86a20f9469cfc6c, 1001, {"protocol_version": 1001,
                                                  "little_endian": True}):
        pickle.dump(header, out, protocol=2)
    out.write(obj_pickle)
    pickle.dump(list(storages), out, protocol=2)
    for array in storages.values():
        out.write(np.int64(array.size).tobytes() + array.tobytes())
    return out.getvalue()


def test_legacy_files_of_old_pytorch_versions():
    """torch._utils._rebuild_tensor (PyTorch < 0.4) and storage views (< 1.0)."""
    torch = pytest.importorskip("torch")

    class Storage:
        def __init__(self, key, numel, view=None):
            self.key, self.numel, self.view = key, numel, view

    class OldTensor:
        def __init__(self, storage, offset, size, stride):
            self.args = (storage, offset, size, stride)

        def __reduce__(self):
            return torch._utils._rebuild_tensor, self.args

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, Storage):
                return ("storage", torch.FloatStorage, obj.key, "cuda:0", obj.numel, obj.view)
            return None

    buf = io.BytesIO()
    Pickler(buf, protocol=2).dump({
        "w": OldTensor(Storage("1", 6), 0, (2, 3), (3, 1)),
        "t": OldTensor(Storage("1", 6), 1, (2, 2), (1, 3)),
        "v": OldTensor(Storage("1", 6, ("1v", 2, 4)), 1, (3,), (1,))})
    data = np.arange(6, dtype=np.float32)
    out = tg.load(io.BytesIO(legacy_file(buf.getvalue(), {"1": data})), map_location="cpu")
    assert out["w"].tolist() == [[0, 1, 2], [3, 4, 5]]
    assert out["t"].tolist() == [[1, 4], [2, 5]]
    assert out["v"].tolist() == [3, 4, 5]
    with pytest.raises(CheckpointError, match="storage 1 holds 5 elements, its tensors say 6"):
        tg.load(io.BytesIO(legacy_file(buf.getvalue(), {"1": data[:5]})))
    with pytest.raises(CheckpointError, match="lies outside storage"):
        bad = io.BytesIO()
        Pickler(bad, protocol=2).dump([OldTensor(Storage("1", 6, ("1v", 4, 4)), 0, (1,), (1,))])
        tg.load(io.BytesIO(legacy_file(bad.getvalue(), {"1": data})), map_location="cpu")


def test_legacy_files_refuse_code_and_report_damage():
    pytest.importorskip("torch")

    class Boom:
        def __reduce__(self):
            return os.system, ("echo should-not-run",)

    evil = legacy_file(pickle.dumps({"w": Boom()}, protocol=2), {})
    with pytest.raises(CheckpointError, match="refusing to load the global posix.system"):
        tg.load(io.BytesIO(evil))
    good = torch_legacy_bytes({"w": tg.ones(3)})
    for cut in (len(good) - 3, len(good) // 2, 30):
        with pytest.raises(CheckpointError):
            tg.load(io.BytesIO(good[:cut]))
    with pytest.raises(CheckpointError, match="bad magic number"):
        tg.load(io.BytesIO(pickle.dumps({"not": "torch"}, protocol=2)))


def test_legacy_files_share_storages_as_saved():
    torch = pytest.importorskip("torch")
    base = torch.arange(12.0)
    buf = io.BytesIO()
    torch.save({"a": base[:6], "b": base[6:].view(2, 3), "t": base.view(3, 4).t(),
                "n": torch.tensor(7), "h": torch.ones(2, dtype=torch.float16)}, buf,
               _use_new_zipfile_serialization=False)
    out = tg.load(io.BytesIO(buf.getvalue()))
    assert out["a"].tolist() == list(range(6)) and out["b"].tolist() == [[6, 7, 8], [9, 10, 11]]
    assert out["t"].tolist() == base.view(3, 4).t().tolist()
    assert out["n"].item() == 7 and out["n"].dtype == np.int64 and out["h"].dtype == np.float16
