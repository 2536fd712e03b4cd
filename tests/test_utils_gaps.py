"""Smaller pieces of torch's API against PyTorch itself: nn.utils (get_total_norm /
clip_grads_with_norm_ / clip_grad_norm, conv/linear + batch-norm fusion,
stateless.functional_call, skip_init), utils.data (ChainDataset, StackDataset,
DistributedSampler, the dataset/sampler/dataloader submodules), nn.init (dirac_,
sparse_, the deprecated aliases), optim.Adafactor and optim.Muon (trajectories
and state), autograd.Variable.  Values, gradients, state and error messages."""
import copy
import io
import math
import re
import threading
import warnings

import numpy as np
import pytest

import tinygrad_kr as tkr
from tinygrad_kr import nn
from tinygrad_kr.autograd import Variable
from tinygrad_kr.nn import init
from tinygrad_kr.nn import utils as nn_utils
from tinygrad_kr.optim import Adafactor, Muon
from tinygrad_kr.utils import data

torch = pytest.importorskip("torch")


def _np(t):
    return np.asarray(t.detach().numpy())


def _error(fn):
    """(type, message) of what ``fn()`` raises."""
    with pytest.raises(Exception) as info:
        fn()
    return type(info.value), str(info.value)


def _same_error(ours, theirs):
    """Both raise the same exception type with the same message."""
    assert _error(ours) == _error(theirs)


def _warnings(fn):
    """(category, message) of the warnings ``fn()`` issues, and its result."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fn()
    return [(w.category, str(w.message)) for w in caught], result


# ----------------------------------------------------------------- gradient clipping

def _grads(dtypes=(np.float32, np.float32, np.float32), seed=0):
    rng = np.random.default_rng(seed)
    shapes = [(3, 4), (5,), ()]
    return [(rng.standard_normal(s) * 3).astype(d) for s, d in zip(shapes, dtypes)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("norm_type", [2.0, 1, 3.5, math.inf, -math.inf, 0])
def test_get_total_norm_equals_torch(norm_type, dtype):
    arrays = _grads((dtype,) * 3)
    ours = nn_utils.get_total_norm([tkr.tensor(a) for a in arrays], norm_type)
    theirs = torch.nn.utils.get_total_norm([torch.tensor(a) for a in arrays], norm_type)
    assert ours.dtype == dtype and ours.shape == ()
    tol = 1e-12 if dtype == np.float64 else 2e-6
    np.testing.assert_allclose(_np(ours), theirs.numpy(), rtol=tol)


def test_get_total_norm_dtypes_single_tensor_and_empty():
    mixed = _grads((np.float32, np.float64, np.float32))
    ours = nn_utils.get_total_norm([tkr.tensor(a) for a in mixed])
    theirs = torch.nn.utils.get_total_norm([torch.tensor(a) for a in mixed])
    assert ours.dtype == np.float64 and theirs.dtype == torch.float64   # promoted, as PyTorch
    np.testing.assert_allclose(_np(ours), theirs.numpy(), rtol=1e-7)
    one = mixed[0]
    np.testing.assert_allclose(_np(nn_utils.get_total_norm(tkr.tensor(one), 3)),
                               torch.nn.utils.get_total_norm(torch.tensor(one), 3).numpy(),
                               rtol=2e-6)
    empty = nn_utils.get_total_norm([])
    assert empty.item() == torch.nn.utils.get_total_norm([]).item() == 0.0
    assert empty.dtype == tkr.get_default_dtype()


def test_get_total_norm_nonfinite_error():
    arrays = _grads((np.float64,) * 3)
    arrays[1][2] = np.nan
    _same_error(lambda: nn_utils.get_total_norm([tkr.tensor(a) for a in arrays], 2.0, True),
                lambda: torch.nn.utils.get_total_norm([torch.tensor(a) for a in arrays], 2.0,
                                                      True))
    # without the flag: the NaN norm comes back
    assert math.isnan(nn_utils.get_total_norm([tkr.tensor(a) for a in arrays]).item())


def _params(lib, arrays):
    params = []
    for a in arrays:
        p = lib.tensor(np.zeros_like(a), requires_grad=True)
        p.grad = lib.tensor(a.copy())
        params.append(p)
    return params


@pytest.mark.parametrize("max_norm", [0.5, 1e4])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_clip_grads_with_norm_is_bit_equal_given_the_same_norm(dtype, max_norm):
    """Given PyTorch's own total norm, the clipping coefficient (reciprocal(n + 1e-6) * max,
    clamped to 1, in the grads' dtype) and the scaled gradients agree to the bit."""
    arrays = _grads((dtype,) * 3)
    theirs = _params(torch, arrays)
    total = torch.nn.utils.get_total_norm([p.grad for p in theirs], 2.0)
    torch.nn.utils.clip_grads_with_norm_(theirs, max_norm, total)
    ours = _params(tkr, arrays)
    ours.append(tkr.tensor(np.zeros(2, dtype), requires_grad=True))   # no grad: skipped
    assert nn_utils.clip_grads_with_norm_(ours, max_norm, tkr.tensor(total.numpy())) is None
    for p, q in zip(ours, theirs):
        np.testing.assert_array_equal(_np(p.grad), q.grad.numpy())
    assert ours[-1].grad is None
    if max_norm > 1e3:   # the coefficient is clamped to 1: nothing changes
        for p, a in zip(ours, arrays):
            np.testing.assert_array_equal(_np(p.grad), a)


