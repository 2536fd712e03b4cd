import importlib

import numpy as np
import pytest

import tinygrad_kr as tkr
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


# -- every Function has a float64 gradcheck: what gradcheck saw, read by
# tests/test_gradcheck_coverage.py after every other test ----------------------

def pytest_configure(config):
    config.addinivalue_line("markers", "after_all: runs after every other test of the session")
    config.gradchecked = set()       # the Function classes of every graph gradcheck checked
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
                stack.extend(node.parents or ())
        return analytical(fn, inputs, diff, *args, **kwargs)

    module._analytical_jacobian = recording


def pytest_collection_modifyitems(session, config, items):
    items.sort(key=lambda item: item.get_closest_marker("after_all") is not None)  # stable
