"""nn.utils: gradient clipping, weight penalties, parameter <-> vector; the
submodules rnn (packed sequences), parametrize and parametrizations, prune; the
old-style weight_norm and spectral_norm hooks."""
from .clip_grad import clip_grad_norm_, clip_grad_value_
from .convert_parameters import parameters_to_vector, vector_to_parameters
from .penalty import elastic_net_penalty, l1_penalty, l2_penalty
from . import parametrizations, parametrize, prune, rnn
from .spectral_norm import remove_spectral_norm, spectral_norm
from .weight_norm import remove_weight_norm, weight_norm

__all__ = ["clip_grad_norm_", "clip_grad_value_", "parameters_to_vector", "vector_to_parameters",
           "l1_penalty", "l2_penalty", "elastic_net_penalty", "rnn", "parametrize", "prune",
           "parametrizations", "weight_norm", "remove_weight_norm", "spectral_norm",
           "remove_spectral_norm"]
