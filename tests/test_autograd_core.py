"""The graph core's two twins: function.py (the reference) and csrc/graph.pyx
(compiled).  The whole suite runs on each (CI runs it again under
TKR_KERNELS=numpy, where the reference runs); here they are compared
directly, in one process, on the same graphs."""
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tinygrad_kr as tkr
from tinygrad_kr import kernels
from tinygrad_kr.autograd import _core
from tinygrad_kr.autograd import function as F
from tinygrad_kr.ops import Add, Mul, Sum
from tinygrad_kr.nn._ops_dense import Linear
from needs import unavailable


def compiled_core():
    if _core.graph is None:
        if kernels._MODE == "numpy":
            pytest.skip("TKR_KERNELS=numpy: the reference core runs (as it should)")
        unavailable(f"the compiled graph core was not built ({_core.build_error})")
    return _core.graph


def test_the_switch_picks_the_core():
    assert _core.name() == ("python" if kernels._MODE == "numpy" else _core.name())
    assert tkr.config.config()["autograd_core"] == _core.name()
    if kernels._MODE != "numpy":
        compiled_core()         # a build without it fails here under TKR_TEST_STRICT=1
        assert isinstance(tkr.ones(1), _core.graph.TensorBase)


# -- Function.apply: the compiled twin records what the reference records --------------

def _record(apply, cls, *inputs, **options):
    out = apply.__get__(None, cls)(*inputs, **options)
    fn = out.grad_fn
    if fn is None:
        return out, None
    return out, dict(needs=fn.needs_input_grad, parents=fn.parents, meta=fn.input_meta,
                     saved_src=fn._saved_src, held=[id(t) for t in (fn._saved_inputs or [])],
                     output_saved=fn._output is not None, saved_at=fn._saved_at,
                     saved=None if fn.saved is None else len(fn.saved))


APPLY_CASES = {
    "mul, both need grad": lambda a, b, c: (Mul, (a, b), {}),
    "mul by a number": lambda a, b, c: (Mul, (a, 2.0), {}),
    "add, one constant": lambda a, b, c: (Add, (a, c), {}),
    "sum with options": lambda a, b, c: (Sum, (a,), dict(axes=(1,), keepdim=True)),
    "linear, absent bias": lambda a, b, c: (Linear, (a, b, None), {}),
    "relu saves its output": lambda a, b, c: (type(tkr.relu(a).grad_fn), (a,), {}),
}


@pytest.mark.parametrize("case", sorted(APPLY_CASES))
@pytest.mark.parametrize("grad_on", [True, False])
def test_apply_twins_record_the_same_node(case, grad_on):
    compiled_core()
    rng = np.random.default_rng(0)
    a = tkr.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    b = tkr.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    c = tkr.tensor(rng.standard_normal((3, 4)))
    cls, inputs, options = APPLY_CASES[case](a, b, c)
    with tkr.set_grad_enabled(grad_on):
        ours, node = _record(F.Function.__dict__["apply"], cls, *inputs, **options)
        ref, ref_node = _record(F.Function.__dict__["_python_apply"], cls, *inputs, **options)
    assert type(ours) is type(ref) is tkr.Tensor
    np.testing.assert_array_equal(ours.array, ref.array)
    assert ours.requires_grad == ref.requires_grad == grad_on
    assert node == ref_node     # same parents, needs, shapes, saved sources and held inputs


def test_apply_twins_raise_the_same_errors():
    compiled_core()
    a = tkr.ones(2, requires_grad=True)
    with pytest.raises(ValueError) as ours:
        F.Function.__dict__["apply"].__get__(None, Mul)(a, tkr.ones(3))
    with pytest.raises(ValueError) as ref:
        F.Function.__dict__["_python_apply"].__get__(None, Mul)(a, tkr.ones(3))
    assert str(ours.value) == str(ref.value)
    argmax = tkr.argmax(a * 2)                  # integer results carry no gradient
    assert argmax.grad_fn is None and not argmax.requires_grad


# -- the backward walk: compiled (loss.backward()) against the reference walk ----------

def _grads_both_ways(build):
    """Gradients of build()'s loss from the compiled walk and from the
    reference walk (_run_backward), each on a fresh graph."""
    compiled_core()
    result = []
    for walk in ("compiled", "reference"):
        leaves, loss, keep = build()
        if walk == "compiled":
            loss.backward()
        else:
            F._run_backward((loss,), (F._root_grad(loss, None, False),), False, False)
        result.append([None if t.grad is None else t.grad.array.copy() for t in leaves + keep])
    return result


