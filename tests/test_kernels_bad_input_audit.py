"""Bad input to the compiled kernels (csrc/*.pyx): each case either gives the
NumPy twin's answer or the twin's exception, never a crash or a wrong answer.

Cases that crashed the process before their fix run in a subprocess, so that
a regression fails the test instead of killing the run."""
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tinygrad_kr import kernels

from needs import unavailable

DTYPES = [np.float32, np.float64]


def _pair(name):
    """(compiled, twin) of kernel ``name``; skips when it was not compiled."""
    fn = kernels.compiled(name)
    if fn is None:
        unavailable(f"{name} is not compiled")
    return fn, kernels.reference(name)


def _swapped(a):
    """a with the same values in the other byte order (same type number)."""
    return a.astype(a.dtype.newbyteorder("S"))


def _raises_alike(compiled, twin, *args):
    """Both raise the same exception type with the same message."""
    errors = []
    for fn in (compiled, twin):
        with pytest.raises(Exception) as info:
            fn(*args)
        errors.append((info.type, str(info.value)))
    assert errors[0] == errors[1]
    return errors[0]


def _run_isolated(code):
    """Run ``code`` in a fresh interpreter; fail on a crash or an error."""
    prologue = "import numpy as np\nfrom tinygrad_kr import kernels\n"
    done = subprocess.run([sys.executable, "-c", prologue + textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"exit {done.returncode}:\n{done.stdout}\n{done.stderr}"


# -- byte order: the type number of '>f4' is float32's -------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_byte_swapped_conv_and_pool_inputs_are_read_as_values(dtype):
    # Before: read as garbage, and a '>f4' array taken for float64 (a read past its buffer).
    for name in ("conv2d_forward", "max_pool2d_forward"):
        _pair(name)
    _run_isolated(f"""
        dtype = np.{dtype.__name__}
        rng = np.random.default_rng(0)
        x = rng.standard_normal((2, 3, 7, 6)).astype(dtype)
        w = rng.standard_normal((4, 3, 3, 2)).astype(dtype)
        b = rng.standard_normal(4).astype(dtype)
        sw = lambda a: a.astype(a.dtype.newbyteorder("S"))
        geo = ((1, 2), (1, 0), (1, 1))
        c, r = kernels.compiled, kernels.reference
        y = r("conv2d_forward")(x, w, b, *geo)
        np.testing.assert_allclose(c("conv2d_forward")(sw(x), sw(w), sw(b), *geo), y, rtol=1e-5)
        gy = rng.standard_normal(y.shape).astype(dtype)
        np.testing.assert_allclose(c("conv2d_backward_input")(sw(gy), sw(w), x.shape, *geo),
                                   r("conv2d_backward_input")(gy, w, x.shape, *geo), rtol=1e-5)
        np.testing.assert_allclose(c("conv2d_backward_weight")(sw(gy), sw(x), w.shape, *geo),
                                   r("conv2d_backward_weight")(gy, x, w.shape, *geo),
                                   rtol=1e-4, atol=1e-5)
        ym, idx = r("max_pool2d_forward")(x, (3, 2), (2, 2), (1, 1), (1, 1), True)
        ymc, idxc = c("max_pool2d_forward")(sw(x), (3, 2), (2, 2), (1, 1), (1, 1), True)
        np.testing.assert_array_equal(ymc, ym)
        np.testing.assert_array_equal(idxc, idx)
        np.testing.assert_array_equal(c("max_pool2d_backward")(sw(ym), idx, x.shape),
                                      r("max_pool2d_backward")(ym, idx, x.shape))
        opts = ((3, 2), (2, 1), (1, 1), False, False, None)
        ya = r("avg_pool2d_forward")(x, *opts)
        np.testing.assert_allclose(c("avg_pool2d_forward")(sw(x), *opts), ya, rtol=1e-5,
                                   atol=1e-6)
        np.testing.assert_allclose(c("avg_pool2d_backward")(sw(ya), x.shape, *opts),
                                   r("avg_pool2d_backward")(ya, x.shape, *opts), rtol=1e-5,
                                   atol=1e-6)
    """)


@pytest.mark.parametrize("dtype", DTYPES)
def test_byte_swapped_elementwise_bias_and_norm_inputs(dtype):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 4, 3)).astype(dtype)
    gy = rng.standard_normal(x.shape).astype(dtype)
    for name, args, twin_args in [
            ("relu_forward", (_swapped(x),), (x,)),
            ("relu_backward", (_swapped(gy), _swapped(x)), (gy, x)),
            ("leaky_relu_forward", (_swapped(x), 0.1), (x, 0.1)),
            ("leaky_relu_backward", (_swapped(gy), _swapped(x), 0.1), (gy, x, 0.1)),
            ("bias_grad", (_swapped(gy),), (gy,)),
            ("dropout_backward", (_swapped(gy), np.arange(60, dtype=np.uint8) % 2, 0.3),
             (gy, np.arange(60, dtype=np.uint8) % 2, 0.3))]:
        compiled, twin = _pair(name)
        np.testing.assert_allclose(compiled(*args), twin(*twin_args), rtol=1e-5, atol=1e-6,
                                   err_msg=name)
    compiled, twin = _pair("dropout_forward")
    got = compiled(_swapped(x), 0.4, np.random.default_rng(5))
    want = twin(x, 0.4, np.random.default_rng(5))
    np.testing.assert_array_equal(got[1], want[1])
    np.testing.assert_allclose(got[0], want[0], rtol=1e-6)

    compiled, twin = _pair("batch_norm_backward")
    _, mean, invstd = kernels.reference("batch_norm_forward")(x, None, None, None, None, True,
                                                              0.1, 1e-5)
    for training in (True, False):
        got = compiled(_swapped(gy), _swapped(x), None, mean, invstd, training)
        want = twin(gy, x, None, mean, invstd, training)
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("dtype", DTYPES)
def test_byte_swapped_loss_arguments(dtype):
    rng = np.random.default_rng(2)
    logits = rng.standard_normal((6, 5)).astype(dtype)
    target = rng.integers(0, 5, 6)
    for name in ("cross_entropy_forward", "nll_loss_forward"):
        compiled, twin = _pair(name)
        # the twins reject these (their dtype is not float32/int64): so must the kernels,
        # which used to read them as native values
        _raises_alike(compiled, twin, _swapped(logits), target)
        _raises_alike(compiled, twin, logits, _swapped(target))
        _raises_alike(compiled, twin, logits, target, _swapped(np.ones(5, dtype)))
    compiled, twin = _pair("cross_entropy_backward")
    _, lse, total = kernels.reference("cross_entropy_forward")(logits, target)
    np.testing.assert_allclose(compiled(logits, target, _swapped(lse), np.array(1.0), total),
                               twin(logits, target, lse, np.array(1.0), total), rtol=1e-5)


