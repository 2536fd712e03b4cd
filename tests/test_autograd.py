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
    assert b.grad_fn.next_functions[0][0].variable is a    # an AccumulateGrad, as in PyTorch


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
    fn = (x * 2).grad_fn
    assert fn.name() == "MulBackward0"
    assert repr(fn).startswith("<MulBackward0 object at 0x")
    assert "grad_fn=<MulBackward0>" in repr(x * 2)
    assert (x.reshape(2, 1) @ x.reshape(1, 2)).grad_fn.name() == "MmBackward0"


# grad_fn names as PyTorch prints them, where the engine's op is PyTorch's op
GRAD_FN_NAMES = {
    "add": lambda m, x, w: x + w, "sub": lambda m, x, w: x - w, "mul": lambda m, x, w: x * w,
    "div": lambda m, x, w: x / w, "pow": lambda m, x, w: x ** 2, "neg": lambda m, x, w: -x,
    "exp": lambda m, x, w: x.exp(), "log": lambda m, x, w: x.log(),
    "tanh": lambda m, x, w: x.tanh(),
    "sigmoid": lambda m, x, w: x.sigmoid(), "relu": lambda m, x, w: m.relu(x),
    "sum": lambda m, x, w: x.sum(), "mean": lambda m, x, w: x.mean(),
    "matmul": lambda m, x, w: x @ w.t(), "softmax": lambda m, x, w: m.softmax(x, 1),
    "log_softmax": lambda m, x, w: m.log_softmax(x, 1), "view": lambda m, x, w: x.view(-1),
    "permute": lambda m, x, w: x.permute(1, 0), "cat": lambda m, x, w: m.cat([x, w]),
    "clamp": lambda m, x, w: x.clamp(0, 1), "amax": lambda m, x, w: x.amax(0),
    "max_dim": lambda m, x, w: x.max(0)[0], "cumsum": lambda m, x, w: x.cumsum(0),
    "cumprod": lambda m, x, w: x.cumprod(0), "clone": lambda m, x, w: x.clone(),
    "cast": lambda m, x, w: x.double(), "index": lambda m, x, w: x[[0, 1]],
    "logsumexp": lambda m, x, w: m.logsumexp(x, 1), "where": lambda m, x, w: m.where(x > 0, x, w),
    "roll": lambda m, x, w: m.roll(x, 1, 0),
    "log1p": lambda m, x, w: x.log1p(), "norm": lambda m, x, w: x.norm(),
}


@pytest.mark.parametrize("name", sorted(GRAD_FN_NAMES))
def test_grad_fn_names_are_pytorchs(name):
    torch = pytest.importorskip("torch")
    f = GRAD_FN_NAMES[name]
    x = tkr.rand(3, 3, requires_grad=True)
    w = tkr.rand(3, 3, requires_grad=True)
    tx, tw = torch.rand(3, 3, requires_grad=True), torch.rand(3, 3, requires_grad=True)
    assert f(tkr, x, w).grad_fn.name() == type(f(torch, tx, tw).grad_fn).__name__


# -- a second backward through a graph that saved nothing ------------------------------

@pytest.mark.parametrize("build", [
    lambda x: x.sum(),
    lambda x: (x + 1).mean(),
    lambda x: x.reshape(2, 2).permute(1, 0)[:, 1].sum(),
    lambda x: tkr.cat([x, x]).double().sum(),
])
def test_second_backward_through_nodes_that_saved_nothing_accumulates(build):
    """As PyTorch: ``y = x.sum(); y.backward(); y.backward()`` runs twice."""
    x = tkr.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    y = build(x)
    y.backward()
    first = x.grad.array.copy()
    y.backward()
    np.testing.assert_allclose(x.grad.array, 2 * first)


@pytest.mark.parametrize("build", [
    lambda m, x: (x * x).sum(),              # Mul saved its inputs
    lambda m, x: x.clamp(0, 2).sum(),        # Clamp kept a mask
    lambda m, x: x[[0, 0, 1]].sum(),         # an index array
    lambda m, x: (x.exp() + 1).sum(),        # freed deeper in the graph
])
def test_second_backward_raises_where_saved_values_were_freed(build):
    x = tkr.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    y = build(tkr, x)
    y.backward()
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        y.backward()
    try:
        import torch
    except ImportError:
        return
    ty = build(torch, torch.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True))
    ty.backward()
    with pytest.raises(RuntimeError, match="second time"):    # PyTorch raises there too
        ty.backward()


def test_release_frees_the_arrays_an_op_kept():
    x = tkr.ones(2, 3, requires_grad=True)
    c = x.clamp(0, 1)
    c.sum().backward()
    assert not any(isinstance(v, np.ndarray) for v in c.grad_fn.__dict__.values())


# -- Tensor.register_hook -----------------------------------------------------------

def test_leaf_hook_sees_each_gradient_before_accumulation():
    x = tkr.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    x.register_hook(lambda g: seen.append(g.array.copy()))
    (x * 3).sum().backward()
    (x * 5).sum().backward()
    np.testing.assert_array_equal(seen[0], [3, 3])
    np.testing.assert_array_equal(seen[1], [5, 5])      # this backward's, not the sum
    np.testing.assert_array_equal(x.grad.array, [8, 8])


