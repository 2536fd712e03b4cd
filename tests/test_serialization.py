"""save/load: round trips, and that broken or foreign files fail loudly and run no code."""
import collections
import io
import math
import os
import pathlib
import pickle
import stat

import numpy as np
import pytest

import tinygrad_kr as tk
from tinygrad_kr import serialization
from tinygrad_kr.serialization import CheckpointError, load, save


def checkpoint():
    w = tk.tensor(np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32))
    w.requires_grad_(True)
    b = tk.tensor(np.zeros(4, np.float64))
    model = collections.OrderedDict([("fc.weight", w), ("fc.bias", b),
                                     ("bn.num_batches_tracked", tk.tensor(5))])
    state = {0: {"step": tk.tensor(10.0), "exp_avg": tk.tensor(np.ones((3, 4), np.float32))},
             1: {"step": tk.tensor(10.0), "exp_avg": tk.tensor(np.ones(4))}}
    optim = {"state": state,
             "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0,
                               "amsgrad": False, "foreach": None, "params": [0, 1]}]}
    sched = {"step_size": 30, "gamma": 0.1, "base_lrs": [0.1], "last_epoch": 4, "_last_lr": [0.1]}
    return {"model": model, "optimizer": optim, "scheduler": sched, "epoch": 4,
            "note": "héllo", "nothing": None, "inf": math.inf, "big": 2 ** 100,
            "flags": [True, False],
            "raw": np.arange(6, dtype=np.int16).reshape(2, 3), "scalar": np.float32(2.5),
            "blob": b"\x00\xff", "dtype": np.dtype("float16"), "rng": tk.random.get_rng_state(),
            "empty": tk.tensor(np.zeros((0, 3), np.float32)),
            "half": tk.tensor(np.ones(2, np.float16)),
            "mask": tk.tensor(np.array([True, False])), "i8": tk.tensor(np.array([-3], np.int8))}


def assert_same(a, b):
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, tk.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape and a.requires_grad == b.requires_grad
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            assert_same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_same(x, y)
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b)
    else:
        assert a == b


def test_round_trip_everything(tmp_path):
    obj = checkpoint()
    save(obj, tmp_path / "ckpt.tkr")
    back = load(tmp_path / "ckpt.tkr")
    assert_same(obj, back)
    assert isinstance(back["model"], collections.OrderedDict)
    assert list(back["optimizer"]["state"]) == [0, 1]  # int keys stay ints
    assert back["model"]["fc.weight"].requires_grad and back["model"]["fc.weight"].is_leaf
    back["model"]["fc.bias"].array[0] = 1.0  # loaded arrays are writable and owned


def test_round_trip_nan_and_torch_namespace(tmp_path):
    path = str(tmp_path / "x.tkr")
    tk.save({"nan": float("nan"), "t": tk.tensor(3.0)}, path)
    back = tk.load(path, map_location="cpu", weights_only=True)
    assert math.isnan(back["nan"]) and back["t"].shape == () and back["t"].item() == 3.0


def test_shared_tensors_stay_shared(tmp_path):
    w = tk.tensor(np.ones(3, np.float32))
    save({"a": w, "b": [w, w]}, tmp_path / "s.tkr")
    back = load(tmp_path / "s.tkr")
    assert back["a"] is back["b"][0] is back["b"][1]


def test_file_like_objects():
    buf = io.BytesIO()
    save(checkpoint(), buf)
    buf.seek(0)
    assert_same(checkpoint(), load(buf))
    two = io.BytesIO()  # records are self-delimiting: two saves in one stream
    save([1], two)
    save({"x": 2}, two)
    two.seek(0)
    assert load(two) == [1] and load(two) == {"x": 2}


def test_map_location(tmp_path):
    p = tmp_path / "m.tkr"
    save({"w": tk.tensor([1.0, 2.0])}, p)
    for loc in ("cpu", tk.device("cpu"), {"cpu": "cpu"}, None):
        assert load(p, map_location=loc)["w"].device == tk.device("cpu")
    with pytest.raises(ValueError, match="invalid device"):
        load(p, map_location="tpu")
    from tinygrad_kr.backend import cupy_module
    if cupy_module() is None:
        with pytest.raises(RuntimeError, match="map_location='cpu'"):
            load(p, map_location="cuda")


def test_unsupported_object_fails_before_touching_the_file(tmp_path):
    p = tmp_path / "keep.tkr"
    save({"v": 1}, p)
    before = p.read_bytes()

    class Custom:
        pass

    with pytest.raises(TypeError, match=r"Custom at obj\['model'\]\['bad'\]"):
        save({"model": {"bad": Custom()}}, p)
    with pytest.raises(TypeError, match="dtype object"):
        save(np.array([None, 1]), p)
    loop = []
    loop.append(loop)
    with pytest.raises(ValueError, match="cycle"):
        save(loop, p)
    assert p.read_bytes() == before
    assert os.listdir(tmp_path) == ["keep.tkr"]


