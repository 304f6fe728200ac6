"""The DuckDB engine honours ``SORT BY`` in what it writes, whether the raw lines come in key order (it
then skips the sort) or not, and the multi-insert still sends every line to exactly one table."""

from __future__ import annotations

import uuid

import pytest

from hive import tables
from producers.freddie.layouts import Kind
from services.hql.duckdb_engine import DuckDBEngine
from services.hql.script import load_script
from services.objectstore import ObjectStore, S3Uri
from services.settings import S3Settings, Settings

pytestmark = pytest.mark.integration


def _performance(loan: str, period: str) -> str:
    """A clean article-layout performance line (26 fields)."""
    return f"{loan}|{period}|204275.63|0|15|345|||||3.875|0|{period}|||||||||||||104"


KEYS = [
    ("F16Q10000002", "201706"),
    ("F16Q10000001", "201801"),
    ("F16Q10000002", "201705"),
    ("F16Q10000001", "201712"),
    ("F16Q10000003", "201701"),
]


@pytest.fixture
def settings(stack: Settings, store: ObjectStore) -> Settings:
    run_id = uuid.uuid4().hex[:8]
    s3 = S3Settings(
        **{
            **stack.s3.model_dump(),
            "raw_bucket": f"bdml-test-sort-raw-{run_id}",
            "processed_bucket": f"bdml-test-sort-processed-{run_id}",
        }
    )
    for bucket in (s3.raw_bucket, s3.processed_bucket):
        store.ensure_bucket(bucket)
    return stack.model_copy(update={"s3": s3})


@pytest.mark.parametrize("presorted", [True, False], ids=["in-key-order", "shuffled"])
def test_processed_performance_is_written_in_sort_by_order(
    settings: Settings, store: ObjectStore, presorted: bool
) -> None:
    keys = sorted(KEYS) if presorted else KEYS
    lines = [_performance(loan, period) for loan, period in keys] + ["not|a|line"]
    key = tables.raw_key(Kind.PERFORMANCE, "article", "sample_svcg_2017.txt")
    store.s3.put_object(Bucket=settings.s3.raw_bucket, Key=key, Body="\n".join(lines).encode() + b"\n")

    with DuckDBEngine(settings) as engine:
        for path in tables.HQL_FILES:
            engine.run(load_script(path, tables.hql_variables(settings)))
        counts = {t: engine.count(t) for t in ("raw_performance", "performance", "performance_rejects")}
        by_year = engine.count("performance_by_year")

    assert counts == {"raw_performance": 6, "performance": 5, "performance_rejects": 1}
    assert by_year == 5
    objects = store.data_objects(S3Uri(settings.s3.processed_bucket, "freddie/performance"))
    text = b"".join(store.s3.get_object(Bucket=o.bucket, Key=o.key)["Body"].read() for o in objects)
    written = [tuple(row.split("|")[:2]) for row in text.decode().splitlines()]
    expected = [(loan, f"{period[:4]}-{period[4:]}-01") for loan, period in sorted(KEYS)]
    assert written == expected
