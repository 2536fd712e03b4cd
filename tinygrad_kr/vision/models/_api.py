"""torchvision's weights API: ``Weights``, ``WeightsEnum`` and the model registry
(``get_model``, ``get_model_builder``, ``get_model_weights``, ``get_weight``,
``list_models``), plus the builders' legacy ``pretrained=`` handling."""
import fnmatch
import functools
import sys
import warnings
from dataclasses import dataclass
from enum import Enum
from typing import Callable

from ... import hub

__all__ = ["WeightsEnum", "Weights", "get_model", "get_model_builder", "get_model_weights",
           "get_weight", "list_models"]


@dataclass
class Weights:
    """One set of pretrained weights: where the file is, the preprocessing it
    expects (``transforms()`` builds it) and facts about it (``meta``:
    ``num_params``, ``categories``, ``min_size``, ``_metrics``, ...)."""

    url: str
    transforms: Callable
    meta: dict

    def __eq__(self, other):
        # functools.partial compares by identity: compare its parts (torchvision's rule,
        # so that deep-copied and unpickled members still equal the originals)
        if not isinstance(other, Weights):
            return NotImplemented
        if self.url != other.url or self.meta != other.meta:
            return False
        a, b = self.transforms, other.transforms
        if isinstance(a, functools.partial) and isinstance(b, functools.partial):
            return a.func == b.func and a.args == b.args and a.keywords == b.keywords
        return a == b


class WeightsEnum(Enum):
    """Base of the ``<Model>_Weights`` enums; each member's value is a ``Weights``."""

    @classmethod
    def verify(cls, obj):
        """``obj`` as a member of this enum: None, a member, or its name
        ('IMAGENET1K_V1' or 'ResNet18_Weights.IMAGENET1K_V1')."""
        if obj is not None:
            if type(obj) is str:
                obj = cls[obj.replace(cls.__name__ + ".", "")]
            elif not isinstance(obj, cls):
                raise TypeError(f"Invalid Weight class provided; expected {cls.__name__} but "
                                f"received {obj.__class__.__name__}.")
        return obj

    def get_state_dict(self, *args, **kwargs):
        """The state_dict in the weights file: ``hub.load_state_dict_from_url(self.url, ...)``."""
        return hub.load_state_dict_from_url(self.url, *args, **kwargs)

    def __repr__(self):
        return f"{self.__class__.__name__}.{self._name_}"

    @property
    def url(self):
        return self.value.url

    @property
    def transforms(self):
        return self.value.transforms

    @property
    def meta(self):
        return self.value.meta


# -- registry ---------------------------------------------------------------------

BUILTIN_MODELS = {}


def register_model(name=None):
    def wrapper(fn):
        key = name if name is not None else fn.__name__
        if key in BUILTIN_MODELS:
            raise ValueError(f"An entry is already registered under the name '{key}'.")
        BUILTIN_MODELS[key] = fn
        return fn
    return wrapper


def list_models(module=None, include=None, exclude=None):
    """Sorted names of the registered models, optionally only those defined in
    ``module`` (a package, e.g. ``tinygrad_kr.vision.models``) and filtered by
    fnmatch patterns: the union of ``include``'s, less any of ``exclude``'s."""
    names = {k for k, fn in BUILTIN_MODELS.items()
             if module is None or fn.__module__.rsplit(".", 1)[0] == module.__name__}
    if include:
        patterns = [include] if isinstance(include, str) else include
        names = set().union(*(fnmatch.filter(names, p) for p in patterns))
    if exclude:
        patterns = [exclude] if isinstance(exclude, str) else exclude
        for p in patterns:
            names -= set(fnmatch.filter(names, p))
    return sorted(names)


def get_model_builder(name):
    try:
        return BUILTIN_MODELS[name.lower()]
    except KeyError:
        raise ValueError(f"Unknown model {name}") from None


def get_model(name, **config):
    """``get_model('resnet18', weights='DEFAULT', num_classes=...)``: the builder, called."""
    return get_model_builder(name)(**config)


