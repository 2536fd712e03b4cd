"""How a Tensor prints: PyTorch's layout, so course output reads like the slides.

PyTorch's rules (torch/_tensor_str.py), written here on NumPy arrays:

* One format for the whole tensor, chosen from its nonzero finite values:
  integers-valued floats print as ``1.``; otherwise fixed-point with
  ``precision`` decimals, or scientific when the values span more than three
  orders of magnitude, exceed 1e8 or go below 1e-4.  Every element is padded
  to the widest, so columns line up.
* A tensor with more than ``threshold`` elements is summarized: ``edgeitems``
  rows/items at each end of every dimension, ``...`` between.  Only the
  summarized part is ever formatted (printing a 10M-element tensor is cheap).
* A vector wraps at ``linewidth``; nested dimensions are indented under their
  bracket, with one blank line per dimension beyond the second.
* ``dtype=``, ``device=``, ``grad_fn=`` / ``requires_grad=True`` follow the
  data, on a new line when the last line would pass ``linewidth``.
"""
import contextlib
import dataclasses
import math

import numpy as np

__all__ = ["set_printoptions", "get_printoptions", "printoptions"]


@dataclasses.dataclass
class _PrintOptions:
    precision: int = 4
    threshold: float = 1000
    edgeitems: int = 3
    linewidth: int = 80
    sci_mode: object = None     # None: chosen per tensor; True / False: forced


PRINT_OPTS = _PrintOptions()

_PROFILES = {"default": dict(precision=4, threshold=1000, edgeitems=3, linewidth=80),
             "short": dict(precision=2, threshold=1000, edgeitems=2, linewidth=80),
             "full": dict(precision=4, threshold=math.inf, edgeitems=3, linewidth=80)}


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None,
                     profile=None, sci_mode=None):
    """Set how tensors print (as torch.set_printoptions).

    precision: decimals (default 4); threshold: element count above which a
    tensor is summarized (1000); edgeitems: items kept at each end of a
    summarized dimension (3); linewidth: characters per line (80); profile:
    'default', 'short' or 'full' (never summarize); sci_mode: True / False to
    force scientific notation on or off, None to choose per tensor.
    """
    if profile is not None:
        if profile not in _PROFILES:
            raise ValueError(f"set_printoptions: profile must be one of {sorted(_PROFILES)}, "
                             f"got {profile!r}")
        for name, value in _PROFILES[profile].items():
            setattr(PRINT_OPTS, name, value)
    for name, value in (("precision", precision), ("threshold", threshold),
                        ("edgeitems", edgeitems), ("linewidth", linewidth)):
        if value is not None:
            setattr(PRINT_OPTS, name, value)
    PRINT_OPTS.sci_mode = sci_mode      # as PyTorch: every call resets it unless given


def get_printoptions():
    """The current print options, as keyword arguments for set_printoptions."""
    return dataclasses.asdict(PRINT_OPTS)


@contextlib.contextmanager
def printoptions(**kwargs):
    """Change the print options inside a ``with`` block only."""
    old = get_printoptions()
    set_printoptions(**kwargs)
    try:
        yield
    finally:
        set_printoptions(**old)


# -- the element format -------------------------------------------------------

class _Formatter:
    """One element format (and width) for every element of a tensor."""

    def __init__(self, values):
        """``values``: a host array of the elements that will be printed."""
        self.floating = values.dtype.kind == "f"
        self.int_mode, self.sci_mode, self.width = True, False, 1
        p = PRINT_OPTS.precision
        if not self.floating:
            if values.size:
                self.width = max(len(str(v)) for v in values.ravel().tolist())
            return
        flat = values.ravel()
        shown = flat[np.isfinite(flat) & (flat != 0)]
        if shown.size == 0:
            return
        magnitude = np.abs(shown).astype(np.float64)
        lo, hi = magnitude.min(), magnitude.max()
        self.int_mode = bool(np.all(shown == np.ceil(shown)))
        self.sci_mode = (hi / lo > 1000.0 or hi > 1.0e8 or lo < 1.0e-4) \
            if PRINT_OPTS.sci_mode is None else bool(PRINT_OPTS.sci_mode)
        values = shown.tolist()
        if self.sci_mode:
            self.width = max(len(f"{v:.{p}e}") for v in values)
        elif self.int_mode:
            self.width = max(len(f"{v:.0f}") + 1 for v in values)     # + 1: the "."
        else:
            self.width = max(len(f"{v:.{p}f}") for v in values)

    def format(self, value):
        """One element (a Python number) as text, padded to the common width."""
        if not self.floating:
            text = str(value)
        elif self.sci_mode:
            text = f"{value:{self.width}.{PRINT_OPTS.precision}e}"
        elif self.int_mode:
            text = f"{value:.0f}" + ("" if math.isinf(value) or math.isnan(value) else ".")
        else:
            text = f"{value:.{PRINT_OPTS.precision}f}"
        return " " * (self.width - len(text)) + text


