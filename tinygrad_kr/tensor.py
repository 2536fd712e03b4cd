"""Tensor: an n-dimensional array (NumPy, or CuPy on a GPU) with autograd.

A Tensor is a thin handle: ``array`` holds the NumPy (or CuPy) array,
``grad_fn`` the Function that made it (None for leaves), ``grad`` the
accumulated gradient.  ``.data`` is PyTorch's: a Tensor sharing the array.
Arithmetic and methods are one-line calls into ``tinygrad_kr.ops``, where each
op's forward and backward live.
"""
import copy
import weakref

import numpy as np

from .autograd._core import TensorFields
from .autograd.grad_mode import _state as _grad_state
from .backend import cupy_module, get_array_module

from . import dtypes as _dt
from .dtypes import check_dtype as _check_dtype
from ._tensor_str import tensor_repr as _tensor_repr

class device:
    """A device name, like torch.device: 'cpu' or 'cuda[:index]'."""

    __slots__ = ("type", "index")

    def __init__(self, type, index=None):
        if isinstance(type, device):
            type, index = type.type, type.index
        type = str(type)
        if ":" in type:
            type, idx = type.split(":", 1)
            index = int(idx)
        if type not in ("cpu", "cuda"):
            raise RuntimeError(f"Expected one of cpu, cuda device type at start of device string: "
                               f"{type}")
        self.type, self.index = type, index

    def __eq__(self, other):
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and self.type == other.type and \
            (self.index or 0) == (other.index or 0)

    def __hash__(self):
        return hash((self.type, self.index or 0))

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self):
        return f"device(type='{self.type}'" + (f", index={self.index})" if self.index is not None else ")")


_CPU = device("cpu")


