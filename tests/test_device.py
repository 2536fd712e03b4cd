"""The device API. GPU cases run where CuPy sees a GPU and skip cleanly
elsewhere (CI has none)."""
import numpy as np
import pytest

import tinygrad_kr as tkr

HAS_CUDA = tkr.cuda.is_available()
DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not HAS_CUDA, reason="no CUDA GPU"))]


def test_device_objects():
    assert str(tkr.device("cuda:1")) == "cuda:1" and tkr.device("cpu") == "cpu"
    assert tkr.device("cuda", 0) == tkr.device("cuda:0")
    with pytest.raises(RuntimeError, match="device type"):
        tkr.device("tpu")
    assert tkr.ones(2).device == tkr.device("cpu") and not tkr.ones(2).is_cuda


@pytest.mark.skipif(HAS_CUDA, reason="checks the error raised where no GPU exists")
def test_cuda_request_without_gpu_is_a_clear_error():
    assert tkr.cuda.device_count() == 0
    with pytest.raises(RuntimeError, match="CUDA"):
        tkr.ones(2).to("cuda")
    with pytest.raises(RuntimeError, match="CUDA"):
        tkr.zeros(2, device="cuda")


@pytest.mark.parametrize("device", DEVICES)
def test_round_trip_and_gradients_cross_devices(device):
    x = tkr.tensor([1.0, -2.0, 3.0], requires_grad=True)
    y = x.to(device)
    assert y.device.type == device
    z = (y * y).sum()
    z.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.data)
    assert x.grad.device.type == "cpu"


@pytest.mark.parametrize("device", DEVICES)
def test_core_ops_on_device_match_cpu(device):
    tkr.manual_seed(0)
    a = tkr.randn(4, 5, dtype=tkr.float64)
    b = tkr.randn(5, 3, dtype=tkr.float64)
    ref = tkr.softmax(tkr.relu(a @ b), 1).sum(0)
    got = tkr.softmax(tkr.relu(a.to(device) @ b.to(device)), 1).sum(0).cpu()
    np.testing.assert_allclose(got.numpy(), ref.numpy(), rtol=1e-12)


@pytest.mark.skipif(not HAS_CUDA, reason="no CUDA GPU")
def test_mixing_devices_names_both():
    with pytest.raises(RuntimeError, match="cpu.*cuda|cuda.*cpu"):
        tkr.ones(2) + tkr.ones(2).cuda()
