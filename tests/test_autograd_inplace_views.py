"""In-place changes and views: a view shares its base's memory, so a change
through one is a change of the other for the saved-value check (PyTorch's
shared version counter); an in-place change autograd would have to record on
a view raises, since views are not tracked here (never a silent wrong gradient)."""
import numpy as np
import pytest

import tinygrad_kr as tkr

MODIFIED = "modified by an inplace operation"


def test_changing_the_base_after_a_node_saved_a_view_is_caught():
    y = tkr.ones(2, 2)
    v = y[0]
    w = tkr.tensor([1.0, 2.0], requires_grad=True)
    z = v * w                       # saves v for w's gradient
    y.add_(1)
    with pytest.raises(RuntimeError, match=MODIFIED):
        z.sum().backward()


def test_changing_a_view_after_a_node_saved_the_base_is_caught():
    y = tkr.ones(2, 2)
    w = tkr.ones(2, 2, requires_grad=True)
    z = y * w
    y[0].add_(1)                    # no gradient involved: allowed, but z's y changed
    with pytest.raises(RuntimeError, match=MODIFIED):
        z.sum().backward()
    y.t().mul_(2)                   # and through a transpose
    z = (y.reshape(4) * w.reshape(4)).sum()
    y.reshape(4)[1:].zero_()
    with pytest.raises(RuntimeError, match=MODIFIED):
        z.backward()


def test_changes_to_unrelated_memory_or_after_backward_pass():
    y, other = tkr.ones(2, 2), tkr.ones(2, 2)
    w = tkr.ones(2, 2, requires_grad=True)
    z = y * w
    other[0].add_(1)
    z.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), np.ones((2, 2)))
    y[0].add_(1)                    # after backward: nothing left to check
    z = y * w
    z.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [[3, 3], [2, 2]])


@pytest.mark.parametrize("make_view", [
    lambda y: y[0], lambda y: y.t(), lambda y: y.reshape(4), lambda y: y[:, :1],
    lambda y: y.unsqueeze(0), lambda y: y.view(1, 4)])
def test_recorded_inplace_on_a_view_raises(make_view):
    x = tkr.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = x * 1
    with pytest.raises(RuntimeError, match="applied to a view of another tensor"):
        make_view(y).mul_(5)
    buffer = tkr.zeros(2, 2)
    with pytest.raises(RuntimeError, match="applied to a view of another tensor"):
        make_view(buffer).copy_(make_view(y))


def test_writing_through_the_base_is_recorded():
    # what the error message suggests instead: base[index] = value
    x = tkr.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = x * 1
    y[0] = y[0] * 5
    (y * y).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[50, 100], [6, 8]])
    w = tkr.tensor([1.0, 3.0], requires_grad=True)
    out = tkr.zeros(2, 2)
    out[0] = w * 2
    out[1] = w * w
    out.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), [4, 8])


def test_inplace_on_a_copy_made_by_advanced_indexing_is_recorded():
    x = tkr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x[[0, 2]]                   # a copy, not a view
    y.mul_(3)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3, 0, 3])


def test_matches_torch_where_both_define_it():
    torch = pytest.importorskip("torch")

    def run(lib):
        x = lib.tensor([[1.0, -2.0], [3.0, 4.0]], requires_grad=True)
        y = x * 2
        y += x                      # ResNet's out += identity
        y[1] = y[1] * 3
        lib.relu(y).sum().backward()
        return x.grad.numpy()

    np.testing.assert_allclose(run(tkr), run(torch))

    def saved_views_then_written(lib):   # the product saved both rows of y
        y = lib.tensor([[1.0, -2.0], [3.0, 4.0]], requires_grad=True) * 2
        y[1] = y[1] * y[0]
        y.sum().backward()

    for lib in (tkr, torch):
        with pytest.raises(RuntimeError, match=MODIFIED):
            saved_views_then_written(lib)


def test_inplace_shape_ops_as_pytorch():
    # the generating-names tutorial's target_line_tensor.unsqueeze_(-1)
    def run(lib):
        z = lib.zeros(2, 3)
        d = z.data
        z.unsqueeze_(1)
        shapes = [tuple(z.shape), tuple(d.shape)]
        for op in (lambda t: t.squeeze_(), lambda t: t.t_(), lambda t: t.transpose_(0, 1),
                   lambda t: t.unsqueeze_(-1), lambda t: t.squeeze_(2)):
            assert op(z) is z
            shapes.append(tuple(z.shape))
        x = lib.tensor([1.0, 2.0, 3.0], requires_grad=True)
        with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
            x.unsqueeze_(0)
        with lib.no_grad():
            lib.zeros(3, requires_grad=True).unsqueeze_(0)
        y = x * lib.tensor([1.0, 2.0, 3.0])
        y.unsqueeze_(0)
        (y * lib.tensor([[1.0], [2.0]])).sum().backward()
        shapes.append(tuple(y.shape))
        return shapes, x.grad.numpy()

    shapes, grad = run(tkr)
    assert shapes == [(2, 1, 3), (2, 3), (2, 3), (3, 2), (2, 3), (2, 3, 1), (2, 3), (1, 3)]
    np.testing.assert_allclose(grad, [3.0, 6.0, 9.0])
    try:
        import torch
    except ImportError:
        return
    theirs = run(torch)
    assert shapes == theirs[0]
    np.testing.assert_allclose(grad, theirs[1])


