"""`bdml stream …` end to end on the embedded profile (MiniStack Kinesis, Lambda, S3): a run of 2,000
records reconciles by record id; a rerun with the same seed changes nothing in S3; produce and tail."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from services.objectstore import ObjectStore, S3Uri
from services.settings import Settings, StreamingSettings
from streaming.cli import app
from streaming.outputs import read_outputs
from streaming.reconcile import check_windows
from tests.streaming.conftest import subprocess_env

pytestmark = pytest.mark.e2e


def _entry_point() -> list[str]:
    """`python -m services stream` once the sub-app is mounted on the root CLI; the module until then."""
    from services.cli import app as root

    mounted = any(group.name == "stream" for group in root.registered_groups)
    return (
        [sys.executable, "-m", "services", "stream"] if mounted else [sys.executable, "-m", "streaming.cli"]
    )


def _stream(settings: Settings, cfg: StreamingSettings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*_entry_point(), *args],
        env=subprocess_env(settings, cfg),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_run_2000_records_reconciles_by_record_id(
    stack: Settings, store: ObjectStore, stream_cfg: StreamingSettings, tmp_path: Path
) -> None:
    report_path = tmp_path / "stream.json"
    result = _stream(stack, stream_cfg, "run", "--records", "2000", "--report", str(report_path))
    assert result.returncode == 0, result.stderr[-4000:]
    report: dict[str, Any] = json.loads(report_path.read_text())
    rec = report["reconciliation"]
    assert report["ok"] and rec["ok"] and report["windows_check"]["ok"]
    placement = rec["placement"]
    assert placement["destination"] + placement["filtered"] + placement["error"] == 2000
    assert placement["filtered"] > 100 and placement["error"] > 10  # 2 % malformed by default
    steps = {s["step"]: s for s in rec["steps"]}
    assert all(s["balanced"] for s in steps.values())
    assert steps["end to end (by record id)"]["rows_in"] == 2000
    assert "produced 2,000 = destination" in result.stderr


def test_rerun_with_the_same_seed_is_idempotent(
    stack: Settings, store: ObjectStore, stream_cfg: StreamingSettings, tmp_path: Path
) -> None:
    args = ("run", "--records", "300", "--seed", "5", "--malformed-share", "0.05")
    first = _stream(stack, stream_cfg, *args)
    assert first.returncode == 0, first.stderr[-3000:]
    before = read_outputs(store, stream_cfg, stream_cfg.bucket_name(stack))
    second = _stream(stack, stream_cfg, *args, "--report", str(tmp_path / "again.json"))
    assert second.returncode == 0, second.stderr[-3000:]
    after = read_outputs(store, stream_cfg, stream_cfg.bucket_name(stack))
    assert after.destination == before.destination and after.errors == before.errors
    assert max(after.destination.values()) == 1
    report = json.loads((tmp_path / "again.json").read_text())
    # Every record that reached Kinesis again was recognised by its id; nothing was output twice.
    assert report["consumer"]["outcomes"]["duplicate"] == report["consumer"]["records"] > 250
    assert report["deliveries"][f"{stream_cfg.app}-destination"]["ok"] == 0


def test_produce_and_tail_from_the_typer_app(
    stack: Settings, store: ObjectStore, stream_cfg: StreamingSettings, settings_env: Callable[..., None]
) -> None:
    settings_env(**{k: v for k, v in subprocess_env(stack, stream_cfg).items() if k.startswith("BDML_")})
    runner = CliRunner()
    produced = runner.invoke(app, ["produce", "--records", "50", "--rate", "500", "--seed", "3"])
    assert produced.exit_code == 0, produced.output
    sent = int(re.search(r"sent (\d+) records", produced.output).group(1))  # type: ignore[union-attr]
    assert 45 <= sent <= 50  # a malformed record may be oversize: rejected, not sent
    key = f"{stream_cfg.root_prefix}destination/2026/01/01/00/x-1"
    store.s3.put_object(
        Bucket=stream_cfg.bucket_name(stack), Key=key, Body=b'{"type":"user","record_id":"r1"}\n'
    )
    tailed = runner.invoke(app, ["tail", "destination"])
    assert tailed.exit_code == 0 and '"record_id":"r1"' in tailed.output
    assert str(S3Uri(stream_cfg.bucket_name(stack), key).key) in tailed.output
    bad = runner.invoke(app, ["tail", "everything"])
    assert bad.exit_code != 0


def test_tail_prints_the_last_lines_newest_last_and_says_when_there_is_nothing(
    stack: Settings, store: ObjectStore, stream_cfg: StreamingSettings, settings_env: Callable[..., None]
) -> None:
    settings_env(**{k: v for k, v in subprocess_env(stack, stream_cfg).items() if k.startswith("BDML_")})
    runner, bucket = CliRunner(), stream_cfg.bucket_name(stack)
    nothing = runner.invoke(app, ["tail"])
    assert nothing.exit_code == 0 and "nothing delivered under" in nothing.output
    older = f"{stream_cfg.root_prefix}errors/2026/01/01/00/a"
    newer = f"{stream_cfg.root_prefix}destination/2026/01/01/00/b"  # sorts first by key, written last
    store.s3.put_object(Bucket=bucket, Key=older, Body=b'{"n":1}\n{"n":2}\n')
    time.sleep(1.1)  # S3 times have one-second resolution
    store.s3.put_object(Bucket=bucket, Key=newer, Body=b'{"n":3}\n{"n":4}\n')
    last = runner.invoke(app, ["tail", "-n", "3"])
    assert last.exit_code == 0, last.output
    assert [line.split("\t")[1] for line in last.output.splitlines()] == ['{"n":2}', '{"n":3}', '{"n":4}']
    future = runner.invoke(app, ["tail", "--since", "2999-01-01T00:00:00"])
    assert "nothing delivered under" in future.output and "since 2999" in future.output
    assert runner.invoke(app, ["tail", "--since", "yesterday"]).exit_code == 2
    settings_env(BDML_STREAM__BUCKET="bdml-no-such-bucket-here")
    missing = runner.invoke(app, ["tail"])
    assert missing.exit_code == 1 and "bucket bdml-no-such-bucket-here does not exist yet" in missing.output


def test_analytics_stopping_delivers_its_last_windows_and_the_next_run_counts_only_its_own(
    stack: Settings, store: ObjectStore, stream_cfg: StreamingSettings, tmp_path: Path
) -> None:
    produced = _stream(stack, stream_cfg, "produce", "--records", "200", "--rate", "1000", "--seed", "8")
    assert produced.returncode == 0, produced.stderr[-3000:]
    analysed = _stream(stack, stream_cfg, "analytics", "--until-idle", "3")
    assert analysed.returncode == 0, analysed.stderr[-3000:]
    outputs = read_outputs(store, stream_cfg, stream_cfg.bucket_name(stack))
    with sqlite3.connect(stream_cfg.state_path(stack)) as db:
        (accepted,) = db.execute(
            "SELECT COUNT(*) FROM ledger WHERE outcome IN ('destination', 'filtered')"
        ).fetchone()
    ok, detail = check_windows(outputs, accepted)
    assert ok and accepted > 150, detail  # every window fired when the consumer stopped, none left open

    # A consumer killed before it could fire its windows leaves them in its state: the next run
    # delivers them first and counts only the records it produced.
    from streaming.job import open_consumer, prepare
    from streaming.state import StateStore

    again = _stream(stack, stream_cfg, "produce", "--records", "100", "--rate", "1000", "--seed", "9")
    assert again.returncode == 0, again.stderr[-3000:]
    killed = open_consumer(prepare(stack, stream_cfg), StateStore(stream_cfg.state_path(stack)))
    while killed.poll_once():
        pass
    killed.close()  # no end_of_input(): what SIGKILL leaves behind
    run = _stream(stack, stream_cfg, "run", "--records", "300", "--report", str(tmp_path / "r.json"))
    assert run.returncode == 0, run.stderr[-3000:]
    assert json.loads((tmp_path / "r.json").read_text())["windows_check"]["ok"]


@pytest.mark.unit
def test_no_consumer_beside_the_deployed_analytics_lambda(settings_env: Callable[..., None]) -> None:
    settings_env(BDML_STREAM__ANALYTICS="lambda")
    result = CliRunner().invoke(app, ["analytics", "--until-idle", "1"])
    assert result.exit_code == 2 and "deployed Lambda" in result.output
