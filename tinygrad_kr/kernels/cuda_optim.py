"""GPU versions of the fused optimizer updates (twins: ref_optim.py).

Multi-tensor: one RawKernel launch updates every parameter of the call and
all its state in place, in one pass over memory.  The kernel is as fast as a
copy, so a step is bound by the host's time per call (the launch is
asynchronous): that is kept to a fixed handful of cheap steps, and in the
usual case nothing is copied to the GPU:

* a table of int64 words: per tensor its size and the device addresses of
  its param, grad and state arrays (0 for a state list that an option
  switches off: the kernel never touches it), then per chunk of ``CHUNK``
  elements the pair (tensor, start).  It is uploaded once and cached on the
  GPU, keyed by its own content (see _table): the next step, on the same
  buffers, reuses it.
* the step counts (SGD: first-step flags) come from the host (the
  optimizers keep them there).  When every tensor has the same one, the
  usual case, it is a scalar argument of the launch; when they differ
  (parameters added later, loaded state), they follow the table in a fresh
  upload (the slow path).  The kernel computes the bias corrections from
  them in double, then rounds them to ``T`` as the twins round their Python
  floats to the arrays' dtype.
* one launch of ``len(chunks) * BLOCK`` threads: block b updates chunk b (and
  b + gridDim.x, ... when the grid is capped), so every block streams one
  contiguous piece of one tensor, whatever the tensors' sizes.  Each thread
  takes 4 consecutive elements at a time, read and written with 16-byte
  accesses when the tensor's arrays are 16-byte aligned (CuPy's allocations
  are; a view may not be), one element at a time otherwise and at the end.

The kernels follow the twins (and PyTorch's ``_single_tensor_*`` functions)
expression by expression, in the arrays' dtype ``T``; hyper-parameters that
the twins combine in Python (``1 - alpha``, AdamW's ``1 - lr * wd``, ...) are
combined in Python here too.  The GPU may fuse a multiply and an add (FMA),
so results agree with the twins to rounding, not bit for bit.
"""
import collections
import functools

import numpy as np

from ..backend import cupy_module
from ._gpu import BLOCK, raw
from .ref_optim import _check_group, _require

__all__ = ["sgd_update", "adagrad_update", "rmsprop_update", "adadelta_update",
           "adam_update"]

# Elements per chunk, one block's share of a tensor: a multiple of BLOCK * TKR_ILP (1024:
# whole steps of the block, 16-byte aligned starts), and small enough that a few tensors
# still make a few waves of blocks (an H100 holds ~500-1000 of them at once).
CHUNK = 4096

