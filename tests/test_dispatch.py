"""The dispatch layer: every kernel has a twin, the switch works, the build
is reported honestly."""
import json
import os
import subprocess
import sys

import numpy as np

import tinygrad_kr as tkr
from tinygrad_kr import kernels
from needs import unavailable

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_every_kernel_has_a_reference_twin_and_a_dispatcher():
    for name in kernels.names():
        assert callable(kernels.reference(name))
        assert callable(getattr(kernels, name))
        comp = kernels.compiled(name)
        if comp is not None:
            assert comp is not kernels.reference(name)


def test_config_reports_build_facts():
    c = tkr.config.config()
    assert set(c) >= {"compiled_extension", "openmp", "num_threads", "blas", "kernels"}
    assert c["kernel_count"] == len(kernels.names())
    assert "scipy" in c["blas"] or "blas" in c["blas"].lower()


def _run(env_extra, code):
    env = dict(os.environ, **env_extra)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


STEP = """
import json, numpy as np, tinygrad_kr as t
t.manual_seed(0)
x = t.randn(8, 5, dtype=t.float64); w = t.randn(5, 3, dtype=t.float64, requires_grad=True)
y = t.relu(x @ w).sum(); y.backward()
print(json.dumps({"mode": t.config.config()["kernel_mode"],
                  "used": sorted(set(t.config.config()["kernels"].values())),
                  "y": y.item(), "g": w.grad.array.ravel().tolist()}))
"""


def test_numpy_switch_runs_everything_on_the_twins_with_equal_results():
    twins = json.loads(_run({"TKR_KERNELS": "numpy"}, STEP))
    auto = json.loads(_run({"TKR_KERNELS": "auto"}, STEP))
    assert twins["used"] == ["numpy"]
    np.testing.assert_allclose(twins["y"], auto["y"], rtol=1e-12)
    np.testing.assert_allclose(twins["g"], auto["g"], rtol=1e-12)


def test_bad_switch_value_is_a_clear_error():
    env = dict(os.environ, TKR_KERNELS="fast")
    out = subprocess.run([sys.executable, "-c", "import tinygrad_kr"], capture_output=True,
                         text=True, env=env, cwd=ROOT, timeout=120)
    assert out.returncode != 0 and "TKR_KERNELS must be" in out.stderr


def test_show_config_prints(capsys):
    tkr.show_config()
    out = capsys.readouterr().out
    assert "OpenMP" in out and "BLAS" in out and "gemm" in out


def test_set_num_threads_validates():
    import pytest
    with pytest.raises(ValueError):
        tkr.set_num_threads(0)
    n = tkr.get_num_threads()
    tkr.set_num_threads(1)
    assert tkr.get_num_threads() == 1 or not tkr.config.config()["openmp"]
    tkr.set_num_threads(n)


_SWITCH_SCRIPT = """
import json, numpy as np, tinygrad_kr as tkr
from tinygrad_kr import kernels
c = tkr.config.config()
a = np.random.default_rng(0).standard_normal((300, 200))
b = np.random.default_rng(1).standard_normal((200, 150))
ok = bool(np.allclose(kernels.gemm(a, b), a @ b, rtol=1e-12, atol=1e-10))
a32, b32 = a.astype(np.float32)[:128], b.astype(np.float32)   # above the small-kernel limit
ok = ok and bool(np.allclose(kernels.gemm(a32, b32), a32 @ b32, rtol=1e-5, atol=1e-4))
from tinygrad_kr._C import blas
print(json.dumps({"gemm": c["gemm_threading"], "blas_threads": c["blas_threads"],
                  "malloc": c["malloc"], "blocks": c["gemm_blocking"], "ok": ok,
                  "one_thread_blocks": len(blas._gemm_blocks(False, False, 128, 150, 200, 1)[1])}))
"""


def _run_switch(**env):
    # the switches are about the compiled kernels: run in the default mode even
    # when the suite itself runs under TKR_KERNELS=numpy
    base = {k: v for k, v in os.environ.items() if k != "TKR_KERNELS"}
    out = subprocess.run([sys.executable, "-c", _SWITCH_SCRIPT], capture_output=True, text=True,
                         check=True, env=dict(base, OMP_NUM_THREADS="2", **env), cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_gemm_threading_and_malloc_switches():
    """Default: SciPy's BLAS pinned to one thread, GEMMs split over OpenMP,
    malloc tuned; each switch turns its part off and the GEMM stays right."""
    if not tkr.config.config()["compiled_extension"]:
        unavailable("no compiled kernels")
    default = _run_switch()
    assert default["ok"]
    if default["blas_threads"] is not None:       # an OpenBLAS we can reach
        assert default["blas_threads"] == 1 and "split over OpenMP" in default["gemm"]
    if sys.platform.startswith("linux"):
        assert default["malloc"].startswith("glibc")
    # small-matrix blocks: on exactly where the engine says so
    assert (default["one_thread_blocks"] > 1) == ("cut into blocks" in default["blocks"])
    off = _run_switch(TKR_OWN_GEMM_THREADS="0", TKR_MALLOC_TUNING="0", TKR_GEMM_SMALL_BLOCKS="0")
    assert off["ok"]
    assert "TKR_OWN_GEMM_THREADS=0" in off["gemm"]
    assert "TKR_MALLOC_TUNING=0" in off["malloc"]
    assert "TKR_GEMM_SMALL_BLOCKS=0" in off["blocks"] and off["one_thread_blocks"] == 1


def test_warns_when_no_kernel_is_compiled():
    """A checkout imported without its build (the kernels live elsewhere or
    nowhere) says so instead of silently running on the twins."""
    import glob
    groups = [os.path.splitext(os.path.basename(p))[0]
              for p in glob.glob(os.path.join(ROOT, "csrc", "*.pyx"))]
    script = (
        "import sys, warnings\n"
        f"for g in {groups!r}:\n"
        "    sys.modules['tinygrad_kr._C.' + g] = None   # as if never built\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    import tinygrad_kr\n"
        "print(sum('no compiled kernels' in str(w.message) for w in caught))\n"
        "print(tinygrad_kr.config.config()['gemm_threading'])\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True, cwd=ROOT, env=dict(os.environ, TKR_KERNELS="auto"))
    count, gemm = out.stdout.strip().splitlines()[-2:]
    assert count == "1"
    assert "not in use" in gemm       # SciPy's BLAS keeps its threads: nothing splits GEMMs
