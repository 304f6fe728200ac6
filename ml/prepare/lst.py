"""SageMaker image-classification ``.lst`` files: ``index<TAB>label<TAB>relative/path``, labels from 0."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath


class LstError(ValueError):
    """A malformed .lst line; the message names the file and line."""


@dataclass(frozen=True)
class LstEntry:
    index: int
    label: int
    path: str  # relative to the channel folder, always '/'-separated


def format_line(entry: LstEntry) -> str:
    if "\t" in entry.path or "\n" in entry.path:
        raise LstError(f"path {entry.path!r} contains a tab or newline")
    if entry.path.startswith("/") or "\\" in entry.path or ".." in PurePosixPath(entry.path).parts:
        raise LstError(f"path {entry.path!r} must be relative and '/'-separated")
    return f"{entry.index}\t{entry.label}\t{entry.path}\n"


def write(path: Path, entries: list[LstEntry]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="\n") as out:
        out.writelines(format_line(e) for e in entries)


def read(path: Path) -> list[LstEntry]:
    entries = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != 3:
            raise LstError(f"{path}:{number}: expected 3 tab-separated fields, got {len(parts)}")
        try:
            index, label = int(parts[0]), int(float(parts[1]))  # the built-in algorithm writes '1.000000'
        except ValueError:
            raise LstError(f"{path}:{number}: index and label must be numbers: {line!r}") from None
        entries.append(LstEntry(index, label, parts[2]))
    return entries
