"""The GPU kernels (tinygrad_kr/kernels/cuda_<group>.py) against their NumPy twins.

Layers, so that a machine without a GPU still checks what it can:

* always: every GPU kernel has its twin's name and signature and is what the
  dispatcher sends CuPy arrays to; raw-kernel arguments are checked against
  the kernels' C signatures.
* with a C++ compiler (no GPU): the GPU code path runs on NumPy arrays with a
  CPU stand-in for CuPy that compiles the kernels' CUDA C for the host
  (tests/cuda_on_cpu.py): validation, shapes, chunking, kernel arguments and
  the kernels' arithmetic, against the twins, float32 and float64.
* with CuPy and its NVRTC installed (no GPU needed): every CUDA source, as
  CuPy generates it, compiles for float32 and float64.
* on a GPU: each kernel against its twin on the same inputs, float32 and
  float64, and a small training run on the GPU against the CPU.
"""
import copy
import ctypes
import threading
import importlib
import inspect

import numpy as np
import pytest

import tinygrad_kr as tkr
from tinygrad_kr import kernels
from tinygrad_kr.kernels import _cublas, _gpu

import cuda_on_cpu

GROUPS = ["blas", "elementwise", "loss", "optim", "conv", "pool", "norm"]
MODULES = {g: importlib.import_module(f"tinygrad_kr.kernels.cuda_{g}") for g in GROUPS}
TWINS = {g: importlib.import_module(f"tinygrad_kr.kernels.ref_{g}") for g in GROUPS}
GPU_NAMES = [(g, name) for g in GROUPS for name in MODULES[g].__all__]

HAS_CUDA = tkr.cuda.is_available()
on_gpu = pytest.mark.skipif(not HAS_CUDA, reason="no CUDA GPU")
DTYPES = [np.float32, np.float64]
TOL = {np.dtype(np.float32): dict(rtol=2e-5, atol=2e-5),
       np.dtype(np.float64): dict(rtol=1e-9, atol=1e-11)}


# ---------------------------------------------------------------- test inputs
# A case builds NumPy inputs (args, kwargs) for one kernel from a Generator and
# a dtype; the same case feeds the twin, the CPU stand-in and the GPU.

def _randn(rng, shape, dtype, scale=1.0):
    return np.asarray(scale * rng.standard_normal(shape), dtype=dtype)


def _ce_case(shape, weighted=False, ignore=0, smoothing=0.0, reduction="mean", prob=False,
             fortran=False):
    """Logits of ``shape`` (class axis 0 for 1-D, else 1) and their targets;
    every ``ignore``-th target is ignore_index."""
    axis = 0 if len(shape) == 1 else 1

    def make(rng, dtype):
        logits = _randn(rng, shape, dtype, 2.0)
        if fortran:   # not C-contiguous
            logits = np.asfortranarray(logits)
        C = shape[axis]
        if prob:
            t = rng.uniform(0.1, 1.0, shape)
            target = (t / t.sum(axis=axis, keepdims=True)).astype(dtype)
        else:
            target = rng.integers(0, C, size=shape[:axis] + shape[axis + 1:])
            if ignore:
                target.reshape(-1)[::ignore] = -100
        weight = rng.uniform(0.5, 2.0, C).astype(dtype) if weighted else None
        return (logits, target, weight), dict(ignore_index=-100, reduction=reduction,
                                              label_smoothing=smoothing)
    return make


CE_CASES = {
    "2d": _ce_case((6, 5)),
    "2d-weight-ignore-smooth-sum": _ce_case((7, 4), weighted=True, ignore=3, smoothing=0.2,
                                            reduction="sum"),
    "2d-many-classes-none-fortran": _ce_case((3, 100), smoothing=0.1, reduction="none",
                                             fortran=True),
    "2d-all-ignored": _ce_case((4, 3), ignore=1),   # mean over no weight: nan, as PyTorch
    "4d-weight-ignore-fortran": _ce_case((2, 3, 4, 5), weighted=True, ignore=3, fortran=True),
    "1d": _ce_case((9,), smoothing=0.3),
    "prob-target": _ce_case((5, 4), prob=True, smoothing=0.1),
}


def _ce_backward(case):
    def make(rng, dtype):
        (logits, target, weight), kw = case(rng, dtype)
        loss, lse, total_weight = kernels.reference("cross_entropy_forward")(
            logits, target, weight, **kw)
        gloss = _randn(rng, loss.shape, dtype) if kw["reduction"] == "none" else np.asarray(
            1.5, dtype=dtype)
        return (logits, target, lse, gloss, total_weight, weight), kw
    return make


CONV_GEOMETRIES = {   # (x shape, w shape, stride, padding, dilation, bias)
    "3x3-stride2-pad1": ((2, 3, 7, 6), (4, 3, 3, 3), (2, 2), (1, 1), (1, 1), True),
    "1x1": ((3, 4, 5, 5), (2, 4, 1, 1), (1, 1), (0, 0), (1, 1), False),
    "dilated-rect": ((2, 2, 8, 9), (3, 2, 3, 2), (1, 2), (2, 1), (2, 3), True),
}


def _conv(which, geometry):
    xs, ws, stride, padding, dilation, bias = CONV_GEOMETRIES[geometry]

    def make(rng, dtype):
        x, w = np.asfortranarray(_randn(rng, xs, dtype)), _randn(rng, ws, dtype)
        b = _randn(rng, ws[:1], dtype) if bias else None
        y = kernels.reference("conv2d_forward")(x, w, b, stride, padding, dilation)
        gy = _randn(rng, y.shape, dtype)
        return {"forward": (x, w, b, stride, padding, dilation),
                "backward_input": (gy, w, xs, stride, padding, dilation),
                "backward_weight": (gy, x, ws, stride, padding, dilation)}[which], {}
    return make


POOL_GEOMETRIES = {   # (x shape, kernel, stride, padding, dilation, ceil_mode)
    "2x2": ((2, 3, 6, 8), (2, 2), (2, 2), (0, 0), (1, 1), False),
    "3x3-pad-ceil": ((1, 2, 7, 5), (3, 3), (2, 2), (1, 1), (1, 1), True),
    "rect-dilated": ((2, 1, 9, 8), (2, 3), (1, 2), (1, 1), (2, 1), False),
}


def _max_pool(which, geometry, special=False):
    xs, k, s, p, d, ceil = POOL_GEOMETRIES[geometry]

    def make(rng, dtype):
        x = np.asfortranarray(_randn(rng, xs, dtype))
        if special:   # ties, -inf and NaN (NaN wins, ties go to the first maximum)
            x = np.round(x)
            x.flat[::7] = -np.inf
            x.flat[5::11] = np.nan
        if which == "forward":
            return (x, k, s, p, d, ceil), {}
        y, indices = kernels.reference("max_pool2d_forward")(x, k, s, p, d, ceil)
        return (_randn(rng, y.shape, dtype), indices, xs), {}
    return make


def _avg_pool(which, geometry, count_include_pad=True, divisor_override=None):
    xs, k, s, p, _, ceil = POOL_GEOMETRIES[geometry]

    def make(rng, dtype):
        x = _randn(rng, xs, dtype)
        options = (ceil, count_include_pad, divisor_override)
        if which == "forward":
            return (x, k, s, p, *options), {}
        y = kernels.reference("avg_pool2d_forward")(x, k, s, p, *options)
        return (_randn(rng, y.shape, dtype), xs, k, s, p, *options), {}
    return make


