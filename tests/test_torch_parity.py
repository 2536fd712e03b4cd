"""Forward values and gradients of the core ops equal PyTorch's (skipped
cleanly where PyTorch is not installed)."""
import numpy as np
import pytest

import tinygrad_kr as tkr

torch = pytest.importorskip("torch")

CASES = {
    "arith": lambda m, a, b: ((a * b + a / (b * b + 1) - b) ** 2).sum(),
    "broadcast": lambda m, a, b: (a[:, :1] * b[0] + a.mean(0)).sum(),
    "unary": lambda m, a, b: (m.exp(a * 0.1) + m.tanh(b) + m.sigmoid(a) + m.sin(b)).sum(),
    "relu": lambda m, a, b: m.relu(a * b).sum(),
    "reductions": lambda m, a, b: a.var(1).sum() + b.std(0).sum() + m.logsumexp(a, 1).sum()
    + a.amax(1).sum() + m.max(b, 0)[0].sum(),
    "softmax": lambda m, a, b: (m.softmax(a, 1) * b).sum() + m.log_softmax(b, 0).sum(),
    "matmul": lambda m, a, b: (a @ b.T).tanh().sum(),
    "shapes": lambda m, a, b: m.cat([a, b], 0).reshape(-1, 2).permute(1, 0)[:, 3:].sum()
    + m.stack([a, b], 2).transpose(0, 2).flatten().pow(2).sum(),
    "index": lambda m, a, b: a[[0, 2, 2]].sum() + b[b > 0].sum() + a[1, ::2].sum(),
    "clamp_where": lambda m, a, b: m.where(a > 0, a, b).sum() + a.clamp(-0.5, 0.5).sum(),
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_matches_torch(name, dtype):
    rng = np.random.default_rng(1)
    a_np, b_np = rng.standard_normal((4, 6)).astype(dtype), rng.standard_normal((4, 6)).astype(dtype)
    f = CASES[name]
    a, b = tkr.tensor(a_np, requires_grad=True), tkr.tensor(b_np, requires_grad=True)
    ta, tb = torch.tensor(a_np, requires_grad=True), torch.tensor(b_np, requires_grad=True)
    y, ty = f(tkr, a, b), f(torch, ta, tb)
    y.backward()
    ty.backward()
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == "float32" else dict(rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(y.item(), ty.item(), **tol)
    np.testing.assert_allclose(a.grad.array, ta.grad.numpy(), **tol)
    np.testing.assert_allclose(b.grad.array, tb.grad.numpy(), **tol)


def test_higher_order_matches_torch():
    x_np = np.array([0.3, -1.2, 2.0])
    x, tx = tkr.tensor(x_np, requires_grad=True), torch.tensor(x_np, requires_grad=True)
    g, = tkr.autograd.grad((x.sin() * x ** 2).sum(), x, create_graph=True)
    tg, = torch.autograd.grad((tx.sin() * tx ** 2).sum(), tx, create_graph=True)
    g.sum().backward()
    tg.sum().backward()
    np.testing.assert_allclose(x.grad.array, tx.grad.numpy(), rtol=1e-12)


def test_hand_written_sgd_through_data_matches_torch():
    """A PyTorch tutorial's loop, only the import changed: in-place init and
    updates through ``.data``, predictions from ``max(outputs.data, 1)``."""
    def train(lib):
        lib.manual_seed(0)
        rng = np.random.default_rng(0)
        x = lib.tensor(rng.standard_normal((16, 5)).astype(np.float32))
        y = lib.tensor(rng.integers(0, 3, 16))
        w = lib.zeros(5, 3, requires_grad=True)
        b = lib.zeros(3, requires_grad=True)
        w.data.copy_(lib.tensor(rng.standard_normal((5, 3)).astype(np.float32)))
        b.data.fill_(0.1)
        for _ in range(4):
            outputs = x @ w + b
            loss = lib.nn.functional.cross_entropy(outputs, y)
            loss.backward()
            w.data -= 0.5 * w.grad.data
            b.data.sub_(0.5 * b.grad.data)
            w.grad.data.zero_()
            b.grad.zero_()
        _, predicted = lib.max(outputs.data, 1)
        return w.data.numpy(), b.data.numpy(), predicted.numpy(), loss.item()

    ours, theirs = train(tkr), train(torch)
    for a, t in zip(ours, theirs):
        np.testing.assert_allclose(a, t, rtol=1e-5, atol=1e-6)
