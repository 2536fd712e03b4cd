"""nn.Transformer, TransformerEncoder(Layer), TransformerDecoder(Layer):
state_dict keys and shapes, reprs, values and gradients equal PyTorch's (its
weights loaded into ours), masks (float, bool, key padding, is_causal),
batch_first and unbatched inputs, generate_square_subsequent_mask, the errors,
dropout in train / eval mode, and PyTorch's "Language Modeling with
nn.TransformerEncoder" model trained for a few steps on both libraries."""
import math
import warnings

import numpy as np
import pytest

import tinygrad_kr as tkr
import tinygrad_kr.nn as nn
import tinygrad_kr.nn.functional as F

torch = pytest.importorskip("torch")
from torch_compat import as_torch_repr  # noqa: E402

pytestmark = [pytest.mark.filterwarnings("ignore:enable_nested_tensor is True"),
              pytest.mark.filterwarnings("ignore:Support for mismatched")]

rng = np.random.default_rng(0)

D, H, FF = 8, 2, 16          # d_model, nhead, dim_feedforward
S, T, N = 5, 4, 2            # source length, target length, batch

LIBS = {"ours": (tkr, nn, F), "torch": (torch, torch.nn, torch.nn.functional)}


def activation_for(kind, which):
    """The ``activation`` argument of kind ``kind`` for library ``which``."""
    lib, lib_nn, lib_F = LIBS[which]
    if kind in ("relu", "gelu"):
        return kind
    if kind == "F.gelu":
        return lib_F.gelu
    if kind == "GELU()":
        return lib_nn.GELU()
    if kind == "ReLU()":
        return lib_nn.ReLU()
    if kind == "swish":
        return lambda x: x * lib.sigmoid(x)
    raise ValueError(kind)


def build(which, cls, *args, activation=None, dtype="float64", **kw):
    """``cls`` of library ``which`` (activation given by kind, see activation_for)."""
    lib, lib_nn, _ = LIBS[which]
    if activation is not None:
        kw["activation"] = activation_for(activation, which)
    m = getattr(lib_nn, cls)(*args, **kw)
    return m.double() if dtype == "float64" else m


def twins(cls, *args, dtype="float64", **kw):
    """(ours, theirs): the same module in both libraries, torch's weights in ours."""
    theirs = build("torch", cls, *args, dtype=dtype, **kw)
    ours = build("ours", cls, *args, dtype=dtype, **kw)
    load(ours, theirs)
    return ours, theirs


def load(ours, theirs):
    state = {k: tkr.tensor(v.detach().numpy().copy()) for k, v in theirs.state_dict().items()}
    result = ours.load_state_dict(state)
    assert not result.missing_keys and not result.unexpected_keys


def encoder_twins(num_layers=2, final_norm=True, dtype="float64", **kw):
    """TransformerEncoder of num_layers TransformerEncoderLayer(D, H, FF, **kw)."""
    pair = []
    for which in ("torch", "ours"):
        layer = build(which, "TransformerEncoderLayer", D, H, FF, dtype=dtype, **kw)
        norm = LIBS[which][1].LayerNorm(D) if final_norm else None
        m = LIBS[which][1].TransformerEncoder(layer, num_layers, norm=norm)
        pair.append(m.double() if dtype == "float64" else m)
    theirs, ours = pair
    load(ours, theirs)
    return ours, theirs


def decoder_twins(num_layers=2, final_norm=True, dtype="float64", **kw):
    pair = []
    for which in ("torch", "ours"):
        layer = build(which, "TransformerDecoderLayer", D, H, FF, dtype=dtype, **kw)
        norm = LIBS[which][1].LayerNorm(D) if final_norm else None
        m = LIBS[which][1].TransformerDecoder(layer, num_layers, norm=norm)
        pair.append(m.double() if dtype == "float64" else m)
    theirs, ours = pair
    load(ours, theirs)
    return ours, theirs


def data(*shape, dtype="float64"):
    """(ours, theirs): a random input leaf in both libraries."""
    a = rng.standard_normal(shape).astype(dtype)
    return (tkr.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True))


def const(a):
    """(ours, theirs) of a constant array (a mask)."""
    return tkr.tensor(a), torch.tensor(a)


def causal(n, dtype="float64"):
    return (nn.Transformer.generate_square_subsequent_mask(n, dtype=getattr(tkr, dtype)),
            torch.nn.Transformer.generate_square_subsequent_mask(n, dtype=getattr(torch, dtype)))