# -- layout --------------------------------------------------------------------

def _summarized(a, edge):
    """The items a summarized print shows: ``edge`` at each end of every
    dimension longer than 2 * edge (PyTorch's rule, quirks included: with
    edge = 0 a vector keeps everything and a matrix nothing)."""
    if a.ndim == 0:
        return a
    if a.ndim == 1:
        return a if edge == 0 or a.shape[0] <= 2 * edge else \
            np.concatenate((a[:edge], a[-edge:]))
    if edge == 0:
        return a[(slice(0, 0),) * a.ndim]
    for axis, n in enumerate(a.shape):
        if n > 2 * edge:
            before = (slice(None),) * axis
            # np.concatenate dispatches to CuPy for device arrays
            a = np.concatenate((a[before + (slice(0, edge),)],
                                a[before + (slice(n - edge, n),)]), axis=axis)
    return a


def _block(a, shape, indent, summarize, fmt):
    """``a`` (the shown items of a tensor of ``shape``) as bracketed text."""
    edge = PRINT_OPTS.edgeitems
    if len(shape) == 0:
        return fmt.format(a.item())
    cut = summarize and shape[0] > 2 * edge     # the middle of this dimension is left out
    if len(shape) == 1:
        if summarize and not edge:
            items = ["..."]
        elif cut:
            values = a.tolist()
            items = [fmt.format(v) for v in values[:edge]] + [" ..."] + \
                [fmt.format(v) for v in values[-edge:]]
        else:
            items = [fmt.format(v) for v in a.tolist()]
        per_line = max(1, math.floor((PRINT_OPTS.linewidth - indent) / (fmt.width + 2)))
        lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
        return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"
    inner = shape[1:]
    if cut:
        rows = [_block(a[i], inner, indent + 1, summarize, fmt) for i in range(edge)] + \
            ["..."] + \
            [_block(a[i], inner, indent + 1, summarize, fmt)
             for i in range(a.shape[0] - edge, a.shape[0])]
    else:
        rows = [_block(a[i], inner, indent + 1, summarize, fmt) for i in range(a.shape[0])]
    return "[" + ("," + "\n" * (len(shape) - 1) + " " * (indent + 1)).join(rows) + "]"


def _with_suffixes(text, suffixes, indent):
    """Append ``, suffix`` items, each on a new line if it would pass linewidth."""
    parts = [text]
    line = len(text) - text.rfind("\n") + 1
    for suffix in suffixes:
        if line + len(suffix) + 2 > PRINT_OPTS.linewidth:
            parts.append(",\n" + " " * indent + suffix)
            line = indent + len(suffix)
        else:
            parts.append(", " + suffix)
            line += len(suffix) + 2
    return "".join(parts) + ")"


def tensor_repr(data, *, dtype_name, default_dtype, to_host, device=None, grad_fn=None,
                requires_grad=False, prefix="tensor("):
    """The repr of a tensor holding array ``data`` (see the module doc).

    to_host: array -> NumPy array, applied to the shown part only (a
    10M-element GPU tensor copies a few dozen numbers, not 40 MB); dtype_name: how its dtype prints (``tinygrad_kr.float64``); default_dtype:
    the default float dtype (not printed, nor are int64 and bool); device: the
    text of ``device=`` or None; grad_fn: the grad_fn's repr or None.
    """
    indent = len(prefix)
    suffixes = [f"device='{device}'"] if device is not None else []
    if data.size == 0:
        if data.ndim != 1:
            suffixes.append(f"size={tuple(data.shape)}")
        if data.dtype != default_dtype:
            suffixes.append(f"dtype={dtype_name}")
        body = "[]"
    else:
        if not PRINT_OPTS.edgeitems:
            suffixes.append(f"size={tuple(data.shape)}")
        if data.dtype not in (default_dtype, np.int64, np.bool_):
            suffixes.append(f"dtype={dtype_name}")
        summarize = data.size > PRINT_OPTS.threshold
        shown = to_host(_summarized(data, PRINT_OPTS.edgeitems) if summarize else data)
        body = _block(shown, data.shape, indent, summarize, _Formatter(shown))
    if grad_fn is not None:
        suffixes.append(f"grad_fn={grad_fn}")
    elif requires_grad:
        suffixes.append("requires_grad=True")
    return _with_suffixes(prefix + body, suffixes, indent)
