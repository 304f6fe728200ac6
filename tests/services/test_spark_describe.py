"""Reading a raw line table's shape from DESCRIBE FORMATTED (rows as Spark 3.5 returns them)."""

from __future__ import annotations

import pytest

from services.hql.spark_engine import _described, _spec_sql

RAW_PARTITIONED = [
    ("line", "string", None),
    ("layout", "string", None),
    ("# Partition Information", "", ""),
    ("# col_name", "data_type", "comment"),
    ("layout", "string", None),
    ("", "", ""),
    ("# Detailed Table Information", "", ""),
    ("Table", "raw_performance", ""),
    ("Type", "EXTERNAL", ""),
    ("InputFormat", "org.apache.hadoop.mapred.TextInputFormat", ""),
]


@pytest.mark.unit
def test_describe_formatted_splits_columns_partitions_and_details() -> None:
    columns, partitions, details = _described(RAW_PARTITIONED)  # type: ignore[arg-type]
    assert columns == [("line", "string"), ("layout", "string")]
    assert partitions == {"layout"}
    assert details["Type"] == "EXTERNAL"
    assert details["InputFormat"] == "org.apache.hadoop.mapred.TextInputFormat"


@pytest.mark.unit
def test_describe_formatted_of_an_unpartitioned_table() -> None:
    rows = [
        ("id", "string", None),
        ("", "", ""),
        ("# Detailed Table Information", "", ""),
        ("Type", "MANAGED", ""),
    ]
    columns, partitions, details = _described(rows)  # type: ignore[arg-type]
    assert columns == [("id", "string")] and partitions == set() and details == {"Type": "MANAGED"}


@pytest.mark.unit
def test_a_shown_partition_becomes_a_partition_clause() -> None:
    assert _spec_sql("period_year=2010") == "PARTITION (period_year='2010')"
    assert _spec_sql("a=1/b=x%2Fy") == "PARTITION (a='1', b='x/y')"  # Hive escapes '/' in folder names
    assert _spec_sql("name=O%27Brien") == "PARTITION (name='O\\'Brien')"  # a quote stays in the literal
