"""tinygrad_kr.vision: datasets, models, transforms and utils (make_grid, save_image), as
torchvision's."""
from . import datasets, models, transforms, utils

__all__ = ["datasets", "models", "transforms", "utils"]
