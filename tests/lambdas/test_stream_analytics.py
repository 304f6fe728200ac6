"""The stream analytics engine (DuckDB over micro-batches): input mapping errors with reasons, the
destination query, duplicates, and tumbling windows on event time — on time, out of order, late within
the allowed lateness (a new revision), and too late (error stream)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from lambdas.stream_analytics.engine import Analytics
from lambdas.stream_analytics.events import KinesisWindowEvent, StreamRecord
from lambdas.stream_analytics.windows import WindowConfig, WindowState

pytestmark = pytest.mark.unit

CONFIG = WindowConfig(window_seconds=10, watermark_delay_seconds=2, allowed_lateness_seconds=5)


def user(second: float, age: int = 30, gender: str = "female", **over: Any) -> dict[str, Any]:
    minute, sec = divmod(second, 60)
    doc: dict[str, Any] = {
        "record_id": str(uuid.uuid4()),
        "event_time": f"2026-01-01T12:{int(minute):02d}:{sec:06.3f}Z",
        "gender": gender,
        "name": {"first": "Ann", "last": "Lee"},
        "dob": {"age": age},
        "location": {"coordinates": {"latitude": "45.7500", "longitude": "4.8500"}},
    }
    doc.update(over)
    return doc


_seq = iter(range(1, 1_000_000))


def records(*docs: dict[str, Any] | bytes) -> list[StreamRecord]:
    return [
        StreamRecord(
            "shardId-000000000000",
            str(next(_seq)),
            "pk",
            1_767_268_800_000,
            d if isinstance(d, bytes) else json.dumps(d).encode(),
        )
        for d in docs
    ]


@pytest.fixture(scope="module")
def engine() -> Iterator[Analytics]:
    with Analytics(CONFIG) as a:
        yield a


def windows(out_docs: list[Any]) -> list[dict[str, Any]]:
    return [json.loads(d.data) for d in out_docs]


def test_destination_keeps_21_and_over_with_the_articles_projection(engine: Analytics) -> None:
    state = WindowState(CONFIG)
    young, adult, boundary = user(1, age=20), user(2, age=45), user(3, age=21)
    out = engine.process(records(young, adult, boundary), state)
    rows = [json.loads(d.data) for d in out.destination]
    assert {r["record_id"] for r in rows} == {adult["record_id"], boundary["record_id"]}
    assert set(rows[0]) == {
        "type", "record_id", "event_time", "first", "last", "age", "gender", "latitude", "longitude",
    }  # fmt: skip
    assert rows[0]["latitude"] == 45.75 and isinstance(rows[0]["age"], int)
    assert {o.record_id: o.outcome for o in out.outcomes}[young["record_id"]] == "filtered"


@pytest.mark.parametrize(
    ("mutate", "code", "fragment"),
    [
        (lambda d: d.pop("gender"), "missing_field", "$.gender is missing"),
        (lambda d: d["dob"].pop("age"), "missing_field", "$.dob.age"),
        (lambda d: d["dob"].update(age="42"), "wrong_type", "$.dob.age is JSON varchar"),
        (lambda d: d["dob"].update(age=None), "missing_field", "$.dob.age is missing or null"),
        (
            lambda d: d["location"]["coordinates"].update(latitude="north"),
            "wrong_type",
            '"north" is not a valid',
        ),
        (lambda d: d["location"]["coordinates"].update(latitude="95.5"), "out_of_range", "latitude BETWEEN"),
        (lambda d: d.update(event_time="yesterday"), "wrong_type", "$.event_time"),
        (lambda d: d.update(record_id="not-a-uuid"), "wrong_type", "$.record_id"),
    ],
)
def test_mapping_errors_go_to_the_error_stream_with_the_path(
    engine: Analytics, mutate: Any, code: str, fragment: str
) -> None:
    doc = user(1)
    mutate(doc)
    out = engine.process(records(doc), WindowState(CONFIG))
    (error,) = [json.loads(d.data) for d in out.errors]
    assert error["reason_code"] == code and fragment in error["reason"], error["reason"]
    assert error["stage"] == "analytics" and error["raw"].startswith("{")
    assert out.outcomes[0].outcome == "error" and not out.destination


def test_malformed_json_keeps_the_salvaged_record_id(engine: Analytics) -> None:
    doc = user(1)
    text = json.dumps(doc)[:70].encode()
    out = engine.process(records(text, b"\xff\xfe\x00", b"[1,2]"), WindowState(CONFIG))
    errors = [json.loads(d.data) for d in out.errors]
    assert [e["reason_code"] for e in errors] == ["malformed_json"] * 3
    assert errors[0]["record_id"] == doc["record_id"]
    assert (
        errors[1]["record_id"] is None and "not UTF-8" in errors[1]["reason"] and errors[1]["raw_bytes"] == 3
    )
    assert "JSON array" in errors[2]["reason"]


def test_an_offset_time_is_converted_to_utc_not_truncated(engine: Analytics) -> None:
    doc = user(0, event_time="2026-01-01T14:00:05+02:00")
    out = engine.process(records(doc), WindowState(CONFIG))
    assert json.loads(out.destination[0].data)["event_time"] == "2026-01-01T12:00:05.000Z"


def test_duplicates_in_batch_and_seen_before_are_processed_once(engine: Analytics) -> None:
    a, b = user(1), user(2)
    out = engine.process(records(a, a, b), WindowState(CONFIG), seen=lambda ids: {b["record_id"]} & set(ids))
    assert [o.outcome for o in out.outcomes] == ["destination", "duplicate", "duplicate"]
    assert len(out.destination) == 1


def test_on_time_windows_fire_when_the_watermark_passes_their_end(engine: Analytics) -> None:
    state = WindowState(CONFIG)
    out = engine.process(records(user(1, 20), user(4, 40), user(5, 33, "male"), user(11, 50)), state)
    assert out.windows == []  # watermark 12:00:09 < window end 12:00:10
    out = engine.process(records(user(12.5, 60)), state)  # watermark 12:00:10.5
    fired = windows(out.windows)
    assert [(w["window_start"][11:19], w["gender"], w["count"], w["avg_age"]) for w in fired] == [
        ("12:00:00", "female", 2, 30.0),
        ("12:00:00", "male", 1, 33.0),
    ]
    assert all(w["revision"] == 0 for w in fired)


def test_out_of_order_records_within_the_delay_join_their_window(engine: Analytics) -> None:
    state = WindowState(CONFIG)
    engine.process(records(user(11), user(3)), state)  # 3 s arrives after 11 s: same batch
    engine.process(records(user(9)), state)  # older than the max, within the 2 s delay
    out = engine.process(records(user(13)), state)
    (fired,) = windows(out.windows)
    assert fired["count"] == 2 and fired["revision"] == 0


def test_late_within_allowed_lateness_updates_the_window_with_a_new_revision(engine: Analytics) -> None:
    state = WindowState(CONFIG)
    engine.process(records(user(2, 20)), state)
    first = windows(engine.process(records(user(13)), state).windows)  # watermark 11 s: [0, 10) fires
    assert [(w["count"], w["revision"]) for w in first] == [(1, 0)]
    out = engine.process(records(user(8, 40)), state)  # late, but 11 < 10 + 5: allowed
    assert [o.outcome for o in out.outcomes] == ["destination"]
    (update,) = windows(out.windows)
    assert (update["count"], update["sum_age"], update["revision"]) == (2, 60, 1)


def test_too_late_records_go_to_the_error_stream_with_the_watermark(engine: Analytics) -> None:
    state = WindowState(CONFIG)
    engine.process(records(user(2)), state)
    engine.process(records(user(18)), state)  # watermark 16 s: [0, 10) closed for good (10 + 5 <= 16)
    late = user(7, 40)
    out = engine.process(records(late), state)
    assert [o.outcome for o in out.outcomes] == ["late"] and not out.destination and not out.windows
    (error,) = [json.loads(d.data) for d in out.errors]
    assert error["record_id"] == late["record_id"] and error["reason_code"] == "late"
    assert (
        "watermark 2026-01-01T12:00:16.000Z" in error["reason"] and "allowed lateness 5 s" in error["reason"]
    )


def test_state_round_trips_through_json_and_end_of_input_flushes_everything(engine: Analytics) -> None:
    state = WindowState(CONFIG)
    assert engine.process(records(user(1), user(9, gender="male")), state).windows == []
    restored = WindowState.from_dict(CONFIG, json.loads(state.to_json()))
    assert restored.to_dict() == state.to_dict() and restored.watermark_ms == state.watermark_ms
    final = restored.fire(final=True)
    assert sorted((w["window_start"][11:19], w["gender"]) for w in final) == [
        ("12:00:00", "female"),
        ("12:00:00", "male"),
    ]
    assert restored.windows == {}


def test_the_lambda_event_contract_is_read_with_window_and_state() -> None:
    doc = user(1)
    event = {
        "Records": [
            {
                "kinesis": {
                    "partitionKey": "pk",
                    "sequenceNumber": "4954",
                    "data": __import__("base64").b64encode(json.dumps(doc).encode()).decode(),
                    "approximateArrivalTimestamp": 1_767_268_800.5,
                },
                "eventID": "shardId-000000000003:4954",
                "eventSourceARN": "arn:aws:kinesis:us-east-1:000000000000:stream/s",
            }
        ],
        "window": {"start": "2026-01-01T12:00:00Z", "end": "2026-01-01T12:01:00Z"},
        "state": {"v": 1, "max_event_ms": None, "windows": []},
        "shardId": "shardId-000000000003",
        "eventSourceARN": "arn:aws:kinesis:us-east-1:000000000000:stream/s",
        "isFinalInvokeForWindow": False,
        "isWindowTerminatedEarly": False,
    }
    parsed = KinesisWindowEvent.from_wire(event)
    assert parsed.shard_id == "shardId-000000000003" and parsed.records[0].arrival_ms == 1_767_268_800_500
    assert json.loads(parsed.records[0].data) == doc and parsed.state["v"] == 1


@pytest.mark.integration
def test_aggregates_flushed_for_the_state_limit_are_never_dropped(
    engine: Analytics, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over the state limit the open windows are emitted; when that send fails (here: a delivery stream
    that does not exist on the emulator) Lambda must retry, not carry on without them."""
    import boto3

    from lambdas.stream_analytics import handler

    state = WindowState(CONFIG)
    engine.process(records(user(1), user(2, gender="male")), state)
    assert state.windows, "open windows to lose"
    for variable in ("DESTINATION_DELIVERY_STREAM", "ERROR_DELIVERY_STREAM", "AGGREGATE_DELIVERY_STREAM"):
        monkeypatch.setenv(variable, f"bdml-missing-{uuid.uuid4().hex[:8]}")
    firehose = boto3.client(
        "firehose",
        endpoint_url="http://127.0.0.1:4566",
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    monkeypatch.setattr(handler, "_firehose", firehose)
    monkeypatch.setattr(handler, "MAX_STATE_BYTES", 10)
    event = {
        "Records": [],
        "window": {"start": "2026-01-01T12:00:00Z", "end": "2026-01-01T12:01:00Z"},
        "state": state.to_dict(),
        "shardId": "shardId-000000000000",
        "eventSourceARN": "arn:aws:kinesis:us-east-1:000000000000:stream/s",
        "isFinalInvokeForWindow": False,
        "isWindowTerminatedEarly": False,
    }
    with pytest.raises(RuntimeError, match="aggregates not delivered"):
        handler.lambda_handler(event, None)
