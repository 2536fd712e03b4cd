"""The one kernel-dispatch layer.

Every array kernel of the engine is reached through this module:
``kernels.gemm(...)``, ``kernels.conv2d_forward(...)``, ...

Kernels live in groups.  A group ``G`` has
  * a NumPy reference twin ``tinygrad_kr/kernels/ref_G.py`` (the test oracle
    and the fallback; written with ``xp = get_array_module(x)`` so that it runs
    on CuPy arrays too),
  * optionally a compiled version ``tinygrad_kr._C.G`` (from ``csrc/G.pyx``)
    exporting functions of the same names and signatures,
  * optionally a GPU version ``tinygrad_kr/kernels/cuda_G.py``.
Each ``ref_G`` module lists its kernels in ``__all__``.  For every name we
bind, once at import, the compiled version if it exists (and the environment
variable ``TKR_KERNELS`` is not ``numpy``), else the twin.  CuPy arrays go to
the GPU version when there is one, else to the twin; the first argument
decides, except for the groups in ``_ROUTED_ON_PARAMS``.

``reference(name)`` and ``compiled(name)`` give direct access for tests.
"""
import importlib
import os
import pkgutil

import numpy as np

_ndarray = np.ndarray
_MODE = os.environ.get("TKR_KERNELS", "auto").lower()
if _MODE not in ("auto", "numpy", "compiled"):
    raise ValueError(f"TKR_KERNELS must be 'auto', 'numpy' or 'compiled', got {_MODE!r}")

_reference = {}   # name -> NumPy twin
_compiled = {}    # name -> compiled CPU kernel
_cuda = {}        # name -> CuPy kernel
_group_of = {}    # name -> group
_build_errors = {}  # group -> why its compiled module could not be imported
_modules = []       # the compiled group modules that were imported

# Groups whose kernels route on their second argument, a list of parameter arrays
# (params[0] decides; an empty list goes to the CPU: there is nothing to update).  The
# optimizer updates' first argument is one number per parameter (step counts, SGD's
# first-step flags) that the optimizers keep on the host on every device, so that a GPU
# step uploads nothing: its class says nothing about where the parameters live.
_ROUTED_ON_PARAMS = {"optim"}


def _load_groups():
    here = os.path.dirname(__file__)
    for info in pkgutil.iter_modules([here]):
        if not info.name.startswith("ref_"):
            continue
        group = info.name[len("ref_"):]
        ref = importlib.import_module(f"{__name__}.{info.name}")
        for name in ref.__all__:
            _reference[name] = getattr(ref, name)
            _group_of[name] = group
        try:
            comp = importlib.import_module(f"tinygrad_kr._C.{group}")
        except ImportError as e:
            _build_errors[group] = str(e)
            comp = None
        if comp is not None:
            _modules.append(comp)
            for name in ref.__all__:
                if hasattr(comp, name):
                    _compiled[name] = getattr(comp, name)


def _cuda_kernel(name):
    """The GPU kernel for ``name`` (loaded lazily: importing CuPy is slow)."""
    fn = _cuda.get(name)
    if fn is None:
        try:
            mod = importlib.import_module(f"{__name__}.cuda_{_group_of[name]}")
            fn = getattr(mod, name, None) or _reference[name]
        except ImportError:
            fn = _reference[name]
        _cuda[name] = fn
    return fn


def _make_dispatcher(name):
    cpu = _reference[name] if _MODE == "numpy" else _compiled.get(name, _reference[name])
    if _MODE == "compiled" and name not in _compiled:
        raise ImportError(f"TKR_KERNELS=compiled but kernel {name!r} was not compiled "
                          f"({_build_errors.get(_group_of[name], 'missing from the module')})")

    if _group_of[name] in _ROUTED_ON_PARAMS:
        def dispatch(per_param, params, *args, **kwargs):
            if not params or params[0].__class__ is _ndarray:
                return cpu(per_param, params, *args, **kwargs)
            return _cuda_kernel(name)(per_param, params, *args, **kwargs)
    else:
        def dispatch(x, *args, **kwargs):
            if x.__class__ is _ndarray:
                return cpu(x, *args, **kwargs)
            if isinstance(x, np.generic):   # NumPy arithmetic on 0-d arrays gives scalars
                return cpu(np.asarray(x), *args, **kwargs)
            return _cuda_kernel(name)(x, *args, **kwargs)

    dispatch.__name__ = name
    dispatch.__qualname__ = name
    dispatch.__doc__ = _reference[name].__doc__
    dispatch.cpu = cpu
    return dispatch


def _observe(wrap):
    """Rebind every dispatcher ``kernels.<name>`` to ``wrap(name, dispatcher)``,
    or back to the plain dispatchers with ``wrap=None``: the profiler times the
    kernels this way while it records.  Call sites look dispatchers up when
    they call them (``kernels.gemm(...)``), so nothing else changes, and no one
    pays for the profiler while it is off."""
    g = globals()
    for name, dispatcher in _dispatchers.items():
        g[name] = dispatcher if wrap is None else wrap(name, dispatcher)


def reference(name):
    """The NumPy twin of kernel ``name``."""
    return _reference[name]


def compiled(name):
    """The compiled CPU kernel ``name``, or None if it was not built."""
    return _compiled.get(name)


def names():
    return sorted(_reference)


def kernel_table():
    """[(name, group, 'compiled' | 'numpy')] for the CPU path in use."""
    rows = []
    for name in names():
        used = "compiled" if (_MODE != "numpy" and name in _compiled) else "numpy"
        rows.append((name, _group_of[name], used))
    return rows


def build_errors():
    return dict(_build_errors)


_load_groups()
from ._malloc import tune_malloc  # noqa: E402
tune_malloc()
if _MODE != "numpy":
    _splitting = [m for m in _modules if hasattr(m, "_use_own_gemm_threads")]
    if _splitting:       # only kernels that split their GEMMs may take BLAS's threads
        from ._blas_threads import take_over_blas_threads
        take_over_blas_threads(_splitting)
    _blocking = [m for m in _modules if hasattr(m, "_use_small_kernels")]
    if _blocking:
        from ._blas_threads import use_small_kernels
        use_small_kernels(_blocking)
    if not _compiled:
        import warnings
        warnings.warn(
            "tinygrad_kr: no compiled kernels found, running on the NumPy twins (slow). "
            f"Imported from {os.path.dirname(os.path.dirname(__file__))}: from a source "
            "checkout, build the kernels in place with `pip install -e .`; "
            "TKR_KERNELS=numpy silences this.", RuntimeWarning, stacklevel=2)
_dispatchers = {name: _make_dispatcher(name) for name in _reference}
globals().update(_dispatchers)
