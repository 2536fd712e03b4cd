"""Differences between the PyTorch versions the parity tests may meet.

CI and the dev venv pin PyTorch 2.13 and the tests compare with it exactly;
the GPU machines carry 2.11.  Every helper here is the identity (or True)
on 2.13, so it changes nothing there; on an older PyTorch it turns what
that version does differently back into what 2.13 does, or says which
feature is missing so that a test checks the engine against another
oracle (NumPy, PyTorch's other functions, the definition) instead.

* PyTorch 2.13 added ``bias=`` to the batch-norm and group-norm layers and
  prints it in every norm layer's repr (LayerNorm took it before,
  unprinted); the engine follows 2.13.  Older versions print no ``bias=``
  and cannot build a batch or group norm without one: ``as_torch_repr``.
* 2.11's messages have typos and one built wrong that 2.13 corrected:
  ``torch_message``; a few 2.13 rewrote: ``reworded_before_2_13``.
* 2.11 lacks some features or gets them wrong: probes below.  Probes are
  used where a version number would only guess when the change came;
  ``before_2_13`` where calling PyTorch to find out is unsafe (it crashes)
  or changes what a test then sees (a warning PyTorch gives once).

Nothing here imports torch: each helper takes the module.
"""
import inspect
import math
import re


def torch_version(torch):
    """(major, minor) of this PyTorch: "2.11.0+cu130" -> (2, 11)."""
    return tuple(int(p) for p in re.match(r"(\d+)\.(\d+)", torch.__version__).groups())


def before_2_13(torch):
    """PyTorch older than the 2.13 the tests are pinned to."""
    return torch_version(torch) < (2, 13)


# -- reprs -------------------------------------------------------------------------------------

def batchnorm_has_bias(torch):
    return "bias" in inspect.signature(torch.nn.BatchNorm1d.__init__).parameters


def as_torch_repr(ours, torch):
    """repr(ours) as this PyTorch version would print the same model."""
    text = repr(ours)
    if not batchnorm_has_bias(torch):
        text = re.sub(r"(affine=(?:True|False)), bias=(?:True|False)", r"\1", text)
    return text


# -- error messages ----------------------------------------------------------------------------

# 2.11's wording -> 2.13's, where 2.13 fixed a typo (SWALR, the tensorboard
# writer's dataformats, FractionalMaxPool's kernel_size)
_TYPOS_FIXED_IN_2_13 = (
    ("must by one of", "must be one of"),
    ("dimension shordhand twice", "dimension shorthand twice"),
    ("must greater than", "must be greater than"),
)

# messages 2.13 rewrote rather than corrected: their 2.11 text says the same
# thing in other words, which no substitution recovers (multi_margin_loss's
# target size now names the input's shape)
_REWORDED_IN_2_13 = (
    re.compile(r"inconsistent target size, expected \d+ but got \["),
)


def torch_message(exc, torch):
    """str(exc) of an exception PyTorch raised, as 2.13 words it: exactly
    str(exc) on 2.13; on an older version with the typos 2.13 fixed corrected
    and a RuntimeError built with two arguments instead of one f-string
    (2.11's AdaptiveLogSoftmaxWithLoss prints a tuple) joined as 2.13 joins
    them."""
    if not before_2_13(torch):
        return str(exc)
    text = " ".join(map(str, exc.args)) if len(exc.args) > 1 else str(exc)
    for old, new in _TYPOS_FIXED_IN_2_13:
        text = text.replace(old, new)
    return text


def reworded_before_2_13(message, torch):
    """This PyTorch is older than 2.13 and worded ``message`` in a way 2.13
    rewrote (so only the exception's type can be compared); always False on
    2.13."""
    return before_2_13(torch) and any(p.match(message) for p in _REWORDED_IN_2_13)


def view_output_name(name, torch):
    """The pattern for the custom Function ``name`` in "Output 0 of <name> is
    a view and is being modified inplace": 2.13 names the Function's class,
    2.11 its backward node (IdBackward)."""
    return name if not before_2_13(torch) else name + "(?:Backward)?"


# -- features 2.11 lacks or gets wrong (probes) -------------------------------------------------

