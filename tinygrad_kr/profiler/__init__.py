"""torch.profiler for this engine: where a training step spends its time.

    from tinygrad_kr.profiler import profile, record_function, ProfilerActivity

    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        with record_function("forward"):
            loss = loss_fn(model(x), y)
        loss.backward()
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=10))

What is timed (one event per call, nested as they ran):
  * each op's forward, named by its Function ("Linear", "Conv2d", "ReLU"),
  * each graph node's backward, named as ``grad_fn`` prints it ("AddmmBackward0"),
  * each compiled or NumPy kernel under them ("kernel::gemm", "kernel::conv2d_forward"),
  * ``record_function`` ranges and, with a ``schedule``, one "ProfilerStep#N" per step.
The profiler watches the graph core (autograd/observe.py) and rebinds the
kernel dispatchers (kernels._observe) only while it records, so code that is
not profiled runs as fast as ever; code that is, runs slower by a few
microseconds per event, which the table counts in.  ``profile_memory``
follows allocations with ``tracemalloc`` (NumPy reports its buffers there):
"CPU Mem" is what a call allocated less what it freed; it slows Python down
while it is on.

On a GPU (CuPy) ops are asynchronous: with ``ProfilerActivity.CUDA`` among the
activities every op event waits for the device before it ends, so its time
includes the device work (and the run is slower); without it the times are
the host's launch times.
"""
import enum
import itertools
import os
import socket
import sys
import threading
import time
import tracemalloc
import traceback
import warnings

from .. import kernels
from ..autograd import observe
from ._events import EventList, FunctionEvent, FunctionEventAvg

__all__ = ["profile", "record_function", "schedule", "ProfilerActivity", "ProfilerAction",
           "tensorboard_trace_handler", "EventList", "FunctionEvent", "FunctionEventAvg"]

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


class ProfilerActivity(enum.Enum):
    CPU = "CPU"
    CUDA = "CUDA"


class ProfilerAction(enum.Enum):
    NONE = 0
    WARMUP = 1
    RECORD = 2
    RECORD_AND_SAVE = 3


def schedule(*, wait, warmup, active, repeat=0, skip_first=0, skip_first_wait=0):
    """What the profiler does at each ``prof.step()`` (PyTorch's schedule):
    skip ``skip_first`` steps, then cycles of ``wait`` idle steps, ``warmup``
    steps run but not kept, ``active`` recorded steps (the last one hands the
    trace to ``on_trace_ready``), ``repeat`` times (0: until the end)."""
    if wait < 0 or warmup < 0 or active <= 0 or repeat < 0 or skip_first < 0:
        raise AssertionError(
            f"Invalid profiler schedule arguments. Got wait={wait} (need >= 0), warmup={warmup} "
            f"(need >= 0), active={active} (need > 0), repeat={repeat} (need >= 0), "
            f"skip_first={skip_first} (need >= 0).")
    if warmup == 0:
        warnings.warn("Profiler won't be using warmup, this can skew profiler results", stacklevel=2)

    def schedule_fn(step):
        if step < 0:
            raise AssertionError(f"Step must be non-negative. Got {step}.")
        if step < skip_first:
            return ProfilerAction.NONE
        step -= skip_first
        if skip_first_wait != 0:
            step += wait
        cycle = wait + warmup + active
        if repeat > 0 and step / cycle >= repeat:
            return ProfilerAction.NONE
        at = step % cycle
        if at < wait:
            return ProfilerAction.NONE
        if at < wait + warmup:
            return ProfilerAction.WARMUP
        return ProfilerAction.RECORD if at < cycle - 1 else ProfilerAction.RECORD_AND_SAVE

    return schedule_fn


def _always_record(step):
    return ProfilerAction.RECORD


def tensorboard_trace_handler(dir_name, worker_name=None, use_gzip=False):
    """An ``on_trace_ready`` that writes each trace into ``dir_name`` as
    ``<worker_name>.<time>.pt.trace.json`` (TensorBoard's profiler plugin and
    Perfetto read it)."""
    def handler(prof):
        os.makedirs(dir_name, exist_ok=True)
        name = worker_name or f"{socket.gethostname()}_{os.getpid()}"
        path = os.path.join(dir_name, f"{name}.{time.time_ns() // 1000000}.pt.trace.json"
                                      + (".gz" if use_gzip else ""))
        prof.export_chrome_trace(path)
    return handler


# -- recording ---------------------------------------------------------------

