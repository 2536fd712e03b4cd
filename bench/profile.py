"""Where the time of a tinygrad_kr training step goes (cProfile).

    python -m bench.profile WORKLOAD [--lib tinygrad_kr|torch] [--steps N] [--top K] [--threads N]

WORKLOAD: slp-b10, mlp-b128-<optimizer> (sgd, momentum, adagrad, rmsprop,
adadelta, adam), lenet5-b64, lenet5-b256, slp-epoch.  Prints the wall time
per step, then (tinygrad_kr) the time per step inside each kernel of
``tinygrad_kr.kernels`` and the rest (Python, autograd, NumPy glue), then the
functions with the most own time (tottime) and inclusive time (cumtime)
under cProfile (which slows Python code more than kernels: read its shares
with that in mind).
"""
import argparse
import cProfile
import io
import os
import pstats
import sys
import time


def build(workload, lib_name):
    from . import workloads
    if workload.startswith("mlp-b128-"):
        lib = workloads.import_lib(lib_name)
        return workloads.mlp_step(lib, 128, opt=workload.rsplit("-", 1)[1])
    data = None
    if workload == "slp-epoch":
        X, Y, _ = workloads.load_mnist(None)
        data = (X, Y)
    return workloads.build(workload, lib_name, data)


def kernel_times(fn, steps):
    """{kernel name: seconds per step} over ``steps`` calls of ``fn``, and the
    seconds per step in all: every ``tinygrad_kr.kernels.<name>`` is wrapped
    by a timer for the duration (the engine looks kernels up at each call)."""
    from tinygrad_kr import kernels
    spent, saved = {}, {}

    def timed(name, kernel):
        def call(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return kernel(*args, **kwargs)
            finally:
                spent[name] = spent.get(name, 0.0) + time.perf_counter() - t0
        return call
    for name in kernels.names():
        saved[name] = getattr(kernels, name)
        setattr(kernels, name, timed(name, saved[name]))
    try:
        t0 = time.perf_counter()
        for _ in range(steps):
            fn()
        total = (time.perf_counter() - t0) / steps
    finally:
        for name, kernel in saved.items():
            setattr(kernels, name, kernel)
    return {k: v / steps for k, v in spent.items()}, total


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__.splitlines()[0])
    p.add_argument("workload")
    p.add_argument("--lib", default="tinygrad_kr", choices=("tinygrad_kr", "torch", "numpy"))
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--sort", default="tottime,cumulative")
    args = p.parse_args(argv)
    if args.threads:
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(args.threads)
    fn = build(args.workload, args.lib)
    steps = 1 if args.workload == "slp-epoch" else args.steps
    for _ in range(3 if steps > 1 else 0):
        fn()
    t0 = time.perf_counter()
    for _ in range(steps):
        fn()
    plain = (time.perf_counter() - t0) / steps
    print(f"{args.workload} on {args.lib}: {plain * 1e6:.1f} us/step, {steps} steps")
    if args.lib == "tinygrad_kr":
        per_kernel, total = kernel_times(fn, steps)
        inside = sum(per_kernel.values())
        print(f"kernels: {inside * 1e6:.1f} us/step ({100 * inside / total:.0f}%), outside "
              f"(Python, autograd, NumPy glue): {(total - inside) * 1e6:.1f} us/step "
              f"({100 * (total - inside) / total:.0f}%), of {total * 1e6:.1f} us/step")
        for name, t in sorted(per_kernel.items(), key=lambda kv: -kv[1]):
            print(f"  {name:28s} {t * 1e6:10.1f} us/step  {100 * t / total:5.1f}%")
        print()
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    for _ in range(steps):
        fn()
    prof.disable()
    profiled = (time.perf_counter() - t0) / steps
    print(f"under cProfile: {profiled * 1e6:.1f} us/step")
    for key in args.sort.split(","):
        out = io.StringIO()
        stats = pstats.Stats(prof, stream=out).strip_dirs().sort_stats(key)
        stats.print_stats(args.top)
        text = out.getvalue()
        print(text[text.index("ncalls") - 3:] if "ncalls" in text else text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