_MULTI_TENSOR = r"""
// The multi-tensor walk shared by the optimizer kernels.  table = n_tensors rows of
// 1 + NARR int64 words (size, then the addresses of param, grad and the states: 0 when
// switched off), then n_chunks pairs (tensor, start), then maybe one word per tensor
// (see tkr_per_tensor).
#define TKR_ILP 4   // consecutive elements per thread and step, loaded together
// 16 bytes, the widest load of one thread: 4 floats or 2 doubles.
struct alignas(16) tkr_pack { T v[16 / sizeof(T)]; };
#define TKR_PACK ((int)(16 / sizeof(T)))

// Chunk c: its tensor's arrays into a, its elements into [start, end); returns the tensor.
template <int NARR>
__device__ __forceinline__ long long tkr_chunk(const long long* table, long long n_tensors,
        long long c, long long chunk, T* (&a)[NARR], long long& start, long long& end) {
    const long long* pair = table + n_tensors * (1 + NARR) + 2 * c;
    const long long* row = table + pair[0] * (1 + NARR);
    start = pair[1];
    end = start + chunk < row[0] ? start + chunk : row[0];
    for (int q = 0; q < NARR; ++q) a[q] = (T*)row[1 + q];
    return pair[0];
}

// Whether every array's element `start` lies on a 16-byte boundary (CuPy allocates on
// 256-byte ones, and chunks start at multiples of CHUNK; a view into a larger array may
// be off): then each thread's TKR_ILP elements from start + TKR_ILP * k are whole packs.
template <int NARR>
__device__ __forceinline__ bool tkr_aligned(T* (&a)[NARR], long long start) {
    unsigned long long bits = 0;
    for (int q = 0; q < NARR; ++q)
        if (a[q]) bits |= (unsigned long long)(a[q] + start);
    return (bits & 15) == 0;
}

// r[j][q] = a[q][i0 + j] for j < TKR_ILP: 16-byte loads when aligned and whole (the
// threads of a warp then read one contiguous span), else one element at a time; 0 past
// end and for a switched-off array.
template <int NARR>
__device__ __forceinline__ void tkr_load(T (&r)[TKR_ILP][NARR], T* (&a)[NARR], long long i0,
                                         long long end, bool aligned) {
    if (aligned && i0 + TKR_ILP <= end) {
#pragma unroll
        for (int q = 0; q < NARR; ++q) {
#pragma unroll
            for (int j = 0; j < TKR_ILP; j += TKR_PACK) {
                const tkr_pack x = a[q] ? *(const tkr_pack*)(a[q] + i0 + j) : tkr_pack{};
#pragma unroll
                for (int v = 0; v < TKR_PACK; ++v) r[j + v][q] = x.v[v];
            }
        }
    } else {
#pragma unroll
        for (int j = 0; j < TKR_ILP; ++j)
#pragma unroll
            for (int q = 0; q < NARR; ++q)
                r[j][q] = (i0 + j < end && a[q]) ? a[q][i0 + j] : (T)0;
    }
}

// Writes r back, as tkr_load read it, to every array but the gradient (q == 1).
template <int NARR>
__device__ __forceinline__ void tkr_store(T (&r)[TKR_ILP][NARR], T* (&a)[NARR], long long i0,
                                          long long end, bool aligned) {
    if (aligned && i0 + TKR_ILP <= end) {
#pragma unroll
        for (int q = 0; q < NARR; ++q) {
            if (q == 1 || !a[q]) continue;
#pragma unroll
            for (int j = 0; j < TKR_ILP; j += TKR_PACK) {
                tkr_pack x;
#pragma unroll
                for (int v = 0; v < TKR_PACK; ++v) x.v[v] = r[j + v][q];
                *(tkr_pack*)(a[q] + i0 + j) = x;
            }
        }
    } else {
#pragma unroll
        for (int j = 0; j < TKR_ILP; ++j)
#pragma unroll
            for (int q = 0; q < NARR; ++q)
                if (q != 1 && i0 + j < end && a[q]) a[q][i0 + j] = r[j][q];
    }
}

// Tensor k's step count (or first-step flag): `all`, the same for every tensor, when
// at == 0 (the usual case: no per-tensor numbers on the GPU), else word k of the table
// from word `at` on (float64 bit patterns; flags are 0.0 or 1.0).
__device__ __forceinline__ double tkr_per_tensor(const long long* table, long long at,
                                                 long long k, double all) {
    return at ? __longlong_as_double(table[at + k]) : all;
}

// torch.lerp: the formula that loses less precision for the weight at hand.
__device__ __forceinline__ T tkr_lerp(T start, T end, T weight) {
    return fabs(weight) < 0.5 ? start + weight * (end - start)
                              : end - (end - start) * ((T)1 - weight);
}
"""

# Every kernel takes these first: `dtype_tag` is params[0], only there so that the
# wrapper picks the binary for T (all other arrays are behind the table); never read.
_HEAD = ("const T* dtype_tag, const long long* table, long long n_tensors, "
         "long long n_chunks, long long chunk")
