"""Recurrent layers: RNNCell, LSTMCell, GRUCell and the multi-layer RNN, LSTM, GRU.

No Function of their own: every step is a composition of core ops (linear,
sigmoid, tanh, relu, chunk, mul, add, stack, cat), so the gradients come from
those ops.  A sequence layer multiplies the whole input sequence by W_ih once
per layer and direction ((L, N, H_in) -> (L, N, G) in one GEMM) and then runs
the time loop, where only h @ W_hh^T is left per step.

A PackedSequence input (nn.utils.rnn) is stepped as ATen steps it: at step t
only the batch_sizes[t] sequences still running (the longest first) take a
step, so each sequence's final state is the one after its own last step, and
the output is packed like the input.

Parameter names, shapes, gate order (LSTM: i, f, g, o; GRU: r, z, n), init
U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)) on every parameter, shapes of
outputs and states, and the error messages are PyTorch's.
"""
import math
import numbers
import warnings

from ... import factories, ops
from .. import functional as F
from .. import init
from ..parameter import Parameter
from ..utils.rnn import PackedSequence
from .module import Module

__all__ = ["RNNCellBase", "RNNCell", "LSTMCell", "GRUCell", "RNNBase", "RNN", "LSTM", "GRU"]

_ACTIVATIONS = {"tanh": ops.tanh, "relu": ops.relu}


# --------------------------------------------------------------------------
# one time step; xw = x W_ih^T + b_ih is computed by the caller
# --------------------------------------------------------------------------


def _rnn_step(xw, h, w_hh, b_hh, activation):
    """h' = act(xw + h W_hh^T + b_hh); xw, h: (N, H)."""
    return activation(xw + F.linear(h, w_hh, b_hh))


def _lstm_step(xw, h, c, w_hh, b_hh):
    """(h', c') of one LSTM step; xw: (N, 4H) in gate order i, f, g, o."""
    i, f, g, o = ops.chunk(xw + F.linear(h, w_hh, b_hh), 4, dim=-1)
    c = ops.sigmoid(f) * c + ops.sigmoid(i) * ops.tanh(g)
    return ops.sigmoid(o) * ops.tanh(c), c


def _gru_step(xw, h, w_hh, b_hh):
    """h' of one GRU step; xw: (N, 3H) in gate order r, z, n.  b_hn sits inside
    r * (W_hn h + b_hn), so the hidden product is kept apart from xw."""
    x_r, x_z, x_n = ops.chunk(xw, 3, dim=-1)
    h_r, h_z, h_n = ops.chunk(F.linear(h, w_hh, b_hh), 3, dim=-1)
    r = ops.sigmoid(x_r + h_r)
    z = ops.sigmoid(x_z + h_z)
    n = ops.tanh(x_n + r * h_n)
    return n + z * (h - n)          # (1 - z) * n + z * h, written as PyTorch's kernel does


def _time_steps(xw):
    """xw (L, ...) -> its L steps.  Each slice's backward scatters into a zero
    array of its source's shape, so unbinding all L steps of xw at once would
    cost L full-size arrays in backward (quadratic in L); unbinding blocks of
    ~sqrt(L) steps cuts that to ~2 sqrt(L) full-size arrays."""
    n = xw.shape[0]
    block = max(1, math.isqrt(n))
    if block < 4:
        return ops.unbind(xw, 0)
    return [step for part in ops.split(xw, block, 0) for step in ops.unbind(part, 0)]


def _scan_padded(xw, states, step, reverse):
    """Run ``step`` over the L steps of xw (L, N, G), backwards if ``reverse``:
    the outputs (L, N, H) and the final states."""
    steps = _time_steps(xw)
    hs = [None] * len(steps)
    for t in (range(len(steps) - 1, -1, -1) if reverse else range(len(steps))):
        states = step(steps[t], states)
        hs[t] = states[0]
    return ops.stack(hs, 0), states