def _batch_norm(which, shape, training=True, affine=True, running=True):
    def make(rng, dtype):
        C = shape[1]
        x = _randn(rng, shape, dtype, 2.0) + 0.5
        weight = rng.uniform(0.5, 2, C).astype(dtype) if affine else None
        bias = _randn(rng, C, dtype) if affine else None
        rm = _randn(rng, C, dtype) if running else None
        rv = rng.uniform(0.5, 2, C).astype(dtype) if running else None
        if which == "forward":
            return (x, weight, bias, rm, rv, training, 0.1, 1e-5), {}
        _, mean, invstd = kernels.reference("batch_norm_forward")(
            x, weight, bias, rm, rv, training, 0.1, 1e-5)
        return (_randn(rng, shape, dtype), x, weight, mean, invstd, training), {}
    return make


def _elementwise(name, shape=(4, 5, 3)):
    def make(rng, dtype):
        x = _randn(rng, shape, dtype)
        x.reshape(-1)[::5] = 0.0
        gy = _randn(rng, shape, dtype)
        return {"relu_forward": ((x,), {}),
                "relu_backward": ((gy, np.maximum(x, 0)), {}),
                "leaky_relu_forward": ((x, 0.1), {}),
                "leaky_relu_backward": ((gy, x, 0.1), {})}[name]
    return make


def _dropout(which, p, block_of_plane=False):
    shape = (3, 4, 5, 2)

    def make(rng, dtype):
        x = _randn(rng, shape, dtype)
        block = shape[2] * shape[3] if block_of_plane else 1
        if which == "forward":
            return (x, p, np.random.default_rng(7), block), {}
        _, mask = kernels.reference("dropout_forward")(x, p, np.random.default_rng(7), block)
        return (x, mask, p, block), {}
    return make


OPTIM_STATES = {   # the state lists after (first, params, grads), and their defaults
    "sgd_update": (["momentum_buffers"], dict(lr=0.1, momentum=0.0, dampening=0.0,
                                              nesterov=False, weight_decay=0.0, maximize=False)),
    "adagrad_update": (["state_sums"], dict(lr=0.1, lr_decay=0.0, weight_decay=0.0, eps=1e-10,
                                            maximize=False)),
    "rmsprop_update": (["square_avgs", "grad_avgs", "momentum_buffers"],
                       dict(lr=0.01, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                            centered=False, maximize=False)),
    "adadelta_update": (["square_avgs", "acc_deltas"], dict(lr=1.0, rho=0.9, eps=1e-6,
                                                            weight_decay=0.0, maximize=False)),
    "adam_update": (["exp_avgs", "exp_avg_sqs", "max_exp_avg_sqs"],
                    dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0,
                         amsgrad=False, maximize=False, decoupled_weight_decay=False)),
}


def _optim(name, **options):
    states, defaults = OPTIM_STATES[name]

    def make(rng, dtype):
        shapes = [(0,), (), (3, 4), (257,)]
        params = [_randn(rng, s, dtype) for s in shapes]
        grads = [_randn(rng, s, dtype) for s in shapes]
        # squares in [1, 2], averages in [-0.5, 0.5]: every sqrt stays real (centered
        # RMSprop needs square_avg >= grad_avg^2)
        signed = ("grad_avgs", "exp_avgs", "momentum_buffers")
        lists = [[np.asarray(rng.uniform(-0.5, 0.5, s) if state in signed else
                             rng.uniform(1, 2, s), dtype) for s in shapes] for state in states]
        first = np.array([False, True, False, True]) if name == "sgd_update" \
            else np.array([1.0, 3.0, 2.0, 10.0])
        return (first, params, grads, *lists), {**defaults, **options}
    return make


def _gemm(m, n, k, trans_a=False, trans_b=False, bias=False, layout="C"):
    """op(a) (m, k) @ op(b) (k, n); layout "F" stores both operands
    column-major, "strided" as every other column of a wider array."""
    def make(rng, dtype):
        def operand(rows, cols, trans):
            x = _randn(rng, (cols, rows) if trans else (rows, cols), dtype)
            if layout == "F":
                return np.asfortranarray(x)
            if layout == "strided":
                wide = np.repeat(x, 2, axis=1)
                return wide[:, ::2]
            return x
        a, b = operand(m, k, trans_a), operand(k, n, trans_b)
        return (a, b, trans_a, trans_b, _randn(rng, (n,), dtype) if bias else None), {}
    return make


CASES = {
    "gemm-nn": _gemm(5, 7, 3),
    "gemm-nt-bias": _gemm(6, 4, 9, trans_b=True, bias=True),    # Linear's forward
    "gemm-tn": _gemm(8, 3, 5, trans_a=True),                    # Linear's weight gradient
    "gemm-tt-fortran": _gemm(4, 6, 5, trans_a=True, trans_b=True, layout="F"),
    "gemm-nn-fortran-bias": _gemm(3, 5, 7, bias=True, layout="F"),
    "gemm-nt-strided": _gemm(4, 5, 6, trans_b=True, layout="strided"),
    "gemm-vectors": _gemm(1, 1, 8),
    "gemm-outer": _gemm(4, 3, 1, bias=True),
    "gemm-empty-k": _gemm(3, 4, 0, bias=True),
    "gemm-empty-m": _gemm(0, 4, 3),
    "bias_grad-linear": lambda rng, dtype: ((_randn(rng, (7, 5), dtype),), {}),
    "bias_grad-conv": lambda rng, dtype: ((_randn(rng, (3, 4, 5, 6), dtype),), {}),
    "bias_grad-1d-transposed": lambda rng, dtype: ((_randn(rng, (6, 3, 4), dtype).transpose(2, 1, 0),), {}),
    "bias_grad-empty": lambda rng, dtype: ((np.zeros((0, 3, 2), dtype),), {}),
    "bias_grad-one-position": lambda rng, dtype: ((_randn(rng, (4, 3, 1, 1), dtype),), {}),
    "bias_grad-large": lambda rng, dtype: ((_randn(rng, (3, 2, 40, 40), dtype),), {}),
    **{f"{n}": _elementwise(n) for n in ["relu_forward", "relu_backward", "leaky_relu_forward",
                                         "leaky_relu_backward"]},
    "relu_forward-transposed": lambda rng, dtype: ((_randn(rng, (3, 4, 5), dtype).T,), {}),
    "dropout_forward-p0.3": _dropout("forward", 0.3),
    "dropout_forward-2d": _dropout("forward", 0.5, block_of_plane=True),
    "dropout_forward-p1": _dropout("forward", 1.0),
    # p within 2^-33 of 1: round(p * 2^32) == 2^32 overflowed the CPU kernel's uint32
    # threshold; the GPU's is uint64 (nothing kept), and 2^32 - 1 keeps only the top draw
    "dropout_forward-p-next-to-1": _dropout("forward", float(np.nextafter(1.0, 0.0))),
    "dropout_forward-p-1e-12-below-1": _dropout("forward", 1 - 1e-12),
    "dropout_forward-largest-uint32-threshold": _dropout("forward", (2.0 ** 32 - 1) / 2.0 ** 32),
    "dropout_backward-2d": _dropout("backward", 0.5, block_of_plane=True),
    **{f"cross_entropy_forward-{k}": c for k, c in CE_CASES.items()},
    **{f"cross_entropy_backward-{k}": _ce_backward(c) for k, c in CE_CASES.items()},
    **{f"conv2d_{w}-{g}": _conv(w, g) for w in ["forward", "backward_input", "backward_weight"]
       for g in CONV_GEOMETRIES},
    **{f"max_pool2d_{w}-{g}": _max_pool(w, g) for w in ["forward", "backward"]
       for g in POOL_GEOMETRIES},
    "max_pool2d_forward-nan-inf-ties": _max_pool("forward", "3x3-pad-ceil", special=True),
    **{f"avg_pool2d_{w}-{g}": _avg_pool(w, g) for w in ["forward", "backward"]
       for g in POOL_GEOMETRIES if g != "rect-dilated"},
    **{f"avg_pool2d_{w}-exclude-pad": _avg_pool(w, "3x3-pad-ceil", count_include_pad=False)
       for w in ["forward", "backward"]},
    **{f"avg_pool2d_{w}-divisor": _avg_pool(w, "3x3-pad-ceil", divisor_override=3)
       for w in ["forward", "backward"]},
    "batch_norm_forward-train": _batch_norm("forward", (4, 3, 5, 2)),
    "batch_norm_forward-train-2d-plain": _batch_norm("forward", (6, 4), affine=False,
                                                     running=False),
    "batch_norm_forward-eval": _batch_norm("forward", (4, 3, 5), training=False),
    "batch_norm_backward-train": _batch_norm("backward", (4, 3, 5, 2)),
    "batch_norm_backward-train-plain": _batch_norm("backward", (6, 4), affine=False),
    "batch_norm_backward-eval": _batch_norm("backward", (4, 3, 5), training=False),
    "sgd_update": _optim("sgd_update"),
    "sgd_update-momentum": _optim("sgd_update", momentum=0.9, dampening=0.1, weight_decay=0.01),
    "sgd_update-nesterov": _optim("sgd_update", momentum=0.9, nesterov=True, maximize=True),
    "adagrad_update": _optim("adagrad_update", lr_decay=0.1, weight_decay=0.1, maximize=True),
    "rmsprop_update": _optim("rmsprop_update"),
    "rmsprop_update-centered-momentum": _optim("rmsprop_update", momentum=0.5, centered=True,
                                               weight_decay=0.1),
    "rmsprop_update-lerp-high": _optim("rmsprop_update", alpha=0.3, centered=True, maximize=True),
    "adadelta_update": _optim("adadelta_update", rho=0.5, weight_decay=0.1, maximize=True),
    "adam_update": _optim("adam_update"),
    "adam_update-amsgrad-l2": _optim("adam_update", beta1=0.3, weight_decay=0.1, amsgrad=True),
    "adamw_update": _optim("adam_update", weight_decay=0.1, decoupled_weight_decay=True,
                           maximize=True, amsgrad=True),
}


