"""Background processes a pipeline starts (the local model server, …): each is recorded under the stack
home, so `bdml status` lists it and `bdml down` stops it like the stack's own servers.

A record is ``run/<name>.json``: pid, port, what it is, its log, and a piece of its command line that
guards against a recycled pid (a record whose process is gone is dropped when read)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from services.settings import Settings
from services.stack.common import ComponentStatus, run_dir
from services.stack.process import cmdline, pid_alive, terminate


@dataclass(frozen=True)
class Background:
    name: str
    pid: int
    port: int
    what: str  # "model server (endpoint penguin-classifier)"
    log: str
    needle: str  # part of the process's command line

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def status(self) -> ComponentStatus:
        detail = f"{self.what}; started by bdml, log {self.log}; `bdml down` stops it"
        return ComponentStatus(self.name, "up", self.endpoint, detail, pid=self.pid, managed_by_us=True)


def _path(settings: Settings, name: str) -> Path:
    return run_dir(settings) / f"{name}.json"


def record(settings: Settings, entry: Background) -> None:
    path = _path(settings, entry.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(entry)) + "\n")


def find(settings: Settings, name: str) -> Background | None:
    """The live process recorded as ``name`` (a stale record is removed)."""
    path = _path(settings, name)
    try:
        entry = Background(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None
    if pid_alive(entry.pid) and entry.needle in cmdline(entry.pid):
        return entry
    path.unlink(missing_ok=True)
    return None


def running(settings: Settings) -> list[Background]:
    names = sorted(p.stem for p in run_dir(settings).glob("*.json"))
    return [entry for name in names if (entry := find(settings, name)) is not None]


def stop(settings: Settings, name: str) -> bool:
    """Stop the process recorded as ``name``; True when one was running."""
    entry = find(settings, name)
    if entry is None:
        return False
    terminate(entry.pid)
    _path(settings, name).unlink(missing_ok=True)
    return True
