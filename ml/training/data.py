"""Read a SageMaker channel: images listed by a ``.lst`` file, plus the per-image sidecar when present."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ml.prepare import lst
from ml.serving.preprocess import to_array


@dataclass(frozen=True)
class Sample:
    path: Path
    label: int
    source: str
    kind: str


def _find_lst(channel: Path, lst_channel: Path | None, name: str) -> Path:
    for folder in (lst_channel, channel):
        if folder is not None and folder.is_dir():
            found = sorted(folder.glob("*.lst"))
            if found:
                return found[0]
    raise FileNotFoundError(f"no .lst file for channel {name!r} in {lst_channel or channel}")


def load_channel(channel: Path, lst_channel: Path | None, name: str) -> list[Sample]:
    list_file = _find_lst(channel, lst_channel, name)
    meta: dict[str, dict[str, str]] = {}
    sidecar = list_file.with_suffix(".samples.csv")
    if sidecar.exists():
        with sidecar.open(newline="") as f:
            meta = {row["path"]: row for row in csv.DictReader(f)}
    samples = []
    for entry in lst.read(list_file):
        info = meta.get(entry.path, {})
        path = channel / entry.path
        if not path.is_file():
            raise FileNotFoundError(f"{list_file} lists {entry.path}, which is not in {channel}")
        samples.append(Sample(path, entry.label, info.get("source", "unknown"), info.get("kind", "unknown")))
    if not samples:
        raise ValueError(f"channel {name!r} is empty ({list_file})")
    return samples


Recolour = Callable[[Image.Image], Image.Image]


def batches(
    samples: list[Sample], size: int, image_size: int, transform: Recolour | None = None
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Model-ready arrays and labels, ``size`` at a time; ``transform`` (on the RGB image) makes shifted
    copies, e.g. the colour shifts the selection scores held-out sources on."""
    for start in range(0, len(samples), size):
        chunk = samples[start : start + size]
        arrays = []
        for s in chunk:
            with Image.open(s.path) as image:
                picture = transform(image.convert("RGB")) if transform else image
                arrays.append(to_array(picture, image_size))
        yield np.stack(arrays), np.array([s.label for s in chunk], dtype=np.int64)
