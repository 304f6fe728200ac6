"""A local Spark Thrift Server (the HiveServer2 protocol) for tests and local use, started from the pyspark
wheel: no Hadoop or Hive install needed.

It runs in its own JVM with its own embedded metastore and warehouse under ``<stack home>/thriftserver``
(an embedded Derby database admits one process), reads and writes S3 exactly as the in-process
:class:`~services.hql.spark_engine.SparkEngine` does (the Spark properties come from the same builder),
and listens on 127.0.0.1 only, without authentication (``NOSASL``).

    python -m services.hql.thrift_server --port 10000      # runs until Ctrl-C
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from services.hql.spark_engine import require_java, s3a_env, spark_conf
from services.settings import Settings, get_settings

log = logging.getLogger(__name__)

THRIFT_SERVER_CLASS = "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2"
BIND_HOST = "127.0.0.1"
DEFAULT_START_TIMEOUT_S = 90.0  # measured: ready after 15-50 s on a small machine


@dataclass
class ThriftServer:
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path


def spark_home() -> Path:
    """The installed pyspark package folder: it is a complete Spark distribution (bin/, jars/)."""
    spec = importlib.util.find_spec("pyspark")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("pyspark is not installed: pip install -e '.[spark]'")
    return Path(next(iter(spec.submodule_search_locations)))


def thrift_server_command(settings: Settings, port: int, home: Path) -> list[str]:
    # Explicit keys travel in the environment (see launch): a command line is readable by every user.
    conf = spark_conf(settings, home, log_level="INFO", keys_in_conf=False)
    jars = conf.pop("spark.jars")
    conf_args = [arg for key, value in conf.items() for arg in ("--conf", f"{key}={value}")]
    return [
        str(spark_home() / "bin" / "spark-submit"),
        "--master", "local[2]",
        "--name", "bdml-thriftserver",
        "--class", THRIFT_SERVER_CLASS,
        "--jars", jars,
        *conf_args,
        "--hiveconf", f"hive.server2.thrift.bind.host={BIND_HOST}",
        "--hiveconf", f"hive.server2.thrift.port={port}",
        "--hiveconf", "hive.server2.authentication=NOSASL",
        "spark-internal",
    ]  # fmt: skip


def start_thrift_server(
    settings: Settings, port: int, *, timeout_s: float = DEFAULT_START_TIMEOUT_S
) -> ThriftServer:
    """Start a server on ``port`` and return once it answers ``SELECT 1``; its log goes to
    ``<stack home>/thriftserver/thriftserver.log``."""
    if _port_open(port):
        raise RuntimeError(
            f"port {port} on {BIND_HOST} is already taken (another HiveServer2 or Thrift Server?): "
            "stop it or choose another port"
        )
    require_java()
    home = settings.stack.home / "thriftserver"
    home.mkdir(parents=True, exist_ok=True)
    log_path = home / "thriftserver.log"
    env = {**os.environ, **s3a_env(settings), "SPARK_HOME": str(spark_home()), "SPARK_LOCAL_IP": BIND_HOST}
    log.info("thrift server: starting on %s:%d (log: %s)", BIND_HOST, port, log_path)
    started = time.monotonic()
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            thrift_server_command(settings, port, home),
            cwd=home,  # anything Spark or Hive still writes to the working directory lands here
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so stopping it takes every child along
        )
    server = ThriftServer(port, process, log_path)
    try:
        _wait_until_ready(server, timeout_s)
    except BaseException:
        stop_thrift_server(server)
        raise
    log.info("thrift server: ready on port %d in %.0f s", port, time.monotonic() - started)
    return server


def stop_thrift_server(server: ThriftServer, *, timeout_s: float = 30.0) -> None:
    """SIGTERM the server's process group (a clean Spark shutdown), SIGKILL it if that takes too long."""
    if server.process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.process.pid, signal.SIGTERM)
    try:
        server.process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        log.warning("thrift server: no exit %.0f s after SIGTERM; killing it", timeout_s)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait()
    log.info("thrift server: stopped (port %d)", server.port)


@contextlib.contextmanager
def running_thrift_server(
    settings: Settings, port: int, *, timeout_s: float = DEFAULT_START_TIMEOUT_S
) -> Iterator[int]:
    """A Spark Thrift Server on ``port`` for the duration of the block; yields the port."""
    server = start_thrift_server(settings, port, timeout_s=timeout_s)
    try:
        yield server.port
    finally:
        stop_thrift_server(server)


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection((BIND_HOST, port), timeout=1.0):
            return True
    except OSError:
        return False


def _answers_select_1(port: int) -> bool:
    from pyhive import hive

    try:
        connection = hive.connect(host=BIND_HOST, port=port, auth="NOSASL", username="bdml")
        try:
            cursor = connection.cursor()
            cursor.execute("SELECT 1")
            return bool(cursor.fetchall() == [(1,)])
        finally:
            connection.close()
    except Exception as exc:  # still starting: the port opens before sessions are served
        log.debug("thrift server: not ready yet: %s", exc)
        return False


def _wait_until_ready(server: ThriftServer, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"the Spark Thrift Server exited with code {server.process.returncode} while starting; "
                f"last lines of {server.log_path}:\n{_tail(server.log_path)}"
            )
        # Probe the port first: a thrift client logs a traceback for every refused connection.
        if _port_open(server.port) and _answers_select_1(server.port):
            return
        time.sleep(1.0)
    raise TimeoutError(
        f"the Spark Thrift Server did not answer on port {server.port} within {timeout_s:.0f} s; "
        f"last lines of {server.log_path}:\n{_tail(server.log_path)}"
    )


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"(log unreadable: {exc})"


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run a local Spark Thrift Server (HiveServer2 protocol).")
    settings = get_settings()
    parser.add_argument("--port", type=int, default=settings.hql.hiveserver2_port)
    parser.add_argument("--timeout", type=float, default=DEFAULT_START_TIMEOUT_S, help="start-up limit (s)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("pyhive").setLevel(logging.WARNING)  # it logs every statement at INFO
    # `kill <pid>` must stop the server too, not orphan it: SIGTERM unwinds like Ctrl-C.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    with running_thrift_server(settings, args.port, timeout_s=args.timeout) as port:
        print(f"Spark Thrift Server on {BIND_HOST}:{port} (auth NOSASL); Ctrl-C stops it", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)


if __name__ == "__main__":
    main()
