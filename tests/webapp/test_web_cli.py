"""`bdml web` serves under gunicorn (not Flask's development server) and warns before listening beyond
this machine."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("host", ["127.0.0.1", "0.0.0.0"])
def test_web_runs_under_gunicorn(host: str, tmp_path: Path) -> None:
    port = _free_port()
    log = tmp_path / "web.log"
    with log.open("wb") as out:
        web = subprocess.Popen(
            [sys.executable, "-m", "services", "web", "--host", host, "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                    server, body = response.headers.get("Server", ""), response.read()
                break
            except OSError:
                if web.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"bdml web did not start: {log.read_text()[-2000:]}")
                time.sleep(0.2)
        assert "gunicorn" in server.lower() and b'"ok":true' in body.replace(b" ", b"")
        warned = "anyone who can reach this machine" in log.read_text()
        assert warned == (host == "0.0.0.0")
    finally:
        os.killpg(web.pid, signal.SIGTERM)
        web.wait(30)