def test_inplace_shape_op_counts_as_a_change_of_a_saved_value():
    def run(lib):
        a = lib.tensor([1.0, 2.0], requires_grad=True) * 1
        b = a * a                     # saves a
        a.unsqueeze_(0)
        b.sum().backward()

    with pytest.raises(RuntimeError, match=MODIFIED):
        run(tkr)


# -- found in review: each was a silent difference from PyTorch ---------------------

def test_changes_through_data_are_unseen_by_autograd():
    w = tkr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = (w * w).sum()
    w.data.mul_(2)                  # PyTorch: not version-counted, backward uses new values
    y.backward()
    assert w.grad.tolist() == [4.0, 8.0, 12.0]
    d = w.detach()                  # detach() shares the version, as PyTorch's
    y = (w * w).sum()
    d.add_(1)
    with pytest.raises(RuntimeError, match=MODIFIED):
        y.backward()


def test_retained_gradients_do_not_share_an_array():
    a, b = tkr.tensor([1.0, 2.0], requires_grad=True), tkr.tensor([3.0, 4.0], requires_grad=True)
    x, y = a * 2, b * 2
    x.retain_grad()
    y.retain_grad()
    (x + y).sum().backward()        # Add hands the same gradient to both
    x.grad.zero_()
    assert y.grad.tolist() == [1.0, 1.0]


def test_retain_grad_survives_release_in_both_cores():
    w = tkr.tensor([1.0, 2.0], requires_grad=True)
    y = w * w
    y.retain_grad()
    y.sum().backward()
    assert y.retains_grad and y.grad.tolist() == [1.0, 1.0]


def test_autograd_grad_runs_hooks_of_the_requested_leaves_only():
    a, b = tkr.tensor([1.0, 2.0], requires_grad=True), tkr.tensor([3.0, 4.0], requires_grad=True)
    fired = []
    b.register_hook(lambda g: fired.append("b"))
    a.register_hook(lambda g: fired.append("a"))
    tkr.autograd.grad((a * b).sum(), [a])
    assert fired == ["a"]


def test_setitem_keeps_no_mask_and_gives_pytorchs_gradients():
    w = tkr.tensor([1.0, 2.0], requires_grad=True)
    out = tkr.zeros(3, 2)
    out[0] = w * 2
    out[2] = w * w
    node = out.grad_fn
    assert not any(isinstance(v, np.ndarray) and v.shape == (3, 2) for v in vars(node).values())
    (out * tkr.tensor([[1.0], [2.0], [3.0]])).sum().backward()
    assert w.grad.tolist() == [8.0, 14.0]


def test_contiguous_copies_a_strided_view():
    x = tkr.ones(2, 3)
    y = x.t().contiguous()
    y.add_(1)                        # must not reach x (PyTorch copies)
    assert x.tolist() == [[1.0] * 3] * 2 and y.is_contiguous() and not x.t().is_contiguous()
    assert x.contiguous() is x


def test_legacy_constructors_read_a_tuple_as_data_and_a_size_as_a_shape():
    assert tkr.FloatTensor((2, 3)).tolist() == [2.0, 3.0]
    assert tkr.FloatTensor(tkr.ones(2, 3).size()).shape == (2, 3)


def test_a_subclass_of_a_ctx_function_runs_its_own_backward():
    class A(tkr.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    class B(A):
        @staticmethod
        def backward(ctx, g):
            return g * 100

    x = tkr.tensor([1.0], requires_grad=True)
    B.apply(x).sum().backward()
    assert x.grad.tolist() == [100.0]
    A.apply(x).sum().backward()
    assert x.grad.tolist() == [102.0]


def test_owner_stamps_stay_cheap_with_many_live_arrays():
    from tinygrad_kr.autograd import function
    keep = [tkr.zeros(2) for _ in range(9000)]
    for t in keep:
        t.add_(1)                   # each a new owner: pruning must be amortised
    assert len(function._owner_stamps) >= 9000 and function._prune_at >= 9000
