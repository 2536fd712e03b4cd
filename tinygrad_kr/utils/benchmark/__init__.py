"""torch.utils.benchmark for this engine: time a statement, the way PyTorch's
tutorials do it, and compare the results in a table.

    from tinygrad_kr.utils.benchmark import Timer, Compare
    t = Timer("x @ x", globals={"x": x}, label="matmul", sub_label="64x64",
              description="tinygrad_kr", num_threads=1)
    m = t.blocked_autorange(min_run_time=0.2)      # a Measurement: m.median, m.iqr, m.times
    Compare([m, ...]).print()

The loop is Python's ``timeit`` (the statement compiled once, run ``number``
times per measurement); ``num_threads`` pins the engine's threads
(``tinygrad_kr.set_num_threads``) while it measures.  Statistics, the
printed forms and the block-size rule follow PyTorch's, so numbers from the
two libraries line up in one Compare table only if you pass both kinds of
Measurement through the same code: this module's Compare reads any object
with ``task_spec``-like fields (label, sub_label, description, num_threads,
env) and ``median`` / ``significant_figures``.
"""
import collections
import dataclasses
import math
import statistics
import textwrap
import timeit as _timeit

__all__ = ["Timer", "Measurement", "TaskSpec", "Compare", "select_unit", "trim_sigfig"]

_IQR_WARN_THRESHOLD = 0.1
_IQR_GROSS_WARN_THRESHOLD = 0.25
_MAX_SIGNIFICANT_FIGURES = 4
_MIN_CONFIDENCE_INTERVAL = 25e-9     # seconds: timing resolution, roughly


@dataclasses.dataclass(frozen=True)
class TaskSpec:
    """What was timed (PyTorch's fields)."""
    stmt: str
    setup: str = "pass"
    global_setup: str = ""
    label: str = None
    sub_label: str = None
    description: str = None
    env: str = None
    num_threads: int = 1

    @property
    def title(self):
        if self.label is not None:
            return self.label + (f": {self.sub_label}" if self.sub_label else "")
        if "\n" not in self.stmt:
            return self.stmt + (f": {self.sub_label}" if self.sub_label else "")
        return (f"stmt:{f' ({self.sub_label})' if self.sub_label else ''}\n"
                f"{textwrap.indent(self.stmt, '  ')}")

    def setup_str(self):
        if self.setup == "pass" or not self.setup:
            return ""
        if "\n" in self.setup:
            return f"setup:\n{textwrap.indent(self.setup, '  ')}"
        return f"setup: {self.setup}"

    def summarize(self):
        sections = [self.title, self.description or "", self.setup_str()]
        return "\n".join(f"{s}\n" if "\n" in s else s for s in sections if s)


