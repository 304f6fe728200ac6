"""Starting the project's own servers (and moto's) as child processes for a test: a free loopback port,
a bounded wait until they answer, and a clean stop of the whole process group."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(port: int, path: str | None) -> bool:
    try:
        if path is None:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        else:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2):
                pass
    except OSError:
        return False
    return True


@contextmanager
def running(argv: list[str], port: int, log: Path, ready_path: str | None = None) -> Iterator[str]:
    """Run ``argv`` (listening on ``port``) until the block ends; yields its base URL once it answers
    (a TCP connection, or GET ``ready_path``), or fails the test with the end of its log."""
    with log.open("wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not _answers(port, ready_path):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    f"{argv[2] if len(argv) > 2 else argv[0]} did not start: {log.read_text()[-2000:]}"
                )
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)
