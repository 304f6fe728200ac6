"""Delivery to S3: our local delivery stream with the real transform Lambda deployed on MiniStack (the
zip runs), its buffering hints, keys and error prefix; the same outbox drained into MiniStack's Firehose."""

from __future__ import annotations

import base64
import io
import json
import time
import uuid
import zipfile
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from services import aws, lambda_package
from services.objectstore import ObjectStore, S3Uri
from services.settings import BufferingHints, DeliveryStreamConfig, Settings, StreamingSettings
from streaming.delivery import prefix
from streaming.delivery.base import DeliveryPump
from streaming.delivery.firehose import FirehoseDelivery, ensure_delivery_stream
from streaming.delivery.local import LocalDeliveryStream
from streaming.state import Pending, StateStore


def user_doc(age: int = 30) -> dict[str, Any]:
    return {
        "type": "user",
        "record_id": str(uuid.uuid4()),
        "event_time": "2026-01-01T12:00:00.000Z",
        "first": "Ann",
        "last": "Lee",
        "age": age,
        "gender": "female",
        "latitude": 1.5,
        "longitude": 2.5,
    }


def objects(store: ObjectStore, bucket: str, key_prefix: str) -> dict[str, bytes]:
    return {
        uri.key: store.s3.get_object(Bucket=bucket, Key=uri.key)["Body"].read()
        for uri, _ in store.list(S3Uri(bucket, key_prefix))
    }


# --- unit: hints and prefixes -------------------------------------------------------------------------
@pytest.mark.unit
def test_buffering_hints_are_validated_to_the_aws_ranges() -> None:
    BufferingHints(size_mib=1, interval_s=0)
    BufferingHints(size_mib=128, interval_s=900)
    for bad in ({"size_mib": 0}, {"size_mib": 129}, {"interval_s": 901}, {"interval_s": -1}):
        with pytest.raises(ValidationError):
            BufferingHints(**bad)


@pytest.mark.unit
def test_a_buffer_is_due_at_its_size_or_its_interval() -> None:
    config = DeliveryStreamConfig(
        name="d", prefix="p/", error_prefix="e/", buffering=BufferingHints(size_mib=1, interval_s=60)
    )
    stream = LocalDeliveryStream(config, None, "b", None, "arn", "us-east-1")  # type: ignore[arg-type]
    now = 1000.0
    assert not stream.due(Pending(0, 0, None), now)
    assert not stream.due(Pending(10, 500_000, now - 59), now)
    assert stream.due(Pending(10, 500_000, now - 60), now)  # interval reached
    assert stream.due(Pending(4000, 1024 * 1024, now), now)  # size reached


@pytest.mark.unit
def test_prefixes_evaluate_like_firehose() -> None:
    moment = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    assert prefix.evaluate("raw/", moment, "r") == "raw/2026/03/04/05/"  # the default appended
    assert prefix.evaluate("e/", moment, "r", "processing-failed") == "e/processing-failed/2026/03/04/05/"
    expr = "errors/!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd/HH}/"
    assert (
        prefix.evaluate(expr, moment, "r", "processing-failed") == "errors/processing-failed/2026/03/04/05/"
    )
    assert prefix.object_name("s", moment, "abc") == "s-1-2026-03-04-05-06-07-abc"
    with pytest.raises(prefix.PrefixError, match="ErrorOutputPrefix only"):
        prefix.validate("x/!{firehose:error-output-type}/", "e/!{firehose:error-output-type}/")
    with pytest.raises(prefix.PrefixError, match="must contain"):
        prefix.validate("x/", "e/!{timestamp:yyyy}/")
    with pytest.raises(prefix.PrefixError, match="unknown expression"):
        prefix.validate("x/!{partitionKeyFromQuery:id}/", "e/!{firehose:error-output-type}/")


# --- integration: the local delivery stream with the deployed transform ----------------------------
def _local(
    stack: Settings, cfg: StreamingSettings, store: ObjectStore, function_arn: str, **kw: Any
) -> LocalDeliveryStream:
    return LocalDeliveryStream(
        cfg.destination,
        store,
        cfg.bucket_name(stack),
        aws.client("lambda", stack),
        function_arn,
        stack.aws.region,
        **kw,
    )


