"""GPU versions of the fused optimizer updates (twins: ref_optim.py).

One CuPy ElementwiseKernel launch per parameter updates the parameter and all
its state in place, in one pass over memory, where the twin on CuPy runs a
dozen array operations with temporaries.  The kernels follow the twins (and
PyTorch's ``_single_tensor_*`` functions) expression by expression, in the
arrays' dtype ``T``; the scalars the twins compute in Python (bias
corrections, ``1 - alpha``, ...) are computed here in Python too, once per
parameter, and converted to ``T`` by CuPy.  The GPU may fuse a multiply and an
add (FMA), so results agree with the twins to rounding, not bit for bit.

State lists that an option switches off (``momentum_buffers`` without
momentum, ...) may be None: those buffers are declared ``raw`` (indexed by
the loop index ``i``, never shape-checked) and get a 1-element placeholder.
"""
from ..backend import cupy_module
from ._gpu import elementwise, on_device
from .ref_optim import _check_group

__all__ = ["sgd_update", "adagrad_update", "rmsprop_update", "adadelta_update",
           "adam_update"]

_LERP = """
// torch.lerp: the formula that loses less precision for the weight at hand.
template <typename T> __device__ T tkr_lerp(T start, T end, T weight) {
    return fabs(weight) < 0.5 ? start + weight * (end - start)
                              : end - (end - start) * ((T)1 - weight);
}
"""
# The gradient the update follows: negated when maximizing, plus the L2 term.
_GRAD = """
    T g = maximize ? -grad : grad;
    if (weight_decay != 0) g = g + weight_decay * p;
"""

_sgd = elementwise(
    "T grad, T lr, T weight_decay, T momentum, T dampening_keep, bool first, bool nesterov, "
    "bool maximize",
    "T p, raw T momentum_buffer",
    _GRAD + """
    if (momentum != 0) {
        T& buf = momentum_buffer[i];
        buf = first ? g : buf * momentum + dampening_keep * g;
        g = nesterov ? g + momentum * buf : buf;
    }
    p = p + -lr * g;
    """, "tkr_sgd")

_adagrad = elementwise(
    "T grad, T clr, T weight_decay, T eps, bool maximize",
    "T p, T state_sum",
    _GRAD + """
    state_sum = state_sum + g * g;
    p = p + -clr * g / (sqrt(state_sum) + eps);
    """, "tkr_adagrad")

_rmsprop = elementwise(
    "T grad, T lr, T alpha, T one_minus_alpha, T eps, T weight_decay, T momentum, "
    "bool centered, bool maximize",
    "T p, T square_avg, raw T grad_avg, raw T momentum_buffer",
    _GRAD + """
    square_avg = square_avg * alpha + one_minus_alpha * g * g;
    T avg;
    if (centered) {
        T& ga = grad_avg[i];
        ga = tkr_lerp(ga, g, one_minus_alpha);
        avg = sqrt(square_avg - ga * ga) + eps;
    } else {
        avg = sqrt(square_avg) + eps;
    }
    if (momentum > 0) {
        T& buf = momentum_buffer[i];
        buf = buf * momentum + g / avg;
        p = p + -lr * buf;
    } else {
        p = p + -lr * g / avg;
    }
    """, "tkr_rmsprop", preamble=_LERP)

_adadelta = elementwise(
    "T grad, T lr, T rho, T one_minus_rho, T eps, T weight_decay, bool maximize",
    "T p, T square_avg, T acc_delta",
    _GRAD + """
    square_avg = square_avg * rho + one_minus_rho * g * g;
    T delta = sqrt(acc_delta + eps) / sqrt(square_avg + eps) * g;
    acc_delta = acc_delta * rho + one_minus_rho * delta * delta;
    p = p + -lr * delta;
    """, "tkr_adadelta")

