"""Peak-memory rows: each contender trains in a fresh subprocess (bench/memory.py)."""
import json
import os
import subprocess
import sys

from .harness import Contender, Row, Skip, Target

__all__ = ["rows"]

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

TITLES = {
    "slp-b10": "SLP 784 -> 10, batch 10, SGD",
    "mlp-b128-adam": "MLP 784-100x4-10, batch 128, Adam",
    "lenet5-b64": "LeNet-5, batch 64, SGD momentum",
    "lenet5-b256": "LeNet-5, batch 256, SGD momentum",
    "slp-epoch": "SLP epoch over MNIST with a DataLoader, batch 10",
}


def _run(workload, lib, steps, limit):
    def setup():
        cmd = [sys.executable, "-m", "bench.memory", workload, lib, "--steps", str(steps)]
        if limit:
            cmd += ["--limit", str(limit)]

        def value():
            proc = subprocess.run(cmd, cwd=_ROOT, capture_output=True, text=True, timeout=600)
            last = (proc.stdout.strip().splitlines() or ["{}"])[-1]
            try:
                out = json.loads(last)
            except json.JSONDecodeError:
                out = {}
            if proc.returncode == 3:
                raise Skip(out.get("skip", "cannot run"))
            if proc.returncode != 0 or "peak_bytes" not in out:
                raise RuntimeError(f"{' '.join(cmd[1:])} failed ({proc.returncode}): "
                                   f"{proc.stderr.strip().splitlines()[-1:]}")
            return {"value": out["peak_bytes"],
                    "extra": {"per-step": out["step_peak_bytes"]}
                    if out.get("step_peak_bytes") is not None else {}}
        return value
    return setup


def memory_row(workload, steps, limit=None, numpy=False):
    contenders = [Contender("tinygrad_kr", _run(workload, "tinygrad_kr", steps, limit), "subject"),
                  Contender("torch", _run(workload, "torch", steps, limit), "torch")]
    if numpy:
        contenders.append(Contender("numpy", _run(workload, "numpy", steps, limit), "numpy"))
    what = "one epoch" + (f" ({limit // 1000}k subset)" if limit else "") \
        if workload == "slp-epoch" else f"{steps} steps"
    return Row(f"rss/{workload}", f"Peak resident memory above the post-import baseline: "
               f"{TITLES[workload]}, {what}, fresh process per contender.",
               contenders, kind="value", unit="B",
               targets=[Target("torch", "<=", 1.0, "<= 1.0x PyTorch")])


def rows(ctx):
    if ctx.quick:   # a fresh process per contender costs a second or two: one row only
        return [memory_row("lenet5-b64", 3)]
    return [memory_row("slp-b10", 20, numpy=True),
            memory_row("mlp-b128-adam", 20),
            memory_row("lenet5-b64", 20),
            memory_row("lenet5-b256", 20),
            memory_row("slp-epoch", 1, numpy=True)]
