"""Fast, deterministic synthetic Freddie Mac loan-level files (origination + monthly performance).

Rows are generated a chunk at a time with numpy and written with Arrow's CSV writer: every column is
built as an Arrow string array by `take` from a preformatted table ("0".."9999", "199901".."219912",
"3.875", seller names ...), so the writer only copies bytes. A chunk's random numbers come from its own
seeded stream, so the output depends only on (layout, sizes, dirty_share, seed), not on thread timing.

A share of the rows is replaced by a dirty variant that the HQL validation must reject (see
`DirtyKind`). Sizes are PHYSICAL lines, as the job counts them: an `embedded_newline` row is two lines.

This module writes the files and says what they hold; ``values`` holds the vocabularies, ``rows`` draws
loans, origination rows and performance histories, ``dirt`` spoils lines, ``chunks`` assembles them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from producers.freddie.generator.chunks import (
    WRITE_BUFFER,
    ChunkTask,
    in_order,
    origination_tasks,
    performance_tasks,
)
from producers.freddie.generator.dirt import DIRTY_KINDS, DirtyKind, DirtyPlan, plan_dirty
from producers.freddie.generator.rows import MAX_LOANS
from producers.freddie.generator.values import MAX_MONTHS_PER_LOAN
from producers.freddie.layouts import LAYOUT_NAMES, Kind, Layout, get_layout
from services.errors import UsageError

__all__ = [
    "DIRTY_KINDS", "FILE_NAMES", "MAX_LOANS", "MAX_MONTHS_PER_LOAN", "DirtyKind", "GeneratedFile",
    "GenerationResult", "generate",
]  # fmt: skip

FILE_NAMES: dict[str, dict[Kind, str]] = {
    "article": {Kind.ORIGINATION: "sample_orig_2017.txt", Kind.PERFORMANCE: "sample_svcg_2017.txt"},
    "guide2024": {
        Kind.ORIGINATION: "historical_data_2024Q1.txt",
        Kind.PERFORMANCE: "historical_data_time_2024Q1.txt",
    },
    "release47": {Kind.ORIGINATION: "sample_orig_2026.txt", Kind.PERFORMANCE: "sample_perf_2026.txt"},
}


# --- results ---------------------------------------------------------------------------------------
@dataclass
class GeneratedFile:
    """One written file and what the validating job must make of it."""

    path: Path
    kind: Kind
    layout: str
    lines: int  # physical lines written (= rows in, for the job)
    expected_rejects: int  # physical lines the validator must reject
    dirty_by_kind: dict[str, int]  # dirty LOGICAL rows per DirtyKind (an embedded_newline row = 2 lines)
    seconds: float
    size_bytes: int = 0

    @property
    def rows_per_second(self) -> float:
        return self.lines / self.seconds if self.seconds > 0 else 0.0

    @property
    def expected_clean(self) -> int:
        return self.lines - self.expected_rejects

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(
            path=str(self.path),
            kind=self.kind.value,
            seconds=round(self.seconds, 3),
            rows_per_second=round(self.rows_per_second, 1),
            expected_clean=self.expected_clean,
        )
        return data


@dataclass
class GenerationResult:
    origination: GeneratedFile
    performance: GeneratedFile
    seed: int
    dirty_share: float

    @property
    def files(self) -> tuple[GeneratedFile, GeneratedFile]:
        return (self.origination, self.performance)

    @property
    def lines(self) -> int:
        return self.origination.lines + self.performance.lines

    @property
    def seconds(self) -> float:
        return self.origination.seconds + self.performance.seconds

    @property
    def rows_per_second(self) -> float:
        return self.lines / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "dirty_share": self.dirty_share,
            "lines": self.lines,
            "seconds": round(self.seconds, 3),
            "rows_per_second": round(self.rows_per_second, 1),
            "files": [f.as_dict() for f in self.files],
        }


# --- progress ----------------------------------------------------------------------------------------
class _Progress:
    """A rich progress bar per file, or nothing."""

    def __init__(self, enabled: bool) -> None:
        self._bar: Any = None
        if enabled:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("lines"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
            )

    def __enter__(self) -> _Progress:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def track(self, description: str, total: int) -> Callable[[int], None]:
        if self._bar is None:
            return lambda lines: None
        task_id = self._bar.add_task(description, total=total)
        return lambda lines: self._bar.advance(task_id, lines)


# --- public entry point ----------------------------------------------------------------------------
def _write(
    path: Path, layout: Layout, plan: DirtyPlan, tasks: Iterator[ChunkTask], workers: int, bar: _Progress
) -> GeneratedFile:
    advance = bar.track(path.name, plan.lines)
    started = time.perf_counter()
    lines = written = 0
    with path.open("wb", buffering=WRITE_BUFFER) as out:
        for chunk in in_order(tasks, workers):
            for part in chunk.parts:
                written += out.write(part)
            lines += chunk.lines
            advance(chunk.lines)
    if lines != plan.lines:
        raise RuntimeError(f"{path}: wrote {lines} lines, planned {plan.lines}")
    return GeneratedFile(
        path=path,
        kind=layout.kind,
        layout=layout.name,
        lines=lines,
        expected_rejects=plan.expected_rejects,
        dirty_by_kind=plan.by_kind(),
        seconds=time.perf_counter() - started,
        size_bytes=written,
    )


def _check_arguments(layout: str, origination_rows: int, performance_rows: int, dirty_share: float) -> None:
    if layout not in LAYOUT_NAMES:
        raise UsageError(f"unknown layout {layout!r}; choose one of {', '.join(LAYOUT_NAMES)}")
    if origination_rows < 0 or performance_rows < 0:
        raise UsageError("row counts must be >= 0")
    if not 0.0 <= dirty_share <= 1.0:
        raise UsageError(f"dirty_share must be within [0, 1], got {dirty_share}")


def generate(
    out_dir: Path,
    layout: str,
    origination_rows: int,
    performance_rows: int,
    dirty_share: float = 0.01,
    seed: int = 7,
    progress: bool = False,
    workers: int | None = None,
) -> GenerationResult:
    """Write the origination and performance files of `layout` into `out_dir`.

    Row counts are physical lines. The same arguments always give the same bytes (`workers` only
    changes the speed). Performance rows are monthly records of the origination file's loans, so
    performance_rows needs origination rows (at most MAX_MONTHS_PER_LOAN per loan on average).
    """
    _check_arguments(layout, origination_rows, performance_rows, dirty_share)
    orig_layout = get_layout(layout, Kind.ORIGINATION)
    perf_layout = get_layout(layout, Kind.PERFORMANCE)
    orig_plan = plan_dirty(origination_rows, dirty_share, seed, Kind.ORIGINATION)
    perf_plan = plan_dirty(performance_rows, dirty_share, seed, Kind.PERFORMANCE)
    loans = orig_plan.logical_rows
    if loans > MAX_LOANS:
        raise UsageError(f"at most {MAX_LOANS:,} origination rows (12-character loan ids)")
    if perf_plan.logical_rows > MAX_MONTHS_PER_LOAN * loans:
        raise UsageError(
            f"{performance_rows:,} performance rows need at least "
            f"{-(-perf_plan.logical_rows // MAX_MONTHS_PER_LOAN):,} origination rows "
            f"(at most {MAX_MONTHS_PER_LOAN} monthly records per loan on average)"
        )
    workers = workers if workers is not None else min(os.cpu_count() or 1, 4)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    names = FILE_NAMES[layout]
    with _Progress(progress) as bar:
        orig = _write(out_dir / names[Kind.ORIGINATION], orig_layout, orig_plan,
                      origination_tasks(orig_layout, orig_plan, seed), workers, bar)  # fmt: skip
        perf = _write(out_dir / names[Kind.PERFORMANCE], perf_layout, perf_plan,
                      performance_tasks(perf_layout, perf_plan, seed, loans), workers, bar)  # fmt: skip
    return GenerationResult(orig, perf, seed, dirty_share)
