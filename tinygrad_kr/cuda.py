"""tinygrad_kr.cuda: is a CUDA GPU usable (through CuPy)?"""
from .backend import cupy_module

__all__ = ["is_available", "device_count", "synchronize", "manual_seed", "manual_seed_all"]


def is_available():
    """True when CuPy is installed and sees at least one GPU."""
    return device_count() > 0


def device_count():
    cp = cupy_module()
    if cp is None:
        return 0
    try:
        return cp.cuda.runtime.getDeviceCount()
    except Exception:  # noqa: BLE001 (no driver, no device: CuPy's own error types)
        return 0


def synchronize(device=None):
    cp = cupy_module()
    if cp is not None and is_available():
        cp.cuda.Device(0 if device is None else int(str(device).split(":")[-1] or 0)).synchronize()


def manual_seed(seed):
    from .random import manual_seed as _seed
    _seed(seed)


manual_seed_all = manual_seed