# The chunk loop and, inside it, the loop over this thread's elements, in registers r.
_CHUNKS = """
    for (long long c = blockIdx.x; c < n_chunks; c += gridDim.x) {
        T* a[NARR];
        long long start, end;
        const long long k = tkr_chunk(table, n_tensors, c, chunk, a, start, end);
        const bool aligned = tkr_aligned(a, start);
"""
_ELEMENTS = """
        for (long long i0 = start + TKR_ILP * (long long)threadIdx.x; i0 < end;
             i0 += TKR_ILP * (long long)blockDim.x) {
            T r[TKR_ILP][NARR];      // elements i0 .. i0 + TKR_ILP - 1 of every array
            tkr_load(r, a, i0, end, aligned);
#pragma unroll
            for (int j = 0; j < TKR_ILP; ++j) {
                T& p = r[j][0];
                const T grad = r[j][1];
"""
_END = """
            }
            tkr_store(r, a, i0, end, aligned);
        }
    }
}
"""
# The gradient the update follows: negated when maximizing, plus the L2 term.
_GRAD = """
                T g = maximize ? -grad : grad;
                if (weight_decay != 0) g = g + weight_decay * p;
"""


def _kernel(name, narr, params, per_chunk, per_element):
    """A multi-tensor RawKernel over ``narr`` arrays per tensor (param, grad,
    states), in the shape

        extern "C" __global__ void name(_HEAD, params) {
            for each chunk c of this block (tensor k, elements [start, end)):
                per_chunk                   // the tensor's scalars, from its step count
                for each step of TKR_ILP elements of this thread:
                    load them into registers r[j][array] (p = r[j][0], grad = r[j][1])
                    per_element, for each j
                    store them back
        }
    """
    code = (_MULTI_TENSOR + f'\nextern "C" __global__ void {name}({_HEAD}, {params}) {{\n'
            f"    const int NARR = {narr};\n" + _CHUNKS + per_chunk + _ELEMENTS
            + per_element + _END)
    return raw(code, name)


# arrays: p, grad, momentum_buffer (0 without momentum).  Every kernel that reads a
# step count (flag) takes it as (double all, long long at): see tkr_per_tensor.
_sgd = _kernel(
    "tkr_sgd", 3,
    "double first_all, long long first_at, T lr, T weight_decay, T momentum, "
    "T dampening_keep, int nesterov, int maximize", """
        const bool first = tkr_per_tensor(table, first_at, k, first_all) != 0;
    """, _GRAD + """
                if (momentum != 0) {
                    T& buf = r[j][2];
                    buf = first ? g : buf * momentum + dampening_keep * g;
                    g = nesterov ? g + momentum * buf : buf;
                }
                p = p + -lr * g;
    """)

# arrays: p, grad, state_sum
_adagrad = _kernel(
    "tkr_adagrad", 3,
    "double step_all, long long step_at, double lr, double lr_decay, T weight_decay, T eps, "
    "int maximize", """
        const double step = tkr_per_tensor(table, step_at, k, step_all);
        const T clr = (T)(lr / (1 + (step - 1) * lr_decay));
    """, _GRAD + """
                T& state_sum = r[j][2];
                state_sum = state_sum + g * g;
                p = p + -clr * g / (sqrt(state_sum) + eps);
    """)

# arrays: p, grad, square_avg, grad_avg (0 unless centered), momentum_buffer (0 without)
_rmsprop = _kernel(
    "tkr_rmsprop", 5,
    "T lr, T alpha, T one_minus_alpha, T eps, T weight_decay, T momentum, int centered, "
    "int maximize", "", _GRAD + """
                T& square_avg = r[j][2];
                square_avg = square_avg * alpha + one_minus_alpha * g * g;
                T avg;
                if (centered) {
                    T& ga = r[j][3];
                    ga = tkr_lerp(ga, g, one_minus_alpha);
                    avg = sqrt(square_avg - ga * ga) + eps;
                } else {
                    avg = sqrt(square_avg) + eps;
                }
                if (momentum > 0) {
                    T& buf = r[j][4];
                    buf = buf * momentum + g / avg;
                    p = p + -lr * buf;
                } else {
                    p = p + -lr * g / avg;
                }
    """)

