"""torch.utils.data.dataloader's names; defined in the package (``__init__.py``)."""
from . import DataLoader, default_collate, default_convert, get_worker_info

__all__ = ["DataLoader", "get_worker_info", "default_collate", "default_convert"]
