"""Functions written PyTorch's way with several outputs, and the rest of
PyTorch's ctx API (mark_non_differentiable, set_materialize_grads,
mark_dirty, setup_context, returning inputs and views), compared with
PyTorch where it is installed; the float64 gradchecks run without it."""
import numpy as np
import pytest

import tinygrad_kr as tkr
from tinygrad_kr.autograd import gradcheck, gradgradcheck
from torch_compat import function_apply_takes_keywords, view_output_name


def define(lib):
    """The same classes on top of either library."""
    Function = lib.autograd.Function
    once_differentiable = lib.autograd.function.once_differentiable

    class SinCos(Function):
        """Two outputs, both saved for backward."""
        @staticmethod
        def forward(ctx, x):
            s, c = x.sin(), x.cos()
            ctx.save_for_backward(s, c)
            return s, c

        @staticmethod
        def backward(ctx, gs, gc):
            s, c = ctx.saved_tensors
            return gs * c - gc * s

    class MulAdd(Function):
        """Two inputs, two outputs, a number in between and at the end."""
        @staticmethod
        def forward(ctx, a, k, b):
            ctx.save_for_backward(a, b)
            ctx.k = k
            return a * b * k, None, a + b, "tag"

        @staticmethod
        def backward(ctx, g_prod, g_none, g_sum, g_tag):
            ctx.seen = (g_none, g_tag)
            a, b = ctx.saved_tensors
            return g_prod * b * ctx.k + g_sum, None, g_prod * a * ctx.k + g_sum

    class Sort(Function):
        """PyTorch's docs' example of mark_non_differentiable."""
        @staticmethod
        def forward(ctx, x):
            values, idx = x.sort()
            ctx.mark_non_differentiable(idx)
            ctx.save_for_backward(x, idx)
            return values, idx

        @staticmethod
        @once_differentiable
        def backward(ctx, g_values, g_idx):
            x, idx = ctx.saved_tensors
            grad_input = lib.zeros_like(x)
            grad_input.index_add_(0, idx, g_values)
            return grad_input

    class MaxWithArgmax(Function):
        """A float output marked non-differentiable."""
        @staticmethod
        def forward(ctx, x):
            i = x.argmax()
            ctx.save_for_backward(i)
            ctx.shape = x.shape
            where = i.to(x.dtype)
            ctx.mark_non_differentiable(where)
            return x.max(), where

        @staticmethod
        def backward(ctx, g_max, g_where):
            ctx.g_where = g_where
            i, = ctx.saved_tensors
            grad = lib.zeros(ctx.shape, dtype=g_max.dtype)
            grad[i] = g_max
            return grad

    return SinCos, MulAdd, Sort, MaxWithArgmax


