"""tinygrad_kr.load reads PyTorch's torch.save files (zip format) without
running code: values, dtypes, views, parameters, optimizer state, devices,
and the files it must refuse."""
import io
import os
import pickle
import zipfile

import numpy as np
import pytest

import tinygrad_kr as tg
from tinygrad_kr.serialization import CheckpointError

torch = pytest.importorskip("torch")


def torch_bytes(obj, **kw):
    buf = io.BytesIO()
    torch.save(obj, buf, **kw)
    return buf.getvalue()


def load_bytes(data, **kw):
    return tg.load(io.BytesIO(data), **kw)


def test_tensors_dtypes_views_and_python_values():
    base = torch.arange(12.0)
    obj = {"views": [base, base[2:5], base.view(3, 4).t(), base.view(3, 4)[:, ::2]],
           "dtypes": {str(d): torch.tensor([1, 0, 2], dtype=d) for d in
                      (torch.float64, torch.float32, torch.float16, torch.int64, torch.int32,
                       torch.int16, torch.int8, torch.uint8, torch.bool)},
           "scalar": torch.tensor(3.5), "empty": torch.zeros(0, 3),
           "param": torch.nn.Parameter(torch.ones(2)),
           "frozen": torch.nn.Parameter(torch.ones(2), requires_grad=False),
           "leaf": torch.ones(2, requires_grad=True),
           "python": (1, 2.5, None, "text", True, {3: "x"}, [b"raw"]),
           "dtype": torch.float32}
    out = load_bytes(torch_bytes(obj))
    for ours, theirs in zip(out["views"], obj["views"]):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
        assert ours.shape == tuple(theirs.shape)
    for key, t in obj["dtypes"].items():
        assert out["dtypes"][key].dtype == np.dtype(str(t.dtype).replace("torch.", ""))
        np.testing.assert_array_equal(out["dtypes"][key].numpy(), t.numpy())
    assert out["scalar"].shape == () and out["scalar"].item() == 3.5
    assert out["empty"].shape == (0, 3)
    assert isinstance(out["param"], tg.nn.Parameter) and out["param"].requires_grad
    assert isinstance(out["frozen"], tg.nn.Parameter) and not out["frozen"].requires_grad
    assert out["leaf"].requires_grad and not isinstance(out["leaf"], tg.nn.Parameter)
    assert out["python"] == obj["python"] and out["dtype"] == tg.float32


def test_python_builtins_pickle_protocol_2_names():
    # torch.save's pickle protocol 2 names builtins `__builtin__.set` etc.
    obj = {"set": {1, 2}, "complex": 1 + 2j, "bytearray": bytearray(b"xy")}
    for legacy in (False, True):
        out = load_bytes(torch_bytes(obj, _use_new_zipfile_serialization=not legacy))
        assert out == obj and type(out["bytearray"]) is bytearray


def test_bfloat16_comes_back_as_exact_float32():
    values = torch.tensor([1.5, -2.25, 3.0e38, 1e-30], dtype=torch.bfloat16)
    with pytest.warns(UserWarning, match="bfloat16 tensors are loaded as float32"):
        out = load_bytes(torch_bytes({"w": values}))
    assert out["w"].dtype == tg.float32
    np.testing.assert_array_equal(out["w"].numpy(), values.float().numpy())


def test_a_pytorch_model_state_dict_runs_the_same_here(tmp_path):
    torch.manual_seed(0)
    theirs = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.BatchNorm2d(4),
                                 torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(4 * 6 * 6, 5))
    theirs.train()
    theirs(torch.randn(8, 1, 8, 8))            # running statistics away from their init
    theirs.eval()
    path = tmp_path / "model.pt"
    torch.save(theirs.state_dict(), path)

    ours = tg.nn.Sequential(tg.nn.Conv2d(1, 4, 3), tg.nn.BatchNorm2d(4), tg.nn.ReLU(),
                            tg.nn.Flatten(), tg.nn.Linear(4 * 6 * 6, 5))
    state = tg.load(path)                     # a path as well as a file object
    assert list(state) == list(theirs.state_dict())
    ours.load_state_dict(state)
    ours.eval()
    x = np.random.default_rng(1).standard_normal((3, 1, 8, 8)).astype(np.float32)
    np.testing.assert_allclose(ours(tg.tensor(x)).detach().numpy(),
                               theirs(torch.tensor(x)).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_a_pytorch_adam_state_continues_training_equal():
    torch.manual_seed(0)
    w0 = torch.randn(3, 2, dtype=torch.float64)
    x = torch.randn(4, 2, dtype=torch.float64)
    theirs = torch.nn.Parameter(w0.clone())
    opt = torch.optim.Adam([theirs], lr=0.1)

    def step_torch():
        opt.zero_grad()
        (x @ theirs.t()).pow(2).sum().backward()
        opt.step()

    for _ in range(3):
        step_torch()
    saved = torch_bytes({"w": theirs.detach(), "opt": opt.state_dict()})
    state = load_bytes(saved)
    ours = tg.nn.Parameter(state["w"])
    our_opt = tg.optim.Adam([ours], lr=0.1)
    our_opt.load_state_dict(state["opt"])
    xt = tg.tensor(x.numpy())
    for _ in range(3):
        step_torch()
        our_opt.zero_grad()
        (xt @ ours.t()).pow(2).sum().backward()
        our_opt.step()
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-12)


