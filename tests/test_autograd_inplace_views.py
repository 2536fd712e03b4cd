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
