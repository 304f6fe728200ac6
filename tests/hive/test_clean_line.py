"""The clean-line fast path: the HQL holds the patterns generated from the layouts, every line a pattern
matches passes every validation rule (checked by running the rules themselves, on DuckDB, over random
lines near each field's limits), and the generator's clean lines take the fast path."""

from __future__ import annotations

import random
import re
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
import sqlglot

from hive import tables
from hive.clean_line import REQUIRED, clean_line_cases, clean_line_pattern
from producers.freddie.generator import generate
from producers.freddie.layouts import CANONICAL, LAYOUTS, Field, Kind, Layout
from services.hql.duckdb_engine import DuckDBEngine
from services.hql.script import load_script

pytestmark = pytest.mark.unit
VARS = {"raw_root": "s3://raw/freddie", "processed_root": "s3://processed/freddie"}
HQL = {Kind.ORIGINATION: "10_origination.hql", Kind.PERFORMANCE: "20_performance.hql"}


def _python_regex(layout: Layout) -> re.Pattern[str]:
    return re.compile(clean_line_pattern(layout).replace("\\z", "\\Z"))


def _checked_view(kind: Kind, fast_path: bool) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the kind's fields and checked views over an empty raw table."""
    con = duckdb.connect()
    con.execute(
        f"CREATE TABLE raw_{kind.value} (line VARCHAR, layout VARCHAR,"
        " INPUT__FILE__NAME VARCHAR, BLOCK__OFFSET__INSIDE__FILE BIGINT)"
    )
    for statement in load_script(tables.HQL_DIR / HQL[kind], VARS):
        if not statement.keyword.startswith("CREATE VIEW"):
            continue
        text = statement.text
        if not fast_path:
            for case in clean_line_cases(kind):
                text = text.replace(case, "")
        con.execute(DuckDBEngine._transpile(sqlglot.parse_one(text, read="hive")))
    return con


def _reasons(con: duckdb.DuckDBPyConnection, kind: Kind, rows: list[tuple[str, str]]) -> list[str | None]:
    lines = pa.table(  # noqa: F841 - DuckDB reads the local Arrow table by its name
        {
            "line": [line for line, _ in rows],
            "layout": [layout for _, layout in rows],
            "n": list(range(len(rows))),
        }
    )
    con.execute(f"DELETE FROM raw_{kind.value}")
    con.execute(f"INSERT INTO raw_{kind.value} SELECT line, layout, 'f', n FROM lines")
    found = con.execute(f"SELECT reason FROM {kind.value}_checked ORDER BY src_line").fetchall()
    return [reason for (reason,) in found]


# Random values: mostly valid ones of any length the rules allow, sometimes one near a limit.
TEXT = "AZaz09 é-,.&'"
EDGES = [
    *("", " ", "  N ", "\ufffd", "a|b", "\t", "\x00", "a\\"),
    *("NaN", "1e3", "-", "+1", "12 ", " 1", "é" * 13, "x" * 61),
]


def _valid(field: Field | None, rng: random.Random) -> str:
    if field is None:  # a field of a later release that no rule checks
        return "".join(rng.choice(TEXT) for _ in range(rng.randint(0, 5)))
    if field.name == "id_loan":
        return rng.choice("F9a") + "".join(rng.choice(TEXT) for _ in range(rng.randint(0, field.width - 1)))
    optional = "" if field.name in REQUIRED or rng.random() < 0.8 else None
    if optional is None:
        return ""
    if field.type in ("int", "decimal"):
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, field.width)))
        if field.type == "decimal" and rng.random() < 0.5:
            digits += "." + "".join(rng.choice("0123456789") for _ in range(rng.randint(1, field.scale)))
        return rng.choice(["", "-"]) + digits
    if field.type == "yyyymm":
        return f"{rng.randint(1990, 2030)}{rng.randint(1, 12):02d}"
    return "".join(rng.choice(TEXT) for _ in range(rng.randint(0, field.width)))


def _edge(field: Field | None, rng: random.Random) -> str:
    if field is not None and field.type == "yyyymm":
        return rng.choice(["201713", "201700", "20171", "2017-05", "", " 201705", "2017050"])
    if field is not None and field.type in ("int", "decimal"):
        too_long = "9" * (field.width + 1)
        return rng.choice([*EDGES, too_long, "1.2345", "-.5", "5."])
    width = field.width if field is not None else 5
    return rng.choice([*EDGES, "x" * width, "x" * (width + 1), " " * width + "x", "x" + " " * width])


def _random_line(layout: Layout, rng: random.Random) -> str:
    canonical = {f.name: f for f in CANONICAL[layout.kind]}
    fields = [canonical.get(f.name) for f in layout.fields]
    values = [_valid(f, rng) for f in fields]
    for _ in range(rng.choice([0, 1, 1, 2])):
        i = rng.randrange(len(values))
        values[i] = _edge(fields[i], rng)
    if rng.random() < 0.03:  # a field too many or too few
        values = values[:-1] if rng.random() < 0.5 else [*values, ""]
    return "|".join(values)


@pytest.mark.parametrize("kind", list(Kind))
def test_hql_holds_the_generated_patterns(kind: Kind) -> None:
    text = (tables.HQL_DIR / HQL[kind]).read_text()
    for case in clean_line_cases(kind):
        assert case in text, f"{HQL[kind]} lacks (or has an outdated) clean-line case:\n{case}"


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda lay: f"{lay.kind.value}-{lay.name}")
def test_a_line_the_pattern_matches_passes_every_rule(layout: Layout) -> None:
    rng = random.Random(f"{layout.kind}-{layout.name}")
    pattern = _python_regex(layout)
    lines = [_random_line(layout, rng) for _ in range(20_000)]
    matched = [line for line in lines if pattern.search(line)]
    # Enough of both kinds for the check to mean something.
    assert 2_000 < len(matched) < len(lines) - 2_000, len(matched)
    con = _checked_view(layout.kind, fast_path=False)
    reasons = _reasons(con, layout.kind, [(line, layout.name) for line in matched])
    unsound = [(line, reason) for line, reason in zip(matched, reasons, strict=True) if reason is not None]
    assert not unsound, unsound[:5]


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda lay: f"{lay.kind.value}-{lay.name}")
def test_the_fast_path_gives_the_same_reasons(layout: Layout) -> None:
    rng = random.Random(f"same-{layout.kind}-{layout.name}")
    rows: list[tuple[str, str]] = [(_random_line(layout, rng), layout.name) for _ in range(5_000)]
    rows += [(line, "nope") for line, _ in rows[:50]]  # an unknown layout partition never takes it
    slow = _reasons(_checked_view(layout.kind, fast_path=False), layout.kind, rows)
    fast = _reasons(_checked_view(layout.kind, fast_path=True), layout.kind, rows)
    assert fast == slow


@pytest.mark.parametrize("name", ["article", "guide2024", "release47"])
def test_generated_clean_lines_take_the_fast_path(name: str, tmp_path: Path) -> None:
    result = generate(tmp_path, name, 2_000, 10_000, dirty_share=0.0, seed=3)
    for generated in (result.origination, result.performance):
        layout = next(lay for lay in LAYOUTS if lay.kind is generated.kind and lay.name == name)
        pattern = _python_regex(layout)
        lines = generated.path.read_text(encoding="utf-8").splitlines()
        assert all(pattern.search(line) for line in lines), generated.path.name
