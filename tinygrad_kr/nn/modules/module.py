"""Module: the base class of layers and models, with PyTorch's bookkeeping.

Assigning a Parameter, a Module or a registered buffer to an attribute files
it in ``_parameters`` / ``_modules`` / ``_buffers`` (in assignment order,
which fixes the order of ``parameters()`` and of ``state_dict()`` keys, as in
PyTorch); ``__getattr__`` reads them back.  Everything else is a plain
attribute.  A plain Tensor assigned to an attribute is NOT registered: use
``nn.Parameter`` or ``register_buffer``.
"""
import itertools
from collections import OrderedDict, namedtuple
from collections.abc import Mapping

import numpy as np

from ... import dtypes as _dt
from ...autograd.grad_mode import no_grad
from ...tensor import Size, Tensor, _parse_to_args, _to_device, _zero_grads, device as _device
from ..parameter import Buffer, Parameter, UninitializedBuffer, UninitializedParameter

__all__ = ["Module"]


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What ``load_state_dict`` returns: (missing_keys, unexpected_keys)."""

    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


class RemovableHandle:
    """Returned by ``register_forward_hook``: ``handle.remove()`` unregisters the hook."""

    _next_id = 0

    def __init__(self, hooks):
        self._hooks = hooks
        self.id = RemovableHandle._next_id
        RemovableHandle._next_id += 1

    def remove(self):
        self._hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def _addindent(s, num_spaces):
    """Indent every line but the first (PyTorch's helper for nested reprs)."""
    lines = s.split("\n")
    if len(lines) == 1:
        return s
    first = lines.pop(0)
    lines = [(num_spaces * " ") + line if line.strip() else "" for line in lines]
    return first + "\n" + "\n".join(lines)


def _check_member_name(module, name, store, what):
    if store not in module.__dict__:
        raise AttributeError(f"cannot assign {what} before Module.__init__() call")
    if not isinstance(name, str):
        raise TypeError(f"{what} name should be a string. Got {type(name).__name__}")
    if "." in name:
        raise KeyError(f'{what} name can\'t contain ".", got {name!r}')
    if name == "":
        raise KeyError(f'{what} name can\'t be empty string ""')
    if hasattr(module, name) and name not in module.__dict__[store]:
        raise KeyError(f"attribute '{name}' already exists")


class Module:
    """Base class for all neural network modules; subclass it and define ``forward``."""

    training: bool

    def __init__(self, *args, **kwargs):
        if args or kwargs:
            raise TypeError(f"{type(self).__name__}.__init__() got unexpected arguments: "
                            f"{args!r} {kwargs!r}")
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = OrderedDict()
        d["_buffers"] = OrderedDict()
        d["_non_persistent_buffers_set"] = set()
        d["_modules"] = OrderedDict()
        d["_forward_pre_hooks"] = OrderedDict()
        d["_forward_hooks"] = OrderedDict()
        d["_state_dict_pre_hooks"] = OrderedDict()
        d["_state_dict_hooks"] = OrderedDict()
        d["_load_state_dict_pre_hooks"] = OrderedDict()
        d["_load_state_dict_post_hooks"] = OrderedDict()

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required '
                                  f'"forward" function')

    def __call__(self, *args, **kwargs):
        if not (self._forward_pre_hooks or self._forward_hooks):
            return self.forward(*args, **kwargs)
        for hook in list(self._forward_pre_hooks.values()):
            result = hook(self, args)
            if result is not None:
                args = result if isinstance(result, tuple) else (result,)
        out = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks.values()):
            result = hook(self, args, out)
            if result is not None:
                out = result
        return out

    def register_forward_pre_hook(self, hook):
        """``hook(module, args)`` runs before forward; a non-None result replaces args."""
        handle = RemovableHandle(self._forward_pre_hooks)
        self._forward_pre_hooks[handle.id] = hook
        return handle

    def register_forward_hook(self, hook):
        """``hook(module, args, output)`` runs after forward; a non-None result replaces output."""
        handle = RemovableHandle(self._forward_hooks)
        self._forward_hooks[handle.id] = hook
        return handle

    # -- registration --------------------------------------------------------
    def register_buffer(self, name, tensor, persistent=True):
        """A tensor that is state but not a parameter (BatchNorm's running_mean).
        Persistent buffers are saved in ``state_dict()``."""
        _check_member_name(self, name, "_buffers", "buffer")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{type(tensor).__name__}' object to buffer '{name}' "
                            f"(Tensor or None required)")
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def register_parameter(self, name, param):
        _check_member_name(self, name, "_parameters", "parameter")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{type(param).__name__}' object to parameter "
                            f"'{name}' (nn.Parameter or None required)")
        if param is not None and param.grad_fn is not None:
            raise ValueError(f"Cannot assign non-leaf Tensor to parameter '{name}'. Model "
                             f"parameters must be created explicitly. To express '{name}' as a "
                             f"function of another Tensor, compute the value in the forward() "
                             f"method.")
        self._parameters[name] = param

    def add_module(self, name, module):
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        _check_member_name(self, name, "_modules", "module")
        self._modules[name] = module

    register_module = add_module

    def __getattr__(self, name):
        # only reached when normal lookup fails; guarded for half-built objects
        # (copy/pickle create the instance before its __dict__ is filled)
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            if store in d and name in d[store]:
                return d[store][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __setattr__(self, name, value):
        d = self.__dict__
        params = d.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            self._forget(name, keep="_parameters")
            self.register_parameter(name, value)
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as parameter '{name}' "
                                f"(nn.Parameter or None expected)")
            params[name] = None
        elif isinstance(value, Module):
            if "_modules" not in d:
                raise AttributeError("cannot assign module before Module.__init__() call")
            self._forget(name, keep="_modules")
            d["_modules"][name] = value
        elif "_modules" in d and name in d["_modules"]:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as child module "
                                f"'{name}' (nn.Module or None expected)")
            d["_modules"][name] = None
        elif isinstance(value, Buffer):     # nn.Buffer registers itself, as in PyTorch
            self.register_buffer(name, value, value.persistent)
        elif "_buffers" in d and name in d["_buffers"]:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign '{type(value).__name__}' as buffer '{name}' "
                                f"(Tensor or None expected)")
            d["_buffers"][name] = value
        else:
            object.__setattr__(self, name, value)

    def _forget(self, name, keep):
        """Remove ``name`` from every store but ``keep`` (re-assignment changes its kind)."""
        d = self.__dict__
        d.pop(name, None)
        for store in ("_parameters", "_buffers", "_modules"):
            if store != keep:
                d[store].pop(name, None)
        d["_non_persistent_buffers_set"].discard(name)

    def __delattr__(self, name):
        if name in self._parameters:
            del self._parameters[name]
        elif name in self._buffers:
            del self._buffers[name]
            self._non_persistent_buffers_set.discard(name)
        elif name in self._modules:
            del self._modules[name]
        else:
            object.__delattr__(self, name)

    def __setstate__(self, state):
        self.__dict__.update(state)

    def __dir__(self):
        keys = itertools.chain(dir(type(self)), self.__dict__, self._parameters, self._modules,
                               self._buffers)
        return sorted({k for k in keys if not k[0].isdigit()})

    # -- traversal -----------------------------------------------------------
    def _named_members(self, get_members, prefix="", recurse=True, remove_duplicate=True):
        seen = set()
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) \
            if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            for name, value in get_members(module):
                if value is None or id(value) in seen:
                    continue
                if remove_duplicate:
                    seen.add(id(value))
                yield (module_prefix + "." if module_prefix else "") + name, value

    def parameters(self, recurse=True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        """(name, Parameter) pairs in registration order; a shared parameter once."""
        yield from self._named_members(lambda m: m._parameters.items(), prefix, recurse,
                                       remove_duplicate)

    def buffers(self, recurse=True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        yield from self._named_members(lambda m: m._buffers.items(), prefix, recurse,
                                       remove_duplicate)

    def children(self):
        for _, m in self.named_children():
            yield m

    def named_children(self):
        seen = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        """(name, module) for this module ('' or ``prefix``) and all below it, depth first."""
        if memo is None:
            memo = set()
        if id(self) in memo:
            return
        if remove_duplicate:
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is not None:
                yield from module.named_modules(memo, (prefix + "." if prefix else "") + name,
                                                remove_duplicate)

    def get_submodule(self, target):
        """The module at dotted path ``target`` ('' is this module), e.g. 'features.0'."""
        module = self
        for item in target.split(".") if target else ():
            if not hasattr(module, item):
                raise AttributeError(f"{module._get_name()} has no attribute `{item}`")
            module = getattr(module, item)
            if not isinstance(module, Module):
                raise AttributeError(f"`{item}` is not an nn.Module")
        return module

    def set_submodule(self, target, module, strict=False):
        """Put ``module`` at dotted path ``target`` (its parent must exist; with
        ``strict`` the name must exist too, and whatever is there must be a module)."""
        if target == "":
            raise ValueError("Cannot set the submodule without a target name!")
        if not isinstance(module, Module):
            raise ValueError(f"`module` is not an nn.Module, found {type(module)}")
        parent_path, _, name = target.rpartition(".")
        parent = self.get_submodule(parent_path)
        if strict and not hasattr(parent, name):
            raise AttributeError(f"{parent._get_name()} has no attribute `{name}`")
        if hasattr(parent, name) and not isinstance(getattr(parent, name), Module):
            raise AttributeError(f"`{name}` is not an nn.Module")
        setattr(parent, name, module)

    def _get_member(self, target):
        """(owning module, name, value) for dotted path ``target``, or AttributeError."""
        module_path, _, name = target.rpartition(".")
        module = self.get_submodule(module_path)
        if not hasattr(module, name):
            raise AttributeError(f"{module._get_name()} has no attribute `{name}`")
        return module, name, getattr(module, name)

    def get_parameter(self, target):
        """The Parameter at dotted path ``target``, e.g. 'encoder.0.weight'."""
        _, name, param = self._get_member(target)
        if not isinstance(param, Parameter):
            raise AttributeError(f"`{name}` is not an nn.Parameter")
        return param

    def get_buffer(self, target):
        """The buffer at dotted path ``target``, e.g. 'bn.running_mean'."""
        module, name, buffer = self._get_member(target)
        if name not in module._buffers:
            raise AttributeError(f"`{name}` is not a buffer")
        return buffer

    def apply(self, fn):
        """Call ``fn(m)`` on every submodule (children first) and on self, e.g. for init."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # -- modes and gradients -------------------------------------------------
    def train(self, mode=True):
        if not isinstance(mode, bool):
            raise ValueError(f"training mode is expected to be boolean, got {mode!r}")
        self.training = mode
        for module in self.children():
            module.train(mode)
        return self

    def eval(self):
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        _zero_grads(self.parameters(), set_to_none)

    # -- device and dtype ----------------------------------------------------
    def to(self, *args, **kwargs):
        """to(device) / to(dtype) / to(device, dtype) / to(tensor), in place.

        Parameters keep their identity (only their arrays change), so an
        optimizer built before ``.to()`` still updates the model.  A dtype
        applies to floating-point parameters and buffers only."""
        dev, dtype = _parse_to_args(args, kwargs)
        if dtype is not None:
            dtype = _dt.check_dtype(dtype)
            if dtype.kind != "f":
                raise TypeError(f"nn.Module.to only accepts floating point dtypes, but got "
                                f"desired dtype={dtype}")
        return self._convert(None if dev is None else _device(dev), dtype)

    def _convert(self, dev, dtype):
        def convert(t):
            data = t.array
            if dtype is not None and data.dtype.kind == "f" and data.dtype != dtype:
                data = data.astype(dtype)
            if dev is not None:
                data = _to_device(Tensor._make(data, None), dev).array
            t.array = data

        for module in self.modules():
            for t in itertools.chain(module._parameters.values(), module._buffers.values()):
                if t is not None:
                    convert(t)
                    if t.grad is not None:
                        convert(t.grad)
        return self

    def cuda(self, device=None):
        return self.to("cuda" if device is None else
                       f"cuda:{device}" if isinstance(device, int) else device)

    def cpu(self):
        return self.to("cpu")

    def float(self):
        return self._convert(None, _dt.float32)

    def double(self):
        return self._convert(None, _dt.float64)

    def half(self):
        return self._convert(None, _dt.float16)

    def type(self, dst_type):
        return self._convert(None, _dt.check_dtype(dst_type))

    # -- state_dict ----------------------------------------------------------
    # A class's state_dict layout version, recorded in ``state_dict()._metadata``
    # as PyTorch does, so that a class whose layout changed can read old ones
    # (``_upgrade_state_dict``).
    _version = 1

    def state_dict(self, *, destination=None, prefix="", keep_vars=False):
        """OrderedDict name -> tensor of all parameters and persistent buffers.

        Values share memory with the module (detached, unless ``keep_vars``);
        ``copy.deepcopy`` it to keep a snapshot while training goes on.  Its
        ``_metadata`` holds each module's layout version, as PyTorch's."""
        if destination is None:
            destination = OrderedDict()
            destination._metadata = OrderedDict()
        metadata = getattr(destination, "_metadata", None)
        if metadata is not None:
            metadata[prefix[:-1]] = {"version": self._version}
        for hook in self._state_dict_pre_hooks.values():
            hook(self, prefix, keep_vars)
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = b if keep_vars else b.detach()
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(destination=destination, prefix=prefix + name + ".",
                                  keep_vars=keep_vars)
        for hook in self._state_dict_hooks.values():
            result = hook(self, destination, prefix, metadata.get(prefix[:-1], {})
                          if metadata is not None else {})
            if result is not None:
                destination = result
        return destination

    def _own_state(self):
        """This module's own entries of its state_dict (no children's), unprefixed."""
        own = OrderedDict((n, p) for n, p in self._parameters.items() if p is not None)
        own.update((n, b) for n, b in self._buffers.items()
                   if b is not None and n not in self._non_persistent_buffers_set)
        return own

    def register_state_dict_pre_hook(self, hook):
        """``hook(module, prefix, keep_vars)`` runs before ``state_dict`` collects this module."""
        return _add_hook(self._state_dict_pre_hooks, hook)

    def register_state_dict_post_hook(self, hook):
        """``hook(module, state_dict, prefix, local_metadata)`` may edit the collected
        state_dict in place (PyTorch: it must return None)."""
        def checked(*args):
            if hook(*args) is not None:
                raise RuntimeError("state_dict post-hook must return None")
        return _add_hook(self._state_dict_hooks, checked)

    def _register_state_dict_hook(self, hook):
        """PyTorch's older form: a non-None result replaces the state_dict."""
        return _add_hook(self._state_dict_hooks, hook)

    def register_load_state_dict_pre_hook(self, hook):
        """``hook(module, state_dict, prefix, local_metadata, strict, missing_keys,
        unexpected_keys, error_msgs)`` runs before loading and may edit
        ``state_dict`` (a copy of the caller's), e.g. to rename old keys."""
        return _add_hook(self._load_state_dict_pre_hooks, hook)

    def _register_load_state_dict_pre_hook(self, hook, with_module=False):
        """PyTorch's private form: without ``with_module`` the hook gets no module."""
        if with_module:
            return self.register_load_state_dict_pre_hook(hook)
        return _add_hook(self._load_state_dict_pre_hooks,
                         lambda module, *args: hook(*args))

    def register_load_state_dict_post_hook(self, hook):
        """``hook(module, incompatible_keys)`` runs after loading; it may remove
        entries of ``incompatible_keys.missing_keys`` / ``unexpected_keys``
        before ``strict`` judges them (PyTorch: it must return None)."""
        return _add_hook(self._load_state_dict_post_hooks, hook)

    def _upgrade_state_dict(self, state_dict, prefix, local_metadata):
        """Bring this module's entries of an older layout (``local_metadata``'s
        version) up to date, in place.  Nothing to do by default."""

    def load_state_dict(self, state_dict, strict=True):
        """Copy values from ``state_dict`` into this module's parameters and buffers.

        Values may be Tensors or arrays (anything ``np.asarray`` accepts, e.g. a
        PyTorch tensor).  Returns ``(missing_keys, unexpected_keys)``; with
        ``strict`` either kind of key is an error.  A shape mismatch is always
        an error, and nothing is copied if there is any error."""
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
        metadata = getattr(state_dict, "_metadata", None)
        missing, unexpected, errors, copies, modules = [], [], [], [], []

        def visit(module, local, prefix):
            # PyTorch's walk: each module sees the entries under its prefix (a
            # copy its hooks may edit), takes its own, and hands the rest on
            modules.append(module)
            local_metadata = metadata.get(prefix[:-1], {}) if metadata is not None else {}
            module._upgrade_state_dict(local, prefix, local_metadata)
            for hook in module._load_state_dict_pre_hooks.values():
                hook(module, local, prefix, local_metadata, True, missing, unexpected, errors)
            own = module._own_state()
            for name, target in own.items():
                key = prefix + name
                if key not in local:
                    missing.append(key)
                    continue
                # a lazy layer's parameter not made yet takes the checkpoint's shape
                lazy = isinstance(target, (UninitializedParameter, UninitializedBuffer))
                src, error = _checkpoint_array(key, local[key], target, any_shape=lazy)
                if error:
                    errors.append(error)
                else:
                    copies.append((target, src))
            for key in local:
                if key.startswith(prefix):
                    head = key[len(prefix):].split(".", 1)[0]
                    if head not in module._modules and head not in own:
                        unexpected.append(key)
            for name, child in module._modules.items():
                if child is not None:
                    child_prefix = prefix + name + "."
                    visit(child, {k: v for k, v in local.items() if k.startswith(child_prefix)},
                          child_prefix)

        visit(self, OrderedDict(state_dict), "")
        post_hooks = [(m, h) for m in modules for h in m._load_state_dict_post_hooks.values()]
        if strict and not post_hooks:
            # judged before anything is copied: a failed load leaves the module as it was
            errors = self._key_errors(missing, unexpected) + errors
        if errors:
            raise RuntimeError(self._load_error(errors))
        with no_grad():
            for target, src in copies:
                if isinstance(target, (UninitializedParameter, UninitializedBuffer)):
                    target.materialize(src.shape, dtype=src.dtype)
                target.copy_(src)
        result = _IncompatibleKeys(missing, unexpected)
        if post_hooks:
            # as PyTorch: the hooks see the keys after loading and may forgive some
            for module, hook in post_hooks:
                if hook(module, result) is not None:
                    raise RuntimeError("load_state_dict post-hook must return None")
            if strict and (missing or unexpected):
                raise RuntimeError(self._load_error(self._key_errors(missing, unexpected)))
        return result

    @staticmethod
    def _key_errors(missing, unexpected):
        errors = []
        if missing:
            errors.append("Missing key(s) in state_dict: {}. ".format(
                ", ".join(f'"{k}"' for k in missing)))
        if unexpected:
            errors.append("Unexpected key(s) in state_dict: {}. ".format(
                ", ".join(f'"{k}"' for k in unexpected)))
        return errors

    def _load_error(self, errors):
        return "Error(s) in loading state_dict for {}:\n\t{}".format(
            type(self).__name__, "\n\t".join(errors))

    # -- printing ------------------------------------------------------------
    def _get_name(self):
        return type(self).__name__

    def extra_repr(self):
        """The text inside ``Name(...)`` for this module's own settings."""
        return ""

    def __repr__(self):
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({key}): " + _addindent(repr(module), 2)
                       for key, module in self._modules.items()]
        lines = extra_lines + child_lines
        main = self._get_name() + "("
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                main += extra_lines[0]
            else:
                main += "\n  " + "\n  ".join(lines) + "\n"
        return main + ")"


def _add_hook(hooks, hook):
    handle = RemovableHandle(hooks)
    hooks[handle.id] = hook
    return handle


def _checkpoint_array(key, value, target, any_shape=False):
    """(array to copy into ``target``, None) or (None, error message)."""
    if isinstance(value, Tensor):
        src = value.array
    elif hasattr(value, "__array__") and hasattr(value, "shape"):
        src = np.asarray(value)
    else:
        return None, (f'While copying the parameter named "{key}", expected a Tensor or array '
                      f'from checkpoint but received {type(value)}')
    if target.ndim == 0 and src.shape == (1,):
        src = src.reshape(())
    if not any_shape and tuple(src.shape) != tuple(target.shape):
        return None, (f"size mismatch for {key}: copying a param with shape {Size(src.shape)!r} "
                      f"from checkpoint, the shape in current model is {target.shape!r}.")
    if target.array.__class__ is np.ndarray and src.__class__ is not np.ndarray:
        src = src.get()  # a GPU checkpoint into a CPU model
    return src, None
