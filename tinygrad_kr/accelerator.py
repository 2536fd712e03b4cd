"""tinygrad_kr.accelerator: PyTorch's device-neutral accelerator API.

Recent PyTorch examples pick their device with it:

    device = torch.accelerator.current_accelerator() if torch.accelerator.is_available() else "cpu"

The one accelerator this engine knows is a CUDA GPU (through CuPy).
"""
from . import cuda

__all__ = ["is_available", "current_accelerator", "device_count", "current_device_index",
           "set_device_index", "synchronize"]


def is_available():
    """True when an accelerator (here: a CUDA GPU) is usable."""
    return cuda.is_available()


def current_accelerator(check_available=False):
    """device('cuda') where CuPy is installed (and, with check_available=True,
    sees a GPU); None otherwise, as PyTorch on a CPU-only build."""
    from .backend import cupy_module
    from .tensor import device
    if cupy_module() is None or (check_available and not is_available()):
        return None
    return device("cuda")


def device_count():
    return cuda.device_count()


def current_device_index():
    return 0 if is_available() else -1


def set_device_index(device):
    index = device if isinstance(device, int) else (getattr(device, "index", None) or 0)
    if index not in (0, -1):
        raise RuntimeError(f"only one accelerator (index 0) is supported, got {index}")


def synchronize(device=None):
    cuda.synchronize(device)
