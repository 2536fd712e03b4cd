"""Muon (K. Jordan, 2024: "MomentUm Orthogonalized by Newton-schulz"), as torch.optim.Muon.

For 2-D parameters only (the weight matrices of hidden layers; biases and
embeddings belong to another optimizer).  The momentum (or its Nesterov
look-ahead) is orthogonalized by a few quintic Newton-Schulz iterations
before it is applied.

PyTorch runs those iterations in bfloat16.  NumPy has no bfloat16, so they
run in float32 here and every result PyTorch would hold as bfloat16 is rounded
to bfloat16's 8-bit mantissa (round to nearest even, ``_round_bf16``) where
PyTorch rounds it: after the conversion, the norm, the division, and each
matrix product (whose sum PyTorch accumulates in float32, the scaled sum of
``addmm`` included).  The update therefore holds the same bfloat16 values
as PyTorch's.  No compiled kernel: the reference loop, PyTorch's
``_single_tensor_muon`` line for line.
"""
import math

import numpy as np

from ..backend import get_array_module
from ..kernels.ref_optim import _lerp_
from ..tensor import Tensor
from .optimizer import Optimizer, _datas, _full_like, _grads

__all__ = ["Muon"]

EPS = 1e-7
DEFAULT_A = 3.4445
DEFAULT_B = -4.7750
DEFAULT_C = 2.0315
DEFAULT_NS_STEPS = 5


class Muon(Optimizer):
    """B = lerp(B, g, 1 - momentum) (B = momentum * B + (1 - momentum) g);
    O = NS(lerp(g, B, momentum) if nesterov else B), the Newton-Schulz
    orthogonalization; p *= 1 - lr * weight_decay; p -= lr' * O with
    lr' = lr * sqrt(max(1, rows / cols)) (``adjust_lr_fn`` None/"original")
    or lr * 0.2 * sqrt(max(rows, cols)) ("match_rms_adamw", which lets AdamW's
    lr and weight decay carry over).

    State per parameter: ``momentum_buffer``.
    """

    def __init__(self, params, lr=1e-3, weight_decay=0.1, momentum=0.95, nesterov=True,
                 ns_coefficients=(DEFAULT_A, DEFAULT_B, DEFAULT_C), eps=EPS,
                 ns_steps=DEFAULT_NS_STEPS, adjust_lr_fn=None):
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
        if not 0.0 <= momentum:
            raise ValueError(f"momentum should be >= 0 but is: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight decay should be >= 0 but is: {weight_decay}")
        if adjust_lr_fn is not None and adjust_lr_fn not in ["original", "match_rms_adamw"]:
            raise ValueError(f"Adjust learning rate function {adjust_lr_fn} is not supported")
        defaults = dict(lr=lr, weight_decay=weight_decay, momentum=momentum, nesterov=nesterov,
                        ns_coefficients=ns_coefficients, eps=eps, ns_steps=ns_steps,
                        adjust_lr_fn=adjust_lr_fn)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                if p.ndim != 2:
                    raise ValueError(f"Muon only supports 2D parameters whereas we found a "
                                     f"parameter with size: {p.size()}")

    def _update(self, group, params):
        for p in params:
            if "momentum_buffer" not in self.state[p]:
                self.state[p]["momentum_buffer"] = _full_like(p.grad, 0)
        muon_update(_datas(params), _grads(params),
                    [self.state[p]["momentum_buffer"].array for p in params],
                    lr=float(group["lr"]), weight_decay=group["weight_decay"],
                    momentum=group["momentum"], nesterov=group["nesterov"],
                    ns_coefficients=group["ns_coefficients"], ns_steps=group["ns_steps"],
                    eps=group["eps"], adjust_lr_fn=group["adjust_lr_fn"])


def _round_bf16(a):
    """float32 array ``a`` rounded to the nearest bfloat16 (ties to even), as float32."""
    xp = get_array_module(a)
    bits = xp.ascontiguousarray(a, dtype=xp.float32).view(xp.uint32)
    # adding 0x7FFF plus the lowest kept bit carries into the kept bits exactly
    # when the dropped half is above (or, at a tie, equal to with an odd kept part) half
    rounded = (bits + (((bits >> 16) & 1) + xp.uint32(0x7FFF))) & xp.uint32(0xFFFF0000)
    return rounded.view(xp.float32)


def _zeropower_via_newtonschulz(grad, ns_coefficients, ns_steps, eps):
    """Approximately U V^T of grad = U S V^T (singular values pushed to about
    0.5..1.5, which works as well), by ``ns_steps`` quintic iterations
    X <- a X + (b A + c A^2) X, A = X X^T, on the wider orientation of grad
    normalized to Frobenius norm 1.  bfloat16 values in a float32 array."""
    if ns_steps >= 100:
        raise ValueError("Number of steps must be less than 100 for computational efficiency")
    if len(grad.shape) != 2:
        raise ValueError("Input tensor gradient must be a 2D matrix")
    if len(ns_coefficients) != 3:
        raise ValueError("Coefficients must be a tuple of exactly 3 values")
    xp = get_array_module(grad)
    a, b, c = (np.float32(k) for k in ns_coefficients)
    # float64 goes to bfloat16 through float32, as PyTorch's conversion does
    x = _round_bf16(grad.astype(xp.float32))
    if grad.shape[0] > grad.shape[1]:
        x = x.T
    norm = _round_bf16(xp.sqrt(xp.sum(x * x, dtype=xp.float32)))
    x = _round_bf16(x / xp.maximum(norm, _round_bf16(xp.asarray(eps, xp.float32))))
    for _ in range(ns_steps):
        gram = _round_bf16(x @ x.T)
        gram_update = _round_bf16(b * gram + c * (gram @ gram))     # addmm(A, A, A, beta=b, alpha=c)
        x = _round_bf16(a * x + gram_update @ x)                    # addmm(X, B, X, beta=a)
    if grad.shape[0] > grad.shape[1]:
        x = x.T
    return x


def _adjust_lr(lr, adjust_lr_fn, param_shape):
    """lr scaled so that updates of rectangular matrices have a comparable RMS."""
    rows, cols = param_shape[:2]
    if adjust_lr_fn is None or adjust_lr_fn == "original":
        adjusted_ratio = math.sqrt(max(1, rows / cols))
    elif adjust_lr_fn == "match_rms_adamw":
        adjusted_ratio = 0.2 * math.sqrt(max(rows, cols))
    else:
        adjusted_ratio = 1.0
    return lr * adjusted_ratio


def muon_update(params, grads, momentum_bufs, lr, weight_decay, momentum, nesterov,
                ns_coefficients, ns_steps, eps, adjust_lr_fn):
    """The reference loop, in place.  params, momentum_bufs (IN/OUT), grads (IN): 2-D arrays."""
    for i, p in enumerate(params):
        g = grads[i]
        if g.ndim != 2:
            raise ValueError("Param gradient must be a 2D matrix")
        buf = momentum_bufs[i]
        _lerp_(buf, g, 1 - momentum)
        if nesterov:
            update = g.copy()
            _lerp_(update, buf, momentum)
        else:
            update = buf
        update = _zeropower_via_newtonschulz(update, ns_coefficients, ns_steps, eps)
        adjusted_lr = _adjust_lr(lr, adjust_lr_fn, p.shape)
        p *= 1 - lr * weight_decay
        p += -adjusted_lr * update.astype(p.dtype)      # bfloat16 values: exact in p's dtype
