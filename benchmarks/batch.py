"""HQL step benchmark: on the same generated raw files, side by side,

    (a) DuckDB's own read_csv → Parquet of the raw files: no validation, the practical limit;
    (b) our DuckDB engine running the HQL files;
    (c) our Spark engine running the HQL files (skip with --no-spark);
    (d) Spark's own CSV reader → Parquet of the same objects, in the same local session: Spark's
        practical limit on this machine, the yardstick for (c).

    python benchmarks/batch.py --acquisitions 200000 --performance 1000000
    python benchmarks/batch.py --acquisitions 2000000 --performance 10000000 --no-spark

Prints origination and performance rows/s for each, the ratio of each to (a), of (c) to (d), and
each one's peak memory; the same ratios per CPU second (the CPU the rows cost the step's process,
Spark's JVM and the local emulator: a figure a busy machine moves less than wall time); then, for each
engine, where its time went: seconds per HQL statement (and the uploads still landing after a file's
last one), also drawn in a picture beside the JSON report. Each runs in its own process, so its peak RSS
is its own (Spark: the JVM's as well).
The machine may be shared: only ratios measured in one run compare, and --repeat N runs the steps
interleaved N times, prints each round's figures, keeps each one's fastest, and also prints each round's
ratio of engine to reference (median, lowest, highest): the spread is the noise to quote with a ratio.
Uses the active profile (`bdml up` first) with its own buckets. Writes a JSON report under
<stack home>/reports/bench/.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from hive import tables  # noqa: E402
from producers.freddie.layouts import Kind  # noqa: E402
from services.hql.base import HqlEngine  # noqa: E402
from services.hql.script import HqlStatement  # noqa: E402
from services.reconcile import count_lines  # noqa: E402
from services.settings import HqlSettings, S3Settings, Settings, get_settings  # noqa: E402
from services.stack import process  # noqa: E402

RAW_BUCKET = "bdml-bench-raw"
PROCESSED_BUCKET = {"duckdb": "bdml-bench-processed", "spark": "bdml-bench-processed-spark"}
STEPS = ("reference", "duckdb", "spark", "spark-reference")
KINDS = (Kind.ORIGINATION, Kind.PERFORMANCE)
HQL_STEM = {Kind.ORIGINATION: "10_origination", Kind.PERFORMANCE: "20_performance"}
UPLOADS = "after the last statement (uploads still landing)"
SHOWN = 4  # statements listed per engine and kind; the rest are summed as one line
PER_CPU = "per CPU-s"  # both kinds' rows over the CPU seconds they cost, as a pair's third "kind"


@dataclass
class StatementTime:
    label: str  # file, position and first words of the statement
    seconds: float


@dataclass
class KindResult:
    rows: int
    seconds: float
    kept: int | None = None
    rejected: int | None = None
    statements: list[StatementTime] = field(default_factory=list)  # engines: where ``seconds`` went

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> KindResult:
        statements = [StatementTime(**st) for st in values.get("statements", [])]
        return cls(**{**values, "statements": statements})


@dataclass
class StepResult:
    step: str
    kinds: dict[str, KindResult] = field(default_factory=dict)
    peak_rss_mb: float = 0.0  # the step's process
    jvm_peak_rss_mb: float | None = None  # Spark's JVM, a separate process
    startup_seconds: float = 0.0  # not counted in rows/s (Spark: the JVM, session and metastore)
    # CPU seconds the rows cost (start-up excluded): the step's process, Spark's JVM and the local
    # emulator serving it. On a shared machine CPU time moves less than wall time with the load.
    cpu_seconds: float = 0.0

    @property
    def peak_mb(self) -> float:
        return self.peak_rss_mb + (self.jvm_peak_rss_mb or 0.0)

    @property
    def rows_per_cpu_second(self) -> float:
        rows = sum(k.rows for k in self.kinds.values())
        return rows / self.cpu_seconds if self.cpu_seconds > 0 else 0.0


def bench_settings(engine: str = "duckdb", memory_limit: str | None = None) -> Settings:
    base = get_settings()
    hql = {**base.hql.model_dump(), "engine": engine}
    if memory_limit:
        hql["duckdb_memory_limit"] = memory_limit
    return base.model_copy(
        update={
            "hql": HqlSettings(**hql),
            "s3": S3Settings(
                **{
                    **base.s3.model_dump(),
                    "raw_bucket": RAW_BUCKET,
                    "processed_bucket": PROCESSED_BUCKET.get(engine, PROCESSED_BUCKET["duckdb"]),
                }
            ),
        }
    )


# --- the parent: generate, upload, run each step in its own process ------------------------------
def prepare(args: argparse.Namespace) -> dict[str, int]:
    from hive.job import BatchJob, BatchReport, BatchRequest

    job = BatchJob.from_settings(bench_settings())
    request = BatchRequest(args.layout, args.acquisitions, args.performance, dirty_share=0.01, seed=7)
    files, _ = job.sources(request, BatchReport("", ""))
    job.upload(files)
    for engine in PROCESSED_BUCKET:
        job.store.ensure_bucket(PROCESSED_BUCKET[engine])
    return {kind.value: sum(count_lines(f.path) for f in files if f.kind is kind) for kind in KINDS}


def run_step(step: str, args: argparse.Namespace) -> StepResult:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        command = [sys.executable, __file__, "--step", step, "--result", str(out), "--layout", args.layout]
        if args.duckdb_memory_limit:
            command += ["--duckdb-memory-limit", args.duckdb_memory_limit]
        subprocess.run(command, check=True)
        data = json.loads(out.read_text())
    kinds = {name: KindResult.from_dict(values) for name, values in data.pop("kinds").items()}
    return StepResult(**data, kinds=kinds)


def keep_best(old: StepResult, new: StepResult) -> StepResult:
    """Per kind, the fastest run (the earlier one on a tie) with that run's statement times; the peak
    memory, the largest seen. A new result: each round's own stays as it was measured."""
    jvm = old.jvm_peak_rss_mb
    if new.jvm_peak_rss_mb is not None:
        jvm = max(jvm or 0.0, new.jvm_peak_rss_mb)
    return replace(
        old,
        kinds={kind: min(old.kinds[kind], got, key=lambda r: r.seconds) for kind, got in new.kinds.items()},
        peak_rss_mb=max(old.peak_rss_mb, new.peak_rss_mb),
        jvm_peak_rss_mb=jvm,
        cpu_seconds=min((c for c in (old.cpu_seconds, new.cpu_seconds) if c > 0), default=0.0),
    )


