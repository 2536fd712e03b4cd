"""optimizer-comparison: seven optimizers on one MLP (course files 001 and 003).

"Deep Learning from Scratch"'s setup (file 001): MultiLayerNet 784-100-100-
100-100-10 with ReLU and He initialisation (std sqrt(2 / fan_in), biases 0),
batch 128 drawn WITH replacement from the 60,000 training images, 2000
iterations (the loop runs i = 0..2000), and after each update the loss on the
same minibatch is logged — the noisy numbers the book prints every 100
iterations.  Its optimizers: SGD(0.01), Momentum(0.01, 0.9), AdaGrad(0.01),
RMSprop(0.01, decay 0.99), Adam(0.001); file 003 adds Nesterov and Adadelta.
Unlike the book, every optimizer starts from the SAME initial weights (one
state_dict, deep-copied) and sees the same minibatch sequence.  Their eps
follows the book (1e-7, added after the square root) where torch.optim's
formula is the book's.
"""
import copy

import numpy as np

import tinygrad_kr as torch
import tinygrad_kr.nn as nn
import tinygrad_kr.optim as optim
from tinygrad_kr.experiments import common
from tinygrad_kr.experiments.models import MLP

NAME = "optimizer-comparison"
HELP = ("MLP 784-100x4-10: SGD/Momentum/Nesterov/AdaGrad/RMSprop/Adadelta/Adam, "
        "same init and batches")
DEFAULTS = {"iterations": 2000, "batch_size": 128, "train_size": None, "test_size": None}
QUICK = {"iterations": 200, "train_size": 5000, "test_size": 2000}
ALL = {}

OPTIMIZERS = {
    "SGD": lambda p: optim.SGD(p, lr=0.01),
    "Momentum": lambda p: optim.SGD(p, lr=0.01, momentum=0.9),
    "Nesterov": lambda p: optim.SGD(p, lr=0.01, momentum=0.9, nesterov=True),
    "AdaGrad": lambda p: optim.Adagrad(p, lr=0.01, eps=1e-7),
    "RMSprop": lambda p: optim.RMSprop(p, lr=0.01, alpha=0.99, eps=1e-7),
    "Adadelta": lambda p: optim.Adadelta(p),  # lr 1.0, rho 0.9, eps 1e-6 (PyTorch's defaults)
    "Adam": lambda p: optim.Adam(p, lr=0.001),
}
#: the book's log at iteration 2000 (one minibatch: noisy)
COURSE_FINAL = {"SGD": 0.2230, "Momentum": 0.0590, "AdaGrad": 0.0296, "Adam": 0.0341,
                "RMSprop": 0.1544}
MARKERS = {"SGD": "o", "Momentum": "x", "Nesterov": "v", "AdaGrad": "s", "RMSprop": "p",
           "Adadelta": "^", "Adam": "D"}


def he_init(model):
    """The book's weight_init_std='relu': N(0, 2 / fan_in) for every Linear, zero biases."""
    for linear in model.linears():
        nn.init.normal_(linear.weight, mean=0.0, std=float(np.sqrt(2.0 / linear.in_features)))
        nn.init.zeros_(linear.bias)


def run(cfg, res):
    rng = common.seed_everything(cfg.seed)
    x_train, y_train = common.mnist(cfg, train=True, size=cfg.train_size)
    x_test, y_test = common.mnist(cfg, train=False, size=cfg.test_size)
    x_train, x_test = x_train.reshape(len(x_train), -1), x_test.reshape(len(x_test), -1)
    # one minibatch sequence for all optimizers: iterations + 1 draws, with replacement
    batches = rng.integers(0, len(y_train), size=(cfg.iterations + 1, cfg.batch_size))

    initial = MLP(hidden=(100, 100, 100, 100))
    he_init(initial)
    initial_state = copy.deepcopy(initial.state_dict())
    loss_fn = nn.CrossEntropyLoss()

    losses, summary = {}, {}
    for name, make_optimizer in OPTIMIZERS.items():
        model = MLP(hidden=(100, 100, 100, 100))
        model.load_state_dict(copy.deepcopy(initial_state))
        model.to(cfg.device)
        optimizer = make_optimizer(model.parameters())
        curve = []
        for idx in common.progress(batches, name, leave=True):
            x = x_train[idx].to(cfg.device)
            y = y_train[idx].to(cfg.device)
            loss = loss_fn(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            with torch.no_grad():  # the book logs the loss after the update, on the same batch
                curve.append(loss_fn(model(x), y).item())
        losses[name] = curve
        train_loss, train_acc = common.evaluate(model, common.loader(x_train, y_train, 2000),
                                                cfg.device)
        test_loss, test_acc = common.evaluate(model, common.loader(x_test, y_test, 2000),
                                              cfg.device)
        summary[name] = {"final_minibatch_loss": curve[-1],
                         "final_smoothed_loss": float(common.smooth_curve(curve)[-1]),
                         "mean_loss_last_100": float(np.mean(curve[-100:])),
                         "train_loss": train_loss, "train_acc": train_acc,
                         "test_loss": test_loss, "test_acc": test_acc,
                         "course_final_loss": COURSE_FINAL.get(name)}

    res.metrics = summary
    res.curves = {"minibatch_loss": losses, "batches_seed": cfg.seed}
    names = list(OPTIMIZERS)
    res.table("Minibatch loss after the update, every 100 iterations (the book's log format)",
              ["iteration"] + names,
              [[i] + [losses[n][i] for n in names] for i in range(0, cfg.iterations + 1, 100)])
    res.table(f"After {cfg.iterations} iterations",
              ["optimizer", f"minibatch loss @{cfg.iterations}", "mean of last 100",
               "full train loss", "train acc", "test acc", "book @2000"],
              [[n, s["final_minibatch_loss"], s["mean_loss_last_100"], s["train_loss"],
                s["train_acc"], s["test_acc"], s["course_final_loss"]] for n, s in summary.items()])
    res.note("The book's value is one minibatch's loss at iteration 2000 from its own random "
             "initial weights; the mean of the last 100 minibatch losses and the loss over the "
             "whole training set are steadier numbers to compare optimizers by.")

    def draw(fig, axes):
        ax = axes[0][0]
        steps = np.arange(cfg.iterations + 1)
        for n in names:
            ax.plot(steps, common.smooth_curve(losses[n]), marker=MARKERS[n],
                    markevery=max(1, cfg.iterations // 20), label=n)
        ax.set(xlabel="iterations", ylabel="loss (smoothed)", ylim=(0, 1),
               title="Training loss, MLP 784-100x4-10, batch 128")
        ax.legend()

    res.plot("loss_curves.png", draw, figsize=(12, 8))
