"""Anomaly detection (torch.autograd.detect_anomaly / set_detect_anomaly).

While it is on, every op that records a graph node also records where in the
program it ran (the Python stack at its forward).  In backward, a node whose
gradients contain NaN raises ``RuntimeError: Function 'DivBackward0'
returned nan values in its 0th output.``, and any error raised by a node's
backward is preceded by a warning that shows the stack of the forward call
that made the node -- the line of the model that produced the NaN, not the
line that called ``loss.backward()``.  As in PyTorch, the mode is process-wide
and slows every op down (a stack capture each); it is for debugging.
"""
import contextlib
import os
import traceback
import warnings

from ..backend import get_array_module
from . import observe

__all__ = ["detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled",
           "is_anomaly_check_nan_enabled", "set_anomaly_enabled"]

_TRACE_KEY = "traceback_"       # PyTorch's key in grad_fn.metadata


class _AnomalyWatcher:
    """The observe.py watcher: stacks at forward, checks at backward."""

    check_nan = True

    def forward(self, fn, run, arrays):
        y = run()
        if getattr(fn, "parents", None) is not None:    # a node the graph keeps
            fn.metadata[_TRACE_KEY] = _user_stack()
        return y

    def backward(self, fn, run, arrays):
        try:
            grads = run()
            if self.check_nan:
                _check_nan(fn, grads)
        except Exception:
            _warn_forward_stack(fn)
            raise
        return grads


_watcher = _AnomalyWatcher()


_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def _user_stack():
    """The stack of the op's forward call down to the program's own line: the
    engine's frames below it (Tensor.__truediv__, ops.div, this module) are
    left out, as PyTorch's C++ frames are."""
    frames = traceback.extract_stack()
    while frames and os.path.abspath(frames[-1].filename).startswith(_PACKAGE_DIR):
        frames.pop()
    return traceback.format_list(frames)


def _check_nan(fn, grads):
    for i, g in enumerate(grads if isinstance(grads, tuple) else (grads,)):
        if g is None:
            continue
        a = getattr(g, "array", g)      # a Tensor under create_graph
        xp = get_array_module(a)
        if a.dtype.kind in "fc" and bool(xp.isnan(a).any()):
            raise RuntimeError(f"Function '{fn.name()}' returned nan values in its {i}th output.")


def _warn_forward_stack(fn):
    stack = fn.metadata.get(_TRACE_KEY) if hasattr(fn, "metadata") else None
    if stack:
        message = (f"Error detected in {fn.name()}. Traceback of forward call that caused the "
                   f"error:\n" + "".join(stack))
    else:
        message = (f"Error detected in {fn.name()}. No forward pass information available. "
                   f"Enable detect anomaly during forward pass for more information.")
    warnings.warn(message, UserWarning, stacklevel=2)


def is_anomaly_enabled():
    """Whether anomaly detection is on (torch.is_anomaly_enabled)."""
    return observe.watching(_watcher)


def is_anomaly_check_nan_enabled():
    """The NaN check's setting (PyTorch keeps it while the mode is off)."""
    return _watcher.check_nan


def set_anomaly_enabled(enabled, check_nan=True):
    """Turn anomaly detection on or off (torch.set_anomaly_enabled)."""
    _watcher.check_nan = bool(check_nan)
    if enabled:
        observe.watch(_watcher)
    else:
        observe.unwatch(_watcher)


class detect_anomaly(contextlib.ContextDecorator):
    """Context manager (or decorator) that turns anomaly detection on inside it::

        with autograd.detect_anomaly():
            loss = model(x).sum()
            loss.backward()     # a NaN gradient raises, naming the op and its line
    """

    def __init__(self, check_nan=True):
        self.check_nan = check_nan
        warnings.warn("Anomaly Detection has been enabled. This mode will increase the runtime "
                      "and should only be enabled for debugging.", UserWarning, stacklevel=2)

    def __enter__(self):
        self.prev = is_anomaly_enabled(), _watcher.check_nan
        set_anomaly_enabled(True, self.check_nan)
        return self

    def __exit__(self, *exc):
        set_anomaly_enabled(*self.prev)
        return False


class set_detect_anomaly:
    """Turn anomaly detection on or off; a function or a context manager that
    restores the previous setting on exit (torch.autograd.set_detect_anomaly)."""

    def __init__(self, mode, check_nan=True):
        self.prev = is_anomaly_enabled(), _watcher.check_nan
        set_anomaly_enabled(mode, check_nan)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        set_anomaly_enabled(*self.prev)
        return False
