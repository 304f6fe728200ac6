"""Recorded runs: one JSON per run under reports/<pipeline>/, a latest pointer, failures recorded too,
and `bdml runs` listing them newest first."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from services import runs
from services.runs_cli import runs as runs_command
from services.settings import Settings, StackSettings

pytestmark = pytest.mark.unit


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(stack=StackSettings(home=tmp_path))


def test_a_run_is_kept_with_its_options_figures_and_pictures(settings: Settings) -> None:
    with runs.recording(settings, "batch", layout="article", seed=7) as record:
        record.title = "batch run · engine duckdb"
        record.figures = {"loaded": 990, "rejected": 10}
        record.picture("steps").write_bytes(b"png")
        path = record.finish({"reconciled": True})
    body = json.loads(path.read_text())
    assert body["reconciled"] is True  # the pipeline's own report, as before
    run = body["run"]
    assert run["status"] == "ok" and run["title"] == "batch run · engine duckdb"
    assert run["options"] == {"profile": settings.profile.value, "layout": "article", "seed": 7}
    assert run["figures"] == {"loaded": 990, "rejected": 10}
    assert Path(run["pictures"][0]).read_bytes() == b"png"
    latest = path.parent / "latest.json"
    assert latest.is_symlink() and latest.resolve() == path.resolve()


def test_a_failed_run_is_recorded_with_its_error_and_the_error_goes_on(settings: Settings) -> None:
    with pytest.raises(RuntimeError), runs.recording(settings, "stream") as record:
        raise RuntimeError("the S3 endpoint does not answer\nmore detail")
    run = json.loads(record.path.read_text())["run"]
    assert run["status"] == "failed" and run["error"] == "the S3 endpoint does not answer"


def test_runs_are_listed_newest_first_and_copied_where_asked(settings: Settings, tmp_path: Path) -> None:
    for n, pipeline in enumerate(("batch", "ml", "batch")):
        with runs.recording(settings, pipeline) as record:
            record.started += n  # distinct starting times, in order
            record.figures = {"n": n}
            record.finish({}, copy_to=tmp_path / "copy.json" if n == 2 else None)
    listed = runs.list_runs(settings)
    assert [(r.pipeline, r.run["figures"]["n"]) for r in listed] == [("batch", 2), ("ml", 1), ("batch", 0)]
    assert [r.run["figures"]["n"] for r in runs.list_runs(settings, "batch", limit=1)] == [2]
    assert json.loads((tmp_path / "copy.json").read_text())["run"]["figures"] == {"n": 2}
    assert len({r.path for r in listed}) == 3  # same-second runs never overwrite each other


def test_bdml_runs_prints_one_line_a_run_when_piped(
    settings: Settings, settings_env: Callable[..., None]
) -> None:
    settings_env(BDML_STACK__HOME=str(settings.stack.home))
    app = typer.Typer()
    app.command()(runs_command)
    empty = CliRunner().invoke(app, [])
    assert empty.exit_code == 0 and "no runs recorded yet" in empty.output
    with pytest.raises(ValueError), runs.recording(settings, "ml"):
        raise ValueError("--arch resnet: choose efficientnet_lite0")
    with runs.recording(settings, "batch") as record:
        record.figures = {"loaded": 19_800, "balanced_accuracy": 0.91234}
        record.finish({})
    result = CliRunner().invoke(app, ["--last", "5"])
    lines = result.output.splitlines()
    assert result.exit_code == 0 and len(lines) == 2
    assert lines[0].split("\t")[1:4] == ["batch", "ok", "loaded 19,800 · balanced accuracy 0.912"]
    assert lines[1].split("\t")[1:4] == ["ml", "failed", "--arch resnet: choose efficientnet_lite0"]
    assert "\x1b[" not in result.output  # no colour codes in a pipe
    assert CliRunner().invoke(app, ["nope"]).exit_code == 2
