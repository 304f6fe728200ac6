"""The dataset manifest: one CSV row per image with where it came from, its licence and its group."""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass, fields
from pathlib import Path

MANIFEST = "manifest.csv"


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
        return [
            Record(**{**row, "width": int(row["width"]), "height": int(row["height"])})  # type: ignore[arg-type]
            for row in csv.DictReader(f)
        ]
