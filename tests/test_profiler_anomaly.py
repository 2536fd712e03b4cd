"""The profiler (tinygrad_kr.profiler, autograd.profiler) and anomaly mode
(autograd.detect_anomaly): both watch the graph core through
autograd/observe.py, on whichever core runs (compiled or the Python one)."""
import json
import os
import warnings

import numpy as np
import pytest

import tinygrad_kr as tk
from tinygrad_kr import kernels, nn
from tinygrad_kr.autograd import function, observe
from tinygrad_kr.profiler import (ProfilerAction, ProfilerActivity, profile, record_function,
                                  schedule, tensorboard_trace_handler)


def _lenet_step(model, x, y, opt):
    with record_function("forward"):
        loss = nn.functional.cross_entropy(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss


def _small_cnn():
    tk.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(4 * 5 * 5, 10))


def _batch(n=8):
    rng = np.random.default_rng(0)
    return (tk.tensor(rng.standard_normal((n, 1, 12, 12), dtype=np.float32)),
            tk.tensor(rng.integers(0, 10, n)))


@pytest.fixture(autouse=True)
def _nothing_left_watching():
    yield
    assert function._observer is None, "a watcher was left installed"
    assert observe._watchers == ()
    assert all(getattr(kernels, name) is d for name, d in kernels._dispatchers.items())


# -- the profiler ---------------------------------------------------------------

def test_events_name_ops_backward_nodes_kernels_and_ranges_nested_as_they_ran():
    model, (x, y) = _small_cnn(), _batch()
    opt = tk.optim.SGD(model.parameters(), lr=0.1)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(3):
            _lenet_step(model, x, y, opt)
    events = prof.events()
    names = {e.name for e in events}
    assert {"forward", "Conv2d", "ReLU", "MaxPool2d", "Linear", "ConvolutionBackward0",
            "AddmmBackward0", "kernel::conv2d_forward", "kernel::gemm"} <= names
    conv = [e for e in events if e.name == "Conv2d"]
    assert len(conv) == 3
    for e in conv:      # the op inside the user's range, the kernel inside the op
        assert e.cpu_parent is not None and e.cpu_parent.name == "forward"
        assert "kernel::conv2d_forward" in [c.name for c in e.cpu_children]
        assert e.start_us <= min(c.start_us for c in e.cpu_children)
        assert e.end_us >= max(c.end_us for c in e.cpu_children)
    backward = [e for e in events if e.name == "ConvolutionBackward0"]
    assert len(backward) == 3 and all(e.cpu_parent is None for e in backward)
    # self times partition the time: every event's self time >= 0, and they add up
    # to the top-level events' totals
    assert all(e.self_cpu_time_total >= 0 for e in events)
    top = sum(e.cpu_time_total for e in events if e.cpu_parent is None)
    assert events.self_cpu_time_total == pytest.approx(top, rel=1e-9)


def test_key_averages_count_and_sum_per_name():
    model, (x, y) = _small_cnn(), _batch()
    opt = tk.optim.SGD(model.parameters(), lr=0.1)
    with profile() as prof:
        for _ in range(4):
            _lenet_step(model, x, y, opt)
    averages = {a.key: a for a in prof.key_averages()}
    assert averages["Conv2d"].count == 4
    assert averages["forward"].count == 4
    conv = [e for e in prof.events() if e.name == "Conv2d"]
    assert averages["Conv2d"].cpu_time_total == pytest.approx(sum(e.cpu_time_total for e in conv))
    assert averages["Conv2d"].cpu_time == pytest.approx(averages["Conv2d"].cpu_time_total / 4)
    total = prof.key_averages().total_average()
    assert total.count == len(prof.events())


def test_record_shapes_and_grouping_by_input_shape():
    a = tk.randn(3, 4)
    b = tk.randn(4, 5)
    c = tk.randn(6, 4)
    with profile(record_shapes=True) as prof:
        a @ b
        c @ b
    mm = [e for e in prof.events() if e.name == "MatMul"]
    assert [e.input_shapes for e in mm] == [[[3, 4], [4, 5]], [[6, 4], [4, 5]]]
    grouped = [g for g in prof.key_averages(group_by_input_shape=True) if g.key == "MatMul"]
    assert len(grouped) == 2 and all(g.count == 1 for g in grouped)
    assert len([g for g in prof.key_averages() if g.key == "MatMul"]) == 1
    with profile() as plain:
        a @ b
    with pytest.raises(RuntimeError, match="record_shapes"):
        plain.key_averages(group_by_input_shape=True)


