"""tinygrad_kr.autograd.functional and tinygrad_kr.func against PyTorch:
jacobian / hessian / vjp / jvp / hvp / vhp with single and tuple inputs and
outputs (the nesting of the results), create_graph (the results can be
differentiated again), strict-mode errors; grad / grad_and_value / vjp /
jvp / jacrev / jacfwd / hessian with argnums and has_aux, nested, with
captured weights; vmap (a loop) with in_dims / out_dims / randomness; and
functional_call."""
import numpy as np
import pytest

import tinygrad_kr as tk
import tinygrad_kr.func as tkfunc
from tinygrad_kr.autograd import functional as AF

torch = pytest.importorskip("torch")
import torch.autograd.functional as TF  # noqa: E402
import torch.func as torchfunc  # noqa: E402

RNG = np.random.default_rng(7)


def _arrays(*shapes):
    return [RNG.standard_normal(s) for s in shapes]


def _both(arrays, grad=False):
    """The same float64 arrays as (torch tensors, tinygrad_kr tensors)."""
    return ([torch.tensor(a, requires_grad=grad) for a in arrays],
            [tk.tensor(a, requires_grad=grad) for a in arrays])


def _same(ours, theirs, atol=1e-10):
    """Same nesting (tuples), shapes and values."""
    if isinstance(theirs, (tuple, list)):
        assert isinstance(ours, tuple) and len(ours) == len(theirs), (ours, theirs)
        for o, t in zip(ours, theirs):
            _same(o, t, atol)
        return
    if isinstance(theirs, dict):
        assert isinstance(ours, dict) and ours.keys() == theirs.keys()
        for k in theirs:
            _same(ours[k], theirs[k], atol)
        return
    assert isinstance(ours, tk.Tensor), type(ours)
    assert tuple(ours.shape) == tuple(theirs.shape)
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), atol=atol,
                               rtol=1e-9)


# Functions written once, run on both libraries through the methods they share
def f_single(x):
    return (x.sin() * x.exp()).reshape(-1)[:4] * 2


def f_tuple_in(x, y):
    return (x * y).tanh() + x ** 2


def f_tuple_out(x):
    return x.sin(), (x ** 3).sum()


def f_tuple_both(x, y):
    return x.exp() * y.sum(), (x.unsqueeze(-1) * y.unsqueeze(0)).cos()


def scalar_single(x):
    return (x.sin() * x ** 2).sum()


def scalar_tuple(x, y):
    return (x.exp() * y.sum()).sum() + (x * x).sum() * y.cos().sum()


CASES = {   # name: function, input shapes
    "single": (f_single, [(2, 3)]),
    "tuple_in": (f_tuple_in, [(3,), (3,)]),
    "tuple_out": (f_tuple_out, [(2, 2)]),
    "tuple_both": (f_tuple_both, [(3,), (2,)]),
}


def _inputs(shapes, single):
    t, k = _both(_arrays(*shapes))
    return (t[0], k[0]) if single else (tuple(t), tuple(k))


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("vectorize", [False, True])
def test_jacobian_matches_torch(name, vectorize):
    fn, shapes = CASES[name]
    t, k = _inputs(shapes, len(shapes) == 1)
    _same(AF.jacobian(fn, k, vectorize=vectorize), TF.jacobian(fn, t, vectorize=vectorize))


@pytest.mark.parametrize("name", list(CASES))
def test_jacobian_forward_mode_matches_torch(name):
    fn, shapes = CASES[name]
    t, k = _inputs(shapes, len(shapes) == 1)
    ours = AF.jacobian(fn, k, vectorize=True, strategy="forward-mode")
    _same(ours, TF.jacobian(fn, t, vectorize=True, strategy="forward-mode"))


