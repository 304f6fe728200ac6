"""Reconciliation: every step accounts for its rows (rows in = rows out + rows rejected)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from rich.table import Table


class ReconciliationError(AssertionError):
    """Rows went missing or appeared from nowhere."""


@dataclass
class StepReport:
    step: str
    rows_in: int = 0
    rows_out: int = 0
    rows_rejected: int = 0
    seconds: float = 0.0
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def rows_per_second(self) -> float:
        return self.rows_in / self.seconds if self.seconds > 0 else 0.0

    @property
    def balanced(self) -> bool:
        return self.rows_in == self.rows_out + self.rows_rejected

    def check(self) -> StepReport:
        if not self.balanced:
            raise ReconciliationError(
                f"{self.step}: rows in {self.rows_in:,} != out {self.rows_out:,} + rejected "
                f"{self.rows_rejected:,} (difference {self.rows_in - self.rows_out - self.rows_rejected:+,})"
            )
        return self

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["rows_per_second"] = round(self.rows_per_second, 1)
        data["seconds"] = round(self.seconds, 3)
        data["balanced"] = self.balanced
        return data


def count_lines(path: Path) -> int:
    """Lines of a local file (see :class:`LineCounter`): the "rows in" of every file-based step."""
    with path.open("rb") as fh:
        counter = LineCounter(fh)
        while counter.read(1 << 20):
            pass
        return counter.lines


class LineCounter:
    """A reader that counts the lines passing through it, so an upload counts its rows in the same pass
    that sends them. Lines end as Hadoop (and so Hive) ends them: at \\n, \\r\\n or a lone \\r; a last
    line without an end counts too."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.ends = 0
        self.last = b"\n"

    def read(self, size: int = -1, /) -> bytes:
        chunk = self.stream.read(size)
        if chunk:
            ends = chunk.count(b"\n") + chunk.count(b"\r") - chunk.count(b"\r\n")
            if self.last == b"\r" and chunk.startswith(b"\n"):
                ends -= 1  # a \r\n split between two reads: its \r already ended the line
            self.ends += ends
            self.last = chunk[-1:]
        return chunk

    @property
    def lines(self) -> int:
        return self.ends + (self.last not in (b"\n", b"\r"))


@contextmanager
def timed(report: StepReport) -> Iterator[StepReport]:
    start = time.perf_counter()
    try:
        yield report
    finally:
        report.seconds = time.perf_counter() - start


def steps_table(title: str, steps: list[StepReport], *, with_rate: bool = True) -> Table:
    """The reconciliation as a rich table: one row a step, ✓ where rows in = out + rejected."""
    table = Table(title=title)
    columns = [
        "step",
        "rows in",
        "rows out",
        "rejected",
        "seconds",
        *(["rows/s"] if with_rate else []),
        "balanced",
    ]
    for col in columns:
        table.add_column(col, justify="left" if col == "step" else "right")
    for s in steps:
        timed_alone = s.seconds > 0  # a step timed within another (by_year in its HQL file) shows "–"
        rate = [f"{s.rows_per_second:,.0f}" if timed_alone else "–"] if with_rate else []
        table.add_row(
            s.step,
            f"{s.rows_in:,}",
            f"{s.rows_out:,}",
            f"{s.rows_rejected:,}",
            f"{s.seconds:.2f}" if timed_alone else "–",
            *rate,
            "✓" if s.balanced else "✗",
        )
    return table