def _transform_arn(stack: Settings, cfg: StreamingSettings) -> str:
    return lambda_package.deploy(
        aws.client("lambda", stack),
        lambda_package.build("firehose_transform"),
        cfg.transform_function,
        cfg.lambda_role_arn,
    )


@pytest.mark.integration
def test_ok_dropped_and_failed_records_land_where_firehose_puts_them(
    stack: Settings, store: ObjectStore, stream_cfg: StreamingSettings
) -> None:
    cfg = stream_cfg.model_copy(update={"buffering": BufferingHints(size_mib=1, interval_s=0)})
    delivery = _local(stack, cfg, store, _transform_arn(stack, cfg))
    state = StateStore(cfg.state_path(stack))
    good = [user_doc() for _ in range(50)]
    bad = {**user_doc(), "age": "thirty"}
    docs = [json.dumps(d).encode() for d in good] + [
        json.dumps(good[0]).encode(),
        json.dumps(bad).encode(),
        b"{oops",
    ]
    with state.transaction() as db:
        state._enqueue(db, {cfg.destination.name: [(None, d) for d in docs]}, time.time())
    pump = DeliveryPump(state, {cfg.destination.name: delivery})
    assert pump.pump() == len(docs)
    stats = pump.stats[cfg.destination.name]
    assert (stats.ok, stats.dropped, stats.failed) == (50, 1, 2)

    bucket, hour = cfg.bucket_name(stack), datetime.now(UTC).strftime("%Y/%m/%d/%H")
    (dest_key, body), *_ = objects(store, bucket, f"{cfg.root_prefix}destination/").items()
    assert dest_key.startswith(f"{cfg.root_prefix}destination/{hour}/{cfg.destination.name}-1-")
    assert sorted(json.loads(line)["record_id"] for line in body.splitlines()) == sorted(
        d["record_id"] for d in good
    )
    (err_key, err_body), *_ = objects(store, bucket, f"{cfg.root_prefix}errors/processing-failed/").items()
    assert err_key.startswith(f"{cfg.root_prefix}errors/processing-failed/{hour}/")
    envelopes = [json.loads(line) for line in err_body.splitlines()]
    assert {base64.b64decode(e["rawData"]) for e in envelopes} == {json.dumps(bad).encode(), b"{oops"}
    for e in envelopes:
        assert e["errorCode"] == "Lambda.ProcessingFailedStatus" and e["lambdaArn"].endswith(
            cfg.transform_function
        )
        assert set(e) == {
            "attemptsMade",
            "arrivalTimestamp",
            "errorCode",
            "errorMessage",
            "attemptEndingTimestamp",
            "rawData",
            "lambdaArn",
        }
    assert any(
        bad["record_id"] in line for line in delivery.transform_log
    )  # the reason, in the function's log

    # A batch delivered again (a crash before it was marked delivered) rewrites the same keys.
    (batch_id,) = state.db.execute("SELECT batch_id FROM batches").fetchone()
    again = delivery.deliver(state._load_batch(batch_id))
    assert sorted(again.keys) == sorted([dest_key, err_key])
    assert len(objects(store, bucket, cfg.root_prefix)) == 2
    state.close()


@pytest.mark.integration
def test_the_interval_hint_holds_records_back_until_it_passes(
    stack: Settings, store: ObjectStore, stream_cfg: StreamingSettings
) -> None:
    cfg = stream_cfg.model_copy(update={"buffering": BufferingHints(size_mib=1, interval_s=2)})
    delivery = _local(stack, cfg, store, _transform_arn(stack, cfg))
    state = StateStore(cfg.state_path(stack))
    pump = DeliveryPump(state, {cfg.destination.name: delivery})
    with state.transaction() as db:
        state._enqueue(db, {cfg.destination.name: [(None, json.dumps(user_doc()).encode())]}, time.time())
    assert pump.pump() == 0 and 1.5 < (pump.next_due_in() or 0) <= 2.0
    time.sleep(2.05)
    assert pump.pump() == 1
    state.close()


