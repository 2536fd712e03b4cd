"""Image transforms with torchvision's names and semantics, for one image or a whole batch.

    transform = transforms.Compose([transforms.RandomCrop(28, padding=4),
                                    transforms.ToTensor(),
                                    transforms.Normalize((0.1307,), (0.3081,))])

Layouts (we have no PIL; a PIL image is any object ``np.asarray`` accepts):

* Tensors, and numpy arrays that are not uint8, are tensor images:
  (C, H, W) for one image, (N, C, H, W) for a batch, (H, W) for one
  single-channel image.
* uint8 numpy arrays and PIL-like objects are "PIL-like": (H, W) or
  (H, W, C) for one image, (N, H, W, C) for a batch. That is what the
  datasets return and what ``np.asarray(pil_image)`` gives.

Every transform returns the layout and type it was given, except ToTensor,
which turns PIL-like input into a float tensor image. Random transforms draw
their parameters from ``tinygrad_kr.random.get_rng()`` (so ``manual_seed``
makes them repeatable) and, on a batch, draw separate parameters for each
image in one vectorised call (torchvision draws one set per call). They are
data preprocessing: they work on the arrays and record no autograd graph.

Geometry follows torchvision's tensor code exactly: rotation and affine warps
use its inverse matrix, pixel-centre grid and grid_sample(align_corners=False)
sampling with its fill blending; Resize is ``F.interpolate`` with
align_corners=False (antialias as in torchvision's default, antialias=True).
"""
import numbers
from collections.abc import Sequence
from enum import Enum

import numpy as np

from ..dtypes import get_default_dtype
from ..random import get_rng
from ..tensor import Tensor

__all__ = ["Compose", "ToTensor", "Normalize", "Lambda", "RandomHorizontalFlip",
           "RandomVerticalFlip", "Pad", "RandomCrop", "CenterCrop", "Resize", "RandomRotation",
           "RandomAffine", "InterpolationMode"]


class InterpolationMode(Enum):
    NEAREST = "nearest"
    NEAREST_EXACT = "nearest-exact"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"
    BOX = "box"
    HAMMING = "hamming"
    LANCZOS = "lanczos"


def _interpolation(mode, supported):
    """The mode's string value, or ValueError if this transform cannot do it."""
    value = mode.value if isinstance(mode, InterpolationMode) else str(mode)
    if value not in supported:
        raise ValueError(f"Interpolation mode '{value}' is unsupported here; use one of "
                         f"{', '.join(supported)}")
    return value


def supports_batches(transform):
    """True when ``transform`` handles an (N, ...) batch in one call.

    Our transforms declare ``_batched = True``; Compose is batched when all its
    parts are. A subclass that overrides ``__call__`` without declaring
    ``_batched`` itself is treated as per-image code.
    """
    if not getattr(transform, "_batched", False):
        return False
    mro = type(transform).__mro__
    call_owner = next((c for c in mro if "__call__" in c.__dict__), None)
    flag_owner = next((c for c in mro if "_batched" in c.__dict__), None)
    if call_owner is None or flag_owner is None:
        return True
    return not (call_owner is not flag_owner and issubclass(call_owner, flag_owner))


# -- layouts -----------------------------------------------------------------

def _host(a):
    return a if a.__class__ is np.ndarray else a.get()


def _is_pil_like(img):
    return not isinstance(img, (Tensor, np.ndarray)) and \
        (hasattr(img, "__array_interface__") or hasattr(img, "__array__"))


def _unpack(img):
    """``(x, pack)``: x is img as an (N, C, H, W) numpy array (a view where it can
    be); ``pack(y)`` puts an (N, C, h, w) result back into img's layout and type."""
    if isinstance(img, Tensor):
        arr, channels_last = _host(img.array), False
    elif isinstance(img, np.ndarray):
        arr, channels_last = img, img.dtype == np.uint8
    elif _is_pil_like(img):
        arr, channels_last = np.asarray(img), True
    else:
        raise TypeError(f"img should be a Tensor, a numpy array or a PIL-like image, got "
                        f"{type(img).__name__}")
    nd = arr.ndim
    if nd not in (2, 3, 4):
        layout = "(H, W[, C]) image or an (N, H, W, C) batch" if channels_last \
            else "(C, H, W) image or an (N, C, H, W) batch"
        raise ValueError(f"expected a {layout}, got shape {tuple(arr.shape)}")
    if nd == 2:
        x, back = arr[None, None], (lambda y: y[0, 0])
    elif channels_last and nd == 3:
        x, back = arr.transpose(2, 0, 1)[None], (lambda y: y[0].transpose(1, 2, 0))
    elif channels_last:
        x, back = arr.transpose(0, 3, 1, 2), (lambda y: y.transpose(0, 2, 3, 1))
    elif nd == 3:
        x, back = arr[None], (lambda y: y[0])
    else:
        x, back = arr, (lambda y: y)

    def pack(y):
        out = np.ascontiguousarray(back(y))
        if isinstance(img, Tensor):
            t = Tensor(out)
            return t if img.array.__class__ is np.ndarray else t.to(img.device)
        return out
    return x, pack