def test_jacobian_forward_mode_refuses_what_torch_refuses():
    x = tk.randn(3, dtype=tk.float64)
    with pytest.raises(NotImplementedError, match="only implemented for `vectorize=True`"):
        AF.jacobian(f_single, x, strategy="forward-mode")
    with pytest.raises(NotImplementedError, match="`create_graph=True` and"):
        AF.jacobian(f_single, x, create_graph=True, strategy="forward-mode", vectorize=True)
    with pytest.raises(RuntimeError, match="`strict=True` and `strategy=\"forward-mode\"`"):
        AF.jacobian(f_single, x, strict=True, strategy="forward-mode", vectorize=True)
    with pytest.raises(RuntimeError, match="`strict=True` and `vectorized=True`"):
        AF.jacobian(f_single, x, strict=True, vectorize=True)
    with pytest.raises(AssertionError, match="Expected strategy"):
        AF.jacobian(f_single, x, strategy="sideways")


@pytest.mark.parametrize("fn,shapes", [(scalar_single, [(3,)]), (scalar_tuple, [(2,), (3,)])])
@pytest.mark.parametrize("outer", ["reverse-mode", "forward-mode"])
def test_hessian_matches_torch(fn, shapes, outer):
    t, k = _inputs(shapes, len(shapes) == 1)
    kwargs = dict(outer_jacobian_strategy=outer, vectorize=outer == "forward-mode")
    _same(AF.hessian(fn, k, **kwargs), TF.hessian(fn, t, **kwargs), atol=1e-9)


@pytest.mark.parametrize("name", list(CASES))
def test_vjp_and_jvp_match_torch(name):
    fn, shapes = CASES[name]
    single = len(shapes) == 1
    t, k = _inputs(shapes, single)
    out_t = fn(*t) if not single else fn(t)
    v_out = tuple(RNG.standard_normal(tuple(o.shape)) for o in
                  (out_t if isinstance(out_t, tuple) else (out_t,)))
    v_in = tuple(RNG.standard_normal(s) for s in shapes)

    def pack(arrays, as_tuple):
        tt = tuple(torch.tensor(a) for a in arrays)
        kk = tuple(tk.tensor(a) for a in arrays)
        return (tt, kk) if as_tuple else (tt[0], kk[0])
    vt, vk = pack(v_out, isinstance(out_t, tuple))
    _same(AF.vjp(fn, k, vk), TF.vjp(fn, t, vt))
    vt, vk = pack(v_in, not single)
    _same(AF.jvp(fn, k, vk), TF.jvp(fn, t, vt))


@pytest.mark.parametrize("fn,shapes", [(scalar_single, [(3,)]), (scalar_tuple, [(2,), (3,)])])
def test_hvp_and_vhp_match_torch(fn, shapes):
    single = len(shapes) == 1
    t, k = _inputs(shapes, single)
    v = [RNG.standard_normal(s) for s in shapes]
    vt = torch.tensor(v[0]) if single else tuple(torch.tensor(a) for a in v)
    vk = tk.tensor(v[0]) if single else tuple(tk.tensor(a) for a in v)
    _same(AF.hvp(fn, k, vk), TF.hvp(fn, t, vt), atol=1e-9)
    _same(AF.vhp(fn, k, vk), TF.vhp(fn, t, vt), atol=1e-9)


def test_v_may_be_omitted_only_for_one_element():
    x = tk.tensor(0.7, dtype=tk.float64)
    xt = torch.tensor(0.7, dtype=torch.float64)
    _same(AF.jvp(lambda a: a.sin() * 3, x), TF.jvp(lambda a: a.sin() * 3, xt))
    _same(AF.vjp(lambda a: a.sin() * 3, x), TF.vjp(lambda a: a.sin() * 3, xt))
    _same(AF.hvp(lambda a: a.sin() * a, x), TF.hvp(lambda a: a.sin() * a, xt))
    with pytest.raises(RuntimeError, match="The vector v can only be None if the user-provided "
                                           "function returns a single Tensor with a single"):
        AF.vjp(f_single, tk.randn(2, 3, dtype=tk.float64))
    with pytest.raises(RuntimeError, match="The vector v can only be None if the input to"):
        AF.jvp(f_single, tk.randn(2, 3, dtype=tk.float64))


