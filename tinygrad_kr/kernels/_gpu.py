"""What the GPU kernel groups (``kernels/cuda_<group>.py``) share.

A GPU kernel is declared at import, without CuPy, and compiled on its first
call; CuPy then caches the binary per dtype and device (and on disk).  Three
kinds, one per CuPy kernel class:

* ``elementwise(in_params, out_params, operation, name)``: a
  ``cupy.ElementwiseKernel``.  CuPy writes the loop, broadcasting and strides;
  ``T`` is the dtype of the arrays declared ``T``, Python numbers given for
  ``T`` parameters are converted to it.
* ``reduction(...)``: a ``cupy.ReductionKernel`` (map, reduce, post-map).
* ``raw(code, name)``: a ``cupy.RawKernel`` for CUDA C written with the element
  type ``T`` and the ``GRID_STRIDE_LOOP(i, n)`` macro; one binary per dtype.
  Call it as ``kernel(n, *args)``: ``n`` threads (0 launches nothing), ``T``
  taken from the first array argument declared ``T*``.  The arguments are
  checked against the kernel's C signature before the launch: arrays must be
  C-contiguous CuPy arrays of the declared element type, and numbers are
  converted to the declared scalar type (a wrong argument to a raw kernel
  would otherwise corrupt memory silently).

Every declared kernel is listed in ``DECLARED``, so that tests can compile all
the CUDA sources with NVRTC, and run them on the host, without a GPU
(tests/test_cuda_kernels.py, tests/cuda_on_cpu.py).
"""
import functools
import re
import threading

import numpy as np

from ..backend import cupy_module

__all__ = ["DECLARED", "elementwise", "reduction", "raw", "on_device", "check_float", "ones"]

DECLARED = []   # every kernel declared by a cuda_<group> module, in import order

BLOCK = 256            # threads per block of a raw kernel
MAX_BLOCKS = 1 << 16   # raw kernels loop over their range, so the grid can be capped

# C element types of raw-kernel parameters -> NumPy dtypes ("T" is the kernel's dtype).
_C_TYPES = {"double": np.float64, "float": np.float32, "long long": np.int64,
            "unsigned long long": np.uint64, "int": np.int32, "unsigned int": np.uint32,
            "unsigned char": np.uint8}
_C_NAMES = {np.dtype(np.float32): "float", np.dtype(np.float64): "double"}

_RAW_PRELUDE = """\
typedef {ctype} T;
// Thread i of n, looping over the grid when n is larger than it.
#define GRID_STRIDE_LOOP(i, n) \\
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (n); \\
         i += (long long)blockDim.x * gridDim.x)
// +inf (NVRTC has no INFINITY macro without the host headers).
__device__ __forceinline__ double tkr_inf() {{ return __longlong_as_double(0x7ff0000000000000LL); }}
"""


class _Lazy:
    """A cupy.ElementwiseKernel / cupy.ReductionKernel built on first call."""

    def __init__(self, kind, *args, **kwargs):
        self.kind, self.args, self.kwargs = kind, args, kwargs
        self.name = kwargs["name"]
        self._kernel = None
        DECLARED.append(self)

    def __call__(self, *args, **kwargs):
        if self._kernel is None:
            self._kernel = getattr(cupy_module(), self.kind)(*self.args, **self.kwargs)
        return self._kernel(*args, **kwargs)

    def __repr__(self):
        return f"<{self.kind} {self.name}>"


def elementwise(in_params, out_params, operation, name, preamble=""):
    """A lazily built ``cupy.ElementwiseKernel`` (see its documentation)."""
    return _Lazy("ElementwiseKernel", in_params, out_params, operation, name=name,
                 preamble=preamble)


def reduction(in_params, out_params, map_expr, reduce_expr, post_map_expr, identity, name,
              reduce_type=None):
    """A lazily built ``cupy.ReductionKernel`` (see its documentation)."""
    return _Lazy("ReductionKernel", in_params, out_params, map_expr, reduce_expr,
                 post_map_expr, identity, name=name, reduce_type=reduce_type)