def test_atomic_write_keeps_old_file_on_failure(tmp_path, monkeypatch):
    p = tmp_path / "ckpt.tkr"
    save({"version": "old"}, p)
    before = p.read_bytes()
    real = serialization._write_record

    def dies_halfway(f, header, arrays):
        f.write(b"partial garbage")
        raise OSError("disk full")

    monkeypatch.setattr(serialization, "_write_record", dies_halfway)
    with pytest.raises(OSError, match="disk full"):
        save({"version": "new", "w": tk.tensor(np.ones(1000))}, p)
    assert p.read_bytes() == before
    assert load(p) == {"version": "old"}
    assert os.listdir(tmp_path) == ["ckpt.tkr"], "no temporary file left behind"
    monkeypatch.setattr(serialization, "_write_record", real)
    save({"version": "new"}, p)
    assert load(p) == {"version": "new"}


def test_saved_file_permissions_follow_umask(tmp_path):
    p = tmp_path / "perm.tkr"
    save([1], p)
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o666 & ~umask


def saved_bytes(obj=None):
    buf = io.BytesIO()
    save(checkpoint() if obj is None else obj, buf)
    return buf.getvalue()


def test_truncated_files_are_rejected(tmp_path):
    data = saved_bytes()
    p = tmp_path / "cut.tkr"
    for n in (0, 5, 8, 19, 20, 40, len(data) // 2, len(data) - 33, len(data) - 1):
        p.write_bytes(data[:n])
        with pytest.raises(CheckpointError, match=r"cut\.tkr") as err:
            load(p)
        assert isinstance(err.value, RuntimeError)


@pytest.mark.parametrize("where", ["header", "payload", "trailer", "length"])
def test_tampered_files_are_rejected(tmp_path, where):
    data = bytearray(saved_bytes())
    prefix = serialization._PREFIX.size
    header_len = int.from_bytes(data[12:20], "little")
    pos = {"header": prefix + header_len // 2, "payload": prefix + header_len + 5,
           "trailer": len(data) - 1, "length": 26}[where]  # 26: payload length += 2**48
    data[pos] ^= 0x01
    p = tmp_path / "tampered.tkr"
    p.write_bytes(bytes(data))
    message = "truncated or corrupted" if where == "length" else "checksum mismatch"
    with pytest.raises(CheckpointError, match=rf"tampered\.tkr: {message}"):
        load(p)


def test_trailing_bytes_and_bad_version(tmp_path):
    data = saved_bytes([1, 2])
    p = tmp_path / "t.tkr"
    p.write_bytes(data + b"extra")
    with pytest.raises(CheckpointError, match="unexpected bytes after the end"):
        load(p)
    p.write_bytes(data[:8] + (99).to_bytes(4, "little") + data[12:])
    with pytest.raises(CheckpointError, match="format version 99 is not supported"):
        load(p)


class Exploit:
    def __reduce__(self):
        return (open, (MARKER, "w"))


MARKER = ""


def test_foreign_files_run_no_code(tmp_path):
    global MARKER
    MARKER = str(tmp_path / "pwned")
    p = tmp_path / "evil.pt"
    p.write_bytes(pickle.dumps(Exploit()))
    # Python 3.12 pickles open as _io.open
    with pytest.raises(CheckpointError,
                       match=r"refusing to load the global (_io|io|builtins)\.open"):
        load(p)
    assert not os.path.exists(MARKER)
    p.write_bytes(os.urandom(300))
    with pytest.raises(CheckpointError, match="not a tinygrad_kr checkpoint"):
        load(p)
    np.save(tmp_path / "a.npy", np.zeros(3))
    with pytest.raises(CheckpointError, match="numpy.load"):
        load(tmp_path / "a.npy")


def test_pytorch_checkpoint_is_read(tmp_path):
    # the full tests of PyTorch's format are in test_torch_checkpoint.py
    torch = pytest.importorskip("torch")
    p = pathlib.Path(tmp_path / "torch.pt")
    torch.save({"w": torch.ones(2)}, p)
    assert load(p)["w"].tolist() == [1.0, 1.0]


def test_model_state_dict_round_trip(tmp_path):
    from tinygrad_kr import nn
    model = nn.Linear(3, 2)
    save({"model": model.state_dict()}, tmp_path / "m.tkr")
    other = nn.Linear(3, 2)
    other.load_state_dict(load(tmp_path / "m.tkr")["model"])
    for (k, a), (k2, b) in zip(model.state_dict().items(), other.state_dict().items()):
        assert k == k2
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    params = list(model.parameters())
    save(params, tmp_path / "p.tkr")
    back = load(tmp_path / "p.tkr")
    assert [type(p) for p in back] == [type(p) for p in params]
    assert all(p.requires_grad for p in back)