def make_recorder(lib, materialize):
    seen = []

    class Pair(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(materialize)
            y, z = x * 2, x * 3
            ctx.mark_non_differentiable(z)
            return x * 5, y, z, 7

        @staticmethod
        def backward(ctx, g_first, g_y, g_z, g_7):
            seen.append(tuple(None if g is None else g.tolist() for g in (g_first, g_y, g_z, g_7)))
            g = g_y * 2 if g_y is not None else 0
            return g + (g_first * 5 if g_first is not None else 0)

    return Pair, seen


def x64(lib, values, requires_grad=True):
    return lib.tensor(values, dtype=lib.float64, requires_grad=requires_grad)


# -- engine-only: float64 gradchecks (no PyTorch needed) -------------------------

def test_several_outputs_gradcheck_and_gradgradcheck():
    SinCos, MulAdd, Sort, MaxWithArgmax = define(tkr)
    rng = np.random.default_rng(0)
    x = x64(tkr, rng.uniform(-2, 2, (3, 2)))
    a, b = x64(tkr, rng.uniform(-1, 1, (2, 3))), x64(tkr, rng.uniform(-1, 1, (3,)))
    assert gradcheck(SinCos.apply, (x,))
    assert gradgradcheck(SinCos.apply, (x,))
    assert gradcheck(lambda a, b: MulAdd.apply(a, 1.5, b), (a, b))
    assert gradgradcheck(lambda a, b: MulAdd.apply(a, 1.5, b), (a, b))
    v = x64(tkr, [0.3, -1.2, 2.5, 0.1])
    assert gradcheck(lambda t: Sort.apply(t)[0], (v,))
    assert gradcheck(lambda t: MaxWithArgmax.apply(t)[0], (v,))


def test_each_output_is_handed_out_by_its_own_node_shown_as_the_function():
    SinCos, MulAdd, _, _ = define(tkr)
    x = x64(tkr, [0.5, 1.0])
    s, c = SinCos.apply(x)
    assert s.grad_fn is not c.grad_fn        # one gradient edge per output
    assert s.grad_fn.name() == c.grad_fn.name() == "SinCosBackward"
    assert repr(s.grad_fn).startswith("<SinCosBackward object at")
    assert s.grad_fn.next_functions == c.grad_fn.next_functions
    assert s.grad_fn.next_functions[0][0].variable is x
    prod, none, total, tag = MulAdd.apply(x, 2.0, x64(tkr, [1.0, 1.0], requires_grad=False))
    assert none is None and tag == "tag" and total.requires_grad


def test_no_graph_without_a_gradient_to_compute():
    SinCos, _, Sort, _ = define(tkr)
    with tkr.no_grad():
        s, c = SinCos.apply(x64(tkr, [0.5, 1.0]))
    assert not s.requires_grad and s.grad_fn is None and c.grad_fn is None
    values, idx = Sort.apply(x64(tkr, [2.0, 1.0], requires_grad=False))
    assert values.tolist() == [1.0, 2.0] and idx.tolist() == [1, 0]
    assert not values.requires_grad and not idx.requires_grad


def test_hooks_retain_grad_and_inputs_on_each_output():
    SinCos, _, _, _ = define(tkr)
    x = x64(tkr, [0.5, 1.0])
    s, c = SinCos.apply(x)
    s.register_hook(lambda g: g * 10)
    c.retain_grad()
    (s + c).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 10 * np.cos([0.5, 1.0]) - np.sin([0.5, 1.0]))
    assert c.grad.tolist() == [1.0, 1.0]
    s, c = SinCos.apply(x)
    g_s, g_c = tkr.autograd.grad((2 * s + 3 * c).sum(), (s, c))
    assert g_s.tolist() == [2.0, 2.0] and g_c.tolist() == [3.0, 3.0]


def test_a_saved_output_changed_in_place_is_caught_and_graphs_are_freed():
    SinCos, _, _, _ = define(tkr)
    x = x64(tkr, [0.5, 1.0])
    s, c = SinCos.apply(x)
    with tkr.no_grad():
        c.mul_(2)                               # forward saved c
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        s.sum().backward()
    s, c = SinCos.apply(x)
    (s + c).sum().backward(retain_graph=True)
    (s + c).sum().backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        s.sum().backward()


