"""One thread pool: SciPy's BLAS runs single-threaded, our OpenMP team splits GEMMs.

The compiled kernels call BLAS (sgemm/dgemm from ``scipy.linalg.cython_blas``)
between OpenMP loops.  Left alone, SciPy's OpenBLAS keeps its own pthread
pool next to OpenMP's, and after each call both pools' idle threads spin for
a while.  On a machine with as many threads as cores the two pools take the
cores from each other: measured on 2 cores, an MLP training step ran 15x and
a LeNet-5 step 8x slower with 2 threads than with 1.

So, when the compiled kernels load, we set SciPy's OpenBLAS to one thread
and the kernels split each large GEMM over the OpenMP team themselves
(csrc/_gemm.pxd ``gemm_split``), each thread calling the single-threaded
BLAS on its own block of the output.  Blocks are disjoint, so the results
are the same on any thread count.

This changes one process-wide setting of SciPy's BLAS (NumPy has its own
OpenBLAS and is not touched): a ``scipy.linalg`` call in the same process
runs on one thread.  ``TKR_OWN_GEMM_THREADS=0`` keeps BLAS's own threads
(the kernels then never call BLAS from inside an OpenMP loop).  Where the
BLAS is not an OpenBLAS we can reach, nothing changes either.
"""
import ctypes
import os

__all__ = ["take_over_blas_threads", "repin_blas_threads", "blas_threads_info",
           "use_small_kernels", "small_kernels_info"]

# OpenBLAS's thread-count setters: SciPy's wheels prefix their symbols
# ("scipy_openblas_..."), a system OpenBLAS does not.
_SETTERS = ("scipy_openblas_set_num_threads", "openblas_set_num_threads")
_GETTERS = ("scipy_openblas_get_num_threads", "openblas_get_num_threads")

_state = {"own_threads": False, "get": None,
          "why": "BLAS's own threads (the compiled kernels are not in use)",
          "small": "off (the compiled kernels are not in use)"}

# OpenBLAS cores whose sgemm has small-matrix kernels (kernel/x86_64/
# KERNEL.SKYLAKEX, which the other two include), and the first release with
# them.  csrc/_gemm.pxd cuts float32 GEMMs into blocks they accept.
_SMALL_KERNEL_CORES = ("skylakex", "cooperlake", "sapphirerapids")
_SMALL_KERNEL_SINCE = (0, 3, 16)
_CONFIG = ("scipy_openblas_get_config", "openblas_get_config")
_CORENAME = ("scipy_openblas_get_corename", "openblas_get_corename")


def _scipy_blas_library():
    """A ctypes handle whose symbol lookups search SciPy's BLAS: dlopen of the
    cython_blas extension (already loaded: we get the same handle) searches
    the libraries it depends on as well."""
    import scipy.linalg.cython_blas as cython_blas
    return ctypes.CDLL(cython_blas.__file__)


def _first_symbol(lib, names):
    for name in names:
        try:
            return getattr(lib, name)
        except AttributeError:
            continue
    return None


def _library_unless_off(switch, key, off):
    """SciPy's BLAS library, or None with ``_state[key]`` saying why not
    (``off`` and the reason): the environment variable ``switch`` is "0", or
    the library cannot be found."""
    if os.environ.get(switch, "1") == "0":
        _state[key] = f"{off} ({switch}=0)"
        return None
    try:
        return _scipy_blas_library()
    except (ImportError, OSError) as e:
        _state[key] = f"{off} (SciPy's BLAS library not found: {e})"
        return None


def take_over_blas_threads(modules):
    """Pin SciPy's BLAS to one thread and let ``modules`` (compiled kernel
    modules exporting ``_use_own_gemm_threads``) split their GEMMs."""
    lib = _library_unless_off("TKR_OWN_GEMM_THREADS", "why", "BLAS uses its own threads")
    if lib is None:
        return False
    setter = _first_symbol(lib, _SETTERS)
    if setter is None:
        _state["why"] = "SciPy's BLAS is not an OpenBLAS with a thread setter"
        return False
    setter.argtypes, setter.restype = [ctypes.c_int], None
    setter(1)
    _state["set"] = setter
    getter = _first_symbol(lib, _GETTERS)
    if getter is not None:
        getter.argtypes, getter.restype = [], ctypes.c_int
    _state.update(own_threads=True, get=getter,
                  why="SciPy's OpenBLAS set to 1 thread; GEMMs split over OpenMP threads")
    for mod in modules:
        mod._use_own_gemm_threads(True)
    return True


def repin_blas_threads():
    """Back to one BLAS thread after something raised it (threadpoolctl)."""
    if _state["own_threads"]:
        _state["set"](1)


def blas_threads_info():
    """(threads SciPy's BLAS uses or None if unknown, how GEMMs are threaded)."""
    get = _state["get"]
    return (get() if get is not None else None), _state["why"]


def _openblas_string(lib, names):
    fn = _first_symbol(lib, names)
    if fn is None:
        return None
    fn.argtypes, fn.restype = [], ctypes.c_char_p
    return (fn() or b"").decode(errors="replace")


def use_small_kernels(modules):
    """Let ``modules`` (exporting ``_use_small_kernels``) cut float32 GEMMs
    into blocks for OpenBLAS's small-matrix kernels, when SciPy's BLAS is an
    OpenBLAS that has them for this CPU.  ``TKR_GEMM_SMALL_BLOCKS=0`` turns
    it off.  Returns whether it is on."""
    lib = _library_unless_off("TKR_GEMM_SMALL_BLOCKS", "small", "off")
    if lib is None:
        return False
    core = _openblas_string(lib, _CORENAME)
    config = _openblas_string(lib, _CONFIG) or ""
    if core is None:
        _state["small"] = "off (SciPy's BLAS is not an OpenBLAS)"
        return False
    try:
        version = tuple(int(v) for v in config.split()[1].split(".")[:3])
    except (IndexError, ValueError):
        version = (0,)
    if core.lower() not in _SMALL_KERNEL_CORES or version < _SMALL_KERNEL_SINCE:
        _state["small"] = f"off (OpenBLAS core {core}: no small-matrix sgemm kernels)"
        return False
    for mod in modules:
        mod._use_small_kernels(True)
    _state["small"] = (f"products above m*n*k = 1e6 cut into blocks for OpenBLAS's {core} "
                       f"small-matrix kernels (float32 GEMMs, conv2d)")
    return True


def small_kernels_info():
    """How GEMMs are blocked for the BLAS's small-matrix kernels (a sentence)."""
    return _state["small"]
