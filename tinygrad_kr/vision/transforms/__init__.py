"""Image transforms with torchvision's names and semantics, for one image or a whole batch.

    transform = transforms.Compose([transforms.RandomResizedCrop(24),
                                    transforms.ColorJitter(0.4, 0.4, 0.4, 0.1),
                                    transforms.ToTensor(),
                                    transforms.Normalize((0.1307,), (0.3081,))])

Layouts (a PIL image is any object ``np.asarray`` accepts; Pillow is needed
only by ToPILImage):

* Tensors, and numpy arrays that are not uint8, are tensor images:
  (C, H, W) for one image, (N, C, H, W) for a batch, (H, W) for one
  single-channel image.
* uint8 numpy arrays and PIL-like objects (PIL.Image included) are
  "PIL-like": (H, W) or (H, W, C) for one image, (N, H, W, C) for a batch.
  That is what the datasets return and what ``np.asarray(pil_image)`` gives.

Every transform returns the layout and type it was given (a PIL image comes
back as a PIL-like numpy array), except the conversions ToTensor,
PILToTensor, ConvertImageDtype and ToPILImage. Random transforms draw their
parameters from ``tinygrad_kr.random.get_rng()`` (so ``manual_seed`` makes
them repeatable) and, on a batch, draw separate parameters for each image in
one vectorised call (torchvision draws one set per call); a transform marks
that it takes batches with ``_batched = True`` (see ``supports_batches``).
They are data preprocessing: they work on the arrays and record no autograd
graph.

Arithmetic follows torchvision's tensor code, PIL-like input included:
rotation, affine and perspective warps use its inverse maps, pixel-centre
grids and grid_sample(align_corners=False) with its fill blending; Resize is
``F.interpolate`` with align_corners=False (antialias=True by default); the
colour adjustments blend in float32 and truncate back to uint8, hue goes
through its RGB <-> HSV code, GaussianBlur is its reflect-padded kernel (run
as a separable SciPy filter). ``functional`` holds the same operations as
functions, as ``torchvision.transforms.functional``.
"""
from . import functional
from ._functional_array import inverse_affine as _inverse_affine  # noqa: F401 (tests' names)
from ._functional_array import warp_affine as _warp  # noqa: F401
from .transforms import *  # noqa: F401,F403
from .transforms import __all__, supports_batches  # noqa: F401
