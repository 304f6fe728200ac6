"""Real Freddie Mac downloads (`--from PATH`): which files to load, their kind and layout.

PATH is a folder (searched at any depth), one file, or one zip. Zips are read in place, never extracted:
each member is opened as a stream when it is sampled and again when it is uploaded. Every file Freddie
Mac has shipped is recognised by its name, in both naming eras (see ``_PATTERNS``); the kind comes from
the name (the field counts of the two kinds collide: origination 2024 and performance 2024 both have 32
fields), the layout from the number of fields per line.

Nothing found is silently dropped: an empty file is kept as 0 rows with a note, and anything else that
is not loaded (an unknown name, a duplicate of a file already found, a zip inside a zip) is listed as
skipped with its reason. A file of unknown shape stops the run (its name and field count say why).
"""

from __future__ import annotations

import re
import zipfile
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO

from producers.freddie.layouts import LAYOUTS, Kind, Layout, layout_for

SAMPLE_LINES = 200  # lines looked at to tell the layout; the most common field count wins

_PATTERNS: dict[Kind, tuple[tuple[str, re.Pattern[str]], ...]] = {
    Kind.ORIGINATION: (
        ("sample_orig_*.txt", re.compile(r"sample_orig_.*\.txt", re.IGNORECASE)),
        ("historical_data_YYYYQn.txt", re.compile(r"historical_data_\d{4}Q[1-4]\.txt", re.IGNORECASE)),
        ("historical_data1_QnYYYY.txt", re.compile(r"historical_data1_Q[1-4]\d{4}\.txt", re.IGNORECASE)),
    ),
    Kind.PERFORMANCE: (
        ("sample_svcg_*.txt", re.compile(r"sample_svcg_.*\.txt", re.IGNORECASE)),
        ("sample_perf_*.txt", re.compile(r"sample_perf_.*\.txt", re.IGNORECASE)),
        (
            "historical_data_time_YYYYQn.txt",
            re.compile(r"historical_data_time_\d{4}Q[1-4]\.txt", re.IGNORECASE),
        ),
        (
            "historical_data1_time_QnYYYY.txt",
            re.compile(r"historical_data1_time_Q[1-4]\d{4}\.txt", re.IGNORECASE),
        ),
    ),
}
ACCEPTED_PATTERNS: tuple[str, ...] = tuple(glob for pats in _PATTERNS.values() for glob, _ in pats)
_PERIOD = re.compile(r"(?P<y1>\d{4})(?:Q(?P<q1>[1-4]))?\.txt$|Q(?P<q2>[1-4])(?P<y2>\d{4})\.txt$", re.I)


class SourceError(ValueError):
    """A path that cannot be read as Freddie Mac loan-level data."""


@dataclass(frozen=True)
class Found:
    """A file on disk (``member`` None) or a member of the zip at ``path``."""

    path: Path
    size_bytes: int  # uncompressed
    member: str | None

    @property
    def name(self) -> str:
        return _base_name(self.member) if self.member else self.path.name

    @property
    def origin(self) -> str:
        """Where the user has it: a path, or ``archive.zip:member``."""
        return f"{self.path}:{self.member}" if self.member else str(self.path)

    @contextmanager
    def open(self) -> Iterator[IO[bytes]]:
        if self.member is None:
            with self.path.open("rb") as handle:
                yield handle
        else:
            with zipfile.ZipFile(self.path) as archive, archive.open(self.member) as handle:
                yield handle


@dataclass(frozen=True)
class SourceFile(Found):
    """A Freddie Mac data file with its kind and detected layout."""

    kind: Kind
    layout: Layout
    field_count: int

    @property
    def period(self) -> str:
        """The quarter (``2010Q1``) or year (``2017``, sample files) the file covers; '' if unnamed."""
        return period_of(self.name)


@dataclass(frozen=True)
class SetAside:
    """A file found but not loaded (or loaded as 0 rows), and why."""

    origin: str
    reason: str


@dataclass
class Inventory:
    files: list[SourceFile] = field(default_factory=list)
    empty: list[SetAside] = field(default_factory=list)  # 0 rows, listed in the report
    skipped: list[SetAside] = field(default_factory=list)


