"""The embedded stack: unit tests (no servers) and integration tests against the real servers.

Integration tests never stop the shared MariaDB/PostgreSQL; MiniStack instances they start run on free
ports under a temporary home and are stopped again."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymysql
import pytest
import typer
from typer.testing import CliRunner

from services import stack
from services.dsn import parse_dsn
from services.settings import MySQLSettings, Settings, StackSettings
from services.stack import mariadb, ministack, postgres
from services.stack.cli import register
from services.stack.common import ComponentStatus, StackError, StackStatus, port_open
from services.warehouse.mysql import connect as mysql_connect


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def with_(base: Settings, **sections: dict[str, Any]) -> Settings:
    """A copy of ``base`` with fields of some sections replaced: with_(s, stack={"home": p})."""
    update = {name: getattr(base, name).model_copy(update=fields) for name, fields in sections.items()}
    return base.model_copy(update=update)


def on_port(base: Settings, home: Path, port: int) -> Settings:
    return with_(
        base,
        stack={"home": home, "ministack_port": port, "manage_servers": True},
        aws={"endpoint_url": f"http://127.0.0.1:{port}"},
    )


@pytest.fixture(scope="module")
def base() -> Settings:
    return Settings()


# --- unit --------------------------------------------------------------------------------------------


@pytest.mark.unit
@pytest.mark.parametrize(
    ("url", "expect", "parts"),
    [
        ("mysql://root@127.0.0.1:3306/bdml", "mysql", ("root", None, "127.0.0.1", 3306, "bdml")),
        ("mysql://u:p%40ss@db.local/x", "mysql", ("u", "p@ss", "db.local", 3306, "x")),
        ("mysql+pymysql://u:pw@localhost:3307/x", "mysql", ("u", "pw", "localhost", 3307, "x")),
        ("mariadb://u@h/x", "mysql", ("u", None, "h", 3306, "x")),
        ("postgresql://pg@127.0.0.1:5432/bdml", "postgresql", ("pg", None, "127.0.0.1", 5432, "bdml")),
        ("postgres://a:b@h/db", "postgresql", ("a", "b", "h", 5432, "db")),
    ],
)
def test_parse_dsn(url: str, expect: str, parts: tuple[object, ...]) -> None:
    dsn = parse_dsn(url, expect)
    assert (dsn.user, dsn.password, dsn.host, dsn.port, dsn.database) == parts
    assert dsn.scheme == expect


@pytest.mark.unit
@pytest.mark.parametrize(
    ("url", "expect", "message"),
    [
        ("postgresql://u@h/db", "mysql", "expected a mysql URL"),
        ("mysql://h:3306/db", "mysql", "names no user"),
        ("mysql://u@h:3306/", "mysql", "must name one database"),
        ("mysql://u@h:port/db", "mysql", "invalid port number"),
    ],
)
def test_parse_dsn_rejects(url: str, expect: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_dsn(url, expect)


@pytest.mark.unit
def test_redacted_dsn_hides_the_password() -> None:
    dsn = parse_dsn("mysql://loader:s3cret@127.0.0.1:3306/bdml", "mysql")
    assert "s3cret" not in dsn.redacted()
    assert dsn.redacted() == "mysql://loader:***@127.0.0.1:3306/bdml"


@pytest.mark.unit
def test_status_json() -> None:
    status = StackStatus(
        (
            ComponentStatus("ministack", "external", "AWS (default endpoints)", "real AWS"),
            ComponentStatus("mariadb", "up", "127.0.0.1:3306/bdml", "ready", pid=42, managed_by_us=True),
        )
    )
    data = json.loads(json.dumps(status.as_dict()))
    assert data["ok"] is True
    assert data["components"][1] == {
        "name": "mariadb",
        "state": "up",
        "endpoint": "127.0.0.1:3306/bdml",
        "detail": "ready",
        "pid": 42,
        "managed_by_us": True,
    }
    broken = StackStatus((*status.components, ComponentStatus("postgresql", "missing")))
    assert broken.as_dict()["ok"] is False
    assert broken.component("postgresql").state == "missing"


@pytest.mark.unit
@pytest.mark.parametrize(
    ("url", "managed"),
    [
        ("http://127.0.0.1:4566", True),
        ("http://localhost:4566/", True),
        ("http://127.0.0.1:4567", False),
        ("https://127.0.0.1:4566", False),
        ("http://10.0.0.5:4566", False),
        (None, False),
    ],
)
def test_managed_endpoint(url: str | None, managed: bool) -> None:
    assert ministack.is_managed_endpoint(url, 4566) is managed


@pytest.mark.unit
def test_ministack_is_external_when_endpoint_is_not_managed(base: Settings, tmp_path: Path) -> None:
    real_aws = with_(base, aws={"endpoint_url": None}, stack={"home": tmp_path})
    elsewhere = with_(base, aws={"endpoint_url": "https://s3.example.test"}, stack={"home": tmp_path})
    for settings in (real_aws, elsewhere):
        for result in (ministack.status(settings), ministack.up(settings), ministack.down(settings)):
            assert result.state == "external"
            assert not result.managed_by_us
    assert not (tmp_path / "ministack-venv").exists()


@pytest.mark.unit
def test_ministack_not_run_when_servers_are_not_managed(base: Settings, tmp_path: Path) -> None:
    settings = with_(on_port(base, tmp_path, free_port()), stack={"manage_servers": False})
    result = ministack.up(settings)
    assert result.state == "down"
    assert "manage_servers is off" in result.detail
    assert not (tmp_path / "ministack-venv").exists()


def fake_ministack(home: Path, version: str, script: str) -> None:
    """A stand-in MiniStack venv whose entry point runs ``script`` (bash)."""
    venv = home / "ministack-venv"
    (venv / "lib" / "python3.11" / "site-packages" / f"ministack-{version}.dist-info").mkdir(parents=True)
    entry = venv / "bin" / "ministack"
    entry.parent.mkdir(parents=True)
    entry.write_text(f"#!/bin/bash\n{script}\n")
    entry.chmod(0o755)


@pytest.mark.unit
def test_ministack_that_dies_at_start_shows_its_log(base: Settings, tmp_path: Path) -> None:
    settings = on_port(base, tmp_path, free_port())
    fake_ministack(tmp_path, settings.stack.ministack_version, "echo 'boom: cannot bind'; exit 3")
    result = ministack.up(settings)
    assert result.state == "error"
    assert "exited during start-up" in result.detail and "boom: cannot bind" in result.detail
    assert not (tmp_path / "run" / "ministack.pid").exists()


@pytest.mark.unit
def test_ministack_that_never_gets_healthy_is_stopped(
    base: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ministack, "START_TIMEOUT_S", 1.0)
    settings = on_port(base, tmp_path, free_port())
    fake_ministack(tmp_path, settings.stack.ministack_version, "exec sleep 300 # ministack")
    result = ministack.up(settings)
    assert result.state == "error"
    assert "did not answer /_ministack/health within 1 s" in result.detail
    assert not (tmp_path / "run" / "ministack.pid").exists()
    assert ministack.status(settings).state == "down"


@pytest.mark.unit
def test_missing_servers_say_how_to_install(
    base: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mariadb, "SERVER_BINARIES", (tmp_path / "no-mariadbd",))
    monkeypatch.setattr(postgres, "installed_versions", list)
    port = free_port()
    settings = with_(
        base,
        stack={"home": tmp_path, "manage_servers": True},
        mysql={"dsn": f"mysql://root@127.0.0.1:{port}/bdml"},
        redshift={"dsn": f"postgresql://postgres@127.0.0.1:{port}/bdml"},
    )
    my, pg = mariadb.up(settings), postgres.up(settings)
    assert (my.state, pg.state) == ("missing", "missing")
    assert "apt-get install -y mariadb-server" in my.detail
    assert "docker compose up -d mysql postgres" in my.detail
    assert "apt-get install -y postgresql" in pg.detail


@pytest.mark.unit
def test_unmanaged_servers_are_not_started(base: Settings, tmp_path: Path) -> None:
    port = free_port()
    settings = with_(
        base,
        stack={"home": tmp_path, "manage_servers": False},
        mysql={"dsn": f"mysql://root@127.0.0.1:{port}/bdml"},
        redshift={"dsn": f"postgresql://postgres@127.0.0.1:{port}/bdml"},
    )
    for result in (mariadb.up(settings), postgres.up(settings)):
        assert result.state == "down"
        assert "manage_servers is off" in result.detail
    assert not (tmp_path / "run").exists()


@pytest.mark.unit
def test_bad_dsn_is_an_error_not_a_crash(base: Settings) -> None:
    settings = with_(base, mysql={"dsn": "postgresql://u@h/db"}, redshift={"dsn": "nonsense"})
    assert mariadb.status(settings).state == "error"
    assert "BDML_MYSQL__DSN" in mariadb.status(settings).detail
    assert "BDML_REDSHIFT__DSN" in postgres.up(settings).detail


# --- integration -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ms_home(tmp_path_factory: pytest.TempPathFactory, base: Settings) -> Path:
    """A stack home for MiniStacks started by tests; reuses the project's MiniStack venv when present."""
    home = tmp_path_factory.mktemp("stack-home")
    venv = base.stack.home / "ministack-venv"
    if ministack.installed_version(venv) == base.stack.ministack_version:
        (home / "ministack-venv").symlink_to(venv.resolve())
    return home


