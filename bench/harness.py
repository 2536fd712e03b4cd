"""The benchmark harness: rows, contenders, interleaved timing, the report.

A *row* is one workload (a GEMM shape, a training step...).  Its
*contenders* run the same workload in different libraries: ``tinygrad_kr``
(role ``subject``), PyTorch (role ``torch``), NumPy (role ``numpy``) and any
others (role ``other``: PyTorch's foreach Adam, the copy bandwidth...).

Method (see docs/BENCHMARKS.md):
  * each contender's ``setup()`` builds its data and returns ``step``, a
    zero-argument callable doing one unit of work;
  * warm-up calls, then a calibration that picks ``inner``: how many calls
    make one repetition last at least ``min_time``;
  * ``reps`` repetitions INTERLEAVED: repetition r times every contender once
    (round-robin, the starting contender rotating with r), so that a drift of
    the machine (another process, turbo, thermal) hits all of them alike;
  * a ``pause`` before each timed repetition: the previous library's BLAS and
    OpenMP threads spin for a while after their last call and slow the next
    library's calls (measured: 4x);
  * per contender: the median of the per-call times, and the min-max spread.

A setup raising :class:`Skip` (or ImportError / AttributeError: a feature
that is missing) skips that contender; a row whose subject is skipped is
reported as skipped, never as a failure.
"""
import datetime
import gc
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass, field


__all__ = ["Skip", "Contender", "Target", "Row", "Settings", "measure", "run_row", "run_suite"]

SUBJECT = "tinygrad_kr"


class Skip(Exception):
    """Raised by a setup: this contender (or row) cannot run here, and why."""


@dataclass
class Contender:
    name: str                 # 'tinygrad_kr', 'torch', 'numpy', 'torch (foreach)', 'copy'...
    setup: object             # () -> step callable (time rows) or () -> value (value rows)
    role: str = "other"       # 'subject' | 'torch' | 'numpy' | 'other'
    sync: object = None       # () -> None, waits for the device (CUDA rows)


@dataclass
class Target:
    """A goal for the subject, shown in the report (never a failing test).

    ratio = value(subject) / value(ref)   (time or bytes: lower is better)
    or, with ``invert``, value(ref) / value(subject) (a throughput ratio).
    """
    ref: str                  # the contender's name
    op: str                   # '<=' or '>='
    value: float
    text: str
    invert: bool = False

    def ratio(self, values):
        s, r = values.get(SUBJECT), values.get(self.ref)
        if s is None or r is None or s <= 0 or r <= 0:
            return None
        return r / s if self.invert else s / r

    def met(self, values):
        x = self.ratio(values)
        if x is None:
            return None
        return x <= self.value if self.op == "<=" else x >= self.value


@dataclass
class Row:
    name: str                 # stable, '/'-separated: 'gemm/1024^3', 'train/mlp-b128-adam'
    title: str                # one line for the report
    contenders: list
    kind: str = "time"        # 'time' (seconds per call) or 'value' (one number, e.g. bytes)
    unit: str = "s"           # 's' or 'B'
    flops: float = None       # per call: GFLOP/s column
    bytes: float = None       # per call, memory traffic: GB/s column
    targets: list = field(default_factory=list)
    warmup: int = 3
    min_time: float = None    # overrides the suite's (e.g. one epoch per repetition: 0)
    reps: int = None          # overrides the suite's
    note: str = ""
    skip: str = None          # the whole row cannot run (reason)


@dataclass
class Settings:
    reps: int = 5
    warmup: int = 3
    min_time: float = 0.2
    pause: float = 0.25
    quick: bool = False
    device: str = "cpu"
    threads: int = 1


# -- timing ------------------------------------------------------------------

def _timed(fn, n, sync, timer):
    t0 = timer()
    for _ in range(n):
        fn()
    if sync is not None:
        sync()
    return timer() - t0


