"""NumPy twins of the fused optimizer updates (csrc/optim.pyx).

Each kernel updates a whole parameter group in place, in one call: lists of
parameters, gradients and state arrays.  This file is also the optimizers'
*reference loop* (``SGD(..., fused=False)`` runs it): one parameter at a time,
one NumPy expression per line of PyTorch's ``_single_tensor_*`` functions,
with the same operation order, so the compiled kernels, these twins and
``torch.optim`` agree to rounding.

Conventions shared by every kernel here:

* The first argument is a 1-D array with one entry per parameter (the step
  counts, or for SGD whether the momentum buffer is new).  The optimizers
  keep it on the host even for GPU parameters (the GPU kernels take it as
  launch arguments), so the dispatcher in ``tinygrad_kr.kernels`` routes
  these kernels on the parameters: params[0]'s type.
* ``steps[i]`` is the step count of parameter i *including* this update
  (1 on the first update), as a float64 array.
* All arrays of one call share one dtype (float32 or float64) and each state
  array has the shape of its parameter.  Gradients are only read.
* The math runs in the arrays' dtype; hyper-parameters are Python floats
  (NumPy rounds them to the array dtype, like PyTorch's ``alpha=`` scalars).
* Kernels return None; arrays marked IN/OUT are updated in place.
"""
import numpy as np

from ..backend import get_array_module

__all__ = ["sgd_update", "adagrad_update", "rmsprop_update", "adadelta_update",
           "adam_update"]


_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _check_group(kernel, per_param, params, grads, **states):
    """Raise a clear error unless the lists describe one dtype, matching shapes.

    ``states`` maps a list's name to the list (or None when the option that
    needs it is off).  Same rules as the compiled wrappers.  This runs every
    optimizer step (on the GPU path too, where the host time of a step is
    what bounds it), so the usual case, all fine, is a few list comparisons;
    only when one fails does _explain find the first culprit and say what
    is wrong.
    """
    n = len(params)
    lists = [grads, *[v for v in states.values() if v is not None]]
    ok = len(per_param) == n and all([len(arrays) == n for arrays in lists])
    if ok and n:
        dtype = params[0].dtype
        dtypes = [dtype] * n
        shapes = [p.shape for p in params]
        # list == list compares item by item, identical objects first: cheap when all agree
        ok = (dtype in _FLOATS and [p.dtype for p in params] == dtypes
              and all([[a.dtype for a in arrays] == dtypes and [a.shape for a in arrays] == shapes
                       for arrays in lists]))
    if not ok:
        _explain(kernel, per_param, params, grads, states)


def missing_state(kernel, name):
    """The error for a state list the update needs given as None (shared with
    csrc/optim.pyx, whose loops would otherwise write through a NULL pointer)."""
    raise TypeError(f"{kernel}: {name} must be a list of arrays, got None")


def _require(kernel, **lists):
    """missing_state for the first of ``lists`` (the ones this call needs) that is None."""
    for name, arrays in lists.items():
        if arrays is None:
            missing_state(kernel, name)


def _explain(kernel, per_param, params, grads, states):
    """_check_group's checks one by one, raising at the first that fails."""
    n = len(params)
    if len(per_param) != n:
        raise ValueError(f"{kernel}: expected one entry per parameter in the first "
                         f"argument ({n}), got {len(per_param)}")
    lists = {"grads": grads, **{k: v for k, v in states.items() if v is not None}}
    for name, arrays in lists.items():
        if len(arrays) != n:
            raise ValueError(f"{kernel}: {name} has {len(arrays)} arrays for {n} params")
    if n == 0:
        return
    dtype = params[0].dtype
    if dtype.name not in ("float32", "float64"):
        raise TypeError(f"{kernel}: only float32 and float64 are supported, got {dtype}")
    for i, p in enumerate(params):
        if p.dtype != dtype:
            raise TypeError(f"{kernel}: params[{i}] has dtype {p.dtype}, params[0] has {dtype}")
        for name, arrays in lists.items():
            a = arrays[i]
            if a.dtype != dtype:
                raise TypeError(f"{kernel}: {name}[{i}] has dtype {a.dtype}, "
                                f"params[{i}] has {p.dtype}")
            if a.shape != p.shape:
                raise ValueError(f"{kernel}: {name}[{i}] has shape {a.shape}, "
                                 f"params[{i}] has {p.shape}")


