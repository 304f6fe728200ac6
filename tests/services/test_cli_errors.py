"""Every expected failure of the CLI is one or two lines that name the thing and say what to do, with exit
2 for usage errors and 1 for runtime failures; a traceback only with BDML_DEBUG=1. Most cases run the real
CLI in a subprocess (the handler wraps its commands); servers "down" are closed local ports, never the
shared ones stopped."""

from __future__ import annotations

import os
import pty
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import duckdb
import psycopg
import pymysql
import pytest
from botocore.exceptions import ClientError

from services.cli import PROJECT_ERRORS
from services.dsn import parse_dsn
from services.errors import INTERRUPTED, PIPE_CLOSED, RUNTIME, USAGE, UsageError, describe, handled
from services.hql.base import HqlError
from services.hql.duckdb_engine import httpfs_extension_path
from services.hql.script import HqlStatement
from services.objectstore import ObjectStore, S3Uri
from services.reconcile import ReconciliationError
from services.settings import REPO_ROOT, Settings, get_settings
from tests.servers import free_port


def bdml(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """The caller's environment with a private stack home (generated files, spill) and no BDML_DEBUG."""
    base = {k: v for k, v in os.environ.items() if k != "BDML_DEBUG"}
    return {**base, "BDML_STACK__HOME": str(tmp_path / "home")}


def failure(result: subprocess.CompletedProcess[str], exit_code: int) -> str:
    """The failure's lines (from the last '✗' on), after checking the exit code and that they are short."""
    output = result.stdout + result.stderr
    assert result.returncode == exit_code, output[-3000:]
    assert "Traceback" not in output
    lines = result.stderr.rstrip().splitlines()
    start = max(i for i, line in enumerate(lines) if line.startswith("✗"))
    assert len(lines) - start <= 2, lines[start:]
    return "\n".join(lines[start:])


def in_terminal(args: tuple[str, ...], env: dict[str, str]) -> tuple[int, str]:
    """Run the CLI on a pseudo-terminal (where rich draws its spinners): exit code and raw output."""
    main, child = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "services", *args],
        cwd=REPO_ROOT,
        env={**env, "COLUMNS": "120"},
        stdin=child,
        stdout=child,
        stderr=child,
    )
    os.close(child)
    chunks = []
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # EIO: the CLI exited and closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(main)
    return process.wait(60), b"".join(chunks).decode(errors="replace")


def s3_duckdb(endpoint: str) -> duckdb.DuckDBPyConnection:
    """DuckDB reading S3 at ``endpoint`` (host:port, plain HTTP) through httpfs, as the HQL engine does."""
    con = duckdb.connect()
    con.execute(f"LOAD '{httpfs_extension_path()}'")
    con.execute(
        "CREATE SECRET s (TYPE s3, KEY_ID 'test', SECRET 'test', REGION 'us-east-1', "
        f"ENDPOINT '{endpoint}', URL_STYLE 'path', USE_SSL false)"
    )
    return con


def closed_endpoint() -> str:
    return f"http://127.0.0.1:{free_port()}"


# --- usage errors: exit 2 -------------------------------------------------------------------------------


@pytest.mark.unit
def test_bad_setting_in_the_environment_names_the_variable_and_the_choices(env: dict[str, str]) -> None:
    result = bdml("batch", "run", env={**env, "BDML_HQL__ENGINE": "nope"})
    message = failure(result, USAGE)
    assert "setting hql.engine = 'nope': input should be 'duckdb', 'spark' or 'hiveserver2'" in message
    assert "fix the environment variable BDML_HQL__ENGINE" in message
    assert "errors.pydantic.dev" not in message


@pytest.mark.unit
def test_bad_setting_in_the_profile_file_names_the_file_and_the_entry(
    env: dict[str, str], tmp_path: Path
) -> None:
    profile = tmp_path / "profile.toml"
    profile.write_text("[stream]\nshards = 0\n")
    result = bdml("stream", "tail", env={**env, "BDML_PROFILE_FILE": str(profile)})
    message = failure(result, USAGE)
    assert "setting stream.shards = 0: input should be greater than or equal to 1" in message
    assert f"fix shards under [stream] in {profile}, or set BDML_STREAM__SHARDS" in message


@pytest.mark.unit
def test_a_profile_file_that_is_not_toml(env: dict[str, str], tmp_path: Path) -> None:
    profile = tmp_path / "profile.toml"
    profile.write_text('[hql\nengine = "duckdb"\n')
    message = failure(bdml("stream", "tail", env={**env, "BDML_PROFILE_FILE": str(profile)}), USAGE)
    assert f"{profile}: not valid TOML" in message and "line 1" in message