class Tensor(TensorFields):
    """A multi-dimensional array that records the operations made with it."""

    # fields (autograd/_core.py): array, grad, grad_fn, _requires_grad, _version,
    # _changed_at (the stamp of the last in-place change, see _bump_version)
    __slots__ = ()
    __array_priority__ = 1000  # numpy_array * tensor -> Tensor.__rmul__

    def __init__(self, data, requires_grad=False, dtype=None):
        if isinstance(data, Tensor):
            data = data.array
        elif dtype is None and isinstance(data, (list, tuple)):
            dtype = _dt.get_default_dtype()   # torch.Tensor([0]) is a float tensor, as in PyTorch
        data = _to_array(data, dtype)
        self.array = data
        self.grad = None
        self.grad_fn = None
        self._version = 0
        self._requires_grad = False
        self._hooks = None
        if requires_grad:
            self.requires_grad = True

    @classmethod
    def _make(cls, data, grad_fn):
        """Internal constructor for op results (no checks, no copies)."""
        if data.__class__ is not np.ndarray and isinstance(data, np.generic):
            data = np.asarray(data)  # NumPy returns scalars from 0-d arithmetic
        t = TensorFields.__new__(Tensor)
        t.array = data
        t.grad = None
        t.grad_fn = grad_fn
        t._version = 0
        t._hooks = None
        t._requires_grad = grad_fn is not None
        if grad_fn is not None and data.dtype.kind != "f":
            t._requires_grad = False  # integer results (argmax...) carry no gradient
            t.grad_fn = None
        return t

    # -- autograd ----------------------------------------------------------
    @property
    def requires_grad(self):
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value):
        value = bool(value)
        if self.grad_fn is not None and not value:
            raise RuntimeError("you can only change requires_grad flags of leaf variables. If you "
                               "want to use a computed variable in a subgraph that doesn't require "
                               "differentiation use var_no_grad = var.detach().")
        if value and self.array.dtype.kind != "f":
            raise RuntimeError(f"only Tensors of floating point dtype can require gradients "
                               f"(got {self.array.dtype})")
        self._requires_grad = value

    def requires_grad_(self, requires_grad=True):
        self.requires_grad = requires_grad
        return self

    @property
    def is_leaf(self):
        return self.grad_fn is None

    def retain_grad(self):
        """Keep ``.grad`` on this non-leaf tensor after backward."""
        if self.grad_fn is None:
            if not self.requires_grad:
                raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
            return
        self._tensor_hooks().retained = weakref.ref(self)

    @property
    def retains_grad(self):
        hooks = self.grad_fn._hooks if self.grad_fn is not None else None
        return hooks is not None and hooks.retained is not None

    def register_hook(self, hook):
        """Call ``hook(grad)`` each time a gradient for this tensor is computed,
        as PyTorch: on a leaf before it is added to ``.grad``, on a non-leaf
        with the gradient flowing into it.  A hook may return a Tensor to use
        instead (same shape and dtype); several run in the order registered.
        Returns a handle whose ``.remove()`` unregisters the hook."""
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        return self._tensor_hooks().add(hook)

    def _tensor_hooks(self):
        """This tensor's TensorHooks, made on first use: a leaf keeps them, a
        non-leaf's go on its grad_fn (the node the backward walk meets)."""
        owner = self if self.grad_fn is None else self.grad_fn
        if owner._hooks is None:
            owner._hooks = _TensorHooks()
        return owner._hooks

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Accumulate the gradient of this tensor w.r.t. the graph's leaves."""
        _autograd_backward(self, gradient, retain_graph, create_graph, inputs)

    def detach(self):
        """A new leaf sharing this tensor's data, cut from the graph."""
        return Tensor._make(self.array, None)

    @property
    def data(self):
        """The same values as a Tensor outside the graph, sharing the array, as
        PyTorch's ``.data``: ``w.data.normal_(0, 0.01)`` and ``p.data -= lr * p.grad``
        change ``w`` and ``p`` in place, unseen by autograd (no version count, no
        leaf check).  The array itself is ``.array``."""
        view = Tensor._make(self.array, None)
        view._changed_at = -1   # _bump_version: not stamped on the shared memory
        return view

    @data.setter
    def data(self, value):
        # PyTorch's ``p.data = t``: p now holds t's array (any shape), no copy
        if not isinstance(value, Tensor):
            raise TypeError(f"Tensor.data must be set to a Tensor, got {type(value).__name__} "
                            f"(wrap it: tinygrad_kr.as_tensor(value))")
        self.array = value.array

    # -- copying and pickling: as PyTorch, and naming neither graph core, so
    # that what one build writes another reads ------------------------------
    def __reduce_ex__(self, protocol):
        """Pickle the data and requires_grad (PyTorch keeps neither .grad nor the graph)."""
        return (_rebuild_tensor, (type(self), self.array, self.requires_grad))

    def __deepcopy__(self, memo):
        if self.grad_fn is not None:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) "
                               "support the deepcopy protocol at the moment")
        if id(self) in memo:
            return memo[id(self)]
        new = memo[id(self)] = _rebuild_tensor(type(self), copy.deepcopy(self.array, memo),
                                               self.requires_grad)
        if self.grad is not None:
            new.grad = copy.deepcopy(self.grad, memo)
        return new

    def detach_(self):
        self.grad_fn = None
        self._requires_grad = False
        return self

    # -- properties --------------------------------------------------------
    @property
    def shape(self):
        return Size(self.array.shape)

    def size(self, dim=None):
        if dim is None:
            return Size(self.array.shape)
        return self.array.shape[dim]

    @property
    def ndim(self):
        return self.array.ndim

    def dim(self):
        return self.array.ndim

    ndimension = dim

    @property
    def dtype(self):
        return self.array.dtype

    @property
    def device(self):
        if self.array.__class__ is np.ndarray:
            return _CPU
        return device("cuda", self.array.device.id)

    @property
    def is_cuda(self):
        return self.array.__class__ is not np.ndarray

    def numel(self):
        return self.array.size

    nelement = numel

    def element_size(self):
        return self.array.itemsize

    @property
    def T(self):
        return permute(self, *reversed(range(self.ndim)))

    @property
    def mT(self):
        return transpose(self, -2, -1)

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.array.shape[0]

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(unbind(self, 0))

    def __hash__(self):
        return id(self)

    # -- conversion --------------------------------------------------------
    def item(self):
        if self.array.size != 1:
            raise RuntimeError(f"a Tensor with {self.array.size} elements cannot be converted to "
                               f"Scalar")
        return self.array.item() if self.array.__class__ is np.ndarray else self.array.get().item()

    def numpy(self, force=False):
        if self.requires_grad and not force:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. "
                               "Use tensor.detach().numpy() instead.")
        if self.array.__class__ is not np.ndarray:
            if not force:
                raise TypeError("can't convert cuda tensor to numpy. Use Tensor.cpu() to copy the "
                                "tensor to host memory first.")
            return self.array.get()
        return self.array

    def tolist(self):
        return _host(self.array).tolist()

    def __array__(self, dtype=None, copy=None):
        a = _host(self.array)
        return a if dtype is None else a.astype(dtype)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self.array.dtype.kind not in "iu" or self.array.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __bool__(self):
        if self.array.size != 1:
            raise RuntimeError(f"Boolean value of Tensor with more than one value is ambiguous "
                               f"(shape {tuple(self.shape)})")
        return bool(self.item())

    def __repr__(self):
        return _tensor_repr(self.array, dtype_name=f"tinygrad_kr.{self.array.dtype}",
                            default_dtype=_dt.get_default_dtype(), to_host=_host,
                            device=self.device if self.is_cuda else None,
                            grad_fn=None if self.grad_fn is None else
                            f"<{self.grad_fn.name()}>",
                            requires_grad=self.requires_grad)

    __str__ = __repr__

    def __format__(self, spec):
        # as PyTorch: a 0-d tensor formats as its number (f"{loss:.3f}", f"{loss}")
        if self.array.ndim == 0:
            return format(self.item(), spec)
        return object.__format__(self, spec)

    # -- dtype & device ----------------------------------------------------
    def to(self, *args, **kwargs):
        """to(dtype) / to(device) / to(device, dtype) / to(other_tensor)."""
        dev, dtype = _parse_to_args(args, kwargs)
        t = self
        if dev is not None:
            t = _to_device(t, device(dev))
        if dtype is not None:
            dtype = _check_dtype(dtype)
            if dtype != t.array.dtype:
                t = Cast.apply(t, dtype=dtype)
        return t

    def type(self, dtype=None):
        if dtype is None:
            return f"tinygrad_kr.{self.array.dtype}"
        return self.to(dtype)

    def type_as(self, other):
        return self.to(other.dtype)

    def float(self):
        return self.to(_dt.float32)

    def double(self):
        return self.to(_dt.float64)

    def half(self):
        return self.to(_dt.float16)

    def long(self):
        return self.to(_dt.int64)

    def int(self):
        return self.to(_dt.int32)

    def bool(self):
        return self.to(_dt.bool)

    def byte(self):
        return self.to(_dt.uint8)

    def short(self):
        return self.to(_dt.int16)

    def char(self):
        return self.to(_dt.int8)

    # -- new tensors like this one (dtype and device from self) --------------
    def new_tensor(self, data, dtype=None, device=None, requires_grad=False):
        from .factories import tensor
        return tensor(data, dtype=dtype or self.dtype, device=device or self.device,
                      requires_grad=requires_grad)

    def new_full(self, size, fill_value, dtype=None, device=None, requires_grad=False):
        from .factories import full
        return full(size, fill_value, dtype=dtype or self.dtype, device=device or self.device,
                    requires_grad=requires_grad)

    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False):
        return self.new_full(_ops._shape_arg(size), 0, dtype, device, requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False):
        return self.new_full(_ops._shape_arg(size), 1, dtype, device, requires_grad)

    def new_empty(self, *size, dtype=None, device=None, requires_grad=False):
        return self.new_zeros(*size, dtype=dtype, device=device, requires_grad=requires_grad)

    def multinomial(self, num_samples, replacement=False, *, generator=None):
        from .factories import multinomial
        return multinomial(self, num_samples, replacement, generator=generator)

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=None):
        return self.to("cuda" if device is None else f"cuda:{device}" if isinstance(device, int) else device)

    def contiguous(self):
        # a copy when the array is a strided view (x.t()), as PyTorch: an
        # in-place change of the result must not reach x
        return self if self.is_contiguous() else self.clone()

    def is_contiguous(self):
        return bool(self.array.flags.c_contiguous)

    def clone(self):
        return Clone.apply(self)

    def is_floating_point(self):
        return self.array.dtype.kind == "f"

    # -- in-place ----------------------------------------------------------
    # As in PyTorch, an in-place change is recorded when a gradient must flow
    # through it: ``y += h`` or ``out[t] = h`` with ``h`` (or ``y``) in a graph
    # makes ``y`` the output of a new node whose input is ``y``'s old value.
    # The array itself is written, never replaced, so every handle on it
    # (``.detach()``, ``.numpy()``) sees the change, and the version stamp
    # lets backward refuse a node that saved the overwritten values.
    def _records_inplace(self, value=None):
        """Whether an in-place change of self by ``value`` goes into the graph;
        raises for a leaf that requires grad (its old value would be lost)."""
        if not _grad_state.enabled:
            return False
        if self._requires_grad:
            if self.grad_fn is None:
                raise RuntimeError("a leaf Variable that requires grad is being used in an "
                                   "in-place operation (it would overwrite a value backward "
                                   "needs); wrap it in tinygrad_kr.no_grad() or use the "
                                   "out-of-place op")
            # a custom Function's output that is an input or views one: its
            # backward would be bypassed (ctx_function.py; PyTorch forbids it too)
            view_error = getattr(self.grad_fn, "inplace_view_error", None)
            if view_error is not None:
                raise RuntimeError(view_error)
            records = True
        else:
            records = isinstance(value, Tensor) and value._requires_grad
        if records and self._is_view():
            raise RuntimeError(
                f"an in-place operation that autograd must record was applied to a view of "
                f"another tensor (made by indexing, view/reshape, transpose/permute or expand; "
                f"shape {tuple(self.shape)}): views are not tracked here, so the gradient "
                f"would not reach the tensor it views. Write through that tensor instead "
                f"(base[index] = value), or use out-of-place ops (torch.cat, torch.stack)")
        return records

    def _is_view(self):
        """Whether self's array is a view of another tensor's array: a leaf
        whose array is a view (out[0] of a plain buffer), or the output of a
        view op (basic indexing, reshape, permute, expand)."""
        if getattr(self.array, "base", None) is None:
            return False
        fn = self.grad_fn
        if fn is None:
            return True
        if isinstance(fn, _ops.GetItem):
            return _ops._is_basic_index(fn.index)
        return isinstance(fn, (_ops.Reshape, _ops.Permute, _ops.Expand))

    def _bump_version(self):
        """Count an in-place change of the data, stamped so that backward can
        tell whether it came after a Function saved this tensor."""
        self._version += 1
        # -1: a .data view, whose changes autograd does not see (unset in the
        # Python core's slots until a first change)
        if getattr(self, "_changed_at", 0) != -1:
            self._changed_at = _inplace_stamp(self.array)

    def _inplace(self, op, other, **options):
        """self <- op(self, other, **options) in place, keeping self's dtype."""
        if not self._records_inplace(other):
            result = op(self.detach(), other, **options)
        else:
            # The new node's input is the old value: give it its own array, since
            # the write below reuses self's and the node may have saved it (mul_
            # saves it for other's gradient).
            result = op(Tensor._make(self.array.copy(), self.grad_fn), other, **options)
        if result.array.shape != self.array.shape:
            raise RuntimeError(f"output with shape {list(self.shape)} doesn't match the broadcast "
                               f"shape {list(result.shape)}")
        if result.array.dtype != self.array.dtype:
            if not np.can_cast(result.array.dtype, self.array.dtype, "same_kind"):
                # PyTorch refuses to truncate an arithmetic result (int += 0.5)
                raise RuntimeError(f"result type {result.array.dtype} can't be cast to the "
                                   f"desired output type {self.array.dtype} of an in-place "
                                   f"operation")
            result = result.to(self.array.dtype)
        return self._rebase(result)

    def _rebase(self, result):
        """Write ``result``'s values into self's array; if ``result`` is in the
        graph, self now stands for its node."""
        self._bump_version()
        self.array[...] = result.array
        if result.grad_fn is not None:
            self.grad_fn, self._requires_grad = result.grad_fn, True
        return self

    def __setitem__(self, index, value):
        index = _convert_index(index, self.shape)
        if not self._records_inplace(value):
            self._bump_version()
            _ops._assign(self.array, index, value.array if isinstance(value, Tensor) else value)
            return
        # SetItem copies its input before writing: the old value needs no copy here
        self._rebase(_ops.SetItem.apply(Tensor._make(self.array, self.grad_fn), value,
                                        index=index))

    def add_(self, other, *, alpha=1):
        return self._inplace(add, other, alpha=alpha)

    def sub_(self, other, *, alpha=1):
        return self._inplace(sub, other, alpha=alpha)

    def mul_(self, other):
        return self._inplace(mul, other)

    def div_(self, other):
        return self._inplace(div, other)

    def pow_(self, exponent):
        return self._inplace(pow, exponent)

    def clamp_(self, min=None, max=None):
        return self._inplace(lambda x, _, lo, hi: clamp(x, lo, hi), None, lo=min, hi=max)

    def zero_(self):
        return self.fill_(0)

    def fill_(self, value):
        self[...] = value
        return self

    def copy_(self, src):
        if not isinstance(src, Tensor):
            src = get_array_module(self.array).asarray(src)
        self[...] = src
        return self

    def uniform_(self, a=0.0, b=1.0, generator=None):
        from .random import get_rng
        self[...] = _like_device(get_rng(generator).uniform(a, b, self.array.shape), self.array)
        return self

    def normal_(self, mean=0.0, std=1.0, generator=None):
        from .random import get_rng
        self[...] = _like_device(get_rng(generator).normal(mean, std, self.array.shape), self.array)
        return self

    def masked_fill_(self, mask, value):
        return self._inplace(lambda x, v, mask: x.masked_fill(mask, v), value, mask=mask)

    def index_add_(self, dim, index, source, *, alpha=1):
        return self._inplace(lambda x, s: _ops.index_add(x, dim, index, s, alpha=alpha), source)

    def scatter_(self, dim, index, src=None, *, value=None):
        return self._inplace(lambda x, s: _ops.scatter(x, dim, index, s),
                             value if src is None else src)

    def clamp_min_(self, min):
        return self.clamp_(min=min)

    def clamp_max_(self, max):
        return self.clamp_(max=max)

    def _unary_(self, op):
        return self._inplace(lambda x, _: op(x), None)

    def relu_(self):
        return self._unary_(_ops.relu)

    def sigmoid_(self):
        return self._unary_(_ops.sigmoid)

    def tanh_(self):
        return self._unary_(_ops.tanh)

    def exp_(self):
        return self._unary_(_ops.exp)

    def log_(self):
        return self._unary_(_ops.log)

    def sqrt_(self):
        return self._unary_(_ops.sqrt)

    def abs_(self):
        return self._unary_(abs)

    def neg_(self):
        return self._unary_(neg)

    # the shape ops' in-place forms: self takes the view's shape (and, in a
    # graph, stands for the view's node); the data are not written, but PyTorch
    # counts them as in-place changes (the version moves, a leaf refuses)
    def _inplace_view(self, op, *args):
        if _grad_state.enabled and self._requires_grad and self.grad_fn is None:
            raise RuntimeError("a leaf Variable that requires grad is being used in an "
                               "in-place operation.")
        result = op(Tensor._make(self.array, self.grad_fn) if self._requires_grad
                    else self.detach(), *args)
        self._bump_version()
        self.array = result.array
        if result.grad_fn is not None:
            self.grad_fn = result.grad_fn
        return self

    def unsqueeze_(self, dim):
        return self._inplace_view(_ops.unsqueeze, dim)

    def squeeze_(self, dim=None):
        return self._inplace_view(_ops.squeeze, dim)

    def t_(self):
        return self._inplace_view(_ops.t)

    def transpose_(self, dim0, dim1):
        return self._inplace_view(_ops.transpose, dim0, dim1)

    __iadd__ = add_
    __isub__ = sub_
    __imul__ = mul_
    __itruediv__ = div_

    # -- operators ---------------------------------------------------------
    def __add__(self, other):
        return add(self, other)

    def __radd__(self, other):
        return add(other, self)

    def __sub__(self, other):
        return sub(self, other)

    def __rsub__(self, other):
        return sub(other, self)

    def __mul__(self, other):
        return mul(self, other)

    def __rmul__(self, other):
        return mul(other, self)

    def __truediv__(self, other):
        return div(self, other)

    def __rtruediv__(self, other):
        return div(other, self)

    def __floordiv__(self, other):
        return div(self, other, rounding_mode="floor")

    def __rfloordiv__(self, other):
        return div(other, self, rounding_mode="floor")

    def __mod__(self, other):
        return Tensor(self.array % _data(other))

    def __pow__(self, exponent):
        return pow(self, exponent)

    def __rpow__(self, base):
        return pow(_as_tensor(base, self), self)

    def __matmul__(self, other):
        return matmul(self, _as_tensor(other, self))

    def __rmatmul__(self, other):
        return matmul(_as_tensor(other, self), self)

    def __neg__(self):
        return neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return abs(self)

    def __getitem__(self, index):
        return getitem(self, index)

    # comparisons and logic give bool tensors outside the graph
    def __eq__(self, other):
        return Tensor(self.array == _data(other))

    def __ne__(self, other):
        return Tensor(self.array != _data(other))

    def __lt__(self, other):
        return Tensor(self.array < _data(other))

    def __le__(self, other):
        return Tensor(self.array <= _data(other))

    def __gt__(self, other):
        return Tensor(self.array > _data(other))

    def __ge__(self, other):
        return Tensor(self.array >= _data(other))

    def __and__(self, other):
        return Tensor(self.array & _data(other))

    def __or__(self, other):
        return Tensor(self.array | _data(other))

    def __xor__(self, other):
        return Tensor(self.array ^ _data(other))

    def __invert__(self):
        return Tensor(~self.array)

    eq = __eq__
    ne = __ne__
    lt = __lt__
    le = __le__
    gt = __gt__
    ge = __ge__

    def logical_not(self):
        return Tensor(get_array_module(self.array).logical_not(self.array))

    def logical_and(self, other):
        return Tensor(get_array_module(self.array).logical_and(self.array, _data(other)))

    def logical_or(self, other):
        return Tensor(get_array_module(self.array).logical_or(self.array, _data(other)))

    def logical_xor(self, other):
        return Tensor(get_array_module(self.array).logical_xor(self.array, _data(other)))

    def equal(self, other):
        return self.shape == other.shape and bool((self.array == other.array).all())

    def allclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        return bool(get_array_module(self.array).allclose(
            self.array, _data(other), rtol=rtol, atol=atol, equal_nan=equal_nan))

    def all(self, dim=None, keepdim=False):
        axes = None if dim is None else _ops._norm_dims(dim, self.ndim)   # PyTorch's dim checks
        r = self.array.all(axis=axes, keepdims=keepdim)
        return Tensor(r.astype(np.uint8) if self.array.dtype == np.uint8 else r)   # as PyTorch

    def any(self, dim=None, keepdim=False):
        axes = None if dim is None else _ops._norm_dims(dim, self.ndim)
        r = self.array.any(axis=axes, keepdims=keepdim)
        return Tensor(r.astype(np.uint8) if self.array.dtype == np.uint8 else r)

    def isnan(self):
        return Tensor(get_array_module(self.array).isnan(self.array))

    def isfinite(self):
        return Tensor(get_array_module(self.array).isfinite(self.array))

    def isinf(self):
        return Tensor(get_array_module(self.array).isinf(self.array))

    def floor(self):
        from .ops_math import _rounded     # in the graph, zero gradient (PyTorch's)
        return _rounded(self, "floor")

    def ceil(self):
        from .ops_math import _rounded
        return _rounded(self, "ceil")

    def round(self, decimals=0):
        from .ops_math import _rounded
        return _rounded(self, "round", decimals)

    def argsort(self, dim=-1, descending=False, stable=False):
        return _ops.argsort(self, dim, descending, stable)

    def topk(self, k, dim=-1, largest=True, sorted=True):
        return _ops.topk(self, k, dim, largest, sorted)

    def masked_fill(self, mask, value):
        # the result keeps self's dtype, as in PyTorch (an int tensor stays int)
        return where(_as_tensor(mask, None).bool() if not isinstance(mask, Tensor) else mask,
                     _as_tensor(value, self).to(self.array.dtype), self)

    def where(self, condition, other):
        return where(condition, self, other)


