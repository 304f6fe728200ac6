"""The Spark engines run plain Hive HQL against MiniStack S3: in process (SparkEngine, with exact Hive
virtual columns) and over the HiveServer2 protocol (HiveServer2Engine against a Spark Thrift Server).

One Spark session and one Thrift Server per module: each takes 5-30 s to start."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from services import aws
from services.hql.base import HqlEngine, HqlError
from services.hql.hiveserver2_engine import HiveServer2Engine, HiveServer2Unavailable
from services.hql.script import HqlStatement, split_statements
from services.hql.spark_engine import SparkEngine, java_executable
from services.hql.thrift_server import running_thrift_server
from services.settings import HqlSettings, Settings, StackSettings, get_settings

pytestmark = pytest.mark.integration

# Plain Hive, as the batch job writes it. {root} is where a flow's tables live.
SCRIPT = r"""
SET hive.exec.dynamic.partition=true;
SET hive.exec.dynamic.partition.mode=nonstrict;

CREATE EXTERNAL TABLE IF NOT EXISTS raw_loans (line STRING)
PARTITIONED BY (layout STRING)
ROW FORMAT DELIMITED FIELDS TERMINATED BY '\001'
STORED AS TEXTFILE LOCATION '{raw}';
MSCK REPAIR TABLE raw_loans;

DROP VIEW IF EXISTS v_loans;
CREATE VIEW v_loans AS
SELECT split(line, '\\|') AS f, layout,
       INPUT__FILE__NAME AS src_file, BLOCK__OFFSET__INSIDE__FILE AS src_line
FROM raw_loans;

CREATE EXTERNAL TABLE IF NOT EXISTS loans (id_loan STRING, fico SMALLINT, dt_first_pi DATE, layout STRING)
ROW FORMAT DELIMITED FIELDS TERMINATED BY '|'
STORED AS TEXTFILE LOCATION '{root}/loans';

DROP TABLE IF EXISTS loan_rejects;
CREATE EXTERNAL TABLE loan_rejects (src_file STRING, src_line BIGINT, line_id STRING)
ROW FORMAT DELIMITED FIELDS TERMINATED BY '|'
STORED AS TEXTFILE LOCATION '{root}/loan_rejects';

INSERT OVERWRITE TABLE loans
SELECT f[0] AS id_loan,
       CAST(f[1] AS SMALLINT) AS fico,
       CAST(from_unixtime(unix_timestamp(concat(f[2], '01'), 'yyyyMMdd'), 'yyyy-MM-dd') AS DATE)
         AS dt_first_pi,
       layout
FROM v_loans
WHERE CAST(f[1] AS SMALLINT) IS NOT NULL
DISTRIBUTE BY id_loan SORT BY id_loan, dt_first_pi;

INSERT OVERWRITE TABLE loan_rejects
SELECT src_file, src_line, f[0] FROM v_loans WHERE CAST(f[1] AS SMALLINT) IS NULL;

CREATE EXTERNAL TABLE IF NOT EXISTS loans_by_year (id_loan STRING, fico SMALLINT, dt_first_pi DATE)
PARTITIONED BY (first_pi_year INT)
STORED AS PARQUET LOCATION '{root}/loans_by_year';