def show(results: list[StepResult], lines: dict[str, int]) -> list[dict[str, Any]]:
    reference = next((r for r in results if r.step == "reference"), None)
    spark_reference = next((r for r in results if r.step == "spark-reference"), None)
    header = (
        f"{'step':15} {'kind':12} {'rows':>11} {'seconds':>8} {'rows/s':>11} {'vs (a)':>7} {'vs (d)':>7}"
        f" {'peak MB':>9}"
    )
    print("\n" + header + "\n" + "-" * len(header))
    rows = []
    for result in results:
        for kind in KINDS:
            got = result.kinds[kind.value]
            ref = reference.kinds[kind.value].rows_per_second if reference else 0.0
            ratio = got.rows_per_second / ref if ref else None
            own = spark_reference.kinds[kind.value].rows_per_second if spark_reference else 0.0
            ratio_d = got.rows_per_second / own if own and result.step == "spark" else None
            balanced = got.kept is None or (got.rows == lines[kind.value] == got.kept + (got.rejected or 0))
            print(
                f"{result.step:15} {kind.value:12} {got.rows:>11,} {got.seconds:>8.2f}"
                f" {got.rows_per_second:>11,.0f} {'' if ratio is None else f'{ratio:.2f}x':>7}"
                f" {'' if ratio_d is None else f'{ratio_d:.2f}x':>7} {result.peak_mb:>9,.0f}"
                f"{'' if balanced else '  rows in != kept + rejected'}"
            )
            rows.append(
                {
                    "step": result.step,
                    "kind": kind.value,
                    **asdict(got),
                    "rows_per_second": round(got.rows_per_second, 1),
                    "ratio_to_reference": None if ratio is None else round(ratio, 3),
                    "ratio_to_spark_reference": None if ratio_d is None else round(ratio_d, 3),
                    "balanced": balanced,
                    "peak_rss_mb": round(result.peak_rss_mb, 1),
                    "jvm_peak_rss_mb": result.jvm_peak_rss_mb,
                    "startup_seconds": round(result.startup_seconds, 2),
                }
            )
    print(
        "(a) DuckDB read_csv → Parquet, (d) Spark read.csv → Parquet, neither validates;"
        " peak MB: the step's process (Spark: + its JVM)"
    )
    return rows


