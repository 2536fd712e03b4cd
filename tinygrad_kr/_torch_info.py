"""PyTorch's constants, dtype information, tensor predicates and global
switches at the top level: pi/e/inf/nan/newaxis, finfo/iinfo, is_complex,
is_signed, is_nonzero, typename, the determinism / matmul-precision /
warn-always / inter-op-thread settings, has_openmp/has_lapack/has_mkl, and
torch.compile, which compiles nothing (see its docstring).  The anomaly
switches are autograd/anomaly_mode.py's.

The switches keep PyTorch's state and errors so that code reading or setting
them runs; each says in its docstring what it changes here, which for most is
nothing, because the engine has no alternative to switch to.
"""
import builtins
import math
import os
import warnings

import numpy as np

from . import dtypes as _dt
from .tensor import Tensor

pi, e, inf, nan = math.pi, math.e, math.inf, math.nan
newaxis = None

# dtypes PyTorch has and this engine does not: the error says so (module __getattr__)
_NO_COMPLEX = ("tinygrad_kr has no complex dtypes ({name}): its tensors are NumPy arrays of real "
               "dtypes (float16/32/64, int8/16/32/64, uint8, bool); keep real and imaginary "
               "parts as two real tensors")
ABSENT_DTYPES = {
    **{name: _NO_COMPLEX.format(name=name)
       for name in ("complex32", "chalf", "complex64", "cfloat", "complex128", "cdouble")},
    "bfloat16": "tinygrad_kr has no bfloat16: NumPy has no bfloat16 dtype (use float16 or "
                "float32)",
}


# -- dtype information ------------------------------------------------------------------

def _dtype_of(type, fname):
    """np.dtype from one of the engine's dtypes (NumPy dtypes) or Python's float/int/bool."""
    if type is builtins.float:
        return _dt.float64
    if type is builtins.int:
        return _dt.int64
    if type is builtins.bool:
        return _dt.bool
    if not isinstance(type, np.dtype):
        raise TypeError(f"{fname}(): argument 'type' (position 1) must be torch.dtype, not "
                        f"{builtins.type(type).__name__}")
    return type


class finfo:
    """Machine limits of a floating dtype, with PyTorch's fields: ``bits``,
    ``eps``, ``max``, ``min``, ``tiny`` (= ``smallest_normal``), ``resolution``
    and ``dtype`` (the dtype's name).  No argument: the default dtype."""

    def __init__(self, type=None):
        d = _dt.get_default_dtype() if type is None else _dtype_of(type, "finfo")
        if d.kind != "f":
            raise TypeError("torch.finfo() requires a floating point input type. Use "
                            "torch.iinfo to handle 'torch.finfo'")
        info = np.finfo(d)
        self.bits = int(info.bits)
        self.eps = builtins.float(info.eps)
        self.max = builtins.float(info.max)
        self.min = builtins.float(info.min)
        self.tiny = self.smallest_normal = builtins.float(info.smallest_normal)
        self.resolution = 10.0 ** -int(info.precision)    # as PyTorch: exactly 1e-06
        self.dtype = d.name

    def __eq__(self, other):
        return isinstance(other, finfo) and vars(self) == vars(other)

    __hash__ = None     # PyTorch's finfo is unhashable too

    def __repr__(self):
        return (f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, "
                f"eps={self.eps:g}, smallest_normal={self.smallest_normal:g}, "
                f"tiny={self.tiny:g}, dtype={self.dtype})")


class iinfo:
    """Limits of an integer dtype: ``bits``, ``max``, ``min`` and ``dtype`` (its name)."""

    def __init__(self, type):
        d = _dtype_of(type, "iinfo")
        if d == _dt.bool:
            raise TypeError("torch.bool is not supported by torch.iinfo")
        if d.kind not in "iu":
            raise TypeError("torch.iinfo() requires an integer input type. Use torch.finfo to "
                            "handle 'torch.iinfo'")
        info = np.iinfo(d)
        self.bits, self.max, self.min, self.dtype = int(info.bits), int(info.max), \
            int(info.min), d.name

    def __eq__(self, other):
        return isinstance(other, iinfo) and vars(self) == vars(other)

    __hash__ = None

    def __repr__(self):
        return f"iinfo(min={self.min:g}, max={self.max:g}, dtype={self.dtype})"


# -- predicates on tensors ---------------------------------------------------------------

def _need_tensor(fname, value, arg="input", position=1):
    if not isinstance(value, Tensor):
        raise TypeError(f"{fname}(): argument '{arg}' (position {position}) must be Tensor, not "
                        f"{builtins.type(value).__name__}")
    return value


