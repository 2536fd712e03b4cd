"""scaled_dot_product_attention and multi_head_attention_forward: compositions
of core ops (matmul, softmax, where, dropout), so they need no Function of
their own and are differentiable to any order.

Masks, as PyTorch's: a bool ``attn_mask`` of scaled_dot_product_attention says
which keys *take part* (True = attend); a float one is added to the scores.
For nn.MultiheadAttention's ``key_padding_mask`` and ``attn_mask`` a bool True
means the opposite: *ignore* that key.  A query row with no key left gives
zeros from scaled_dot_product_attention (as torch 2.13's CPU kernels do) and
NaN from multi_head_attention_forward with need_weights=True (its softmax
over -inf only, as PyTorch's).
"""
import math

import numpy as np

from .. import ops
from ..backend import get_array_module
from ..tensor import Tensor
from ._ops_norm import dropout

__all__ = ["scaled_dot_product_attention", "multi_head_attention_forward"]


def _repeat_heads(x, times):
    """Repeat each head ``times`` times along dim -3 (grouped-query attention)."""
    idx = np.repeat(np.arange(x.shape[-3]), times)
    return ops.getitem(x, (Ellipsis, idx, slice(None), slice(None)))


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None, enable_gqa=False):
    """softmax(query @ key^T * scale + mask) @ value.

    query (..., L, E), key (..., S, E), value (..., S, Ev) -> (..., L, Ev);
    ``scale`` defaults to 1 / sqrt(E); ``attn_mask`` broadcasts to (..., L, S);
    ``is_causal`` lets query i attend to keys 0..i (a lower-triangular mask,
    anchored at the top left); ``dropout_p`` drops attention weights (always,
    as in PyTorch: pass 0 when evaluating)."""
    if is_causal and attn_mask is not None:
        raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not be set "
                           "when is_causal=True")
    if query.ndim < 2 or key.ndim < 2 or value.ndim < 2:
        raise RuntimeError(f"scaled_dot_product_attention: query, key and value need at least 2 "
                           f"dimensions (..., L, E), got shapes {tuple(query.shape)}, "
                           f"{tuple(key.shape)}, {tuple(value.shape)}")
    if query.shape[-1] != key.shape[-1] or key.shape[-2] != value.shape[-2]:
        raise RuntimeError(f"scaled_dot_product_attention: query (..., L, E) {tuple(query.shape)}, "
                           f"key (..., S, E) {tuple(key.shape)} and value (..., S, Ev) "
                           f"{tuple(value.shape)} do not fit together")
    if enable_gqa and query.ndim >= 3 and key.shape[-3] != query.shape[-3]:
        heads_q, heads_kv = query.shape[-3], key.shape[-3]
        if heads_q % heads_kv:
            raise RuntimeError(f"scaled_dot_product_attention: enable_gqa needs the query's "
                               f"{heads_q} heads to be a multiple of the key's {heads_kv}")
        key = _repeat_heads(key, heads_q // heads_kv)
        value = _repeat_heads(value, heads_q // heads_kv)
    L, S = query.shape[-2], key.shape[-2]
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    scores = ops.matmul(query, ops.transpose(key, -2, -1)) * scale
    allowed = None
    if is_causal:
        allowed = np.tril(np.ones((L, S), dtype=bool))
    elif attn_mask is not None:
        if attn_mask.array.dtype == np.bool_:
            allowed = attn_mask.array
        else:
            scores = scores + attn_mask
    if allowed is not None:
        xp = get_array_module(scores.array)
        allowed = xp.asarray(allowed)
        scores = ops.where(xp.broadcast_to(allowed, scores.shape), scores, -math.inf)
    # only a mask can leave a query row with no key (a scan, and on a GPU a host
    # read, that unmasked attention does not need to pay)
    return _softmax_rows_then_matmul(scores, value, dropout_p,
                                     dead_rows_zero=attn_mask is not None)


def _softmax_rows_then_matmul(scores, value, dropout_p, dead_rows_zero, training=True):
    """softmax(scores) @ value (and the weights); rows of -inf only give 0
    (and no NaN in the backward) when ``dead_rows_zero``."""
    xp = get_array_module(scores.array)
    dead = None
    if dead_rows_zero and scores.numel():
        dead = xp.all(scores.array == -math.inf, axis=-1, keepdims=True)
        if bool(dead.any()):
            dead = xp.broadcast_to(dead, scores.shape)
            scores = ops.where(dead, 0.0, scores)   # a finite row, so that softmax is not NaN
        else:
            dead = None
    weights = ops.softmax(scores, -1)
    if dead is not None:
        weights = ops.where(dead, 0.0, weights)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p, training=training)
    return ops.matmul(weights, value) if value is not None else weights


def _float_mask(mask, name, dtype):
    """A bool mask (True = ignore) as an additive float mask (-inf), or a float mask as is."""
    if mask is None:
        return None
    if mask.array.dtype == np.bool_:
        xp = get_array_module(mask.array)
        return Tensor(xp.where(mask.array, -math.inf, 0.0).astype(dtype))
    if mask.array.dtype.kind != "f":
        raise AssertionError(f"only bool and floating types of {name} are supported "
                             f"(got {mask.array.dtype})")
    return mask


def multi_head_attention_forward(query, key, value, embed_dim_to_check, num_heads, in_proj_weight,
                                 in_proj_bias, bias_k, bias_v, add_zero_attn, dropout_p,
                                 out_proj_weight, out_proj_bias, training=True,
                                 key_padding_mask=None, need_weights=True, attn_mask=None,
                                 use_separate_proj_weight=False, q_proj_weight=None,
                                 k_proj_weight=None, v_proj_weight=None, static_k=None,
                                 static_v=None, average_attn_weights=True, is_causal=False):
    """PyTorch's F.multi_head_attention_forward on (L, N, E) inputs (or
    unbatched (L, E)): returns (output (L, N, E), weights (N, L, S) averaged
    over heads, (N, H, L, S) not averaged, or None without need_weights)."""
    from ._ops_dense import linear
    if bias_k is not None or bias_v is not None or add_zero_attn:
        raise NotImplementedError("multi_head_attention_forward: add_bias_kv and add_zero_attn "
                                  "are not supported")
    if static_k is not None or static_v is not None:
        raise NotImplementedError("multi_head_attention_forward: static_k / static_v are not "
                                  "supported")
    if is_causal and attn_mask is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the "
                           "Transformer module method `generate_square_subsequent_mask` to "
                           "create this mask.")
    batched = query.ndim == 3
    if query.ndim not in (2, 3) or key.ndim != query.ndim or value.ndim != query.ndim:
        raise AssertionError(f"query, key and value should be all 3-D (L, N, E) or all 2-D "
                             f"(L, E) (unbatched), got shapes {tuple(query.shape)}, "
                             f"{tuple(key.shape)}, {tuple(value.shape)}")
    if not batched:
        query, key, value = (ops.unsqueeze(t, 1) for t in (query, key, value))
        if key_padding_mask is not None:
            key_padding_mask = ops.unsqueeze(key_padding_mask, 0)
    tgt_len, bsz, embed_dim = query.shape
    src_len = key.shape[0]
    if embed_dim != embed_dim_to_check:
        raise AssertionError(f"was expecting embedding dimension of {embed_dim_to_check}, but got "
                             f"{embed_dim}")
    head_dim = embed_dim // num_heads
    if key.shape[:2] != value.shape[:2]:
        raise AssertionError(f"key shape {tuple(key.shape)} does not match value shape "
                             f"{tuple(value.shape)}")
    if use_separate_proj_weight:
        b_q = b_k = b_v = None
        if in_proj_bias is not None:
            b_q, b_k, b_v = ops.chunk(in_proj_bias, 3)
        q = linear(query, q_proj_weight, b_q)
        k = linear(key, k_proj_weight, b_k)
        v = linear(value, v_proj_weight, b_v)
    else:
        w_q, w_k, w_v = ops.chunk(in_proj_weight, 3)
        b_q = b_k = b_v = None
        if in_proj_bias is not None:
            b_q, b_k, b_v = ops.chunk(in_proj_bias, 3)
        q, k, v = linear(query, w_q, b_q), linear(key, w_k, b_k), linear(value, w_v, b_v)

    attn_mask = _float_mask(attn_mask, "attn_mask", q.array.dtype)
    key_padding_mask = _float_mask(key_padding_mask, "key_padding_mask", q.array.dtype)
    if attn_mask is not None:
        if attn_mask.ndim == 2:
            if tuple(attn_mask.shape) != (tgt_len, src_len):
                raise RuntimeError(f"The shape of the 2D attn_mask is {tuple(attn_mask.shape)}, "
                                   f"but should be {(tgt_len, src_len)}.")
            attn_mask = ops.unsqueeze(attn_mask, 0)
        elif attn_mask.ndim == 3:
            if tuple(attn_mask.shape) != (bsz * num_heads, tgt_len, src_len):
                raise RuntimeError(f"The shape of the 3D attn_mask is {tuple(attn_mask.shape)}, "
                                   f"but should be {(bsz * num_heads, tgt_len, src_len)}.")
        else:
            raise RuntimeError(f"attn_mask's dimension {attn_mask.ndim} is not supported")

    # (L, N, E) -> (N * H, L, head_dim)
    q = ops.transpose(ops.reshape(q, (tgt_len, bsz * num_heads, head_dim)), 0, 1)
    k = ops.transpose(ops.reshape(k, (src_len, bsz * num_heads, head_dim)), 0, 1)
    v = ops.transpose(ops.reshape(v, (src_len, bsz * num_heads, head_dim)), 0, 1)

    if key_padding_mask is not None:
        if tuple(key_padding_mask.shape) != (bsz, src_len):
            raise AssertionError(f"expecting key_padding_mask shape of {(bsz, src_len)}, but got "
                                 f"{tuple(key_padding_mask.shape)}")
        kpm = ops.reshape(ops.broadcast_to(ops.reshape(key_padding_mask, (bsz, 1, 1, src_len)),
                                           (bsz, num_heads, 1, src_len)),
                          (bsz * num_heads, 1, src_len))
        attn_mask = kpm if attn_mask is None else attn_mask + kpm
    if not training:
        dropout_p = 0.0

    if need_weights:
        scores = ops.matmul(q * math.sqrt(1.0 / head_dim), ops.transpose(k, -2, -1))
        if attn_mask is not None:
            scores = scores + attn_mask
        weights = _softmax_rows_then_matmul(scores, None, dropout_p, dead_rows_zero=False)
        out = ops.matmul(weights, v)
        out = ops.reshape(ops.transpose(out, 0, 1), (tgt_len * bsz, embed_dim))
        out = ops.reshape(linear(out, out_proj_weight, out_proj_bias), (tgt_len, bsz, -1))
        weights = ops.reshape(weights, (bsz, num_heads, tgt_len, src_len))
        if average_attn_weights:
            weights = ops.mean(weights, 1)
        if not batched:
            out, weights = ops.squeeze(out, 1), ops.squeeze(weights, 0)
        return out, weights

    if attn_mask is not None:
        attn_mask = ops.reshape(attn_mask, (bsz, num_heads, -1, src_len)) \
            if attn_mask.shape[0] != 1 else ops.unsqueeze(attn_mask, 0)
    q, k, v = (ops.reshape(t, (bsz, num_heads, t.shape[1], head_dim)) for t in (q, k, v))
    out = scaled_dot_product_attention(q, k, v, attn_mask, dropout_p)
    out = ops.reshape(ops.permute(out, 2, 0, 1, 3), (bsz * tgt_len, embed_dim))
    out = ops.reshape(linear(out, out_proj_weight, out_proj_bias), (tgt_len, bsz, -1))
    if not batched:
        out = ops.squeeze(out, 1)
    return out, None
