"""tinygrad_kr.nn: Module, Parameter, layers, losses; ``nn.functional`` and ``nn.init``.

``import tinygrad_kr.nn as nn`` and ``import tinygrad_kr.nn.functional as F``
give PyTorch's names and defaults."""
from . import functional, init, utils
from .modules import *  # noqa: F401,F403
from .modules import __all__ as _modules_all
from .parameter import Buffer, Parameter

__all__ = ["Parameter", "Buffer", "functional", "init", "utils", *_modules_all]
