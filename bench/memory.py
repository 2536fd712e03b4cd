"""Peak memory of one training workload, measured in a fresh process.

    python -m bench.memory WORKLOAD LIB [--steps N] [--limit N]

LIB is tinygrad_kr, torch or numpy.  The library and the data are loaded
first; then the resident set is read (the baseline) and the kernel's peak
counter reset (``/proc/self/clear_refs``); then the model is built and
trained ``--steps`` steps (one epoch for ``slp-epoch``); the result is the
peak resident set minus the baseline.  Where /proc is unavailable the peak is
``getrusage(RUSAGE_SELF).ru_maxrss`` minus its value at the baseline.
Prints one JSON line; exit status 3 means the workload cannot run (reason).
"""
import argparse
import gc
import json
import resource
import sys


def _status_kib(field):
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _maxrss_bytes():
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r if sys.platform == "darwin" else r * 1024   # macOS: bytes; Linux: KiB


def _reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")          # resets VmHWM to the current RSS (Linux >= 4.0)
        return True
    except OSError:
        return False


def measure(workload, lib_name, steps, limit=None):
    from . import workloads
    data = None
    if workload == "slp-epoch":
        X, Y, _ = workloads.load_mnist(limit)
        data = (X, Y)
    if lib_name != "numpy":
        workloads.import_lib(lib_name)   # imports count in the baseline, not in the peak
    gc.collect()
    base_rss = _status_kib("VmRSS")
    base_max = _maxrss_bytes()
    hwm = base_rss is not None and _reset_peak()
    fn = workloads.build(workload, lib_name, data)
    fn()
    step_peak = None
    if hwm:
        first_peak = _status_kib("VmHWM")
        if workload != "slp-epoch" and steps > 1:
            # what the later steps need above the memory the first one left behind
            # (PyTorch allocates its thread pools and kernel caches at the first step)
            after_first = _status_kib("VmRSS")
            _reset_peak()
            for _ in range(steps - 1):
                fn()
            step_peak = (_status_kib("VmHWM") - after_first) * 1024
            first_peak = max(first_peak, _status_kib("VmHWM"))
        peak, method = (first_peak - base_rss) * 1024, "VmHWM - VmRSS at baseline"
    else:
        for _ in range(0 if workload == "slp-epoch" else steps - 1):
            fn()
        peak, method = _maxrss_bytes() - base_max, "ru_maxrss delta"
    return {"workload": workload, "lib": lib_name, "peak_bytes": peak, "method": method,
            "step_peak_bytes": step_peak, "baseline_bytes": (base_rss or 0) * 1024 or base_max}


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.memory")
    p.add_argument("workload")
    p.add_argument("lib", choices=("tinygrad_kr", "torch", "numpy"))
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--limit", type=int, default=None, help="MNIST subset for slp-epoch")
    args = p.parse_args(argv)
    try:
        out = measure(args.workload, args.lib, args.steps, args.limit)
    except (ImportError, AttributeError, NotImplementedError, ValueError) as e:
        print(json.dumps({"skip": f"{type(e).__name__}: {e}"}))
        return 3
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