class _Param:
    """One parameter of a raw kernel's C signature."""

    def __init__(self, decl):
        decl = decl.strip()
        self.pointer = "*" in decl
        words = decl.replace("*", " ").split()
        self.name = words[-1]
        self.ctype = " ".join(w for w in words[:-1] if w not in ("const", "__restrict__"))
        if self.ctype != "T" and self.ctype not in _C_TYPES:
            raise ValueError(f"raw kernel parameter {decl!r}: type must be T or one of "
                             f"{sorted(_C_TYPES)}")

    def dtype(self, t):
        return np.dtype(t if self.ctype == "T" else _C_TYPES[self.ctype])


def _c_contiguous(a):
    """a's C-contiguity: CuPy's own flag (``a.flags`` builds an object per call), or
    the flags of any other array (NumPy's, on the CPU stand-in of the tests)."""
    flag = getattr(a, "_c_contiguous", None)
    return a.flags.c_contiguous if flag is None else flag


class _ScalarSlots:
    """Host memory for the number arguments of one raw kernel's launches, and
    CuPy pointers to it.

    CuPy turns every number argument into a C value object at each launch
    (``_scalar.CScalar``: type lookups and an allocation per number), and the
    convolution kernels take 16 numbers: that was most of a launch's host
    time.  A ``CPointer`` argument is passed through as it is, so each number
    parameter gets an 8-byte slot here, written in place before the launch
    (the driver copies the values when the launch is queued, so the next
    launch may overwrite them), and its pointer, built once.  NumPy's
    assignment converts and range-checks each value as ``np.int32(v)`` etc. do.
    One set per thread (see RawKernel), so that two threads never share one."""

    def __init__(self, spec, cpointer):
        self.buffer = np.zeros(8 * len(spec), np.uint8)
        base = self.buffer.ctypes.data
        # per parameter: (1-element view of its C type, pointer), None for arrays
        self.slots = [None if pointer else
                      (self.buffer[8 * k:8 * k + dtype.itemsize].view(dtype),
                       cpointer(base + 8 * k))
                      for k, (pointer, dtype, _) in enumerate(spec)]


def _cpointer_class():
    """CuPy's kernel-argument pointer class, or None where this CuPy has none."""
    function = getattr(getattr(cupy_module(), "cuda", None), "function", None)
    return getattr(function, "CPointer", None)


