"""Plumbing every course experiment shares, written once.

An experiment is a module that defines

    NAME        the command name (``python -m tinygrad_kr.experiments NAME``)
    HELP        one line for ``--help``
    DEFAULTS    its option values, the course's setup where there is one
                (every key becomes a command-line option: ``batch_size`` -> ``--batch-size``)
    QUICK       the values ``--quick`` switches to: a small run for the tests
    ALL         the values ``all`` uses where the course's setup would take too long
    OPTION_HELP help text of its own options (optional)
    run(cfg, res)   trains and fills ``res`` (a :class:`Results`)

and this module gives it the data (:func:`mnist`), the training loop
(:func:`train_epoch`, :func:`evaluate`), progress bars (:func:`progress`),
figures (:meth:`Results.plot`) and the saved outputs (results.json,
results.md, PNG files in ``--out``).
"""
import importlib
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

import tinygrad_kr as torch
import tinygrad_kr.nn as nn
from tinygrad_kr.utils.data import DataLoader, TensorDataset

EXTRA_HINT = 'pip install "tinygrad_kr[experiments]"'

#: help text of the options that several experiments share
OPTION_HELP = {
    "epochs": "training epochs",
    "batch_size": "minibatch size",
    "lr": "learning rate",
    "iterations": "training iterations (minibatch updates)",
    "train_size": "use a random subset of this many training images",
    "test_size": "use a random subset of this many test images",
}


class MissingDependency(RuntimeError):
    """An optional package the experiments need is not installed."""


class UsageError(ValueError):
    """An option value or data file the experiment cannot work with (the command line says
    which and exits with status 2, as for a bad option)."""


#: what each option must be, where not "a positive integer" / "a positive number"
OPTION_LIMITS = {
    "course_epochs": (lambda v: v >= 0, "an integer >= 0"),
    "patience": (lambda v: v >= 0, "an integer >= 0"),
    "momentum": (lambda v: v >= 0, "a number >= 0"),
    "factor": (lambda v: 0 < v < 1, "a number in (0, 1)"),
}


def option_limit(key, kind):
    """``(accepts(value), description)`` of option ``key`` holding ``kind`` (int or float)."""
    if key in OPTION_LIMITS:
        return OPTION_LIMITS[key]
    if kind is int:
        return (lambda v: v >= 1), "a positive integer"
    return (lambda v: v > 0), "a positive number"


def require(module, hint=EXTRA_HINT):
    """Import an optional dependency or say which one is missing and how to get it."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise MissingDependency(
            f"the course experiments need the '{module}' package: {hint}") from e


def progress(iterable, desc, total=None, leave=False):
    """A tqdm bar (``TQDM_DISABLE=1`` turns them all off)."""
    tqdm = require("tqdm").tqdm
    return tqdm(iterable, desc=desc, total=total, leave=leave, dynamic_ncols=True,
                mininterval=0.5, file=sys.stderr)


def seed_everything(seed):
    """Seed the engine's default generator; return a NumPy generator for the rest."""
    torch.manual_seed(seed)
    return np.random.default_rng(seed)


def generator(seed):
    return torch.Generator().manual_seed(seed)


# -- data ---------------------------------------------------------------------------

FASHION_DIRS = ("/usr/share/datasets/fashion-mnist",)
DEFAULT_DATA_DIR = "data"


def dataset(cfg, train, transform=None, fashion=False):
    """``vision.datasets.MNIST`` (or FashionMNIST) from ``cfg.data_dir`` or the offline copy.

    Nothing is downloaded: without IDX files in ``--data-dir`` the MNIST copy
    of the ``experiments`` extra is read (Fashion-MNIST: Debian's package);
    if that is missing too, MissingDependency says what to install.
    """
    try:
        from tinygrad_kr.vision import datasets
    except ImportError as e:
        raise MissingDependency(f"tinygrad_kr.vision could not be imported ({e})") from e
    cls = datasets.FashionMNIST if fashion else datasets.MNIST
    root = (cfg.fashion_dir if fashion else cfg.data_dir) or DEFAULT_DATA_DIR
    try:
        return cls(root, train=train, transform=transform, download=False)
    except (ImportError, RuntimeError) as e:
        hint = "" if fashion else f" ({EXTRA_HINT})"
        raise MissingDependency(f"{cls.__name__} is not available: {e}{hint}") from e
    except ValueError as e:  # files found but not IDX, truncated, wrong shapes
        raise UsageError(f"{cls.__name__} could not be read: {e}") from e


def subset_indices(n, size, seed):
    """``size`` random indices out of ``n`` (all of them when size is None), sorted."""
    if size is None or size >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).permutation(n)[:size])


def _as_tensors(ds, size, seed):
    keep = subset_indices(len(ds.targets), size, seed)
    images = np.asarray(ds.data)[keep]
    labels = np.asarray(ds.targets)[keep].astype(np.int64)
    x = (images.astype(np.float32) / 255.0).reshape(len(labels), 1, 28, 28)
    return torch.from_numpy(x), torch.from_numpy(labels)