def test_create_graph_results_differentiate_again_like_torch():
    """The Jacobian (and the products) of create_graph=True carry a graph back
    to the inputs: their gradients match PyTorch's."""
    (at, bt), (ak, bk) = _both(_arrays((3,), (3,)), grad=True)
    jt = TF.jacobian(f_tuple_in, (at, bt), create_graph=True)
    jk = AF.jacobian(f_tuple_in, (ak, bk), create_graph=True)
    assert all(j.requires_grad for j in jk)
    (jt[0] * jt[1]).sum().backward()
    (jk[0] * jk[1]).sum().backward()
    _same((ak.grad, bk.grad), (at.grad, bt.grad), atol=1e-9)
    without = AF.jacobian(f_tuple_in, (ak, bk))
    assert not any(j.requires_grad for j in without)

    for fn in (AF.hvp, AF.vhp, AF.jvp, AF.vjp):
        (xt, vt), (xk, vk) = _both(_arrays((3,), (3,)), grad=True)
        tf = getattr(TF, fn.__name__)
        f = scalar_single if fn in (AF.hvp, AF.vhp) else (lambda a: a.sin() * a)
        _, rt = tf(f, xt, vt, create_graph=True)
        _, rk = fn(f, xk, vk, create_graph=True)
        _same(rk, rt, atol=1e-9)
        (rt ** 2).sum().backward()
        (rk ** 2).sum().backward()
        _same((xk.grad, vk.grad), (xt.grad, vt.grad), atol=1e-9)

    (xt,), (xk,) = _both(_arrays((3,)), grad=True)
    TF.hessian(scalar_single, xt, create_graph=True).sum().backward()
    AF.hessian(scalar_single, xk, create_graph=True).sum().backward()
    _same(xk.grad, xt.grad, atol=1e-9)


def _same_error(call_ours, call_theirs, upto=None):
    """The same exception type and message (sizes print as tinygrad_kr.Size
    here; ``upto``: compare the message up to that word, where the rest
    prints a tree structure, which PyTorch prints its own way)."""
    with pytest.raises(Exception) as theirs:
        call_theirs()
    with pytest.raises(type(theirs.value)) as ours:
        call_ours()
    ours, theirs = str(ours.value).replace("tinygrad_kr.", "torch."), str(theirs.value)
    if upto is not None:
        ours, theirs = ours[:ours.index(upto)], theirs[:theirs.index(upto)]
    assert ours == theirs


def test_strict_mode_errors_match_torch():
    def independent(x, y):
        return x * 2                 # y unused

    def constant(x):
        return torch.ones(2, dtype=torch.float64) if isinstance(x, torch.Tensor) else \
            tk.ones(2, dtype=tk.float64)

    def linear(x):
        return (x * 3).sum()         # its Jacobian does not depend on x

    (xt, yt), (xk, yk) = _both(_arrays((2,), (2,)))
    _same_error(lambda: AF.jacobian(independent, (xk, yk), strict=True),
                lambda: TF.jacobian(independent, (xt, yt), strict=True))
    _same_error(lambda: AF.jacobian(constant, xk, strict=True),
                lambda: TF.jacobian(constant, xt, strict=True))
    _same_error(lambda: AF.vjp(independent, (xk, yk), (tk.ones(2, dtype=tk.float64),),
                               strict=True),
                lambda: TF.vjp(independent, (xt, yt), (torch.ones(2, dtype=torch.float64),),
                               strict=True))
    _same_error(lambda: AF.jvp(linear, xk, tk.ones(2, dtype=tk.float64), strict=True,
                               create_graph=True),
                lambda: TF.jvp(linear, xt, torch.ones(2, dtype=torch.float64), strict=True,
                               create_graph=True))
    _same_error(lambda: AF.hessian(linear, xk, strict=True),
                lambda: TF.hessian(linear, xt, strict=True))
    _same_error(lambda: AF.hvp(linear, xk, tk.ones(2, dtype=tk.float64), strict=True),
                lambda: TF.hvp(linear, xt, torch.ones(2, dtype=torch.float64), strict=True))
    _same_error(lambda: AF.vhp(linear, xk, tk.ones(2, dtype=tk.float64), strict=True),
                lambda: TF.vhp(linear, xt, torch.ones(2, dtype=torch.float64), strict=True))
    # not strict: zeros where strict raises
    _same(AF.jacobian(independent, (xk, yk)), TF.jacobian(independent, (xt, yt)))
    _same(AF.hessian(linear, xk), TF.hessian(linear, xt))


