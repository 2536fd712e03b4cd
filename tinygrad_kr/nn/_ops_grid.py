"""affine_grid and grid_sample (PyTorch's spatial-transformer pair), 4-D.

Both are written with the core differentiable ops (matmul, gather, where,
arithmetic), so their gradients, with respect to the input and to the grid
or theta, and their second derivatives come from those ops: no kernel, no
derivative written here.  The corner indices of a bilinear sample (floors)
are constants, as in PyTorch, whose gradient flows through the weights.

Coordinates follow PyTorch's grid_sampler: a grid value in [-1, 1] maps to
(v + 1) (size - 1) / 2 with align_corners, else (v + 1) size / 2 - 1/2
(pixel centres); padding 'zeros' (corners outside count 0), 'border'
(coordinates clipped to the image) or 'reflection' (reflected at the border
pixels' centres, or edges without align_corners, then clipped).
"""
import warnings

import numpy as np

from .. import ops
from ..backend import get_array_module
from ..tensor import Tensor

__all__ = ["affine_grid", "grid_sample"]

_ALIGN_WARNING = ("Default grid_sample and affine_grid behavior has changed to "
                  "align_corners=False since 1.3.0. Please specify align_corners=True if the old "
                  "behavior is desired. See the documentation of grid_sample for details.")


def _align(align_corners):
    if align_corners is None:
        warnings.warn(_ALIGN_WARNING, UserWarning, stacklevel=3)
        return False
    return bool(align_corners)


def _steps(n, align_corners, dtype, xp):
    """PyTorch's linspace_from_neg_one: n points in [-1, 1], pulled in to the
    pixel centres (times (n - 1) / n) without align_corners; [0] for n = 1."""
    if n <= 1:
        return xp.zeros(n, dtype=dtype)
    r = xp.linspace(-1, 1, n).astype(dtype)
    return r if align_corners else r * dtype.type((n - 1) / n)


def affine_grid(theta, size, align_corners=None):
    """The sampling grid (N, H, W, 2) of affine matrices theta (N, 2, 3) for an
    output of ``size`` (N, C, H, W): grid[n, h, w] = theta[n] @ (x_w, y_h, 1)."""
    align_corners = _align(align_corners)
    if not isinstance(theta, Tensor) or theta.dtype not in (np.float32, np.float64):
        raise ValueError(f"Expected theta to have floating point type, but got "
                         f"{getattr(theta, 'dtype', type(theta).__name__)}")
    size = tuple(int(s) for s in size)
    if len(size) == 5:
        raise NotImplementedError("affine_grid: volumetric (5-D) grids are not supported by "
                                  "tinygrad_kr")
    if len(size) != 4:
        raise NotImplementedError(f"affine_grid only supports 4D and 5D sizes, for 2D and 3D "
                                  f"affine transforms, respectively. Got size {list(size)}.")
    N, _, H, W = size
    if tuple(theta.shape) != (N, 2, 3):
        raise ValueError(f"Expected a batch of 2D affine matrices of shape Nx2x3 for size "
                         f"{list(size)}. Got {list(theta.shape)}.")
    if min(size) <= 0:
        raise ValueError(f"Expected non-zero, positive output size. Got {list(size)}")
    xp, dtype = get_array_module(theta.array), theta.array.dtype
    base = xp.empty((H, W, 3), dtype=dtype)
    base[..., 0] = _steps(W, align_corners, dtype, xp)[None, :]
    base[..., 1] = _steps(H, align_corners, dtype, xp)[:, None]
    base[..., 2] = 1
    grid = ops.matmul(Tensor(base.reshape(1, H * W, 3)), ops.transpose(theta, 1, 2))
    return grid.reshape(N, H, W, 2)


def _source(coord, size, align_corners, padding_mode):
    """Grid values (a Tensor) as pixel coordinates of an axis of ``size`` pixels."""
    # as PyTorch's vectorised CPU kernel writes it (the same map, its rounding)
    if align_corners:
        x = (coord + 1) * ((size - 1) / 2)
    else:
        x = (coord + 1) * (size / 2) - 0.5
    if padding_mode == "border":
        x = ops.clamp(x, 0, size - 1)
    elif padding_mode == "reflection":
        x = ops.clamp(_reflect(x, 0 if align_corners else -1,
                               2 * (size - 1) if align_corners else 2 * size - 1), 0, size - 1)
    return x


def _reflect(x, twice_low, twice_high):
    """PyTorch's reflect_coordinates: x mirrored into [low, high] by its borders."""
    if twice_low == twice_high:
        return x * 0
    low, span = twice_low / 2, (twice_high - twice_low) / 2
    d = ops.abs(x - low)
    flips = get_array_module(d.array).floor(d.array / span)    # whole spans travelled: constants
    extra = d - Tensor((flips * span).astype(d.array.dtype))
    even = Tensor(flips % 2 == 0)
    return ops.where(even, extra + low, span - extra + low)


