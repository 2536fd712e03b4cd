"""regularization: fighting overfitting on a deliberately small data set (course file 003).

A random 2,000-image subset of MNIST is split 6:2:2 into train / validation /
test (``random_split``) and an over-capacity MLP (784-512-512-10, ~670k
weights for 1,200 training images) is trained with

* nothing (baseline),
* L2: ``weight_decay`` in the optimizer (the course's way: SGD's weight_decay),
* L1: lambda * sum |W| added to the loss,
* dropout after each hidden layer,
* data augmentation: RandomRotation, RandomAffine translation, RandomCrop
  with padding (``--flip`` adds RandomHorizontalFlip, which mostly hurts on digits),
* batch normalization after each hidden Linear.

Where a method has a strength (lambda, p), each candidate is trained and the
one with the lowest validation error is kept: the validation split chooses,
the test split only reports.  Errors are measured in eval mode on clean
images (``train_eval``: the training split without augmentation or dropout);
generalization gap = test error - train error.
"""
import numpy as np

import tinygrad_kr.optim as optim
from tinygrad_kr.experiments import common
from tinygrad_kr.experiments.models import MLP
from tinygrad_kr.utils.data import DataLoader, Subset, random_split
from tinygrad_kr.vision import transforms

NAME = "regularization"
HELP = "small-data MLP: baseline vs L2 vs L1 vs dropout vs augmentation vs batch norm"
DEFAULTS = {"subset": 2000, "epochs": 60, "batch_size": 32, "lr": 0.01, "hidden": 512,
            "flip": False}
QUICK = {"subset": 600, "epochs": 3}
ALL = {}
OPTION_HELP = {"subset": "images drawn from MNIST's training set, split 6:2:2",
               "hidden": "width of the two hidden layers",
               "flip": "add RandomHorizontalFlip to the augmentation"}

L2_CANDIDATES = (1e-3, 5e-3, 2e-2)
L1_CANDIDATES = (1e-5, 1e-4, 1e-3)
DROPOUT_CANDIDATES = (0.2, 0.5)


def check(cfg):
    if cfg.subset < 5:  # 6:2:2 leaves a split empty below 5 images
        raise common.UsageError(f"--subset must be at least 5 (got {cfg.subset}): it is split "
                                f"6:2:2 into training, validation and test images")


def augmentation(flip):
    """Small rotations, shifts and crops (a digit flipped is mostly another symbol)."""
    steps = [transforms.RandomRotation(10),
             transforms.RandomAffine(degrees=0, translate=(0.1, 0.1)),
             transforms.RandomCrop(28, padding=2)]
    if flip:
        steps.append(transforms.RandomHorizontalFlip())
    return transforms.Compose(steps + [transforms.ToTensor()])


def l1_penalty(strength):
    def penalty(model):
        return strength * sum(m.weight.abs().sum() for m in model.linears())
    return penalty


def run(cfg, res):
    mnist = common.dataset(cfg, train=True, transform=transforms.ToTensor())
    subset = common.subset_indices(len(mnist), cfg.subset, cfg.seed)
    splits = random_split(Subset(mnist, subset), [0.6, 0.2, 0.2],
                          generator=common.generator(cfg.seed))
    train_set, val_set, test_set = splits
    # the same training images, augmented afresh each time they are drawn
    augmented = common.dataset(cfg, train=True, transform=augmentation(cfg.flip))
    augmented_train_set = Subset(augmented, [int(subset[i]) for i in train_set.indices])
    evals = {name: DataLoader(s, batch_size=500) for name, s in
             zip(("train_eval", "val", "test"), splits)}
    hidden = (cfg.hidden, cfg.hidden)

    def train(label, model_kwargs=None, weight_decay=0.0, penalty=None, dataset=None):
        common.seed_everything(cfg.seed)
        model = MLP(hidden=hidden, **(model_kwargs or {})).to(cfg.device)
        optimizer = optim.SGD(model.parameters(), lr=cfg.lr, momentum=0.9,
                              weight_decay=weight_decay)
        data = DataLoader(dataset or train_set, batch_size=cfg.batch_size, shuffle=True,
                          generator=common.generator(cfg.seed))
        return common.fit(model, optimizer, data, cfg.epochs, cfg.device, label,
                          eval_data=evals, penalty=penalty)

    candidates = {  # method -> [(strength label, history)]
        "baseline": [("—", train("baseline"))],
        "L2 (weight_decay)": [(f"{wd:g}", train(f"L2 {wd:g}", weight_decay=wd))
                              for wd in L2_CANDIDATES],
        "L1 (loss penalty)": [(f"{lam:g}", train(f"L1 {lam:g}", penalty=l1_penalty(lam)))
                              for lam in L1_CANDIDATES],
        "dropout": [(f"p={p:g}", train(f"dropout {p:g}", {"dropout": p}))
                    for p in DROPOUT_CANDIDATES],
        "augmentation": [("flip" if cfg.flip else "—",
                          train("augmentation", dataset=augmented_train_set))],
        "batch norm": [("—", train("batch norm", {"batch_norm": True}))],
    }

    def errors(h):
        return {s: 1.0 - h[f"{key}_acc"][-1] for s, key in
                (("train", "train_eval"), ("val", "val"), ("test", "test"))}

    chosen, sweep_rows = {}, []
    for method, runs in candidates.items():
        best = min(runs, key=lambda r: errors(r[1])["val"])
        chosen[method] = best
        for strength, h in runs:
            e = errors(h)
            sweep_rows.append([method, strength, e["train"], e["val"], e["test"],
                               "yes" if h is best[1] else ""])
    rows = []
    for method, (strength, h) in chosen.items():
        e = errors(h)
        best_epoch = int(np.argmin(h["val_loss"]))
        rows.append([method, strength, e["train"], e["val"], e["test"], e["test"] - e["train"],
                     best_epoch + 1, 1.0 - h["test_acc"][best_epoch]])
        res.metrics[method] = {"strength": strength, "train_error": e["train"],
                               "val_error": e["val"], "test_error": e["test"],
                               "gap": e["test"] - e["train"], "best_val_loss_epoch": best_epoch + 1}
    res.curves = {method: dict(runs) for method, runs in candidates.items()}
    res.table(f"Errors after {cfg.epochs} epochs ({len(train_set)}/{len(val_set)}/{len(test_set)} "
              "train/val/test images; strength chosen on validation)",
              ["method", "strength", "train err", "val err", "test err", "gap (test-train)",
               "epoch of min val loss", "test err there"], rows)
    res.table("Every candidate strength", ["method", "strength", "train err", "val err",
                                           "test err", "chosen"], sweep_rows)

    def draw(fig, axes):
        ax_loss, ax_err = axes[0]
        for method, (strength, h) in chosen.items():
            epochs = range(1, len(h["val_loss"]) + 1)
            line, = ax_loss.plot(epochs, h["val_loss"], label=f"{method} val")
            ax_loss.plot(epochs, h["train_loss"], ls=":", color=line.get_color())
            ax_err.plot(epochs, [1 - a for a in h["val_acc"]], color=line.get_color(),
                        label=method)
        ax_loss.set(xlabel="epoch", ylabel="loss", yscale="log",
                    title="Validation loss (solid), training loss (dotted)")
        ax_err.set(xlabel="epoch", ylabel="validation error", title="Validation error")
        ax_loss.legend(fontsize=8)
        ax_err.legend(fontsize=8)

    res.plot("learning_curves.png", draw, figsize=(13, 5), ncols=2)
