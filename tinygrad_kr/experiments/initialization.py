"""initialization: N(0, 0.01^2) vs Xavier vs He on a deep MLP, ReLU and tanh (course file 003).

For each activation and initialisation the MLP 784-[100 x layers]-10 is
built, 1,000 (standardised) MNIST images are pushed through it and the
distribution of every hidden layer's activations is drawn — with std 0.01
they collapse towards 0 layer after layer (vanishing signal and gradients),
Xavier (std 1/sqrt(fan_in)-like, ``nn.init.xavier_normal_``) keeps tanh's
spread, He (``nn.init.kaiming_normal_``, std sqrt(2/fan_in)) keeps ReLU's.
Then each network is trained with SGD (lr 0.01, batch 128, as in "Deep
Learning from Scratch"'s weight-init comparison) and its loss curve drawn.
"""
import numpy as np

import tinygrad_kr as torch
import tinygrad_kr.nn as nn
import tinygrad_kr.optim as optim
from tinygrad_kr.experiments import common
from tinygrad_kr.experiments.models import MLP

NAME = "initialization"
HELP = "deep MLP: std 0.01 vs Xavier vs He with ReLU and tanh; activation histograms, loss curves"
DEFAULTS = {"layers": 5, "width": 100, "iterations": 2000, "batch_size": 128, "lr": 0.01,
            "train_size": None, "test_size": None}
QUICK = {"iterations": 100, "train_size": 5000, "test_size": 2000}
ALL = {}
OPTION_HELP = {"layers": "hidden layers", "width": "units per hidden layer"}

# MNIST pixel statistics: the inputs are standardized, as the init derivations assume
MEAN, STD = 0.1307, 0.3081


def init_weights(model, scheme):
    for linear in model.linears():
        if scheme == "std 0.01":
            nn.init.normal_(linear.weight, mean=0.0, std=0.01)
        elif scheme == "Xavier":
            nn.init.xavier_normal_(linear.weight)
        elif scheme == "He":
            nn.init.kaiming_normal_(linear.weight, nonlinearity="relu")
        else:
            raise ValueError(f"unknown initialisation {scheme!r}")
        nn.init.zeros_(linear.bias)


SCHEMES = ("std 0.01", "Xavier", "He")
ACTIVATIONS = ("relu", "tanh")


def run(cfg, res):
    rng = common.seed_everything(cfg.seed)
    x_train, y_train = common.mnist(cfg, train=True, size=cfg.train_size)
    x_test, y_test = common.mnist(cfg, train=False, size=cfg.test_size)
    x_train = ((x_train - MEAN) / STD).reshape(len(x_train), -1)
    x_test = ((x_test - MEAN) / STD).reshape(len(x_test), -1)
    probe = x_test[:1000].to(cfg.device)
    batches = rng.integers(0, len(y_train), size=(cfg.iterations, cfg.batch_size))
    hidden = (cfg.width,) * cfg.layers
    loss_fn = nn.CrossEntropyLoss()

    activations, stds, losses, accs = {}, {}, {}, {}
    for act in ACTIVATIONS:
        for scheme in SCHEMES:
            key = f"{act} / {scheme}"
            common.seed_everything(cfg.seed)
            model = MLP(hidden=hidden, activation=act)
            init_weights(model, scheme)
            model.to(cfg.device)
            with torch.no_grad():
                outs = [a.cpu().numpy().ravel() for a in model.hidden_activations(probe)]
            activations[key] = outs
            stds[key] = [float(a.std()) for a in outs]

            optimizer = optim.SGD(model.parameters(), lr=cfg.lr)
            curve = []
            for idx in common.progress(batches, key, leave=True):
                loss = loss_fn(model(x_train[idx].to(cfg.device)), y_train[idx].to(cfg.device))
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                curve.append(loss.item())
            losses[key] = curve
            accs[key] = common.evaluate(model, common.loader(x_test, y_test, 2000), cfg.device)[1]

    keys = list(losses)
    res.metrics = {k: {"activation_std": stds[k], "final_loss_mean_last_100":
                       float(np.mean(losses[k][-100:])), "test_acc": accs[k]} for k in keys}
    res.curves = {"loss": losses}
    res.table("Standard deviation of each hidden layer's activations at initialisation "
              "(1,000 test images)", ["activation / init"] + [f"layer {i + 1}" for i in
                                                                range(cfg.layers)],
              [[k] + stds[k] for k in keys], floatfmt=".3g")
    step = max(1, cfg.iterations // 10)
    marks = list(range(0, cfg.iterations, step)) + [cfg.iterations - 1]
    res.table(f"Training loss (minibatch, before the update) and test accuracy after "
              f"{cfg.iterations} iterations", ["activation / init"] +
              [f"it {i}" for i in marks] + ["test acc"],
              [[k] + [losses[k][i] for i in marks] + [accs[k]] for k in keys])

    def draw_hist(act):
        def draw(fig, axes):
            for r, scheme in enumerate(SCHEMES):
                outs = activations[f"{act} / {scheme}"]
                lo, hi = (-1, 1) if act == "tanh" else (0, max(float(np.percentile(o, 99.5))
                                                              for o in outs) or 1)
                for c, a in enumerate(outs):
                    ax = axes[r][c]
                    ax.hist(a, bins=30, range=(lo, hi))
                    ax.set_yticks([])
                    if r == 0:
                        ax.set_title(f"layer {c + 1}")
                    if c == 0:
                        ax.set_ylabel(scheme)
            fig.suptitle(f"{act}: hidden activations at initialisation")
        return draw

    for act in ACTIVATIONS:
        res.plot(f"activations_{act}.png", draw_hist(act), figsize=(2.4 * cfg.layers, 6),
                 nrows=len(SCHEMES), ncols=cfg.layers)

    def draw_loss(fig, axes):
        for ax, act in zip(axes[0], ACTIVATIONS):
            for scheme in SCHEMES:
                ax.plot(common.smooth_curve(losses[f"{act} / {scheme}"]), label=scheme)
            ax.set(xlabel="iterations", ylabel="loss (smoothed)", title=f"{act}", ylim=(0, 2.5))
            ax.legend()

    res.plot("loss_curves.png", draw_loss, figsize=(12, 5), ncols=2)