class _Recorder:
    """Collects the events of one recording: an observe.py watcher for the
    ops, a wrapper for the kernels, ranges for record_function."""

    def __init__(self, record_shapes, profile_memory, with_stack, sync_device):
        self.record_shapes, self.profile_memory = record_shapes, profile_memory
        self.with_stack, self.sync_device = with_stack, sync_device
        self.events = []
        self._ids = itertools.count()
        self._local = threading.local()     # the open events of each thread (a stack)
        self._lock = threading.Lock()

    # the open/close pair every kind of event goes through
    def open(self, name, kind, arrays=()):
        shapes = [list(a.shape) if hasattr(a, "shape") else [] for a in arrays] \
            if self.record_shapes else ()
        stack = _user_frames() if self.with_stack else ()
        event = FunctionEvent(next(self._ids), name, threading.get_ident(), 0.0, kind, shapes,
                              stack)
        opened = getattr(self._local, "open", None)
        if opened is None:
            opened = self._local.open = []
        if opened:
            event.cpu_parent = opened[-1]
            opened[-1].cpu_children.append(event)
        opened.append(event)
        if self.profile_memory:
            event.cpu_memory_usage = tracemalloc.get_traced_memory()[0]
        event.start_us = time.perf_counter_ns() / 1000.0
        return event

    def close(self, event):
        if self.sync_device and event.kind in ("op", "backward"):
            _synchronize_device()
        event.end_us = time.perf_counter_ns() / 1000.0
        if self.profile_memory:
            event.cpu_memory_usage = tracemalloc.get_traced_memory()[0] - event.cpu_memory_usage
        opened = self._local.open
        if opened and opened[-1] is event:
            opened.pop()
        with self._lock:
            self.events.append(event)

    # observe.py's watcher protocol
    def forward(self, fn, run, arrays):
        event = self.open(type(fn).__name__, "op", arrays)
        try:
            return run()
        finally:
            self.close(event)

    def backward(self, fn, run, arrays):
        event = self.open(fn.name(), "backward", arrays)
        try:
            return run()
        finally:
            self.close(event)

    # kernels._observe's wrapper
    def kernel(self, name, dispatcher):
        label = "kernel::" + name

        def timed(*args, **kwargs):
            event = self.open(label, "kernel", args)
            try:
                return dispatcher(*args, **kwargs)
            finally:
                self.close(event)
        timed.__name__ = timed.__qualname__ = name
        timed.__doc__ = dispatcher.__doc__
        return timed

    def finished_events(self):
        """The events in the order they started (children after parents)."""
        return sorted(self.events, key=lambda e: (e.start_us, e.id))


def _user_frames():
    """'file(line): function' of the frames that led to the event, innermost
    first, without the engine's own frames."""
    frames = [f for f in traceback.extract_stack()
              if not os.path.abspath(f.filename).startswith(_PACKAGE_DIR)]
    return [f"{f.filename}({f.lineno}): {f.name}" for f in reversed(frames)]


def _synchronize_device():
    cupy = sys.modules.get("cupy")
    if cupy is not None:
        cupy.cuda.get_current_stream().synchronize()


_active = None          # the _Recorder that records now (one at a time, as in PyTorch)


def _start(recorder):
    global _active
    if _active is not None:
        raise RuntimeError("Profiler is already enabled: one profiler records at a time.")
    _active = recorder
    if recorder.profile_memory and not tracemalloc.is_tracing():
        tracemalloc.start()
        recorder.started_tracemalloc = True
    observe.watch(recorder)
    kernels._observe(recorder.kernel)


def _stop(recorder):
    global _active
    if _active is not recorder:
        return
    kernels._observe(None)
    observe.unwatch(recorder)
    if getattr(recorder, "started_tracemalloc", False):
        tracemalloc.stop()
    _active = None


class record_function:
    """A named range in the profile (PyTorch's record_function): a context
    manager or a decorator.  Costs nothing when no profiler records."""

    def __init__(self, name, args=None):
        self.name, self.args = name, args
        self._event = self._recorder = None

    def __enter__(self):
        recorder = _active
        if recorder is not None:
            self._recorder, self._event = recorder, recorder.open(self.name, "user")
        return self

    def __exit__(self, *exc):
        if self._event is not None:
            self._recorder.close(self._event)
            self._event = self._recorder = None
        return False

    def __call__(self, func):
        import functools

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with record_function(self.name, self.args):
                return func(*args, **kwargs)
        return wrapper