def _kernel_name(case):
    name = case.split("-")[0]
    return "adam_update" if name == "adamw_update" else name


def _run(fn, args, kwargs):
    """The kernel's outputs, or (in-place kernels) the arrays it was given."""
    out = fn(*args, **kwargs)
    return args if out is None else out


def _arrays(obj):
    """The arrays in a nested result (numbers as 0-d arrays; None skipped)."""
    if obj is None or isinstance(obj, (np.random.Generator, str)):
        return []
    if isinstance(obj, (tuple, list)):
        return [a for item in obj for a in _arrays(item)]
    return [obj]


def test_every_gpu_kernel_has_cases():
    assert {_kernel_name(c) for c in CASES} == {name for _, name in GPU_NAMES}


# ---------------------------------------------------------- without a GPU

@pytest.mark.parametrize("group,name", GPU_NAMES)
def test_gpu_kernel_matches_twin_and_is_dispatched(group, name):
    gpu, twin = getattr(MODULES[group], name), getattr(TWINS[group], name)
    assert name in TWINS[group].__all__
    assert inspect.signature(gpu) == inspect.signature(twin)
    assert kernels._cuda_kernel(name) is gpu   # where the dispatcher sends CuPy arrays


def test_raw_kernel_arguments_are_checked():
    raw = [k for k in _gpu.DECLARED if isinstance(k, _gpu.RawKernel)]
    assert raw, "no raw kernels declared"
    im2col = MODULES["conv"]._im2col_kernel
    x, col = np.zeros((1, 2, 3, 3), np.float32), np.zeros((1, 2, 9), np.float32)
    geo = (2, 3, 3, 1, 1, 3, 3, 1, 1, 0, 0, 1, 1, 1, 1)    # + NB and the index-width flag
    dtype, packed = im2col.pack((x, col, col.size, *geo))
    assert dtype == np.float32 and all(type(a) is np.int64 for a in packed[2:-1])
    assert type(packed[-1]) is np.int32
    with pytest.raises(TypeError, match="takes 18 arguments"):
        im2col.pack((x, col, *geo))
    with pytest.raises(TypeError, match="col must be a C-contiguous float32"):
        im2col.pack((x, col.astype(np.float64), col.size, *geo))
    with pytest.raises(TypeError, match="C-contiguous"):
        im2col.pack((x, np.zeros((9, 2, 1), np.float32).T, col.size, *geo))
    with pytest.raises(TypeError, match="float32 or float64"):
        im2col.pack((x.astype(np.int32), col, col.size, *geo))
    with pytest.raises(ValueError, match="no `extern"):
        _gpu.RawKernel('extern "C" __global__ void other(T* x) {}', "tkr_mismatch")
    with pytest.raises(ValueError, match="type must be T"):
        _gpu.RawKernel('extern "C" __global__ void k(short* x) {}', "k")


def test_raw_kernel_numbers_go_through_per_thread_slots(cpu_cupy):
    """A launch passes its numbers as CuPy CPointers to host slots holding
    them in their C types (CuPy converts a NumPy scalar per argument and
    launch otherwise); the slots are range-checked as the NumPy scalars are,
    and each thread writes its own (two threads launching the same kernel
    must not overwrite each other's arguments)."""
    im2col = MODULES["conv"]._im2col_kernel
    x, col = np.zeros((1, 2, 3, 3), np.float32), np.zeros((1, 2, 9), np.float32)
    geo = (2, 3, 3, 1, 1, 3, 3, 1, 1, 0, 0, 1, 1, 1, 1)
    dtype, packed = im2col.pack((x, col, col.size, *geo), into_slots=True)
    assert packed[0] is x and packed[1] is col
    assert all(isinstance(a, cuda_on_cpu.CPointer) for a in packed[2:])
    values = [ctypes.c_longlong.from_address(a.ptr).value for a in packed[2:-1]]
    assert values == [col.size, *geo[:-1]]
    assert ctypes.c_int.from_address(packed[-1].ptr).value == 1
    with pytest.raises(OverflowError):
        im2col.pack((x, col, col.size, *geo[:-1], 2**31), into_slots=True)   # an int flag
    other = []
    thread = threading.Thread(target=lambda: other.append(
        im2col.pack((x, col, col.size, *geo), into_slots=True)[1]))
    thread.start()
    thread.join()
    assert {a.ptr for a in packed[2:]}.isdisjoint(a.ptr for a in other[0][2:])
    # a launch: the stand-in reads the values back from the slots
    im2col(col.size, x, col, col.size, *geo)
    (name, args), = cuda_on_cpu.RawKernel.launches
    assert args[2:] == (col.size, *geo) and type(args[-1]) is np.int32