def padding(n, length, padded):
    """(ours, theirs) bool key padding masks (n, length): the last ``padded[i]``
    positions of sequence i are padding (True)."""
    m = np.zeros((n, length), dtype=bool)
    for i, p in enumerate(padded):
        if p:
            m[i, length - p:] = True
    return const(m)


def tol_of(dtype):
    return 1e-10 if dtype == "float64" else 1e-5


def check_forward_backward(ours, theirs, inputs, kwargs, dtype="float64", grad_tol=None):
    """Forward values, then gradients of every parameter and input leaf for
    backward of a fixed random projection of the output."""
    tol = tol_of(dtype)
    grad_tol = tol if grad_tol is None else grad_tol
    ours_in = [x for x, _ in inputs]
    theirs_in = [x for _, x in inputs]
    ours_kw = {k: (v[0] if isinstance(v, tuple) else v) for k, v in kwargs.items()}
    theirs_kw = {k: (v[1] if isinstance(v, tuple) else v) for k, v in kwargs.items()}
    y = ours(*ours_in, **ours_kw)
    yt = theirs(*theirs_in, **theirs_kw)
    assert tuple(y.shape) == tuple(yt.shape)
    assert y.dtype == getattr(tkr, dtype)
    np.testing.assert_allclose(y.array, yt.detach().numpy(), rtol=tol, atol=tol)
    proj = rng.standard_normal(tuple(yt.shape)).astype(dtype)
    (y * tkr.tensor(proj)).sum().backward()
    (yt * torch.tensor(proj)).sum().backward()
    theirs_params = dict(theirs.named_parameters())
    ours_params = dict(ours.named_parameters())
    assert list(ours_params) == list(theirs_params)
    for name, p in ours_params.items():
        pt = theirs_params[name]
        assert p.grad is not None, name
        np.testing.assert_allclose(p.grad.array, pt.grad.numpy(), rtol=grad_tol, atol=grad_tol,
                                   err_msg=name)
    for x, xt in inputs:
        np.testing.assert_allclose(x.grad.array, xt.grad.numpy(), rtol=grad_tol, atol=grad_tol)
    return y


# --------------------------------------------------------------------------
# structure: state_dict keys and shapes, repr, copies, init
# --------------------------------------------------------------------------

LAYER_CONFIGS = [
    dict(),
    dict(norm_first=True),
    dict(batch_first=True),
    dict(activation="gelu"),
    dict(activation="swish"),
    dict(activation="GELU()"),
    dict(bias=False),
    dict(norm_first=True, batch_first=True, bias=False, layer_norm_eps=1e-6),
]


def assert_same_state(ours, theirs):
    ours_sd, theirs_sd = ours.state_dict(), theirs.state_dict()
    assert list(ours_sd) == list(theirs_sd)
    for k in theirs_sd:
        assert tuple(ours_sd[k].shape) == tuple(theirs_sd[k].shape), k


@pytest.mark.parametrize("cls", ["TransformerEncoderLayer", "TransformerDecoderLayer"])
@pytest.mark.parametrize("cfg", LAYER_CONFIGS, ids=str)
def test_layer_state_dict_keys_shapes_and_repr_equal_torch(cls, cfg):
    ours = build("ours", cls, D, H, FF, dtype="float32", **cfg)
    theirs = build("torch", cls, D, H, FF, dtype="float32", **cfg)
    assert_same_state(ours, theirs)
    if cfg.get("activation") != "swish":   # a lambda prints as nothing in both
        assert as_torch_repr(ours, torch) == repr(theirs)
    assert ours.norm_first == theirs.norm_first
    if cls == "TransformerEncoderLayer":
        assert ours.activation_relu_or_gelu == theirs.activation_relu_or_gelu


@pytest.mark.parametrize("cfg", [dict(), dict(norm_first=True, batch_first=True),
                                 dict(activation="gelu", bias=False)], ids=str)
@pytest.mark.parametrize("custom_norm", [False, True])
def test_encoder_and_decoder_state_dict_keys_equal_torch(cfg, custom_norm):
    for kind in ("Encoder", "Decoder"):
        pair = []
        for which in ("ours", "torch"):
            lib_nn = LIBS[which][1]
            layer = build(which, f"Transformer{kind}Layer", D, H, FF, dtype="float32", **cfg)
            norm = lib_nn.LayerNorm(D, eps=1e-6, bias=False) if custom_norm else None
            pair.append(getattr(lib_nn, f"Transformer{kind}")(layer, 3, norm=norm))
        assert_same_state(*pair)
        assert as_torch_repr(pair[0], torch) == repr(pair[1])
        assert pair[0].num_layers == 3 and (pair[0].norm is None) == (not custom_norm)


