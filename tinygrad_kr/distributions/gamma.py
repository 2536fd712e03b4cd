import numpy as np

from ..ops import log
from ..ops_math import digamma, lgamma, xlogy
from ..tensor import Size, Tensor, _like_device
from . import constraints
from ._gamma import gammainc, standard_gamma_inverse_cdf
from .exp_family import ExponentialFamily
from .utils import _rand, broadcast_all

__all__ = ["Gamma"]


def _standard_gamma(concentration):
    """A reparameterized Gamma(concentration, 1) draw of concentration's
    shape (see _gamma.py: inverse-CDF sampling, PyTorch's implicit gradient)."""
    return standard_gamma_inverse_cdf(concentration, _rand(concentration.shape, concentration))


class Gamma(ExponentialFamily):
    """Gamma with shape ``concentration`` and ``rate`` (1 / scale)."""
    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    support = constraints.nonnegative
    has_rsample = True
    _mean_carrier_measure = 0

    def __init__(self, concentration, rate, validate_args=None):
        self.concentration, self.rate = broadcast_all(concentration, rate)
        scalars = isinstance(concentration, (int, float)) and isinstance(rate, (int, float))
        super().__init__(Size() if scalars else self.concentration.size(),
                         validate_args=validate_args)

    def expand(self, batch_shape, _instance=None):
        new = self._get_checked_instance(Gamma, _instance)
        new.concentration = self.concentration.expand(batch_shape)
        new.rate = self.rate.expand(batch_shape)
        return self._expanded(new, batch_shape)

    @property
    def mean(self):
        return self.concentration / self.rate

    @property
    def mode(self):
        return ((self.concentration - 1) / self.rate).clamp(min=0)

    @property
    def variance(self):
        return self.concentration / self.rate.pow(2)

    def rsample(self, sample_shape=Size()):
        shape = self._extended_shape(sample_shape)
        return _standard_gamma(self.concentration.expand(shape)) / self.rate.expand(shape)

    def log_prob(self, value):
        if not isinstance(value, Tensor):
            value = Tensor(_like_device(np.asarray(value), self.rate.array))
        if self._validate_args:
            self._validate_sample(value)
        return (xlogy(self.concentration, self.rate) + xlogy(self.concentration - 1, value)
                - self.rate * value - lgamma(self.concentration))

    def cdf(self, value):
        if self._validate_args:
            self._validate_sample(value)
        return gammainc(*broadcast_all(self.concentration, self.rate * value))

    def entropy(self):
        return (self.concentration - log(self.rate) + lgamma(self.concentration)
                + (1.0 - self.concentration) * digamma(self.concentration))

    @property
    def _natural_params(self):
        return self.concentration - 1, -self.rate

    def _log_normalizer(self, x, y):
        return lgamma(x + 1) + (x + 1) * log(-y.reciprocal())