@pytest.fixture
def cpu_cupy(monkeypatch):
    """Run the GPU kernels' CUDA C on the host (tests/cuda_on_cpu.py)."""
    if cuda_on_cpu.CXX is None:
        pytest.skip("no C++ compiler to run the CUDA C on the host")
    fake = cuda_on_cpu.CpuCupy()
    for mod in [_gpu, _cublas, *MODULES.values()]:
        monkeypatch.setattr(mod, "cupy_module", lambda: fake)
    monkeypatch.setattr(_cublas, "library", lambda: cuda_on_cpu.CpuCublas)
    monkeypatch.setattr(_cublas, "handle", lambda: 0)
    monkeypatch.setattr(_cublas, "address", cuda_on_cpu.CpuCublas.address)
    cuda_on_cpu.CpuCublas.calls, cuda_on_cpu.CpuCublas.buffers = [], {}
    for k in _gpu.DECLARED:   # kernels built for the stand-in must not outlive the test
        if isinstance(k, _gpu.RawKernel):
            monkeypatch.setattr(k, "_kernels", {})
            # nor its argument slots (their pointers are the stand-in's CPointers; a
            # GPU test in the same process must get CuPy's, and this test not those)
            monkeypatch.setattr(k, "_local", threading.local())
        else:
            monkeypatch.setattr(k, "_kernel", None)
    cuda_on_cpu.RawKernel.launches = []
    return fake


def _assert_matches(got, want, dtype):
    got, want = _to_host(got), _to_host(want)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == w.dtype
        if w.dtype.kind == "f":
            np.testing.assert_allclose(g, w, **TOL[np.dtype(dtype)], equal_nan=True)
        else:
            np.testing.assert_array_equal(g, w)


def _to_host(obj):
    return [a.get() if hasattr(a, "get") else np.asarray(a) for a in _arrays(obj)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", sorted(CASES))
def test_kernel_on_cpu_matches_twin(cpu_cupy, case, dtype):
    """The GPU path (validation, shapes, kernel arguments and the kernels'
    CUDA C, compiled for the host) against the twin, without a GPU."""
    name = _kernel_name(case)
    args, kwargs = CASES[case](np.random.default_rng(0), dtype)
    group = next(g for g, n in GPU_NAMES if n == name)
    want = _run(kernels.reference(name), *copy.deepcopy((args, kwargs)))
    with np.errstate(divide="ignore", invalid="ignore"):   # CuPy does not warn on 0/0
        got = _run(getattr(MODULES[group], name).__wrapped__, *copy.deepcopy((args, kwargs)))
    _assert_matches(got, want, dtype)


@pytest.mark.parametrize("name,args,error", [
    ("cross_entropy_forward", lambda: (np.zeros((2, 3)), np.array([0, 3])), IndexError),
    ("cross_entropy_forward", lambda: (np.zeros((2, 3)), np.array([0, 1], np.int32)), TypeError),
    ("cross_entropy_backward", lambda: (np.zeros((2, 3)), np.array([0, 5]), np.zeros(2),
                                        np.array(1.0), 2.0), IndexError),
    ("conv2d_forward", lambda: (np.zeros((1, 2, 5, 5)), np.zeros((3, 3, 3, 3)), None, (1, 1),
                                (0, 0), (1, 1)), ValueError),
    ("conv2d_forward", lambda: (np.zeros((1, 2, 2, 2)), np.zeros((3, 2, 3, 3)), None, (1, 1),
                                (0, 0), (1, 1)), ValueError),
    ("conv2d_backward_input", lambda: (np.zeros((1, 3, 3, 3)), np.zeros((2, 2, 3, 3)),
                                       (1, 2, 5, 5), (1, 1), (0, 0), (1, 1)), ValueError),
    ("conv2d_backward_weight", lambda: (np.zeros((1, 2, 3, 4)), np.zeros((1, 2, 5, 5)),
                                        (2, 2, 3, 3), (1, 1), (0, 0), (1, 1)), ValueError),
    ("max_pool2d_forward", lambda: (np.zeros((1, 1, 4, 4)), (2, 2), (2, 2), (2, 2), (1, 1),
                                    False), ValueError),
    ("max_pool2d_backward", lambda: (np.zeros((1, 1, 2, 2)), np.full((1, 1, 2, 2), 16),
                                     (1, 1, 4, 4)), IndexError),
    ("avg_pool2d_forward", lambda: (np.zeros((1, 1, 4, 4)), (2, 2), (2, 2), (0, 0), False, True,
                                    0), ValueError),
    ("batch_norm_forward", lambda: (np.zeros((2, 3)), np.zeros(2), None, None, None, True, 0.1,
                                    1e-5), ValueError),
    ("dropout_forward", lambda: (np.zeros(3), 1.5, np.random.default_rng(0)), ValueError),
    ("dropout_backward", lambda: (np.zeros(4), np.zeros(3, np.uint8), 0.5), ValueError),
    ("dropout_backward", lambda: (np.zeros(4), np.zeros(4, bool), 0.5), ValueError),
    ("max_pool2d_backward", lambda: (np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 2, 3), np.int64),
                                     (1, 1, 4, 4)), ValueError),
    ("avg_pool2d_backward", lambda: (np.zeros((1, 1, 3, 2)), (1, 1, 4, 4), (2, 2), (2, 2),
                                     (0, 0), False, True, None), ValueError),
    ("cross_entropy_forward", lambda: (np.zeros((2, 3)), np.array([0, 1]), np.ones(2)),
     ValueError),
    ("cross_entropy_forward", lambda: (np.zeros((2, 3)), np.array([0, 1]), None, -100,
                                       "average"), ValueError),
    ("batch_norm_forward", lambda: (np.zeros((2, 3), np.float32), np.zeros(3), None, None, None,
                                    True, 0.1, 1e-5), TypeError),
    ("sgd_update", lambda: (np.zeros(1, bool), [np.zeros(2, np.float32)], [np.zeros(2)], None,
                            0.1, 0.0, 0.0, False, 0.0, False), TypeError),
    ("adam_update", lambda: (np.ones(1), [np.zeros(2)], [np.zeros(3)], [np.zeros(2)],
                             [np.zeros(2)], None, 1e-3, 0.9, 0.999, 1e-8, 0.0, False, False,
                             False), ValueError),
])
def test_invalid_arguments_raise_the_twins_errors(cpu_cupy, name, args, error):
    group = next(g for g, n in GPU_NAMES if n == name)
    with pytest.raises(error) as want:
        kernels.reference(name)(*args())
    with pytest.raises(error) as got:
        getattr(MODULES[group], name).__wrapped__(*args())
    assert str(got.value) == str(want.value)


@pytest.mark.parametrize("which", ["forward", "backward_input", "backward_weight"])
def test_conv_batches_in_chunks_that_bound_the_column_buffer(cpu_cupy, monkeypatch, which):
    conv = MODULES["conv"]
    monkeypatch.setattr(conv, "COL_BYTES", 3 * 27 * 16 * 8)   # three images per chunk
    rng = np.random.default_rng(0)
    x, w, gy = _randn(rng, (7, 3, 4, 4), np.float64), _randn(rng, (2, 3, 3, 3), np.float64), \
        _randn(rng, (7, 2, 4, 4), np.float64)
    args = {"forward": (x, w, None), "backward_input": (gy, w, x.shape),
            "backward_weight": (gy, x, w.shape)}[which] + ((1, 1), (1, 1), (1, 1))
    got = getattr(conv, f"conv2d_{which}").__wrapped__(*args)
    _assert_matches(got, kernels.reference(f"conv2d_{which}")(*args), np.float64)
    # one im2col (or col2im) launch per chunk, on the chunk's images: the last
    # geometry argument (before the index-width flag) is the chunk's batch
    unfold = [args[-2] for name, args in cuda_on_cpu.RawKernel.launches
              if name in ("tkr_im2col", "tkr_col2im")]
    assert unfold == [3, 3, 1]


