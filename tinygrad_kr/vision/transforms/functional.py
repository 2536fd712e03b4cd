"""Functional forms of the transforms, as ``torchvision.transforms.functional``.

    import tinygrad_kr.vision.transforms.functional as TF
    i, j, h, w = transforms.RandomCrop.get_params(image, output_size=(64, 64))
    image, mask = TF.crop(image, i, j, h, w), TF.crop(mask, i, j, h, w)

Each function takes one image or a batch in any layout the transforms accept
(a Tensor, a numpy array or a PIL image; see the package docstring) and
returns the same layout and type; a batch gets the same parameters for every
image. Arguments are checked with torchvision's messages. PIL-like input is
computed with torchvision's tensor arithmetic (a uint8 tensor's), so a value
may differ by one from what Pillow itself would give.
"""
import numbers
import sys
from collections.abc import Sequence
from enum import Enum

import numpy as np

from ...dtypes import check_dtype, get_default_dtype
from ...tensor import Tensor
from . import _functional_array as F_a

__all__ = ["InterpolationMode", "get_dimensions", "get_image_size", "get_image_num_channels",
           "to_tensor", "pil_to_tensor", "convert_image_dtype", "to_pil_image", "normalize",
           "resize", "pad", "crop", "center_crop", "resized_crop", "hflip", "vflip",
           "perspective", "five_crop", "ten_crop", "adjust_brightness", "adjust_contrast",
           "adjust_saturation", "adjust_hue", "adjust_gamma", "adjust_sharpness", "rotate",
           "affine", "to_grayscale", "rgb_to_grayscale", "erase", "gaussian_blur", "invert",
           "posterize", "solarize", "autocontrast", "equalize"]


class InterpolationMode(Enum):
    NEAREST = "nearest"
    NEAREST_EXACT = "nearest-exact"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"
    BOX = "box"
    HAMMING = "hamming"
    LANCZOS = "lanczos"


# Pillow's integer filter constants, which torchvision also accepts
_MODES_FROM_INT = {0: InterpolationMode.NEAREST, 2: InterpolationMode.BILINEAR,
                   3: InterpolationMode.BICUBIC, 4: InterpolationMode.BOX,
                   5: InterpolationMode.HAMMING, 1: InterpolationMode.LANCZOS}

_RESIZE_MODES = ("nearest", "nearest-exact", "bilinear", "bicubic")
_WARP_MODES = ("nearest", "bilinear")


def _interpolation(mode, supported):
    """The mode's string value, or ValueError if this operation cannot do it."""
    if isinstance(mode, int) and not isinstance(mode, bool):
        mode = _MODES_FROM_INT[mode]
    value = str(mode.value if isinstance(mode, Enum) else mode)
    if value not in supported:
        raise ValueError(f"Interpolation mode '{value}' is unsupported here; use one of "
                         f"{', '.join(supported)}")
    return value


def _apply(img, kernel):
    """kernel on img as an (N, C, H, W) array, the result in img's layout and type
    (img itself when the kernel returns its input unchanged, unless it is a PIL image)."""
    x, pack = F_a.unpack(img)
    y = kernel(x)
    return img if y is x and not F_a.is_pil_like(img) else pack(y)


def _channels_last(img):
    return F_a.is_pil_like(img) or (isinstance(img, np.ndarray) and img.dtype == np.uint8)


# -- sizes and conversions ---------------------------------------------------------

def get_dimensions(img):
    """[channels, height, width] of an image (of each image of a batch)."""
    return list(F_a.unpack(img)[0].shape[1:])


def get_image_size(img):
    """[width, height]."""
    _, h, w = get_dimensions(img)
    return [w, h]


def get_image_num_channels(img):
    return get_dimensions(img)[0]


