"""KinesisProducer: sends records with put_records inside the service limits and accounts for each one.

- A call carries ≤ 500 records and ≤ 5 MiB (data + partition keys); a record is ≤ 1 MiB. A larger record is
  rejected here with its reason and handed to the reject sink (the error stream), never sent silently.
- A partial failure (FailedRecordCount > 0) is retried for exactly the failed entries, with exponential
  backoff and full jitter; entries still failing after the last attempt are rejected with Kinesis' code.
- Partition keys are the records' random UUIDs, so they hash evenly over the shards.
- A token bucket holds the target rate; batches are sized to go out about ten times a second.
- Every accepted record is in the report's ledger with its shard, sequence number and put time (the
  reconciliation and the latency benchmark read it).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from lambdas.stream_analytics.batching import DEFAULT_BACKOFF, Backoff
from producers.stream.records import ProducedRecord
from services.reconcile import StepReport

MAX_RECORD_BYTES = 1024 * 1024  # data + partition key
MAX_BATCH_RECORDS = 500
MAX_BATCH_BYTES = 5 * 1024 * 1024
RAW_EXCERPT_CHARS = 2048


@dataclass(frozen=True)
class Put:
    """A record Kinesis accepted."""

    record_id: str
    expected: str
    shard_id: str
    sequence_number: str
    put_at: float  # epoch seconds when the call that stored it started


@dataclass(frozen=True)
class Rejected:
    """A record the producer could not send, and why."""

    record: ProducedRecord
    reason_code: str  # oversize | put_failed
    reason: str

    def error_doc(self) -> dict[str, Any]:
        """The record as an error report, in the analytics' error schema (the error stream's)."""
        return {
            "type": "error",
            "record_id": self.record.record_id,
            "stage": "producer",
            "reason_code": self.reason_code,
            "reason": f"{self.reason_code}: {self.reason}",
            "raw_bytes": len(self.record.data),
            "raw": self.record.data[:RAW_EXCERPT_CHARS].decode("utf-8", errors="replace"),
        }


RejectSink = Callable[[list[Rejected]], None]


@dataclass
class ProduceReport:
    stream: str
    puts: list[Put] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    calls: int = 0
    retried_entries: int = 0
    seconds: float = 0.0

    def step(self) -> StepReport:
        reasons: dict[str, int] = {}
        for r in self.rejected:
            reasons[r.reason_code] = reasons.get(r.reason_code, 0) + 1
        return StepReport(
            f"produce → kinesis {self.stream}",
            rows_in=len(self.puts) + len(self.rejected),
            rows_out=len(self.puts),
            rows_rejected=len(self.rejected),
            seconds=self.seconds,
            detail={"calls": self.calls, "retried_entries": self.retried_entries, "reject_reasons": reasons},
        ).check()

    def last_sequence_by_shard(self) -> dict[str, str]:
        last: dict[str, str] = {}
        for p in self.puts:
            if p.shard_id not in last or int(p.sequence_number) > int(last[p.shard_id]):
                last[p.shard_id] = p.sequence_number
        return last


class TokenBucket:
    """Holds an average rate, with bursts of at most one second's worth."""

    def __init__(
        self,
        rate: float,
        clock: Callable[[], float] = time.monotonic,
        sleeper: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate = rate
        self.clock, self.sleeper = clock, sleeper
        self.tokens = 0.0
        self.last = clock()

    def take(self, n: int) -> None:
        # A batch larger than a second's worth waits for a full bucket and leaves a debt (negative
        # tokens) that the next batches wait out: the average holds either way.
        need = min(n, self.rate)
        while True:
            now = self.clock()
            self.tokens = min(self.rate, self.tokens + (now - self.last) * self.rate)
            self.last = now
            if self.tokens + 1e-9 >= need:  # tolerance: float refill may land a hair short
                self.tokens -= n
                return
            self.sleeper((need - self.tokens) / self.rate)


class KinesisProducer:
    def __init__(
        self,
        client: Any,
        stream: str,
        rate: float | None = None,
        backoff: Backoff = DEFAULT_BACKOFF,
        reject_sink: RejectSink | None = None,
        progress: bool = False,
        sleeper: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate is not None and rate <= 0:
            raise ValueError(f"rate must be positive (records/s), got {rate}")
        self.client = client
        self.stream = stream
        self.rate = rate
        self.backoff = backoff
        self.reject_sink = reject_sink
        self.progress = progress
        self.sleeper = sleeper
        # Batches sized for ~10 calls a second at the target rate: smooth, and still few calls.
        self.batch_records = (
            MAX_BATCH_RECORDS if rate is None else max(1, min(MAX_BATCH_RECORDS, int(rate / 10)))
        )

    def send(self, records: Iterable[ProducedRecord], total: int | None = None) -> ProduceReport:
        report = ProduceReport(self.stream)
        bucket = TokenBucket(self.rate, sleeper=self.sleeper) if self.rate else None
        start = time.perf_counter()
        with _progress(self.progress, self.stream, total) as (advance, show):
            for batch in self._batches(records, report):
                if bucket:
                    bucket.take(len(batch))
                self._put(batch, report)
                advance(len(batch))
                show(report)
            show(report)
        report.seconds = time.perf_counter() - start
        return report

    def _batches(
        self, records: Iterable[ProducedRecord], report: ProduceReport
    ) -> Iterator[list[ProducedRecord]]:
        batch: list[ProducedRecord] = []
        size = 0
        for record in records:
            n = len(record.data) + len(record.partition_key.encode())
            if n > MAX_RECORD_BYTES:
                self._reject(
                    report,
                    [
                        Rejected(
                            record, "oversize", f"{n:,} bytes is over Kinesis' 1 MiB record limit (1,048,576)"
                        )
                    ],
                )
                continue
            if batch and (len(batch) >= self.batch_records or size + n > MAX_BATCH_BYTES):
                yield batch
                batch, size = [], 0
            batch.append(record)
            size += n
        if batch:
            yield batch

    def _put(self, batch: list[ProducedRecord], report: ProduceReport) -> None:
        pending = batch
        for attempt in range(self.backoff.max_attempts):
            started = time.time()
            report.calls += 1
            try:
                response = self.client.put_records(
                    StreamName=self.stream,
                    Records=[{"Data": r.data, "PartitionKey": r.partition_key} for r in pending],
                )
                answers: list[dict[str, Any]] = response["Records"]
            except (ClientError, BotoCoreError) as exc:  # botocore already retried the call itself
                answers = [{"ErrorCode": type(exc).__name__, "ErrorMessage": str(exc)}] * len(pending)
            failed: list[tuple[ProducedRecord, dict[str, Any]]] = []
            for record, answer in zip(pending, answers, strict=True):
                if answer.get("ErrorCode"):
                    failed.append((record, answer))
                else:
                    report.puts.append(
                        Put(
                            record.record_id,
                            record.expected,
                            answer["ShardId"],
                            answer["SequenceNumber"],
                            started,
                        )
                    )
            if not failed:
                return
            if attempt + 1 == self.backoff.max_attempts:
                self._reject(
                    report,
                    [
                        Rejected(
                            r,
                            "put_failed",
                            f"{a['ErrorCode']}: {a.get('ErrorMessage', '')} after {attempt + 1} attempts",
                        )
                        for r, a in failed
                    ],
                )
                return
            report.retried_entries += len(failed)
            pending = [r for r, _ in failed]
            self.backoff.sleep(attempt, sleeper=self.sleeper)

    def _reject(self, report: ProduceReport, rejected: list[Rejected]) -> None:
        report.rejected += rejected
        if self.reject_sink is not None:
            self.reject_sink(rejected)


class _progress:
    """A rich progress bar (records sent, rate, retries, rejects) or nothing."""

    def __init__(self, enabled: bool, stream: str, total: int | None) -> None:
        self.enabled, self.stream, self.total = enabled, stream, total
        self.bar: Progress | None = None

    def __enter__(self) -> tuple[Callable[[int], None], Callable[[ProduceReport], None]]:
        if not self.enabled:
            return (lambda _n: None), (lambda _r: None)
        self.bar = Progress(
            TextColumn("[bold]produce[/] {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[stats]}"),
            TimeElapsedColumn(),
            transient=False,
        )
        self.bar.__enter__()
        task = self.bar.add_task(self.stream, total=self.total, stats="")
        bar = self.bar

        def advance(n: int) -> None:
            bar.advance(task, n)

        def show(report: ProduceReport) -> None:
            elapsed = bar.tasks[0].elapsed or 0.0
            rate = len(report.puts) / elapsed if elapsed else 0.0
            bar.update(
                task,
                stats=f"{rate:,.0f} rec/s · retried {report.retried_entries:,}"
                f" · rejected {len(report.rejected):,}",
            )

        return advance, show

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
