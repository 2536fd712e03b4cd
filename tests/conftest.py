import functools
import importlib

import numpy as np
import pytest

import tinygrad_kr as tkr
from tinygrad_kr import kernels
from tinygrad_kr.autograd.function import Function


@pytest.fixture(autouse=True, scope="module")
def _torch_one_thread():
    """PyTorch (the parity oracle, when installed) on one thread: on tiny
    inputs its thread pool only adds latency, and it competes with the
    engine's OpenMP threads for the cores."""
    try:
        import torch
    except ImportError:
        yield
        return
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(autouse=True)
def _seed():
    """Every test starts from the same random state."""
    tkr.manual_seed(0)
    np.random.seed(0)
    yield


def pytest_report_header(config):
    c = tkr.config.config() if hasattr(tkr.config, "config") else {}
    return (f"tinygrad_kr: compiled={c.get('compiled_count')}/{c.get('kernel_count')} kernels, "
            f"openmp={c.get('openmp')}, threads={c.get('num_threads')}")


# -- what the standards ask of the whole suite, recorded while it runs and
# checked by tests/test_coverage.py after every other test ---------------------

def pytest_configure(config):
    config.addinivalue_line("markers", "after_all: runs after every other test of the session")
    # every Function has a float64 gradcheck: the Function classes of every
    # graph passed to gradcheck
    config.gradchecked = set()
    module = importlib.import_module("tinygrad_kr.autograd.gradcheck")
    analytical = module._analytical_jacobian

    def recording(fn, inputs, diff, *args, **kwargs):
        stack = [o.grad_fn for o in module._outputs(fn, inputs)]
        seen = set()
        while stack:
            node = stack.pop()
            if isinstance(node, Function) and id(node) not in seen:
                seen.add(id(node))
                config.gradchecked.add(type(node))
                # a ctx-style Function's node class is made for it: the class
                # written with forward(ctx, ...) is what was checked
                user = getattr(type(node), "user", None)
                if user is not None:
                    config.gradchecked.add(user)
                stack.extend(node.parents or ())
        return analytical(fn, inputs, diff, *args, **kwargs)

    module._analytical_jacobian = recording

    # every compiled kernel is compared to its twin in float32 and float64: the
    # float dtypes each side of a kernel was called with, through the
    # kernels.compiled(name) / kernels.reference(name) the comparisons use
    config.kernel_dtypes = {}       # (name, "compiled" | "twin") -> {"float32", ...}
    wrapped = {}

    def recorder(get, side):
        def get_recorded(name):
            fn = get(name)
            if fn is None:
                return None
            if (name, side) not in wrapped:   # one wrapper per kernel: identities hold
                seen = config.kernel_dtypes.setdefault((name, side), set())

                def run(*args, **kwargs):
                    seen.update(_float_dtypes(args + tuple(kwargs.values())))
                    return fn(*args, **kwargs)
                wrapped[name, side] = functools.wraps(fn)(run)
            return wrapped[name, side]
        return get_recorded

    kernels.compiled = recorder(kernels.compiled, "compiled")
    kernels.reference = recorder(kernels.reference, "twin")


def _float_dtypes(values, depth=0):
    """Float dtypes of the arrays among ``values`` (and in lists of them)."""
    found = set()
    for v in values:
        if isinstance(v, np.ndarray) and v.dtype.kind == "f":
            found.add(v.dtype.name)
        elif isinstance(v, (list, tuple)) and depth < 2:
            found |= _float_dtypes(v, depth + 1)
    return found


def pytest_collection_modifyitems(session, config, items):
    items.sort(key=lambda item: item.get_closest_marker("after_all") is not None)  # stable
