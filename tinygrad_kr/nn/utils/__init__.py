"""nn.utils: gradient clipping, weight penalties, parameter <-> vector."""
from .clip_grad import clip_grad_norm_, clip_grad_value_
from .convert_parameters import parameters_to_vector, vector_to_parameters
from .penalty import elastic_net_penalty, l1_penalty, l2_penalty

__all__ = ["clip_grad_norm_", "clip_grad_value_", "parameters_to_vector", "vector_to_parameters",
           "l1_penalty", "l2_penalty", "elastic_net_penalty"]
