"""The preprocessing that pretrained classification weights expect
(torchvision's ``transforms._presets.ImageClassification``)."""
import numpy as np

from ...nn import Module
from ...tensor import Tensor
from .. import transforms as T

__all__ = ["ImageClassification"]


class ImageClassification(Module):
    """Resize the smaller edge to ``resize_size``, crop the central
    ``crop_size`` square, scale to [0, 1] and normalise with ``mean``/``std``.

    Accepts a PIL image (or a uint8 (H, W, C) array, our PIL-like layout), a
    (C, H, W) image or an (N, C, H, W) batch Tensor (uint8 or float); returns
    a float32 Tensor (C, crop, crop) or (N, C, crop, crop). Tensors are
    resized as torchvision resizes tensors (bilinear, antialiased); PIL
    images too, so their values can differ slightly from torchvision's, which
    resizes PIL images with PIL.
    """

    def __init__(self, *, crop_size, resize_size=256, mean=(0.485, 0.456, 0.406),
                 std=(0.229, 0.224, 0.225), interpolation=T.InterpolationMode.BILINEAR,
                 antialias=True):
        super().__init__()
        self.crop_size = [crop_size]
        self.resize_size = [resize_size]
        self.mean = list(mean)
        self.std = list(std)
        self.interpolation = interpolation
        self.antialias = antialias

    def forward(self, img):
        img = T.Resize(self.resize_size, interpolation=self.interpolation,
                       antialias=self.antialias)(img)
        img = T.CenterCrop(self.crop_size)(img)
        img = _to_float_tensor(img)
        return T.Normalize(mean=self.mean, std=self.std)(img)

    def __repr__(self):
        return (f"{self.__class__.__name__}(\n    crop_size={self.crop_size}\n    resize_size="
                f"{self.resize_size}\n    mean={self.mean}\n    std={self.std}\n    "
                f"interpolation={self.interpolation}\n)")

    def describe(self):
        return ("Accepts ``PIL.Image``, batched ``(B, C, H, W)`` and single ``(C, H, W)`` image "
                "``torch.Tensor`` objects. The images are resized to "
                f"``resize_size={self.resize_size}`` using ``interpolation={self.interpolation}``, "
                f"followed by a central crop of ``crop_size={self.crop_size}``. Finally the values "
                "are first rescaled to ``[0.0, 1.0]`` and then normalized using "
                f"``mean={self.mean}`` and ``std={self.std}``.")


def _to_float_tensor(img):
    """pil_to_tensor, then convert_image_dtype(float32): integer images are
    divided by their dtype's maximum (255 for uint8), float images kept."""
    if not isinstance(img, Tensor):
        arr = np.asarray(img)
        if arr.dtype == np.uint8:   # PIL-like: (H, W[, C]) or (N, H, W, C) -> channels first
            arr = arr[:, :, None] if arr.ndim == 2 else arr
            arr = arr.transpose(2, 0, 1) if arr.ndim == 3 else arr.transpose(0, 3, 1, 2)
        img = Tensor(np.ascontiguousarray(arr))
    kind = img.dtype.kind
    if kind == "f" or kind == "b":
        return img.float()
    return img.float() / float(np.iinfo(img.dtype).max)
