"""The batch pipeline on the compose stack: the bulk-load paths the loaders use (MySQL ``LOAD DATA LOCAL``,
PostgreSQL ``COPY FROM STDIN``) on the images compose.yaml runs, then `bdml batch run` end to end against
LocalStack, HiveServer2, MySQL and PostgreSQL containers, checked as the embedded suite checks it
(tests/e2e/test_batch_cli.py). Needs a Docker engine; skipped as a module where none answers."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import (
    COMPOSE_PROFILE,
    NO_ENGINE_REASON,
    Dsn,
    Stack,
    compose_stack,
    docker_engine_available,
    parse_dsn,
)

if not docker_engine_available():
    pytest.skip(NO_ENGINE_REASON, allow_module_level=True)

# Imported after the skip: without an engine nothing below runs.
import psycopg
import pymysql
from testcontainers.community.mysql import MySqlContainer
from testcontainers.community.postgres import PostgresContainer

pytestmark = pytest.mark.compose

# Rows as the processed origination/performance files carry them: pipe-delimited, NULL as \N.
ROWS = "1|F17Q10000001|2017-01-01|\\N|780\n2|F17Q10000002|2017-02-01|3.875|\\N\n"


def _profile_dsn(section: str) -> Dsn:
    with COMPOSE_PROFILE.open("rb") as fh:
        return parse_dsn(tomllib.load(fh)[section]["dsn"])


def _dsn_for(template: Dsn, host: str, port: int) -> str:
    """compose.toml's DSN with the container's mapped address: the same format, only the address moves."""
    return f"{template.scheme}://{template.user}:{template.password}@{host}:{port}/{template.database}"


@pytest.fixture(scope="module")
def mysql_dsn() -> Iterator[str]:
    want = _profile_dsn("mysql")
    container = MySqlContainer(
        "mysql:8.4", username=want.user, password=want.password, dbname=want.database
    ).with_command("--local-infile=1")
    with container:
        yield _dsn_for(want, container.get_container_host_ip(), int(container.get_exposed_port(3306)))


@pytest.fixture(scope="module")
def postgres_dsn() -> Iterator[str]:
    want = _profile_dsn("redshift")
    with PostgresContainer(
        "postgres:16", username=want.user, password=want.password, dbname=want.database, driver=None
    ) as container:
        yield _dsn_for(want, container.get_container_host_ip(), int(container.get_exposed_port(5432)))


def test_mysql_dsn_connects_and_load_data_local_round_trips(mysql_dsn: str, tmp_path: Path) -> None:
    d = parse_dsn(mysql_dsn)
    data = tmp_path / "origination.txt"
    data.write_text(ROWS)
    conn = pymysql.connect(
        host=d.host,
        port=d.port,
        user=d.user,
        password=d.password or "",
        database=d.database,
        local_infile=True,
        autocommit=False,
    )
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT @@local_infile")
            assert cur.fetchone() == (1,), "compose.yaml starts mysql with --local-infile=1"
            cur.execute(
                "CREATE TABLE t (id INT PRIMARY KEY, loan VARCHAR(20), first_pay DATE,"
                " rate DECIMAL(6,3), score INT)"
            )
            cur.execute(
                "LOAD DATA LOCAL INFILE %s INTO TABLE t FIELDS TERMINATED BY '|' LINES TERMINATED BY '\\n'",
                (str(data),),
            )
            loaded = cur.rowcount
            cur.execute("SHOW WARNINGS")
            assert cur.fetchall() == (), "a warning means a silently coerced value"
            conn.commit()
            cur.execute("SELECT id, loan, rate IS NULL, score IS NULL FROM t ORDER BY id")
            assert loaded == 2
            assert cur.fetchall() == ((1, "F17Q10000001", 1, 0), (2, "F17Q10000002", 0, 1))
    finally:
        conn.close()


def test_postgres_dsn_connects_and_copy_from_stdin_round_trips(postgres_dsn: str) -> None:
    with psycopg.connect(postgres_dsn) as conn, conn.cursor() as cur:
        cur.execute(
            "CREATE TABLE t (id INT PRIMARY KEY, loan TEXT, period DATE, rate NUMERIC(6,3), score INT)"
        )
        with cur.copy("COPY t FROM STDIN (FORMAT text, DELIMITER '|', NULL '\\N')") as copy:
            copy.write(ROWS)
        cur.execute("SELECT id, loan, rate IS NULL, score IS NULL FROM t ORDER BY id")
        assert cur.fetchall() == [(1, "F17Q10000001", True, False), (2, "F17Q10000002", False, True)]


# --- the batch pipeline on the compose services ----------------------------------------------------------


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    with compose_stack("localstack", "mysql", "postgres", "hive") as running:
        yield running


def test_batch_run_on_hiveserver2_reconciles_every_step(stack: Stack, tmp_path: Path) -> None:
    run_id = uuid.uuid4().hex[:8]
    env = stack.env(
        BDML_S3__RAW_BUCKET=f"bdml-test-raw-{run_id}",
        BDML_S3__PROCESSED_BUCKET=f"bdml-test-processed-{run_id}",
        BDML_STACK__HOME=str(tmp_path / "home"),
    )
    report_path = tmp_path / "report.json"
    argv = ["batch", "run", "--acquisitions", "3000", "--performance", "20000", "--dirty-share", "0.02"]
    done = subprocess.run(
        [sys.executable, "-m", "services", *argv, "--report", str(report_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(report_path.read_text())
    assert report["reconciled"] is True and report["engine"] == "hiveserver2"
    steps = {s["step"]: s for s in report["steps"]}
    orig, perf = steps["hql origination"], steps["hql performance"]
    assert orig["rows_in"] == orig["rows_out"] + orig["rows_rejected"]
    assert orig["rows_rejected"] > 0 and perf["rows_rejected"] > 0
    m = parse_dsn(env["BDML_MYSQL__DSN"])
    conn = pymysql.connect(
        host=m.host, port=m.port, user=m.user, password=m.password or "", database=m.database
    )
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT COUNT(*), COUNT(DISTINCT id_loan) FROM origination")
            count, distinct = cur.fetchone()  # type: ignore[misc]
    finally:
        conn.close()
    assert count == distinct == orig["rows_out"] == steps["load mysql origination"]["rows_out"]
    with psycopg.connect(env["BDML_REDSHIFT__DSN"]) as pg:
        (pg_count,) = pg.execute("SELECT COUNT(*) FROM performance").fetchone()  # type: ignore[misc]
    assert pg_count == perf["rows_out"]
