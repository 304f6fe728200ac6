"""The HQL benchmark quotes each engine's ratio to its reference round by round: both ran in the same
round, so the spread of those ratios is the noise to quote with them."""

from __future__ import annotations

import pytest

from tests.benchmarks.scripts import load_benchmark

pytestmark = pytest.mark.unit


def test_each_round_pairs_an_engine_with_the_reference_of_the_same_round(
    capsys: pytest.CaptureFixture[str],
) -> None:
    bench = load_benchmark("batch")

    def step(name: str, origination_s: float, performance_s: float) -> object:
        kinds = {
            "origination": bench.KindResult(rows=200, seconds=origination_s),
            "performance": bench.KindResult(rows=1000, seconds=performance_s),
        }
        return bench.StepResult(name, kinds=kinds)

    rounds = [  # round 2 ran on a machine twice as slow, its performance step slower still
        {"reference": step("reference", 1.0, 1.0), "duckdb": step("duckdb", 2.5, 2.0)},
        {"reference": step("reference", 2.0, 2.0), "duckdb": step("duckdb", 5.0, 5.0)},
    ]
    paired = bench.paired_ratios(rounds)
    assert paired == {"duckdb vs reference": {"origination": [0.4, 0.4], "performance": [0.5, 0.4]}}

    bench.show_paired(paired)
    printed = capsys.readouterr().out
    assert "duckdb vs reference          origination  0.40x [0.40 … 0.40] over 2 rounds" in printed
    assert "performance  0.45x [0.40 … 0.50] over 2 rounds" in printed


def test_the_best_of_rounds_takes_each_kinds_fastest_and_leaves_the_rounds_as_measured() -> None:
    bench = load_benchmark("batch")
    first = bench.StepResult(
        "spark",
        kinds={"origination": bench.KindResult(200, 2.0), "performance": bench.KindResult(1000, 3.0)},
        peak_rss_mb=100.0,
        jvm_peak_rss_mb=900.0,
    )
    second = bench.StepResult(
        "spark",
        kinds={"origination": bench.KindResult(200, 1.0), "performance": bench.KindResult(1000, 4.0)},
        peak_rss_mb=120.0,
        jvm_peak_rss_mb=800.0,
    )
    best = bench.keep_best(first, second)
    assert [best.kinds[k].seconds for k in ("origination", "performance")] == [1.0, 3.0]
    assert (best.peak_rss_mb, best.jvm_peak_rss_mb) == (120.0, 900.0)
    assert first.kinds["origination"].seconds == 2.0 and first.peak_rss_mb == 100.0  # untouched
