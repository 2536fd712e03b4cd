"""Embedding, LayerNorm, GroupNorm, scaled_dot_product_attention and
MultiheadAttention: values and gradients equal PyTorch's (weights copied
over), float64 gradchecks (and gradgradchecks), errors, reprs, state_dict keys."""
import math

import numpy as np
import pytest

import tinygrad_kr as tkr
import tinygrad_kr.nn as nn
import tinygrad_kr.nn.functional as F
from tinygrad_kr.autograd import gradcheck, gradgradcheck

torch = pytest.importorskip("torch")
from torch_compat import as_torch_repr, batchnorm_has_bias  # noqa: E402

rng = np.random.default_rng(0)


def leaf(*shape, dtype=tkr.float64):
    return tkr.tensor(rng.standard_normal(shape), dtype=dtype, requires_grad=True)


def twin(t):
    """The torch tensor with t's values (and requires_grad)."""
    return torch.tensor(np.array(t.array), requires_grad=t.requires_grad)


def copy_params(ours, theirs):
    """Copy torch module ``theirs``'s parameters into ``ours`` (same names)."""
    state = {k: tkr.tensor(v.detach().numpy().copy()) for k, v in theirs.state_dict().items()}
    ours.load_state_dict(state)


def close(a, b, tol=1e-10):
    np.testing.assert_allclose(a.array if hasattr(a, "array") else a,
                               b.detach().numpy() if hasattr(b, "detach") else b,
                               rtol=tol, atol=tol)


# --------------------------------------------------------------------------
# embedding
# --------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.int16, np.uint8])
@pytest.mark.parametrize("padding_idx", [None, 2, -1])
def test_embedding_values_and_repeated_index_gradients_equal_torch(dtype, padding_idx):
    w = leaf(6, 4)
    idx = np.array([[0, 2, 2, 5], [2, 1, 0, 2]], dtype=dtype)
    y = F.embedding(tkr.tensor(idx), w, padding_idx=padding_idx)
    wt = twin(w)
    yt = torch.nn.functional.embedding(torch.tensor(idx.astype(np.int64)), wt,
                                       padding_idx=padding_idx)
    close(y, yt)
    g = rng.standard_normal(y.shape)
    y.backward(tkr.tensor(g))
    yt.backward(torch.tensor(g))
    close(w.grad, wt.grad)


def test_embedding_scalar_and_empty_indices():
    w = leaf(3, 2)
    assert tuple(F.embedding(tkr.tensor(1), w).shape) == (2,)
    y = F.embedding(tkr.tensor(np.zeros((0, 3), np.int64)), w)
    assert tuple(y.shape) == (0, 3, 2)
    y.sum().backward()
    assert not w.grad.array.any()


@pytest.mark.parametrize("padding_idx", [None, 1])
def test_embedding_gradcheck_and_gradgradcheck(padding_idx):
    w = leaf(4, 3)
    idx = tkr.tensor([[1, 3, 1], [0, 1, 3]])
    f = lambda w: F.embedding(idx, w, padding_idx=padding_idx) ** 2   # noqa: E731
    if padding_idx is None:     # by design the padding row's gradient is 0, not the derivative
        assert gradcheck(f, (w,))
    assert gradgradcheck(f, (w,))


def test_embedding_errors():
    w = leaf(4, 3)
    with pytest.raises(IndexError, match="index 4"):
        F.embedding(tkr.tensor([0, 4]), w)
    with pytest.raises(IndexError, match="index -1"):
        F.embedding(tkr.tensor([-1, 2]), w)
    with pytest.raises(RuntimeError, match="Long, Int"):
        F.embedding(tkr.tensor([0.0, 1.0]), w)
    with pytest.raises(NotImplementedError, match="max_norm"):
        F.embedding(tkr.tensor([0]), w, max_norm=1.0)
    with pytest.raises(NotImplementedError, match="max_norm"):
        nn.Embedding(4, 3, max_norm=1.0)(tkr.tensor([0]))
    with pytest.raises(AssertionError, match="Padding_idx"):
        nn.Embedding(4, 3, padding_idx=4)


