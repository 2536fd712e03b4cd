"""linear, conv2d, max/avg/adaptive pooling as differentiable ops
(nn/_ops_dense.py): float64 gradchecks, and values and gradients against
torch.nn.functional in float32 and float64."""

import numpy as np
import pytest

import tinygrad_kr as tkr
import tinygrad_kr.nn.functional as F
from tinygrad_kr.autograd import gradcheck, gradgradcheck
from cases import (check_against_torch as _check_against_torch, distinct as _distinct,
                   leaf as _leaf, rng_for as _rng, torch_one_thread as _torch)


# ======================================================================= linear

LINEAR_SHAPES = [((5, 4), 3), ((2, 3, 4), 2), ((4,), 3), ((0, 4), 2), ((1, 1), 1)]


@pytest.mark.parametrize("x_shape,out", LINEAR_SHAPES)
@pytest.mark.parametrize("with_bias", [True, False])
def test_linear_gradcheck(x_shape, out, with_bias):
    rng = _rng(x_shape, out, with_bias)
    x = _leaf(rng.standard_normal(x_shape))
    w = _leaf(rng.standard_normal((out, x_shape[-1])))
    b = _leaf(rng.standard_normal(out)) if with_bias else None
    inputs = (x, w, b) if with_bias else (x, w)
    assert gradcheck(lambda *a: F.linear(*a), inputs)


@pytest.mark.parametrize("x_shape", [(3, 4), (2, 3, 4)])     # flat, and through the reshapes
def test_linear_is_twice_differentiable(x_shape):
    rng = _rng("gradgrad", x_shape)
    x, w, b = (_leaf(rng.standard_normal(s)) for s in (x_shape, (2, 4), (2,)))
    assert gradgradcheck(lambda x, w, b: F.linear(x, w, b) ** 2, (x, w, b))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("x_shape,out", LINEAR_SHAPES)
def test_linear_matches_torch(x_shape, out, dtype):
    torch = _torch()
    rng = _rng("torch", x_shape, out)
    arrays = [rng.standard_normal(x_shape), rng.standard_normal((out, x_shape[-1])),
              rng.standard_normal(out)]
    _check_against_torch(F.linear, torch.nn.functional.linear, arrays, dtype, x_shape[-1] + 1)


def test_linear_broadcast_bias_matches_torch():
    torch = _torch()
    rng = _rng("bias1")
    arrays = [rng.standard_normal((3, 4)), rng.standard_normal((2, 4)), rng.standard_normal(1)]
    _check_against_torch(F.linear, torch.nn.functional.linear, arrays, np.float64, 5)


def test_linear_rejects_bad_input():
    x = tkr.ones(5, 3)
    with pytest.raises(RuntimeError, match=r"shapes cannot be multiplied \(5x3 and 2x4\)"):
        F.linear(x, tkr.ones(4, 2))
    with pytest.raises(RuntimeError, match="same dtype, but got: float != double"):
        F.linear(x, tkr.ones(4, 3, dtype=tkr.float64))
    with pytest.raises(RuntimeError, match="does not broadcast"):
        F.linear(x, tkr.ones(4, 3), tkr.ones(3))


# ======================================================================= conv2d

# (x shape, weight shape, kwargs)
CONV_CASES = [
    ((2, 2, 5, 6), (3, 2, 3, 3), dict()),
    ((1, 2, 6, 5), (2, 2, 2, 3), dict(stride=2, padding=1)),
    ((2, 1, 7, 6), (2, 1, 3, 2), dict(stride=(1, 2), padding=(2, 0), dilation=(2, 1))),
    ((1, 4, 5, 5), (4, 2, 3, 3), dict(groups=2, padding=1)),
    ((1, 2, 5, 4), (3, 2, 2, 2), dict(padding="same")),        # asymmetric: even kernel
    ((1, 2, 5, 4), (3, 2, 3, 2), dict(padding="same", dilation=(1, 2))),
    ((1, 2, 5, 4), (3, 2, 3, 3), dict(padding="valid")),
    ((2, 5, 5), (3, 2, 3, 3), dict(padding=1)),                 # unbatched (C, H, W)
]


@pytest.mark.parametrize("x_shape,w_shape,kwargs", CONV_CASES)
@pytest.mark.parametrize("with_bias", [True, False])
def test_conv2d_gradcheck(x_shape, w_shape, kwargs, with_bias):
    rng = _rng(x_shape, w_shape, tuple(kwargs.items()), with_bias)
    x = _leaf(rng.standard_normal(x_shape))
    w = _leaf(rng.standard_normal(w_shape))
    b = _leaf(rng.standard_normal(w_shape[0])) if with_bias else None
    inputs = (x, w, b) if with_bias else (x, w)
    assert gradcheck(lambda *a: F.conv2d(*a, **kwargs), inputs)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("x_shape,w_shape,kwargs", CONV_CASES)