@pytest.mark.parametrize("norm_type", [2.0, math.inf, 1.5])
def test_clip_grad_norm_is_total_norm_then_clip(norm_type):
    arrays = _grads((np.float64,) * 3)
    ours, theirs = _params(tkr, arrays), _params(torch, arrays)
    n_ours = nn_utils.clip_grad_norm_((p for p in ours), 1.0, norm_type)   # a generator: read once
    n_theirs = torch.nn.utils.clip_grad_norm_((p for p in theirs), 1.0, norm_type)
    np.testing.assert_allclose(n_ours.item(), n_theirs.item(), rtol=1e-12)
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(_np(p.grad), q.grad.numpy(), rtol=1e-12)
    # and equals the two halves called by hand
    again = _params(tkr, arrays)
    total = nn_utils.get_total_norm([p.grad for p in again], norm_type)
    nn_utils.clip_grads_with_norm_(again, 1.0, total)
    for p, q in zip(ours, again):
        np.testing.assert_array_equal(_np(p.grad), _np(q.grad))
    # a single Tensor as parameters
    single, ref = _params(tkr, arrays[:1])[0], _params(torch, arrays[:1])[0]
    nn_utils.clip_grad_norm_(single, 0.1, norm_type)
    torch.nn.utils.clip_grad_norm_(ref, 0.1, norm_type)
    np.testing.assert_allclose(_np(single.grad), ref.grad.numpy(), rtol=1e-12)


def test_clip_grad_norm_warnings_equal_torch():
    ours, _ = _warnings(lambda: nn_utils.clip_grad_norm_((p for p in []), 1.0))
    theirs, _ = _warnings(lambda: torch.nn.utils.clip_grad_norm_((p for p in []), 1.0))
    assert ours == theirs and len(ours) == 1
    arrays = _grads((np.float64,) * 3)
    a, b = _params(tkr, arrays), _params(torch, arrays)
    ours, n_ours = _warnings(lambda: nn_utils.clip_grad_norm(a, 1.0))
    theirs, n_theirs = _warnings(lambda: torch.nn.utils.clip_grad_norm(b, 1.0))
    assert ours == theirs and ours[0][0] is FutureWarning
    np.testing.assert_allclose(n_ours.item(), n_theirs.item(), rtol=1e-12)
    np.testing.assert_allclose(_np(a[0].grad), b[0].grad.numpy(), rtol=1e-12)


def test_nn_utils_exports_torch_names():
    for name in ["clip_grad_norm", "clip_grads_with_norm_", "get_total_norm", "fuse_conv_bn_eval",
                 "fuse_conv_bn_weights", "fuse_linear_bn_eval", "fuse_linear_bn_weights",
                 "skip_init", "stateless"]:
        assert name in torch.nn.utils.__all__ and name in nn_utils.__all__
        assert hasattr(nn_utils, name)
    from tinygrad_kr.nn.utils import fusion, stateless
    assert set(fusion.__all__) == set(torch.nn.utils.fusion.__all__)
    assert stateless.__all__ == torch.nn.utils.stateless.__all__


# ----------------------------------------------------------------- conv/linear + BN fusion

def _copy_into(theirs, ours):
    """PyTorch module ``theirs`` gets the parameters and buffers of ``ours``."""
    with torch.no_grad():
        for name, value in ours.state_dict().items():
            target = theirs.state_dict()[name]
            target.copy_(torch.tensor(_np(value)))


def _bn_with_stats(bn, rng):
    """A BN in eval mode with non-trivial running stats and affine params."""
    n = bn.num_features
    with tkr.no_grad():
        bn.running_mean.copy_(tkr.tensor(rng.standard_normal(n)))
        bn.running_var.copy_(tkr.tensor(rng.uniform(0.5, 2.0, n)))
        if bn.weight is not None:
            bn.weight.copy_(tkr.tensor(rng.standard_normal(n)))
            bn.bias.copy_(tkr.tensor(rng.standard_normal(n)))
    return bn.eval()