def test_embedding_module_init_repr_state_dict_and_padding_row():
    tkr.manual_seed(0)
    for args, kw in [((10, 3), {}), ((5, 3), {"padding_idx": -1}), ((5, 3), {"max_norm": 1.0}),
                     ((5, 3), {"norm_type": 1.0, "sparse": True})]:
        assert repr(nn.Embedding(*args, **kw)) == repr(torch.nn.Embedding(*args, **kw))
    e = nn.Embedding(1000, 8, padding_idx=3)
    assert list(e.state_dict()) == list(torch.nn.Embedding(1000, 8).state_dict())
    assert e.padding_idx == 3 and not e.weight.array[3].any()
    w = np.delete(e.weight.array, 3, axis=0)
    assert abs(w.mean()) < 0.05 and abs(w.std() - 1) < 0.05       # N(0, 1)
    et = torch.nn.Embedding(1000, 8, padding_idx=3)
    copy_params(e, et)
    idx = rng.integers(0, 1000, (7, 5))
    y, yt = e(tkr.tensor(idx)), et(torch.tensor(idx))
    close(y, yt, 1e-6)
    y.sum().backward()
    yt.sum().backward()
    close(e.weight.grad, et.weight.grad)
    assert not e.weight.grad.array[3].any()


def test_embedding_from_pretrained_and_weight_argument():
    pre = tkr.tensor(rng.standard_normal((4, 2)))
    e = nn.Embedding.from_pretrained(pre)
    assert not e.weight.requires_grad
    np.testing.assert_array_equal(e(tkr.tensor([3, 0])).array, pre.array[[3, 0]])
    assert nn.Embedding.from_pretrained(pre, freeze=False).weight.requires_grad
    e = nn.Embedding.from_pretrained(pre, padding_idx=1)   # the given row is kept, not zeroed
    np.testing.assert_array_equal(e.weight.array, pre.array)
    assert repr(e) == repr(torch.nn.Embedding.from_pretrained(torch.zeros(4, 2), padding_idx=1))
    e = nn.Embedding(4, 2, _weight=pre)
    np.testing.assert_array_equal(e.weight.array, pre.array)
    with pytest.raises(AssertionError, match="Shape of weight"):
        nn.Embedding(5, 2, _weight=pre)
    with pytest.raises(AssertionError, match="2-dimensional"):
        nn.Embedding.from_pretrained(tkr.zeros(4))


# --------------------------------------------------------------------------
# layer norm, group norm
# --------------------------------------------------------------------------


@pytest.mark.parametrize("shape,normalized", [((3, 5), 5), ((2, 3, 4), (3, 4)), ((4,), (4,)),
                                              ((2, 3, 4), (4,))])
@pytest.mark.parametrize("affine", ["both", "weight", "none"])
def test_layer_norm_values_and_gradients_equal_torch(shape, normalized, affine):
    x = leaf(*shape)
    nshape = (normalized,) if isinstance(normalized, int) else normalized
    w = leaf(*nshape) if affine != "none" else None
    b = leaf(*nshape) if affine == "both" else None
    y = F.layer_norm(x, normalized, w, b, eps=1e-5)
    xt, wt, bt = (None if t is None else twin(t) for t in (x, w, b))
    yt = torch.nn.functional.layer_norm(xt, nshape, wt, bt, eps=1e-5)
    close(y, yt)
    g = rng.standard_normal(shape)
    y.backward(tkr.tensor(g))
    yt.backward(torch.tensor(g))
    for ours, theirs in ((x, xt), (w, wt), (b, bt)):
        if ours is not None:
            close(ours.grad, theirs.grad)