def is_complex(input):
    """Whether the dtype is complex: never for the engine's dtypes."""
    return _need_tensor("is_complex", input).array.dtype.kind == "c"


def is_signed(input):
    """Whether the dtype holds negative values (floats and signed integers)."""
    return _need_tensor("is_signed", input).array.dtype.kind in "fic"


def is_nonzero(input):
    """The truth of a one-element tensor (PyTorch's errors for more or fewer)."""
    n = _need_tensor("is_nonzero", input).numel()
    if n == 0:
        raise RuntimeError("Boolean value of Tensor with no values is ambiguous")
    if n > 1:
        raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
    return builtins.bool(input.item() != 0)


def is_same_size(input, other):
    _need_tensor("is_same_size", input)
    _need_tensor("is_same_size", other, "other", 2)
    return tuple(input.shape) == tuple(other.shape)


def is_inference(input):
    """False: ``inference_mode`` is ``no_grad`` here, and what it makes is an
    ordinary tensor (PyTorch marks it an inference tensor, later refused by autograd)."""
    _need_tensor("is_inference", input)
    return False


def get_device(input):
    """-1 on the CPU, the GPU's index on CUDA."""
    return _need_tensor("get_device", input).get_device()


def typename(obj):
    """A tensor's ``type()``; otherwise the object's module-qualified name, as PyTorch."""
    if isinstance(obj, Tensor):
        return obj.type()
    module = getattr(obj, "__module__", "") or ""
    if hasattr(obj, "__qualname__"):
        qualname = obj.__qualname__
    elif hasattr(obj, "__name__"):
        qualname = obj.__name__
    else:
        module = obj.__class__.__module__ or ""
        qualname = obj.__class__.__qualname__
    return qualname if module in ("", "builtins") else f"{module}.{qualname}"


def is_storage(obj):
    """False: the engine's tensors own NumPy arrays, and it has no storage objects."""
    return False


# -- global switches ---------------------------------------------------------------------

# (set_anomaly_enabled and its queries are autograd/anomaly_mode.py's: detection is real)
_state = {"deterministic": False, "deterministic_warn_only": False,
          "matmul_precision": "highest", "warn_always": False}


def use_deterministic_algorithms(mode, *, warn_only=False):
    """Record the determinism flags; nothing else changes, because there is
    no nondeterministic alternative to turn off on the CPU: every CPU kernel
    here reduces in a fixed order (static OpenMP schedules, no atomics), so a
    run repeats bit for bit with the same number of threads.  On a GPU (CuPy)
    the scatter-adds (backward of indexing with repeated indices,
    index_add, embedding) and max pooling's backward use atomic adds, whose
    order varies; PyTorch would raise or warn for such ops under this flag,
    these run anyway."""
    if not isinstance(mode, builtins.bool):
        raise TypeError(f"_set_deterministic_algorithms(): argument 'mode' (position 1) must be "
                        f"bool, not {builtins.type(mode).__name__}")
    if not isinstance(warn_only, builtins.bool):
        raise TypeError(f"_set_deterministic_algorithms(): argument 'warn_only' must be bool, not "
                        f"{builtins.type(warn_only).__name__}")
    _state["deterministic"], _state["deterministic_warn_only"] = mode, warn_only


def are_deterministic_algorithms_enabled():
    return _state["deterministic"]


def is_deterministic_algorithms_warn_only_enabled():
    return _state["deterministic_warn_only"]


_DEBUG_MODES = ("default", "warn", "error")


def set_deterministic_debug_mode(debug_mode):
    """'default'/0: off, 'warn'/1: warn only, 'error'/2: on (use_deterministic_algorithms)."""
    if isinstance(debug_mode, str):
        if debug_mode not in _DEBUG_MODES:
            raise RuntimeError(f"invalid value of debug_mode, expected one of `default`, `warn`, "
                               f"`error`, but got {debug_mode}")
        debug_mode = _DEBUG_MODES.index(debug_mode)
    elif not isinstance(debug_mode, builtins.int):
        raise TypeError(f"debug_mode must be str or int, but got {builtins.type(debug_mode)}")
    if debug_mode not in (0, 1, 2):
        raise RuntimeError(f"invalid value of debug_mode, expected 0, 1, or 2, but got "
                           f"{debug_mode}")
    use_deterministic_algorithms(debug_mode != 0, warn_only=debug_mode == 1)


def get_deterministic_debug_mode():
    if not _state["deterministic"]:
        return 0
    return 1 if _state["deterministic_warn_only"] else 2


