"""nn.utils.rnn (pad_sequence, pack_padded_sequence, pad_packed_sequence,
pack_sequence, unpad_sequence, unpack_sequence, PackedSequence) and the
recurrent layers on packed input, against PyTorch: the packed data, batch
sizes and permutations; outputs, final states (each sequence's at its own
length) and the gradients of the input, hx and every parameter, with
PyTorch's weights copied over, for RNN/LSTM/GRU, one or two layers, one or
two directions, sorted or not; the errors.  Float64 gradchecks and checks
that need no PyTorch (a packed batch gives each sequence what it gets when
run alone)."""
import re

import numpy as np
import pytest

import tinygrad_kr as tkr
import tinygrad_kr.nn as nn
from tinygrad_kr.autograd import gradcheck
from tinygrad_kr.nn.utils import rnn as R

rng = np.random.default_rng(0)


def _torch():
    return pytest.importorskip("torch")


def _np(t):
    return np.asarray(t.detach().numpy() if hasattr(t, "detach") else t)


def _close(a, b, tol=1e-12, what=""):
    np.testing.assert_allclose(_np(a), _np(b), rtol=tol, atol=tol, err_msg=what)


def _leaves(lib, arrays):
    return [lib.tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]


def _backward_same(outs_o, outs_t, seed=1):
    """Backpropagate the same random cotangents through both libraries' outputs."""
    torch = _torch()
    g = np.random.default_rng(seed)
    cot = [g.standard_normal(tuple(t.shape)) for t in outs_t]
    sum((o * tkr.tensor(c.astype(_np(o).dtype))).sum() for o, c in zip(outs_o, cot)).backward()
    sum((t * torch.tensor(c.astype(_np(t).dtype))).sum() for t, c in zip(outs_t, cot)).backward()


# --------------------------------------------------------------------------
# pad_sequence
# --------------------------------------------------------------------------


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("padding_side", ["right", "left"])
@pytest.mark.parametrize("trailing", [(), (3,), (2, 2)])
def test_pad_sequence_matches_torch_with_gradients(batch_first, padding_side, trailing):
    torch = _torch()
    arrays = [rng.standard_normal((n, *trailing)) for n in (3, 5, 1, 4)]
    ours, theirs = _leaves(tkr, arrays), _leaves(torch, arrays)
    y = R.pad_sequence(ours, batch_first, -2.5, padding_side)
    ty = torch.nn.utils.rnn.pad_sequence(theirs, batch_first, -2.5, padding_side)
    assert tuple(y.shape) == tuple(ty.shape)
    _close(y, ty, 0)
    _backward_same([y], [ty])
    for a, b in zip(ours, theirs):
        _close(a.grad, b.grad, 0)


def test_pad_sequence_dtype_broadcast_and_tensor_input():
    torch = _torch()
    seqs = [np.arange(2, dtype=np.int64), np.ones(3)]
    y = R.pad_sequence([tkr.tensor(s) for s in seqs], padding_value=2.5)
    ty = torch.nn.utils.rnn.pad_sequence([torch.tensor(s) for s in seqs], padding_value=2.5)
    assert y.dtype == tkr.int64 and ty.dtype == torch.int64
    _close(y, ty, 0)
    # trailing sizes of 1 broadcast, as PyTorch's copy does
    seqs = [np.ones((2, 3)), rng.standard_normal((3, 1))]
    _close(R.pad_sequence([tkr.tensor(s) for s in seqs]),
           torch.nn.utils.rnn.pad_sequence([torch.tensor(s) for s in seqs]), 0)
    # a tensor is a sequence of its rows
    x = rng.standard_normal((2, 3))
    _close(R.pad_sequence(tkr.tensor(x)), torch.nn.utils.rnn.pad_sequence(torch.tensor(x)), 0)


