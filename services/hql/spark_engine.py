"""Spark executor of the HQL files: a local Spark 3.5 session with Hive support, reading and writing S3
through the S3A connector.

Statements run verbatim through ``spark.sql``. The one adaptation: Spark has no Hive virtual columns, so
every raw line table (EXTERNAL, TEXTFILE, its only data column ``line STRING``) is shadowed by a
temporary view of the same name that adds ``INPUT__FILE__NAME`` and ``BLOCK__OFFSET__INSIDE__FILE``
(see :func:`with_virtual_columns`). Two consequences follow from Spark's rules, both handled here:

- DDL aimed at a shadowed table (``MSCK REPAIR TABLE``, ``DROP TABLE``, ``ALTER TABLE``...) would hit the
  temporary view, so the shadow is lifted for that statement and put back afterwards.
- Spark refuses a permanent ``CREATE VIEW`` over a temporary view; such a view is created as a
  temporary view instead (it lives as long as the session, like the shadow it reads).

The shadow also presents each line as Hive's Text decoding does (invalid UTF-8 bytes become U+FFFD) and
drops a file's leading byte-order mark, so Spark and DuckDB give the same rows. A multi-insert
(``FROM src INSERT ... INSERT ...``) reads its source once, as Hive does: Spark would otherwise run the
whole source query once per INSERT (see :meth:`SparkEngine._multi_insert_source`). A dynamic-partition
INSERT OVERWRITE into a new Parquet table on S3 runs verbatim too, but against local disk, and its
partitions are then uploaded (see :meth:`SparkEngine._staged_locally`): S3A's per-file requests cost
more than the write itself on the emulator.

The configuration builders (:func:`spark_conf`, :func:`s3a_jars`) are shared with the Spark Thrift Server
launcher, so both Spark processes see S3 and the metastore the same way.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from services.hql.base import HqlEngine, HqlError
from services.hql.script import HqlStatement
from services.objectstore import ObjectStore, S3Uri
from services.settings import Settings
from services.stack.process import peak_rss_mb

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, Row, SparkSession

log = logging.getLogger(__name__)

# hadoop-aws must match the Hadoop line inside pyspark (3.3.x); the SDK bundle is the one it was built with.
# sagemaker_pyspark also ships aws-java-sdk-*-1.12 pieces: leave them out, they clash with the bundle.
S3A_JAR_NAMES = ("hadoop-aws-3.3.1.jar", "aws-java-sdk-bundle-1.11.901.jar")
S3A_FILESYSTEM = "org.apache.hadoop.fs.s3a.S3AFileSystem"

INPUT_FILE_NAME = "INPUT__FILE__NAME"
BLOCK_OFFSET = "BLOCK__OFFSET__INSIDE__FILE"
TEXT_INPUT_FORMAT = "org.apache.hadoop.mapred.TextInputFormat"
BOM = "\ufeff"

# Statements that act on a table itself (not on its rows through a query): they must see the real table,
# not the virtual-column shadow. Group 1 is the table name as written.
_TABLE_TARGET = re.compile(
    r"""^\s*(?:CREATE\s+(?:EXTERNAL\s+)?TABLE|DROP\s+TABLE|ALTER\s+TABLE|MSCK\s+(?:REPAIR\s+)?TABLE
        |TRUNCATE\s+TABLE|ANALYZE\s+TABLE|SHOW\s+PARTITIONS|LOAD\s+DATA\s.*?\sINTO\s+TABLE
        |INSERT\s+(?:INTO|OVERWRITE)\s+(?:TABLE\s+)?)
        \s*(?:IF\s+(?:NOT\s+)?EXISTS\s+)?`?([\w.]+)`?""",
    re.IGNORECASE | re.VERBOSE | re.DOTALL,
)
# A Hive multi-insert: group 1 is its source (a table or view name).
_MULTI_INSERT = re.compile(r"^\s*FROM\s+`?([\w.]+)`?(?:\s+(?:AS\s+)?\w+)?\s+INSERT\s", re.IGNORECASE)
_INSERT = re.compile(r"\bINSERT\s+(?:OVERWRITE|INTO)\b", re.IGNORECASE)
# INSERT OVERWRITE into a partitioned table: group 1 is the table name as written.
_PARTITIONED_INSERT = re.compile(
    r"^\s*INSERT\s+OVERWRITE\s+TABLE\s+`?([\w.]+)`?\s+PARTITION\s*\(", re.IGNORECASE
)
PARQUET_INPUT_FORMAT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
_VIEW_HEAD = re.compile(r"^\s*CREATE\s+(?:OR\s+REPLACE\s+)?VIEW\s+(?:IF\s+NOT\s+EXISTS\s+)?", re.IGNORECASE)


# --- configuration shared with the Thrift Server -----------------------------------------------------


def java_executable() -> str | None:
    """The ``java`` Spark will run: ``$JAVA_HOME/bin/java`` when set, else the one on PATH."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").exists():
        return str(Path(java_home) / "bin" / "java")
    return shutil.which("java")