def calibrate(fn, min_time, sync=None, timer=time.perf_counter, max_inner=1_000_000):
    """How many calls of ``fn`` last about ``min_time`` (at least 1)."""
    if min_time <= 0:
        return 1
    n = 1
    while True:
        dt = _timed(fn, n, sync, timer)
        if dt >= min_time / 4 or n >= max_inner:
            break
        n = min(max_inner, n * (10 if dt <= 0 else max(2, min(100, int(min_time / 4 / dt) + 1))))
    return max(1, min(max_inner, int(round(n * min_time / dt)) if dt > 0 else n))


def measure(steps, reps, warmup=3, min_time=0.2, pause=0.25, syncs=None,
            timer=time.perf_counter, sleep=time.sleep, log=None):
    """Time ``steps`` ({name: zero-arg callable}) with interleaved repetitions.

    Returns ``(times, inner)``: {name: [seconds per call, one per repetition]}
    and {name: calls per repetition}.  ``log`` (a list), when given, receives
    ``(rep, name)`` in the order the repetitions ran.
    """
    syncs = syncs or {}
    names = list(steps)
    inner = {}
    for name in names:
        fn, sync = steps[name], syncs.get(name)
        last = 0.0
        for _ in range(warmup):
            last = _timed(fn, 1, sync, timer)
        # a warm call that already lasts min_time needs no calibration
        inner[name] = 1 if warmup and last >= min_time else calibrate(fn, min_time, sync, timer)
    times = {name: [] for name in names}
    gc.collect()              # a full collection once (100+ ms with PyTorch loaded) ...
    for rep in range(reps):
        k = rep % len(names)
        for name in names[k:] + names[:k]:      # round-robin, rotating start
            gc.collect(1)     # ... and the young generations before every repetition
            sleep(pause)
            n = inner[name]
            times[name].append(_timed(steps[name], n, syncs.get(name), timer) / n)
            if log is not None:
                log.append((rep, name))
    return times, inner


def summarize(samples):
    return {"median": statistics.median(samples), "min": min(samples), "max": max(samples),
            "samples": list(samples)}


# -- one row -------------------------------------------------------------------

def _skip_reason(exc):
    if isinstance(exc, Skip):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def run_row(row, settings):
    """Run one row; returns its result dict (JSON-ready)."""
    res = {"name": row.name, "title": row.title, "kind": row.kind, "unit": row.unit,
           "flops": row.flops, "bytes": row.bytes, "note": row.note,
           "status": "ok", "reason": None, "contenders": {}, "skipped": {},
           "targets": [], "roles": {c.name: c.role for c in row.contenders}}
    if row.skip:
        res.update(status="skipped", reason=row.skip)
        return res
    steps, syncs = {}, {}
    for c in row.contenders:
        try:
            fn = c.setup()
            if row.kind == "time":
                fn()               # one call here: a missing feature skips this contender only
            steps[c.name] = fn
            if c.sync is not None:
                syncs[c.name] = c.sync
        except (Skip, ImportError, AttributeError, NotImplementedError) as e:
            res["skipped"][c.name] = _skip_reason(e)
        except Exception as e:  # noqa: BLE001 (a bug in a contender: report it, go on)
            res["skipped"][c.name] = f"error in setup: {_skip_reason(e)}"
            if c.role == "subject":
                res.update(status="error", reason=res["skipped"][c.name],
                           traceback=traceback.format_exc())
                return res
    res["note"] = row.note   # a setup may have completed it (the data source...)
    if SUBJECT not in steps:
        res.update(status="skipped", reason=res["skipped"].get(SUBJECT, "no tinygrad_kr contender"))
        return res
    try:
        if row.kind == "value":
            for name, fn in steps.items():
                try:
                    out = fn()
                except (Skip, ImportError, AttributeError, NotImplementedError) as e:
                    if name == SUBJECT:
                        raise
                    res["skipped"][name] = _skip_reason(e)
                    continue
                extra = out.get("extra", {}) if isinstance(out, dict) else {}
                v = float(out["value"] if isinstance(out, dict) else out)
                res["contenders"][name] = {"median": v, "min": v, "max": v, "samples": [v],
                                           "extra": extra}
        else:
            reps = row.reps or settings.reps
            min_time = settings.min_time if row.min_time is None else row.min_time
            times, inner = measure(steps, reps, min(row.warmup, settings.warmup) if settings.quick
                                   else row.warmup, min_time, settings.pause, syncs)
            for name in steps:
                res["contenders"][name] = dict(summarize(times[name]), inner=inner[name])
    except (Skip, ImportError, AttributeError, NotImplementedError) as e:
        res.update(status="skipped", reason=_skip_reason(e))
        return res
    except Exception as e:  # noqa: BLE001
        res.update(status="error", reason=_skip_reason(e), traceback=traceback.format_exc())
        return res
    finally:
        steps.clear()
    medians = {n: c["median"] for n, c in res["contenders"].items()}
    for role in ("torch", "numpy"):
        ref = next((c.name for c in row.contenders if c.role == role and c.name in medians), None)
        ok = ref is not None and medians[ref] > 0
        res[f"ratio_{role}"] = medians[SUBJECT] / medians[ref] if ok else None
    for t in row.targets:
        res["targets"].append({"text": t.text, "ref": t.ref, "op": t.op, "value": t.value,
                               "ratio": t.ratio(medians), "met": t.met(medians)})
    return res


