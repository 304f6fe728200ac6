"""Serve a WSGI app under gunicorn, the production server AWS's own bring-your-own-container examples use.

gunicorn refuses malformed requests itself (a negative or non-numeric Content-Length, oversized request
lines and headers), parses chunked bodies, closes idle keep-alive connections, restarts a worker stuck
past its timeout, and bounds concurrency: one worker process, a fixed number of threads, a queue behind
them. Body size limits stay the app's job (gunicorn has none)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gunicorn.app.base import BaseApplication

WsgiApp = Callable[..., Any]
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass(frozen=True)
class ServerLimits:
    threads: int = 4  # requests handled at once; the rest wait in the listen queue
    timeout_s: int = 30  # a request stuck longer restarts the worker
    keepalive_s: int = 5  # idle keep-alive connections are closed after this
    max_connections: int = 64
    graceful_timeout_s: int = 10


class _Server(BaseApplication):
    def __init__(self, app: WsgiApp, options: dict[str, Any]) -> None:
        self.app, self.options = app, options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> WsgiApp:
        return self.app


def serve(
    app: WsgiApp, host: str, port: int, limits: ServerLimits = ServerLimits(), name: str = "bdml"
) -> None:
    """Run ``app`` on ``host:port`` until SIGTERM / SIGINT."""
    _Server(
        app,
        {
            "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
            "workers": 1,  # one copy of the model in memory; threads share it
            "worker_class": "gthread",
            "threads": limits.threads,
            "worker_connections": limits.max_connections,
            "timeout": limits.timeout_s,
            "graceful_timeout": limits.graceful_timeout_s,
            "keepalive": limits.keepalive_s,
            "proc_name": name,
            "accesslog": None,
            "errorlog": "-",
            "loglevel": "warning",
        },
    ).run()
