"""The Redshift stand-in: a PostgreSQL server at ``settings.redshift.dsn``.

``up`` starts a locally installed but stopped Debian cluster (``pg_ctlcluster``, when
``stack.manage_servers``) and creates the database. ``down`` stops the cluster only when ``up`` started
it (a marker file under the stack home names it)."""

from __future__ import annotations

import re
import shutil
from dataclasses import replace
from pathlib import Path

import psycopg
from psycopg import sql

from services.dsn import Dsn
from services.settings import Settings
from services.stack.common import (
    ComponentState,
    ComponentStatus,
    Progress,
    StackError,
    bring_up,
    ensure_parent,
    is_local,
    no_progress,
    parsed_dsn,
    port_open,
    run_dir,
    wait_for,
)
from services.stack.process import listener_pid, run_as_root

NAME = "postgresql"
CONFIG_ROOT = Path("/etc/postgresql")
CLUSTER = "main"
START_TIMEOUT_S = 60.0
AUTH_FAILURES = (
    'role "',
    "password authentication failed",
    "no pg_hba.conf entry",
    "authentication",
    "permission denied",
)
INSTALL_HINT = (
    "install it: sudo apt-get install -y postgresql (Debian/Ubuntu; then bdml up starts it), "
    "or run the servers in Docker: docker compose up -d mysql postgres"
)


def installed_versions() -> list[str]:
    """Debian cluster versions that have a 'main' cluster, newest first."""
    if not CONFIG_ROOT.is_dir():
        return []
    found = [p.parent.name for p in CONFIG_ROOT.glob(f"*/{CLUSTER}") if p.is_dir()]
    return sorted(found, key=lambda v: [int(x) for x in re.findall(r"\d+", v)], reverse=True)


def _marker(settings: Settings) -> Path:
    return run_dir(settings) / "postgresql.started"


def _our_version(settings: Settings) -> str | None:
    try:
        return _marker(settings).read_text().split()[0]
    except (OSError, IndexError):
        return None


def _status(dsn: Dsn, state: ComponentState, detail: str, settings: Settings) -> ComponentStatus:
    pid = listener_pid(dsn.port) if state == "up" and is_local(dsn.host) else None
    ours = _our_version(settings) is not None
    return ComponentStatus(NAME, state, dsn.endpoint, detail, pid=pid, managed_by_us=ours)


def _connect(dsn: Dsn, dbname: str) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(
        host=dsn.host,
        port=dsn.port,
        user=dsn.user,
        password=dsn.password,
        dbname=dbname,
        connect_timeout=5,
        autocommit=True,
    )


def _reason(exc: Exception) -> str:
    """libpq's message without the 'connection to server … failed:' preamble."""
    text = str(exc).strip()
    return text.split("FATAL:", 1)[1].strip() if "FATAL:" in text else text.splitlines()[0]


def _denied(dsn: Dsn, reason: str) -> str:
    u, db = dsn.user, dsn.database
    return (
        f"PostgreSQL at {dsn.address} refused user '{u}': {reason}. Fix the user/password in "
        f"BDML_REDSHIFT__DSN (now {dsn.redacted()}), or as a PostgreSQL admin run: "
        f'CREATE ROLE "{u}" LOGIN PASSWORD \'<password>\'; CREATE DATABASE "{db}" OWNER "{u}"; '
        "and allow the role from 127.0.0.1 in pg_hba.conf"
    )


def _create_database(dsn: Dsn) -> None:
    try:
        with _connect(dsn, "postgres") as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dsn.database)))
    except psycopg.errors.DuplicateDatabase:
        pass  # created meanwhile: fine
    except psycopg.Error as exc:
        raise StackError(
            f"cannot create database \"{dsn.database}\" as '{dsn.user}': {_reason(exc)}. "
            f'As a PostgreSQL admin run: CREATE DATABASE "{dsn.database}" OWNER "{dsn.user}"; '
            f'(or ALTER ROLE "{dsn.user}" CREATEDB;)'
        ) from None


