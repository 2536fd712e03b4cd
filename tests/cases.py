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
