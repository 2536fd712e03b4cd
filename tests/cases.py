"""Helpers the kernel, conv and pooling tests share: a generator per test
case, PyTorch on one thread, leaves, and inputs without near-ties."""
import zlib

import numpy as np
import pytest

import tinygrad_kr as tkr


def rng_for(*key):
    """A generator seeded by the test's parameters (stable across runs)."""
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def torch_one_thread():
    """PyTorch (the test skips without it) on one thread: tiny problems, where
    a thread pool only adds wake-up latency."""
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    return torch


def leaf(a):
    return tkr.tensor(a, requires_grad=True)


def distinct(shape, rng):
    """float64 values at least 1e-2 apart, so max-pool windows have no
    near-ties that a finite difference of 1e-6 could flip."""
    n = int(np.prod(shape))
    return (rng.permutation(n) * 0.01 + rng.random(n) * 1e-3).reshape(shape) - n * 0.005


def tolerance(dtype, terms=1):
    """Agreement with PyTorch: float64 to 1e-12; float32 to 1e-5, the absolute
    part growing with the ``terms`` products a sum may round each way."""
    base = 1e-12 if dtype == np.float64 else 1e-5
    return dict(rtol=base, atol=base * np.sqrt(terms))


def check_against_torch(ours, theirs, arrays, dtype, terms=1, **kwargs):
    """Forward values (and the int64 indices of a (values, indices) result)
    and the gradients of every input, for one random gy, of ours(*Tensors)
    and theirs(*torch tensors) agree; ``kwargs`` go to both."""
    torch = torch_one_thread()
    arrays = [None if a is None else a.astype(dtype) for a in arrays]
    mine = [None if a is None else leaf(a) for a in arrays]
    ref = [None if a is None else torch.tensor(a, requires_grad=True) for a in arrays]
    y, ty = ours(*mine, **kwargs), theirs(*ref, **kwargs)
    if isinstance(ty, tuple):
        assert y[1].dtype == tkr.int64
        np.testing.assert_array_equal(y[1].numpy(), ty[1].numpy())
        y, ty = y[0], ty[0]
    tol = tolerance(dtype, terms)
    assert y.dtype == np.dtype(dtype) and tuple(y.shape) == tuple(ty.shape)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), **tol)
    gy = rng_for("gy", tuple(y.shape)).standard_normal(tuple(y.shape)).astype(dtype)
    y.backward(tkr.tensor(gy))
    ty.backward(torch.tensor(gy))
    for t, r in zip(mine, ref):
        if t is not None:
            assert t.grad.dtype == np.dtype(dtype)
            np.testing.assert_allclose(t.grad.numpy(), r.grad.numpy(), **tol)


def weighted_grads(lib, fn, args):
    """Gradients, in ``lib``, of a fixed weighted sum of fn(lib, *args)'s
    differentiable outputs with respect to its float64 array arguments (None
    when no output is differentiable): the same probe for both libraries."""
    ts = [lib.tensor(a, requires_grad=True) if isinstance(a, np.ndarray) and a.dtype == np.float64
          else (lib.tensor(a) if isinstance(a, np.ndarray) else a) for a in args]
    out = fn(lib, *ts)
    outs = [o for o in (out if isinstance(out, (tuple, list)) else (out,))
            if isinstance(o, lib.Tensor) and o.requires_grad]
    if not outs:
        return None
    total = sum((o * lib.tensor(np.linspace(0.5, 1.5, o.numel()).reshape(tuple(o.shape)))).sum()
                for o in outs)
    total.backward()
    return [t.grad for t in ts if isinstance(t, lib.Tensor) and t.requires_grad]
