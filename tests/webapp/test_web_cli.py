"""`bdml web` serves under gunicorn (not Flask's development server) and warns before listening beyond
this machine."""

from __future__ import annotations

import sys
import urllib.request
from pathlib import Path

import pytest

from tests.servers import free_port, running

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("host", ["127.0.0.1", "0.0.0.0"])
def test_web_runs_under_gunicorn(host: str, tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "web.log"
    argv = [sys.executable, "-m", "services", "web", "--host", host, "--port", str(port)]
    with running(argv, port, log, "/healthz") as url, urllib.request.urlopen(f"{url}/healthz") as response:
        server, body = response.headers.get("Server", ""), response.read()
    assert "gunicorn" in server.lower() and b'"ok":true' in body.replace(b" ", b"")
    warned = "anyone who can reach this machine" in log.read_text()
    assert warned == (host == "0.0.0.0")