def test_saved_device_and_map_location():
    data = torch_bytes({"w": torch.ones(2)})
    # the same file as if it had been saved from a GPU (the pickle names the location)
    pkl = next(zipfile.ZipFile(io.BytesIO(data)).read(n) for n in
               zipfile.ZipFile(io.BytesIO(data)).namelist() if n.endswith("data.pkl"))
    assert b"X\x03\x00\x00\x00cpu" in pkl
    on_gpu = replace_pickle(data, pkl.replace(b"X\x03\x00\x00\x00cpu", b"X\x06\x00\x00\x00cuda:0"))
    assert load_bytes(on_gpu, map_location="cpu")["w"].device.type == "cpu"
    seen = []
    out = load_bytes(on_gpu, map_location=lambda t, loc: seen.append(loc) or t)
    assert seen == ["cuda:0"] and out["w"].device.type == "cpu"
    if not tg.cuda.is_available():
        with pytest.raises(RuntimeError, match="cannot restore a tensor on cuda:0.*"
                                               "map_location='cpu'"):
            load_bytes(on_gpu)


class Boom:
    def __reduce__(self):
        return (os.system, ("touch boom_marker",))


def replace_pickle(data, new_pickle):
    """A torch.save archive with its data.pkl swapped for new_pickle."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            content = new_pickle if item.filename.endswith("data.pkl") else src.read(item)
            dst.writestr(item.filename, content)
    return out.getvalue()


def test_code_in_the_pickle_is_refused_not_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    evil = replace_pickle(torch_bytes({"w": torch.ones(2)}), pickle.dumps({"w": Boom()},
                                                                          protocol=2))
    with pytest.raises(CheckpointError, match=r"refusing to load the global (posix|os)\.system"):
        load_bytes(evil)
    assert not (tmp_path / "boom_marker").exists()
    # a whole pickled model names its class and the fix
    with pytest.raises(CheckpointError, match=r"torch\.nn\.modules\.linear\.Linear.*"
                                              r"model\.state_dict\(\)"):
        load_bytes(torch_bytes(torch.nn.Linear(2, 2)))


def test_broken_files_are_named():
    data = torch_bytes({"w": torch.arange(6.0)})
    with pytest.raises(CheckpointError, match="not a readable zip archive"):
        load_bytes(data[:len(data) // 2])
    # a storage shorter than the tensor that points into it
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            content = src.read(item)
            if "/data/" in item.filename:
                content = content[:8]
            dst.writestr(item.filename, content)
    with pytest.raises(CheckpointError, match="reaches past its storage of 2 elements"):
        load_bytes(out.getvalue())
    # the format of PyTorch < 1.6 is read too (more in test_vision_models.py)
    legacy = load_bytes(torch_bytes({"w": torch.arange(3.0)}, _use_new_zipfile_serialization=False))
    assert legacy["w"].tolist() == [0.0, 1.0, 2.0]
    no_pickle = io.BytesIO()
    with zipfile.ZipFile(no_pickle, "w") as z:
        z.writestr("readme.txt", "hello")
    with pytest.raises(CheckpointError, match="no single data.pkl"):
        load_bytes(no_pickle.getvalue())


def test_our_own_format_still_loads_and_torch_cannot_confuse_it(tmp_path):
    path = tmp_path / "ours.tkr"
    tg.save({"w": tg.ones(3)}, path)
    assert tg.load(path)["w"].tolist() == [1.0, 1.0, 1.0]
