"""lr-schedulers: the learning rate each scheduler gives, epoch by epoch (course file 002).

StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR, LinearLR and
OneCycleLR are stepped once per epoch on an SGD optimizer (lr 0.1) and their
learning rates recorded; the course's closed forms, e.g. cosine
lr_t = eta_min + (lr_0 - eta_min)(1 + cos(pi t / T)) / 2 and linear
lr_t = lr_0 (1 - t / T), are printed beside them.  ReduceLROnPlateau is
driven by a real validation loss: a 784-100-10 MLP trained on a small MNIST
subset (it starts to overfit, the validation loss stops improving, and the
rate is cut).
"""
import math

import tinygrad_kr as torch
import tinygrad_kr.optim as optim
from tinygrad_kr.experiments import common
from tinygrad_kr.experiments.models import MLP
from tinygrad_kr.optim import lr_scheduler

NAME = "lr-schedulers"
HELP = "learning-rate curves of StepLR ... OneCycleLR and ReduceLROnPlateau on a real val loss"
DEFAULTS = {"epochs": 40, "lr": 0.1, "batch_size": 32, "train_size": 2000, "patience": 3,
            "factor": 0.5}
QUICK = {"epochs": 12, "train_size": 600}
ALL = {}
OPTION_HELP = {"train_size": "MNIST images for ReduceLROnPlateau's model (split 1:1 train/val)",
               "patience": "ReduceLROnPlateau patience", "factor": "ReduceLROnPlateau factor"}


def check(cfg):
    if cfg.epochs < 4:  # StepLR steps every epochs // 4 epochs
        raise common.UsageError(f"--epochs must be at least 4 (got {cfg.epochs}): StepLR and "
                                f"MultiStepLR step at quarters of the run")
    if cfg.train_size < 2:
        raise common.UsageError(f"--train-size must be at least 2 (got {cfg.train_size}): it is "
                                f"split 1:1 into training and validation images")


