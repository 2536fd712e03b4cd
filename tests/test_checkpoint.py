"""utils.checkpoint: the same gradients as running the block normally, with
the block's intermediate results recomputed in backward (random state replayed)."""
import warnings

import numpy as np
import pytest

import tinygrad_kr as tg
from tinygrad_kr import nn
from tinygrad_kr.utils.checkpoint import checkpoint, checkpoint_sequential


def block_and_input(seed=0, dropout=0.0):
    tg.manual_seed(seed)
    block = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Dropout(dropout), nn.Linear(8, 3))
    block.double()
    x = tg.randn(5, 4, dtype=tg.float64, requires_grad=True)
    return block, x


def grads(block, x):
    return [x.grad.numpy().copy()] + [p.grad.numpy().copy() for p in block.parameters()]


@pytest.mark.parametrize("use_reentrant", [True, False])
@pytest.mark.parametrize("dropout", [0.0, 0.5])
def test_gradients_equal_the_unchecked_run(use_reentrant, dropout):
    block, x = block_and_input(dropout=dropout)
    state = tg.get_rng_state()
    (block(x) ** 2).sum().backward()
    expected = grads(block, x)
    for p in list(block.parameters()) + [x]:
        p.grad = None
    tg.set_rng_state(state)          # the same dropout masks as the unchecked run
    y = checkpoint(block, x, use_reentrant=use_reentrant)
    (y ** 2).sum().backward()
    for got, want in zip(grads(block, x), expected):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_the_block_runs_again_in_backward_without_a_graph_the_first_time():
    calls = []
    w = tg.randn(3, 3, requires_grad=True)

    def block(a):
        calls.append(tg.is_grad_enabled())
        return (a @ w).sin()

    y = checkpoint(block, tg.randn(2, 3, requires_grad=True), use_reentrant=False)
    assert calls == [False] and y.requires_grad
    y.sum().backward()
    assert calls == [False, True] and w.grad is not None


def test_matches_pytorch():
    torch = pytest.importorskip("torch")
    from torch.utils.checkpoint import checkpoint as torch_checkpoint
    rng = np.random.default_rng(0)
    w0, x0 = rng.standard_normal((4, 4)), rng.standard_normal((3, 4))
    results = []
    for lib, cp in ((tg, checkpoint), (torch, torch_checkpoint)):
        for use_reentrant in (True, False):
            w = lib.tensor(w0, requires_grad=True)
            x = lib.tensor(x0, requires_grad=True)
            y, z = cp(lambda a, scale: ((a @ w).tanh() * scale, a.exp()), x, 2.0,
                      use_reentrant=use_reentrant)
            (y.sum() + (z * y).sum()).backward()
            results.append((x.grad.detach().numpy(), w.grad.detach().numpy()))
    for ours, theirs in zip(results[:2], results[2:]):
        for a, b in zip(ours, theirs):
            np.testing.assert_allclose(a, b, rtol=1e-12)


def test_inputs_without_grad():
    lin = nn.Linear(3, 3)
    x = tg.randn(2, 3)
    # the reentrant variant keeps PyTorch's limit, with its warning
    with pytest.warns(UserWarning, match="None of the inputs have requires_grad=True"):
        y = checkpoint(lin, x, use_reentrant=True)
    assert not y.requires_grad
    # the non-reentrant one still trains the block's parameters
    y = checkpoint(lin, x, use_reentrant=False)
    y.sum().backward()
    np.testing.assert_allclose(lin.bias.grad.numpy(), [2.0, 2.0, 2.0])


def test_checkpoint_sequential_equals_the_plain_run():
    tg.manual_seed(1)
    seq = nn.Sequential(*[nn.Linear(3, 3) for _ in range(5)]).double()
    x = tg.randn(2, 3, dtype=tg.float64, requires_grad=True)
    seq(x).sum().backward()
    expected = grads(seq, x)
    for p in list(seq.parameters()) + [x]:
        p.grad = None
    checkpoint_sequential(seq, 2, x, use_reentrant=False).sum().backward()
    for got, want in zip(grads(seq, x), expected):
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_warnings_and_errors():
    x = tg.randn(2, requires_grad=True)
    with pytest.warns(UserWarning, match="use_reentrant parameter should be passed explicitly"):
        checkpoint(lambda a: a * 2, x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        checkpoint(lambda a: a * 2, x, use_reentrant=False)
    with pytest.raises(ValueError, match="determinism_check should be one of"):
        checkpoint(lambda a: a, x, use_reentrant=False, determinism_check="strict")
    with pytest.raises(ValueError, match="only supported when use_reentrant=False"):
        checkpoint(lambda a: a, x, use_reentrant=True, debug=True)
    # an input changed in place before backward: the recomputation would be wrong
    y = tg.randn(3, requires_grad=True)
    z = y * 1
    out = checkpoint(lambda a: a.sin(), z, use_reentrant=False)
    z.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.sum().backward()


@pytest.mark.parametrize("use_reentrant", [True, False])
def test_gradcheck(use_reentrant):
    from tinygrad_kr.autograd import gradcheck
    w = tg.randn(3, 3, dtype=tg.float64, requires_grad=True)
    x = tg.randn(2, 3, dtype=tg.float64, requires_grad=True)
    assert gradcheck(lambda a, b: checkpoint(lambda u, v: (u @ v).tanh(), a, b,
                                             use_reentrant=use_reentrant), (x, w))
