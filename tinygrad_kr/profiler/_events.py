"""What the profiler records and how it reports it: events, their averages per
name, the table and the Chrome trace (PyTorch's torch.autograd.profiler_util).

Times are microseconds (floats), as in PyTorch.  An event's total time runs
from its start to its end; its self time is the total less its children's
totals (the events that ran inside it on the same thread).
"""
import json
import os
import socket

__all__ = ["FunctionEvent", "FunctionEventAvg", "EventList"]


class FunctionEvent:
    """One timed call: an op's forward ("Linear"), a node's backward
    ("AddmmBackward0"), a kernel ("kernel::gemm"), or a named range
    (``record_function``, "ProfilerStep#3")."""

    def __init__(self, id, name, thread, start_us, kind, input_shapes=(), stack=()):
        self.id, self.name, self.thread, self.kind = id, name, thread, kind
        self.start_us, self.end_us = start_us, start_us
        self.input_shapes = list(input_shapes)
        self.stack = list(stack)
        self.cpu_parent = None
        self.cpu_children = []
        self.cpu_memory_usage = 0       # bytes allocated less bytes freed during the event
        self.count = 1

    @property
    def key(self):
        return self.name

    @property
    def is_user_annotation(self):
        return self.kind == "user"

    @property
    def cpu_time_total(self):
        return self.end_us - self.start_us

    @property
    def cpu_time(self):
        return self.cpu_time_total

    @property
    def self_cpu_time_total(self):
        return self.cpu_time_total - sum(child.cpu_time_total for child in self.cpu_children)

    @property
    def self_cpu_memory_usage(self):
        return self.cpu_memory_usage - sum(child.cpu_memory_usage for child in self.cpu_children)

    @property
    def time_range(self):
        return (self.start_us, self.end_us)

    def __repr__(self):
        return (f"<FunctionEvent id={self.id} name={self.name} thread={self.thread} "
                f"cpu_time_total={_format_time(self.cpu_time_total)} "
                f"self_cpu_time_total={_format_time(self.self_cpu_time_total)} "
                f"input_shapes={self.input_shapes} cpu_memory_usage={self.cpu_memory_usage}>")


class FunctionEventAvg:
    """The events of one key summed: ``count`` calls, their total and self
    times, ``cpu_time`` the average total."""

    def __init__(self, key, input_shapes=None, stack=None):
        self.key, self.input_shapes, self.stack = key, input_shapes, stack
        self.count = 0
        self.cpu_time_total = self.self_cpu_time_total = 0.0
        self.cpu_memory_usage = self.self_cpu_memory_usage = 0
        self.is_user_annotation = False

    def add(self, event):
        self.count += event.count
        self.cpu_time_total += event.cpu_time_total
        self.self_cpu_time_total += event.self_cpu_time_total
        self.cpu_memory_usage += event.cpu_memory_usage
        self.self_cpu_memory_usage += event.self_cpu_memory_usage
        self.is_user_annotation = event.is_user_annotation
        return self

    @property
    def cpu_time(self):
        return self.cpu_time_total / max(1, self.count)

    def __repr__(self):
        return (f"<FunctionEventAvg key={self.key} self_cpu_time={_format_time(self.self_cpu_time_total)} "
                f"cpu_time={_format_time(self.cpu_time)} count={self.count} "
                f"input_shapes={self.input_shapes} cpu_memory_usage={self.cpu_memory_usage}>")


class EventList(list):
    """A list of events (or of their averages) that prints as a table."""

    def __init__(self, *args, profile_memory=False, with_shapes=False, with_stack=False):
        super().__init__(*args)
        self._profile_memory, self._with_shapes = profile_memory, with_shapes
        self._with_stack = with_stack

    @property
    def self_cpu_time_total(self):
        """The sum of every event's self time: the time the profiled code ran."""
        return sum(e.self_cpu_time_total for e in self)

    def key_averages(self, group_by_input_shapes=False, group_by_stack_n=0):
        """One FunctionEventAvg per name (and per input shapes / top stack
        frames when asked), in the order the keys first ran."""
        groups = {}
        for e in self:
            key = (e.key,)
            if group_by_input_shapes:
                key += (str(e.input_shapes),)
            if group_by_stack_n > 0:
                key += tuple(e.stack[:group_by_stack_n])
            if key not in groups:
                groups[key] = FunctionEventAvg(
                    e.key, e.input_shapes if group_by_input_shapes else None,
                    e.stack[:group_by_stack_n] if group_by_stack_n > 0 else None)
            groups[key].add(e)
        return EventList(groups.values(), profile_memory=self._profile_memory,
                         with_shapes=group_by_input_shapes,
                         with_stack=group_by_stack_n > 0)

    def total_average(self):
        total = FunctionEventAvg("Total")
        for e in self:
            total.add(e)
        return total

    def table(self, sort_by=None, row_limit=100, max_src_column_width=75, max_name_column_width=55,
              max_shapes_column_width=80, header=None, top_level_events_only=False):
        """PyTorch's profiler table: one row per entry, sorted by ``sort_by``
        (an attribute: cpu_time_total, self_cpu_time_total, cpu_time, count,
        cpu_memory_usage, self_cpu_memory_usage), at most ``row_limit`` rows."""
        rows = list(self)
        if top_level_events_only:
            rows = [e for e in rows if getattr(e, "cpu_parent", None) is None]
        if sort_by is not None:
            if sort_by not in _SORT_KEYS:
                raise AttributeError(f"sort_by must be one of {', '.join(_SORT_KEYS)}, "
                                     f"got {sort_by!r}")
            rows.sort(key=lambda e: getattr(e, sort_by), reverse=True)
        if row_limit is not None and row_limit > 0:
            rows = rows[:row_limit]
        return _build_table(rows, self.self_cpu_time_total, self._profile_memory,
                            self._with_shapes, self._with_stack, header,
                            max_name_column_width, max_shapes_column_width, max_src_column_width)

    def __str__(self):
        return self.table()

    def export_chrome_trace(self, path):
        """Write the events as a Chrome trace (open in chrome://tracing or
        https://ui.perfetto.dev): one complete event per call."""
        write_chrome_trace(self, path)