CONV_CASES = [
    ("Conv2d", dict(in_channels=4, out_channels=6, kernel_size=3, groups=2), "BatchNorm2d", 6,
     False, (2, 4, 7, 7)),
    ("Conv2d", dict(in_channels=3, out_channels=5, kernel_size=2, bias=False), "BatchNorm2d", 5,
     False, (2, 3, 6, 6)),
    ("Conv1d", dict(in_channels=3, out_channels=4, kernel_size=3), "BatchNorm1d", 4,
     False, (2, 3, 9)),
    ("ConvTranspose2d", dict(in_channels=4, out_channels=6, kernel_size=3, stride=2),
     "BatchNorm2d", 6, True, (2, 4, 5, 5)),
]


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("conv_name,conv_kw,bn_name,features,transpose,x_shape", CONV_CASES)
def test_fuse_conv_bn_eval_equals_torch(conv_name, conv_kw, bn_name, features, transpose,
                                        x_shape, affine):
    rng = np.random.default_rng(3)
    conv = getattr(nn, conv_name)(**conv_kw, dtype=tkr.float64).eval()
    bn = _bn_with_stats(getattr(nn, bn_name)(features, affine=affine, dtype=tkr.float64), rng)
    ref_conv = getattr(torch.nn, conv_name)(**conv_kw, dtype=torch.float64).eval()
    ref_bn = getattr(torch.nn, bn_name)(features, affine=affine, dtype=torch.float64).eval()
    _copy_into(ref_conv, conv)
    _copy_into(ref_bn, bn)
    fused = nn_utils.fuse_conv_bn_eval(conv, bn, transpose=transpose)
    ref = torch.nn.utils.fuse_conv_bn_eval(ref_conv, ref_bn, transpose=transpose)
    assert fused is not conv and type(fused) is type(conv)
    np.testing.assert_allclose(_np(fused.weight), ref.weight.detach().numpy(), rtol=1e-13)
    np.testing.assert_allclose(_np(fused.bias), ref.bias.detach().numpy(), rtol=1e-13,
                               atol=1e-15)
    assert isinstance(fused.weight, nn.Parameter) and isinstance(fused.bias, nn.Parameter)
    assert fused.bias.requires_grad == ref.bias.requires_grad
    assert fused.weight.requires_grad == ref.weight.requires_grad
    # one layer computes what the two did; the originals are untouched
    x = tkr.tensor(rng.standard_normal(x_shape))
    np.testing.assert_allclose(_np(fused(x)), _np(bn(conv(x))), rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(_np(conv.weight), ref_conv.weight.detach().numpy())


@pytest.mark.parametrize("features", [3, 1])
def test_fuse_linear_bn_eval_equals_torch(features):
    rng = np.random.default_rng(4)
    lin = nn.Linear(5, 3, dtype=tkr.float64).eval()
    bn = _bn_with_stats(nn.BatchNorm1d(features, dtype=tkr.float64), rng)
    ref_lin = torch.nn.Linear(5, 3, dtype=torch.float64).eval()
    ref_bn = torch.nn.BatchNorm1d(features, dtype=torch.float64).eval()
    _copy_into(ref_lin, lin)
    _copy_into(ref_bn, bn)
    fused = nn_utils.fuse_linear_bn_eval(lin, bn)
    ref = torch.nn.utils.fuse_linear_bn_eval(ref_lin, ref_bn)
    np.testing.assert_allclose(_np(fused.weight), ref.weight.detach().numpy(), rtol=1e-13)
    np.testing.assert_allclose(_np(fused.bias), ref.bias.detach().numpy(), rtol=1e-13)
    if features == 3:
        x = tkr.tensor(rng.standard_normal((4, 5)))
        np.testing.assert_allclose(_np(fused(x)), _np(bn(lin(x))), rtol=1e-10, atol=1e-12)


def test_fuse_weights_functions_equal_torch():
    """The *_weights functions with missing conv bias / BN affine, in float32, and
    what the fused Parameters keep of the inputs (dtype, requires_grad, no graph)."""
    rng = np.random.default_rng(5)
    w = rng.standard_normal((4, 2, 3, 3)).astype(np.float32)
    rm, rv = rng.standard_normal(4), rng.uniform(0.5, 2, 4)
    lw, lb = rng.standard_normal((4, 6)).astype(np.float32), rng.standard_normal(4)
    bw, bb = rng.standard_normal(4), rng.standard_normal(4)
    ours = nn_utils.fuse_conv_bn_weights(tkr.tensor(w, requires_grad=True), None, tkr.tensor(rm),
                                         tkr.tensor(rv), 1e-3, None, None)
    theirs = torch.nn.utils.fuse_conv_bn_weights(torch.tensor(w, requires_grad=True), None,
                                                 torch.tensor(rm), torch.tensor(rv), 1e-3,
                                                 None, None)
    for a, b in zip(ours, theirs):
        assert a.dtype == np.float32 and b.dtype == torch.float32
        assert a.requires_grad == b.requires_grad and a.grad_fn is None
        np.testing.assert_allclose(_np(a), b.detach().numpy(), rtol=1e-6, atol=1e-7)
    w_in = tkr.tensor(lw, requires_grad=True)
    ours = nn_utils.fuse_linear_bn_weights(w_in * 1.0, tkr.tensor(lb), tkr.tensor(rm),
                                           tkr.tensor(rv), 1e-5, tkr.tensor(bw), tkr.tensor(bb))
    theirs = torch.nn.utils.fuse_linear_bn_weights(
        torch.tensor(lw, requires_grad=True) * 1.0, torch.tensor(lb), torch.tensor(rm),
        torch.tensor(rv), 1e-5, torch.tensor(bw), torch.tensor(bb))
    for a, b in zip(ours, theirs):
        assert a.dtype == _np(b).dtype and a.requires_grad == b.requires_grad
        assert a.is_leaf and b.is_leaf
        np.testing.assert_allclose(_np(a), b.detach().numpy(), rtol=1e-6)


def test_fusion_errors_equal_torch():
    conv, bn = nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3)
    ref_conv, ref_bn = torch.nn.Conv2d(2, 3, 3), torch.nn.BatchNorm2d(3)
    _same_error(lambda: nn_utils.fuse_conv_bn_eval(conv, bn.eval()),
                lambda: torch.nn.utils.fuse_conv_bn_eval(ref_conv, ref_bn.eval()))
    _same_error(lambda: nn_utils.fuse_conv_bn_eval(conv.eval(), nn.BatchNorm2d(3).train()),
                lambda: torch.nn.utils.fuse_conv_bn_eval(ref_conv.eval(),
                                                         torch.nn.BatchNorm2d(3).train()))
    no_stats = nn.BatchNorm2d(3, track_running_stats=False).eval()
    ref_no_stats = torch.nn.BatchNorm2d(3, track_running_stats=False).eval()
    _same_error(lambda: nn_utils.fuse_conv_bn_eval(conv.eval(), no_stats),
                lambda: torch.nn.utils.fuse_conv_bn_eval(ref_conv.eval(), ref_no_stats))
    _same_error(lambda: nn_utils.fuse_linear_bn_eval(nn.Linear(4, 3).eval(),
                                                     nn.BatchNorm1d(2).eval()),
                lambda: torch.nn.utils.fuse_linear_bn_eval(torch.nn.Linear(4, 3).eval(),
                                                           torch.nn.BatchNorm1d(2).eval()))
    _same_error(lambda: nn_utils.fuse_linear_bn_eval(nn.Linear(4, 3), nn.BatchNorm1d(3).eval()),
                lambda: torch.nn.utils.fuse_linear_bn_eval(torch.nn.Linear(4, 3),
                                                           torch.nn.BatchNorm1d(3).eval()))


# ----------------------------------------------------------------- stateless, skip_init

