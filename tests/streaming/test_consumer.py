"""The local consumer on MiniStack (Kinesis, Lambda, S3): a consumer killed with SIGKILL mid-stream and
restarted loses nothing and writes nothing twice; malformed and late records each end in the error
prefix with their reason, and none stops the consumer."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from producers.stream.kinesis import KinesisProducer, ProduceReport
from producers.stream.records import ProducedRecord, RecordKind, UserGenerator, to_iso
from services.objectstore import ObjectStore
from services.settings import Settings, StreamingSettings
from streaming.consumer import StreamConsumer
from streaming.job import open_consumer, prepare, reject_sink
from streaming.outputs import read_outputs
from streaming.reconcile import reconcile
from streaming.state import StateStore
from tests.streaming.conftest import subprocess_env

pytestmark = pytest.mark.integration


def _processed(db_path: Path) -> int:
    if not db_path.exists():
        return 0
    try:
        with sqlite3.connect(db_path, timeout=5) as db:
            return int(db.execute("SELECT count(*) FROM ledger").fetchone()[0])
    except sqlite3.OperationalError:  # the consumer has not created its tables yet
        return 0


def _analytics(settings: Settings, cfg: StreamingSettings, log: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "streaming.cli", "analytics", *args],
        env=subprocess_env(settings, cfg),
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def _wait_for(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


def test_sigkill_mid_stream_then_restart_loses_nothing_and_duplicates_nothing(
    stack: Settings, store: ObjectStore, stream_cfg: StreamingSettings, tmp_path: Path
) -> None:
    res = prepare(stack, stream_cfg)  # stream + transform Lambda, as the subprocess would
    db_path = stream_cfg.state_path(stack)
    log = tmp_path / "analytics.log"
    producer_store = StateStore(db_path)
    producer = KinesisProducer(
        res.kinesis, stream_cfg.input_stream, rate=2500, reject_sink=reject_sink(producer_store, stream_cfg)
    )
    records = list(UserGenerator(21, malformed_share=0.03).take(8000))

    first = _analytics(stack, stream_cfg, log)
    first_half = producer.send(records[:4000])
    _wait_for(lambda: _processed(db_path) > 1000, 60, f"the consumer to process records (log {log})")
    first.send_signal(signal.SIGKILL)  # no clean-up of any kind: mid-batch, mid-delivery or both
    first.wait(10)
    killed_at = _processed(db_path)

    second_half = producer.send(records[4000:])  # produced while no consumer runs
    second = _analytics(stack, stream_cfg, log, "--until-idle", "3")
    assert second.wait(120) == 0, log.read_text()[-3000:]

    produced = ProduceReport(
        stream_cfg.input_stream,
        first_half.puts + second_half.puts,
        first_half.rejected + second_half.rejected,
    )
    assert 1000 < killed_at < len(produced.puts), "the kill did not happen mid-stream"
    ledger = StateStore(db_path).outcomes()
    outputs = read_outputs(store, stream_cfg, res.bucket)
    rec = reconcile(produced, ledger, outputs)
    assert rec.ok, rec.problems[:10]
    assert rec.placement["destination"] > 6000 and rec.placement["error"] > 100
    assert max(outputs.destination.values()) == 1 and max(outputs.errors.values()) == 1  # nothing twice
    producer_store.close()


def _consume_until(consumer: StreamConsumer, produced: ProduceReport, timeout: float = 60) -> None:
    targets = produced.last_sequence_by_shard()
    _wait_for(lambda: consumer.poll_once() >= 0 and consumer.caught_up(targets), timeout, "the consumer")


def test_malformed_and_late_records_end_in_the_error_prefix_with_their_reasons(
    stack: Settings, store: ObjectStore, stream_cfg: StreamingSettings
) -> None:
    cfg = stream_cfg.model_copy(update={"idle_watermark_s": 600.0})
    res = prepare(stack, cfg)
    consumer = open_consumer(res, StateStore(cfg.state_path(stack)))
    producer = KinesisProducer(res.kinesis, cfg.input_stream, reject_sink=reject_sink(consumer.store, cfg))
    by_kind: dict[RecordKind, list[ProducedRecord]] = {}
    for n, kind in enumerate(RecordKind):
        generator = UserGenerator(
            31 + n,  # one seed per kind: the same seed would repeat the record ids
            malformed_share=0.0 if kind is RecordKind.OK else 1.0,
            kinds=(kind,) if kind is not RecordKind.OK else (),
        )
        by_kind[kind] = list(generator.take(40))
    mixed = [r for group in zip(*by_kind.values(), strict=True) for r in group]
    produced = producer.send(mixed)
    _consume_until(consumer, produced)

    # A record an hour behind the stream: its window closed long ago.
    old = json.loads(by_kind[RecordKind.OK][0].data)
    old["record_id"], old["event_time"] = "0b6c9a57-6b4e-4f5e-8d0c-3f1d2e4a5b6c", to_iso_hours_ago(1)
    late = ProducedRecord(
        old["record_id"], old["event_time"], RecordKind.OK, "destination", json.dumps(old).encode()
    )
    late_report = producer.send([late])
    _consume_until(consumer, late_report)
    consumer.drain()

    outputs = read_outputs(store, cfg, res.bucket)
    expected_codes = {
        RecordKind.BAD_JSON: {"malformed_json"},
        RecordKind.MISSING_FIELD: {"missing_field"},
        RecordKind.WRONG_TYPE: {"wrong_type"},
        RecordKind.OVERSIZE: {"oversize"},
    }
    for kind, codes in expected_codes.items():
        for record in by_kind[kind]:
            reason = outputs.error_reasons.get(record.record_id)
            assert reason is not None, f"{kind.value} record {record.record_id} is not in the error prefix"
            assert reason.split(":", 1)[0] in codes and len(reason) > 20, reason
    assert all(
        outputs.destination[r.record_id] + (r.expected == "filtered") == 1 for r in by_kind[RecordKind.OK]
    )
    assert outputs.error_reasons[late.record_id].startswith("late: event_time")
    assert (
        consumer.stats.outcomes["late"] == 1 and consumer.stats.records == 161
    )  # oversize never reached Kinesis
    consumer.close()


def to_iso_hours_ago(hours: float) -> str:
    return to_iso(datetime.now(UTC) - timedelta(hours=hours))
