"""What a database server of the stack does the same way whatever it is (MariaDB, PostgreSQL): read its
DSN, say why nothing answers, start it under a lock when bdml manages servers, stop it only when bdml
started it. Each server says how it is installed, started, stopped and inspected."""

from __future__ import annotations

from dataclasses import replace

from services.dsn import Dsn
from services.settings import Settings
from services.stack.common import (
    ComponentState,
    ComponentStatus,
    Progress,
    StackError,
    bring_up,
    is_local,
    no_progress,
    parsed_dsn,
    port_open,
)
from services.stack.process import listener_pid


class LocalServer:
    name: str  # the component's name in `bdml status`
    product: str  # "MariaDB", "PostgreSQL"
    scheme: str  # the DSN scheme
    setting: str  # where the DSN comes from, for messages
    compose_service: str  # the container that runs it under the compose profile
    install_hint: str

    # --- what each server says about itself -------------------------------------------------------------
    def dsn_text(self, settings: Settings) -> str:
        raise NotImplementedError

    def installed(self) -> bool:
        raise NotImplementedError

    def started_pid(self, settings: Settings) -> int | None:
        """The pid bdml started it as, when it did (None when bdml did not start it)."""
        raise NotImplementedError

    def started_by_us(self, settings: Settings) -> bool:
        return self.started_pid(settings) is not None

    def start(self, settings: Settings, dsn: Dsn, progress: Progress) -> None:
        raise NotImplementedError

    def stop(self, settings: Settings, dsn: Dsn, progress: Progress) -> None:
        """Stop what bdml started (raise StackError when it cannot)."""
        raise NotImplementedError

    def inspect(self, settings: Settings, dsn: Dsn, fix: bool) -> ComponentStatus:
        """Talk to a reachable server; with ``fix`` repair what bdml may (user, database, options)."""
        raise NotImplementedError

    def forget_start(self, settings: Settings) -> None:
        """Nothing answers any more: drop any marker of a start by bdml."""

    # --- the same for every server ---------------------------------------------------------------------
    def status_of(self, dsn: Dsn, state: ComponentState, detail: str, settings: Settings) -> ComponentStatus:
        ours = self.started_pid(settings)
        pid = ours or (listener_pid(dsn.port) if state == "up" and is_local(dsn.host) else None)
        return ComponentStatus(self.name, state, dsn.endpoint, detail, pid=pid,
                               managed_by_us=self.started_by_us(settings))  # fmt: skip

    def parsed(self, settings: Settings) -> Dsn | ComponentStatus:
        return parsed_dsn(self.name, self.dsn_text(settings), self.scheme, self.setting)

    def unreachable(self, settings: Settings, dsn: Dsn) -> ComponentStatus:
        """Nothing answers at the DSN's address: say why and what to do."""
        where = f"nothing answers at {dsn.address}"
        if not is_local(dsn.host):
            return self.status_of(dsn, "down", f"{where}; it is not on this machine, so bdml cannot start it",
                                  settings)  # fmt: skip
        if not self.installed():
            detail = f"{where} and no {self.product} server is installed; {self.install_hint}"
            return self.status_of(dsn, "missing", detail, settings)
        if not settings.stack.manage_servers:
            detail = f"{where} (stack.manage_servers is off); start it, e.g. "
            detail += f"docker compose up -d {self.compose_service}"
            return self.status_of(dsn, "down", detail, settings)
        return self.status_of(dsn, "down", f"{where}; bdml up starts the installed {self.product}", settings)

    def status(self, settings: Settings) -> ComponentStatus:
        dsn = self.parsed(settings)
        if isinstance(dsn, ComponentStatus):
            return dsn
        if not port_open(dsn.host, dsn.port):
            self.forget_start(settings)
            return self.unreachable(settings, dsn)
        return self.inspect(settings, dsn, fix=False)

    def up(self, settings: Settings, progress: Progress = no_progress) -> ComponentStatus:
        dsn = self.parsed(settings)
        if isinstance(dsn, ComponentStatus):
            return dsn
        return bring_up(
            settings, dsn.host, dsn.port, lock=f"{self.name}.lock",
            current=lambda: self.status(settings),
            start=lambda: self.start(settings, dsn, progress),
            failed=lambda message: self.status_of(dsn, "error", message, settings),
            ready=lambda: self.inspect(settings, dsn, fix=True),
        )  # fmt: skip

    def down(self, settings: Settings, progress: Progress = no_progress) -> ComponentStatus:
        dsn = self.parsed(settings)
        if isinstance(dsn, ComponentStatus):
            return dsn
        if not self.started_by_us(settings) or not port_open(dsn.host, dsn.port):
            current = self.status(settings)
            if port_open(dsn.host, dsn.port):
                return replace(current, detail=f"{current.detail}; left running (not started by bdml)")
            return current
        pid = self.started_pid(settings)
        try:
            self.stop(settings, dsn, progress)
        except StackError as exc:
            return ComponentStatus(self.name, "error", dsn.endpoint, str(exc), pid=pid, managed_by_us=True)
        return ComponentStatus(self.name, "down", dsn.endpoint, "stopped")