@pytest.mark.parametrize("which", ["forward", "backward_input", "backward_weight"])
def test_conv_64_bit_indexing_path(cpu_cupy, monkeypatch, which):
    """Arrays past 2**31 elements take the kernels' 64-bit index path: forced here."""
    conv = MODULES["conv"]
    monkeypatch.setattr(conv, "INT32_MAX", 0)
    rng = np.random.default_rng(1)
    x, w, gy = _randn(rng, (3, 2, 5, 4), np.float64), _randn(rng, (4, 2, 3, 2), np.float64), \
        _randn(rng, (3, 4, 3, 2), np.float64)
    args = {"forward": (x, w, _randn(rng, (4,), np.float64)), "backward_input": (gy, w, x.shape),
            "backward_weight": (gy, x, w.shape)}[which] + ((2, 2), (1, 0), (1, 1))
    got = getattr(conv, f"conv2d_{which}").__wrapped__(*args)
    _assert_matches(got, kernels.reference(f"conv2d_{which}")(*args), np.float64)
    assert all(args[-1] == 0 for name, args in cuda_on_cpu.RawKernel.launches
               if name in ("tkr_im2col", "tkr_col2im"))


MULTI_TENSOR_OPTIONS = {   # one case per optimizer, every state list switched on
    "sgd_update": dict(momentum=0.9, dampening=0.1, weight_decay=0.01),
    "adagrad_update": dict(lr_decay=0.1, weight_decay=0.1),
    "rmsprop_update": dict(momentum=0.5, centered=True, alpha=0.3),
    "adadelta_update": dict(rho=0.5, weight_decay=0.1),
    "adam_update": dict(lr=1e-2, weight_decay=0.1, amsgrad=True, decoupled_weight_decay=True),
}


def _multi_tensor_case(name, shapes, per_param, dtype):
    states, defaults = OPTIM_STATES[name]
    rng = np.random.default_rng(1)
    signed = ("grad_avgs", "exp_avgs", "momentum_buffers")
    arrays = [[np.asarray(rng.uniform(-0.5, 0.5, s) if state in signed else rng.uniform(1, 2, s),
                          dtype) for s in shapes] for state in ["params", "grads", *states]]
    for lst in arrays[1::2]:   # every other list: tensor 3 is a view one element in
        if len(lst) > 3:       # (C-contiguous, not 16-byte aligned: no vector loads)
            view = np.empty(lst[3].size + 1, dtype)[1:].reshape(lst[3].shape)
            view[...] = lst[3]
            lst[3] = view
    return (per_param, *arrays), {**defaults, **MULTI_TENSOR_OPTIONS[name]}


