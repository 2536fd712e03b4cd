"""Differences between the PyTorch versions the parity tests may meet.

PyTorch 2.13 added ``bias=`` to the batch-norm and group-norm layers and
prints it in every norm layer's repr (LayerNorm took it before, unprinted);
the engine follows 2.13.  Older versions (the GPU machines carry 2.11) print
no ``bias=`` and cannot build a batch or group norm without one.
"""
import inspect
import re


def batchnorm_has_bias(torch):
    return "bias" in inspect.signature(torch.nn.BatchNorm1d.__init__).parameters


def as_torch_repr(ours, torch):
    """repr(ours) as this PyTorch version would print the same model."""
    text = repr(ours)
    if not batchnorm_has_bias(torch):
        text = re.sub(r"(affine=(?:True|False)), bias=(?:True|False)", r"\1", text)
    return text
