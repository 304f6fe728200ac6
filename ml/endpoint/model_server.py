"""The local model server as a managed background process ("the endpoint" of the embedded profile):
pidfile and log under the stack home, health through ``GET /ping``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.error import URLError
from urllib.request import urlopen

from services.settings import REPO_ROOT, Settings
from services.stack import background
from services.stack.common import ensure_parent, logs_dir, tail, wait_for
from services.stack.process import pid_alive

NEEDLE = "ml.serving.server"
START_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class ServerInfo:
    url: str
    pid: int | None
    endpoint: str
    log: Path


def _name(port: int) -> str:
    # One per port: the demo's endpoint and a benchmark's can run side by side without stopping each other.
    return f"model-server-{port}"


def _log(settings: Settings, port: int) -> Path:
    return logs_dir(settings) / f"model-server-{port}.log"


def ping(url: str, timeout: float = 1.0) -> bool:
    try:
        with urlopen(f"{url}/ping", timeout=timeout) as response:
            return bool(response.status == 200)
    except (URLError, OSError):
        return False


def stop(settings: Settings, port: int) -> bool:
    """Stop the server this profile started on ``port``; True when one was stopped."""
    return background.stop(settings, _name(port))


def start(settings: Settings, model_dir: Path, port: int, endpoint: str) -> ServerInfo:
    """(Re)start the server on ``model_dir``: a redeploy always serves the newly unpacked model."""
    stop(settings, port)
    url = f"http://127.0.0.1:{port}"
    if ping(url):
        raise RuntimeError(
            f"something else already answers on {url}/ping; free port {port} or set "
            "BDML_ML__SERVER_PORT (ml.server_port) to another port"
        )
    log = ensure_parent(_log(settings, port))
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    argv = [
        sys.executable,
        "-m",
        NEEDLE,
        "--model-dir",
        str(model_dir),
        "--port",
        str(port),
        "--endpoint-name",
        endpoint,
    ]
    with log.open("ab") as out:
        proc = subprocess.Popen(
            argv,
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    what = f"model server (endpoint {endpoint})"
    background.record(settings, background.Background(_name(port), proc.pid, port, what, str(log), NEEDLE))

    def ready() -> bool | None:
        if not pid_alive(proc.pid) or proc.poll() is not None:
            raise RuntimeError(f"the model server exited during start-up; last lines of {log}:\n{tail(log)}")
        return True if ping(url) else None

    if not wait_for(ready, START_TIMEOUT_S):
        stop(settings, port)
        raise RuntimeError(
            f"the model server did not answer {url}/ping within {START_TIMEOUT_S:.0f} s; see {log}"
        )
    return ServerInfo(url, proc.pid, endpoint, log)


def status(settings: Settings, port: int, endpoint: str) -> ServerInfo | None:
    url = f"http://127.0.0.1:{port}"
    if not ping(url):
        return None
    entry = background.find(settings, _name(port))
    return ServerInfo(url, entry.pid if entry else None, endpoint, _log(settings, port))


def wait_for_model(url: str, artifact: str, timeout_s: float = 300.0) -> None:
    """Wait until a model server run by someone else (a container watching the training pointer)
    serves ``artifact``: its ``/healthz`` names it and ``/ping`` answers."""

    def serving() -> bool | None:
        try:
            with urlopen(f"{url}/healthz", timeout=2) as response:
                health = json.loads(response.read() or b"{}")
        except (URLError, OSError, ValueError):
            return None
        return True if health.get("model_artifact") == artifact and ping(url) else None

    if not wait_for(serving, timeout_s):
        raise RuntimeError(
            f"the model server at {url} did not load {artifact} within {timeout_s:.0f} s: see its log "
            "(docker compose logs model-server) and check ml.server_url (BDML_ML__SERVER_URL)"
        )