@pytest.mark.parametrize("cfg", [dict(), dict(norm_first=True, batch_first=True, bias=False),
                                 dict(activation="gelu")], ids=str)
def test_transformer_state_dict_keys_shapes_and_repr_equal_torch(cfg):
    ours = build("ours", "Transformer", D, H, 2, 1, FF, dtype="float32", **cfg)
    theirs = build("torch", "Transformer", D, H, 2, 1, FF, dtype="float32", **cfg)
    assert_same_state(ours, theirs)
    assert as_torch_repr(ours, torch) == repr(theirs)
    assert (ours.d_model, ours.nhead, ours.batch_first) == (D, H, cfg.get("batch_first", False))


def test_transformer_custom_encoder_and_decoder():
    for which in ("ours", "torch"):
        lib_nn = LIBS[which][1]
        enc = lib_nn.TransformerEncoder(lib_nn.TransformerEncoderLayer(D, H, FF), 1)
        dec = lib_nn.Linear(D, D)
        m = lib_nn.Transformer(D, H, custom_encoder=enc, custom_decoder=dec)
        assert m.encoder is enc and m.decoder is dec
        assert sorted(k for k, _ in m.named_parameters()) == sorted(
            ["encoder." + k for k, _ in enc.named_parameters()]
            + ["decoder." + k for k, _ in dec.named_parameters()])
    ours = nn.Transformer(D, H, custom_encoder=nn.Identity(), custom_decoder=nn.Identity())
    assert list(ours.state_dict()) == []


def test_encoder_layers_are_deep_copies_with_equal_initial_values():
    layer = nn.TransformerEncoderLayer(D, H, FF)
    enc = nn.TransformerEncoder(layer, 3)
    assert len(enc.layers) == 3 and isinstance(enc.layers, nn.ModuleList)
    ids = {id(layer)} | {id(m) for m in enc.layers}
    assert len(ids) == 4
    w = [m.linear1.weight for m in enc.layers]
    assert len({id(p) for p in w} | {id(layer.linear1.weight)}) == 4
    for p in w:
        np.testing.assert_array_equal(p.array, layer.linear1.weight.array)
    # training one copy leaves the others (and the template) as they were
    with tkr.no_grad():
        enc.layers[0].linear1.weight.add_(1.0)
    np.testing.assert_array_equal(enc.layers[1].linear1.weight.array, layer.linear1.weight.array)
    assert len(list(enc.parameters())) == 3 * len(list(layer.parameters()))
    dec = nn.TransformerDecoder(nn.TransformerDecoderLayer(D, H, FF), 2)
    assert dec.layers[0] is not dec.layers[1]


def test_transformer_reset_parameters_xavier_on_every_matrix():
    tkr.manual_seed(1)
    m = nn.Transformer(D, H, 2, 2, 4 * D)
    w0, w1 = m.encoder.layers[0].linear1.weight, m.encoder.layers[1].linear1.weight
    # the copies were re-initialised one by one
    assert not np.array_equal(w0.array, w1.array)
    fan_in, fan_out = D, 4 * D
    xavier = math.sqrt(6.0 / (fan_in + fan_out))
    kaiming = 1.0 / math.sqrt(fan_in)       # Linear's own default bound
    assert xavier > kaiming
    assert np.abs(w0.array).max() <= xavier
    assert np.abs(w0.array).max() > kaiming
    for name, p in m.named_parameters():
        if p.dim() > 1:
            fi, fo = p.shape[1], p.shape[0]
            assert np.abs(p.array).max() <= math.sqrt(6.0 / (fi + fo)) + 1e-7, name
    # 1-d parameters keep their own init: LayerNorm 1 / 0, attention biases 0
    np.testing.assert_array_equal(m.encoder.norm.weight.array, 1.0)
    np.testing.assert_array_equal(m.decoder.layers[1].self_attn.in_proj_bias.array, 0.0)


