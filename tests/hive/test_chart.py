"""The picture of a batch run: rows kept and rejected per step beside each step's throughput."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from hive.chart import write_chart
from hive.job import BatchReport
from services.reconcile import StepReport

pytestmark = pytest.mark.unit


def test_a_run_is_drawn_with_a_row_per_step_that_took_time(tmp_path: Path) -> None:
    def drawn(steps: list[StepReport]) -> Image.Image:
        report = BatchReport("duckdb", "embedded", steps=steps, seconds=3.0)
        path = write_chart(report, tmp_path / f"{len(steps)}.png")
        with Image.open(path) as picture:
            picture.load()
            return picture

    upload = StepReport("upload", rows_in=1000, rows_out=1000, seconds=0.5)
    hql = StepReport("hql", rows_in=1000, rows_out=990, rows_rejected=10, seconds=1.5)
    idle = StepReport("mysql", rows_in=0, seconds=0.0)  # a step that did not run is left out
    one, two = drawn([upload, idle]), drawn([upload, hql, idle])
    assert one.format == two.format == "PNG"
    assert two.height > one.height