OPS = ["add", "mul", "sub", "relu", "exp", "sum0", "mean1", "bcast", "reshape", "matmul",
       "reuse", "cast", "max"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(program=st.lists(st.tuples(st.sampled_from(OPS), st.integers(0, 99), st.integers(0, 99)),
                        min_size=1, max_size=12),
       seed=st.integers(0, 2**32 - 1), retain=st.booleans())
def test_walk_twins_give_identical_gradients(program, seed, retain):
    """Random programs over a pool of tensors: branches, shared inputs,
    broadcasting, views, dtype casts, integer results, retain_grad."""
    def build():
        rng = np.random.default_rng(seed)
        leaves = [tkr.tensor(rng.standard_normal((3, 4)).astype(np.float32), requires_grad=True)
                  for _ in range(3)]
        leaves.append(tkr.tensor(rng.standard_normal((4,)).astype(np.float32),
                                 requires_grad=True))
        pool = list(leaves[:3]) + [tkr.tensor(rng.standard_normal((3, 4)).astype(np.float32))]
        keep = []
        for op, i, j in program:
            x, y = pool[i % len(pool)], pool[j % len(pool)]
            z = {"add": lambda: x + y, "mul": lambda: x * y, "sub": lambda: x - y,
                 "relu": lambda: tkr.relu(x), "exp": lambda: (x * 0.1).exp(),
                 "sum0": lambda: x.sum(0, keepdim=True) + y,
                 "mean1": lambda: x.mean(1, keepdim=True) * y,
                 "bcast": lambda: x + leaves[3], "reshape": lambda: x.reshape(4, 3).t() * 1.5,
                 "matmul": lambda: (x @ y.t()) @ x * 0.1, "reuse": lambda: x * x + x,
                 "cast": lambda: x.double().float() * y,
                 "max": lambda: x.amax(1, keepdim=True) + y * tkr.argmax(y).float()}[op]()
            if retain and z.grad_fn is not None and len(keep) < 2:
                z.retain_grad()
                keep.append(z)
            pool.append(z)
        loss = sum((t * (k + 1)).sum() for k, t in enumerate(pool[4:])) + pool[0].sum()
        return leaves, loss, keep
    compiled, reference = _grads_both_ways(build)
    for g, r in zip(compiled, reference):
        assert (g is None) == (r is None)
        if g is not None:
            assert g.dtype == r.dtype
            np.testing.assert_array_equal(g, r)


def test_walk_accumulates_into_existing_grads_and_copies_shared_ones():
    compiled_core()
    a, c = tkr.ones(3, requires_grad=True), tkr.ones(3, requires_grad=True)
    (a + c).sum().backward()                    # both leaves get the same incoming array
    assert a.grad.array is not c.grad.array       # copied: an in-place change of one is not the other
    a.grad.array[0] = 5
    assert c.grad.array[0] == 1
    (a * 2).sum().backward()
    np.testing.assert_array_equal(a.grad.array, [7, 3, 3])


def test_walk_errors_match_the_reference():
    compiled_core()
    x = tkr.ones(3, requires_grad=True)
    loss = (x * x).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        loss.backward()
    c = tkr.tensor([1.0, 2.0, 3.0])             # needs no grad: in-place allowed
    loss = (x * c).sum()
    c.mul_(10)                                  # changed after Mul saved it
    with pytest.raises(RuntimeError, match="modified by an inplace operation.*version 1"):
        loss.backward()


def test_walk_frees_saved_values_as_it_goes():
    """Each node lets go of what it saved once it has run (no retain_graph)."""
    compiled_core()
    x = tkr.ones(4, requires_grad=True)
    h = x * 2
    loss = (h * h).sum()
    node = loss.grad_fn.parents[0]              # the Mul that saved h twice
    assert node.saved is not None and node._saved_inputs
    loss.backward()
    assert node._saved_inputs is None and node._saved_src is None
    with pytest.raises(RuntimeError, match="second time"):
        node.saved_tensors


def test_walk_twins_run_hooks_alike():
    """register_hook on leaves and non-leaves, replacing or only looking,
    with retain_grad: the same calls, in the same order, with the same values."""
    def build(log):
        rng = np.random.default_rng(3)
        a, b = (tkr.tensor(rng.standard_normal((3, 4)), requires_grad=True) for _ in range(2))
        a.register_hook(lambda g: log.append(("a", g.array.copy())))
        b.register_hook(lambda g: g * 2)
        h = a * b
        h.register_hook(lambda g: log.append(("h", g.array.copy())) or g + 1)
        h.retain_grad()
        k = tkr.relu(h) + h.sum(1, keepdim=True)
        k.register_hook(lambda g: g * 0.5)
        return [a, b], (k * a).sum(), [h]
    for_walks = []
    for walk in ("compiled", "reference"):
        log = []
        leaves, loss, keep = build(log)
        if walk == "compiled":
            compiled_core()
            loss.backward()
        else:
            F._run_backward((loss,), (F._root_grad(loss, None, False),), False, False)
        for_walks.append((log, [t.grad.array for t in leaves + keep]))
    (log, grads), (ref_log, ref_grads) = for_walks
    assert [name for name, _ in log] == [name for name, _ in ref_log] == ["h", "a"]
    for x, y in zip([g for _, g in log] + grads, [g for _, g in ref_log] + ref_grads):
        np.testing.assert_array_equal(x, y)


def test_release_twins_free_the_same_nodes():
    """What a node kept decides whether a second backward may run through it:
    the compiled walk's test (holds_arrays) is the reference's (_holds_arrays)."""
    graph = compiled_core()
    kept = [{}, {"shape": (2, 3), "axes": (0,), "keepdim": False}, {"in_dtype": np.dtype("f4")},
            {"mask": np.ones(2, bool)}, {"index": (slice(None), np.arange(2))},
            {"sizes": [1, 2], "dim": 0}, {"count": np.int64(3)}, {"t": tkr.ones(1)},
            {"opts": (None, -100, "mean", [0.5, np.ones(1)])}, {"fn": print, "x": 1.5}]
    for d in kept:
        assert graph.holds_arrays(d) == F._holds_arrays(d), d
    for build, again in [(lambda x: x.sum(), True), (lambda x: (x * x).sum(), False),
                         (lambda x: x.clamp(0, 1).reshape(2, 2).sum(), False),
                         (lambda x: x.reshape(2, 2).permute(1, 0).mean(), True)]:
        results = []
        for walk in ("compiled", "reference"):
            x = tkr.ones(4, requires_grad=True)
            y = build(x)
            outcome = []
            for _ in range(2):
                try:
                    if walk == "compiled":
                        y.backward()
                    else:
                        F._run_backward((y,), (F._root_grad(y, None, False),), False, False)
                    outcome.append(x.grad.array.copy())
                except RuntimeError as e:
                    outcome.append(str(e)[:40])
            results.append(outcome)
        assert (type(results[0][1]) is not str) == again
        for ours, ref in zip(*results):
            np.testing.assert_array_equal(ours, ref)


def test_long_chains_need_no_recursion():
    x = tkr.ones(2, requires_grad=True)
    y = x
    for _ in range(sys.getrecursionlimit() * 3):
        y = y * 1.0
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.array, [1, 1])


