"""nn.Module bookkeeping, containers, state_dict, repr, .to(), hooks, nn.utils."""
import copy
import math
import pickle
import re
from collections import OrderedDict

import numpy as np
import pytest

import tinygrad_kr as tkr
import tinygrad_kr.nn as nn
from torch_compat import as_torch_repr
from tinygrad_kr.nn.utils import (clip_grad_norm_, clip_grad_value_, elastic_net_penalty,
                                  l1_penalty, l2_penalty, parameters_to_vector,
                                  vector_to_parameters)


def _mlp(nn):
    """The same MLP in either library (pass the ``nn`` module)."""
    return nn.Sequential(nn.Flatten(), nn.Linear(12, 8), nn.ReLU(), nn.Dropout(0.2),
                         nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 3))


def _lenet_class(nn):
    class LeNet5(nn.Module):
        def __init__(self, num_classes=10):
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.BatchNorm2d(6), nn.ReLU(),
                nn.MaxPool2d(2),
                nn.Conv2d(6, 16, kernel_size=5), nn.BatchNorm2d(16), nn.ReLU(),
                nn.AvgPool2d(kernel_size=2, stride=2))
            self.classifier = nn.Sequential(
                nn.Flatten(), nn.Linear(16 * 5 * 5, 120), nn.BatchNorm1d(120), nn.ReLU(),
                nn.Linear(120, 84), nn.ReLU(), nn.Dropout(p=0.5), nn.Linear(84, num_classes))

        def forward(self, x):
            return self.classifier(self.features(x))

    return LeNet5


class Block(nn.Module):
    """Registration order deliberately differs from alphabetical order."""

    def __init__(self):
        super().__init__()
        self.z = nn.Parameter(tkr.zeros(2))
        self.fc = nn.Linear(3, 2)
        self.register_buffer("mask", tkr.ones(2))
        self.register_buffer("scratch", tkr.zeros(2), persistent=False)
        self.a = nn.Parameter(tkr.ones(1))

    def forward(self, x):
        return self.fc(x) * self.mask + self.z + self.a


# --------------------------------------------------------------------------
# Parameter and registration
# --------------------------------------------------------------------------


def test_parameter_is_a_leaf_tensor_sharing_data():
    t = tkr.randn(3)
    p = nn.Parameter(t)
    assert isinstance(p, tkr.Tensor) and p.requires_grad and p.is_leaf
    assert p.array is t.array
    assert not nn.Parameter(t, requires_grad=False).requires_grad
    assert nn.Parameter().shape == (0,)
    assert type(p * 2) is tkr.Tensor  # results of ops are plain tensors
    assert repr(nn.Parameter(tkr.zeros(2))) == \
        "Parameter containing:\ntensor([0., 0.], requires_grad=True)"


def test_named_parameters_follow_registration_order():
    m = Block()
    # a module's own parameters first, then its children's, as in torch
    assert [n for n, _ in m.named_parameters()] == ["z", "a", "fc.weight", "fc.bias"]
    assert [n for n, _ in m.named_parameters(recurse=False)] == ["z", "a"]
    assert [n for n, _ in m.named_parameters(prefix="net")] == \
        ["net.z", "net.a", "net.fc.weight", "net.fc.bias"]
    assert [n for n, _ in m.named_buffers()] == ["mask", "scratch"]
    assert list(m.state_dict()) == ["z", "a", "mask", "fc.weight", "fc.bias"]  # torch's order
    assert [n for n, _ in m.named_modules()] == ["", "fc"]
    assert [n for n, _ in m.named_children()] == ["fc"]
    assert m.get_submodule("fc") is m.fc and m.get_submodule("") is m
    with pytest.raises(AttributeError, match="no attribute `nope`"):
        m.get_submodule("nope")


def _lookup(fn, target):
    """fn(target), or the AttributeError/ValueError's text."""
    try:
        return fn(target)
    except (AttributeError, ValueError) as e:
        return f"{type(e).__name__}: {e}"