def require_java() -> str:
    java = java_executable()
    if java is None:
        raise RuntimeError(
            "Spark needs Java 17 and none was found: install it (apt-get install openjdk-17-jre-headless) "
            "or set JAVA_HOME"
        )
    return java


def s3a_jars() -> list[Path]:
    """hadoop-aws and the AWS SDK bundle, taken from the ``sagemaker_pyspark`` wheel (no Maven download)."""
    spec = importlib.util.find_spec("sagemaker_pyspark")  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "the S3A jars come from sagemaker_pyspark, which is not installed: "
            "pip install --no-deps sagemaker_pyspark==1.4.5"
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / "jars"
    jars = [folder / name for name in S3A_JAR_NAMES]
    missing = [jar.name for jar in jars if not jar.exists()]
    if missing:
        raise RuntimeError(f"S3A jars missing from {folder}: {', '.join(missing)} (sagemaker_pyspark 1.4.5?)")
    return jars


def s3a_conf(settings: Settings, *, keys_in_conf: bool = True) -> dict[str, str]:
    """Spark properties that make ``s3://`` and ``s3a://`` paths go through S3A to ``settings.aws``.

    With ``keys_in_conf`` False, explicit keys are expected in the environment instead (see
    :func:`s3a_env`): a child process's command line is visible to every user of the machine.
    """
    aws = settings.aws
    conf = {
        "spark.hadoop.fs.s3.impl": S3A_FILESYSTEM,  # the HQL says s3:// as on EMR; S3A serves both
        "spark.hadoop.fs.s3a.impl": S3A_FILESYSTEM,
        "spark.hadoop.fs.AbstractFileSystem.s3.impl": "org.apache.hadoop.fs.s3a.S3A",
        "spark.hadoop.fs.AbstractFileSystem.s3a.impl": "org.apache.hadoop.fs.s3a.S3A",
        "spark.hadoop.fs.s3a.endpoint.region": aws.region,
    }
    if aws.endpoint_url:  # an emulator: path-style bucket addressing, TLS only if it speaks https
        conf["spark.hadoop.fs.s3a.endpoint"] = aws.endpoint_url
        conf["spark.hadoop.fs.s3a.path.style.access"] = "true"
        conf["spark.hadoop.fs.s3a.connection.ssl.enabled"] = str(aws.endpoint_url.startswith("https")).lower()
    else:
        conf["spark.hadoop.fs.s3a.endpoint"] = f"s3.{aws.region}.amazonaws.com"
    if aws.access_key_id and aws.secret_access_key:
        if keys_in_conf:
            conf["spark.hadoop.fs.s3a.aws.credentials.provider"] = (
                "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider"
            )
            conf["spark.hadoop.fs.s3a.access.key"] = aws.access_key_id
            conf["spark.hadoop.fs.s3a.secret.key"] = aws.secret_access_key
        else:
            conf["spark.hadoop.fs.s3a.aws.credentials.provider"] = (
                "com.amazonaws.auth.EnvironmentVariableCredentialsProvider"
            )
    else:  # real AWS: environment, profile, instance or task role - never a key in a file
        conf["spark.hadoop.fs.s3a.aws.credentials.provider"] = (
            "com.amazonaws.auth.DefaultAWSCredentialsProviderChain"
        )
    return conf


def s3a_env(settings: Settings) -> dict[str, str]:
    """The environment that carries explicit keys when :func:`s3a_conf` was built with keys_in_conf=False."""
    aws = settings.aws
    if aws.access_key_id and aws.secret_access_key:
        return {"AWS_ACCESS_KEY_ID": aws.access_key_id, "AWS_SECRET_ACCESS_KEY": aws.secret_access_key}
    return {}