# -- the environment -------------------------------------------------------------

def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _mem_total_gib():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def _loadavg():
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (OSError, AttributeError):
        return None


def _git_commit():
    try:
        here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=here, timeout=5,
                             capture_output=True, text=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=here, timeout=5, capture_output=True, text=True)
        return out.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "") or None
    except Exception:  # noqa: BLE001
        return None


def setup_threads(n):
    """Set every library's thread count to ``n``; returns what was set (for the header).

    The environment variables were set by ``bench.__main__`` before NumPy
    loaded; here PyTorch, tinygrad_kr's OpenMP and, through threadpoolctl
    (optional), the OpenBLAS copies of NumPy and SciPy.
    """
    env_vars = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    state = {"requested": n, "env": {v: os.environ.get(v) for v in env_vars}}
    import importlib
    importlib.import_module("scipy.linalg")  # load SciPy's OpenBLAS so threadpoolctl sees it
    try:
        import torch
        torch.set_num_threads(n)
        try:
            torch.set_num_interop_threads(1)
        except RuntimeError:  # already set, or parallel work already started
            pass
        state["torch"] = {"num_threads": torch.get_num_threads(),
                          "interop_threads": torch.get_num_interop_threads()}
    except ImportError:
        state["torch"] = None
    try:
        from threadpoolctl import threadpool_info, threadpool_limits
        threadpool_limits(limits=n)
        state["threadpoolctl"] = [
            {"api": i.get("internal_api"), "lib": os.path.basename(i.get("filepath", "")),
             "version": i.get("version"), "num_threads": i.get("num_threads")}
            for i in threadpool_info()]
    except ImportError:
        state["threadpoolctl"] = "not installed (pip install threadpoolctl): env variables only"
    try:
        # Last: threadpool_limits raised SciPy's BLAS, which tinygrad_kr keeps
        # at one thread while its OpenMP team splits the GEMMs.
        import tinygrad_kr
        tinygrad_kr.set_num_threads(n)
        state["tinygrad_kr"] = {"num_threads": tinygrad_kr.get_num_threads(),
                                "gemm": tinygrad_kr.config.config()["gemm_threading"]}
    except Exception as e:  # noqa: BLE001
        state["tinygrad_kr"] = f"unavailable ({e})"
    return state


