"""MySQL / MariaDB / RDS MySQL loader (replaces Sqoop, gone from EMR 7.5+).

``LOAD DATA LOCAL INFILE`` is ~5x faster than executemany, but MySQL turns bad values into warnings
(truncation, '' → 0) even in strict mode. So: load into a staging table, treat ANY warning as a failure
and drop the stage, else swap stage and target atomically with RENAME TABLE. A failed load leaves the
target exactly as it was; a rerun with the same input leaves the same rows.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import pymysql
from pymysql.connections import MySQLResult
from pymysql.protocol import LoadLocalPacketWrapper

from services.dsn import parse_dsn
from services.objectstore import ObjectStore, S3Uri, inside
from services.reconcile import StepReport, count_lines, timed
from services.warehouse.schema import LoadError, TableSchema, checked_identifier

log = logging.getLogger(__name__)
MAX_WARNINGS_SHOWN = 5
TLS_OPTIONS = ("ssl_ca", "ssl_cert", "ssl_key")  # the DSN query options passed to the driver


class _OneFileResult(MySQLResult):
    """A query result that answers a server's LOAD LOCAL request only for the file being loaded."""

    def _read_load_local_packet(self, first_packet: Any) -> None:
        conn = cast(GuardedConnection, self.connection)
        requested = os.fsdecode(LoadLocalPacketWrapper(first_packet).filename)
        if conn.allowed_local_file is not None and requested == conn.allowed_local_file:
            super()._read_load_local_packet(first_packet)  # type: ignore[misc]  # not in the stubs
            return
        conn.write_packet(b"")  # an empty file: nothing of ours leaves, and the protocol stays in step
        conn._read_packet()
        raise LoadError(
            f"the MySQL server at {conn.host}:{conn.port} asked for the local file {requested!r}, which bdml "
            "is not loading: refused (is this the server you meant?)"
        )


class GuardedConnection(pymysql.connections.Connection):
    """PyMySQL sends any file a server names on any statement once ``local_infile`` is on. Here LOCAL
    is negotiated (LOAD DATA LOCAL needs it) but answered only inside ``local_file(path)``, for that path."""

    allowed_local_file: str | None = None

    def _read_query_result(self, unbuffered: bool = False) -> int:
        self._result = None
        result = _OneFileResult(self)
        if unbuffered:
            result.init_unbuffered_query()
        else:
            result.read()
        self._result = result
        if result.server_status is not None:
            self.server_status = result.server_status
        return int(result.affected_rows or 0)

    @contextmanager
    def local_file(self, path: Path) -> Iterator[None]:
        self.allowed_local_file = str(path)
        try:
            yield
        finally:
            self.allowed_local_file = None


def connection_options(dsn: str) -> dict[str, Any]:
    """Keyword arguments for the driver: TLS options from the DSN's query, and TLS with certificate and
    host-name checks required for any server not on this machine (RDS)."""
    d = parse_dsn(dsn, "mysql")
    unknown = sorted(set(d.options) - set(TLS_OPTIONS))
    if unknown:
        raise ValueError(f"the MySQL URL has options {', '.join(unknown)}; known: {', '.join(TLS_OPTIONS)}")
    tls: dict[str, Any] = dict(d.options)
    if tls or not d.is_local:
        tls |= {"ssl_verify_cert": True, "ssl_verify_identity": True}
    return {
        "host": d.host,
        "port": d.port,
        "user": d.user,
        "password": d.password or "",
        "database": d.database,
        "local_infile": True,  # negotiated only; GuardedConnection decides what is ever sent
        "charset": "utf8mb4",
        "autocommit": True,
        **tls,
    }


def connect(dsn: str) -> GuardedConnection:
    return GuardedConnection(**connection_options(dsn))


class MySQLLoader:
    """``LOAD DATA LOCAL`` needs files on this machine: each object is downloaded to a scratch folder
    under ``work`` (removed afterwards), then loaded."""

    def __init__(self, dsn: str, store: ObjectStore, work: Path) -> None:
        self.dsn, self.store, self.work = dsn, store, work

    def load(self, schema: TableSchema, objects: list[S3Uri]) -> StepReport:
        self.work.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=f"{schema.name}-", dir=self.work) as scratch:
            paths = []
            for n, uri in enumerate(objects):
                path = inside(Path(scratch), f"{n:05d}-{uri.key.rsplit('/', 1)[-1]}")
                self.store.download(uri, path)
                paths.append(path)
            return self.load_files(schema, paths)

    def load_files(self, schema: TableSchema, files: list[Path]) -> StepReport:
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
        with cast(GuardedConnection, cur.connection).local_file(path):  # this statement, this file only
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
