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
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.array)
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


# -- the rest of PyTorch's device API, on every device --------------------

@pytest.mark.parametrize("device", DEVICES)
def test_factories_take_device(device):
    made = [tkr.zeros(2, 3, device=device), tkr.ones(4, device=device),
            tkr.full((2,), 3.0, device=device), tkr.empty(3, device=device),
            tkr.arange(5, device=device), tkr.randn(2, 2, device=device),
            tkr.rand(3, device=device), tkr.randint(0, 4, (6,), device=device),
            tkr.tensor([1.0, 2.0], device=device), tkr.eye(3, device=device),
            tkr.zeros_like(tkr.ones(2), device=device)]
    for t in made:
        assert t.device.type == device, t
    assert tkr.ones(2, device=tkr.device(device)).device.type == device
    np.testing.assert_array_equal(tkr.arange(5, device=device).cpu().numpy(), np.arange(5))


@pytest.mark.parametrize("device", DEVICES)
def test_cuda_and_cpu_methods(device):
    t = tkr.arange(6.0).reshape(2, 3)
    moved = t.to(device)
    assert moved.is_cuda == (device == "cuda")
    back = moved.cpu()
    assert back.device.type == "cpu" and not back.is_cuda
    np.testing.assert_array_equal(back.numpy(), t.numpy())
    assert t.to(moved).device == moved.device          # to(other tensor)
    both = t.to(device, tkr.float64)
    assert both.device.type == device and both.dtype == tkr.float64
    if device == "cuda":
        assert t.cuda().device == tkr.device("cuda:0") and t.cuda(0).is_cuda
        with pytest.raises((TypeError, RuntimeError), match="cpu|numpy|CUDA|cuda"):
            moved.numpy()


def _small_net():
    nn = tkr.nn
    return nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.0),
                         nn.Linear(8, 3))


@pytest.mark.parametrize("device", DEVICES)
def test_module_to_moves_parameters_buffers_grads_and_optimizer_state(device):
    model = _small_net().to(device)
    assert all(p.device.type == device for p in model.parameters())
    assert all(b.device.type == device for b in model.buffers())
    assert isinstance(model[0].weight, tkr.nn.Parameter)      # still a Parameter after the move
    optimizers = [tkr.optim.SGD(model.parameters(), lr=0.1, momentum=0.9),
                  tkr.optim.Adam(model.parameters(), lr=1e-3, amsgrad=True),
                  tkr.optim.Adagrad(model.parameters()), tkr.optim.RMSprop(model.parameters(), centered=True),
                  tkr.optim.Adadelta(model.parameters()), tkr.optim.AdamW(model.parameters())]
    x = tkr.randn(5, 6, device=device)
    y = tkr.randint(0, 3, (5,), device=device)
    for opt in optimizers:
        opt.zero_grad()
        tkr.nn.functional.cross_entropy(model(x), y).backward()
        assert all(p.grad.device.type == device for p in model.parameters())
        opt.step()
        for p in model.parameters():
            for name, value in opt.state[p].items():
                if isinstance(value, tkr.Tensor) and value.ndim > 0:
                    assert value.device.type == device, (type(opt).__name__, name)
    assert all(p.device.type == device for p in model.parameters())
    back = model.cpu()
    assert all(p.device.type == "cpu" for p in back.parameters())


@pytest.mark.parametrize("device", DEVICES)
def test_dataloader_batches_move_with_to(device):
    from tinygrad_kr.utils.data import DataLoader, TensorDataset
    ds = TensorDataset(tkr.randn(10, 3), tkr.arange(10))
    for xb, yb in DataLoader(ds, batch_size=4, shuffle=True):
        xb, yb = xb.to(device), yb.to(device)
        assert xb.device.type == device and yb.device.type == device
        assert xb.shape[1] == 3 and yb.dtype == tkr.int64


@pytest.mark.parametrize("saved_on", DEVICES)
@pytest.mark.parametrize("load_to", DEVICES)
def test_checkpoints_save_from_and_load_to_either_device(tmp_path, saved_on, load_to):
    model = _small_net().to(saved_on)
    opt = tkr.optim.Adam(model.parameters(), lr=1e-2)
    x = tkr.randn(4, 6, device=saved_on)
    model(x).sum().backward()
    opt.step()
    path = tmp_path / "ckpt.tkr"
    tkr.save({"model": model.state_dict(), "opt": opt.state_dict()}, path)
    ckpt = tkr.load(path, map_location=load_to)
    for k, v in ckpt["model"].items():
        assert v.device.type == load_to, k
        np.testing.assert_array_equal(v.cpu().numpy(), model.state_dict()[k].cpu().numpy())
    fresh = _small_net().to(load_to)
    fresh.load_state_dict(ckpt["model"])
    fresh_opt = tkr.optim.Adam(fresh.parameters(), lr=1e-2)
    fresh_opt.load_state_dict(ckpt["opt"])
    model.eval(), fresh.eval()
    np.testing.assert_allclose(fresh(x.to(load_to)).detach().cpu().numpy(),
                               model(x).detach().cpu().numpy(), rtol=1e-5, atol=1e-6)
    # (float32 across devices: the GPU's GEMMs sum in another order)
    # optimizer state follows the parameters' device, as PyTorch's load_state_dict does
    for p in fresh.parameters():
        assert fresh_opt.state[p]["exp_avg"].device.type == load_to


@pytest.mark.skipif(not HAS_CUDA, reason="no CUDA GPU")
def test_ops_mixing_devices_name_both():
    cpu, gpu = tkr.ones(2, 2), tkr.ones(2, 2).cuda()
    for op in (lambda: cpu @ gpu, lambda: tkr.cat([cpu, gpu]), lambda: tkr.where(cpu > 0, cpu, gpu),
               lambda: tkr.nn.functional.cross_entropy(gpu, tkr.tensor([0, 1])),
               lambda: tkr.nn.functional.cross_entropy(gpu, tkr.tensor([0, 1]).cuda(),
                                                       weight=tkr.ones(2)),
               lambda: tkr.nn.functional.cross_entropy(gpu, np.array([0, 1])),
               lambda: tkr.where(gpu > 0, cpu, cpu), lambda: tkr.div(cpu, gpu, rounding_mode="floor"),
               lambda: tkr.nn.functional.linear(gpu, cpu)):
        with pytest.raises(RuntimeError, match="cpu.*cuda|cuda.*cpu"):
            op()
    model = tkr.nn.Linear(2, 2)
    with pytest.raises(RuntimeError, match="cpu.*cuda|cuda.*cpu"):
        model(gpu)


def test_device_mismatch_message_names_both_devices():
    """The one error every device check raises (checked here without a GPU,
    with a stand-in for a CuPy array: anything with ``.device.id``)."""
    from tinygrad_kr.autograd.function import device_mismatch

    class OnGpu1:
        class device:
            id = 1
    err = device_mismatch(tkr.ones(2), OnGpu1(), "weight")
    assert isinstance(err, RuntimeError)
    assert str(err).endswith("devices, cpu and cuda:1! (weight)")


@pytest.mark.skipif(not HAS_CUDA, reason="no CUDA GPU")
def test_to_device_gradcheck():
    from tinygrad_kr.autograd import gradcheck
    x = tkr.tensor(np.random.default_rng(0).uniform(-1, 1, (3, 4)), requires_grad=True)
    assert gradcheck(lambda t: (t.cuda() * t.cuda()).cpu(), (x,))