def test_stateless_functional_call_warns_and_differentiates_like_torch():
    from tinygrad_kr.nn.utils import stateless
    rng = np.random.default_rng(6)
    w, b, x = rng.standard_normal((3, 4)), rng.standard_normal(3), rng.standard_normal((2, 4))
    lin = nn.Linear(4, 3, dtype=tkr.float64)
    ref_lin = torch.nn.Linear(4, 3, dtype=torch.float64)
    ow, ob = tkr.tensor(w, requires_grad=True), tkr.tensor(b, requires_grad=True)
    tw, tb = torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True)
    caught, out = _warnings(lambda: stateless.functional_call(
        lin, {"weight": ow, "bias": ob}, tkr.tensor(x)))
    ref_caught, ref = _warnings(lambda: torch.nn.utils.stateless.functional_call(
        ref_lin, {"weight": tw, "bias": tb}, torch.tensor(x)))
    assert caught == ref_caught and caught[0][0] is FutureWarning
    np.testing.assert_allclose(_np(out), ref.detach().numpy(), rtol=1e-13)
    (out ** 2).sum().backward()
    (ref ** 2).sum().backward()
    np.testing.assert_allclose(_np(ow.grad), tw.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(_np(ob.grad), tb.grad.numpy(), rtol=1e-12)
    assert lin.weight.grad is None and lin.weight is not ow      # the module is restored


def test_skip_init_leaves_parameters_and_generator_alone():
    state = tkr.get_rng_state()
    lin = nn_utils.skip_init(nn.Linear, 5, out_features=3, bias=True, dtype=tkr.float64)
    conv = nn_utils.skip_init(nn.Conv2d, 2, 4, 3, device="cpu")
    bn = nn_utils.skip_init(nn.BatchNorm1d, 4)
    assert tkr.get_rng_state() == state            # nothing was drawn
    ref = torch.nn.utils.skip_init(torch.nn.Linear, 5, out_features=3, bias=True,
                                   dtype=torch.float64)
    assert tuple(lin.weight.shape) == tuple(ref.weight.shape) and lin.weight.dtype == np.float64
    assert lin.weight.requires_grad and isinstance(lin.weight, nn.Parameter)
    assert tuple(conv.weight.shape) == (4, 2, 3, 3) and tuple(bn.weight.shape) == (4,)
    # the initializers work again afterwards (and drew nothing inside)
    tkr.manual_seed(7)
    a = nn.Linear(5, 3)
    tkr.manual_seed(7)
    nn_utils.skip_init(nn.Linear, 5, 3)
    b = nn.Linear(5, 3)
    np.testing.assert_array_equal(_np(a.weight), _np(b.weight))
    # ... also after a constructor that raised
    with pytest.raises(Exception):
        nn_utils.skip_init(nn.Linear, 5, 3, not_an_argument=1)
    assert not init._skipping()
    # the initializers stay on in other threads meanwhile
    drawn = []
    with init._fills_skipped():
        t = threading.Thread(target=lambda: drawn.append(_np(init.ones_(tkr.zeros(2)))))
        t.start()
        t.join()
        assert _np(init.ones_(tkr.zeros(2))).tolist() == [0.0, 0.0]
    assert drawn[0].tolist() == [1.0, 1.0]


def test_skip_init_errors_equal_torch():
    _same_error(lambda: nn_utils.skip_init(nn.ReLU), lambda: torch.nn.utils.skip_init(
        torch.nn.ReLU))
    _same_error(lambda: nn_utils.skip_init(int), lambda: torch.nn.utils.skip_init(int))
    _same_error(lambda: nn_utils.skip_init(3), lambda: torch.nn.utils.skip_init(3))


# ----------------------------------------------------------------- utils.data

class _Stream(data.IterableDataset):
    def __init__(self, items):
        self.items = items

    def __iter__(self):
        return iter(self.items)

    def __len__(self):
        return len(self.items)


class _TorchStream(torch.utils.data.IterableDataset):
    def __init__(self, items):
        self.items = items

    def __iter__(self):
        return iter(self.items)

    def __len__(self):
        return len(self.items)


def test_chain_dataset_equals_torch():
    parts = [[1, 2], [], [3, 4, 5]]
    ours = data.ChainDataset([_Stream(p) for p in parts])
    theirs = torch.utils.data.ChainDataset([_TorchStream(p) for p in parts])
    assert list(ours) == list(theirs) and len(ours) == len(theirs) == 5
    ours_loaded = [_np(b).tolist() for b in data.DataLoader(ours, batch_size=2)]
    theirs_loaded = [b.tolist() for b in torch.utils.data.DataLoader(theirs, batch_size=2)]
    assert ours_loaded == theirs_loaded
    bad = data.ChainDataset([_Stream([1]), data.TensorDataset(tkr.zeros(2))])
    ref_bad = torch.utils.data.ChainDataset([_TorchStream([1]),
                                             torch.utils.data.TensorDataset(torch.zeros(2))])
    _same_error(lambda: list(bad), lambda: list(ref_bad))
    _same_error(lambda: len(bad), lambda: len(ref_bad))


def _stack_pair(kind):
    x = np.arange(12.0).reshape(6, 2)
    y = np.arange(6)
    names = ["a", "b", "c"]
    mine = [data.TensorDataset(tkr.tensor(x)), tkr.tensor(y), list(range(10, 16))]
    ref = [torch.utils.data.TensorDataset(torch.tensor(x)), torch.tensor(y),
           list(range(10, 16))]
    if kind == "tuple":
        return data.StackDataset(*mine), torch.utils.data.StackDataset(*ref)
    return (data.StackDataset(**dict(zip(names, mine))),
            torch.utils.data.StackDataset(**dict(zip(names, ref))))


def _plain(v):
    """Nested samples/batches as plain Python values, to compare across libraries."""
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return type(v)(_plain(x) for x in v) if isinstance(v, tuple) else [_plain(x) for x in v]
    if hasattr(v, "detach"):
        return ("tensor", str(_np(v).dtype), _np(v).tolist())
    return v


@pytest.mark.parametrize("kind", ["tuple", "dict"])
def test_stack_dataset_equals_torch(kind):
    ours, theirs = _stack_pair(kind)
    assert len(ours) == len(theirs) == 6
    assert _plain(ours[4]) == _plain(theirs[4])
    assert _plain(ours.__getitems__([5, 0, 2])) == _plain(theirs.__getitems__([5, 0, 2]))
    for shuffle_free_batch in (2, 4):
        got = [_plain(b) for b in data.DataLoader(ours, batch_size=shuffle_free_batch)]
        want = [_plain(b) for b in torch.utils.data.DataLoader(theirs,
                                                               batch_size=shuffle_free_batch)]
        assert got == want
    # the batched path (each part gathered at once) gives what per-sample collation gives
    slow = data.DataLoader(ours, batch_size=4, collate_fn=lambda s: data.default_collate(s))
    assert [_plain(b) for b in slow] == got


def test_stack_dataset_errors_equal_torch():
    a, b = list(range(3)), list(range(4))
    S, T = data.StackDataset, torch.utils.data.StackDataset
    _same_error(lambda: S(a, x=a), lambda: T(a, x=a))
    _same_error(lambda: S(a, b), lambda: T(a, b))
    _same_error(lambda: S(x=a, y=b), lambda: T(x=a, y=b))
    _same_error(lambda: S(), lambda: T())

    class Short:   # a dataset whose __getitems__ loses a sample
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return i

        def __getitems__(self, indices):
            return indices[:-1]

    _same_error(lambda: S(Short(), a).__getitems__([0, 1]),
                lambda: T(Short(), a).__getitems__([0, 1]))


@pytest.mark.parametrize("n,replicas,drop_last", [(10, 3, False), (10, 3, True), (2, 5, False),
                                                  (12, 4, False), (12, 4, True), (7, 1, False)])
def test_distributed_sampler_without_shuffle_equals_torch(n, replicas, drop_last):
    for rank in range(replicas):
        ours = data.DistributedSampler(range(n), replicas, rank, shuffle=False,
                                       drop_last=drop_last)
        theirs = torch.utils.data.DistributedSampler(range(n), replicas, rank, shuffle=False,
                                                     drop_last=drop_last)
        assert list(ours) == list(theirs)
        assert len(ours) == len(theirs) == ours.num_samples == theirs.num_samples
        assert ours.total_size == theirs.total_size


@pytest.mark.parametrize("n,replicas,drop_last", [(10, 3, False), (10, 3, True), (2, 5, False),
                                                  (13, 4, True)])
def test_distributed_sampler_shuffle_partitions_one_permutation(n, replicas, drop_last):
    """The engine's generator is not PyTorch's, so the order differs; what PyTorch
    promises holds: every rank slices the same seeded permutation (padded or cut),
    the shares interleave back into it, and set_epoch changes it reproducibly."""
    def shares(seed=0, epoch=0):
        out = []
        for rank in range(replicas):
            s = data.DistributedSampler(range(n), num_replicas=replicas, rank=rank, seed=seed,
                                        drop_last=drop_last)
            s.set_epoch(epoch)
            out.append(list(s))
        return out

    parts = shares()
    ref = torch.utils.data.DistributedSampler(range(n), replicas, 0, drop_last=drop_last)
    assert all(len(p) == len(ref) for p in parts)
    merged = [parts[i % replicas][i // replicas] for i in range(ref.total_size)]
    distinct = min(n, ref.total_size)
    perm = merged[:distinct]
    assert len(set(perm)) == distinct and set(perm) <= set(range(n))   # a permutation's start
    if not drop_last:
        assert sorted(perm) == list(range(n))
        pad = merged[n:]
        assert pad == (perm * math.ceil(len(pad) / n))[:len(pad)]    # padded from its start
    assert shares() == parts                                          # reproducible
    changed = [shares(epoch=1), shares(seed=5)]
    if n > 3:
        assert all(c != parts for c in changed)
    g = tkr.Generator().manual_seed(0 + 1)                            # seed + epoch
    assert [x for p in zip(*shares(epoch=1)) for x in p][:distinct] == \
        tkr.randperm(n, generator=g).tolist()[:distinct]


def test_distributed_sampler_errors_and_loader():
    with pytest.raises(ValueError, match="Default process group has not been initialized.*"
                                         "pass num_replicas and rank"):
        data.DistributedSampler(range(4))
    with pytest.raises(ValueError, match=r"(?s)Default process group.*pass rank to"):
        data.DistributedSampler(range(4), num_replicas=2)
    # PyTorch's own message for the same situation starts the same way
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        torch.utils.data.DistributedSampler(range(4))
    for rank in (2, -1):
        _same_error(lambda: data.DistributedSampler(range(4), 2, rank),
                    lambda: torch.utils.data.DistributedSampler(range(4), 2, rank))
    ds = data.TensorDataset(tkr.arange(10.0))
    loader = data.DataLoader(ds, batch_size=2,
                             sampler=data.DistributedSampler(ds, 2, 1, shuffle=False))
    ref = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.arange(10.0)), batch_size=2,
        sampler=torch.utils.data.DistributedSampler(range(10), 2, 1, shuffle=False))
    assert [_np(b[0]).tolist() for b in loader] == [b[0].tolist() for b in ref]


def test_data_submodules_have_torch_names():
    import importlib
    for name in ["dataset", "sampler", "dataloader", "distributed"]:
        ours = importlib.import_module(f"tinygrad_kr.utils.data.{name}")
        theirs = importlib.import_module(f"torch.utils.data.{name}")
        assert getattr(data, name) is ours
        wanted = theirs.__all__ if isinstance(theirs.__all__, list) else [theirs.__all__]
        for attr in wanted:
            assert getattr(ours, attr) is getattr(data, attr), (name, attr)
    from tinygrad_kr.utils.data.sampler import RandomSampler
    from tinygrad_kr.utils.data.distributed import DistributedSampler
    assert RandomSampler is data.RandomSampler and DistributedSampler is data.DistributedSampler
    for attr in ["ChainDataset", "StackDataset", "DistributedSampler"]:
        assert attr in torch.utils.data.__all__ and attr in data.__all__


# ----------------------------------------------------------------- nn.init

@pytest.mark.parametrize("shape,groups", [((4, 3, 5), 1), ((6, 2, 3, 3), 2), ((3, 5, 4, 4), 1),
                                          ((4, 2, 3, 3, 3), 2), ((6, 4, 2, 2), 3)])
def test_dirac_equals_torch(shape, groups):
    ours = init.dirac_(tkr.randn(*shape, dtype=tkr.float64), groups)
    theirs = torch.nn.init.dirac_(torch.randn(*shape, dtype=torch.float64), groups)
    np.testing.assert_array_equal(_np(ours), theirs.numpy())
    # as a conv weight it passes the channels it can through
    if len(shape) == 4 and groups == 1 and shape[0] >= shape[1]:
        x = tkr.randn(1, shape[1], 5, 5, dtype=tkr.float64)
        y = nn.functional.conv2d(x, ours, padding=shape[2] // 2)
        np.testing.assert_allclose(_np(y[:, :shape[1]]), _np(x))


def test_dirac_and_sparse_errors_equal_torch():
    _same_error(lambda: init.dirac_(tkr.zeros(3, 3)), lambda: torch.nn.init.dirac_(
        torch.zeros(3, 3)))
    _same_error(lambda: init.dirac_(tkr.zeros(4, 3, 3), 3),
                lambda: torch.nn.init.dirac_(torch.zeros(4, 3, 3), 3))
    _same_error(lambda: init.sparse_(tkr.zeros(3), 0.5), lambda: torch.nn.init.sparse_(
        torch.zeros(3), 0.5))


@pytest.mark.parametrize("sparsity", [0.1, 0.5, 0.0, 1.0])
def test_sparse_zeroes_each_column_like_torch(sparsity):
    rows, cols, std = 200, 7, 0.05
    ours = _np(init.sparse_(tkr.empty(rows, cols, dtype=tkr.float64), sparsity, std=std,
                            generator=tkr.Generator().manual_seed(1)))
    theirs = torch.nn.init.sparse_(torch.empty(rows, cols, dtype=torch.float64), sparsity,
                                   std=std).numpy()
    zeros_per_col = (ours == 0).sum(axis=0)
    assert zeros_per_col.tolist() == (theirs == 0).sum(axis=0).tolist() \
        == [math.ceil(sparsity * rows)] * cols
    kept = ours[ours != 0]
    if kept.size > 500:   # the others are N(0, std^2)
        assert abs(kept.std() - std) < 0.15 * std and abs(kept.mean()) < 0.2 * std
    # the zeroed rows differ between columns (a permutation per column)
    if 0 < sparsity < 1:
        assert len({tuple(np.flatnonzero(ours[:, j] == 0)) for j in range(cols)}) > 1
    again = _np(init.sparse_(tkr.empty(rows, cols, dtype=tkr.float64), sparsity, std=std,
                             generator=tkr.Generator().manual_seed(1)))
    np.testing.assert_array_equal(ours, again)       # the generator alone reproduces it


DEPRECATED = [("uniform", (), {}), ("normal", (0.0, 2.0), {}), ("constant", (0.3,), {}),
              ("eye", (), {}), ("xavier_uniform", (), {"gain": 2.0}), ("xavier_normal", (), {}),
              ("kaiming_uniform", (), {"a": 1.0}), ("kaiming_normal", (), {"mode": "fan_out"}),
              ("orthogonal", (), {}), ("sparse", (0.5,), {}), ("dirac", (), {})]


@pytest.mark.parametrize("name,args,kwargs", DEPRECATED, ids=[d[0] for d in DEPRECATED])
def test_deprecated_init_aliases_warn_as_torch(name, args, kwargs):
    shape = (4, 4, 3) if name == "dirac" else (4, 6)
    tkr.manual_seed(3)
    caught, result = _warnings(lambda: getattr(init, name)(tkr.empty(*shape), *args, **kwargs))
    ref_caught, _ = _warnings(lambda: getattr(torch.nn.init, name)(torch.empty(*shape), *args,
                                                                  **kwargs))
    assert caught == ref_caught and caught[0][0] is FutureWarning
    assert getattr(init, name).__name__ == name and name in init.__all__
    tkr.manual_seed(3)   # it is the underscore version
    expected = getattr(init, name + "_")(tkr.empty(*shape), *args, **kwargs)
    np.testing.assert_array_equal(_np(result), _np(expected))


def test_deprecated_alias_warning_points_at_the_caller():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        init.uniform(tkr.empty(2))
    assert caught[0].filename == __file__


# ----------------------------------------------------------------- Adafactor, Muon

SHAPES = [(4, 3), (5,), (), (2, 3, 4), (1,)]
TOL = {np.float64: dict(rtol=1e-10, atol=1e-13), np.float32: dict(rtol=2e-5, atol=2e-6)}


def _run(lib, name, options, dtype, shapes, n_steps=7, groups=True):
    """Params after n_steps with fixed gradients: group 0's lr halves after step 1;
    params[1] has no gradient at step 2 (skipped, its step count included)."""
    rng = np.random.default_rng(11)
    init_ = [rng.standard_normal(s).astype(dtype) for s in shapes]
    grads = [[rng.standard_normal(s).astype(dtype) for s in shapes] for _ in range(n_steps)]
    params = [lib.tensor(a.copy(), requires_grad=True) for a in init_]
    spec = [{"params": params[:2]}, {"params": params[2:], "lr": 0.03}] if groups else params
    opt = getattr(lib.optim, name)(spec, **options)
    for t in range(n_steps):
        for i, p in enumerate(params):
            p.grad = None if (t == 2 and i == 1) else lib.tensor(grads[t][i].copy())
        opt.step()
        if t == 1 and groups:
            opt.param_groups[0]["lr"] *= 0.5
    return opt, params


def _state(opt):
    return {i: {k: np.asarray(_np(v), np.float64) for k, v in s.items()}
            for i, s in opt.state_dict()["state"].items()}


def _assert_runs_equal(ours, theirs, tol):
    (opt, params), (ref_opt, ref_params) = ours, theirs
    for p, q in zip(params, ref_params):
        assert p.dtype == _np(q).dtype
        np.testing.assert_allclose(_np(p), q.detach().numpy(), **tol)
    state, ref_state = _state(opt), _state(ref_opt)
    assert state.keys() == ref_state.keys()
    for i in state:
        assert list(state[i]) == list(ref_state[i]), i          # keys, in PyTorch's order
        for k in state[i]:
            assert state[i][k].shape == ref_state[i][k].shape, (i, k)
            np.testing.assert_allclose(state[i][k], ref_state[i][k], **tol, err_msg=f"{i} {k}")
    groups, ref_groups = opt.state_dict()["param_groups"], ref_opt.state_dict()["param_groups"]
    assert groups == ref_groups


ADAFACTOR_CASES = [dict(), dict(lr=0.05, weight_decay=0.1, maximize=True),
                   dict(eps=(1e-4, 1e-2), d=1.5, beta2_decay=-0.5), dict(lr=0.5, foreach=False)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("options", ADAFACTOR_CASES, ids=range(len(ADAFACTOR_CASES)))
def test_adafactor_trajectory_equals_torch(options, dtype):
    ours = _run(tkr, "Adafactor", options, dtype, SHAPES)
    theirs = _run(torch, "Adafactor", options, dtype, SHAPES)
    _assert_runs_equal(ours, theirs, TOL[dtype])
    opt, params = ours
    assert opt.state[params[0]]["row_var"].shape == (4, 1)
    assert opt.state[params[3]]["col_var"].shape == (2, 1, 4)
    assert opt.state[params[1]]["step"].item() == 6


def test_adafactor_checkpoint_round_trip_continues_like_torch():
    ours_opt, ours = _run(tkr, "Adafactor", dict(lr=0.05), np.float64, SHAPES, groups=False)
    ref_opt, ref = _run(torch, "Adafactor", dict(lr=0.05), np.float64, SHAPES, groups=False)
    buf = io.BytesIO()
    torch.save(ref_opt.state_dict(), buf)
    buf.seek(0)
    copies = [tkr.tensor(_np(p).copy(), requires_grad=True) for p in ours]
    fresh = Adafactor(copies, lr=0.05)
    fresh.load_state_dict(tkr.load(buf))          # PyTorch's checkpoint, read by us
    rng = np.random.default_rng(2)
    for _ in range(2):
        grads = [rng.standard_normal(s) for s in SHAPES]
        for p, q, g in zip(copies, ref, grads):
            p.grad, q.grad = tkr.tensor(g), torch.tensor(g)
        fresh.step()
        ref_opt.step()
    for p, q in zip(copies, ref):
        np.testing.assert_allclose(_np(p), q.detach().numpy(), rtol=1e-10, atol=1e-13)


BAD_ADAFACTOR = [dict(lr=-1.0), dict(beta2_decay=0.5), dict(eps=(-1e-3, 1e-3)),
                 dict(eps=(None, -1.0)), dict(d=0.5), dict(weight_decay=-0.1)]


@pytest.mark.parametrize("options", BAD_ADAFACTOR, ids=range(len(BAD_ADAFACTOR)))
def test_adafactor_errors_equal_torch(options):
    _same_error(lambda: Adafactor([tkr.zeros(2, requires_grad=True)], **options),
                lambda: torch.optim.Adafactor([torch.zeros(2, requires_grad=True)], **options))


MUON_SHAPES = [(4, 3), (3, 5), (8, 8), (16, 6)]
MUON_CASES = [dict(), dict(lr=0.02, nesterov=False, weight_decay=0.01,
                           adjust_lr_fn="match_rms_adamw"),
              dict(lr=0.05, momentum=0.5, ns_steps=3, eps=1e-3, ns_coefficients=(2.0, -1.5, 0.5),
                   adjust_lr_fn="original")]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("options", MUON_CASES, ids=range(len(MUON_CASES)))
def test_muon_trajectory_equals_torch(options, dtype):
    ours = _run(tkr, "Muon", options, dtype, MUON_SHAPES)
    theirs = _run(torch, "Muon", options, dtype, MUON_SHAPES)
    # the orthogonalized update holds bfloat16 values equal to PyTorch's; what is
    # left is the rounding of the float32 sums inside the products
    tol = dict(rtol=1e-9, atol=1e-12) if dtype == np.float64 else TOL[np.float32]
    _assert_runs_equal(ours, theirs, tol)


def test_muon_newton_schulz_is_bit_equal_to_torch():
    from tinygrad_kr.optim.muon import _zeropower_via_newtonschulz
    from torch.optim._muon import _zeropower_via_newtonschulz as reference
    rng = np.random.default_rng(8)
    for shape in [(5, 3), (3, 7), (6, 6)]:
        g = rng.standard_normal(shape)
        ours = _zeropower_via_newtonschulz(g, (3.4445, -4.7750, 2.0315), 5, 1e-7)
        theirs = reference(torch.tensor(g), (3.4445, -4.7750, 2.0315), 5, 1e-7).float()
        np.testing.assert_array_equal(ours, theirs.numpy())
        # roughly orthogonal rows (or columns): singular values in about [0.5, 1.5]
        s = np.linalg.svd(ours.astype(np.float64), compute_uv=False)
        assert s.min() > 0.4 and s.max() < 1.6


def test_round_bf16_equals_torch_conversion():
    from tinygrad_kr.optim.muon import _round_bf16
    rng = np.random.default_rng(9)
    x = (rng.standard_normal(2000) * 10.0 ** rng.integers(-8, 8, 2000)).astype(np.float32)
    bits = x[:200].view(np.uint32)
    ties = ((bits & np.uint32(0xFFFF0000)) | np.uint32(0x8000)).view(np.float32)  # exact halves
    x = np.concatenate([x, ties, np.float32([0.0, -0.0, 1.0, 3.0e38, -1e-40, np.inf])])
    np.testing.assert_array_equal(_round_bf16(x), torch.tensor(x).bfloat16().float().numpy())


def test_muon_errors_equal_torch():
    p = [tkr.zeros(3, 2, requires_grad=True)]
    q = [torch.zeros(3, 2, requires_grad=True)]
    for options in [dict(lr=-1.0), dict(momentum=-0.5), dict(weight_decay=-1.0),
                    dict(adjust_lr_fn="other")]:
        _same_error(lambda: Muon(p, **options), lambda: torch.optim.Muon(q, **options))
    kind, message = _error(lambda: Muon([tkr.zeros(3, requires_grad=True)]))
    ref_kind, ref_message = _error(lambda: torch.optim.Muon([torch.zeros(3, requires_grad=True)]))
    assert kind is ref_kind is ValueError
    strip = re.compile(r"(torch|tinygrad_kr)\.Size")
    assert strip.sub("Size", message) == strip.sub("Size", ref_message)
    for options in [dict(ns_steps=100), dict(ns_coefficients=(1.0, 2.0))]:
        opt, ref_opt = Muon(p, **options), torch.optim.Muon(q, **options)
        p[0].grad, q[0].grad = tkr.ones(3, 2), torch.ones(3, 2)
        _same_error(opt.step, ref_opt.step)


# ----------------------------------------------------------------- autograd.Variable

def test_variable_returns_a_tensor_like_torch():
    x = tkr.tensor([1.0, 2.0])
    v = Variable(x, requires_grad=True)
    ref_x = torch.tensor([1.0, 2.0])
    ref_v = torch.autograd.Variable(ref_x, requires_grad=True)
    assert type(v) is tkr.Tensor and type(ref_v) is torch.Tensor
    assert v is not x and v.requires_grad and not x.requires_grad and v.is_leaf
    assert isinstance(x, Variable) and isinstance(ref_x, torch.autograd.Variable)
    assert not isinstance(3.0, Variable)
    (v * v).sum().backward()
    np.testing.assert_array_equal(_np(v.grad), [2.0, 4.0])
    w = Variable(x)                                  # shares the data
    w[0] = 5.0
    assert x[0].item() == 5.0 and not w.requires_grad
    # a computed tensor comes back detached (a leaf), as in PyTorch
    a = tkr.ones(2, requires_grad=True)
    b = Variable(a * 2)
    ref_b = torch.autograd.Variable(torch.ones(2, requires_grad=True) * 2)
    assert b.grad_fn is None and not b.requires_grad and ref_b.grad_fn is None
    e, ref_e = Variable(), torch.autograd.Variable()
    assert tuple(e.shape) == tuple(ref_e.shape) == (0,) and e.dtype == tkr.get_default_dtype()
    import tinygrad_kr.autograd as autograd
    assert "Variable" in autograd.__all__ and autograd.Variable is Variable


@pytest.mark.filterwarnings("ignore:volatile was removed")
def test_variable_errors_and_volatile_equal_torch():
    V, W = Variable, torch.autograd.Variable
    _same_error(lambda: V(3), lambda: W(3))
    _same_error(lambda: V([1.0]), lambda: W([1.0]))
    _same_error(lambda: V(tkr.ones(1), True, True), lambda: W(torch.ones(1), True, True))
    _same_error(lambda: V(tkr.ones(1), _grad_fn=3), lambda: W(torch.ones(1), _grad_fn=3))
    caught, v = _warnings(lambda: V(tkr.ones(2), volatile=True))
    ref_caught, _ = _warnings(lambda: W(torch.ones(2), volatile=True))
    assert caught == ref_caught and len(caught) == 1 and not v.requires_grad
    y = tkr.ones(2, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="_grad_fn argument to legacy Variable constructor is "
                                           "no longer supported"):
        V(tkr.ones(1), _grad_fn=y.grad_fn)


def test_deepcopy_of_fused_module_is_independent():
    """fuse_*_eval work on a copy: changing the fused layer leaves the original alone."""
    lin, bn = nn.Linear(3, 2).eval(), nn.BatchNorm1d(2).eval()
    fused = nn_utils.fuse_linear_bn_eval(lin, bn)
    before = _np(lin.weight).copy()
    with tkr.no_grad():
        fused.weight.mul_(0.0)
    np.testing.assert_array_equal(_np(lin.weight), before)
    assert copy.deepcopy(fused).weight is not fused.weight