_GETTERS = ["get_submodule", "get_parameter", "get_buffer"]
_TARGETS = ["", "features", "features.0", "features.0.weight", "features.1.running_mean",
            "features.1.num_batches_tracked", "features.1.weight", "features.9", "nope",
            "features.nope", "features.0.nope", "features.0.weight.data", "classifier",
            "classifier.0.bias"]


def test_get_submodule_parameter_buffer():
    m = _lenet_class(nn)()
    assert m.get_submodule("features.0") is m.features[0]
    assert m.get_parameter("features.0.weight") is m.features[0].weight
    assert m.get_buffer("features.1.running_var") is m.features[1].running_var
    with pytest.raises(AttributeError, match=r"^Sequential has no attribute `9`$"):
        m.get_parameter("features.9.weight")
    with pytest.raises(AttributeError, match=r"^`weight` is not an nn.Module$"):
        m.get_submodule("features.0.weight")
    with pytest.raises(AttributeError, match=r"^`running_mean` is not an nn.Parameter$"):
        m.get_parameter("features.1.running_mean")
    with pytest.raises(AttributeError, match=r"^`weight` is not a buffer$"):
        m.get_buffer("features.0.weight")
    with pytest.raises(AttributeError, match=r"^`features` is not an nn.Parameter$"):
        m.get_parameter("features")


def test_get_submodule_parameter_buffer_match_torch():
    torch = pytest.importorskip("torch")
    ours, theirs = _lenet_class(nn)(), _lenet_class(torch.nn)()
    for getter in _GETTERS:
        for target in _TARGETS:
            got = _lookup(getattr(ours, getter), target)
            want = _lookup(getattr(theirs, getter), target)
            if isinstance(want, str) or isinstance(got, str):
                assert got == want, (getter, target)
            else:
                assert type(got).__name__ == type(want).__name__, (getter, target)
                assert tuple(got.shape) == tuple(want.shape) if hasattr(want, "shape") \
                    else got._get_name() == want._get_name()


def test_set_submodule():
    m = _lenet_class(nn)()
    m.set_submodule("features.2", nn.Tanh())
    assert isinstance(m.features[2], nn.Tanh)
    m.set_submodule("head", nn.Identity())                  # a new name, strict=False
    assert "head" in dict(m.named_children())
    with pytest.raises(AttributeError, match="has no attribute `other`"):
        m.set_submodule("other", nn.Identity(), strict=True)
    with pytest.raises(AttributeError, match="`weight` is not an nn.Module"):
        m.set_submodule("features.0.weight", nn.Identity())
    with pytest.raises(ValueError, match="without a target name"):
        m.set_submodule("", nn.Identity())
    with pytest.raises(ValueError, match="is not an nn.Module"):
        m.set_submodule("features.2", lambda x: x)


def test_registration_order_matches_torch():
    torch = pytest.importorskip("torch")
    ours, theirs = _lenet_class(nn)(), _lenet_class(torch.nn)()
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]


def test_setattr_rules():
    m = Block()
    m.plain = tkr.ones(2)  # a plain tensor is an ordinary attribute, not a parameter
    assert "plain" not in dict(m.named_parameters()) and "plain" not in dict(m.named_buffers())
    m.mask = tkr.zeros(2)  # assigning to a buffer name replaces the buffer
    assert m._buffers["mask"] is m.mask
    with pytest.raises(TypeError, match="cannot assign 'Tensor' as parameter 'z'"):
        m.z = tkr.ones(2)
    with pytest.raises(TypeError, match="as child module 'fc'"):
        m.fc = 3
    m.z = None  # allowed: the parameter slot stays, empty
    assert "z" not in dict(m.named_parameters()) and m.z is None
    m.fc = nn.Linear(3, 2, bias=False)
    assert "fc.bias" not in m.state_dict()
    m.mask = nn.Parameter(tkr.ones(2))  # re-assigning as a Parameter moves it
    assert "mask" in dict(m.named_parameters()) and "mask" not in dict(m.named_buffers())
    del m.a
    assert "a" not in dict(m.named_parameters())
    with pytest.raises(AttributeError, match="'Block' object has no attribute 'a'"):
        m.a
    assert "fc" in dir(m) and "mask" in dir(m)


