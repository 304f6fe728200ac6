"""`bdml clean`: free the disk the pipelines filled under the stack home, saying what each part held.

What goes, by option:
- always: work files (generated and downloaded batch inputs, DuckDB spill and staging, Spark's local
  metastore and scratch) and every ML training job but the newest (each keeps its model and checkpoints);
- ``--cache``: the ML download cache and the datasets built from it (the next `bdml ml run` fetches and
  builds them again, which takes minutes);
- ``--data``: every object in the project's raw and processed buckets (through the S3 API, so the
  emulator frees its storage too);
- ``--reports``: the recorded runs.

Never touched: the stack's own installs and logs, the MySQL password file, what a deploy recorded, the
deployed model the local endpoint serves.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from services.console import make_console
from services.objectstore import ObjectStore, S3Uri
from services.settings import Settings, get_settings

WORK = ("work", "duckdb-spill", "duckdb-staging", "spark")
CACHE = ("ml/cache", "ml/dataset", "ml/prepared")
TRAINING = "ml/training"


@dataclass(frozen=True)
class Target:
    label: str
    size: int  # bytes
    remove: Callable[[], object]


def folder_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def _folder(label: str, path: Path) -> Iterator[Target]:
    if path.exists():
        yield Target(label, folder_size(path), lambda: shutil.rmtree(path, ignore_errors=True))


def _old_training_jobs(home: Path) -> Iterator[Target]:
    jobs = sorted((p for p in (home / TRAINING).glob("*") if p.is_dir()), key=lambda p: p.stat().st_mtime)
    for job in jobs[:-1]:  # the newest stays: it is the model in use
        yield from _folder(f"training job {job.name}", job)


def _bucket(store: ObjectStore, bucket: str) -> Iterator[Target]:
    if not store.bucket_exists(bucket):
        return
    size = sum(s for _, s in store.list(S3Uri(bucket, "")))
    if size:
        yield Target(f"s3://{bucket}", size, lambda: store.delete_prefix(S3Uri(bucket, "")))


def targets(settings: Settings, *, cache: bool, data: bool, reports: bool) -> list[Target]:
    home = settings.stack.home
    found = [t for name in WORK for t in _folder(f"work files {name}/", home / name)]
    found += _old_training_jobs(home)
    if cache:
        found += [t for name in CACHE for t in _folder(f"ML {name.split('/')[-1]}/", home / name)]
    if reports:
        found += _folder("recorded runs reports/", home / "reports")
    if data:
        store = ObjectStore(settings)
        for bucket in dict.fromkeys((settings.s3.raw_bucket, settings.s3.processed_bucket)):
            found += _bucket(store, bucket)
    return found


def clean(
    cache: Annotated[bool, typer.Option("--cache", help="Also the ML download cache and datasets.")] = False,
    data: Annotated[
        bool, typer.Option("--data", help="Also every object in the raw and processed buckets.")
    ] = False,
    reports: Annotated[bool, typer.Option("--reports", help="Also the recorded runs.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would go; remove nothing.")] = False,
) -> None:
    """Free disk: work files and old training jobs (options: caches, bucket data, reports)."""
    settings = get_settings()
    console = make_console()
    found = targets(settings, cache=cache, data=data, reports=reports)
    if not found:
        console.print(f"nothing to clean under {settings.stack.home}")
        return
    verb = "would free" if dry_run else "freed"
    for target in found:
        if not dry_run:
            target.remove()
        console.print(f"  {verb} {_mb(target.size):>10}  {target.label}")
    console.print(f"{verb} {_mb(sum(t.size for t in found))} in all")


def _mb(size: int) -> str:
    return f"{size / 1e6:,.1f} MB"
