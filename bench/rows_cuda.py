"""GPU rows (``python -m bench --device cuda``): tinygrad_kr on CuPy against
PyTorch CUDA.  Without CuPy or a GPU every row is reported as skipped."""
import numpy as np

from .harness import Contender, Row, Skip, Target
from .workloads import import_lib, lenet5_step

__all__ = ["rows"]


def _cupy_or_reason():
    try:
        import cupy
    except ImportError:
        return None, "CuPy not installed (pip install cupy-cuda12x)"
    try:
        if cupy.cuda.runtime.getDeviceCount() < 1:
            return None, "no CUDA device"
    except Exception as e:  # noqa: BLE001 (no driver: CuPy's own error types)
        return None, f"no usable CUDA device ({type(e).__name__}: {e})"
    return cupy, None


def _syncs(cupy):
    def tkr_sync():
        import tinygrad_kr
        tinygrad_kr.cuda.synchronize()

    def torch_sync():
        import torch
        torch.cuda.synchronize()
    return tkr_sync, torch_sync, (lambda: cupy.cuda.Device().synchronize())


def lenet5_row(cupy, reason, n=256):
    tkr_sync, torch_sync, _ = _syncs(cupy) if cupy else (None, None, None)
    return Row(f"cuda/train-lenet5-b{n}",
               f"LeNet-5 training step, batch {n}, SGD momentum, on the GPU.",
               [Contender("tinygrad_kr", lambda: lenet5_step(import_lib("tinygrad_kr", "cuda"), n,
                                                             device="cuda"), "subject", tkr_sync),
                Contender("torch", lambda: lenet5_step(import_lib("torch", "cuda"), n,
                                                       device="cuda"), "torch", torch_sync)],
               targets=[Target("torch", "<=", 1.5, "<= 1.5x PyTorch CUDA")], skip=reason)


def adam_row(cupy, reason, total):
    tkr_sync, torch_sync, cp_sync = _syncs(cupy) if cupy else (None, None, None)
    rng = np.random.default_rng(0)
    sizes = [total // 10] * 10
    traffic = 7 * 4.0 * total      # read p, g, m, v; write p, m, v

    def make(lib_name, **flags):
        def setup():
            lib = import_lib(lib_name, "cuda")
            ps = []
            for s in sizes:
                t = lib.from_numpy(rng.standard_normal(s).astype(np.float32)).to("cuda")
                t.requires_grad_()
                t.grad = lib.from_numpy(rng.standard_normal(s).astype(np.float32) * 1e-3).to("cuda")
                ps.append(t)
            opt = lib.optim.Adam(ps, lr=1e-3, **flags)
            opt.step()
            return opt.step
        return setup

    def copy():
        if cupy is None:
            raise Skip("CuPy not installed")
        src = cupy.ones(int(traffic / 8), cupy.float32)
        dst = cupy.empty_like(src)
        return lambda: cupy.copyto(dst, src)
    millions = f"{total / 1e6:g}M"
    return Row(f"cuda/optim-adam-{millions}",
               f"Adam(lr=1e-3).step() over {millions} float32 parameters in 10 GPU tensors.",
               [Contender("tinygrad_kr", make("tinygrad_kr"), "subject", tkr_sync),
                Contender("torch", make("torch", fused=True), "torch", torch_sync),
                Contender("copy", copy, "other", cp_sync)],
               bytes=traffic,
               targets=[Target("copy", ">=", 0.8, ">= 80% of device copy bandwidth", invert=True)],
               note="`copy` is cupy.copyto moving the same bytes (the device's copy bandwidth).",
               skip=reason)


def rows(ctx):
    cupy, reason = _cupy_or_reason()
    return [lenet5_row(cupy, reason, 256),
            adam_row(cupy, reason, 1_000_000 if ctx.quick else 10_000_000)]