class Size(tuple):
    """torch.Size: a tuple of ints with numel(); slicing, + and * give Sizes."""

    __slots__ = ()

    def __getitem__(self, index):
        item = tuple.__getitem__(self, index)
        return Size(item) if isinstance(index, slice) else item

    def __add__(self, other):
        return Size(tuple.__add__(self, other))

    def __radd__(self, other):      # (0,) + size
        if not isinstance(other, tuple):
            return NotImplemented
        return Size(tuple.__add__(other, self))

    def __mul__(self, count):
        return Size(tuple.__mul__(self, count))

    __rmul__ = __mul__

    def numel(self):
        n = 1
        for s in self:
            n *= s
        return n

    def __repr__(self):
        return f"tinygrad_kr.Size({list(self)})"


def _rebuild_tensor(cls, data, requires_grad):
    """A leaf ``cls`` holding ``data`` as is (unpickling, deepcopy)."""
    t = TensorFields.__new__(cls)
    t.array, t.grad, t.grad_fn, t._version, t._hooks = data, None, None, 0, None
    t._requires_grad = bool(requires_grad)
    return t


def _host(a):
    return a if a.__class__ is np.ndarray else a.get()


def _data(x):
    return x.array if isinstance(x, Tensor) else x


def _like_device(host_array, like):
    """host_array in like's dtype, on like's device."""
    xp = get_array_module(like)
    return xp.asarray(host_array, dtype=like.dtype)


