"""Engine semantics: accumulation, graphs, grad modes, higher order, errors."""
import gc
import threading
import weakref

import numpy as np
import pytest

import tinygrad_kr as tkr
from tinygrad_kr.autograd import grad


def test_leaf_and_graph_links():
    a = tkr.tensor([1.0, 2.0], requires_grad=True)
    b = a * 2
    assert a.is_leaf and not b.is_leaf and b.grad_fn is not None
    assert b.requires_grad and not b.detach().requires_grad
    assert b.grad_fn.next_functions[0][0] is a


def test_reused_input_accumulates():
    a = tkr.tensor(3.0, requires_grad=True)
    (a * a + a).backward()
    assert a.grad.item() == 7.0
    (a * 2).backward()  # .grad accumulates across backward calls
    assert a.grad.item() == 9.0


def test_long_chain_has_no_recursion_limit():
    x = tkr.ones(2, requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y + 1e-4 * y
    y.sum().backward()
    np.testing.assert_allclose(x.grad.array, (1 + 1e-4) ** 10_000, rtol=1e-3)


def test_deterministic_accumulation_order():
    def run():
        tkr.manual_seed(1)
        w = tkr.randn(50, requires_grad=True)
        outs = [(w * float(i)).sin() for i in range(20)]
        tkr.stack(outs).sum().backward()
        return w.grad.array.copy()
    assert np.array_equal(run(), run())


def test_only_needed_gradients_are_computed():
    calls = []

    class Probe(tkr.autograd.Function):
        def forward(self, a, b):
            return a * b

        def backward(self, xp, gy):
            calls.append(self.needs_input_grad)
            return None, gy

    a = tkr.ones(3)
    b = tkr.ones(3, requires_grad=True)
    Probe.apply(a, b).sum().backward()
    assert calls == [(False, True)]


def test_saved_values_released_and_second_backward_raises():
    a = tkr.tensor([1.0, 2.0], requires_grad=True)
    y = (a * a).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_retain_graph_allows_second_backward():
    a = tkr.tensor([1.0, 2.0], requires_grad=True)
    y = (a * a).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(a.grad.array, [4.0, 8.0])


def test_backward_errors():
    with pytest.raises(RuntimeError, match="does not require grad"):
        tkr.ones(2).sum().backward()
    x = tkr.ones(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match="scalar outputs.*\\(2, 3\\)"):
        (x * 2).backward()
    with pytest.raises(RuntimeError, match="Mismatch in shape"):
        (x * 2).backward(tkr.ones(3))
    (x * 2).backward(tkr.ones(2, 3))
    assert x.grad.shape == (2, 3)


def test_higher_order_gradients():
    x = tkr.tensor(2.0, dtype=tkr.float64, requires_grad=True)
    y = x ** 3
    g, = grad(y, x, create_graph=True)
    assert g.item() == pytest.approx(12.0)
    g2, = grad(g, x, create_graph=True)
    assert g2.item() == pytest.approx(12.0)
    g3, = grad(g2, x)
    assert g3.item() == pytest.approx(6.0)


def test_create_graph_through_backward_accumulates_differentiable_grad():
    x = tkr.tensor([1.0, 2.0], dtype=tkr.float64, requires_grad=True)
    (x.exp().sum()).backward(create_graph=True)
    assert x.grad.requires_grad
    x.grad.sum().backward()  # d/dx sum(exp(x)) accumulated again
    np.testing.assert_allclose(x.grad.array, 2 * np.exp([1.0, 2.0]))


def test_no_grad_enable_grad_set_grad_enabled():
    x = tkr.ones(2, requires_grad=True)
    with tkr.no_grad():
        assert not (x * 2).requires_grad
        with tkr.enable_grad():
            assert (x * 2).requires_grad
    assert (x * 2).requires_grad

    @tkr.no_grad()
    def f(t):
        return t * 2
    assert not f(x).requires_grad
    with tkr.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert tkr.is_grad_enabled()
    tkr.set_grad_enabled(False)
    assert not tkr.is_grad_enabled()
    tkr.set_grad_enabled(True)


def test_grad_mode_is_thread_local():
    seen = []
    with tkr.no_grad():
        t = threading.Thread(target=lambda: seen.append(tkr.is_grad_enabled()))
        t.start()
        t.join()
    assert seen == [True]


def test_inplace_on_leaf_requiring_grad_raises():
    w = tkr.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="in-place"):
        w.add_(1)
    with tkr.no_grad():
        w.sub_(0.5)  # parameter updates are fine under no_grad
    np.testing.assert_allclose(w.array, 0.5)


def test_inplace_on_saved_value_is_detected():
    x = tkr.tensor([1.0, 2.0])  # needs no grad: in-place allowed
    w = tkr.tensor([3.0, 4.0], requires_grad=True)
    y = (w * x).sum()
    x.mul_(10)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


