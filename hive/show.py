"""What the batch pipeline left behind, for a person to look at: row counts and a few rows of each
warehouse table (MySQL ``origination``, Redshift ``performance``) and of the rejects the HQL step kept in
S3 (Parquet, per layout, with the top reasons)."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from hive import tables
from producers.freddie.layouts import Kind
from services.objectstore import ObjectStore, inside
from services.settings import Settings
from services.warehouse import factory
from services.warehouse.mysql import connect as mysql_connect
from services.warehouse.postgres import connect as pg_connect

SAMPLE_COLUMNS = {
    Kind.ORIGINATION: ("id_loan", "dt_first_pi", "fico", "orig_upb", "int_rt", "st", "seller_name"),
    Kind.PERFORMANCE: ("id_loan", "period", "act_endg_upb", "delq_sts", "loan_age", "new_int_rt"),
}
RULE = "regexp_replace(reason, '[:,].*$', '')"  # a reason's text before ':' or ',' names the rule


@dataclass
class TableView:
    where: str  # "MySQL origination", "rejects origination (S3)" …
    rows: int | None  # None: the table does not exist yet
    columns: list[str] = field(default_factory=list)
    sample: list[tuple[Any, ...]] = field(default_factory=list)
    by_layout: dict[str, int] = field(default_factory=dict)
    top_reasons: dict[str, int] = field(default_factory=dict)


def warehouse_tables(settings: Settings, limit: int) -> list[TableView]:
    mysql_dsn = factory.resolved_dsn(settings, settings.mysql.dsn, settings.mysql.password_secret, "mysql")
    r = settings.redshift
    pg_dsn = factory.resolved_dsn(settings, r.dsn, r.password_secret, "postgresql")
    views = []
    with mysql_connect(mysql_dsn) as con, con.cursor() as cur:
        views.append(_sql_table(cur, "MySQL origination", Kind.ORIGINATION, limit, "DATABASE()"))
    with pg_connect(pg_dsn) as pg, pg.cursor() as cur:
        views.append(_sql_table(cur, "Redshift performance", Kind.PERFORMANCE, limit, "current_schema()"))
    return views


def _sql_table(cur: Any, where: str, kind: Kind, limit: int, schema: str) -> TableView:
    """Count and sample one warehouse table (``schema``: the SQL that names the current schema)."""
    table = kind.value
    cur.execute(  # both drivers take %s placeholders
        f"SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = {schema} AND table_name = %s",
        (table,),
    )
    if cur.fetchone()[0] == 0:
        return TableView(where, None)
    cur.execute(f"SELECT COUNT(*) FROM {table}")
    rows = int(cur.fetchone()[0])
    columns = list(SAMPLE_COLUMNS[kind])
    order = ", ".join(columns[:2])  # a loan, then its date
    cur.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY {order} LIMIT {int(limit)}")
    return TableView(where, rows, columns, list(cur.fetchall()))


def reject_tables(settings: Settings, store: ObjectStore, limit: int) -> list[TableView]:
    """The rejects Parquet under the processed bucket, read with DuckDB from a local copy."""
    views = []
    with tempfile.TemporaryDirectory(prefix="bdml-rejects-") as tmp:
        for kind in Kind:
            prefix = tables.processed_root(settings).join("rejects", kind.value)
            objects = store.data_objects(prefix) if store.bucket_exists(prefix.bucket) else []
            if not objects:
                views.append(TableView(f"rejects {kind.value} (S3)", None))
                continue
            paths = []
            for n, uri in enumerate(objects):
                path = inside(Path(tmp), f"{kind.value}/{n}.parquet")
                store.download(uri, path)
                paths.append(str(path))
            views.append(_rejects(kind, paths, limit))
    return views


def _rejects(kind: Kind, paths: list[str], limit: int) -> TableView:
    con = duckdb.connect()
    con.read_parquet(paths).create_view("rejects")
    (rows,) = con.execute("SELECT COUNT(*) FROM rejects").fetchone() or (0,)
    by_layout = dict(
        con.execute("SELECT layout, COUNT(*) FROM rejects GROUP BY 1 ORDER BY 2 DESC").fetchall()
    )
    reasons = con.execute(
        f"SELECT {RULE}, COUNT(*) FROM rejects GROUP BY 1 ORDER BY 2 DESC LIMIT 5"
    ).fetchall()
    columns = ["src_file", "src_line", "reason"]
    sample = con.execute(
        "SELECT regexp_replace(src_file, '^.*/', ''), src_line, reason FROM rejects"
        f" ORDER BY src_file, src_line LIMIT {int(limit)}"
    ).fetchall()
    con.close()
    return TableView(f"rejects {kind.value} (S3)", int(rows), columns, sample, by_layout, dict(reasons))