@pytest.fixture
def own_ministack(base: Settings, ms_home: Path) -> Iterator[Settings]:
    settings = on_port(base, ms_home, free_port())
    yield settings
    ministack.down(settings)


@pytest.mark.integration
def test_up_is_idempotent(base: Settings) -> None:
    first = stack.up(base)
    assert first.ok, first.as_dict()
    second = stack.up(base)
    assert second.ok, second.as_dict()
    assert [(c.name, c.state, c.pid, c.managed_by_us) for c in first.components] == [
        (c.name, c.state, c.pid, c.managed_by_us) for c in second.components
    ]


@pytest.mark.integration
def test_status_reports_all_three_up(base: Settings) -> None:
    stack.up(base)
    status = stack.status(base)
    assert [c.name for c in status.components] == ["ministack", "mariadb", "postgresql"]
    assert all(c.state == "up" for c in status.components), status.as_dict()
    endpoints = {c.name: c.endpoint for c in status.components}
    my, pg = parse_dsn(base.mysql.dsn, "mysql"), parse_dsn(base.redshift.dsn, "postgresql")
    assert endpoints == {
        "ministack": f"http://127.0.0.1:{base.stack.ministack_port}",
        "mariadb": f"{my.host}:{my.port}/{my.database}",
        "postgresql": f"{pg.host}:{pg.port}/{pg.database}",
    }