def test_pad_sequence_errors():
    with pytest.raises(RuntimeError, match="received an empty list of sequences"):
        R.pad_sequence([])
    with pytest.raises(RuntimeError, match="Expected padding_side to be one of left or right, "
                                           "but got middle."):
        R.pad_sequence([tkr.ones(2)], padding_side="middle")
    with pytest.raises(RuntimeError, match="Expected iterable for input sequences, but got arg "
                                           "of type: <class 'int'>"):
        R.pad_sequence(5)
    with pytest.raises(RuntimeError, match=r"The size of tensor a \(3\) must match the size of "
                                           r"tensor b \(2\) at non-singleton dimension 1"):
        R.pad_sequence([tkr.ones(2, 3), tkr.ones(3, 2)])


# --------------------------------------------------------------------------
# pack_padded_sequence / pad_packed_sequence
# --------------------------------------------------------------------------


def _same_packed(p, tp, tol=0.0):
    _close(p.data, tp.data, tol, "data")
    np.testing.assert_array_equal(_np(p.batch_sizes), _np(tp.batch_sizes))
    assert p.batch_sizes.dtype == tkr.int64 and not p.batch_sizes.is_cuda
    for name in ("sorted_indices", "unsorted_indices"):
        a, b = getattr(p, name), getattr(tp, name)
        assert (a is None) == (b is None), name
        if a is not None:
            np.testing.assert_array_equal(_np(a), _np(b))
            assert a.dtype == tkr.int64


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("lengths,enforce_sorted", [([5, 4, 2, 1], True), ([5, 5, 3, 3], True),
                                                    ([2, 5, 1, 4], False), ([3, 1, 3, 2], False)])
@pytest.mark.parametrize("as_tensor", [False, True])
def test_pack_then_pad_match_torch_with_gradients(batch_first, lengths, enforce_sorted,
                                                  as_tensor):
    torch = _torch()
    shape = (4, 6, 3) if batch_first else (6, 4, 3)
    x = rng.standard_normal(shape)
    ox, tx = tkr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    lens_o = tkr.tensor(lengths) if as_tensor else lengths
    lens_t = torch.tensor(lengths) if as_tensor else lengths
    p = R.pack_padded_sequence(ox, lens_o, batch_first, enforce_sorted)
    tp = torch.nn.utils.rnn.pack_padded_sequence(tx, lens_t, batch_first, enforce_sorted)
    assert type(p).__name__ == "PackedSequence"
    _same_packed(p, tp)
    for total_length in (None, 7):
        y, ylen = R.pad_packed_sequence(p, batch_first, 0.5, total_length)
        ty, tylen = torch.nn.utils.rnn.pad_packed_sequence(tp, batch_first, 0.5, total_length)
        _close(y, ty, 0)
        np.testing.assert_array_equal(_np(ylen), _np(tylen))
        assert ylen.dtype == tkr.int64 and not ylen.is_cuda
    _backward_same([y, p.data * 3], [ty, tp.data * 3])
    _close(ox.grad, tx.grad, 0)


def test_pack_sequence_unpack_sequence_unpad_sequence_match_torch():
    torch = _torch()
    arrays = [rng.standard_normal((n, 2)) for n in (2, 4, 1, 3)]
    ours, theirs = _leaves(tkr, arrays), _leaves(torch, arrays)
    p = R.pack_sequence(ours, enforce_sorted=False)
    tp = torch.nn.utils.rnn.pack_sequence(theirs, enforce_sorted=False)
    _same_packed(p, tp)
    back, tback = R.unpack_sequence(p), torch.nn.utils.rnn.unpack_sequence(tp)
    for a, b, src in zip(back, tback, arrays):
        _close(a, b, 0)
        _close(a, src, 0)
    _backward_same(back, tback)
    for a, b in zip(ours, theirs):
        _close(a.grad, b.grad, 0)
    padded = rng.standard_normal((5, 3, 2))
    lengths = [5, 2, 3]
    x = tkr.tensor(padded)
    got = R.unpad_sequence(x, tkr.tensor(lengths))
    want = torch.nn.utils.rnn.unpad_sequence(torch.tensor(padded), torch.tensor(lengths))
    for a, b in zip(got, want):
        _close(a, b, 0)
    assert tuple(x.shape) == (5, 3, 2)   # PyTorch transposes its argument in place; not here


