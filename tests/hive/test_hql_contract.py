"""The HQL files, the canonical schema and the warehouse tables describe the same columns."""

from __future__ import annotations

import re

import pytest
import sqlglot
from sqlglot import exp

from hive import tables
from producers.freddie.layouts import CANONICAL, Kind
from services.hql.script import load_script, split_statements, substitute

pytestmark = pytest.mark.unit
VARS = {"raw_root": "s3://raw/freddie", "processed_root": "s3://processed/freddie"}


def _statements() -> list[exp.Expr]:
    out = []
    for path in tables.HQL_FILES:
        for st in load_script(path, VARS):
            if not st.keyword.startswith(("SET", "MSCK")):
                out.append(sqlglot.parse_one(st.text, read="hive"))
    return out


def _create(name: str) -> exp.Create:
    for tree in _statements():
        if isinstance(tree, exp.Create) and tree.this.this.name == name:
            return tree
    raise AssertionError(f"no CREATE for {name}")


@pytest.mark.parametrize("kind", list(Kind))
def test_processed_tables_match_canonical_schema(kind: Kind) -> None:
    for name in (kind.value, f"{kind.value}_by_year"):
        cols = [
            (c.name, c.args["kind"].sql(dialect="hive").replace(" ", ""))
            for c in _create(name).this.expressions
        ]
        expected = [(f.name, f.sql_type) for f in CANONICAL[kind]]
        assert cols == expected, name


@pytest.mark.parametrize("kind", list(Kind))
def test_every_typed_field_has_a_matching_validation_rule(kind: Kind) -> None:
    text = (
        tables.HQL_DIR / ("10_origination.hql" if kind is Kind.ORIGINATION else "20_performance.hql")
    ).read_text()
    for f in CANONICAL[kind]:
        if f.type == "int":
            assert f"{f.name} RLIKE '^-?[0-9]{{1,{f.width}}}$'" in text, f.name
        elif f.type == "decimal":
            assert f"{f.name} RLIKE '^-?[0-9]{{1,{f.width}}}([.][0-9]{{1,{f.scale}}})?$'" in text, f.name
        elif f.type == "yyyymm":
            assert re.search(rf"{f.name} RLIKE '\^\[0-9\]\{{4\}}\(0\[1-9\]\|1\[0-2\]\)\$'", text), f.name
        else:
            assert f"length(trim({f.name})) > {f.width}" in text, f.name


def test_warehouse_schema_follows_canonical_fields() -> None:
    schema = tables.warehouse_schema(Kind.ORIGINATION)
    assert schema.column_names == [f.name for f in CANONICAL[Kind.ORIGINATION]]
    assert schema.primary_key == ("id_loan",)


def test_script_splitting_keeps_quoted_semicolons_and_drops_comments() -> None:
    text = "-- a comment; with a semicolon\nSELECT 'a;b' AS x;\n\nSELECT \"c;\" -- trailing\n;"
    statements = split_statements(text, source="t.hql")
    assert [s.text for s in statements] == ["SELECT 'a;b' AS x", 'SELECT "c;"']
    assert statements[1].origin == "t.hql statement 2"


def test_undefined_variable_names_the_file() -> None:
    with pytest.raises(KeyError, match=r"x.hql: variable \$\{nope\}"):
        substitute("LOCATION '${hivevar:nope}'", {}, source="x.hql")


@pytest.mark.parametrize("name", ["10_origination.hql", "20_performance.hql"])
def test_not_utf8_is_the_first_reject_rule(name: str) -> None:
    """Readers decode an invalid byte as U+FFFD; such a line is rejected for that before any other rule."""
    text = (tables.HQL_DIR / name).read_text(encoding="utf-8")
    checked = text[text.index("_checked AS") :]
    whens = [line.strip() for line in checked.splitlines() if line.strip().startswith("WHEN")]
    whens = [w for w in whens if not w.endswith("THEN NULL")]  # the clean-line fast path names no reason
    assert whens[0] == "WHEN instr(line, '\ufffd') > 0 THEN 'line is not valid UTF-8'"
    duck = sqlglot.transpile(whens[0].join(["SELECT CASE ", " END FROM t"]), read="hive", write="duckdb")[0]
    assert "STRPOS(line, '\ufffd') > 0" in duck
