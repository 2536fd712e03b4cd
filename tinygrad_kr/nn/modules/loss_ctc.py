"""CTCLoss (over nn/_ops_ctc.py), and NLLLoss2d, PyTorch's deprecated name
for NLLLoss (it warns when made, as PyTorch's)."""
import warnings

from .. import functional as F
from .loss import NLLLoss, _Loss

__all__ = ["CTCLoss", "NLLLoss2d"]


class CTCLoss(_Loss):
    """The connectionist temporal classification loss between (T, N, C)
    log-probabilities and unaligned target sequences (see F.ctc_loss)."""

    __constants__ = ["blank", "reduction"]

    def __init__(self, blank=0, reduction="mean", zero_infinity=False):
        super().__init__(reduction=reduction)
        self.blank = blank
        self.zero_infinity = zero_infinity

    def forward(self, log_probs, targets, input_lengths, target_lengths):
        return F.ctc_loss(log_probs, targets, input_lengths, target_lengths, self.blank,
                          self.reduction, self.zero_infinity)


class NLLLoss2d(NLLLoss):
    """NLLLoss under its old name (NLLLoss takes (N, C, H, W) input itself)."""

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None,
                 reduction="mean"):
        warnings.warn("`NLLLoss2d` has been deprecated. Please use `NLLLoss` instead as a "
                      "drop-in replacement and see https://pytorch.org/docs/main/nn.html"
                      "#torch.nn.NLLLoss for more details.", FutureWarning, stacklevel=2)
        super().__init__(weight, size_average, ignore_index, reduce, reduction)
