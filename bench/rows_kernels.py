"""Kernel rows: GEMM, LeNet-5's convolutions, max-pool, softmax-CE, optimizer
updates, autograd overhead.  Each contender's setup builds its own data from
the same seeded arrays; the tinygrad_kr and PyTorch contenders share code
(``lib`` is either module: same API)."""
import itertools

import numpy as np

from .harness import Contender, Row, Target
from .numpy_ref import conv2d_forward_backward, max_pool2x2_forward_backward, softmax_cross_entropy
from .workloads import import_lib

__all__ = ["rows"]


def _rng(seed=0):
    return np.random.default_rng(seed)


def _f32(rng, *shape):
    return rng.standard_normal(shape).astype(np.float32)


def _pair(make):
    """Contenders tinygrad_kr and torch built by ``make(lib)``."""
    return [Contender("tinygrad_kr", lambda: make(import_lib("tinygrad_kr")), "subject"),
            Contender("torch", lambda: make(import_lib("torch")), "torch")]


# -- GEMM ------------------------------------------------------------------------

def gemm_row(m, k, n):
    rng = _rng()
    a, b = _f32(rng, m, k), _f32(rng, k, n)

    def make(lib):
        A, B = lib.from_numpy(a), lib.from_numpy(b)
        return lambda: A @ B
    name = f"{m}^3" if m == k == n else f"{m}x{k}x{n}"
    big = m * k * n >= 2**34      # seconds per call: fewer warm-up calls
    return Row(f"gemm/{name}", f"C = A @ B, float32, A {m}x{k}, B {k}x{n} (no autograd).",
               _pair(make) + [Contender("numpy", lambda: (lambda: a @ b), "numpy")],
               flops=2.0 * m * k * n, warmup=1 if big else 3,
               targets=[Target("numpy", ">=", 0.95, ">= 0.95x NumPy GFLOP/s", invert=True)])


# -- convolution and pooling --------------------------------------------------------

def conv_row(label, n, c, hw, f, k, pad, input_grad):
    rng = _rng()
    x, w, b = _f32(rng, n, c, hw, hw), _f32(rng, f, c, k, k) * 0.1, _f32(rng, f)
    ho = hw + 2 * pad - k + 1
    gy = _f32(rng, n, f, ho, ho)

    def make(lib):
        F = lib.nn.functional
        X = lib.from_numpy(x).requires_grad_(input_grad)
        W, B = lib.from_numpy(w).requires_grad_(), lib.from_numpy(b).requires_grad_()
        GY = lib.from_numpy(gy)

        def step():
            X.grad = W.grad = B.grad = None
            F.conv2d(X, W, B, padding=pad).backward(GY)
        return step

    def numpy_step():
        return lambda: conv2d_forward_backward(x, w, b, gy, pad, input_grad)
    passes = 3 if input_grad else 2   # forward, weight gradient, input gradient
    return Row(f"conv2d/{label}",
               f"conv2d forward + backward, x {n}x{c}x{hw}x{hw}, w {f}x{c}x{k}x{k}, padding {pad}"
               f"{', input gradient' if input_grad else ', no input gradient (first layer)'}.",
               _pair(make) + [Contender("numpy", numpy_step, "numpy")],
               flops=passes * 2.0 * n * f * c * k * k * ho * ho,
               targets=[Target("torch", "<=", 1.0, "<= 1.0x PyTorch")],
               note="NumPy: im2col by sliding_window_view + tensordot (bench/numpy_ref.py).")


