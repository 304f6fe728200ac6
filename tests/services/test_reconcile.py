"""The reconciliation table a run prints: a step timed within another shows no time or rate of its own."""

from __future__ import annotations

import pytest
from rich.console import Console

from services.reconcile import StepReport, steps_table


@pytest.mark.unit
def test_a_step_timed_within_another_shows_a_dash_not_zero() -> None:
    steps = [
        StepReport("hql origination", rows_in=1000, rows_out=990, rows_rejected=10, seconds=0.5),
        StepReport("hql origination_by_year", rows_in=990, rows_out=990),
    ]
    console = Console(width=120, record=True)
    console.print(steps_table("batch", steps))
    rows = [line for line in console.export_text().splitlines() if "│ hql" in line]
    lines = {line.split("│")[1].strip(): line for line in rows}
    assert "0.50" in lines["hql origination"] and "2,000" in lines["hql origination"]
    cells = [cell.strip() for cell in lines["hql origination_by_year"].split("│")]
    assert cells[5:7] == ["–", "–"] and "✓" in cells[7]
