"""The Tensor methods of tinygrad_kr/tensor_extras.py against PyTorch: layout
queries, unfold, index_fill/index_copy/index_put/put/masked_scatter,
fill_diagonal_, as_strided (values and gradients), the random fills'
ranges, in-place rounding, and the errors."""
import numpy as np
import pytest

import tinygrad_kr as tkr
from tinygrad_kr.autograd import gradcheck

A = np.arange(24.0).reshape(2, 3, 4)


def _torch():
    return pytest.importorskip("torch")


def test_layout_queries_as_torch():
    torch = _torch()
    x, t = tkr.tensor(A), torch.tensor(A)
    for f in (lambda m: m.stride(), lambda m: m.transpose(0, 2).stride(),
              lambda m: m.stride(1), lambda m: m[1].storage_offset(),
              lambda m: m[:, 1].storage_offset(), lambda m: m.storage_offset(),
              lambda m: m.get_device()):
        assert f(x) == f(t)
    assert x.data_ptr() == x.array.ctypes.data
    assert x[1].data_ptr() - x.data_ptr() == 12 * 8
    p = x.pin_memory()
    assert p is not x and np.array_equal(p.numpy(), A) and not x.is_pinned()
    with pytest.raises(TypeError, match="bfloat16"):
        x.bfloat16()


@pytest.mark.parametrize("args", [(0, 1, 1), (2, 2, 1), (2, 3, 1), (1, 2, 1), (-1, 2, 2),
                                  (2, 4, 3)])
def test_unfold_matches_torch(args):
    torch = _torch()
    x, t = tkr.tensor(A, requires_grad=True), torch.tensor(A, requires_grad=True)
    y, ty = x.unfold(*args), t.unfold(*args)
    np.testing.assert_array_equal(y.detach().numpy(), ty.detach().numpy())
    g = np.cos(np.arange(ty.numel())).reshape(tuple(ty.shape))
    y.backward(tkr.tensor(g))
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy())
    assert gradcheck(lambda a: a.unfold(*args), (tkr.tensor(A, requires_grad=True),))


def test_unfold_errors_as_torch():
    x = tkr.tensor(A)
    with pytest.raises(RuntimeError, match="maximum size for tensor at dimension 2 is 4 but "
                                           "size is 5"):
        x.unfold(2, 5, 1)
    with pytest.raises(RuntimeError, match="step is 0 but must be > 0"):
        x.unfold(2, 2, 0)


WRITES = {
    "index_fill": (lambda m, x: x.index_fill(1, m.tensor([0, 2]), -1.0)),
    "index_fill_tensor_value": (lambda m, x: x.index_fill(2, m.tensor([3]), x.sum() * 0 + 5)),
    "index_copy": (lambda m, x: x.index_copy(1, m.tensor([2, 0]), x[:, :2] * 3)),
    "index_put": (lambda m, x: x.index_put((m.tensor([0, 1]), m.tensor([2, 0])), x[0, 0] * 2)),
    "index_put_accumulate": (lambda m, x: x.index_put(
        (m.tensor([0, 0, 1]), m.tensor([1, 1, 2])), x[1, 2] * 2, accumulate=True)),
    "put": (lambda m, x: x.put(m.tensor([0, 5, 5]), x[0, 0, :3] * 2, accumulate=True)),
    "masked_scatter": (lambda m, x: x.masked_scatter(
        m.tensor(np.arange(24).reshape(2, 3, 4) % 3 == 0), x.flip(0) * 10)),
    "as_strided": (lambda m, x: x.as_strided((3, 2), (4, 1), 2)),
}


@pytest.mark.parametrize("name", sorted(WRITES))
def test_writes_match_torch(name):
    torch = _torch()
    f = WRITES[name]
    x, t = tkr.tensor(A, requires_grad=True), torch.tensor(A, requires_grad=True)
    y, ty = f(tkr, x), f(torch, t)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy())
    g = np.sin(np.arange(ty.numel())).reshape(tuple(ty.shape))
    y.backward(tkr.tensor(g))
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), atol=1e-12)
    assert gradcheck(lambda a: f(tkr, a), (tkr.tensor(A + 0.5, requires_grad=True),))


def test_in_place_writes_as_torch():
    torch = _torch()
    for lib in (tkr, torch):
        x = lib.tensor(A.copy())
        x.index_fill_(1, lib.tensor([1]), 0.5)
        x.index_copy_(2, lib.tensor([0]), lib.ones(2, 3, 1, dtype=lib.float64))
        x.index_put_((lib.tensor([0]), lib.tensor([2])), lib.tensor(9.0, dtype=lib.float64))
        x.put_(lib.tensor([23]), lib.tensor([-4.0], dtype=lib.float64))
        x.masked_scatter_(lib.tensor(A > 20), lib.arange(10.0, dtype=lib.float64))
        if lib is tkr:
            ours = x.numpy()
        else:
            np.testing.assert_array_equal(ours, x.numpy())
    for wrap in (False, True):
        a, b = tkr.zeros(7, 3), torch.zeros(7, 3)
        a.fill_diagonal_(2.0, wrap=wrap)
        b.fill_diagonal_(2.0, wrap=wrap)
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    c = tkr.zeros(3, 3, 3)
    c.fill_diagonal_(1.0)
    assert c.numpy().sum() == 3 and c.numpy()[2, 2, 2] == 1
    with pytest.raises(RuntimeError, match="all dimensions of input must be of equal length"):
        tkr.zeros(2, 3, 3).fill_diagonal_(1.0)
    r = tkr.tensor([-1.5, 0.5, 2.7])
    assert r.clone().floor_().tolist() == [-2.0, 0.0, 2.0]
    assert r.clone().ceil_().tolist() == [-1.0, 1.0, 3.0]
    assert r.clone().round_().tolist() == [-2.0, 0.0, 3.0]


def test_random_fills():
    tkr.manual_seed(0)
    x = tkr.empty(20000)
    b = x.clone().bernoulli_(0.3).numpy()
    assert set(np.unique(b)) == {0.0, 1.0} and 0.28 < b.mean() < 0.32
    r = x.clone().random_(3, 7).numpy()
    assert set(np.unique(r)) == {3.0, 4.0, 5.0, 6.0}
    assert set(np.unique(x.clone().random_(4).numpy())) == {0.0, 1.0, 2.0, 3.0}
    e = x.clone().exponential_(2.0).numpy()
    assert (e >= 0).all() and 0.47 < e.mean() < 0.53
    geo = x.clone().geometric_(0.25).numpy()
    assert geo.min() >= 1 and 3.8 < geo.mean() < 4.2
    ln = x.clone().log_normal_(0.0, 0.5).numpy()
    assert (ln > 0).all() and 1.1 < ln.mean() < 1.16
    assert np.isfinite(x.clone().cauchy_().numpy()).all()
    i = tkr.zeros(1000, dtype=tkr.int64).random_(0, 10).numpy()
    assert i.dtype == np.int64 and set(np.unique(i)) == set(range(10))
    tkr.manual_seed(3)
    first = tkr.empty(5).random_(100).numpy()
    tkr.manual_seed(3)
    assert np.array_equal(tkr.empty(5).random_(100).numpy(), first)     # the engine's generator
    with pytest.raises(RuntimeError, match="expects 'from' to be less than 'to'"):
        x.random_(5, 2)
    with pytest.raises(RuntimeError, match="lambda > 0.0"):
        x.exponential_(0.0)