@pytest.mark.parametrize("chunk", [None, 8, 200])   # None: the module's CHUNK
@pytest.mark.parametrize("name", sorted(MULTI_TENSOR_OPTIONS))
def test_optimizer_update_is_one_launch_over_all_tensors(cpu_cupy, monkeypatch, name, chunk):
    """One update call over tensors of mixed sizes (empty, one element, no
    multiple of the chunk) launches its kernel once, and each parameter uses
    its own step count (or first-step flag) from the per-parameter array."""
    optim = MODULES["optim"]
    if chunk is not None:
        monkeypatch.setattr(optim, "CHUNK", chunk)
    c = optim.CHUNK
    shapes = [(2 * c + 3,), (0,), (1,), (3, c // 2 + 1), (c,)]
    per_param = np.array([False, True, True, False, True]) if name == "sgd_update" \
        else np.array([1.0, 4.0, 5.0, 3.0, 2.0])
    args, kwargs = _multi_tensor_case(name, shapes, per_param, np.float64)
    want = _run(kernels.reference(name), *copy.deepcopy((args, kwargs)))
    got = _run(getattr(optim, name).__wrapped__, *copy.deepcopy((args, kwargs)))
    _assert_matches(got, want, np.float64)
    (kernel, packed), = cuda_on_cpu.RawKernel.launches
    assert kernel == {"sgd_update": "tkr_sgd"}.get(name, "tkr_" + name[:-len("_update")])
    n_tensors, n_chunks, launched_chunk = packed[2:5]
    assert n_tensors == len(shapes) and launched_chunk == c
    assert n_chunks == sum(-(-int(np.prod(s)) // c) for s in shapes)
    if name in ("adam_update", "adagrad_update", "sgd_update"):   # the update depends on it
        # (so the match above fails if the kernel used one entry for all parameters)
        uniform = np.full_like(per_param, per_param[0])
        same = _run(kernels.reference(name), *copy.deepcopy(((uniform, *args[1:]), kwargs)))
        assert not np.allclose(same[1][2], got[1][2])


def test_optimizer_update_without_tensors_or_elements_launches_nothing(cpu_cupy):
    optim = MODULES["optim"]
    for shapes in ([], [(0,), (2, 0)]):
        args, kwargs = _multi_tensor_case("adam_update", shapes, np.ones(len(shapes)), np.float32)
        optim.adam_update.__wrapped__(*args, **kwargs)
    assert cuda_on_cpu.RawKernel.launches == []


@pytest.mark.parametrize("name,state", [(n, s) for n in sorted(MULTI_TENSOR_OPTIONS)
                                         for s in OPTIM_STATES[n][0]])
def test_optimizer_state_list_given_as_none_is_named(cpu_cupy, name, state):
    """A state list the update needs, given as None, is named as the twins name
    it (before: address 0 went into the table and the kernel wrote through it)."""
    args, kwargs = _multi_tensor_case(name, [(3, 4), (5,)], np.array([1.0, 2.0]), np.float64)
    args = list(args)
    args[3 + OPTIM_STATES[name][0].index(state)] = None
    params = copy.deepcopy(args[1])
    with pytest.raises(TypeError) as want:
        kernels.reference(name)(*copy.deepcopy(args), **kwargs)
    with pytest.raises(TypeError) as got:
        getattr(MODULES["optim"], name).__wrapped__(*args, **kwargs)
    assert str(got.value) == str(want.value) == \
        f"{name}: {state} must be a list of arrays, got None"
    assert cuda_on_cpu.RawKernel.launches == []
    for p, before in zip(args[1], params):
        np.testing.assert_array_equal(p, before)


def test_optimizer_update_rejects_non_contiguous_arrays(cpu_cupy):
    args, kwargs = _multi_tensor_case("adam_update", [(3, 4), (4, 3)], np.ones(2), np.float32)
    args[3][1] = np.asfortranarray(args[3][1])   # exp_avgs[1]: right shape, not C order
    with pytest.raises(TypeError, match=r"adam_update: exp_avgs\[1\] must be C-contiguous"):
        MODULES["optim"].adam_update.__wrapped__(*args, **kwargs)
    assert cuda_on_cpu.RawKernel.launches == []


class _OnGpu:
    """Stands for a CuPy array: the dispatcher sends anything but a NumPy array to the
    GPU kernels."""


@pytest.mark.parametrize("name", sorted(OPTIM_STATES))
def test_optimizer_kernels_route_on_their_parameters(monkeypatch, name):
    """The optimizers keep the step counts (SGD's flags) on the host on every device,
    so an optimizer update goes where params[0] lives: to the GPU kernel for GPU
    parameters with a host first argument, to the CPU kernel for NumPy parameters
    or none."""
    gpu_calls = []
    monkeypatch.setitem(kernels._cuda, name, lambda *args, **kw: gpu_calls.append(args))
    dispatch = getattr(kernels, name)
    dtype = bool if name == "sgd_update" else np.float64
    host_steps = np.ones(1, dtype)
    dispatch(host_steps, [_OnGpu()], [_OnGpu()])
    assert len(gpu_calls) == 1 and gpu_calls[0][0] is host_steps

    args, kwargs = _multi_tensor_case(name, [(3,), (2, 5)], np.ones(2, dtype), np.float64)
    want = _run(kernels.reference(name), *copy.deepcopy((args, kwargs)))
    _assert_matches(_run(dispatch, args, kwargs), want, np.float64)   # ran on the CPU
    args, kwargs = _multi_tensor_case(name, [], np.ones(0, dtype), np.float64)
    dispatch(*args, **kwargs)
    assert len(gpu_calls) == 1


@pytest.fixture
def optim_tables(monkeypatch):
    """An empty table cache for the test (the module's own comes back after it)."""
    optim = MODULES["optim"]
    monkeypatch.setattr(optim, "_TABLES", type(optim._TABLES)())
    return optim._TABLES


class _DeviceSteps:
    """Stands for per-parameter numbers in a CuPy array (a direct kernel call on a
    GPU): the kernel reads them back with .get()."""

    def __init__(self, values):
        self.values = values

    def __len__(self):
        return len(self.values)

    def get(self):
        return self.values


@pytest.mark.parametrize("steps", ["uniform", "mixed", "mixed-on-device"])
@pytest.mark.parametrize("name", ["adam_update", "adagrad_update", "sgd_update"])
def test_optimizer_step_counts_uniform_or_per_tensor(cpu_cupy, optim_tables, name, steps):
    """Equal step counts (flags), the usual case, reach the kernel as one scalar
    and the launch takes the cached table as it is; different ones ([1, 5, 3])
    follow the table in a fresh upload.  Both match the twin."""
    optim = MODULES["optim"]
    per_param = {"uniform": [5.0, 5.0, 5.0], "mixed": [1.0, 5.0, 3.0]}[steps.split("-")[0]]
    if name == "sgd_update":
        per_param = {"uniform": [True] * 3, "mixed": [True, False, True]}[steps.split("-")[0]]
    per_param = np.array(per_param)
    args, kwargs = _multi_tensor_case(name, [(7,), (3, 5), (300,)], per_param, np.float64)
    want = _run(kernels.reference(name), *copy.deepcopy((args, kwargs)))
    if steps == "mixed-on-device":
        args = (_DeviceSteps(per_param), *args[1:])
    got = _run(getattr(optim, name), *copy.deepcopy((args, kwargs)))
    _assert_matches(got[1:], want[1:], np.float64)
    (_, packed), = cuda_on_cpu.RawKernel.launches
    (host, table, _), = optim_tables.values()
    value_for_all, at = packed[5:7]   # after (dtype_tag, table, n_tensors, n_chunks, chunk)
    if steps == "uniform":
        assert (value_for_all, at) == (per_param[0], 0) and packed[1] is table
    else:
        assert (value_for_all, at) == (0, len(host))
        np.testing.assert_array_equal(packed[1][:at], host)
        np.testing.assert_array_equal(packed[1][at:].view(np.float64), per_param)


def test_optimizer_table_is_uploaded_once_for_the_same_arrays(cpu_cupy, monkeypatch,
                                                              optim_tables):
    """The same arrays as a recent call (the usual optimizer step): the device
    table is reused and nothing is uploaded.  A new gradient array (a new
    address) builds and uploads a new table; the results follow the twin
    throughout.  A hit never skips the contiguity check (a transposed view can
    have the address and size of a cached array)."""
    optim = MODULES["optim"]
    uploads = []

    def upload(a, *args, **kwargs):   # a copy: a "device" array of its own
        uploads.append(a)
        return np.array(a, *args, **kwargs)

    monkeypatch.setattr(cpu_cupy, "asarray", upload, raising=False)
    args, kwargs = _multi_tensor_case("adam_update", [(5, 5), (3,), (300,)], np.full(3, 2.0),
                                      np.float64)
    twin_args = copy.deepcopy(args)
    for _ in range(2):
        optim.adam_update(*args, **kwargs)
        kernels.reference("adam_update")(*twin_args, **kwargs)
    tables = [packed[1] for _, packed in cuda_on_cpu.RawKernel.launches]
    assert len(uploads) == 1 and tables[0] is tables[1]
    _assert_matches(args[1:], twin_args[1:], np.float64)

    new_grad = args[2][1] + 1.0       # allocated while the old one lives: a new address
    args[2][1], twin_args[2][1] = new_grad, new_grad.copy()
    optim.adam_update(*args, **kwargs)
    kernels.reference("adam_update")(*twin_args, **kwargs)
    table = cuda_on_cpu.RawKernel.launches[-1][1][1]
    assert len(uploads) == 2 and table is not tables[0] and len(optim_tables) == 2
    assert new_grad.ctypes.data in table.tolist()
    _assert_matches(args[1:], twin_args[1:], np.float64)

    args[2][0] = args[2][0].T          # same address, size and shape as before; not C order
    with pytest.raises(TypeError, match=r"adam_update: grads\[0\] must be C-contiguous"):
        optim.adam_update(*args, **kwargs)


def test_conv_rejects_mixed_dtypes(cpu_cupy):
    x, w = np.zeros((1, 2, 3, 3), np.float32), np.zeros((1, 2, 3, 3))
    with pytest.raises(TypeError, match="conv2d_forward: w has dtype float64, expected float32"):
        MODULES["conv"].conv2d_forward.__wrapped__(x, w, None, (1, 1), (0, 0), (1, 1))


def test_kernels_run_on_the_device_of_their_first_array():
    entered = []

    class Device:
        def __enter__(self):
            entered.append(self)

        def __exit__(self, *exc):
            entered.append("exit")

    class Array:
        device = Device()

    @_gpu.on_device
    def kernel(x, y, *, z):
        return y + z

    assert kernel(Array(), 1, z=2) == 3
    assert entered == [Array.device, "exit"]


def test_kernels_on_the_current_device_skip_the_device_switch(monkeypatch):
    entered = []

    class Device:
        def __enter__(self):
            entered.append("enter")

        def __exit__(self, *exc):
            entered.append("exit")

    class Memory:
        device_id = 1

    class Array:
        device, data = Device(), Memory()

    @_gpu.on_device
    def kernel(x):
        return "ran"

    monkeypatch.setattr(_gpu, "current_device", lambda: 1)
    assert kernel(Array()) == "ran" and entered == []
    monkeypatch.setattr(_gpu, "current_device", lambda: 0)     # held by another GPU
    assert kernel(Array()) == "ran" and entered == ["enter", "exit"]


def _compile_all_with_nvrtc():
    """Compile every declared kernel's CUDA source, as CuPy generates it, with
    NVRTC (no GPU needed).  Skips where CuPy, NVRTC or the CuPy internals that
    generate Elementwise/Reduction code are missing."""
    cp = pytest.importorskip("cupy")
    try:
        from cupy._core import _carray, _kernel, _reduction, _scalar, core
        from cupy_backends.cuda.libs import nvrtc
        nvrtc.getVersion()
        headers = "".join(f"#include <{h}>\n" for h in core._cupy_header_list)
        options = list(core.assemble_cupy_compiler_options(()))
    except Exception as e:  # noqa: BLE001 (ImportError, or no NVRTC library)
        pytest.skip(f"CuPy's NVRTC is not usable here: {e}")
    ARRAY, INDEXER, SCALAR = 1, 2, 3   # cupy._core._kernel._ArgKind

    def array(dtype):
        return _kernel._ArgInfo(ARRAY, cp.ndarray, np.dtype(dtype), 1, True, True)

    def indexer():
        return _kernel._ArgInfo(INDEXER, _carray.Indexer, None, 1, True, True)

    def source(kernel, dtype):
        if isinstance(kernel, _gpu.RawKernel):   # CuPy prepends no headers to raw kernels
            return kernel.source(dtype)
        k = getattr(cp, kernel.kind)(*kernel.args, **kernel.kwargs)   # needs no GPU
        # every parameter as an array (a scalar has the same C type in the operation)
        dtypes = [p.dtype if p.dtype is not None else np.dtype(dtype)
                  for p in k.in_params + k.out_params]
        in_types, out_types, type_map = _kernel._decide_params_type(
            k.in_params, k.out_params, tuple(dtypes[:len(k.in_params)]),
            tuple(dtypes[len(k.in_params):]))
        args = tuple(array(t) for t in in_types + out_types)
        if kernel.kind == "ElementwiseKernel":
            code = _kernel._get_elementwise_kernel_code(args + (indexer(),), type_map, k.params,
                                                        k.operation, k.name, k.preamble)
        else:
            type_map = _kernel._TypeMap(type_map._pairs + (("IndexT", "int32"),))
            int32 = _kernel._ArgInfo(SCALAR, _scalar.CScalar, np.dtype(np.int32), 0, True, True)
            code = _reduction._ReductionKernel_get_cached_function_code(
                k.nin, k.nout, k._params, args + (indexer(), indexer(), int32), type_map, k.name,
                512, k.reduce_type, k.identity, k.map_expr, k.reduce_expr, k.post_map_expr,
                k.preamble, ())
        return headers + code

    compiled = []
    for kernel in _gpu.DECLARED:
        for dtype in DTYPES:
            try:
                src = source(kernel, dtype)
            except (AttributeError, TypeError) as e:
                if "mismatched" in str(e):
                    raise
                pytest.skip(f"CuPy's code generators changed ({type(e).__name__}: {e})")
            for arch in ("compute_75", "compute_90"):
                prog = nvrtc.createProgram(src, f"{kernel.name}.cu", [], [])
                try:
                    nvrtc.compileProgram(prog, [f"-arch={arch}"] + options)
                except nvrtc.NVRTCError:
                    pytest.fail(f"{kernel.name} ({np.dtype(dtype)}, {arch}) does not compile:\n"
                                f"{nvrtc.getProgramLog(prog)}\n--- source ---\n{src}")
                compiled.append((kernel.name, np.dtype(dtype).name, arch))
    return compiled


def test_cuda_sources_compile_with_nvrtc():
    compiled = _compile_all_with_nvrtc()
    assert len(compiled) == len(_gpu.DECLARED) * len(DTYPES) * 2


# ------------------------------------------------------------- on a GPU

def _to_gpu(obj):
    import cupy as cp
    if isinstance(obj, np.ndarray):
        return cp.asarray(obj)
    if isinstance(obj, (tuple, list)):
        return type(obj)(_to_gpu(a) for a in obj)
    return obj


@pytest.mark.cuda
@on_gpu
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", sorted(CASES))
def test_gpu_kernel_matches_twin(case, dtype):
    name = _kernel_name(case)
    args, kwargs = CASES[case](np.random.default_rng(0), dtype)
    want = _run(kernels.reference(name), *copy.deepcopy((args, kwargs)))
    got = _run(getattr(kernels, name), _to_gpu(copy.deepcopy(args)), copy.deepcopy(kwargs))
    _assert_matches(got, want, dtype)


def _train(device, optimizer, steps=4):
    """Losses and final parameters of a small CNN trained in float64."""
    nn = tkr.nn
    tkr.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 6, 3, stride=2, padding=1, bias=False), nn.LeakyReLU(0.1),
        nn.AvgPool2d(2), nn.Flatten(), nn.Dropout(0.2), nn.Linear(6, 5)).to(tkr.float64)
    model.to(device)
    opt = optimizer(model.parameters())
    x = tkr.randn(8, 3, 8, 8, dtype=tkr.float64).to(device)
    y = tkr.randint(0, 5, (8,)).to(device)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y, label_smoothing=0.1)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return np.array(losses), [p.detach().cpu().numpy() for p in model.parameters()]


OPTIMIZERS = {"sgd-momentum": lambda ps: tkr.optim.SGD(ps, lr=0.1, momentum=0.9),
              "adam-amsgrad": lambda ps: tkr.optim.Adam(ps, lr=1e-2, amsgrad=True)}


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_training_through_the_gpu_kernels_on_cpu(cpu_cupy, monkeypatch, optimizer):
    """The engine calling the GPU kernels (on the CPU stand-in) as it calls
    the CPU ones: same arguments, same training run."""
    want_losses, want_params = _train("cpu", OPTIMIZERS[optimizer])
    for group, name in GPU_NAMES:
        monkeypatch.setattr(kernels, name, getattr(MODULES[group], name).__wrapped__)
    losses, params = _train("cpu", OPTIMIZERS[optimizer])
    # float64; summation orders differ (and Adam's early steps amplify that)
    np.testing.assert_allclose(losses, want_losses, rtol=1e-9)
    for got, want in zip(params, want_params):
        np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-9)


