"""Keep freed array memory in the process instead of returning it to the OS.

Every op allocates its output with NumPy, i.e. with malloc.  glibc serves a
block above its mmap threshold (128 KiB at first, raised as such blocks are
freed) by mmap, and gives it back on free; the next op's array of the same
size then page-faults all its pages in again, zeroed by the kernel.  Whether
that happens depends on the process's history: after ``import torch`` we
measured every LeNet-5 conv call 2.5x slower and the ReLU backward 4x
slower, because a page fault (in a VM especially) costs more than the
arithmetic on that page.

PyTorch's advice for CPU training is to swap in jemalloc or tcmalloc.  We
do the smallest thing that works with the C library already loaded: raise
glibc's mmap threshold to its maximum (32 MiB) and the trim threshold to
256 MiB, so freed blocks are reused from the heap.  The price is that up to
that much freed memory stays in the process.  ``TKR_MALLOC_TUNING=0`` turns
it off; on other C libraries nothing happens.
"""
import ctypes
import os
import sys

__all__ = ["tune_malloc", "malloc_tuning"]

_M_TRIM_THRESHOLD = -1        # glibc's malloc.h
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD = 32 << 20    # glibc's maximum on 64-bit (HEAP_MAX_SIZE / 2)
_TRIM_THRESHOLD = 256 << 20

_state = {"how": "not tried"}


def tune_malloc():
    """Apply the thresholds once; returns a line for show_config()."""
    if _state["how"] != "not tried":
        return _state["how"]
    if os.environ.get("TKR_MALLOC_TUNING", "1") == "0":
        _state["how"] = "glibc defaults (TKR_MALLOC_TUNING=0)"
    elif not sys.platform.startswith("linux"):
        _state["how"] = "system defaults (not glibc)"
    else:
        try:
            mallopt = ctypes.CDLL(None).mallopt
            mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
            ok = (mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD) == 1
                  and mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD) == 1)
        except (OSError, AttributeError):
            ok = False
        _state["how"] = ("glibc: blocks up to 32 MiB reused from the heap (TKR_MALLOC_TUNING=0 "
                         "to turn off)" if ok else "system defaults (mallopt unavailable)")
    return _state["how"]


def malloc_tuning():
    return _state["how"]