_MATMUL_PRECISIONS = ("highest", "high", "medium")


def set_float32_matmul_precision(precision):
    """Record the setting.  float32 products here are always computed in full
    float32 (BLAS sgemm; no TF32 or bfloat16 passes), which is 'highest'
    whatever is set."""
    if not isinstance(precision, str):
        raise RuntimeError(f"set_float32_matmul_precision expects a str, but got "
                           f"{builtins.type(precision).__name__}")
    if precision not in _MATMUL_PRECISIONS:
        warnings.warn(f"{precision} is not one of 'highest', 'high', or 'medium'; the current"
                      f"setFloat32MatmulPrecision call has no effect.", stacklevel=2)
        return
    _state["matmul_precision"] = precision


def get_float32_matmul_precision():
    """The recorded setting (the computation is always 'highest': see the setter)."""
    return _state["matmul_precision"]


def set_warn_always(b):
    """Record the flag.  PyTorch uses it to repeat its warn-once C++ warnings;
    the engine's warnings are Python warnings, repeated or not by Python's
    warning filters, so it changes nothing here."""
    if not isinstance(b, builtins.bool):
        raise RuntimeError(f"setWarnOnlyOnce expects a bool, but got "
                           f"{builtins.type(b).__name__}")
    _state["warn_always"] = b


def is_warn_always_enabled():
    return _state["warn_always"]


def get_num_interop_threads():
    """1: ops run one after another on the calling thread (the parallelism is
    inside kernels: get_num_threads)."""
    return 1


def set_num_interop_threads(num):
    """Checked as PyTorch checks it, then nothing: there is no pool of
    inter-op threads here (get_num_interop_threads stays 1)."""
    if isinstance(num, builtins.bool) or not isinstance(num, builtins.int) or num <= 0:
        raise RuntimeError("set_num_interop_threads expects a positive integer")


def _openmp():
    """Whether the kernels in use run OpenMP: compiled with it, and not replaced
    by their NumPy twins (TKR_KERNELS=numpy)."""
    if os.environ.get("TKR_KERNELS", "auto").lower() == "numpy":
        return False
    try:
        from ._C import _config
    except ImportError:
        return False
    return builtins.bool(_config.openmp_enabled())


has_openmp = _openmp()
has_lapack = True           # SciPy's LAPACK does torch.linalg's factorisations
has_mkl = False


# -- torch.compile -----------------------------------------------------------------------

_COMPILE_MODES = ("default", "lite", "reduce-overhead", "max-autotune-no-cudagraphs",
                  "max-autotune")


def compile(model=None, *, fullgraph=False, dynamic=None, backend="inductor", mode=None,
            options=None, name=None, disable=False, recompile_limit=None,
            isolate_recompiles=False, shapes_spec=None):
    """Runs eagerly: there is no compiler here.  Returns ``model`` (a module
    or function) itself, unchanged, so ``model = torch.compile(model)``,
    ``@torch.compile`` and ``@torch.compile(mode=...)`` run the same code as
    without them, at the engine's eager speed.  The arguments are checked as
    PyTorch checks them (``mode`` names, ``mode`` with ``options``) and
    otherwise ignored: ``backend``, ``fullgraph``, ``dynamic`` select nothing."""
    if mode is not None and options is not None:
        raise RuntimeError("Either mode or options can be specified, but both can't be "
                           "specified at the same time.")
    if mode is not None and mode not in _COMPILE_MODES:
        raise RuntimeError(f"Unrecognized mode={mode}, should be one of: "
                           f"{', '.join(_COMPILE_MODES)}")
    if model is None:
        return lambda fn: compile(fn, fullgraph=fullgraph, dynamic=dynamic, backend=backend,
                                  mode=mode, options=options, name=name, disable=disable)
    if not callable(model):
        raise AssertionError(f"A callable function is expected, but {builtins.type(model)} is "
                             f"provided.")
    return model


__all__ = ["pi", "e", "inf", "nan", "newaxis", "finfo", "iinfo", "is_complex", "is_signed",
           "is_nonzero", "is_same_size", "is_inference", "get_device", "typename",
           "is_storage", "use_deterministic_algorithms",
           "are_deterministic_algorithms_enabled",
           "is_deterministic_algorithms_warn_only_enabled", "set_deterministic_debug_mode",
           "get_deterministic_debug_mode", "set_float32_matmul_precision",
           "get_float32_matmul_precision", "set_warn_always", "is_warn_always_enabled",
           "get_num_interop_threads", "set_num_interop_threads", "has_openmp", "has_lapack",
           "has_mkl", "compile"]
