"""The developer scripts in tools/ cannot rot unnoticed: the GPU ones only run
on a GPU machine, so here they are at least compiled (and the shell script
parsed), and the IDX writer is checked against the loader's reader."""
import glob
import os
import py_compile
import shutil
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools"))


@pytest.mark.parametrize("path", sorted(glob.glob(os.path.join(ROOT, "tools", "*.py"))),
                         ids=os.path.basename)
def test_tool_scripts_compile(path, tmp_path):
    py_compile.compile(path, cfile=str(tmp_path / "out.pyc"), doraise=True)


@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash")
def test_gpu_check_script_parses():
    done = subprocess.run(["bash", "-n", os.path.join(ROOT, "tools", "gpu_check.sh")],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("shape", [(5,), (3, 4, 2), (0, 28, 28)])
def test_idx_writer_round_trips_through_the_loader(tmp_path, shape):
    from export_mnist_idx import write_idx

    from tinygrad_kr.vision.datasets import read_idx
    a = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    path = tmp_path / "x-idx.gz"
    write_idx(path, a)
    back = read_idx(path)
    assert back.dtype == np.uint8 and back.shape == a.shape
    np.testing.assert_array_equal(back, a)