@pytest.mark.unit
def test_an_unknown_profile(env: dict[str, str]) -> None:
    message = failure(bdml("stream", "tail", env={**env, "BDML_PROFILE": "nope"}), USAGE)
    assert "BDML_PROFILE='nope' is not a profile; choose one of: embedded, compose, aws" in message


@pytest.mark.unit
def test_a_file_of_unknown_shape_is_named(env: dict[str, str], tmp_path: Path) -> None:
    data = tmp_path / "historical_data_2017Q1.txt"
    data.write_text("a|b|c\n")
    # the endpoint is closed: the file is refused before anything is sent
    result = bdml(
        "batch", "run", "--from", str(data), env={**env, "BDML_AWS__ENDPOINT_URL": closed_endpoint()}
    )
    message = failure(result, USAGE)
    assert f"{data}: 3 fields per line matches no known origination layout" in message


@pytest.mark.unit
def test_a_path_that_cannot_be_a_folder(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    out = tmp_path / "a-file" / "out"
    result = bdml("batch", "generate", str(out), "--acquisitions", "5", "--performance", "5", env=env)
    message = failure(result, USAGE)
    assert message == f"✗ {out}: has a file where a folder should be\n  name a folder"


@pytest.mark.unit
def test_missing_and_unreadable_paths_are_named() -> None:
    missing = describe(FileNotFoundError(2, "No such file or directory", "/data/in.txt"))
    assert (missing.message, missing.hint, missing.exit_code) == (
        "/data/in.txt: does not exist",
        "check the path",
        USAGE,
    )
    locked = describe(PermissionError(13, "Permission denied", "/data/in.txt"))
    assert locked.message == "/data/in.txt: is not accessible to this user" and locked.exit_code == USAGE


@pytest.mark.unit
def test_typer_usage_errors_are_unchanged(env: dict[str, str]) -> None:
    result = bdml("batch", "run", "--engine", "nope", env=env)
    assert result.returncode == USAGE and "Traceback" not in result.stderr
    assert "Invalid value" in result.stderr and "choose one of duckdb" in result.stderr
    result = bdml("batch", "run", "--from", "/nonexistent-bdml", env=env)
    assert result.returncode == USAGE and "does not exist" in result.stderr


# --- runtime failures: exit 1 --------------------------------------------------------------------------


@pytest.mark.unit
def test_the_emulator_down_names_the_endpoint(env: dict[str, str]) -> None:
    endpoint = closed_endpoint()
    result = bdml(
        "batch",
        "run",
        "--acquisitions",
        "100",
        "--performance",
        "1000",
        env={**env, "BDML_AWS__ENDPOINT_URL": endpoint},
    )
    assert failure(result, RUNTIME) == (
        f"✗ the S3/AWS endpoint at {endpoint} does not answer\n"
        "  run `bdml up` (embedded) or check BDML_AWS__ENDPOINT_URL"
    )


@pytest.mark.unit
def test_bdml_debug_adds_the_traceback(env: dict[str, str]) -> None:
    endpoint = closed_endpoint()
    result = bdml("stream", "tail", env={**env, "BDML_AWS__ENDPOINT_URL": endpoint, "BDML_DEBUG": "1"})
    assert result.returncode == RUNTIME
    assert "Traceback (most recent call last)" in result.stderr and "EndpointConnectionError" in result.stderr
    assert f"✗ the S3/AWS endpoint at {endpoint} does not answer" in result.stderr


@pytest.mark.unit
def test_no_aws_credentials(env: dict[str, str], tmp_path: Path) -> None:
    profile = tmp_path / "profile.toml"
    profile.write_text(f'[aws]\nendpoint_url = "{closed_endpoint()}"\n')  # no keys; never reached
    clean = {k: v for k, v in env.items() if not k.startswith("AWS_")}
    nowhere = str(tmp_path / "none")
    aws = {
        "AWS_SHARED_CREDENTIALS_FILE": nowhere,
        "AWS_CONFIG_FILE": nowhere,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    result = bdml("stream", "tail", env={**clean, **aws, "BDML_PROFILE_FILE": str(profile)})
    message = failure(result, RUNTIME)
    assert "no AWS credentials for http://127.0.0.1:" in message
    assert "BDML_AWS__ACCESS_KEY_ID" in message and "AWS_PROFILE" in message


@pytest.mark.unit
def test_rejected_aws_credentials_and_missing_buckets_get_a_line_each() -> None:
    def refused(code: str, bucket: str = "") -> ClientError:
        error = {"Code": code, "Message": "m", **({"BucketName": bucket} if bucket else {})}
        response: Any = {"Error": error}
        return ClientError(response, "ListObjectsV2")

    for code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken"):
        found = describe(refused(code))
        assert f"rejected the AWS credentials ({code})" in found.message, found
        assert "BDML_AWS__ACCESS_KEY_ID" in found.hint and found.exit_code == RUNTIME
    bucket = describe(refused("NoSuchBucket", "lost"))
    assert bucket.message.startswith("S3 bucket lost does not exist") and "BDML_S3__RAW_BUCKET" in bucket.hint
    denied = describe(refused("AccessDenied"))
    assert denied.message == "AWS denied ListObjectsV2: m" and "permission" in denied.hint
    other = describe(refused("Throttling"))
    assert other.message == "AWS refused ListObjectsV2: Throttling: m" and other.exit_code == RUNTIME


@pytest.mark.unit
def test_a_port_taken(env: dict[str, str]) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        result = bdml("web", "--port", str(port), env=env)
    assert failure(result, RUNTIME) == (
        f"✗ port {port} on 127.0.0.1 is already in use\n  stop what listens there, or choose another --port"
    )


@pytest.fixture
def dsn_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Settings read from the environment set by the test (the handler reads the DSNs to name servers)."""
    get_settings.cache_clear()
    yield monkeypatch
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.mark.unit
def test_database_servers_down_name_their_address(dsn_env: pytest.MonkeyPatch) -> None:
    port = free_port()
    dsn_env.setenv("BDML_MYSQL__DSN", f"mysql://bdml:x@127.0.0.1:{port}/bdml")
    dsn_env.setenv("BDML_REDSHIFT__DSN", f"postgresql://postgres:x@127.0.0.1:{port}/bdml")
    with pytest.raises(pymysql.err.OperationalError) as mysql_down:
        pymysql.connect(host="127.0.0.1", port=port, user="bdml", connect_timeout=5)
    found = describe(mysql_down.value)
    assert (found.message, found.hint, found.exit_code) == (
        f"MySQL at 127.0.0.1:{port} does not answer",
        "run `bdml up` (embedded) or check BDML_MYSQL__DSN",
        RUNTIME,
    )
    with pytest.raises(psycopg.OperationalError) as pg_down:
        psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname="bdml", connect_timeout=5)
    found = describe(pg_down.value)
    assert (found.message, found.hint) == (
        f"PostgreSQL at 127.0.0.1:{port} does not answer",
        "run `bdml up` (embedded) or check BDML_REDSHIFT__DSN",
    )


@pytest.mark.unit
def test_duckdb_against_a_closed_endpoint_even_inside_an_hql_error(tmp_path: Path) -> None:
    endpoint = f"127.0.0.1:{free_port()}"
    con = s3_duckdb(endpoint)
    statement = HqlStatement("SELECT * FROM read_csv('s3://b/x.csv')", "00_raw_tables.hql")
    with pytest.raises(HqlError) as failed:
        try:
            con.execute(statement.text)
        except duckdb.Error as err:
            raise HqlError(statement, err) from err
    found = describe(failed.value, PROJECT_ERRORS)
    assert found.message == f"the S3/AWS endpoint at http://{endpoint} does not answer"


@pytest.mark.unit
def test_project_errors_keep_their_message_with_their_exit_code() -> None:
    rows = describe(ReconciliationError("upload: rows in 10 != out 9 + rejected 0"), PROJECT_ERRORS)
    assert (rows.message, rows.exit_code) == ("upload: rows in 10 != out 9 + rejected 0", RUNTIME)
    own = describe(UsageError("--from: no files", "pass a folder of downloads"))
    assert (own.message, own.hint, own.exit_code) == ("--from: no files", "pass a folder of downloads", USAGE)
    odd = describe(ZeroDivisionError("division by zero"))
    assert odd.exit_code == RUNTIME and "BDML_DEBUG=1" in odd.hint


@pytest.mark.unit
def test_ctrl_c_is_one_line_and_exit_130(env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "generated"
    process = subprocess.Popen(
        [sys.executable, "-m", "services", "batch", "generate", str(out), "--acquisitions", "50000000"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while not out.exists() and time.monotonic() < deadline:  # generating: inside the command
        time.sleep(0.1)
    time.sleep(0.3)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == INTERRUPTED and stderr.rstrip().endswith("✗ interrupted")
    assert "Traceback" not in stderr


@pytest.mark.unit
def test_handled_turns_keyboard_interrupt_into_130(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited, handled({}):
        raise KeyboardInterrupt
    assert exited.value.code == INTERRUPTED and capsys.readouterr().err == "✗ interrupted\n"


# A command writing more than a pipe holds, through the CLI's handler.
_WRITER = """
from services.errors import handled
with handled({}):
    for _ in range(100):
        print("x" * 10_000)
"""


@pytest.mark.unit
def test_output_into_a_closed_pipe_ends_quietly(env: dict[str, str]) -> None:
    # `bdml … | head -1`: the reader goes away while the command writes; nothing failed, nothing to say.
    process = subprocess.Popen(
        [sys.executable, "-c", _WRITER],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    process.stdout.close()  # whether it has written a little or nothing yet, the next write fails
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == PIPE_CLOSED and stderr == ""  # nor a failed flush at exit


@pytest.mark.unit
def test_a_broken_pipe_to_anything_else_is_a_failure(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A server or a child process hung up while we wrote to it; our own output still has its reader.
    read_end, write_end = os.pipe()
    with (
        os.fdopen(read_end),  # the reader stays open throughout
        os.fdopen(write_end, "w") as stdout,
        monkeypatch.context() as patch,
        pytest.raises(SystemExit) as exited,
        handled({}),
    ):
        patch.setattr(sys, "stdout", stdout)
        raise BrokenPipeError(32, "Broken pipe")
    assert exited.value.code == RUNTIME and "Broken pipe" in capsys.readouterr().err


# --- against the real servers ---------------------------------------------------------------------------


@pytest.mark.integration
def test_a_missing_bucket(stack: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    # The CLI's readers check their bucket first; any other read of a missing one (S3 API or DuckDB)
    # still ends in one line from the handler.
    bucket = f"bdml-missing-{uuid.uuid4().hex[:8]}"
    with pytest.raises(SystemExit) as exited, handled(PROJECT_ERRORS):
        list(ObjectStore(stack).list(S3Uri(bucket, "stream/")))
    assert exited.value.code == RUNTIME
    err = capsys.readouterr().err
    assert err.startswith(f"✗ S3 bucket {bucket} does not exist at {stack.aws.endpoint_url}\n")
    assert "BDML_STREAM__BUCKET" in err and len(err.splitlines()) == 2

    with pytest.raises(duckdb.Error) as failed:
        s3_duckdb(urlsplit(stack.aws.endpoint_url or "").netloc).execute(
            f"SELECT * FROM read_parquet('s3://{bucket}/x/*.parquet')"
        )
    assert describe(failed.value).message.startswith(f"S3 bucket {bucket} does not exist")


@pytest.mark.integration
def test_mysql_down_mid_run_leaves_the_terminal_clean(stack: Settings, env: dict[str, str]) -> None:
    port = free_port()
    run_env = {
        **env,
        "BDML_S3__RAW_BUCKET": stack.s3.raw_bucket,
        "BDML_S3__PROCESSED_BUCKET": stack.s3.processed_bucket,
        "BDML_MYSQL__DSN": f"mysql://bdml:x@127.0.0.1:{port}/bdml",
        "BDML_STACK__MANAGE_SERVERS": "false",  # nothing tries to start it first: it fails mid-run
    }
    # on a terminal, so that the failure comes while rich animates the "load MySQL" spinner
    code, output = in_terminal(("batch", "run", "--acquisitions", "100", "--performance", "1000"), run_env)
    assert code == RUNTIME and "Traceback" not in output, output[-3000:]
    assert output.count("\x1b[?25l") == output.count("\x1b[?25h")  # the cursor is shown again
    # the message starts on a fresh or cleared line, never after the spinner's text
    assert re.search(r"(\n|\x1b\[2K)(\x1b\[[\d;]*m)*✗ ", output), output[-500:]
    plain = re.sub(r"\x1b\[[\d;?]*[A-Za-z]", "", output).replace("\r", "")
    assert plain.endswith(
        f"✗ MySQL at 127.0.0.1:{port} does not answer\n  run `bdml up` (embedded) or check BDML_MYSQL__DSN\n"
    )


@pytest.mark.integration
def test_wrong_database_credentials(stack: Settings, dsn_env: pytest.MonkeyPatch) -> None:
    mysql = parse_dsn(stack.mysql.dsn, "mysql")
    pg = parse_dsn(stack.redshift.dsn, "postgresql")
    dsn_env.setenv("BDML_MYSQL__DSN", f"mysql://{mysql.user}:wrong@{mysql.address}/{mysql.database}")
    dsn_env.setenv("BDML_REDSHIFT__DSN", f"postgresql://bdml_nobody:wrong@{pg.address}/{pg.database}")
    with pytest.raises(pymysql.err.OperationalError) as mysql_refused:
        pymysql.connect(host=mysql.host, port=mysql.port, user=mysql.user, password="wrong")
    found = describe(mysql_refused.value)
    assert found.message.startswith(f"MySQL at {mysql.address} refused the login: Access denied")
    assert found.hint == "check the user and password in BDML_MYSQL__DSN" and found.exit_code == RUNTIME
    with pytest.raises(psycopg.OperationalError) as pg_refused:
        psycopg.connect(host=pg.host, port=pg.port, user="bdml_nobody", password="wrong", dbname=pg.database)
    found = describe(pg_refused.value)
    assert found.message.startswith(f"PostgreSQL at {pg.address} refused the login")
    assert found.hint == "check the user and password in BDML_REDSHIFT__DSN"
