"""torch.optim: optimizers and learning-rate schedulers."""
from .optimizer import Optimizer
from .sgd import SGD
from .adagrad import Adagrad
from .rmsprop import RMSprop
from .adadelta import Adadelta
from .adam import Adam, AdamW
from .adamax import Adamax
from .nadam import NAdam
from .radam import RAdam
from .asgd import ASGD
from .rprop import Rprop
from .lbfgs import LBFGS
from .sparse_adam import SparseAdam
from .adafactor import Adafactor
from .muon import Muon
from . import lr_scheduler, swa_utils

__all__ = ["Optimizer", "SGD", "Adagrad", "RMSprop", "Adadelta", "Adam", "AdamW", "Adamax",
           "NAdam", "RAdam", "ASGD", "Rprop", "LBFGS", "SparseAdam", "Adafactor", "Muon",
           "lr_scheduler", "swa_utils"]
