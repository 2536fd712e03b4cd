"""Watching the graph core run ops: what anomaly mode and the profiler build on.

The graph core (``Function.apply`` and the backward walk in function.py, and
their compiled twin csrc/graph.pyx) calls an op's ``forward`` and
``backward`` directly.  While at least one watcher is active it calls them
through an observer instead, which hands each call to the watchers, outermost
first.  A watcher is any object with

    forward(fn, run, arrays)    -> run()'s result    (run() calls fn.forward(*arrays))
    backward(fn, run, arrays)   -> run()'s result    (run() calls fn.backward(xp, *arrays))

so it can time the call, check its result, or add context to an error
raised in it.  With no watcher the core pays one comparison per op.
"""
import threading

from . import function

_lock = threading.Lock()
_watchers = ()      # the active watchers, outermost (first started) first


class _Observer:
    """Runs each forward and backward through the watchers in ``watchers``."""

    __slots__ = ("watchers",)

    def __init__(self, watchers):
        self.watchers = watchers

    def forward(self, fn, arrays, options):
        def run():
            return fn.forward(*arrays, **options)
        return self._through(fn, run, arrays, "forward")

    def backward(self, fn, xp, gy):
        def run():
            return fn.backward(xp, gy)
        return self._through(fn, run, (gy,), "backward")

    def _through(self, fn, run, arrays, phase):
        for watcher in reversed(self.watchers):     # the innermost wraps the call first
            run = _wrapped(getattr(watcher, phase), fn, run, arrays)
        return run()


def _wrapped(method, fn, run, arrays):
    return lambda: method(fn, run, arrays)


def watch(watcher):
    """Start handing every op's forward and backward to ``watcher``."""
    global _watchers
    with _lock:
        if watcher not in _watchers:
            _watchers = _watchers + (watcher,)
        function._set_observer(_Observer(_watchers))


def unwatch(watcher):
    """Stop; the core calls ops directly again once no watcher is left."""
    global _watchers
    with _lock:
        _watchers = tuple(w for w in _watchers if w is not watcher)
        function._set_observer(_Observer(_watchers) if _watchers else None)


def watching(watcher):
    return watcher in _watchers
