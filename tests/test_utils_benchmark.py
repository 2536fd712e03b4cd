"""utils.benchmark: Timer's measurements, Measurement's statistics and
printed form, Compare's table (PyTorch's torch.utils.benchmark)."""
import re
import statistics

import numpy as np
import pytest

import tinygrad_kr as tk
from tinygrad_kr.utils.benchmark import (Compare, Measurement, TaskSpec, Timer, select_unit,
                                         trim_sigfig)


def test_timeit_runs_the_statement_number_times_in_its_globals():
    calls = []
    t = Timer("calls.append(1)", globals={"calls": calls})
    m = t.timeit(50)
    assert len(calls) == 50 + 2          # the warm-up (number // 100, at least 2) and the runs
    assert m.number_per_run == 50 and len(m.raw_times) == 1
    assert m.times == [m.raw_times[0] / 50] and m.median == m.mean == m.times[0]


def test_torch_in_a_statement_is_this_package_and_setup_runs_first():
    t = Timer("y = torch.mm(x, x)", setup="x = torch.ones(4, 4)")
    assert t.timeit(3).median > 0
    t = Timer(lambda: tk.ones(2).sum())            # a callable, as timeit takes
    assert t.timeit(3).median > 0


def test_blocked_autorange_blocks_until_min_run_time():
    seen = []
    m = Timer("sum(range(100))").blocked_autorange(
        callback=lambda number, spent: seen.append((number, spent)), min_run_time=0.05)
    assert sum(m.raw_times) >= 0.05
    assert [n for n, _ in seen] == [m.number_per_run] * len(m.raw_times)
    assert [s for _, s in seen] == m.raw_times
    assert m.number_per_run >= 10       # the block size rule: far above the timer's overhead


def test_adaptive_autorange_stops_on_a_small_iqr_or_the_time_limit():
    m = Timer("sum(range(50))").adaptive_autorange(threshold=0.5, max_run_time=2.0)
    assert len(m.raw_times) >= 4 or sum(m.raw_times) > 2.0
    assert m.meets_confidence(0.5) or sum(m.raw_times) > 2.0


def test_repeat_and_autorange_point_to_blocked_autorange_as_torch():
    for call in (lambda t: t.repeat(), lambda t: t.autorange()):
        with pytest.raises(NotImplementedError, match="blocked_autorange"):
            call(Timer("pass"))


def test_num_threads_is_set_while_measuring_and_restored():
    before = tk.get_num_threads()
    inside = []
    Timer("inside.append(torch.get_num_threads())", globals={"inside": inside},
          num_threads=1).timeit(3)
    assert set(inside) == {1} and tk.get_num_threads() == before
    with pytest.raises(ValueError, match="num_threads"):
        Timer("pass", num_threads=0)


def _measurement(times, number=10, **spec):
    return Measurement(number, [t * number for t in times], TaskSpec(stmt="x", **spec))


def test_statistics_are_pytorchs_quantiles():
    times = [1e-6, 2e-6, 3e-6, 4e-6, 10e-6]
    m = _measurement(times)
    np.testing.assert_allclose(m.median, np.quantile(times, 0.5))
    np.testing.assert_allclose(m.iqr, np.quantile(times, 0.75) - np.quantile(times, 0.25))
    np.testing.assert_allclose(m.mean, statistics.fmean(times))
    pytest.importorskip("torch")
    from torch.utils.benchmark.utils.common import Measurement as TorchMeasurement
    from torch.utils.benchmark.utils.common import TaskSpec as TorchTaskSpec
    for sample in ([1e-6, 2e-6, 3e-6, 4e-6, 10e-6], [5e-3] * 7 + [6e-3], list(np.linspace(1, 2, 21) * 1e-5)):
        ours = _measurement(sample)
        theirs = TorchMeasurement(10, [t * 10 for t in sample], TorchTaskSpec(stmt="x", setup="pass"))
        np.testing.assert_allclose([ours.median, ours.iqr, ours.mean],
                                   [theirs.median, theirs.iqr, theirs.mean], rtol=1e-12)
        assert ours.significant_figures == theirs.significant_figures
        assert ours.has_warnings == theirs.has_warnings


