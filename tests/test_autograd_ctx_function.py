"""Functions written PyTorch's way (static forward(ctx, ...) / backward(ctx, ...)
on Tensors), as course code and PyTorch's tutorials write them."""
import numpy as np
import pytest

import tinygrad_kr as tkr
from tinygrad_kr.autograd import gradcheck, gradgradcheck
from tinygrad_kr.autograd.function import once_differentiable


def define(lib):
    """The same classes on top of either library (PyTorch's tutorial code)."""
    class LegendrePolynomial3(lib.autograd.Function):
        @staticmethod
        def forward(ctx, input):
            ctx.save_for_backward(input)
            return 0.5 * (5 * input ** 3 - 3 * input)

        @staticmethod
        def backward(ctx, grad_output):
            input, = ctx.saved_tensors
            return grad_output * 1.5 * (5 * input ** 2 - 1)

    class MyReLU(lib.autograd.Function):
        @staticmethod
        def forward(ctx, input):
            ctx.save_for_backward(input)
            return input.clamp(min=0)

        @staticmethod
        def backward(ctx, grad_output):
            input, = ctx.saved_tensors
            grad_input = grad_output.clone()
            grad_input[input < 0] = 0
            return grad_input

    class MulConstant(lib.autograd.Function):
        @staticmethod
        def forward(ctx, tensor, constant):
            ctx.constant = constant
            return tensor * constant

        @staticmethod
        def backward(ctx, grad_output):
            return grad_output * ctx.constant, None

    return LegendrePolynomial3, MyReLU, MulConstant


def test_the_tutorials_polynomial_fit_matches_torch():
    torch = pytest.importorskip("torch")

    def fit(lib):
        P3, _, _ = define(lib)
        x = lib.linspace(-3.14159, 3.14159, 200, dtype=lib.float64)
        y = lib.sin(x)
        a, b, c, d = (lib.full((), v, dtype=lib.float64, requires_grad=True)
                      for v in (0.0, -1.0, 0.0, 0.3))
        for _ in range(50):
            y_pred = a + b * P3.apply(c + d * x)
            loss = (y_pred - y).pow(2).sum()
            loss.backward()
            with lib.no_grad():
                for p in (a, b, c, d):
                    p -= 5e-6 * p.grad
                    p.grad = None
        return [p.item() for p in (a, b, c, d)] + [loss.item()]

    np.testing.assert_allclose(fit(tkr), fit(torch), rtol=1e-9, atol=1e-12)


def test_values_gradients_and_node_as_in_torch():
    torch = pytest.importorskip("torch")
    x_np = np.array([-1.5, -0.2, 0.0, 0.7, 2.0])
    for ours, theirs in zip(define(tkr)[1:], define(torch)[1:]):
        args = (2.5,) if ours.__name__ == "MulConstant" else ()
        x, tx = tkr.tensor(x_np, requires_grad=True), torch.tensor(x_np, requires_grad=True)
        y, ty = ours.apply(x, *args), theirs.apply(tx, *args)
        (y * y).sum().backward()
        (ty * ty).sum().backward()
        np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy())
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())
        assert type(y.grad_fn).__name__ == type(ty.grad_fn).__name__ == ours.__name__ + "Backward"


def test_gradcheck_and_double_backward():
    P3, _, MulConstant = define(tkr)
    x = tkr.tensor(np.random.default_rng(0).uniform(-1, 1, (3, 4)), requires_grad=True)
    assert gradcheck(lambda t: P3.apply(t) * MulConstant.apply(t, 3.0), (x,))
    assert gradgradcheck(P3.apply, (x,))   # backward's own Tensor ops are recorded


def test_needs_input_grad_and_constants():
    seen = []

    class Scale(tkr.autograd.Function):
        @staticmethod
        def forward(ctx, a, b, factor):
            seen.append(ctx.needs_input_grad)
            ctx.factor = factor
            ctx.save_for_backward(a, b)
            return a * b * factor

        @staticmethod
        def backward(ctx, g):
            a, b = ctx.saved_tensors
            return (g * b * ctx.factor if ctx.needs_input_grad[0] else None,
                    g * a * ctx.factor if ctx.needs_input_grad[1] else None, None)

    a, b = tkr.tensor([1.0, 2.0], requires_grad=True), tkr.tensor([3.0, 4.0])
    Scale.apply(a, b, 2.0).sum().backward()
    assert seen == [(True, False, False)]
    assert a.grad.tolist() == [6.0, 8.0] and b.grad is None