def hive_compat_conf() -> dict[str, str]:
    """Hive's lenient semantics, which the HQL was written for."""
    return {
        "spark.sql.ansi.enabled": "false",  # bad casts give NULL instead of failing the job
        "spark.sql.storeAssignmentPolicy": "LEGACY",  # INSERT casts like Hive (NULL on overflow)
        "spark.sql.legacy.timeParserPolicy": "LEGACY",  # unix_timestamp patterns parse like Hive
        # INSERT OVERWRITE with dynamic partitions replaces only the partitions it writes, as Hive does
        # (Spark already does so for Hive SerDe tables; this covers the Parquet tables it converts).
        "spark.sql.sources.partitionOverwriteMode": "dynamic",
    }


def write_log4j_config(home: Path, level: str) -> Path:
    """A log4j2 file at ``level``, written to ``<home>/../logs/spark.log``: Spark's warnings belong in
    a log file, not in the pipeline's output; only errors also reach stderr."""
    path = home / "log4j2.properties"
    log = home.parent / "logs" / "spark.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "\n".join(
            [
                f"rootLogger.level = {level}",
                "rootLogger.appenderRef.file.ref = file",
                "rootLogger.appenderRef.stderr.ref = stderr",
                "appender.file.type = File",
                "appender.file.name = file",
                f"appender.file.fileName = {log}",
                "appender.file.layout.type = PatternLayout",
                "appender.file.layout.pattern = %d{yyyy-MM-dd HH:mm:ss} %p %c{1}: %m%n%ex",
                "appender.stderr.type = Console",
                "appender.stderr.name = stderr",
                "appender.stderr.target = SYSTEM_ERR",
                "appender.stderr.filter.threshold.type = ThresholdFilter",
                "appender.stderr.filter.threshold.level = error",
                "appender.stderr.layout.type = PatternLayout",
                "appender.stderr.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n%ex",
                # Known-harmless warnings of every run: no metrics config, no schema version in a new
                # Derby, unknown Hive 2.3 keys, partition stats notes, and "SET hive.* might not work"
                # (it does for what the HQL sets: Spark reads those keys from the session at run time).
                *_quiet("metrics", "org.apache.hadoop.metrics2", "error"),
                *_quiet("objectstore", "org.apache.hadoop.hive.metastore.ObjectStore", "error"),
                *_quiet("hmshandler", "org.apache.hadoop.hive.metastore.RetryingHMSHandler", "fatal"),
                *_quiet("nativecode", "org.apache.hadoop.util.NativeCodeLoader", "error"),
                *_quiet("hiveconf", "org.apache.hadoop.hive.conf.HiveConf", "error"),
                *_quiet("sessionstate", "org.apache.hadoop.hive.ql.session.SessionState", "error"),
                *_quiet("hivelog", "hive.log", "error"),
                *_quiet("setcommand", "org.apache.spark.sql.execution.command.SetCommand", "error"),
                "",
            ]
        ),
        encoding="utf-8",
    )
    return path


def _quiet(key: str, logger: str, level: str) -> tuple[str, str]:
    return f"logger.{key}.name = {logger}", f"logger.{key}.level = {level}"


