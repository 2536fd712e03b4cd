"""torch.utils.data.distributed's name; defined in the package (``__init__.py``)."""
from . import DistributedSampler

__all__ = ["DistributedSampler"]
