"""`bdml batch …`: generate data, run the batch pipeline, inspect rejects."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, get_args

import typer
from rich.table import Table

from hive.chart import write_chart
from hive.job import BatchJob, BatchReport, BatchRequest
from hive.show import reject_tables, warehouse_tables
from producers.freddie import generator
from producers.freddie.layouts import LAYOUT_NAMES
from services import runs
from services.choices import one_of
from services.console import make_console
from services.objectstore import ObjectStore
from services.reconcile import steps_table
from services.settings import HqlSettings, get_settings, settings_with
from services.stack.cli import needs_stack

app = typer.Typer(
    help="Batch pipeline: Freddie Mac files → S3 → HQL → MySQL and Redshift.", no_args_is_help=True
)
MAX_FILES_SHOWN = 24  # beyond this the per-file reconciliation stays in the JSON report
console = make_console()

ENGINES = list(get_args(HqlSettings.model_fields["engine"].annotation))


# Checked before anything starts: a bad value is one line and exit 2.
Layout = Annotated[
    str,
    typer.Option(
        callback=one_of(LAYOUT_NAMES), help=f"Freddie Mac layout to generate: {', '.join(LAYOUT_NAMES)}."
    ),
]
Acquisitions = Annotated[int, typer.Option(min=1, help="Origination (acquisition) rows to generate.")]
Performance = Annotated[int, typer.Option(min=1, help="Monthly performance rows to generate.")]
DirtyShare = Annotated[
    float, typer.Option(min=0.0, max=1.0, help="Share of dirty rows in generated files (0–1).")
]
Seed = Annotated[int, typer.Option(min=0, help="Generator seed (same seed, same files).")]


@app.command()
@needs_stack()
def run(
    layout: Layout = "article",
    acquisitions: Acquisitions = 10_000,
    performance: Performance = 100_000,
    dirty_share: DirtyShare = 0.01,
    seed: Seed = 7,
    from_dir: Annotated[
        Path | None,
        typer.Option(
            "--from",
            exists=True,
            help="Load real Freddie Mac downloads instead: a folder (any depth, zips read in place), "
            "one .zip or one .txt.",
        ),
    ] = None,
    engine: Annotated[
        str | None,
        typer.Option(
            callback=one_of(ENGINES), help=f"HQL engine: {', '.join(ENGINES)} (default: the profile's)."
        ),
    ] = None,
    report: Annotated[
        Path | None,
        typer.Option(help="Also copy the JSON report here (it is always kept under .bdml/reports)."),
    ] = None,
) -> None:
    """Run every batch step with progress; print the reconciliation and write a JSON report."""
    settings = get_settings()
    if engine:
        settings = settings_with(hql=HqlSettings(**{**settings.hql.model_dump(), "engine": engine}))
    request = BatchRequest(layout, acquisitions, performance, dirty_share, seed, from_dir)
    options: dict[str, Any] = {"engine": settings.hql.engine, "source": str(from_dir or "generated")}
    if from_dir is None:
        options |= {"layout": layout, "acquisitions": acquisitions, "performance": performance,
                    "dirty_share": dirty_share, "seed": seed}  # fmt: skip
    with runs.recording(settings, "batch", **options) as record:
        result = BatchJob.from_settings(settings, console).run(request)
        record.title = print_report(result)
        record.figures = figures(result)
        chart = write_chart(result, record.picture("steps"))
        path = record.finish(result.as_dict(), copy_to=report)
    console.print(f"report: {path} (picture: {chart})" + (f"; copied to {report}" if report else ""))


@app.command()
@needs_stack()
def show(
    rows: Annotated[int, typer.Option("--rows", "-n", min=0, max=100, help="Sample rows per table.")] = 3,
) -> None:
    """What the warehouses and the rejects hold: counts, rejects per layout, top reasons, a few rows."""
    settings = get_settings()
    views = warehouse_tables(settings, rows) + reject_tables(settings, ObjectStore(settings), rows)
    for view in views:
        if view.rows is None:
            console.print(f"{view.where}: no table yet (run `bdml batch run`)")
            continue
        console.print(f"{view.where}: {view.rows:,} rows")
        if view.by_layout:
            console.print("  by layout: " + ", ".join(f"{k} {v:,}" for k, v in view.by_layout.items()))
        if view.top_reasons:
            console.print("  top reasons: " + ", ".join(f"{k} ×{v:,}" for k, v in view.top_reasons.items()))
        if view.sample:
            table = Table(*view.columns, box=None, padding=(0, 2, 0, 2))
            for row in view.sample:
                table.add_row(*("" if v is None else str(v) for v in row))
            console.print(table)


def figures(result: BatchReport) -> dict[str, Any]:
    """The headline numbers `bdml runs` lists."""
    hql = [result.step(f"hql {kind}") for kind in ("origination", "performance")]
    return {
        "lines": sum(s.rows_in for s in hql),
        "loaded": sum(s.rows_out for s in hql),
        "rejected": sum(s.rows_rejected for s in hql),
        "seconds": round(result.seconds, 1),
    }


@app.command()
def generate(
    out: Annotated[Path, typer.Argument(help="Folder to write the two files into.")],
    layout: Layout = "article",
    acquisitions: Acquisitions = 10_000,
    performance: Performance = 100_000,
    dirty_share: DirtyShare = 0.01,
    seed: Seed = 7,
) -> None:
    """Write synthetic Freddie Mac files (origination + performance) without running the pipeline."""
    result = generator.generate(
        out, layout, acquisitions, performance, dirty_share=dirty_share, seed=seed, progress=True
    )
    console.print_json(json.dumps(result.as_dict(), default=str))


def print_report(result: BatchReport) -> str:
    """Print the reconciliation; return its title."""
    title = f"batch run · engine {result.engine} · profile {result.profile}"
    console.print(steps_table(title, result.steps))
    for item in result.inputs:
        if "note" in item:
            console.print(f"  · {item['file']}: {item['note']}")
    for item in result.skipped:
        console.print(f"  · skipped {item['file']}: {item['reason']}")
    if 1 < len(result.files) <= MAX_FILES_SHOWN:
        console.print(files_table(result.files))
    for check in result.checks:
        console.print(f"  ✓ {check}")
    for s in result.steps:
        reasons = s.detail.get("reject_reasons")
        if reasons:
            console.print(f"  {s.step} rejects: " + ", ".join(f"{r} ×{n}" for r, n in reasons.items()))
    return title


def files_table(files: list[dict[str, Any]]) -> Table:
    table = Table(title="per file")
    for column in ("file", "lines", "loaded", "rejected"):
        table.add_column(column, justify="left" if column == "file" else "right")
    for f in files:
        table.add_row(f["file"], *(f"{f[c]:,}" for c in ("lines", "loaded", "rejected")))
    return table