_SORT_KEYS = ("cpu_time_total", "self_cpu_time_total", "cpu_time", "count",
              "cpu_memory_usage", "self_cpu_memory_usage")


def _format_time(time_us):
    if time_us >= 1e6:
        return f"{time_us / 1e6:.3f}s"
    if time_us >= 1e3:
        return f"{time_us / 1e3:.3f}ms"
    return f"{time_us:.3f}us"


def _format_memory(nbytes):
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if abs(nbytes) >= size:
            return f"{nbytes / size:.2f} {unit}"
    return f"{nbytes} B"


def _percent(part, whole):
    return f"{100.0 * part / whole:.2f}%" if whole > 0 else "0.00%"


def _clip(text, width):
    return text if len(text) <= width else text[:width - 3] + "..."


def _build_table(rows, total_self, profile_memory, with_shapes, with_stack, header,
                 max_name_width, max_shapes_width, max_src_width):
    name_width = min(max([len(e.key) for e in rows] + [4]) + 4, max_name_width)
    headers = ["Name", "Self CPU %", "Self CPU", "CPU total %", "CPU total", "CPU time avg"]
    widths = [name_width] + [12] * 5
    if profile_memory:
        headers += ["CPU Mem", "Self CPU Mem"]
        widths += [12, 12]
    headers.append("# of Calls")
    widths.append(12)
    if with_shapes:
        shapes_width = min(max([len(str(e.input_shapes)) for e in rows] + [12]) + 4,
                           max_shapes_width)
        headers.append("Input Shapes")
        widths.append(shapes_width)
    if with_stack:
        headers.append("Source Location")
        widths.append(max_src_width)
    line = "  ".join("-" * w for w in widths) + "  "
    out = []
    if header:
        out += ["=" * len(line), header]
    out += [line, "  ".join(h.rjust(w) for h, w in zip(headers, widths)) + "  ", line]
    for e in rows:
        cells = [_clip(e.key, name_width),
                 _percent(e.self_cpu_time_total, total_self), _format_time(e.self_cpu_time_total),
                 _percent(e.cpu_time_total, total_self), _format_time(e.cpu_time_total),
                 _format_time(e.cpu_time)]
        if profile_memory:
            cells += [_format_memory(e.cpu_memory_usage), _format_memory(e.self_cpu_memory_usage)]
        cells.append(str(e.count))
        if with_shapes:
            cells.append(_clip(str(e.input_shapes), widths[len(cells)]))
        if with_stack:
            cells.append(_clip(e.stack[0] if e.stack else "", max_src_width))
        out.append("  ".join(c.rjust(w) for c, w in zip(cells, widths)) + "  ")
    out += [line, f"Self CPU time total: {_format_time(total_self)}", ""]
    return "\n".join(out)


def write_chrome_trace(events, path):
    pid = os.getpid()
    trace = [{"ph": "M", "name": "process_name", "pid": pid, "tid": 0,
              "args": {"name": "python"}}]
    for e in events:
        event = {"ph": "X", "cat": "user_annotation" if e.kind == "user" else "cpu_op",
                 "name": e.name, "pid": pid, "tid": e.thread, "ts": e.start_us,
                 "dur": e.cpu_time_total, "args": {"kind": e.kind}}
        if e.input_shapes:
            event["args"]["Input Dims"] = e.input_shapes
        if e.cpu_memory_usage:
            event["args"]["CPU Mem"] = e.cpu_memory_usage
        trace.append(event)
    doc = {"traceEvents": trace, "displayTimeUnit": "ms", "host_name": socket.gethostname(),
           "traceName": str(path)}
    opener = open
    if str(path).endswith(".gz"):
        import gzip
        opener = gzip.open
    with opener(path, "wt") as f:
        json.dump(doc, f)
