"""nn.utils.rnn: batches of variable-length sequences, as torch.nn.utils.rnn.

A *padded* batch is (T, B, *) (or (B, T, *) with ``batch_first``): sequence b
fills rows [0, lengths[b]) and the rest is padding.  A *packed* batch keeps
only the real steps, time-major: step t of every sequence that is still
running, longest sequence first; ``batch_sizes[t]`` says how many there are
(so it never increases).  ``pack_padded_sequence([[a1 a2 a3], [b1 b2 0]])``
gives data a1 b1 a2 b2 a3 with batch_sizes [2, 2, 1].  The recurrent layers
take a PackedSequence and step each sequence only through its own length.

Every conversion is one gather (``GetItem`` with an integer index array
built on the host from the lengths), so its gradient is one scatter-add:
nothing here needs a derivative of its own.  As in PyTorch, ``batch_sizes``
and the lengths live on the host (int64, CPU), the data and the
sorted/unsorted indices on the data's device.
"""
from collections import namedtuple
from collections.abc import Iterable

import numpy as np

from ... import dtypes as _dt
from ... import ops
from ...backend import get_array_module
from ...tensor import Tensor

__all__ = ["PackedSequence", "invert_permutation", "pack_padded_sequence", "pad_packed_sequence",
           "pad_sequence", "unpad_sequence", "pack_sequence", "unpack_sequence"]


def _host_ints(t):
    """A 1-D index or length Tensor (or list) as a host int64 array."""
    return np.asarray(t).astype(np.int64, copy=False)    # a Tensor's __array__ is on the host


def _on_device_of(host_array, like):
    """An int64 Tensor of ``host_array`` on the device of Tensor ``like``."""
    return Tensor(get_array_module(like.array).asarray(host_array))