def test_registration_errors():
    class Forgot(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match=r"before Module.__init__\(\) call"):
        Forgot()
    m = nn.Module()
    with pytest.raises(TypeError, match="Tensor or None required"):
        m.register_buffer("b", np.zeros(2))
    with pytest.raises(KeyError, match="buffer name can"):
        m.register_buffer("a.b", tkr.zeros(2))
    with pytest.raises(KeyError, match="attribute 'training' already exists"):
        m.register_parameter("training", nn.Parameter(tkr.zeros(1)))
    with pytest.raises(ValueError, match="non-leaf Tensor"):
        m.register_parameter("w", _non_leaf_parameter())
    with pytest.raises(TypeError, match="is not a Module subclass"):
        m.add_module("x", 3)
    with pytest.raises(NotImplementedError, match='missing the required "forward"'):
        m(tkr.zeros(1))


def _non_leaf_parameter():
    p = nn.Parameter(tkr.zeros(1))
    p.grad_fn = (p * 2).grad_fn  # what torch's Parameter(computed) would carry
    return p


def test_shared_parameters_are_listed_once():
    fc = nn.Linear(2, 2)
    net = nn.Sequential(fc, nn.ReLU(), fc)
    assert len(list(net.parameters())) == 2
    assert len(list(net.named_parameters(remove_duplicate=False))) == 4
    assert list(net.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert len(list(net.modules())) == 3  # Sequential, Linear (once), ReLU


def test_train_eval_zero_grad_requires_grad_apply():
    net = _mlp(nn)
    assert net.training and all(m.training for m in net.modules())
    assert net.eval() is net and not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    with pytest.raises(ValueError, match="boolean"):
        net.train("no")
    net(tkr.randn(4, 3, 4)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(float(abs(p.grad).sum()) == 0 for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())
    seen = []
    net.apply(lambda m: seen.append(type(m).__name__))
    assert seen[-1] == "Sequential" and seen.count("Linear") == 3


def test_to_converts_in_place_and_keeps_parameter_identity():
    net = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    params = list(net.parameters())
    x = tkr.randn(4, 3)
    net(x).sum().backward()
    assert net.to(tkr.float64) is net
    assert [id(p) for p in net.parameters()] == [id(p) for p in params]
    assert all(p.dtype == np.float64 and p.grad.dtype == np.float64 for p in params)
    assert net[1].running_mean.dtype == np.float64
    assert net[1].num_batches_tracked.dtype == np.int64  # integer buffers keep their dtype
    assert net(x.double()).dtype == np.float64
    net.float()
    assert all(p.dtype == np.float32 for p in params)
    net.to("cpu").cpu()
    net.to(tkr.zeros(1, dtype=tkr.float64))
    assert params[0].dtype == np.float64
    with pytest.raises(TypeError, match="only accepts floating point dtypes"):
        net.to(tkr.int64)


def test_forward_hooks():
    fc = nn.Linear(2, 2)
    calls = []
    h1 = fc.register_forward_pre_hook(lambda m, args: (args[0] * 0,))
    h2 = fc.register_forward_hook(lambda m, args, out: calls.append(out.shape) or out + 1)
    y = fc(tkr.randn(3, 2))
    assert calls == [(3, 2)]
    np.testing.assert_allclose(y.detach().numpy(), fc.bias.detach().numpy() + 1 + np.zeros((3, 2)),
                               rtol=1e-6)
    h1.remove()
    h2.remove()
    x = tkr.randn(3, 2)
    np.testing.assert_allclose(fc(x).detach().numpy(),
                               (x @ fc.weight.t() + fc.bias).detach().numpy(), rtol=1e-6)


def test_deepcopy_and_pickle_give_independent_equal_models():
    net = _mlp(nn).eval()
    x = tkr.randn(2, 12)
    for clone in (copy.deepcopy(net), pickle.loads(pickle.dumps(net))):
        assert isinstance(clone[1].weight, nn.Parameter) and clone[1].weight.requires_grad
        np.testing.assert_array_equal(clone(x).detach().numpy(), net(x).detach().numpy())
        with tkr.no_grad():
            clone[1].weight.fill_(0)
        assert float(abs(net[1].weight).sum()) > 0


# --------------------------------------------------------------------------
# containers
# --------------------------------------------------------------------------


def test_sequential_indexing_and_editing():
    layers = [nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)]
    seq = nn.Sequential(*layers)
    assert len(seq) == 3 and list(seq) == layers
    assert seq[0] is layers[0] and seq[-1] is layers[2]
    sub = seq[1:]
    assert isinstance(sub, nn.Sequential) and list(sub) == layers[1:]
    assert list(sub._modules) == ["1", "2"]  # slicing keeps the names, as in torch
    with pytest.raises(IndexError, match="out of range"):
        seq[3]
    seq.append(nn.Sigmoid())
    assert list(seq._modules) == ["0", "1", "2", "3"]
    del seq[1]
    assert list(seq._modules) == ["0", "1", "2"] and seq[1] is layers[2]
    seq.insert(0, nn.Identity())
    assert isinstance(seq[0], nn.Identity) and len(seq) == 4
    seq[0] = nn.Tanh()
    assert isinstance(seq[0], nn.Tanh)
    assert isinstance(seq.pop(0), nn.Tanh) and len(seq) == 3
    named = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 2)), ("act", nn.ReLU())]))
    assert named.fc is named[0] and list(named.state_dict()) == ["fc.weight", "fc.bias"]
    assert len(named + seq) == 5