def _to_array(data, dtype=None):
    """Build the array of a new tensor with PyTorch's dtype inference:
    Python floats give float32 (the default dtype), ints int64, bools bool;
    an array keeps its dtype (float64 stays float64)."""
    cp = cupy_module() if data.__class__ is not np.ndarray else None
    if cp is not None and isinstance(data, cp.ndarray):
        return data if dtype is None else data.astype(_check_dtype(dtype), copy=False)
    if dtype is not None:
        dtype = _check_dtype(dtype)
        arr = np.array(data, dtype=dtype) if not isinstance(data, np.ndarray) else \
            data.astype(dtype, copy=False)
        return arr
    if isinstance(data, np.ndarray):
        arr = data
    elif isinstance(data, np.generic):
        arr = np.asarray(data)
    else:
        try:
            arr = np.asarray(data)
        except ValueError as e:
            raise ValueError(f"could not build a tensor from {type(data).__name__}: {e}") from None
        if arr.dtype.kind == "f":
            arr = arr.astype(_dt.get_default_dtype())
        elif arr.dtype.kind in "iu" and arr.dtype != _dt.int64:
            arr = arr.astype(_dt.int64)
    if not arr.dtype.isnative:     # big-endian data ('>f4', from a file): native order, same values
        arr = arr.astype(arr.dtype.newbyteorder("="))
    if arr.dtype not in _dt.SUPPORTED:
        kind = {"U": "str", "S": "bytes", "O": "object", "c": "complex"}.get(arr.dtype.kind, str(arr.dtype))
        raise TypeError(f"can't convert data of dtype {arr.dtype} ({kind}) to a tensor: only "
                        f"numeric and bool data are supported")
    return arr


