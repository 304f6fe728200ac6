"""The dataset manifest: one CSV row per image with where it came from, its licence and its group."""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass, fields
from pathlib import Path

MANIFEST = "manifest.csv"
# Kept for a review's own held-out set: never fetched, never in a manifest (so never trained or tested on).
RESERVED_PACKAGES = frozenset(
    {"frozen-bubble", "frozen-bubble-data", "emoji-datasource-apple", "emoji-datasource-facebook"}
)
# How those packages would show in a record: the source name our collectors would give them, and paths.
RESERVED_MARKS = (
    "frozen-bubble",
    "frozenbubble",
    "emoji-apple",
    "emoji-facebook",
    "img/apple/",
    "img/facebook/",
)


class ReservedSource(ValueError):
    """A record comes from a package reserved for a held-out review set."""


def check_reserved(records: list[Record]) -> list[Record]:
    for r in records:
        text = f"{r.source} {r.origin} {r.id}".lower()
        for mark in (*RESERVED_PACKAGES, *RESERVED_MARKS):
            if mark in text:
                raise ReservedSource(
                    f"{r.file}: from {mark!r}, which is reserved for a held-out review set; "
                    "remove that source and run `bdml ml dataset` again"
                )
    return records


@dataclass(frozen=True)
class Record:
    id: str
    file: str  # relative to the dataset folder, '/'-separated
    label: str
    source: str
    licence: str
    kind: str
    group: str
    role: str  # 'train' (train/validation pool) or 'test' (held-out sources)
    origin: str
    sha256: str
    width: int
    height: int


def write(folder: Path, records: list[Record]) -> Path:
    check_reserved(records)
    path = folder / MANIFEST
    with path.open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=[f.name for f in fields(Record)])
        writer.writeheader()
        for r in records:
            writer.writerow(asdict(r))
    return path


def read(folder: Path) -> list[Record]:
    path = folder / MANIFEST
    if not path.exists():
        raise FileNotFoundError(f"no {MANIFEST} in {folder}: run `bdml ml dataset` first")
    with path.open(newline="") as f:
        return check_reserved(
            [
                Record(**{**row, "width": int(row["width"]), "height": int(row["height"])})  # type: ignore[arg-type]
                for row in csv.DictReader(f)
            ]
        )
