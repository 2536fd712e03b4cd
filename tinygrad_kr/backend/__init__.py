"""Which array library holds an array: NumPy on the CPU, CuPy on a GPU.

CuPy is imported lazily and only if installed, so the CPU engine never pays
for it.
"""
import numpy as np

_cupy = None
_cupy_checked = False


def cupy_module():
    """The cupy module, or None when CuPy is not installed/usable."""
    global _cupy, _cupy_checked
    if not _cupy_checked:
        _cupy_checked = True
        try:
            import cupy
            _cupy = cupy
        except Exception:  # ImportError, or a broken CUDA install
            _cupy = None
    return _cupy


def get_array_module(x):
    """numpy for NumPy arrays and scalars, cupy for CuPy arrays."""
    if x.__class__ is np.ndarray:
        return np
    cp = cupy_module()
    if cp is not None and isinstance(x, cp.ndarray):
        return cp
    return np