def to_tensor(pic):
    """PIL-like (H, W[, C]) image -> tensor (C, H, W); uint8 is scaled to [0, 1] in the
    default float dtype, other dtypes keep their values. An (N, H, W, C) array is a batch."""
    if isinstance(pic, Tensor) or not (F_a.is_pil_like(pic) or isinstance(pic, np.ndarray)):
        raise TypeError(f"pic should be PIL Image or ndarray. Got {type(pic)}")
    arr = pic if isinstance(pic, np.ndarray) else F_a.pil_array(pic)
    if arr.ndim not in (2, 3, 4):
        raise ValueError(f"pic should be 2/3 dimensional (or a 4-D batch). Got {arr.ndim} "
                         f"dimensions.")
    if arr.ndim == 2:
        arr = arr[:, :, None]
    arr = np.ascontiguousarray(arr.transpose((2, 0, 1) if arr.ndim == 3 else (0, 3, 1, 2)))
    if arr.dtype == np.uint8:
        dtype = get_default_dtype()
        arr = arr.astype(dtype) / dtype.type(255)
    return Tensor(arr)


def pil_to_tensor(pic):
    """PIL-like (H, W[, C]) image -> tensor (C, H, W) of the same dtype, values unscaled."""
    if not (F_a.is_pil_like(pic) or (isinstance(pic, np.ndarray) and pic.dtype == np.uint8)):
        raise TypeError(f"pic should be PIL Image. Got {type(pic)}")
    x, _ = F_a.unpack(pic)
    return Tensor(np.ascontiguousarray(x[0] if F_a.image_ndim(pic) < 4 else x))


def convert_image_dtype(image, dtype=np.float32):
    """Convert a tensor image to ``dtype``, rescaling between integer and [0, 1] float ranges.

    Float to int32/int64 (and float64 to int64) raises RuntimeError as torchvision:
    those floats cannot hold every integer of the range.
    """
    dtype = check_dtype(dtype)
    if isinstance(image, Tensor):
        t = Tensor(F_a.convert_dtype(F_a.host(image.array), dtype))
        return t if image.array.__class__ is np.ndarray else t.to(image.device)
    if isinstance(image, np.ndarray) and np.uint8 not in (image.dtype, dtype):
        return F_a.convert_dtype(image, dtype)  # a tensor-layout array stays one
    raise TypeError("Input img should be Tensor Image")


_PIL_MODES_BY_DTYPE = {np.dtype(np.uint8): "L", np.dtype(np.int16): "I;16",
                       np.dtype(np.int32): "I", np.dtype(np.float32): "F"}


def to_pil_image(pic, mode=None):
    """A tensor (C, H, W) or a numpy array (H, W, C) as a PIL image (needs Pillow).

    Numpy input is (H, W, C) whatever its dtype, as torchvision's. Floats are
    scaled by 255 to uint8 unless mode is "F"; the mode is inferred as
    torchvision's (L, I;16, I, F for one channel, LA, RGB, RGBA).
    """
    if isinstance(pic, Tensor):
        pic = F_a.host(pic.array)
        if pic.ndim == 3:
            pic = pic.transpose(1, 2, 0)
    elif not isinstance(pic, np.ndarray):
        raise TypeError(f"pic should be Tensor or ndarray. Got {type(pic)}.")
    if pic.ndim == 2:
        pic = pic[:, :, None]
    if pic.ndim != 3:
        raise ValueError(f"pic should be 2/3 dimensional. Got {pic.ndim} dimensions.")
    if pic.shape[-1] > 4:
        raise ValueError(f"pic should not have > 4 channels. Got {pic.shape[-1]} channels.")
    npimg = pic
    if np.issubdtype(npimg.dtype, np.floating) and mode != "F":
        npimg = (npimg * 255).astype(np.uint8)
    if npimg.shape[2] == 1:
        npimg = npimg[:, :, 0]
        expected = _PIL_MODES_BY_DTYPE.get(npimg.dtype)
        if expected == "I;16" and sys.byteorder != "little":
            expected = "I;16B"
        if mode is not None and mode != expected:
            raise ValueError(f"Incorrect mode ({mode}) supplied for input type {np.dtype}. "
                             f"Should be {expected}")
        mode = expected
    else:
        permitted, default = {2: (["LA"], "LA"), 3: (["RGB", "YCbCr", "HSV"], "RGB"),
                              4: (["RGBA", "CMYK", "RGBX"], "RGBA")}[npimg.shape[2]]
        if mode is not None and mode not in permitted:
            raise ValueError(f"Only modes {permitted} are supported for "
                             f"{npimg.shape[2]}D inputs")
        if mode is None and npimg.dtype == np.uint8:
            mode = default
    if mode is None:
        raise TypeError(f"Input type {npimg.dtype} is not supported")
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("to_pil_image / ToPILImage need Pillow (pip install Pillow)") from None
    # frombytes reads the bytes in the given mode (as Image.fromarray(obj, mode) did
    # before Pillow 11.3): YCbCr, HSV, CMYK, RGBX keep their raw values
    h, w = npimg.shape[:2]
    return Image.frombytes(mode, (w, h), np.ascontiguousarray(npimg).tobytes())


