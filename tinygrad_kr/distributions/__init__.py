"""torch.distributions: probability distributions with PyTorch's API.

A distribution holds its parameters as Tensors, so ``log_prob``, ``entropy``
and ``kl_divergence`` are ordinary differentiable expressions of them, and
``rsample`` draws reparameterized samples (noise from the engine's
generator, transformed by the parameters) through which gradients flow:
the pathwise estimator of a VAE.  ``sample`` draws outside the graph (for
REINFORCE, differentiate ``log_prob`` of the sample instead).  Noise comes
from ``tinygrad_kr.random`` (``manual_seed`` makes draws reproducible) and
lands on the parameters' device, so the same code runs on CuPy arrays.
"""
from . import constraints
from .bernoulli import Bernoulli
from .beta import Beta
from .binomial import Binomial
from .categorical import Categorical
from .dirichlet import Dirichlet
from .distribution import Distribution
from .exp_family import ExponentialFamily
from .exponential import Exponential
from .gamma import Gamma
from .independent import Independent
from .kl import kl_divergence, register_kl
from .laplace import Laplace
from .multivariate_normal import MultivariateNormal
from .normal import Normal
from .one_hot_categorical import OneHotCategorical, OneHotCategoricalStraightThrough
from .poisson import Poisson
from .uniform import Uniform

__all__ = ["Bernoulli", "Beta", "Binomial", "Categorical", "Dirichlet", "Distribution",
           "ExponentialFamily", "Exponential", "Gamma", "Independent", "Laplace",
           "MultivariateNormal", "Normal", "OneHotCategorical", "OneHotCategoricalStraightThrough",
           "Poisson", "Uniform", "constraints", "kl_divergence", "register_kl"]
