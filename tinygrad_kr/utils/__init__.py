"""tinygrad_kr.utils: data loading (``utils.data``) and activation checkpointing
(``utils.checkpoint``), as ``torch.utils``."""
from . import checkpoint, data

__all__ = ["checkpoint", "data"]