def schedulers(epochs):
    """name -> (constructor keyword arguments, make(optimizer), closed form lr(t, lr0))."""
    T = epochs
    milestones = [T // 4, T // 2, 3 * T // 4]
    eta_min = 0.001

    def one_cycle(t, lr0, pct_start=0.3, div=25.0, final_div=1e4):
        initial, low = lr0 / div, lr0 / div / final_div
        warm_end = pct_start * T - 1
        if t <= warm_end:
            start, end, pct = initial, lr0, t / warm_end
        else:
            start, end, pct = lr0, low, (t - warm_end) / (T - 1 - warm_end)
        return end + (start - end) / 2 * (math.cos(math.pi * pct) + 1)

    return {
        "StepLR": ({"step_size": T // 4, "gamma": 0.5},
                   lambda o: lr_scheduler.StepLR(o, step_size=T // 4, gamma=0.5),
                   lambda t, lr0: lr0 * 0.5 ** (t // (T // 4))),
        "MultiStepLR": ({"milestones": milestones, "gamma": 0.3},
                        lambda o: lr_scheduler.MultiStepLR(o, milestones=milestones, gamma=0.3),
                        lambda t, lr0: lr0 * 0.3 ** sum(t >= m for m in milestones)),
        "ExponentialLR": ({"gamma": 0.9}, lambda o: lr_scheduler.ExponentialLR(o, gamma=0.9),
                          lambda t, lr0: lr0 * 0.9 ** t),
        "CosineAnnealingLR": ({"T_max": T, "eta_min": eta_min},
                              lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=T, eta_min=eta_min),
                              lambda t, lr0: eta_min + (lr0 - eta_min)
                              * (1 + math.cos(math.pi * t / T)) / 2),
        "LinearLR": ({"start_factor": 1.0, "end_factor": 0.0, "total_iters": T},
                     lambda o: lr_scheduler.LinearLR(o, start_factor=1.0, end_factor=0.0,
                                                     total_iters=T),
                     lambda t, lr0: lr0 * (1 - min(t, T) / T)),
        "OneCycleLR": ({"max_lr": "lr", "total_steps": T},
                       lambda o: lr_scheduler.OneCycleLR(o, max_lr=o.param_groups[0]["lr"],
                                                         total_steps=T),
                       one_cycle),
    }


def lr_curve(make, lr, epochs):
    """The lr of each epoch, read before its scheduler.step(), as a training loop sees it."""
    param = torch.zeros(1, requires_grad=True)
    optimizer = optim.SGD([param], lr=lr, momentum=0.9)
    scheduler = make(optimizer)
    lrs = []
    for _ in range(epochs):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return lrs


def plateau_run(cfg):
    """Train a small MLP, stepping ReduceLROnPlateau with the validation loss after each epoch."""
    x, y = common.mnist(cfg, train=True, size=cfg.train_size)
    half = len(y) // 2
    train_data = common.loader(x[:half], y[:half], cfg.batch_size, shuffle=True, seed=cfg.seed)
    val_data = common.loader(x[half:], y[half:], 1000)
    common.seed_everything(cfg.seed)
    model = MLP(hidden=(100,)).to(cfg.device)
    optimizer = optim.SGD(model.parameters(), lr=cfg.lr, momentum=0.9)
    scheduler = lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=cfg.factor,
                                               patience=cfg.patience)
    return common.fit(model, optimizer, train_data, cfg.epochs, cfg.device, "ReduceLROnPlateau",
                      scheduler=scheduler, eval_data={"val": val_data}, plateau_on="val_loss")


def run(cfg, res):
    specs = schedulers(cfg.epochs)
    curves = {name: lr_curve(make, cfg.lr, cfg.epochs) for name, (_, make, _) in specs.items()}
    closed = {name: [form(t, cfg.lr) for t in range(cfg.epochs)]
              for name, (_, _, form) in specs.items()}
    plateau = plateau_run(cfg)
    curves["ReduceLROnPlateau"] = plateau["lr"]

    res.curves = {"lr": curves, "closed_form": closed, "plateau_val_loss": plateau["val_loss"],
                  "plateau_train_loss": plateau["train_loss"]}
    res.metrics = {"config": {name: kwargs for name, (kwargs, _, _) in specs.items()},
                   "plateau": {"mode": "min", "factor": cfg.factor, "patience": cfg.patience,
                               "threshold": 1e-4, "threshold_mode": "rel", "cooldown": 0,
                               "min_lr": 0.0},
                   "max_abs_deviation_from_closed_form": {
                       name: max(abs(a - b) for a, b in zip(curves[name], closed[name]))
                       for name in closed},
                   "lr0": cfg.lr, "epochs": cfg.epochs}
    names = list(curves)
    res.table("Learning rate used in each epoch (lr_0 = %g)" % cfg.lr,
              ["epoch"] + names + ["plateau val loss"],
              [[t] + [curves[n][t] for n in names] + [plateau["val_loss"][t]]
               for t in range(cfg.epochs)], floatfmt=".5g")
    res.table("Settings and the largest difference from the closed form",
              ["scheduler", "settings", "largest difference from the closed form"],
              [[n, ", ".join(f"{k}={v}" for k, v in specs[n][0].items()),
                f"{res.metrics['max_abs_deviation_from_closed_form'][n]:.1e}"] for n in specs] +
              [["ReduceLROnPlateau", f"factor={cfg.factor}, patience={cfg.patience}, "
                "mode=min, on the validation loss", "(data-driven)"]])

    def draw(fig, axes):
        ax, ax_val = axes[0]
        epochs = range(cfg.epochs)
        for n in names:  # the rate is constant within an epoch: draw steps
            ax.step(epochs, curves[n], where="post", marker=".", label=n)
        ax.set(xlabel="epoch", ylabel="learning rate", title="Learning-rate schedules")
        ax.legend(fontsize=8)
        ax_val.plot(epochs, plateau["val_loss"], color="k", label="validation loss")
        ax_val.plot(epochs, plateau["train_loss"], color="gray", ls=":", label="training loss")
        ax_val.set(xlabel="epoch", ylabel="loss", title="ReduceLROnPlateau on a validation loss")
        ax_lr = ax_val.twinx()
        ax_lr.step(epochs, curves["ReduceLROnPlateau"], where="post", color="C6",
                   label="learning rate (right axis)")
        ax_lr.set_ylabel("learning rate")
        handles = ax_val.get_legend_handles_labels()[0] + ax_lr.get_legend_handles_labels()[0]
        ax_val.legend(handles=handles, loc="upper right", fontsize=8)

    res.plot("lr_curves.png", draw, figsize=(13, 5), ncols=2)