def test_factory_kwargs_and_defaults():
    m = nn.TransformerEncoderLayer(D, H, dtype=tkr.float64, device="cpu")
    assert m.linear1.weight.dtype == tkr.float64 and m.norm1.weight.dtype == tkr.float64
    assert m.linear1.out_features == 2048 and m.dropout.p == 0.1 and m.norm1.eps == 1e-5
    assert m.activation is F.relu and m.self_attn.batch_first is False
    t = nn.Transformer()
    assert t.d_model == 512 and t.nhead == 8 and len(t.encoder.layers) == 6
    assert len(t.decoder.layers) == 6
    m = nn.TransformerDecoderLayer(D, H, activation="gelu")
    assert m.activation is F.gelu
    with pytest.raises(RuntimeError, match="activation should be relu/gelu, not tanh"):
        nn.TransformerEncoderLayer(D, H, activation="tanh")
    with pytest.raises(RuntimeError) as theirs:
        torch.nn.TransformerEncoderLayer(D, H, activation="tanh")
    with pytest.raises(RuntimeError) as ours:
        nn.TransformerDecoderLayer(D, H, activation="tanh")
    assert str(ours.value) == str(theirs.value)


def test_encoder_nested_tensor_warning_and_attributes_equal_torch():
    for cfg in (dict(), dict(batch_first=True), dict(batch_first=True, norm_first=True),
                dict(batch_first=True, activation="swish")):
        got = []
        for which in ("ours", "torch"):
            layer = build(which, "TransformerEncoderLayer", D, H, FF, dtype="float32", **cfg)
            with warnings.catch_warnings(record=True) as w:
                warnings.simplefilter("always")
                enc = LIBS[which][1].TransformerEncoder(layer, 2)
            got.append(([str(x.message) for x in w], enc.use_nested_tensor,
                        enc.enable_nested_tensor, enc.mask_check))
        assert got[0] == got[1], cfg
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(D, H, FF), 2,
                                    enable_nested_tensor=False, mask_check=False)
    assert enc.use_nested_tensor is False and enc.mask_check is False


# --------------------------------------------------------------------------
# generate_square_subsequent_mask
# --------------------------------------------------------------------------


@pytest.mark.parametrize("sz", [1, 3, 6])
def test_generate_square_subsequent_mask_equals_torch(sz):
    m = nn.Transformer.generate_square_subsequent_mask(sz)
    mt = torch.nn.Transformer.generate_square_subsequent_mask(sz)
    assert m.dtype == tkr.float32
    np.testing.assert_array_equal(m.array, mt.numpy())
    m64 = nn.Transformer.generate_square_subsequent_mask(sz, dtype=tkr.float64)
    assert m64.dtype == tkr.float64
    np.testing.assert_array_equal(m64.array, mt.double().numpy())
    assert not m.requires_grad
    # callable on an instance too (a static method)
    assert np.array_equal(nn.Transformer(D, H, 1, 1, FF).generate_square_subsequent_mask(sz).array,
                          mt.numpy())


def test_detect_is_causal_mask_equals_torch():
    from tinygrad_kr.nn.modules.transformer import _detect_is_causal_mask as ours
    from torch.nn.modules.transformer import _detect_is_causal_mask as theirs
    not_causal = np.triu(np.full((S, S), -np.inf), 2)
    bool_causal = np.triu(np.ones((S, S), dtype=bool), 1)
    cases = [(causal(S), None, None), (causal(S), None, S), (causal(S), None, S + 1),
             (causal(S), False, None), (const(not_causal), None, None),
             (const(not_causal), True, None), (const(bool_causal), None, S),
             ((None, None), None, None), ((None, None), True, None),
             (const(np.zeros((N * H, S, S))), None, S)]
    for (m, mt), is_causal, size in cases:
        assert ours(m, is_causal, size) == theirs(mt, is_causal, size)


def seen_flags(model, call):
    """The is_causal / tgt_is_causal flags each layer of ``model`` receives."""
    seen = []
    for layer in model.layers:
        def spy(*args, _forward=layer.forward, **kwargs):
            seen.append({k: v for k, v in kwargs.items() if "causal" in k})
            return _forward(*args, **kwargs)
        layer.forward = spy
    call()
    return seen