def _as_tensor(x, like):
    """Wrap a Python number or array as a constant Tensor matching ``like``'s
    dtype class and device (PyTorch's scalar promotion)."""
    if isinstance(x, Tensor):
        return x
    like_arr = like.array if isinstance(like, Tensor) else None
    if isinstance(x, (bool, np.bool_)):
        dtype = like_arr.dtype if like_arr is not None else _dt.bool
    elif isinstance(x, (int, np.integer)):
        dtype = like_arr.dtype if like_arr is not None and like_arr.dtype != _dt.bool else _dt.int64
    elif isinstance(x, (float, np.floating)):
        dtype = like_arr.dtype if like_arr is not None and like_arr.dtype.kind == "f" \
            else _dt.get_default_dtype()
    else:
        arr = _to_array(x)
        if like_arr is not None and like_arr.__class__ is not np.ndarray:
            arr = get_array_module(like_arr).asarray(arr)
        return Tensor._make(arr, None)
    if like_arr is not None and like_arr.__class__ is not np.ndarray:
        return Tensor._make(get_array_module(like_arr).asarray(x, dtype=dtype), None)
    return Tensor._make(np.asarray(x, dtype=dtype), None)


def _to_device(t, dev):
    if dev.type == "cpu":
        if t.array.__class__ is np.ndarray:
            return t
    else:
        cp = cupy_module()
        if cp is None:
            raise RuntimeError("CUDA requested but not available: install CuPy "
                               "(pip install 'tinygrad_kr[cuda12]') on a machine with an NVIDIA GPU")
        try:
            count = cp.cuda.runtime.getDeviceCount()
        except Exception as e:  # noqa: BLE001 (CuPy raises its own runtime error types)
            raise RuntimeError(f"CUDA requested but not available: {e}") from None
        idx = dev.index or 0
        if idx >= count:
            raise RuntimeError(f"CUDA error: invalid device ordinal {idx} ({count} device(s))")
        if t.array.__class__ is not np.ndarray and t.array.device.id == idx:
            return t
    return ToDevice.apply(t, device=dev)


