"""The DuckDB engine's one-pass multi-insert: each insert's columns are computed for the rows its WHERE
sends there; expressions that cannot fail are computed for every row (cheaper than a CASE around each),
anything that could fail, and bare columns, only for the insert's own rows."""

from __future__ import annotations

import duckdb
import pytest
import sqlglot
from sqlglot import exp

from services.hql.duckdb_engine import DuckDBEngine, _route, _Routed

pytestmark = pytest.mark.unit

MULTI = """
FROM src
INSERT OVERWRITE TABLE good SELECT trim(name), CAST(nullif(n, '') AS INT), sqrt(x) WHERE ok
  SORT BY trim(name), n
INSERT OVERWRITE TABLE bad SELECT line, concat('row ', line) WHERE NOT ok
"""


def _routed_select() -> tuple[str, list[exp.Expr], list[_Routed]]:
    tree = sqlglot.parse_one(MULTI, read="hive")
    assert isinstance(tree, exp.MultitableInserts)
    columns: list[exp.Expr] = []
    routes = [_route(insert.expression, k, columns) for k, insert in enumerate(tree.expressions)]
    return DuckDBEngine._transpile(exp.select(*columns).from_("src")), columns, routes


def test_only_expressions_that_cannot_fail_lose_their_guard() -> None:
    _, columns, _ = _routed_select()
    guarded = {c.alias: isinstance(c.this, exp.Case) for c in columns if c.alias.startswith("__c")}
    assert guarded == {
        "__c0_0": False,  # trim
        "__c0_1": False,  # Hive's lenient CAST of nullif
        "__c0_2": True,  # sqrt fails on a negative number
        "__c1_0": True,  # a bare column: unguarded, every row would store it
        "__c1_1": False,  # concat
    }


def test_a_row_never_meets_the_failing_expression_of_another_insert() -> None:
    select, _, _ = _routed_select()
    con = duckdb.connect()
    con.execute("CREATE TABLE src (name VARCHAR, n VARCHAR, x DOUBLE, line VARCHAR, ok BOOLEAN)")
    con.execute("INSERT INTO src VALUES (' a ', '7', 4.0, 'l1', true), ('b', 'x', -1.0, 'l2', false)")
    rows = con.execute(f"SELECT __w0, __c0_2, __w1, __c1_0, __c1_1 FROM ({select})").fetchall()
    # sqrt(-1) would raise; the second row goes to 'bad' only, so it is never computed there.
    assert rows == [(True, 2.0, False, None, "row l1"), (False, None, True, "l2", "row l2")]


def test_a_sort_key_that_is_also_a_value_is_computed_once() -> None:
    _, columns, routes = _routed_select()
    keys = [key.this.name for key in routes[0].keys]
    assert keys == ["__c0_0", "__s0_1"]  # trim(name) is the first value; n is not a value
    assert [c.alias for c in columns].count("__c0_0") == 1
    assert "__s0_0" not in [c.alias for c in columns]