@pytest.mark.parametrize("mask", ["causal", "none", "not_causal", "hint"])
def test_encoder_and_decoder_pass_layers_torch_is_causal_flags(mask):
    enc, enc_t = encoder_twins(dropout=0.0)
    dec, dec_t = decoder_twins(dropout=0.0)
    m = {"causal": causal(S), "none": (None, None), "hint": causal(S),
         "not_causal": const(np.triu(np.full((S, S), -np.inf), 2))}[mask]
    hint = True if mask == "hint" else None
    x, mem = data(S, N, D), data(T, N, D)
    got = seen_flags(enc, lambda: enc(x[0], m[0], is_causal=hint))
    want = seen_flags(enc_t, lambda: enc_t(x[1], m[1], is_causal=hint))
    assert got == want and len(got) == 2
    got = seen_flags(dec, lambda: dec(x[0], mem[0], tgt_mask=m[0], tgt_is_causal=hint))
    want = seen_flags(dec_t, lambda: dec_t(x[1], mem[1], tgt_mask=m[1], tgt_is_causal=hint))
    assert got == want


# --------------------------------------------------------------------------
# values and gradients equal torch's
# --------------------------------------------------------------------------


def seq_shape(length, batch_first):
    return (N, length, D) if batch_first else (length, N, D)


@pytest.mark.parametrize("cfg", LAYER_CONFIGS[:7], ids=str)
@pytest.mark.parametrize("masks", ["none", "causal", "causal+padding", "is_causal",
                                   "bool_mask"])
def test_encoder_layer_values_and_gradients_equal_torch(cfg, masks):
    ours, theirs = twins("TransformerEncoderLayer", D, H, FF, dropout=0.0, **cfg)
    src = data(*seq_shape(S, cfg.get("batch_first", False)))
    kw = {}
    if masks in ("causal", "causal+padding", "is_causal"):
        kw["src_mask"] = causal(S)
    if masks == "causal+padding":
        kw["src_key_padding_mask"] = padding(N, S, [0, 2])
    if masks == "is_causal":
        kw["is_causal"] = True
    if masks == "bool_mask":
        kw["src_mask"] = const(np.triu(np.ones((S, S), dtype=bool), 1))
    check_forward_backward(ours, theirs, [src], kw)


@pytest.mark.parametrize("cfg", [dict(), dict(norm_first=True, batch_first=True),
                                 dict(activation="gelu", bias=False)], ids=str)
@pytest.mark.parametrize("final_norm", [True, False])
def test_encoder_values_and_gradients_equal_torch(cfg, final_norm):
    ours, theirs = encoder_twins(final_norm=final_norm, dropout=0.0, **cfg)
    ours.eval()
    theirs.eval()
    src = data(*seq_shape(S, cfg.get("batch_first", False)))
    kw = dict(mask=causal(S), src_key_padding_mask=padding(N, S, [1, 0]))
    check_forward_backward(ours, theirs, [src], kw)


@pytest.mark.parametrize("masks", ["mask_detected_causal", "is_causal", "bool_padding_only",
                                   "float_padding_only", "3d_mask"])
def test_encoder_masks_equal_torch(masks):
    ours, theirs = encoder_twins(dropout=0.1, batch_first=True)
    ours.eval()
    theirs.eval()
    src = data(N, S, D)
    if masks == "mask_detected_causal":
        kw = dict(mask=causal(S))
    elif masks == "is_causal":
        kw = dict(mask=causal(S), is_causal=True)
    elif masks == "bool_padding_only":
        kw = dict(src_key_padding_mask=padding(N, S, [2, 0]))
    elif masks == "float_padding_only":
        m = np.where(padding(N, S, [0, 3])[0].array, -np.inf, 0.0)
        kw = dict(src_key_padding_mask=const(m))
    else:
        m = rng.standard_normal((N * H, S, S))
        kw = dict(mask=const(m))
    check_forward_backward(ours, theirs, [src], kw)


@pytest.mark.parametrize("cfg", LAYER_CONFIGS[:7], ids=str)
@pytest.mark.parametrize("masks", ["none", "all"])
def test_decoder_layer_values_and_gradients_equal_torch(cfg, masks):
    ours, theirs = twins("TransformerDecoderLayer", D, H, FF, dropout=0.0, **cfg)
    bf = cfg.get("batch_first", False)
    tgt, memory = data(*seq_shape(T, bf)), data(*seq_shape(S, bf))
    kw = {}
    if masks == "all":
        kw = dict(tgt_mask=causal(T), memory_mask=const(rng.standard_normal((T, S))),
                  tgt_key_padding_mask=padding(N, T, [1, 0]),
                  memory_key_padding_mask=padding(N, S, [0, 2]), tgt_is_causal=True)
    check_forward_backward(ours, theirs, [tgt, memory], kw)


