"""HTTP edge cases at the model server, over raw sockets (what a hostile or broken client sends): lengths
that lie or are not numbers, chunked bodies, idle connections. The server is the deployed one: gunicorn."""

from __future__ import annotations

import random
import socket
import time
from urllib.parse import urlsplit

import pytest

from tests.ml.fixtures import draw_penguin, model_server, png_bytes, tiny_model  # noqa: F401  (fixtures)

pytestmark = pytest.mark.integration


def _connect(url: str) -> socket.socket:
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
    return sock


def _exchange(url: str, raw: bytes) -> bytes:
    """Send ``raw`` and read until the server closes or answers one response."""
    with _connect(url) as sock:
        sock.sendall(raw)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        return data


@pytest.mark.parametrize("length", [b"-1", b"abc", b"1e9"])
def test_a_bad_content_length_is_a_400_not_a_hang_or_a_drop(model_server: str, length: bytes) -> None:  # noqa: F811
    started = time.monotonic()
    answer = _exchange(
        model_server,
        b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: "
        + length
        + b"\r\n\r\n",
    )
    assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
    assert time.monotonic() - started < 5


def test_a_chunked_body_is_one_request(model_server: str) -> None:  # noqa: F811
    body = png_bytes(draw_penguin(random.Random(4)))
    chunks = b"".join(
        b"%x\r\n%s\r\n" % (len(body[i : i + 4096]), body[i : i + 4096]) for i in range(0, len(body), 4096)
    )
    answer = _exchange(
        model_server,
        b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n",
    )
    assert answer.startswith(b"HTTP/1.1 200"), answer[:300]


def test_an_idle_connection_is_closed(model_server: str) -> None:  # noqa: F811
    with _connect(model_server) as sock:
        sock.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        sock.settimeout(30)
        started = time.monotonic()
        assert sock.recv(1) == b"", "the server closes a keep-alive connection left idle"
        assert time.monotonic() - started < 15
