"""The GPU LeNet-5 b256 step of each library timed in plain loops of 100
steps (synchronised at the end), five repetitions alternating the
contenders, once with no pause and once with the bench's 0.25 s pause (and
gc pass) before every repetition: does the bench's method move the row?
    python tools/gpu_step_timing.py"""
import gc
import os
import statistics
import sys
import time

sys.path.insert(0, os.getcwd())
from bench.workloads import import_lib, lenet5_step  # noqa: E402

tkr, torch = import_lib("tinygrad_kr", "cuda"), import_lib("torch", "cuda")
steps = {"tkr": (lenet5_step(tkr, 256, device="cuda"), tkr.cuda.synchronize),
         "torch": (lenet5_step(torch, 256, device="cuda"), torch.cuda.synchronize)}


def loop(name, n=100):
    step, sync = steps[name]
    t = time.perf_counter()
    for _ in range(n):
        step()
    sync()
    return (time.perf_counter() - t) / n * 1e3


for name in steps:
    loop(name, 20)
for pause in (0.0, 0.25, 0.0):
    times = {name: [] for name in steps}
    for _ in range(5):
        for name in steps:
            if pause:
                gc.collect(1)
                time.sleep(pause)
            times[name].append(loop(name))
    med = {name: statistics.median(v) for name, v in times.items()}
    print(f"pause {pause:4.2f} s: " + ", ".join(
        f"{name} {med[name]:.3f} ms ({min(v):.3f}-{max(v):.3f})" for name, v in times.items())
        + f"; tkr/torch {med['tkr'] / med['torch']:.2f}x")
