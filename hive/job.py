"""The batch job: Freddie Mac files → S3 raw → HQL (processed, partitioned, Parquet, rejects) → MySQL and
Redshift. Each step returns a reconciled StepReport; the job cross-checks the steps against each other
(what HQL kept is what the warehouses received); the CLI keeps the report as a recorded run."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from hive import tables
from producers.freddie import generator, source
from producers.freddie.layouts import Kind
from services.console import make_console
from services.hql.base import HqlEngine
from services.hql.factory import open_engine
from services.hql.script import load_script
from services.objectstore import ObjectStore, S3Uri, transfer_progress
from services.reconcile import LineCounter, ReconciliationError, StepReport, timed
from services.settings import Settings
from services.warehouse import factory as warehouses
from services.warehouse.schema import Loader


@dataclass
class BatchRequest:
    """What to run: generated data (layout, sizes, dirt, seed) or real files from ``source_dir``."""

    layout: str = "article"
    origination_rows: int = 10_000
    performance_rows: int = 100_000
    dirty_share: float = 0.01
    seed: int = 7
    source_dir: Path | None = None


@dataclass
class BatchReport:
    engine: str
    profile: str
    steps: list[StepReport] = field(default_factory=list)
    inputs: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    files: list[dict[str, Any]] = field(default_factory=list)  # per raw file: lines in, read, rejected
    checks: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def step(self, name: str) -> StepReport:
        return next(s for s in self.steps if s.step == name)

    def as_dict(self) -> dict[str, Any]:
        return {
            "engine": self.engine,
            "profile": self.profile,
            "seconds": round(self.seconds, 3),
            "inputs": self.inputs,
            "skipped": self.skipped,
            "files": self.files,
            "steps": [s.as_dict() for s in self.steps],
            "checks": self.checks,
            "reconciled": all(s.balanced for s in self.steps),
        }


EngineFactory = Callable[[], HqlEngine]


class BatchJob:
    """The batch run over what it is given: an object store, a way to open the HQL engine and the two
    warehouse loaders. :meth:`from_settings` builds the real ones; tests may pass in-memory ones."""

    def __init__(
        self,
        settings: Settings,
        store: ObjectStore,
        engine: EngineFactory,
        mysql: Loader,
        redshift: Loader,
        console: Console | None = None,
    ) -> None:
        self.settings = settings
        self.store, self.open_engine, self.mysql, self.redshift = store, engine, mysql, redshift
        self.console = console or make_console()
        self.work = settings.stack.home / "work" / "batch"

    @classmethod
    def from_settings(cls, settings: Settings, console: Console | None = None) -> BatchJob:
        store = ObjectStore(settings)
        return cls(
            settings,
            store,
            lambda: open_engine(settings),
            warehouses.mysql_loader(settings, store),
            warehouses.redshift_loader(settings, store),
            console,
        )

    # --- the whole run ---------------------------------------------------------------------------
    def run(self, request: BatchRequest) -> BatchReport:
        report = BatchReport(engine=self.settings.hql.engine, profile=self.settings.profile.value)
        start = time.perf_counter()
        files, expected_rejects = self.sources(request, report)
        report.steps.append(self.upload(files))
        with self._stage("HQL on " + self.settings.hql.engine), self.open_engine() as engine:
            report.steps += self.transform(engine)
        report.steps.append(self.load_mysql())
        report.steps.append(self.load_redshift())
        report.checks += self.cross_check(report, expected_rejects)
        report.seconds = time.perf_counter() - start
        return report

    @contextmanager
    def _stage(self, title: str) -> Iterator[None]:
        with self.console.status(f"[bold]{title}…"):
            yield
        self.console.log(f"{title}: done")

    # --- 1. data in ------------------------------------------------------------------------------
    def sources(
        self, request: BatchRequest, report: BatchReport
    ) -> tuple[list[source.SourceFile], dict[Kind, int]]:
        """The files to load (generated, or found under ``request.source_dir``) and, for generated
        files, how many dirty lines each kind holds."""
        expected: dict[Kind, int] = {}
        root = request.source_dir
        if root is None:
            root = self.work / "generated" / request.layout
            shutil.rmtree(root, ignore_errors=True)
            generated = generator.generate(
                root,
                request.layout,
                request.origination_rows,
                request.performance_rows,
                dirty_share=request.dirty_share,
                seed=request.seed,
                progress=True,
            )
            for item in generated.files:
                expected[item.kind] = expected.get(item.kind, 0) + item.expected_rejects
        found = source.discover(root)
        report.inputs += [
            {"file": f.origin, "kind": f.kind.value, "layout": f.layout.name, "period": f.period,
             "bytes": f.size_bytes}
            for f in found.files
        ]  # fmt: skip
        report.inputs += [{"file": e.origin, "note": e.reason, "rows": 0} for e in found.empty]
        report.skipped += [{"file": s.origin, "reason": s.reason} for s in found.skipped]
        return found.files, expected

    def upload(self, files: list[source.SourceFile]) -> StepReport:
        """Replace the raw landing zone with exactly these files (a rerun sees the same input). Zip
        members stream straight to S3; lines are counted in the same pass, per file."""
        report = StepReport("upload raw")
        raw = tables.raw_root(self.settings)
        objects: dict[str, dict[str, Any]] = {}  # object → the file it came from and its lines
        with timed(report):
            self.store.ensure_bucket(self.settings.s3.raw_bucket)
            self.store.ensure_bucket(self.settings.s3.processed_bucket)
            self.store.delete_prefix(raw)
            destinations = {
                f: S3Uri(raw.bucket, tables.raw_key(f.kind, f.layout.name, f.name)) for f in files
            }
            with transfer_progress() as progress:
                for f in files:
                    with f.open() as handle:
                        counter = LineCounter(handle)
                        self.store.upload_stream(counter, destinations[f], f.name, f.size_bytes, progress)
                    objects[str(destinations[f])] = {"file": f.origin, "lines": counter.lines}
            landed = dict(self.store.list(raw))
            sent = 0
            for f in files:
                count = objects[str(destinations[f])]["lines"]
                report.rows_in += count
                if landed.get(destinations[f]) == f.size_bytes:
                    report.rows_out += count
                    sent += f.size_bytes
                else:
                    report.rows_rejected += count
                    report.detail.setdefault("failed", []).append(str(destinations[f]))
        report.detail.update(bytes=sent, mb_per_second=round(sent / 1e6 / max(report.seconds, 1e-9), 1))
        report.detail["objects"] = objects
        if report.rows_rejected:
            raise ReconciliationError(f"upload: objects missing or truncated: {report.detail['failed']}")
        return report.check()

    # --- 2. HQL ----------------------------------------------------------------------------------
    def transform(self, engine: HqlEngine) -> list[StepReport]:
        variables = tables.hql_variables(self.settings)
        seconds: dict[str, float] = {}
        for path in tables.HQL_FILES:
            start = time.perf_counter()
            engine.run(load_script(path, variables))
            seconds[path.stem] = time.perf_counter() - start
            self.console.log(f"  {path.name}: {seconds[path.stem]:.1f}s")
        raw_seconds = seconds.get("00_raw_tables", 0.0) / 2
        reports = []
        for kind, stem in ((Kind.ORIGINATION, "10_origination"), (Kind.PERFORMANCE, "20_performance")):
            table = kind.value
            main = StepReport(f"hql {table}", seconds=seconds[stem] + raw_seconds)
            read = self._lines_per_file(engine, f"raw_{table}", "INPUT__FILE__NAME")
            rejected = self._lines_per_file(engine, f"{table}_rejects", "src_file")
            main.rows_in = sum(read.values())
            main.rows_out = engine.count(table)
            main.rows_rejected = sum(rejected.values())
            main.detail.update(read_per_file=read, rejected_per_file=rejected)
            main.detail["reject_reasons"] = self._reject_reasons(engine, table)
            by_year = StepReport(f"hql {table}_by_year", rows_in=main.rows_out)
            by_year.rows_out = engine.count(f"{table}_by_year")
            by_year.detail["note"] = "timed within the HQL step above"
            reports += [main.check(), by_year.check()]
        return reports

    @staticmethod
    def _lines_per_file(engine: HqlEngine, table: str, column: str) -> dict[str, int]:
        """Rows per source object, keyed ``s3://bucket/key`` whatever scheme the engine reports."""
        rows = engine.query(f"SELECT {column}, COUNT(*) FROM {table} GROUP BY {column}")
        return {str(S3Uri.parse(str(name))): int(n) for name, n in rows}

    @staticmethod
    def _reject_reasons(engine: HqlEngine, table: str) -> dict[str, int]:
        # A reason's text before ':' or ',' names the rule; what follows is the offending value.
        rule = "regexp_replace(reason, '[:,].*$', '')"
        rows = engine.query(
            f"SELECT {rule} AS rule, COUNT(*) AS n FROM {table}_rejects"
            f" GROUP BY {rule} ORDER BY n DESC LIMIT 20"
        )
        return {str(name): int(n) for name, n in rows}

    # --- 3. loads --------------------------------------------------------------------------------
    def _processed_objects(self, kind: Kind) -> list[S3Uri]:
        return self.store.data_objects(tables.processed_root(self.settings).join(kind.value))

    def load_mysql(self) -> StepReport:
        objects = self._processed_objects(Kind.ORIGINATION)
        with self._stage("load MySQL"):
            return self.mysql.load(tables.warehouse_schema(Kind.ORIGINATION), objects)

    def load_redshift(self) -> StepReport:
        objects = self._processed_objects(Kind.PERFORMANCE)
        with self._stage("load Redshift"):
            return self.redshift.load(tables.warehouse_schema(Kind.PERFORMANCE), objects)

    # --- 4. the steps agree with each other ------------------------------------------------------
    @staticmethod
    def cross_check(report: BatchReport, expected_rejects: dict[Kind, int]) -> list[str]:
        checks = [BatchJob._per_file(report)]
        for hql, load, label in (
            ("hql origination", "load mysql origination", "origination rows → MySQL"),
            ("hql performance", "load redshift performance", "performance rows → Redshift"),
        ):
            kept, held = report.step(hql).rows_out, report.step(load).rows_out
            if kept != held:
                raise ReconciliationError(f"{label}: HQL kept {kept:,} but the warehouse holds {held:,}")
            checks.append(f"{label}: {kept:,} = {held:,}")
        for kind, expected in expected_rejects.items():
            got = report.step(f"hql {kind.value}").rows_rejected
            if got != expected:
                raise ReconciliationError(
                    f"{kind.value}: generator wrote {expected:,} dirty lines, HQL rejected {got:,}"
                )
            checks.append(f"{kind.value}: dirty lines written = rejected = {got:,}")
        return checks

    @staticmethod
    def _per_file(report: BatchReport) -> str:
        """Every file: lines uploaded = lines the HQL read = loaded + rejected."""
        read: dict[str, int] = {}
        rejected: dict[str, int] = {}
        for step in ("hql origination", "hql performance"):
            read |= report.step(step).detail["read_per_file"]
            rejected |= report.step(step).detail["rejected_per_file"]
        objects = report.step("upload raw").detail["objects"]
        unknown = sorted(set(read) - set(objects))
        if unknown:
            raise ReconciliationError(f"the HQL engine read objects that were not uploaded: {unknown[:3]}")
        report.files = []
        for name, sent in objects.items():
            got, bad = read.get(name, 0), rejected.get(name, 0)
            report.files.append(
                {"file": sent["file"], "lines": sent["lines"], "loaded": got - bad, "rejected": bad}
            )
            if got != sent["lines"]:
                raise ReconciliationError(
                    f"{sent['file']}: uploaded {sent['lines']:,} lines but the HQL engine read {got:,}"
                )
        total = sum(o["lines"] for o in objects.values())
        return (
            f"per file ({len(objects)}): lines uploaded = read by HQL = loaded + rejected ({total:,} lines)"
        )
