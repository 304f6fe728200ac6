"""The MySQL target: a MariaDB/MySQL server at ``settings.mysql.dsn``.

``up`` starts a locally installed but stopped MariaDB (when ``stack.manage_servers``), makes sure
``local_infile`` is on (our loader uses LOAD DATA LOCAL) and creates the database. ``down`` stops the
server only when ``up`` started it (its pidfile under the stack home is the marker)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pymysql

from services.dsn import Dsn
from services.settings import Settings
from services.stack.common import (
    ComponentStatus,
    Progress,
    StackError,
    ensure_parent,
    is_local,
    logs_dir,
    port_open,
    run_dir,
    wait_for,
)
from services.stack.process import as_root, live_pid_from, pids_named, run_as_root
from services.stack.server import LocalServer

NAME = "mariadb"
SERVER_BINARIES: tuple[Path, ...] = (Path("/usr/sbin/mariadbd"), Path("/usr/sbin/mysqld"))
SOCKET_DIR = Path("/run/mysqld")
START_TIMEOUT_S = 60.0
ACCESS_DENIED = {1044, 1045, 1130, 1698}  # db denied, user denied, host not allowed, auth plugin
INSTALL_HINT = (
    "install it: sudo apt-get install -y mariadb-server (Debian/Ubuntu; then bdml up starts it), "
    "or run the servers in Docker: docker compose up -d mysql postgres"
)


def _pidfile(settings: Settings) -> Path:
    return run_dir(settings) / "mariadb.pid"


def _our_pid(settings: Settings) -> int | None:
    return live_pid_from(_pidfile(settings), "mariadbd", "mysqld")


def _connect(dsn: Dsn) -> pymysql.connections.Connection[pymysql.cursors.Cursor]:
    return pymysql.connect(
        host=dsn.host,
        port=dsn.port,
        user=dsn.user,
        password=dsn.password or "",
        connect_timeout=5,
        autocommit=True,
    )


def _denied(dsn: Dsn, message: str) -> str:
    u, db = dsn.user, dsn.database
    return (
        f"MySQL at {dsn.address} refused user '{u}': {message}. Fix the user/password in BDML_MYSQL__DSN "
        f"(now {dsn.redacted()}), or as a MySQL admin (e.g. `sudo mariadb`) create and grant it (a client on "
        f"127.0.0.1 may be matched as '{u}'@'localhost', so grant both hosts): "
        f"CREATE USER IF NOT EXISTS '{u}'@'localhost' IDENTIFIED BY '<the DSN password>'; "
        f"CREATE USER IF NOT EXISTS '{u}'@'127.0.0.1' IDENTIFIED BY '<the DSN password>'; "
        f"GRANT ALL PRIVILEGES ON `{db}`.* TO '{u}'@'localhost', '{u}'@'127.0.0.1';"
    )


def _provision_user(dsn: Dsn, owned: bool) -> None:
    """Create the DSN's user on a local server we manage, as the server's admin over its unix socket.

    A fresh Debian MariaDB lets root in only through the socket (unix_socket auth), so a TCP DSN needs a
    user of its own. It gets a password (never none) and rights on the project's databases only
    (``bdml%`` for a DSN database ``bdml`` or ``bdml_test``), no FILE or SUPER, so it can neither
    read the server's files nor change the server. Both hosts are granted, since a client on 127.0.0.1
    may be matched as user@'localhost'.

    An existing user is reset (password, and rights narrowed to the above) only when ``owned``: its
    password is the one in bdml's own password file, so the account is bdml's (a fresh checkout makes a
    new file; an earlier bdml left a user with no password and all privileges). A password the user
    wrote into the DSN means an account someone else made: that one is left alone."""
    if not dsn.password:
        raise StackError(
            f"refusing to create MySQL user '{dsn.user}' without a password: put one in BDML_MYSQL__DSN "
            "(or set mysql.password_file, as the embedded profile does)"
        )
    client = shutil.which("mariadb") or shutil.which("mysql")
    if client is None:
        raise StackError("no mariadb/mysql client to create the user with")
    user = dsn.user.replace("'", "''")
    existing = _admin_sql(client, f"SELECT COUNT(*) FROM mysql.user WHERE User = '{user}';").split()
    if existing != ["0"] and not owned:
        raise StackError(
            f"user '{dsn.user}' exists, so bdml leaves it alone (is the DSN password right? a user made by "
            "an earlier bdml had none and all privileges: drop it as admin, "
            f"DROP USER '{dsn.user}'@'localhost', '{dsn.user}'@'127.0.0.1'; and run bdml up again)"
        )
    password = dsn.password.replace("\\", "\\\\").replace("'", "\\'")
    # bdml, bdml_test, bdml_bench …: every database named after the project's (the part before any "_").
    databases = dsn.database.split("_", 1)[0].replace("`", "``") + "%"
    _admin_sql(client, "".join(
        f"CREATE USER IF NOT EXISTS '{user}'@'{host}' IDENTIFIED BY '{password}'; "
        f"ALTER USER '{user}'@'{host}' IDENTIFIED BY '{password}'; "
        f"REVOKE ALL PRIVILEGES, GRANT OPTION FROM '{user}'@'{host}'; "
        f"GRANT ALL PRIVILEGES ON `{databases}`.* TO '{user}'@'{host}'; "
        for host in ("localhost", "127.0.0.1")
    ))  # fmt: skip


def _owned_password(settings: Settings, dsn: Dsn) -> bool:
    """Whether the DSN's password is the one bdml keeps in its own password file."""
    path = settings.mysql_password_path()
    return bool(path and dsn.password and path.exists() and path.read_text().strip() == dsn.password)


