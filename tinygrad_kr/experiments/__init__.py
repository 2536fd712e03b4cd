"""The course experiments: ``python -m tinygrad_kr.experiments NAME`` (``all`` runs each in turn).

Each experiment is one module (see ``common`` for what a module defines);
``EXPERIMENTS`` maps the command names, in the order ``all`` runs them, to
their modules.  Modules are imported on first use.
"""
import importlib

EXPERIMENTS = {
    "slp-schedules": "slp_schedules",
    "slp-optimizers": "slp_optimizers",
    "optimizer-comparison": "optimizer_comparison",
    "lenet5": "lenet5",
    "regularization": "regularization",
    "initialization": "initialization",
    "lr-schedulers": "lr_schedulers",
}


def load(name):
    """The module of experiment ``name``."""
    if name not in EXPERIMENTS:
        raise KeyError(f"unknown experiment {name!r}; choose from {', '.join(EXPERIMENTS)}")
    return importlib.import_module(f"{__name__}.{EXPERIMENTS[name]}")


def main(argv=None):
    from .__main__ import main as _main
    return _main(argv)


__all__ = ["EXPERIMENTS", "load", "main"]