def _lerp_(start, end, weight):
    """start += weight * (end - start), in place, with PyTorch's two formulas
    (the one that loses less precision for the weight at hand)."""
    if abs(weight) < 0.5:
        start += weight * (end - start)
    else:
        start[...] = end - (end - start) * (1 - start.dtype.type(weight))


def _effective_grad(p, g, weight_decay, maximize):
    """The gradient the update follows: -g when maximizing, plus the L2 term
    weight_decay * p (a new array: the caller's gradient is never written)."""
    g = -g if maximize else g
    if weight_decay != 0:
        g = g + weight_decay * p
    return g


def sgd_update(is_first_step, params, grads, momentum_buffers, lr, momentum,
               dampening, nesterov, weight_decay, maximize):
    """SGD with optional momentum / Nesterov, in place.

    is_first_step: 1-D bool, one per param: its momentum buffer is new (the
        buffer's contents are ignored and it is set to the gradient, as
        PyTorch's ``buf = grad.clone()``).
    params (IN/OUT), grads (IN): lists of float32/float64 arrays.
    momentum_buffers (IN/OUT): list like params, or None when momentum == 0.
    """
    if momentum != 0:
        _require("sgd_update", momentum_buffers=momentum_buffers)
    _check_group("sgd_update", is_first_step, params, grads,
                 momentum_buffers=momentum_buffers if momentum != 0 else None)
    for i, p in enumerate(params):
        g = _effective_grad(p, grads[i], weight_decay, maximize)
        if momentum != 0:
            buf = momentum_buffers[i]
            if is_first_step[i]:
                buf[...] = g
            else:
                buf *= momentum
                buf += (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        p += -lr * g


def adagrad_update(steps, params, grads, state_sums, lr, lr_decay, weight_decay,
                   eps, maximize):
    """Adagrad, in place: sum += g*g; p -= clr * g / (sqrt(sum) + eps) with
    clr = lr / (1 + (step - 1) * lr_decay).

    steps: 1-D float64, one per param (count including this update).
    params, state_sums (IN/OUT), grads (IN): lists of arrays of one dtype.
    """
    _require("adagrad_update", state_sums=state_sums)
    _check_group("adagrad_update", steps, params, grads, state_sums=state_sums)
    for i, p in enumerate(params):
        g = _effective_grad(p, grads[i], weight_decay, maximize)
        clr = lr / (1 + (float(steps[i]) - 1) * lr_decay)
        state_sums[i] += g * g
        std = get_array_module(p).sqrt(state_sums[i]) + eps
        p += -clr * g / std


def rmsprop_update(steps, params, grads, square_avgs, grad_avgs, momentum_buffers,
                   lr, alpha, eps, weight_decay, momentum, centered, maximize):
    """RMSprop, in place: square_avg = alpha*square_avg + (1-alpha)*g*g, then
    g / (sqrt(square_avg [- grad_avg^2 if centered]) + eps) is applied
    directly or through a momentum buffer.

    steps: 1-D float64, one per param (the update does not depend on it; it
        is here so that every optimizer kernel starts with a per-param array).
    params, square_avgs (IN/OUT), grads (IN); grad_avgs (IN/OUT, or None unless
    centered); momentum_buffers (IN/OUT, or None unless momentum > 0).
    """
    _require("rmsprop_update", square_avgs=square_avgs,
             **({"grad_avgs": grad_avgs} if centered else {}),
             **({"momentum_buffers": momentum_buffers} if momentum > 0 else {}))
    _check_group("rmsprop_update", steps, params, grads, square_avgs=square_avgs,
                 grad_avgs=grad_avgs if centered else None,
                 momentum_buffers=momentum_buffers if momentum > 0 else None)
    for i, p in enumerate(params):
        xp = get_array_module(p)
        g = _effective_grad(p, grads[i], weight_decay, maximize)
        square_avg = square_avgs[i]
        square_avg *= alpha
        square_avg += (1 - alpha) * g * g
        if centered:
            grad_avg = grad_avgs[i]
            _lerp_(grad_avg, g, 1 - alpha)
            avg = xp.sqrt(square_avg - grad_avg * grad_avg) + eps
        else:
            avg = xp.sqrt(square_avg) + eps
        if momentum > 0:
            buf = momentum_buffers[i]
            buf *= momentum
            buf += g / avg
            p += -lr * buf
        else:
            p += -lr * g / avg


def adadelta_update(steps, params, grads, square_avgs, acc_deltas, lr, rho, eps,
                    weight_decay, maximize):
    """Adadelta, in place: delta = sqrt(acc_delta + eps) / sqrt(square_avg + eps) * g
    with both averages decayed by rho; p -= lr * delta.

    steps: 1-D float64, one per param (unused by the math, see rmsprop_update).
    params, square_avgs, acc_deltas (IN/OUT), grads (IN).
    """
    _require("adadelta_update", square_avgs=square_avgs, acc_deltas=acc_deltas)
    _check_group("adadelta_update", steps, params, grads, square_avgs=square_avgs,
                 acc_deltas=acc_deltas)
    for i, p in enumerate(params):
        xp = get_array_module(p)
        g = _effective_grad(p, grads[i], weight_decay, maximize)
        square_avg, acc_delta = square_avgs[i], acc_deltas[i]
        square_avg *= rho
        square_avg += (1 - rho) * g * g
        std = xp.sqrt(square_avg + eps)
        delta = xp.sqrt(acc_delta + eps) / std * g
        acc_delta *= rho
        acc_delta += (1 - rho) * delta * delta
        p += -lr * delta


def adam_update(steps, params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, lr,
                beta1, beta2, eps, weight_decay, amsgrad, maximize,
                decoupled_weight_decay):
    """Adam / AdamW, in place:
        m = lerp(m, g, 1-beta1);  v = beta2*v + (1-beta2)*g*g
        p -= lr/(1-beta1^t) * m / (sqrt(v)/sqrt(1-beta2^t) + eps)
    with v replaced by its running maximum when amsgrad.  Weight decay is the
    L2 term added to g, or (decoupled_weight_decay, AdamW) p *= 1 - lr*wd first.

    steps: 1-D float64, one per param (t above, including this update).
    params, exp_avgs, exp_avg_sqs (IN/OUT), grads (IN); max_exp_avg_sqs
    (IN/OUT, or None unless amsgrad).
    """
    _require("adam_update", exp_avgs=exp_avgs, exp_avg_sqs=exp_avg_sqs,
             **({"max_exp_avg_sqs": max_exp_avg_sqs} if amsgrad else {}))
    _check_group("adam_update", steps, params, grads, exp_avgs=exp_avgs,
                 exp_avg_sqs=exp_avg_sqs,
                 max_exp_avg_sqs=max_exp_avg_sqs if amsgrad else None)
    for i, p in enumerate(params):
        xp = get_array_module(p)
        if decoupled_weight_decay:
            g = _effective_grad(p, grads[i], 0, maximize)
            if weight_decay != 0:
                p *= 1 - lr * weight_decay
        else:
            g = _effective_grad(p, grads[i], weight_decay, maximize)
        exp_avg, exp_avg_sq = exp_avgs[i], exp_avg_sqs[i]
        _lerp_(exp_avg, g, 1 - beta1)
        exp_avg_sq *= beta2
        exp_avg_sq += (1 - beta2) * g * g
        step = float(steps[i])
        step_size = lr / (1 - beta1 ** step)
        bias_correction2_sqrt = (1 - beta2 ** step) ** 0.5
        if amsgrad:
            xp.maximum(max_exp_avg_sqs[i], exp_avg_sq, out=max_exp_avg_sqs[i])
            exp_avg_sq = max_exp_avg_sqs[i]
        denom = xp.sqrt(exp_avg_sq) / bias_correction2_sqrt + eps
        p += -step_size * exp_avg / denom