@pytest.mark.parametrize("cfg", [dict(), dict(norm_first=True, batch_first=True),
                                 dict(activation="gelu", bias=False)], ids=str)
@pytest.mark.parametrize("final_norm", [True, False])
def test_decoder_values_and_gradients_equal_torch(cfg, final_norm):
    ours, theirs = decoder_twins(final_norm=final_norm, dropout=0.0, **cfg)
    bf = cfg.get("batch_first", False)
    tgt, memory = data(*seq_shape(T, bf)), data(*seq_shape(S, bf))
    kw = dict(tgt_mask=causal(T), tgt_key_padding_mask=padding(N, T, [0, 1]),
              memory_key_padding_mask=padding(N, S, [3, 0]))
    check_forward_backward(ours, theirs, [tgt, memory], kw)


@pytest.mark.parametrize("cfg", [dict(), dict(batch_first=True), dict(norm_first=True),
                                 dict(activation="gelu", bias=False, batch_first=True)],
                         ids=str)
def test_transformer_values_and_gradients_equal_torch(cfg):
    ours, theirs = twins("Transformer", D, H, 2, 2, FF, **cfg)
    ours.eval()
    theirs.eval()
    bf = cfg.get("batch_first", False)
    src, tgt = data(*seq_shape(S, bf)), data(*seq_shape(T, bf))
    kw = dict(src_mask=causal(S), tgt_mask=causal(T),
              src_key_padding_mask=padding(N, S, [0, 2]),
              tgt_key_padding_mask=padding(N, T, [1, 0]),
              memory_key_padding_mask=padding(N, S, [0, 2]))
    check_forward_backward(ours, theirs, [src, tgt], kw)


def test_transformer_plain_and_unbatched_equal_torch():
    ours, theirs = twins("Transformer", D, H, 1, 2, FF, dropout=0.0)
    src, tgt = data(S, N, D), data(T, N, D)
    check_forward_backward(ours, theirs, [src, tgt], {})
    src, tgt = data(S, D), data(T, D)
    kw = dict(tgt_mask=causal(T), src_key_padding_mask=const(np.array([0, 0, 0, 1, 1], bool)),
              memory_mask=const(rng.standard_normal((T, S))))
    check_forward_backward(ours, theirs, [src, tgt], kw)


def test_transformer_float32_equal_torch():
    ours, theirs = twins("Transformer", D, H, 2, 2, FF, dtype="float32", batch_first=True)
    ours.eval()
    theirs.eval()
    src, tgt = data(N, S, D, dtype="float32"), data(N, T, D, dtype="float32")
    kw = dict(tgt_mask=causal(T, "float32"), src_key_padding_mask=padding(N, S, [0, 2]),
              memory_key_padding_mask=padding(N, S, [0, 2]))
    check_forward_backward(ours, theirs, [src, tgt], kw, dtype="float32", grad_tol=1e-4)


def test_encoder_float32_equal_torch():
    ours, theirs = encoder_twins(dtype="float32", dropout=0.0, norm_first=True)
    src = data(S, N, D, dtype="float32")
    kw = dict(mask=causal(S, "float32"), src_key_padding_mask=padding(N, S, [0, 1]))
    check_forward_backward(ours, theirs, [src], kw, dtype="float32", grad_tol=1e-4)


def test_mismatched_mask_types_warn_as_torch():
    ours, theirs = encoder_twins(dropout=0.0)
    src = data(S, N, D)
    kw = dict(mask=causal(S), src_key_padding_mask=padding(N, S, [0, 1]))
    with pytest.warns(UserWarning) as w_theirs:
        theirs(src[1], **{k: v[1] for k, v in kw.items()})
    with pytest.warns(UserWarning) as w_ours:
        ours(src[0], **{k: v[0] for k, v in kw.items()})
    msg = "Support for mismatched src_key_padding_mask and mask is deprecated"
    assert any(msg in str(w.message) for w in w_theirs)
    assert any(msg in str(w.message) for w in w_ours)


# --------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------


