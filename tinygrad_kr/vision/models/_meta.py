"""The 1000 ImageNet-1K class names, in class-index order (torchvision's
``_IMAGENET_CATEGORIES``), read from the package data file
``imagenet_categories.txt`` (one name a line)."""
from importlib import resources

_IMAGENET_CATEGORIES = resources.files(__package__).joinpath(
    "imagenet_categories.txt").read_text(encoding="utf-8").splitlines()
