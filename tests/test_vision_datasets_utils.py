"""vision.utils (make_grid, save_image) and the CIFAR / folder datasets, on
real files written here in the formats torchvision reads."""
import hashlib
import io
import math
import os
import pickle
import tarfile

import numpy as np
import pytest

import tinygrad_kr as tg
from tinygrad_kr.utils.data import DataLoader
from tinygrad_kr.vision import datasets, transforms as T
from tinygrad_kr.vision.utils import make_grid, save_image


def grid_by_copies(t, nrow=8, padding=2, pad_value=0.0):
    """torchvision's make_grid loop: each image copied into its cell of a canvas."""
    n, c, h, w = t.shape
    cols = min(nrow, n)
    rows = int(math.ceil(n / cols))
    hp, wp = h + padding, w + padding
    grid = np.full((c, hp * rows + padding, wp * cols + padding), pad_value, t.dtype)
    for k in range(n):
        y, x = divmod(k, cols)
        grid[:, y * hp + padding:(y + 1) * hp, x * wp + padding:(x + 1) * wp] = t[k]
    return grid


@pytest.mark.parametrize("n,nrow,padding,pad_value", [(7, 3, 2, 0.5), (7, 8, 0, 0.0),
                                                       (5, 2, 1, 1.0), (4, 4, 3, 0.0),
                                                       (9, 1, 2, 0.25)])
def test_make_grid_equals_copying_each_image(n, nrow, padding, pad_value):
    x = np.random.default_rng(n).random((n, 3, 5, 4)).astype(np.float32)
    got = make_grid(tg.tensor(x), nrow=nrow, padding=padding, pad_value=pad_value)
    np.testing.assert_array_equal(got.numpy(), grid_by_copies(x, nrow, padding, pad_value))


def test_make_grid_inputs_and_normalize():
    rng = np.random.default_rng(0)
    gray = rng.random((6, 1, 4, 4)) * 4 - 1
    three = np.repeat(gray, 3, axis=1)
    # one channel is repeated to three; a list is stacked
    np.testing.assert_array_equal(make_grid(tg.tensor(gray), nrow=3).numpy(),
                                  grid_by_copies(three, 3))
    np.testing.assert_array_equal(make_grid([tg.tensor(g) for g in gray], nrow=3).numpy(),
                                  grid_by_copies(three, 3))
    # one image comes back as itself (3 channels)
    assert make_grid(tg.tensor(gray[0, 0])).shape == (3, 4, 4)
    assert make_grid(tg.tensor(three[:1])).shape == (3, 4, 4)
    # normalize: to [0, 1] over the batch, per image, or from a given range
    whole = make_grid(tg.tensor(three), normalize=True, padding=0, nrow=6).numpy()
    np.testing.assert_allclose(whole, grid_by_copies((three - three.min()) /
                                                     (three.max() - three.min()), 6, 0))
    each = make_grid(tg.tensor(three), normalize=True, scale_each=True, padding=0, nrow=6)
    expected = np.stack([(t - t.min()) / (t.max() - t.min()) for t in three])
    np.testing.assert_allclose(each.numpy(), grid_by_copies(expected, 6, 0))
    ranged = make_grid(tg.tensor(three), normalize=True, value_range=(0.0, 2.0), padding=0,
                       nrow=6)
    np.testing.assert_allclose(ranged.numpy(), grid_by_copies(np.clip(three, 0, 2) / 2, 6, 0))
    with pytest.raises(TypeError, match="value_range has to be a tuple"):
        make_grid(tg.tensor(three), normalize=True, value_range=[0, 1])
    with pytest.raises(TypeError, match="tensor or list of tensors expected"):
        make_grid(three)
    with pytest.raises(TypeError, match="got a list containing"):
        make_grid([three[0]])


def test_make_grid_passes_gradients_back():
    x = tg.rand(5, 1, 3, 3, requires_grad=True)
    weights = tg.rand(3, 2 * 5 + 2, 3 * 5 + 2)       # 2 rows x 3 columns of 3x3 cells
    (make_grid(x, nrow=3) * weights).sum().backward()
    w = weights.numpy()
    expected = np.stack([w[:, 2 + 5 * (k // 3):5 + 5 * (k // 3),
                           2 + 5 * (k % 3):5 + 5 * (k % 3)].sum(0, keepdims=True)
                         for k in range(5)])
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-6)


