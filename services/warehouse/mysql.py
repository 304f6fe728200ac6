"""MySQL / MariaDB / RDS MySQL loader (replaces Sqoop, gone from EMR 7.5+).

``LOAD DATA LOCAL INFILE`` is ~5x faster than executemany, but MySQL turns bad values into warnings
(truncation, '' → 0) even in strict mode. So: load into a staging table, treat ANY warning as a failure
and drop the stage, else swap stage and target atomically with RENAME TABLE. A failed load leaves the
target exactly as it was; a rerun with the same input leaves the same rows.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pymysql

from services.reconcile import StepReport, count_lines, timed
from services.stack.dsn import parse_dsn
from services.warehouse.schema import LoadError, TableSchema, checked_identifier

log = logging.getLogger(__name__)
MAX_WARNINGS_SHOWN = 5


def connect(dsn: str) -> pymysql.connections.Connection:
    d = parse_dsn(dsn, "mysql")
    return pymysql.connect(
        host=d.host,
        port=d.port,
        user=d.user,
        password=d.password or "",
        database=d.database,
        local_infile=True,
        charset="utf8mb4",
        autocommit=True,
    )


class MySQLLoader:
    def __init__(self, dsn: str) -> None:
        self.dsn = dsn

    def load(self, schema: TableSchema, files: list[Path]) -> StepReport:
        """Replace ``schema.name`` with the rows of ``files`` (pipe-delimited, NULL as \\N)."""
        target = checked_identifier(schema.name)
        stage, old = f"{target}__stage", f"{target}__old"
        report = StepReport(step=f"load mysql {target}", detail={"files": [str(f) for f in files]})
        with timed(report), connect(self.dsn) as con, con.cursor() as cur:
            report.rows_in = sum(count_lines(f) for f in files)
            cur.execute(schema.ddl("mysql"))
            cur.execute(f"DROP TABLE IF EXISTS {stage}")
            cur.execute(f"CREATE TABLE {stage} LIKE {target}")
            try:
                for path in files:
                    self._load_file(cur, stage, schema, path)
                cur.execute(f"SELECT COUNT(*) FROM {stage}")
                loaded = int(cur.fetchone()[0])  # type: ignore[index]
                if loaded != report.rows_in:
                    raise LoadError(f"{target}: read {report.rows_in:,} lines but staged {loaded:,} rows")
            except BaseException:
                cur.execute(f"DROP TABLE IF EXISTS {stage}")
                raise
            cur.execute(f"DROP TABLE IF EXISTS {old}")
            cur.execute(f"RENAME TABLE {target} TO {old}, {stage} TO {target}")  # atomic swap
            cur.execute(f"DROP TABLE {old}")
            report.rows_out = loaded
        log.info("mysql: %s loaded %d rows in %.1fs", target, report.rows_out, report.seconds)
        return report.check()

    @staticmethod
    def _load_file(cur: pymysql.cursors.Cursor, stage: str, schema: TableSchema, path: Path) -> None:
        escaped = str(path).replace("\\", "\\\\").replace("'", "\\'")
        cur.execute(
            f"LOAD DATA LOCAL INFILE '{escaped}' INTO TABLE {stage} CHARACTER SET utf8mb4 "
            "FIELDS TERMINATED BY '|' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' "
            f"({', '.join(schema.column_names)})"
        )
        cur.execute("SHOW COUNT(*) WARNINGS")
        n_warnings = int(cur.fetchone()[0])  # type: ignore[index]
        if n_warnings:
            cur.execute(f"SHOW WARNINGS LIMIT {MAX_WARNINGS_SHOWN}")
            shown = "; ".join(f"{level} {code}: {msg}" for level, code, msg in cur.fetchall())
            raise LoadError(
                f"{path.name}: MySQL reported {n_warnings} warning(s) loading {schema.name}; "
                f"nothing was loaded. First: {shown}"
            )
