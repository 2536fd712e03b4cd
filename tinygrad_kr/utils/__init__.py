"""tinygrad_kr.utils: data loading (``utils.data``) and activation checkpointing
(``utils.checkpoint``), as ``torch.utils``; ``utils.tensorboard`` and
``utils.benchmark`` are imported by name, as in PyTorch."""
from . import checkpoint, data

__all__ = ["checkpoint", "data"]