def _cast_like(y, dtype):
    """A float result in the input's dtype: integers are rounded and clipped."""
    if dtype.kind == "f":
        return y.astype(dtype, copy=False)
    if dtype == np.bool_:
        return y >= 0.5
    info = np.iinfo(dtype)
    return np.clip(np.round(y), info.min, info.max).astype(dtype)


def _work_dtype(dtype):
    return dtype if dtype.kind == "f" else np.dtype(np.float32)


def _channel_fill(fill, channels, dtype):
    """fill as a (1, C, 1, 1) array: a number, or one value per channel."""
    values = np.asarray(fill, dtype=np.float64).reshape(-1)
    if values.size not in (1, channels):
        raise ValueError(f"The number of elements in 'fill' cannot broadcast to match the number "
                         f"of channels of the image ({values.size} != {channels})")
    return np.broadcast_to(values, (channels,)).reshape(1, channels, 1, 1).astype(dtype)


def _setup_size(size, error_msg):
    if isinstance(size, numbers.Number):
        return int(size), int(size)
    if isinstance(size, Sequence) and len(size) == 1:
        return int(size[0]), int(size[0])
    if not isinstance(size, Sequence) or len(size) != 2:
        raise ValueError(error_msg)
    return int(size[0]), int(size[1])


def _check_sequence_input(x, name, req_sizes):
    msg = req_sizes[0] if len(req_sizes) < 2 else " or ".join(str(s) for s in req_sizes)
    if not isinstance(x, Sequence):
        raise TypeError(f"{name} should be a sequence of length {msg}.")
    if len(x) not in req_sizes:
        raise ValueError(f"{name} should be a sequence of length {msg}.")


def _setup_angle(x, name, req_sizes=(2,)):
    if isinstance(x, numbers.Number):
        if x < 0:
            raise ValueError(f"If {name} is a single number, it must be positive.")
        return [-float(x), float(x)]
    _check_sequence_input(x, name, req_sizes)
    return [float(d) for d in x]


def _setup_fill(fill):
    if fill is None:
        return 0
    if not isinstance(fill, (Sequence, numbers.Number)):
        raise TypeError("Fill should be either a sequence or a number.")
    return fill


# -- composition and conversion ------------------------------------------------

class Compose:
    """Apply ``transforms`` in order."""

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, img):
        for t in self.transforms:
            img = t(img)
        return img

    @property
    def _batched(self):
        return all(supports_batches(t) for t in self.transforms)

    def __repr__(self):
        body = "".join(f"\n    {t}" for t in self.transforms)
        return f"{self.__class__.__name__}({body}\n)"


class Lambda:
    """Apply a user function (treated as per-image code: never given a batch)."""

    _batched = False

    def __init__(self, lambd):
        if not callable(lambd):
            raise TypeError(f"Argument lambd should be callable, got {type(lambd).__name__!r}")
        self.lambd = lambd

    def __call__(self, img):
        return self.lambd(img)

    def __repr__(self):
        return f"{self.__class__.__name__}()"