def round_summary(result: StepResult) -> str:
    """One round of one step in a line: each kind's rows/s and the CPU seconds, so the spread of the
    absolute figures over rounds is on record too, not only the best round's."""
    rates = [f"{k.value} {result.kinds[k.value].rows_per_second:,.0f} rows/s" for k in KINDS]
    return f"   {', '.join(rates)}; {result.cpu_seconds:.2f} CPU s"


def show_cpu(results: list[StepResult]) -> list[dict[str, Any]]:
    """Both kinds' rows over the CPU seconds they cost, each engine against its references: a yardstick
    that a busy neighbour on the machine moves less than it moves rows/s."""
    by_step = {r.step: r for r in results}
    print(f"\n{'step':15} {'CPU s':>8} {'rows per CPU-s':>15} {'vs (a)':>7} {'vs (d)':>7}")
    rows = []
    for result in results:
        ratios = {
            reference: result.rows_per_cpu_second / by_step[reference].rows_per_cpu_second
            for step, reference in PAIRS
            if step == result.step and reference in by_step and by_step[reference].rows_per_cpu_second
        }
        a, d = ratios.get("reference"), ratios.get("spark-reference")
        print(
            f"{result.step:15} {result.cpu_seconds:>8.2f} {result.rows_per_cpu_second:>15,.0f}"
            f" {'' if a is None else f'{a:.2f}x':>7} {'' if d is None else f'{d:.2f}x':>7}"
        )
        rows.append(
            {
                "step": result.step,
                "cpu_seconds": round(result.cpu_seconds, 2),
                "rows_per_cpu_second": round(result.rows_per_cpu_second, 1),
                "ratio_to_reference": None if a is None else round(a, 3),
                "ratio_to_spark_reference": None if d is None else round(d, 3),
            }
        )
    print(
        "CPU s: the step's process, Spark's JVM and the local emulator while the rows ran (start-up excluded)"
    )
    return rows


# An engine step and the references it is measured against, its own yardstick last (Spark's reader for
# Spark).
PAIRS = (("duckdb", "reference"), ("spark", "reference"), ("spark", "spark-reference"))


def breakdown(statements: list[StatementTime], shown: int = SHOWN) -> list[StatementTime]:
    """The ``shown`` slowest statements, slowest first, and the rest summed as one line (a lone rest is
    shown as itself)."""
    ranked = sorted(statements, key=lambda st: st.seconds, reverse=True)
    rest = ranked[shown:]
    if len(rest) <= 1:
        return ranked
    return [*ranked[:shown], StatementTime(f"{len(rest)} other statements", sum(st.seconds for st in rest))]


def time_panels(results: list[StepResult]) -> list[tuple[str, KindResult]]:
    """Per engine and kind with statement times: a title (its time, and its yardstick's) and the result."""
    by_step = {r.step: r for r in results}
    panels = []
    for result in results:
        refs = [by_step[ref] for step, ref in reversed(PAIRS) if step == result.step and ref in by_step]
        for kind in KINDS:
            got = result.kinds[kind.value]
            if not got.statements:
                continue
            title = f"{result.step} · {kind.value}: {got.seconds:.2f} s, {got.rows_per_second:,.0f} rows/s"
            if refs:
                title += f" ({refs[0].step}: {refs[0].kinds[kind.value].seconds:.2f} s)"
            panels.append((title, got))
    return panels


def show_time(results: list[StepResult]) -> None:
    print("\nwhere each engine's time went (each kind's fastest round): seconds per HQL statement")
    for title, got in time_panels(results):
        print(title)
        for st in breakdown(got.statements):
            share = st.seconds / got.seconds if got.seconds else 0.0
            print(f"  {st.seconds:7.2f} s {share:4.0%}  {st.label}")


