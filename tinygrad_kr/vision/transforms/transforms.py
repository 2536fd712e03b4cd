"""The transform classes, as ``torchvision.transforms``: one image or a whole batch.

A random transform draws the parameters of every image of a batch in one
vectorised call on ``get_rng()`` and applies them with the batched kernels of
``_functional_array``; its ``get_params`` (torchvision's static method) draws
the same way for one image, so after the same ``manual_seed`` a transform on
one image equals the functional call with ``get_params``'s result.
"""
import numbers
import warnings
from collections.abc import Sequence

import numpy as np

from ...random import get_rng
from ...tensor import Tensor
from . import _functional_array as F_a
from . import functional as F
from .functional import InterpolationMode

__all__ = ["Compose", "ToTensor", "PILToTensor", "ConvertImageDtype", "ToPILImage", "Normalize",
           "Lambda", "RandomApply", "RandomChoice", "RandomOrder", "RandomHorizontalFlip",
           "RandomVerticalFlip", "Pad", "RandomCrop", "CenterCrop", "FiveCrop", "TenCrop",
           "Resize", "RandomResizedCrop", "RandomRotation", "RandomAffine", "RandomPerspective",
           "ColorJitter", "Grayscale", "RandomGrayscale", "GaussianBlur", "RandomErasing",
           "RandomInvert", "RandomPosterize", "RandomSolarize", "RandomAdjustSharpness",
           "RandomAutocontrast", "RandomEqualize", "InterpolationMode"]


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


def _setup_size(size, error_msg):
    """torchvision's: a number n -> (n, n), [n] -> (n, n), a pair as given."""
    if isinstance(size, numbers.Number):
        return int(size), int(size)
    if isinstance(size, Sequence) and len(size) == 1:
        return size[0], size[0]
    if not isinstance(size, Sequence) or len(size) != 2:
        raise ValueError(error_msg)
    return size


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


def _where_chosen(x, chosen, kernel):
    """kernel(x[chosen]) for the chosen images of x, the others unchanged (x itself if none)."""
    if not chosen.any():
        return x
    if chosen.all():
        return kernel(x)
    out = x.copy()
    out[chosen] = kernel(x[chosen])
    return out


