"""The Spark engine's raw line view: exact line numbers per file, lines decoded as Hive's Text does (an
invalid UTF-8 byte becomes U+FFFD), no byte-order mark, no '\\r' from CRLF ends, a lone '\\r' ending a
line and a line's text ending at its first '\\x01' as in Hive - the lines the DuckDB engine's exact
reader gives; plus the multi-insert that reads its source once and the JVM's peak memory. One Spark
session for the module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from services.hql.hive_text import hive_lines
from services.hql.script import HqlStatement
from services.hql.spark_engine import SparkEngine, java_executable
from services.objectstore import ObjectStore, S3Uri
from services.settings import S3Settings, Settings, StackSettings

pytestmark = pytest.mark.integration

# (file name, bytes): a BOM, CRLF ends, a blank line, valid non-ASCII UTF-8, a cp1252 byte (0xE9, 'é'),
# a stray continuation byte (0x92, cp1252's right quote) and a last line without an end; Hive's field
# delimiter inside a line, a lone carriage return, a NUL byte.
FILES = {
    "a.txt": b"\xef\xbb\xbfF1|a\r\n\r\ncaf\xc3\xa9|\xc3\xbc\r\ncaf\xe9|x\r\nit\x92s\r\nlast",
    "b.txt": b"one\ntwo\n",
    "c.txt": b"x\x01y|z\rlone|cr\nnul\x00byte\n",
}
EXPECTED = [
    ("a.txt", 1, "F1|a"),
    ("a.txt", 2, ""),
    ("a.txt", 3, "café|ü"),
    ("a.txt", 4, "caf\ufffd|x"),
    ("a.txt", 5, "it\ufffds"),
    ("a.txt", 6, "last"),
    ("b.txt", 1, "one"),
    ("b.txt", 2, "two"),
    ("c.txt", 1, "x"),
    ("c.txt", 2, "lone|cr"),
    ("c.txt", 3, "nul\x00byte"),
]


@pytest.fixture(scope="module")
def engine(stack: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkEngine]:
    pytest.importorskip("pyspark")
    if java_executable() is None:
        pytest.skip("no Java runtime: install a JDK 17 (make venv does on Debian)")
    # Its own metastore: another Spark process on the shared one would lock it.
    home = tmp_path_factory.mktemp("spark-raw-lines")
    settings = stack.model_copy(
        update={
            "s3": S3Settings(**{**stack.s3.model_dump(), "raw_bucket": stack.s3.raw_bucket + "-lines"}),
            "stack": StackSettings(**{**stack.stack.model_dump(), "home": home}),
        }
    )
    store = ObjectStore(settings)
    store.ensure_bucket(settings.s3.raw_bucket)
    root = S3Uri(settings.s3.raw_bucket, "lines")
    store.delete_prefix(root)
    for name, data in FILES.items():
        local = home / name
        local.write_bytes(data)
        store.upload(local, root.join("layout=x", name))
    spark = SparkEngine(settings)
    for sql in (
        "CREATE EXTERNAL TABLE raw_lines (line STRING) PARTITIONED BY (layout STRING) "
        f"ROW FORMAT DELIMITED FIELDS TERMINATED BY '\\001' STORED AS TEXTFILE LOCATION '{root}'",
        "MSCK REPAIR TABLE raw_lines",
    ):
        spark.execute(HqlStatement(sql, "<test>"))
    yield spark
    spark.close()


def test_raw_view_gives_line_numbers_and_decoded_lines(engine: SparkEngine) -> None:
    rows = engine.query("SELECT INPUT__FILE__NAME, BLOCK__OFFSET__INSIDE__FILE, line FROM raw_lines")
    got = sorted((Path(f).name, n, line) for f, n, line in rows)
    assert got == EXPECTED
    assert all(str(f).startswith("s3") for f, _, _ in rows)  # the full URI, as Hive gives it


@pytest.mark.unit
def test_the_duckdb_engines_exact_reader_gives_the_same_lines() -> None:
    exact = [
        (name, n, line)
        for name, data in FILES.items()
        for n, line in enumerate((line for batch in hive_lines([data]) for line in batch), start=1)
    ]
    assert exact == EXPECTED


def test_bad_bytes_are_findable_as_replacement_characters(engine: SparkEngine) -> None:
    rows = engine.query("SELECT BLOCK__OFFSET__INSIDE__FILE FROM raw_lines WHERE instr(line, '\ufffd') > 0")
    assert sorted(n for (n,) in rows) == [4, 5]


def test_multi_insert_reads_its_source_once_and_releases_it(engine: SparkEngine) -> None:
    run = engine.execute
    for table in ("lines_ok", "lines_bad"):
        run(HqlStatement(f"CREATE TABLE {table} (n BIGINT, line STRING) STORED AS PARQUET", "<test>"))
    run(
        HqlStatement(
            "FROM raw_lines INSERT OVERWRITE TABLE lines_ok SELECT BLOCK__OFFSET__INSIDE__FILE, line "
            "WHERE instr(line, '\ufffd') = 0 AND line <> '' "
            "INSERT OVERWRITE TABLE lines_bad SELECT BLOCK__OFFSET__INSIDE__FILE, line "
            "WHERE instr(line, '\ufffd') > 0 OR line = ''",
            "<test>",
        )
    )
    ok = sorted(engine.query("SELECT n, line FROM lines_ok"))
    bad = sorted(engine.query("SELECT n, line FROM lines_bad"))
    assert ok == [
        *[(1, "F1|a"), (1, "one"), (1, "x"), (2, "lone|cr"), (2, "two")],
        *[(3, "café|ü"), (3, "nul\x00byte"), (6, "last")],
    ]
    assert bad == [(2, ""), (4, "caf\ufffd|x"), (5, "it\ufffds")]
    assert not engine.spark.catalog.isCached("raw_lines")


def test_jvm_peak_memory_is_reported(engine: SparkEngine) -> None:
    peak = engine.jvm_peak_rss_mb()
    if not Path("/proc/self/status").exists():
        assert peak is None
        return
    assert peak is not None and 100 < peak < 64_000


@pytest.mark.unit
def test_spark_warnings_go_to_the_log_file_and_only_errors_to_stderr(tmp_path: Path) -> None:
    from services.hql.spark_engine import write_log4j_config

    home = tmp_path / "spark"
    home.mkdir()
    props = dict(
        line.split(" = ", 1)
        for line in write_log4j_config(home, "WARN").read_text().splitlines()
        if " = " in line
    )
    assert props["rootLogger.level"] == "WARN"
    assert props["appender.file.fileName"] == str(tmp_path / "logs" / "spark.log")
    assert props["appender.stderr.filter.threshold.level"] == "error"