def test_outputs_keep_their_own_dtype_and_memory():
    class Split(tkr.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2, (x * 3).double()

        @staticmethod
        def backward(ctx, g32, g64):
            assert (g32.dtype, g64.dtype) == (tkr.float32, tkr.float64)
            return g32 * 2 + (g64 * 3).float()

    x = tkr.tensor([1.0, 2.0], requires_grad=True)
    a, b = Split.apply(x)
    assert (a.dtype, b.dtype) == (tkr.float32, tkr.float64)
    (a.sum() + b.sum()).backward()
    assert x.grad.tolist() == [5.0, 5.0] and x.grad.dtype == tkr.float32


# -- compared with PyTorch --------------------------------------------------------

def _grads_of(lib, program):
    """Run ``program(lib, *leaves)`` -> loss; the loss and the leaves' gradients."""
    leaves = [x64(lib, [0.3, -1.2, 2.5]), x64(lib, [1.5, 0.7, -0.4])]
    loss = program(lib, *leaves)
    loss.backward()
    return [loss.detach().numpy()] + [t.grad.numpy() for t in leaves]


def _same_as_torch(program):
    torch = pytest.importorskip("torch")
    for ours, theirs in zip(_grads_of(tkr, program), _grads_of(torch, program)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)


def test_two_outputs_both_used_match_torch():
    def program(lib, x, w):
        SinCos, MulAdd, _, _ = define(lib)
        s, c = SinCos.apply(x * w)
        prod, _, total, _ = MulAdd.apply(s, 3.0, w)
        return (s * c).sum() + (prod * total).sum()
    _same_as_torch(program)


def test_one_output_unused_matches_torch():
    def program(lib, x, w):
        SinCos, MulAdd, _, _ = define(lib)
        s, c = SinCos.apply(x)
        prod, _, total, _ = MulAdd.apply(x, 2.0, w)
        return (s * w).sum() + total.pow(2).sum()
    _same_as_torch(program)


@pytest.mark.parametrize("materialize", [True, False])
def test_unreached_and_non_differentiable_outputs_get_zeros_or_none_as_in_torch(materialize):
    torch = pytest.importorskip("torch")
    results = []
    for lib in (tkr, torch):
        Pair, seen = make_recorder(lib, materialize)
        x = x64(lib, [1.0, 2.0])
        first, y, z, seven = Pair.apply(x)
        assert (first.requires_grad, y.requires_grad, z.requires_grad, seven) == (True, True,
                                                                                  False, 7)
        y.sum().backward()
        (first * 2).sum().backward()
        results.append((seen, x.grad.tolist()))
    assert results[0] == results[1]
    if materialize:
        assert results[0][0][0] == ([0.0, 0.0], [1.0, 1.0], [0.0, 0.0], None)
    else:
        assert results[0][0][0] == (None, [1.0, 1.0], None, None)


def test_non_tensor_outputs_get_none_as_in_torch():
    torch = pytest.importorskip("torch")
    for lib in (tkr, torch):
        _, MulAdd, _, _ = define(lib)
        prod, none, total, tag = MulAdd.apply(x64(lib, [1.0]), 2.0, x64(lib, [3.0]))
        assert (none, tag) == (None, "tag")
        prod.sum().backward()
        assert prod.grad_fn.name() == "MulAddBackward"


def test_non_differentiable_outputs_match_torch():
    def program(lib, x, w):
        _, _, Sort, MaxWithArgmax = define(lib)
        values, idx = Sort.apply(x * w)
        assert not idx.requires_grad and idx.grad_fn is None
        top, where = MaxWithArgmax.apply(x + w)
        assert not where.requires_grad and where.grad_fn is None
        return (values * lib.arange(3, dtype=lib.float64)).sum() + top * where
    _same_as_torch(program)
    torch = pytest.importorskip("torch")
    for lib in (tkr, torch):
        _, _, _, MaxWithArgmax = define(lib)
        top, where = MaxWithArgmax.apply(x64(lib, [1.0, 3.0, 2.0]))
        top.backward()
        assert top.grad_fn is not None and where.tolist() == 1.0


def test_double_backward_matches_torch():
    torch = pytest.importorskip("torch")
    results = []
    for lib in (tkr, torch):
        SinCos, MulAdd, _, _ = define(lib)
        x, w = x64(lib, [0.3, 1.2]), x64(lib, [0.5, -2.0])
        s, c = SinCos.apply(x)
        prod, _, total, _ = MulAdd.apply(s, 2.0, w)
        g_x, g_w = lib.autograd.grad((s * s + 3 * c).sum() + (prod * total).sum(), (x, w),
                                     create_graph=True)
        hx, hw = lib.autograd.grad((g_x * g_w).sum() + g_x.pow(2).sum(), (x, w))
        results.append([t.detach().numpy() for t in (g_x, g_w, hx, hw)])
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)


def test_once_differentiable_with_several_outputs_as_in_torch():
    torch = pytest.importorskip("torch")
    for lib in (tkr, torch):
        _, _, Sort, _ = define(lib)
        x, w = x64(lib, [3.0, 1.0, 2.0]), x64(lib, [1.0, 10.0, 100.0])
        values, idx = Sort.apply(x)
        g, = lib.autograd.grad((values * w).sum(), x, create_graph=True)
        assert g.tolist() == [100.0, 1.0, 10.0] and g.requires_grad
        with pytest.raises(RuntimeError, match="differentiate twice a function that was "
                                               "marked with @once_differentiable"):
            g.sum().backward()