def environment(args, threads):
    def version(mod):
        try:
            return __import__(mod).__version__
        except Exception:  # noqa: BLE001
            return None
    try:
        import tinygrad_kr
        cfg = tinygrad_kr.config.config() if hasattr(tinygrad_kr, "config") else {}
        tkr = {"version": tinygrad_kr.__version__,
               "compiled_extension": cfg.get("compiled_extension"),
               "openmp": cfg.get("openmp"), "num_threads": cfg.get("num_threads"),
               "blas": cfg.get("blas"), "kernel_mode": cfg.get("kernel_mode"),
               "kernels_compiled": f"{cfg.get('compiled_count')}/{cfg.get('kernel_count')}",
               "autograd_core": cfg.get("autograd_core"),
               "kernels_numpy": sorted(k for k, v in cfg.get("kernels", {}).items()
                                       if v != "compiled"),
               "build_errors": cfg.get("build_errors")}
    except Exception as e:  # noqa: BLE001
        tkr = {"error": str(e)}
    try:
        aff = len(os.sched_getaffinity(0))
    except AttributeError:
        aff = None
    return {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "command": " ".join(["python -m bench"] + sys.argv[1:]),
        "git": _git_commit(),
        "machine": {"cpu": _cpu_model(), "logical_cpus": os.cpu_count(), "affinity_cpus": aff,
                    "memory_gib": _mem_total_gib(), "loadavg_at_start": _loadavg()},
        "os": platform.platform(),
        "python": platform.python_version(),
        "versions": {m: version(m) for m in ("numpy", "scipy", "torch", "cupy", "threadpoolctl",
                                             "psutil")},
        "threads": threads,
        "tinygrad_kr": tkr,
        "settings": {"device": args.device, "quick": args.quick, "only": args.only},
    }


# -- formatting -------------------------------------------------------------------

def fmt_time(s):
    if s is None:
        return "-"
    for unit, scale in (("s", 1), ("ms", 1e-3), ("us", 1e-6)):
        if s >= scale:
            return f"{s / scale:.3g} {unit}"
    return f"{s / 1e-9:.3g} ns"


def fmt_bytes(b):
    return "-" if b is None else f"{b / 2**20:.1f} MiB"


def fmt_value(res, name, spread=True):
    c = res["contenders"].get(name)
    if c is None:
        return "skip" if name in res["skipped"] else "-"
    if res["unit"] == "B":
        return fmt_bytes(c["median"])
    text = fmt_time(c["median"])
    if spread and c["median"] > 0 and len(c["samples"]) > 1:
        text += f" ±{50 * (c['max'] - c['min']) / c['median']:.0f}%"
    return text


def fmt_ratio(x):
    return "-" if x is None else f"{x:.2f}x"


def _role_name(res, role):
    return next((n for n, r in res["roles"].items() if r == role), None)


def throughput(res):
    """The GFLOP/s or GB/s column, and the subject's share of the copy bandwidth."""
    parts = []
    for key, unit in (("flops", "GFLOP/s"), ("bytes", "GB/s")):
        work = res.get(key)
        if not work:
            continue
        vals = [f"{'tkr' if n == SUBJECT else n} {work / c['median'] / 1e9:.3g}"
                for n, c in res["contenders"].items() if c["median"] > 0]
        parts.append(", ".join(vals) + " " + unit)
    s, copy = res["contenders"].get(SUBJECT), res["contenders"].get("copy")
    if s and copy and s["median"] > 0:
        parts.append(f"tkr at {100 * copy['median'] / s['median']:.0f}% of copy bandwidth")
    return "; ".join(parts)


def others(res):
    """Contenders with role 'other': their time and the subject's ratio to them."""
    s = res["contenders"].get(SUBJECT)
    parts = []
    for name, c in res["contenders"].items():
        for key, v in c.get("extra", {}).items():
            label = "tkr" if name == SUBJECT else name
            parts.append(f"{label} {key} {fmt_bytes(v) if res['unit'] == 'B' else v}")
    for name, role in res["roles"].items():
        if role != "other":
            continue
        c = res["contenders"].get(name)
        if c is None:
            parts.append(f"{name}: skipped")
        elif res["unit"] == "B":
            parts.append(f"{name} {fmt_bytes(c['median'])}")
        else:
            ratio = f" (tkr {s['median'] / c['median']:.2f}x)" if s and c["median"] > 0 else ""
            parts.append(f"{name} {fmt_time(c['median'])}{ratio}")
    return "; ".join(parts)


def target_text(res):
    if not res["targets"]:
        return "", ""
    texts, mets = [], []
    for t in res["targets"]:
        texts.append(t["text"])
        got = "-" if t["ratio"] is None else f"{t['ratio']:.2f}"
        mets.append("n/a" if t["met"] is None else (f"yes ({got})" if t["met"] else f"NO ({got})"))
    return "; ".join(texts), "; ".join(mets)


COLUMNS = ("row", "tinygrad_kr", "PyTorch", "NumPy", "tkr/torch", "tkr/numpy", "target", "met?")


