"""torch.utils.data.dataset's names; defined in the package (``__init__.py``)."""
from . import (ChainDataset, ConcatDataset, Dataset, IterableDataset, StackDataset, Subset,
               TensorDataset, random_split)

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "StackDataset", "ConcatDataset",
           "ChainDataset", "Subset", "random_split"]
