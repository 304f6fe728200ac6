"""Redshift loaders over the PostgreSQL protocol.

- :class:`CopyStdinLoader` streams the processed text straight from S3 into ``COPY … FROM STDIN`` (the
  local stand-in: PostgreSQL; no temp file). PostgreSQL COPY aborts on the first bad row.
- :class:`RedshiftS3CopyLoader` issues Redshift's own ``COPY … FROM 's3://…' IAM_ROLE …`` so the data
  never passes through this machine.

Both stage inside one transaction and swap, so a failure leaves the target as it was and a rerun with
the same input leaves the same rows.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import psycopg

from services.dsn import parse_dsn
from services.objectstore import ObjectStore, S3Uri
from services.reconcile import StepReport, timed
from services.warehouse.schema import LoadError, TableSchema, checked_identifier

log = logging.getLogger(__name__)
CHUNK = 1 << 20


TLS_OPTIONS = ("sslmode", "sslrootcert", "sslcert", "sslkey")  # the DSN query options passed to libpq
VERIFYING = ("verify-ca", "verify-full")


def connection_options(dsn: str) -> dict[str, Any]:
    """Keyword arguments for psycopg: TLS options from the DSN's query; for any server not on this
    machine (Redshift) TLS with certificate checks, by default against the system's CAs."""
    d = parse_dsn(dsn, "postgresql")
    unknown = sorted(set(d.options) - set(TLS_OPTIONS))
    if unknown:
        raise ValueError(
            f"the PostgreSQL URL has options {', '.join(unknown)}; known: {', '.join(TLS_OPTIONS)}"
        )
    tls = dict(d.options)
    if not d.is_local:
        tls.setdefault("sslmode", "verify-full")
        tls.setdefault("sslrootcert", "system")
        if tls["sslmode"] not in VERIFYING:
            raise ValueError(
                f"{d.host} is not on this machine: its connection must check the server's certificate "
                f"(sslmode=verify-full or verify-ca in the URL), not sslmode={tls['sslmode']}"
            )
    return {
        "host": d.host,
        "port": d.port,
        "user": d.user,
        "password": d.password,
        "dbname": d.database,
        "autocommit": False,
        **tls,
    }


def connect(dsn: str) -> psycopg.Connection[Any]:
    return psycopg.connect(**connection_options(dsn))


class CopyStdinLoader:
    def __init__(self, dsn: str, store: ObjectStore) -> None:
        self.dsn, self.store = dsn, store

    def load(self, schema: TableSchema, objects: list[S3Uri]) -> StepReport:
        target = checked_identifier(schema.name)
        stage = f"{target}__stage"
        report = StepReport(step=f"load redshift {target}", detail={"objects": [str(o) for o in objects]})
        with timed(report), connect(self.dsn) as con:
            try:
                with con.cursor() as cur:
                    cur.execute(schema.ddl("postgresql"))
                    cur.execute(f"DROP TABLE IF EXISTS {stage}")
                    cur.execute(f"CREATE TABLE {stage} (LIKE {target} INCLUDING ALL)")
                    copy_sql = (
                        f"COPY {stage} ({', '.join(schema.column_names)}) FROM STDIN "
                        "WITH (FORMAT text, DELIMITER '|', NULL '\\N')"
                    )
                    for uri in objects:
                        report.rows_in += self._copy_object(cur, copy_sql, uri)
                    cur.execute(f"SELECT COUNT(*) FROM {stage}")
                    loaded = int(cur.fetchone()[0])  # type: ignore[index]
                    if loaded != report.rows_in:
                        raise LoadError(f"{target}: read {report.rows_in:,} lines but staged {loaded:,} rows")
                    cur.execute(f"DROP TABLE {target}")
                    cur.execute(f"ALTER TABLE {stage} RENAME TO {target}")
                con.commit()
            except psycopg.Error as err:
                con.rollback()
                raise LoadError(f"{target}: PostgreSQL refused the load, nothing changed: {err}") from err
            report.rows_out = loaded
        log.info("postgres: %s loaded %d rows in %.1fs", target, report.rows_out, report.seconds)
        return report.check()

    def _copy_object(self, cur: psycopg.Cursor[Any], copy_sql: str, uri: S3Uri) -> int:
        body = self.store.open(uri)
        lines = 0
        with cur.copy(copy_sql) as copy:
            for chunk in iter(lambda: body.read(CHUNK), b""):
                lines += chunk.count(b"\n")
                copy.write(chunk)
        return lines


