import numpy as np
import pytest

import tinygrad_kr as tkr


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