def mnist(cfg, train, size=None):
    """MNIST as tensors: images (N, 1, 28, 28) float32 in [0, 1], labels (N,) int64.

    ``size`` keeps a random subset (:func:`subset_indices` with ``cfg.seed``,
    so the class mix is the data set's).
    """
    return _as_tensors(dataset(cfg, train), size, cfg.seed)


def fashion_mnist(cfg, train, size=None):
    """Fashion-MNIST as :func:`mnist` gives MNIST, or None when its IDX files are not found
    (in ``--fashion-dir``, else where Debian's ``dataset-fashion-mnist`` puts them)."""
    try:
        return _as_tensors(dataset(cfg, train, fashion=True), size, cfg.seed)
    except MissingDependency:
        return None


def loader(x, y, batch_size, shuffle=False, seed=0, drop_last=False):
    """A DataLoader over in-memory tensors; shuffling draws from its own seeded generator."""
    return DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=shuffle,
                      drop_last=drop_last, generator=generator(seed) if shuffle else None)


# -- training -----------------------------------------------------------------------

def train_epoch(model, data, optimizer, device, desc, loss_fn=None, penalty=None):
    """One pass over ``data``; returns (mean minibatch loss, running accuracy).

    ``penalty(model)`` is added to each minibatch loss (L1 regularization);
    the mean loss reported is the data term alone, as the course prints it.
    """
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    model.train()
    total_loss, correct, seen = 0.0, 0, 0
    for x, y in progress(data, desc):
        x, y = x.to(device), y.to(device)
        pred = model(x)
        loss = loss_fn(pred, y)
        objective = loss + penalty(model) if penalty is not None else loss
        optimizer.zero_grad()
        objective.backward()
        optimizer.step()
        total_loss += loss.item() * len(y)
        correct += int((pred.argmax(1) == y).sum().item())
        seen += len(y)
    return total_loss / seen, correct / seen


def evaluate(model, data, device, loss_fn=None):
    """(mean loss, accuracy) of ``model`` in eval mode over ``data``, without autograd."""
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    was_training = model.training
    model.eval()
    total_loss, correct, seen = 0.0, 0, 0
    with torch.no_grad():
        for x, y in data:
            x, y = x.to(device), y.to(device)
            pred = model(x)
            total_loss += loss_fn(pred, y).item() * len(y)
            correct += int((pred.argmax(1) == y).sum().item())
            seen += len(y)
    model.train(was_training)
    return total_loss / seen, correct / seen


def fit(model, optimizer, train_data, epochs, device, desc, scheduler=None, eval_data=None,
        penalty=None, plateau_on=None):
    """Train for ``epochs``; returns the per-epoch history.

    history["lr"][e] is the learning rate used during epoch e (the course
    prints it before ``scheduler.step()``), history["train_loss"] the mean
    minibatch loss, and for each ``name`` in ``eval_data`` (a dict of loaders)
    ``name_loss`` and ``name_acc`` after the epoch.  ReduceLROnPlateau is
    stepped with ``history[plateau_on]``.
    """
    history = {"lr": [], "train_loss": [], "train_running_acc": []}
    for name in eval_data or {}:
        if name == "train":
            raise ValueError("name the training set's evaluation e.g. 'train_eval': "
                             "history['train_loss'] is the minibatch loss")
        history[f"{name}_loss"], history[f"{name}_acc"] = [], []
    for epoch in progress(range(epochs), desc, leave=True):
        history["lr"].append(optimizer.param_groups[0]["lr"])
        loss, acc = train_epoch(model, train_data, optimizer, device,
                                f"{desc} epoch {epoch + 1}/{epochs}", penalty=penalty)
        history["train_loss"].append(loss)
        history["train_running_acc"].append(acc)
        for name, data in (eval_data or {}).items():
            eval_loss, eval_acc = evaluate(model, data, device)
            history[f"{name}_loss"].append(eval_loss)
            history[f"{name}_acc"].append(eval_acc)
        if scheduler is not None:
            if plateau_on is not None:
                scheduler.step(history[plateau_on][-1])
            else:
                scheduler.step()
    return history


def smooth_curve(values, window=11):
    """The Kaiser-window smoothing "Deep Learning from Scratch" plots its loss curves with."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) < window:
        return values
    padded = np.r_[values[window - 1:0:-1], values, values[-1:-window:-1]]
    w = np.kaiser(window, 2)
    smoothed = np.convolve(w / w.sum(), padded, mode="valid")
    return smoothed[window // 2: len(smoothed) - window // 2]


def parameter_count(model):
    return sum(p.numel() for p in model.parameters())


# -- results ------------------------------------------------------------------------

def _number_lists(tree, path=()):
    """(path of keys, list) for each list of numbers at any depth of nested dicts."""
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from _number_lists(value, path + (str(key),))
    elif (isinstance(tree, list) and tree and path
          and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in tree)):
        yield path, tree


def write_tensorboard(res, logdir):
    """Each curve of ``res.curves`` (a list of numbers: per-epoch metrics, learning
    rates, minibatch losses) as a TensorBoard scalar tagged with its keys joined by
    '/', one step per entry, in ``logdir``."""
    from tinygrad_kr.utils.tensorboard import SummaryWriter

    with SummaryWriter(logdir) as writer:
        for path, values in _number_lists(res.curves):
            for step, value in enumerate(values):
                writer.add_scalar("/".join(path), value, step)


def _cell(value, floatfmt):
    if isinstance(value, float):
        if math.isnan(value):
            return "—"
        return format(value, floatfmt)
    return "—" if value is None else str(value)


def markdown_table(headers, rows, floatfmt=".4f"):
    """A GitHub-markdown table; floats use ``floatfmt``, None prints as a dash."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(_cell(v, floatfmt) for v in row) + " |")
    return "\n".join(lines)


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        obj = float(obj)
        return obj if math.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    return obj