def test_argument_errors_match_torch():
    (xt,), (xk,) = _both(_arrays((2,)))
    _same_error(lambda: AF.jacobian(f_single, [xk]), lambda: TF.jacobian(f_single, [xt]))
    _same_error(lambda: AF.vjp(f_single, (xk, 3.0)), lambda: TF.vjp(f_single, (xt, 3.0)))
    _same_error(lambda: AF.vjp(lambda a: a * 2, xk, (tk.ones(2), tk.ones(2))),
                lambda: TF.vjp(lambda a: a * 2, xt, (torch.ones(2), torch.ones(2))))
    _same_error(lambda: AF.jvp(lambda a: a * 2, xk, tk.ones(3, dtype=tk.float64)),
                lambda: TF.jvp(lambda a: a * 2, xt, torch.ones(3, dtype=torch.float64)))
    _same_error(lambda: AF.hessian(lambda a: a * 2, xk), lambda: TF.hessian(lambda a: a * 2, xt))
    _same_error(lambda: AF.hvp(lambda a: (a, a), xk, tk.ones(2, dtype=tk.float64)),
                lambda: TF.hvp(lambda a: (a, a), xt, torch.ones(2, dtype=torch.float64)))


def test_inputs_are_not_modified_and_results_are_detached():
    x = tk.tensor(RNG.standard_normal(3), requires_grad=True)
    j = AF.jacobian(f_single, x)
    assert x.grad is None and x.is_leaf and not j.requires_grad
    out, g = AF.vjp(scalar_single, x)
    assert not out.requires_grad and not g.requires_grad


def test_jvp_through_linalg_by_double_backward():
    """jvp through packed multi-output ops (eigh's eigenvectors, svd's U): the
    double-backward trick with u = ones keeps the terms that the all-zero u
    of PyTorch's version would let those ops skip (their backward leaves out
    an output whose gradient is all zeros by value)."""
    a = RNG.standard_normal((3, 3))
    a = a @ a.T + np.eye(3)
    v = RNG.standard_normal((3, 3))
    v = v + v.T
    for name, pick in (("eigh", 1), ("svd", 0)):
        ft = lambda m: getattr(torch.linalg, name)(m)[pick].abs()  # noqa: E731
        fk = lambda m: getattr(tk.linalg, name)(m)[pick].abs()  # noqa: E731
        _same(AF.jvp(fk, tk.tensor(a), tk.tensor(v)),
              TF.jvp(ft, torch.tensor(a), torch.tensor(v)), atol=1e-8)
        if name == "svd":   # (eigh's columns: directions off the symmetric matrices)
            _same(AF.jacobian(fk, tk.tensor(a), vectorize=True, strategy="forward-mode"),
                  TF.jacobian(ft, torch.tensor(a), vectorize=True, strategy="forward-mode"),
                  atol=1e-8)


# -- tinygrad_kr.func ---------------------------------------------------------

def loss3(w, b, x):
    return ((x @ w + b).tanh() ** 2).mean()


@pytest.mark.parametrize("argnums", [0, 1, (0, 1), (2, 0), -1])
def test_grad_and_value_match_torch_func(argnums):
    t, k = _both(_arrays((3, 2), (2,), (4, 3)))
    _same(tkfunc.grad(loss3, argnums=argnums)(*k), torchfunc.grad(loss3, argnums=argnums)(*t))
    _same(tkfunc.grad_and_value(loss3, argnums=argnums)(*k),
          torchfunc.grad_and_value(loss3, argnums=argnums)(*t))