class ToTensor:
    """PIL-like (H, W[, C]) image -> float tensor (C, H, W); uint8 is scaled to [0, 1].

    A uint8 (N, H, W, C) array is a batch and gives (N, C, H, W). Other dtypes
    keep their values and dtype, as in torchvision.
    """

    _batched = True

    def __call__(self, pic):
        if isinstance(pic, Tensor):
            raise TypeError(f"pic should be PIL Image or ndarray. Got {type(pic)}")
        if _is_pil_like(pic):
            pic = np.asarray(pic)
        elif not isinstance(pic, np.ndarray):
            raise TypeError(f"pic should be PIL Image or ndarray. Got {type(pic)}")
        if pic.ndim not in (2, 3, 4):
            raise ValueError(f"pic should be 2/3 dimensional (or a 4-D batch). Got {pic.ndim} "
                             f"dimensions.")
        if pic.ndim == 2:
            pic = pic[:, :, None]
        arr = np.ascontiguousarray(pic.transpose((2, 0, 1) if pic.ndim == 3 else (0, 3, 1, 2)))
        if arr.dtype == np.uint8:
            dtype = get_default_dtype()
            arr = arr.astype(dtype) / dtype.type(255)
        return Tensor(arr)

    def __repr__(self):
        return f"{self.__class__.__name__}()"


class Normalize:
    """``(x - mean[c]) / std[c]`` per channel of a float (..., C, H, W) tensor image."""

    _batched = True

    def __init__(self, mean, std, inplace=False):
        self.mean = mean
        self.std = std
        self.inplace = inplace

    def __call__(self, tensor):
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
        mean = np.asarray(self.mean, dtype=arr.dtype)
        std = np.asarray(self.std, dtype=arr.dtype)
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
                from ..backend import get_array_module
                xp = get_array_module(arr)
                mean, std = xp.asarray(mean), xp.asarray(std)
            if self.inplace:
                return tensor.sub_(Tensor(mean)).div_(Tensor(std))
            if tensor.requires_grad:  # e.g. normalising inside a model: keep the graph
                return (tensor - Tensor(mean)) / Tensor(std)
            return Tensor((arr - mean) / std)
        if self.inplace:
            arr -= mean
            arr /= std
            return arr
        return (arr - mean) / std

    def __repr__(self):
        return f"{self.__class__.__name__}(mean={self.mean}, std={self.std})"


# -- geometric transforms --------------------------------------------------------

class _ImageTransform:
    """A transform written once for an (N, C, H, W) array: ``_apply(x) -> y``.

    ``__call__`` converts any accepted layout to (N, C, H, W) and back; a
    single image is a batch of one. Returning ``x`` itself means "unchanged",
    and the caller then gets its own input back, as in torchvision.
    """

    _batched = True

    def __call__(self, img):
        x, pack = _unpack(img)
        y = self._apply(x)
        return img if y is x else pack(y)

    def _apply(self, x):
        raise NotImplementedError


class RandomHorizontalFlip(_ImageTransform):
    """Mirror left-right with probability p (decided per image)."""

    def __init__(self, p=0.5):
        self.p = p

    def _apply(self, x):
        flip = get_rng().random(len(x)) < self.p
        if not flip.any():
            return x
        out = x.copy()
        out[flip] = x[flip][..., ::-1]
        return out

    def __repr__(self):
        return f"{self.__class__.__name__}(p={self.p})"


class RandomVerticalFlip(_ImageTransform):
    """Mirror top-bottom with probability p (decided per image)."""

    def __init__(self, p=0.5):
        self.p = p

    def _apply(self, x):
        flip = get_rng().random(len(x)) < self.p
        if not flip.any():
            return x
        out = x.copy()
        out[flip] = x[flip][..., ::-1, :]
        return out

    def __repr__(self):
        return f"{self.__class__.__name__}(p={self.p})"


_PADDING_MODES = {"constant": "constant", "edge": "edge", "reflect": "reflect",
                  "symmetric": "symmetric"}


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
    if padding_mode not in _PADDING_MODES:
        raise ValueError("Padding mode should be either constant, edge, reflect or symmetric")


def _pad(x, ltrb, fill=0, padding_mode="constant"):
    """Pad an (N, C, H, W) array by (left, top, right, bottom)."""
    left, top, right, bottom = ltrb
    if min(ltrb) < 0:
        raise ValueError(f"padding must be non-negative, got {ltrb}")
    if not any(ltrb):
        return x
    n, c, h, w = x.shape
    if padding_mode == "constant":
        out = np.empty((n, c, h + top + bottom, w + left + right), x.dtype)
        out[...] = _channel_fill(fill, c, x.dtype)
        out[:, :, top:top + h, left:left + w] = x
        return out
    if padding_mode == "reflect" and (max(left, right) >= w or max(top, bottom) >= h):
        raise ValueError(f"reflect padding {ltrb} must be smaller than the image size {(h, w)}")
    return np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)),
                  mode=_PADDING_MODES[padding_mode])


