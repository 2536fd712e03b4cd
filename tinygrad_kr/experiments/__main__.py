"""Command line of the course experiments.

    python -m tinygrad_kr.experiments NAME [options]     one experiment, results in results/NAME
    python -m tinygrad_kr.experiments all --out results  every experiment, one folder each
    python -m tinygrad_kr.experiments NAME --help        its options and their defaults

An option left out takes the experiment's value: its ``QUICK`` value with
``--quick``, its ``ALL`` value when run by ``all``, else its ``DEFAULTS``
value (the course's setup).
"""
import argparse
import math
import re
import sys
import time
import types
from pathlib import Path

from tinygrad_kr.experiments import EXPERIMENTS, common, load

PROG = "python -m tinygrad_kr.experiments"


def _add_common_options(p, default_out):
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"],
                   help="where to train (cuda needs CuPy and a GPU; default: cpu)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--data-dir", default=None,
                   help="folder with MNIST IDX files (default: the offline copy of the "
                        "'experiments' extra)")
    p.add_argument("--fashion-dir", default=None,
                   help="folder with Fashion-MNIST IDX files (default: "
                        f"{common.FASHION_DIRS[0]} when present)")
    p.add_argument("--out", default=default_out, help=f"output folder (default: {default_out})")
    p.add_argument("--quick", action="store_true",
                   help="a small configuration that finishes in well under a minute")
    p.add_argument("--no-plots", dest="plots", action="store_false", help="skip the PNG figures")
    p.add_argument("--tensorboard", metavar="DIR", default=None,
                   help="also write each experiment's curves (per-epoch metrics, learning "
                        "rates, minibatch losses) as TensorBoard scalars in DIR/NAME, step = "
                        "epoch or iteration (needs the 'tensorboard' package)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the results an earlier run saved in --out (without it, "
                        "the folder that holds them is renamed OUT.earlier-TIMESTAMP first)")


def _option_type(key, default):
    if isinstance(default, bool):
        return None
    if isinstance(default, str):
        return str
    kind = float if isinstance(default, float) else int  # None defaults: "all of them", an int
    accepts, description = common.option_limit(key, kind)

    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid {kind.__name__} value: {text!r}") from None
        if not (math.isfinite(value) and accepts(value)):
            raise argparse.ArgumentTypeError(f"must be {description}, got {text}")
        return value
    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


def _show(value):
    return "every image" if value is None else str(value)  # None: only the subset sizes


def _add_experiment_options(p, module):
    helps = {**common.OPTION_HELP, **getattr(module, "OPTION_HELP", {})}
    group = p.add_argument_group(f"{module.NAME} options (left out: the experiment's value)")
    for key, default in module.DEFAULTS.items():
        flag = "--" + key.replace("_", "-")
        shown = ["default: " + _show(default)]
        if key in module.QUICK:
            shown.append("--quick: " + _show(module.QUICK[key]))
        if key in module.ALL:
            shown.append("all: " + _show(module.ALL[key]))
        text = f"{helps.get(key, key)} ({'; '.join(shown)})"
        kind = _option_type(key, default)
        if kind is None:
            group.add_argument(flag, dest=key, action="store_true", default=None, help=text)
        else:
            group.add_argument(flag, dest=key, type=kind, default=None, help=text)