class PackedSequence(namedtuple("PackedSequence_",
                                ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])):
    """A packed batch: ``data`` (sum of lengths, *), ``batch_sizes`` (int64 on
    the CPU, one per time step), and, when the batch was sorted by length on
    the way in, ``sorted_indices`` / ``unsorted_indices`` (int64, on the data's
    device) to map between the caller's order and the sorted one.

    Made by pack_padded_sequence / pack_sequence, not by hand."""

    __slots__ = ()

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        if batch_sizes is not None:
            if batch_sizes.is_cuda:
                raise ValueError(
                    "batch_sizes should always be on CPU. Instances of PackedSequence should "
                    "never be created manually. They should be instantiated by functions like "
                    "pack_sequence and pack_padded_sequences in nn.utils.rnn. "
                    "https://pytorch.org/docs/stable/nn.html#torch.nn.utils.rnn.pack_sequence")
        else:   # PackedSequence((data, batch_sizes), sorted_indices=...)
            if not (isinstance(data, (list, tuple)) and len(data) == 2):
                raise AssertionError("Expected data to be a list or tuple of length 2")
            data, batch_sizes = data
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs):
        """``data.to(...)``; the indices follow the data's device, batch_sizes
        stays on the CPU.  Returns self when the data does not change."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self

        def follow(t):
            return None if t is None else t.to(data.device)
        return type(self)(data, self.batch_sizes, follow(self.sorted_indices),
                          follow(self.unsorted_indices))

    def cuda(self, device=None):
        return self.to("cuda" if device is None else
                       f"cuda:{device}" if isinstance(device, int) else device)

    def cpu(self):
        return self.to("cpu")

    def double(self):
        return self.to(_dt.float64)

    def float(self):
        return self.to(_dt.float32)

    def half(self):
        return self.to(_dt.float16)

    def long(self):
        return self.to(_dt.int64)

    def int(self):
        return self.to(_dt.int32)

    def short(self):
        return self.to(_dt.int16)

    def char(self):
        return self.to(_dt.int8)

    def byte(self):
        return self.to(_dt.uint8)

    @property
    def is_cuda(self):
        return self.data.is_cuda

    def pin_memory(self):
        def pinned(t):
            return None if t is None else t.pin_memory()
        return type(self)(self.data.pin_memory(), self.batch_sizes, pinned(self.sorted_indices),
                          pinned(self.unsorted_indices))

    def is_pinned(self):
        return self.data.is_pinned()


def invert_permutation(permutation):
    """The inverse of a 1-D permutation Tensor (None for None)."""
    if permutation is None:
        return None
    p = permutation.array
    xp = get_array_module(p)
    inverse = xp.empty_like(p)
    inverse[p] = xp.arange(p.size, dtype=p.dtype)
    return Tensor(inverse)


# --------------------------------------------------------------------------
# padded <-> packed
# --------------------------------------------------------------------------


def _check_lengths(lengths):
    if isinstance(lengths, Tensor):
        if lengths.ndim != 1 or lengths.is_cuda:
            raise RuntimeError(f"'lengths' argument should be a 1D CPU int64 tensor, but got "
                               f"{lengths.ndim}D {lengths.device} Long tensor")
        return np.asarray(lengths.array).astype(np.int64)
    lengths = np.asarray(lengths)
    if lengths.ndim != 1:
        raise RuntimeError(f"'lengths' argument should be a 1D CPU int64 tensor, but got "
                           f"{lengths.ndim}D cpu Long tensor")
    return lengths.astype(np.int64)


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """Pack a padded batch (T, B, *) ((B, T, *) with ``batch_first``) whose
    sequence b has ``lengths[b]`` real steps (a list or a 1-D CPU tensor).

    With ``enforce_sorted`` the lengths must not increase along the batch;
    otherwise the batch is sorted by decreasing length first (a stable sort,
    so equal lengths keep their order) and the PackedSequence records the
    permutation, which pad_packed_sequence and the RNN layers undo."""
    lengths = _check_lengths(lengths)
    sorted_indices = None
    if not enforce_sorted:
        order = np.argsort(-lengths, kind="stable")
        lengths = lengths[order]
        sorted_indices = _on_device_of(order, input)
        input = ops.index_select(input, 0 if batch_first else 1, sorted_indices)
    data, batch_sizes = _pack(input, lengths, batch_first)
    return PackedSequence(data, batch_sizes, sorted_indices, None)


def _pack(input, lengths, batch_first):
    """ATen's _pack_padded_sequence: the real steps of the sorted batch, time-major."""
    if input.ndim < 2:
        raise IndexError(f"Dimension out of range (expected to be in range of "
                         f"[-{max(input.ndim, 1)}, {max(input.ndim, 1) - 1}], but got 1)")
    if batch_first:
        batch_size, total = input.shape[0], input.shape[1]
    else:
        total, batch_size = input.shape[0], input.shape[1]
    if input.numel() == 0:
        raise RuntimeError("Cannot pack empty tensors.")
    if lengths.size != batch_size:
        raise RuntimeError(f"Expected `len(lengths)` to be equal to batch_size, but got "
                           f"{lengths.size} (batch_size={batch_size})")
    if lengths[-1] <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an element "
                           "in 'lengths' that is <= 0")
    if np.any(lengths[1:] > lengths[:-1]):
        raise RuntimeError("`lengths` array must be sorted in decreasing order when "
                           "`enforce_sorted` is True. You can pass `enforce_sorted=False` to "
                           "pack_padded_sequence and/or pack_sequence to sidestep this "
                           "requirement if you do not need ONNX exportability.")
    if lengths[0] > total:
        # PyTorch reads past the padded tensor here; refuse instead
        raise RuntimeError(f"pack_padded_sequence: the longest length ({lengths[0]}) exceeds "
                           f"the padded input's {total} time steps")
    # running[t, b]: sequence b has a step t.  Its nonzero entries in row-major
    # order are exactly the packed order (time first, then batch).
    running = lengths[None, :] > np.arange(lengths[0])[:, None]
    t, b = np.nonzero(running)
    rows = b * total + t if batch_first else t * batch_size + b
    flat = ops.reshape(input, (total * batch_size, *input.shape[2:]))
    data = ops.getitem(flat, _on_device_of(rows, input))
    return data, Tensor(running.sum(axis=1).astype(np.int64))


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """The inverse of pack_padded_sequence: ``(padded, lengths)`` with padded
    (T, B, *) ((B, T, *) with ``batch_first``), T the longest length or
    ``total_length``, the batch back in the caller's order, and lengths an
    int64 CPU tensor."""
    steps = _host_ints(sequence.batch_sizes)
    max_seq_length = steps.size
    if total_length is not None:
        if total_length < max_seq_length:
            raise ValueError(f"Expected total_length to be at least the length of the longest "
                             f"sequence in input, but got total_length={total_length} and max "
                             f"sequence length being {max_seq_length}")
        max_seq_length = total_length
    data = sequence.data
    batch_size, packed_rows = int(steps[0]), data.shape[0]
    running = np.arange(batch_size)[None, :] < steps[:, None]
    lengths = running.sum(axis=0).astype(np.int64)
    # where[t, b]: the packed row of step t of sequence b, or the padding row
    where = np.full((max_seq_length, batch_size), packed_rows, dtype=np.int64)
    where[:steps.size][running] = np.arange(packed_rows)
    if sequence.unsorted_indices is not None:
        unsorted = _host_ints(sequence.unsorted_indices)
        where, lengths = where[:, unsorted], lengths[unsorted]
    if batch_first:
        where = where.T
    padded = _gather_with_padding(data, where, padding_value)
    return padded, Tensor(lengths)