def _scan_packed(xw, states, step, reverse, batch_sizes):
    """Run ``step`` over a packed batch: at step t only the first
    batch_sizes[t] rows of xw's step-t block (the sequences still running,
    longest first) take a step.  Returns the packed outputs and the final
    states, each sequence's taken at its own last step, as ATen's packed
    layers do: going forward, the rows that end are set aside as the batch
    shrinks; going backward, each sequence starts from its initial state
    when the batch grows to include it."""
    pieces = _row_blocks(xw, batch_sizes)
    outs = [None] * len(batch_sizes)
    if not reverse:
        ended = []
        for t, n in enumerate(batch_sizes):
            if n < states[0].shape[0]:
                ended.append([s[n:] for s in states])
                states = [s[:n] for s in states]
            states = step(pieces[t], states)
            outs[t] = states[0]
        # rows [0, n_last) are still running; the earlier an ending, the higher its rows
        states = [ops.cat([s] + [e[k] for e in reversed(ended)], 0) if ended else s
                  for k, s in enumerate(states)]
    else:
        initial = states
        states = [s[:batch_sizes[-1]] for s in initial]
        for t in range(len(batch_sizes) - 1, -1, -1):
            n, have = batch_sizes[t], states[0].shape[0]
            if n > have:
                states = [ops.cat([s, s0[have:n]], 0) for s, s0 in zip(states, initial)]
            states = step(pieces[t], states)
            outs[t] = states[0]
    return ops.cat(outs, 0), states


def _row_blocks(x, sizes):
    """x split into consecutive row blocks of ``sizes``.  As in _time_steps,
    splitting in two levels (~sqrt(T) groups, then steps) keeps the backward's
    full-size scatter arrays to ~2 sqrt(T) instead of T."""
    group = max(1, math.isqrt(len(sizes)))
    if group < 4:
        return ops.split(x, sizes, 0)
    groups = [sizes[i:i + group] for i in range(0, len(sizes), group)]
    parts = ops.split(x, [sum(g) for g in groups], 0)
    return [piece for part, g in zip(parts, groups) for piece in ops.split(part, g, 0)]


def _permute_batch(states, permutation):
    """Each (layers * D, N, H) state with its batch reordered (None: as is)."""
    if permutation is None:
        return states
    return [ops.index_select(s, 1, permutation) for s in states]


def _check_dtype(input, weight):
    if input.array.dtype != weight.array.dtype:
        a, w = input.array.dtype, weight.array.dtype
        raise ValueError(f"RNN input dtype ({a}) does not match weight dtype ({w}). Convert "
                         f"input: input.to({w}), or convert model: model.to({a})")


def _reset_uniform(module):
    stdv = 1.0 / math.sqrt(module.hidden_size) if module.hidden_size > 0 else 0
    for weight in module.parameters():
        init.uniform_(weight, -stdv, stdv)


# --------------------------------------------------------------------------
# cells
# --------------------------------------------------------------------------