def time_chart(results: list[StepResult], path: Path) -> Path | None:
    """One panel per engine and kind: its slowest statements as bars, in seconds."""
    panels = time_panels(results)
    if not panels:
        return None
    import matplotlib

    matplotlib.use("Agg")  # files only, no display needed
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(panels), 1, figsize=(10, 1.6 * len(panels) + 0.6), squeeze=False)
    for ax, (title, got) in zip(axes[:, 0], panels, strict=True):
        shown = breakdown(got.statements)
        bars = ax.barh([st.label for st in shown], [st.seconds for st in shown], color="#4477aa")
        ax.bar_label(bars, labels=[f"{st.seconds:.2f} s" for st in shown], padding=3, fontsize=7)
        ax.invert_yaxis()
        ax.set_title(title, fontsize=9)
        ax.tick_params(labelsize=8)
    axes[-1, 0].set_xlabel("seconds")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def paired_ratios(rounds: list[dict[str, StepResult]]) -> dict[str, dict[str, list[float]]]:
    """Per engine, reference and kind: the engine's rows/s over the reference's, one ratio per round.

    Both ran in the same round, close together, so a slow spell of a shared machine mostly hits both;
    the spread of these ratios is the noise to quote with them (best-of-rounds pairs two moments)."""
    out: dict[str, dict[str, list[float]]] = {}
    for step, reference in PAIRS:
        for kind in KINDS:
            ratios = [
                r[step].kinds[kind.value].rows_per_second / r[reference].kinds[kind.value].rows_per_second
                for r in rounds
                if step in r and reference in r and r[reference].kinds[kind.value].rows_per_second
            ]
            if ratios:
                out.setdefault(f"{step} vs {reference}", {})[kind.value] = [round(x, 3) for x in ratios]
        per_cpu = [
            r[step].rows_per_cpu_second / r[reference].rows_per_cpu_second
            for r in rounds
            if step in r and reference in r and r[reference].rows_per_cpu_second
        ]
        if per_cpu:
            out.setdefault(f"{step} vs {reference}", {})[PER_CPU] = [round(x, 3) for x in per_cpu]
    return out


def show_paired(paired: dict[str, dict[str, list[float]]]) -> None:
    print("\nratio in each round (engine vs its reference, run in the same round): median [lowest … highest]")
    for pair, kinds in paired.items():
        for kind, ratios in kinds.items():
            print(
                f"{pair:28} {kind:12} {statistics.median(ratios):.2f}x"
                f" [{min(ratios):.2f} … {max(ratios):.2f}] over {len(ratios)} rounds"
            )


# --- the children: one step each ----------------------------------------------------------------
def reference_step(layout: str) -> StepResult:
    """DuckDB's own reader on the same raw objects: CSV parsing with type detection → local Parquet."""
    from services.hql.duckdb_engine import DuckDBEngine
    from services.objectstore import ObjectStore

    settings = bench_settings()
    result = StepResult("reference")
    store = ObjectStore(settings)
    engine = DuckDBEngine(settings)  # a DuckDB connection with the same S3 access and limits
    con = engine.con
    cpu = cpu_meter(settings)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for kind in KINDS:
                files = store.data_objects(tables.raw_root(settings).join(kind.value))
                sources = "[" + ", ".join(f"'{f}'" for f in files) + "]"
                target = Path(tmp) / f"{kind.value}.parquet"
                start, spent = time.perf_counter(), cpu()
                con.execute(
                    f"COPY (SELECT * FROM read_csv({sources}, delim='|', header=false, quote='', escape='',"
                    " ignore_errors=true, hive_partitioning=false))"
                    f" TO '{target}' (FORMAT parquet)"
                )
                seconds = time.perf_counter() - start
                result.cpu_seconds += cpu() - spent  # the copy only: the counts below check it
                kept = con.execute(f"SELECT sum(num_rows) FROM parquet_file_metadata('{target}')").fetchone()
                lines = con.execute(
                    f"SELECT count(*) FROM read_csv({sources}, columns={{'l': 'VARCHAR'}}, delim='\x01',"
                    " header=false, quote='', escape='', auto_detect=false, ignore_errors=true)"
                ).fetchone()
                read = int(lines[0]) if lines else 0
                written = int(kept[0]) if kept else 0
                result.kinds[kind.value] = KindResult(read, seconds, kept=written, rejected=read - written)
    finally:
        engine.close()
    return result