def _returns_input_and_view(lib):
    class Id(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 1

    class Views(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x, x[0], x * 2

        @staticmethod
        def backward(ctx, g_x, g_row, g_double):
            g = g_x + 2 * g_double
            g[0] += g_row
            return g

    return Id, Views


def test_returning_an_input_or_a_view_of_it_as_in_torch():
    torch = pytest.importorskip("torch")
    grads = []
    for lib in (tkr, torch):
        Id, Views = _returns_input_and_view(lib)
        x = x64(lib, [[1.0, 2.0], [3.0, 4.0]])
        h = x * 1
        same = Id.apply(h)
        whole, row, double = Views.apply(h)
        for out in (same, whole, row):
            assert out is not h and out.grad_fn is not None
            assert out.data_ptr() == h.data_ptr()       # shares h's memory, as a view
        assert double.data_ptr() != h.data_ptr()
        (same.sum() + whole.sum() + 3 * row.sum() + double.sum()).backward()
        grads.append(x.grad.tolist())
        # changing such an output in place would bypass the Function's backward
        name = "(Id|Views)" if lib is tkr else view_output_name("(Id|Views)", torch)
        for out in (same, whole, row):
            with pytest.raises(RuntimeError, match=rf"Output \d of {name} is a view and is "
                                                   r"being modified inplace"):
                out.mul_(2)
        double.mul_(2)              # a new tensor: fine
        with lib.no_grad():
            row.mul_(1)             # not recorded: fine
    assert grads[0] == grads[1]


def _dirty(lib):
    class Double(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            x.mul_(2)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, g):
            return 2 * g

    class DoubleAndNext(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, step):
            x.mul_(2)
            ctx.mark_dirty(x)
            ctx.save_for_backward(x)
            return x, x + step

        @staticmethod
        def backward(ctx, g_x, g_next):
            x, = ctx.saved_tensors
            return 2 * (g_x + g_next) * x, (g_next * x).sum()

    class Forgets(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            x.mul_(2)
            ctx.mark_dirty(x)
            return x * 1

        @staticmethod
        def backward(ctx, g):
            return 2 * g

    return Double, DoubleAndNext, Forgets


def test_mark_dirty_as_in_torch():
    torch = pytest.importorskip("torch")
    results = []
    for lib in (tkr, torch):
        Double, DoubleAndNext, Forgets = _dirty(lib)
        x, step = x64(lib, [1.0, -2.0]), x64(lib, 0.5)
        h = x * 1
        version = h._version
        y = Double.apply(h)
        assert y is h and h._version > version and h.grad_fn.name() == "DoubleBackward"
        a, b = DoubleAndNext.apply(h, step)
        assert a is h and a.grad_fn.name() == "DoubleAndNextBackward"
        g_x, g_step = lib.autograd.grad((a * b).sum(), (x, step), create_graph=True)
        hx, = lib.autograd.grad(g_x.sum() + g_step, x)
        results.append([t.tolist() for t in (h, b, g_x, g_step, hx)])
        plain = lib.zeros(2, dtype=lib.float64)
        with lib.no_grad():
            assert Double.apply(plain) is plain
        with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
            Double.apply(x64(lib, [1.0]))
        with pytest.raises(RuntimeError, match="Some elements marked as dirty during the forward "
                                               "method were not returned as output"):
            Forgets.apply(x * 1)
    assert results[0] == results[1]


def test_setup_context_style_and_keyword_arguments_as_in_torch():
    torch = pytest.importorskip("torch")
    results = []
    for lib in (tkr, torch):
        class Scale(lib.autograd.Function):
            @staticmethod
            def forward(x, factor=2.0, shift=0.0):
                return x * factor + shift, x.argmax()

            @staticmethod
            def setup_context(ctx, inputs, output):
                x, factor, shift = inputs
                ctx.factor = factor
                ctx.mark_non_differentiable(output[1])
                ctx.seen = ctx.needs_input_grad

            @staticmethod
            def backward(ctx, g, g_idx):
                return g * ctx.factor, None, None

        class Weighted(lib.autograd.Function):
            @staticmethod
            def forward(ctx, a, b=None):
                ctx.save_for_backward(a, b)
                return a * b

            @staticmethod
            def backward(ctx, g):
                a, b = ctx.saved_tensors
                return g * b, g * a

        x, w = x64(lib, [1.0, 3.0]), x64(lib, [2.0, 5.0])
        y, idx = Scale.apply(x)
        if lib is tkr or function_apply_takes_keywords(torch):
            z, _ = Scale.apply(x, factor=3.0, shift=1.0)
            weighted = Weighted.apply(x, b=w)
        else:   # PyTorch 2.11's apply takes no keywords: the same call, positionally
            z, _ = Scale.apply(x, 3.0, 1.0)
            weighted = Weighted.apply(x, w)
        assert y.grad_fn.seen == (True, False, False)
        (y.sum() + z.sum() + weighted.sum()).backward()
        results.append([t.tolist() for t in (y, idx, z, x.grad, w.grad)])
    assert results[0] == results[1]


def test_backward_errors_as_in_torch():
    torch = pytest.importorskip("torch")
    for lib in (tkr, torch):
        def fn(backward, n_inputs=1):
            class F(lib.autograd.Function):
                @staticmethod
                def forward(ctx, *xs):
                    return xs[0] * 2, xs[-1] * 3
            F.backward = staticmethod(backward)
            return lambda: sum(o.sum() for o in F.apply(*[x64(lib, [1.0, 2.0])] * n_inputs))

        fine = fn(lambda ctx, g1, g2: (2 * g1 + 3 * g2, None, None))   # extra Nones: allowed
        fine().backward()
        cases = [
            (fn(lambda ctx, g1, g2: g1, n_inputs=2),
             r"returned an incorrect number of gradients \(expected 2, got 1\)"),
            (fn(lambda ctx, g1, g2: (g1, g2)),
             r"returned an incorrect number of gradients \(expected 1, got 2\)"),
            (fn(lambda ctx, g1, g2: lib.ones(3, dtype=lib.float64)),
             r"returned an invalid gradient at index 0 - got \[3\] but expected shape "
             r"compatible with \[2\]"),
            (fn(lambda ctx, g1, g2: 3.0), r"expected Variable or None \(got float\)"),
            (fn(lambda ctx, g1, g2: [g1]), r"expected Variable or None \(got list\)"),
        ]
        for loss, message in cases:
            with pytest.raises(RuntimeError, match=message):
                loss().backward()

        class Broadcast(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                return x * 2, x

            @staticmethod
            def backward(ctx, g1, g2):
                return lib.ones(4, 2, dtype=lib.float64)     # summed down, as PyTorch
        x = x64(lib, [1.0, 2.0])
        Broadcast.apply(x)[0].sum().backward()
        assert x.grad.tolist() == [4.0, 4.0]


def test_mark_dirty_on_a_view_raises_as_other_recorded_in_place_changes_of_views():
    Double, _, _ = _dirty(tkr)
    x = x64(tkr, [1.0, 2.0])
    with pytest.raises(RuntimeError, match="applied to a view of another tensor"):
        Double.apply((x * 1)[:1])       # PyTorch rebases the view's base; not tracked here


def test_mark_errors():
    class MarksANumber(tkr.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.mark_non_differentiable(x * 2, 3)
            return x

    class DirtiesANumber(tkr.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.mark_dirty(3)
            return x

    x = x64(tkr, [1.0])
    with pytest.raises(RuntimeError, match="mark_non_differentiable only accepts variable "
                                           "arguments, but argument 1 is of type int"):
        MarksANumber.apply(x)
    with pytest.raises(RuntimeError, match="mark_dirty can only accept variables, but argument "
                                           "0 is of type int"):
        DirtiesANumber.apply(x)


def test_the_same_tensor_returned_twice_as_in_torch():
    torch = pytest.importorskip("torch")
    results = []
    for lib in (tkr, torch):
        seen = []

        class Twice(lib.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                y = x * 2
                return y, y

            @staticmethod
            def backward(ctx, g1, g2):
                seen.append((g1.tolist(), g2.tolist()))
                return 2 * (g1 + g2)

        x = x64(lib, [1.0, 2.0])
        a, b = Twice.apply(x)
        assert a is b           # PyTorch hands out one tensor, linked to the last place
        (a + 10 * b).sum().backward()
        results.append((seen, x.grad.tolist()))
    assert results[0] == results[1]


def test_a_tensor_marked_dirty_that_is_not_an_input_is_an_ordinary_output():
    class MarksItsOwn(tkr.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            y = x * 2
            y.add_(1)
            ctx.mark_dirty(y)       # PyTorch only warns: y is not an input
            return y, x * 3

        @staticmethod
        def backward(ctx, g_y, g_z):
            return 2 * g_y + 3 * g_z

    x = x64(tkr, [1.0, 2.0])
    y, z = MarksItsOwn.apply(x)
    assert y.tolist() == [3.0, 5.0]
    (y + z).sum().backward()
    assert x.grad.tolist() == [5.0, 5.0]
