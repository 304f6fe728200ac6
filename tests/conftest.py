"""Shared fixtures. Integration tests talk to the real servers of the active profile (embedded: MiniStack,
MariaDB, PostgreSQL; `make test` starts them) but with their own buckets and databases, so a test run never
touches the demo's data."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pymysql
import pytest

from services.dsn import parse_dsn
from services.objectstore import ObjectStore
from services.settings import (
    MySQLSettings,
    RedshiftSettings,
    S3Settings,
    Settings,
    StackSettings,
    get_settings,
)

TEST_DB = "bdml_test"


def _with_database(dsn: str, database: str) -> str:
    return dsn.rsplit("/", 1)[0] + "/" + database


def _create_mysql_db(dsn: str) -> None:
    d = parse_dsn(dsn, "mysql")
    con = pymysql.connect(host=d.host, port=d.port, user=d.user, password=d.password or "", autocommit=True)
    with con, con.cursor() as cur:
        cur.execute(f"CREATE DATABASE IF NOT EXISTS {d.database} CHARACTER SET utf8mb4")


def _create_pg_db(dsn: str) -> None:
    d = parse_dsn(dsn, "postgresql")
    with psycopg.connect(
        host=d.host, port=d.port, user=d.user, password=d.password, dbname="postgres", autocommit=True
    ) as con:
        if not con.execute("SELECT 1 FROM pg_database WHERE datname = %s", (d.database,)).fetchone():
            con.execute(f"CREATE DATABASE {d.database}")  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def base_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    s = get_settings()
    run_id = uuid.uuid4().hex[:8]
    return s.model_copy(
        update={
            "s3": S3Settings(
                raw_bucket=f"bdml-test-raw-{run_id}", processed_bucket=f"bdml-test-processed-{run_id}"
            ),
            "mysql": MySQLSettings(dsn=_with_database(s.mysql.dsn, TEST_DB)),
            "redshift": RedshiftSettings(
                **{**s.redshift.model_dump(), "dsn": _with_database(s.redshift.dsn, TEST_DB)}
            ),
            "stack": StackSettings(**{**s.stack.model_dump(), "home": s.stack.home}),
        }
    )


@pytest.fixture(scope="session")
def stack(base_settings: Settings) -> Settings:
    """The real servers, up (started by `make test`; started here too when run alone)."""
    from services.stack import up

    status = up(base_settings)
    if not status.ok:
        pytest.fail(
            "the embedded stack is not up:\n"
            + "\n".join(f"  {c.name}: {c.state} {c.detail}" for c in status.components)
        )
    _create_mysql_db(base_settings.mysql.dsn)
    _create_pg_db(base_settings.redshift.dsn)
    return base_settings


@pytest.fixture
def store(stack: Settings) -> Iterator[ObjectStore]:
    s = ObjectStore(stack)
    for bucket in (stack.s3.raw_bucket, stack.s3.processed_bucket):
        s.ensure_bucket(bucket)
    yield s


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """Set BDML_* variables for code that calls get_settings(): its cached copy is dropped now and
    after the test, so neither this test nor the next sees stale settings (or the real stack home)."""

    def set_env(**values: str) -> None:
        for key, value in values.items():
            monkeypatch.setenv(key, value)
        get_settings.cache_clear()

    yield set_env
    get_settings.cache_clear()
