"""lenet5: LeNet-5 on MNIST and Fashion-MNIST, and a small residual network (course file 004).

The course report's LeNet-5: conv5x5(6) -> ReLU -> maxpool2 -> conv5x5(16) ->
ReLU -> maxpool2 -> fc120 -> ReLU -> fc84 -> ReLU -> fc10 (padding 2 on the
first convolution so a 28x28 digit works), trained at batch size 1 for one
epoch to 97%.  Runs:

* the course's setup: batch 1, one epoch, Adam at the report's lr 5e-4;
* batch 64, Adam lr 1e-3 with cosine decay over the run (CosineAnnealingLR,
  stepped per epoch), 10 epochs: >= 99% on MNIST;
* the same on Fashion-MNIST (when its IDX files are found);
* a ResNet-like model (residual blocks with BatchNorm, as in the report's
  "resnet") on MNIST, same recipe, fewer epochs.
"""
import time

import tinygrad_kr.optim as optim
from tinygrad_kr.experiments import common
from tinygrad_kr.experiments.models import LeNet5, SmallResNet

NAME = "lenet5"
HELP = "LeNet-5 on MNIST (and Fashion-MNIST when present) and a small residual network"
DEFAULTS = {"epochs": 10, "batch_size": 64, "lr": 0.001, "resnet_epochs": 3,
            "course_epochs": 1, "course_lr": 0.0005, "train_size": None, "test_size": None}
QUICK = {"epochs": 1, "resnet_epochs": 1, "train_size": 3000, "test_size": 1000}
ALL = {}
OPTION_HELP = {"epochs": "training epochs of LeNet-5 at --batch-size",
               "batch_size": "minibatch size (the course-setup run uses 1)",
               "lr": "Adam's initial learning rate (cosine-decayed to 0)",
               "resnet_epochs": "training epochs of the residual network",
               "course_epochs": "epochs of the course-setup run (batch 1, constant lr; 0: skip it)",
               "course_lr": "Adam's learning rate in the course-setup run"}


def _train(cfg, label, model, data, epochs, batch_size=None, lr=None, cosine=True):
    (x_train, y_train), (x_test, y_test) = data
    common.seed_everything(cfg.seed)
    model = model().to(cfg.device)
    optimizer = optim.Adam(model.parameters(), lr=lr or cfg.lr)
    # cosine decay to 0 over the run: the last epochs settle instead of bouncing around
    scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs) if cosine else None
    train_data = common.loader(x_train, y_train, batch_size or cfg.batch_size, shuffle=True,
                               seed=cfg.seed)
    start = time.time()
    h = common.fit(model, optimizer, train_data, epochs, cfg.device, label, scheduler=scheduler,
                   eval_data={"test": common.loader(x_test, y_test, 1000)})
    h["seconds_per_epoch"] = (time.time() - start) / epochs
    h["batch_size"] = batch_size or cfg.batch_size
    h["parameters"] = common.parameter_count(model)
    return h


def run(cfg, res):
    mnist = (common.mnist(cfg, True, cfg.train_size), common.mnist(cfg, False, cfg.test_size))
    runs = {}
    if cfg.course_epochs:
        runs["LeNet-5 / MNIST, batch 1 (course)"] = _train(
            cfg, "LeNet-5 MNIST batch 1", LeNet5, mnist, cfg.course_epochs, batch_size=1,
            lr=cfg.course_lr, cosine=False)
    runs["LeNet-5 / MNIST"] = _train(cfg, "LeNet-5 MNIST", LeNet5, mnist, cfg.epochs)
    fashion_train = common.fashion_mnist(cfg, True, cfg.train_size)
    if fashion_train is not None:
        fashion = (fashion_train, common.fashion_mnist(cfg, False, cfg.test_size))
        runs["LeNet-5 / Fashion-MNIST"] = _train(cfg, "LeNet-5 Fashion", LeNet5, fashion,
                                                 cfg.epochs)
    else:
        res.note("Fashion-MNIST was not found (looked in --fashion-dir, else "
                 f"{', '.join(common.FASHION_DIRS)}; Debian/Ubuntu: apt-get install "
                 "dataset-fashion-mnist), so its run was skipped.")
    runs["ResNet-like / MNIST"] = _train(cfg, "ResNet-like MNIST", SmallResNet, mnist,
                                         cfg.resnet_epochs)

    res.curves = runs
    res.metrics = {label: {"test_acc": h["test_acc"][-1], "test_acc_epoch1": h["test_acc"][0],
                           "train_running_acc": h["train_running_acc"][-1],
                           "epochs": len(h["test_acc"]), "batch_size": h["batch_size"],
                           "parameters": h["parameters"],
                           "seconds_per_epoch": h["seconds_per_epoch"]}
                   for label, h in runs.items()}
    res.table("Final test accuracy",
              ["model / data", "parameters", "batch", "epochs", "test acc after 1 epoch",
               "final test acc", "s/epoch"],
              [[label, h["parameters"], h["batch_size"], len(h["test_acc"]), h["test_acc"][0],
                h["test_acc"][-1], f"{h['seconds_per_epoch']:.1f}"] for label, h in runs.items()])
    curves = {label: h for label, h in runs.items() if len(h["test_acc"]) > 1}
    if curves:
        headers, rows = ["epoch"], []
        for label in curves:
            headers += [f"{label} train acc", f"{label} test acc"]
        for e in range(max(len(h["test_acc"]) for h in curves.values())):
            row = [e + 1]
            for h in curves.values():
                inside = e < len(h["test_acc"])
                row += [h["train_running_acc"][e] if inside else None,
                        h["test_acc"][e] if inside else None]
            rows.append(row)
        res.table("Accuracy per epoch (train: running accuracy during the epoch)", headers, rows)
    res.note("The course report: LeNet-5 reached 97% after one epoch at batch size 1 "
             "(60,000 updates). The other runs: batch "
             f"{cfg.batch_size}, Adam lr {cfg.lr:g} cosine-decayed to 0 over the run.")

    def draw(fig, axes):
        ax = axes[0][0]
        for label, h in runs.items():
            epochs_run = range(1, len(h["test_acc"]) + 1)
            if len(epochs_run) == 1:  # the course-setup run: one point
                ax.plot(epochs_run, h["test_acc"], marker="*", ms=12, ls="", label=f"{label} test")
                continue
            line, = ax.plot(epochs_run, h["test_acc"], marker="o", label=f"{label} test")
            ax.plot(epochs_run, h["train_running_acc"], ls="--", color=line.get_color(),
                    label=f"{label} train")
        ax.set(xlabel="epoch", ylabel="accuracy", title="LeNet-5 and a residual network")
        ax.legend(fontsize=8)

    res.plot("accuracy_curves.png", draw)