@pytest.mark.cuda
@on_gpu
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_training_on_gpu_matches_cpu(optimizer):
    cpu_losses, cpu_params = _train("cpu", OPTIMIZERS[optimizer])
    gpu_losses, gpu_params = _train("cuda", OPTIMIZERS[optimizer])
    assert cpu_losses[-1] < cpu_losses[0]
    np.testing.assert_allclose(gpu_losses, cpu_losses, rtol=1e-8)
    for g, c in zip(gpu_params, cpu_params):
        np.testing.assert_allclose(g, c, rtol=1e-7, atol=1e-9)


# ------------------------------------------- direct cuBLAS calls (kernels/_cublas.py)

def test_gemm_rejects_what_the_compiled_kernel_rejects(cpu_cupy):
    gemm = MODULES["blas"].gemm.__wrapped__
    a, b = np.zeros((2, 3)), np.zeros((4, 5))
    with pytest.raises(ValueError, match=r"inner dimensions differ: a \(2, 3\) @ b \(4, 5\)"):
        gemm(a, b)
    with pytest.raises(ValueError, match=r"bias must have shape \(5,\)"):
        gemm(np.zeros((2, 4)), b, bias=np.zeros(4))
    with pytest.raises(TypeError, match="bias must be a float64 array"):
        gemm(np.zeros((2, 4)), b, bias=np.zeros(5, np.float32))
    assert cuda_on_cpu.CpuCublas.calls == []