def normalize(tensor, mean, std, inplace=False):
    """``(x - mean[c]) / std[c]`` per channel of a float (..., C, H, W) tensor image."""
    if isinstance(tensor, Tensor):
        arr = tensor.array
    elif isinstance(tensor, np.ndarray):
        arr = tensor
    else:
        raise TypeError(f"img should be Tensor Image. Got {type(tensor)}")
    if arr.dtype.kind != "f":
        raise TypeError(f"Input tensor should be a float tensor. Got {arr.dtype}.")
    if arr.ndim < 3:
        raise ValueError(f"Expected tensor to be a tensor image of size (..., C, H, W). Got "
                         f"tensor.size() = {tuple(arr.shape)}.")
    mean = np.asarray(mean, dtype=arr.dtype)
    std = np.asarray(std, dtype=arr.dtype)
    if (std == 0).any():
        raise ValueError(f"std evaluated to zero after conversion to {arr.dtype}, leading to "
                         f"division by zero.")
    if mean.ndim == 1:
        mean = mean.reshape(-1, 1, 1)
    if std.ndim == 1:
        std = std.reshape(-1, 1, 1)
    try:
        shape = np.broadcast_shapes(arr.shape, mean.shape, std.shape)
    except ValueError:
        shape = None
    if shape != arr.shape:
        raise RuntimeError(f"Normalize: mean/std of shape {tuple(mean.shape)} do not match "
                           f"the {arr.shape[-3]} channels of an image of shape "
                           f"{tuple(arr.shape)}")
    if isinstance(tensor, Tensor):
        if arr.__class__ is not np.ndarray:
            from ...backend import get_array_module
            xp = get_array_module(arr)
            mean, std = xp.asarray(mean), xp.asarray(std)
        if inplace:
            return tensor.sub_(Tensor(mean)).div_(Tensor(std))
        if tensor.requires_grad:  # e.g. normalising inside a model: keep the graph
            return (tensor - Tensor(mean)) / Tensor(std)
        return Tensor((arr - mean) / std)
    if inplace:
        arr -= mean
        arr /= std
        return arr
    return (arr - mean) / std


# -- geometry ----------------------------------------------------------------------

def _resized_size(h, w, size, max_size):
    """torchvision's _compute_resized_output_size: (new_h, new_w)."""
    if len(size) == 2:
        return size[0], size[1]
    short, long = (w, h) if w <= h else (h, w)
    requested = size[0]
    new_short, new_long = requested, int(requested * long / short)
    if max_size is not None:
        if max_size <= requested:
            raise ValueError(f"max_size = {max_size} must be strictly greater than the requested "
                             f"size for the smaller edge size = {size}")
        if new_long > max_size:
            new_short, new_long = int(max_size * new_short / new_long), max_size
    return (new_long, new_short) if w <= h else (new_short, new_long)


def _check_resize_size(size, max_size):
    """size as a list of 1 or 2 ints, with torchvision's checks."""
    if not isinstance(size, (int, Sequence)) or isinstance(size, bool):
        raise TypeError(f"Size should be int or sequence. Got {type(size)}")
    if isinstance(size, Sequence):
        if len(size) not in (1, 2):
            raise ValueError(f"Size must be an int or a 1 or 2 element tuple/list, not a "
                             f"{len(size)} element tuple/list")
        if max_size is not None and len(size) != 1:
            raise ValueError("max_size should only be passed if size specifies the length of "
                             "the smaller edge, i.e. size should be an int or a sequence of "
                             "length 1 in torchscript mode.")
    return [int(size)] if isinstance(size, int) else [int(s) for s in size]