def test_leaf_hook_runs_once_on_the_sum_of_its_gradients():
    x = tkr.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    x.register_hook(lambda g: seen.append(g.array.copy()) or g * 2)
    (x * x * 2 + x).sum().backward()                     # three edges into x
    assert len(seen) == 1
    np.testing.assert_array_equal(seen[0], 4 * x.array + 1)
    np.testing.assert_array_equal(x.grad.array, 2 * (4 * x.array + 1))


def test_hooks_replace_the_gradient_in_order():
    x = tkr.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: g * 2)
    x.register_hook(lambda g: g + 1)                     # sees the doubled gradient
    x.register_hook(lambda g: None)                      # None: keep it
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.array, [7, 7])


def test_non_leaf_hook_sees_the_total_gradient_once_and_changes_what_flows_on():
    x = tkr.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    calls = []

    def hook(g):
        calls.append(g.array.copy())
        return g * 10
    y.register_hook(hook)
    (y * y + y).sum().backward()                         # y reaches the loss twice
    assert len(calls) == 1
    np.testing.assert_allclose(calls[0], 2 * y.array + 1)
    np.testing.assert_allclose(x.grad.array, 30 * (2 * y.array + 1))


def test_hook_handle_removes_the_hook():
    x = tkr.tensor([1.0, 2.0], requires_grad=True)
    handle = x.register_hook(lambda g: g * 100)
    handle.remove()
    handle.remove()                                      # twice is harmless
    with x.register_hook(lambda g: g * 2):
        (x * 1).sum().backward()
    (x * 1).sum().backward()                             # removed on leaving the with
    np.testing.assert_array_equal(x.grad.array, [3, 3])


def test_hook_errors():
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        tkr.ones(2).register_hook(print)
    x = tkr.ones(3, requires_grad=True)
    h = x.register_hook(lambda g: g[:2])
    with pytest.raises(RuntimeError, match="hook '<lambda>' has changed the size of value"):
        (x * 1).sum().backward()
    h.remove()
    h = x.register_hook(lambda g: g.double())
    with pytest.raises(RuntimeError, match="changed the type of value"):
        (x * 1).sum().backward()
    h.remove()
    x.register_hook(lambda g: 5)
    with pytest.raises(TypeError, match="expected Tensor, but hook returned 'int'"):
        (x * 1).sum().backward()


def test_hooks_keep_their_gradient_when_grad_is_zeroed_in_place():
    x = tkr.ones(2, requires_grad=True)
    kept = []
    x.register_hook(kept.append)
    (x * 2).sum().backward()
    x.grad.zero_()
    np.testing.assert_array_equal(kept[0].array, [2, 2])


def test_hooks_with_autograd_grad_and_retain_grad():
    x = tkr.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: g * 2)
    g, = grad((x * 3).sum(), x)                           # captured after the leaf's hooks
    np.testing.assert_array_equal(g.array, [6, 6])
    assert x.grad is None
    y = x * 3
    y.retain_grad()
    y.register_hook(lambda g: g * 10)                    # registered after: still runs first
    assert y.retains_grad and not x.retains_grad
    y.sum().backward(retain_graph=True)
    np.testing.assert_array_equal(y.grad.array, [10, 10])
    y.sum().backward()
    np.testing.assert_array_equal(y.grad.array, [20, 20])   # accumulated, as PyTorch


def test_hooks_under_create_graph_are_recorded():
    x = tkr.tensor([1.0, 2.0], dtype=tkr.float64, requires_grad=True)
    y = x ** 3
    y.register_hook(lambda g: g * 2)
    g, = grad(y.sum(), x, create_graph=True)
    np.testing.assert_allclose(g.array, 6 * x.array ** 2)
    assert g.requires_grad
    g.sum().backward()
    np.testing.assert_allclose(x.grad.array, 12 * x.array)


def test_hooks_match_pytorch():
    torch = pytest.importorskip("torch")

    def run(m, make):
        x = make([0.5, -1.0, 2.0])
        w = make([1.5, 2.0, -0.5])
        log = []
        x.register_hook(lambda g: log.append(("x", g.tolist())))
        x.register_hook(lambda g: g * 3)
        h = x * w
        h.register_hook(lambda g: log.append(("h", g.tolist())) or g.clamp(-1, 1))
        h.retain_grad()
        out = (m.tanh(h) * h + h * w + x * x).sum()     # x reaches the loss on 3 edges
        out.backward(retain_graph=True)
        out.backward()
        return log, x.grad.tolist(), w.grad.tolist(), h.grad.tolist()

    ours = run(tkr, lambda v: tkr.tensor(v, dtype=tkr.float64, requires_grad=True))
    theirs = run(torch, lambda v: torch.tensor(v, dtype=torch.float64, requires_grad=True))
    assert [e[0] for e in ours[0]] == [e[0] for e in theirs[0]]
    for a, b in zip([e[1] for e in ours[0]] + list(ours[1:]),
                    [e[1] for e in theirs[0]] + list(theirs[1:])):
        np.testing.assert_allclose(a, b, rtol=1e-12)
