"""Shared pieces of the embedded-stack lifecycle: status types, port probes and bounded waiting."""

from __future__ import annotations

import fcntl
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

from services.dsn import Dsn, parse_dsn
from services.settings import Settings

ComponentState = Literal["up", "down", "missing", "error", "external"]
# 'external': not ours to run (real AWS, or an endpoint elsewhere); counts as healthy for the stack.
HEALTHY_STATES: frozenset[ComponentState] = frozenset({"up", "external"})

Progress = Callable[[str], None]
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "0.0.0.0", ""})

T = TypeVar("T")


def no_progress(_message: str) -> None:
    """The default progress sink: say nothing."""


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    state: ComponentState
    endpoint: str = ""
    detail: str = ""
    pid: int | None = None
    managed_by_us: bool = False

    @property
    def healthy(self) -> bool:
        return self.state in HEALTHY_STATES

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class StackStatus:
    components: tuple[ComponentStatus, ...]

    @property
    def ok(self) -> bool:
        return all(c.healthy for c in self.components)

    def component(self, name: str) -> ComponentStatus:
        for c in self.components:
            if c.name == name:
                return c
        raise KeyError(name)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "components": [c.as_dict() for c in self.components]}


class StackError(RuntimeError):
    """A failure with a message meant for a human (what happened and what to do)."""


def run_dir(settings: Settings) -> Path:
    """Pidfiles, markers and locks (created on first write, so ``status`` leaves no trace)."""
    return settings.stack.home / "run"


def logs_dir(settings: Settings) -> Path:
    return settings.stack.home / "logs"


def ensure_parent(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def is_local(host: str) -> bool:
    return host.strip("[]").lower() in LOCAL_HOSTS


def port_open(host: str, port: int, timeout: float = 1.0) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host or "127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for(check: Callable[[], T | None], timeout: float, interval: float = 0.2) -> T | None:
    """Poll ``check`` until it returns a value that is not None, for at most ``timeout`` seconds.

    The interval grows to 1 s. ``check`` may raise to abort early (a child that died, say)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result is not None:
            return result
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        time.sleep(min(interval, remaining))
        interval = min(interval * 1.5, 1.0)


def tail(path: Path, lines: int = 15) -> str:
    """The last lines of a log file, or '' when it cannot be read."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.rstrip().splitlines()[-lines:])


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive advisory lock on ``path`` (two ``bdml up`` at once do not race)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def bring_up(
    settings: Settings,
    host: str,
    port: int,
    *,
    lock: str,
    current: Callable[[], ComponentStatus],
    start: Callable[[], None],
    failed: Callable[[str], ComponentStatus],
    ready: Callable[[], ComponentStatus],
) -> ComponentStatus:
    """The `up` flow shared by the local database servers: start a server only when it is local, stopped
    and ours to manage, under a lock so that two `bdml up` at once start one server; then inspect it."""
    if not port_open(host, port):
        now = current()
        if now.state != "down" or not settings.stack.manage_servers or not is_local(host):
            return now
        with locked(run_dir(settings) / lock):
            if not port_open(host, port):
                try:
                    start()
                except StackError as exc:
                    return failed(str(exc))
    return ready()


def parsed_dsn(component: str, url: str, scheme: str, setting: str) -> Dsn | ComponentStatus:
    """The component's DSN, or an error status naming the setting and its environment variable."""
    try:
        return parse_dsn(url, scheme)
    except ValueError as exc:
        return ComponentStatus(component, "error", "", f"{setting}: {exc}")
