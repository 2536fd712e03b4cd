"""Reverse-mode automatic differentiation: Function, backward, grad, gradcheck."""
from .anomaly_mode import detect_anomaly, set_detect_anomaly
from .function import Function, backward, grad
from .grad_mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from .gradcheck import gradcheck, gradgradcheck
from .variable import Variable

__all__ = ["Function", "backward", "grad", "gradcheck", "gradgradcheck", "no_grad",
           "enable_grad", "set_grad_enabled", "is_grad_enabled", "inference_mode",
           "detect_anomaly", "set_detect_anomaly", "Variable"]


def __getattr__(name):
    # torch.autograd.functional builds on the ops, which import this package:
    # loaded on first use
    if name in ("functional", "profiler"):
        import importlib
        return importlib.import_module("." + name, __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
