"""amp.GradScaler step for step against PyTorch's (on the CPU), and autocast's
accepted forms."""
import warnings

import numpy as np
import pytest

import tinygrad_kr as tg


def run_scaler(lib, scaler_cls, grads_to_inject, **kwargs):
    """A parameter stepped by SGD through a GradScaler; some steps get inf/NaN
    gradients. Returns the scale and the parameter after every step."""
    p = lib.nn.Parameter(lib.tensor(np.array([1.0, -2.0, 0.5], dtype=np.float32)))
    opt = lib.optim.SGD([p], lr=0.1)
    scaler = scaler_cls("cpu", **kwargs)
    trace = []
    for bad in grads_to_inject:
        opt.zero_grad()
        loss = (p * p).sum()
        scaler.scale(loss).backward()
        if bad is not None:
            with lib.no_grad():
                p.grad[1] = bad
        scaler.step(opt)
        scaler.update()
        trace.append((scaler.get_scale(), p.detach().numpy().copy(), scaler._get_growth_tracker()))
    return trace, scaler


PATTERN = [None, None, float("inf"), None, None, None, float("nan"), None, None, None]


def test_grad_scaler_equals_pytorchs():
    torch = pytest.importorskip("torch")
    kwargs = dict(init_scale=2.0 ** 10, growth_factor=3.0, backoff_factor=0.25, growth_interval=3)
    ours, our_scaler = run_scaler(tg, tg.amp.GradScaler, PATTERN, **kwargs)
    theirs, their_scaler = run_scaler(torch, torch.amp.GradScaler, PATTERN, **kwargs)
    for (s1, p1, t1), (s2, p2, t2) in zip(ours, theirs):
        assert s1 == s2 and t1 == t2
        np.testing.assert_array_equal(p1, p2)
    assert our_scaler.state_dict() == their_scaler.state_dict()


def test_skipped_steps_and_scale_rules():
    trace, scaler = run_scaler(tg, tg.amp.GradScaler, PATTERN, init_scale=8.0, growth_interval=2)
    scales = [t[0] for t in trace]
    assert scales == [8.0, 16.0, 8.0, 8.0, 16.0, 16.0, 8.0, 8.0, 16.0, 16.0]
    params = [t[1] for t in trace]
    np.testing.assert_array_equal(params[2], params[1])      # the inf step was skipped
    assert not np.array_equal(params[3], params[2])
    # the gradients the optimizer saw were unscaled: 2 * p, not 2 * p * scale
    np.testing.assert_allclose(params[0], np.array([1.0, -2.0, 0.5]) * 0.8, rtol=1e-6)


def test_state_dict_round_trip_and_disabled_scaler():
    _, scaler = run_scaler(tg, tg.amp.GradScaler, [None, None, float("inf")], init_scale=4.0,
                           growth_interval=2)
    other = tg.amp.GradScaler("cpu")
    other.load_state_dict(scaler.state_dict())
    assert other.state_dict() == scaler.state_dict()
    off = tg.amp.GradScaler("cpu", enabled=False)
    x = tg.ones(2, requires_grad=True)
    assert off.scale(x) is x and off.get_scale() == 1.0 and off.state_dict() == {}
    with pytest.raises(RuntimeError, match="source state dict is empty"):
        other.load_state_dict({})


def test_misuse_raises_pytorchs_errors():
    p = tg.nn.Parameter(tg.ones(2))
    opt = tg.optim.SGD([p], lr=0.1)
    scaler = tg.amp.GradScaler("cpu")
    with pytest.raises(AssertionError, match="did not use scaler.scale"):
        scaler.step(opt)
    scaler.scale((p * 2).sum()).backward()
    scaler.unscale_(opt)
    with pytest.raises(RuntimeError, match="unscale_\\(\\) has already been called"):
        scaler.unscale_(opt)
    scaler.step(opt)
    with pytest.raises(RuntimeError, match="step\\(\\) has already been called"):
        scaler.step(opt)
    with pytest.raises(RuntimeError, match="Closure use is not currently supported"):
        scaler.step(opt, closure=lambda: None)
    scaler.update()
    with pytest.raises(AssertionError, match="growth factor must be > 1.0"):
        tg.amp.GradScaler("cpu", growth_factor=1.0)


def test_cuda_scaler_without_a_gpu_is_disabled_as_in_pytorch():
    if tg.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.warns(UserWarning, match="CUDA is not available.  Disabling"):
        scaler = tg.amp.GradScaler()
    assert not scaler.is_enabled()
    with pytest.warns(FutureWarning, match="torch.cuda.amp.GradScaler"):
        with pytest.warns(UserWarning):
            tg.cuda.amp.GradScaler()


def test_autocast_forms_leave_the_computation_as_written():
    x = tg.randn(3, 3)
    expected = (x @ x).numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        with tg.autocast("cpu", dtype=tg.float16):
            y = x @ x

        @tg.amp.autocast("cpu")
        def f(a):
            return a @ a

        z = f(x)
    assert y.dtype == tg.float32 and np.array_equal(y.numpy(), expected)
    assert np.array_equal(z.numpy(), expected)
    with pytest.raises(RuntimeError, match="unsupported autocast device_type 'tpu'"):
        tg.autocast("tpu")
    with pytest.raises(ValueError, match="Expected `device_type` of type `str`"):
        tg.autocast(0)
