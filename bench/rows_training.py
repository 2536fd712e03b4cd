"""Training rows: one optimizer step (zero_grad + forward + loss + backward +
step) on a fixed batch, and a full SLP epoch over MNIST with a DataLoader."""
from .harness import Contender, Row, Target
from .workloads import (OPTIMIZERS, import_lib, lenet5_step, load_mnist, mlp_step,
                        numpy_slp_epoch, numpy_slp_step, resnet18_step, slp_epoch, slp_step)

__all__ = ["rows"]


def _pair(builder, **kwargs):
    return [Contender("tinygrad_kr", lambda: builder(import_lib("tinygrad_kr"), **kwargs),
                      "subject"),
            Contender("torch", lambda: builder(import_lib("torch"), **kwargs), "torch")]


def slp_row():
    return Row("train/slp-b10", "SLP 784 -> 10, batch 10, cross-entropy, SGD(lr=0.1): one step.",
               _pair(slp_step, n=10) + [Contender("numpy", lambda: numpy_slp_step(10), "numpy")],
               targets=[Target("torch", "<=", 0.25, "<= 0.25x PyTorch"),
                        Target("numpy", "<=", 1.0, "<= 1.0x NumPy SLP")],
               note="NumPy: bench/numpy_ref.py NumpySLP (hand-written gradient and SGD).")


def mlp_row(opt):
    cls, kwargs = OPTIMIZERS[opt]
    args = ", ".join(f"{k}={v}" for k, v in kwargs.items())
    return Row(f"train/mlp-b128-{opt}",
               f"MLP 784-100-100-100-100-10 (ReLU), batch 128, {cls}({args}): one step.",
               _pair(mlp_step, n=128, opt=opt),
               targets=[Target("torch", "<=", 0.6, "<= 0.6x PyTorch")])


def lenet5_row(n):
    course = " (the course's LeNet-5 experiment trains with batch 1)" if n == 1 else ""
    return Row(f"train/lenet5-b{n}",
               "LeNet-5 (conv 6@5x5 pad 2, pool, conv 16@5x5, pool, 120, 84, 10; ReLU), "
               f"batch {n}, SGD(lr=0.01, momentum=0.9): one step{course}.",
               _pair(lenet5_step, n=n),
               targets=[Target("torch", "<=", 1.0, "<= 1.0x PyTorch")])


def resnet18_row(n):
    return Row(f"train/resnet18-cifar-b{n}",
               "ResNet-18 (torchvision's layout, 10 classes) on 3x32x32 inputs, "
               f"batch {n}, SGD(lr=0.01, momentum=0.9): one step.",
               _pair(resnet18_step, n=n),
               note="No target: a deeper network than the course's, tracked to see where "
                    "the convolutions stand against PyTorch's (oneDNN) beyond LeNet sizes.")


_MNIST = {}


def mnist(limit):
    if limit not in _MNIST:
        _MNIST[limit] = load_mnist(limit)
    return _MNIST[limit]


def epoch_row(limit, reps):
    def make(lib_name):
        def setup():
            X, Y, source = mnist(limit)
            row.note = row.note.replace("(loaded at setup)", source)
            if lib_name == "numpy":
                return numpy_slp_epoch(X, Y, 10)
            return slp_epoch(import_lib(lib_name), X, Y, 10)
        return setup
    size = f"{limit // 1000}k subset" if limit else "60k"
    row = Row("epoch/slp-mnist-b10",
               f"One SLP epoch over MNIST ({size}), batch 10, shuffled: "
               "DataLoader(TensorDataset(X, Y), batch_size=10, shuffle=True) + SGD(lr=0.1) steps.",
               [Contender("tinygrad_kr", make("tinygrad_kr"), "subject"),
                Contender("torch", make("torch"), "torch"),
                Contender("numpy", make("numpy"), "numpy")],
               min_time=0, warmup=0, reps=reps,   # the setup's call is the warm-up epoch
               note="NumPy: NumpySLP over a permutation (no DataLoader). "
                    "Data: (loaded at setup).")
    return row


def rows(ctx):
    quick = ctx.quick
    out = [slp_row()] + [mlp_row(opt) for opt in OPTIMIZERS] + [lenet5_row(1), lenet5_row(64),
                                                                 lenet5_row(256)]
    if not quick:
        out.append(resnet18_row(32))
    out.append(epoch_row(2000 if quick else None, None))
    return out
