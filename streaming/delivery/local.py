"""LocalDeliveryStream: a small delivery stream of our own, exact to Firehose's contract where MiniStack's
Firehose is not (it writes one object per record and silently drops ProcessingFailed records).

- Buffering hints: a buffer is delivered when it holds ``size_mib`` or its oldest record waited
  ``interval_s`` (checked by ``due``); one S3 object per delivered buffer.
- Transformation: the real transform Lambda is invoked (on MiniStack's Lambda, so the deployed zip runs)
  with the exact event of the contract, in chunks of at most the processor buffer size; the answer is
  checked (every record id exactly once). An invocation error or a broken answer is retried
  ``processor_retries`` times, then the whole chunk counts as failed — as Firehose does.
- Ok records are concatenated into the object under ``prefix``; Dropped ones are counted; every failed
  record is written under the error prefix (``processing-failed``) in Firehose's error format
  (attemptsMade, arrivalTimestamp, errorCode, errorMessage, attemptEndingTimestamp, rawData, lambdaArn).
"""

from __future__ import annotations

import base64
import json
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from lambdas.firehose_transform.contract import (
    ContractError,
    InputRecord,
    TransformationEvent,
    TransformationResponse,
    check_response,
)
from services.objectstore import MB, ObjectStore, S3Uri
from services.settings import DeliveryStreamConfig
from streaming.delivery import prefix
from streaming.delivery.base import Receipt
from streaming.state import OutboxBatch, OutboxRecord, Pending

log = logging.getLogger(__name__)
PROCESSING_FAILED = ("Lambda.ProcessingFailedStatus", "ProcessingFailed status set for record")


@dataclass(frozen=True)
class Failure:
    record: OutboxRecord
    code: str
    message: str
    attempts: int


