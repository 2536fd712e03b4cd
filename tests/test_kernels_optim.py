"""The compiled optimizer kernels (csrc/optim.pyx) against their NumPy twins."""
import numpy as np
import pytest

from tinygrad_kr import kernels

from needs import unavailable

# The state lists each kernel takes after (first, params, grads), in order.
STATES = {
    "sgd_update": ["momentum_buffers"],
    "adagrad_update": ["state_sums"],
    "rmsprop_update": ["square_avgs", "grad_avgs", "momentum_buffers"],
    "adadelta_update": ["square_avgs", "acc_deltas"],
    "adam_update": ["exp_avgs", "exp_avg_sqs", "max_exp_avg_sqs"],
}
DEFAULTS = {
    "sgd_update": dict(lr=0.1, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0,
                       maximize=False),
    "adagrad_update": dict(lr=0.1, lr_decay=0.0, weight_decay=0.0, eps=1e-10, maximize=False),
    "rmsprop_update": dict(lr=0.01, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                           centered=False, maximize=False),
    "adadelta_update": dict(lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, maximize=False),
    "adam_update": dict(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0,
                        amsgrad=False, maximize=False, decoupled_weight_decay=False),
}
CASES = [
    ("sgd_update", {}),
    ("sgd_update", dict(momentum=0.9, dampening=0.1, weight_decay=0.01)),
    ("sgd_update", dict(momentum=0.9, nesterov=True, maximize=True)),
    ("adagrad_update", {}),
    ("adagrad_update", dict(lr_decay=0.1, weight_decay=0.1, maximize=True)),
    ("rmsprop_update", {}),
    ("rmsprop_update", dict(momentum=0.5, centered=True, weight_decay=0.1)),
    ("rmsprop_update", dict(alpha=0.3, centered=True, maximize=True)),   # lerp weight >= 0.5
    ("adadelta_update", {}),
    ("adadelta_update", dict(rho=0.5, weight_decay=0.1, maximize=True)),
    ("adam_update", {}),
    ("adam_update", dict(beta1=0.3, weight_decay=0.1, amsgrad=True)),
    ("adam_update", dict(weight_decay=0.1, decoupled_weight_decay=True, maximize=True,
                         amsgrad=True)),
]
# Empty, 0-d, size-1, small, and one spanning several pieces (and the threaded path).
SHAPES = [(0,), (), (1,), (3, 4), (70001,)]
TOL = {np.float32: dict(rtol=1e-6, atol=1e-7), np.float64: dict(rtol=1e-12, atol=1e-14)}


def _compiled(name):
    fn = kernels.compiled(name)
    if fn is None:
        unavailable(f"{name} is not compiled ({kernels.build_errors().get('optim')})")
    return fn


def _randn(rng, shape, dtype, scale=1.0):
    return np.asarray(scale * rng.standard_normal(shape), dtype=dtype)   # 0-d stays an array


def _group(rng, dtype, shapes=SHAPES):
    """params and, per state list, arrays whose values keep every sqrt real
    (centered RMSprop needs square_avg >= grad_avg^2)."""
    params = [_randn(rng, s, dtype) for s in shapes]
    states = {name: [_randn(rng, s, dtype) for s in shapes]
              for name in ("momentum_buffers", "state_sums", "square_avgs", "acc_deltas",
                           "exp_avg_sqs", "max_exp_avg_sqs")}
    for arrays in states.values():
        for a in arrays:
            a[...] = 1 + np.abs(a)
    states["grad_avgs"] = [_randn(rng, s, dtype, 0.1) for s in shapes]
    states["exp_avgs"] = [_randn(rng, s, dtype) for s in shapes]
    return params, states


def _call(fn, name, step, params, grads, states, options):
    n = len(params)
    first = (np.full(n, step == 1, dtype=bool) if name == "sgd_update"
             else np.full(n, float(step)))
    fn(first, params, grads, *[states[s] for s in STATES[name]], **options)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,options", CASES)
