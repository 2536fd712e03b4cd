"""torchvision.utils' make_grid and save_image.

    save_image(fake_images, "samples.png", nrow=8, normalize=True)

make_grid is built from differentiable tensor ops (pad, reshape, permute),
not by copying images into a canvas one by one: the whole grid is one
rearrangement of the padded batch, and a gradient flows back through it as
through torchvision's copies.
"""
import math
import os

import numpy as np

from ..tensor import Tensor

__all__ = ["make_grid", "save_image"]


def _as_batch(tensor):
    """tensor, or a list of tensors, as an (N, C, H, W) batch with 3 channels for 1."""
    from .. import cat, stack
    if isinstance(tensor, list):
        for t in tensor:
            if not isinstance(t, Tensor):
                raise TypeError(f"tensor or list of tensors expected, got a list containing "
                                f"{type(t)}")
        tensor = stack(tensor, dim=0)
    elif not isinstance(tensor, Tensor):
        raise TypeError(f"tensor or list of tensors expected, got {type(tensor)}")
    if tensor.ndim == 2:               # one image, H x W
        tensor = tensor.unsqueeze(0)
    if tensor.ndim == 3:               # one image, C x H x W
        if tensor.shape[0] == 1:
            tensor = cat((tensor, tensor, tensor), 0)
        tensor = tensor.unsqueeze(0)
    if tensor.ndim == 4 and tensor.shape[1] == 1:  # single-channel images
        tensor = cat((tensor, tensor, tensor), 1)
    if tensor.ndim != 4:
        raise ValueError(f"make_grid expects images (H, W), (C, H, W) or (N, C, H, W), got "
                         f"shape {tuple(tensor.shape)}")
    return tensor


def _normalized(t, value_range):
    """t clamped to value_range (default: its own min and max) and scaled to [0, 1]."""
    low, high = value_range if value_range is not None else (float(t.min()), float(t.max()))
    return (t.clamp(min=low, max=high) - low) / max(high - low, 1e-5)


def make_grid(tensor, nrow=8, padding=2, normalize=False, value_range=None, scale_each=False,
              pad_value=0.0):
    """The images of a batch tiled ``nrow`` per row, ``padding`` pixels apart, as one (C, H, W) image."""
    from .. import cat, full, stack
    from ..nn.functional import pad
    tensor = _as_batch(tensor)
    if normalize is True:
        if value_range is not None and not isinstance(value_range, tuple):
            raise TypeError("value_range has to be a tuple (min, max) if specified. min and max "
                            "are numbers")
        if scale_each is True:
            tensor = stack([_normalized(t, value_range) for t in tensor], 0)
        else:
            tensor = _normalized(tensor, value_range)
    if tensor.shape[0] == 1:
        return tensor.squeeze(0)
    n, channels, h, w = tensor.shape
    cols = min(nrow, n)
    rows = int(math.ceil(n / cols))
    # each cell is an image with `padding` pad_value pixels above and to its left;
    # the grid is those cells, rows x cols, then padding below and to the right
    cells = pad(tensor, (padding, 0, padding, 0), value=pad_value)
    if rows * cols > n:
        blank = full((rows * cols - n,) + tuple(cells.shape[1:]), pad_value, dtype=tensor.dtype,
                     device=tensor.device)
        cells = cat((cells, blank), 0)
    hp, wp = h + padding, w + padding
    grid = cells.reshape(rows, cols, channels, hp, wp).permute(2, 0, 3, 1, 4)
    grid = grid.reshape(channels, rows * hp, cols * wp)
    return pad(grid, (0, padding, 0, padding), value=pad_value)


def save_image(tensor, fp, format=None, **kwargs):
    """Save a batch as one image file (make_grid's grid; values in [0, 1] map to 0..255).

    Written with Pillow (installed with matplotlib: ``pip install
    "tinygrad_kr[experiments]"``), which picks the format from the file name
    unless ``format`` names it.
    """
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("save_image writes image files with Pillow, which is not installed: "
                          "pip install pillow (or \"tinygrad_kr[experiments]\", whose "
                          "matplotlib brings it)") from None
    grid = make_grid(tensor, **kwargs).detach()
    data = grid.array if grid.array.__class__ is np.ndarray else grid.array.get()
    # torchvision's rounding: x * 255 + 0.5, clamped, truncated to uint8
    pixels = np.clip(data * 255 + 0.5, 0, 255).astype(np.uint8).transpose(1, 2, 0)
    if pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    if isinstance(fp, (str, os.PathLike)) and format is None and not os.path.splitext(fp)[1]:
        raise ValueError(f"save_image: cannot tell the image format from {os.fspath(fp)!r}: "
                         f"give the file an extension (.png, .jpg) or pass format=")
    Image.fromarray(pixels).save(fp, format=format)