def _by_group(img, labels, apply):
    """``apply(label, sub_batch)`` for the images of each label (a row of ``labels``),
    reassembled in order.

    The sub-batches are in img's layout and type; the results of all groups
    must agree in type, shape and dtype (a transform list that resizes only
    some images cannot make one batch).
    """
    kinds, inverse = np.unique(labels, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    if len(kinds) == 1:
        return apply(kinds[0], img)
    x, pack = F_a.unpack(img)
    out = out_pack = kind = None
    for g, label in enumerate(kinds):
        chosen = inverse == g
        y = apply(label, pack(x[chosen]))
        yx, y_pack = F_a.unpack(y)
        if out is None:
            out = np.empty((len(x),) + yx.shape[1:], yx.dtype)
            out_pack, kind = y_pack, type(y)
        elif type(y) is not kind or yx.shape[1:] != out.shape[1:] or yx.dtype != out.dtype:
            raise ValueError("the transforms gave the images of a batch different types, shapes "
                             "or dtypes, so they cannot be stacked: apply them to single images")
        out[chosen] = yx
    return out_pack(out)


class _RandomTransforms:
    """A list of transforms applied with randomness, decided per image on a batch.

    ``_draw(rng, n)`` gives one label per image (a row of an array) and
    ``_run(label, img)`` applies the transforms that label stands for; the
    images of a batch are grouped by label. Batched when all the transforms are.
    """

    def __init__(self, transforms):
        if not isinstance(transforms, Sequence):
            raise TypeError("Argument transforms should be a sequence")
        self.transforms = transforms

    @property
    def _batched(self):
        return all(supports_batches(t) for t in self.transforms)

    def __call__(self, img):
        if F_a.image_ndim(img) != 4:  # one image (or anything else), as it is
            return self._run(self._draw(get_rng(), 1)[0], img)
        return _by_group(img, self._draw(get_rng(), len(F_a.unpack(img)[0])), self._run)

    def _draw(self, rng, n):
        raise NotImplementedError

    def _run(self, label, img):
        raise NotImplementedError

    def __repr__(self):
        body = "".join(f"\n    {t}" for t in self.transforms)
        return f"{self.__class__.__name__}({body}\n)"


# -- composition and conversion ------------------------------------------------------

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


class RandomApply(_RandomTransforms):
    """Apply all of ``transforms`` with probability p (decided per image), else nothing."""

    def __init__(self, transforms, p=0.5):
        self.transforms = transforms
        self.p = p

    def _draw(self, rng, n):
        return rng.random(n) <= self.p

    def _run(self, apply, img):
        for t in (self.transforms if apply else ()):
            img = t(img)
        return img

    def __repr__(self):
        body = "".join(f"\n    {t}" for t in self.transforms)
        return f"{self.__class__.__name__}(\n    p={self.p}{body}\n)"


class RandomChoice(_RandomTransforms):
    """Apply one of ``transforms``, picked per image with weights p (uniform if None)."""

    def __init__(self, transforms, p=None):
        super().__init__(transforms)
        if p is not None and not isinstance(p, Sequence):
            raise TypeError("Argument p should be a sequence")
        self.p = p

    def _draw(self, rng, n):
        weights = None
        if self.p is not None:
            if len(self.p) != len(self.transforms):
                raise ValueError("The number of weights does not match the population")
            weights = np.asarray(self.p, dtype=np.float64)
            weights = weights / weights.sum()
        return rng.choice(len(self.transforms), size=n, p=weights)

    def _run(self, k, img):
        return self.transforms[k](img)

    def __repr__(self):
        return f"{super().__repr__()}(p={self.p})"


class RandomOrder(_RandomTransforms):
    """Apply all of ``transforms`` in a random order (one order per image)."""

    def _draw(self, rng, n):
        return np.argsort(rng.random((n, len(self.transforms))), axis=1)

    def _run(self, order, img):
        for k in order:
            img = self.transforms[k](img)
        return img


class ToTensor:
    """PIL-like (H, W[, C]) image -> float tensor (C, H, W); uint8 is scaled to [0, 1].

    A uint8 (N, H, W, C) array is a batch and gives (N, C, H, W). Other dtypes
    keep their values and dtype, as in torchvision.
    """

    _batched = True

    def __call__(self, pic):
        return F.to_tensor(pic)

    def __repr__(self):
        return f"{self.__class__.__name__}()"


class PILToTensor:
    """PIL-like (H, W[, C]) image -> tensor (C, H, W) of the same dtype, values unscaled."""

    _batched = True

    def __call__(self, pic):
        return F.pil_to_tensor(pic)

    def __repr__(self):
        return f"{self.__class__.__name__}()"


class ConvertImageDtype:
    """Convert a tensor image to ``dtype``, rescaling the values (uint8 255 <-> float 1.0)."""

    _batched = True

    def __init__(self, dtype):
        self.dtype = dtype

    def __call__(self, image):
        return F.convert_image_dtype(image, self.dtype)

    def __repr__(self):
        return f"{self.__class__.__name__}()"


class ToPILImage:
    """Tensor (C, H, W) or numpy (H, W, C) -> PIL image (needs Pillow); one image at a time."""

    _batched = False

    def __init__(self, mode=None):
        self.mode = mode

    def __call__(self, pic):
        return F.to_pil_image(pic, self.mode)

    def __repr__(self):
        return f"{self.__class__.__name__}({'' if self.mode is None else f'mode={self.mode}'})"


class Normalize:
    """``(x - mean[c]) / std[c]`` per channel of a float (..., C, H, W) tensor image."""

    _batched = True

    def __init__(self, mean, std, inplace=False):
        self.mean = mean
        self.std = std
        self.inplace = inplace

    def __call__(self, tensor):
        return F.normalize(tensor, self.mean, self.std, self.inplace)

    def __repr__(self):
        return f"{self.__class__.__name__}(mean={self.mean}, std={self.std})"


# -- geometric transforms --------------------------------------------------------------

class _ImageTransform:
    """A transform written once for an (N, C, H, W) array: ``_apply(x) -> y``.

    ``__call__`` converts any accepted layout to (N, C, H, W) and back; a
    single image is a batch of one. Returning ``x`` itself means "unchanged",
    and the caller then gets its own input back, as in torchvision.
    """

    _batched = True

    def __call__(self, img):
        x, pack = F_a.unpack(img)
        y = self._apply(x)
        return img if y is x and not F_a.is_pil_like(img) else pack(y)

    def _apply(self, x):
        raise NotImplementedError


class _RandomKernel(_ImageTransform):
    """Apply ``_kernel`` to each image with probability p."""

    def __init__(self, p=0.5):
        self.p = p

    def _check(self, x):
        """Raise for an image the kernel cannot take (checked whether or not it is applied)."""

    def _apply(self, x):
        self._check(x)
        return _where_chosen(x, get_rng().random(len(x)) < self.p, self._kernel)

    def __repr__(self):
        return f"{self.__class__.__name__}(p={self.p})"


class RandomHorizontalFlip(_RandomKernel):
    """Mirror left-right with probability p (decided per image)."""

    @staticmethod
    def _kernel(x):
        return x[..., ::-1]


class RandomVerticalFlip(_RandomKernel):
    """Mirror top-bottom with probability p (decided per image)."""

    @staticmethod
    def _kernel(x):
        return x[..., ::-1, :]


class Pad(_ImageTransform):
    """Pad every side; padding is an int, (left/right, top/bottom) or (l, t, r, b)."""

    def __init__(self, padding, fill=0, padding_mode="constant"):
        self._ltrb = F._parse_padding(padding)
        F._check_padding_mode(padding_mode)
        self.padding, self.fill, self.padding_mode = padding, fill, padding_mode

    def _apply(self, x):
        return F_a.pad(x, self._ltrb, self.fill, self.padding_mode)

    def __repr__(self):
        return (f"{self.__class__.__name__}(padding={self.padding}, fill={self.fill}, "
                f"padding_mode={self.padding_mode})")


class RandomCrop(_ImageTransform):
    """Crop a random (h, w) window, after optional padding (torchvision's order)."""

    def __init__(self, size, padding=None, pad_if_needed=False, fill=0, padding_mode="constant"):
        self.size = _setup_size(size, "Please provide only two dimensions (h, w) for size.")
        self._ltrb = None if padding is None else F._parse_padding(padding)
        F._check_padding_mode(padding_mode)
        self.padding, self.pad_if_needed = padding, pad_if_needed
        self.fill, self.padding_mode = fill, padding_mode

    @staticmethod
    def get_params(img, output_size):
        """(top, left, h, w) of a random crop of ``output_size`` (h, w) inside img."""
        _, h, w = F.get_dimensions(img)
        th, tw = output_size
        if h < th or w < tw:
            raise ValueError(f"Required crop size {(th, tw)} is larger than input image size "
                             f"{(h, w)}")
        if (h, w) == (th, tw):
            return 0, 0, h, w
        top, left = RandomCrop._draw(get_rng(), 1, h, w, th, tw)
        return int(top[0]), int(left[0]), th, tw

    @staticmethod
    def _draw(rng, n, h, w, th, tw):
        return rng.integers(0, h - th + 1, size=n), rng.integers(0, w - tw + 1, size=n)

    def _apply(self, x):
        if self._ltrb is not None:
            x = F_a.pad(x, self._ltrb, self.fill, self.padding_mode)
        th, tw = self.size
        h, w = x.shape[-2:]
        if self.pad_if_needed and w < tw:
            x = F_a.pad(x, (tw - w, 0, tw - w, 0), self.fill, self.padding_mode)
        if self.pad_if_needed and h < th:
            x = F_a.pad(x, (0, th - h, 0, th - h), self.fill, self.padding_mode)
        h, w = x.shape[-2:]
        if h < th or w < tw:
            raise ValueError(f"Required crop size {(th, tw)} is larger than input image size "
                             f"{(h, w)}")
        if (h, w) == (th, tw):
            return x
        top, left = self._draw(get_rng(), len(x), h, w, th, tw)
        return F_a.crop_windows(x, top, left, th, tw)

    def __repr__(self):
        return f"{self.__class__.__name__}(size={self.size}, padding={self.padding})"


class CenterCrop:
    """Crop the central (h, w) window; a crop larger than the image pads with 0."""

    _batched = True

    def __init__(self, size):
        self.size = _setup_size(size, "Please provide only two dimensions (h, w) for size.")

    def __call__(self, img):
        return F.center_crop(img, self.size)

    def __repr__(self):
        return f"{self.__class__.__name__}(size={self.size})"


class FiveCrop:
    """The four corner crops and the central crop: a tuple of 5 images (of 5 batches).

    Per-image code for a dataset (its result is a tuple, which the DataLoader
    collates into a list of batches), but it also crops a whole batch at once.
    """

    _batched = False

    def __init__(self, size):
        self.size = _setup_size(size, "Please provide only two dimensions (h, w) for size.")

    def __call__(self, img):
        return F.five_crop(img, self.size)

    def __repr__(self):
        return f"{self.__class__.__name__}(size={self.size})"


class TenCrop:
    """FiveCrop of the image and of its mirror image (vertical_flip: top-bottom)."""

    _batched = False

    def __init__(self, size, vertical_flip=False):
        self.size = _setup_size(size, "Please provide only two dimensions (h, w) for size.")
        self.vertical_flip = vertical_flip

    def __call__(self, img):
        return F.ten_crop(img, self.size, self.vertical_flip)

    def __repr__(self):
        return f"{self.__class__.__name__}(size={self.size}, vertical_flip={self.vertical_flip})"


class Resize:
    """Resize to (h, w), or match the smaller edge to ``size`` keeping the aspect ratio."""

    _batched = True

    def __init__(self, size, interpolation=InterpolationMode.BILINEAR, max_size=None,
                 antialias=True):
        if not isinstance(size, (int, Sequence)) or isinstance(size, bool):
            raise TypeError(f"Size should be int or sequence. Got {type(size)}")
        if isinstance(size, Sequence) and len(size) not in (1, 2):
            raise ValueError("If size is a sequence, it should have 1 or 2 values")
        self.size = size
        if isinstance(size, Sequence) and len(size) == 2 and max_size is not None:
            raise ValueError("max_size should only be passed if size specifies the length of the "
                             "smaller edge, i.e. size should be an int or a sequence of length 1")
        self.max_size = max_size
        self.interpolation = interpolation
        self._mode = F._interpolation(interpolation, F._RESIZE_MODES)
        self.antialias = antialias

    def __call__(self, img):
        return F.resize(img, self.size, self._mode, self.max_size, self.antialias)

    def __repr__(self):
        return (f"{self.__class__.__name__}(size={self.size}, interpolation="
                f"{self._mode}, max_size={self.max_size}, antialias={self.antialias})")


def _sample_boxes(rng, n, height, width, scale, ratio, erase):
    """Per image, torchvision's 10 tries at a box of random area and aspect ratio.

    RandomResizedCrop (erase=False): w = round(sqrt(area * ratio)) and the box
    must fit; RandomErasing (erase=True): h = round(sqrt(area * ratio)) and the
    box must be smaller than the image. Returns (top, left, h, w, found), all
    (n,); ``found`` is False where all 10 tries failed.
    """
    log_ratio = np.log(np.asarray(ratio, dtype=np.float64))
    area = height * width * rng.uniform(scale[0], scale[1], size=(n, 10))
    aspect = np.exp(rng.uniform(log_ratio[0], log_ratio[1], size=(n, 10)))
    long_side = np.rint(np.sqrt(area * aspect)).astype(np.intp)  # Python's round: half to even
    short_side = np.rint(np.sqrt(area / aspect)).astype(np.intp)
    h, w = (long_side, short_side) if erase else (short_side, long_side)
    fits = (h < height) & (w < width) if erase else \
        (0 < w) & (w <= width) & (0 < h) & (h <= height)
    first = np.argmax(fits, axis=1)
    found = fits.any(axis=1)
    rows = np.arange(n)
    h, w = np.where(found, h[rows, first], 0), np.where(found, w[rows, first], 0)
    top = rng.integers(0, height - h + 1)
    left = rng.integers(0, width - w + 1)
    return top, left, h, w, found


class RandomResizedCrop(_ImageTransform):
    """Crop a random box (area fraction in ``scale``, aspect ratio in ``ratio``) and resize it.

    torchvision's sampling per image: 10 tries with a log-uniform aspect ratio,
    then the central crop clamped to the ratio range.
    """

    def __init__(self, size, scale=(0.08, 1.0), ratio=(3.0 / 4.0, 4.0 / 3.0),
                 interpolation=InterpolationMode.BILINEAR, antialias=True):
        self.size = _setup_size(size, "Please provide only two dimensions (h, w) for size.")
        if not isinstance(scale, Sequence):
            raise TypeError("Scale should be a sequence")
        if not isinstance(ratio, Sequence):
            raise TypeError("Ratio should be a sequence")
        if (scale[0] > scale[1]) or (ratio[0] > ratio[1]):
            warnings.warn("Scale and ratio should be of kind (min, max)")
        if isinstance(interpolation, int) and not isinstance(interpolation, bool):
            interpolation = F._MODES_FROM_INT[interpolation]
        self.interpolation = interpolation
        self._mode = F._interpolation(interpolation, F._RESIZE_MODES)
        self.antialias = antialias
        self.scale = scale
        self.ratio = ratio

    @staticmethod
    def _draw(rng, n, height, width, scale, ratio):
        top, left, h, w, found = _sample_boxes(rng, n, height, width, scale, ratio, erase=False)
        if not found.all():  # torchvision's fallback: the central crop within the ratio range
            in_ratio = width / height
            if in_ratio < min(ratio):
                fw, fh = width, int(round(width / min(ratio)))
            elif in_ratio > max(ratio):
                fw, fh = int(round(height * max(ratio))), height
            else:
                fw, fh = width, height
            top = np.where(found, top, (height - fh) // 2)
            left = np.where(found, left, (width - fw) // 2)
            h, w = np.where(found, h, fh), np.where(found, w, fw)
        return top, left, h, w

    @staticmethod
    def get_params(img, scale, ratio):
        """(top, left, h, w) of a random resized crop of img."""
        _, height, width = F.get_dimensions(img)
        box = RandomResizedCrop._draw(get_rng(), 1, height, width, scale, ratio)
        return tuple(int(v[0]) for v in box)

    def _apply(self, x):
        n, _, height, width = x.shape
        top, left, h, w = self._draw(get_rng(), n, height, width, self.scale, self.ratio)
        return F_a.resized_crop(x, top, left, h, w, self.size[0], self.size[1], self._mode,
                                self.antialias)

    def __repr__(self):
        return (f"{self.__class__.__name__}(size={self.size}, "
                f"scale={tuple(round(s, 4) for s in self.scale)}, "
                f"ratio={tuple(round(r, 4) for r in self.ratio)}, "
                f"interpolation={self._mode}, antialias={self.antialias})")


# -- affine and perspective warps ------------------------------------------------------

class RandomRotation(_ImageTransform):
    """Rotate by an angle drawn uniformly from ``degrees`` (counter-clockwise)."""

    def __init__(self, degrees, interpolation=InterpolationMode.NEAREST, expand=False,
                 center=None, fill=0):
        self.degrees = _setup_angle(degrees, name="degrees", req_sizes=(2,))
        if center is not None:
            _check_sequence_input(center, "center", req_sizes=(2,))
        self.center = center
        self.interpolation = interpolation
        self._mode = F._interpolation(interpolation, F._WARP_MODES)
        self.expand = expand
        self.fill = _setup_fill(fill)

    @property
    def _batched(self):
        # with expand each angle has its own size: a dataset's batch path would stack
        # images of different sizes (a later Resize may make them equal again)
        return not self.expand

    @staticmethod
    def get_params(degrees):
        return float(get_rng().uniform(float(degrees[0]), float(degrees[1])))

    def _apply(self, x):
        n, c, h, w = x.shape
        angles = get_rng().uniform(self.degrees[0], self.degrees[1], size=n)
        center = F._center_offset(self.center, w, h)
        # torchvision's rotate passes -angle: positive angles turn counter-clockwise
        theta = F_a.inverse_affine(center, -angles, (0.0, 0.0), 1.0, (0.0, 0.0))
        ow, oh = w, h
        if self.expand:
            sizes = {F_a.affine_output_size(m, w, h) for m in theta}
            if len(sizes) > 1:
                raise ValueError("RandomRotation(expand=True) gives each angle its own output "
                                 "size, so a batch cannot be stacked: apply it to single images")
            ow, oh = sizes.pop()
        return F_a.warp_affine(x, theta, oh, ow, self._mode, self.fill)

    def __repr__(self):
        center = "" if self.center is None else f", center={self.center}"
        return (f"{self.__class__.__name__}(degrees={self.degrees}, interpolation={self._mode}, "
                f"expand={self.expand}{center}, fill={self.fill})")


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
        self._mode = F._interpolation(interpolation, F._WARP_MODES)
        self.fill = _setup_fill(fill)
        if center is not None:
            _check_sequence_input(center, "center", req_sizes=(2,))
        self.center = center

    @staticmethod
    def _draw(rng, n, degrees, translate, scale_ranges, shears, img_size):
        """(angle, tx, ty, scale, shear_x, shear_y), each (n,)."""
        w, h = img_size
        angle = rng.uniform(degrees[0], degrees[1], size=n)
        if translate is not None:
            max_dx, max_dy = float(translate[0] * w), float(translate[1] * h)
            tx = np.rint(rng.uniform(-max_dx, max_dx, size=n))
            ty = np.rint(rng.uniform(-max_dy, max_dy, size=n))
        else:
            tx = ty = np.zeros(n)
        scale = rng.uniform(scale_ranges[0], scale_ranges[1], size=n) \
            if scale_ranges is not None else np.ones(n)
        shear_x = shear_y = np.zeros(n)
        if shears is not None:
            shear_x = rng.uniform(shears[0], shears[1], size=n)
            if len(shears) == 4:
                shear_y = rng.uniform(shears[2], shears[3], size=n)
        return angle, tx, ty, scale, shear_x, shear_y

    @staticmethod
    def get_params(degrees, translate, scale_ranges, shears, img_size):
        """(angle, (tx, ty), scale, (shear_x, shear_y)) for one image; img_size is (w, h)."""
        angle, tx, ty, scale, sx, sy = (float(v[0]) for v in RandomAffine._draw(
            get_rng(), 1, degrees, translate, scale_ranges, shears, img_size))
        return angle, (int(tx), int(ty)), scale, (sx, sy)

    def _apply(self, x):
        n, c, h, w = x.shape
        angle, tx, ty, scale, shear_x, shear_y = self._draw(
            get_rng(), n, self.degrees, self.translate, self.scale, self.shear, (w, h))
        center = F._center_offset(self.center, w, h)
        theta = F_a.inverse_affine(center, angle, (tx, ty), scale, (shear_x, shear_y))
        return F_a.warp_affine(x, theta, h, w, self._mode, self.fill)

    def __repr__(self):
        parts = [f"degrees={self.degrees}"]
        for name in ("translate", "scale", "shear"):
            if getattr(self, name) is not None:
                parts.append(f"{name}={getattr(self, name)}")
        if self._mode != "nearest":
            parts.append(f"interpolation={self._mode}")
        if self.fill != 0:
            parts.append(f"fill={self.fill}")
        if self.center is not None:
            parts.append(f"center={self.center}")
        return f"{self.__class__.__name__}({', '.join(parts)})"


class RandomPerspective(_ImageTransform):
    """With probability p, move each corner inwards by up to distortion_scale * half the
    image size and warp the image to the new corners (torchvision's sampling)."""

    def __init__(self, distortion_scale=0.5, p=0.5, interpolation=InterpolationMode.BILINEAR,
                 fill=0):
        self.p = p
        if isinstance(interpolation, int) and not isinstance(interpolation, bool):
            interpolation = F._MODES_FROM_INT[interpolation]
        self.interpolation = interpolation
        self._mode = F._interpolation(interpolation, F._WARP_MODES)
        self.distortion_scale = distortion_scale
        self.fill = _setup_fill(fill)

    @staticmethod
    def _draw(rng, n, width, height, distortion_scale):
        """(startpoints, endpoints), each (n, 4, 2): corners [tl, tr, br, bl] as (x, y)."""
        dx = int(distortion_scale * (width // 2))
        dy = int(distortion_scale * (height // 2))

        def draw(low, high):
            return rng.integers(low, high, size=n)
        near_x, far_x = (0, dx + 1), (width - dx - 1, width)
        near_y, far_y = (0, dy + 1), (height - dy - 1, height)
        # torchvision's draw order: x then y of top-left, top-right, bottom-right, bottom-left
        corners = [(draw(*cx), draw(*cy)) for cx, cy in
                   ((near_x, near_y), (far_x, near_y), (far_x, far_y), (near_x, far_y))]
        end = np.stack([np.stack(p, axis=-1) for p in corners], axis=1)
        start = np.array([[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]])
        return np.broadcast_to(start, end.shape), end

    @staticmethod
    def get_params(width, height, distortion_scale):
        """(startpoints, endpoints) as lists of [x, y] for one image."""
        start, end = RandomPerspective._draw(get_rng(), 1, width, height, distortion_scale)
        return start[0].tolist(), end[0].tolist()

    def _apply(self, x):
        n, _, h, w = x.shape
        rng = get_rng()
        chosen = rng.random(n) < self.p
        start, end = self._draw(rng, n, w, h, self.distortion_scale)
        coeffs = F_a.perspective_coeffs(start[chosen], end[chosen])
        return _where_chosen(x, chosen,
                             lambda sub: F_a.warp_perspective(sub, coeffs, self._mode, self.fill))

    def __repr__(self):
        return f"{self.__class__.__name__}(p={self.p})"


# -- colour ------------------------------------------------------------------------------

class ColorJitter(_ImageTransform):
    """Random brightness, contrast, saturation and hue, applied in a random order.

    Each argument is a number v (factor from [max(0, 1 - v), 1 + v]; hue from
    [-v, v]) or a (min, max) pair. Every image gets its own order and factors.
    """

    def __init__(self, brightness=0, contrast=0, saturation=0, hue=0):
        self.brightness = self._check_input(brightness, "brightness")
        self.contrast = self._check_input(contrast, "contrast")
        self.saturation = self._check_input(saturation, "saturation")
        self.hue = self._check_input(hue, "hue", center=0, bound=(-0.5, 0.5),
                                     clip_first_on_zero=False)

    @staticmethod
    def _check_input(value, name, center=1, bound=(0, float("inf")), clip_first_on_zero=True):
        if isinstance(value, numbers.Number):
            if value < 0:
                raise ValueError(f"If {name} is a single number, it must be non negative.")
            value = [center - float(value), center + float(value)]
            if clip_first_on_zero:
                value[0] = max(value[0], 0.0)
        elif isinstance(value, (tuple, list)) and len(value) == 2:
            value = [float(value[0]), float(value[1])]
        else:
            raise TypeError(f"{name} should be a single number or a list/tuple with length 2.")
        if not bound[0] <= value[0] <= value[1] <= bound[1]:
            raise ValueError(f"{name} values should be between {bound}, but got {value}.")
        # 0 or (1, 1) for brightness/contrast/saturation, (0, 0) for hue: nothing to do
        if value[0] == value[1] == center:
            return None
        return tuple(value)

    @staticmethod
    def _draw(rng, n, ranges):
        """(orders (n, 4), [factors (n,) or None for each of b, c, s, h])."""
        orders = np.argsort(rng.random((n, 4)), axis=1)
        factors = [None if r is None else rng.uniform(r[0], r[1], size=n) for r in ranges]
        return orders, factors

    @staticmethod
    def get_params(brightness, contrast, saturation, hue):
        """(fn_idx, b, c, s, h): the order of the four adjustments and their factors."""
        orders, factors = ColorJitter._draw(get_rng(), 1, (brightness, contrast, saturation, hue))
        return (Tensor(orders[0]),) + tuple(None if f is None else float(f[0]) for f in factors)

    _KERNELS = (F_a.adjust_brightness, F_a.adjust_contrast, F_a.adjust_saturation, F_a.adjust_hue)

    def _apply(self, x):
        ranges = (self.brightness, self.contrast, self.saturation, self.hue)
        if all(r is None for r in ranges):
            return x
        F_a.check_channels(x, [1, 3])
        orders, factors = self._draw(get_rng(), len(x), ranges)
        for step in range(4):
            for fn_id, (kernel, factor) in enumerate(zip(self._KERNELS, factors)):
                if factor is None:
                    continue
                chosen = orders[:, step] == fn_id
                x = _where_chosen(x, chosen, lambda sub: kernel(sub, factor[chosen]))
        return x

    def __repr__(self):
        return (f"{self.__class__.__name__}(brightness={self.brightness}, "
                f"contrast={self.contrast}, saturation={self.saturation}, hue={self.hue})")


class Grayscale:
    """0.2989 R + 0.587 G + 0.114 B in 1 or 3 channels (see functional.rgb_to_grayscale)."""

    _batched = True

    def __init__(self, num_output_channels=1):
        self.num_output_channels = num_output_channels

    def __call__(self, img):
        return F.rgb_to_grayscale(img, num_output_channels=self.num_output_channels)

    def __repr__(self):
        return f"{self.__class__.__name__}(num_output_channels={self.num_output_channels})"


class RandomGrayscale(_RandomKernel):
    """With probability p (per image), grayscale with the image's own number of channels."""

    def __init__(self, p=0.1):
        self.p = p

    def _check(self, x):
        F_a.check_channels(x, [1, 3])

    @staticmethod
    def _kernel(x):
        if x.shape[1] == 1:
            return x.copy()
        return np.repeat(F_a.rgb_to_grayscale(x), 3, axis=1)


class RandomInvert(_RandomKernel):
    """With probability p, bound - x (255 - x for uint8, 1 - x for floats)."""

    def _check(self, x):
        F_a.check_channels(x, [1, 3])

    _kernel = staticmethod(F_a.invert)


class RandomPosterize(_RandomKernel):
    """With probability p, keep the top ``bits`` bits of each uint8 value."""

    def __init__(self, bits, p=0.5):
        self.bits = bits
        self.p = p

    def _check(self, x):
        if not (0 <= self.bits <= 8):
            raise ValueError(f"The number if bits should be between 0 and 8. Got {self.bits}")
        if x.dtype != np.uint8:
            raise TypeError(f"Only torch.uint8 image tensors are supported, but found {x.dtype}")
        F_a.check_channels(x, [1, 3])

    def _kernel(self, x):
        return F_a.posterize(x, self.bits)

    def __repr__(self):
        return f"{self.__class__.__name__}(bits={self.bits},p={self.p})"


class RandomSolarize(_RandomKernel):
    """With probability p, invert the values at or above ``threshold``."""

    def __init__(self, threshold, p=0.5):
        self.threshold = threshold
        self.p = p

    def _check(self, x):
        F_a.check_channels(x, [1, 3])
        if self.threshold > F_a.max_value(x.dtype):
            raise TypeError("Threshold should be less than bound of img.")

    def _kernel(self, x):
        return F_a.solarize(x, self.threshold)

    def __repr__(self):
        return f"{self.__class__.__name__}(threshold={self.threshold},p={self.p})"


class RandomAdjustSharpness(_RandomKernel):
    """With probability p, adjust_sharpness by ``sharpness_factor``."""

    def __init__(self, sharpness_factor, p=0.5):
        self.sharpness_factor = sharpness_factor
        self.p = p

    def _check(self, x):
        F._check_factor(self.sharpness_factor, "sharpness_factor")
        F_a.check_channels(x, [1, 3])

    def _kernel(self, x):
        return F_a.adjust_sharpness(x, self.sharpness_factor)

    def __repr__(self):
        return f"{self.__class__.__name__}(sharpness_factor={self.sharpness_factor},p={self.p})"


class RandomAutocontrast(_RandomKernel):
    """With probability p, stretch each channel to the full range."""

    def _check(self, x):
        F_a.check_channels(x, [1, 3])

    _kernel = staticmethod(F_a.autocontrast)


class RandomEqualize(_RandomKernel):
    """With probability p, equalise the histogram of each channel (uint8 images)."""

    def _check(self, x):
        if x.dtype != np.uint8:
            raise TypeError(f"Only torch.uint8 image tensors are supported, but found {x.dtype}")
        F_a.check_channels(x, [1, 3])

    _kernel = staticmethod(F_a.equalize)


# -- blurring and erasing ------------------------------------------------------------------

class GaussianBlur(_ImageTransform):
    """Gaussian blur with kernel_size (kx, ky) and a sigma drawn per image from ``sigma``."""

    def __init__(self, kernel_size, sigma=(0.1, 2.0)):
        self.kernel_size = _setup_size(kernel_size, "Kernel size should be a tuple/list of two "
                                                    "integers")
        for ks in self.kernel_size:
            if ks <= 0 or ks % 2 == 0:
                raise ValueError("Kernel size value should be an odd and positive number.")
        if isinstance(sigma, numbers.Number):
            if sigma <= 0:
                raise ValueError("If sigma is a single number, it must be positive.")
            sigma = (sigma, sigma)
        elif isinstance(sigma, Sequence) and len(sigma) == 2:
            if not 0.0 < sigma[0] <= sigma[1]:
                raise ValueError("sigma values should be positive and of the form (min, max).")
        else:
            raise ValueError("sigma should be a single number or a list/tuple with length 2.")
        self.sigma = sigma

    @staticmethod
    def get_params(sigma_min, sigma_max):
        return float(get_rng().uniform(sigma_min, sigma_max))

    def _apply(self, x):
        sigma = get_rng().uniform(self.sigma[0], self.sigma[1], size=len(x))
        return F_a.gaussian_blur(x, self.kernel_size, sigma, sigma)

    def __repr__(self):
        return f"{self.__class__.__name__}(kernel_size={self.kernel_size}, sigma={self.sigma})"


class RandomErasing:
    """With probability p, set a random box of each image (area fraction in ``scale``,
    aspect ratio in ``ratio``) to ``value``: a number, one per channel, or 'random'
    (standard normal values, for normalised float images)."""

    _batched = True

    def __init__(self, p=0.5, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=0, inplace=False):
        if not isinstance(value, (numbers.Number, str, tuple, list)):
            raise TypeError("Argument value should be either a number or str or a sequence")
        if isinstance(value, str) and value != "random":
            raise ValueError("If value is str, it should be 'random'")
        if not isinstance(scale, Sequence):
            raise TypeError("Scale should be a sequence")
        if not isinstance(ratio, Sequence):
            raise TypeError("Ratio should be a sequence")
        if (scale[0] > scale[1]) or (ratio[0] > ratio[1]):
            warnings.warn("Scale and ratio should be of kind (min, max)")
        if scale[0] < 0 or scale[1] > 1:
            raise ValueError("Scale should be between 0 and 1")
        if p < 0 or p > 1:
            raise ValueError("Random erasing probability should be between 0 and 1")
        self.p = p
        self.scale = scale
        self.ratio = ratio
        self.value = value
        self.inplace = inplace

    def _values(self, channels):
        """self.value as a list of floats (None for 'random'), checked against the channels."""
        if isinstance(self.value, str):
            return None
        value = [float(self.value)] if isinstance(self.value, numbers.Number) \
            else [float(v) for v in self.value]
        if len(value) not in (1, channels):
            raise ValueError(f"If value is a sequence, it should have either a single value or "
                             f"{channels} (number of input channels)")
        return value

    @staticmethod
    def get_params(img, scale, ratio, value=None):
        """(i, j, h, w, v) for one image: v is (C, h, w) normal noise if value is None, else
        the values as (len, 1, 1); (0, 0, H, W, img) when 10 tries found no box."""
        c, img_h, img_w = F.get_dimensions(img)
        rng = get_rng()
        top, left, h, w, found = _sample_boxes(rng, 1, img_h, img_w, scale, ratio, erase=True)
        if not found[0]:
            return 0, 0, img_h, img_w, img
        i, j, h, w = int(top[0]), int(left[0]), int(h[0]), int(w[0])
        v = rng.standard_normal((c, h, w), dtype=np.float32) if value is None \
            else np.asarray(value, dtype=np.float32)[:, None, None]
        return i, j, h, w, Tensor(v)

    def __call__(self, img):
        x, pack = F_a.unpack(img)
        n, c, h, w = x.shape
        value = self._values(c)
        rng = get_rng()
        chosen = rng.random(n) < self.p
        top, left, eh, ew, found = _sample_boxes(rng, n, h, w, self.scale, self.ratio, erase=True)
        chosen &= found
        if not chosen.any():
            return img if not F_a.is_pil_like(img) else pack(x)
        mask = F_a.box_mask(x.shape, top, left, eh, ew) & chosen[:, None, None, None]
        device_tensor = isinstance(img, Tensor) and img.array.__class__ is not np.ndarray
        writes_through = self.inplace and x.flags.writeable and not device_tensor
        out = x if writes_through else x.copy()
        if value is None:
            where = np.broadcast_to(mask, out.shape)
            noise = rng.standard_normal(int(where.sum()), dtype=np.float32)
            out[where] = F_a.cast_values(noise, out.dtype)
        else:
            fill = F_a.cast_values(np.asarray(value).reshape(1, -1, 1, 1), out.dtype)
            np.copyto(out, np.broadcast_to(fill, out.shape), where=mask)
        if writes_through:
            return img
        if self.inplace and device_tensor:  # copy the result back into the tensor's storage
            img.array[...] = pack(out).array
            return img
        return pack(out)

    def __repr__(self):
        return (f"{self.__class__.__name__}(p={self.p}, scale={self.scale}, ratio={self.ratio}, "
                f"value={self.value}, inplace={self.inplace})")
