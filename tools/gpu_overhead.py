"""Host time per call of the CuPy and PyTorch operations a training step is
made of, on tiny arrays (so the GPU finishes each call before the next
launch and the figure is the host's launch cost).  Prints one line per op.
    python tools/gpu_overhead.py"""
import os
import sys
import time

sys.path.insert(0, os.getcwd())
import cupy as cp  # noqa: E402
import numpy as np  # noqa: E402


def per_call(fn, n=2000):
    for _ in range(50):
        fn()
    cp.cuda.Device().synchronize()
    t = time.perf_counter()
    for _ in range(n):
        fn()
    cp.cuda.Device().synchronize()
    return (time.perf_counter() - t) / n * 1e6


a, b = cp.ones((6, 25), cp.float32), cp.ones((25, 1000), cp.float32)
bt = cp.ones((1000, 25), cp.float32).T
v = cp.ones(1000, cp.float32)
host = np.arange(64, dtype=np.int64)
dev = cp.empty(64, cp.int64)
relu = cp.ElementwiseKernel("T x", "T y", "y = x > 0 ? x : (T)0", "bench_relu")

from tinygrad_kr.kernels import _cublas, cuda_blas, cuda_conv, cuda_loss  # noqa: E402
x128, w100 = cp.ones((128, 100), cp.float32), cp.ones((100, 100), cp.float32)
logits, labels = cp.zeros((256, 10), cp.float32), cp.zeros(256, cp.int64)
loss, lse, total = cuda_loss.cross_entropy_forward(logits, labels)
one, zero = _cublas._one_zero(np.float32)
c128 = cp.empty((128, 100), cp.float32)
backlog = cp.ones((2048, 2048), cp.float32)


def sgemm():   # cublasSgemm alone: 128x100 @ (100x100)^T, as _cublas.gemm calls it
    _cublas.library().sgemm(_cublas.handle(), 1, 0, 100, 128, 100, one, w100.data.ptr, 100,
                            x128.data.ptr, 100, zero, c128.data.ptr, 100)


class Behind:
    """fn's host time alone, each call queued behind ~0.4 ms of GPU work (as
    inside a training step, where the GPU is still busy with earlier launches)."""

    def __init__(self, fn):
        self.fn = fn


def behind_backlog_us(fn, n=300):
    times = []
    for i in range(n):
        backlog @ backlog
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
        if i % 20 == 19:
            cp.cuda.Device().synchronize()
    cp.cuda.Device().synchronize()
    return sorted(times)[n // 2] * 1e6


rows = {
    "cublasSgemm through CuPy's binding": sgemm,
    "the same, behind GPU work (median)": Behind(sgemm),
    "tkr _cublas.gemm, behind GPU work (median)": Behind(
        lambda: _cublas.gemm(x128, w100, trans_b=True)),
    "cupy.matmul (128x100 @ 100x100^T)": lambda: cp.matmul(x128, w100.T),
    "tkr _cublas.gemm (128x100 @ 100x100^T)": lambda: _cublas.gemm(x128, w100, trans_b=True),
    "tkr gemm kernel, with bias": lambda: cuda_blas.gemm(x128, w100, False, True, v[:100]),
    "tkr bias_grad (256, 6, 28, 28)": lambda: cuda_blas.bias_grad(cp.empty((256, 6, 28, 28),
                                                                          cp.float32)),
    "tkr cross_entropy_forward (256x10)": lambda: cuda_loss.cross_entropy_forward(logits, labels),
    "tkr cross_entropy_backward (256x10)": lambda: cuda_loss.cross_entropy_backward(
        logits, labels, lse, loss, total),
    "cupy.matmul 2-D (6x25 @ 25x1000)": lambda: cp.matmul(a, b),
    "cupy.matmul, transposed operand": lambda: cp.matmul(a, bt),
    "cupy ElementwiseKernel (1000)": lambda: relu(v),
    "cupy add (1000)": lambda: v + v,
    "cupy.sum (1000 -> scalar)": lambda: v.sum(),
    "cupy.empty(1000)": lambda: cp.empty(1000, cp.float32),
    "cupy.zeros(1)": lambda: cp.zeros(1, cp.float64),
    "cupy.asarray(64 int64 from host)": lambda: cp.asarray(host),
    "ndarray.set(64 int64 from host)": lambda: dev.set(host),
    "int(device scalar) (sync + D2H)": lambda: int(dev[0]),
    "tkr RawKernel launch (to_nchw, 1000)": lambda: cuda_conv._to_cnhw(cp.ones((2, 5, 100), cp.float32)),
    "tkr bias_grad (4, 6, 100)": lambda: cuda_blas.bias_grad(cp.ones((4, 6, 100), cp.float32)),
}
try:
    import torch
    ta, tb, tv = (torch.ones(6, 25, device="cuda"), torch.ones(25, 1000, device="cuda"),
                  torch.ones(1000, device="cuda"))
    rows.update({
        "torch.mm (6x25 @ 25x1000)": lambda: torch.mm(ta, tb),
        "torch.relu (1000)": lambda: torch.relu(tv),
        "torch add (1000)": lambda: tv + tv,
        "torch.zeros(1)": lambda: torch.zeros(1, device="cuda"),
    })
except Exception as e:  # noqa: BLE001
    print("torch rows skipped:", e)
for name, fn in rows.items():
    try:
        us = behind_backlog_us(fn.fn) if isinstance(fn, Behind) else per_call(fn)
        print(f"{name:42s} {us:8.1f} us")
    except Exception as e:  # noqa: BLE001
        print(f"{name:42s} failed: {type(e).__name__}: {e}")
