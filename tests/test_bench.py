"""The benchmark suite runs (python -m bench), and its timing logic is right."""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench import harness  # noqa: E402
from bench.harness import Contender, Row, Settings, Skip, Target  # noqa: E402


class FakeClock:
    """A timer that only moves when a fake workload 'runs'."""

    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def timer(self):
        return self.now

    def sleep(self, s):
        self.sleeps.append(s)

    def step(self, cost):
        def fn():
            self.now += cost
        return fn


def test_measure_interleaves_and_takes_per_call_medians():
    clock = FakeClock()
    cost = {"a": 1e-3, "b": 3e-3, "c": 2e-4}
    steps = {name: clock.step(c) for name, c in cost.items()}
    log = []
    times, inner = harness.measure(steps, reps=5, warmup=2, min_time=0.01, pause=0.25,
                                   timer=clock.timer, sleep=clock.sleep, log=log)
    # round-robin: every repetition times each contender once, the start rotating
    assert [name for _, name in log] == ["a", "b", "c", "b", "c", "a", "c", "a", "b",
                                         "a", "b", "c", "b", "c", "a"]
    assert [rep for rep, _ in log] == [r for r in range(5) for _ in range(3)]
    assert clock.sleeps == [0.25] * 15          # a pause before every timed repetition
    for name, c in cost.items():
        assert len(times[name]) == 5
        assert harness.summarize(times[name])["median"] == pytest.approx(c)
        assert inner[name] * c >= 0.01 * 0.5    # a repetition lasts about min_time
    assert inner["c"] > inner["a"] > inner["b"] >= 1


def test_median_ignores_one_slow_repetition():
    clock = FakeClock()
    calls = {"n": 0}

    def noisy():
        calls["n"] += 1
        clock.now += 1.0 if calls["n"] == 4 else 1e-3   # one disturbed call
    times, inner = harness.measure({"x": noisy}, reps=5, warmup=1, min_time=0, pause=0,
                                   timer=clock.timer, sleep=clock.sleep)
    assert inner == {"x": 1}
    s = harness.summarize(times["x"])
    assert s["median"] == pytest.approx(1e-3) and s["max"] == pytest.approx(1.0)


def test_run_row_skips_missing_contenders_and_checks_targets():
    def missing():
        raise Skip("not here")

    def no_feature():
        raise ImportError("No module named 'tinygrad_kr.nothing'")
    ok = Row("t/ok", "", [Contender("tinygrad_kr", lambda: (lambda: None), "subject"),
                          Contender("torch", missing, "torch")],
             targets=[Target("torch", "<=", 1.0, "<= 1x")])
    res = harness.run_row(ok, Settings(reps=2, warmup=0, min_time=0, pause=0))
    assert res["status"] == "ok" and res["skipped"] == {"torch": "not here"}
    assert res["targets"][0]["met"] is None and res["ratio_torch"] is None
    gone = Row("t/gone", "", [Contender("tinygrad_kr", no_feature, "subject")])
    res = harness.run_row(gone, Settings(reps=2, warmup=0, min_time=0, pause=0))
    assert res["status"] == "skipped" and "tinygrad_kr.nothing" in res["reason"]
    t = Target("numpy", ">=", 0.95, "", invert=True)       # a throughput target
    assert t.met({"tinygrad_kr": 1.0, "numpy": 0.96}) and not t.met({"tinygrad_kr": 1.0,
                                                                     "numpy": 0.9})


def test_select_by_substring_or_regex():
    rows = [Row(n, "", []) for n in ("gemm/1024^3", "train/slp-b10", "train/mlp-b128-adam")]
    assert [r.name for r in harness.select(rows, "train/")] == ["train/slp-b10",
                                                                "train/mlp-b128-adam"]
    assert [r.name for r in harness.select(rows, "1024^3")] == ["gemm/1024^3"]  # substring
    assert [r.name for r in harness.select(rows, r"slp|adam$")] == ["train/slp-b10",
                                                                    "train/mlp-b128-adam"]


def test_python_m_bench_quick_one_row(tmp_path):
    out = tmp_path / "results"
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-m", "bench", "--quick", "--threads", "1",
                           "--only", "autograd/round-trip", "--out", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "autograd/round-trip" in proc.stdout
    doc = json.loads((out / "latest.json").read_text())
    assert doc["environment"]["threads"]["env"]["OMP_NUM_THREADS"] == "1"
    [row] = doc["rows"]
    assert row["status"] in ("ok", "skipped"), row
    if row["status"] == "ok":
        assert row["contenders"]["tinygrad_kr"]["median"] > 0
    assert (out / "latest.md").read_text().startswith("# Benchmark results")


def test_bad_option_values_are_refused_before_any_row_runs(capsys):
    from bench.__main__ import parse_args
    for argv in (["--pause", "-1"], ["--min-time", "-0.5"], ["--pause", "nan"],
                 ["--threads", "0"], ["--reps", "0"]):
        with pytest.raises(SystemExit) as e:
            parse_args(argv)
        assert e.value.code == 2
        assert argv[0] in capsys.readouterr().err
    assert parse_args(["--pause", "0", "--min-time", "0"]).pause == 0
