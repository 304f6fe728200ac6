"""HiveServer2 executor of the HQL files: statements go over the HiveServer2 Thrift protocol (pyhive) to
a real Hive (EMR, a Hive container) or to a Spark Thrift Server, which speaks the same protocol.

Statements run verbatim on Hive. A Spark Thrift Server has no Hive virtual columns, so with
``virtual_columns='spark'`` they are rewritten: ``INPUT__FILE__NAME`` becomes Spark's
``input_file_name()`` (the same full file URI) and ``BLOCK__OFFSET__INSIDE__FILE`` becomes
``CAST(NULL AS BIGINT)`` - where a line sits in its file is then unknown. (The in-process
:class:`~services.hql.spark_engine.SparkEngine` gives exact line numbers instead.)
"""

from __future__ import annotations

import logging
import re
import time
from typing import TYPE_CHECKING, Any, Literal

from services.hql.base import HqlEngine, HqlError
from services.hql.script import HqlStatement
from services.settings import HqlSettings, Settings

if TYPE_CHECKING:
    from pyhive.hive import Connection

log = logging.getLogger(__name__)

VirtualColumns = Literal["hive", "spark"]

_SPARK_VIRTUAL_COLUMNS = (
    (re.compile(r"\bINPUT__FILE__NAME\b", re.IGNORECASE), "input_file_name()"),
    (re.compile(r"\bBLOCK__OFFSET__INSIDE__FILE\b", re.IGNORECASE), "CAST(NULL AS BIGINT)"),
)


class HiveServer2Unavailable(ConnectionError):
    """No HiveServer2 answers at the configured address."""

    def __init__(self, hql: HqlSettings, cause: BaseException) -> None:
        address = f"{hql.hiveserver2_host}:{hql.hiveserver2_port}"
        super().__init__(
            f"no HiveServer2 answers at {address} ({cause}). Start a local Spark Thrift Server with "
            f"`python -m services.hql.thrift_server --port {hql.hiveserver2_port}`, or point "
            "BDML_HQL__HIVESERVER2_HOST / BDML_HQL__HIVESERVER2_PORT at a running HiveServer2."
        )


def spark_virtual_columns(sql: str) -> str:
    """Hive's virtual columns in Spark SQL terms (see the module docstring)."""
    for pattern, replacement in _SPARK_VIRTUAL_COLUMNS:
        sql = pattern.sub(replacement, sql)
    return sql


class HiveServer2Engine(HqlEngine):
    """HQL over one HiveServer2 session (opened on first use, closed by :meth:`close`)."""

    name = "hiveserver2"

    def __init__(self, settings: Settings, virtual_columns: VirtualColumns = "hive") -> None:
        if virtual_columns not in ("hive", "spark"):
            raise ValueError(f"virtual_columns must be 'hive' or 'spark', not {virtual_columns!r}")
        self._hql = settings.hql
        self._virtual_columns = virtual_columns
        self._connection: Connection | None = None

    def execute(self, statement: HqlStatement) -> None:
        log.info("hiveserver2: %s: %s", statement.origin, statement.keyword)
        started = time.monotonic()
        self._run(statement, fetch=False)
        log.info("hiveserver2: %s done in %.1f s", statement.origin, time.monotonic() - started)

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        return self._run(HqlStatement(sql, "<query>"), fetch=True)

    def close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            except Exception as exc:  # the server may be gone already; nothing left to release
                log.debug("hiveserver2: closing the session failed: %s", exc)
            self._connection = None

    # -- internals --

    def _connect(self) -> Connection:
        from pyhive import hive
        from thrift.transport.TTransport import TTransportException

        try:
            return hive.connect(
                host=self._hql.hiveserver2_host,
                port=self._hql.hiveserver2_port,
                auth=self._hql.hiveserver2_auth,
                username=self._hql.hiveserver2_user,
            )
        except (TTransportException, OSError) as exc:
            raise HiveServer2Unavailable(self._hql, exc) from exc

    def _adapt(self, sql: str) -> str:
        return spark_virtual_columns(sql) if self._virtual_columns == "spark" else sql

    def _run(self, statement: HqlStatement, *, fetch: bool) -> list[tuple[Any, ...]]:
        if self._connection is None:
            self._connection = self._connect()
        cursor = self._connection.cursor()
        try:
            cursor.execute(self._adapt(statement.text))
            return [tuple(row) for row in cursor.fetchall()] if fetch else []
        except Exception as exc:
            raise HqlError(statement, _server_message(exc)) from exc
        finally:
            cursor.close()


def _server_message(exc: BaseException) -> str:
    """The server's own error text from a pyhive error (which otherwise prints a whole Thrift response),
    cut before the Java stack trace."""
    response = exc.args[0] if exc.args else None
    message = getattr(getattr(response, "status", None), "errorMessage", None) or getattr(
        response, "errorMessage", None
    )
    text = str(message or exc).strip()
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("at ")]
    short = "\n".join(lines[:6])
    return short if len(lines) <= 6 else short + "\n  ..."
