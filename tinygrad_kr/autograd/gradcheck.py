"""Finite-difference gradient checks (float64 central differences).

``gradcheck(fn, inputs)`` compares the analytic Jacobian (one backward per
output element) with the numerical one, entry by entry, and raises
``GradcheckError`` naming the input, the entry and both values on mismatch.
"""
import numpy as np

from .function import grad as autograd_grad

__all__ = ["gradcheck", "gradgradcheck", "GradcheckError"]


class GradcheckError(RuntimeError):
    pass


def _as_tuple(x):
    return x if isinstance(x, (tuple, list)) else (x,)


def _differentiable_inputs(inputs):
    from ..tensor import Tensor
    diff = [t for t in inputs if isinstance(t, Tensor) and t.requires_grad]
    for t in diff:
        if t.array.dtype != np.float64:
            raise GradcheckError(f"gradcheck needs float64 inputs for precision; got an input of "
                                 f"dtype {t.array.dtype} and shape {tuple(t.shape)}")
    return diff


def _outputs(fn, inputs):
    from ..tensor import Tensor
    return [o for o in _as_tuple(fn(*inputs)) if isinstance(o, Tensor)]


def _numerical_jacobian(fn, inputs, diff, eps):
    """jac[k][i] = d out_k / d input_i, as arrays (out.size, input.size)."""
    base = _outputs(fn, inputs)
    jac = [[np.zeros((o.array.size, t.array.size)) for t in diff] for o in base]
    for i, t in enumerate(diff):
        flat = t.array.reshape(-1)  # a view: perturb in place
        for j in range(flat.size):
            orig = flat[j]
            flat[j] = orig + eps
            plus = [o.array.astype(np.float64).reshape(-1) for o in _outputs(fn, inputs)]
            flat[j] = orig - eps
            minus = [o.array.astype(np.float64).reshape(-1) for o in _outputs(fn, inputs)]
            flat[j] = orig
            for k in range(len(base)):
                jac[k][i][:, j] = (plus[k] - minus[k]) / (2 * eps)
    return jac


def _analytical_jacobian(fn, inputs, diff):
    from ..tensor import Tensor
    outs = _outputs(fn, inputs)
    jac = [[np.zeros((o.array.size, t.array.size)) for t in diff] for o in outs]
    for k, o in enumerate(outs):
        if not o.requires_grad:
            continue
        for r in range(o.array.size):
            seed = np.zeros(o.array.size, dtype=o.array.dtype)
            seed[r] = 1
            grads = autograd_grad(o, diff, Tensor(seed.reshape(o.array.shape)), retain_graph=True,
                                  allow_unused=True)
            for i, g in enumerate(grads):
                if g is not None:
                    if tuple(g.shape) != tuple(diff[i].shape):
                        raise GradcheckError(f"gradient of input {i} has shape {tuple(g.shape)}, "
                                             f"expected {tuple(diff[i].shape)}")
                    jac[k][i][r] = g.array.reshape(-1)
    return jac


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True,
              nondet_tol=0.0, fast_mode=False):
    """True if the analytic gradients of ``func`` match central differences."""
    inputs = _as_tuple(inputs)
    diff = _differentiable_inputs(inputs)
    if not diff:
        raise GradcheckError("gradcheck expects at least one input tensor to require gradient")
    numerical = _numerical_jacobian(func, inputs, diff, eps)
    analytical = _analytical_jacobian(func, inputs, diff)
    for k, (num_k, ana_k) in enumerate(zip(numerical, analytical)):
        for i, (n, a) in enumerate(zip(num_k, ana_k)):
            if not np.allclose(a, n, rtol=rtol, atol=atol):
                bad = np.unravel_index(np.argmax(np.abs(a - n) - rtol * np.abs(n)), a.shape)
                msg = (f"Jacobian mismatch for output {k} with respect to input {i} "
                       f"(shape {tuple(diff[i].shape)}): at (output entry {bad[0]}, input entry "
                       f"{bad[1]}) analytical {a[bad]:.8g} vs numerical {n[bad]:.8g}")
                if raise_exception:
                    raise GradcheckError(msg)
                return False
    return True


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3,
                  raise_exception=True):
    """gradcheck of the first derivative (checks create_graph=True)."""
    from ..tensor import Tensor
    inputs = _as_tuple(inputs)
    _differentiable_inputs(inputs)     # raises unless the inputs are float64
    outs = _outputs(func, inputs)
    if grad_outputs is None:
        rng = np.random.default_rng(0)
        grad_outputs = [Tensor(rng.standard_normal(o.array.shape), requires_grad=True) for o in outs]
    grad_outputs = list(_as_tuple(grad_outputs))

    def first_derivative(*args):
        ins, gos = args[:len(inputs)], args[len(inputs):]
        outs = _outputs(func, ins)
        d = [t for t in ins if isinstance(t, Tensor) and t.requires_grad]
        gs = autograd_grad(outs, d, list(gos), create_graph=True, allow_unused=True)
        return tuple(g for g in gs if g is not None)

    return gradcheck(first_derivative, tuple(inputs) + tuple(grad_outputs), eps=eps, atol=atol,
                     rtol=rtol, raise_exception=raise_exception)