@pytest.mark.parametrize("dtype", DTYPES)
def test_cublas_gemm_accumulates_in_place(cpu_cupy, dtype):
    rng = np.random.default_rng(3)
    a, b = _randn(rng, (3, 4), dtype), _randn(rng, (5, 4), dtype)
    out = _randn(rng, (3, 5), dtype)
    want = out + a @ b.T
    got = _cublas.gemm(a, b, trans_b=True, out=out, accumulate=True)
    assert got is out
    np.testing.assert_allclose(out, want, **TOL[np.dtype(dtype)])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(5, 3), (1, 4), (4, 1), (0, 3), (3, 0)])
@pytest.mark.parametrize("trans", [False, True])
def test_cublas_gemv(cpu_cupy, dtype, shape, trans):
    rng = np.random.default_rng(4)
    a = _randn(rng, shape, dtype)
    x = _randn(rng, shape[0] if trans else shape[1], dtype)
    got = _cublas.gemv(a, x, trans=trans)
    want = (a.T if trans else a) @ x
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_allclose(got, want, **TOL[np.dtype(dtype)])


def test_bias_grad_and_linear_are_cublas_calls(cpu_cupy):
    """bias_grad: one GEMV for (N, C), two for (N, C, H, W); gemm one GEMM."""
    blas, calls = MODULES["blas"], cuda_on_cpu.CpuCublas.calls
    rng = np.random.default_rng(5)
    blas.bias_grad.__wrapped__(_randn(rng, (6, 4), np.float32))
    assert [c[0] for c in calls] == ["gemv"]
    calls.clear()
    blas.bias_grad.__wrapped__(_randn(rng, (6, 4, 3, 2), np.float32))
    assert [c[0] for c in calls] == ["gemv", "gemv"]
    calls.clear()
    blas.gemm.__wrapped__(_randn(rng, (6, 4), np.float32), _randn(rng, (3, 4), np.float32),
                          False, True, _randn(rng, (3,), np.float32))
    assert calls == [("gemm", (3, 6, 4))]     # column-major C^T: (n, m, k)


@pytest.mark.parametrize("one_block", [True, False])
@pytest.mark.parametrize("case", ["2d", "2d-weight-ignore-smooth-sum", "4d-weight-ignore-fortran",
                                  "2d-all-ignored"])
def test_cross_entropy_forward_in_one_block_or_over_the_grid(cpu_cupy, monkeypatch, one_block,
                                                             case):
    """A small reduced loss is finished inside the forward kernel (one launch, one
    host read, bad labels counted there); larger ones use the grid and reductions."""
    loss_module = MODULES["loss"]
    monkeypatch.setattr(loss_module, "ONE_BLOCK_ELEMENTS", 1 << 16 if one_block else 0)
    forward = loss_module.cross_entropy_forward.__wrapped__
    for dtype in DTYPES:
        args, kwargs = CE_CASES[case](np.random.default_rng(6), dtype)
        cuda_on_cpu.RawKernel.launches = []
        with np.errstate(divide="ignore", invalid="ignore"):
            got = forward(*copy.deepcopy(args), **kwargs)
            want = kernels.reference("cross_entropy_forward")(*args, **kwargs)
        _assert_matches(got, want, dtype)
        assert [name for name, _ in cuda_on_cpu.RawKernel.launches] == ["tkr_ce_forward"]
        assert cuda_on_cpu.RawKernel.launches[0][1][11] == int(one_block)   # the finish flag
        logits, target, weight = args
        target.reshape(-1)[-1] = logits.shape[1] + 2          # a bad label, counted by the kernel
        with pytest.raises(IndexError) as want_error:
            kernels.reference("cross_entropy_forward")(*args, **kwargs)
        with pytest.raises(IndexError) as got_error:
            forward(*args, **kwargs)
        assert str(got_error.value) == str(want_error.value)


@pytest.mark.parametrize("dtype", DTYPES)
def test_checked_labels_and_indices_skip_the_host_read(cpu_cupy, monkeypatch, dtype):
    """cross_entropy_backward(labels_checked=True) and max_pool2d_backward(
    indices_checked=True) (what the autograd Functions pass for the forward's
    own target and indices) give the twin's gradients without counting bad
    labels or reading the bad-index count back (each a host sync on a GPU);
    a bad label or index that slips through anyway is never followed: NaN
    gradients for the label's row, a skipped index.  Unchecked, both raise."""
    loss, pool = MODULES["loss"], MODULES["pool"]
    rng = np.random.default_rng(3)
    logits, target = _randn(rng, (5, 4), dtype), np.array([0, 3, 1, 2, 2])
    want_loss, lse, total = kernels.reference("cross_entropy_forward")(logits, target)
    gloss = np.asarray(1.0, dtype)
    monkeypatch.setattr(loss, "_count_bad_labels", lambda *a: pytest.fail("labels counted"))
    got = loss.cross_entropy_backward.__wrapped__(logits, target, lse, gloss, total,
                                                  labels_checked=True)
    want = kernels.reference("cross_entropy_backward")(logits, target, lse, gloss, total)
    _assert_matches(got, want, dtype)
    bad_target = np.array([0, 7, 1, 2, 2])
    got = loss.cross_entropy_backward.__wrapped__(logits, bad_target, lse, gloss, total,
                                                  labels_checked=True)
    assert np.isnan(got[1]).all() and np.isfinite(np.delete(got, 1, axis=0)).all()
    monkeypatch.setattr(loss, "_count_bad_labels", lambda t, c, i: int(((t < 0) | (t >= c)).sum()))
    with pytest.raises(IndexError, match="target 7 is out of bounds"):
        loss.cross_entropy_backward.__wrapped__(logits, bad_target, lse, gloss, total)

    x = _randn(rng, (2, 3, 4, 4), dtype)
    y, indices = kernels.reference("max_pool2d_forward")(x, (2, 2), (2, 2), (0, 0), (1, 1), False)
    gy = _randn(rng, y.shape, dtype)
    want = kernels.reference("max_pool2d_backward")(gy, indices, x.shape)
    _assert_matches(pool.max_pool2d_backward.__wrapped__(gy, indices, x.shape,
                                                         indices_checked=True), want, dtype)
    bad = indices.copy()
    bad[0, 0, 0, 0] = 99
    got = pool.max_pool2d_backward.__wrapped__(gy, bad, x.shape, indices_checked=True)
    want[0, 0].reshape(-1)[indices[0, 0, 0, 0]] = 0     # the skipped gradient
    _assert_matches(got, want, dtype)
    with pytest.raises(IndexError, match="indices must lie in"):
        pool.max_pool2d_backward.__wrapped__(gy, bad, x.shape)


def test_autograd_vouches_only_for_what_it_kept_to_itself(monkeypatch):
    """The Functions pass labels_checked / indices_checked: cross-entropy
    always (its target is saved, an in-place change raises first), max
    pooling only while its indices were not handed out (return_indices)."""
    seen = {}
    for name, flag in [("cross_entropy_backward", "labels_checked"),
                       ("max_pool2d_backward", "indices_checked")]:
        def record(*args, _kernel=getattr(kernels, name), _flag=flag, **kwargs):
            seen.setdefault(_flag, []).append(kwargs.get(_flag, False))
            return _kernel(*args, **kwargs)
        monkeypatch.setattr(kernels, name, record)
    F = tkr.nn.functional
    x = tkr.randn(2, 3, 4, 4, requires_grad=True)
    F.cross_entropy(F.max_pool2d(x, 2).reshape(2, -1), tkr.tensor([0, 5])).backward()
    y, idx = F.max_pool2d(x, 2, return_indices=True)
    y.sum().backward()
    assert seen == {"labels_checked": [True], "indices_checked": [True, False]}
