"""ExponentialFamily: distributions with density exp(<t(x), theta> - F(theta) + k(x)).

Given the natural parameters theta and the log normalizer F, the entropy
and the KL divergence between two members of one family follow from
derivatives of F (Bregman divergence), taken here with autograd: a
subclass writes F once and gets both."""
from ..autograd.function import grad
from .distribution import Distribution
from .utils import _sum_rightmost

__all__ = ["ExponentialFamily"]


class ExponentialFamily(Distribution):
    @property
    def _natural_params(self):
        """The natural parameters, a tuple of Tensors."""
        raise NotImplementedError

    def _log_normalizer(self, *natural_params):
        """F(theta)."""
        raise NotImplementedError

    @property
    def _mean_carrier_measure(self):
        """E[k(x)]."""
        raise NotImplementedError

    def entropy(self):
        """H = F(theta) - <theta, grad F(theta)> - E[k(x)]."""
        result = -self._mean_carrier_measure
        nparams = [p.detach().requires_grad_() for p in self._natural_params]
        lg_normal = self._log_normalizer(*nparams)
        gradients = grad(lg_normal.sum(), nparams, create_graph=True)
        result = result + lg_normal
        for p, g in zip(nparams, gradients):
            result = result - _sum_rightmost(p * g, len(self.event_shape))
        return result
