"""slp-schedules: a fixed learning rate vs StepLR vs ExponentialLR on the SLP (course file 000).

SGD lr 0.1, 15 epochs, batch 10 (``all``: 100, the batch size of the
course's logs, see ``slp``); StepLR(step_size=5, gamma=0.5) halves the
rate every 5 epochs, ExponentialLR(gamma=0.8) multiplies it by 0.8 every epoch.
The course reports test accuracy 0.8846 (fixed) and 0.8976 (StepLR).
"""
import tinygrad_kr.optim as optim
from tinygrad_kr.experiments import slp

NAME = "slp-schedules"
HELP = "SLP on MNIST: fixed LR vs StepLR(5, 0.5) vs ExponentialLR(0.8)"
DEFAULTS, QUICK, ALL = slp.DEFAULTS, slp.QUICK, slp.ALL
check = slp.check


def run(cfg, res):
    variants = {
        "fixed": (f"fixed LR {cfg.lr:g}", slp.sgd(cfg.lr), None),
        "steplr": ("StepLR(5, 0.5)", slp.sgd(cfg.lr),
                   lambda opt: optim.lr_scheduler.StepLR(opt, step_size=5, gamma=0.5)),
        "exponentiallr": ("ExponentialLR(0.8)", slp.sgd(cfg.lr),
                          lambda opt: optim.lr_scheduler.ExponentialLR(opt, gamma=0.8)),
    }
    slp.run_variants(cfg, res, variants, "SGD with and without learning-rate control")