def _accepted() -> str:
    return ", ".join(
        f"{kind.value}: {' or '.join(glob for glob, _ in patterns)}" for kind, patterns in _PATTERNS.items()
    )


def _base_name(member: str) -> str:
    return PurePosixPath(member.replace("\\", "/")).name


def period_of(name: str) -> str:
    match = _PERIOD.search(name)
    if match is None:
        return ""
    year, quarter = match["y1"] or match["y2"], match["q1"] or match["q2"]
    return f"{year}Q{quarter}" if quarter else year


def detect_kind(name: str) -> Kind:
    """The kind of a file from its name (a bare name or a path)."""
    base = _base_name(name)
    for kind, patterns in _PATTERNS.items():
        if any(pattern.fullmatch(base) for _, pattern in patterns):
            return kind
    raise SourceError(f"{base}: not a Freddie Mac loan-level file name (accepted: {_accepted()})")


def field_counts(lines: Iterable[bytes], limit: int = SAMPLE_LINES) -> Counter[int]:
    """Fields per line over the first ``limit`` non-blank lines."""
    counts: Counter[int] = Counter()
    for raw in lines:
        line = raw.rstrip(b"\r\n")
        if not line.strip():
            continue
        counts[line.count(b"|") + 1] += 1
        if counts.total() >= limit:
            break
    return counts


def likely_field_count(counts: Counter[int], kind: Kind) -> int:
    """The most common count, so one dirty line at the top cannot misclassify the file (ties go to a
    count some layout of the kind has)."""
    known = {layout.field_count for layout in LAYOUTS if layout.kind == kind}
    return max(counts, key=lambda count: (counts[count], count in known))


def discover(root: Path) -> Inventory:
    """Every Freddie Mac file under ``root`` (a folder at any depth, a file or a zip), sorted by path."""
    if not root.exists():
        raise SourceError(f"{root}: no such file or folder; pass the folder, zip or .txt you downloaded")
    paths = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    found = Inventory()
    seen: dict[str, str] = {}  # file name → where it was first found
    for path in paths:
        for candidate in _candidates(path, found):
            _take(candidate, found, seen)
    if not found.files and not found.empty:
        raise SourceError(
            f"{root}: no Freddie Mac files found"
            + (f" ({len(found.skipped)} other files skipped)" if found.skipped else "")
            + f"; accepted names (loose, in folders or in .zip files): {_accepted()}"
        )
    return found


def _candidates(path: Path, found: Inventory) -> Iterator[Found]:
    if path.suffix.lower() != ".zip":
        yield Found(path, path.stat().st_size, None)
        return
    try:
        with zipfile.ZipFile(path) as archive:
            members = [info for info in archive.infolist() if not info.is_dir()]
    except (zipfile.BadZipFile, OSError) as exc:
        raise SourceError(f"{path}: not a readable zip ({exc}); download it again") from exc
    for info in members:
        if info.filename.lower().endswith(".zip"):
            found.skipped.append(
                SetAside(f"{path}:{info.filename}", "a zip inside a zip: unzip the outer one")
            )
        else:
            yield Found(path, info.file_size, info.filename)


def _take(candidate: Found, found: Inventory, seen: dict[str, str]) -> None:
    try:
        kind = detect_kind(candidate.name)
    except SourceError:
        reason = "name matches no Freddie Mac loan-level file"
        if candidate.name.lower().endswith(".txt"):
            reason += f" (accepted: {', '.join(ACCEPTED_PATTERNS)}); rename it if it is one"
        found.skipped.append(SetAside(candidate.origin, reason))
        return
    key = candidate.name.lower()
    if key in seen:
        found.skipped.append(SetAside(candidate.origin, f"same file as {seen[key]}: loaded once"))
        return
    seen[key] = candidate.origin
    with candidate.open() as handle:
        counts = field_counts(handle)
    if not counts:
        note = "empty file: 0 rows" if candidate.size_bytes == 0 else "only blank lines: 0 rows"
        found.empty.append(SetAside(candidate.origin, note))
        return
    count = likely_field_count(counts, kind)
    layout = layout_for(kind, count, source=candidate.origin)
    found.files.append(
        SourceFile(candidate.path, candidate.size_bytes, candidate.member, kind, layout, count)
    )