class Pad(_ImageTransform):
    """Pad every side; padding is an int, (left/right, top/bottom) or (l, t, r, b)."""

    def __init__(self, padding, fill=0, padding_mode="constant"):
        self._ltrb = _parse_padding(padding)
        _check_padding_mode(padding_mode)
        self.padding, self.fill, self.padding_mode = padding, fill, padding_mode

    def _apply(self, x):
        return _pad(x, self._ltrb, self.fill, self.padding_mode)

    def __repr__(self):
        return (f"{self.__class__.__name__}(padding={self.padding}, fill={self.fill}, "
                f"padding_mode={self.padding_mode})")


def _crop_windows(x, top, left, th, tw):
    """Crop image k of x at (top[k], left[k]) with size (th, tw): one fancy index."""
    windows = np.lib.stride_tricks.sliding_window_view(x, (th, tw), axis=(2, 3))
    return windows[np.arange(len(x)), :, top, left]  # (N, C, th, tw)


class RandomCrop(_ImageTransform):
    """Crop a random (h, w) window, after optional padding (torchvision's order)."""

    def __init__(self, size, padding=None, pad_if_needed=False, fill=0, padding_mode="constant"):
        self.size = _setup_size(size, "Please provide only two dimensions (h, w) for size.")
        self._ltrb = None if padding is None else _parse_padding(padding)
        _check_padding_mode(padding_mode)
        self.padding, self.pad_if_needed = padding, pad_if_needed
        self.fill, self.padding_mode = fill, padding_mode

    def _apply(self, x):
        if self._ltrb is not None:
            x = _pad(x, self._ltrb, self.fill, self.padding_mode)
        th, tw = self.size
        h, w = x.shape[-2:]
        if self.pad_if_needed and w < tw:
            x = _pad(x, (tw - w, 0, tw - w, 0), self.fill, self.padding_mode)
        if self.pad_if_needed and h < th:
            x = _pad(x, (0, th - h, 0, th - h), self.fill, self.padding_mode)
        h, w = x.shape[-2:]
        if h < th or w < tw:
            raise ValueError(f"Required crop size {(th, tw)} is larger than input image size "
                             f"{(h, w)}")
        if (h, w) == (th, tw):
            return x
        rng = get_rng()
        top = rng.integers(0, h - th + 1, size=len(x))
        left = rng.integers(0, w - tw + 1, size=len(x))
        return _crop_windows(x, top, left, th, tw)

    def __repr__(self):
        return f"{self.__class__.__name__}(size={self.size}, padding={self.padding})"


