"""torch.func: function transforms (grad, grad_and_value, vjp, jvp, jacrev,
jacfwd, hessian, vmap) and functional_call, on the engine's reverse mode.

How a transform runs here.  It makes each argument it differentiates a
fresh leaf (a view of it, when it already requires grad: an outer
transform's input, or the caller's), calls the function and takes
``autograd.grad``.  The derivative is itself recorded (create_graph) only
when grad mode was on at the call and the output depends on a tensor from
outside the transform that requires grad (an outer transform's input, a
weight the function captured).  That is what PyTorch's levels give:
``grad(grad(f))`` and ``jacrev(jacrev(f))`` work, a gradient can be
differentiated again with respect to captured weights, and otherwise the
results are plain tensors.  Arguments may be trees of tuples, lists and
dicts of Tensors, as PyTorch's pytrees.

What differs from PyTorch.  The engine has no forward mode: ``jvp`` and
``jacfwd`` use the double-backward trick (autograd/functional.py), so they
give PyTorch's values at the cost of two backward passes, and ``hessian`` is
``jacrev(jacrev(f))`` (PyTorch's is ``jacfwd(jacrev(f))``: the same values).
``vmap`` is a loop: the function runs once per index of the mapped
dimension and the results are stacked, so it accepts anything the function
does with one sample, and costs what the loop costs.  ``chunk_size`` is
accepted and ignored.
"""
import contextlib
import functools

from .autograd.function import grad as _autograd_grad
from .autograd.grad_mode import enable_grad, is_grad_enabled
from .backend import get_array_module
from .factories import ones_like, zeros_like
from .ops import stack
from .random import get_rng_state, set_rng_state
from .tensor import Tensor

__all__ = ["grad", "grad_and_value", "vjp", "jvp", "jacrev", "jacfwd", "hessian", "vmap",
           "functional_call"]


# -- pytrees: tuples, lists and dicts are nodes, anything else is a leaf ------

def _tree_flatten(tree):
    """(leaves, spec); ``spec`` rebuilds the structure and compares equal for equal structures."""
    if isinstance(tree, dict):
        keys = tuple(tree)
        parts = [_tree_flatten(tree[k]) for k in keys]
    elif isinstance(tree, (tuple, list)):
        keys = None
        parts = [_tree_flatten(x) for x in tree]
    else:
        return [tree], None
    leaves = [leaf for part, _ in parts for leaf in part]
    return leaves, (type(tree), keys, tuple(spec for _, spec in parts))


def _tree_unflatten(leaves, spec):
    leaves = iter(leaves)

    def build(spec):
        if spec is None:
            return next(leaves)
        kind, keys, children = spec
        values = [build(child) for child in children]
        if keys is not None:
            return kind(zip(keys, values))
        return kind(*values) if hasattr(kind, "_fields") else kind(values)  # a namedtuple
    return build(spec)


def _num_leaves(spec):
    return 1 if spec is None else sum(_num_leaves(child) for child in spec[2])


def _broadcast_to_leaves(prefix, spec):
    """One value per leaf of ``spec`` from ``prefix``: a tree whose leaves
    (an int or None) stand for whole subtrees.  None if it does not fit."""
    if not isinstance(prefix, (tuple, list, dict)):
        return [prefix] * _num_leaves(spec)
    if spec is None or isinstance(prefix, dict) != (spec[1] is not None):
        return None
    _, keys, children = spec
    if keys is not None:
        if set(prefix) != set(keys):
            return None
        prefix = [prefix[k] for k in keys]
    if len(prefix) != len(children):
        return None
    values = []
    for p, child in zip(prefix, children):
        part = _broadcast_to_leaves(p, child)
        if part is None:
            return None
        values += part
    return values


# -- what the transforms share -------------------------------------------------

def _wrap_argnums(argnums, num_args):
    def one(argnum):
        if not isinstance(argnum, int):
            raise RuntimeError(f"argnum must be int, got: {type(argnum)}")
        if -num_args <= argnum < num_args:
            return argnum % num_args
        raise RuntimeError(f"Got argnum={argnum}, but only {num_args} positional inputs")
    if isinstance(argnums, int):
        return one(argnums)
    if not isinstance(argnums, tuple):
        raise RuntimeError(f"argnums must be int or Tuple[int, ...], got: {type(argnums)}")
    argnums = tuple(one(a) for a in argnums)
    if not argnums:
        raise RuntimeError("argnums must be non-empty")
    if len(set(argnums)) != len(argnums):
        raise RuntimeError(f"argnums elements must be unique, got {argnums}")
    return argnums


