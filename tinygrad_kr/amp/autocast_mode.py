"""autocast, accepted as PyTorch's (see amp/__init__.py: nothing is cast here)."""
import functools
import warnings

__all__ = ["autocast"]

_DEVICE_TYPES = ("cpu", "cuda")
_warned = False


class autocast:
    """``with autocast(device_type, dtype=None, enabled=True, cache_enabled=None):``
    or as a decorator.  The region runs unchanged (no float16 kernels here)."""

    def __init__(self, device_type, dtype=None, enabled=True, cache_enabled=None):
        if not isinstance(device_type, str):
            raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
        if device_type not in _DEVICE_TYPES:
            raise RuntimeError(f"User specified an unsupported autocast device_type "
                               f"'{device_type}'")
        from ..dtypes import check_dtype
        import numpy as np
        self.device = device_type
        self.fast_dtype = check_dtype(dtype) if dtype is not None else \
            (np.dtype(np.float16) if device_type == "cuda" else None)
        self._enabled = bool(enabled)
        if self._enabled and device_type == "cuda":
            from .. import cuda
            if not cuda.is_available():
                warnings.warn("User provided device_type of 'cuda', but CUDA is not available. "
                              "Disabling", UserWarning, stacklevel=2)
                self._enabled = False

    def __enter__(self):
        global _warned
        if self._enabled and not _warned:
            _warned = True
            warnings.warn("autocast: tinygrad_kr has no reduced-precision kernels, so the "
                          "region computes in its tensors' own dtypes (float32 results, not "
                          "float16/bfloat16 ones)", UserWarning, stacklevel=2)
        return self

    def __exit__(self, *exc):
        return False

    def __call__(self, func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with self:
                return func(*args, **kwargs)
        return wrapper
