"""Every differentiable op has a float64 finite-difference gradcheck: every
Function subclass in the package appears in a graph that some test passed to
``gradcheck`` (tests/conftest.py records them).  Runs last, and only when the
whole suite ran (a subset cannot tell)."""
import importlib
import pkgutil
from pathlib import Path

import pytest

import tinygrad_kr
from tinygrad_kr.autograd.function import Function

# Functions no CPU-only run can gradcheck, and where their check lives
NEEDS_A_GPU = {"ToDevice": "tests/test_device.py::test_to_device_gradcheck (on a GPU)"}


def _every_function():
    for info in pkgutil.walk_packages(tinygrad_kr.__path__, "tinygrad_kr."):
        if ".experiments" not in info.name and not info.name.endswith("__main__"):
            importlib.import_module(info.name)
    found, stack = set(), [Function]
    while stack:
        for sub in stack.pop().__subclasses__():
            if sub.__module__.startswith("tinygrad_kr.") and sub not in found:
                found.add(sub)
                stack.append(sub)
    return found


@pytest.mark.after_all
def test_every_function_has_a_float64_gradcheck(request):
    options, here = request.config.option, Path(__file__).parent
    given = [Path(arg.split("::")[0]).resolve() for arg in request.config.args]
    whole = all(here == path or here.is_relative_to(path) for path in given)
    if not whole or options.keyword or options.markexpr or options.deselect:
        pytest.skip("checks the gradchecks of the whole suite: run it all")
    missing = sorted(f"{f.__module__}.{f.__name__}" for f in _every_function()
                     if f not in request.config.gradchecked
                     and not (f.__name__ in NEEDS_A_GPU and not tinygrad_kr.cuda.is_available()))
    assert not missing, f"Functions that no test gradchecks (float64): {missing}"
