"""DuckDB and Spark (Hive support) run the same HQL files over the same raw S3 data and must produce the
same processed rows and the same rejects, also for the lines DuckDB's own reader refuses (read exactly
instead) and those holding a NUL byte or a backslash. Spark starts a JVM (~20–30 s): one run per engine."""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import pytest

from hive import tables
from hive.job import BatchJob, BatchReport, BatchRequest
from producers.freddie.layouts import Kind
from services.hql.base import HqlEngine
from services.hql.duckdb_engine import DuckDBEngine
from services.hql.script import load_script
from services.settings import HqlSettings, S3Settings, Settings

pytestmark = pytest.mark.integration


def _run(engine: HqlEngine, settings: Settings) -> dict[str, list[tuple[Any, ...]]]:
    for path in tables.HQL_FILES:
        engine.run(load_script(path, tables.hql_variables(settings)))
    out = {}
    for table in ("origination", "performance", "origination_by_year", "performance_by_year"):
        out[table] = sorted(engine.query(f"SELECT * FROM {table}"), key=repr)
    for table in ("origination_rejects", "performance_rejects"):
        rows = engine.query(f"SELECT src_file, src_line, layout, reason FROM {table}")
        out[table] = sorted(((os.path.basename(f), n, lay, r) for f, n, lay, r in rows), key=repr)
    return out


@pytest.fixture(scope="module")
def raw_uploaded(stack: Settings) -> Settings:
    job = BatchJob.from_settings(stack)
    files, _ = job.sources(
        BatchRequest("guide2024", 400, 3000, dirty_share=0.03, seed=3), BatchReport("", "")
    )
    performance = next(f for f in files if f.kind is Kind.PERFORMANCE)
    first = performance.path.read_bytes().split(b"\n", 1)[0]
    with performance.path.open("ab") as fh:
        for odd in (b"\x01", b"\r", b"\x00", b"\\", b"\xe9"):  # each in a text field (delq_sts)
            fields = first.split(b"|")
            fields[3] = b"0" + odd
            fh.write(b"|".join(fields) + b"\n")
    grown = dataclasses.replace(performance, size_bytes=performance.path.stat().st_size)
    job.upload([grown if f is performance else f for f in files])
    return stack


def test_duckdb_and_spark_produce_the_same_rows(raw_uploaded: Settings) -> None:
    pytest.importorskip("pyspark")
    from services.hql.spark_engine import SparkEngine, java_executable

    if java_executable() is None:
        pytest.skip("no Java runtime: install a JDK 17 (make venv does on Debian)")
    duck_settings = raw_uploaded
    spark_settings = raw_uploaded.model_copy(
        update={
            "s3": S3Settings(
                **{
                    **raw_uploaded.s3.model_dump(),
                    "processed_bucket": raw_uploaded.s3.processed_bucket + "-spark",
                }
            ),
            "hql": HqlSettings(**{**raw_uploaded.hql.model_dump(), "engine": "spark"}),
        }
    )
    BatchJob.from_settings(spark_settings).store.ensure_bucket(spark_settings.s3.processed_bucket)
    with DuckDBEngine(duck_settings) as duck:
        expected = _run(duck, duck_settings)
    with SparkEngine(spark_settings) as spark:
        got = _run(spark, spark_settings)
    assert len(expected["origination"]) > 300 and len(expected["performance_rejects"]) > 0
    reasons = [reason for *_, reason in expected["performance_rejects"]]
    assert reasons.count("line holds a NUL byte or a backslash") == 2  # the odd lines took part
    assert reasons.count("line is not valid UTF-8") == 1
    for table, rows in expected.items():
        assert got[table] == rows, f"{table}: engines disagree"
