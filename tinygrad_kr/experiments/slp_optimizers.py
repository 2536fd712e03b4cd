"""slp-optimizers: SGD vs SGD+momentum vs Adam on the SLP (course file 000).

The same SLP, 15 epochs, batch 10 (``all``: 100, as in slp-schedules):
SGD lr 0.1, SGD lr 0.1 with momentum 0.9, Adam lr 0.1 (the course's run,
stuck near loss 1.0: far too large a step for Adam, whose update is ~lr per
weight whatever the gradient's size) and Adam lr 0.001 (its usual rate).
The course reports 0.8846 (SGD) and 0.8581 (momentum).
"""
import tinygrad_kr.optim as optim
from tinygrad_kr.experiments import slp

NAME = "slp-optimizers"
HELP = "SLP on MNIST: SGD vs SGD+momentum 0.9 vs Adam lr 0.1 vs Adam lr 0.001"
DEFAULTS = dict(slp.DEFAULTS, momentum=0.9, adam_lr=0.001)
QUICK, ALL = slp.QUICK, slp.ALL
check = slp.check
OPTION_HELP = {"lr": "learning rate of SGD, SGD+momentum and the first Adam run",
               "momentum": "momentum of the SGD+momentum run",
               "adam_lr": "learning rate of the second Adam run"}


def run(cfg, res):
    variants = {
        "sgd": (f"SGD {cfg.lr:g}", slp.sgd(cfg.lr), None),
        "momentum": (f"SGD {cfg.lr:g} + momentum {cfg.momentum:g}",
                     slp.sgd(cfg.lr, momentum=cfg.momentum), None),
    }
    for lr in dict.fromkeys((cfg.lr, cfg.adam_lr)):  # once if they are equal
        variants[f"adam_lr{lr:g}"] = (f"Adam {lr:g}", lambda p, lr=lr: optim.Adam(p, lr=lr), None)
    slp.run_variants(cfg, res, variants, "SGD, momentum and Adam")