def test_module_list_dict_parameter_list():
    ml = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    ml.append(nn.ReLU())
    ml += [nn.Tanh()]
    assert len(ml) == 5 and isinstance(ml[-1], nn.Tanh) and isinstance(ml[:2], nn.ModuleList)
    assert len(list(ml.parameters())) == 6
    del ml[0]
    assert list(ml._modules) == ["0", "1", "2", "3"]
    with pytest.raises(NotImplementedError):
        ml(tkr.zeros(1))
    md = nn.ModuleDict({"enc": nn.Linear(2, 3), "dec": nn.Linear(3, 2)})
    md["act"] = nn.ReLU()
    assert list(md) == ["enc", "dec", "act"] and "enc" in md and len(md) == 3
    assert list(md.state_dict()) == ["enc.weight", "enc.bias", "dec.weight", "dec.bias"]
    assert isinstance(md.pop("act"), nn.ReLU) and list(md.keys()) == ["enc", "dec"]
    pl = nn.ParameterList([nn.Parameter(tkr.zeros(2, 3)), tkr.ones(4)])
    assert len(pl) == 2 and all(isinstance(p, nn.Parameter) for p in pl)
    assert list(pl.state_dict()) == ["0", "1"] and pl[-1].shape == (4,)
    pl.append(nn.Parameter(tkr.zeros(1)))
    assert len(list(pl.parameters())) == 3


def test_container_reprs_equal_torch():
    torch = pytest.importorskip("torch")
    cases = [
        lambda nn: nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 2)]),
        lambda nn: nn.ModuleList(),
        lambda nn: nn.ModuleDict({"a": nn.Linear(1, 2), "b": nn.Sequential(nn.Tanh())}),
        lambda nn: nn.Sequential(OrderedDict([("fc", nn.Linear(2, 2)), ("drop", nn.Dropout())])),
        lambda nn: nn.Sequential(),
    ]
    for build in cases:
        assert repr(build(nn)) == repr(build(torch.nn))
    pl = repr(nn.ParameterList([nn.Parameter(tkr.zeros(2, 3))]))
    assert pl.replace("tinygrad_kr", "torch") == \
        repr(torch.nn.ParameterList([torch.nn.Parameter(torch.zeros(2, 3))]))