def spark_conf(
    settings: Settings, home: Path, *, log_level: str = "WARN", keys_in_conf: bool = True
) -> dict[str, str]:
    """Everything a local Spark-with-Hive process of ours needs, its state kept under ``home``.

    ``home`` holds the embedded Derby metastore, the warehouse, Hive's scratch folders and derby.log,
    so runs never litter the working directory.
    """
    for folder in (home, home / "scratch", home / "scratch-local"):  # Hive errors on missing ones
        folder.mkdir(parents=True, exist_ok=True)
    log4j = write_log4j_config(home, log_level)
    # The throughput collector: batch jobs, no latency target (1M performance rows: ~5% faster than G1).
    java_options = " ".join(
        ["-XX:+UseParallelGC", f'-Dderby.system.home="{home}"', f'-Dlog4j2.configurationFile="file:{log4j}"']
    )
    jars = s3a_jars()
    metastore_url = f"jdbc:derby:;databaseName={home / 'metastore_db'};create=true"
    return {
        "spark.jars": ",".join(str(jar) for jar in jars),
        # Also on the JVM's own class path: the Hive metastore resolves S3A by name from threads whose
        # class loader never sees spark.jars (the Thrift Server's session threads fail without this).
        "spark.driver.extraClassPath": os.pathsep.join(str(jar) for jar in jars),
        "spark.sql.warehouse.dir": str(home / "warehouse"),
        "spark.hadoop.javax.jdo.option.ConnectionURL": metastore_url,
        "spark.hadoop.hive.exec.scratchdir": str(home / "scratch"),
        "spark.hadoop.hive.exec.local.scratchdir": str(home / "scratch-local"),
        "spark.hadoop.hive.downloaded.resources.dir": str(home / "resources"),
        "spark.driver.extraJavaOptions": java_options,
        # In local mode the driver is the executor too: its heap is the whole session's.
        "spark.driver.memory": settings.hql.spark_driver_memory,
        "spark.ui.enabled": "false",  # no port 4040 to collide on; nobody looks at it here
        "spark.ui.showConsoleProgress": "false",  # progress bars garble logs; statements are logged
        # Each task moves its files straight into the job's output folder. On S3 a move is a copy, and
        # the default (v1) copies every file twice (task, then job commit). A job's output is still
        # staged (Hive's .hive-staging, dynamic partitions' .spark-staging) and moved in place only
        # once it has succeeded; an unpartitioned Parquet overwrite that fails may keep part of its
        # files (v1 leaves the table empty): the run fails either way, and a rerun replaces them.
        # Measured, 200k + 1M rows, two fresh sessions each: all HQL 57.3–59.5 s → 56.3 s; in one warm
        # session, three rounds: the performance multi-insert 11.9–13.7 s → 10.6–10.8 s.
        "spark.hadoop.mapreduce.fileoutputcommitter.algorithm.version": "2",
        **hive_compat_conf(),
        **s3a_conf(settings, keys_in_conf=keys_in_conf),
    }


# The engine's own session is a local one on a small machine: a few shuffle partitions (Spark's 200 make
# 200 tiny tasks and files per exchange before adaptive execution coalesces them).
LOCAL_TUNING = {
    "spark.sql.shuffle.partitions": "8",
    "spark.sql.adaptive.enabled": "true",
    # The only cache is a multi-insert's source, built once and read once per INSERT within one
    # statement: compressing it cost more than it saved (1M performance lines: 10.3 s → 6.9 s to build).
    "spark.sql.inMemoryColumnarStorage.compressed": "false",
}


# --- the virtual columns ---------------------------------------------------------------------------------