def test_compiled_equals_twin(name, options, dtype):
    compiled = _compiled(name)
    rng = np.random.default_rng(0)
    params, states = _group(rng, dtype)
    ref_params = [p.copy() for p in params]
    ref_states = {k: [a.copy() for a in v] for k, v in states.items()}
    options = {**DEFAULTS[name], **options}
    for step in (1, 2, 3):
        grads = [_randn(rng, p.shape, dtype) for p in params]
        _call(compiled, name, step, params, grads, states, options)
        _call(kernels.reference(name), name, step, ref_params, grads, ref_states, options)
    for got, want in zip(params, ref_params):
        np.testing.assert_allclose(got, want, **TOL[dtype])
    for s in STATES[name]:
        for got, want in zip(states[s], ref_states[s]):
            np.testing.assert_allclose(got, want, **TOL[dtype], err_msg=s)


def test_update_changes_params_and_reads_strided_grads():
    compiled = _compiled("adam_update")
    p = np.zeros(10)
    g = np.arange(20.0)[::2]   # not contiguous: read through a copy
    m, v = np.zeros(10), np.zeros(10)
    compiled(np.array([1.0]), [p], [g], [m], [v], None, **DEFAULTS["adam_update"])
    np.testing.assert_allclose(m, 0.1 * g)
    assert p[0] == 0 and np.all(p[1:] < 0)


def test_empty_group_is_a_no_op():
    for impl in (_compiled("sgd_update"), kernels.reference("sgd_update")):
        impl(np.zeros(0, dtype=bool), [], [], [], **DEFAULTS["sgd_update"])


def _args(dtype=np.float64, **change):
    """Arguments of one valid adam_update call, with some replaced."""
    n = 3
    args = dict(steps=np.ones(2), params=[np.zeros(n, dtype), np.zeros(2, dtype)],
                grads=[np.ones(n, dtype), np.ones(2, dtype)],
                exp_avgs=[np.zeros(n, dtype), np.zeros(2, dtype)],
                exp_avg_sqs=[np.zeros(n, dtype), np.zeros(2, dtype)], max_exp_avg_sqs=None)
    args.update(change)
    return args


BAD_CALLS = [
    ("int params", _args(params=[np.zeros(3, np.int64), np.zeros(2, np.int64)]),
     TypeError, "float32 and float64"),
    ("float16 params", _args(np.float16), TypeError, "float32 and float64"),
    ("grad dtype", _args(grads=[np.ones(3, np.float32), np.ones(2)]), TypeError, r"grads\[0\]"),
    ("mixed params", _args(params=[np.zeros(3), np.zeros(2, np.float32)]), TypeError,
     r"params\[1\]"),
    ("state shape", _args(exp_avgs=[np.zeros(3), np.zeros(3)]), ValueError,
     r"exp_avgs\[1\] has shape"),
    ("list length", _args(exp_avg_sqs=[np.zeros(3)]), ValueError, "exp_avg_sqs has 1 arrays"),
    ("steps length", _args(steps=np.ones(3)), ValueError, "one entry per parameter"),
]


@pytest.mark.parametrize("impl", ["compiled", "reference"])
@pytest.mark.parametrize("what,args,error,match", BAD_CALLS, ids=[c[0] for c in BAD_CALLS])
def test_bad_input_raises(impl, what, args, error, match):
    fn = _compiled("adam_update") if impl == "compiled" else kernels.reference("adam_update")
    with pytest.raises(error, match=match):
        fn(*args.values(), **DEFAULTS["adam_update"])


@pytest.mark.parametrize("what,param,match", [
    ("strided", np.zeros(6)[::2], "C-contiguous"),
    ("read-only", np.zeros(3).view(), "read-only"),
    ("not an array", [0.0, 0.0, 0.0], "must be a numpy array|expected numpy arrays"),
])
def test_compiled_rejects_params_it_cannot_update_in_place(what, param, match):
    compiled = _compiled("sgd_update")
    if what == "read-only":
        param.flags.writeable = False
    with pytest.raises((ValueError, TypeError), match=match):
        compiled(np.array([False]), [param], [np.ones(3)], None, **DEFAULTS["sgd_update"])
