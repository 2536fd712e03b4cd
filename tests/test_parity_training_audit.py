"""Training-library behaviours found to differ from PyTorch's in an audit
(checkpoints of schedulers, torch.load's map_location function, the
optimizer's repr); the comparisons with PyTorch skip cleanly without it."""
import collections
import io

import pytest

import tinygrad_kr as tk
from tinygrad_kr.optim import lr_scheduler


def _round_trip(obj, **load_kwargs):
    buf = io.BytesIO()
    tk.save(obj, buf)
    buf.seek(0)
    return tk.load(buf, **load_kwargs)


def _sgd():
    return tk.optim.SGD([tk.ones(2, requires_grad=True)], lr=0.1)


def test_counter_keeps_its_type_through_save_load():
    back = _round_trip({"c": collections.Counter([2, 4, 4])})
    assert type(back["c"]) is collections.Counter and back["c"] == {2: 1, 4: 2}
    assert back["c"][7] == 0


@pytest.mark.parametrize("through_file", [True, False])
def test_multisteplr_checkpoint_keeps_working(through_file):
    # SequentialLR switches to a child with its closed form, which read the
    # milestones as a Counter: after save/load they came back a plain dict
    # and the switch raised AttributeError ('dict' object has no attribute 'elements').
    def build():
        opt = _sgd()
        return opt, lr_scheduler.SequentialLR(
            opt, [lr_scheduler.ExponentialLR(opt, 0.9),
                  lr_scheduler.MultiStepLR(opt, [2, 4])], milestones=[2])

    opt, sched = build()
    state = sched.state_dict()
    if through_file:
        state = _round_trip(state)
    else:  # a checkpoint written before Counter kept its type
        state["_schedulers"][1]["milestones"] = dict(state["_schedulers"][1]["milestones"])
    opt2, sched2 = build()
    sched2.load_state_dict(state)
    lrs, lrs2 = [], []
    for _ in range(6):
        opt.step()
        sched.step()
        opt2.step()
        sched2.step()
        lrs.append(sched.get_last_lr())
        lrs2.append(sched2.get_last_lr())
    assert lrs2 == lrs
    opt3 = _sgd()
    ms = lr_scheduler.MultiStepLR(opt3, [2, 4])
    ms.load_state_dict(_round_trip(ms.state_dict()))
    with pytest.warns(UserWarning):
        ms.step(3)   # the deprecated epoch argument uses the closed form
    assert ms.get_last_lr() == pytest.approx([0.01])


def test_map_location_function():
    # torch.load(path, map_location=lambda storage, loc: storage) is the
    # classic way to load a GPU checkpoint on the CPU
    ckpt = {"w": tk.nn.Parameter(tk.tensor([1.0, 2.0])), "b": tk.tensor([3.0])}
    seen = []
    back = _round_trip(ckpt, map_location=lambda storage, loc: seen.append(loc) or storage)
    assert seen == ["cpu", "cpu"]
    assert back["w"].tolist() == [1.0, 2.0] and type(back["w"]).__name__ == "Parameter"
    assert back["b"].device == tk.device("cpu")
    # None keeps the default (the saved device)
    assert _round_trip(ckpt, map_location=lambda storage, loc: None)["b"].tolist() == [3.0]
    with pytest.raises(TypeError, match="must return a Tensor or None"):
        _round_trip(ckpt, map_location=lambda storage, loc: "cpu")


def test_optimizer_repr_matches_torch():
    torch = pytest.importorskip("torch")
    reprs = []
    for lib in (tk, torch):
        a, b = lib.ones(2, requires_grad=True), lib.ones(2, requires_grad=True)
        opt = lib.optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1, momentum=0.9)
        reprs.append(repr(opt))
    assert reprs[0] == reprs[1]