def spark_reference_step() -> StepResult:
    """Spark's own CSV reader on the same raw objects (every field a string) → local Parquet, in a
    session configured like the Spark engine's: what Spark itself reaches here, without validation."""
    from services.hql.spark_engine import SparkEngine
    from services.objectstore import ObjectStore

    settings = bench_settings("spark")
    result = StepResult("spark-reference")
    store = ObjectStore(settings)
    engine = SparkEngine(settings)
    try:
        start = time.perf_counter()
        spark = engine.spark
        result.startup_seconds = time.perf_counter() - start
        cpu = cpu_meter(settings)
        with tempfile.TemporaryDirectory() as tmp:
            for kind in KINDS:
                files = store.data_objects(tables.raw_root(settings).join(kind.value))
                paths = [str(f) for f in files]  # s3:// goes through S3A, as the engine's HQL does
                start, spent = time.perf_counter(), cpu()
                frame = spark.read.csv(paths, sep="|", header=False, quote="", escape="")
                frame.write.mode("overwrite").parquet(f"file://{tmp}/{kind.value}")
                seconds = time.perf_counter() - start
                result.cpu_seconds += cpu() - spent
                written = spark.read.parquet(f"file://{tmp}/{kind.value}").count()
                read = spark.read.text(paths).count()
                result.kinds[kind.value] = KindResult(read, seconds, kept=written, rejected=read - written)
        result.jvm_peak_rss_mb = engine.jvm_peak_rss_mb()
    finally:
        engine.close()
    return result


def engine_step(engine_name: str, layout: str, memory_limit: str | None) -> StepResult:
    from services.hql.factory import open_engine
    from services.hql.script import load_script

    settings = bench_settings(engine_name, memory_limit)
    result = StepResult(engine_name)
    engine = open_engine(settings)
    try:
        start = time.perf_counter()
        engine.query("SELECT 1")  # Spark starts its JVM and session here
        if engine_name == "spark":  # and its Hive metastore client (a Derby schema check): start-up too
            engine.query("SHOW DATABASES")
        result.startup_seconds = time.perf_counter() - start
        variables = tables.hql_variables(settings)
        spent: dict[Kind, list[StatementTime]] = {kind: [] for kind in KINDS}
        cpu = cpu_meter(settings)
        before = cpu()
        for path in tables.HQL_FILES:
            marks, tail = run_file(engine, load_script(path, variables))
            for kind, times in attribute(path, marks, tail).items():
                spent[kind] += times
        result.cpu_seconds = cpu() - before
        for kind in KINDS:
            result.kinds[kind.value] = KindResult(
                rows=engine.count(f"raw_{kind.value}"),
                seconds=sum(st.seconds for st in spent[kind]),
                kept=engine.count(kind.value),
                rejected=engine.count(f"{kind.value}_rejects"),
                statements=spent[kind],
            )
        result.jvm_peak_rss_mb = jvm_peak_rss_mb(engine)
    finally:
        engine.close()
    return result


def run_file(
    engine: HqlEngine, statements: list[HqlStatement], clock: Callable[[], float] = time.perf_counter
) -> tuple[list[tuple[HqlStatement, float]], float]:
    """Run a file's statements as one ``run()`` (uploads overlap what follows them, as in a job): each
    statement's seconds, and the seconds after the last one until ``run()`` returned (the uploads still
    landing). An upload that a later statement must wait for (DuckDB reads a table back only once its
    files have landed) counts in that statement's time."""
    marks: list[tuple[HqlStatement, float]] = []
    start = clock()
    engine.run(timed(statements, marks, clock))
    return marks, clock() - start - sum(seconds for _, seconds in marks)


def timed(
    statements: Iterable[HqlStatement],
    marks: list[tuple[HqlStatement, float]],
    clock: Callable[[], float] = time.perf_counter,
) -> Iterator[HqlStatement]:
    """``statements`` as the engine takes them, each one's time noted in ``marks``: from the moment the
    engine takes it to the moment it asks for the next."""
    for statement in statements:
        start = clock()
        yield statement
        marks.append((statement, clock() - start))


def attribute(
    path: Path, marks: list[tuple[HqlStatement, float]], tail: float
) -> dict[Kind, list[StatementTime]]:
    """A kind's time: its HQL file (its tail included), plus the raw-table statements that name its raw
    table; the raw-table statements that name neither, and that file's tail, are shared evenly."""
    spent: dict[Kind, list[StatementTime]] = {kind: [] for kind in KINDS}
    for statement, seconds in [*marks, (None, tail)]:
        owners = [k for k in KINDS if _owns(k, path.stem, statement.text if statement else "")] or list(KINDS)
        label = statement_label(statement) if statement else f"{path.name}: {UPLOADS}"
        for kind in owners:
            spent[kind].append(StatementTime(label, seconds / len(owners)))
    return spent


