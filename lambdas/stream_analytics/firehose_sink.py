"""put_record_batch within Firehose's limits (≤ 500 records and ≤ 4 MiB per call, a record ≤ 1,000 KiB),
retrying the entries a partial failure names (FailedPutCount) with backoff. Used by the Lambda host and by
the FirehoseDelivery adapter of the local consumer (streaming.delivery.firehose)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .batching import DEFAULT_BACKOFF, Backoff, chunks

MAX_BATCH_RECORDS = 500
MAX_BATCH_BYTES = 4 * 1024 * 1024
MAX_RECORD_BYTES = 1_000 * 1024


@dataclass
class SendResult:
    sent: int = 0
    retries: int = 0
    failed: list[tuple[int, str]] = field(default_factory=list)  # (index in the input, why)


def put_batch(
    client: Any,
    stream: str,
    records: Sequence[bytes],
    backoff: Backoff = DEFAULT_BACKOFF,
    sleeper: Callable[[float], None] = time.sleep,
) -> SendResult:
    """Send every record once; what cannot be sent comes back in ``failed`` with its reason (never
    silently). A call that raises (after botocore's own retries) propagates: the caller keeps the batch."""
    result = SendResult()
    sendable = []
    for i, data in enumerate(records):
        if len(data) > MAX_RECORD_BYTES:
            result.failed.append((i, f"record is {len(data):,} bytes, over Firehose's 1,000 KiB limit"))
        else:
            sendable.append(i)
    for chunk in chunks(sendable, MAX_BATCH_RECORDS, MAX_BATCH_BYTES, lambda i: len(records[i])):
        pending = chunk
        for attempt in range(backoff.max_attempts):
            response = client.put_record_batch(
                DeliveryStreamName=stream, Records=[{"Data": records[i]} for i in pending]
            )
            if not response.get("FailedPutCount"):
                result.sent += len(pending)
                break
            answers = response["RequestResponses"]
            retry = [(i, a) for i, a in zip(pending, answers, strict=True) if a.get("ErrorCode")]
            result.sent += len(pending) - len(retry)
            if attempt + 1 == backoff.max_attempts:
                result.failed += [
                    (i, f"{a['ErrorCode']}: {a.get('ErrorMessage', '')} (after {attempt + 1} attempts)")
                    for i, a in retry
                ]
                break
            result.retries += len(retry)
            pending = [i for i, _ in retry]
            backoff.sleep(attempt, sleeper=sleeper)
    return result
