"""The HQL benchmark also counts the CPU seconds each step's rows cost — its process, Spark's JVM and the
local emulator — and pairs engines with references per CPU-second, as it does per wall second."""

from __future__ import annotations

import subprocess
import sys
import time
from types import ModuleType

import pytest

from services.settings import get_settings
from services.stack import process
from tests.benchmarks.scripts import load_benchmark

pytestmark = pytest.mark.unit


def _step(bench: ModuleType, name: str, cpu_seconds: float, rows: tuple[int, int] = (200, 1000)) -> object:
    kinds = {
        "origination": bench.KindResult(rows=rows[0], seconds=1.0),
        "performance": bench.KindResult(rows=rows[1], seconds=1.0),
    }
    return bench.StepResult(name, kinds=kinds, cpu_seconds=cpu_seconds)


def test_rounds_pair_rows_per_cpu_second_and_the_best_keeps_the_least_cpu(
    capsys: pytest.CaptureFixture[str],
) -> None:
    bench = load_benchmark("batch")
    rounds = [
        {"reference": _step(bench, "reference", 1.0), "duckdb": _step(bench, "duckdb", 4.0)},
        {"reference": _step(bench, "reference", 1.2), "duckdb": _step(bench, "duckdb", 3.0)},
    ]
    paired = bench.paired_ratios(rounds)
    assert paired["duckdb vs reference"][bench.PER_CPU] == [0.25, 0.4]
    best = [bench.keep_best(*(r[s] for r in rounds)) for s in ("reference", "duckdb")]
    assert [b.cpu_seconds for b in best] == [1.0, 3.0]
    rows = bench.show_cpu(best)
    assert rows[1] == {
        "step": "duckdb",
        "cpu_seconds": 3.0,
        "rows_per_cpu_second": 400.0,
        "ratio_to_reference": pytest.approx(0.333),
        "ratio_to_spark_reference": None,
    }
    assert "duckdb              3.00             400   0.33x" in capsys.readouterr().out


def test_each_round_is_summed_up_in_a_line() -> None:
    bench = load_benchmark("batch")
    line = bench.round_summary(_step(bench, "duckdb", 2.5))
    assert line == "   origination 200 rows/s, performance 1,000 rows/s; 2.50 CPU s"


def test_a_step_without_a_cpu_reading_is_left_out_of_the_cpu_pairing() -> None:
    bench = load_benchmark("batch")
    rounds = [{"reference": _step(bench, "reference", 0.0), "duckdb": _step(bench, "duckdb", 2.0)}]
    assert bench.PER_CPU not in bench.paired_ratios(rounds).get("duckdb vs reference", {})
    assert bench.keep_best(_step(bench, "duckdb", 0.0), _step(bench, "duckdb", 2.0)).cpu_seconds == 2.0


def test_the_meter_adds_the_emulators_cpu_to_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    bench = load_benchmark("batch")
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])  # stands in for the emulator
    try:
        monkeypatch.setattr(process, "listener_pid", lambda port: busy.pid)
        settings = get_settings()
        settings = settings.model_copy(
            update={"aws": settings.aws.model_copy(update={"endpoint_url": "http://127.0.0.1:4566"})}
        )
        read = bench.cpu_meter(settings)
        first, started = read(), process.cpu_seconds(busy.pid)
        deadline = time.monotonic() + 20  # a loaded machine may give the busy loop little CPU at first
        while process.cpu_seconds(busy.pid) - started < 0.3 and time.monotonic() < deadline:
            time.sleep(0.05)
        # the busy process's CPU is counted; rounded to the clock tick, as 3.98 - 3.68 is 0.2999… in floats
        assert round(read() - first, 2) >= 0.3
    finally:
        busy.kill()
        busy.wait()
    assert process.cpu_seconds(busy.pid) == 0.0  # a process that is gone reads as nothing