class RNNCellBase(Module):
    """weight_ih (num_chunks * hidden_size, input_size), weight_hh
    (num_chunks * hidden_size, hidden_size), bias_ih and bias_hh
    (num_chunks * hidden_size,) or None."""

    def __init__(self, input_size, hidden_size, bias, num_chunks, device=None, dtype=None):
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        kw = {"device": device, "dtype": dtype}
        self.weight_ih = Parameter(factories.empty(num_chunks * hidden_size, input_size, **kw))
        self.weight_hh = Parameter(factories.empty(num_chunks * hidden_size, hidden_size, **kw))
        if bias:
            self.bias_ih = Parameter(factories.empty(num_chunks * hidden_size, **kw))
            self.bias_hh = Parameter(factories.empty(num_chunks * hidden_size, **kw))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self):
        _reset_uniform(self)

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s

    def _prepare(self, input, states):
        """Check input (N, H_in) or (H_in,) and the given states; return the
        batched input, the batched states (zeros where none were given) and
        whether the input was batched."""
        name = type(self).__name__
        if input.dim() not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.dim()}D instead")
        batched = input.dim() == 2
        if not batched:
            input = ops.unsqueeze(input, 0)
        if input.shape[1] != self.input_size:
            raise RuntimeError(f"input has inconsistent input_size: got {input.shape[1]} "
                               f"expected {self.input_size}")
        _check_dtype(input, self.weight_ih)
        out = []
        for k, s in enumerate(states):
            if s is None:
                s = factories.zeros(input.shape[0], self.hidden_size, dtype=input.dtype,
                                    device=input.device)
            else:
                if s.dim() != (2 if batched else 1):
                    raise RuntimeError(f"{name}: {2 if batched else 1}-D input needs "
                                       f"{2 if batched else 1}-D hidden state(s), got "
                                       f"hidden{k} of {s.dim()}D")
                if not batched:
                    s = ops.unsqueeze(s, 0)
                if s.shape[0] != input.shape[0]:
                    raise RuntimeError(f"Input batch size {input.shape[0]} doesn't match "
                                       f"hidden{k} batch size {s.shape[0]}")
                if s.shape[1] != self.hidden_size:
                    raise RuntimeError(f"hidden{k} has inconsistent hidden_size: got "
                                       f"{s.shape[1]}, expected {self.hidden_size}")
            out.append(s)
        return input, out, batched


class RNNCell(RNNCellBase):
    """h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh), act 'tanh' or 'relu'.

    input (N, input_size) or (input_size,), hx like it with hidden_size
    (zeros if None) -> h' of hx's shape."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None,
                 dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=1, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        if hx is not None and hx.dim() not in (1, 2):
            raise ValueError(f"RNNCell: Expected hidden to be 1D or 2D, got {hx.dim()}D instead")
        if self.nonlinearity not in _ACTIVATIONS:
            raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")
        x, (h,), batched = self._prepare(input, (hx,))
        h = _rnn_step(F.linear(x, self.weight_ih, self.bias_ih), h, self.weight_hh,
                      self.bias_hh, _ACTIVATIONS[self.nonlinearity])
        return h if batched else ops.squeeze(h, 0)


class LSTMCell(RNNCellBase):
    """One LSTM step (gates i, f, g, o).

    input (N, input_size) or (input_size,), hx = (h, c) like it with
    hidden_size (zeros if None) -> (h', c')."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=4, device=device, dtype=dtype)

    def forward(self, input, hx=None):
        if hx is not None:
            for k, s in enumerate(hx):
                if s.dim() not in (1, 2):
                    raise ValueError(f"LSTMCell: Expected hx[{k}] to be 1D or 2D, got "
                                     f"{s.dim()}D instead")
        x, (h, c), batched = self._prepare(input, (None, None) if hx is None else hx)
        h, c = _lstm_step(F.linear(x, self.weight_ih, self.bias_ih), h, c, self.weight_hh,
                          self.bias_hh)
        return (h, c) if batched else (ops.squeeze(h, 0), ops.squeeze(c, 0))


