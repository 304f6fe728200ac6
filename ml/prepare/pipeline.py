"""``bdml ml prepare``: dataset manifest → augmented, balanced, leak-free channels on disk and in S3.

Channels (SageMaker names): ``train`` and ``validation`` (images under ``<label>/``), ``train_lst`` and
``validation_lst`` (the ``.lst`` files), plus ``test``/``test_lst`` from the held-out sources. Each ``.lst``
has a ``.samples.csv`` sidecar with source, kind and group per image, for per-source figures."""

from __future__ import annotations

import csv
import math
import shutil
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from ml.config import CLASSES, NATIVE_IMAGE_SIZE
from ml.dataset import manifest
from ml.dataset.manifest import Record
from ml.prepare import lst
from ml.prepare.augment import apply, plan
from ml.prepare.split import grouped_split
from services.console import make_console
from services.reconcile import StepReport, timed

CHANNELS = ("train", "validation", "test")
SAMPLE_FIELDS = ("path", "label", "source", "kind", "group")


@dataclass(frozen=True)
class PrepareOptions:
    validation_fraction: float = 0.2
    copies_per_class: int = 800  # augmented training images per class after balancing
    test_fraction: float = 0.2  # only used when the dataset has no held-out sources (--from DIR)
    seed: int = 13
    image_size: int = NATIVE_IMAGE_SIZE["efficientnet_lite0"]


@dataclass
class Prepared:
    folder: Path
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    reports: list[StepReport] = field(default_factory=list)
    uploaded: dict[str, str] = field(default_factory=dict)


MAX_COPIES = 60  # variants of one image at most: beyond this, copies of a tiny source are near repeats


def _copies(records: list[Record], options: PrepareOptions) -> dict[str, int]:
    """Variants per source image (by record id) so each class reaches about ``copies_per_class`` and,
    within a class, every source weighs about the same: otherwise one sprite set with hundreds of frames
    teaches its own drawing style as "penguin". Small sources are capped at MAX_COPIES per image and
    their unused share goes to the larger ones."""
    groups: dict[tuple[str, str], list[Record]] = defaultdict(list)
    for r in records:
        groups[(r.label, r.source)].append(r)
    out: dict[str, int] = {}
    for label in sorted({lab for lab, _ in groups}):
        members = sorted((m for (lab, _), m in groups.items() if lab == label), key=len)
        remaining = float(options.copies_per_class)
        for i, items in enumerate(members):
            share = remaining / (len(members) - i)
            n = max(1, min(MAX_COPIES, math.ceil(share / len(items))))
            remaining -= n * len(items)
            out.update({r.id: n for r in items})
    return out


def _split(records: list[Record], options: PrepareOptions) -> dict[str, list[Record]]:
    pool = [r for r in records if r.role == "train"]
    test = [r for r in records if r.role == "test"]
    if not test:  # a user's own folder: carve a grouped test split out of it
        pool, test = grouped_split(pool, options.test_fraction, options.seed + 1)
    train, validation = grouped_split(pool, options.validation_fraction, options.seed)
    return {"train": train, "validation": validation, "test": test}


def _write_channel(
    name: str,
    records: list[Record],
    dataset: Path,
    out: Path,
    copies: dict[str, int],
    options: PrepareOptions,
    progress: Progress,
) -> StepReport:
    report = StepReport(f"prepare {name}")
    entries: list[lst.LstEntry] = []
    samples: list[dict[str, str]] = []
    task = progress.add_task(name, total=len(records))
    with timed(report):
        for record in records:
            report.rows_in += 1
            source = Image.open(dataset / record.file)
            source.load()
            n = copies.get(record.id, 1) if name == "train" else 1
            for k in range(n):
                rel = f"{record.label}/{record.id}-{k}.jpg"
                apply(source, plan(k, record.id), options.image_size).save(out / name / rel, quality=92)
                entries.append(lst.LstEntry(len(entries), CLASSES.index(record.label), rel))
                samples.append(
                    {
                        "path": rel,
                        "label": record.label,
                        "source": record.source,
                        "kind": record.kind,
                        "group": record.group,
                    }
                )
            report.rows_out += 1
            progress.advance(task)
    lst.write(out / f"{name}_lst" / f"{name}.lst", entries)
    with (out / f"{name}_lst" / f"{name}.samples.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=SAMPLE_FIELDS)
        writer.writeheader()
        writer.writerows(samples)
    report.detail = {"images": len(entries), "by_label": dict(Counter(s["label"] for s in samples))}
    return report.check()


def prepare(
    dataset: Path, out: Path, options: PrepareOptions | None = None, console: Console | None = None
) -> Prepared:
    options = options or PrepareOptions()
    records = manifest.read(dataset)
    splits = _split(records, options)
    _check_no_leak(splits)
    staging = out.with_name(out.name + ".staging")
    shutil.rmtree(staging, ignore_errors=True)
    for name in CHANNELS:
        for label in CLASSES:
            (staging / name / label).mkdir(parents=True)
    copies = _copies(splits["train"], options)
    result = Prepared(out)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=console or make_console(), transient=True) as progress:
        for name in CHANNELS:
            result.reports.append(
                _write_channel(name, splits[name], dataset, staging, copies, options, progress)
            )
    shutil.rmtree(out, ignore_errors=True)
    staging.rename(out)
    result.counts = {r.step.removeprefix("prepare "): r.detail["by_label"] for r in result.reports}
    return result


def _check_no_leak(splits: dict[str, list[Record]]) -> None:
    owner: dict[str, str] = {}
    for name, records in splits.items():
        for r in records:
            if owner.setdefault(r.group, name) != name:
                raise AssertionError(f"group {r.group!r} is in both {owner[r.group]} and {name}")
