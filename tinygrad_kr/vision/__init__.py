"""tinygrad_kr.vision: datasets, transforms and utils (make_grid, save_image), as torchvision's."""
from . import datasets, transforms, utils

__all__ = ["datasets", "transforms", "utils"]