INSERT OVERWRITE TABLE loans_by_year PARTITION (first_pi_year)
SELECT id_loan, fico, dt_first_pi, year(dt_first_pi) FROM loans;
"""

# Two files in two layout partitions. The big one spans several input splits (see BLOCK_SIZE), so the
# line numbers are checked across split boundaries. One bad fico per file, at a known line.
ARTICLE = [f"A{i:04d}|{'7X1' if i == 4 else 700 + i}|2017{i:02d}" for i in range(1, 7)]
STANDARD = [
    f"B{i:05d}|{'x' if i == 1500 else 600 + i % 200}|{2019 + i % 3}{1 + i % 12:02d}" for i in range(1, 2001)
]
BLOCK_SIZE = 16 * 1024  # S3A's reported block size sets the split size: ~38 KB file -> 3 splits
YEARS = {2017, 2019, 2020, 2021}


@dataclass(frozen=True)
class Fixture:
    settings: Settings
    bucket: str
    raw: str  # s3:// URI of the raw table

    def file_uri(self, layout: str, name: str) -> str:
        return f"{self.raw}/layout={layout}/{name}"

    def script(self, flow: str) -> list[HqlStatement]:
        text = SCRIPT.replace("{raw}", self.raw).replace("{root}", f"s3://{self.bucket}/{flow}")
        return split_statements(text, source=f"test_{flow}.hql")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _s3_reachable(settings: Settings) -> bool:
    try:
        aws.client("s3", settings, connect_timeout=2, read_timeout=10).list_buckets()
        return True
    except Exception:
        return False


@pytest.fixture(scope="module")
def data(base_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fixture]:
    if base_settings.aws.endpoint_url is None:
        pytest.skip("these tests write to S3: they run against the emulator (embedded or compose profile)")
    if not _s3_reachable(base_settings):
        pytest.skip(f"no S3 emulator at {base_settings.aws.endpoint_url}: start it with `bdml up`")
    if java_executable() is None:
        pytest.skip("Spark needs Java 17 (apt-get install openjdk-17-jre-headless, or set JAVA_HOME)")
    pytest.importorskip("pyspark")
    pytest.importorskip("pyhive")
    # Spark state (Derby metastores, warehouses, logs) in a fresh folder: a test never meets old tables.
    home = tmp_path_factory.mktemp("spark-home")
    settings = base_settings.model_copy(update={"stack": StackSettings(home=home)})
    bucket = f"bdml-test-spark-{uuid.uuid4().hex[:8]}"
    s3 = aws.client("s3", settings)
    s3.create_bucket(Bucket=bucket)
    fixture = Fixture(settings, bucket, f"s3://{bucket}/raw/loans")
    for layout, name, lines in (("article", "a.txt", ARTICLE), ("standard", "b.txt", STANDARD)):
        s3.put_object(Bucket=bucket, Key=f"raw/loans/layout={layout}/{name}", Body="\n".join(lines) + "\n")
    yield fixture
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            s3.delete_object(Bucket=bucket, Key=obj["Key"])
    s3.delete_bucket(Bucket=bucket)


def _partition_years(data: Fixture, flow: str) -> set[int]:
    s3 = aws.client("s3", data.settings)
    prefix = f"{flow}/loans_by_year/"
    keys = [
        o["Key"]
        for p in s3.get_paginator("list_objects_v2").paginate(Bucket=data.bucket, Prefix=prefix)
        for o in p.get("Contents", [])
    ]
    parquet = [k[len(prefix) :] for k in keys if k.endswith(".parquet")]
    return {int(k.split("/")[0].removeprefix("first_pi_year=")) for k in parquet}


def _assert_loaded(engine: HqlEngine, data: Fixture, flow: str) -> None:
    assert engine.count("raw_loans") == len(ARTICLE) + len(STANDARD)
    assert engine.count("loans") == len(ARTICLE) + len(STANDARD) - 2
    assert engine.count("loans_by_year") == len(ARTICLE) + len(STANDARD) - 2
    fico, first_pi = engine.query("SELECT fico, dt_first_pi FROM loans WHERE id_loan = 'A0002'")[0]
    assert (fico, str(first_pi)) == (702, "2017-02-01")  # pyhive returns DATE as text, Spark as date
    by_year = dict(engine.query("SELECT first_pi_year, count(*) FROM loans_by_year GROUP BY first_pi_year"))
    assert set(by_year) == YEARS and by_year[2017] == len(ARTICLE) - 1
    assert _partition_years(data, flow) == YEARS


# --- SparkEngine -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def spark(data: Fixture) -> Iterator[SparkEngine]:
    engine = SparkEngine(data.settings, extra_conf={"spark.hadoop.fs.s3a.block.size": str(BLOCK_SIZE)})
    try:
        engine.run(data.script("spark"))
        yield engine
    finally:
        engine.close()


def test_spark_keeps_s3_keys_off_the_jvm_command_line(spark: SparkEngine, data: Fixture) -> None:
    spark.query("SELECT 1")  # the session (and its JVM) starts on first use
    secret = data.settings.aws.secret_access_key
    assert secret
    lines = [p.read_bytes() for p in Path("/proc").glob("[0-9]*/cmdline") if _readable(p)]
    jvms = [line for line in lines if b"org.apache.spark.deploy.SparkSubmit" in line]
    assert jvms, "the Spark JVM should be running"
    assert not any(b"secret.key" in line or b"access.key" in line for line in jvms)


def _readable(path: Path) -> bool:
    try:
        path.read_bytes()
    except OSError:
        return False
    return True


def test_spark_runs_the_script_and_writes_partitions(spark: SparkEngine, data: Fixture) -> None:
    _assert_loaded(spark, data, "spark")
    assert sorted(spark.query("SHOW PARTITIONS raw_loans")) == [("layout=article",), ("layout=standard",)]


def test_spark_stages_a_new_partitioned_parquet_table_locally_and_leaves_it_on_s3(
    spark: SparkEngine, data: Fixture
) -> None:
    """loans_by_year is new when its INSERT runs: written to local disk, uploaded, then the table and
    each partition point at S3 again, and nothing stays behind in the staging folder."""
    table = spark.query("DESCRIBE FORMATTED loans_by_year")
    assert (
        dict((name, value) for name, value, _ in table)["Location"]
        == f"s3://{data.bucket}/spark/loans_by_year"
    )
    for year in YEARS:
        rows = spark.query(f"DESCRIBE FORMATTED loans_by_year PARTITION (first_pi_year={year})")
        section = [name for name, _, _ in rows].index("# Detailed Partition Information")
        location = next(value for name, value, _ in rows[section:] if name == "Location")
        assert location == f"s3://{data.bucket}/spark/loans_by_year/first_pi_year={year}"
    staging = data.settings.stack.home / "spark" / "staging"
    assert not any(staging.iterdir())


def test_spark_virtual_columns_give_file_and_exact_line(spark: SparkEngine, data: Fixture) -> None:
    rejects = sorted(spark.query("SELECT src_file, src_line, line_id FROM loan_rejects"))
    assert rejects == [
        (data.file_uri("article", "a.txt"), 4, "A0004"),
        (data.file_uri("standard", "b.txt"), 1500, "B01500"),
    ]
    # Every line, across files, partitions and the big file's split boundaries.
    rows = spark.query("SELECT INPUT__FILE__NAME, BLOCK__OFFSET__INSIDE__FILE, line FROM raw_loans")
    expected = {(data.file_uri("article", "a.txt"), n, line) for n, line in enumerate(ARTICLE, 1)}
    expected |= {(data.file_uri("standard", "b.txt"), n, line) for n, line in enumerate(STANDARD, 1)}
    assert len(rows) == len(expected) and set(rows) == expected
    splits = spark.query(
        "SELECT count(*) FROM (SELECT s FROM (SELECT spark_partition_id() AS s FROM default.raw_loans) x "
        "GROUP BY s) y"
    )
    assert splits[0][0] >= 3, "the big file should span several splits, or the test proves less"


def test_spark_rerun_is_idempotent(spark: SparkEngine, data: Fixture) -> None:
    spark.run(data.script("spark"))
    _assert_loaded(spark, data, "spark")
    assert spark.count("loan_rejects") == 2


def test_spark_ddl_reaches_a_shadowed_raw_table(spark: SparkEngine, data: Fixture) -> None:
    ddl = (
        f"CREATE EXTERNAL TABLE raw_again (line STRING) PARTITIONED BY (layout STRING) "
        f"STORED AS TEXTFILE LOCATION '{data.raw}'; MSCK REPAIR TABLE raw_again"
    )
    spark.run(split_statements(ddl))
    assert spark.query("SELECT max(BLOCK__OFFSET__INSIDE__FILE) FROM raw_again") == [(len(STANDARD),)]
    spark.run(split_statements("DROP TABLE IF EXISTS raw_again"))
    assert "raw_again" not in {row[1] for row in spark.query("SHOW TABLES")}
    with pytest.raises(HqlError, match="raw_again"):
        spark.count("raw_again")


def test_spark_errors_name_the_statement(spark: SparkEngine) -> None:
    with pytest.raises(HqlError, match=r"bad\.hql statement 2: .*no_such_table"):
        spark.run(split_statements("SELECT 1; SELECT * FROM no_such_table", source="bad.hql"))


# --- HiveServer2Engine against a Spark Thrift Server -------------------------------------------------


@pytest.fixture(scope="module")
def thrift_settings(data: Fixture) -> Iterator[Settings]:
    port = _free_port()
    hql = HqlSettings(**{**data.settings.hql.model_dump(), "hiveserver2_port": port})
    settings = data.settings.model_copy(update={"hql": hql})
    with running_thrift_server(settings, port):
        yield settings


@pytest.fixture(scope="module")
def hs2(thrift_settings: Settings, data: Fixture) -> Iterator[HiveServer2Engine]:
    engine = HiveServer2Engine(thrift_settings, virtual_columns="spark")
    try:
        engine.run(data.script("hs2"))
        yield engine
    finally:
        engine.close()


def test_hiveserver2_runs_the_script_on_the_thrift_server(hs2: HiveServer2Engine, data: Fixture) -> None:
    _assert_loaded(hs2, data, "hs2")
    # The Thrift Server has input_file_name() but no line numbers.
    rejects = sorted(hs2.query("SELECT src_file, src_line, line_id FROM loan_rejects"))
    assert rejects == [
        (data.file_uri("article", "a.txt"), None, "A0004"),
        (data.file_uri("standard", "b.txt"), None, "B01500"),
    ]


def test_hiveserver2_rerun_is_idempotent(hs2: HiveServer2Engine, data: Fixture) -> None:
    hs2.run(data.script("hs2"))
    _assert_loaded(hs2, data, "hs2")
    assert hs2.count("loan_rejects") == 2


def test_hiveserver2_errors_name_the_statement(hs2: HiveServer2Engine) -> None:
    with pytest.raises(HqlError, match=r"bad\.hql statement 1: .*no_such_table"):
        hs2.run(split_statements("SELECT * FROM no_such_table", source="bad.hql"))


def test_hiveserver2_unreachable_says_how_to_start_one(tmp_path: Path) -> None:
    pytest.importorskip("pyhive")
    port = _free_port()
    hql = HqlSettings(hiveserver2_port=port)
    settings = get_settings().model_copy(update={"hql": hql, "stack": StackSettings(home=tmp_path)})
    with HiveServer2Engine(settings) as engine, pytest.raises(HiveServer2Unavailable) as caught:
        engine.query("SELECT 1")
    assert f"127.0.0.1:{port}" in str(caught.value) and "services.hql.thrift_server" in str(caught.value)