# weight_decay is the L2 term (0 for AdamW); decay is AdamW's 1 - lr*wd (else 1).
_adam = elementwise(
    "T grad, T step_size, T bias_correction2_sqrt, T one_minus_beta1, T beta2, "
    "T one_minus_beta2, T eps, T weight_decay, T decay, bool amsgrad, bool maximize",
    "T p, T exp_avg, T exp_avg_sq, raw T max_exp_avg_sq",
    """
    p = p * decay;
    """ + _GRAD + """
    exp_avg = tkr_lerp(exp_avg, g, one_minus_beta1);
    exp_avg_sq = exp_avg_sq * beta2 + one_minus_beta2 * g * g;
    T v = exp_avg_sq;
    if (amsgrad) {
        T& vmax = max_exp_avg_sq[i];
        vmax = (vmax > v || vmax != vmax) ? vmax : v;   // NaN-propagating, as NumPy's maximum
        v = vmax;
    }
    p = p + -step_size * exp_avg / (sqrt(v) / bias_correction2_sqrt + eps);
    """, "tkr_adam", preamble=_LERP)


def _state(arrays, i, p):
    """arrays[i], or a 1-element placeholder of p's dtype when the list is off."""
    return cupy_module().empty(1, dtype=p.dtype) if arrays is None else arrays[i]


def _host(per_param):
    """The per-parameter array (steps, first-step flags) as a host array."""
    return cupy_module().asnumpy(per_param)


@on_device
def sgd_update(is_first_step, params, grads, momentum_buffers, lr, momentum,
               dampening, nesterov, weight_decay, maximize):
    _check_group("sgd_update", is_first_step, params, grads,
                 momentum_buffers=momentum_buffers if momentum != 0 else None)
    first = _host(is_first_step)
    bufs = momentum_buffers if momentum != 0 else None
    for i, p in enumerate(params):
        _sgd(grads[i], lr, weight_decay, momentum, 1 - dampening, bool(first[i]),
             bool(nesterov), bool(maximize), p, _state(bufs, i, p))


@on_device
def adagrad_update(steps, params, grads, state_sums, lr, lr_decay, weight_decay,
                   eps, maximize):
    _check_group("adagrad_update", steps, params, grads, state_sums=state_sums)
    for i, (p, step) in enumerate(zip(params, _host(steps))):
        clr = lr / (1 + (float(step) - 1) * lr_decay)
        _adagrad(grads[i], clr, weight_decay, eps, bool(maximize), p, state_sums[i])


@on_device
def rmsprop_update(steps, params, grads, square_avgs, grad_avgs, momentum_buffers,
                   lr, alpha, eps, weight_decay, momentum, centered, maximize):
    _check_group("rmsprop_update", steps, params, grads, square_avgs=square_avgs,
                 grad_avgs=grad_avgs if centered else None,
                 momentum_buffers=momentum_buffers if momentum > 0 else None)
    grad_avgs = grad_avgs if centered else None
    bufs = momentum_buffers if momentum > 0 else None
    for i, p in enumerate(params):
        _rmsprop(grads[i], lr, alpha, 1 - alpha, eps, weight_decay, momentum, bool(centered),
                 bool(maximize), p, square_avgs[i], _state(grad_avgs, i, p), _state(bufs, i, p))


@on_device
def adadelta_update(steps, params, grads, square_avgs, acc_deltas, lr, rho, eps,
                    weight_decay, maximize):
    _check_group("adadelta_update", steps, params, grads, square_avgs=square_avgs,
                 acc_deltas=acc_deltas)
    for i, p in enumerate(params):
        _adadelta(grads[i], lr, rho, 1 - rho, eps, weight_decay, bool(maximize),
                  p, square_avgs[i], acc_deltas[i])


@on_device
def adam_update(steps, params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, lr,
                beta1, beta2, eps, weight_decay, amsgrad, maximize,
                decoupled_weight_decay):
    _check_group("adam_update", steps, params, grads, exp_avgs=exp_avgs,
                 exp_avg_sqs=exp_avg_sqs,
                 max_exp_avg_sqs=max_exp_avg_sqs if amsgrad else None)
    l2 = 0.0 if decoupled_weight_decay else weight_decay
    decay = 1 - lr * weight_decay if decoupled_weight_decay and weight_decay != 0 else 1.0
    maxes = max_exp_avg_sqs if amsgrad else None
    for i, (p, step) in enumerate(zip(params, _host(steps))):
        step = float(step)
        step_size = lr / (1 - beta1 ** step)
        bias_correction2_sqrt = (1 - beta2 ** step) ** 0.5
        _adam(grads[i], step_size, bias_correction2_sqrt, 1 - beta1, beta2, 1 - beta2, eps, l2,
              decay, bool(amsgrad), bool(maximize), p, exp_avgs[i], exp_avg_sqs[i],
              _state(maxes, i, p))