def test_profile_memory_counts_what_an_op_allocates():
    x = tk.randn(256, 1024)
    with profile(profile_memory=True) as prof:
        y = x.exp()
    exp = [e for e in prof.events() if e.name == "Exp"][0]
    assert exp.cpu_memory_usage >= y.array.nbytes
    assert exp.cpu_memory_usage < 2 * y.array.nbytes + 65536
    table = prof.key_averages().table()
    assert "CPU Mem" in table and "Self CPU Mem" in table and "MB" in table


def test_table_sorts_limits_and_rejects_unknown_keys():
    model, (x, y) = _small_cnn(), _batch()
    opt = tk.optim.SGD(model.parameters(), lr=0.1)
    with profile() as prof:
        _lenet_step(model, x, y, opt)
    averages = prof.key_averages()
    table = averages.table(sort_by="self_cpu_time_total", row_limit=5)
    lines = table.splitlines()
    assert "Self CPU %" in lines[1] and "# of Calls" in lines[1]
    assert len(lines) == 3 + 5 + 2     # header, 5 rows, rule, total
    assert lines[-1].startswith("Self CPU time total: ")
    ordered = sorted(averages, key=lambda a: a.self_cpu_time_total, reverse=True)[:5]
    for line, avg in zip(lines[3:8], ordered):
        assert line.split()[0] == avg.key.split()[0]
    with pytest.raises(AttributeError, match="sort_by"):
        averages.table(sort_by="gpu_time")


def test_schedule_matches_pytorch_and_hands_over_the_active_steps():
    fn = schedule(wait=1, warmup=1, active=2, repeat=2, skip_first=1)
    expected = ["NONE", "NONE", "WARMUP", "RECORD", "RECORD_AND_SAVE", "NONE", "WARMUP",
                "RECORD", "RECORD_AND_SAVE", "NONE", "NONE"]
    assert [fn(i).name for i in range(11)] == expected
    assert fn(3) is ProfilerAction.RECORD
    torch = pytest.importorskip("torch")
    theirs = torch.profiler.schedule(wait=1, warmup=1, active=2, repeat=2, skip_first=1)
    assert [fn(i).name for i in range(11)] == [theirs(i).name for i in range(11)]

    handed = []
    x = tk.randn(4, 4)
    with profile(schedule=schedule(wait=1, warmup=1, active=2, repeat=1),
                 on_trace_ready=lambda p: handed.append([e.name for e in p.events()])) as prof:
        for _ in range(6):
            x.exp()
            prof.step()
    assert len(handed) == 1
    steps = [n for n in handed[0] if n.startswith("ProfilerStep#")]
    assert steps == ["ProfilerStep#2", "ProfilerStep#3"]
    assert handed[0].count("Exp") == 2     # the warm-up step's op is not kept


def test_no_schedule_records_everything_and_calls_on_trace_ready_once(tmp_path):
    x = tk.randn(4, 4)
    with profile(on_trace_ready=tensorboard_trace_handler(str(tmp_path), "w0")) as prof:
        for _ in range(3):
            x.exp()
            prof.step()
    files = os.listdir(tmp_path)
    assert len(files) == 1 and files[0].startswith("w0.") and files[0].endswith(".pt.trace.json")
    trace = json.loads((tmp_path / files[0]).read_text())
    ops = [e for e in trace["traceEvents"] if e.get("ph") == "X"]
    assert [e["name"] for e in ops].count("Exp") == 3
    assert all(e["dur"] >= 0 for e in ops)


