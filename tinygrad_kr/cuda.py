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


class _DeprecatedAmp:
    """``torch.cuda.amp``: GradScaler and autocast for "cuda", with PyTorch's
    deprecation warnings (torch.amp names the device instead)."""

    @staticmethod
    def GradScaler(*args, **kwargs):
        import warnings
        from .amp import GradScaler
        warnings.warn("`torch.cuda.amp.GradScaler(args...)` is deprecated. Please use "
                      "`torch.amp.GradScaler('cuda', args...)` instead.", FutureWarning,
                      stacklevel=2)
        return GradScaler("cuda", *args, **kwargs)

    @staticmethod
    def autocast(enabled=True, dtype=None, cache_enabled=True):
        import warnings
        from .amp import autocast
        warnings.warn("`torch.cuda.amp.autocast(args...)` is deprecated. Please use "
                      "`torch.amp.autocast('cuda', args...)` instead.", FutureWarning,
                      stacklevel=2)
        return autocast("cuda", dtype=dtype, enabled=enabled, cache_enabled=cache_enabled)


amp = _DeprecatedAmp()
