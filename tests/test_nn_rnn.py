"""Recurrent layers (nn/modules/rnn.py) against PyTorch: with PyTorch's
weights copied over by name, outputs, final states and the gradients of the
input, the initial states and every parameter agree, for every class and
option combination, in float64 (tight) and float32; parameter names,
shapes, init and repr; the errors; a float64 gradcheck; a task that trains."""
import itertools
import warnings

import numpy as np
import pytest

import tinygrad_kr as tkr
import tinygrad_kr.nn as nn
from tinygrad_kr.autograd.gradcheck import gradcheck

torch = pytest.importorskip("torch")

L, N, H_IN, H = 4, 3, 5, 6
TOL = {"float64": 1e-10, "float32": 2e-5}


def _copy_weights(ours, theirs):
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})


def _close(a, b, what, dtype):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=TOL[dtype], atol=TOL[dtype],
                               err_msg=what)


def _pair(lib_nn, cls, dtype, **kw):
    """The same layer in both libraries, with PyTorch's weights in ours."""
    theirs = getattr(torch.nn, cls)(**kw).to(getattr(torch, dtype))
    ours = getattr(lib_nn, cls)(**kw).to(getattr(tkr, dtype))
    _copy_weights(ours, theirs)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    return ours, theirs


def _leaf(lib, a):
    return lib.tensor(a, requires_grad=True)


def _flat(out):
    """(output, h_n) / (output, (h_n, c_n)) / h / (h, c) -> list of tensors."""
    if isinstance(out, tuple):
        return [t for o in out for t in _flat(o)]
    return [out]


def _compare(ours, theirs, inputs, dtype, seed=0):
    """Run both on the same arrays (inputs: list of arrays, or of tuples of
    arrays for LSTM's hx; None for a missing hx), backpropagate the same random
    cotangents, compare outputs, input gradients and parameter gradients."""
    rng = np.random.default_rng(seed)

    def build(lib):
        args = []
        for a in inputs:
            if isinstance(a, tuple):
                args.append(tuple(_leaf(lib, x) for x in a))
            else:
                args.append(None if a is None else _leaf(lib, a))
        return args

    args_o, args_t = build(tkr), build(torch)
    outs_o, outs_t = _flat(ours(*args_o)), _flat(theirs(*args_t))
    assert len(outs_o) == len(outs_t)
    for k, (o, t) in enumerate(zip(outs_o, outs_t)):
        assert tuple(o.shape) == tuple(t.shape), f"shape of output {k}"
        _close(o.detach().numpy(), t.detach().numpy(), f"output {k}", dtype)
    gs = [rng.standard_normal(tuple(t.shape)).astype(dtype) for t in outs_t]
    sum((o * tkr.tensor(g)).sum() for o, g in zip(outs_o, gs)).backward()
    sum((t * torch.tensor(g)).sum() for t, g in zip(outs_t, gs)).backward()
    for k, (a, b) in enumerate(zip(_flat(tuple(x for x in args_o if x is not None)),
                                   _flat(tuple(x for x in args_t if x is not None)))):
        _close(a.grad.numpy(), b.grad.numpy(), f"grad of argument {k}", dtype)
    named = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        _close(p.grad.numpy(), named[name].grad.numpy(), f"grad of {name}", dtype)


# --------------------------------------------------------------------------
# sequence layers
# --------------------------------------------------------------------------

LAYERS = [("RNN", {"nonlinearity": "tanh"}), ("RNN", {"nonlinearity": "relu"}), ("LSTM", {}),
          ("GRU", {})]


def _seq_inputs(cls, kw, batched, with_hx, dtype, rng):
    D = 2 if kw["bidirectional"] else 1
    if batched:
        x = rng.standard_normal((N, L, H_IN) if kw["batch_first"] else (L, N, H_IN))
        hshape = (kw["num_layers"] * D, N, H)
    else:
        x = rng.standard_normal((L, H_IN))
        hshape = (kw["num_layers"] * D, H)
    hx = None
    if with_hx:
        hx = rng.standard_normal(hshape).astype(dtype)
        if cls == "LSTM":
            hx = (hx, rng.standard_normal(hshape).astype(dtype))
    return [x.astype(dtype), hx]


@pytest.mark.parametrize("cls,extra", LAYERS, ids=lambda v: v if isinstance(v, str) else
                         v.get("nonlinearity", ""))