# -- optimizers ----------------------------------------------------------------------------

_NEEDED = {   # kernel: (arguments with every list present, index of each needed list)
    "sgd_update": "(np.array([False]), [p], [g], None, 0.1, 0.9, 0.0, False, 0.0, False)",
    "adagrad_update": "(np.array([1.0]), [p], [g], None, 0.1, 0.0, 0.0, 1e-10, False)",
    "rmsprop_update": "(np.array([1.0]), [p], [g], None, None, None, 0.01, 0.99, 1e-8, 0.0,"
                      " 0.9, True, False)",
    "adadelta_update": "(np.array([1.0]), [p], [g], [s()], None, 1.0, 0.9, 1e-6, 0.0, False)",
    "adam_update": "(np.array([1.0]), [p], [g], [s()], [s()], None, 1e-3, 0.9, 0.999, 1e-8,"
                   " 0.0, True, False, False)",
}


@pytest.mark.parametrize("name", sorted(_NEEDED))
def test_optimizer_state_list_given_as_none(name):
    # Before: the compiled loop wrote through a NULL pointer (a segfault).
    _pair(name)
    _run_isolated(f"""
        p, g = np.ones(4, np.float32), np.ones(4, np.float32)
        s = lambda: np.zeros(4, np.float32)
        errors = []
        for fn in (kernels.compiled("{name}"), kernels.reference("{name}")):
            try:
                fn(*{_NEEDED[name]})
            except TypeError as e:
                errors.append(str(e))
        assert len(errors) == 2 and errors[0] == errors[1], errors
        assert "must be a list of arrays, got None" in errors[0], errors
    """)


def _adam_args(p, g, m, v, dtype):
    return (np.array([3.0]), [p], [g], [m], [v], None, 0.1, 0.9, 0.999, 1e-8, 0.1, False, False,
            True)