_ROLE_ARN = re.compile(r"arn:aws(-[a-z]+)*:iam::\d{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d")
# s3://bucket/prefix/: S3's bucket rules, and key characters AWS calls safe (plus '=' for partitions).
_S3_PREFIX = re.compile(r"s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/[A-Za-z0-9!_.*()=/-]*")


def _quote(text: str) -> str:
    """A SQL string literal (standard quoting: the only special character is the quote itself)."""
    return "'" + text.replace("'", "''") + "'"


class RedshiftS3CopyLoader:
    """Real Redshift: the cluster reads S3 itself through an IAM role."""

    def __init__(self, dsn: str, iam_role: str, region: str) -> None:
        if not iam_role:
            raise ValueError("Redshift COPY needs an IAM role: set BDML_REDSHIFT__IAM_ROLE")
        if not _ROLE_ARN.fullmatch(iam_role):
            raise ValueError(
                f"BDML_REDSHIFT__IAM_ROLE={iam_role!r} is not an IAM role ARN "
                "(arn:aws:iam::<12-digit account>:role/<name>)"
            )
        if not _REGION.fullmatch(region):
            raise ValueError(f"{region!r} is not an AWS region name (BDML_AWS__REGION)")
        self.dsn, self.iam_role, self.region = dsn, iam_role, region

    def copy_sql(self, stage: str, schema: TableSchema, prefix: S3Uri) -> str:
        """The COPY statement. The S3 prefix comes from object keys: it is checked, and every literal is
        quoted, so no key or setting can end the string and add SQL."""
        source = f"{prefix}/"
        if not _S3_PREFIX.fullmatch(source):
            raise LoadError(f"{source!r} is not an S3 prefix Redshift COPY should read (odd characters)")
        return (
            f"COPY {checked_identifier(stage)} ({', '.join(schema.column_names)}) FROM {_quote(source)} "
            f"IAM_ROLE {_quote(self.iam_role)} REGION {_quote(self.region)} DELIMITER '|' NULL AS '\\\\N' "
            "DATEFORMAT 'YYYY-MM-DD'"
        )

    def load(self, schema: TableSchema, objects: list[S3Uri]) -> StepReport:
        target = checked_identifier(schema.name)
        stage = f"{target}__stage"
        prefix = S3Uri(objects[0].bucket, objects[0].key.rsplit("/", 1)[0]) if objects else None
        report = StepReport(step=f"load redshift {target}", detail={"prefix": str(prefix)})
        if prefix is None:
            raise LoadError(f"{target}: no processed objects to load")
        with timed(report), connect(self.dsn) as con:
            try:
                with con.cursor() as cur:
                    cur.execute(schema.ddl("redshift"))
                    cur.execute(f"CREATE TEMP TABLE {stage} (LIKE {target})")
                    cur.execute(self.copy_sql(stage, schema, prefix))
                    cur.execute("SELECT pg_last_copy_count()")
                    report.rows_in = int(cur.fetchone()[0])  # type: ignore[index]
                    cur.execute(f"DELETE FROM {target}")
                    cur.execute(f"INSERT INTO {target} SELECT * FROM {stage}")
                    report.rows_out = cur.rowcount
                con.commit()
            except psycopg.Error as err:
                con.rollback()
                raise LoadError(f"{target}: Redshift refused the load, nothing changed: {err}") from err
        return report.check()