def test_chrome_trace_nests_by_time(tmp_path):
    model, (x, _) = _small_cnn(), _batch()
    with profile(record_shapes=True) as prof:
        model(x)
    path = tmp_path / "trace.json"
    prof.export_chrome_trace(str(path))
    events = [e for e in json.loads(path.read_text())["traceEvents"] if e.get("ph") == "X"]
    conv = next(e for e in events if e["name"] == "Conv2d")
    kernel = next(e for e in events if e["name"] == "kernel::conv2d_forward")
    assert conv["ts"] <= kernel["ts"] and kernel["ts"] + kernel["dur"] <= conv["ts"] + conv["dur"]
    assert conv["args"]["Input Dims"][0] == [8, 1, 12, 12]


def test_record_function_is_a_decorator_and_free_without_a_profiler():
    @record_function("my_block")
    def block(t):
        return t * 2

    x = tk.randn(3)
    assert np.allclose(block(x).numpy(), 2 * x.numpy())     # no profiler: just runs
    with profile() as prof:
        block(x)
    names = [e.name for e in prof.events()]
    assert names[0] == "my_block" and "Mul" in names


def test_an_error_inside_a_profiled_op_closes_its_events_and_recording_goes_on():
    with profile() as prof:
        with pytest.raises(RuntimeError):
            tk.randn(2, 3) @ tk.randn(4, 5)
        tk.randn(2).exp()
    exp = [e for e in prof.events() if e.name == "Exp"]
    assert len(exp) == 1 and exp[0].cpu_parent is None


def test_one_profiler_at_a_time():
    with profile():
        with pytest.raises(RuntimeError, match="already enabled"):
            profile().start()


def test_legacy_autograd_profiler():
    x = tk.randn(5, 5, requires_grad=True)
    with tk.autograd.profiler.profile(record_shapes=True) as prof:
        (x * x).sum().backward()
    names = [e.name for e in prof.function_events]
    assert "Mul" in names and "MulBackward0" in names
    assert "Self CPU time total" in prof.key_averages().table()
    with tk.autograd.profiler.profile(enabled=False) as off:
        (x * x).sum()
    assert len(off.function_events) == 0


def test_profiled_training_gives_the_same_numbers():
    """Watching changes no result: the same steps with and without the profiler."""
    results = []
    for watched in (False, True):
        model, (x, y) = _small_cnn(), _batch()
        opt = tk.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        with _maybe_profile(watched):
            losses = [float(_lenet_step(model, x, y, opt)) for _ in range(3)]
        results.append((losses, [p.detach().numpy().copy() for p in model.parameters()]))
    assert results[0][0] == results[1][0]
    for a, b in zip(results[0][1], results[1][1]):
        np.testing.assert_array_equal(a, b)


def _maybe_profile(on):
    import contextlib
    return profile(profile_memory=True, with_stack=True) if on else contextlib.nullcontext()


def test_with_stack_names_the_calling_line():
    x = tk.randn(3)
    with profile(with_stack=True) as prof:
        x.exp()     # the line the event's stack names
    exp = next(e for e in prof.events() if e.name == "Exp")
    assert exp.stack and __file__ in exp.stack[0]
    grouped = prof.key_averages(group_by_stack_n=1)
    assert any(g.key == "Exp" and g.stack == exp.stack[:1] for g in grouped)


# -- anomaly mode ------------------------------------------------------------------

def _nan_backward(x):
    w = x / x       # the line anomaly mode must point at: 0/0 -> NaN gradient
    return w.sum()


def test_anomaly_mode_names_the_node_and_the_forward_line():
    x = tk.tensor([0.0, 1.0], requires_grad=True)
    with pytest.warns(UserWarning, match="Anomaly Detection has been enabled"):
        mode = tk.autograd.detect_anomaly()
    with mode, warnings.catch_warnings(record=True) as caught, np.errstate(all="ignore"):
        warnings.simplefilter("always")
        assert tk.is_anomaly_enabled() and tk.is_anomaly_check_nan_enabled()
        loss = _nan_backward(x)
        with pytest.raises(RuntimeError) as error:
            loss.backward()
    assert not tk.is_anomaly_enabled()
    message = [str(w.message) for w in caught if "Error detected in" in str(w.message)]
    assert len(message) == 1
    assert message[0].startswith("Error detected in DivBackward0. Traceback of forward call")
    assert "w = x / x" in message[0] and __file__ in message[0]
    torch = pytest.importorskip("torch")
    tx = torch.tensor([0.0, 1.0], requires_grad=True)
    with pytest.warns(UserWarning, match="Anomaly Detection has been enabled"):
        theirs_mode = torch.autograd.detect_anomaly()
    with warnings.catch_warnings(), theirs_mode:
        warnings.simplefilter("ignore")
        with pytest.raises(RuntimeError) as theirs:
            _nan_backward(tx).backward()
    assert str(error.value) == str(theirs.value)


