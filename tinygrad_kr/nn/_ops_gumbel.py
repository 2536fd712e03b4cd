"""gumbel_softmax (PyTorch's F.gumbel_softmax): a differentiable sample from a
categorical distribution, written as PyTorch's torch/nn/functional.py
writes it, from core ops (no Function of its own):

  y_soft = softmax((logits + g) / tau) with Gumbel(0, 1) noise g = -log(e),
  e ~ Exponential(1) drawn from the engine's default generator (seeded by
  manual_seed; the numbers are not PyTorch's);

``hard`` returns the one-hot of y_soft's argmax in the forward pass and
y_soft's gradient in the backward pass (straight-through:
y_hard - y_soft.detach() + y_soft).
"""
import warnings

from .. import ops
from ..factories import empty_like, zeros_like

__all__ = ["gumbel_softmax"]


def gumbel_softmax(logits, tau=1, hard=False, eps=1e-10, dim=-1):
    """Samples from the Gumbel-softmax distribution over ``dim`` of
    ``logits`` (unnormalised log-probabilities), at temperature ``tau``;
    one-hot (straight-through) with ``hard``."""
    if eps != 1e-10:
        warnings.warn("`eps` parameter is deprecated and has no effect.", stacklevel=2)
    gumbels = -ops.log(empty_like(logits).exponential_())        # ~ Gumbel(0, 1)
    gumbels = (logits + gumbels) / tau                            # ~ Gumbel(logits, tau)
    y_soft = ops.softmax(gumbels, dim)
    if not hard:
        return y_soft                                             # reparametrisation trick
    index = ops.argmax(y_soft, dim, keepdim=True)
    y_hard = zeros_like(logits).scatter_(dim, index, 1.0)
    return y_hard - y_soft.detach() + y_soft