def has_const_data_ptr(torch):
    """Tensor.const_data_ptr (absent from 2.11)."""
    return hasattr(torch.Tensor, "const_data_ptr")


def asarray_keeps_autograd(torch):
    """torch.asarray of a tensor that requires grad keeps what it returns in
    the graph unless told otherwise, and warns when that is the tensor itself
    (2.13: requires_grad=None by default).  2.11's default is
    requires_grad=False: a copy comes back detached, and nothing warns.  Not
    probed: 2.13 warns once per process, and a probe would take the one
    warning the test looks for."""
    return not before_2_13(torch)


def function_apply_takes_keywords(torch):
    """autograd.Function.apply(x, k=...) passes keywords to forward (2.13;
    2.11 raises "apply() takes no keyword arguments")."""
    class Scale(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, k=1.0):
            return x * k

        @staticmethod
        def backward(ctx, g):
            return g, None

    try:
        Scale.apply(torch.ones(1), k=2.0)
    except TypeError:
        return False
    return True


def aminmax_has_derivative(torch):
    """aminmax is differentiable (2.13; 2.11: "derivative for aten::aminmax
    is not implemented")."""
    x = torch.ones(2, requires_grad=True)
    try:
        torch.aminmax(x).max.backward()
    except RuntimeError:
        return False
    return True


class _AminmaxFromAminAmax:
    """The torch module with aminmax as (amin, amax) (its definition, and
    those two are differentiable in 2.11); every other name is torch's."""

    def __init__(self, torch):
        self._torch = torch

    def __getattr__(self, name):
        return getattr(self._torch, name)

    def aminmax(self, input, *, dim=None, keepdim=False):
        dims = tuple(range(input.dim())) if dim is None else dim
        return (self._torch.amin(input, dims, keepdim), self._torch.amax(input, dims, keepdim))


def torch_with_differentiable_aminmax(torch):
    """torch itself where aminmax is differentiable, else torch with aminmax
    computed by amin and amax: the same values, and the gradients 2.13 gives
    (to the minimum and the maximum) wherever they are unique."""
    return torch if aminmax_has_derivative(torch) else _AminmaxFromAminAmax(torch)


def lp_pool_takes_inf(torch):
    """lp_pool with norm_type=inf is the max of |x| over each window (2.13;
    2.11 returns ones)."""
    x = torch.tensor([[[2.0, -3.0]]])
    return torch.nn.functional.lp_pool1d(x, math.inf, 2).item() == 3.0


def torch_lp_pool(torch, dims):
    """torch.nn.functional.lp_pool{dims}d as 2.13 defines it: itself where it
    takes norm_type=+-inf, else norm_type=+-inf pooled as 2.13 pools it, the
    max (min) of |x| over each window through PyTorch's max_pool{dims}d."""
    lp_pool = getattr(torch.nn.functional, f"lp_pool{dims}d")
    if lp_pool_takes_inf(torch):
        return lp_pool
    max_pool = getattr(torch.nn.functional, f"max_pool{dims}d")

    def lp_pool_2_13(input, norm_type, kernel_size, stride=None, ceil_mode=False):
        if norm_type == math.inf:
            return max_pool(input.abs(), kernel_size, stride, 0, 1, ceil_mode)
        if norm_type == -math.inf:
            return -max_pool(-input.abs(), kernel_size, stride, 0, 1, ceil_mode)
        return lp_pool(input, norm_type, kernel_size, stride, ceil_mode)

    return lp_pool_2_13


def unpool_refuses_negative_size(torch):
    """max_unpool raises 2.13's ValueError for an output size below 0
    (2.11 raises a RuntimeError from its allocation instead)."""
    y = torch.zeros(1, 1, 2, 2)
    try:
        torch.nn.functional.max_unpool2d(y, y.long(), 1, stride=1, padding=2)
    except ValueError:
        return True
    except RuntimeError:
        return False
    return False


def embedding_bag_checks_mode(torch):
    """torch.embedding_bag refuses a mode other than 0, 1, 2 (2.13).  2.11
    takes mode=3 and crashes the process (a segmentation fault in a child
    process; in the suite glibc aborted a later test: "realloc(): invalid
    next size"), so this cannot be probed: it is the version."""
    return not before_2_13(torch)