def test_grad_has_aux_and_pytrees():
    def f(params, x):
        out = x @ params["w"] + params["b"][0]
        return (out ** 2).sum(), {"out": out}
    arrays = _arrays((3, 2), (2,), (4, 3))
    pt = {"w": torch.tensor(arrays[0]), "b": [torch.tensor(arrays[1])]}
    pk = {"w": tk.tensor(arrays[0]), "b": [tk.tensor(arrays[1])]}
    gt, aux_t = torchfunc.grad(f, has_aux=True)(pt, torch.tensor(arrays[2]))
    gk, aux_k = tkfunc.grad(f, has_aux=True)(pk, tk.tensor(arrays[2]))
    assert isinstance(gk["b"], list)
    _same({"w": gk["w"], "b": tuple(gk["b"])}, {"w": gt["w"], "b": tuple(gt["b"])})
    _same(aux_k, aux_t)
    assert not aux_k["out"].requires_grad
    (gv_t, (v_t, a_t)) = torchfunc.grad_and_value(f, has_aux=True)(pt, torch.tensor(arrays[2]))
    (gv_k, (v_k, a_k)) = tkfunc.grad_and_value(f, has_aux=True)(pk, tk.tensor(arrays[2]))
    _same(v_k, v_t)


def test_grad_errors_match_torch_func():
    (xt,), (xk,) = _both(_arrays((3,)))
    _same_error(lambda: tkfunc.grad(lambda a: a * 2)(xk),
                lambda: torchfunc.grad(lambda a: a * 2)(xt))
    _same_error(lambda: tkfunc.grad(lambda a: a.sum(), has_aux=True)(xk),
                lambda: torchfunc.grad(lambda a: a.sum(), has_aux=True)(xt))
    _same_error(lambda: tkfunc.grad(lambda a: a.sum(), argnums=3)(xk),
                lambda: torchfunc.grad(lambda a: a.sum(), argnums=3)(xt))
    _same_error(lambda: tkfunc.grad(lambda a, b: a.sum(), argnums=(0, 0))(xk, xk),
                lambda: torchfunc.grad(lambda a, b: a.sum(), argnums=(0, 0))(xt, xt))
    _same_error(lambda: tkfunc.grad(lambda a: a.sum(), argnums=[0])(xk),
                lambda: torchfunc.grad(lambda a: a.sum(), argnums=[0])(xt))
    _same_error(lambda: tkfunc.grad(lambda a, n: a.sum() * n, argnums=1)(xk, 2.0),
                lambda: torchfunc.grad(lambda a, n: a.sum() * n, argnums=1)(xt, 2.0))


def test_nested_transforms_match_torch_func():
    x = RNG.standard_normal(())
    f = lambda a: a.sin() * a ** 3  # noqa: E731
    ours = tkfunc.grad(tkfunc.grad(tkfunc.grad(f)))(tk.tensor(x))
    theirs = torchfunc.grad(torchfunc.grad(torchfunc.grad(f)))(torch.tensor(x))
    _same(ours, theirs, atol=1e-9)
    t, k = _both(_arrays((3,), (3,)))
    _same(tkfunc.hessian(scalar_tuple, argnums=(0, 1))(*k),
          torchfunc.hessian(scalar_tuple, argnums=(0, 1))(*t), atol=1e-9)
    _same(tkfunc.jacfwd(tkfunc.jacrev(scalar_tuple))(*k),
          torchfunc.jacfwd(torchfunc.jacrev(scalar_tuple))(*t), atol=1e-9)
    _same(tkfunc.jacrev(tkfunc.grad(scalar_tuple, argnums=1), argnums=0)(*k),
          torchfunc.jacrev(torchfunc.grad(scalar_tuple, argnums=1), argnums=0)(*t), atol=1e-9)


def test_gradient_of_captured_weights_flows_to_them():
    """grad(f) of a function that captures a weight requiring grad: the
    gradient is itself differentiable with respect to the weight (a gradient
    penalty), as with torch.func."""
    (wt, xt), (wk, xk) = _both(_arrays((3,), (3,)))
    wt.requires_grad_()
    wk.requires_grad_()
    penalty_t = (torchfunc.grad(lambda x: (x * wt).sin().sum())(xt) ** 2).sum()
    penalty_k = (tkfunc.grad(lambda x: (x * wk).sin().sum())(xk) ** 2).sum()
    assert penalty_k.requires_grad
    penalty_t.backward()
    penalty_k.backward()
    _same(wk.grad, wt.grad, atol=1e-9)
    with tk.no_grad():      # an outer no_grad: the transform still runs, nothing is recorded
        g = tkfunc.grad(lambda x: (x * wk).sin().sum())(xk)
    assert not g.requires_grad


