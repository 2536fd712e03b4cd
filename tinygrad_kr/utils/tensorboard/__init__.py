"""TensorBoard logging, as torch.utils.tensorboard: ``SummaryWriter`` writes event
files that ``tensorboard --logdir runs`` shows.

Needs the ``tensorboard`` package (``pip install "tinygrad_kr[tensorboard]"``),
imported when the first writer is made: this import works without it, and
``SummaryWriter(...)`` then raises an ImportError that says what to install.
"""
from .writer import FileWriter, SummaryWriter

__all__ = ["FileWriter", "SummaryWriter"]