class profile:
    """Record what runs between ``start()`` and ``stop()`` (or in a ``with``
    block); see the module docstring.  Arguments as PyTorch's; ``with_flops``,
    ``with_modules`` and ``experimental_config`` are accepted and ignored."""

    def __init__(self, *, activities=None, schedule=None, on_trace_ready=None, record_shapes=False,
                 profile_memory=False, with_stack=False, with_flops=False, with_modules=False,
                 experimental_config=None, execution_trace_observer=None, acc_events=False,
                 use_cuda=None, custom_trace_id_callback=None):
        activities = set(activities) if activities is not None else {ProfilerActivity.CPU}
        unknown = [a for a in activities if not isinstance(a, ProfilerActivity)]
        if unknown:
            raise ValueError(f"activities must be ProfilerActivity values, got {unknown}")
        if use_cuda:
            activities.add(ProfilerActivity.CUDA)
        self.activities = activities
        self.schedule = schedule or _always_record
        self.on_trace_ready = on_trace_ready
        self.record_shapes, self.profile_memory = record_shapes, profile_memory
        self.with_stack = with_stack
        self.acc_events = acc_events
        self.step_num = 0
        self.current_action = ProfilerAction.NONE
        self._recorder = None           # recording now
        self._events = EventList()      # the last finished recording
        self._step_event = None

    # -- the run ---------------------------------------------------------
    def start(self):
        self.step_num = 0
        self.current_action = self.schedule(self.step_num)
        self._enter(self.current_action)
        return self

    def stop(self):
        self._close_step()
        if self._recorder is not None:
            self._finish(save=self.current_action != ProfilerAction.WARMUP)
        self.current_action = ProfilerAction.NONE

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    def step(self):
        """Mark the end of a step: the schedule decides what the next one does."""
        previous = self.current_action
        self.step_num += 1
        self.current_action = action = self.schedule(self.step_num)
        self._close_step()
        if self._recorder is not None:
            if previous == ProfilerAction.RECORD_AND_SAVE or action == ProfilerAction.NONE \
                    or (previous != ProfilerAction.WARMUP and action == ProfilerAction.WARMUP):
                self._finish(save=previous != ProfilerAction.WARMUP)
            elif previous == ProfilerAction.WARMUP and action != ProfilerAction.WARMUP:
                self._recorder.events.clear()   # warm-up steps run but are not kept
        self._enter(action)

    def _enter(self, action):
        if action == ProfilerAction.NONE:
            return
        if self._recorder is None:
            self._recorder = _Recorder(self.record_shapes, self.profile_memory, self.with_stack,
                                       ProfilerActivity.CUDA in self.activities)
            _start(self._recorder)
        if self.schedule is not _always_record:
            self._step_event = self._recorder.open(f"ProfilerStep#{self.step_num}", "user")

    def _close_step(self):
        if self._step_event is not None:
            self._recorder.close(self._step_event)
            self._step_event = None

    def _finish(self, save):
        recorder, self._recorder = self._recorder, None
        _stop(recorder)
        if not save:
            return
        events = recorder.finished_events()
        if self.acc_events:
            events = list(self._events) + events
        self._events = EventList(events, profile_memory=self.profile_memory,
                                 with_shapes=self.record_shapes, with_stack=self.with_stack)
        if self.on_trace_ready is not None:
            self.on_trace_ready(self)

    # -- results ---------------------------------------------------------
    def events(self):
        """The events of the last finished recording, in the order they started."""
        return self._events

    def key_averages(self, group_by_input_shape=False, group_by_stack_n=0, group_by_overload_name=False):
        """One row per event name (and input shapes / top ``group_by_stack_n``
        frames when asked): print it with ``.table(sort_by=..., row_limit=...)``."""
        if group_by_input_shape and not self.record_shapes:
            raise RuntimeError("group_by_input_shape needs profile(record_shapes=True)")
        if group_by_stack_n and not self.with_stack:
            raise RuntimeError("group_by_stack_n needs profile(with_stack=True)")
        return self._events.key_averages(group_by_input_shape, group_by_stack_n)

    def export_chrome_trace(self, path):
        self._events.export_chrome_trace(path)

    @property
    def profiler(self):
        """PyTorch code reads ``prof.profiler.function_events`` (the legacy object)."""
        return _LegacyView(self._events)


class _LegacyView:
    def __init__(self, events):
        self.function_events = events


def __getattr__(name):
    if name == "ExecutionTraceObserver":
        raise AttributeError("tinygrad_kr.profiler has no ExecutionTraceObserver: there is no "
                             "graph trace to observe")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
