"""MiniStack (the AWS API emulator) in its own virtualenv under the stack home.

Managed only when ``aws.endpoint_url`` is a local http URL on ``stack.ministack_port`` and
``stack.manage_servers`` is on; any other endpoint (real AWS, LocalStack elsewhere) is 'external'."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import urlopen

from services.settings import Settings
from services.stack.common import (
    ComponentStatus,
    Progress,
    StackError,
    ensure_parent,
    is_local,
    locked,
    logs_dir,
    no_progress,
    port_open,
    run_dir,
    tail,
    wait_for,
)
from services.stack.process import cmdline, listener_pid, live_pid_from, pid_alive, terminate, write_pidfile

NAME = "ministack"
HEALTH_PATH = "/_ministack/health"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0
INSTALL_TIMEOUT_S = 900.0


@dataclass(frozen=True)
class Layout:
    venv: Path
    pidfile: Path
    log: Path
    install_log: Path
    lock: Path
    s3_dir: Path

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def entry_point(self) -> Path:
        return self.venv / "bin" / "ministack"


def layout(settings: Settings) -> Layout:
    home = settings.stack.home
    return Layout(
        venv=home / "ministack-venv",
        pidfile=run_dir(settings) / "ministack.pid",
        log=logs_dir(settings) / "ministack.log",
        install_log=logs_dir(settings) / "ministack-install.log",
        lock=run_dir(settings) / "ministack.lock",
        s3_dir=home / "s3",
    )


def is_managed_endpoint(endpoint_url: str | None, port: int) -> bool:
    """True when ``endpoint_url`` is the MiniStack bdml runs: plain http on this machine at ``port``."""
    if endpoint_url is None:
        return False
    parts = urlsplit(endpoint_url)
    try:
        url_port = parts.port
    except ValueError:
        return False
    return parts.scheme == "http" and is_local(parts.hostname or "") and url_port == port


def health(port: int, timeout: float = 2.0) -> dict[str, Any] | None:
    """MiniStack's health JSON on 127.0.0.1:port, or None when whatever answers is not MiniStack."""
    try:
        with urlopen(f"http://127.0.0.1:{port}{HEALTH_PATH}", timeout=timeout) as response:
            data = json.loads(response.read(1_000_000))
    except (OSError, ValueError, http.client.HTTPException):
        return None
    return data if isinstance(data, dict) and "services" in data else None


def installed_version(venv: Path) -> str | None:
    for info in sorted(venv.glob("lib/python*/site-packages/ministack-*.dist-info")):
        return info.name.removeprefix("ministack-").removesuffix(".dist-info")
    return None


# --- status ------------------------------------------------------------------------------------------


def _endpoint(settings: Settings) -> str:
    return f"http://127.0.0.1:{settings.stack.ministack_port}"


def _external(settings: Settings) -> ComponentStatus | None:
    url = settings.aws.endpoint_url
    port = settings.stack.ministack_port
    if url is None:
        return ComponentStatus(
            NAME, "external", "AWS (default endpoints)", "aws.endpoint_url is unset: real AWS"
        )
    if not is_managed_endpoint(url, port):
        return ComponentStatus(
            NAME, "external", url, f"aws.endpoint_url is not the managed port {port}; not run by bdml"
        )
    if not settings.stack.manage_servers:
        if port_open(urlsplit(url).hostname or "127.0.0.1", port):
            return ComponentStatus(NAME, "external", url, "stack.manage_servers is off: bdml does not run it")
        return ComponentStatus(
            NAME, "down", url, "stack.manage_servers is off and nothing answers there: start your emulator"
        )
    return None


def _free_port_near(port: int) -> int:
    return next((p for p in range(port + 1, port + 50) if not port_open("127.0.0.1", p, 0.2)), port + 1)


def _port_taken(settings: Settings) -> ComponentStatus:
    port = settings.stack.ministack_port
    pid = listener_pid(port)
    who = f"pid {pid} ({cmdline(pid)[:80]})" if pid else "another process"
    alt = _free_port_near(port)
    detail = (
        f"port {port} is taken by {who}, which is not MiniStack (no JSON at {HEALTH_PATH}). "
        f"Free it (find it with: ss -ltnp 'sport = :{port}'; then stop that process) or run MiniStack "
        f"on another port: export BDML_STACK__MINISTACK_PORT={alt} BDML_AWS__ENDPOINT_URL=http://127.0.0.1:{alt}"
    )
    return ComponentStatus(NAME, "error", _endpoint(settings), detail, pid=pid)


def _describe_up(settings: Settings, data: dict[str, Any], ours: int | None, lay: Layout) -> ComponentStatus:
    port = settings.stack.ministack_port
    version = str(data.get("version", "?"))
    detail = f"MiniStack {version}"
    if version != settings.stack.ministack_version:
        detail += f" (settings ask for {settings.stack.ministack_version})"
    if ours:
        detail += f"; started by bdml, log {lay.log}"
    else:
        detail += "; already running, not started by bdml (bdml down leaves it alone)"
    return ComponentStatus(
        NAME, "up", _endpoint(settings), detail, pid=ours or listener_pid(port), managed_by_us=bool(ours)
    )