@pytest.mark.parametrize("dtype", DTYPES)
def test_optimizer_gradient_aliasing_its_parameter(dtype):
    # AdamW shrinks p before reading the gradient; with p.grad sharing p's memory
    # the twin (and PyTorch) read the shrunk gradient, the element loop did not.
    compiled, twin = _pair("adam_update")
    results = []
    for fn in (compiled, twin):
        p = np.linspace(-1, 1, 9).astype(dtype)
        m = np.full(9, 0.3, dtype)
        v = np.full(9, 0.02, dtype)
        fn(*_adam_args(p, p, m, v, dtype))
        results.append((p, m, v))
    for got, want in zip(*results):
        np.testing.assert_allclose(got, want, rtol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
def test_optimizer_state_aliasing_the_gradient(dtype):
    # A momentum buffer sharing the gradient's memory: the twin scales the buffer
    # (so the gradient) before adding the gradient, the element loop read it first.
    # (The same parameter twice in a group, by the same check, no longer races.)
    compiled, twin = _pair("sgd_update")
    results = []
    for fn in (compiled, twin):
        p = np.linspace(-1, 1, 9).astype(dtype)
        g = np.linspace(2, 3, 9).astype(dtype)
        fn(np.array([False]), [p], [g], [g], 0.1, 0.9, 0.0, False, 0.0, False)
        results.append((p, g))
    for got, want in zip(*results):
        np.testing.assert_allclose(got, want, rtol=1e-6)


# -- dropout with p within 2^-33 of 1 ---------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_dropout_probability_next_to_one(dtype):
    # round(p * 2^32) == 2^32 did not fit the kernel's uint32 threshold (OverflowError)
    compiled, twin = _pair("dropout_forward")
    x = np.arange(1, 13, dtype=dtype)
    for p in (1 - 1e-12, float(np.nextafter(1.0, 0.0))):
        got = compiled(x, p, np.random.default_rng(0))
        want = twin(x, p, np.random.default_rng(0))
        np.testing.assert_array_equal(got[1], want[1])
        np.testing.assert_array_equal(got[0], want[0])
        assert not got[1].any()


# -- geometry: C arithmetic must not wrap -------------------------------------------------------

def test_conv_dilation_that_overflows_int64_is_rejected():
    # dilation * (kernel - 1) = 2^64 wrapped to 0: a "valid" geometry and an all-zero result
    compiled, twin = _pair("conv2d_forward")
    x = np.ones((1, 1, 5, 5))
    w = np.ones((1, 1, 5, 1))
    kind, message = _raises_alike(compiled, twin, x, w, None, (1, 1), (0, 0), (2 ** 62, 1))
    assert kind is ValueError and "larger than the padded input" in message


@pytest.mark.parametrize("dtype", DTYPES)
def test_pool_dilation_that_overflows_int64_is_rejected(dtype):
    compiled, twin = _pair("max_pool2d_forward")
    x = np.ones((1, 1, 5, 5), dtype)
    kind, message = _raises_alike(compiled, twin, x, (5, 1), (1, 1), (0, 0), (2 ** 62, 1), False)
    assert kind is ValueError and "too small" in message


def test_pool_stride_beyond_the_input_gives_one_window():
    compiled, twin = _pair("max_pool2d_forward")
    x = np.random.default_rng(3).standard_normal((1, 2, 5, 4))
    for stride in ((2 ** 62, 1), (2 ** 63 - 1, 2 ** 63 - 1)):
        got, want = compiled(x, (2, 2), stride, (1, 1), (1, 1), True), \
            twin(x, (2, 2), stride, (1, 1), (1, 1), True)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])


def test_conv_negative_dimensions_are_named():
    compiled, twin = _pair("conv2d_backward_input")
    kind, message = _raises_alike(compiled, twin, np.ones((1, 1, 3, 3)), np.ones((1, 1, 1, 1)),
                                  (1, 1, -1, 3), (1, 1), (2, 0), (1, 1))
    assert kind is ValueError and "negative dimension" in message
    compiled, twin = _pair("conv2d_backward_weight")
    kind, message = _raises_alike(compiled, twin, np.ones((1, 1, 5, 5)), np.ones((1, 1, 3, 3)),
                                  (1, 1, -1, -1), (1, 1), (0, 0), (1, 1))
    assert kind is ValueError and "negative dimension" in message


# -- avg pooling's divisor_override ---------------------------------------------------------------

@pytest.mark.parametrize("divisor", [1.5, 0.5, 2.0, True])
def test_avg_pool_divisor_override_must_be_an_int(divisor):
    # the compiled kernel truncated it (1.5 -> 1), the twin divided by it
    x = np.random.default_rng(4).standard_normal((1, 1, 4, 4))
    for name, args in (("avg_pool2d_forward", (x,)),
                       ("avg_pool2d_backward", (np.ones((1, 1, 2, 2)), x.shape))):
        compiled, twin = _pair(name)
        kind, message = _raises_alike(compiled, twin, *args, (2, 2), (2, 2), (0, 0), False, True,
                                      divisor)
        assert kind is TypeError and "divisor_override must be an int" in message
    compiled, twin = _pair("avg_pool2d_forward")
    np.testing.assert_array_equal(compiled(x, (2, 2), (2, 2), (0, 0), False, True, np.int64(3)),
                                  twin(x, (2, 2), (2, 2), (0, 0), False, True, np.int64(3)))


def test_public_avg_pool_divisor_override_float_is_refused_like_torch():
    import tinygrad_kr
    import tinygrad_kr.nn.functional as F
    x = tinygrad_kr.tensor(np.ones((1, 1, 4, 4), np.float32))
    with pytest.raises(TypeError, match="divisor_override must be an int"):
        F.avg_pool2d(x, 2, divisor_override=1.5)
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError):
        torch.nn.functional.avg_pool2d(torch.ones(1, 1, 4, 4), 2, divisor_override=1.5)