def test_conv2d_matches_torch(x_shape, w_shape, kwargs, dtype):
    torch = _torch()
    rng = _rng("torch", x_shape, w_shape, tuple(kwargs.items()))
    arrays = [rng.standard_normal(x_shape), rng.standard_normal(w_shape),
              rng.standard_normal(w_shape[0])]
    terms = int(np.prod(w_shape[1:])) * 8
    _check_against_torch(F.conv2d, torch.nn.functional.conv2d, arrays, dtype, terms, **kwargs)


def test_conv2d_lenet_sizes_match_torch():
    """A batch through both LeNet-5 convolutions (several GEMM column blocks)."""
    torch = _torch()
    rng = _rng("lenet")
    for x_shape, w_shape in [((16, 1, 28, 28), (6, 1, 5, 5)), ((16, 6, 12, 12), (16, 6, 5, 5))]:
        arrays = [rng.standard_normal(x_shape), rng.standard_normal(w_shape) * 0.2,
                  rng.standard_normal(w_shape[0])]
        _check_against_torch(F.conv2d, torch.nn.functional.conv2d, arrays, np.float32,
                             int(np.prod(w_shape[1:])) * 16 * 64)


def test_conv2d_grad_of_input_only_and_weight_only():
    """needs_input_grad: a frozen weight or a constant input gets no gradient."""
    rng = _rng("needs")
    x_arr, w_arr = rng.standard_normal((2, 2, 5, 5)), rng.standard_normal((3, 2, 3, 3))
    x, w = _leaf(x_arr), tkr.tensor(w_arr)
    F.conv2d(x, w).sum().backward()
    assert x.grad is not None and w.grad is None
    x, w = tkr.tensor(x_arr), _leaf(w_arr)
    F.conv2d(x, w).sum().backward()
    assert x.grad is None and w.grad is not None


def test_conv2d_create_graph_records_the_gradient():
    """(second derivatives against PyTorch: test_double_backward_conv.py)"""
    rng = _rng("cg")
    x, w = _leaf(rng.standard_normal((1, 1, 4, 4))), _leaf(rng.standard_normal((1, 1, 2, 2)))
    (g,) = tkr.autograd.grad((F.conv2d(x, w) ** 2).sum(), [x], create_graph=True)
    assert g.requires_grad and g.grad_fn is not None


@pytest.mark.parametrize("call,message", [
    (lambda x: F.conv2d(x, tkr.ones(4, 2, 3, 3)), r"input\[2, 3, 8, 8\] to have 2 channels"),
    (lambda x: F.conv2d(x, tkr.ones(4, 3, 9, 9)), r"padded input size per channel: \(8 x 8\)"),
    (lambda x: F.conv2d(x, tkr.ones(4, 3, 3, 3), stride=0), "non-positive stride"),
    (lambda x: F.conv2d(x, tkr.ones(4, 3, 3, 3), padding=-1), "negative padding"),
    (lambda x: F.conv2d(x, tkr.ones(4, 3, 3, 3), padding="same", stride=2), "strided"),
    (lambda x: F.conv2d(x, tkr.ones(4, 3, 3, 3), padding="full"), "Invalid padding string"),
    (lambda x: F.conv2d(x, tkr.ones(4, 3, 3, 3, dtype=tkr.float64)),
     r"Input type \(float\) and weight type \(double\)"),
    (lambda x: F.conv2d(x, tkr.ones(4, 3, 3, 3), tkr.ones(5)), "bias to be 1-dimensional"),
    (lambda x: F.conv2d(x, tkr.ones(4, 1, 3, 3), groups=3), "divisible by 3"),
    (lambda x: F.conv2d(x[0, 0], tkr.ones(4, 3, 3, 3)), "Expected 3D"),
])
def test_conv2d_rejects_bad_input(call, message):
    with pytest.raises(RuntimeError, match=message):
        call(tkr.ones(2, 3, 8, 8))


# ====================================================================== pooling