def test_sorted_pack_sequence_and_the_packed_order():
    p = R.pack_sequence([tkr.tensor([1, 2, 3]), tkr.tensor([4, 5]), tkr.tensor([6])])
    assert p.data.tolist() == [1, 4, 6, 2, 5, 3]
    assert p.batch_sizes.tolist() == [3, 2, 1]
    assert p.sorted_indices is None and p.unsorted_indices is None


def test_pack_padded_sequence_errors_match_torch():
    torch = _torch()
    x = rng.standard_normal((4, 3, 2))
    cases = [([2, 3, 1], {}), ([3, 2, 0], {}), ([3, 2], {}), ([3, 2, 1, 1], {}),
             ([3, -2, 1], {"enforce_sorted": False}), ([[3, 2, 1]], {})]
    for lengths, kw in cases:
        with pytest.raises(RuntimeError) as theirs:
            torch.nn.utils.rnn.pack_padded_sequence(torch.tensor(x), lengths, **kw)
        with pytest.raises(RuntimeError) as ours:
            R.pack_padded_sequence(tkr.tensor(x), lengths, **kw)
        assert str(ours.value) == str(theirs.value)
    with pytest.raises(RuntimeError, match="Cannot pack empty tensors."):
        R.pack_padded_sequence(tkr.zeros(0, 3, 2), [3, 2, 1])
    # PyTorch reads past the end of the input here; this engine refuses
    with pytest.raises(RuntimeError, match="exceeds the padded input's 4 time steps"):
        R.pack_padded_sequence(tkr.tensor(x), [5, 2, 1])
    p = R.pack_sequence([tkr.ones(3), tkr.ones(2)])
    with pytest.raises(ValueError, match="Expected total_length to be at least the length of "
                                         "the longest sequence in input, but got "
                                         "total_length=2 and max sequence length being 3"):
        R.pad_packed_sequence(p, total_length=2)


def test_packed_sequence_construction_and_conversion():
    data, sizes = tkr.ones(3), tkr.tensor([2, 1])
    for p in (R.PackedSequence(data, sizes), R.PackedSequence((data, sizes))):
        assert p.data is data and p.batch_sizes is sizes and p.sorted_indices is None
    with pytest.raises(AssertionError, match="Expected data to be a list or tuple of length 2"):
        R.PackedSequence((data,))
    p = R.PackedSequence(data, sizes, tkr.tensor([1, 0]))
    assert p.unsorted_indices.tolist() == [1, 0]
    assert repr(p).startswith("PackedSequence(data=tensor(")
    assert p.to(tkr.float32) is p
    q = p.double()
    assert q.data.dtype == tkr.float64 and q.batch_sizes is sizes
    assert q.sorted_indices.tolist() == [1, 0] and not q.is_cuda
    perm = tkr.tensor([2, 0, 3, 1])
    assert R.invert_permutation(perm).tolist() == [1, 3, 0, 2]
    assert R.invert_permutation(None) is None


def test_pack_and_pad_gradcheck():
    x = tkr.tensor(rng.standard_normal((5, 3, 2)), requires_grad=True)

    def round_trip(t):
        p = R.pack_padded_sequence(t, [2, 5, 3], enforce_sorted=False)
        return R.pad_packed_sequence(p, batch_first=True, padding_value=1.0)[0] * p.data.sum()

    assert gradcheck(round_trip, (x,))
    seqs = [tkr.tensor(rng.standard_normal((n, 2)), requires_grad=True) for n in (3, 1, 2)]
    assert gradcheck(lambda *s: R.pad_sequence(s, True, 0.0, "left"), seqs)


# --------------------------------------------------------------------------
# recurrent layers on packed input
# --------------------------------------------------------------------------

H_IN, H = 3, 4
LENGTHS = [3, 6, 1, 4, 6]       # unsorted, with a tie
SORTED = [6, 6, 4, 3, 1]


def _rnn_pair(cls, dtype, **kw):
    torch = _torch()
    theirs = getattr(torch.nn, cls)(H_IN, H, **kw).to(getattr(torch, dtype))
    ours = getattr(nn, cls)(H_IN, H, **kw).to(getattr(tkr, dtype))
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def _states(out):
    """(output, h) / (output, (h, c)) -> [output.data, h(, c)]."""
    out, hidden = out
    return [out.data] + (list(hidden) if isinstance(hidden, tuple) else [hidden])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("enforce_sorted", [True, False])
