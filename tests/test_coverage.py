"""What the standards ask of the whole suite, checked after it ran (a subset
cannot tell; tests/conftest.py records what the tests did):

* every differentiable op has a float64 finite-difference gradcheck: every
  Function subclass in the package is in a graph some test gradchecked;
* every compiled kernel is compared to its NumPy twin in float32 and float64:
  both were called with arrays of both dtypes."""
import importlib
import pkgutil
from pathlib import Path

import pytest

import tinygrad_kr
from tinygrad_kr.autograd.function import Function

# Functions no CPU-only run can gradcheck, and where their check lives
NEEDS_A_GPU = {"ToDevice": "tests/test_device.py::test_to_device_gradcheck (on a GPU)"}
# Functions whose derivative is an error by design, and the test of that error
RAISES_BY_DESIGN = {"DelayedError": "tests/test_autograd_ctx_function.py::"
                                    "test_once_differentiable_under_create_graph_raises_only_"
                                    "when_differentiated_again",
                    "TwoZerosError": "tests/test_ops_shape_reduce.py::"
                                     "test_scatter_reduce_prod_double_backward_matches_torch",
                    "_NoDerivative": "tests/test_linalg_more.py::test_ldl_has_no_derivative_as_in_torch",
                    "CTCLossBackwardError": "tests/test_nn_ctc_misc.py::test_ctc_loss_create_"
                                            "graph_gives_the_gradient_and_refuses_a_second_"
                                            "derivative"}


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


def _skip_unless_the_whole_suite_ran(config):
    options, here = config.option, Path(__file__).parent
    given = [Path(arg.split("::")[0]).resolve() for arg in config.args]
    whole = all(here == path or here.is_relative_to(path) for path in given)
    if not whole or options.keyword or options.markexpr or options.deselect:
        pytest.skip("checks what the whole suite did: run it all")


@pytest.mark.after_all
def test_every_function_has_a_float64_gradcheck(request):
    _skip_unless_the_whole_suite_ran(request.config)
    checked = request.config.gradchecked
    # a base class for node classes made elsewhere (ctx_function.FunctionCtx)
    # counts as checked through a subclass
    missing = sorted(f"{f.__module__}.{f.__name__}" for f in _every_function()
                     if not any(issubclass(c, f) for c in checked)
                     and f.__name__ not in RAISES_BY_DESIGN
                     and not (f.__name__ in NEEDS_A_GPU and not tinygrad_kr.cuda.is_available()))
    assert not missing, f"Functions that no test gradchecks (float64): {missing}"


@pytest.mark.after_all
def test_every_compiled_kernel_is_compared_to_its_twin_in_both_float_dtypes(request):
    _skip_unless_the_whole_suite_ran(request.config)
    if tinygrad_kr.kernels._MODE == "numpy":
        pytest.skip("TKR_KERNELS=numpy: no compiled kernel runs")
    both = {"float32", "float64"}
    gaps = [f"{name} ({side}: {sorted(request.config.kernel_dtypes.get((name, side), ()))})"
            for name in tinygrad_kr.kernels.names()
            if tinygrad_kr.kernels._compiled.get(name) is not None
            for side in ("compiled", "twin")
            if not both <= request.config.kernel_dtypes.get((name, side), set())]
    assert not gaps, f"kernels not compared to their twins in float32 and float64: {gaps}"