# arrays: p, grad, square_avg, acc_delta
_adadelta = _kernel(
    "tkr_adadelta", 4,
    "T lr, T rho, T one_minus_rho, T eps, T weight_decay, int maximize", "", _GRAD + """
                T& square_avg = r[j][2];
                T& acc_delta = r[j][3];
                square_avg = square_avg * rho + one_minus_rho * g * g;
                T delta = sqrt(acc_delta + eps) / sqrt(square_avg + eps) * g;
                acc_delta = acc_delta * rho + one_minus_rho * delta * delta;
                p = p + -lr * delta;
    """)

# arrays: p, grad, exp_avg, exp_avg_sq, max_exp_avg_sq (0 unless amsgrad).
# weight_decay is the L2 term (0 for AdamW); decay is AdamW's 1 - lr*wd (else 1).
_adam = _kernel(
    "tkr_adam", 5,
    "double step_all, long long step_at, double lr, double beta1, double beta2, "
    "T one_minus_beta1, T one_minus_beta2, T eps, T weight_decay, T decay, int amsgrad, "
    "int maximize", """
        const double step = tkr_per_tensor(table, step_at, k, step_all);
        const T step_size = (T)(lr / (1 - pow(beta1, step)));
        const T bias_correction2_sqrt = (T)sqrt(1 - pow(beta2, step));
        const T beta2_t = (T)beta2;
    """, """
                T& exp_avg = r[j][2];
                T& exp_avg_sq = r[j][3];
                p = p * decay;
    """ + _GRAD + """
                exp_avg = tkr_lerp(exp_avg, g, one_minus_beta1);
                exp_avg_sq = exp_avg_sq * beta2_t + one_minus_beta2 * g * g;
                T v = exp_avg_sq;
                if (amsgrad) {
                    T& vmax = r[j][4];
                    // NaN-propagating, as NumPy's maximum
                    vmax = (vmax > v || vmax != vmax) ? vmax : v;
                    v = vmax;
                }
                p = p + -step_size * exp_avg / (sqrt(v) / bias_correction2_sqrt + eps);
    """)


def _addresses(fn, name, arrays):
    """Where each array's data starts (device addresses of CuPy arrays, host
    addresses of NumPy ones: the CPU stand-in runs the kernels on the host),
    after checking that all are C-contiguous (the kernels walk them flat)."""
    if arrays[0].__class__ is np.ndarray:
        contiguous = [a.flags.c_contiguous for a in arrays]
        addresses = [a.ctypes.data for a in arrays]
    else:   # CuPy's flag itself: .flags builds a new object on every access
        contiguous = [a._c_contiguous for a in arrays]
        addresses = [a.data.ptr for a in arrays]
    if not all(contiguous):
        raise TypeError(f"{fn}: {name}[{contiguous.index(False)}] must be C-contiguous")
    return addresses


