"""pdist (torch.pdist, F.pdist): the p-norm distance between every pair of rows.

The differences x[i] - x[j] (i < j, row-major pair order) come from two
recorded gathers, which also add each pair's gradient back into its two rows;
the norm of each difference is one Function, ``PairNorm``, whose backward is
ATen's _pdist_backward formula (DistanceOpsKernel.cpp) for each p, including
its choices where the norm is not differentiable:

  * a pair at distance 0 gets gradient 0 (p > 0, p != 1, p != inf);
  * p < 1: a coordinate with difference 0 gets 0;
  * p = 1: g * sign(d) (0 where d = 0);
  * p = inf: g * sign(d) on every coordinate whose |d| equals the distance
    (each of tied coordinates gets the whole of it, as in PyTorch);
  * p = 0 (the count of nonzero differences): gradient 0.

The backward is written in the NumPy subset with masks chosen on the values,
so it runs recorded under create_graph: the gradient is differentiable again
(PyTorch's ``_pdist_backward`` is not), with safe denominators so that no
masked-out branch puts a NaN into the second derivative.
"""
import math

import numpy as np

from ..autograd.function import Function
from ..backend import get_array_module
from ..tensor import Tensor

__all__ = ["pdist"]


def _array(x):
    return x.array if isinstance(x, Tensor) else x


class PairNorm(Function):
    """||d_k||_p over the last axis of d (P, M) -> (P,); p >= 0 (inf allowed)."""

    def forward(self, d, *, p):
        xp = get_array_module(d)
        a = xp.abs(d)
        if p == 0:
            dist = xp.minimum(xp.ceil(a), 1).sum(axis=-1)
        elif p == 1:
            dist = a.sum(axis=-1)
        elif p == 2:
            dist = xp.sqrt((a * a).sum(axis=-1))
        elif math.isinf(p):
            dist = a.max(axis=-1, initial=0)
        else:
            dist = (a ** p).sum(axis=-1) ** (1.0 / p)
        dist = dist.astype(d.dtype, copy=False)
        self.p = p
        if p != 0:
            self.save_for_backward(d, dist)
        return dist

    def backward(self, xp, gy):
        p = self.p
        if p == 0:
            zeros = get_array_module(_array(gy)).zeros(self.input_meta[0][0], self.input_meta[0][1])
            return Tensor(zeros) if self._graph_mode else zeros
        d, dist = self.saved_tensors
        d_arr, dist_arr = _array(d), _array(dist)
        axp = get_array_module(d_arr)
        g = xp.reshape(gy, (-1, 1))
        sign = xp.sign(d)
        if p == 1:
            return g * sign
        dist_col = xp.reshape(dist, (-1, 1))
        if math.isinf(p):
            top = axp.abs(d_arr) == dist_arr.reshape(-1, 1)
            return g * sign * top.astype(d_arr.dtype)
        at_zero = (dist_arr == 0).reshape(-1, 1)
        safe_dist = xp.where(at_zero, 1, dist_col)
        if p == 2:
            return xp.where(at_zero, 0, g * d / safe_dist)
        # |d|, with 1 where d = 0: the power's derivative there would be inf
        nonzero = d_arr != 0
        safe_abs = xp.where(nonzero, d * sign, 1)
        if p < 2:
            gd = sign * safe_abs ** (p - 1) * g / safe_dist ** (p - 1)
            if p < 1:
                gd = xp.where(nonzero, gd, 0)
        else:
            gd = d * safe_abs ** (p - 2) * g / safe_dist ** (p - 1)
        return xp.where(at_zero, 0, gd)


def pdist(input, p=2):
    """(N * (N - 1) / 2,) p-norm distances between the rows of ``input``
    (N, M), pairs (0, 1), (0, 2), ..., (1, 2), ...; p >= 0, inf allowed."""
    if input.ndim != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input.ndim}D")
    if input.array.dtype.kind != "f":
        raise RuntimeError("pdist only supports floating-point dtypes")
    if p < 0:
        raise RuntimeError("pdist only supports non-negative p values")
    xp = get_array_module(input.array)
    i, j = np.triu_indices(input.shape[0], 1)
    d = input[xp.asarray(i)] - input[xp.asarray(j)]
    return PairNorm.apply(d, p=float(p))