@pytest.mark.parametrize("num_layers,bias,batch_first,bidirectional",
                         list(itertools.product([1, 2], [True, False], [False, True],
                                                [False, True])))
def test_sequence_layer_matches_torch_float64(cls, extra, num_layers, bias, batch_first,
                                              bidirectional):
    rng = np.random.default_rng(1)
    kw = dict(input_size=H_IN, hidden_size=H, num_layers=num_layers, bias=bias,
              batch_first=batch_first, bidirectional=bidirectional, **extra)
    for batched, with_hx in itertools.product([True, False], [False, True]):
        ours, theirs = _pair(nn, cls, "float64", **kw)
        _compare(ours, theirs, _seq_inputs(cls, kw, batched, with_hx, "float64", rng),
                 "float64")


@pytest.mark.parametrize("cls,extra", LAYERS, ids=lambda v: v if isinstance(v, str) else
                         v.get("nonlinearity", ""))
@pytest.mark.parametrize("batch_first,bidirectional", [(False, False), (True, True)])
def test_sequence_layer_matches_torch_float32(cls, extra, batch_first, bidirectional):
    rng = np.random.default_rng(2)
    kw = dict(input_size=H_IN, hidden_size=H, num_layers=2, batch_first=batch_first,
              bidirectional=bidirectional, **extra)
    for batched, with_hx in [(True, True), (False, False)]:
        ours, theirs = _pair(nn, cls, "float32", **kw)
        _compare(ours, theirs, _seq_inputs(cls, kw, batched, with_hx, "float32", rng),
                 "float32")


@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU"])
def test_long_sequence_matches_torch(cls):
    """37 steps: the steps are unbound in blocks of 6 (the last one short)."""
    x = np.random.default_rng(8).standard_normal((2, 37, H_IN))
    ours, theirs = _pair(nn, cls, "float64", input_size=H_IN, hidden_size=H,
                         batch_first=True, bidirectional=True)
    _compare(ours, theirs, [x, None], "float64")


@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU"])
def test_dropout_between_layers(cls):
    kw = dict(input_size=H_IN, hidden_size=H, num_layers=3, dropout=0.5)
    x = np.random.default_rng(3).standard_normal((L, N, H_IN))
    # eval mode: no dropout, same as PyTorch
    ours, theirs = _pair(nn, cls, "float64", **kw)
    ours.eval(), theirs.eval()
    _compare(ours, theirs, [x, None], "float64")
    # training mode: the masks are random, so the output changes, is still finite,
    # and the gradients reach every parameter
    ours.train()
    tkr.manual_seed(0)
    out_train = _flat(ours(tkr.tensor(x)))[0]
    out_eval = _flat(ours.eval()(tkr.tensor(x)))[0]
    assert np.isfinite(out_train.detach().numpy()).all()
    assert not np.allclose(out_train.detach().numpy(), out_eval.detach().numpy())
    ours.zero_grad()
    out_train.sum().backward()
    assert all(p.grad is not None for p in ours.parameters())
    # dropout=0 in training mode changes nothing
    ours, theirs = _pair(nn, cls, "float64", input_size=H_IN, hidden_size=H, num_layers=2)
    _compare(ours.train(), theirs.train(), [x, None], "float64")


