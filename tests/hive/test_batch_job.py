"""The batch job's own logic on in-memory stand-ins (no servers): the upload counts and checks every file,
the loads go through the injected loaders, and the cross-check catches any step that disagrees."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from hive import tables
from hive.job import BatchJob, BatchReport
from producers.freddie.layouts import Kind
from producers.freddie.source import discover
from services.objectstore import S3Uri
from services.reconcile import ReconciliationError, StepReport
from services.settings import Settings, StackSettings
from tests.fakes import MemoryLoader, MemoryStore, no_engine

pytestmark = pytest.mark.unit

ORIGINATION = "|".join(["1"] * 27)
ORIG_URI, PERF_URI = "s3://raw/o.txt", "s3://raw/p.txt"
PERFORMANCE = "|".join(["1"] * 26)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(stack=StackSettings(home=tmp_path / "home"))


def job_on(settings: Settings, store: MemoryStore, keep: int | None = None) -> BatchJob:
    mysql = MemoryLoader(store, "load mysql", keep)
    return BatchJob(settings, store, no_engine, mysql, MemoryLoader(store, "load redshift"))


def downloads(tmp_path: Path) -> Path:
    root = tmp_path / "downloads"
    (root / "2010").mkdir(parents=True)
    (root / "2010" / "historical_data1_Q12010.txt").write_text(f"{ORIGINATION}\r\n" * 3 + ORIGINATION)
    with zipfile.ZipFile(root / "historical_data1_Q22010.zip", "w") as archive:
        archive.writestr("historical_data1_time_Q22010.txt", f"{PERFORMANCE}\n" * 5)
    return root


def test_upload_streams_every_file_and_counts_its_lines(settings: Settings, tmp_path: Path) -> None:
    store = MemoryStore(settings)
    files = discover(downloads(tmp_path)).files
    step = job_on(settings, store).upload(files)
    assert (step.rows_in, step.rows_out, step.rows_rejected) == (9, 9, 0)  # a last line without \n counts
    objects = step.detail["objects"]
    orig = f"s3://bdml-raw/{tables.raw_key(Kind.ORIGINATION, 'article', 'historical_data1_Q12010.txt')}"
    perf = f"s3://bdml-raw/{tables.raw_key(Kind.PERFORMANCE, 'article', 'historical_data1_time_Q22010.txt')}"
    assert objects[orig]["lines"] == 4 and objects[perf]["lines"] == 5
    assert objects[perf]["file"].endswith("historical_data1_Q22010.zip:historical_data1_time_Q22010.txt")
    assert store.read(S3Uri.parse(perf)) == f"{PERFORMANCE}\n".encode() * 5  # the member's bytes, as shipped


def test_a_truncated_upload_is_caught(settings: Settings, tmp_path: Path) -> None:
    files = discover(downloads(tmp_path)).files
    with pytest.raises(ReconciliationError, match="missing or truncated"):
        job_on(settings, MemoryStore(settings, truncate=1)).upload(files)


def test_loads_go_through_the_injected_loaders(settings: Settings) -> None:
    store = MemoryStore(settings)
    root = tables.processed_root(settings)
    for name in ("part-00001.txt", "part-00000.txt", "_SUCCESS"):
        store.put_text(root.join("origination", name), "" if name == "_SUCCESS" else "a|b\nc|d\n")
    job = job_on(settings, store)
    step = job.load_mysql()
    assert (step.step, step.rows_out) == ("load mysql origination", 4)
    assert isinstance(job.mysql, MemoryLoader)
    assert [u.key.rsplit("/", 1)[-1] for u in job.mysql.loaded[0]] == ["part-00000.txt", "part-00001.txt"]


def _report(read: dict[str, int], rejected: dict[str, int], held: int) -> BatchReport:
    """A report as a run leaves it: two raw files of 10 lines each, what HQL read and rejected per file,
    and what the warehouses hold."""
    objects = {f"s3://raw/{name}": {"file": f"/data/{name}", "lines": 10} for name in ("o.txt", "p.txt")}
    upload = StepReport("upload raw", rows_in=20, rows_out=20, detail={"objects": objects})
    report = BatchReport("duckdb", "embedded", steps=[upload])
    for kind, name in (("origination", "o.txt"), ("performance", "p.txt")):
        uri = f"s3://raw/{name}"
        got, bad = read.get(uri, 0), rejected.get(uri, 0)
        detail = {"read_per_file": {uri: got} if uri in read else {}, "rejected_per_file": {uri: bad}}
        report.steps.append(StepReport(f"hql {kind}", rows_in=got, rows_out=got - bad, rows_rejected=bad,
                                       detail=detail))  # fmt: skip
    report.steps.append(StepReport("load mysql origination", rows_out=held))
    report.steps.append(
        StepReport("load redshift performance", rows_out=report.step("hql performance").rows_out)
    )
    return report


def test_the_cross_check_passes_when_every_file_and_table_agrees() -> None:
    report = _report({"s3://raw/o.txt": 10, "s3://raw/p.txt": 10}, {"s3://raw/o.txt": 2}, held=8)
    checks = BatchJob.cross_check(report, {Kind.ORIGINATION: 2, Kind.PERFORMANCE: 0})
    assert checks[0] == "per file (2): lines uploaded = read by HQL = loaded + rejected (20 lines)"
    assert [(f["file"], f["loaded"], f["rejected"]) for f in report.files] == [
        ("/data/o.txt", 8, 2), ("/data/p.txt", 10, 0)]  # fmt: skip


@pytest.mark.parametrize(
    ("read", "held", "expected", "message"),
    [
        ({ORIG_URI: 9, PERF_URI: 10}, 7, 2, r"/data/o\.txt: uploaded 10 lines but the HQL engine read 9"),
        ({ORIG_URI: 10}, 8, 2, r"/data/p\.txt: uploaded 10 lines but the HQL engine read 0"),
        ({ORIG_URI: 10, PERF_URI: 10}, 7, 2, r"HQL kept 8 but the warehouse holds 7"),
        ({ORIG_URI: 10, PERF_URI: 10}, 8, 3, r"generator wrote 3 dirty lines, HQL rejected 2"),
    ],
)  # fmt: skip
def test_the_cross_check_names_what_disagrees(
    read: dict[str, int], held: int, expected: int, message: str
) -> None:
    report = _report(read, {"s3://raw/o.txt": 2}, held)
    with pytest.raises(ReconciliationError, match=message):
        BatchJob.cross_check(report, {Kind.ORIGINATION: expected})


def test_a_warehouse_that_loses_rows_fails_its_own_step(settings: Settings) -> None:
    store = MemoryStore(settings)
    store.put_text(tables.processed_root(settings).join("origination", "part-0.txt"), "a\nb\nc\n")
    step = job_on(settings, store, keep=2).load_mysql()
    assert step.rows_in == 3 and step.rows_out == 2 and step.rows_rejected == 1