@pytest.mark.parametrize("argnums", [0, (0, 1)])
def test_jacrev_and_jacfwd_match_torch_func(argnums):
    t, k = _both(_arrays((3,), (2,)))
    for ours, theirs in ((tkfunc.jacrev, torchfunc.jacrev), (tkfunc.jacfwd, torchfunc.jacfwd)):
        _same(ours(f_tuple_both, argnums=argnums)(*k), theirs(f_tuple_both, argnums=argnums)(*t))

    def with_aux(x, y):
        return {"a": x * y.sum(), "b": (x.sin(),)}, x.sum()
    _same(tkfunc.jacrev(with_aux, argnums, has_aux=True)(*k),
          torchfunc.jacrev(with_aux, argnums, has_aux=True)(*t))
    _same(tkfunc.jacfwd(with_aux, argnums, has_aux=True)(*k),
          torchfunc.jacfwd(with_aux, argnums, has_aux=True)(*t))


def test_func_vjp_and_jvp_match_torch_func():
    t, k = _both(_arrays((3,), (2,)))
    out_t, fn_t = torchfunc.vjp(f_tuple_both, *t)
    out_k, fn_k = tkfunc.vjp(f_tuple_both, *k)
    _same(out_k, out_t)
    cot = _arrays((3,), (3, 2))
    _same(fn_k(tuple(tk.tensor(c) for c in cot)), fn_t(tuple(torch.tensor(c) for c in cot)))
    _same_error(lambda: fn_k(tk.tensor(cot[0])), lambda: fn_t(torch.tensor(cot[0])),
                upto="cotangents:")
    tan = _arrays((3,), (2,))
    _same(tkfunc.jvp(f_tuple_both, tuple(k), tuple(tk.tensor(a) for a in tan)),
          torchfunc.jvp(f_tuple_both, tuple(t), tuple(torch.tensor(a) for a in tan)))
    _same_error(lambda: tkfunc.jvp(f_tuple_both, list(k), tuple(k)),
                lambda: torchfunc.jvp(f_tuple_both, list(t), tuple(t)))
    out, fn, aux = tkfunc.vjp(lambda a: (a.sin(), a.cos()), k[0], has_aux=True)
    _same(fn(tk.ones(3, dtype=tk.float64)), (k[0].cos(),))
    _same(aux, k[0].cos())


def test_vmap_is_a_loop_with_torch_semantics():
    arrays = _arrays((5, 3), (3, 2), (2, 5))
    t, k = _both(arrays)

    def f(x, w, y):
        return x @ w, (x.sum() * y).sin()
    in_dims, out_dims = (0, None, 1), (1, 0)
    _same(tk.vmap(f, in_dims, out_dims)(*k), torch.vmap(f, in_dims, out_dims)(*t))
    # per-sample gradients: vmap(grad(...)) over a batch
    _same(tkfunc.vmap(tkfunc.grad(loss3), in_dims=(None, None, 0))(k[1], k[0][0, :2], k[0]),
          torchfunc.vmap(torchfunc.grad(loss3), in_dims=(None, None, 0))(t[1], t[0][0, :2],
                                                                          t[0]))
    # a tree of inputs with a prefix of in_dims
    _same(tkfunc.vmap(lambda d: d["a"] * d["b"][0], in_dims=({"a": 0, "b": None},))(
        {"a": k[0], "b": [k[1][:, 0]]}),
        torchfunc.vmap(lambda d: d["a"] * d["b"][0], in_dims=({"a": 0, "b": None},))(
        {"a": t[0], "b": [t[1][:, 0]]}))
    # and its errors
    _same_error(lambda: tkfunc.vmap(f, in_dims=(0, 0, 0))(*k),
                lambda: torchfunc.vmap(f, in_dims=(0, 0, 0))(*t))
    _same_error(lambda: tkfunc.vmap(lambda x, n: x * n, in_dims=(0, 0))(k[0], 2.0),
                lambda: torchfunc.vmap(lambda x, n: x * n, in_dims=(0, 0))(t[0], 2.0))
    _same_error(lambda: tkfunc.vmap(f, in_dims=(0, 0))(*k),
                lambda: torchfunc.vmap(f, in_dims=(0, 0))(*t), upto="in_dims has structure")
    _same_error(lambda: tkfunc.vmap(f, in_dims=(3, None, 1))(*k),
                lambda: torchfunc.vmap(f, in_dims=(3, None, 1))(*t))
    # out_dims=None for an output that depends on the batch: an error, not
    # the first sample's value; one that does not is returned once
    _same_error(lambda: tkfunc.vmap(lambda x: (x * 2, x.sum()), out_dims=(0, None))(k[0]),
                lambda: torchfunc.vmap(lambda x: (x * 2, x.sum()), out_dims=(0, None))(t[0]))
    _same(tkfunc.vmap(lambda x, w: (x @ w, w.sum()), (0, None), (0, None))(k[0], k[1]),
          torchfunc.vmap(lambda x, w: (x @ w, w.sum()), (0, None), (0, None))(t[0], t[1]))