def resize(img, size, interpolation=InterpolationMode.BILINEAR, max_size=None, antialias=True):
    """Resize to (h, w), or match the smaller edge to ``size`` keeping the aspect ratio."""
    size = _check_resize_size(size, max_size)
    mode = _interpolation(interpolation, _RESIZE_MODES)

    def kernel(x):
        oh, ow = _resized_size(x.shape[2], x.shape[3], size, max_size)
        return F_a.resize(x, oh, ow, mode, antialias)
    return _apply(img, kernel)


def _parse_padding(padding):
    """torchvision's padding argument as (left, top, right, bottom)."""
    if isinstance(padding, numbers.Number) and not isinstance(padding, bool):
        p = int(padding)
        return p, p, p, p
    if not isinstance(padding, (tuple, list)):
        raise TypeError("Got inappropriate padding arg")
    if len(padding) not in (1, 2, 4):
        raise ValueError(f"Padding must be an int or a 1, 2, or 4 element tuple, not a "
                         f"{len(padding)} element tuple")
    if len(padding) == 1:
        return (int(padding[0]),) * 4
    if len(padding) == 2:
        return int(padding[0]), int(padding[1]), int(padding[0]), int(padding[1])
    return tuple(int(p) for p in padding)


def _check_padding_mode(padding_mode):
    if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
        raise ValueError("Padding mode should be either constant, edge, reflect or symmetric")


def pad(img, padding, fill=0, padding_mode="constant"):
    """Pad every side; padding is an int, (left/right, top/bottom) or (l, t, r, b)."""
    ltrb = _parse_padding(padding)
    _check_padding_mode(padding_mode)
    return _apply(img, lambda x: F_a.pad(x, ltrb, 0 if fill is None else fill, padding_mode))


def crop(img, top, left, height, width):
    """The (height, width) box at (top, left); the part outside the image is 0."""
    return _apply(img, lambda x: F_a.crop(x, int(top), int(left), int(height), int(width)))


