"""The DuckDB engine runs the real HQL files against MiniStack S3."""

from __future__ import annotations

import pytest

from hive import tables
from services.hql.base import HqlError
from services.hql.duckdb_engine import DuckDBEngine
from services.hql.script import load_script, split_statements
from services.objectstore import ObjectStore, S3Uri
from services.settings import Settings

pytestmark = pytest.mark.integration

GOOD = (
    "751|201703|N|204702|12060||1|P|80|33|250000|80|4.125|R|N|FRM|GA|SF|30300|F17Q1000000{n}|P|360|2|"
    "WELLS FARGO BANK, N.A.  |WELLS FARGO BANK, NA|N|"
)


def _run_all(engine: DuckDBEngine, settings: Settings) -> None:
    for path in tables.HQL_FILES:
        engine.run(load_script(path, tables.hql_variables(settings)))


def test_hql_files_validate_type_and_reject_with_line_numbers(stack: Settings, store: ObjectStore) -> None:
    lines = [
        GOOD.format(n=1),
        GOOD.format(n=2).replace("751|", "7X1|"),
        "|".join(GOOD.split("|")[:20]),
        GOOD.format(n=4).replace("201703", "201713"),
        GOOD.format(n=5).replace("|33|", "|33 |"),
    ]
    raw = tables.raw_root(stack)
    store.delete_prefix(raw)
    store.put_text(raw.join("origination/layout=article/sample_orig_2017.txt"), "\n".join(lines) + "\n")
    store.put_text(
        raw.join("performance/layout=article/sample_svcg_2017.txt"),
        "F17Q10000001|201704|249000|0|1|359||||||||||||||||||||\n",
    )
    with DuckDBEngine(stack) as engine:
        _run_all(engine, stack)
        assert engine.count("raw_origination") == 5
        assert engine.count("origination") == 1
        rejects = engine.query("SELECT src_line, layout, reason FROM origination_rejects ORDER BY src_line")
        assert rejects == [
            (2, "article", "fico is not an integer: 7X1"),
            (3, "article", "expected 27 fields, found 20"),
            (4, "article", "dt_first_pi is not YYYYMM: 201713"),
            (5, "article", "dti is not an integer: 33 "),
        ]
        row = engine.query("SELECT fico, dt_first_pi, mi_pct, seller_name, pre_harp FROM origination")[0]
        assert str(row[1]) == "2017-03-01" and row[0] == 751
        assert row[2] is None and row[3] == "WELLS FARGO BANK, N.A." and row[4] is None
        assert engine.count("origination_by_year") == 1 and engine.count("performance") == 1
        # A rerun overwrites instead of appending.
        _run_all(engine, stack)
        assert engine.count("origination") == 1 and engine.count("origination_rejects") == 4
    keys = [u.key for u, _ in store.list(tables.processed_root(stack))]
    assert any("origination_by_year/first_pi_year=2017/" in k for k in keys)
    processed = store.s3.get_object(
        Bucket=stack.s3.processed_bucket, Key="freddie/origination/part-00000.txt"
    )
    text = processed["Body"].read().decode()
    assert text.startswith("751|2017-03-01|N|2047-02-01|12060|\\N|1|P|")  # Hive TEXTFILE: NULL is \N


def test_line_numbers_follow_file_order_in_large_files(stack: Settings, store: ObjectStore) -> None:
    # The CSV reader is parallel; the line number must still be the physical line (one scan per file).
    n = 400_000
    location = S3Uri(stack.s3.raw_bucket, "linecheck")
    store.delete_prefix(location)
    for name in ("a", "b"):
        body = "".join(f"{name}{i}|x\n" for i in range(1, n + 1))
        store.put_text(location.join(f"layout=article/{name}.txt"), body)
    ddl = (
        f"CREATE EXTERNAL TABLE lines (line STRING) PARTITIONED BY (layout STRING) "
        f"ROW FORMAT DELIMITED FIELDS TERMINATED BY '\\001' STORED AS TEXTFILE LOCATION '{location}'"
    )
    with DuckDBEngine(stack) as engine:
        engine.run(split_statements(ddl + ";\nMSCK REPAIR TABLE lines"))  # Hive finds partitions so
        mismatches = engine.query(
            "SELECT COUNT(*) FROM lines WHERE line <> concat(substr(INPUT__FILE__NAME, -5, 1), "
            "CAST(BLOCK__OFFSET__INSIDE__FILE AS STRING), '|x')"
        )
        assert engine.count("lines") == 2 * n
        assert mismatches == [(0,)]


def test_insert_requires_overwrite_and_unknown_table_is_named(stack: Settings, store: ObjectStore) -> None:
    location = S3Uri(stack.s3.processed_bucket, "insert-into-probe")
    ddl = f"CREATE EXTERNAL TABLE probe (n INT) STORED AS PARQUET LOCATION '{location}'"
    with DuckDBEngine(stack) as engine:
        with pytest.raises(HqlError, match=r"x.hql statement 1: .*nowhere is not defined"):
            engine.run(split_statements("INSERT OVERWRITE TABLE nowhere SELECT 1", source="x.hql"))
        engine.run(split_statements(ddl))
        with pytest.raises(HqlError, match="only INSERT OVERWRITE is supported"):
            engine.run(split_statements("INSERT INTO TABLE probe SELECT 1", source="y.hql"))
    assert store.data_objects(location) == []  # the refused insert wrote nothing
