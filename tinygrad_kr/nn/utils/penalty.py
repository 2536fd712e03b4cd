"""Weight penalties for regularisation, as course code writes them:

    loss = criterion(out, y) + lam * l2_penalty(model.parameters())

Each returns a differentiable scalar Tensor.  They include every tensor
given; to leave biases out pass e.g.
``[p for n, p in model.named_parameters() if n.endswith("weight")]``.
"""
from ...tensor import Tensor
from ..modules.module import Module

__all__ = ["l1_penalty", "l2_penalty", "elastic_net_penalty"]


def _tensors(params):
    if isinstance(params, Module):
        params = params.parameters()
    elif isinstance(params, Tensor):
        params = [params]
    params = list(params)
    if not params:
        raise ValueError("no parameters given to the penalty (an exhausted generator? "
                         "call model.parameters() again)")
    return params


def _total(terms):
    total = None
    for t in terms:
        total = t if total is None else total + t
    return total


def l1_penalty(params):
    """sum_i sum |w_i| (the lasso penalty)."""
    return _total(p.abs().sum() for p in _tensors(params))


def l2_penalty(params):
    """sum_i sum w_i^2 (the squared L2 norm; weight decay adds lam * w to the gradient
    for lam / 2 * l2_penalty)."""
    return _total((p * p).sum() for p in _tensors(params))


def elastic_net_penalty(params, l1_ratio=0.5):
    """l1_ratio * l1_penalty + (1 - l1_ratio) * l2_penalty."""
    if not 0.0 <= l1_ratio <= 1.0:
        raise ValueError(f"l1_ratio must be in [0, 1], got {l1_ratio}")
    params = _tensors(params)
    return l1_ratio * l1_penalty(params) + (1 - l1_ratio) * l2_penalty(params)
