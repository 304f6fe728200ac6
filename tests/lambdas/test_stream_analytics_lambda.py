"""The analytics as a Lambda on MiniStack: its zip (DuckDB vendored) deployed and invoked with the
Kinesis event of a tumbling-window event source; outputs reach S3 through MiniStack's Firehose; the
window state goes out and comes back per the AWS contract; an undeliverable output is a batchItemFailure
with the state handed back unchanged."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from services import aws, lambda_package
from services.objectstore import ObjectStore, S3Uri
from services.settings import Settings, StreamingSettings
from streaming.delivery.firehose import ensure_delivery_stream
from tests.streaming.conftest import cleanup, make_cfg

pytestmark = pytest.mark.integration


@pytest.fixture
def cfg(stack: Settings, store: ObjectStore, tmp_path: Any) -> Iterator[StreamingSettings]:
    config = make_cfg(stack, tmp_path / "state")
    yield config
    cleanup(stack, config)
    firehose = aws.client("firehose", stack)
    for d in config.deliveries():
        firehose.delete_delivery_stream(DeliveryStreamName=d.name)


def _event(records: list[bytes], state: dict[str, Any], final: bool = False) -> dict[str, Any]:
    shard = "shardId-000000000001"
    return {
        "Records": [
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": str(uuid.uuid4()),
                    "sequenceNumber": f"4954{i:052d}",
                    "data": base64.b64encode(data).decode(),
                    "approximateArrivalTimestamp": time.time(),
                },
                "eventSource": "aws:kinesis",
                "eventID": f"{shard}:4954{i:052d}",
                "eventSourceARN": "arn:aws:kinesis:us-east-1:000000000000:stream/users",
            }
            for i, data in enumerate(records)
        ],
        "window": {"start": "2026-01-01T12:00:00Z", "end": "2026-01-01T12:01:00Z"},
        "state": state,
        "shardId": shard,
        "eventSourceARN": "arn:aws:kinesis:us-east-1:000000000000:stream/users",
        "isFinalInvokeForWindow": final,
        "isWindowTerminatedEarly": False,
    }


def _user(age: int, second: int) -> dict[str, Any]:
    return {
        "record_id": str(uuid.uuid4()),
        "event_time": f"2026-01-01T12:00:{second:02d}.000Z",
        "gender": "female",
        "name": {"first": "Ann", "last": "Lee"},
        "dob": {"age": age},
        "location": {"coordinates": {"latitude": "1.5", "longitude": "2.5"}},
    }


def _invoke(lam: Any, name: str, event: dict[str, Any]) -> dict[str, Any]:
    answer = lam.invoke(FunctionName=name, Payload=json.dumps(event).encode())
    body = json.loads(answer["Payload"].read())
    assert not answer.get("FunctionError"), body
    return dict(body)


def _docs(store: ObjectStore, bucket: str, prefix: str) -> list[dict[str, Any]]:
    out = []
    for uri, _ in store.list(S3Uri(bucket, prefix)):
        body = store.s3.get_object(Bucket=bucket, Key=uri.key)["Body"].read()
        out += [json.loads(line) for line in body.splitlines() if line.strip()]
    return out


def test_the_analytics_zip_runs_as_a_kinesis_window_lambda(
    stack: Settings, store: ObjectStore, cfg: StreamingSettings
) -> None:
    bucket = cfg.bucket_name(stack)
    firehose, lam = aws.client("firehose", stack), aws.client("lambda", stack)
    for d in cfg.deliveries():  # no processor: MiniStack's Firehose would drop ProcessingFailed records
        ensure_delivery_stream(
            firehose,
            d.model_copy(update={"prefix": f"{cfg.root_prefix}{d.name}/"}),
            bucket,
            cfg.lambda_role_arn,
            None,
        )
    # MiniStack runs Python Lambdas on its own interpreter, which has no boto3 (AWS's runtime has it).
    boto3_layer = lambda_package.build_layer(lambda_package.BOTO3_LAYER, stack.stack.home / "lambda-layers")
    layer = lambda_package.ensure_layer(lam, f"{cfg.app}-runtime", boto3_layer)
    env = {
        "DESTINATION_DELIVERY_STREAM": cfg.destination.name,
        "ERROR_DELIVERY_STREAM": cfg.errors.name,
        "AGGREGATE_DELIVERY_STREAM": cfg.aggregates.name,
        "WINDOW_SECONDS": "10",
    }
    package = lambda_package.build("stream_analytics")
    lambda_package.deploy(
        lam, package, cfg.analytics_function, cfg.lambda_role_arn, env, memory_mb=1024, layers=[layer]
    )

    adult, young, late_adult = _user(30, 1), _user(15, 2), _user(45, 12)
    first = _invoke(
        lam,
        cfg.analytics_function,
        _event([json.dumps(adult).encode(), json.dumps(young).encode(), b'{"record_id": "x'], {}),
    )
    assert first["batchItemFailures"] == []
    assert first["state"]["v"] == 1 and first["state"]["windows"]  # the open window travels in the state

    second = _invoke(
        lam, cfg.analytics_function, _event([json.dumps(late_adult).encode()], first["state"], final=True)
    )
    assert second["batchItemFailures"] == [] and second["state"]["windows"] == []  # flushed at the window end

    deadline, users = time.monotonic() + 15, []
    while time.monotonic() < deadline:
        users = _docs(store, bucket, f"{cfg.root_prefix}{cfg.destination.name}/")
        windows = _docs(store, bucket, f"{cfg.root_prefix}{cfg.aggregates.name}/")
        errors = _docs(store, bucket, f"{cfg.root_prefix}{cfg.errors.name}/")
        if len(users) == 2 and len(windows) == 2 and errors:
            break
        time.sleep(0.3)
    assert {u["record_id"] for u in users} == {adult["record_id"], late_adult["record_id"]}
    assert {(w["window_start"][11:19], w["count"], w["scope"]) for w in windows} == {
        ("12:00:00", 2, "shardId-000000000001"),
        ("12:00:10", 1, "shardId-000000000001"),
    }
    assert [e["reason_code"] for e in errors] == ["malformed_json"]

    # An output that cannot be delivered: the batch is reported failed from its first record and the
    # state given back unchanged, so Lambda's retry recomputes it.
    lambda_package.deploy(
        lam, package, cfg.analytics_function, cfg.lambda_role_arn,
        {**env, "DESTINATION_DELIVERY_STREAM": f"{cfg.app}-missing"}, memory_mb=1024, layers=[layer],
    )  # fmt: skip
    event = _event([json.dumps(_user(50, 3)).encode()], first["state"])
    failed = _invoke(lam, cfg.analytics_function, event)
    assert failed["batchItemFailures"] == [
        {"itemIdentifier": event["Records"][0]["kinesis"]["sequenceNumber"]}
    ]
    assert failed["state"] == first["state"]