@functools.lru_cache(maxsize=64)
def _chunk_pairs(sizes, chunk):
    """The (tensor, start) pairs of tensors of these sizes, flat: the same
    every step of an optimizer, so computed once (read-only)."""
    per_tensor = -(-np.array(sizes, dtype=np.int64) // chunk)   # 0 for an empty tensor
    tensor = np.repeat(np.arange(len(sizes), dtype=np.int64), per_tensor)
    first_chunk = np.cumsum(per_tensor) - per_tensor
    start = (np.arange(len(tensor)) - first_chunk[tensor]) * chunk
    pairs = np.stack([tensor, start], axis=1).ravel()
    pairs.flags.writeable = False
    return pairs


# The tables of the last few calls: key -> (host table, device table, number of chunks),
# the most recent last.  A few, so that several parameter groups (or optimizers) each
# keep theirs; holding the device table here keeps it allocated.
_TABLES = collections.OrderedDict()
TABLES_KEPT = 8


def _table(fn, states):
    """The kernels' int64 table (see _MULTI_TENSOR) for the arrays of
    ``states`` (a list's name -> the list, params and grads first; None for a
    list switched off): (host table, device table, number of chunks).

    The key of the cache is what the table is made of: the device, CHUNK, the
    tensors' sizes and every array's address.  So a hit hands the kernel
    exactly the table this call would build, never a stale address, and a
    step on the same buffers as a recent one (the parameters and states stay
    put, and CuPy's memory pool usually hands the new gradients the old
    gradients' addresses) uploads nothing.  What changes from call to call
    (step counts, lr, betas, flags) is never in the table: it goes to the
    launch as arguments."""
    params = states["params"]
    n = len(params)
    key = [None if params[0].__class__ is np.ndarray else params[0].device.id, CHUNK,
           *[p.size for p in params]]
    for name, arrays in states.items():
        key += [0] * n if arrays is None else _addresses(fn, name, arrays)
    key = tuple(key)
    entry = _TABLES.get(key)
    if entry is not None:
        _TABLES.move_to_end(key)
        return entry
    rows = np.array(key[2:], dtype=np.int64).reshape(-1, n).T    # one row per tensor
    pairs = _chunk_pairs(key[2:2 + n], CHUNK)
    host = np.concatenate([rows.ravel(), pairs])
    n_chunks = len(pairs) // 2
    entry = _TABLES[key] = (host, cupy_module().asarray(host) if n_chunks else None, n_chunks)
    if len(_TABLES) > TABLES_KEPT:
        _TABLES.popitem(last=False)
    return entry


def _launch(kernel, fn, states, per_tensor, *scalars):
    """One launch of ``kernel`` over every tensor of ``states`` (see _table),
    none when all are empty.  ``per_tensor``: the host float64 array of the
    tensors' step counts (first-step flags) for a kernel that reads them,
    else None; passed as (one for all, 0) when they are all equal, else as
    (0, where they start in the table), after the table in a fresh upload."""
    params = states["params"]
    if not params:
        return
    host, table, n_chunks = _table(fn, states)
    if not n_chunks:
        return
    if per_tensor is not None:
        values = per_tensor.tolist()
        if values.count(values[0]) == len(values):
            scalars = (values[0], 0, *scalars)
        else:   # the slow path: the numbers as float64 bit patterns after the table
            table = cupy_module().asarray(np.concatenate([host, per_tensor.view(np.int64)]))
            scalars = (0.0, len(host), *scalars)
    kernel(n_chunks * BLOCK, params[0], table, len(params), n_chunks, CHUNK, *scalars)


def _on_host(per_param):
    """The per-parameter numbers as a host float64 array.  The optimizers pass
    one (then no copy); a CuPy array, from a direct call, is read back, which
    waits for the GPU."""
    if hasattr(per_param, "get"):
        per_param = per_param.get()
    return np.ascontiguousarray(per_param, dtype=np.float64)


def _on_params_device(fn):
    """Run an update on the GPU that holds its parameters (params[0]).  Not
    _gpu.on_device, which follows the first argument: here that is the step
    counts, on the host (the dispatcher routes these kernels on the
    parameters too).  NumPy parameters (the tests' CPU stand-in) or none:
    no device to switch to."""
    @functools.wraps(fn)
    def run_on_params_device(per_param, params, *args, **kwargs):
        if params and params[0].__class__ is not np.ndarray:
            with params[0].device:
                return fn(per_param, params, *args, **kwargs)
        return fn(per_param, params, *args, **kwargs)
    return run_on_params_device


@_on_params_device
def sgd_update(is_first_step, params, grads, momentum_buffers, lr, momentum,
               dampening, nesterov, weight_decay, maximize):
    # a needed list given as None would put address 0 in the table: the kernel
    # would write through it (the twins' error, before anything is read)
    if momentum != 0:
        _require("sgd_update", momentum_buffers=momentum_buffers)
    _check_group("sgd_update", is_first_step, params, grads,
                 momentum_buffers=momentum_buffers if momentum != 0 else None)
    bufs = momentum_buffers if momentum != 0 else None
    _launch(_sgd, "sgd_update", dict(params=params, grads=grads, momentum_buffers=bufs),
            _on_host(is_first_step), lr, weight_decay, momentum, 1 - dampening, bool(nesterov),
            bool(maximize))


@_on_params_device
def adagrad_update(steps, params, grads, state_sums, lr, lr_decay, weight_decay,
                   eps, maximize):
    _require("adagrad_update", state_sums=state_sums)
    _check_group("adagrad_update", steps, params, grads, state_sums=state_sums)
    _launch(_adagrad, "adagrad_update", dict(params=params, grads=grads, state_sums=state_sums),
            _on_host(steps), lr, lr_decay, weight_decay, eps, bool(maximize))


@_on_params_device
def rmsprop_update(steps, params, grads, square_avgs, grad_avgs, momentum_buffers,
                   lr, alpha, eps, weight_decay, momentum, centered, maximize):
    _require("rmsprop_update", square_avgs=square_avgs,
             **({"grad_avgs": grad_avgs} if centered else {}),
             **({"momentum_buffers": momentum_buffers} if momentum > 0 else {}))
    _check_group("rmsprop_update", steps, params, grads, square_avgs=square_avgs,
                 grad_avgs=grad_avgs if centered else None,
                 momentum_buffers=momentum_buffers if momentum > 0 else None)
    grad_avgs = grad_avgs if centered else None
    bufs = momentum_buffers if momentum > 0 else None
    _launch(_rmsprop, "rmsprop_update",
            dict(params=params, grads=grads, square_avgs=square_avgs, grad_avgs=grad_avgs,
                 momentum_buffers=bufs), None, lr, alpha, 1 - alpha, eps, weight_decay,
            momentum, bool(centered), bool(maximize))


@_on_params_device
def adadelta_update(steps, params, grads, square_avgs, acc_deltas, lr, rho, eps,
                    weight_decay, maximize):
    _require("adadelta_update", square_avgs=square_avgs, acc_deltas=acc_deltas)
    _check_group("adadelta_update", steps, params, grads, square_avgs=square_avgs,
                 acc_deltas=acc_deltas)
    _launch(_adadelta, "adadelta_update",
            dict(params=params, grads=grads, square_avgs=square_avgs, acc_deltas=acc_deltas),
            None, lr, rho, 1 - rho, eps, weight_decay, bool(maximize))


@_on_params_device
def adam_update(steps, params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, lr,
                beta1, beta2, eps, weight_decay, amsgrad, maximize,
                decoupled_weight_decay):
    _require("adam_update", exp_avgs=exp_avgs, exp_avg_sqs=exp_avg_sqs,
             **({"max_exp_avg_sqs": max_exp_avg_sqs} if amsgrad else {}))
    _check_group("adam_update", steps, params, grads, exp_avgs=exp_avgs,
                 exp_avg_sqs=exp_avg_sqs,
                 max_exp_avg_sqs=max_exp_avg_sqs if amsgrad else None)
    l2 = 0.0 if decoupled_weight_decay else weight_decay
    decay = 1 - lr * weight_decay if decoupled_weight_decay and weight_decay != 0 else 1.0
    maxes = max_exp_avg_sqs if amsgrad else None
    _launch(_adam, "adam_update",
            dict(params=params, grads=grads, exp_avgs=exp_avgs, exp_avg_sqs=exp_avg_sqs,
                 max_exp_avg_sqs=maxes), _on_host(steps), lr, beta1, beta2, 1 - beta1,
            1 - beta2, eps, l2, decay, bool(amsgrad), bool(maximize))