def test_layer_norm_float32_is_stable_for_a_large_offset():
    x = rng.standard_normal((4, 64)).astype(np.float32) + 1e4
    y = F.layer_norm(tkr.tensor(x), 64)
    yt = torch.nn.functional.layer_norm(torch.tensor(x), (64,))
    assert y.dtype == tkr.float32
    np.testing.assert_allclose(y.array, yt.numpy(), rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm_gradcheck_and_gradgradcheck(affine):
    x = leaf(2, 3, 4)
    w, b = (leaf(3, 4), leaf(3, 4)) if affine else (None, None)
    f = lambda x, w, b: F.layer_norm(x, (3, 4), w, b)    # noqa: E731
    assert gradcheck(f, (x, w, b))
    assert gradgradcheck(f, (x, w, b))


@pytest.mark.parametrize("shape,groups", [((2, 6, 3, 2), 3), ((3, 4), 2), ((2, 4, 5), 1),
                                          ((2, 4, 5), 4)])
@pytest.mark.parametrize("affine", [True, False])
def test_group_norm_values_and_gradients_equal_torch(shape, groups, affine):
    x = leaf(*shape)
    w, b = (leaf(shape[1]), leaf(shape[1])) if affine else (None, None)
    y = F.group_norm(x, groups, w, b)
    xt, wt, bt = (None if t is None else twin(t) for t in (x, w, b))
    yt = torch.nn.functional.group_norm(xt, groups, wt, bt)
    close(y, yt)
    g = rng.standard_normal(shape)
    y.backward(tkr.tensor(g))
    yt.backward(torch.tensor(g))
    for ours, theirs in ((x, xt), (w, wt), (b, bt)):
        if ours is not None:
            close(ours.grad, theirs.grad)


def test_group_norm_gradcheck():
    x, w, b = leaf(2, 4, 3), leaf(4), leaf(4)
    assert gradcheck(lambda x, w, b: F.group_norm(x, 2, w, b), (x, w, b))


def test_norm_errors():
    with pytest.raises(RuntimeError, match="normalized_shape"):
        F.layer_norm(leaf(2, 3), (4,))
    with pytest.raises(RuntimeError, match="normalized_shape"):
        F.layer_norm(leaf(3), (2, 3))
    with pytest.raises(RuntimeError, match="weight"):
        F.layer_norm(leaf(2, 3), (3,), leaf(2))
    with pytest.raises(RuntimeError, match="divisible by num_groups"):
        F.group_norm(leaf(2, 5, 3), 2)
    with pytest.raises(ValueError, match="divisible by num_groups"):
        nn.GroupNorm(2, 5)


@pytest.mark.parametrize("ctor", [lambda m: m.LayerNorm(10), lambda m: m.LayerNorm((2, 3)),
                                  lambda m: m.LayerNorm(4, eps=1e-3, bias=False),
                                  lambda m: m.LayerNorm(4, elementwise_affine=False),
                                  lambda m: m.GroupNorm(2, 4),
                                  lambda m: m.GroupNorm(1, 4, affine=False),
                                  lambda m: m.GroupNorm(2, 4, bias=False)])
def test_norm_modules_repr_state_dict_and_forward_equal_torch(ctor):
    ours = ctor(nn)
    if isinstance(ours, nn.GroupNorm) and ours.bias is None and ours.affine \
            and not batchnorm_has_bias(torch):
        # this PyTorch's GroupNorm has no bias= (added in 2.13): its functional
        # form without a bias is the oracle
        assert list(ours.state_dict()) == ["weight"]
        w = rng.standard_normal(4).astype(np.float32)
        ours.weight.data = tkr.tensor(w)
        x = rng.standard_normal((3, 4, 5)).astype(np.float32)
        close(ours(tkr.tensor(x)),
              torch.nn.functional.group_norm(torch.tensor(x), 2, torch.tensor(w)), 1e-5)
        return
    theirs = ctor(torch.nn)
    assert as_torch_repr(ours, torch) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    with torch.no_grad():
        for p in theirs.parameters():
            p.copy_(torch.randn(p.shape))
    copy_params(ours, theirs)
    shape = (3, 4, 2, 3) if isinstance(ours, nn.LayerNorm) and ours.normalized_shape == (2, 3) \
        else (3, 4, 10) if isinstance(ours, nn.LayerNorm) and ours.normalized_shape == (10,) \
        else (3, 4, 4) if isinstance(ours, nn.LayerNorm) else (3, 4, 5)
    x = rng.standard_normal(shape).astype(np.float32)
    close(ours(tkr.tensor(x)), theirs(torch.tensor(x)), 1e-5)


# --------------------------------------------------------------------------
# scaled_dot_product_attention
# --------------------------------------------------------------------------


def _sdpa_both(q, k, v, **kw):
    y = F.scaled_dot_product_attention(q, k, v, **kw)
    tkw = {key: (twin(val) if isinstance(val, tkr.Tensor) else val) for key, val in kw.items()}
    qt, kt, vt = twin(q), twin(k), twin(v)
    yt = torch.nn.functional.scaled_dot_product_attention(qt, kt, vt, **tkw)
    close(y, yt)
    g = rng.standard_normal(y.shape)
    y.backward(tkr.tensor(g))
    yt.backward(torch.tensor(g))
    for ours, theirs in ((q, qt), (k, kt), (v, vt)):
        close(ours.grad, theirs.grad)


def test_sdpa_plain_scale_and_causal_equal_torch():
    _sdpa_both(leaf(2, 3, 4, 5), leaf(2, 3, 6, 5), leaf(2, 3, 6, 7))
    _sdpa_both(leaf(4, 5), leaf(6, 5), leaf(6, 2), scale=0.3)
    _sdpa_both(leaf(2, 4, 3), leaf(2, 4, 3), leaf(2, 4, 3), is_causal=True)
    _sdpa_both(leaf(1, 5, 3), leaf(1, 3, 3), leaf(1, 3, 2), is_causal=True)   # L > S
    _sdpa_both(leaf(1, 4, 3, 2), leaf(1, 2, 5, 2), leaf(1, 2, 5, 2), enable_gqa=True)


def test_sdpa_masks_equal_torch_including_fully_masked_rows():
    allowed = rng.random((4, 6)) > 0.4
    allowed[1] = False                   # a query row with nothing to attend to: zeros
    _sdpa_both(leaf(2, 4, 3), leaf(2, 6, 3), leaf(2, 6, 3), attn_mask=tkr.tensor(allowed))
    additive = rng.standard_normal((2, 1, 4, 6))
    additive[0, 0, 2] = -math.inf
    _sdpa_both(leaf(2, 3, 4, 3), leaf(2, 3, 6, 3), leaf(2, 3, 6, 3),
               attn_mask=tkr.tensor(additive))


def test_sdpa_gradcheck():
    q, k, v = leaf(2, 3, 2), leaf(2, 4, 2), leaf(2, 4, 2)
    mask = tkr.tensor(rng.random((3, 4)) > 0.3)
    mask.array[0] = False
    f = lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # noqa: E731
    assert gradcheck(f, (q, k, v))
    assert gradgradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
                         (q, k, v))