def test_model_repr_equals_torch():
    torch = pytest.importorskip("torch")
    assert as_torch_repr(_lenet_class(nn)(), torch) == repr(_lenet_class(torch.nn)())
    assert repr(_mlp(nn)) == repr(_mlp(torch.nn))
    assert repr(Block()) == "Block(\n  (fc): Linear(in_features=3, out_features=2, bias=True)\n)"


# --------------------------------------------------------------------------
# state_dict / load_state_dict
# --------------------------------------------------------------------------


@pytest.mark.parametrize("build", [_mlp, lambda nn: _lenet_class(nn)()], ids=["mlp", "lenet5"])
def test_state_dict_keys_and_shapes_equal_torch(build):
    torch = pytest.importorskip("torch")
    ours, theirs = build(nn).state_dict(), build(torch.nn).state_dict()
    assert list(ours) == list(theirs)
    for k in ours:
        assert tuple(ours[k].shape) == tuple(theirs[k].shape), k
        assert str(ours[k].dtype) == str(theirs[k].dtype).replace("torch.", ""), k


def test_state_dict_values_are_detached_views():
    net = nn.Linear(2, 2)
    sd = net.state_dict()
    assert isinstance(sd, OrderedDict)
    assert not sd["weight"].requires_grad and sd["weight"].array is net.weight.array
    assert net.state_dict(keep_vars=True)["weight"] is net.weight
    assert "scratch" not in Block().state_dict()  # non-persistent buffer


def test_load_state_dict_roundtrip_copies_in_place():
    src, dst = _lenet_class(nn)(), _lenet_class(nn)()
    weight = dst.features[0].weight
    result = dst.load_state_dict(src.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert repr(result) == "<All keys matched successfully>"
    assert dst.features[0].weight is weight  # same object, new values
    for k, v in src.state_dict().items():
        np.testing.assert_array_equal(dst.state_dict()[k].numpy(), v.numpy())
    # values are copied, not shared
    with tkr.no_grad():
        src.features[0].weight.fill_(0)
    assert float(abs(dst.features[0].weight).sum()) > 0


def test_load_state_dict_accepts_arrays_and_casts():
    net = nn.Linear(3, 2)
    sd = {"weight": np.ones((2, 3)), "bias": np.arange(2.0)}
    net.load_state_dict(sd)
    assert net.weight.dtype == np.float32
    np.testing.assert_array_equal(net.bias.detach().numpy(), [0.0, 1.0])


def test_load_state_dict_strict_errors():
    net = nn.Sequential(OrderedDict([("fc", nn.Linear(4, 3)), ("out", nn.Linear(3, 2))]))
    good = net.state_dict()
    bad = dict(good)
    del bad["out.bias"]
    bad["extra.weight"] = tkr.zeros(1)
    with pytest.raises(RuntimeError) as e:
        net.load_state_dict(bad)
    msg = str(e.value)
    assert msg.startswith("Error(s) in loading state_dict for Sequential:")
    assert 'Missing key(s) in state_dict: "out.bias".' in msg
    assert 'Unexpected key(s) in state_dict: "extra.weight".' in msg
    result = net.load_state_dict(bad, strict=False)
    assert result.missing_keys == ["out.bias"] and result.unexpected_keys == ["extra.weight"]

    before = net.fc.bias.detach().numpy().copy()
    wrong = dict(good, **{"fc.weight": tkr.zeros(3, 5), "fc.bias": tkr.zeros(3)})
    for strict in (True, False):  # a shape mismatch is an error even when not strict
        with pytest.raises(RuntimeError, match=re.escape(
                "size mismatch for fc.weight: copying a param with shape "
                "tinygrad_kr.Size([3, 5]) from checkpoint, the shape in current model is "
                "tinygrad_kr.Size([3, 4]).")):
            net.load_state_dict(wrong, strict=strict)
    np.testing.assert_array_equal(net.fc.bias.detach().numpy(), before)  # nothing copied
    with pytest.raises(RuntimeError, match="expected a Tensor or array"):
        net.load_state_dict(dict(good, **{"fc.bias": "zeros"}))
    with pytest.raises(TypeError, match="dict-like"):
        net.load_state_dict([1, 2])


def test_load_torch_state_dict_directly():
    torch = pytest.importorskip("torch")
    theirs = _mlp(torch.nn).double().eval()
    ours = _mlp(nn).double().eval()
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((5, 3, 4))
    np.testing.assert_allclose(ours(tkr.tensor(x)).detach().numpy(),
                               theirs(torch.tensor(x)).detach().numpy(), rtol=1e-12, atol=1e-12)
    ours.load_state_dict(theirs.state_dict())  # torch tensors themselves work too (np.asarray)


# --------------------------------------------------------------------------
# nn.utils
# --------------------------------------------------------------------------


def _grad_pair(torch):
    rng = np.random.default_rng(1)
    grads = [rng.standard_normal((3, 4)) * 3, rng.standard_normal(5)]
    ours = [nn.Parameter(tkr.zeros(g.shape, dtype=tkr.float64)) for g in grads]
    theirs = [torch.nn.Parameter(torch.zeros(g.shape, dtype=torch.float64)) for g in grads]
    for p, q, g in zip(ours, theirs, grads):
        p.grad, q.grad = tkr.tensor(g.copy()), torch.tensor(g.copy())
    return ours, theirs


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    torch = pytest.importorskip("torch")
    ours, theirs = _grad_pair(torch)
    n1 = clip_grad_norm_(ours, max_norm, norm_type)
    n2 = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    assert n1.item() == pytest.approx(n2.item(), rel=1e-12)
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-12)