def _inspect(settings: Settings, dsn: Dsn, fix: bool) -> ComponentStatus:
    """Talk to a reachable server; with ``fix`` create the database when missing."""
    for attempt in (1, 2):
        try:
            with _connect(dsn, dsn.database) as conn:
                version = str(conn.execute("SHOW server_version").fetchone()[0]).split()[0]  # type: ignore[index]
            return _status(dsn, "up", f'PostgreSQL {version}; database "{dsn.database}" ready', settings)
        except psycopg.OperationalError as exc:
            reason = _reason(exc)
            if f'database "{dsn.database}" does not exist' in reason:
                if not fix:
                    return _status(
                        dsn,
                        "down",
                        f'database "{dsn.database}" does not exist yet; bdml up creates it',
                        settings,
                    )
                if attempt == 2:
                    break
                try:
                    _create_database(dsn)
                except StackError as err:
                    return _status(dsn, "error", str(err), settings)
                continue
            if any(marker in reason for marker in AUTH_FAILURES):
                return _status(dsn, "error", _denied(dsn, reason), settings)
            return _status(dsn, "error", f"cannot talk to PostgreSQL at {dsn.address}: {reason}", settings)
    return _status(dsn, "error", f'database "{dsn.database}" still missing after creating it', settings)


def _unreachable(settings: Settings, dsn: Dsn) -> ComponentStatus:
    where = f"nothing answers at {dsn.address}"
    if not is_local(dsn.host):
        return _status(dsn, "down", f"{where}; it is not on this machine, so bdml cannot start it", settings)
    if not installed_versions() or not shutil.which("pg_ctlcluster"):
        return _status(
            dsn, "missing", f"{where} and no PostgreSQL cluster is installed; {INSTALL_HINT}", settings
        )
    if not settings.stack.manage_servers:
        return _status(
            dsn,
            "down",
            f"{where} (stack.manage_servers is off); start it, e.g. docker compose up -d postgres",
            settings,
        )
    return _status(dsn, "down", f"{where}; bdml up starts the installed PostgreSQL", settings)


def _ctl(version: str, action: str, *extra: str) -> list[str]:
    return ["pg_ctlcluster", "--skip-systemctl-redirect", version, CLUSTER, action, *extra]


def _start(settings: Settings, dsn: Dsn, progress: Progress) -> None:
    version = installed_versions()[0]
    log = f"/var/log/postgresql/postgresql-{version}-{CLUSTER}.log"
    progress(f"starting PostgreSQL {version}/{CLUSTER} (log: {log})")
    try:
        run_as_root(_ctl(version, "start"))
    except StackError as exc:
        if "already running" in str(exc):
            raise StackError(
                f"PostgreSQL {version}/{CLUSTER} already runs but nothing answers at {dsn.address}: "
                "check the port in BDML_REDSHIFT__DSN against `pg_lsclusters`"
            ) from None
        raise
    ensure_parent(_marker(settings)).write_text(f"{version} {CLUSTER}\n")
    if not wait_for(lambda: True if port_open(dsn.host, dsn.port) else None, START_TIMEOUT_S):
        raise StackError(
            f"PostgreSQL {version}/{CLUSTER} started but nothing answers at {dsn.address} within "
            f"{START_TIMEOUT_S:.0f} s: check its port with `pg_lsclusters`"
        )


def _parsed(settings: Settings) -> Dsn | ComponentStatus:
    return parsed_dsn(NAME, settings.redshift.dsn, "postgresql", "settings.redshift.dsn (BDML_REDSHIFT__DSN)")


def status(settings: Settings) -> ComponentStatus:
    dsn = _parsed(settings)
    if isinstance(dsn, ComponentStatus):
        return dsn
    if not port_open(dsn.host, dsn.port):
        _marker(settings).unlink(missing_ok=True)  # whatever we started is gone
        return _unreachable(settings, dsn)
    return _inspect(settings, dsn, fix=False)


def up(settings: Settings, progress: Progress = no_progress) -> ComponentStatus:
    dsn = _parsed(settings)
    if isinstance(dsn, ComponentStatus):
        return dsn
    return bring_up(
        settings, dsn.host, dsn.port, lock="postgresql.lock",
        current=lambda: status(settings),
        start=lambda: _start(settings, dsn, progress),
        failed=lambda message: _status(dsn, "error", message, settings),
        ready=lambda: _inspect(settings, dsn, fix=True),
    )  # fmt: skip


def down(settings: Settings, progress: Progress = no_progress) -> ComponentStatus:
    dsn = _parsed(settings)
    if isinstance(dsn, ComponentStatus):
        return dsn
    version = _our_version(settings)
    if version is None or not port_open(dsn.host, dsn.port):
        current = status(settings)
        if port_open(dsn.host, dsn.port):
            return replace(current, detail=f"{current.detail}; left running (not started by bdml)")
        return current
    progress(f"stopping PostgreSQL {version}/{CLUSTER}")
    try:
        run_as_root(_ctl(version, "stop", "-m", "fast"), timeout=90)
    except StackError as exc:
        return _status(dsn, "error", str(exc), settings)
    _marker(settings).unlink(missing_ok=True)
    return ComponentStatus(NAME, "down", dsn.endpoint, "stopped")