def test_sdpa_dropout_and_errors():
    tkr.manual_seed(0)
    q, k, v = leaf(2, 8, 4), leaf(2, 8, 4), tkr.ones(2, 8, 4, dtype=tkr.float64)
    y = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    # each output row is (sum of kept weights) / (1 - p): 0 .. 2, and not all 1
    assert (y.array >= 0).all() and (y.array <= 2 + 1e-12).all() and not np.allclose(y.array, 1)
    with pytest.raises(RuntimeError, match="is_causal"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=tkr.ones(8, 8), is_causal=True)
    with pytest.raises(RuntimeError, match="do not fit"):
        F.scaled_dot_product_attention(q, leaf(2, 8, 3), v)


# --------------------------------------------------------------------------
# MultiheadAttention
# --------------------------------------------------------------------------


def _mha_pair(*args, **kw):
    torch.manual_seed(0)
    theirs = torch.nn.MultiheadAttention(*args, **kw).double()
    with torch.no_grad():
        for p in theirs.parameters():
            p.copy_(torch.randn(p.shape, dtype=torch.float64) * 0.5)
    ours = nn.MultiheadAttention(*args, **kw).double()
    copy_params(ours, theirs)
    return ours, theirs


def _check_mha(ours, theirs, q, k, v, **kw):
    tkw = {key: (twin(val) if isinstance(val, tkr.Tensor) else val) for key, val in kw.items()}
    qt, kt, vt = twin(q), twin(k), twin(v)
    out, w = ours(q, k, v, **kw)
    outt, wt = theirs(qt, kt, vt, **tkw)
    close(out, outt)
    if wt is None:
        assert w is None
    else:
        close(w, wt)
    g = rng.standard_normal(out.shape)
    out.backward(tkr.tensor(g))
    outt.backward(torch.tensor(g))
    for a, b in ((q, qt), (k, kt), (v, vt)):
        close(a.grad, b.grad)
    for (name, p), (namet, pt) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert name == namet
        close(p.grad, pt.grad)