def test_a_missing_compiled_core_is_reported_or_refused():
    import os
    import subprocess
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    script = ("import sys; sys.modules['tinygrad_kr._C.graph'] = None  # as if never built\n"
              "import warnings; warnings.simplefilter('ignore')\n"
              "import tinygrad_kr as t\n"
              "x = t.ones(2, requires_grad=True); (x * x).sum().backward()\n"
              "print(t.config.config()['autograd_core'], x.grad.tolist())\n"
              "t.show_config()\n")
    env = {k: v for k, v in os.environ.items() if k != "TKR_KERNELS"}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         cwd=root, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("python [2.0, 2.0]")
    assert "not compiled: graph" in out.stdout
    if not all(kernels.compiled(name) for name in kernels.names()):
        return      # TKR_KERNELS=compiled would refuse for a missing kernel first
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         cwd=root, env=dict(env, TKR_KERNELS="compiled"), timeout=120)
    assert out.returncode != 0 and "the graph core was not compiled" in out.stderr


def test_pickles_load_under_either_core():
    """A pickle names neither core: one written under the compiled core loads
    under the Python one (TKR_KERNELS=numpy) and back."""
    import importlib.util
    import os
    import pickle
    import subprocess
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {k: v for k, v in os.environ.items() if k != "TKR_KERNELS"}
    script = ("import pickle, sys, tinygrad_kr as t\n"
              "x, m = pickle.loads(sys.stdin.buffer.read())\n"
              "m(x).sum().backward()\n"
              "sys.stdout.buffer.write(pickle.dumps((x, m, t.config.config()['autograd_core'])))\n")
    model = tkr.nn.Linear(3, 2)
    data = pickle.dumps((tkr.ones(1, 3, requires_grad=True), model))
    for mode in ("numpy", "auto"):
        out = subprocess.run([sys.executable, "-c", script], input=data, capture_output=True,
                             cwd=root, env=dict(env, TKR_KERNELS=mode), timeout=120)
        assert out.returncode == 0, out.stderr.decode()
        x, m, core = pickle.loads(out.stdout)
        built = importlib.util.find_spec("tinygrad_kr._C.graph") is not None
        assert core == ("compiled" if mode == "auto" and built else "python")
        np.testing.assert_array_equal(m.weight.array, model.weight.array)
        data = pickle.dumps((x, m))
