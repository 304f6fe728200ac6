"""What the analytics reads and what it answers, typed.

- ``StreamRecord``: one Kinesis record, whichever host read it (GetRecords in the local consumer, the
  Lambda event in AWS).
- ``KinesisWindowEvent``: the Lambda event of a Kinesis event source with tumbling windows
  (``Records``, ``window {start, end}``, ``state``, ``shardId``, ``eventSourceARN``,
  ``isFinalInvokeForWindow``, ``isWindowTerminatedEarly``); its answer is
  ``{"state": {...}, "batchItemFailures": [{"itemIdentifier": <sequence number>}]}``.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

MAX_STATE_BYTES = 1024 * 1024  # AWS: the tumbling-window state a function returns is at most 1 MB


@dataclass(frozen=True)
class StreamRecord:
    shard_id: str
    sequence_number: str
    partition_key: str
    arrival_ms: int  # ApproximateArrivalTimestamp, epoch milliseconds
    data: bytes


def _arrival_ms(value: Any) -> int:
    # GetRecords (boto3) gives a datetime; the Lambda event gives epoch seconds as a float.
    if isinstance(value, datetime):
        return int(value.timestamp() * 1000)
    return int(float(value) * 1000)


def from_get_records(shard_id: str, raw: dict[str, Any]) -> StreamRecord:
    return StreamRecord(
        shard_id=shard_id,
        sequence_number=raw["SequenceNumber"],
        partition_key=raw["PartitionKey"],
        arrival_ms=_arrival_ms(raw["ApproximateArrivalTimestamp"]),
        data=raw["Data"],
    )


@dataclass(frozen=True)
class KinesisWindowEvent:
    shard_id: str
    event_source_arn: str
    window_start: str | None
    window_end: str | None
    state: dict[str, Any]
    final_for_window: bool
    terminated_early: bool
    records: tuple[StreamRecord, ...] = field(default=())

    @classmethod
    def from_wire(cls, event: dict[str, Any]) -> KinesisWindowEvent:
        raw_records = event.get("Records") or []
        shard_id = event.get("shardId") or _shard_of(raw_records)
        window = event.get("window") or {}
        records = tuple(
            StreamRecord(
                shard_id=shard_id,
                sequence_number=r["kinesis"]["sequenceNumber"],
                partition_key=r["kinesis"]["partitionKey"],
                arrival_ms=_arrival_ms(r["kinesis"]["approximateArrivalTimestamp"]),
                data=base64.b64decode(r["kinesis"]["data"]),
            )
            for r in raw_records
        )
        return cls(
            shard_id=shard_id,
            event_source_arn=event.get("eventSourceARN") or _arn_of(raw_records),
            window_start=window.get("start"),
            window_end=window.get("end"),
            state=dict(event.get("state") or {}),
            final_for_window=bool(event.get("isFinalInvokeForWindow")),
            terminated_early=bool(event.get("isWindowTerminatedEarly")),
            records=records,
        )


def _shard_of(raw_records: list[dict[str, Any]]) -> str:
    # eventID is "shardId-000000000000:4954…" on AWS.
    return str(raw_records[0].get("eventID", "unknown:")).split(":", 1)[0] if raw_records else "unknown"


def _arn_of(raw_records: list[dict[str, Any]]) -> str:
    return str(raw_records[0].get("eventSourceARN", "")) if raw_records else ""


def window_response(state: dict[str, Any], failed_sequence_numbers: list[str]) -> dict[str, Any]:
    """The tumbling-window answer. Only the lowest failed sequence number matters to Lambda (it retries from
    there), but reporting each is allowed and keeps the log readable."""
    return {
        "state": state,
        "batchItemFailures": [{"itemIdentifier": s} for s in failed_sequence_numbers],
    }