BROKEN = b"""
def lambda_handler(event, context):
    # Forgets the last record: Firehose must treat the invocation as failed.
    kept = event["records"][:-1]
    return {"records": [{"recordId": r["recordId"], "result": "Ok", "data": r["data"]} for r in kept]}
"""


@pytest.mark.integration
def test_a_transform_breaking_the_contract_sends_the_whole_chunk_to_the_error_prefix(
    stack: Settings, store: ObjectStore, stream_cfg: StreamingSettings
) -> None:
    cfg = stream_cfg.model_copy(update={"buffering": BufferingHints(size_mib=1, interval_s=0)})
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("broken.py", BROKEN)
    lam = aws.client("lambda", stack)
    package = lambda_package.Package("broken", buffer.getvalue())
    arn = lam.create_function(
        FunctionName=cfg.analytics_function, Runtime="python3.11", Role=cfg.lambda_role_arn,
        Handler="broken.lambda_handler", Code={"ZipFile": package.zip_bytes},
    )["FunctionArn"]  # fmt: skip
    lambda_package._wait_ready(lam, cfg.analytics_function, arn)
    delivery = _local(stack, cfg, store, arn, processor_retries=1)
    state = StateStore(cfg.state_path(stack))
    with state.transaction() as db:
        state._enqueue(
            db,
            {cfg.destination.name: [(None, json.dumps(user_doc()).encode()) for _ in range(3)]},
            time.time(),
        )
    DeliveryPump(state, {cfg.destination.name: delivery}).pump()
    bucket = cfg.bucket_name(stack)
    assert not objects(store, bucket, f"{cfg.root_prefix}destination/")
    (body,) = objects(store, bucket, f"{cfg.root_prefix}errors/processing-failed/").values()
    envelopes = [json.loads(line) for line in body.splitlines()]
    assert len(envelopes) == 3 and {e["errorCode"] for e in envelopes} == {"Lambda.MissingRecordId"}
    assert {e["attemptsMade"] for e in envelopes} == {2}
    state.close()


@pytest.mark.integration
def test_firehose_delivery_drains_the_outbox_into_ministack_firehose(
    stack: Settings, store: ObjectStore, stream_cfg: StreamingSettings
) -> None:
    firehose = aws.client("firehose", stack)
    config = stream_cfg.destination.model_copy(
        update={"name": f"{stream_cfg.app}-fh", "prefix": f"{stream_cfg.root_prefix}fh/"}
    )
    # No processor here: MiniStack's Firehose would silently drop ProcessingFailed records (design §4).
    ensure_delivery_stream(firehose, config, stream_cfg.bucket_name(stack), stream_cfg.lambda_role_arn, None)
    ensure_delivery_stream(firehose, config, stream_cfg.bucket_name(stack), stream_cfg.lambda_role_arn, None)
    state = StateStore(stream_cfg.state_path(stack))
    docs = [user_doc() for _ in range(20)]
    with state.transaction() as db:
        state._enqueue(
            db, {config.name: [(d["record_id"], json.dumps(d).encode()) for d in docs]}, time.time()
        )
    pump = DeliveryPump(state, {config.name: FirehoseDelivery(config, firehose)})
    assert pump.pump() == 20 and pump.stats[config.name].ok == 20 and state.undelivered() == 0
    deadline = time.monotonic() + 10
    found: set[str] = set()
    while time.monotonic() < deadline and len(found) < 20:
        for body in objects(store, stream_cfg.bucket_name(stack), f"{stream_cfg.root_prefix}fh/").values():
            found |= {json.loads(line)["record_id"] for line in body.splitlines() if line.strip()}
        time.sleep(0.2)
    assert found == {d["record_id"] for d in docs}
    firehose.delete_delivery_stream(DeliveryStreamName=config.name)
    state.close()
