"""`bdml batch run` end to end on the embedded profile: every layout, real servers, reconciled report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from services.settings import Settings
from services.warehouse.mysql import connect as mysql_connect
from services.warehouse.postgres import connect as pg_connect

pytestmark = pytest.mark.e2e


def _env(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "BDML_S3__RAW_BUCKET": settings.s3.raw_bucket,
        "BDML_S3__PROCESSED_BUCKET": settings.s3.processed_bucket,
        "BDML_MYSQL__DSN": settings.mysql.dsn,
        "BDML_REDSHIFT__DSN": settings.redshift.dsn,
    }


def _bdml(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services", *args],
        env=_env(settings),
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.parametrize("layout", ["article", "guide2024", "release47"])
def test_batch_run_reconciles_every_step(stack: Settings, tmp_path: Path, layout: str) -> None:
    report_path = tmp_path / "report.json"
    result = _bdml(
        stack,
        "batch",
        "run",
        "--layout",
        layout,
        "--acquisitions",
        "3000",
        "--performance",
        "20000",
        "--dirty-share",
        "0.02",
        "--report",
        str(report_path),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(report_path.read_text())
    assert report["reconciled"] is True and report["engine"] == "duckdb"
    steps = {s["step"]: s for s in report["steps"]}
    orig, perf = steps["hql origination"], steps["hql performance"]
    assert orig["rows_in"] == orig["rows_out"] + orig["rows_rejected"]
    assert orig["rows_rejected"] > 0 and perf["rows_rejected"] > 0
    assert any("dirty lines written = rejected" in c for c in report["checks"])
    with mysql_connect(stack.mysql.dsn) as con, con.cursor() as cur:
        cur.execute("SELECT COUNT(*), COUNT(DISTINCT id_loan), MIN(dt_first_pi) FROM origination")
        count, distinct, first = cur.fetchone()  # type: ignore[misc]
    assert count == distinct == orig["rows_out"] == steps["load mysql origination"]["rows_out"]
    assert first is not None
    with pg_connect(stack.redshift.dsn) as con:
        (pg_count,) = con.execute("SELECT COUNT(*) FROM performance").fetchone()  # type: ignore[misc]
    assert pg_count == perf["rows_out"]


def test_rerun_is_idempotent_and_unknown_files_are_refused(stack: Settings, tmp_path: Path) -> None:
    args = ("batch", "run", "--acquisitions", "1000", "--performance", "5000")
    assert _bdml(stack, *args).returncode == 0
    second = _bdml(stack, *args, "--report", str(tmp_path / "r.json"))
    assert second.returncode == 0, second.stderr[-2000:]
    # Output for a log: no colour codes, no source positions, no dicts.
    assert "\x1b[" not in second.stderr and "batch.py:" not in second.stderr and "{'" not in second.stderr
    steps = {s["step"]: s for s in json.loads((tmp_path / "r.json").read_text())["steps"]}
    assert steps["load mysql origination"]["rows_out"] == steps["hql origination"]["rows_out"]
    shown = _bdml(stack, "batch", "show", "-n", "2")
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert f"MySQL origination: {steps['load mysql origination']['rows_out']:,} rows" in shown.stderr
    assert f"Redshift performance: {steps['load redshift performance']['rows_out']:,} rows" in shown.stderr
    assert f"rejects origination (S3): {steps['hql origination']['rows_rejected']:,} rows" in shown.stderr
    assert "by layout: article" in shown.stderr and "top reasons: " in shown.stderr

    odd = tmp_path / "real"
    odd.mkdir()
    (odd / "sample_orig_2019.txt").write_text("1|2|3\n1|2|3\n")
    refused = _bdml(stack, "batch", "run", "--from", str(odd))
    assert refused.returncode != 0
    assert "sample_orig_2019.txt" in refused.stderr and "3 fields" in refused.stderr


@pytest.mark.unit
def test_from_a_missing_path_is_one_line_and_exit_2() -> None:
    from typer.testing import CliRunner

    from services.cli import app

    result = CliRunner().invoke(app, ["batch", "run", "--from", "/nonexistent-bdml"])
    assert result.exit_code == 2
    assert "does not exist" in result.output and "Traceback" not in result.output
