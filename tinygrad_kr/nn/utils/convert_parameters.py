"""parameters_to_vector / vector_to_parameters (flatten all weights into one vector)."""
from ... import ops
from ...autograd.grad_mode import no_grad

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def parameters_to_vector(parameters):
    """One 1-D tensor: the parameters flattened and concatenated (differentiable)."""
    return ops.cat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec, parameters):
    """Copy consecutive slices of ``vec`` into the parameters (in place, no graph)."""
    if vec.ndim != 1:
        raise TypeError(f"expected a 1-D vector, got a tensor of shape {tuple(vec.shape)}")
    parameters = list(parameters)
    total = sum(p.numel() for p in parameters)
    if vec.numel() != total:
        raise ValueError(f"vector has {vec.numel()} elements but the parameters have {total}")
    offset = 0
    with no_grad():
        for p in parameters:
            n = p.numel()
            p.copy_(vec.array[offset:offset + n].reshape(p.shape))
            offset += n