class GRUCell(RNNCellBase):
    """One GRU step (gates r, z, n; n = tanh(W_in x + b_in + r * (W_hn h + b_hn))).

    input (N, input_size) or (input_size,), hx like it with hidden_size
    (zeros if None) -> h'."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=3, device=device, dtype=dtype)

    def forward(self, input, hx=None):
        if hx is not None and hx.dim() not in (1, 2):
            raise ValueError(f"GRUCell: Expected hidden to be 1D or 2D, got {hx.dim()}D instead")
        x, (h,), batched = self._prepare(input, (hx,))
        h = _gru_step(F.linear(x, self.weight_ih, self.bias_ih), h, self.weight_hh,
                      self.bias_hh)
        return h if batched else ops.squeeze(h, 0)


# --------------------------------------------------------------------------
# multi-layer sequence layers
# --------------------------------------------------------------------------


class RNNBase(Module):
    """The parameters and the layer/direction loop shared by RNN, LSTM and GRU.

    For layer k and direction suffix s ('' or '_reverse'): weight_ih_l{k}{s}
    (G, input_size if k == 0 else D * hidden_size), weight_hh_l{k}{s}
    (G, hidden_size), bias_ih_l{k}{s} and bias_hh_l{k}{s} (G,), with G =
    gates * hidden_size and D = 2 if bidirectional else 1."""

    _gates = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, proj_size=0,
                 device=None, dtype=None):
        super().__init__()
        if (not isinstance(dropout, numbers.Number) or isinstance(dropout, bool)
                or not 0 <= dropout <= 1):
            raise ValueError("dropout should be a number in range [0, 1] representing the "
                             "probability of an element being zeroed")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so "
                          "non-zero dropout expects num_layers greater than 1, but got "
                          f"dropout={dropout} and num_layers={num_layers}", stacklevel=3)
        for name, value, kind in (("bias", bias, bool), ("batch_first", batch_first, bool),
                                  ("input_size", input_size, int),
                                  ("hidden_size", hidden_size, int)):
            if not isinstance(value, kind):
                raise TypeError(f"{name} should be of type {kind.__name__}, got: "
                                f"{type(value).__name__}")
        if input_size <= 0:
            raise ValueError("input_size must be greater than zero")
        if hidden_size <= 0:
            raise ValueError("hidden_size must be greater than zero")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable "
                             "projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if proj_size > 0:
            raise NotImplementedError("LSTM with proj_size > 0 (projections, weight_hr_l{k}) "
                                      "is not implemented in tinygrad_kr; use proj_size=0, "
                                      "optionally followed by an nn.Linear")
        if mode not in self._gates:
            raise ValueError("Unrecognized RNN mode: " + mode)
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        gate_size = self._gates[mode] * hidden_size
        num_directions = 2 if bidirectional else 1
        kw = {"device": device, "dtype": dtype}
        self._flat_weights_names = []
        self._all_weights = []
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else hidden_size * num_directions
            for direction in range(num_directions):
                sfx = f"_l{layer}" + ("_reverse" if direction == 1 else "")
                names = [f"weight_ih{sfx}", f"weight_hh{sfx}"]
                setattr(self, names[0], Parameter(factories.empty(gate_size, layer_input, **kw)))
                setattr(self, names[1], Parameter(factories.empty(gate_size, hidden_size, **kw)))
                if bias:
                    names += [f"bias_ih{sfx}", f"bias_hh{sfx}"]
                    setattr(self, names[2], Parameter(factories.empty(gate_size, **kw)))
                    setattr(self, names[3], Parameter(factories.empty(gate_size, **kw)))
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    def reset_parameters(self):
        _reset_uniform(self)

    def flatten_parameters(self):
        """A no-op: PyTorch packs the weights into one buffer for cuDNN; this
        engine reads each parameter where it is."""

    @property
    def _flat_weights(self):
        return [getattr(self, n, None) for n in self._flat_weights_names]

    @property
    def all_weights(self):
        return [[getattr(self, n) for n in names] for names in self._all_weights]

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s

    # -- forward ------------------------------------------------------------

    def _check_input(self, input, name):
        if input.dim() not in (2, 3):
            tensor = " tensor" if name == "RNN" else ""     # PyTorch's wording differs
            raise ValueError(f"{name}: Expected input to be 2D or 3D, got {input.dim()}D"
                             f"{tensor} instead")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected "
                               f"{self.input_size}, got {input.shape[-1]}")
        _check_dtype(input, self.weight_ih_l0)

    def _check_hidden(self, hx, expected, msg="Expected hidden size {}, got {}"):
        if tuple(hx.shape) != expected:
            raise RuntimeError(msg.format(expected, list(hx.shape)))

    def _step(self, w_hh, b_hh):
        """This mode's cell as (xw_t, states) -> states, states [h] or [h, c]."""
        if self.mode == "LSTM":
            return lambda xw, cur: list(_lstm_step(xw, cur[0], cur[1], w_hh, b_hh))
        if self.mode == "GRU":
            return lambda xw, cur: [_gru_step(xw, cur[0], w_hh, b_hh)]
        activation = _ACTIVATIONS[self.mode[4:].lower()]
        return lambda xw, cur: [_rnn_step(xw, cur[0], w_hh, b_hh, activation)]

    def _run(self, x, states, batch_sizes=None):
        """x: (L, N, H_in) time-major, or the data (sum(batch_sizes), H_in) of
        a packed batch with ``batch_sizes`` (host ints); states: list of
        (num_layers * D, N, H) tensors (one for RNN/GRU, h and c for LSTM).
        Returns the last layer's output ((L, N, D * H), or packed
        (sum(batch_sizes), D * H)) and the final states, each
        (num_layers * D, N, H)."""
        num_directions = 2 if self.bidirectional else 1
        finals = [[] for _ in states]
        for layer in range(self.num_layers):
            if layer > 0 and self.dropout > 0 and self.training:
                x = F.dropout(x, self.dropout, True)
            outs = []
            for direction in range(num_directions):
                sfx = f"_l{layer}" + ("_reverse" if direction == 1 else "")
                w_hh = getattr(self, "weight_hh" + sfx)
                b_hh = getattr(self, "bias_hh" + sfx) if self.bias else None
                b_ih = getattr(self, "bias_ih" + sfx) if self.bias else None
                xw = F.linear(x, getattr(self, "weight_ih" + sfx), b_ih)   # one GEMM for all steps
                cur = [s[layer * num_directions + direction] for s in states]
                step, reverse = self._step(w_hh, b_hh), direction == 1
                if batch_sizes is None:
                    out, cur = _scan_padded(xw, cur, step, reverse)
                else:
                    out, cur = _scan_packed(xw, cur, step, reverse, batch_sizes)
                outs.append(out)
                for k, s in enumerate(cur):
                    finals[k].append(s)
            x = outs[0] if num_directions == 1 else ops.cat(outs, -1)
        return x, [ops.stack(f, 0) for f in finals]

    def _forward_packed(self, packed, hx, num_states):
        """PyTorch's path for a PackedSequence input: hx is given in the
        caller's batch order and permuted into the packed (sorted) one; the
        output is packed like the input; the final states, each sequence's
        at its own last step, are permuted back."""
        data, batch_sizes, sorted_indices, unsorted_indices = packed
        steps = [int(n) for n in batch_sizes.tolist()]
        num_directions = 2 if self.bidirectional else 1
        expected = (self.num_layers * num_directions, steps[0], self.hidden_size)
        if hx is None:
            states = [factories.zeros(*expected, dtype=data.dtype, device=data.device)
                      for _ in range(num_states)]
        else:
            states = _permute_batch([hx] if num_states == 1 else list(hx), sorted_indices)
        # PyTorch's check_input / check_hidden_size, in its order
        _check_dtype(data, self.weight_ih_l0)
        if data.dim() != 2:
            raise RuntimeError(f"input must have 2 dimensions, got {data.dim()}")
        if data.shape[-1] != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected "
                               f"{self.input_size}, got {data.shape[-1]}")
        for k, s in enumerate(states):
            self._check_hidden(s, expected, "Expected hidden size {}, got {}" if num_states == 1
                               else f"Expected hidden[{k}] size {{}}, got {{}}")
        out, finals = self._run(data, states, steps)
        finals = _permute_batch(finals, unsorted_indices)
        packed_out = PackedSequence(out, batch_sizes, sorted_indices, unsorted_indices)
        return packed_out, (finals[0] if num_states == 1 else tuple(finals))

    def _forward(self, input, hx, name, num_states):
        """The shared forward of RNN/GRU (num_states 1) and LSTM (2); hx is a
        tensor or None (1) or a pair or None (2)."""
        if isinstance(input, PackedSequence):
            return self._forward_packed(input, hx, num_states)
        self._check_input(input, name)
        batched = input.dim() == 3
        batch_dim = 0 if self.batch_first else 1
        if not batched:
            input = ops.unsqueeze(input, batch_dim)
        x = ops.transpose(input, 0, 1) if self.batch_first else input
        num_directions = 2 if self.bidirectional else 1
        expected = (self.num_layers * num_directions, x.shape[1], self.hidden_size)
        if hx is None:
            states = [factories.zeros(*expected, dtype=input.dtype, device=input.device)
                      for _ in range(num_states)]
        else:
            states = [hx] if num_states == 1 else list(hx)
            dims = tuple(s.dim() for s in states)
            want = 3 if batched else 2
            if any(d != want for d in dims):
                got = (f"({dims[0]}-D, {dims[1]}-D) tensors" if num_states == 2
                       else f"{dims[0]}-D tensor")
                what = "hx and cx" if num_states == 2 else "hx"
                kind = "batched 3-D" if batched else "unbatched 2-D"
                raise RuntimeError(f"For {kind} input, {what} should also be {want}-D but "
                                   f"got {got}")
            if not batched:
                states = [ops.unsqueeze(s, 1) for s in states]
            if num_states == 1:
                self._check_hidden(states[0], expected)
            else:
                for k, s in enumerate(states):
                    self._check_hidden(s, expected, f"Expected hidden[{k}] size {{}}, got {{}}")
        out, finals = self._run(x, states)
        if self.batch_first:
            out = ops.transpose(out, 0, 1)
        if not batched:
            out = ops.squeeze(out, batch_dim)
            finals = [ops.squeeze(f, 1) for f in finals]
        return out, (finals[0] if num_states == 1 else tuple(finals))