def test_save_image_writes_the_grid_as_torchvision_rounds_it(tmp_path):
    PIL = pytest.importorskip("PIL.Image")
    x = np.random.default_rng(1).random((6, 3, 8, 8)).astype(np.float32)
    path = tmp_path / "grid.png"
    save_image(tg.tensor(x), path, nrow=3, padding=1)
    img = np.asarray(PIL.open(path))
    expected = np.clip(grid_by_copies(x, 3, 1) * 255 + 0.5, 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(img, expected.transpose(1, 2, 0))
    buffer = io.BytesIO()
    save_image(tg.tensor(x[:1]), buffer, format="png")
    assert np.asarray(PIL.open(io.BytesIO(buffer.getvalue()))).shape == (8, 8, 3)
    with pytest.raises(ValueError, match="cannot tell the image format"):
        save_image(tg.tensor(x), tmp_path / "noextension")


# -- CIFAR -----------------------------------------------------------------------

def md5(path):
    with open(path, "rb") as f:
        return hashlib.md5(f.read()).hexdigest()


def write_cifar(root, folder, files, label_key, meta_name, meta_key, classes, per_file=4,
                seed=0):
    """CIFAR's python format: pickled dicts of 'data' (N, 3072) uint8 rows, channel planes."""
    rng = np.random.default_rng(seed)
    os.makedirs(root / folder)
    images, labels = {}, {}
    for name in files:
        hwc = rng.integers(0, 256, (per_file, 32, 32, 3), dtype=np.uint8)
        lab = rng.integers(0, len(classes), per_file).tolist()
        rows = hwc.transpose(0, 3, 1, 2).reshape(per_file, 3072)  # R plane, G plane, B plane
        with open(root / folder / name, "wb") as f:
            pickle.dump({"data": rows, label_key: lab, "batch_label": name.encode()}, f)
        images[name], labels[name] = hwc, lab
    with open(root / folder / meta_name, "wb") as f:
        pickle.dump({meta_key: classes}, f)
    return images, labels


def local_cifar10(root):
    classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
               "ship", "truck"]
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    images, labels = write_cifar(root, "cifar-10-batches-py", names, "labels", "batches.meta",
                                 "label_names", classes)

    class LocalCIFAR10(datasets.CIFAR10):  # the same reader, this test's files' MD5s
        train_list = [[n, md5(root / "cifar-10-batches-py" / n)] for n in names[:5]]
        test_list = [["test_batch", md5(root / "cifar-10-batches-py" / "test_batch")]]
        meta = {"filename": "batches.meta", "key": "label_names",
                "md5": md5(root / "cifar-10-batches-py" / "batches.meta")}

    return LocalCIFAR10, images, labels, names


def test_cifar10_reads_the_python_batches(tmp_path):
    LocalCIFAR10, images, labels, names = local_cifar10(tmp_path)
    train = LocalCIFAR10(tmp_path, train=True)
    assert train.data.shape == (20, 32, 32, 3) and train.data.dtype == np.uint8
    np.testing.assert_array_equal(train.data, np.concatenate([images[n] for n in names[:5]]))
    assert train.targets == sum((labels[n] for n in names[:5]), [])
    assert train.classes[0] == "airplane" and train.class_to_idx["truck"] == 9
    test = LocalCIFAR10(tmp_path, train=False)
    assert len(test) == 4 and test.targets == labels["test_batch"]
    img, target = test[2]
    np.testing.assert_array_equal(img, images["test_batch"][2])
    assert target == labels["test_batch"][2] and isinstance(target, int)
    assert "Split: Test" in repr(test)

    # ToTensor + Normalize: the batch path equals per-sample loading
    tf = T.Compose([T.ToTensor(), T.Normalize((0.5, 0.5, 0.5), (0.25, 0.25, 0.25))])
    ds = LocalCIFAR10(tmp_path, train=True, transform=tf)
    xb, yb = next(iter(DataLoader(ds, batch_size=6)))
    assert xb.shape == (6, 3, 32, 32)
    per_sample = np.stack([ds[i][0].numpy() for i in range(6)])
    np.testing.assert_allclose(xb.numpy(), per_sample, rtol=1e-6)
    np.testing.assert_allclose(per_sample[1, 2], (images["data_batch_1"][1][..., 2] / 255 - 0.5)
                               / 0.25, rtol=1e-5, atol=1e-6)
    assert yb.tolist() == train.targets[:6]


def test_cifar_missing_or_corrupted_files(tmp_path):
    LocalCIFAR10, _, _, _ = local_cifar10(tmp_path)
    with pytest.raises(RuntimeError, match="Dataset not found or corrupted. You can use "
                                           "download=True.*data_batch_1 missing"):
        datasets.CIFAR10(tmp_path / "elsewhere")
    with open(tmp_path / "cifar-10-batches-py" / "data_batch_3", "ab") as f:
        f.write(b"x")
    with pytest.raises(RuntimeError, match="data_batch_3 has the wrong MD5"):
        LocalCIFAR10(tmp_path)


