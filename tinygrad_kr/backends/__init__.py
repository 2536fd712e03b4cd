"""tinygrad_kr.backends: the switches PyTorch course code reads or sets.

    use_mps = torch.backends.mps.is_available()        # pytorch/examples mnist (2023-24)
    torch.backends.cudnn.benchmark = True              # imagenet example, many courses

There is no MPS backend and no cuDNN here: the queries answer False and the
flags are accepted and kept, with nothing to change.  (The engine's own
NumPy/CuPy dispatch is ``tinygrad_kr.backend``.)
"""
from . import cudnn, mps

__all__ = ["cudnn", "mps"]
