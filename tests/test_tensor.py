"""The Tensor API: construction, dtypes, conversion, repr, factories, errors."""
import numpy as np
import pytest

import tinygrad_kr as tkr


def test_dtype_inference_like_pytorch():
    assert tkr.tensor([1.0, 2.0]).dtype == tkr.float32
    assert tkr.tensor([1, 2]).dtype == tkr.int64
    assert tkr.tensor([True, False]).dtype == tkr.bool
    assert tkr.tensor(np.zeros(2)).dtype == tkr.float64  # arrays keep their dtype
    assert tkr.tensor([1, 2], dtype=tkr.float64).dtype == tkr.float64
    assert tkr.zeros(2).dtype == tkr.float32 and tkr.arange(3).dtype == tkr.int64
    assert tkr.arange(0, 1, 0.25).dtype == tkr.float32
    assert (tkr.tensor([1, 2]) * 1.5).dtype == tkr.float32  # int * float -> default float
    assert (tkr.tensor([1, 2]) / 2).dtype == tkr.float32
    assert (tkr.ones(2) + tkr.ones(2, dtype=tkr.float64)).dtype == tkr.float64
    assert (tkr.ones(2) + tkr.tensor([1, 2])).dtype == tkr.float32
    assert (tkr.ones(2) > 0).dtype == tkr.bool
    assert tkr.tensor([True, True]).sum().dtype == tkr.int64


def test_unsupported_dtypes_raise():
    with pytest.raises(TypeError, match="str"):
        tkr.tensor(["a", "b"])
    with pytest.raises(TypeError, match="complex"):
        tkr.tensor(np.array([1j]))
    with pytest.raises(RuntimeError, match="floating point"):
        tkr.tensor([1, 2], requires_grad=True)


def test_conversions():
    t = tkr.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert t.shape == (2, 2) and t.size() == (2, 2) and t.size(1) == 2
    assert t.ndim == 2 and t.dim() == 2 and t.numel() == 4 and len(t) == 2
    assert t.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert isinstance(t.numpy(), np.ndarray)
    assert float(t[1, 1]) == 4.0 and int(t[0, 1]) == 2 and t.sum().item() == 10.0
    np.testing.assert_array_equal(t.T.numpy(), t.numpy().T)
    assert t.double().dtype == tkr.float64 and t.long().dtype == tkr.int64
    assert t.to(tkr.float64).dtype == tkr.float64 and t.to("cpu") is t
    assert np.asarray(t).shape == (2, 2)
    with pytest.raises(RuntimeError, match="cannot be converted to Scalar"):
        t.item()
    with pytest.raises(RuntimeError, match="requires grad"):
        tkr.ones(2, requires_grad=True).numpy()
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(tkr.ones(2))


def test_repr():
    assert repr(tkr.tensor([1.0, 2.5])) == "tensor([1.0000, 2.5000])"   # more: test_tensor_repr.py
    assert "requires_grad=True" in repr(tkr.ones(1, requires_grad=True))
    assert "grad_fn=<MulBackward0>" in repr(tkr.ones(1, requires_grad=True) * 2)
    assert "dtype=tinygrad_kr.float64" in repr(tkr.ones(1, dtype=tkr.float64))


def test_size_slices_and_sums_stay_sizes():
    s = tkr.randn(4, 1, 28, 28).shape
    for derived in (s[1:], s[::2], s + (3,), (0,) + s, s * 2, 2 * s):
        assert type(derived) is tkr.Size
    assert s[1:] == (1, 28, 28) and s[0] == 4 and type(s[0]) is int
    assert repr(s[1:]) == "tinygrad_kr.Size([1, 28, 28])" and s[1:].numel() == 784
    assert hash(s) == hash((4, 1, 28, 28))
    with pytest.raises(TypeError):
        s + [1]


