"""Many-small-file transfers between a folder and an S3 prefix, in parallel (boto3 clients are
thread-safe), with a rich progress bar. Large single files go through ObjectStore's multipart path."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from services.console import make_console
from services.objectstore import ObjectStore, S3Uri, inside

WORKERS = 8


def _progress(console: Console | None) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console or make_console(),
        transient=True,
    )


def upload_tree(folder: Path, store: ObjectStore, dest: S3Uri, console: Console | None = None) -> int:
    """Replace ``dest`` with the contents of ``folder`` (delete first: a rerun leaves exactly one copy)."""
    store.ensure_bucket(dest.bucket)
    store.delete_prefix(dest)
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    with _progress(console) as progress, ThreadPoolExecutor(WORKERS) as pool:
        task = progress.add_task(f"upload → {dest}", total=len(files))

        def one(path: Path) -> None:
            store.upload(path, dest.join(path.relative_to(folder).as_posix()))
            progress.advance(task)

        list(pool.map(one, files))
    return len(files)


def download_tree(src: S3Uri, store: ObjectStore, folder: Path, console: Console | None = None) -> int:
    """Copy every object under ``src`` into ``folder`` (keys become relative paths, kept inside it)."""
    objects = list(store.list(src))
    if not objects:
        raise FileNotFoundError(f"nothing under {src}: run the step that writes it first")
    prefix = src.key.rstrip("/") + "/"
    with _progress(console) as progress, ThreadPoolExecutor(WORKERS) as pool:
        task = progress.add_task(f"download {src}", total=len(objects))

        def one(item: tuple[S3Uri, int]) -> None:
            target = inside(folder, item[0].key.removeprefix(prefix))
            store.download(item[0], target)
            progress.advance(task)

        list(pool.map(one, objects))
    return len(objects)