def _admin_sql(client: str, sql: str) -> str:
    """Run SQL as the server's admin over the unix socket; stdin keeps passwords out of the process list."""
    done = subprocess.run(as_root([client, "--protocol=socket", "-N"]), input=sql, capture_output=True,
                          text=True, timeout=60, check=False)  # fmt: skip
    if done.returncode != 0:
        raise StackError(f"`{client}` over the socket failed: {done.stderr.strip()}")
    return done.stdout


def _inspect(settings: Settings, dsn: Dsn, fix: bool) -> ComponentStatus:
    """Talk to a reachable server: check (and with ``fix``, repair) the user, local_infile and the
    database."""
    try:
        conn = _connect(dsn)
    except pymysql.err.OperationalError as exc:
        code, message = (*exc.args, "", "")[:2]
        if code not in ACCESS_DENIED:
            return _status(dsn, "error", f"cannot talk to MySQL at {dsn.address}: {message}", settings)
        if not (fix and settings.stack.manage_servers and is_local(dsn.host)):
            return _status(dsn, "error", _denied(dsn, str(message)), settings)
        try:
            _provision_user(dsn, owned=_owned_password(settings, dsn))
            conn = _connect(dsn)
        except (StackError, pymysql.err.OperationalError) as again:
            detail = f"{message}; creating the user failed too: {again}"
            return _status(dsn, "error", _denied(dsn, detail), settings)
    with conn, conn.cursor() as cur:
        cur.execute("SELECT VERSION(), @@GLOBAL.local_infile")
        version, local_infile = cur.fetchone() or ("?", 0)
        if not local_infile and fix and settings.stack.manage_servers and is_local(dsn.host):
            # Only on a server bdml manages, as its admin: the DSN's user has no SUPER, by design.
            client = shutil.which("mariadb") or shutil.which("mysql")
            try:
                if client is None:
                    raise StackError("no mariadb/mysql client")
                _admin_sql(client, "SET GLOBAL local_infile = 1;")
                local_infile = 1
            except StackError as exc:
                return _status(dsn, "error", _no_local_infile(dsn, str(exc)), settings)
        if not local_infile:
            return _status(
                dsn, "down", "local_infile is OFF (LOAD DATA LOCAL needs it); bdml up turns it on", settings
            )
        cur.execute("SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", (dsn.database,))
        exists = cur.fetchone() is not None
        if not exists and fix:
            try:
                cur.execute(f"CREATE DATABASE IF NOT EXISTS `{dsn.database}` CHARACTER SET utf8mb4")
                exists = True
            except pymysql.err.MySQLError as exc:
                return _status(
                    dsn, "error", _denied(dsn, f"cannot create database: {exc.args[-1]}"), settings
                )
        if not exists:
            return _status(
                dsn, "down", f"database `{dsn.database}` does not exist yet; bdml up creates it", settings
            )
    server = f"MariaDB {version.split('-')[0]}" if "MariaDB" in str(version) else f"MySQL {version}"
    return _status(dsn, "up", f"{server}; local_infile=ON; database `{dsn.database}` ready", settings)


