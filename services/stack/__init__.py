"""The embedded stack's lifecycle: MiniStack (AWS APIs), MariaDB (MySQL target), PostgreSQL (Redshift).

``up`` is idempotent: it starts what is installed but stopped, installs MiniStack into its own
virtualenv, and never touches a server it did not start on ``down``. What is managed and where is
decided from settings values only (endpoints, DSNs, ``stack.manage_servers``), never the profile name."""

from __future__ import annotations

from collections.abc import Callable

from services.settings import Settings
from services.stack import background, mariadb, ministack, postgres
from services.stack.common import (
    ComponentState,
    ComponentStatus,
    Progress,
    StackError,
    StackStatus,
    no_progress,
)

__all__ = ["ComponentState", "ComponentStatus", "StackStatus", "down", "ensure_up", "status", "up"]

_Action = Callable[[Settings, Progress], ComponentStatus]

# Start order: the servers first (quick), then the emulator (may install on first use).
_UP: tuple[_Action, ...] = (mariadb.up, postgres.up, ministack.up)
_DOWN: tuple[_Action, ...] = (ministack.down, postgres.down, mariadb.down)
_STATUS: tuple[Callable[[Settings], ComponentStatus], ...] = (
    ministack.status,
    mariadb.status,
    postgres.status,
)
ORDER = (ministack.NAME, mariadb.NAME, postgres.NAME)
_BY_NAME = (
    (mariadb.NAME, mariadb.up, mariadb.status),
    (postgres.NAME, postgres.up, postgres.status),
    (ministack.NAME, ministack.up, ministack.status),
)  # in start order


def _ordered(
    components: list[ComponentStatus], settings: Settings, extra: list[ComponentStatus] | None = None
) -> StackStatus:
    """The stack's servers in their order, then the pipelines' background processes."""
    servers = sorted(components, key=lambda c: ORDER.index(c.name))
    others = extra if extra is not None else [entry.status() for entry in background.running(settings)]
    return StackStatus((*servers, *others))


def up(settings: Settings, progress: Progress = no_progress) -> StackStatus:
    """Bring every component up (idempotent)."""
    return _ordered([action(settings, progress) for action in _UP], settings)


def down(settings: Settings, progress: Progress = no_progress) -> StackStatus:
    """Stop what ``up`` started and the background processes the pipelines started (the model server);
    leave anything else running."""
    stopped = []
    for entry in background.running(settings):
        progress(f"stopping {entry.what} (pid {entry.pid})")
        background.stop(settings, entry.name)
        stopped.append(ComponentStatus(entry.name, "down", entry.endpoint, "stopped"))
    return _ordered([action(settings, progress) for action in _DOWN], settings, stopped)


def status(settings: Settings) -> StackStatus:
    return _ordered([probe(settings) for probe in _STATUS], settings)


def ensure_up(
    settings: Settings, progress: Progress = no_progress, components: tuple[str, ...] = ORDER
) -> None:
    """What a pipeline command does first: when bdml manages the stack (``stack.manage_servers``) and one
    of the ``components`` it needs is down, start it, as ``bdml up`` would; raise naming what could not
    start."""
    if not settings.stack.manage_servers:
        return
    wanted = [(up_, probe) for name, up_, probe in _BY_NAME if name in components]
    if all(probe(settings).healthy for _, probe in wanted):
        return
    progress("starting the local stack first (as `bdml up` does)")
    started = [up_(settings, progress) for up_, _ in wanted]
    failed = "; ".join(f"{c.name} is {c.state}: {c.detail}" for c in started if not c.healthy)
    if failed:
        raise StackError(f"the local stack could not start: {failed}")
