"""Turn the input mapping (sql/input_mapping.sql: JSON path → typed column) into the query that maps a
micro-batch. Each column yields its typed value and, when it cannot, a reason naming the path, what came
and what was expected. No value is coerced silently: a string "42" is not an INTEGER age, and an ISO time
with an offset is converted to UTC, never truncated.

Reasons start with a code (``malformed_json``, ``missing_field``, ``wrong_type``, ``out_of_range``) and a
colon, so they can be counted by rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SQL_DIR = Path(__file__).resolve().parent / "sql"
RECORD_ID_PATTERN = r'"record_id"\s*:\s*"([0-9a-fA-F-]{36})"'
EXCERPT_CHARS = 40


@dataclass(frozen=True)
class Column:
    name: str
    path: str
    sql_type: str
    json_types: tuple[str, ...]
    valid_when: str


def read_sql(name: str) -> str:
    return (SQL_DIR / name).read_text()


def load_columns(con: Any) -> list[Column]:
    """Run sql/input_mapping.sql (it is a plain SELECT) to read the column definitions."""
    rows = con.execute(read_sql("input_mapping.sql")).fetchall()
    return [Column(str(n), str(p), str(t).upper(), tuple(j), str(v)) for n, p, t, j, v in rows]


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _typed(column: Column, raw: str) -> str:
    if column.sql_type == "TIMESTAMP":
        # Via TIMESTAMPTZ so "…+02:00" becomes UTC; the session time zone is UTC for offset-less strings.
        return f"(TRY_CAST({raw} AS TIMESTAMPTZ) AT TIME ZONE 'UTC')"
    return f"TRY_CAST({raw} AS {column.sql_type})"


def _column_sql(c: Column, index: int) -> tuple[str, str]:
    """(select list items for the column, its error expression). ``index``: the column's position in the
    list of values extracted from the document in one pass (see mapped_table_sql)."""
    value = f"v[{index + 1}]"  # the JSON value at the column's path, NULL when the path is absent
    jtype = f"json_type({value})"
    raw = f"json_extract_string({value}, '$')"
    excerpt = f"left({value}::VARCHAR, {EXCERPT_CHARS})"
    accepted = ", ".join(_lit(t) for t in c.json_types)
    expected = _lit(f"expected {c.sql_type}" + f" (JSON {'/'.join(t.lower() for t in c.json_types)})")
    check = _bind_value(c.valid_when, f'"{c.name}"')
    rule = _lit(f" breaks the rule {_bind_value(c.valid_when, c.name)}")
    select = f'{_typed(c, raw)} AS "{c.name}", {jtype} AS "t_{c.name}", {excerpt} AS "x_{c.name}"'
    error = (
        f"CASE"
        f' WHEN "t_{c.name}" IS NULL OR "t_{c.name}" = \'NULL\''
        f" THEN {_lit(f'missing_field: {c.path} is missing or null')}"
        f' WHEN "t_{c.name}" NOT IN ({accepted})'
        f' THEN {_lit(f"wrong_type: {c.path} is JSON ")} || lower("t_{c.name}") || \' \' || "x_{c.name}"'
        f" || ', ' || {expected}"
        f' WHEN "{c.name}" IS NULL'
        f" THEN {_lit(f'wrong_type: {c.path} = ')} || \"x_{c.name}\" || ' is not a valid {c.sql_type}'"
        f" WHEN NOT ({check})"
        f' THEN {_lit(f"out_of_range: {c.path} = ")} || "x_{c.name}" || {rule}'
        f" END"
    )
    return select, error


def _bind_value(condition: str, column: str) -> str:
    """Replace the placeholder ``v`` (a whole word) in a valid_when condition with the column."""
    return re.sub(r"\bv\b", column, condition)


def mapped_table_sql(columns: list[Column]) -> str:
    """CREATE the ``mapped`` table from ``raw_batch(pos, shard_id, sequence_number, arrival_ms, data)``:
    typed columns, ``error`` (NULL or 'code: reason') and the salvaged ``record_id`` used to report it."""
    selects, errors = zip(*(_column_sql(c, i) for i, c in enumerate(columns)), strict=True)
    paths = ", ".join(_lit(c.path) for c in columns)
    error_chain = ",\n            ".join(errors)
    return f"""
CREATE OR REPLACE TEMP TABLE mapped AS
WITH parsed AS (
    SELECT *,
        CASE WHEN data IS NOT NULL AND json_valid(data) THEN data::JSON END AS doc,
        NULLIF(regexp_extract(coalesce(data, ''), {_lit(RECORD_ID_PATTERN)}, 1), '') AS salvaged_id
    FROM raw_batch
), extracted AS (
    -- All paths in one pass over the document (one json_extract per path would parse it each time).
    SELECT *, json_extract(doc, [{paths}]) AS v FROM parsed
), typed AS (
    SELECT *, {", ".join(selects)}
    FROM extracted
), checked AS (
    SELECT *,
        CASE
            WHEN data IS NULL THEN 'malformed_json: the record is not UTF-8 text'
            WHEN doc IS NULL THEN 'malformed_json: not valid JSON (' || nbytes || ' bytes, starts '
                || left(data, {EXCERPT_CHARS}) || ')'
            WHEN json_type(doc) <> 'OBJECT'
                THEN 'malformed_json: the record is a JSON ' || lower(json_type(doc))
                || ', not an object'
        END AS parse_error
    FROM typed
)
SELECT * EXCLUDE (parse_error, doc, v),
    coalesce(parse_error,
            {error_chain}) AS error,
    coalesce(CAST("record_id" AS VARCHAR), salvaged_id) AS any_record_id
FROM checked
"""


def flag_duplicates_sql() -> str:
    """Mark repeats inside the batch (same record id, later position) and ids listed in ``seen_ids``."""
    return """
CREATE OR REPLACE TEMP TABLE mapped AS
SELECT * EXCLUDE (duplicate_rank),
    any_record_id IS NOT NULL AND (duplicate_rank > 1 OR any_record_id IN (SELECT record_id FROM seen_ids))
        AS duplicate
FROM (
    SELECT *, row_number() OVER (PARTITION BY any_record_id ORDER BY pos) AS duplicate_rank FROM mapped
)
"""
