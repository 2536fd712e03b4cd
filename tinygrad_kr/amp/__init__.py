"""torch.amp: GradScaler (dynamic loss scaling) and autocast.

GradScaler is PyTorch's algorithm: the loss is multiplied by a scale before
backward, the gradients are divided by it before the optimizer step, a step
whose gradients hold an inf or NaN is skipped, and the scale backs off after
such a step and grows after ``growth_interval`` clean ones.  It works on any
gradients; with float32 ones it is a guard against overflowing gradients.

autocast is accepted and leaves the computation as written: the engine has no
reduced-precision (float16 / bfloat16) kernels, so a region that PyTorch
would run partly in float16 runs in the tensors' own dtypes here (a warning
says so once).  Results are then the float32 ones, not PyTorch's float16
roundings.
"""
from .autocast_mode import autocast
from .grad_scaler import GradScaler

__all__ = ["GradScaler", "autocast"]