def test_clip_grad_value_and_errors():
    p = nn.Parameter(tkr.zeros(4))
    p.grad = tkr.tensor([-3.0, -0.5, 0.5, 3.0])
    clip_grad_value_(p, 1.0)
    np.testing.assert_array_equal(p.grad.numpy(), [-1.0, -0.5, 0.5, 1.0])
    p.grad = tkr.tensor([np.inf, 0, 0, 0])
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    assert clip_grad_norm_([nn.Parameter(tkr.zeros(1))], 1.0).item() == 0.0  # no grads


def test_penalties():
    net = nn.Linear(3, 2)
    w, b = net.weight.detach().numpy(), net.bias.detach().numpy()
    l1 = np.abs(w).sum() + np.abs(b).sum()
    l2 = (w ** 2).sum() + (b ** 2).sum()
    assert l1_penalty(net.parameters()).item() == pytest.approx(l1, rel=1e-6)
    assert l2_penalty(net).item() == pytest.approx(l2, rel=1e-6)
    assert elastic_net_penalty(list(net.parameters()), 0.3).item() == \
        pytest.approx(0.3 * l1 + 0.7 * l2, rel=1e-6)
    (0.1 * l2_penalty([net.weight])).backward()
    np.testing.assert_allclose(net.weight.grad.numpy(), 0.2 * w, rtol=1e-6)
    assert net.bias.grad is None
    with pytest.raises(ValueError, match="no parameters"):
        l1_penalty(iter([]))
    with pytest.raises(ValueError, match="l1_ratio"):
        elastic_net_penalty(net, 1.5)


def test_parameters_vector_roundtrip():
    net = nn.Linear(3, 2)
    vec = parameters_to_vector(net.parameters())
    assert vec.shape == (8,)
    vector_to_parameters(vec * 0 + 1, net.parameters())
    assert float(net.weight.sum()) == 6 and float(net.bias.sum()) == 2
    with pytest.raises(ValueError, match="7 elements"):
        vector_to_parameters(tkr.zeros(7), net.parameters())