MAX_CASES = [
    ((2, 2, 6, 5), dict(kernel_size=2)),
    ((1, 2, 7, 7), dict(kernel_size=3, stride=2, padding=1)),
    ((1, 1, 7, 6), dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 0), dilation=(2, 1))),
    ((1, 2, 5, 6), dict(kernel_size=2, stride=2, ceil_mode=True)),
    ((2, 5, 5), dict(kernel_size=2, stride=1)),                     # unbatched
]
AVG_CASES = [
    ((2, 2, 6, 5), dict(kernel_size=2)),
    ((1, 2, 7, 7), dict(kernel_size=3, stride=2, padding=1)),
    ((1, 2, 7, 7), dict(kernel_size=3, stride=2, padding=1, count_include_pad=False)),
    ((1, 1, 5, 6), dict(kernel_size=(2, 3), stride=2, ceil_mode=True, padding=1)),
    ((1, 1, 6, 6), dict(kernel_size=2, divisor_override=3)),
    ((2, 5, 5), dict(kernel_size=2, stride=1)),                     # unbatched
]


@pytest.mark.parametrize("x_shape,kwargs", MAX_CASES)
def test_max_pool2d_gradcheck(x_shape, kwargs):
    x = _leaf(_distinct(x_shape, _rng(x_shape, tuple(kwargs.items()))))
    assert gradcheck(lambda x: F.max_pool2d(x, **kwargs), (x,))


@pytest.mark.parametrize("x_shape,kwargs", AVG_CASES)
def test_avg_pool2d_gradcheck(x_shape, kwargs):
    x = _leaf(_rng(x_shape, tuple(kwargs.items())).standard_normal(x_shape))
    assert gradcheck(lambda x: F.avg_pool2d(x, **kwargs), (x,))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("x_shape,kwargs", MAX_CASES)
def test_max_pool2d_matches_torch(x_shape, kwargs, dtype):
    torch = _torch()
    x = _distinct(x_shape, _rng("torch", x_shape, tuple(kwargs.items())))
    _check_against_torch(F.max_pool2d, torch.nn.functional.max_pool2d, [x], dtype, **kwargs)
    y, idx = F.max_pool2d(tkr.tensor(x), return_indices=True, **kwargs)
    ty, tidx = torch.nn.functional.max_pool2d(torch.tensor(x), return_indices=True, **kwargs)
    assert idx.dtype == np.int64
    np.testing.assert_array_equal(idx.numpy(), tidx.numpy())
    np.testing.assert_array_equal(y.numpy(), ty.numpy())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("x_shape,kwargs", AVG_CASES)
def test_avg_pool2d_matches_torch(x_shape, kwargs, dtype):
    torch = _torch()
    x = _rng("torch", x_shape, tuple(kwargs.items())).standard_normal(x_shape)
    _check_against_torch(F.avg_pool2d, torch.nn.functional.avg_pool2d, [x], dtype, 9, **kwargs)


ADAPTIVE_CASES = [((2, 3, 8, 6), (4, 3)), ((1, 2, 7, 5), (3, 2)), ((1, 2, 7, 5), (3, None)),
                  ((1, 1, 5, 5), 1), ((2, 4, 4), (3, 5)), ((1, 1, 3, 3), (0, 2))]


@pytest.mark.parametrize("x_shape,size", ADAPTIVE_CASES)
def test_adaptive_avg_pool2d_gradcheck(x_shape, size):
    x = _leaf(_rng(x_shape, size).standard_normal(x_shape))
    assert gradcheck(lambda x: F.adaptive_avg_pool2d(x, size), (x,))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("x_shape,size", ADAPTIVE_CASES)
def test_adaptive_avg_pool2d_matches_torch(x_shape, size, dtype):
    torch = _torch()
    x = _rng("torch", x_shape, size).standard_normal(x_shape)
    if 0 in np.atleast_1d(size):
        y = F.adaptive_avg_pool2d(tkr.tensor(x.astype(dtype)), size)
        assert tuple(y.shape) == tuple(torch.nn.functional.adaptive_avg_pool2d(
            torch.tensor(x), size).shape)
        return
    _check_against_torch(F.adaptive_avg_pool2d, torch.nn.functional.adaptive_avg_pool2d, [x],
                         dtype, 9, output_size=size)


@pytest.mark.parametrize("call,error,message", [
    (lambda x: F.max_pool2d(x, 3, padding=2), ValueError, "pad should be at most half"),
    (lambda x: F.max_pool2d(x, 9), ValueError, "too small"),
    (lambda x: F.max_pool2d(x, (2, 2, 2)), RuntimeError, "kernel_size must either be"),
    (lambda x: F.avg_pool2d(x, 2, divisor_override=0), RuntimeError, "divisor must be not zero"),
    (lambda x: F.max_pool2d(x[0, 0], 2), RuntimeError, "3D"),
    (lambda x: F.avg_pool2d(x.long(), 2), RuntimeError, "float32 and float64"),
])
def test_pooling_rejects_bad_input(call, error, message):
    with pytest.raises(error, match=message):
        call(tkr.ones(1, 2, 8, 8))
