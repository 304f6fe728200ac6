"""`bdml runs`: the recent runs of every pipeline, newest first, with their status and figures."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from services.choices import one_of
from services.runs import RunSummary, list_runs
from services.settings import get_settings

PIPELINES = ("batch", "stream", "ml")


def _figure(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".")
    return f"{value:,}" if isinstance(value, int) else str(value)


def describe(run: dict[str, Any]) -> str:
    """The figures (or the error) in one line: ``loaded 19,800 · rejected 200 · seconds 12.1``."""
    if run.get("status") != "ok" and run.get("error"):
        return str(run["error"])
    figures = run.get("figures") or {}
    return " · ".join(f"{k.replace('_', ' ')} {_figure(v)}" for k, v in figures.items() if v is not None)


def runs(
    pipeline: Annotated[
        str | None,
        typer.Argument(callback=one_of(PIPELINES), help=f"Only this pipeline: {', '.join(PIPELINES)}."),
    ] = None,
    last: Annotated[int, typer.Option("--last", "-n", min=1, help="How many runs to list.")] = 10,
) -> None:
    """List recent runs (newest first): when, pipeline, status, figures and where the report is."""
    found = list_runs(get_settings(), pipeline, last)
    console = Console()
    if not found:
        console.print("no runs recorded yet: `bdml batch run`, `bdml stream run` or `bdml ml run` make one")
        return
    if not console.is_terminal:  # logs and pipes: one tab-separated line a run, no table drawing
        for r in found:
            print("\t".join((r.started, r.pipeline, str(r.run.get("status")), describe(r.run), str(r.path))))
        return
    console.print(_table(found))


def _table(found: list[RunSummary]) -> Table:
    table = Table(title="recent runs (newest first)")
    for column in ("started (UTC)", "pipeline", "status", "figures", "report"):
        table.add_column(column)
    for r in found:
        ok = r.run.get("status") == "ok"
        status = "[green]ok[/]" if ok else "[red]failed[/]"
        table.add_row(r.started.replace("T", " ")[:19], r.pipeline, status, describe(r.run), str(r.path))
    return table
