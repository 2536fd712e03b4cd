"""Where a GPU training step spends its time: wall time per step, the Python
profile (CPU side: launches, checks, allocations) and, through PyTorch's
CUPTI-based profiler, the GPU kernels of every library in the process.
    python tools/gpu_profile.py OUT_DIR"""
import cProfile
import io
import os
import pstats
import sys
import time

sys.path.insert(0, os.getcwd())
import cupy as cp  # noqa: E402
import numpy as np  # noqa: E402

from bench.workloads import import_lib, lenet5_step  # noqa: E402

out = sys.argv[1] if len(sys.argv) > 1 else "."
report = io.StringIO()


def say(*a):
    print(*a)
    print(*a, file=report)


def sync():
    cp.cuda.Device().synchronize()


def timed(step, n=100):
    for _ in range(10):
        step()
    sync()
    t = time.perf_counter()
    for _ in range(n):
        step()
    sync()
    return (time.perf_counter() - t) / n * 1e3


def adam_step(lib_name, **flags):
    lib = import_lib(lib_name, "cuda")
    rng = np.random.default_rng(0)
    ps = []
    for _ in range(10):
        t = lib.from_numpy(rng.standard_normal(1_000_000).astype(np.float32)).to("cuda")
        t.requires_grad_()
        t.grad = lib.from_numpy(rng.standard_normal(1_000_000).astype(np.float32)).to("cuda")
        ps.append(t)
    return lib.optim.Adam(ps, lr=1e-3, **flags).step


tkr_lenet = lenet5_step(import_lib("tinygrad_kr", "cuda"), 256, device="cuda")
torch_lenet = lenet5_step(import_lib("torch", "cuda"), 256, device="cuda")
tkr_adam = adam_step("tinygrad_kr")
torch_adam = adam_step("torch", fused=True)
for name, step in [("tkr lenet b256", tkr_lenet), ("torch lenet b256", torch_lenet),
                   ("tkr adam 10x1M", tkr_adam), ("torch adam fused", torch_adam)]:
    say(f"{name:20s} {timed(step):8.3f} ms/step")

for name, step in [("lenet", tkr_lenet), ("adam", tkr_adam)]:
    pr = cProfile.Profile()
    pr.enable()
    for _ in range(50):
        step()
    sync()
    pr.disable()
    for key in ("tottime", "cumulative"):
        s = io.StringIO()
        pstats.Stats(pr, stream=s).sort_stats(key).print_stats(45)
        say(f"\n===== cProfile {name} (50 steps) by {key}\n" + s.getvalue())

try:
    import torch
    from torch.profiler import ProfilerActivity, profile
    for name, step in [("tkr lenet", tkr_lenet), ("torch lenet", torch_lenet),
                       ("tkr adam", tkr_adam)]:
        with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
            for _ in range(20):
                step()
            sync()
        evs = [e for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA]
        gpu_us = sum(getattr(e, "device_time", 0) or getattr(e, "cuda_time", 0) for e in evs) / 20
        say(f"\n===== GPU kernels of {name}: {len(evs) / 20:.1f} launches, "
            f"{gpu_us:.1f} us GPU time per step")
        try:
            say(prof.key_averages().table(sort_by="device_time_total", row_limit=30))
        except Exception:  # noqa: BLE001 (older torch names it cuda_time_total)
            say(prof.key_averages().table(sort_by="cuda_time_total", row_limit=30))
except Exception as e:  # noqa: BLE001
    say("torch profiler failed:", type(e).__name__, e)

with open(os.path.join(out, "profile.txt"), "w") as f:
    f.write(report.getvalue())