def build_parser():
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="name", required=True, metavar="NAME",
                                help=f"one of: {', '.join(EXPERIMENTS)}, all")
    for name in EXPERIMENTS:
        module = load(name)
        p = sub.add_parser(name, help=module.HELP, description=module.__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        _add_common_options(p, default_out=f"results/{name}")
        _add_experiment_options(p, module)
    p = sub.add_parser("all", help="every experiment in sequence, each in OUT/NAME",
                       description="Runs every experiment with its ALL values "
                                   "(see docs/RESULTS.md).")
    _add_common_options(p, default_out="results")
    p.add_argument("--only", nargs="+", choices=list(EXPERIMENTS), metavar="NAME",
                   help="run only these experiments")
    p.add_argument("--skip", nargs="+", choices=list(EXPERIMENTS), default=[], metavar="NAME",
                   help="leave these experiments out")
    return parser


def resolve_config(module, args, in_all=False, out=None):
    """The experiment's configuration: explicit option > QUICK (--quick) > ALL (all) > DEFAULTS."""
    cfg = {"device": args.device, "seed": args.seed, "data_dir": args.data_dir,
           "fashion_dir": args.fashion_dir, "out": out or args.out, "quick": args.quick,
           "plots": args.plots}
    for key, default in module.DEFAULTS.items():
        value = getattr(args, key, None)
        if value is None:
            if args.quick and key in module.QUICK:
                value = module.QUICK[key]
            elif in_all and key in module.ALL:
                value = module.ALL[key]
            else:
                value = default
        cfg[key] = value
    return types.SimpleNamespace(**cfg)


def _check_device(device):
    if device == "cuda":
        import tinygrad_kr as torch
        if not torch.cuda.is_available():
            raise common.MissingDependency(
                "--device cuda needs CuPy and a CUDA GPU (pip install \"tinygrad_kr[cuda12]\")")


def run_experiment(name, cfg, tensorboard=None):
    """Run one experiment, save its outputs, print its tables; return its Results.
    With ``tensorboard`` (a folder) its curves also go to TensorBoard in tensorboard/NAME."""
    module = load(name)
    res = common.Results(name, cfg)
    print(f"== {name} -> {cfg.out}", file=sys.stderr)
    module.run(cfg, res)
    print(res.save())
    if tensorboard is not None:
        common.write_tensorboard(res, Path(tensorboard) / name)
    return res


def _combined_markdown(results):
    """Every experiment's results.md in one file, headings one level down, figure paths fixed."""
    parts = ["# Course experiments", "", f"Machine: {common.machine_description()}", ""]
    for name, res in results:
        md = res.markdown()
        md = re.sub(r"^(#+) ", r"#\1 ", md, flags=re.M)
        md = re.sub(r"!\[([^\]]*)\]\(([^)]*)\)", rf"![\1]({name}/\2)", md)
        parts += [md, ""]
    return "\n".join(parts)


def _keep_earlier_results(configs, args):
    """Results an earlier run saved in --out are never silently lost: the folder that
    holds them is renamed OUT.earlier-TIMESTAMP before any training (so the README's
    command can simply be run again), or, with --overwrite, they are deleted (no stale
    figure stays beside the new ones)."""
    whole = Path(args.out) if args.name == "all" else Path(configs[0][1].out)
    folders = [Path(cfg.out) for _, cfg in configs] + [whole]
    holding = [out for out in folders if common.saved_results(out)]
    if not holding:
        return
    if args.overwrite:
        for out in holding:
            common.remove_saved_results(out)
        return
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = whole.with_name(f"{whole.name}.earlier-{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = whole.with_name(f"{whole.name}.earlier-{stamp}-{n}")
    whole.rename(target)
    print(f"earlier results in {whole} moved to {target} (--overwrite replaces them instead)",
          file=sys.stderr)


def main(argv=None):
    args = build_parser().parse_args(argv)
    done = []
    try:
        _check_device(args.device)
        common.require("tqdm")  # fail before training, not after
        if args.plots:
            common.require("matplotlib")
        if args.tensorboard is not None:
            common.require("tensorboard", hint='pip install "tinygrad_kr[tensorboard]"')
        if args.name != "all":
            configs = [(args.name, resolve_config(load(args.name), args))]
        else:
            names = [n for n in (args.only or EXPERIMENTS) if n not in args.skip]
            configs = [(name, resolve_config(load(name), args, in_all=True,
                                             out=str(Path(args.out) / name))) for name in names]
        for name, cfg in configs:  # every option combination checked before any training
            check = getattr(load(name), "check", None)
            if check is not None:
                check(cfg)
        _keep_earlier_results(configs, args)
        results, start = [], time.time()
        for name, cfg in configs:
            results.append((name, run_experiment(name, cfg, args.tensorboard)))
            done.append(cfg.out)
        if args.name != "all":
            return 0
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "results.md").write_text(_combined_markdown(results) + "\n")
        print(f"all: {len(configs)} experiments in {time.time() - start:.0f} s; "
              f"summary in {Path(args.out) / 'results.md'}", file=sys.stderr)
        return 0
    except (common.MissingDependency, common.UsageError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        saved = f"; finished experiments saved in {', '.join(done)}" if done else ""
        print(f"\ninterrupted{saved}", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
