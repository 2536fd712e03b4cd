"""tinygrad_kr.utils: data loading (``tinygrad_kr.utils.data``), as ``torch.utils``."""
from . import data

__all__ = ["data"]