from .ops import (  # noqa: E402  (ops import Tensor from this module)
    Cast, Clone, ToDevice, abs, add, clamp, div, getitem, matmul, mul, neg, permute, pow, sub,
    transpose, unbind, where, _convert_index)
from . import ops as _ops  # noqa: E402
from .autograd.function import backward as _autograd_backward  # noqa: E402
from .autograd.function import inplace_stamp as _inplace_stamp  # noqa: E402
from .autograd.function import TensorHooks as _TensorHooks  # noqa: E402

# methods that are plain calls into ops, with PyTorch's names
for _name in ("exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "relu", "neg", "sum", "mean",
              "amax", "amin", "max", "min", "argmax", "argmin", "var", "std", "logsumexp",
              "softmax", "log_softmax", "reshape", "flatten", "squeeze", "unsqueeze", "permute",
              "transpose", "expand", "repeat", "split", "chunk", "matmul", "mm", "mv", "t", "clamp",
              "clip", "maximum", "minimum", "pow", "add", "sub", "mul", "div", "square", "sign",
              "norm", "narrow", "unbind", "swapaxes", "bmm", "dot", "abs", "outer", "log1p",
              "log2", "log10", "expm1", "histogram", "index_add", "rsqrt", "reciprocal",
              "leaky_relu", "prod", "cumsum", "gather", "flip", "fliplr", "flipud", "rot90",
              "tril", "triu", "sort", "index_select", "scatter", "cumprod", "roll", "diag",
              "diagonal", "trace"):
    if hasattr(_ops, _name):
        setattr(Tensor, _name, getattr(_ops, _name))