def center_crop(img, output_size):
    """The central (h, w) box; a crop larger than the image pads with 0."""
    if isinstance(output_size, numbers.Number):
        output_size = (int(output_size), int(output_size))
    elif isinstance(output_size, (tuple, list)) and len(output_size) == 1:
        output_size = (output_size[0], output_size[0])
    th, tw = output_size

    def kernel(x):
        h, w = x.shape[-2:]
        if tw > w or th > h:
            ltrb = ((tw - w) // 2 if tw > w else 0, (th - h) // 2 if th > h else 0,
                    (tw - w + 1) // 2 if tw > w else 0, (th - h + 1) // 2 if th > h else 0)
            x = F_a.pad(x, ltrb, 0)
            h, w = x.shape[-2:]
            if (h, w) == (th, tw):
                return x
        top, left = int(round((h - th) / 2.0)), int(round((w - tw) / 2.0))
        if (top, left, th, tw) == (0, 0, h, w):
            return x
        return F_a.crop(x, top, left, th, tw)
    return _apply(img, kernel)


def resized_crop(img, top, left, height, width, size, interpolation=InterpolationMode.BILINEAR,
                 antialias=True):
    """crop(img, top, left, height, width), then resize to ``size`` (resize's semantics)."""
    size = _check_resize_size(size, None)
    mode = _interpolation(interpolation, _RESIZE_MODES)
    top, left, height, width = int(top), int(left), int(height), int(width)
    oh, ow = _resized_size(height, width, size, None)

    def kernel(x):
        h, w = x.shape[-2:]
        if top < 0 or left < 0 or top + height > h or left + width > w:
            return F_a.resize(F_a.crop(x, top, left, height, width), oh, ow, mode, antialias)
        if (oh, ow) == (height, width):
            return F_a.crop(x, top, left, height, width)
        return F_a.resized_crop(x, top, left, height, width, oh, ow, mode, antialias)
    return _apply(img, kernel)


def hflip(img):
    return _apply(img, lambda x: x[..., ::-1])


def vflip(img):
    return _apply(img, lambda x: x[..., ::-1, :])


def five_crop(img, size):
    """(top-left, top-right, bottom-left, bottom-right, center) crops of size (h, w)."""
    if isinstance(size, numbers.Number):
        size = (int(size), int(size))
    elif isinstance(size, (tuple, list)) and len(size) == 1:
        size = (size[0], size[0])
    if len(size) != 2:
        raise ValueError("Please provide only two dimensions (h, w) for size.")
    _, image_height, image_width = get_dimensions(img)
    crop_height, crop_width = size
    if crop_width > image_width or crop_height > image_height:
        raise ValueError(f"Requested crop size {size} is bigger than input size "
                         f"{(image_height, image_width)}")
    bottom, right = image_height - crop_height, image_width - crop_width
    return (crop(img, 0, 0, crop_height, crop_width),
            crop(img, 0, right, crop_height, crop_width),
            crop(img, bottom, 0, crop_height, crop_width),
            crop(img, bottom, right, crop_height, crop_width),
            center_crop(img, [crop_height, crop_width]))


def ten_crop(img, size, vertical_flip=False):
    """five_crop of the image, then of its (horizontal, or vertical) mirror image."""
    if isinstance(size, numbers.Number):
        size = (int(size), int(size))
    elif isinstance(size, (tuple, list)) and len(size) == 1:
        size = (size[0], size[0])
    if len(size) != 2:
        raise ValueError("Please provide only two dimensions (h, w) for size.")
    first_five = five_crop(img, size)
    return first_five + five_crop(vflip(img) if vertical_flip else hflip(img), size)


def _check_fill(fill, channels):
    if fill is not None and isinstance(fill, (tuple, list)) and len(fill) > 1 \
            and len(fill) != channels:
        raise ValueError(f"The number of elements in 'fill' cannot broadcast to match the number "
                         f"of channels of the image ({len(fill)} != {channels})")


def _center_offset(center, w, h):
    """torchvision's center argument, relative to the image centre."""
    if center is None:
        return 0.0, 0.0
    return 1.0 * (center[0] - w * 0.5), 1.0 * (center[1] - h * 0.5)


def rotate(img, angle, interpolation=InterpolationMode.NEAREST, expand=False, center=None,
           fill=None):
    """Rotate counter-clockwise by ``angle`` degrees about ``center`` (default: the centre)."""
    mode = _interpolation(interpolation, _WARP_MODES)
    if not isinstance(angle, (int, float)):
        raise TypeError("Argument angle should be int or float")
    if center is not None and not isinstance(center, (list, tuple)):
        raise TypeError("Argument center should be a sequence")

    def kernel(x):
        _check_fill(fill, x.shape[1])
        h, w = x.shape[-2:]
        # torchvision's rotate passes -angle: positive angles turn counter-clockwise
        theta = F_a.inverse_affine(_center_offset(center, w, h), -float(angle), (0.0, 0.0), 1.0,
                                   (0.0, 0.0))
        ow, oh = F_a.affine_output_size(theta[0], w, h) if expand else (w, h)
        return F_a.warp_affine(x, theta, oh, ow, mode, fill)
    return _apply(img, kernel)


def affine(img, angle, translate, scale, shear, interpolation=InterpolationMode.NEAREST,
           fill=None, center=None):
    """Rotation (clockwise, degrees), translation (pixels), scale and shear (degrees; one
    value is an x-shear, two are x and y) about the image centre, as torchvision's."""
    mode = _interpolation(interpolation, _WARP_MODES)
    if not isinstance(angle, (int, float)):
        raise TypeError("Argument angle should be int or float")
    if not isinstance(translate, (list, tuple)):
        raise TypeError("Argument translate should be a sequence")
    if len(translate) != 2:
        raise ValueError("Argument translate should be a sequence of length 2")
    if scale <= 0.0:
        raise ValueError("Argument scale should be positive")
    if not isinstance(shear, (numbers.Number, list, tuple)):
        raise TypeError("Shear should be either a single value or a sequence of two values")
    if isinstance(shear, numbers.Number):
        shear = [shear, 0.0]
    shear = list(shear)
    if len(shear) == 1:
        shear = [shear[0], shear[0]]
    if len(shear) != 2:
        raise ValueError(f"Shear should be a sequence containing two values. Got {shear}")
    if center is not None and not isinstance(center, (list, tuple)):
        raise TypeError("Argument center should be a sequence")

    def kernel(x):
        _check_fill(fill, x.shape[1])
        h, w = x.shape[-2:]
        theta = F_a.inverse_affine(_center_offset(center, w, h), float(angle),
                                   [1.0 * t for t in translate], scale, shear)
        return F_a.warp_affine(x, theta, h, w, mode, fill)
    return _apply(img, kernel)


def perspective(img, startpoints, endpoints, interpolation=InterpolationMode.BILINEAR, fill=None):
    """Warp so that the 4 ``startpoints`` corners [tl, tr, br, bl] land on ``endpoints``."""
    if len(startpoints) != 4 or len(endpoints) != 4:
        raise ValueError(f"Please provide exactly four corners, got {len(startpoints)} "
                         f"startpoints and {len(endpoints)} endpoints.")
    coeffs = F_a.perspective_coeffs(startpoints, endpoints)
    mode = _interpolation(interpolation, _WARP_MODES)

    def kernel(x):
        _check_fill(fill, x.shape[1])
        return F_a.warp_perspective(x, coeffs, mode, fill)
    return _apply(img, kernel)


# -- colour ------------------------------------------------------------------------

def _check_factor(value, name):
    if value < 0:
        raise ValueError(f"{name} ({value}) is not non-negative.")


def _colour(img, permitted, kernel):
    """kernel on an image whose channels must be among ``permitted``."""
    def checked(x):
        F_a.check_channels(x, permitted)
        return kernel(x)
    return _apply(img, checked)


def adjust_brightness(img, brightness_factor):
    """Multiply by the factor (0: black, 1: unchanged), clamped to the dtype's range."""
    _check_factor(brightness_factor, "brightness_factor")
    return _colour(img, [1, 3], lambda x: F_a.adjust_brightness(x, brightness_factor))


def adjust_contrast(img, contrast_factor):
    """Blend with the image's mean grey level (0: solid grey, 1: unchanged)."""
    _check_factor(contrast_factor, "contrast_factor")
    return _colour(img, [3, 1], lambda x: F_a.adjust_contrast(x, contrast_factor))


def adjust_saturation(img, saturation_factor):
    """Blend with the grayscale image (0: grey, 1: unchanged)."""
    _check_factor(saturation_factor, "saturation_factor")
    return _colour(img, [1, 3], lambda x: F_a.adjust_saturation(x, saturation_factor))


def adjust_hue(img, hue_factor):
    """Rotate the hue by hue_factor turns, in [-0.5, 0.5], through HSV (float32)."""
    if not (-0.5 <= hue_factor <= 0.5):
        raise ValueError(f"hue_factor ({hue_factor}) is not in [-0.5, 0.5].")
    return _colour(img, [1, 3], lambda x: F_a.adjust_hue(x, hue_factor))


def adjust_gamma(img, gamma, gain=1):
    """gain * x ** gamma on the [0, 1] scale."""
    def kernel(x):
        F_a.check_channels(x, [1, 3])
        if gamma < 0:
            raise ValueError("Gamma should be a non-negative real number")
        return F_a.adjust_gamma(x, gamma, gain)
    return _apply(img, kernel)


def adjust_sharpness(img, sharpness_factor):
    """Blend with a smoothed image (0: smoothed, 1: unchanged, 2: sharper)."""
    _check_factor(sharpness_factor, "sharpness_factor")
    return _colour(img, [1, 3], lambda x: F_a.adjust_sharpness(x, sharpness_factor))


def rgb_to_grayscale(img, num_output_channels=1):
    """0.2989 R + 0.587 G + 0.114 B (truncated for integer images), in 1 or 3 channels.

    A 1-channel image is copied; asked for 3 channels, a PIL-like one gets 3 (as
    PIL's convert) and a tensor keeps 1 (as torchvision's tensor code).
    """
    channels_last = _channels_last(img)

    def kernel(x):
        F_a.check_channels(x, [1, 3])
        if num_output_channels not in (1, 3):
            raise ValueError("num_output_channels should be either 1 or 3")
        grey = F_a.rgb_to_grayscale(x) if x.shape[1] == 3 else x.copy()
        if num_output_channels == 3 and (x.shape[1] == 3 or channels_last):
            grey = np.repeat(grey, 3, axis=1)
        return grey
    return _apply(img, kernel)


def to_grayscale(img, num_output_channels=1):
    """rgb_to_grayscale for PIL-like images (torchvision's PIL-only form)."""
    if isinstance(img, Tensor):
        raise TypeError("Input should be PIL Image")
    return rgb_to_grayscale(img, num_output_channels)


def invert(img):
    """bound - x: 255 - x for uint8, 1 - x for floats."""
    return _colour(img, [1, 3], F_a.invert)


def posterize(img, bits):
    """Keep the top ``bits`` (0-8) bits of each uint8 value."""
    if not (0 <= bits <= 8):
        raise ValueError(f"The number if bits should be between 0 and 8. Got {bits}")

    def kernel(x):
        if x.dtype != np.uint8:
            raise TypeError(f"Only torch.uint8 image tensors are supported, but found {x.dtype}")
        F_a.check_channels(x, [1, 3])
        return F_a.posterize(x, bits)
    return _apply(img, kernel)


def solarize(img, threshold):
    """Invert the values at or above ``threshold``."""
    def kernel(x):
        F_a.check_channels(x, [1, 3])
        if threshold > F_a.max_value(x.dtype):
            raise TypeError("Threshold should be less than bound of img.")
        return F_a.solarize(x, threshold)
    return _apply(img, kernel)


def autocontrast(img):
    """Stretch each channel so its lowest value becomes 0 and its highest the bound."""
    return _colour(img, [1, 3], F_a.autocontrast)


def equalize(img):
    """Equalise the histogram of each channel of a uint8 image."""
    def kernel(x):
        if x.dtype != np.uint8:
            raise TypeError(f"Only torch.uint8 image tensors are supported, but found {x.dtype}")
        F_a.check_channels(x, [1, 3])
        return F_a.equalize(x)
    return _apply(img, kernel)


# -- filtering and erasing ---------------------------------------------------------

def gaussian_blur(img, kernel_size, sigma=None):
    """Blur with a Gaussian of kernel_size (kx, ky) and sigma (sx, sy), reflect-padded.

    sigma defaults to 0.15 * ksize + 0.35 per axis, as torchvision's.
    """
    if not isinstance(kernel_size, (int, list, tuple)):
        raise TypeError(f"kernel_size should be int or a sequence of integers. Got "
                        f"{type(kernel_size)}")
    if isinstance(kernel_size, int):
        kernel_size = [kernel_size, kernel_size]
    if len(kernel_size) != 2:
        raise ValueError(f"If kernel_size is a sequence its length should be 2. Got "
                         f"{len(kernel_size)}")
    for ksize in kernel_size:
        if ksize % 2 == 0 or ksize < 0:
            raise ValueError(f"kernel_size should have odd and positive integers. Got "
                             f"{kernel_size}")
    if sigma is None:
        sigma = [ksize * 0.15 + 0.35 for ksize in kernel_size]
    if not isinstance(sigma, (int, float, list, tuple)):
        raise TypeError(f"sigma should be either float or sequence of floats. Got {type(sigma)}")
    if isinstance(sigma, (int, float)):
        sigma = [float(sigma), float(sigma)]
    if len(sigma) == 1:
        sigma = [sigma[0], sigma[0]]
    if len(sigma) != 2:
        raise ValueError(f"If sigma is a sequence, its length should be 2. Got {len(sigma)}")
    for s in sigma:
        if s <= 0.0:
            raise ValueError(f"sigma should have positive values. Got {sigma}")
    return _apply(img, lambda x: F_a.gaussian_blur(x, kernel_size, sigma[0], sigma[1]))


def erase(img, i, j, h, w, v, inplace=False):
    """Set the (h, w) box at (i, j) to v (a number, or anything broadcasting to (C, h, w)).

    With inplace=True a Tensor or numpy image is changed and returned.
    """
    if not isinstance(img, (Tensor, np.ndarray)):
        raise TypeError(f"img should be Tensor Image. Got {type(img)}")
    x, pack = F_a.unpack(img)
    values = F_a.host(v.array) if isinstance(v, Tensor) else v
    writes_through = inplace and (not isinstance(img, Tensor) or img.array.__class__ is np.ndarray)
    out = x if writes_through else x.copy()
    out[..., i:i + h, j:j + w] = F_a.cast_values(values, x.dtype)
    if writes_through:
        return img
    if inplace:  # a device tensor: copy the result back into its storage
        img.array[...] = pack(out).array
        return img
    return pack(out)