def table_rows(results, spread=True):
    out = []
    for res in results:
        if res["status"] != "ok":
            out.append((res["name"], f"{res['status'].upper()}: {res['reason']}", "", "", "", "",
                        "", ""))
            continue
        torch_name, numpy_name = _role_name(res, "torch"), _role_name(res, "numpy")
        tt, met = target_text(res)
        out.append((res["name"], fmt_value(res, SUBJECT, spread),
                    fmt_value(res, torch_name, spread) if torch_name else "-",
                    fmt_value(res, numpy_name, spread) if numpy_name else "-",
                    fmt_ratio(res.get("ratio_torch")), fmt_ratio(res.get("ratio_numpy")), tt, met))
    return out


def format_text(results):
    rows = table_rows(results)
    ok = [r for r in rows if not r[1].startswith(("SKIPPED", "ERROR"))]
    widths = [max([len(COLUMNS[i])] + [len(r[i]) for r in ok]) for i in range(len(COLUMNS))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(COLUMNS, widths))]
    lines.append("  ".join("-" * w for w in widths))
    for r, res in zip(rows, results):
        if r[1].startswith(("SKIPPED", "ERROR")):
            lines.append(f"{r[0].ljust(widths[0])}  {r[1]}")
            continue
        lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
        extra = "; ".join(x for x in (throughput(res), others(res)) if x)
        if extra:
            lines.append(" " * (widths[0] + 2) + extra)
    return "\n".join(lines)


def format_header(env):
    m, t, k = env["machine"], env["threads"], env["tinygrad_kr"]
    v = env["versions"]
    lines = [
        f"tinygrad_kr benchmark  {env['date']}  git {env['git']}  ({env['command']})",
        f"machine : {m['cpu']}, {m['logical_cpus']} logical CPUs ({m['affinity_cpus']} usable), "
        f"{m['memory_gib']} GiB, load average {m['loadavg_at_start']} at start"
        + (f", {m['loadavg_at_end']} at end" if m.get("loadavg_at_end") else ""),
        f"os      : {env['os']}, Python {env['python']}",
        "versions: " + ", ".join(f"{n} {x}" for n, x in v.items() if x),
        f"threads : {t['requested']} requested; env " +
        " ".join(f"{a}={b}" for a, b in t["env"].items()) +
        (f"; torch {t['torch']['num_threads']} (interop {t['torch']['interop_threads']})"
         if t.get("torch") else "; torch not installed") +
        (f"; tinygrad_kr OpenMP {t['tinygrad_kr']['num_threads']} ({t['tinygrad_kr']['gemm']})"
         if isinstance(t.get("tinygrad_kr"), dict) else f"; tinygrad_kr {t.get('tinygrad_kr')}"),
    ]
    load = m.get("loadavg_at_start")
    if load and load[0] > 1.0:
        lines.append(f"WARNING : load average {load[0]} at start: other processes compete for the "
                     "cores; multi-threaded (OpenMP) timings suffer most (a descheduled thread "
                     "stalls every barrier)")
    tp = t.get("threadpoolctl")
    if isinstance(tp, list):
        lines.append("threadpoolctl: " + ", ".join(
            f"{i['lib']} ({i['api']} {i['version']}) {i['num_threads']}" for i in tp))
    else:
        lines.append(f"threadpoolctl: {tp}")
    if "error" in k:
        lines.append(f"tinygrad_kr: import failed: {k['error']}")
    else:
        lines.append(f"tinygrad_kr {k['version']}: compiled extension {k['compiled_extension']}, "
                     f"OpenMP {k['openmp']}, kernels compiled {k['kernels_compiled']}, "
                     f"autograd core {k.get('autograd_core')}, "
                     f"BLAS {k['blas']}, mode {k['kernel_mode']}")
        if k.get("kernels_numpy"):
            lines.append("  on the NumPy twins: " + ", ".join(k["kernels_numpy"]))
    return "\n".join(lines)