Tensor.view = Tensor.reshape
Tensor.absolute = Tensor.abs
Tensor.multiply = Tensor.mul
Tensor.divide = Tensor.div
Tensor.subtract = Tensor.sub
Tensor.negative = Tensor.neg
Tensor.clamp_min = lambda self, min: _ops.clamp(self, min=min)
Tensor.clamp_max = lambda self, max: _ops.clamp(self, max=max)
Tensor.expand_as = lambda self, other: _ops.expand(self, *other.shape)
Tensor.view_as = lambda self, other: _ops.reshape(self, *other.shape)
Tensor.reshape_as = Tensor.view_as
del _name


def _parse_to_args(args, kwargs):
    """(device or None, dtype or None) from the arguments of ``Tensor.to`` /
    ``Module.to``: to(device), to(dtype), to(device, dtype), to(tensor), the
    same as keywords, and non_blocking/copy (accepted, no effect here)."""
    dev, dtype = kwargs.pop("device", None), kwargs.pop("dtype", None)
    kwargs.pop("non_blocking", None)
    kwargs.pop("copy", None)
    if kwargs:
        raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
    for a in args:
        if isinstance(a, Tensor):
            dev, dtype = a.device, a.dtype
        elif isinstance(a, (str, device)):
            dev = a
        elif a is not None and not isinstance(a, bool):   # non_blocking / copy positionally
            dtype = a
    return dev, dtype


def _zero_grads(params, set_to_none=True):
    """Module.zero_grad / Optimizer.zero_grad: drop each gradient, or fill it with 0."""
    for p in params:
        if p.grad is None:
            continue
        if set_to_none:
            p.grad = None
        else:
            p.grad.detach_()
            p.grad.zero_()
