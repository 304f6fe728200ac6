"""Runs you can find again: every pipeline run leaves ``<home>/reports/<pipeline>/<stamp>.json`` (and its
pictures beside it, ``<stamp>-<name>.png``), with ``latest.json`` pointing at the newest.

The JSON is the pipeline's own report plus, under ``run``, what a listing needs: the
status, when, the title of the printed table, the settings that shaped the run (profile, layout, engine,
seed …), a few headline figures and the pictures. A run that fails is recorded too, with its error, so
``bdml runs`` shows it beside the good ones.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from services.settings import Settings

LATEST = "latest.json"


def reports_root(settings: Settings) -> Path:
    return settings.stack.home / "reports"


@dataclass
class Run:
    """One run being recorded; ``finish`` (or a failure) writes it."""

    pipeline: str
    folder: Path
    stamp: str
    options: dict[str, Any]
    started: float = field(default_factory=time.time)
    title: str = ""
    figures: dict[str, Any] = field(default_factory=dict)
    pictures: list[str] = field(default_factory=list)

    @property
    def path(self) -> Path:
        return self.folder / f"{self.stamp}.json"

    def picture(self, name: str) -> Path:
        """Where this run's picture ``name`` goes (beside its JSON)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{self.stamp}-{name}.png"
        self.pictures.append(str(path))
        return path

    def finish(self, report: dict[str, Any], *, ok: bool = True, copy_to: Path | None = None) -> Path:
        self._write({"status": "ok" if ok else "failed"}, report)
        if copy_to is not None and copy_to.resolve() != self.path.resolve():
            copy_to.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.path, copy_to)
        return self.path

    def fail(self, error: BaseException) -> None:
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        self._write({"status": "failed", "error": message[:500]}, {})

    def _write(self, status: dict[str, Any], report: dict[str, Any]) -> None:
        run = {
            "pipeline": self.pipeline,
            **status,
            "started": _iso(self.started),
            "seconds": round(time.time() - self.started, 1),
            "title": self.title,
            "options": self.options,
            "figures": self.figures,
            "pictures": self.pictures,
        }
        self.folder.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps({"run": run, **report}, indent=2, default=str) + "\n")
        latest = self.folder / LATEST
        temporary = self.folder / f".{LATEST}.{os.getpid()}"
        temporary.unlink(missing_ok=True)
        temporary.symlink_to(self.path.name)
        temporary.replace(latest)  # atomic: a reader never sees no latest


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


def _stamp(folder: Path) -> str:
    """A sortable UTC stamp, unique within the folder (two runs in one second get -2, -3 …)."""
    base = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    stamp, n = base, 1
    while (folder / f"{stamp}.json").exists():
        n += 1
        stamp = f"{base}-{n}"
    return stamp


@contextmanager
def recording(settings: Settings, pipeline: str, **options: Any) -> Iterator[Run]:
    """Record one run of ``pipeline``: the body calls ``run.finish(report)``; an exception is recorded
    as a failed run and raised again."""
    folder = reports_root(settings) / pipeline
    run = Run(pipeline, folder, _stamp(folder), {"profile": settings.profile.value, **options})
    try:
        yield run
    except BaseException as exc:
        if not run.path.exists():
            run.fail(exc)
        raise


@dataclass(frozen=True)
class RunSummary:
    pipeline: str
    path: Path
    run: dict[str, Any]

    @property
    def started(self) -> str:
        return str(self.run.get("started", ""))


def list_runs(settings: Settings, pipeline: str | None = None, limit: int = 20) -> list[RunSummary]:
    """The newest runs first (all pipelines, or one)."""
    root = reports_root(settings)
    folders = [root / pipeline] if pipeline else sorted(p for p in root.glob("*") if p.is_dir())
    found = []
    for folder in folders:
        for path in folder.glob("*.json"):
            if path.name == LATEST or path.is_symlink():
                continue
            try:
                run = json.loads(path.read_text()).get("run")
            except (OSError, ValueError):
                continue  # a report from before runs were recorded, or one being written
            if isinstance(run, dict):
                found.append(RunSummary(folder.name, path, run))
    found.sort(key=lambda r: (r.started, r.path.name), reverse=True)
    return found[:limit]