def format_markdown(env, results):
    lines = ["# Benchmark results", "", "```", format_header(env), "```", "",
             "Times are the median per call over interleaved repetitions, ± half the min-max "
             "spread relative to the median; ratios are tinygrad_kr / other (lower is better "
             "for time and memory).", "",
             "| " + " | ".join(COLUMNS) + " | throughput / other contenders |",
             "|" + "---|" * (len(COLUMNS) + 1)]
    for r, res in zip(table_rows(results), results):
        if res["status"] != "ok":
            lines.append(f"| {r[0]} | {r[1]} |" + " |" * (len(COLUMNS) - 1))
            continue
        extra = "; ".join(x for x in (throughput(res), others(res)) if x)
        lines.append("| " + " | ".join(r) + f" | {extra} |")
    lines.append("")
    lines.append("Rows:")
    lines.append("")
    for res in results:
        skipped = "; ".join(f"{n} skipped ({why})" for n, why in res["skipped"].items())
        note = f" {res['note']}" if res["note"] else ""
        lines.append(f"* `{res['name']}`: {res['title']}{note}"
                     + (f" — {skipped}" if skipped else ""))
    return "\n".join(lines) + "\n"


# -- the suite --------------------------------------------------------------------

def all_rows(ctx):
    from . import rows_kernels, rows_memory, rows_training, rows_cuda
    if ctx.device == "cuda":
        return rows_cuda.rows(ctx)
    return rows_kernels.rows(ctx) + rows_training.rows(ctx) + rows_memory.rows(ctx)


def select(rows, pattern):
    if not pattern:
        return rows
    try:
        rx = re.compile(pattern)
    except re.error:
        rx = None
    return [r for r in rows if pattern in r.name or (rx is not None and rx.search(r.name))]


def settings_from_args(args):
    quick = args.quick
    return Settings(reps=args.reps or (3 if quick else 5), warmup=1 if quick else 3,
                    min_time=(0.02 if quick else 0.2) if args.min_time is None else args.min_time,
                    pause=args.pause if args.pause is not None else (0.02 if quick else 0.25),
                    quick=quick, device=args.device, threads=args.threads)


def save(out_dir, env, results):
    os.makedirs(out_dir, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    doc = {"environment": env, "rows": results}
    md = format_markdown(env, results)
    paths = []
    for base in (f"bench-{stamp}", "latest"):
        with open(os.path.join(out_dir, base + ".json"), "w") as f:
            json.dump(doc, f, indent=1, default=str)
        with open(os.path.join(out_dir, base + ".md"), "w") as f:
            f.write(md)
        paths.append(os.path.join(out_dir, base + ".{json,md}"))
    return paths


def run_suite(args):
    settings = settings_from_args(args)
    rows = select(all_rows(settings), args.only)
    if args.list:
        for r in rows:
            print(f"{r.name:34s} {r.title}")
        return 0
    if not rows:
        print(f"no row matches {args.only!r} (python -m bench --list)", file=sys.stderr)
        return 2
    threads = setup_threads(settings.threads)
    env = environment(args, threads)
    print(format_header(env), flush=True)
    print(f"\n{len(rows)} rows; {settings.reps} interleaved repetitions of >= "
          f"{settings.min_time} s, "
          f"pause {settings.pause} s\n", flush=True)
    results = []
    t0 = time.perf_counter()
    for row in rows:
        t_row = time.perf_counter()
        res = run_row(row, settings)
        res["wall_s"] = round(time.perf_counter() - t_row, 2)
        res["loadavg_after"] = _loadavg()     # was the machine quiet during this row?
        results.append(res)
        status = "ok" if res["status"] == "ok" else f"{res['status']}: {res['reason']}"
        load = f"load {res['loadavg_after'][0]:.2f}" if res["loadavg_after"] else ""
        print(f"  {row.name:34s} {res['wall_s']:6.1f} s  {load}  {status}", flush=True)
    env["machine"]["loadavg_at_end"] = _loadavg()
    print(f"\n{format_text(results)}\n")
    print(f"total {time.perf_counter() - t0:.1f} s; load average at the end "
          f"{env['machine']['loadavg_at_end']}")
    if not args.no_save:
        for p in save(args.out, env, results):
            print(f"wrote {p}")
    return 0