@pytest.mark.parametrize("with_hx", [False, True])
def test_lstm_on_packed_sequences_matches_torch(dtype, bidirectional, num_layers,
                                                enforce_sorted, with_hx):
    """The case the task names: an LSTM with PyTorch's weights on packed
    variable-length sequences; outputs, final (h, c) and every gradient."""
    _compare_packed("LSTM", dtype, bidirectional, num_layers, enforce_sorted, with_hx)


@pytest.mark.parametrize("cls,kw", [("RNN", {}), ("RNN", {"nonlinearity": "relu"}),
                                    ("GRU", {}), ("LSTM", {"bias": False})])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("enforce_sorted", [True, False])
def test_rnn_and_gru_on_packed_sequences_match_torch(cls, kw, bidirectional, enforce_sorted):
    _compare_packed(cls, "float64", bidirectional, 2, enforce_sorted, True, **kw)


def _compare_packed(cls, dtype, bidirectional, num_layers, enforce_sorted, with_hx, **kw):
    torch = _torch()
    ours, theirs = _rnn_pair(cls, dtype, num_layers=num_layers, bidirectional=bidirectional,
                             batch_first=True, **kw)
    lengths = LENGTHS if not enforce_sorted else SORTED
    g = np.random.default_rng(len(lengths) + num_layers)
    x = g.standard_normal((len(lengths), max(lengths), H_IN)).astype(dtype)
    d = 2 if bidirectional else 1
    hx = [g.standard_normal((num_layers * d, len(lengths), H)).astype(dtype)
          for _ in range(2 if cls == "LSTM" else 1)]

    def run(lib, module, nn_utils):
        xs = lib.tensor(x, requires_grad=True)
        hs = [lib.tensor(h, requires_grad=True) for h in hx]
        packed = nn_utils.pack_padded_sequence(xs, lengths, batch_first=True,
                                               enforce_sorted=enforce_sorted)
        h0 = None if not with_hx else (tuple(hs) if cls == "LSTM" else hs[0])
        out = module(packed, h0)
        assert type(out[0]).__name__ == "PackedSequence"
        padded, _ = nn_utils.pad_packed_sequence(out[0], batch_first=True)
        return [padded] + _states(out)[1:], xs, hs, out[0]

    outs_o, x_o, h_o, p_o = run(tkr, ours, R)
    outs_t, x_t, h_t, p_t = run(torch, theirs, torch.nn.utils.rnn)
    tol = 1e-12 if dtype == "float64" else 2e-5
    _same_packed(p_o, p_t, tol)
    for k, (a, b) in enumerate(zip(outs_o, outs_t)):
        assert tuple(a.shape) == tuple(b.shape)
        _close(a, b, tol, f"output {k}")
    _backward_same(outs_o, outs_t)
    _close(x_o.grad, x_t.grad, tol, "input gradient")
    if with_hx:
        for a, b in zip(h_o, h_t):
            _close(a.grad, b.grad, tol, "hx gradient")
    named = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        _close(p.grad, named[name].grad, tol * 10, f"gradient of {name}")


def test_packed_batch_gives_each_sequence_what_it_gets_alone():
    """Without PyTorch: the final states of a packed, unsorted batch are each
    sequence's states after its own last step (both directions), and its
    outputs are the sequence's own outputs."""
    tkr.manual_seed(0)
    lstm = nn.LSTM(H_IN, H, num_layers=2, bidirectional=True).double()
    seqs = [tkr.tensor(rng.standard_normal((n, H_IN))) for n in LENGTHS]
    out, (h, c) = lstm(R.pack_sequence(seqs, enforce_sorted=False))
    outputs = R.unpack_sequence(out)
    for b, s in enumerate(seqs):
        alone_out, (alone_h, alone_c) = lstm(s)      # unbatched
        _close(outputs[b], alone_out, 1e-12)
        _close(h[:, b], alone_h, 1e-12)
        _close(c[:, b], alone_c, 1e-12)