class RNN(RNNBase):
    """Elman RNN: h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh), act
    'tanh' or 'relu', stacked num_layers deep, optionally bidirectional.

    input (L, N, input_size) ((N, L, input_size) if batch_first) or
    (L, input_size); hx (num_layers * D, N, hidden_size) or without N ->
    (output (L, N, D * hidden_size), h_n shaped as hx).  A PackedSequence
    input gives a PackedSequence output."""

    def __init__(self, *args, **kwargs):
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if len(args) > 3:
            self.nonlinearity = args[3]
            args = args[:3] + args[4:]
        else:
            self.nonlinearity = kwargs.pop("nonlinearity", "tanh")
        if self.nonlinearity == "tanh":
            mode = "RNN_TANH"
        elif self.nonlinearity == "relu":
            mode = "RNN_RELU"
        else:
            raise ValueError(f"Unknown nonlinearity '{self.nonlinearity}'. Select from 'tanh' "
                             f"or 'relu'.")
        super().__init__(mode, *args, **kwargs)

    def forward(self, input, hx=None):
        return self._forward(input, hx, "RNN", 1)


class LSTM(RNNBase):
    """LSTM (gates i, f, g, o), stacked num_layers deep, optionally bidirectional.

    input (L, N, input_size) ((N, L, input_size) if batch_first) or
    (L, input_size); hx = (h_0, c_0), each (num_layers * D, N, hidden_size)
    or without N -> (output (L, N, D * hidden_size), (h_n, c_n)).  A
    PackedSequence input gives a PackedSequence output."""

    def __init__(self, *args, **kwargs):
        super().__init__("LSTM", *args, **kwargs)

    def forward(self, input, hx=None):
        return self._forward(input, hx, "LSTM", 2)


class GRU(RNNBase):
    """GRU (gates r, z, n), stacked num_layers deep, optionally bidirectional.

    input (L, N, input_size) ((N, L, input_size) if batch_first) or
    (L, input_size); hx (num_layers * D, N, hidden_size) or without N ->
    (output (L, N, D * hidden_size), h_n shaped as hx).  A PackedSequence
    input gives a PackedSequence output."""

    def __init__(self, *args, **kwargs):
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        super().__init__("GRU", *args, **kwargs)

    def forward(self, input, hx=None):
        return self._forward(input, hx, "GRU", 1)
