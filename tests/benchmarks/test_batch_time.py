"""The HQL benchmark says where each engine's time went: seconds per statement of the HQL files, the
uploads still landing after a file's last statement, each kind's share, and a picture of it."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, replace
from pathlib import Path

import pytest
from PIL import Image

from producers.freddie.layouts import Kind
from services.hql.script import HqlStatement
from tests.benchmarks.scripts import load_benchmark

pytestmark = pytest.mark.unit

bench = load_benchmark("batch")


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_file_runs_whole_each_statement_timed_and_the_uploads_after_it_apart() -> None:
    clock = FakeClock()

    class Engine:  # works a second per statement index, then waits 10 s for its uploads
        def run(self, items: Iterable[HqlStatement]) -> None:
            for statement in items:
                clock.now += float(statement.index)
            clock.now += 10.0

    statements = [HqlStatement(f"SELECT {n}", "x.hql", n) for n in (1, 2, 3)]
    marks, tail = bench.run_file(Engine(), statements, clock)

    assert [(st.index, seconds) for st, seconds in marks] == [(1, 1.0), (2, 2.0), (3, 3.0)]
    assert tail == 10.0


def test_raw_table_statements_go_to_their_kind_the_rest_and_the_tail_are_shared() -> None:
    raw = Path("hive/hql/00_raw_tables.hql")
    marks = [
        (HqlStatement("CREATE EXTERNAL TABLE raw_origination (line STRING)", raw.name, 1), 1.0),
        (HqlStatement("MSCK REPAIR TABLE raw_performance", raw.name, 2), 3.0),
        (HqlStatement("SET hive.exec.dynamic.partition=true", raw.name, 3), 2.0),
    ]
    spent = bench.attribute(raw, marks, tail=0.5)
    assert [(t.label, t.seconds) for t in spent[Kind.ORIGINATION]] == [
        ("00_raw_tables.hql #1: CREATE EXTERNAL TABLE raw_origination (line", 1.0),
        ("00_raw_tables.hql #3: SET hive.exec.dynamic.partition=true", 1.0),
        (f"00_raw_tables.hql: {bench.UPLOADS}", 0.25),
    ]
    assert sum(t.seconds for t in spent[Kind.PERFORMANCE]) == 3.0 + 1.0 + 0.25

    own = Path("hive/hql/20_performance.hql")
    spent = bench.attribute(own, [(HqlStatement("FROM performance_checked INSERT", own.name, 4), 2.0)], 0.5)
    assert spent[Kind.ORIGINATION] == []
    assert [t.seconds for t in spent[Kind.PERFORMANCE]] == [2.0, 0.5]


def test_the_slowest_statements_are_listed_and_the_rest_summed() -> None:
    times = [bench.StatementTime(f"s{n}", float(n)) for n in range(1, 8)]
    shown = bench.breakdown(times, shown=3)
    assert [(t.label, t.seconds) for t in shown] == [
        ("s7", 7.0),
        ("s6", 6.0),
        ("s5", 5.0),
        ("4 other statements", 10.0),
    ]
    assert [t.label for t in bench.breakdown(times[:2], shown=3)] == ["s2", "s1"]
    assert [t.label for t in bench.breakdown(times[:4], shown=3)] == ["s4", "s3", "s2", "s1"]  # no "1 other"


def test_statement_times_travel_from_the_step_process_and_are_printed_and_drawn(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    times = [
        bench.StatementTime("20_performance.hql #13: FROM performance_checked", 3.0),
        bench.StatementTime(f"20_performance.hql: {bench.UPLOADS}", 1.0),
    ]
    engine = bench.StepResult(
        "duckdb",
        kinds={
            "origination": bench.KindResult(
                rows=200, seconds=1.0, statements=[bench.StatementTime("o", 1.0)]
            ),
            "performance": bench.KindResult(rows=1000, seconds=4.0, kept=990, rejected=10, statements=times),
        },
    )
    reference = bench.StepResult(
        "reference",
        kinds={
            "origination": bench.KindResult(rows=200, seconds=0.5),
            "performance": bench.KindResult(rows=1000, seconds=2.0),
        },
    )
    # the step process writes asdict() as JSON; the parent reads it back
    data = json.loads(json.dumps(asdict(engine)))
    back = {name: bench.KindResult.from_dict(values) for name, values in data["kinds"].items()}
    assert back["performance"] == engine.kinds["performance"]

    bench.show_time([reference, engine])
    out = capsys.readouterr().out
    assert "duckdb · performance: 4.00 s, 250 rows/s (reference: 2.00 s)" in out
    assert f"     1.00 s  25%  20_performance.hql: {bench.UPLOADS}" in out

    both = bench.time_chart([reference, engine], tmp_path / "both.png")
    performance_only = replace(engine, kinds={**engine.kinds, "origination": bench.KindResult(200, 1.0)})
    one = bench.time_chart([reference, performance_only], tmp_path / "one.png")
    assert both is not None and one is not None
    with Image.open(both) as two_panels, Image.open(one) as one_panel:  # a panel per engine and kind
        assert two_panels.format == "PNG" and two_panels.height > one_panel.height
    assert bench.time_chart([reference], tmp_path / "none.png") is None  # references have no statements