def get_model_weights(name):
    """The ``WeightsEnum`` class of a builder (a function or a registered name)."""
    fn = get_model_builder(name) if isinstance(name, str) else name
    enum = getattr(fn, "_weights_enum", None)
    if enum is None:
        raise ValueError("The WeightsEnum class for the specific method couldn't be retrieved.")
    return enum


def get_weight(name):
    """The weights member named ``'ResNet50_Weights.IMAGENET1K_V2'``."""
    try:
        enum_name, value_name = name.split(".")
    except ValueError:
        raise ValueError(f"Invalid weight name provided: '{name}'.") from None
    package = sys.modules[__name__.rsplit(".", 1)[0]]
    enum = getattr(package, enum_name, None)
    if not (isinstance(enum, type) and issubclass(enum, WeightsEnum)):
        raise ValueError(f"The weight enum '{enum_name}' for the specific method couldn't be "
                         f"retrieved.")
    return enum[value_name]


# -- builders' arguments ----------------------------------------------------------

def _ovewrite_named_param(kwargs, param, new_value):
    """Set kwargs[param], refusing a different value the caller gave (torchvision's name)."""
    if param in kwargs:
        if kwargs[param] != new_value:
            raise ValueError(f"The parameter '{param}' expected value {new_value} but got "
                             f"{kwargs[param]} instead.")
    else:
        kwargs[param] = new_value


def handle_legacy_interface(weights_enum, legacy_default):
    """Decorate a builder ``fn(*, weights=None, progress=True, **kwargs)``.

    As torchvision's: ``pretrained=True`` (or a positional True) means
    ``weights=legacy_default`` and ``pretrained=False`` means None, each with
    torchvision's deprecation warnings; positional arguments are accepted with
    a warning. ``weights_enum`` is recorded for ``get_model_weights``."""
    names = ("weights", "progress")

    def outer(builder):
        @functools.wraps(builder)
        def inner(*args, **kwargs):
            if len(args) > len(names):
                raise TypeError(f"{builder.__name__}() takes at most {len(names)} positional "
                                f"arguments but {len(args)} were given")
            if args:
                given = dict(zip(names, args))
                warnings.warn(f"Using {' and '.join(repr(k) for k in given)} as positional "
                              f"parameter(s) is deprecated since 0.13 and may be removed in the "
                              f"future. Please use keyword parameter(s) instead.")
                kwargs.update(given)
            sentinel = object()
            weights_arg = kwargs.get("weights", sentinel)
            if ("weights" not in kwargs and "pretrained" not in kwargs) or weights_arg is None \
                    or isinstance(weights_arg, WeightsEnum) \
                    or (isinstance(weights_arg, str) and weights_arg != "legacy"):
                return builder(**kwargs)
            # weights=True/False: the old first positional argument, `pretrained`
            positional = weights_arg is not sentinel
            if positional:
                kwargs["pretrained"] = kwargs.pop("weights")
            pretrained = kwargs.pop("pretrained")
            default = legacy_default if pretrained else None
            if not positional:
                warnings.warn("The parameter 'pretrained' is deprecated since 0.13 and may be "
                              "removed in the future, please use 'weights' instead.")
            msg = (f"Arguments other than a weight enum or `None` for 'weights' are deprecated "
                   f"since 0.13 and may be removed in the future. The current behavior is "
                   f"equivalent to passing `weights={default}`.")
            if pretrained:
                msg += (f" You can also use `weights={type(default).__name__}.DEFAULT` to get "
                        f"the most up-to-date weights.")
            warnings.warn(msg)
            kwargs["weights"] = default
            return builder(**kwargs)

        inner._weights_enum = weights_enum
        return inner
    return outer


def _load_weights(model, weights, progress):
    """Load ``weights``' file into ``model``, checking a download's hash as torchvision
    does; read to the host, where the model was just built, whatever device saved it."""
    model.load_state_dict(weights.get_state_dict(progress=progress, check_hash=True,
                                                 map_location="cpu"))
    return model

