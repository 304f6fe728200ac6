"""The Firehose transformation contract: every input id exactly once, Ok / Dropped / ProcessingFailed,
base64 both ways, newline-delimited JSON out — checked on the handler as Firehose calls it (wire dicts)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from lambdas.firehose_transform import handler
from lambdas.firehose_transform.contract import (
    ContractError,
    InputRecord,
    OutputRecord,
    TransformationEvent,
    TransformationResponse,
    check_response,
)

pytestmark = pytest.mark.unit

USER = {
    "type": "user",
    "record_id": "5a0f7c3e-3c1d-4b1e-9a55-0c2f6f1f1a01",
    "event_time": "2026-01-01T12:00:00.000Z",
    "first": "Zoë",
    "last": "Martin",
    "age": 34,
    "gender": "female",
    "latitude": 45.75,
    "longitude": 4.85,
}
WINDOW = {
    "type": "window",
    "scope": "all-shards",
    "window_start": "2026-01-01T12:00:00.000Z",
    "window_end": "2026-01-01T12:00:10.000Z",
    "gender": "female",
    "count": 3,
    "sum_age": 90,
    "avg_age": 30.0,
    "revision": 0,
}
ERROR = {
    "type": "error",
    "record_id": None,
    "stage": "analytics",
    "reason_code": "malformed_json",
    "reason": "malformed_json: not valid JSON",
}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _event(payloads: list[bytes]) -> dict[str, Any]:
    return {
        "invocationId": "inv-1",
        "deliveryStreamArn": "arn:aws:firehose:us-east-1:000000000000:deliverystream/t",
        "region": "us-east-1",
        "records": [
            {"recordId": f"rec-{i}", "approximateArrivalTimestamp": 1_700_000_000_000 + i, "data": _b64(p)}
            for i, p in enumerate(payloads)
        ],
    }


def _call(payloads: list[bytes]) -> list[dict[str, Any]]:
    response = handler.lambda_handler(_event(payloads), None)
    records: list[dict[str, Any]] = response["records"]
    return records


def test_every_input_id_comes_back_exactly_once_in_order() -> None:
    payloads = [
        json.dumps(USER).encode(),
        b"not json",
        json.dumps(USER).encode(),
        json.dumps(WINDOW).encode(),
    ]
    out = _call(payloads)
    assert [r["recordId"] for r in out] == ["rec-0", "rec-1", "rec-2", "rec-3"]
    assert {r["result"] for r in out} <= {"Ok", "Dropped", "ProcessingFailed"}
    event = TransformationEvent.from_wire(_event(payloads))
    assert check_response(event, TransformationResponse.from_wire({"records": out})) == []


def test_ok_records_are_one_compact_json_line_each_base64_encoded() -> None:
    out = _call(
        [json.dumps(USER, indent=2).encode(), json.dumps(WINDOW).encode(), json.dumps(ERROR).encode()]
    )
    assert [r["result"] for r in out] == ["Ok", "Ok", "Ok"]
    lines = [base64.b64decode(r["data"], validate=True) for r in out]
    assert all(line.endswith(b"\n") and line.count(b"\n") == 1 for line in lines)
    assert json.loads(lines[0]) == USER
    assert "Zoë".encode() in lines[0]  # UTF-8 kept as is, not \u-escaped


def test_a_repeat_in_the_same_invocation_is_dropped() -> None:
    out = _call([json.dumps(USER).encode(), json.dumps(USER).encode(), json.dumps(WINDOW).encode()] * 2)
    assert [r["result"] for r in out] == ["Ok", "Dropped", "Ok", "Dropped", "Dropped", "Dropped"]


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"\xff\xfe", "not UTF-8"),
        (b'{"type": "user", ', "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (json.dumps({**USER, "type": "martian"}).encode(), "unknown document type"),
        (json.dumps({k: v for k, v in USER.items() if k != "age"}).encode(), "missing field 'age'"),
        (json.dumps({**USER, "age": "34"}).encode(), "field 'age' is str"),
        (json.dumps({**USER, "age": True}).encode(), "field 'age' is bool"),
        (json.dumps({**USER, "event_time": "yesterday"}).encode(), "not an ISO 8601 time"),
        (json.dumps({**USER, "latitude": 123.0}).encode(), "coordinates out of range"),
    ],
)
def test_invalid_records_fail_with_their_reason_logged(payload: bytes, reason: str) -> None:
    logged: list[dict[str, Any]] = []
    event = TransformationEvent.from_wire(_event([payload]))
    response = handler.transform(
        event, log=lambda level, message, **f: logged.append({"message": message, **f})
    )
    (record,) = response.records
    assert record.result == "ProcessingFailed"
    assert record.data == payload  # Firehose writes the original bytes under the error prefix
    failure = next(entry for entry in logged if entry["message"] == "ProcessingFailed")
    assert failure["recordId"] == "rec-0" and reason in failure["reason"]


def test_the_failure_log_names_our_record_id() -> None:
    logged: list[dict[str, Any]] = []
    bad = json.dumps({**USER, "age": "x"}).encode()
    handler.transform(TransformationEvent.from_wire(_event([bad])), log=lambda *a, **f: logged.append(f))
    assert any(entry.get("record_id") == USER["record_id"] for entry in logged)


def test_an_empty_batch_answers_an_empty_list() -> None:
    assert handler.lambda_handler(_event([]), None) == {"records": []}


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda e: e.pop("records"), "missing field 'records'"),
        (lambda e: e["records"][0].pop("recordId"), "missing field 'recordId'"),
        (lambda e: e["records"][0].update(data="***"), "not valid base64"),
        (lambda e: e["records"][0].update(approximateArrivalTimestamp="soon"), "must be int"),
    ],
)
def test_a_malformed_event_is_refused_with_the_field_named(mutate: Any, message: str) -> None:
    event = _event([json.dumps(USER).encode()])
    mutate(event)
    with pytest.raises(ContractError, match=message):
        handler.lambda_handler(event, None)


def test_check_response_names_missing_duplicated_and_unknown_ids() -> None:
    event = TransformationEvent(
        "i", "arn", "us-east-1", tuple(InputRecord(str(i), b"{}", 0) for i in range(3))
    )
    answer = TransformationResponse(
        (OutputRecord("0", "Ok", b"x"), OutputRecord("0", "Ok", b"x"), OutputRecord("9", "Dropped", b""))
    )
    codes = {v.code for v in check_response(event, answer)}
    assert codes == {"Lambda.MissingRecordId", "Lambda.DuplicatedRecordId"}


def test_output_records_round_trip_and_reject_unknown_results() -> None:
    record = OutputRecord("a", "Ok", b"line\n")
    assert OutputRecord.from_wire(record.to_wire()) == record
    with pytest.raises(ContractError, match="result 'Maybe'"):
        OutputRecord.from_wire({"recordId": "a", "result": "Maybe", "data": ""})
    assert InputRecord.from_wire(InputRecord("r", b"\x00\x01", 5).to_wire()) == InputRecord(
        "r", b"\x00\x01", 5
    )