def statement_label(statement: HqlStatement) -> str:
    words = " ".join(statement.text.split()[:5])  # enough to name the table
    return f"{statement.source} #{statement.index}: {words[:56]}"


def _owns(kind: Kind, stem: str, text: str) -> bool:
    if stem == "00_raw_tables":
        return f"raw_{kind.value}" in text.lower()
    return stem == HQL_STEM[kind]


def jvm_peak_rss_mb(engine: object) -> float | None:
    """The Spark JVM's peak RSS: the engine's own report when it has one, else its Java child's VmHWM."""
    if getattr(engine, "name", None) != "spark":
        return None
    report = getattr(engine, "jvm_peak_rss_mb", None)
    if callable(report):
        value = report()
        return float(value) if value is not None else None
    peaks = [process.peak_rss_mb(pid) for pid in _java_children()]
    found = [p for p in peaks if p is not None]
    return max(found) if found else None


def _java_children() -> list[int]:
    """This process's Java descendants: Spark's JVM, started by its Python gateway."""
    java = set(process.pids_named("java"))
    return [pid for pid in _descendants(os.getpid()) if pid in java]


def _descendants(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = [], [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        found += children
        frontier += children
    return found


def cpu_meter(settings: Settings) -> Callable[[], float]:
    """A reading of the CPU seconds spent so far by this process, its Java children (Spark's JVM, read
    anew each time: it starts with the session) and the emulator when it listens on this machine (a
    container's or real AWS's CPU is not seen: their figures leave it out)."""
    from urllib.parse import urlparse

    endpoint = urlparse(settings.aws.endpoint_url or "")
    local = endpoint.hostname in ("127.0.0.1", "localhost")
    emulator = process.listener_pid(endpoint.port) if local and endpoint.port else None

    def read() -> float:
        pids = [os.getpid(), *_java_children(), *([emulator] if emulator else [])]
        return sum(process.cpu_seconds(p) for p in pids)

    return read


def child(args: argparse.Namespace) -> None:
    if args.step == "reference":
        result = reference_step(args.layout)
    elif args.step == "spark-reference":
        result = spark_reference_step()
    else:
        result = engine_step(args.step, args.layout, args.duckdb_memory_limit)
    result.peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    data = asdict(result)
    Path(args.result).write_text(json.dumps(data))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--acquisitions", type=int, default=200_000)
    parser.add_argument("--performance", type=int, default=1_000_000)
    parser.add_argument("--layout", default="article")
    parser.add_argument("--no-spark", action="store_true")
    parser.add_argument("--repeat", type=int, default=1, help="rounds; each step keeps its fastest")
    parser.add_argument("--duckdb-memory-limit", help="overrides hql.duckdb_memory_limit (e.g. 2GB)")
    parser.add_argument("--step", choices=STEPS, help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        child(args)
        return

    lines = prepare(args)
    print(f"raw lines: {lines}")
    steps = [step for step in STEPS if not (step.startswith("spark") and args.no_spark)]
    rounds: list[dict[str, StepResult]] = []
    for round_ in range(1, args.repeat + 1):
        rounds.append({})
        for step in steps:  # interleaved: a burst of load on a shared machine hits every step alike
            print(f"\n== {step} (round {round_} of {args.repeat})", flush=True)
            rounds[-1][step] = run_step(step, args)
            print(round_summary(rounds[-1][step]), flush=True)
    best = [functools.reduce(keep_best, (r[step] for r in rounds)) for step in steps]
    rows = show(best, lines)
    cpu = show_cpu(best)
    paired = paired_ratios(rounds)
    if args.repeat > 1:
        show_paired(paired)
    show_time(best)
    out = get_settings().stack.home / "reports" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"batch-{time.strftime('%Y%m%d-%H%M%S')}.json"
    chart = time_chart(best, path.with_suffix(".png"))
    if chart:
        print(f"\nwrote {chart}")
    report = {
        "acquisitions": args.acquisitions,
        "performance": args.performance,
        "layout": args.layout,
        "repeat": args.repeat,
    }
    path.write_text(
        json.dumps(
            {**report, "lines": lines, "results": rows, "cpu": cpu, "ratios_per_round": paired}, indent=2
        )
        + "\n"
    )
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
