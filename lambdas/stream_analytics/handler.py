"""The analytics as a Lambda with a Kinesis event source and tumbling windows (the AWS successor of Kinesis
Data Analytics for SQL). Configure the event source mapping with ``TumblingWindowInSeconds`` (≤ 900) and
``FunctionResponseTypes=["ReportBatchItemFailures"]``.

Each invocation gets one shard's batch and the window state this function returned last time; it maps and
classifies the batch (engine.py), sends the outputs to the three Firehose delivery streams named in the
environment, and returns the new state. AWS windows are per shard and on processing time: the event-time
windows live inside that state, are emitted as the watermark passes them, and are all flushed on the
final invocation of an AWS window (its state is discarded after it). Aggregates are therefore per shard
(``scope`` = the shard id) and carry ``sum_age`` and ``count`` so shards combine exactly downstream.

If an output cannot be sent, the function reports the batch's first sequence number as failed and hands
back the state it was given: Lambda retries the whole batch, so nothing is lost (at least once; repeats
carry the same record_id, which the transform drops within a batch and readers dedupe on).
"""

from __future__ import annotations

import json
import os
from typing import Any

from .engine import Analytics, BatchOutput, window_documents
from .events import MAX_STATE_BYTES, KinesisWindowEvent, window_response
from .firehose_sink import put_batch
from .windows import WindowConfig, WindowState

_engine: Analytics | None = None  # reused while the execution environment stays warm
_firehose: Any = None


def config_from_env(scope: str) -> WindowConfig:
    return WindowConfig(
        window_seconds=int(os.environ.get("WINDOW_SECONDS", "10")),
        watermark_delay_seconds=float(os.environ.get("WATERMARK_DELAY_SECONDS", "2")),
        allowed_lateness_seconds=float(os.environ.get("ALLOWED_LATENESS_SECONDS", "5")),
        scope=scope,
    )


def _clients(config: WindowConfig) -> tuple[Analytics, Any]:
    global _engine, _firehose
    if _engine is None or _engine.config != config:
        _engine = Analytics(config)
    if _firehose is None:
        import boto3  # provided by the Lambda runtime; imported here so the engine imports without it

        _firehose = boto3.client("firehose")
    return _engine, _firehose


def _log(message: str, **fields: Any) -> None:
    print(json.dumps({"message": message, **fields}, default=str))


def _send(firehose: Any, out: BatchOutput) -> list[str]:
    problems = []
    for variable, docs in (
        ("DESTINATION_DELIVERY_STREAM", out.destination),
        ("ERROR_DELIVERY_STREAM", out.errors),
        ("AGGREGATE_DELIVERY_STREAM", out.windows),
    ):
        if not docs:
            continue
        result = put_batch(firehose, os.environ[variable], [d.data for d in docs])
        problems += [f"{os.environ[variable]}: document {i}: {why}" for i, why in result.failed]
    return problems


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    ev = KinesisWindowEvent.from_wire(event)
    config = config_from_env(scope=ev.shard_id)
    engine, firehose = _clients(config)
    state = WindowState.from_dict(config, ev.state)
    out = engine.process(ev.records, state)
    new_state = state.to_dict()
    if ev.final_for_window or len(json.dumps(new_state)) > MAX_STATE_BYTES:
        # The window's last call, or state over AWS's 1 MB limit: emit what is open, with this batch's
        # outputs, so one send (and one failure path) covers them all.
        out.windows += window_documents(state.fire(final=True))
        new_state = state.to_dict()
    try:
        problems = _send(firehose, out)
    except Exception as exc:  # the client gave up after its own retries: let Lambda retry the batch
        problems = [f"{type(exc).__name__}: {exc}"]
    if problems:
        _log("outputs not sent; retrying the batch", shard=ev.shard_id, problems=problems[:10])
        if not ev.records:  # a window-end call without records: an error makes Lambda retry the call
            raise RuntimeError(f"aggregates not delivered: {problems[:3]}")
        return window_response(ev.state, [ev.records[0].sequence_number])
    _log("batch", shard=ev.shard_id, window=[ev.window_start, ev.window_end], **out.counts())
    return window_response(new_state, [])
