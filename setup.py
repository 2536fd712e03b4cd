"""Build the Cython kernels in csrc/ into tinygrad_kr._C.<name>.

OpenMP is optional: we compile a tiny OpenMP program first and add the flags
only if it builds (scikit-learn's approach).  Without it the kernels are built
serially and a warning says so.  BLAS comes from scipy.linalg.cython_blas
(function pointers resolved when SciPy loads), so nothing is linked here.
"""
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import warnings

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

OPENMP_PROBE = r"""
#include <omp.h>
int main(void) {
  int n = 0;
  #pragma omp parallel reduction(+:n)
  n += 1;
  return n > 0 ? 0 : 1;
}
"""


def openmp_flags():
    """Return (compile_args, link_args) for OpenMP, or None if unsupported."""
    if os.environ.get("TKR_NO_OPENMP"):
        return None
    cc = os.environ.get("CC", "cc")
    if shutil.which(cc.split()[0]) is None:
        return None
    tmp = tempfile.mkdtemp()
    try:
        src = os.path.join(tmp, "probe.c")
        with open(src, "w") as f:
            f.write(OPENMP_PROBE)
        out = os.path.join(tmp, "probe")
        r = subprocess.run(cc.split() + ["-fopenmp", src, "-o", out],
                           capture_output=True)
        if r.returncode == 0 and subprocess.run([out]).returncode == 0:
            return ["-fopenmp"], ["-fopenmp"]
    except OSError:
        pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return None


def native_flags():
    """-march=native: users build from source on the machine that runs the
    kernels, and the optimizer/element-wise loops are arithmetic-bound at
    SSE2's 4 lanes (measured 1.5x faster with AVX2).  TKR_PORTABLE=1 builds
    a binary that runs on any x86-64 / aarch64 CPU instead."""
    if os.environ.get("TKR_PORTABLE"):
        return []
    cc = os.environ.get("CC", "cc")
    tmp = tempfile.mkdtemp()
    try:
        src = os.path.join(tmp, "probe.c")
        with open(src, "w") as f:
            f.write("int main(void) { return 0; }\n")
        r = subprocess.run(cc.split() + ["-march=native", src, "-o", os.path.join(tmp, "p")],
                           capture_output=True)
        return ["-march=native"] if r.returncode == 0 else []
    except OSError:
        return []
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def extensions():
    omp = openmp_flags()
    if omp is None:
        warnings.warn("tinygrad_kr: OpenMP not available; kernels are built serially")
        sys.stderr.write("WARNING: building tinygrad_kr kernels without OpenMP\n")
        cargs, largs = [], []
    else:
        cargs, largs = omp
    # -ffp-contract=off: no fused multiply-adds behind our back.  With
    # -march=native GCC would contract a*b + c into an FMA, whose single
    # rounding differs from the NumPy twins' two (measured 1e-5 relative on a
    # momentum update that cancels); the fused kernels must equal the twins.
    cargs = cargs + ["-O3", "-fno-math-errno", "-ffp-contract=off"] + native_flags()
    exts = []
    # TKR_ONLY=blas,conv builds just those groups (handy while developing).
    only = {g for g in os.environ.get("TKR_ONLY", "").split(",") if g}
    for pyx in sorted(glob.glob(os.path.join("csrc", "*.pyx"))):
        name = os.path.splitext(os.path.basename(pyx))[0]
        if only and name not in only:
            continue
        exts.append(Extension(
            f"tinygrad_kr._C.{name}", [pyx],
            include_dirs=[np.get_include()],
            define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
            extra_compile_args=cargs, extra_link_args=largs))
    return cythonize(
        exts, language_level=3,
        compiler_directives={"boundscheck": False, "wraparound": False,
                             "cdivision": True, "initializedcheck": False,
                             "embedsignature": True})


setup(ext_modules=extensions())