class CenterCrop(_ImageTransform):
    """Crop the central (h, w) window; a crop larger than the image pads with 0."""

    def __init__(self, size):
        self.size = _setup_size(size, "Please provide only two dimensions (h, w) for size.")

    def _apply(self, x):
        th, tw = self.size
        h, w = x.shape[-2:]
        if tw > w or th > h:
            ltrb = ((tw - w) // 2 if tw > w else 0, (th - h) // 2 if th > h else 0,
                    (tw - w + 1) // 2 if tw > w else 0, (th - h + 1) // 2 if th > h else 0)
            x = _pad(x, ltrb, 0)
            h, w = x.shape[-2:]
            if (h, w) == (th, tw):
                return x
        top = int(round((h - th) / 2.0))
        left = int(round((w - tw) / 2.0))
        if (top, left, th, tw) == (0, 0, h, w):
            return x
        return x[:, :, top:top + th, left:left + tw].copy()

    def __repr__(self):
        return f"{self.__class__.__name__}(size={self.size})"


# -- resampling ------------------------------------------------------------------

def _triangle(t):
    return np.maximum(0.0, 1.0 - np.abs(t))


def _cubic(t, a):
    t = np.abs(t)
    near = ((a + 2) * t - (a + 3)) * t * t + 1
    far = ((a * t - 5 * a) * t + 8 * a) * t - 4 * a
    return np.where(t <= 1, near, np.where(t < 2, far, 0.0))


def _resize_matrix(in_size, out_size, mode, antialias):
    """(out_size, in_size) weights of torch's interpolate(align_corners=False) along one axis."""
    scale = in_size / out_size
    i = np.arange(out_size)
    if antialias and mode != "nearest":
        # torch's *_aa kernels: the filter stretched by the downscale factor and
        # renormalised over the taps that fall inside the image
        support = max(scale, 1.0)
        dist = (np.arange(in_size)[None, :] + 0.5 - (i[:, None] + 0.5) * scale) / support
        weights = _triangle(dist) if mode == "bilinear" else _cubic(dist, -0.5)
        return weights / weights.sum(axis=1, keepdims=True)
    src = (i + 0.5) * scale - 0.5
    if mode == "bilinear":
        src = np.maximum(src, 0.0)  # torch clamps the linear source index (not the cubic one)
        taps, kernel = (0, 1), _triangle
    else:
        taps, kernel = (-1, 0, 1, 2), (lambda t: _cubic(t, -0.75))
    base = np.floor(src).astype(np.intp)
    weights = np.zeros((out_size, in_size))
    for k in taps:  # out-of-range taps read the edge pixel, as torch's bounded access
        j = base + k
        np.add.at(weights, (i, np.clip(j, 0, in_size - 1)), kernel(src - j))
    return weights


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


class Resize(_ImageTransform):
    """Resize to (h, w), or match the smaller edge to ``size`` keeping the aspect ratio."""

    def __init__(self, size, interpolation=InterpolationMode.BILINEAR, max_size=None,
                 antialias=True):
        if not isinstance(size, (int, Sequence)) or isinstance(size, bool):
            raise TypeError(f"Size should be int or sequence. Got {type(size)}")
        if isinstance(size, Sequence) and len(size) not in (1, 2):
            raise ValueError("If size is a sequence, it should have 1 or 2 values")
        self.size = size
        self._size = [int(size)] if isinstance(size, int) else [int(s) for s in size]
        if len(self._size) == 2 and max_size is not None:
            raise ValueError("max_size should only be passed if size specifies the length of the "
                             "smaller edge, i.e. size should be an int or a sequence of length 1")
        self.max_size = max_size
        self.interpolation = interpolation
        self._mode = _interpolation(interpolation, ("nearest", "bilinear", "bicubic"))
        self.antialias = antialias

    def _apply(self, x):
        h, w = x.shape[-2:]
        oh, ow = _resized_size(h, w, self._size, self.max_size)
        if (oh, ow) == (h, w):
            return x
        if self._mode == "nearest":  # torch's 'nearest': floor(dst * in / out)
            rows = np.minimum(np.floor(np.arange(oh) * (h / oh)).astype(np.intp), h - 1)
            cols = np.minimum(np.floor(np.arange(ow) * (w / ow)).astype(np.intp), w - 1)
            return x[:, :, rows[:, None], cols]
        work = _work_dtype(x.dtype)
        wh = _resize_matrix(h, oh, self._mode, self.antialias).astype(work)
        ww = _resize_matrix(w, ow, self._mode, self.antialias).astype(work)
        y = np.matmul(np.matmul(wh, x.astype(work, copy=False)), ww.T)
        return _cast_like(y, x.dtype)

    def __repr__(self):
        return (f"{self.__class__.__name__}(size={self.size}, interpolation="
                f"{self._mode}, max_size={self.max_size}, antialias={self.antialias})")


# -- affine warps ------------------------------------------------------------------

def _inverse_affine(center, angle, translate, scale, shear):
    """torchvision's _get_inverse_affine_matrix, vectorised over images.

    Every argument may hold (N,) arrays. Returns (N, 6): the map from output
    coordinates to input coordinates, both relative to the image centre.
    M = T * C * R(angle) * S(scale) * SHy * SHx * C^-1, inverted.
    """
    rot = np.radians(angle)
    sx, sy = np.radians(shear[0]), np.radians(shear[1])
    cx, cy = center
    tx, ty = translate
    a = np.cos(rot - sy) / np.cos(sy)
    b = -np.cos(rot - sy) * np.tan(sx) / np.cos(sy) - np.sin(rot)
    c = np.sin(rot - sy) / np.cos(sy)
    d = -np.sin(rot - sy) * np.tan(sx) / np.cos(sy) + np.cos(rot)
    m0, m1, m3, m4 = d / scale, -b / scale, -c / scale, a / scale
    m2 = m0 * (-cx - tx) + m1 * (-cy - ty) + cx
    m5 = m3 * (-cx - tx) + m4 * (-cy - ty) + cy
    return np.stack(np.broadcast_arrays(m0, m1, m2, m3, m4, m5), axis=-1).reshape(-1, 6)


def _affine_output_size(theta, w, h):
    """torchvision's _compute_affine_output_size (rotate with expand=True): (w, h).

    In float32, as torchvision computes it: in float64, trunc(x / 1e-4) * 1e-4
    lands 2e-15 above an integer x (1e-4 is not exact), and a 90-degree turn
    got one row or column too many.
    """
    f32 = np.float32
    pts = np.array([[-0.5 * w, -0.5 * h, 1.0], [-0.5 * w, 0.5 * h, 1.0],
                    [0.5 * w, 0.5 * h, 1.0], [0.5 * w, -0.5 * h, 1.0]], dtype=f32)
    new_pts = pts @ theta.reshape(2, 3).T.astype(f32)
    shift = np.array([w * 0.5, h * 0.5], dtype=f32)
    lo = new_pts.min(axis=0) + shift
    hi = new_pts.max(axis=0) + shift
    tol = f32(1e-4)  # truncate so that 1e-7 above an integer does not ceil to the next one
    size = np.ceil(np.trunc(hi / tol) * tol) - np.floor(np.trunc(lo / tol) * tol)
    return int(size[0]), int(size[1])


def _warp(x, theta, out_h, out_w, mode, fill):
    """Resample each image of x (N, C, H, W) through its inverse affine map.

    theta (N, 6) maps output pixel centres (relative to the output centre) to
    input positions (relative to the input centre), as torchvision's affine
    grid; sampling is grid_sample(align_corners=False, padding zeros) and the
    area outside the input is blended with ``fill`` through a sampled
    all-ones mask, exactly as torchvision's _apply_grid_transform.
    """
    n, c, h, w = x.shape
    work = _work_dtype(x.dtype)
    xs = np.arange(out_w) - out_w * 0.5 + 0.5
    ys = (np.arange(out_h) - out_h * 0.5 + 0.5)[:, None]
    t = theta[:, :, None, None]
    # source positions (N, oh, ow) in input pixel indices
    src_x = t[:, 0] * xs + t[:, 1] * ys + t[:, 2] + (w * 0.5 - 0.5)
    src_y = t[:, 3] * xs + t[:, 4] * ys + t[:, 5] + (h * 0.5 - 0.5)
    fill = _channel_fill(fill, c, work)
    batch = np.arange(n)[:, None, None]

    def tap(iy, ix):
        """Pixel values (N, C, oh, ow) at integer positions, and (N, 1, oh, ow) in-bounds mask."""
        inside = (iy >= 0) & (iy < h) & (ix >= 0) & (ix < w)
        v = x[batch, :, np.clip(iy, 0, h - 1), np.clip(ix, 0, w - 1)]  # (N, oh, ow, C)
        return np.moveaxis(v, -1, 1).astype(work, copy=False), inside[:, None]

    if mode == "nearest":  # grid_sample rounds half to even, as np.rint
        v, inside = tap(np.rint(src_y).astype(np.intp), np.rint(src_x).astype(np.intp))
        return _cast_like(np.where(inside, v, fill), x.dtype)
    x0, y0 = np.floor(src_x), np.floor(src_y)
    fx, fy = (src_x - x0).astype(work)[:, None], (src_y - y0).astype(work)[:, None]
    x0, y0 = x0.astype(np.intp), y0.astype(np.intp)
    acc = np.zeros((n, c, out_h, out_w), work)
    mask = np.zeros((n, 1, out_h, out_w), work)
    for dy, wy in ((0, 1 - fy), (1, fy)):
        for dx, wx in ((0, 1 - fx), (1, fx)):
            v, inside = tap(y0 + dy, x0 + dx)
            weight = wy * wx * inside
            acc += weight * v
            mask += weight
    return _cast_like(acc * mask + (1 - mask) * fill, x.dtype)


class RandomRotation(_ImageTransform):
    """Rotate by an angle drawn uniformly from ``degrees`` (counter-clockwise)."""

    def __init__(self, degrees, interpolation=InterpolationMode.NEAREST, expand=False,
                 center=None, fill=0):
        self.degrees = _setup_angle(degrees, name="degrees", req_sizes=(2,))
        if center is not None:
            _check_sequence_input(center, "center", req_sizes=(2,))
        self.center = center
        self.interpolation = interpolation
        self._mode = _interpolation(interpolation, ("nearest", "bilinear"))
        self.expand = expand
        self.fill = _setup_fill(fill)

    @property
    def _batched(self):
        # with expand each angle has its own size: a dataset's batch path would stack
        # images of different sizes (a later Resize may make them equal again)
        return not self.expand

    def _apply(self, x):
        n, c, h, w = x.shape
        angles = get_rng().uniform(self.degrees[0], self.degrees[1], size=n)
        center = (0.0, 0.0) if self.center is None else \
            (self.center[0] - w * 0.5, self.center[1] - h * 0.5)
        # torchvision's rotate passes -angle: positive angles turn counter-clockwise
        theta = _inverse_affine(center, -angles, (0.0, 0.0), 1.0, (0.0, 0.0))
        ow, oh = w, h
        if self.expand:
            sizes = {_affine_output_size(m, w, h) for m in theta}
            if len(sizes) > 1:
                raise ValueError("RandomRotation(expand=True) gives each angle its own output "
                                 "size, so a batch cannot be stacked: apply it to single images")
            ow, oh = sizes.pop()
        return _warp(x, theta, oh, ow, self._mode, self.fill)

    def __repr__(self):
        return (f"{self.__class__.__name__}(degrees={self.degrees}, interpolation={self._mode}, "
                f"expand={self.expand}, fill={self.fill})")


class RandomAffine(_ImageTransform):
    """Random rotation (clockwise, as torchvision's affine), translation, scale and shear.

    translate=(a, b): shifts drawn from [-a*W, a*W] and [-b*H, b*H], rounded to
    whole pixels; scale=(lo, hi); shear: a number s (x-shear in [-s, s]), a
    pair (x-shear range) or four values (x and y ranges), in degrees.
    """

    def __init__(self, degrees, translate=None, scale=None, shear=None,
                 interpolation=InterpolationMode.NEAREST, fill=0, center=None):
        self.degrees = _setup_angle(degrees, name="degrees", req_sizes=(2,))
        if translate is not None:
            _check_sequence_input(translate, "translate", req_sizes=(2,))
            for t in translate:
                if not (0.0 <= t <= 1.0):
                    raise ValueError("translation values should be between 0 and 1")
        self.translate = translate
        if scale is not None:
            _check_sequence_input(scale, "scale", req_sizes=(2,))
            for s in scale:
                if s <= 0:
                    raise ValueError("scale values should be positive")
        self.scale = scale
        self.shear = None if shear is None else _setup_angle(shear, name="shear", req_sizes=(2, 4))
        self.interpolation = interpolation
        self._mode = _interpolation(interpolation, ("nearest", "bilinear"))
        self.fill = _setup_fill(fill)
        if center is not None:
            _check_sequence_input(center, "center", req_sizes=(2,))
        self.center = center

    def _apply(self, x):
        n, c, h, w = x.shape
        rng = get_rng()
        angle = rng.uniform(self.degrees[0], self.degrees[1], size=n)
        if self.translate is not None:
            max_dx, max_dy = self.translate[0] * w, self.translate[1] * h
            tx = np.rint(rng.uniform(-max_dx, max_dx, size=n))
            ty = np.rint(rng.uniform(-max_dy, max_dy, size=n))
        else:
            tx = ty = np.zeros(n)
        scale = rng.uniform(self.scale[0], self.scale[1], size=n) if self.scale is not None \
            else np.ones(n)
        shear_x = shear_y = np.zeros(n)
        if self.shear is not None:
            shear_x = rng.uniform(self.shear[0], self.shear[1], size=n)
            if len(self.shear) == 4:
                shear_y = rng.uniform(self.shear[2], self.shear[3], size=n)
        center = (0.0, 0.0) if self.center is None else \
            (self.center[0] - w * 0.5, self.center[1] - h * 0.5)
        theta = _inverse_affine(center, angle, (tx, ty), scale, (shear_x, shear_y))
        return _warp(x, theta, h, w, self._mode, self.fill)

    def __repr__(self):
        parts = [f"degrees={self.degrees}"]
        for name in ("translate", "scale", "shear"):
            if getattr(self, name) is not None:
                parts.append(f"{name}={getattr(self, name)}")
        parts.append(f"interpolation={self._mode}")
        if self.fill != 0:
            parts.append(f"fill={self.fill}")
        return f"{self.__class__.__name__}({', '.join(parts)})"