class RawKernel:
    """A ``cupy.RawKernel`` of ``code`` (CUDA C over ``T``), one binary per dtype."""

    def __init__(self, code, name):
        match = re.search(r'extern "C" __global__ void (\w+)\(([^)]*)\)', code)
        if match is None or match.group(1) != name:
            raise ValueError(f"raw kernel {name}: no `extern \"C\" __global__ void {name}(...)`")
        self.code, self.name = code, name
        self.params = [_Param(p) for p in match.group(2).split(",")]
        # the first T* parameter sets T
        self._first_t = next((k for k, p in enumerate(self.params)
                              if p.pointer and p.ctype == "T"), None)
        self._specs = {}     # dtype -> [(is_pointer, dtype, scalar type)] per parameter
        self._kernels = {}   # dtype -> cupy.RawKernel
        self._local = threading.local()   # .slots: dtype -> _ScalarSlots of this thread
        DECLARED.append(self)

    def source(self, dtype):
        """The CUDA source compiled for ``dtype`` (float32 or float64)."""
        return _RAW_PRELUDE.format(ctype=_C_NAMES[np.dtype(dtype)]) + self.code

    def _spec(self, t):
        """Per parameter, for element type t: (is_pointer, dtype, scalar type)."""
        spec = self._specs.get(t)
        if spec is None:
            spec = self._specs[t] = [(p.pointer, p.dtype(t), p.dtype(t).type) for p in self.params]
        return spec

    def _slots(self, t):
        """This thread's _ScalarSlots for element type t, or None (no CPointer)."""
        per_dtype = self._local.__dict__.setdefault("slots", {})
        slots = per_dtype.get(t, False)
        if slots is False:
            cpointer = _cpointer_class()
            slots = per_dtype[t] = None if cpointer is None else \
                _ScalarSlots(self._spec(t), cpointer).slots
        return slots

    def pack(self, args, into_slots=False):
        """(dtype, kernel arguments) for ``args``, checked against the C signature:
        arrays as they are, numbers as NumPy scalars of their C types, or, with
        ``into_slots``, written into this thread's _ScalarSlots and passed as
        pointers to them (where this CuPy has CPointer)."""
        if len(args) != len(self.params):
            raise TypeError(f"{self.name} takes {len(self.params)} arguments, got {len(args)}")
        t = getattr(args[self._first_t], "dtype", None) if self._first_t is not None else None
        if t not in _C_NAMES:
            raise TypeError(f"{self.name}: T must be float32 or float64, got {t}")
        spec = self._spec(t)
        slots = (into_slots and self._slots(t)) or [None] * len(spec)
        packed = []
        # This runs for every launch (a dozen per layer and step) and bounds a small
        # step's speed: no per-call dtype building, CuPy's contiguity flag read directly.
        for a, (pointer, dtype, scalar), p, slot in zip(args, spec, self.params, slots):
            if pointer:
                if getattr(a, "dtype", None) != dtype or not _c_contiguous(a):
                    raise TypeError(f"{self.name}: {p.name} must be a C-contiguous "
                                    f"{dtype} array, got {getattr(a, 'dtype', type(a))}")
                packed.append(a)
            elif slot is None:
                packed.append(scalar(a))
            else:
                slot[0][0] = a
                packed.append(slot[1])
        return np.dtype(t), tuple(packed)

    def __call__(self, n, *args):
        dtype, packed = self.pack(args, into_slots=n > 0)   # the checks run for n = 0 too
        if n <= 0:
            return
        kernel = self._kernels.get(dtype)
        if kernel is None:
            kernel = self._kernels[dtype] = cupy_module().RawKernel(self.source(dtype), self.name)
        blocks = min(-(-n // BLOCK), MAX_BLOCKS)
        kernel((blocks,), (BLOCK,), packed)

    def __repr__(self):
        return f"<RawKernel {self.name}>"


raw = RawKernel


def on_device(fn):
    """Run a kernel function on the GPU that holds its first argument, so
    that its allocations and launches happen there (cuda:1 works too).  When
    that GPU is the current one already (always, on a one-GPU machine) the
    call goes straight through: entering and leaving CuPy's device context
    costs a few microseconds of host time per kernel, some 20 kernels a step."""
    @functools.wraps(fn)
    def run_on_device(x, *args, **kwargs):
        device_id = getattr(getattr(x, "data", None), "device_id", None)
        if device_id is not None and device_id == current_device():
            return fn(x, *args, **kwargs)
        with x.device:
            return fn(x, *args, **kwargs)
    return run_on_device


def current_device():
    """The id of the current CUDA device."""
    return cupy_module().cuda.runtime.getDevice()


def check_float(fn, **arrays):
    """Raise TypeError unless the arrays (None skipped) share one dtype,
    float32 or float64 (the first one given sets it)."""
    dtype = None
    for name, a in arrays.items():
        if a is None:
            continue
        if dtype is None:
            dtype = a.dtype
            if dtype not in (np.float32, np.float64):
                raise TypeError(f"{fn}: only float32 and float64 are supported, got {name} "
                                f"{a.dtype}")
        elif a.dtype != dtype:
            raise TypeError(f"{fn}: {name} has dtype {a.dtype}, expected {dtype}")


_ONES = {}   # (length, dtype, device) -> a read-only vector of ones, reused across calls


def ones(n, dtype, device):
    """A cached vector of n ones on ``device`` (the caller's array's ``.device``):
    for kernels that only read it, so that no call allocates and fills one."""
    key = (n, np.dtype(dtype), str(device))
    vec = _ONES.get(key)
    if vec is None:
        if len(_ONES) > 64:    # batch, class and image sizes are few; never grow unbounded
            _ONES.clear()
        vec = _ONES[key] = cupy_module().ones(n, dtype=dtype)
    return vec