def _differentiable(x):
    if not isinstance(x, Tensor):
        raise ValueError(f"Thing passed to transform API must be Tensor, got {type(x)}")
    return x.view_as(x) if x.requires_grad else x.detach().requires_grad_()


def _prepare(args, argnums):
    """The arguments at ``argnums`` made differentiable: (the arguments to call
    the function with, their differentiable tensors as a flat list, the
    spec that nests a list like it as ``argnums`` selects: one argument's
    tree, or a tuple of them)."""
    argnums = _wrap_argnums(argnums, len(args))
    chosen = args[argnums] if isinstance(argnums, int) else tuple(args[i] for i in argnums)
    leaves, spec = _tree_flatten(chosen)
    leaves = [_differentiable(x) for x in leaves]
    chosen = _tree_unflatten(leaves, spec)
    args = list(args)
    if isinstance(argnums, int):
        args[argnums] = chosen
    else:
        for i, value in zip(argnums, chosen):
            args[i] = value
    return tuple(args), leaves, spec


def _reaches_outside(tensors, own):
    """Whether the graph of ``tensors`` reaches a tensor requiring grad other
    than ``own`` (this transform's fresh leaves): then the derivative must be
    recorded for whoever differentiates next."""
    own = {id(t) for t in own}
    stack_, seen = [], set()
    for t in tensors:
        if isinstance(t, Tensor) and t.requires_grad:
            if t.grad_fn is None:
                if id(t) not in own:
                    return True
            else:
                stack_.append(t.grad_fn)
    while stack_:
        fn = stack_.pop()
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        for parent in fn.parents or ():
            if isinstance(parent, Tensor):
                if id(parent) not in own:
                    return True
            elif parent is not None:
                stack_.append(parent)
    return False


def _grads(outputs, inputs, cotangents=None, create_graph=False, retain_graph=None,
           fill=True):
    """autograd.grad of the ``outputs`` that need one; an input nothing
    reached gets zeros (``fill``) or None."""
    if cotangents is None:
        cotangents = [None] * len(outputs)
    pairs = [(o, c) for o, c in zip(outputs, cotangents)
             if o is not None and o.requires_grad]
    grads = [None] * len(inputs)
    if pairs:
        outs, cots = zip(*pairs)
        grads = _autograd_grad(list(outs), list(inputs), list(cots), retain_graph=retain_graph,
                               create_graph=create_graph, allow_unused=True)
    if not fill:
        return tuple(grads)
    return tuple(zeros_like(x) if g is None else g for g, x in zip(grads, inputs))


def _split_aux(output, has_aux, api):
    if not has_aux:
        return output, None
    if not (isinstance(output, tuple) and len(output) == 2):
        raise RuntimeError(f"{api}: output of function f should be a tuple: (output, aux) if "
                           f"has_aux is True")
    return output


def _release(tree, own, record):
    """The tensors of ``tree`` as the caller gets them: detached, unless grad
    mode was on and they depend on something outside the transform."""
    leaves, spec = _tree_flatten(tree)
    return _tree_unflatten([x.detach() if isinstance(x, Tensor) and not (
        record and _reaches_outside([x], own)) else x for x in leaves], spec)


def _tensor_outputs(output, api):
    flat, spec = _tree_flatten(output)
    if not flat or (len(flat) == 1 and flat[0] is None):
        raise RuntimeError(f"{api}: Expected f to be a function that has non-empty output (got "
                           f"output = {flat})")
    for o in flat:
        if not isinstance(o, Tensor):
            raise RuntimeError(f"{api}: expected f(*primals) to return only tensors, got "
                               f"unsupported type {type(o)}")
        if not o.is_floating_point():
            raise RuntimeError(f"{api}: All outputs of f must be floating-point or complex "
                               f"Tensors, got Tensor with dtype {o.dtype}")
    return flat, spec


def _stack_blocks(blocks, out, x, dim):
    """d out / d x from its rows (dim=0) or columns (dim=-1), shaped out.shape + x.shape."""
    shape = tuple(out.shape) + tuple(x.shape)
    return stack(blocks, dim=dim).reshape(shape) if blocks else out.new_zeros(shape)


# -- the transforms ------------------------------------------------------------