@pytest.mark.integration
def test_ministack_start_twice_then_stop(own_ministack: Settings) -> None:
    port = own_ministack.stack.ministack_port
    started = ministack.up(own_ministack)
    assert started.state == "up", started.detail
    assert started.managed_by_us and started.pid
    again = ministack.up(own_ministack)
    assert (again.state, again.pid, again.managed_by_us) == ("up", started.pid, True)
    assert (own_ministack.stack.home / "run" / "ministack.pid").read_text().strip() == str(started.pid)

    stopped = ministack.down(own_ministack)
    assert stopped.state == "down"
    assert not port_open("127.0.0.1", port)
    assert ministack.status(own_ministack).state == "down"


@pytest.mark.integration
def test_ministack_we_did_not_start_is_up_and_left_alone(own_ministack: Settings, tmp_path: Path) -> None:
    started = ministack.up(own_ministack)
    assert started.state == "up", started.detail
    stranger = with_(own_ministack, stack={"home": tmp_path})  # same port, no pidfile of ours
    seen = ministack.up(stranger)
    assert (seen.state, seen.managed_by_us) == ("up", False)
    assert "not started by bdml" in seen.detail
    left = ministack.down(stranger)
    assert left.state == "up"
    assert port_open("127.0.0.1", own_ministack.stack.ministack_port)


