"""Warehouse connections. The MySQL loader sends a server only the file it is loading: a hostile server
that answers an ordinary statement (or a LOAD) with a LOCAL INFILE request for another file gets nothing.
Beyond this machine (RDS, Redshift) TLS with certificate checks is required, and the DSN's TLS options
reach the drivers."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.warehouse.mysql import connect, connection_options
from services.warehouse.schema import LoadError
from tests.services.fake_mysql import FakeMySQL

pytestmark = pytest.mark.unit


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "id_rsa"
    path.write_text("PRIVATE KEY")
    return path


def test_a_statement_cannot_fetch_a_client_file(secret: Path) -> None:
    server = FakeMySQL(demand={"CREATE TABLE": str(secret)})
    try:
        with connect(server.dsn) as con, con.cursor() as cur, pytest.raises(LoadError, match="refused"):
            cur.execute("CREATE TABLE t (a INT)")
    finally:
        server.close()
    assert server.received.get(str(secret), b"") == b""


def test_only_the_file_being_loaded_is_sent(secret: Path, tmp_path: Path) -> None:
    rows = tmp_path / "rows.txt"
    rows.write_text("1|a\n")
    server = FakeMySQL(demand={"LOAD DATA": str(rows), "SELECT 2": str(secret)})
    try:
        with connect(server.dsn) as con, con.cursor() as cur, con.local_file(rows):
            cur.execute("LOAD DATA LOCAL INFILE 'rows.txt' INTO TABLE t")
            with pytest.raises(LoadError, match="refused"):
                cur.execute("SELECT 2")  # another file, even while a load is allowed
    finally:
        server.close()
    assert server.received[str(rows)] == b"1|a\n"
    assert server.received.get(str(secret), b"") == b""


def test_tls_is_required_beyond_this_machine_and_dsn_options_pass_through() -> None:
    local = connection_options("mysql://u@127.0.0.1:3306/bdml")
    assert "ssl_verify_cert" not in local
    remote = connection_options(
        "mysql://u:p@db.abc.us-east-1.rds.amazonaws.com:3306/bdml?ssl_ca=/etc/rds.pem"
    )
    assert remote["ssl_ca"] == "/etc/rds.pem"
    assert remote["ssl_verify_cert"] is True and remote["ssl_verify_identity"] is True
    bare = connection_options("mysql://u:p@db.example.org/bdml")
    assert bare["ssl_verify_cert"] is True, "no CA given: the system's CAs, still verified"
    with pytest.raises(ValueError, match="ssl_mode"):
        connection_options("mysql://u@db.example.org/bdml?ssl_mode=DISABLED")


def test_redshift_and_postgres_beyond_this_machine_verify_certificates() -> None:
    from services.warehouse.postgres import connection_options as pg_options

    assert "sslmode" not in pg_options("postgresql://u@127.0.0.1:5432/bdml")
    remote = pg_options("postgresql://u:p@c.abc.us-east-1.redshift.amazonaws.com:5439/dev")
    assert (remote["sslmode"], remote["sslrootcert"]) == ("verify-full", "system")
    given = pg_options("postgresql://u:p@db.example.org/dev?sslmode=verify-ca&sslrootcert=/etc/ca.pem")
    assert (given["sslmode"], given["sslrootcert"]) == ("verify-ca", "/etc/ca.pem")
    with pytest.raises(ValueError, match="certificate"):
        pg_options("postgresql://u:p@db.example.org/dev?sslmode=require")
