"""KinesisProducer against MiniStack's real Kinesis. The only fake is a wrapper that injects partial
failures: it forwards the entries it does not fail to the real stream and answers in the real shape
(FailedRecordCount, per-entry ErrorCode/ErrorMessage), so retries and accounting are checked end to end."""

from __future__ import annotations

from typing import Any

import pytest

from lambdas.stream_analytics.batching import Backoff, chunks
from producers.stream.kinesis import MAX_BATCH_BYTES, KinesisProducer, Rejected, TokenBucket
from producers.stream.records import ProducedRecord, RecordKind, UserGenerator
from services import aws
from services.settings import Settings, StreamingSettings
from streaming.streams import ensure_stream, list_shards


class FlakyKinesis:
    """Fails the entries whose record ids are in ``fail`` (``times`` calls each), forwards the rest."""

    def __init__(
        self, real: Any, fail: set[str], times: int = 2, code: str = "ProvisionedThroughputExceededException"
    ) -> None:
        self.real, self.fail, self.code = real, {i: times for i in fail}, code
        self.calls: list[list[dict[str, Any]]] = []

    def put_records(self, StreamName: str, Records: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls.append(Records)
        answers: list[dict[str, Any] | None] = []
        forward = []
        for entry in Records:
            rid = entry["PartitionKey"]  # the producer's partition key is the record id
            if self.fail.get(rid, 0) > 0:
                self.fail[rid] -= 1
                answers.append({"ErrorCode": self.code, "ErrorMessage": "Rate exceeded for shard (injected)"})
            else:
                answers.append(None)
                forward.append(entry)
        real = iter(
            self.real.put_records(StreamName=StreamName, Records=forward)["Records"] if forward else []
        )
        merged = [a if a is not None else next(real) for a in answers]
        return {"FailedRecordCount": sum(1 for a in merged if "ErrorCode" in a), "Records": merged}


def read_all(kinesis: Any, stream: str) -> list[bytes]:
    data = []
    for shard in list_shards(kinesis, stream):
        it = kinesis.get_shard_iterator(
            StreamName=stream, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )
        iterator = it["ShardIterator"]
        while iterator:
            page = kinesis.get_records(ShardIterator=iterator, Limit=10_000)
            data += [r["Data"] for r in page["Records"]]
            if not page["Records"]:
                break
            iterator = page.get("NextShardIterator")
    return data


@pytest.fixture
def stream(stack: Settings, stream_cfg: StreamingSettings) -> tuple[Any, str]:
    kinesis = aws.client("kinesis", stack)
    ensure_stream(kinesis, stream_cfg.input_stream, 2)
    return kinesis, stream_cfg.input_stream


NO_WAIT = Backoff(base_s=0.001, cap_s=0.002, max_attempts=4)


@pytest.mark.integration
def test_partial_failures_are_retried_until_every_record_is_in_kinesis_once(stream: tuple[Any, str]) -> None:
    kinesis, name = stream
    records = list(UserGenerator(11).take(1200))
    flaky = FlakyKinesis(kinesis, {r.record_id for r in records[::7]}, times=2)
    sleeps: list[float] = []
    report = KinesisProducer(flaky, name, backoff=NO_WAIT, sleeper=sleeps.append).send(records)
    assert len(report.puts) == 1200 and not report.rejected
    assert report.retried_entries == 2 * len(records[::7]) and len(sleeps) >= 2
    stored = read_all(kinesis, name)
    assert sorted(stored) == sorted(r.data for r in records)  # every record exactly once
    assert {p.shard_id for p in report.puts} == {"shardId-000000000000", "shardId-000000000001"}
    assert all(len(call) <= 500 for call in flaky.calls)
    assert report.step().balanced


@pytest.mark.integration
def test_entries_still_failing_after_the_last_attempt_are_rejected_with_the_kinesis_code(
    stream: tuple[Any, str],
) -> None:
    kinesis, name = stream
    records = list(UserGenerator(12).take(20))
    flaky = FlakyKinesis(kinesis, {records[3].record_id}, times=99, code="InternalFailure")
    sink: list[Rejected] = []
    report = KinesisProducer(
        flaky, name, backoff=NO_WAIT, reject_sink=sink.extend, sleeper=lambda s: None
    ).send(records)
    assert [r.record.record_id for r in sink] == [records[3].record_id]
    assert (
        sink[0].reason_code == "put_failed"
        and "InternalFailure" in sink[0].reason
        and "4 attempts" in sink[0].reason
    )
    assert len(report.puts) == 19 and report.step().rows_rejected == 1
    assert len(read_all(kinesis, name)) == 19


@pytest.mark.integration
def test_oversize_records_are_rejected_before_sending_and_reported(stream: tuple[Any, str]) -> None:
    kinesis, name = stream
    records = list(UserGenerator(13, malformed_share=1.0, kinds=(RecordKind.OVERSIZE,)).take(3))
    records += list(UserGenerator(14).take(3))
    flaky = FlakyKinesis(kinesis, set())
    sink: list[Rejected] = []
    report = KinesisProducer(flaky, name, reject_sink=sink.extend).send(records)
    assert len(sink) == 3 and all(r.reason_code == "oversize" and "1 MiB" in r.reason for r in sink)
    doc = sink[0].error_doc()
    assert (
        doc["stage"] == "producer"
        and doc["record_id"] == records[0].record_id
        and 2000 < len(doc["raw"].encode()) <= 2048
    )
    assert all(len(e["Data"]) < 1024 * 1024 for call in flaky.calls for e in call)
    assert len(report.puts) == 3


@pytest.mark.unit
def test_calls_respect_the_5_mib_limit() -> None:
    big = [ProducedRecord(f"id{i}", "", RecordKind.OK, "destination", b"x" * 900_000) for i in range(12)]
    sizes = [
        sum(len(r.data) + len(r.partition_key) for r in c)
        for c in chunks(big, 500, MAX_BATCH_BYTES, lambda r: len(r.data) + len(r.partition_key))
    ]
    assert all(s <= MAX_BATCH_BYTES for s in sizes) and len(sizes) == 3


@pytest.mark.unit
def test_backoff_grows_exponentially_with_full_jitter() -> None:
    import random

    b = Backoff(base_s=0.1, cap_s=1.0)
    rng = random.Random(1)
    assert all(0 <= b.delay(0, rng) <= 0.1 for _ in range(100))
    assert max(b.delay(3, rng) for _ in range(200)) > 0.6  # up to 0.8
    assert all(b.delay(10, rng) <= 1.0 for _ in range(100))  # capped


@pytest.mark.unit
def test_token_bucket_holds_the_rate() -> None:
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    bucket = TokenBucket(100.0, clock=lambda: now[0], sleeper=sleep)
    for _ in range(50):
        bucket.take(20)  # 1,000 records at 100/s
    assert 9.5 <= now[0] <= 10.5


@pytest.mark.unit
def test_the_batch_size_follows_the_rate() -> None:
    assert KinesisProducer(None, "s", rate=50).batch_records == 5
    assert KinesisProducer(None, "s", rate=100_000).batch_records == 500
    with pytest.raises(ValueError, match="rate"):
        KinesisProducer(None, "s", rate=0)