@pytest.mark.integration
def test_port_taken_by_something_else(base: Settings, tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = int(squatter.getsockname()[1])
        settings = on_port(base, tmp_path, port)
        result = stack.up(settings).component("ministack")
        left = ministack.down(settings)
    assert result.state == "error"
    assert f"port {port} is taken" in result.detail
    assert "BDML_STACK__MINISTACK_PORT" in result.detail and "BDML_AWS__ENDPOINT_URL" in result.detail
    assert not (tmp_path / "ministack-venv").exists()  # nothing installed for a port we cannot use
    assert left.state == "down"  # nothing of ours to stop there


@pytest.mark.integration
def test_wrong_mysql_password_is_explained_and_the_account_left_alone(base: Settings, tmp_path: Path) -> None:
    dsn = parse_dsn(base.mysql.dsn, "mysql")
    wrong = f"mysql://root:not-the-password@{dsn.host}:{dsn.port}/{dsn.database}"
    settings = with_(base, mysql={"dsn": wrong}, stack={"home": tmp_path})
    result = mariadb.up(settings)
    assert result.state == "error"
    assert "refused user 'root'" in result.detail and "exists, so bdml leaves it alone" in result.detail
    assert f"GRANT ALL PRIVILEGES ON `{dsn.database}`.* TO 'root'@'localhost'" in result.detail
    assert "not-the-password" not in result.detail


@pytest.mark.integration
def test_missing_mysql_user_is_created_with_a_password_and_project_rights_only(
    base: Settings, tmp_path: Path
) -> None:
    # A fresh Debian MariaDB lets root in only through its socket: `bdml up` creates the DSN's user, with
    # its password, rights on the project's databases only, and neither FILE nor SUPER.
    dsn = parse_dsn(base.mysql.dsn, "mysql")
    user = f"bdml_probe_{uuid.uuid4().hex[:6]}"
    url = f"mysql://{user}:pw-{uuid.uuid4().hex[:8]}@{dsn.host}:{dsn.port}/{dsn.database}"
    settings = with_(base, mysql={"dsn": url}, stack={"home": tmp_path})
    assert mariadb.status(settings).state == "error"
    try:
        result = mariadb.up(settings)
        assert result.state == "up", result.detail
        with mysql_connect(url) as con, con.cursor() as cur:
            cur.execute("SELECT LOAD_FILE('/etc/hostname')")
            assert cur.fetchone() == (None,), "no FILE privilege: the server's files stay unread"
            cur.execute("SHOW GRANTS")
            grants = " ".join(row[0] for row in cur.fetchall())
            assert "ALL PRIVILEGES ON *.*" not in grants and "SUPER" not in grants and "FILE" not in grants
            with pytest.raises(pymysql.err.OperationalError):
                cur.execute("SET GLOBAL local_infile = 1")
    finally:
        admin = shutil.which("mariadb") or shutil.which("mysql")
        assert admin is not None
        subprocess.run([admin, "--protocol=socket", "-e", f"DROP USER IF EXISTS '{user}'@'localhost', "
                        f"'{user}'@'127.0.0.1'"], check=True)  # fmt: skip


@pytest.mark.integration
def test_a_user_left_by_an_earlier_bdml_is_reset_to_the_password_file_and_project_rights(
    base: Settings, tmp_path: Path
) -> None:
    # A fresh checkout makes a new password file while the server still holds the user an earlier bdml
    # made (no password, all privileges): the account is bdml's, so `bdml up` resets it.
    dsn = parse_dsn(base.mysql.dsn, "mysql")
    user = f"bdml_probe_{uuid.uuid4().hex[:6]}"
    admin = shutil.which("mariadb") or shutil.which("mysql")
    assert admin is not None
    hosts = f"'{user}'@'localhost', '{user}'@'127.0.0.1'"
    subprocess.run([admin, "--protocol=socket", "-e", f"CREATE USER {hosts}; "
                    f"GRANT ALL PRIVILEGES ON *.* TO {hosts};"], check=True)  # fmt: skip
    # As the settings make it: a DSN without a password gets the one in the (new) password file.
    settings = Settings(
        mysql=MySQLSettings(dsn=f"mysql://{user}@{dsn.host}:{dsn.port}/{dsn.database}",
                            password_file=Path("mysql.password")),
        stack=StackSettings(home=tmp_path),
    )  # fmt: skip
    assert (
        parse_dsn(settings.mysql.dsn, "mysql").password == (tmp_path / "mysql.password").read_text().strip()
    )
    try:
        result = mariadb.up(settings)
        assert result.state == "up", result.detail
        with mysql_connect(settings.mysql.dsn) as con, con.cursor() as cur:
            cur.execute("SHOW GRANTS")
            grants = " ".join(row[0] for row in cur.fetchall())
        assert "ON *.*" in grants and "ALL PRIVILEGES ON *.*" not in grants  # USAGE only, server-wide
        with pytest.raises(pymysql.err.OperationalError):  # the empty password no longer works
            pymysql.connect(host=dsn.host, port=dsn.port, user=user, password="").close()
    finally:
        subprocess.run([admin, "--protocol=socket", "-e", f"DROP USER IF EXISTS {hosts}"], check=True)


@pytest.mark.integration
def test_no_passwordless_mysql_user_is_created(base: Settings, tmp_path: Path) -> None:
    dsn = parse_dsn(base.mysql.dsn, "mysql")
    user = f"bdml_probe_{uuid.uuid4().hex[:6]}"
    settings = with_(base, mysql={"dsn": f"mysql://{user}@{dsn.host}:{dsn.port}/{dsn.database}"},
                     stack={"home": tmp_path})  # fmt: skip
    result = mariadb.up(settings)
    assert result.state == "error" and "without a password" in result.detail


@pytest.mark.unit
def test_the_embedded_mysql_password_is_random_and_private(tmp_path: Path) -> None:
    settings = Settings(
        mysql=MySQLSettings(dsn="mysql://bdml@127.0.0.1:3306/bdml", password_file=Path("mysql.password")),
        stack=StackSettings(home=tmp_path),
    )
    password = parse_dsn(settings.mysql.dsn, "mysql").password
    assert password and len(password) >= 24
    assert (tmp_path / "mysql.password").stat().st_mode & 0o777 == 0o600
    again = Settings(mysql=settings.mysql.model_copy(update={"dsn": "mysql://bdml@127.0.0.1:3306/bdml"}),
                     stack=StackSettings(home=tmp_path))  # fmt: skip
    assert parse_dsn(again.mysql.dsn, "mysql").password == password, "kept, not made anew"


@pytest.mark.integration
def test_wrong_postgres_user(base: Settings, tmp_path: Path) -> None:
    dsn = parse_dsn(base.redshift.dsn, "postgresql")
    wrong = f"postgresql://bdml_nobody@{dsn.host}:{dsn.port}/{dsn.database}"
    result = postgres.up(with_(base, redshift={"dsn": wrong}, stack={"home": tmp_path}))
    assert result.state == "error"
    assert "refused user 'bdml_nobody'" in result.detail and 'CREATE ROLE "bdml_nobody"' in result.detail


@pytest.mark.integration
def test_cli_status_json_and_failing_up(base: Settings, tmp_path: Path) -> None:
    app = typer.Typer()
    current = {"settings": base}
    register(app, settings=lambda: current["settings"])
    runner = CliRunner()

    stack.up(base)
    result = runner.invoke(app, ["status", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["ok"] is True

    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        current["settings"] = on_port(base, tmp_path, int(squatter.getsockname()[1]))
        failed = runner.invoke(app, ["up"])
    assert failed.exit_code == 1
    assert "bdml up: ministack is error: port" in failed.stderr


@pytest.mark.integration
def test_pipeline_commands_start_what_is_down_and_name_what_cannot_start(
    base: Settings, tmp_path: Path
) -> None:
    messages: list[str] = []
    stack.ensure_up(base, messages.append)  # the stack is up: nothing to do, nothing said
    assert messages == []
    dsn = parse_dsn(base.mysql.dsn, "mysql")
    elsewhere = with_(
        base, mysql={"dsn": f"mysql://bdml:pw@db.invalid:{dsn.port}/bdml"}, stack={"home": tmp_path}
    )
    with pytest.raises(StackError, match=r"could not start: mariadb is down: nothing answers at db\.invalid"):
        stack.ensure_up(elsewhere, messages.append)
    assert messages[0] == "starting the local stack first (as `bdml up` does)"
    said = len(messages)
    unmanaged = with_(elsewhere, stack={"manage_servers": False})
    stack.ensure_up(unmanaged, messages.append)  # someone else runs the servers: bdml starts nothing
    assert len(messages) == said


@pytest.mark.unit
def test_a_bad_value_is_refused_before_the_stack_is_touched(monkeypatch: pytest.MonkeyPatch) -> None:
    from services.cli import app

    def refuse(*_: object) -> None:
        raise AssertionError("the stack was asked to start")

    monkeypatch.setattr(stack, "ensure_up", refuse)
    result = CliRunner().invoke(app, ["batch", "run", "--acquisitions", "0"])
    assert result.exit_code == 2 and "--acquisitions" in result.output


@pytest.mark.integration
def test_background_processes_are_listed_by_status_and_stopped_by_down(
    base: Settings, tmp_path: Path
) -> None:
    from services.stack import background

    settings = with_(base, stack={"home": tmp_path})
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", "bdml-probe-server"])
    try:
        entry = background.Background(
            "probe-server", sleeper.pid, 18099, "probe server", "probe.log", "bdml-probe"
        )
        background.record(settings, entry)
        listed = stack.status(settings).component("probe-server")
        assert (listed.state, listed.pid, listed.managed_by_us) == ("up", sleeper.pid, True)
        assert "`bdml down` stops it" in listed.detail
        stopped = stack.down(settings).component("probe-server")
        assert stopped.state == "down" and sleeper.wait(timeout=30) is not None
        assert [c.name for c in stack.status(settings).components] == list(stack.ORDER)  # gone from status
    finally:
        sleeper.kill()
