"""The loaders against the real MariaDB and PostgreSQL servers: atomic, idempotent, loud on bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.objectstore import ObjectStore, S3Uri
from services.settings import Settings
from services.warehouse.mysql import MySQLLoader
from services.warehouse.mysql import connect as mysql_connect
from services.warehouse.postgres import CopyStdinLoader, RedshiftS3CopyLoader
from services.warehouse.postgres import connect as pg_connect
from services.warehouse.schema import Column, LoadError, TableSchema, checked_identifier

SCHEMA = TableSchema(
    "loader_probe",
    (
        Column("id", "STRING", 12),
        Column("n", "SMALLINT"),
        Column("d", "DATE"),
        Column("amt", "DECIMAL(12,2)"),
    ),
    primary_key=("id",),
)
GOOD = "A1|1|2017-01-01|10.50\nA2|\\N|\\N|\\N\nA3|3|2018-02-01|0.00\n"


def _mysql_rows(settings: Settings) -> list[tuple[object, ...]]:
    with mysql_connect(settings.mysql.dsn) as con, con.cursor() as cur:
        cur.execute("SELECT id, n, d, amt FROM loader_probe ORDER BY id")
        return list(cur.fetchall())


def _pg_rows(settings: Settings) -> list[tuple[object, ...]]:
    with pg_connect(settings.redshift.dsn) as con:
        return con.execute("SELECT id, n, d, amt FROM loader_probe ORDER BY id").fetchall()


@pytest.mark.unit
def test_ddl_renders_each_dialect() -> None:
    assert "id VARCHAR(12)" in SCHEMA.ddl("mysql") and "ENGINE=InnoDB" in SCHEMA.ddl("mysql")
    assert "PRIMARY KEY (id)" in SCHEMA.ddl("postgresql")
    with pytest.raises(ValueError, match="identifier"):
        checked_identifier("x; DROP TABLE y")


@pytest.mark.unit
def test_redshift_copy_sql_names_role_region_and_null_marker() -> None:
    role = "arn:aws:iam::123456789012:role/bdml-redshift-copy"
    loader = RedshiftS3CopyLoader("postgresql://u@h:5439/dev", role, "eu-west-1")
    sql = loader.copy_sql("stage", SCHEMA, S3Uri("bdml-processed", "freddie/performance"))
    assert sql.startswith("COPY stage (id, n, d, amt) FROM 's3://bdml-processed/freddie/performance/'")
    assert f"IAM_ROLE '{role}'" in sql and "REGION 'eu-west-1'" in sql
    assert "NULL AS '\\\\N'" in sql and "DELIMITER '|'" in sql


@pytest.mark.unit
def test_redshift_copy_refuses_what_could_end_a_literal() -> None:
    role = "arn:aws:iam::123456789012:role/r"
    with pytest.raises(ValueError, match="IAM role ARN"):
        RedshiftS3CopyLoader(
            "postgresql://u@h:5439/dev", "arn:aws:iam::1:role/r' CREDENTIALS 'x", "us-east-1"
        )
    with pytest.raises(ValueError, match="region"):
        RedshiftS3CopyLoader("postgresql://u@h:5439/dev", role, "us-east-1'; DROP TABLE t; --")
    loader = RedshiftS3CopyLoader("postgresql://u@h:5439/dev", role, "us-east-1")
    with pytest.raises(LoadError, match="S3 prefix"):
        loader.copy_sql("stage", SCHEMA, S3Uri("bdml-processed", "freddie/x' IAM_ROLE 'arn:other"))


@pytest.mark.integration
def test_mysql_load_is_idempotent(stack: Settings, tmp_path: Path) -> None:
    path = tmp_path / "part-0.txt"
    path.write_text(GOOD)
    loader = MySQLLoader(stack.mysql.dsn, ObjectStore(stack), tmp_path / "work")
    first = loader.load_files(SCHEMA, [path])
    second = loader.load_files(SCHEMA, [path])
    assert (first.rows_in, first.rows_out, first.rows_rejected) == (3, 3, 0)
    assert second.rows_out == 3
    rows = _mysql_rows(stack)
    assert [r[0] for r in rows] == ["A1", "A2", "A3"]
    assert rows[1][1:] == (None, None, None)  # \N is NULL, never 0 or ''


@pytest.mark.integration
@pytest.mark.parametrize(
    ("bad_line", "message"),
    [
        ("B1|abc|2017-01-01|1.00", "warning"),
        ("B2|1|2017-01-01", "warning"),
        ("B3|1|2017-13-01|1.00", "warning"),
    ],
)
def test_mysql_bad_value_rolls_back(stack: Settings, tmp_path: Path, bad_line: str, message: str) -> None:
    good = tmp_path / "good.txt"
    good.write_text(GOOD)
    loader = MySQLLoader(stack.mysql.dsn, ObjectStore(stack), tmp_path / "work")
    loader.load_files(SCHEMA, [good])
    bad = tmp_path / "bad.txt"
    bad.write_text("Z1|1|2017-01-01|1.00\n" + bad_line + "\n")
    with pytest.raises(LoadError, match=message) as err:
        loader.load_files(SCHEMA, [bad])
    assert "bad.txt" in str(err.value)
    assert [r[0] for r in _mysql_rows(stack)] == ["A1", "A2", "A3"]  # the target is untouched


@pytest.mark.integration
def test_postgres_copy_is_idempotent_and_atomic(stack: Settings, store: ObjectStore) -> None:
    good = S3Uri(stack.s3.processed_bucket, "probe/good/part-00000.txt")
    store.put_text(good, GOOD)
    loader = CopyStdinLoader(stack.redshift.dsn, store)
    assert loader.load(SCHEMA, [good]).rows_out == 3
    assert loader.load(SCHEMA, [good]).rows_out == 3
    bad = S3Uri(stack.s3.processed_bucket, "probe/bad/part-00000.txt")
    store.put_text(bad, "Z1|1|2017-01-01|1.00\nZ2|notanumber|\\N|\\N\n")
    with pytest.raises(LoadError, match="nothing changed"):
        loader.load(SCHEMA, [bad])
    rows = _pg_rows(stack)
    assert [r[0] for r in rows] == ["A1", "A2", "A3"]
    assert rows[1][1:] == (None, None, None)