class LocalDeliveryStream:
    def __init__(
        self,
        config: DeliveryStreamConfig,
        store: ObjectStore,
        bucket: str,
        lambda_client: Any,
        function_arn: str,
        region: str,
        processor_retries: int = 3,
        processor_buffer_mib: float = 1.0,
    ) -> None:
        prefix.validate(config.prefix, config.error_prefix)
        self.config = config
        self.store = store
        self.bucket = bucket
        self.lam = lambda_client
        self.function_arn = function_arn
        self.region = region
        self.retries = processor_retries
        self.chunk_bytes = int(processor_buffer_mib * MB)
        self.arn = f"arn:aws:firehose:{region}:000000000000:deliverystream/{config.name}"
        self.transform_log: list[str] = []  # the function's log lines about failed records (its CloudWatch)

    # --- the Delivery interface ----------------------------------------------------------------------
    def max_batch_bytes(self) -> int:
        return self.config.buffering.size_mib * MB

    def due(self, pending: Pending, now: float) -> bool:
        if not pending.records or pending.oldest_enqueued is None:
            return False
        hints = self.config.buffering
        return pending.bytes >= hints.size_mib * MB or now - pending.oldest_enqueued >= hints.interval_s

    def deliver(self, batch: OutboxBatch) -> Receipt:
        receipt = Receipt()
        lines: list[bytes] = []
        failures: list[Failure] = []
        for chunk in self._chunks(batch.records):
            answer = self._transform(chunk)
            if isinstance(answer, Failure):
                failures += [Failure(r, answer.code, answer.message, answer.attempts) for r in chunk]
                continue
            by_id = {r.record_id: r for r in answer.records}
            for i, record in enumerate(chunk):
                out = by_id[str(i)]
                if out.result == "Ok":
                    lines.append(out.data)
                elif out.result == "Dropped":
                    receipt.dropped += 1
                else:
                    failures.append(Failure(record, *PROCESSING_FAILED, 1))
        moment = datetime.fromtimestamp(batch.oldest_enqueued, UTC)
        random_part = batch.batch_id[:16]
        if lines:
            key = prefix.evaluate(self.config.prefix, moment, random_part[:11]) + prefix.object_name(
                self.config.name, moment, random_part
            )
            self._put(key, b"".join(lines))
            receipt.keys.append(key)
            receipt.ok = len(lines)
        if failures:
            key = prefix.evaluate(
                self.config.error_prefix, moment, random_part[:11], "processing-failed"
            ) + prefix.object_name(self.config.name, moment, random_part)
            self._put(key, self._error_lines(failures))
            receipt.keys.append(key)
            receipt.failed = len(failures)
        return receipt

    def _put(self, key: str, body: bytes) -> None:
        self.store.put_bytes(S3Uri(self.bucket, key), body)

    # --- transformation ------------------------------------------------------------------------------
    def _chunks(self, records: tuple[OutboxRecord, ...]) -> list[tuple[OutboxRecord, ...]]:
        chunks: list[tuple[OutboxRecord, ...]] = []
        start, size = 0, 0
        for i, r in enumerate(records):
            # base64 grows the payload by 4/3: keep the invocation under the processor buffer size.
            n = len(r.data) * 4 // 3 + 100
            if i > start and size + n > self.chunk_bytes:
                chunks.append(records[start:i])
                start, size = i, 0
            size += n
        if start < len(records):
            chunks.append(records[start:])
        return chunks

    def _event(self, chunk: tuple[OutboxRecord, ...]) -> TransformationEvent:
        # recordId: the position in the chunk — unique per invocation, as Firehose's opaque ids are.
        return TransformationEvent(
            invocation_id=str(uuid.uuid4()),
            delivery_stream_arn=self.arn,
            region=self.region,
            records=tuple(
                InputRecord(str(i), r.data, int(r.enqueued_at * 1000)) for i, r in enumerate(chunk)
            ),
        )

    def _transform(self, chunk: tuple[OutboxRecord, ...]) -> TransformationResponse | Failure:
        event = self._event(chunk)
        payload = json.dumps(event.to_wire()).encode()
        code, message = "Lambda.FunctionError", ""
        for attempt in range(1, self.retries + 2):
            try:
                result = self.lam.invoke(FunctionName=self.function_arn, Payload=payload, LogType="Tail")
                body = result["Payload"].read()
                self._keep_log(result.get("LogResult"))
                if result.get("FunctionError"):
                    code, message = "Lambda.FunctionError", body.decode(errors="replace")[:500]
                else:
                    response = TransformationResponse.from_wire(json.loads(body))
                    violations = check_response(event, response)
                    if not violations:
                        return response
                    code, message = violations[0].code, "; ".join(v.message for v in violations)
            except (ContractError, ValueError) as exc:
                code, message = "Lambda.JsonProcessingException", str(exc)
            except (ClientError, BotoCoreError) as exc:
                code, message = "Lambda.InvokeError", str(exc)
            log.warning(
                "%s: transform attempt %d of %d failed (%s: %s)",
                self.config.name,
                attempt,
                self.retries + 1,
                code,
                message[:200],
            )
            if attempt <= self.retries:
                time.sleep(min(2.0, 0.1 * 2**attempt))
        return Failure(chunk[0], code, message, self.retries + 1)

    def _keep_log(self, tail_b64: str | None) -> None:
        if not tail_b64:
            return
        text = base64.b64decode(tail_b64).decode(errors="replace")
        self.transform_log += [line for line in text.splitlines() if '"ProcessingFailed"' in line]
        del self.transform_log[:-1000]  # the latest thousand are plenty for a report

    def _error_lines(self, failures: list[Failure]) -> bytes:
        now_ms = int(time.time() * 1000)
        lines = [
            json.dumps(
                {
                    "attemptsMade": f.attempts,
                    "arrivalTimestamp": int(f.record.enqueued_at * 1000),
                    "errorCode": f.code,
                    "errorMessage": f.message,
                    "attemptEndingTimestamp": now_ms,
                    "rawData": base64.b64encode(f.record.data).decode("ascii"),
                    "lambdaArn": self.function_arn,
                },
                separators=(",", ":"),
            )
            for f in failures
        ]
        return ("\n".join(lines) + "\n").encode()