def _gather_with_padding(rows, where, padding_value):
    """rows (R, *) read at ``where`` (an index array into R + 1 rows, row R
    being ``padding_value``): one differentiable gather."""
    xp = get_array_module(rows.array)
    pad_row = Tensor(xp.full((1, *rows.shape[1:]), padding_value, dtype=rows.dtype))
    return ops.getitem(ops.cat([rows, pad_row], 0), _on_device_of(where, rows))


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stack sequences (L_i, *) into one padded batch (T, B, *) ((B, T, *)
    with ``batch_first``), T the longest L_i, padded with ``padding_value`` on
    the right (or the left, ``padding_side='left'``).  The result has the
    first sequence's dtype."""
    if not isinstance(sequences, Iterable):
        raise RuntimeError(f"pad_sequence: Expected iterable for input sequences, but got arg of "
                           f"type: {type(sequences)}")
    sequences = tuple(sequences)
    if not sequences:
        raise RuntimeError("received an empty list of sequences")
    if padding_side not in ("left", "right"):
        raise RuntimeError(f"Expected padding_side to be one of left or right, but got "
                           f"{padding_side}.")
    first = sequences[0]
    if first.ndim == 0 or any(s.ndim == 0 for s in sequences):
        raise RuntimeError("pad_sequence: every sequence needs a length dimension, got a 0-d "
                           "tensor")
    trailing = tuple(first.shape[1:])
    parts = []
    for s in sequences:
        s = s.to(first.dtype)
        if tuple(s.shape[1:]) != trailing:     # PyTorch copies, so it broadcasts
            s = _broadcast_steps(s, trailing)
        parts.append(s)
    lengths = np.array([s.shape[0] for s in parts], dtype=np.int64)
    total, packed_rows = int(lengths.max()), int(lengths.sum())
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    t = np.arange(total)[None, :]
    offset = total - lengths[:, None] if padding_side == "left" else 0
    inside = (t >= offset) & (t < offset + lengths[:, None])
    where = np.where(inside, starts[:, None] + t - offset, packed_rows)     # (B, T)
    if not batch_first:
        where = where.T
    return _gather_with_padding(ops.cat(parts, 0), where, padding_value)


def _broadcast_steps(s, trailing):
    """s (L, ...) broadcast to (L, *trailing), as PyTorch's copy into the output."""
    target = (s.shape[0], *trailing)
    for k, (a, b) in enumerate(zip(reversed(target), reversed(tuple(s.shape)))):
        if a != b and b != 1:
            raise RuntimeError(f"The size of tensor a ({a}) must match the size of tensor b "
                               f"({b}) at non-singleton dimension {len(target) - 1 - k}")
    return ops.broadcast_to(s, target)


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    """The sequences of a padded batch, as a list of (lengths[b], *) tensors.
    (PyTorch transposes a time-major ``padded_sequences`` in place; here the
    argument is left as it was.)"""
    x = padded_sequences if batch_first else ops.transpose(padded_sequences, 0, 1)
    return [x[b, :max(int(n), 0)]
            for b, n in zip(range(x.shape[0]), _host_ints(lengths), strict=True)]


def pack_sequence(sequences, enforce_sorted=True):
    """pad_sequence then pack_padded_sequence: a list of (L_i, *) tensors
    (by decreasing length, unless ``enforce_sorted=False``) as a PackedSequence."""
    lengths = [v.shape[0] for v in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences):
    """The inverse of pack_sequence: the list of (L_i, *) tensors, in the
    caller's order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