def with_virtual_columns(table: DataFrame) -> DataFrame:
    """``table`` (a Hive TEXTFILE table scan) plus Hive's ``INPUT__FILE__NAME`` and
    ``BLOCK__OFFSET__INSIDE__FILE``, its ``line`` column decoded as Hive decodes text (see :func:`_as_text`).

    INPUT__FILE__NAME is the file's full URI, as Hive gives it. BLOCK__OFFSET__INSIDE__FILE is the
    1-based LINE NUMBER within that file, not Hive's byte offset: the column exists so a rejected line
    can be found again, a line number does that as well, and it is what the DuckDB engine gives too.
    Lines are physical lines (a blank line counts and is a row); CRLF ends leave no '\\r'.

    The numbering is exact without sorting the data: a Hive table scan reads one input split per Spark
    partition, a file's splits come in file order, and rows inside a split come in line order. So a line
    number is (lines in the file's earlier splits) + (position inside its split) + 1; the per-split
    counts are a small aggregate joined back by broadcast. The counting pass only reads (1M lines: about
    1 s, against about 12 s for the HQL's checks), and a multi-insert runs it once (see ``SparkEngine``).
    The id column must sit directly on the scan (no filter below it): Spark never pushes a filter past
    a non-deterministic expression, so a query's WHERE stays above it - and partition pruning is lost.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    scan = table.select(
        "*",
        F.input_file_name().alias(INPUT_FILE_NAME),
        F.spark_partition_id().alias("__split"),
        F.monotonically_increasing_id().alias("__row"),  # increasing within a partition
    )
    earlier = (
        Window.partitionBy(INPUT_FILE_NAME).orderBy("__split").rowsBetween(Window.unboundedPreceding, -1)
    )
    splits = (
        scan.groupBy(INPUT_FILE_NAME, "__split")
        .agg(F.count(F.lit(1)).alias("__lines"), F.min("__row").alias("__first"))
        .select(
            INPUT_FILE_NAME,
            "__split",
            "__first",
            F.coalesce(F.sum("__lines").over(earlier), F.lit(0)).alias("__before"),
        )
    )
    line_number = (F.col("__before") + F.col("__row") - F.col("__first") + F.lit(1)).cast("bigint")
    return scan.join(F.broadcast(splits), [INPUT_FILE_NAME, "__split"]).select(
        *[
            _as_text(F.col(f"`{name}`"), line_number).alias(name)
            if name.lower() == "line"
            else F.col(f"`{name}`")
            for name in table.columns
        ],
        F.col(INPUT_FILE_NAME),
        line_number.alias(BLOCK_OFFSET),
    )


def _as_text(line: Column, line_number: Column) -> Column:
    """``line`` as Hive's Text decoding presents it: each invalid UTF-8 byte replaced by U+FFFD, and
    without the byte-order mark a file may start with (DuckDB's reader drops it too).

    Spark keeps a line's bytes as read, invalid ones included, so ``instr(line, '\\ufffd')`` would miss
    them; ``encode`` goes through a Java string, whose UTF-8 decoder makes the replacement. The round
    trip costs nothing measurable next to the read (1M lines: within run-to-run noise), so every line
    takes it: no cheap exact test for invalid bytes exists (``length`` counts a stray continuation
    byte as one character).
    """
    from pyspark.sql import functions as F

    decoded = F.decode(F.encode(line, "UTF-8"), "UTF-8")
    has_bom = (line_number == F.lit(1)) & decoded.startswith(BOM)
    return F.when(has_bom, F.substring(decoded, 2, 2**31 - 1)).otherwise(decoded)


# --- the engine ------------------------------------------------------------------------------------------


class SparkEngine(HqlEngine):
    """HQL on a local ``local[2]`` Spark session with Hive support (embedded Derby metastore).

    The session starts on first use (20-30 s) and stops on :meth:`close`. Spark allows one active session
    per process and its JVM keeps the first session's jars and Java options: use one engine at a time.
    ``extra_conf`` adds or overrides Spark properties (memory, tuning, tests).
    """

    name = "spark"

    def __init__(self, settings: Settings, *, extra_conf: Mapping[str, str] | None = None) -> None:
        self._settings = settings
        self._home = settings.stack.home / "spark"
        self._extra_conf = dict(extra_conf or {})
        self._spark: SparkSession | None = None
        self._shadowed: set[str] = set()  # lower-case names of raw tables shadowed by a temporary view

    @property
    def spark(self) -> SparkSession:
        if self._spark is None:
            self._spark = self._start()
        return self._spark

    def execute(self, statement: HqlStatement) -> None:
        log.info("spark: %s: %s", statement.origin, statement.keyword)
        started = time.monotonic()
        self._run(statement)
        log.info("spark: %s done in %.1f s", statement.origin, time.monotonic() - started)

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self._run(HqlStatement(sql, "<query>"))]

    def jvm_peak_rss_mb(self) -> float | None:
        """Peak resident memory of the session's JVM so far (VmHWM), in MB; None before the session
        starts, after :meth:`close`, or where ``/proc`` is missing (not Linux)."""
        if self._spark is None:
            return None
        jvm: Any = self._spark.sparkContext._jvm  # the driver JVM is ours: local mode runs in it
        return peak_rss_mb(int(jvm.java.lang.ProcessHandle.current().pid()))

    def close(self) -> None:
        if self._spark is not None:
            self._spark.stop()
            self._spark = None
            self._shadowed.clear()

    # -- internals --

    def _start(self) -> SparkSession:
        require_java()
        try:
            from pyspark.sql import SparkSession
        except ImportError as exc:
            raise RuntimeError("the spark engine needs the [spark] extra: pip install -e '.[spark]'") from exc
        # The machine's hostname may not resolve; workers must run the interpreter we run in.
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        # Explicit keys travel in the environment: pyspark passes the session's conf to spark-submit as
        # --conf arguments, and a command line is visible to every user of the machine.
        os.environ.update(s3a_env(self._settings))
        log.info("spark: starting a local session (metastore and warehouse under %s)", self._home)
        started = time.monotonic()
        builder = SparkSession.builder.master("local[2]").appName("bdml-hql")
        conf = spark_conf(self._settings, self._home, keys_in_conf=False)
        for key, value in {**conf, **LOCAL_TUNING, **self._extra_conf}.items():
            builder = builder.config(key, value)
        spark = builder.enableHiveSupport().getOrCreate()
        spark.sparkContext.setLogLevel("WARN")
        log.info("spark: session ready in %.1f s", time.monotonic() - started)
        return spark

    def _run(self, statement: HqlStatement) -> list[Row]:
        try:
            target = self._target_table(statement.text)
            if target in self._shadowed:
                self.spark.catalog.dropTempView(target)
            try:
                with self._multi_insert_source(statement.text), self._staged_locally(statement.text):
                    rows = self._sql(statement.text)
            except Exception:
                if target is not None:
                    with contextlib.suppress(Exception):  # the statement's own error is the one to report
                        self._shadow_if_raw(target)
                raise
            if target is not None:
                self._shadow_if_raw(target)
            return rows
        except Exception as exc:
            raise HqlError(statement, _describe(exc, self._home)) from exc

    def _sql(self, text: str) -> list[Row]:
        from pyspark.errors import AnalysisException

        try:
            return self.spark.sql(text).collect()
        except AnalysisException as exc:
            if exc.getErrorClass() != "INVALID_TEMP_OBJ_REFERENCE" or not _VIEW_HEAD.match(text):
                raise
            # A view over a shadowed raw table: Spark only allows it as a temporary view. (OR REPLACE also
            # stands in for IF NOT EXISTS, which temporary views lack; the definition is the same one.)
            log.info("spark: the view reads a raw table's virtual columns; creating it as a temporary view")
            return self.spark.sql(
                _VIEW_HEAD.sub("CREATE OR REPLACE TEMPORARY VIEW ", text, count=1)
            ).collect()

    @contextlib.contextmanager
    def _multi_insert_source(self, text: str) -> Iterator[None]:
        """Hold a multi-insert's source in memory (spilling to disk) for the statement.

        Spark runs ``FROM src INSERT ... INSERT ...`` as one query per INSERT, each computing ``src``
        anew, and pushes each INSERT's WHERE (``reason IS NULL``) into the source's projections with
        every column alias expanded: the checks' CASE then re-splits the line once per field it reads.
        Reading the cached source instead computes each row once, as Hive's single pass does
        (1M performance lines: the statement went from 84 s to 25 s, filling the cache included).
        """
        match = _MULTI_INSERT.match(text)
        if match is None or len(_INSERT.findall(text)) < 2:
            yield
            return
        source = self.spark.table(match.group(1)).persist()
        try:
            source.count()  # fills the cache in one pass; the INSERTs then only read it
            yield
        finally:
            source.unpersist()

    @contextlib.contextmanager
    def _staged_locally(self, text: str) -> Iterator[None]:
        """Write a dynamic-partition INSERT OVERWRITE into a Parquet table on S3 to local disk first,
        then upload its partitions and point the table at them.

        Through S3A every file costs several requests, and Spark's dynamic-partition commit moves each
        file once more (a copy on S3). 1M performance rows, 28 yearly partitions, on the emulator: the
        statement took 15.1-18.2 s, and 11.5-14.3 s staged and uploaded. It still runs verbatim; only the
        table's location differs while it runs. Taken only for a table with no partitions yet (the HQL
        creates it just before), so overwriting means replacing each written partition's folder."""
        match = _PARTITIONED_INSERT.match(text)
        if match is None:
            yield
            return
        table = match.group(1)
        _, _, details = _described(self.spark.sql(f"DESCRIBE FORMATTED {table}").collect())
        location = details.get("Location", "")
        if (
            details.get("InputFormat") != PARQUET_INPUT_FORMAT
            or not location.startswith(("s3://", "s3a://"))
            or self.spark.sql(f"SHOW PARTITIONS {table}").count()
        ):
            yield
            return
        staging = self._home / "staging"
        staging.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix=f"{table}-", dir=staging))
        self.spark.sql(f"ALTER TABLE {table} SET LOCATION '{folder.as_uri()}'")
        try:
            yield
            specs = [row[0] for row in self.spark.sql(f"SHOW PARTITIONS {table}").collect()]
            store, uri = ObjectStore(self._settings), S3Uri.parse(location)
            for spec in specs:  # overwriting a partition replaces its folder
                store.delete_prefix(uri.join(spec))
            store.upload_folder(folder, uri)
            if specs:
                self.spark.sql(f"ALTER TABLE {table} DROP " + ", ".join(map(_spec_sql, specs)))
        finally:
            self.spark.sql(f"ALTER TABLE {table} SET LOCATION '{location}'")
            shutil.rmtree(folder, ignore_errors=True)
        if specs:
            added = " ".join(f"{_spec_sql(spec)} LOCATION '{location}/{spec}'" for spec in specs)
            self.spark.sql(f"ALTER TABLE {table} ADD {added}")

    def _target_table(self, text: str) -> str | None:
        """The unqualified name of the table a statement acts on, if it lives in the current database."""
        match = _TABLE_TARGET.match(text)
        if match is None:
            return None
        *database, table = match.group(1).lower().split(".")
        if database and database[0] != self.spark.catalog.currentDatabase().lower():
            return None  # a temporary view only ever shadows names in the current database
        return table

    def _shadow_if_raw(self, table: str) -> None:
        qualified = f"{self.spark.catalog.currentDatabase()}.{table}"
        if not (self.spark.catalog.tableExists(qualified) and self._is_raw_line_table(qualified)):
            self._shadowed.discard(table)
            return
        # Reading through the qualified name reaches the real table, never a temporary view.
        with_virtual_columns(self.spark.table(qualified)).createOrReplaceTempView(table)
        self._shadowed.add(table)
        log.info("spark: %s is a raw line table; it now has %s and %s", table, INPUT_FILE_NAME, BLOCK_OFFSET)

    def _is_raw_line_table(self, qualified: str) -> bool:
        """EXTERNAL, TEXTFILE, and ``line STRING`` its only data column: read from one DESCRIBE FORMATTED
        (``Catalog.listColumns`` alone costs ~0.12 s a table)."""
        columns, partitions, details = _described(self.spark.sql(f"DESCRIBE FORMATTED {qualified}").collect())
        data_columns = [(name.lower(), kind) for name, kind in columns if name not in partitions]
        return (
            details.get("Type") == "EXTERNAL"
            and data_columns == [("line", "string")]
            and details.get("InputFormat") == TEXT_INPUT_FORMAT
        )