def _error(fn):
    try:
        fn()
    except Exception as e:    # noqa: BLE001 - the type is what is compared
        return type(e), str(e)
    return None


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("case", ["batch", "src_d_model", "tgt_d_model"])
def test_transformer_shape_errors_equal_torch(batch_first, case):
    shapes = {"batch": ((S, N, D), (T, N + 1, D)), "src_d_model": ((S, N, D + 2), (T, N, D)),
              "tgt_d_model": ((S, N, D), (T, N, D - 2))}[case]
    src_shape, tgt_shape = shapes
    if batch_first:
        src_shape, tgt_shape = ((a[1], a[0], a[2]) for a in (src_shape, tgt_shape))
    ours = nn.Transformer(D, H, 1, 1, FF, batch_first=batch_first)
    theirs = torch.nn.Transformer(D, H, 1, 1, FF, batch_first=batch_first)
    a, b = rng.standard_normal(src_shape), rng.standard_normal(tgt_shape)
    got = _error(lambda: ours(tkr.tensor(a, dtype=tkr.float32), tkr.tensor(b, dtype=tkr.float32)))
    want = _error(lambda: theirs(torch.tensor(a, dtype=torch.float32),
                                 torch.tensor(b, dtype=torch.float32)))
    assert want is not None and got == want
    expected = ("the batch number of src and tgt must be equal" if case == "batch" else
                "the feature number of src and tgt must be equal to d_model")
    assert got == (RuntimeError, expected)


def test_is_causal_without_mask_raises_as_torch():
    ours, theirs = twins("TransformerEncoderLayer", D, H, FF)
    src = data(S, N, D)
    got = _error(lambda: ours(src[0], is_causal=True))
    want = _error(lambda: theirs(src[1], is_causal=True))
    assert want is not None and got == want


def test_integer_mask_raises_as_torch():
    ours, theirs = twins("TransformerEncoderLayer", D, H, FF)
    src = data(S, N, D)
    m = np.zeros((S, S), dtype=np.int64)
    got = _error(lambda: ours(src[0], src_mask=tkr.tensor(m)))
    want = _error(lambda: theirs(src[1], src_mask=torch.tensor(m)))
    assert want is not None and got == want


# --------------------------------------------------------------------------
# dropout: random in train mode, deterministic in eval mode
# --------------------------------------------------------------------------


@pytest.mark.parametrize("cls", ["TransformerEncoderLayer", "TransformerDecoderLayer",
                                 "Transformer"])
def test_dropout_random_in_train_and_deterministic_in_eval(cls):
    args = (D, H, FF) if cls != "Transformer" else (D, H, 1, 1, FF)
    m = getattr(nn, cls)(*args, dropout=0.5)
    x = tkr.tensor(rng.standard_normal((S, N, D)), dtype=tkr.float32)
    call = (lambda: m(x)) if cls == "TransformerEncoderLayer" else (lambda: m(x, x))
    assert m.training
    a, b = call(), call()
    assert not np.allclose(a.array, b.array)
    m.eval()
    a, b = call(), call()
    np.testing.assert_array_equal(a.array, b.array)
    for sub in m.modules():
        assert not sub.training
    m.train()
    assert not np.allclose(call().array, a.array)


def call_order(model, *inputs):
    """The names of the submodules in the order their forward runs."""
    order = []
    for name, sub in model.named_modules():
        if name:
            sub.register_forward_hook(lambda m, a, o, name=name: order.append(name))
    model(*inputs)
    return order


@pytest.mark.parametrize("cls", ["TransformerEncoderLayer", "TransformerDecoderLayer",
                                 "Transformer"])
@pytest.mark.parametrize("norm_first", [False, True])
def test_submodules_run_in_torch_order(cls, norm_first):
    """Every Dropout, LayerNorm, Linear and attention runs where PyTorch's does
    (dropout layers included, which values with dropout off cannot show)."""
    args = (D, H, FF) if cls != "Transformer" else (D, H, 2, 1, FF)
    ours, theirs = twins(cls, *args, norm_first=norm_first, activation="GELU()")
    x = data(S, N, D)
    n_in = 1 if cls == "TransformerEncoderLayer" else 2
    got = call_order(ours, *([x[0]] * n_in))
    want = call_order(theirs, *([x[1]] * n_in))
    assert got == want
    assert any("dropout2" in name for name in got)


@pytest.mark.parametrize("kind", ["relu", "gelu", "F.gelu", "GELU()", "ReLU()", "swish"])
def test_activation_kinds_equal_torch(kind):
    for cls in ("TransformerEncoderLayer", "TransformerDecoderLayer"):
        ours, theirs = twins(cls, D, H, FF, activation=kind, dropout=0.0)
        if cls == "TransformerEncoderLayer":
            assert ours.activation_relu_or_gelu == theirs.activation_relu_or_gelu
            src = data(S, N, D)
            check_forward_backward(ours, theirs, [src], {})
        assert ("activation" in ours._modules) == ("activation" in theirs._modules)