def test_parameter_shapes_names_and_init():
    for cls in ["RNN", "LSTM", "GRU"]:
        kw = dict(input_size=3, hidden_size=16, num_layers=2, bidirectional=True)
        ours, theirs = getattr(nn, cls)(**kw), getattr(torch.nn, cls)(**kw)
        shapes = {k: tuple(v.shape) for k, v in ours.state_dict().items()}
        assert shapes == {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
        for name, p in ours.named_parameters():
            a = p.detach().numpy()
            assert np.abs(a).max() <= 0.25 and np.abs(a).max() > 0.15, name   # U(-1/4, 1/4)
        assert [list(map(id, w)) for w in ours.all_weights] == \
            [[id(getattr(ours, n)) for n in names] for names in ours._all_weights]
        assert ours.flatten_parameters() is None
    for cls in ["RNNCell", "LSTMCell", "GRUCell"]:
        ours, theirs = getattr(nn, cls)(3, 16), getattr(torch.nn, cls)(3, 16)
        assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == \
            {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
        assert all(np.abs(p.detach().numpy()).max() <= 0.25 for p in ours.parameters())


@pytest.mark.parametrize("make", [
    lambda m: m.RNN(3, 4), lambda m: m.RNN(3, 4, 2, "relu", False, True, 0.5, True),
    lambda m: m.RNN(3, 4, nonlinearity="relu"), lambda m: m.LSTM(3, 4, num_layers=3),
    lambda m: m.LSTM(3, 4, bias=False, batch_first=True), lambda m: m.GRU(3, 4, dropout=0.25,
                                                                          num_layers=2),
    lambda m: m.GRU(3, 4, bidirectional=True), lambda m: m.RNNCell(3, 4),
    lambda m: m.RNNCell(3, 4, bias=False, nonlinearity="relu"), lambda m: m.LSTMCell(3, 4),
    lambda m: m.GRUCell(3, 4, bias=False)])
def test_repr_matches_torch(make):
    assert repr(make(nn)) == repr(make(torch.nn))


# --------------------------------------------------------------------------
# cells
# --------------------------------------------------------------------------

CELLS = [("RNNCell", {"nonlinearity": "tanh"}), ("RNNCell", {"nonlinearity": "relu"}),
         ("LSTMCell", {}), ("GRUCell", {})]


@pytest.mark.parametrize("cls,extra", CELLS, ids=lambda v: v if isinstance(v, str) else
                         v.get("nonlinearity", ""))
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("bias", [True, False])
def test_cell_matches_torch(cls, extra, dtype, bias):
    rng = np.random.default_rng(4)
    for batched, with_hx in itertools.product([True, False], [False, True]):
        ours, theirs = _pair(nn, cls, dtype, input_size=H_IN, hidden_size=H, bias=bias,
                             **extra)
        x = rng.standard_normal((N, H_IN) if batched else (H_IN,)).astype(dtype)
        hx = None
        if with_hx:
            hx = rng.standard_normal((N, H) if batched else (H,)).astype(dtype)
            if cls == "LSTMCell":
                hx = (hx, rng.standard_normal(hx.shape).astype(dtype))
        _compare(ours, theirs, [x, hx], dtype)


def test_cell_loop_equals_sequence_layer():
    """An LSTMCell run over the steps gives nn.LSTM's output (shared weights)."""
    rng = np.random.default_rng(5)
    lstm, cell = nn.LSTM(H_IN, H).double(), nn.LSTMCell(H_IN, H).double()
    cell.load_state_dict({k[:-3]: v for k, v in lstm.state_dict().items()})
    x = tkr.tensor(rng.standard_normal((L, N, H_IN)))
    out, (h_n, c_n) = lstm(x)
    h = c = None
    for t in range(L):
        h, c = cell(x[t], None if h is None else (h, c))
        np.testing.assert_allclose(h.detach().numpy(), out[t].detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(c.detach().numpy(), c_n[0].detach().numpy(), atol=1e-12)


# --------------------------------------------------------------------------
# errors: same exception type and message as PyTorch
# --------------------------------------------------------------------------


def _same_error(call):
    """call(lib) raises the same exception type with the same message in both."""
    with pytest.raises(Exception) as theirs:
        call(torch)
    with pytest.raises(type(theirs.value)) as ours:
        call(tkr)
    msg = str(theirs.value).replace("torch.", "")
    assert str(ours.value) == msg


def _z(lib, *shape, dtype="float32"):
    return lib.zeros(*shape, dtype=getattr(lib, dtype))


@pytest.mark.parametrize("call", [
    lambda lib: lib.nn.RNN(3, 4)(_z(lib, 5, 2, 3, 1)),
    lambda lib: lib.nn.LSTM(3, 4)(_z(lib, 5)),
    lambda lib: lib.nn.GRU(3, 4)(_z(lib, 5, 2, 7)),
    lambda lib: lib.nn.LSTM(3, 4, 2)(_z(lib, 5, 2, 3), (_z(lib, 2, 2, 4), _z(lib, 2, 2, 5))),
    lambda lib: lib.nn.LSTM(3, 4, 2)(_z(lib, 5, 2, 3), (_z(lib, 1, 2, 4), _z(lib, 2, 2, 4))),
    lambda lib: lib.nn.LSTM(3, 4)(_z(lib, 5, 2, 3), (_z(lib, 2, 4), _z(lib, 2, 4))),
    lambda lib: lib.nn.LSTM(3, 4)(_z(lib, 5, 3), (_z(lib, 1, 2, 4), _z(lib, 1, 2, 4))),
    lambda lib: lib.nn.GRU(3, 4, bidirectional=True)(_z(lib, 5, 2, 3), _z(lib, 1, 2, 4)),
    lambda lib: lib.nn.RNN(3, 4, batch_first=True)(_z(lib, 2, 5, 3), _z(lib, 1, 5, 4)),
    lambda lib: lib.nn.RNN(3, 4)(_z(lib, 5, 2, 3), _z(lib, 2, 4)),
    lambda lib: lib.nn.GRU(3, 4)(_z(lib, 5, 3), _z(lib, 1, 2, 4)),
    lambda lib: lib.nn.GRU(3, 4)(_z(lib, 5, 2, 3, dtype="float64")),
    lambda lib: lib.nn.RNN(3, 4, nonlinearity="sigmoid"),
    lambda lib: lib.nn.GRU(3, 4, proj_size=2),
    lambda lib: lib.nn.LSTM(3, 4, proj_size=4),
    lambda lib: lib.nn.LSTM(3, 4, dropout=1.5),
    lambda lib: lib.nn.LSTM(3, 4, bias=1),
    lambda lib: lib.nn.LSTM(3, 0),
    lambda lib: lib.nn.LSTM(3, 4, num_layers=0),
    lambda lib: lib.nn.RNNCell(3, 4)(_z(lib, 2, 5)),
    lambda lib: lib.nn.RNNCell(3, 4)(_z(lib, 2, 3, 1)),
    lambda lib: lib.nn.GRUCell(3, 4)(_z(lib, 2, 3), _z(lib, 2, 5)),
    lambda lib: lib.nn.GRUCell(3, 4)(_z(lib, 2, 3), _z(lib, 3, 4)),
    lambda lib: lib.nn.GRUCell(3, 4)(_z(lib, 2, 3), _z(lib, 1, 3, 4)),
    lambda lib: lib.nn.LSTMCell(3, 4)(_z(lib, 2, 3), (_z(lib, 2, 4), _z(lib, 2, 5))),
    lambda lib: lib.nn.LSTMCell(3, 4)(_z(lib, 2, 3), (_z(lib, 2, 4), _z(lib, 1, 2, 4))),
])
def test_errors_match_torch(call):
    _same_error(call)


def test_errors_of_our_own():
    with pytest.raises(NotImplementedError, match="proj_size"):
        nn.LSTM(3, 4, proj_size=2)
    with pytest.raises(RuntimeError, match="1-D input needs 1-D hidden"):
        nn.RNNCell(3, 4)(tkr.zeros(3), tkr.zeros(2, 4))
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        nn.GRU(3, 4, dropout=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nn.GRU(3, 4, num_layers=2, dropout=0.5)


# --------------------------------------------------------------------------
# gradcheck and training
# --------------------------------------------------------------------------


@pytest.mark.parametrize("cls", ["LSTM", "GRU"])
def test_gradcheck_float64(cls):
    tkr.manual_seed(0)
    m = getattr(nn, cls)(2, 2, num_layers=2, bidirectional=True, batch_first=True).double()
    rng = np.random.default_rng(6)
    x = tkr.tensor(rng.standard_normal((2, 3, 2)), requires_grad=True)
    h0 = tkr.tensor(rng.standard_normal((4, 2, 2)), requires_grad=True)
    states = (h0, tkr.tensor(rng.standard_normal((4, 2, 2)), requires_grad=True)) \
        if cls == "LSTM" else (h0,)

    def fn(x, *rest):
        hx = rest[:len(states)]
        return tuple(_flat(m(x, hx if cls == "LSTM" else hx[0])))

    assert gradcheck(fn, (x, *states, *m.parameters()))


@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU"])
def test_sequence_task_trains(cls):
    """Regress the running sum's sign of a +-1 sequence at every step; the
    loss must fall well below its start."""
    tkr.manual_seed(0)
    rng = np.random.default_rng(7)

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = getattr(nn, cls)(1, 16, batch_first=True)
            self.head = nn.Linear(16, 1)

        def forward(self, x):
            return self.head(self.rnn(x)[0])

    model = Model()
    opt = tkr.optim.Adam(model.parameters(), lr=0.02)
    losses = []
    for _ in range(60):
        x = rng.choice([-1.0, 1.0], size=(16, 8, 1)).astype(np.float32)
        y = np.cumsum(x, axis=1) / 4
        loss = nn.functional.mse_loss(model(tkr.tensor(x)), tkr.tensor(y))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.mean(losses[-5:]) < 0.2 * np.mean(losses[:5]), losses
