"""Real Freddie Mac files downloaded by hand (`--from DIR`): which kind and layout each file is.

The kind comes from the file name (the field counts of the two kinds collide: origination 2024 and
performance 2024 both have 32 fields), the layout from the number of fields per line.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from producers.freddie.layouts import LAYOUTS, Kind, Layout, layout_for

SAMPLE_LINES = 200  # lines looked at to tell the layout; the most common field count wins

_PATTERNS: dict[Kind, tuple[tuple[str, re.Pattern[str]], ...]] = {
    Kind.ORIGINATION: (
        ("sample_orig_*.txt", re.compile(r"sample_orig_.*\.txt", re.IGNORECASE)),
        ("historical_data_YYYYQn.txt", re.compile(r"historical_data_\d{4}Q[1-4]\.txt", re.IGNORECASE)),
    ),
    Kind.PERFORMANCE: (
        ("sample_svcg_*.txt", re.compile(r"sample_svcg_.*\.txt", re.IGNORECASE)),
        ("sample_perf_*.txt", re.compile(r"sample_perf_.*\.txt", re.IGNORECASE)),
        (
            "historical_data_time_YYYYQn.txt",
            re.compile(r"historical_data_time_\d{4}Q[1-4]\.txt", re.IGNORECASE),
        ),
    ),
}
ACCEPTED_PATTERNS: tuple[str, ...] = tuple(glob for pats in _PATTERNS.values() for glob, _ in pats)


class SourceError(ValueError):
    """A directory or file that cannot be read as Freddie Mac loan-level data."""


@dataclass(frozen=True)
class SourceFile:
    path: Path
    kind: Kind
    layout: Layout
    field_count: int
    size_bytes: int


def _accepted() -> str:
    return ", ".join(
        f"{kind.value}: {' or '.join(glob for glob, _ in patterns)}" for kind, patterns in _PATTERNS.items()
    )


def detect_kind(name: str) -> Kind:
    """The kind of a file from its name (a bare name or a path)."""
    base = Path(name).name
    for kind, patterns in _PATTERNS.items():
        if any(pattern.fullmatch(base) for _, pattern in patterns):
            return kind
    raise SourceError(f"{base}: not a Freddie Mac loan-level file name (accepted: {_accepted()})")


def sample_field_count(path: Path, kind: Kind, lines: int = SAMPLE_LINES) -> int:
    """Fields per line over the first `lines` non-empty lines: the most common count, so one dirty
    line at the top cannot misclassify the file (ties go to a count some layout of the kind has)."""
    counts: Counter[int] = Counter()
    with path.open("rb") as handle:
        for raw in handle:
            line = raw.rstrip(b"\r\n")
            if not line.strip():
                continue
            counts[line.count(b"|") + 1] += 1
            if counts.total() >= lines:
                break
    if not counts:
        raise SourceError(f"{path.name}: the file is empty, so its layout cannot be told")
    known = {layout.field_count for layout in LAYOUTS if layout.kind == kind}
    return max(counts, key=lambda count: (counts[count], count in known))


def inspect(path: Path) -> SourceFile:
    kind = detect_kind(path.name)
    field_count = sample_field_count(path, kind)
    layout = layout_for(kind, field_count, source=path.name)
    return SourceFile(path, kind, layout, field_count, path.stat().st_size)


def discover(directory: Path) -> list[SourceFile]:
    """Every Freddie Mac file directly inside `directory` (not its subfolders), sorted by name.

    Files not ending in .txt are ignored; a .txt file whose name fits no accepted pattern is an
    error rather than silently skipped (it is most likely a renamed download).
    """
    if not directory.is_dir():
        raise SourceError(f"{directory}: not a directory")
    candidates = sorted(
        p
        for p in directory.iterdir()
        if p.is_file() and p.suffix.lower() == ".txt" and not p.name.startswith(".")
    )
    if not candidates:
        raise SourceError(f"{directory}: no Freddie Mac .txt files found (accepted: {_accepted()})")
    return [inspect(path) for path in candidates]