def test_errors_name_the_problem():
    class TooFew(tkr.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            return a + b

        @staticmethod
        def backward(ctx, g):
            return g

    class GradForANumber(tkr.autograd.Function):
        @staticmethod
        def forward(ctx, a, k):
            return a * k

        @staticmethod
        def backward(ctx, g):
            return g, g

    class SavesANumber(tkr.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            ctx.save_for_backward(2.0)
            return a

        @staticmethod
        def backward(ctx, g):
            return g

    a = tkr.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"incorrect number of gradients \(expected 2, got 1\)"):
        TooFew.apply(a, a).sum().backward()
    with pytest.raises(RuntimeError, match="position 2, but the corresponding forward input was "
                                           "not a Tensor"):
        GradForANumber.apply(a, 3.0).sum().backward()
    with pytest.raises(TypeError, match="save_for_backward can only save tensors"):
        SavesANumber.apply(a)


def test_saved_tensors_follow_the_engines_rules():
    P3, MyReLU, _ = define(tkr)
    x = tkr.tensor([1.0, -2.0], requires_grad=True)
    base = x * 1
    y = P3.apply(base)
    with tkr.no_grad():
        base.add_(1)                            # changes what forward saved
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()
    y = MyReLU.apply(x * 1)
    y.sum().backward(retain_graph=True)
    y.sum().backward()
    assert x.grad.tolist() == [2.0, 0.0]
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.sum().backward()


def test_once_differentiable_under_create_graph_raises_only_when_differentiated_again():
    """PyTorch's rule: the gradient is computed (and tied to the graph through
    gy), and only a second differentiation through it raises."""
    class Square(tkr.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            ctx.save_for_backward(a)
            return a * a

        @staticmethod
        @once_differentiable
        def backward(ctx, g):
            a, = ctx.saved_tensors
            return 2 * a * g

    def both(lib, fn):
        x = lib.tensor([3.0, -1.0], dtype=lib.float64, requires_grad=True)
        w = lib.tensor([0.5, 2.0], dtype=lib.float64, requires_grad=True)
        g, = lib.autograd.grad((fn.apply(x) * w).sum(), x, create_graph=True)
        root, = lib.autograd.grad(fn.apply(x).sum(), x, create_graph=True)
        return g, w, root

    x = tkr.tensor([3.0], requires_grad=True)
    assert tkr.autograd.grad(Square.apply(x).sum(), x)[0].tolist() == [6.0]
    g, w, root = both(tkr, Square)
    assert g.tolist() == [3.0, -4.0] and g.requires_grad      # gy = w needs a gradient
    assert type(g.grad_fn).__name__ == "DelayedError"
    assert root.tolist() == [6.0, -2.0] and not root.requires_grad    # gy = 1 does not
    for again in (lambda: g.sum().backward(), lambda: tkr.autograd.grad(g.sum(), w)):
        with pytest.raises(RuntimeError, match="differentiate twice a function that was "
                                               "marked with @once_differentiable"):
            again()
    torch = pytest.importorskip("torch")

    class TorchSquare(torch.autograd.Function):
        forward = staticmethod(Square.forward)
        backward = staticmethod(torch.autograd.function.once_differentiable(
            Square.backward.__wrapped__ if hasattr(Square.backward, "__wrapped__")
            else Square.backward))
    tg, tw, troot = both(torch, TorchSquare)
    assert tg.tolist() == g.tolist() and tg.requires_grad
    assert troot.tolist() == root.tolist() and not troot.requires_grad
    with pytest.raises(RuntimeError, match="differentiate twice"):
        tg.sum().backward()
    # PyTorch's DelayedError hangs off a copy without history, so it calls w unused;
    # ours hangs off gy and names the reason: an error either way
    with pytest.raises(RuntimeError):
        torch.autograd.grad(tg.sum(), tw)
