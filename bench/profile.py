"""Where the time of a tinygrad_kr training step goes (cProfile).

    python -m bench.profile WORKLOAD [--lib tinygrad_kr|torch] [--steps N] [--top K] [--threads N]

WORKLOAD: slp-b10, mlp-b128-<optimizer> (sgd, momentum, adagrad, rmsprop,
adadelta, adam), lenet5-b64, lenet5-b256, slp-epoch.  Prints the wall time
per step, then (tinygrad_kr) the engine profiler's table (tinygrad_kr.profiler:
each op, backward node and kernel, self and total time), then the
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


def engine_profile(fn, steps):
    """``steps`` calls of ``fn`` under the engine's own profiler
    (tinygrad_kr.profiler): the time of every op, backward node and kernel."""
    from tinygrad_kr.profiler import profile
    with profile() as prof:
        for _ in range(steps):
            fn()
    return prof


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
        averages = engine_profile(fn, steps).key_averages()
        total = sum(a.self_cpu_time_total for a in averages) / steps
        inside = sum(a.self_cpu_time_total for a in averages if a.key.startswith("kernel::")) / steps
        print(f"under tinygrad_kr.profiler: {total:.1f} us/step; kernels {inside:.1f} us/step "
              f"({100 * inside / total:.0f}%), outside them (Python, autograd, NumPy glue, the "
              f"profiler's own cost) {total - inside:.1f} us/step")
        print(averages.table(sort_by="self_cpu_time_total", row_limit=args.top))
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