def machine_description():
    """One line naming the machine a run was measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    threads = os.environ.get("OMP_NUM_THREADS", "unset")
    return (f"{cpu}, {os.cpu_count()} logical CPUs, OMP_NUM_THREADS={threads}, "
            f"Python {platform.python_version()}, NumPy {np.__version__}")


RESULT_FILES = ("results.json", "results.md")


def saved_results(out):
    """The result files an earlier run left in ``out`` (empty when there are none)."""
    return [Path(out) / f for f in RESULT_FILES if (Path(out) / f).is_file()]


def remove_saved_results(out):
    """Delete what an earlier run saved in ``out``: results.json, results.md and the
    figures its results.json lists (so that no stale figure sits beside new results)."""
    out = Path(out)
    try:
        figures = json.loads((out / "results.json").read_text()).get("figures", [])
    except (OSError, ValueError, AttributeError):
        figures = []
    for name in list(RESULT_FILES) + [f for f in figures if isinstance(f, str)]:
        path = out / name
        if path.parent == out and path.is_file():  # only files of the folder itself
            path.unlink()


class Results:
    """What one experiment produced: tables, metrics, curves and figures, saved to ``out``."""

    def __init__(self, name, cfg):
        self.name, self.cfg = name, cfg
        self.out = Path(cfg.out)
        self.tables, self.notes, self.figures = [], [], []
        self.metrics, self.curves = {}, {}
        self._start, self._cpu_start = time.time(), time.process_time()
        self.wall_time = self.cpu_time = None  # seconds, set by save()

    def table(self, title, headers, rows, floatfmt=".4f"):
        self.tables.append({"title": title, "headers": list(headers),
                            "rows": [list(r) for r in rows], "floatfmt": floatfmt})

    def note(self, text):
        self.notes.append(text)

    def plot(self, filename, draw, figsize=(8, 5), nrows=1, ncols=1):
        """Call ``draw(fig, axes)`` on a new figure and save it as ``out/filename``.

        Nothing is drawn with --no-plots.
        """
        if not self.cfg.plots:
            return
        require("matplotlib")
        from matplotlib.figure import Figure  # object-oriented API: no pyplot, no GUI backend

        fig = Figure(figsize=figsize, layout="constrained")
        axes = fig.subplots(nrows, ncols, squeeze=False)
        draw(fig, axes)
        self.out.mkdir(parents=True, exist_ok=True)
        fig.savefig(self.out / filename, dpi=100)
        self.figures.append(filename)

    def markdown(self):
        lines = [f"# {self.name}", "", f"Configuration: `{self._config_line()}`  ",
                 f"Machine: {machine_description()}  ",
                 f"Time: {self._elapsed():.0f} s wall, {self._cpu():.0f} s CPU", ""]
        for t in self.tables:
            table = markdown_table(t["headers"], t["rows"], t["floatfmt"])
            lines += [f"## {t['title']}", "", table, ""]
        for n in self.notes:
            lines += [n, ""]
        for f in self.figures:
            lines += [f"![{f}]({f})", ""]
        return "\n".join(lines)

    def _elapsed(self):
        return self.wall_time if self.wall_time is not None else time.time() - self._start

    def _cpu(self):  # all threads of this process: unlike wall time, not inflated by other load
        return self.cpu_time if self.cpu_time is not None else time.process_time() - self._cpu_start

    def _config_line(self):
        skip = {"out", "plots", "data_dir", "fashion_dir"}
        return " ".join(f"{k}={v}" for k, v in vars(self.cfg).items() if k not in skip)

    def save(self):
        """Write results.json and results.md into ``out``; return the markdown."""
        self.out.mkdir(parents=True, exist_ok=True)
        self.wall_time = time.time() - self._start
        self.cpu_time = time.process_time() - self._cpu_start
        md = self.markdown()
        record = {"experiment": self.name, "config": vars(self.cfg),
                  "machine": machine_description(), "wall_time_s": self.wall_time,
                  "cpu_time_s": self.cpu_time,
                  "metrics": self.metrics, "curves": self.curves,
                  "tables": [{k: t[k] for k in ("title", "headers", "rows")} for t in self.tables],
                  "notes": self.notes, "figures": self.figures}
        with open(self.out / "results.json", "w") as f:
            json.dump(_jsonable(record), f, indent=1)
        (self.out / "results.md").write_text(md + "\n")
        return md