def test_without_anomaly_mode_nan_gradients_pass_silently():
    x = tk.tensor([0.0, 1.0], requires_grad=True)
    with np.errstate(all="ignore"):
        _nan_backward(x).backward()
    assert np.isnan(x.grad.numpy()[0])
    with tk.autograd.set_detect_anomaly(True, check_nan=False), np.errstate(all="ignore"):
        assert tk.is_anomaly_enabled() and not tk.is_anomaly_check_nan_enabled()
        x.grad = None
        _nan_backward(x).backward()
    assert np.isnan(x.grad.numpy()[0])


def test_set_detect_anomaly_as_function_and_context_manager():
    tk.autograd.set_detect_anomaly(True)
    try:
        assert tk.is_anomaly_enabled()
        with tk.autograd.set_detect_anomaly(False):
            assert not tk.is_anomaly_enabled()
        assert tk.is_anomaly_enabled()
    finally:
        tk.autograd.set_detect_anomaly(False)
    assert not tk.is_anomaly_enabled()
    tk.set_anomaly_enabled(True, check_nan=False)
    tk.set_anomaly_enabled(False)
    assert tk.is_anomaly_check_nan_enabled()        # as PyTorch: the setting stays
    tk.set_anomaly_enabled(False, check_nan=False)
    assert not tk.is_anomaly_check_nan_enabled()
    tk.set_anomaly_enabled(False)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")

        @tk.autograd.detect_anomaly()
        def inside():
            return tk.is_anomaly_enabled()
    assert inside() and not tk.is_anomaly_enabled()


def test_anomaly_mode_reports_any_error_raised_in_a_backward():
    class Fails(tk.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            raise ValueError("broken backward")

    x = tk.randn(3, requires_grad=True)
    with tk.autograd.set_detect_anomaly(True), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        y = Fails.apply(x).sum()
        with pytest.raises(ValueError, match="broken backward"):
            y.backward()
    message = [str(w.message) for w in caught if "Error detected in" in str(w.message)]
    assert message and "y = Fails.apply(x).sum()" in message[0]


def test_a_node_made_before_anomaly_mode_has_no_forward_stack():
    x = tk.tensor([0.0, 1.0], requires_grad=True)
    with np.errstate(all="ignore"):
        loss = _nan_backward(x)
    with tk.autograd.set_detect_anomaly(True), warnings.catch_warnings(record=True) as caught, \
            np.errstate(all="ignore"):
        warnings.simplefilter("always")
        with pytest.raises(RuntimeError, match="returned nan values"):
            loss.backward()
    assert any("No forward pass information available" in str(w.message) for w in caught)


def test_anomaly_mode_checks_create_graph_gradients_too():
    x = tk.tensor([0.0, 1.0], requires_grad=True)
    with tk.autograd.set_detect_anomaly(True), warnings.catch_warnings(), \
            np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        with pytest.raises(RuntimeError, match="DivBackward0' returned nan values"):
            tk.autograd.grad(_nan_backward(x), x, create_graph=True)


def test_anomaly_mode_and_profiler_watch_together():
    x = tk.tensor([0.0, 1.0], requires_grad=True)
    with profile() as prof, tk.autograd.set_detect_anomaly(True), warnings.catch_warnings(), \
            np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        with pytest.raises(RuntimeError, match="nan"):
            _nan_backward(x).backward()
    assert "DivBackward0" in [e.name for e in prof.events()]


def test_a_training_step_under_anomaly_mode_is_unchanged():
    losses = []
    for anomaly in (False, True):
        model, (x, y) = _small_cnn(), _batch()
        opt = tk.optim.Adam(model.parameters(), lr=1e-3)
        with tk.autograd.set_detect_anomaly(anomaly):
            losses.append([float(_lenet_step(model, x, y, opt)) for _ in range(2)])
    assert losses[0] == losses[1]
