"""The compose profile against real containers: the warehouse DSN format and the bulk-load paths the batch
loaders use (MySQL ``LOAD DATA LOCAL``, PostgreSQL ``COPY FROM STDIN``) on the same images compose.yaml runs,
and, opt-in, the whole compose stack. Needs a Docker engine; skipped as a module where none answers."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import tomllib
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import (
    COMPOSE_FILE,
    COMPOSE_PROFILE,
    NO_ENGINE_REASON,
    REPO_ROOT,
    Dsn,
    docker_compose_available,
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


# --- the whole stack (opt-in: pulls ~2 GB of images and binds the compose.toml ports) ---------------------

STACK_PORTS = (4566, 3306, 5432, 10000)


def _port_in_use(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def compose_stack() -> Iterator[None]:
    if os.environ.get("BDML_TEST_COMPOSE_UP") != "1":
        pytest.skip("set BDML_TEST_COMPOSE_UP=1 to start the whole compose stack (pulls ~2 GB of images)")
    if not docker_compose_available():
        pytest.skip("the `docker compose` plugin is not installed here")
    busy = [p for p in STACK_PORTS if _port_in_use(p)]
    if busy:
        pytest.skip(f"ports {busy} are in use on 127.0.0.1 (stop the embedded stack with `bdml down` first)")
    # Our own project name, so `down -v` can never remove a developer's `bdml` stack volumes.
    base = ["docker", "compose", "-p", f"bdml-test-{uuid.uuid4().hex[:6]}", "-f", str(COMPOSE_FILE)]
    try:
        subprocess.run([*base, "up", "-d", "--wait", "--wait-timeout", "300"], cwd=REPO_ROOT, check=True)
        yield
    finally:
        subprocess.run([*base, "down", "-v", "--remove-orphans"], cwd=REPO_ROOT, check=False)


def test_compose_stack_serves_the_compose_profile(compose_stack: None) -> None:
    """Every endpoint of compose.toml answers, and HiveServer2 reads a table over LocalStack S3 (S3A)."""
    import boto3
    from pyhive import hive

    with COMPOSE_PROFILE.open("rb") as fh:
        prof = tomllib.load(fh)
    s3 = boto3.client(
        "s3",
        endpoint_url=prof["aws"]["endpoint_url"],
        region_name=prof["aws"]["region"],
        aws_access_key_id=prof["aws"]["access_key_id"],
        aws_secret_access_key=prof["aws"]["secret_access_key"],
    )
    bucket = f"bdml-test-compose-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="t/part-0.txt", Body=b"1|a\n2|b\n")

    m = parse_dsn(prof["mysql"]["dsn"])
    pymysql.connect(
        host=m.host, port=m.port, user=m.user, password=m.password or "", database=m.database
    ).close()
    psycopg.connect(prof["redshift"]["dsn"]).close()

    hql = prof["hql"]
    deadline = time.monotonic() + 120  # the port opens a little before sessions are accepted
    while True:
        try:
            conn = hive.connect(
                host=hql["hiveserver2_host"], port=hql["hiveserver2_port"], auth="NOSASL", username="bdml"
            )
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(3)
    try:
        cur = conn.cursor()
        cur.execute(
            "CREATE EXTERNAL TABLE compose_probe (id INT, v STRING)"
            " ROW FORMAT DELIMITED FIELDS TERMINATED BY '|'"
            f" STORED AS TEXTFILE LOCATION 's3://{bucket}/t/'"
        )
        # No ORDER BY: a plain scan is a fetch task (no Tez job), enough to prove S3A reads LocalStack.
        cur.execute("SELECT id, v FROM compose_probe")
        assert sorted(cur.fetchall()) == [(1, "a"), (2, "b")]
        cur.execute("DROP TABLE compose_probe")
    finally:
        conn.close()
