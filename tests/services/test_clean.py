"""`bdml clean`: frees work files and old training jobs (more on request), says how much, keeps what the
stack and the deployed model need."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from services.clean import clean
from services.objectstore import ObjectStore, S3Uri
from services.settings import Settings


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command()(clean)
    return app


def _file(path: Path, size: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    return path


@pytest.mark.unit
def test_clean_frees_work_files_and_old_jobs_and_says_how_much(
    tmp_path: Path, settings_env: Callable[..., None]
) -> None:
    settings_env(BDML_STACK__HOME=str(tmp_path))
    _file(tmp_path / "work" / "batch" / "generated" / "a.txt", 2_000_000)
    _file(tmp_path / "duckdb-spill" / "x.tmp", 500_000)
    old = _file(tmp_path / "ml" / "training" / "job-1" / "model.tar.gz", 1_000_000)
    new = _file(tmp_path / "ml" / "training" / "job-2" / "model.tar.gz", 1_000_000)
    os.utime(old.parent, (1, 1))  # the older job
    cache = _file(tmp_path / "ml" / "cache" / "deb" / "pkg.deb", 3_000_000)
    keep = [
        _file(tmp_path / "mysql.password", 10),
        _file(tmp_path / "logs" / "ministack.log", 10),
        new,
        cache,
    ]

    dry = CliRunner().invoke(_app(), ["--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would free 3.5 MB in all" in dry.output and (tmp_path / "work").exists()

    done = CliRunner().invoke(_app(), [])
    assert "freed     2.0 MB  work files work/" in done.output
    assert "training job job-1" in done.output and "freed 3.5 MB in all" in done.output
    assert not (tmp_path / "work").exists() and not old.exists()
    assert all(path.exists() for path in keep)

    with_cache = CliRunner().invoke(_app(), ["--cache"])
    assert "freed 3.0 MB in all" in with_cache.output and not cache.exists()
    assert "nothing to clean" in CliRunner().invoke(_app(), []).output


@pytest.mark.integration
def test_clean_data_empties_the_project_buckets(
    stack: Settings, store: ObjectStore, tmp_path: Path, settings_env: Callable[..., None]
) -> None:
    raw = f"bdml-clean-{uuid.uuid4().hex[:8]}"
    settings_env(
        BDML_STACK__HOME=str(tmp_path), BDML_S3__RAW_BUCKET=raw, BDML_S3__PROCESSED_BUCKET=raw + "-p"
    )
    store.ensure_bucket(raw)
    store.put_text(S3Uri(raw, "freddie/origination/a.txt"), "x" * 1000)
    result = CliRunner().invoke(_app(), ["--data"])
    assert result.exit_code == 0, result.output
    assert f"s3://{raw}" in result.output and "0.0 MB" in result.output
    assert list(store.list(S3Uri(raw, ""))) == []