def _corner(flat, ix, iy, H, W):
    """flat (N, C, H*W) at integer pixels (ix, iy) (arrays (N, P)); 0 outside."""
    xp = get_array_module(flat.array)
    inside = (ix >= 0) & (ix < W) & (iy >= 0) & (iy < H)
    index = xp.where(inside, iy * W + ix, 0).astype(np.int64)
    N, C = flat.shape[:2]
    index = xp.broadcast_to(index[:, None, :], (N, C) + index.shape[1:])
    values = ops.gather(flat, 2, Tensor(index))
    return ops.where(Tensor(xp.broadcast_to(inside[:, None, :], values.shape)), values, 0.0)


def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=None):
    """input (N, C, H, W) sampled at grid (N, Ho, Wo, 2) positions in [-1, 1]
    (x, then y): (N, C, Ho, Wo); mode 'bilinear' or 'nearest'."""
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise ValueError(f"nn.functional.grid_sample(): expected mode to be 'bilinear', "
                         f"'nearest' or 'bicubic', but got: '{mode}'")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(f"nn.functional.grid_sample(): expected padding_mode to be 'zeros', "
                         f"'border', or 'reflection', but got: '{padding_mode}'")
    align_corners = _align(align_corners)
    if mode == "bicubic":
        raise NotImplementedError("grid_sample: mode 'bicubic' is not supported by tinygrad_kr")
    if input.ndim == 5:
        raise NotImplementedError("grid_sample: volumetric (5-D) input is not supported by "
                                  "tinygrad_kr")
    if input.ndim != 4 or grid.ndim != 4:
        raise RuntimeError(f"grid_sampler(): expected 4D or 5D input and grid with same number "
                           f"of dimensions, but got input with sizes {list(input.shape)} and "
                           f"grid with sizes {list(grid.shape)}")
    if input.shape[0] != grid.shape[0]:
        raise RuntimeError(f"grid_sampler(): expected grid and input to have same batch size, "
                           f"but got input with sizes {list(input.shape)} and grid with sizes "
                           f"{list(grid.shape)}")
    if grid.shape[-1] != 2:
        raise RuntimeError(f"grid_sampler(): expected grid to have size 2 in last dimension, "
                           f"but got grid with sizes {list(grid.shape)}")
    if input.dtype != grid.dtype or input.dtype not in (np.float32, np.float64):
        raise RuntimeError(f"grid_sampler(): expected input and grid to have the same float "
                           f"dtype, but input has {input.dtype} and grid has {grid.dtype}")
    if 0 in tuple(input.shape[2:]):
        raise RuntimeError(f"grid_sampler(): expected input to have non-empty spatial "
                           f"dimensions, but input has sizes {list(input.shape)}")
    N, C, H, W = input.shape
    _, Ho, Wo, _ = grid.shape
    points = grid.reshape(N, Ho * Wo, 2)
    ix = _source(points[..., 0], W, align_corners, padding_mode)       # (N, P)
    iy = _source(points[..., 1], H, align_corners, padding_mode)
    flat = input.reshape(N, C, H * W)
    xp = get_array_module(input.array)
    if mode == "nearest":      # round half to even, as nearbyint
        out = _corner(flat, xp.rint(ix.array).astype(np.int64),
                      xp.rint(iy.array).astype(np.int64), H, W)
        # PyTorch gives the grid a gradient of zeros here (not None: weight decay
        # and hooks see it): a where() that never picks the grid's branch does that
        never = Tensor(xp.zeros((1, 1, 1), dtype=bool))
        out = ops.where(never, (ix + iy).reshape(N, 1, Ho * Wo), out)
        return out.reshape(N, C, Ho, Wo)
    x0, y0 = xp.floor(ix.array), xp.floor(iy.array)
    east, south = ix - Tensor(x0), iy - Tensor(y0)       # the weights' fractions
    west, north = 1 - east, 1 - south
    x0, y0 = x0.astype(np.int64), y0.astype(np.int64)
    out = None
    # PyTorch's order: north-west, north-east, south-west, south-east
    for dx, dy, wx, wy in ((0, 0, west, north), (1, 0, east, north), (0, 1, west, south),
                           (1, 1, east, south)):
        term = _corner(flat, x0 + dx, y0 + dy, H, W) * (wx * wy).reshape(N, 1, Ho * Wo)
        out = term if out is None else out + term
    return out.reshape(N, C, Ho, Wo)