def test_repr_has_pytorchs_lines():
    m = _measurement([1e-6, 1.1e-6, 1.2e-6, 2e-6, 5e-6], label="matmul", sub_label="64",
                     description="ours")
    text = repr(m)
    lines = text.splitlines()
    assert re.match(r"<tinygrad_kr\.utils\.benchmark\.Measurement object at 0x", lines[0])
    assert lines[1:3] == ["matmul: 64", "ours"]
    assert lines[3] == "  Median: 1.20 us"
    assert lines[4] == "  IQR:    0.90 us (1.10 to 2.00)"
    assert lines[5] == "  5 measurements, 10 runs per measurement, 1 thread"
    assert "WARNING: Interquartile range is 75.0% of the median measurement." in text
    assert "significant environmental influence" in text
    single = _measurement([3e-3], number=100)
    assert single_lines(single) == ["x", "  3.00 ms", "  1 measurement, 100 runs , 1 thread"]


def single_lines(m):
    return repr(m).splitlines()[1:]


def test_merge_pools_replicates_per_task():
    a = _measurement([1e-6, 2e-6])
    b = _measurement([3e-6], number=5)
    c = _measurement([9e-6], label="other")
    merged = Measurement.merge([a, b, c])
    assert len(merged) == 2
    assert merged[0].number_per_run == 1
    np.testing.assert_allclose(sorted(merged[0].times), [1e-6, 2e-6, 3e-6])


def test_units_and_significant_figures():
    assert select_unit(5e-9) == ("ns", 1e-9) and select_unit(5e-5)[0] == "us"
    assert select_unit(0.5)[0] == "ms" and select_unit(5.0)[0] == "s"
    assert trim_sigfig(3.14159, 2) == pytest.approx(3.1)
    assert trim_sigfig(1234.5, 2) == pytest.approx(1200.0)
    pytest.importorskip("torch")
    from torch.utils.benchmark.utils.common import select_unit as theirs_unit, trim_sigfig as theirs_trim
    for t in (3e-10, 5e-9, 4.2e-7, 5e-5, 0.5, 5.0):
        assert select_unit(t) == theirs_unit(t)
    for x, n in ((3.14159, 2), (1234.5, 2), (0.0123, 3), (99.95, 1)):
        assert trim_sigfig(x, n) == pytest.approx(theirs_trim(x, n))


def test_compare_prints_one_table_per_label_rows_by_sub_label_columns_by_description():
    results = [_measurement([2e-6] * 4, label="mm", sub_label="64", description="ours"),
               _measurement([8e-6] * 4, label="mm", sub_label="64", description="theirs"),
               _measurement([20e-6] * 4, label="mm", sub_label="128", description="ours"),
               _measurement([5e-6] * 4, label="add", sub_label="64", description="ours",
                            num_threads=2)]
    text = str(Compare(results))
    tables = text.split("Times are in microseconds (us).")
    assert len(tables) == 3
    mm = tables[0].splitlines()
    assert mm[0].startswith("[") and " mm " in mm[0] and mm[0].endswith("]")
    assert "ours" in mm[1] and "theirs" in mm[1] and mm[1].index("ours") < mm[1].index("theirs")
    assert mm[2].startswith("1 threads: -")
    assert re.match(r"\s+64\s+\|\s+2\.0\s+\|\s+8\.0$", mm[3])
    assert re.match(r"\s+128\s+\|\s+20\.0\s*\|?$", mm[4])
    assert "2 threads: -" in tables[1]
    colored = Compare(results)
    colored.colorize()
    assert "\033[92m" in str(colored)             # the best of a column
    with pytest.raises(ValueError, match="Measurement"):
        Compare([1.0])


def test_compare_trims_and_flags_noisy_entries():
    noisy = _measurement([1e-6, 1.5e-6, 2e-6, 3e-6, 4e-6], label="x", description="d")
    steady = _measurement([2.0001e-6] * 8, label="x", sub_label="s", description="d")
    c = Compare([noisy, steady])
    c.trim_significant_figures()
    c.highlight_warnings()
    text = str(c)
    assert "(! " in text and "Measurement has high variance" in text