def status(settings: Settings) -> ComponentStatus:
    external = _external(settings)
    if external:
        return external
    lay = layout(settings)
    port = settings.stack.ministack_port
    ours = live_pid_from(lay.pidfile, "ministack")
    data = health(port)
    if data is not None:
        return _describe_up(settings, data, ours, lay)
    if ours:
        return ComponentStatus(
            NAME,
            "error",
            _endpoint(settings),
            f"pid {ours} runs but {HEALTH_PATH} does not answer; see {lay.log}",
            pid=ours,
            managed_by_us=True,
        )
    if port_open("127.0.0.1", port):
        return _port_taken(settings)
    if installed_version(lay.venv) is None:
        return ComponentStatus(
            NAME, "down", _endpoint(settings), f"not installed yet; bdml up installs it in {lay.venv}"
        )
    return ComponentStatus(NAME, "down", _endpoint(settings), "not running; bdml up starts it")


# --- up ----------------------------------------------------------------------------------------------


def ensure_installed(settings: Settings, progress: Progress = no_progress) -> None:
    """Create the MiniStack virtualenv and install the pinned version when it is not there yet."""
    lay = layout(settings)
    version = settings.stack.ministack_version
    if installed_version(lay.venv) == version and lay.entry_point.exists():
        return
    progress(f"installing ministack=={version} into {lay.venv} (log: {lay.install_log})")
    with ensure_parent(lay.install_log).open("a") as log:
        steps: list[list[str]] = []
        if not lay.python.exists():
            steps.append([sys.executable, "-m", "venv", str(lay.venv)])
        steps.append(
            [str(lay.python), "-m", "pip", "install", "--disable-pip-version-check", f"ministack=={version}"]
        )
        for argv in steps:
            log.write(f"$ {' '.join(argv)}\n")
            log.flush()
            try:
                done = subprocess.run(
                    argv, stdout=log, stderr=subprocess.STDOUT, timeout=INSTALL_TIMEOUT_S, check=False
                )
            except subprocess.TimeoutExpired:
                raise StackError(
                    f"installing MiniStack took over {INSTALL_TIMEOUT_S:.0f} s; see {lay.install_log}"
                ) from None
            if done.returncode != 0:
                raise StackError(
                    f"installing MiniStack failed (exit {done.returncode}) running: {' '.join(argv)}\n"
                    f"last lines of {lay.install_log}:\n{tail(lay.install_log)}"
                )
    progress(f"ministack=={version} installed")


def _start(settings: Settings, lay: Layout) -> int:
    port = settings.stack.ministack_port
    lay.s3_dir.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "BIND_HOST": "127.0.0.1",
        "GATEWAY_PORT": str(port),
        "S3_PERSIST": "1",
        "S3_DATA_DIR": str(lay.s3_dir),
    }
    env.pop("PYTHONPATH", None)  # MiniStack pins its own botocore: keep our packages out of its path
    with ensure_parent(lay.log).open("ab") as log:
        proc = subprocess.Popen(
            [str(lay.entry_point)],
            env=env,
            cwd=settings.stack.home,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # survives the CLI; SIGTERM goes to its whole group
        )
    write_pidfile(lay.pidfile, proc.pid)
    return proc.pid


def _wait_healthy(port: int, pid: int, lay: Layout) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        if not pid_alive(pid):
            raise StackError(f"MiniStack exited during start-up; last lines of {lay.log}:\n{tail(lay.log)}")
        return health(port)

    data = wait_for(check, START_TIMEOUT_S)
    if data is None:
        raise StackError(
            f"MiniStack (pid {pid}) did not answer {HEALTH_PATH} within {START_TIMEOUT_S:.0f} s; "
            f"see {lay.log}:\n{tail(lay.log)}"
        )
    return data


def up(settings: Settings, progress: Progress = no_progress) -> ComponentStatus:
    external = _external(settings)
    if external:
        return external
    lay = layout(settings)
    port = settings.stack.ministack_port
    with locked(lay.lock):
        current = status(settings)
        if current.state == "up" or (current.state == "error" and not current.managed_by_us):
            return current  # running already, or the port is someone else's
        pid = current.pid if current.managed_by_us and current.pid else None
        try:
            if pid is None:
                ensure_installed(settings, progress)
                progress(f"starting MiniStack on 127.0.0.1:{port} (log: {lay.log})")
                pid = _start(settings, lay)
            data = _wait_healthy(port, pid, lay)
        except StackError as exc:
            if pid is not None and pid_alive(pid):  # started but never healthy: leave no orphan behind
                terminate(pid, STOP_TIMEOUT_S)
            lay.pidfile.unlink(missing_ok=True)
            return ComponentStatus(NAME, "error", _endpoint(settings), str(exc))
        return _describe_up(settings, data, pid, lay)


# --- down --------------------------------------------------------------------------------------------


def down(settings: Settings, progress: Progress = no_progress) -> ComponentStatus:
    external = _external(settings)
    if external:
        return external
    lay = layout(settings)
    with locked(lay.lock):
        pid = live_pid_from(lay.pidfile, "ministack")
        if pid is None:
            current = status(settings)
            if current.state == "up":
                return replace(
                    current, detail=f"{current.detail.split(';')[0]}; left running (not started by bdml)"
                )
            if current.state == "error":  # the port is someone else's: nothing of ours to stop
                return replace(current, state="down")
            return current
        progress(f"stopping MiniStack (pid {pid})")
        if not terminate(pid, STOP_TIMEOUT_S):
            return ComponentStatus(
                NAME, "error", _endpoint(settings), f"pid {pid} would not stop", pid=pid, managed_by_us=True
            )
        lay.pidfile.unlink(missing_ok=True)
    return ComponentStatus(NAME, "down", _endpoint(settings), "stopped")
