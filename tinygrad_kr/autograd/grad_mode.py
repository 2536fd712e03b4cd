"""Whether operations record a graph: no_grad, enable_grad, set_grad_enabled.

The flag is thread-local, like PyTorch's: a no_grad block in one thread does
not switch off recording in another.  Each manager works both as a context
manager and as a function decorator.
"""
import functools
import threading

__all__ = ["no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled", "inference_mode"]


class _GradState(threading.local):
    enabled = True


_state = _GradState()


def is_grad_enabled():
    return _state.enabled


class _GradMode:
    """Base: set the flag on enter, restore the previous value on exit."""

    mode = True

    def __enter__(self):
        self._prev = _state.enabled
        _state.enabled = self.mode

    def __exit__(self, *exc):
        _state.enabled = self._prev
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return fn(*args, **kwargs)
        return wrapper


class no_grad(_GradMode):
    """Operations inside record no graph (used for evaluation and updates)."""
    mode = False


class enable_grad(_GradMode):
    """Re-enable recording inside a no_grad block."""
    mode = True


class inference_mode(no_grad):
    """Alias of no_grad (PyTorch's faster variant; the same here)."""

    def __init__(self, mode=True):
        self.mode = not mode


class set_grad_enabled(_GradMode):
    """Set recording on or off; takes effect immediately, like PyTorch.

    ``set_grad_enabled(False)`` as a plain call switches recording off; as a
    context manager it restores the previous value on exit.
    """

    def __init__(self, mode):
        self.mode = bool(mode)
        self._prev = _state.enabled
        _state.enabled = self.mode

    def __enter__(self):
        pass

    def __call__(self, fn):
        _state.enabled = self._prev  # used as a decorator: undo the eager switch
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)
        return wrapper