@pytest.mark.parametrize("need_weights,average", [(True, True), (True, False), (False, True)])
@pytest.mark.parametrize("batch_first", [False, True])
def test_mha_equals_torch(need_weights, average, batch_first):
    ours, theirs = _mha_pair(6, 2, batch_first=batch_first)
    shape_q, shape_kv = ((2, 3, 6), (2, 4, 6)) if batch_first else ((3, 2, 6), (4, 2, 6))
    _check_mha(ours, theirs, leaf(*shape_q), leaf(*shape_kv), leaf(*shape_kv),
               need_weights=need_weights, average_attn_weights=average)


@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_masks_equal_torch(need_weights):
    ours, theirs = _mha_pair(4, 2)
    q, k, v = leaf(3, 2, 4), leaf(5, 2, 4), leaf(5, 2, 4)
    kpm = np.zeros((2, 5), dtype=bool)
    kpm[1, 3:] = True
    attn = np.triu(np.ones((3, 5), dtype=bool), 3)
    _check_mha(ours, theirs, q, k, v, need_weights=need_weights,
               key_padding_mask=tkr.tensor(kpm), attn_mask=tkr.tensor(attn))
    ours, theirs = _mha_pair(4, 2)
    q, k, v = leaf(3, 2, 4), leaf(5, 2, 4), leaf(5, 2, 4)
    _check_mha(ours, theirs, q, k, v, need_weights=need_weights,
               attn_mask=tkr.tensor(rng.standard_normal((4, 3, 5))),
               key_padding_mask=tkr.tensor(np.where(kpm, -1.5, 0.0)))


def test_mha_unbatched_kdim_vdim_and_no_bias_equal_torch():
    ours, theirs = _mha_pair(4, 2)
    _check_mha(ours, theirs, leaf(3, 4), leaf(5, 4), leaf(5, 4))
    ours, theirs = _mha_pair(4, 1, kdim=3, vdim=5, bias=False)
    _check_mha(ours, theirs, leaf(3, 2, 4), leaf(6, 2, 3), leaf(6, 2, 5))


def test_mha_eval_and_dropout():
    ours, theirs = _mha_pair(4, 2, dropout=0.5)
    ours.eval()
    theirs.eval()
    q = leaf(3, 2, 4)
    with torch.no_grad():
        outt, wt = theirs(twin(q).detach(), twin(q).detach(), twin(q).detach())
    out, w = ours(q, q, q)
    close(out, outt)
    ours.train()
    _, w = ours(q, q, q)
    assert w.shape == (2, 3, 3)


@pytest.mark.parametrize("kw", [{}, {"bias": False}, {"kdim": 3, "vdim": 5},
                                {"batch_first": True, "dropout": 0.1}])
def test_mha_repr_state_dict_and_init(kw):
    ours, theirs = nn.MultiheadAttention(8, 2, **kw), torch.nn.MultiheadAttention(8, 2, **kw)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for (name, p), (_, pt) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert tuple(p.shape) == tuple(pt.shape), name
    if ours.in_proj_bias is not None:
        assert not ours.in_proj_bias.array.any() and not ours.out_proj.bias.array.any()


def test_mha_gradcheck():
    ours, _ = _mha_pair(4, 2)
    kpm = tkr.tensor(np.array([[False, False, True], [False, False, False]]))

    def f(q, k, v):
        return ours(q, k, v, key_padding_mask=kpm)[0]
    assert gradcheck(f, (leaf(2, 2, 4), leaf(3, 2, 4), leaf(3, 2, 4)))


def test_mha_errors():
    with pytest.raises(AssertionError, match="divisible by num_heads"):
        nn.MultiheadAttention(5, 2)
    with pytest.raises(NotImplementedError, match="add_bias_kv"):
        nn.MultiheadAttention(4, 2, add_bias_kv=True)
    m = nn.MultiheadAttention(4, 2)
    q = tkr.randn(3, 2, 4)
    with pytest.raises(RuntimeError, match="2D attn_mask"):
        m(q, q, q, attn_mask=tkr.zeros(2, 3))
    with pytest.raises(RuntimeError, match="is_causal"):
        m(q, q, q, is_causal=True)
    with pytest.raises(AssertionError, match="embedding dimension"):
        m(tkr.randn(3, 2, 5), q, q)
