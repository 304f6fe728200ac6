"""Comparing two training runs reads their leave-one-source-out scores and validation figures, never
their test figures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.benchmarks.scripts import load_benchmark

pytestmark = pytest.mark.unit


def run_metrics(
    path: Path,
    penguin_recall: float,
    found: int,
    balanced: float,
    extra: tuple[str, ...] = (),
    penguins: int = 18,
) -> Path:
    sources = [
        {"source": name, "penguin_recall": penguin_recall, "other_recall": 0.9}
        for name in ("openclipart", "pingus", "supertux", *extra)
    ]
    figures: dict[str, Any] = {
        "classes": ["notpenguin", "penguin"],
        "selection": {"per_source": sources},
        "validation": {
            "balanced_accuracy": balanced,
            "confusion_matrix": [[260, 8], [penguins - found, found]],
        },
        "test": {"balanced_accuracy": 0.1234, "confusion_matrix": [[1, 0], [0, 1]]},
    }
    path.write_text(json.dumps(figures))
    return path


def test_the_comparison_shows_both_validation_figures_and_no_test_figure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    compare = load_benchmark("ml_compare")
    a = run_metrics(tmp_path / "a.json", penguin_recall=0.9, found=17, balanced=0.9536)
    b = run_metrics(tmp_path / "b.json", penguin_recall=0.8, found=16, balanced=0.9295)
    compare.main([str(a), str(b), "--resamples", "200"])
    out = capsys.readouterr().out
    assert "A − B = +0.0500" in out  # the mean of penguin and other recall, over the three sources
    validation = (
        "validation balanced accuracy: A 0.9536 (penguins found: 17 of 18), B 0.9295 (penguins found:"
    )
    assert f"{validation} 16 of 18)" in out
    assert "0.1234" not in out


def test_a_source_in_one_run_only_shows_its_left_out_score_and_a_changed_split_is_flagged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    compare = load_benchmark("ml_compare")
    a = run_metrics(tmp_path / "a.json", 0.9, found=30, balanced=0.95, extra=("clay",), penguins=33)
    b = run_metrics(tmp_path / "b.json", 0.8, found=16, balanced=0.93)
    compare.main([str(a), str(b), "--resamples", "200"])
    out = capsys.readouterr().out
    assert "clay               run A: penguin 0.900, other 0.900" in out
    assert "over 3 common sources" in out  # the new source stays out of the paired comparison
    assert "not a paired figure" in out
    compare.main([str(b), str(b), "--resamples", "200"])
    assert "not a paired figure" not in capsys.readouterr().out