def test_inplace_before_saving_or_elsewhere_is_not_an_error():
    """Only a change made after a Function saved a tensor counts: one made
    before, or to a tensor nobody saved, leaves backward alone."""
    x = tkr.tensor([1.0, 2.0])
    x.mul_(10)                      # before the product saves x
    w = tkr.tensor([3.0, 4.0], requires_grad=True)
    other = tkr.zeros(2)
    y = (w * x).sum()
    other.add_(1)                   # after, but not saved by anything
    y.backward()
    np.testing.assert_allclose(w.grad.array, [10.0, 20.0])


def test_inplace_on_saved_output_is_detected():
    """exp saves its output: changing that output in place breaks backward."""
    w = tkr.tensor([0.5, 1.0], requires_grad=True)
    y = w.exp()
    z = y.detach()                  # the same array, no grad: in-place allowed
    y_sum = y.sum()                 # sum saves nothing: only Exp holds y
    assert z.array is y.array
    with tkr.no_grad():
        y.mul_(3)
    with pytest.raises(RuntimeError, match="modified by an inplace operation.*Exp"):
        y_sum.backward()


def test_inplace_check_names_the_version():
    x = tkr.tensor([1.0, 2.0])
    w = tkr.tensor([3.0, 4.0], requires_grad=True)
    y = (w * x).sum()
    x.add_(1)
    x.add_(1)
    with pytest.raises(RuntimeError, match=r"saved by Mul .*now at version 2"):
        y.backward()


def test_optimizer_step_between_forward_and_backward_is_detected():
    """The optimizer changes its parameters in place: a backward through a
    graph that saved them before the step must refuse, as PyTorch's does."""
    w = tkr.nn.Parameter(tkr.tensor([1.0, 2.0]))
    x = tkr.tensor([3.0, 4.0], requires_grad=True)
    loss = (w * x).sum()
    w.grad = tkr.ones(2)
    tkr.optim.SGD([w], lr=0.1).step()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


def test_inputs_backward_does_not_need_are_freed():
    """A Function holds only the values it saved: exp saves its output, so
    its input (an intermediate nobody else holds) is freed at once, as in
    PyTorch, and the graph still differentiates."""
    a = tkr.randn(4, requires_grad=True)
    h = a * 2
    ref = weakref.ref(h.array)
    y = h.exp()
    del h
    gc.collect()
    assert ref() is None
    y.sum().backward()
    np.testing.assert_allclose(a.grad.array, 2 * y.array, rtol=1e-6)


def test_backward_frees_saved_values_while_the_graph_lives():
    """Without retain_graph, each node lets go of what it saved once it has
    run, even though the output (and so the graph) is still referenced:
    peak memory during backward falls as it goes (earlier bookkeeping kept
    the saved inputs until the whole graph died)."""
    a = tkr.randn(1000, requires_grad=True)
    h = a * 2
    ref = weakref.ref(h.array)
    y = (h * h).sum()
    del h
    y.backward()
    gc.collect()
    assert ref() is None
    assert y.grad_fn is not None


def test_inplace_ops_values():
    x = tkr.zeros(3)
    x += 2
    x *= tkr.tensor([1.0, 2.0, 3.0])
    x[0] = 7
    x.clamp_(max=5)
    np.testing.assert_allclose(x.array, [5, 4, 5])
    assert x.zero_().sum().item() == 0


def test_grad_of_shared_leaves_do_not_alias():
    a = tkr.tensor(1.0, requires_grad=True)
    b = tkr.tensor(2.0, requires_grad=True)
    (a + b).backward()
    a.grad.zero_()
    assert b.grad.item() == 1.0


def test_retain_grad_on_non_leaf():
    x = tkr.tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    h.retain_grad()
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad.array, 2 * h.array)


def test_autograd_grad_leaves_dot_grad_alone_and_allow_unused():
    x = tkr.tensor([1.0], requires_grad=True)
    z = tkr.tensor([1.0], requires_grad=True)
    g, = grad((x * 5).sum(), [x])
    assert g.item() == 5 and x.grad is None
    with pytest.raises(RuntimeError, match="not have been used"):
        grad((x * 5).sum(), [x, z])
    assert grad((x * 5).sum(), [x, z], allow_unused=True)[1] is None


def test_integer_outputs_carry_no_grad():
    x = tkr.randn(3, 4, requires_grad=True)
    assert not x.argmax(1).requires_grad
    assert x.argmax(1).dtype == tkr.int64


def test_double_backward_through_kernel_op_raises_clearly():
    x = tkr.randn(3, requires_grad=True, dtype=tkr.float64)
    y = tkr.relu(x).sum()
    # relu's array kernel has a graph-mode formula: double backward works
    g, = grad(y, x, create_graph=True)
    assert g.requires_grad or not g.requires_grad  # no error


def test_function_repr_and_name():
    x = tkr.ones(2, requires_grad=True)
    assert "MulBackward" in repr((x * 2).grad_fn)