def test_packed_gru_gradcheck():
    tkr.manual_seed(0)
    gru = nn.GRU(2, 3, bidirectional=True).double()
    x = tkr.tensor(rng.standard_normal((4, 3, 2)), requires_grad=True)
    h0 = tkr.tensor(rng.standard_normal((2, 3, 3)), requires_grad=True)

    def f(x, h0):
        out, h = gru(R.pack_padded_sequence(x, [2, 4, 1], enforce_sorted=False), h0)
        return out.data.sum() + (h * h).sum()

    assert gradcheck(f, (x, h0))


def test_packed_lstm_gradcheck():
    tkr.manual_seed(1)
    lstm = nn.LSTM(2, 2, num_layers=2).double()
    x = tkr.tensor(rng.standard_normal((3, 3, 2)), requires_grad=True)
    h0 = tkr.tensor(rng.standard_normal((2, 3, 2)), requires_grad=True)
    c0 = tkr.tensor(rng.standard_normal((2, 3, 2)), requires_grad=True)

    def f(x, h0, c0):
        out, (h, c) = lstm(R.pack_padded_sequence(x, [3, 2, 2]), (h0, c0))
        return out.data.sum() + h.sum() + (c * c).sum()

    assert gradcheck(f, (x, h0, c0))


def test_packed_input_errors():
    """GRU and RNN check a packed input as PyTorch does, with its messages;
    PyTorch's LSTM skips those checks on packed input (and fails later in a
    matmul or a broadcast), where this one gives the same messages as GRU."""
    torch = _torch()
    wide = rng.standard_normal((4, 2, H_IN + 1))
    x = rng.standard_normal((4, 2, H_IN))
    bad = np.zeros((1, 3, H))
    ours, theirs = _rnn_pair("GRU", "float64")
    for args in ((wide,), (x, bad)):
        with pytest.raises(RuntimeError) as t_err:
            theirs(torch.nn.utils.rnn.pack_padded_sequence(torch.tensor(args[0]), [4, 2]),
                   *(torch.tensor(a) for a in args[1:]))
        with pytest.raises(RuntimeError) as o_err:
            ours(R.pack_padded_sequence(tkr.tensor(args[0]), [4, 2]),
                 *(tkr.tensor(a) for a in args[1:]))
        assert str(o_err.value) == str(t_err.value)
    lstm = nn.LSTM(H_IN, H).double()
    with pytest.raises(RuntimeError, match="input.size\\(-1\\) must be equal to input_size. "
                                           "Expected 3, got 4"):
        lstm(R.pack_padded_sequence(tkr.tensor(wide), [4, 2]))
    with pytest.raises(RuntimeError, match=re.escape("Expected hidden[1] size (1, 2, 4), got "
                                                     "[1, 3, 4]")):
        lstm(R.pack_padded_sequence(tkr.tensor(x), [4, 2]), (tkr.zeros(1, 2, H).double(),
                                                             tkr.tensor(bad)))
    with pytest.raises(ValueError, match="does not match weight dtype"):
        lstm(R.pack_padded_sequence(tkr.tensor(x.astype(np.float32)), [4, 2]))


def test_packed_rnn_with_dropout_trains():
    """Dropout between layers runs on the packed data; a packed LSTM
    classifier of sequence parity learns."""
    tkr.manual_seed(0)
    lstm = nn.LSTM(1, 8, num_layers=2, dropout=0.1)
    head = nn.Linear(8, 2)
    opt = tkr.optim.Adam(list(lstm.parameters()) + list(head.parameters()), lr=0.03)
    g = np.random.default_rng(0)
    lengths = g.integers(1, 6, size=32)
    bits = [g.integers(0, 2, size=n).astype(np.float32) for n in lengths]
    labels = tkr.tensor(np.array([b.sum() % 2 for b in bits], dtype=np.int64))
    seqs = [tkr.tensor(b[:, None]) for b in bits]
    losses = []
    for _ in range(150):
        _, (h, _) = lstm(R.pack_sequence(seqs, enforce_sorted=False))
        loss = nn.functional.cross_entropy(head(h[-1]), labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