def test_cifar_download_unpacks_a_checked_archive(tmp_path):
    source = tmp_path / "source"
    LocalCIFAR10, images, _, _ = local_cifar10(source)
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(source / "cifar-10-batches-py", arcname="cifar-10-batches-py")

    class Downloaded(LocalCIFAR10):
        url = archive.as_uri()     # file:// works without a network
        tgz_md5 = md5(archive)

    target = tmp_path / "target"
    ds = Downloaded(target, train=False, download=True)
    np.testing.assert_array_equal(ds.data, images["test_batch"])
    assert (target / "cifar-10-python.tar.gz").is_file()

    class WrongSum(LocalCIFAR10):
        url = archive.as_uri()
        tgz_md5 = "0" * 32

    with pytest.raises(RuntimeError, match="MD5 mismatch"):
        WrongSum(tmp_path / "third", download=True)


def test_cifar100_fine_labels(tmp_path):
    classes = [f"class{i}" for i in range(100)]
    images, labels = write_cifar(tmp_path, "cifar-100-python", ["train", "test"], "fine_labels",
                                 "meta", "fine_label_names", classes, per_file=5)
    folder = tmp_path / "cifar-100-python"

    class LocalCIFAR100(datasets.CIFAR100):
        train_list = [["train", md5(folder / "train")]]
        test_list = [["test", md5(folder / "test")]]
        meta = {"filename": "meta", "key": "fine_label_names", "md5": md5(folder / "meta")}

    ds = LocalCIFAR100(tmp_path, train=True)
    assert ds.targets == labels["train"] and len(ds.classes) == 100
    np.testing.assert_array_equal(ds.data, images["train"])


# -- folders of image files --------------------------------------------------------

def write_image_folder(root):
    Image = pytest.importorskip("PIL.Image")
    rng = np.random.default_rng(3)
    pixels = {}
    for cls, count in (("cat", 2), ("dog", 3)):
        os.makedirs(root / cls / "nested")
        for i in range(count):
            arr = rng.integers(0, 256, (5, 6, 3), dtype=np.uint8)
            sub = "nested" if i == 2 else ""
            path = root / cls / sub / f"{i}.png"
            Image.fromarray(arr).save(path)
            pixels[str(path)] = arr
        (root / cls / "notes.txt").write_text("not an image")
    Image.fromarray(rng.integers(0, 256, (5, 6), dtype=np.uint8)).save(root / "dog" / "g.bmp")
    return pixels


def test_image_folder(tmp_path):
    pixels = write_image_folder(tmp_path)
    ds = datasets.ImageFolder(tmp_path)
    assert ds.classes == ["cat", "dog"] and ds.class_to_idx == {"cat": 0, "dog": 1}
    names = [os.path.relpath(p, tmp_path) for p, _ in ds.samples]
    assert names == ["cat/0.png", "cat/1.png", "dog/0.png", "dog/1.png", "dog/g.bmp",
                     "dog/nested/2.png"]
    assert ds.targets == [0, 0, 1, 1, 1, 1] and ds.imgs is ds.samples
    img, target = ds[3]
    assert img.mode == "RGB" and target == 1
    np.testing.assert_array_equal(np.asarray(img), pixels[ds.samples[3][0]])
    assert np.asarray(ds[4][0]).shape == (5, 6, 3)    # a grayscale file comes as RGB

    loader = DataLoader(datasets.ImageFolder(tmp_path, transform=T.ToTensor()), batch_size=3,
                        num_workers=2)
    batches = list(loader)
    assert [b[0].shape for b in batches] == [(3, 3, 5, 6)] * 2
    np.testing.assert_allclose(batches[0][0][1].numpy(),
                               pixels[ds.samples[1][0]].transpose(2, 0, 1) / 255, rtol=1e-6)

    only_png = datasets.ImageFolder(tmp_path, is_valid_file=lambda p: p.endswith(".png"))
    assert len(only_png) == 5


def test_folder_errors(tmp_path):
    write_image_folder(tmp_path)
    os.makedirs(tmp_path / "empty_class")
    with pytest.raises(FileNotFoundError, match="Found no valid file for the classes "
                                                "empty_class. Supported extensions are: .jpg"):
        datasets.ImageFolder(tmp_path)
    assert len(datasets.ImageFolder(tmp_path, allow_empty=True)) == 6
    with pytest.raises(FileNotFoundError, match="Couldn't find any class folder"):
        datasets.ImageFolder(tmp_path / "cat" / "nested")
    with pytest.raises(ValueError, match="Both extensions and is_valid_file cannot be None"):
        datasets.DatasetFolder(tmp_path, loader=open)
    texts = datasets.DatasetFolder(tmp_path, loader=lambda p: open(p).read(),
                                   extensions=(".txt",), allow_empty=True)
    assert [s for s, _ in (texts[0], texts[1])] == ["not an image"] * 2
