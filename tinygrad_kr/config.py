"""What the engine runs on: compiled kernels, OpenMP, threads, BLAS."""
import os

from . import kernels
from .autograd import _core
from .kernels import _blas_threads, _malloc

__all__ = ["show_config", "config", "get_num_threads", "set_num_threads"]


def _config_module():
    try:
        from ._C import _config
        return _config
    except ImportError:
        return None


def get_num_threads():
    cfg = _config_module()
    return cfg.get_num_threads() if cfg is not None else 1


def set_num_threads(n):
    """Threads for the OpenMP kernels, which also split the GEMMs (SciPy's
    BLAS stays on one thread: see kernels/_blas_threads.py).  NumPy's own
    BLAS is limited too when threadpoolctl is installed."""
    cfg = _config_module()
    if cfg is None:
        if n < 1:
            raise ValueError(f"set_num_threads: n must be >= 1, got {n}")
        return
    cfg.set_num_threads(int(n))
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(int(n))
    except ImportError:
        pass
    else:
        # threadpool_limits also raised SciPy's BLAS, which the kernels keep
        # at one thread (they split GEMMs over their OpenMP threads).
        _blas_threads.repin_blas_threads()


def _blas_name():
    try:
        import scipy
        info = scipy.show_config(mode="dicts")
        blas = info["Build Dependencies"]["blas"]
        return f"{blas.get('name')} {blas.get('version')} (via scipy.linalg.cython_blas)"
    except Exception:  # noqa: BLE001 (older SciPy without mode='dicts')
        return "scipy.linalg.cython_blas"


def config():
    """A dict describing the build and the kernels in use."""
    cfg = _config_module()
    from .cuda import is_available
    table = kernels.kernel_table()
    return {
        "compiled_extension": cfg is not None,
        "openmp": bool(cfg.openmp_enabled()) if cfg is not None else False,
        "num_threads": get_num_threads(),
        "blas": _blas_name(),
        "blas_threads": _blas_threads.blas_threads_info()[0],
        "gemm_threading": _blas_threads.blas_threads_info()[1],
        "gemm_blocking": _blas_threads.small_kernels_info(),
        "malloc": _malloc.malloc_tuning(),
        "kernel_mode": os.environ.get("TKR_KERNELS", "auto"),
        "autograd_core": _core.name(),
        "kernels": {name: used for name, _, used in table},
        "compiled_count": sum(used == "compiled" for _, _, used in table),
        "kernel_count": len(table),
        "build_errors": {**kernels.build_errors(),
                         **({"graph": _core.build_error} if _core.build_error else {})},
        "cuda_available": is_available(),
    }


def show_config(file=None):
    """Print which kernels are compiled, OpenMP on/off, threads and BLAS."""
    c = config()
    lines = [
        "tinygrad_kr configuration",
        f"  compiled extension : {'yes' if c['compiled_extension'] else 'NO (NumPy twins only)'}",
        f"  OpenMP             : {'on' if c['openmp'] else 'off'}, {c['num_threads']} thread(s)",
        f"  BLAS               : {c['blas']}",
        f"  GEMM threads       : {c['gemm_threading']}",
        f"  GEMM blocks        : {c['gemm_blocking']}",
        f"  memory             : {c['malloc']}",
        f"  kernel mode        : {c['kernel_mode']} "
        f"({c['compiled_count']}/{c['kernel_count']} kernels compiled)",
        f"  autograd core      : {c['autograd_core']}",
        f"  CUDA (CuPy)        : {'available' if c['cuda_available'] else 'not available'}",
        "  kernels:",
    ]
    for name, used in sorted(c["kernels"].items()):
        lines.append(f"    {name:32s} {used}")
    for group, err in sorted(c["build_errors"].items()):
        lines.append(f"  not compiled: {group} ({err})")
    print("\n".join(lines), file=file)