def test_vmap_randomness():
    x = tk.zeros(4, 2)
    with pytest.raises(RuntimeError, match="randomness error mode"):
        tkfunc.vmap(lambda r: r + tk.randn(2))(x)
    different = tkfunc.vmap(lambda r: r + tk.randn(2), randomness="different")(x)
    same = tkfunc.vmap(lambda r: r + tk.randn(2), randomness="same")(x)
    assert not np.allclose(different[0].numpy(), different[1].numpy())
    assert all(np.array_equal(same[0].numpy(), same[i].numpy()) for i in range(4))
    with pytest.raises(RuntimeError, match="Only allowed values for randomness"):
        tkfunc.vmap(lambda r: r, randomness="sometimes")


def test_functional_call_matches_torch():
    tnn, knn = torch.nn, tk.nn
    torch.manual_seed(0)
    mt = tnn.Sequential(tnn.Linear(3, 4), tnn.Tanh(), tnn.Linear(4, 2)).double()
    mk = knn.Sequential(knn.Linear(3, 4), knn.Tanh(), knn.Linear(4, 2)).double()
    mk.load_state_dict({n: tk.tensor(p.detach().numpy()) for n, p in mt.state_dict().items()})
    new = {n: RNG.standard_normal(tuple(p.shape)) for n, p in mt.named_parameters()}
    pt = {n: torch.tensor(a) for n, a in new.items()}
    pk = {n: tk.tensor(a) for n, a in new.items()}
    (xt,), (xk,) = _both(_arrays((5, 3)))
    _same(tkfunc.functional_call(mk, pk, (xk,)), torchfunc.functional_call(mt, pt, (xt,)))
    before = mk[0].weight.detach().numpy().copy()
    np.testing.assert_array_equal(mk[0].weight.detach().numpy(), before)   # restored

    def loss(params, x):
        return (tkfunc.functional_call(mk, params, (x,)) ** 2).mean()

    def loss_t(params, x):
        return (torchfunc.functional_call(mt, params, (x,)) ** 2).mean()
    # per-sample gradients of every parameter, the torch.func tutorial's recipe
    _same(tkfunc.vmap(tkfunc.grad(loss), in_dims=(None, 0))(pk, xk),
          torchfunc.vmap(torchfunc.grad(loss_t), in_dims=(None, 0))(pt, xt), atol=1e-9)
    with pytest.raises(RuntimeError, match="Missing key"):
        tkfunc.functional_call(mk, {"0.weight": pk["0.weight"]}, (xk,), strict=True)
    _same_error(lambda: tkfunc.functional_call(mk, ({"0.bias": pk["0.bias"]},
                                                    {"0.bias": pk["0.bias"]}), xk),
                lambda: torchfunc.functional_call(mt, ({"0.bias": pt["0.bias"]},
                                                       {"0.bias": pt["0.bias"]}), xt))
