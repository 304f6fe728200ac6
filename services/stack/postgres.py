"""The Redshift stand-in: a PostgreSQL server at ``settings.redshift.dsn``.

``up`` starts a locally installed but stopped Debian cluster (``pg_ctlcluster``, when
``stack.manage_servers``) and creates the database. ``down`` stops the cluster only when ``up`` started
it (a marker file under the stack home names it)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import psycopg
from psycopg import sql

from services.dsn import Dsn
from services.settings import Settings
from services.stack.common import (
    ComponentStatus,
    Progress,
    StackError,
    ensure_parent,
    port_open,
    run_dir,
    wait_for,
)
from services.stack.process import run_as_root
from services.stack.server import LocalServer

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


class PostgreSQL(LocalServer):
    name, product, scheme, compose_service = NAME, "PostgreSQL", "postgresql", "postgres"
    setting = "settings.redshift.dsn (BDML_REDSHIFT__DSN)"
    install_hint = INSTALL_HINT

    def dsn_text(self, settings: Settings) -> str:
        return settings.redshift.dsn

    def installed(self) -> bool:
        return bool(installed_versions()) and shutil.which("pg_ctlcluster") is not None

    def started_pid(self, settings: Settings) -> int | None:
        return None  # a cluster is started by version, not by pid: the marker says

    def started_by_us(self, settings: Settings) -> bool:
        return _our_version(settings) is not None

    def start(self, settings: Settings, dsn: Dsn, progress: Progress) -> None:
        _start(settings, dsn, progress)

    def stop(self, settings: Settings, dsn: Dsn, progress: Progress) -> None:
        version = _our_version(settings)
        progress(f"stopping PostgreSQL {version}/{CLUSTER}")
        run_as_root(_ctl(str(version), "stop", "-m", "fast"), timeout=90)
        _marker(settings).unlink(missing_ok=True)

    def inspect(self, settings: Settings, dsn: Dsn, fix: bool) -> ComponentStatus:
        return _inspect(settings, dsn, fix)

    def forget_start(self, settings: Settings) -> None:
        _marker(settings).unlink(missing_ok=True)  # whatever we started is gone


SERVER = PostgreSQL()
status, up, down, _status = SERVER.status, SERVER.up, SERVER.down, SERVER.status_of