def maxpool_row(n=64, c=6, hw=28, inputs=4):
    rng = _rng()
    # Several inputs taken in turn, as training feeds a new batch every step:
    # on one repeated input the branch predictor learns the data, and a
    # kernel with data-dependent branches looks 2-5x faster than it is.
    xs = [np.maximum(_f32(rng, n, c, hw, hw), 0) for _ in range(inputs)]   # ReLU'd, as in LeNet
    gy = _f32(rng, n, c, hw // 2, hw // 2)

    def make(lib):
        F = lib.nn.functional
        Xs, GY = [lib.from_numpy(x).requires_grad_() for x in xs], lib.from_numpy(gy)
        turn = itertools.cycle(Xs)

        def step():
            X = next(turn)
            X.grad = None
            F.max_pool2d(X, 2).backward(GY)
        return step

    def numpy_step():
        turn = itertools.cycle(xs)
        return lambda: max_pool2x2_forward_backward(next(turn), gy)
    return Row(f"maxpool2d/2x2-{n}x{c}x{hw}x{hw}",
               f"max_pool2d(kernel 2, stride 2) forward + backward on {n}x{c}x{hw}x{hw} "
               f"(LeNet-5's first pooling), on {inputs} ReLU'd inputs in turn.",
               _pair(make) + [Contender("numpy", numpy_step, "numpy")],
               note="NumPy: reshape to 2x2 windows, max, equality mask.")


# -- interpolate ------------------------------------------------------------------------

def interpolate_row(mode, n=8, c=16, hw=32):
    x = _f32(_rng(), n, c, hw, hw)
    extra = dict(align_corners=False) if mode == "bilinear" else {}

    def make(lib):
        F = lib.nn.functional
        X = lib.from_numpy(x).requires_grad_()

        def step():
            X.grad = None
            F.interpolate(X, scale_factor=2, mode=mode, **extra).sum().backward()
        return step
    return Row(f"interpolate/{mode}-2x-{n}x{c}x{hw}x{hw}",
               f"F.interpolate(scale_factor=2, mode={mode!r}) forward + backward on "
               f"{n}x{c}x{hw}x{hw} (an upsampling layer of a small decoder).",
               _pair(make))


# -- softmax cross-entropy ------------------------------------------------------------

def softmax_ce_row(n, classes, target=None):
    rng = _rng()
    logits = _f32(rng, n, classes)
    labels = rng.integers(0, classes, n).astype(np.int64)

    def make(lib):
        F = lib.nn.functional
        L, Y = lib.from_numpy(logits).requires_grad_(), lib.from_numpy(labels)

        def step():
            L.grad = None
            F.cross_entropy(L, Y).backward()
        return step

    def numpy_step():
        softmax_cross_entropy(logits, labels)
    return Row(f"softmax-ce/{n}x{classes}",
               f"F.cross_entropy(logits {n}x{classes}, labels) forward + backward "
               "(mean reduction).",
               _pair(make) + [Contender("numpy", lambda: numpy_step, "numpy")],
               targets=[Target("torch", "<=", target, f"<= {target}x PyTorch")] if target else [],
               note="NumPy: max-shifted softmax, loss and gradient in one function.")


# -- optimizer updates -------------------------------------------------------------------

def optimizer_row(kind, total):
    """One optimizer step over ``total`` float32 parameters in 10 tensors."""
    rng = _rng()
    sizes = [total // 10] * 10
    params = [_f32(rng, s) for s in sizes]
    grads = [_f32(rng, s) * 1e-3 for s in sizes]
    if kind == "adam":
        cls, kwargs, arrays = "Adam", dict(lr=1e-3), 7         # read p, g, m, v; write p, m, v
    else:
        cls, kwargs, arrays = "SGD", dict(lr=1e-2, momentum=0.9), 5   # read p, g, b; write p, b
    traffic = arrays * 4.0 * total

    def make(lib_name, **flags):
        def setup():
            lib = import_lib(lib_name)
            ps = []
            for p, g in zip(params, grads):
                t = lib.from_numpy(p.copy()).requires_grad_()
                t.grad = lib.from_numpy(g)
                ps.append(t)
            opt = getattr(lib.optim, cls)(ps, **kwargs, **flags)
            opt.step()  # state allocated before timing
            return opt.step
        return setup

    def copy():
        src = np.ones(int(traffic / 8), np.float32)     # read + write = traffic bytes
        dst = np.empty_like(src)
        return lambda: np.copyto(dst, src)
    millions = f"{total / 1e6:g}M"
    label = "adam" if kind == "adam" else "sgd-momentum"
    return Row(f"optim/{label}-{millions}",
               f"{cls}({', '.join(f'{k}={v}' for k, v in kwargs.items())}).step() over {millions} "
               "float32 parameters in 10 tensors (gradients given).",
               [Contender("tinygrad_kr", make("tinygrad_kr"), "subject"),
                Contender("torch", make("torch", fused=True), "torch"),
                Contender("torch (foreach)", make("torch", foreach=True), "other"),
                Contender("torch (default)", make("torch"), "other"),
                Contender("copy", copy, "other")],
               bytes=traffic,
               targets=[Target("torch", "<=", 1.0, "<= 1.0x PyTorch fused=True")]
               if kind == "adam" else [],
               note=f"GB/s counts {arrays} float32 arrays read or written per parameter; `copy` is "
                    "np.copyto moving the same bytes (one thread). tinygrad_kr runs its default "
                    "(fused); the torch column is fused=True, `torch (default)` is what PyTorch "
                    "picks on CPU (the single-tensor loop).")


# -- autograd overhead ------------------------------------------------------------------------

def autograd_row(n=16):
    rng = _rng()
    a, b, c = _f32(rng, n), _f32(rng, n), _f32(rng, n)

    def make(lib):
        A, B, C = (lib.from_numpy(v).requires_grad_() for v in (a, b, c))

        def step():
            A.grad = B.grad = C.grad = None
            (A * B + C).sum().backward()
        return step

    def numpy_floor():
        # The NumPy calls the round trip cannot avoid, with no graph at all:
        # tinygrad_kr's time minus this is its Python overhead.
        def step():
            y = (a * b + c).sum()
            gy = np.broadcast_to(np.ones(y.shape, y.dtype), a.shape)
            return gy * b, gy * a, gy.copy()
        return step
    return Row(f"autograd/round-trip-{n}",
               f"(a * b + c).sum().backward() on {n}-element float32 tensors: graph building and "
               "the backward walk, almost no arithmetic.",
               _pair(make) + [Contender("numpy", numpy_floor, "numpy")],
               targets=[Target("torch", "<=", 0.3, "<= 0.3x PyTorch")],
               note="NumPy: the same arithmetic without a graph (forward, ones, the three "
                    "gradients): the floor under any engine built on NumPy calls.")


def rows(ctx):
    quick = ctx.quick
    out = [gemm_row(128, 784, 100), gemm_row(1024, 1024, 1024)]
    if not quick:
        out.append(gemm_row(4096, 4096, 4096))
    out += [conv_row("lenet-conv1", 64, 1, 28, 6, 5, 2, input_grad=False),
            conv_row("lenet-conv2", 64, 6, 14, 16, 5, 0, input_grad=True),
            maxpool_row(),
            interpolate_row("bilinear"),
            interpolate_row("nearest"),
            softmax_ce_row(128, 10, target=0.3),
            softmax_ce_row(1024 if quick else 4096, 1000),
            optimizer_row("sgd", 1_000_000 if quick else 10_000_000),
            optimizer_row("adam", 1_000_000 if quick else 10_000_000),
            autograd_row(16)]
    return out
