"""The streaming pipeline on the compose stack: `bdml stream run` against LocalStack (the same checks as the
embedded suite, tests/streaming/test_stream_cli.py), and the stream-analytics container as the long-running
consumer: records produced to its app all land in S3, and a stop (SIGTERM) delivers its last windows. Needs a
Docker engine; skipped as a module where none answers."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import NO_ENGINE_REASON, Stack, compose_stack, docker_engine_available

if not docker_engine_available():
    pytest.skip(NO_ENGINE_REASON, allow_module_level=True)

from producers.stream.kinesis import KinesisProducer
from producers.stream.records import MALFORMED_KINDS, RecordKind
from services import aws
from services.objectstore import ObjectStore
from services.settings import AwsSettings, Settings
from streaming.job import records_source
from streaming.outputs import read_outputs, read_windows
from streaming.reconcile import check_windows, reconcile

pytestmark = pytest.mark.compose

LIVE_APP = "bdml-live"  # compose.yaml's stream-analytics app


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    with compose_stack("init", "stream-analytics", build=True) as running:
        yield running


def test_stream_run_reconciles_by_record_id(stack: Stack, tmp_path: Path) -> None:
    report_path = tmp_path / "stream.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "services",
            "stream",
            "run",
            "--records",
            "2000",
            "--report",
            str(report_path),
        ],
        env=stack.env(BDML_STACK__HOME=str(tmp_path / "home")),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    report: dict[str, Any] = json.loads(report_path.read_text())
    rec = report["reconciliation"]
    assert report["ok"] and rec["ok"] and report["windows_check"]["ok"]
    placement = rec["placement"]
    assert placement["destination"] + placement["filtered"] + placement["error"] == 2000
    assert all(s["balanced"] for s in rec["steps"])


def test_the_consumer_container_delivers_every_record_and_its_last_windows(stack: Stack) -> None:
    env = stack.env()
    aws_settings = AwsSettings(
        endpoint_url=env["BDML_AWS__ENDPOINT_URL"], access_key_id="test", secret_access_key="test"
    )
    settings = Settings(aws=aws_settings)
    cfg = settings.stream.model_copy(update={"app": LIVE_APP})
    started = time.time()
    # Well-formed and malformed records the analytics judge; producer-side rejects (oversize) would go
    # through this process's own outbox, which is the CLI's business, not the container's.
    kinds = tuple(k for k in MALFORMED_KINDS if k is not RecordKind.OVERSIZE)
    source = records_source(500, 11, 0.05, None, kinds)
    produced = KinesisProducer(aws.client("kinesis", settings), cfg.input_stream).send(source, total=500)
    assert not produced.rejected
    # SIGTERM: the consumer fires every open window and delivers, then exits (stop_grace_period 60 s).
    stopped = stack.compose("stop", "stream-analytics", timeout=120)
    assert stopped.returncode == 0, stopped.stderr
    store = ObjectStore(settings)
    bucket = cfg.bucket_name(settings)
    outputs = read_outputs(store, cfg, bucket)
    rec = reconcile(produced, None, outputs)
    assert rec.ok, rec.problems[:20]
    accepted = rec.placement["destination"] + rec.placement["filtered"]
    windows = read_windows(store, cfg, bucket, [f"firehose:{cfg.aggregates.name}"], started)
    ok, detail = check_windows(windows, accepted)
    assert ok, detail