def select_unit(t):
    """The unit ('ns', 'us', 'ms', 's') and its scale for a time in seconds."""
    unit = {-3: "ns", -2: "us", -1: "ms"}.get(int(math.log10(t) // 3) if t > 0 else -3, "s")
    return unit, {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[unit]


def trim_sigfig(x, n):
    """``x`` rounded to ``n`` significant figures (3.14159, 2 -> 3.1)."""
    if n != int(n):
        raise AssertionError("Number of significant figures must be an integer")
    if x == 0:
        return 0.0
    magnitude = math.ceil(math.log10(abs(x)))
    scale = 10.0 ** (magnitude - n)
    return float(round(x / scale) * scale)


def _quantile(sorted_values, q):
    """Linear interpolation between the closest ranks (PyTorch's and NumPy's default)."""
    position = (len(sorted_values) - 1) * q
    lo = math.floor(position)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (position - lo)


class Measurement:
    """The result of a Timer measurement: ``raw_times`` (seconds per block of
    ``number_per_run`` runs) and the statistics of the per-run ``times``."""

    def __init__(self, number_per_run, raw_times, task_spec, metadata=None):
        self.number_per_run, self.raw_times = number_per_run, list(raw_times)
        self.task_spec, self.metadata = task_spec, metadata
        self._sorted = None

    def __getattr__(self, name):
        if name in ("stmt", "setup", "global_setup", "label", "sub_label", "description",
                    "env", "num_threads", "title"):
            return getattr(self.task_spec, name)
        raise AttributeError(f"'Measurement' object has no attribute {name!r}")

    @property
    def times(self):
        return [t / self.number_per_run for t in self.raw_times]

    def _stats(self):
        if self._sorted is None:
            if not self.raw_times:
                raise ValueError("a Measurement needs at least one time")
            self._sorted = sorted(self.times)
        return self._sorted

    @property
    def median(self):
        return _quantile(self._stats(), 0.5)

    @property
    def mean(self):
        return statistics.fmean(self._stats())

    @property
    def iqr(self):
        s = self._stats()
        return _quantile(s, 0.75) - _quantile(s, 0.25)

    def meets_confidence(self, threshold=_IQR_WARN_THRESHOLD):
        return self.iqr / self.median < threshold

    @property
    def _warnings(self):
        if self.meets_confidence(_IQR_WARN_THRESHOLD):
            return ()
        why = ("This suggests significant environmental influence."
               if not self.meets_confidence(_IQR_GROSS_WARN_THRESHOLD)
               else "This could indicate system fluctuation.")
        return (f"  WARNING: Interquartile range is {self.iqr / self.median * 100:.1f}% "
                f"of the median measurement.\n           {why}",)

    @property
    def has_warnings(self):
        return bool(self._warnings)

    @property
    def significant_figures(self):
        """How many digits the interquartile spread supports (1 to 4), PyTorch's estimate."""
        s = self._stats()
        n = len(s)
        middle = s[n // 4:math.ceil(3 * n / 4)]
        spread = statistics.pstdev(middle) if len(middle) > 1 else 0.0
        interval = max(1.645 * spread / math.sqrt(len(middle)), _MIN_CONFIDENCE_INTERVAL)
        figures = math.floor(math.log10(self.median / interval))
        return min(max(figures, 1), _MAX_SIGNIFICANT_FIGURES)

    @property
    def as_row_name(self):
        return self.task_spec.sub_label or self.task_spec.stmt or "[Unknown]"

    def __repr__(self):
        s = self._stats()
        n = len(s)
        unit, scale = select_unit(self.median)
        lines = [object.__repr__(self),
                 self.task_spec.summarize(),
                 f"  {'Median: ' if n > 1 else ''}{self.median / scale:.2f} {unit}"]
        if n >= 4:
            lines.append(f"  IQR:    {self.iqr / scale:.2f} {unit} "
                         f"({_quantile(s, 0.25) / scale:.2f} to {_quantile(s, 0.75) / scale:.2f})")
        threads = self.task_spec.num_threads
        lines.append(f"  {n} measurement{'s' if n > 1 else ''}, {self.number_per_run} runs "
                     f"{'per measurement,' if n > 1 else ','} {threads} "
                     f"thread{'s' if threads > 1 else ''}")
        lines.extend(self._warnings)
        return "\n".join(lines)

    @staticmethod
    def merge(measurements):
        """Replicates of one task as one Measurement each (times per run)."""
        groups = collections.defaultdict(list)
        for m in measurements:
            groups[m.task_spec].extend(m.times)
        return [Measurement(1, times, spec) for spec, times in groups.items()]


class _Threads:
    """The engine's thread count set for a measurement, then put back."""

    def __init__(self, n):
        self.n = n

    def __enter__(self):
        from ... import config
        self.before = config.get_num_threads()
        config.set_num_threads(self.n)

    def __exit__(self, *exc):
        from ... import config
        config.set_num_threads(self.before)
        return False


class Timer:
    """Time ``stmt`` (a string run in ``globals``, where ``torch`` is this
    package as in PyTorch's Timer; or a callable) after ``setup``."""

    def __init__(self, stmt="pass", setup="pass", global_setup="", timer=_timeit.default_timer,
                 globals=None, label=None, sub_label=None, description=None, env=None,
                 num_threads=1, language="python"):
        if str(getattr(language, "value", language)).lower() not in ("python", "py"):
            raise ValueError(f"only Python statements can be timed here, got language={language!r}")
        if not isinstance(num_threads, int) or num_threads < 1:
            raise ValueError(f"num_threads must be a positive integer, got {num_threads!r}")
        import tinygrad_kr
        namespace = {"torch": tinygrad_kr}
        namespace.update(globals or {})
        if global_setup:
            exec(global_setup, namespace)
        self._timer = _timeit.Timer(stmt=stmt, setup=setup, timer=timer, globals=namespace)
        self._task_spec = TaskSpec(
            stmt=stmt if isinstance(stmt, str) else getattr(stmt, "__qualname__", repr(stmt)),
            setup=setup if isinstance(setup, str) else getattr(setup, "__qualname__", repr(setup)),
            global_setup=global_setup, label=label, sub_label=sub_label,
            description=description, env=env, num_threads=num_threads)

    def _timeit(self, number):
        return self._timer.timeit(number=max(int(number), 1))

    def timeit(self, number=1000000):
        """One measurement of ``number`` runs, after a warm-up of number // 100."""
        with _Threads(self._task_spec.num_threads):
            self._timeit(max(number // 100, 2))
            return Measurement(number, [self._timeit(number)], self._task_spec)

    def repeat(self, repeat=-1, number=-1):
        raise NotImplementedError("See `Timer.blocked_autorange.`")

    def autorange(self, callback=None):
        raise NotImplementedError("See `Timer.blocked_autorange.`")

    def _estimate_block_size(self, min_run_time):
        """Runs per block: until the timer's own overhead is < 1e-4 of a block
        and a block lasts min_run_time / 1000 (PyTorch's rule; also the warm-up)."""
        with _Threads(self._task_spec.num_threads):
            overhead = statistics.median(self._timer.timeit(number=0) for _ in range(5))
            number = 1
            while True:
                taken = self._timeit(number)
                if overhead / max(taken, 1e-12) <= 1e-4 and taken >= min_run_time / 1000:
                    break
                if taken > min_run_time or number * 10 > 2147483647:
                    break
                number *= 10
        return number

    def _measurement_loop(self, number, stop, min_run_time, max_run_time=None, callback=None):
        total, times, can_stop = 0.0, [], False
        with _Threads(self._task_spec.num_threads):
            while total < min_run_time or not can_stop:
                spent = self._timeit(number)
                times.append(spent)
                total += spent
                if callback:
                    callback(number, spent)
                can_stop = stop(times)
                if max_run_time and total > max_run_time:
                    break
        return times

    def blocked_autorange(self, callback=None, min_run_time=0.2):
        """Blocks of a fixed number of runs until ``min_run_time`` seconds were spent."""
        number = self._estimate_block_size(min_run_time)
        times = self._measurement_loop(number, lambda times: True, min_run_time, callback=callback)
        return Measurement(number, times, self._task_spec)

    def adaptive_autorange(self, threshold=0.1, *, min_run_time=0.01, max_run_time=10.0,
                           callback=None):
        """Blocks until iqr / median < ``threshold`` (with > 3 blocks and
        ``min_run_time`` spent) or ``max_run_time`` is reached."""
        number = self._estimate_block_size(min_run_time=0.05)

        def stop(times):
            return len(times) > 3 and Measurement(number, times, self._task_spec) \
                .meets_confidence(threshold)
        times = self._measurement_loop(number, stop, min_run_time, max_run_time, callback)
        return Measurement(number, times, self._task_spec)


# -- Compare: PyTorch's table ------------------------------------------------------------

_BEST, _GOOD, _BAD, _VERY_BAD = "\033[92m", "\033[34m", "\033[2m\033[91m", "\033[31m"
_BOLD, _TERMINATE = "\033[1m", "\033[0m"


class Compare:
    """Measurements as one table per label: a row per sub_label (or stmt),
    a column per description, a block per thread count; times in one unit
    per table, as PyTorch's Compare prints them."""

    def __init__(self, results):
        self._results = []
        self.extend_results(results)
        self._trim_significant_figures = False
        self._colorize = None           # None, "columnwise" or "rowwise"
        self._highlight_warnings = False

    def extend_results(self, results):
        for r in results:
            if not hasattr(r, "task_spec") or not hasattr(r, "median"):
                raise ValueError(f"Expected an instance of `Measurement`, got {type(r)} instead.")
        self._results.extend(results)

    def trim_significant_figures(self):
        self._trim_significant_figures = True

    def colorize(self, rowwise=False):
        self._colorize = "rowwise" if rowwise else "columnwise"

    def highlight_warnings(self):
        self._highlight_warnings = True

    def print(self):
        print(str(self))

    def __str__(self):
        by_label = collections.OrderedDict()
        for m in Measurement.merge(self._results) if self._results else []:
            by_label.setdefault(m.task_spec.label, []).append(m)
        return "\n".join(self._table(label, group) for label, group in by_label.items())

    def _table(self, label, results):
        columns = list(dict.fromkeys(r.task_spec.description for r in results))
        rows = list(dict.fromkeys(r.as_row_name for r in results))
        threads = sorted({r.task_spec.num_threads for r in results})
        cell = {(r.task_spec.num_threads, r.as_row_name, r.task_spec.description): r
                for r in results}
        unit, scale = select_unit(min(r.median for r in results))
        body, widths = {}, []
        for c in columns:
            members = [(k, r) for k, r in cell.items() if k[2] == c]
            # PyTorch's column format: one decimal, or with trimming as many as
            # the column's least precise entry supports
            decimals = 1
            if self._trim_significant_figures:
                decimals = min(max(r.significant_figures
                                   - math.ceil(math.log10(r.median / scale)), 0)
                               for _, r in members)
            for key, r in members:
                v = r.median / scale
                if self._trim_significant_figures:
                    v = trim_sigfig(v, r.significant_figures)
                text = f"{v:.{decimals}f}"
                if self._highlight_warnings and r.has_warnings:
                    text += f" (! {r.iqr / r.median * 100:.0f}%)"
                body[key] = (text, r.median)
            widths.append(max([len(str(c) if c is not None else "")] +
                              [len(body[k][0]) for k, _ in members]) + 4)
        row_width = max([len(str(n)) for n in rows] + [8])
        head = (" " * (row_width + 2) + "|" + "|".join(
            (str(c) if c is not None else "").center(w) for c, w in zip(columns, widths))).rstrip()
        title = f" {label} " if label else ""
        lines = ["[" + title.center(len(head) - 2, "-") + "]", head]
        for t in threads:
            prefix = f"{t} threads: "
            lines.append(prefix + "-" * max(len(head) - len(prefix), 3))
            for n in (n for n in rows if any((t, n, c) in body for c in columns)):
                cells = []
                for c, w in zip(columns, widths):
                    text, median = body.get((t, n, c), ("", None))
                    padded = text.center(w)
                    if self._colorize and median is not None:
                        padded = self._color(padded, median, t, n, c, body, rows, columns)
                    cells.append(padded)
                lines.append((str(n).rjust(row_width) + "  |" + "|".join(cells)).rstrip())
        lines += ["", f"Times are in {_UNIT_NAMES[unit]} ({unit}).", ""]
        if self._highlight_warnings and any(r.has_warnings for r in results):
            lines.insert(-1, "(! XX%) Measurement has high variance, where XX is the IQR / "
                             "median * 100.\n")
        return "\n".join(lines)

    def _color(self, text, median, t, n, c, body, rows, columns):
        if self._colorize == "rowwise":
            peers = [body[(t, n, cc)][1] for cc in columns if (t, n, cc) in body]
        else:
            peers = [body[(t, nn, c)][1] for nn in rows if (t, nn, c) in body]
        best = min(peers)
        if median <= best * 1.01 or median <= best + 100e-9:
            return _BEST + _BOLD + text + _TERMINATE * 2
        if median <= best * 1.1:
            return _GOOD + _BOLD + text + _TERMINATE * 2
        if median >= best * 5:
            return _VERY_BAD + _BOLD + text + _TERMINATE * 2
        if median >= best * 2:
            return _BAD + text + _TERMINATE * 2
        return text


_UNIT_NAMES = {"ns": "nanoseconds", "us": "microseconds", "ms": "milliseconds", "s": "seconds"}