# --------------------------------------------------------------------------
# PyTorch's "Language Modeling with nn.TransformerEncoder" tutorial model
# --------------------------------------------------------------------------


def tutorial_model(torch, nn):
    """The tutorial's classes, written against ``torch`` / ``nn`` (either library)."""

    class PositionalEncoding(nn.Module):
        def __init__(self, d_model, dropout=0.1, max_len=5000):
            super().__init__()
            self.dropout = nn.Dropout(p=dropout)
            position = torch.arange(max_len).unsqueeze(1)
            div_term = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
            pe = torch.zeros(max_len, 1, d_model)
            pe[:, 0, 0::2] = torch.sin(position * div_term)
            pe[:, 0, 1::2] = torch.cos(position * div_term)
            self.register_buffer("pe", pe)

        def forward(self, x):
            x = x + self.pe[:x.size(0)]
            return self.dropout(x)

    class TransformerModel(nn.Module):
        def __init__(self, ntoken, d_model, nhead, d_hid, nlayers, dropout=0.5):
            super().__init__()
            self.model_type = "Transformer"
            self.pos_encoder = PositionalEncoding(d_model, dropout, max_len=64)
            encoder_layers = nn.TransformerEncoderLayer(d_model, nhead, d_hid, dropout)
            self.transformer_encoder = nn.TransformerEncoder(encoder_layers, nlayers)
            self.embedding = nn.Embedding(ntoken, d_model)
            self.d_model = d_model
            self.linear = nn.Linear(d_model, ntoken)
            self.init_weights()

        def init_weights(self):
            initrange = 0.1
            self.embedding.weight.data.uniform_(-initrange, initrange)
            self.linear.bias.data.zero_()
            self.linear.weight.data.uniform_(-initrange, initrange)

        def forward(self, src, src_mask=None):
            src = self.embedding(src) * math.sqrt(self.d_model)
            src = self.pos_encoder(src)
            if src_mask is None:
                src_mask = nn.Transformer.generate_square_subsequent_mask(len(src))
            output = self.transformer_encoder(src, src_mask)
            output = self.linear(output)
            return output

    return TransformerModel


def train_tutorial(lib, lib_nn, state, data, targets, ntokens, optimizer):
    model = tutorial_model(lib, lib_nn)(ntokens, 16, 2, 16, 2, dropout=0.0)
    model.load_state_dict({k: lib.tensor(v) for k, v in state.items()})
    criterion = lib_nn.CrossEntropyLoss()
    if optimizer == "sgd":
        opt = lib.optim.SGD(model.parameters(), lr=1.0)
    else:
        opt = lib.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    losses = []
    src, tgt = lib.tensor(data), lib.tensor(targets)
    for _ in range(3):
        output = model(src)
        loss = criterion(output.view(-1, ntokens), tgt)
        opt.zero_grad()
        loss.backward()
        lib_nn.utils.clip_grad_norm_(model.parameters(), 0.5)
        opt.step()
        losses.append(loss.item())
    return losses, {k: np.array(v.detach().numpy()) for k, v in model.state_dict().items()}


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_tutorial_language_model_trains_as_torch(optimizer):
    ntokens, bptt = 11, 6
    torch.manual_seed(0)
    theirs = tutorial_model(torch, torch.nn)(ntokens, 16, 2, 16, 2, dropout=0.0)
    state = {k: v.detach().numpy().copy() for k, v in theirs.state_dict().items()}
    tokens = rng.integers(0, ntokens, size=(bptt + 1, N))
    data, targets = tokens[:-1], tokens[1:].reshape(-1)
    ours_losses, ours_state = train_tutorial(tkr, nn, state, data, targets, ntokens, optimizer)
    theirs_losses, theirs_state = train_tutorial(torch, torch.nn, state, data, targets, ntokens,
                                                 optimizer)
    np.testing.assert_allclose(ours_losses, theirs_losses, rtol=1e-5, atol=1e-5)
    assert ours_losses[-1] < ours_losses[0]
    for k in theirs_state:
        a, b = ours_state[k], theirs_state[k]
        if k.endswith("in_proj_bias"):
            # the key bias adds a constant to each row of scores: its gradient is 0
            # up to rounding, which Adam scales up to whole steps in both libraries
            a, b = np.delete(a, np.s_[16:32]), np.delete(b, np.s_[16:32])
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5, err_msg=k)