def grad_and_value(func, argnums=0, has_aux=False):
    """f -> (x -> (df/dx, f(x))) for a function with a scalar Tensor output;
    with ``has_aux`` f returns (output, aux) and the result is (grad, (output, aux))."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        record = is_grad_enabled()
        api = "grad_and_value(f)(*args)"
        with enable_grad():
            args, leaves, spec = _prepare(args, argnums)
            output, aux = _split_aux(func(*args, **kwargs), has_aux, api)
            if not isinstance(output, Tensor):
                raise RuntimeError(f"{api}: Expected f(*args) to return a Tensor, got "
                                   f"{type(output)}")
            if output.dim() != 0:
                raise RuntimeError(f"{api}: Expected f(*args) to return a scalar Tensor, got "
                                   f"tensor with {output.dim()} dims. Maybe you wanted to use "
                                   f"the vjp or jacrev APIs instead?")
            create_graph = record and _reaches_outside([output], leaves)
            grads = _tree_unflatten(_grads([output], leaves, create_graph=create_graph), spec)
        output = _release(output, leaves, record)
        if has_aux:
            return grads, (output, _release(aux, leaves, record))
        return grads, output
    return wrapper


def grad(func, argnums=0, has_aux=False):
    """f -> (x -> df/dx) for a function with a scalar Tensor output (with
    ``has_aux``: (grad, aux))."""
    both = grad_and_value(func, argnums, has_aux)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        grads, value = both(*args, **kwargs)
        return (grads, value[1]) if has_aux else grads
    return wrapper


def vjp(func, *primals, has_aux=False):
    """(func(*primals), vjp_fn[, aux]); ``vjp_fn(cotangents)`` returns v^T J
    for every primal, as a tuple."""
    record = is_grad_enabled()
    api = "vjp(f, *primals)"
    with enable_grad():
        leaves, primals_spec = _tree_flatten(primals)
        leaves = [_differentiable(x) for x in leaves]
        output, aux = _split_aux(func(*_tree_unflatten(leaves, primals_spec)), has_aux, api)
    flat_out, out_spec = _tensor_outputs(output, "vjp(f, ...)")
    outside = _reaches_outside(flat_out, leaves)

    def vjp_fn(cotangents, retain_graph=True, create_graph=None):
        flat_cot, cot_spec = _tree_flatten(cotangents)
        if cot_spec != out_spec:
            raise RuntimeError(f"Expected pytree structure of cotangents to be the same as "
                               f"pytree structure of outputs to the function. cotangents: "
                               f"{cot_spec}, primal output: {out_spec}")
        if create_graph is None:
            create_graph = is_grad_enabled() and (outside or any(
                isinstance(c, Tensor) and c.requires_grad for c in flat_cot))
        grads = _grads(flat_out, leaves, flat_cot, create_graph, retain_graph)
        return _tree_unflatten(grads, primals_spec)

    output = _release(output, leaves, record)
    if has_aux:
        return output, vjp_fn, _release(aux, leaves, record)
    return output, vjp_fn


def jacrev(func, argnums=0, *, has_aux=False, chunk_size=None):
    """f -> (x -> its Jacobian with respect to the arguments at ``argnums``),
    one backward per output entry: for each output (nested as f's output),
    d output / d argument, shaped output.shape + argument.shape (nested as
    ``argnums`` selects)."""
    if not (chunk_size is None or chunk_size > 0):
        raise ValueError("jacrev: `chunk_size` should be greater than 0.")

    @functools.wraps(func)
    def wrapper(*args):
        record = is_grad_enabled()
        with enable_grad():
            args, leaves, spec = _prepare(args, argnums)
            output, aux = _split_aux(func(*args), has_aux, "vjp(f, *primals)")
            flat_out, out_spec = _tensor_outputs(output, "vjp(f, ...)")
            create_graph = record and _reaches_outside(flat_out, leaves)
            jac = []
            for out in flat_out:
                rows = [[] for _ in leaves]         # rows[k][r]: d out[r] / d leaves[k]
                flat = out.reshape(-1)              # (recorded: each row starts from flat[r])
                for r in range(out.numel()):
                    for k, g in enumerate(_grads([flat[r]], leaves, None, create_graph,
                                                 retain_graph=True)):
                        rows[k].append(g)
                jac.append(_tree_unflatten([_stack_blocks(rows[k], out, x, 0)
                                            for k, x in enumerate(leaves)], spec))
        jac = _tree_unflatten(jac, out_spec)
        return (jac, _release(aux, leaves, record)) if has_aux else jac
    return wrapper


def _jvp_by_double_backward(flat_out, leaves, directions, create_graph):
    """For each direction (one tangent per leaf), J v for every output, by the
    double-backward trick (see autograd/functional.py: u is ones, not zeros)."""
    with enable_grad():
        us = [ones_like(o, requires_grad=True) for o in flat_out]
        grad_inputs = _grads(flat_out, leaves, us, create_graph=True, fill=False)
    pairs = [(g, k) for k, g in enumerate(grad_inputs) if g is not None]
    for tangents in directions:
        wanted = [(g, tangents[k]) for g, k in pairs if tangents[k] is not None]
        yield _grads([g for g, _ in wanted], us, [t for _, t in wanted], create_graph,
                     retain_graph=True, fill=False)


def jvp(func, primals, tangents, *, strict=False, has_aux=False):
    """(func(*primals), J tangents[, aux]), by the double-backward trick."""
    api = "jvp(f, primals, tangents)"
    if not isinstance(primals, tuple):
        raise RuntimeError(f"{api}: Expected primals to be a tuple. E.g. it should be valid to "
                           f"call f(*primals).")
    flat_p, p_spec = _tree_flatten(primals)
    flat_t, t_spec = _tree_flatten(tangents)
    if p_spec != t_spec:
        raise RuntimeError(f"{api}: Expected primals and tangents to have the same python "
                           f"structure. For example, if primals is a tuple of 3 tensors, "
                           f"tangents also must be. Got primals with structure {p_spec} and "
                           f"tangents with structure {t_spec}")
    for name, flat in (("primals", flat_p), ("tangents", flat_t)):
        if not flat:
            raise RuntimeError(f"{api}: Expected {name} to contain at least one Tensor.")
        for x in flat:
            if not isinstance(x, Tensor):
                raise RuntimeError(f"{api}: Expected {name} to only contain Tensors, got "
                                   f"{type(x)}")
    record = is_grad_enabled()
    with enable_grad():
        leaves = [_differentiable(x) for x in flat_p]
        output, aux = _split_aux(func(*_tree_unflatten(leaves, p_spec)), has_aux, api)
    flat_out, out_spec = _tensor_outputs(output, api)
    create_graph = record and (_reaches_outside(flat_out, leaves)
                               or any(t.requires_grad for t in flat_t))
    tangents_out = next(_jvp_by_double_backward(flat_out, leaves, [flat_t], create_graph))
    if strict and any(t is None for t in tangents_out):
        raise RuntimeError("jvp(f, primals, tangents, strict=True): The output of f is "
                           "independent of the inputs. This is not allowed with strict=True.")
    tangents_out = [zeros_like(o) if t is None else t for t, o in zip(tangents_out, flat_out)]
    result = (_release(output, leaves, record), _tree_unflatten(tangents_out, out_spec))
    return result + (_release(aux, leaves, record),) if has_aux else result


def jacfwd(func, argnums=0, has_aux=False, *, randomness="error"):
    """jacrev's result, built a column at a time (J e_k per argument entry)
    with the double-backward trick."""
    @functools.wraps(func)
    def wrapper(*args):
        record = is_grad_enabled()
        with enable_grad():
            args, leaves, spec = _prepare(args, argnums)
            output, aux = _split_aux(func(*args), has_aux, "jvp(f, primals, tangents)")
        flat_out, out_spec = _tensor_outputs(output, "jvp(f, primals, tangents)")
        create_graph = record and _reaches_outside(flat_out, leaves)

        def basis():
            for k, x in enumerate(leaves):
                for e in range(x.numel()):
                    direction = zeros_like(x).reshape(-1)
                    direction.array[e] = 1
                    yield [direction.reshape(x.shape) if i == k else None
                           for i in range(len(leaves))]
        columns = [[] for _ in flat_out]      # columns[j]: d out_j / d (each argument entry)
        for column in _jvp_by_double_backward(flat_out, leaves, basis(), create_graph):
            for j, (g, out) in enumerate(zip(column, flat_out)):
                columns[j].append(zeros_like(out) if g is None else g)
        jac = []
        for j, out in enumerate(flat_out):
            blocks, start = [], 0
            for x in leaves:
                blocks.append(_stack_blocks(columns[j][start:start + x.numel()], out, x, -1))
                start += x.numel()
            jac.append(_tree_unflatten(blocks, spec))
        jac = _tree_unflatten(jac, out_spec)
        return (jac, _release(aux, leaves, record)) if has_aux else jac
    return wrapper


def hessian(func, argnums=0):
    """The Hessian of a scalar function: jacrev(jacrev(func, argnums), argnums)."""
    return jacrev(jacrev(func, argnums), argnums)


# -- vmap: a loop ----------------------------------------------------------------

def _name(func):
    return getattr(func, "__name__", repr(func))


def _batch_size(func, in_dims, args):
    if not isinstance(in_dims, (int, tuple)):
        raise ValueError(f"vmap({_name(func)}, in_dims={in_dims}, ...)(<inputs>): expected "
                         f"`in_dims` to be int or a (potentially nested) tuple matching the "
                         f"structure of inputs, got: {type(in_dims)}.")
    if not args:
        raise ValueError(f"vmap({_name(func)})(<inputs>): got no inputs. Maybe you forgot to "
                         f"add inputs, or you are trying to vmap over a function with no "
                         f"inputs. The latter is unsupported.")
    flat, spec = _tree_flatten(args)
    dims = _broadcast_to_leaves(in_dims, spec)
    where = f"vmap({_name(func)}, in_dims={in_dims}, ...)(<inputs>)"
    if dims is None:
        raise ValueError(f"{where}: in_dims is not compatible with the structure of `inputs`. "
                         f"in_dims has structure {_tree_flatten(in_dims)[1]} but inputs has "
                         f"structure {spec}.")
    for i, (x, d) in enumerate(zip(flat, dims)):
        if d is None:
            continue
        if not isinstance(d, int):
            raise ValueError(f"{where}: Got in_dim={d} for an input but in_dim must be either "
                             f"an integer dimension or None.")
        if not isinstance(x, Tensor):
            raise ValueError(f"{where}: Got in_dim={d} for an input but the input is of type "
                             f"{type(x)}. We cannot vmap over non-Tensor arguments, please use "
                             f"None as the respective in_dim")
        if not -x.dim() <= d < x.dim():
            raise ValueError(f"{where}: Got in_dim={d} for some input, but that input is a "
                             f"Tensor of dimensionality {x.dim()} so expected in_dim to satisfy "
                             f"-{x.dim()} <= in_dim < {x.dim()}.")
        dims[i] = d % x.dim()
    sizes = [x.shape[d] for x, d in zip(flat, dims) if d is not None]
    if not sizes:
        raise ValueError("vmap: Expected at least one Tensor to vmap over")
    if any(s != sizes[0] for s in sizes):
        raise ValueError(f"vmap: Expected all tensors to have the same size in the mapped "
                         f"dimension, got sizes {sizes} for the mapped dimension")
    return sizes[0], flat, dims, spec


def vmap(func, in_dims=0, out_dims=0, randomness="error", *, chunk_size=None):
    """func mapped over dimension ``in_dims`` of its inputs, by a loop: it runs
    once per index (on ``x.select(in_dim, i)``) and each output is stacked
    along ``out_dims`` (None: the output of the first call; PyTorch's error
    if another call's differs).  ``randomness``: 'error' raises if func draws from
    the default generator, 'different' lets each call draw its own numbers,
    'same' gives every call the same numbers."""
    if randomness not in ("error", "different", "same"):
        raise RuntimeError(f"Only allowed values for randomness are 'error', 'different', or "
                           f"'same'. Got {randomness}")

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        size, flat, dims, spec = _batch_size(func, in_dims, args)
        state = get_rng_state()
        results = []
        for i in range(size):
            if randomness == "same":
                set_rng_state(state)
            sliced = [x if d is None else x.select(d, i) for x, d in zip(flat, dims)]
            results.append(func(*_tree_unflatten(sliced, spec), **kwargs))
            if randomness == "error" and get_rng_state() != state:
                raise RuntimeError("vmap: called random operation while in randomness error "
                                   "mode. Please either use the 'same' or 'different' "
                                   "randomness flags on vmap or perform the randomness "
                                   "operation out of vmap")
        flat_outs, out_spec = _tree_flatten(results[0])
        if isinstance(results[0], Tensor) and isinstance(out_dims, tuple) and len(out_dims) == 1:
            out_dims_ = list(out_dims)
        else:
            out_dims_ = _broadcast_to_leaves(out_dims, out_spec)
        if out_dims_ is None:
            raise ValueError(f"vmap({_name(func)}, ..., out_dims={out_dims})(<inputs>): "
                             f"out_dims is not compatible with the structure of `outputs`. "
                             f"out_dims has structure {_tree_flatten(out_dims)[1]} but outputs "
                             f"has structure {out_spec}.")
        per_call = [_tree_flatten(r)[0] for r in results]
        stacked = []
        for j, (first, d) in enumerate(zip(flat_outs, out_dims_)):
            if d is None:
                # the loop cannot tell a batched output by its type, as PyTorch
                # does: it is one that is not the same in every call
                if isinstance(first, Tensor) and not all(
                        _same_value(first, outs[j]) for outs in per_call[1:]):
                    raise ValueError(f"vmap({_name(func)}, ...): `{_name(func)}` can not "
                                     f"return a BatchedTensor when out_dim is None")
                stacked.append(first)
                continue
            if not isinstance(first, Tensor):
                raise ValueError(f"vmap({_name(func)}, ...): `{_name(func)}` must only return "
                                 f"Tensors, got type {type(first)}. Did you mean to set "
                                 f"out_dims= to None for output?")
            stacked.append(stack([outs[j] for outs in per_call], dim=d))
        return _tree_unflatten(stacked, out_spec)
    return wrapper


def _same_value(a, b):
    """Whether Tensors ``a`` and ``b`` hold the same values (NaN equal to NaN)."""
    if not isinstance(b, Tensor) or a.shape != b.shape or a.dtype != b.dtype:
        return False
    xp = get_array_module(a.array)
    return bool(xp.array_equal(a.array, b.array, equal_nan=a.array.dtype.kind in "fc"))


# -- functional_call -------------------------------------------------------------

_ABSENT = object()


@contextlib.contextmanager
def _reparametrized(module, tensors, tie_weights, strict):
    """``module`` with the named parameters and buffers replaced by ``tensors``
    for the duration of the block."""
    current = dict(module.named_parameters(remove_duplicate=False))
    current.update(module.named_buffers(remove_duplicate=False))
    tensors = dict(tensors)
    if tie_weights:     # a tensor known under several names gets the one new value
        by_tensor = {}
        for name, t in current.items():
            by_tensor.setdefault(id(t), []).append(name)
        for names in by_tensor.values():
            given = [tensors[n] for n in names if n in tensors]
            if any(g is not given[0] for g in given[1:]):
                raise ValueError(f"functional_call got multiple values for keys {names}, which "
                                 f"are tied. Consider using tie_weights=False")
            for n in names:
                if given:
                    tensors.setdefault(n, given[0])
    if strict:
        missing = [n for n in current if n not in tensors]
        unexpected = [n for n in tensors if n not in current]
        if missing or unexpected:
            lines = [f"Unexpected key(s): {', '.join(map(repr, unexpected))}."] * bool(unexpected)
            lines += [f"Missing key(s): {', '.join(map(repr, missing))}."] * bool(missing)
            raise RuntimeError(f"Error(s) in reparametrizing for {type(module).__name__}:\n\t"
                               + "\n\t".join(lines))
    swapped = []
    try:
        for name, value in tensors.items():
            prefix, _, attr = name.rpartition(".")
            owner = module.get_submodule(prefix) if prefix else module
            store = owner._parameters if attr in owner._parameters else \
                owner._buffers if attr in owner._buffers else owner.__dict__
            swapped.append((store, attr, store.get(attr, _ABSENT)))
            store[attr] = value
        yield
    finally:
        for store, attr, old in reversed(swapped):
            if old is _ABSENT:
                del store[attr]
            else:
                store[attr] = old


def functional_call(module, parameter_and_buffer_dicts, args=None, kwargs=None, *,
                    tie_weights=True, strict=False):
    """``module(*args, **kwargs)`` with its parameters and buffers replaced by
    the given tensors (a dict name -> Tensor, or a tuple of such dicts), so a
    transform can differentiate with respect to them."""
    if isinstance(parameter_and_buffer_dicts, dict):
        tensors = dict(parameter_and_buffer_dicts)
    elif isinstance(parameter_and_buffer_dicts, (list, tuple)):
        tensors, repeated = {}, []
        for d in parameter_and_buffer_dicts:
            for name, value in d.items():
                if name in tensors and name not in repeated:
                    repeated.append(name)
                tensors[name] = value
        if repeated:
            raise ValueError(f"{repeated} appeared in multiple dictionaries; behavior of "
                             f"functional call is ambiguous")
    else:
        raise ValueError(f"Expected parameter_and_buffer_dicts to be a dict, or a list/tuple of "
                         f"dicts, but got {type(parameter_and_buffer_dicts)}")
    if args is None:
        args = ()
    elif not isinstance(args, tuple):
        args = (args,)
    with _reparametrized(module, tensors, tie_weights, strict):
        return module(*args, **(kwargs or {}))