def test_reflected_arithmetic():
    t = tkr.tensor([1.0, 2.0])
    np.testing.assert_allclose((2 - t).array, [1, 0])
    np.testing.assert_allclose((2 / t).array, [2, 1])
    np.testing.assert_allclose((2 ** t).array, [2, 4])
    np.testing.assert_allclose((np.array([1.0, 1.0]) * t).array, [1, 2])
    np.testing.assert_allclose((t // 2).array, [0, 1])


def test_factories_and_seed():
    tkr.manual_seed(3)
    a = tkr.randn(3, 4)
    tkr.manual_seed(3)
    assert np.array_equal(a.array, tkr.randn(3, 4).array)
    assert tkr.zeros(2, 3).sum().item() == 0 and tkr.ones((2, 3)).sum().item() == 6
    assert tkr.full((2,), 7).dtype == tkr.int64 and tkr.full((2,), 7.0).dtype == tkr.float32
    assert tkr.eye(3).trace() if hasattr(tkr.Tensor, "trace") else tkr.eye(3).sum().item() == 3
    np.testing.assert_allclose(tkr.linspace(0, 1, 5).array, np.linspace(0, 1, 5), rtol=1e-6)
    r = tkr.randint(0, 10, (1000,))
    assert r.dtype == tkr.int64 and 0 <= r.min().item() and r.max().item() < 10
    u = tkr.rand(1000)
    assert 0 <= u.min().item() and u.max().item() < 1
    assert tkr.zeros_like(a).shape == a.shape and tkr.ones_like(a).dtype == a.dtype
    assert tkr.empty(2, 0).shape == (2, 0)
    x = np.arange(3.0)
    shared = tkr.from_numpy(x)
    x[0] = 9
    assert shared[0].item() == 9  # from_numpy shares memory
    copied = tkr.tensor(x)
    x[0] = 1
    assert copied[0].item() == 9  # tensor() copies


def test_shape_errors_name_the_shapes():
    with pytest.raises(RuntimeError, match="3x4 and 5x2"):
        tkr.ones(3, 4) @ tkr.ones(5, 2)
    with pytest.raises(RuntimeError, match=r"size of tensor a \(3\) must match the size of "
                                            r"tensor b \(4\) at non-singleton dimension 0"):
        tkr.ones(3) + tkr.ones(4)
    with pytest.raises(RuntimeError, match=r"shape '\[5, -1\]' is invalid for input of size 12"):
        tkr.ones(3, 4).view(5, -1)
    with pytest.raises(RuntimeError, match="expanded size"):
        tkr.ones(3).expand(2, 4)
    with pytest.raises(IndexError, match="Dimension out of range"):
        tkr.ones(3).sum(2)
    with pytest.raises(RuntimeError, match="Sizes of tensors must match"):
        tkr.cat([tkr.ones(2, 3), tkr.ones(2, 4)], 0)
    with pytest.raises(IndexError):
        tkr.ones(3)[5]


def test_torch_style_module_functions():
    x = tkr.tensor([[1.0, -2.0], [3.0, 0.5]])
    assert tkr.max(x).item() == 3.0
    v, i = tkr.max(x, dim=1)
    assert v.tolist() == [1.0, 3.0] and i.tolist() == [0, 0]
    assert tkr.max(x, 1).indices.tolist() == [0, 0]
    assert tkr.maximum(x, tkr.zeros(2, 2)).min().item() == 0
    assert (x.argmax(dim=1) == tkr.tensor([0, 0])).all().item()
    assert tkr.where(x > 0, x, tkr.zeros(2, 2)).sum().item() == 4.5
    assert tkr.stack([x, x]).shape == (2, 2, 2) and tkr.cat([x, x], 1).shape == (2, 4)
    assert [c.shape for c in x.split(1, 0)] == [(1, 2), (1, 2)]
    assert x.var().item() == pytest.approx(np.var(x.array, ddof=1), rel=1e-6)
    assert x.std(unbiased=False).item() == pytest.approx(np.std(x.array), rel=1e-6)
    assert (x.softmax(1).sum(1) - 1).abs().max().item() < 1e-6


def test_pickle_and_deepcopy_follow_pytorch():
    import copy
    import pickle
    x = tkr.tensor([1.0, 2.0], requires_grad=True)
    x.grad = tkr.tensor([0.5, 0.5])
    y = pickle.loads(pickle.dumps(x))
    assert y.requires_grad and y.is_leaf and y.grad is None        # PyTorch keeps no .grad
    np.testing.assert_array_equal(y.array, x.array)
    z = copy.deepcopy(x)                                            # deepcopy keeps it
    assert z.grad is not x.grad and z.grad.tolist() == [0.5, 0.5]
    assert z.array is not x.array and z.requires_grad
    h = pickle.loads(pickle.dumps(x * 2))                           # a non-leaf: becomes a leaf
    assert h.is_leaf and h.requires_grad and h.tolist() == [2.0, 4.0]
    with pytest.raises(RuntimeError, match="graph leaves"):
        copy.deepcopy(x * 2)
    # a module: shared parameters stay shared, Parameters drop .grad, types survive
    lin = tkr.nn.Linear(2, 2)
    model = tkr.nn.Sequential(lin, tkr.nn.ReLU(), lin)
    lin.weight.grad = tkr.ones(2, 2)
    for clone in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        assert clone[0].weight is clone[2].weight and clone[0].weight is not lin.weight
        assert type(clone[0].weight) is tkr.nn.Parameter and clone[0].weight.grad is None
        np.testing.assert_array_equal(clone[0].weight.array, lin.weight.array)
        clone(tkr.ones(1, 2)).sum().backward()
        assert clone[0].weight.grad is not None and lin.weight.grad.tolist() == [[1, 1], [1, 1]]


# -- .data: PyTorch's view outside the graph; .array: the array itself --------------

def test_data_is_a_tensor_sharing_the_array_outside_the_graph():
    w = tkr.nn.Parameter(tkr.ones(3, 2))
    d = w.data
    assert type(d) is tkr.Tensor and not d.requires_grad and d.is_leaf and d.grad_fn is None
    assert d.array is w.array and isinstance(w.array, np.ndarray)
    y = (w * 2).sum()
    assert y.data.shape == () and not y.data.requires_grad and y.requires_grad


def test_inplace_changes_through_data_reach_the_tensor():
    # the idioms of PyTorch course code: in-place init and a hand-written SGD step
    tkr.manual_seed(0)
    lin = tkr.nn.Linear(4, 3)
    lin.weight.data.normal_(0, 0.01)
    lin.bias.data.zero_()
    assert float(lin.bias.abs().sum()) == 0 and float(lin.weight.std()) < 0.05
    lin.bias.data.fill_(0.5)
    lin.weight.data.copy_(tkr.ones(3, 4))
    np.testing.assert_array_equal(lin.bias.data.numpy(), [0.5] * 3)
    lin(tkr.ones(2, 4)).sum().backward()
    before = lin.weight.data.numpy().copy()
    lin.weight.data -= 0.1 * lin.weight.grad
    lin.bias.data.sub_(0.1 * lin.bias.grad.data)
    np.testing.assert_allclose(lin.weight.data.numpy(), before - 0.1 * lin.weight.grad.numpy())
    np.testing.assert_allclose(lin.bias.data.numpy(), 0.5 - 0.1 * 2.0)
    assert lin.weight.requires_grad and lin.weight.is_leaf


def test_data_setter_takes_a_tensor():
    p = tkr.nn.Parameter(tkr.zeros(2))
    new = tkr.arange(6, dtype=tkr.float32).reshape(2, 3)
    p.data = new
    assert p.shape == (2, 3) and p.array is new.array and p.requires_grad
    with pytest.raises(TypeError, match="Tensor.data must be set to a Tensor, got ndarray"):
        p.data = np.zeros(2)


def test_max_of_outputs_data_as_in_course_code():
    outputs = tkr.tensor([[0.1, 0.9], [0.8, 0.2]], requires_grad=True) * 1
    _, predicted = tkr.max(outputs.data, 1)
    assert predicted.tolist() == [1, 0]
    assert (predicted == tkr.tensor([1, 1])).sum().item() == 1


def test_tensor_constructor_makes_float_tensors_as_pytorch():
    # torch.Tensor([0]) (the generating-names tutorial's loss accumulator) is float
    assert tkr.Tensor([0]).dtype == tkr.float32
    assert tkr.Tensor([[1, 2], [3, 4]]).dtype == tkr.float32
    assert tkr.Tensor((True,)).dtype == tkr.float32
    assert tkr.Tensor([1], dtype=tkr.int64).dtype == tkr.int64
    loss = tkr.Tensor([0])
    loss += tkr.tensor(2.5, requires_grad=True) * 2
    assert loss.tolist() == [5.0] and loss.grad_fn is not None