def _spec_sql(spec: str) -> str:
    """``SHOW PARTITIONS``' ``a=1/b=x%2Fy`` as ``PARTITION (a='1', b='x/y')``."""
    pairs = (part.split("=", 1) for part in spec.split("/"))
    literals = ((key, unquote(value).replace("\\", "\\\\").replace("'", "\\'")) for key, value in pairs)
    return "PARTITION (" + ", ".join(f"{key}='{value}'" for key, value in literals) + ")"


def _described(rows: list[Row]) -> tuple[list[tuple[str, str]], set[str], dict[str, str]]:
    """DESCRIBE FORMATTED's rows as (every column with its type, the partition column names, the
    detailed table information). Its sections start with '# ' rows and end with a blank one."""
    columns: list[tuple[str, str]] = []
    partitions: set[str] = set()
    details: dict[str, str] = {}
    section = "columns"
    for name, value, _ in rows:
        if name.startswith("# "):
            section = section if name == "# col_name" else name
        elif not name:
            section = "blank"
        elif section == "columns":
            columns.append((name, value))
        elif section == "# Partition Information":
            partitions.add(name)
        elif section == "# Detailed Table Information":
            details[name] = value
    return columns, partitions, details


def _describe(exc: BaseException, home: Path) -> str:
    """The first lines of a Spark error (JVM stack traces stay on the chained exception), with a hint
    for the failure people meet most: two processes on one embedded metastore."""
    text = str(exc).strip()
    lines = [line for line in text.splitlines() if line.strip()]
    short = "\n".join(lines[:6]) + ("\n  ..." if len(lines) > 6 else "")
    if "Another instance of Derby" in text or "Unable to instantiate" in text:
        short += (
            f"\n  hint: the Hive metastore under {home} could not be opened - is another Spark process "
            "using it? Stop it, or give this run its own BDML_STACK__HOME."
        )
    return short
