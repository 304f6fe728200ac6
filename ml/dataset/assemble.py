"""Assemble the labelled dataset: collect candidates, normalise, drop duplicates, write images + manifest.

Written to a staging folder and swapped in at the end, so a failed or interrupted run leaves the previous
dataset intact and a rerun produces the same files (every choice is deterministic)."""

from __future__ import annotations

import hashlib
import io
import shutil
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from ml.dataset import manifest
from ml.dataset.manifest import Record
from ml.dataset.normalise import Rejected, dhash, normalise
from ml.dataset.sources import SOURCES, Candidate, Source
from services.console import make_console
from services.reconcile import StepReport, timed

USER_LABELS = ("penguin", "notpenguin")


def user_folder(root: Path) -> Source:
    """``--from DIR``: the user's own ``penguin/`` and ``notpenguin/`` folders (one group per file)."""
    missing = [lab for lab in USER_LABELS if not (root / lab).is_dir()]
    if missing:
        raise FileNotFoundError(f"{root} needs sub-folders {' and '.join(USER_LABELS)}; missing: {missing}")

    def collect(_cache: Path) -> Iterator[Candidate]:
        for label in USER_LABELS:
            for p in sorted((root / label).rglob("*")):
                if p.is_file():
                    yield Candidate(
                        "user",
                        "user-supplied",
                        "user",
                        p.stem,
                        label,
                        p.relative_to(root).as_posix(),
                        p.read_bytes,
                    )

    return Source("user", "train", collect)


def _write(candidate: Candidate, role: str, staging: Path, seen: set[str]) -> Record:
    try:
        data = candidate.load()
    except OSError as exc:
        raise Rejected("unreadable") from exc
    image = normalise(data)
    fingerprint = dhash(image)
    if fingerprint in seen:  # train sources come first: a test image seen in training is dropped
        raise Rejected("duplicate")
    seen.add(fingerprint)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False)
    png = buffer.getvalue()
    sha = hashlib.sha256(png).hexdigest()
    file = f"images/{candidate.label}/{candidate.source}-{sha[:12]}.png"
    (staging / file).write_bytes(png)
    return Record(
        id=f"{candidate.source}-{sha[:12]}",
        file=file,
        label=candidate.label,
        source=candidate.source,
        licence=candidate.licence,
        kind=candidate.kind,
        group=f"{candidate.source}:{candidate.group}",
        role=role,
        origin=candidate.origin,
        sha256=sha,
        width=image.width,
        height=image.height,
    )


def assemble(
    out: Path, cache: Path, sources: Iterable[Source] = SOURCES, console: Console | None = None
) -> tuple[list[Record], StepReport]:
    console = console or make_console()
    staging = out.with_name(out.name + ".staging")
    shutil.rmtree(staging, ignore_errors=True)
    for label in USER_LABELS:
        (staging / "images" / label).mkdir(parents=True)
    report = StepReport("assemble dataset")
    records: list[Record] = []
    reasons: Counter[str] = Counter()
    seen: set[str] = set()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with timed(report), Progress(*columns, console=console, transient=True) as progress:
        ordered = sorted(sources, key=lambda s: s.role != "train")  # train first: dedupe favours it
        task = progress.add_task("sources", total=len(ordered))
        for source in ordered:
            progress.update(task, description=f"{source.name} (fetching/reading)")
            for candidate in source.collect(cache):
                report.rows_in += 1
                try:
                    records.append(_write(candidate, source.role, staging, seen))
                    report.rows_out += 1
                except Rejected as why:
                    report.rows_rejected += 1
                    reasons[f"{source.name}: {why}"] += 1
            progress.advance(task)
    report.detail = {
        "reject_reasons": dict(sorted(reasons.items())),
        "images": dict(Counter(f"{r.role}/{r.label}" for r in records)),
    }
    manifest.write(staging, records)
    report.check()
    shutil.rmtree(out, ignore_errors=True)
    staging.rename(out)
    return records, report
