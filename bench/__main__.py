"""python -m bench: tinygrad_kr against PyTorch and NumPy.

    python -m bench [--device cpu|cuda] [--threads N] [--only PATTERN] [--quick]
                    [--reps R] [--out DIR]

The arguments are parsed and the thread environment variables set BEFORE
NumPy, SciPy or PyTorch are imported: OpenBLAS and OpenMP read them once,
when they load.
"""
import argparse
import os
import sys

THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def default_threads():
    """All the cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                   help="which rows to run: the CPU suite or the GPU (CuPy) rows")
    p.add_argument("--threads", type=int, default=None,
                   help="threads for every library (default: all cores)")
    p.add_argument("--only", default=None, metavar="PATTERN",
                   help="run the rows whose name contains PATTERN or matches it as a regex")
    p.add_argument("--quick", action="store_true",
                   help="small sizes, few repetitions (the whole suite in under a minute)")
    p.add_argument("--reps", type=int, default=None,
                   help="timed repetitions per contender (default 5, 3 with --quick)")
    p.add_argument("--pause", type=float, default=None,
                   help="seconds of sleep before each timed repetition, so that the previous "
                        "library's spinning BLAS/OpenMP threads go idle (default 0.25, 0.02 quick)")
    p.add_argument("--min-time", type=float, default=None,
                   help="seconds one timed repetition lasts at least (default 0.2, 0.02 quick)")
    p.add_argument("--out", default=os.path.join("bench", "results"),
                   help="directory for the JSON and markdown results (default bench/results)")
    p.add_argument("--no-save", action="store_true", help="print the table, write no files")
    p.add_argument("--list", action="store_true", help="list the row names and exit")
    args = p.parse_args(argv)
    if args.threads is not None and args.threads < 1:
        p.error("--threads must be >= 1")
    if args.reps is not None and args.reps < 1:
        p.error("--reps must be >= 1")
    for name in ("pause", "min_time"):
        value = getattr(args, name)
        if value is not None and not value >= 0:  # also NaN
            p.error(f"--{name.replace('_', '-')} must be >= 0")
    return args


def set_thread_env(n):
    """Pin every threading library to ``n`` threads (inherited by subprocesses)."""
    for var in THREAD_ENV:
        os.environ[var] = str(n)


def main(argv=None):
    args = parse_args(argv)
    args.threads = args.threads or default_threads()
    set_thread_env(args.threads)
    from .harness import run_suite  # imports NumPy: only now
    return run_suite(args)


if __name__ == "__main__":
    sys.exit(main())