def _no_local_infile(dsn: Dsn, message: str) -> str:
    return (
        f"local_infile is OFF and user '{dsn.user}' may not turn it on ({message}). As a MySQL admin run "
        "SET GLOBAL local_infile = 1; and add local-infile=1 under [mysqld] in the server config to keep it "
        "(on RDS: set local_infile=1 in the DB parameter group)"
    )


def _start(settings: Settings, dsn: Dsn, progress: Progress) -> None:
    binary = next(b for b in SERVER_BINARIES if b.exists())
    running = pids_named("mariadbd", "mysqld")
    if running:
        raise StackError(
            f"a MariaDB/MySQL server already runs (pid {running[0]}) but nothing answers at {dsn.address}: "
            "check the port in BDML_MYSQL__DSN against that server's port/bind-address"
        )
    pidfile = ensure_parent(_pidfile(settings))
    log = ensure_parent(logs_dir(settings) / "mariadb.log")
    progress(f"starting MariaDB on {dsn.address} (output: {log}; server log: /var/log/mysql/error.log)")
    run_as_root(["mkdir", "-p", str(SOCKET_DIR)])
    run_as_root(["chown", "mysql:mysql", str(SOCKET_DIR)])
    run_as_root([
        "start-stop-daemon", "--start", "--oknodo", "--background",
        "--make-pidfile", "--pidfile", str(pidfile), "--output", str(log),
        "--exec", str(binary), "--",
        "--user=mysql", "--bind-address=127.0.0.1", f"--port={dsn.port}", "--local-infile=1",
    ])  # fmt: skip

    def ready() -> bool | None:
        if _our_pid(settings) is None:
            raise StackError(f"MariaDB exited during start-up; see {log} and /var/log/mysql/error.log")
        return True if port_open(dsn.host, dsn.port) else None

    if not wait_for(ready, START_TIMEOUT_S):
        raise StackError(f"MariaDB did not listen on {dsn.address} within {START_TIMEOUT_S:.0f} s; see {log}")


class MariaDB(LocalServer):
    name, product, scheme, compose_service = NAME, "MariaDB", "mysql", "mysql"
    setting = "settings.mysql.dsn (BDML_MYSQL__DSN)"
    install_hint = INSTALL_HINT

    def dsn_text(self, settings: Settings) -> str:
        return settings.mysql.dsn

    def installed(self) -> bool:
        return any(b.exists() for b in SERVER_BINARIES)

    def started_pid(self, settings: Settings) -> int | None:
        return _our_pid(settings)

    def start(self, settings: Settings, dsn: Dsn, progress: Progress) -> None:
        _start(settings, dsn, progress)

    def stop(self, settings: Settings, dsn: Dsn, progress: Progress) -> None:
        progress(f"stopping MariaDB (pid {_our_pid(settings)})")
        run_as_root([
            "start-stop-daemon", "--stop", "--oknodo", "--pidfile", str(_pidfile(settings)),
            "--retry", "TERM/60/KILL/5", "--remove-pidfile",
        ], timeout=90)  # fmt: skip
        _pidfile(settings).unlink(missing_ok=True)

    def inspect(self, settings: Settings, dsn: Dsn, fix: bool) -> ComponentStatus:
        return _inspect(settings, dsn, fix)


SERVER = MariaDB()
status, up, down, _status = SERVER.status, SERVER.up, SERVER.down, SERVER.status_of
