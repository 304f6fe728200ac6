"""Firehose transformation Lambda: each record is one JSON document from the stream analytics (a user row,
a window aggregate or an error report, told apart by its ``type``). The function validates it against
that type's schema and returns it as one line of newline-delimited JSON.

Results, per the contract (contract.py):
- ``Ok``: valid; ``data`` is the compact JSON line.
- ``Dropped``: a repeat of a document already seen in this invocation (same key), on purpose: the
  analytics host delivers at least once, and a repeat inside one batch is free to remove here.
- ``ProcessingFailed``: not base64 / UTF-8 / JSON, unknown type, missing or wrongly typed field. Firehose
  writes the original bytes under the error prefix; the reason goes to the function's log (CloudWatch on
  AWS) as one JSON line naming the Firehose recordId and our record_id.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any

from .contract import (
    MAX_RECORD_BYTES,
    InputRecord,
    OutputRecord,
    TransformationEvent,
    TransformationResponse,
)

Doc = dict[str, Any]
NUMBER = (int, float)
TEXT = (str,)
INT = (int,)
OPTIONAL_TEXT = (str, type(None))

# Field → accepted JSON types, per document type (the analytics' output columns, see
# lambdas/stream_analytics/sql/destination.sql and window_aggregates.sql).
SCHEMAS: dict[str, dict[str, tuple[type, ...]]] = {
    "user": {
        "record_id": TEXT,
        "event_time": TEXT,
        "first": TEXT,
        "last": TEXT,
        "age": INT,
        "gender": TEXT,
        "latitude": NUMBER,
        "longitude": NUMBER,
    },
    "window": {
        "window_start": TEXT,
        "window_end": TEXT,
        "gender": TEXT,
        "count": INT,
        "sum_age": INT,
        "avg_age": NUMBER,
        "revision": INT,
        "scope": TEXT,
    },
    "error": {
        "record_id": OPTIONAL_TEXT,
        "stage": TEXT,
        "reason_code": TEXT,
        "reason": TEXT,
    },
}
TIME_FIELDS = ("event_time", "window_start", "window_end")


class Rejected(ValueError):
    """This record cannot be transformed; the message is the reason."""


class Duplicate(Exception):
    """A document with this key was already returned Ok in this invocation."""


def _dedupe_key(doc: Doc) -> tuple[Any, ...] | None:
    kind = doc["type"]
    if kind == "user":
        return ("user", doc["record_id"])
    if kind == "window":
        return ("window", doc["scope"], doc["window_start"], doc["gender"], doc["revision"])
    # Error reports without a record id (a malformed record whose id could not be salvaged) are
    # never treated as repeats of each other.
    return ("error", doc["record_id"], doc["reason_code"]) if doc["record_id"] else None


def _check_types(doc: Doc) -> None:
    kind = doc.get("type")
    schema = SCHEMAS.get(kind) if isinstance(kind, str) else None
    if schema is None:
        raise Rejected(f"unknown document type {kind!r}; expected one of {sorted(SCHEMAS)}")
    for name, accepted in schema.items():
        if name not in doc:
            raise Rejected(f"{kind}: missing field {name!r}")
        value = doc[name]
        if isinstance(value, bool) or not isinstance(value, accepted):
            names = "/".join("null" if t is type(None) else t.__name__ for t in accepted)
            raise Rejected(
                f"{kind}: field {name!r} is {type(value).__name__} {value!r:.40}, expected {names}"
            )
    for name in TIME_FIELDS:
        if name in schema:
            try:
                datetime.fromisoformat(doc[name])
            except ValueError:
                raise Rejected(f"{kind}: field {name!r} is not an ISO 8601 time: {doc[name]!r:.40}") from None
    if kind == "user" and not (-90 <= doc["latitude"] <= 90 and -180 <= doc["longitude"] <= 180):
        raise Rejected(f"user: coordinates out of range ({doc['latitude']}, {doc['longitude']})")


def transform_record(record: InputRecord, seen: set[tuple[Any, ...]]) -> bytes:
    """The transformed line for one record; raises Rejected or Duplicate."""
    try:
        doc = json.loads(record.data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise Rejected(f"not UTF-8 ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise Rejected(f"not JSON ({exc.msg} at char {exc.pos})") from None
    if not isinstance(doc, dict):
        raise Rejected(f"not a JSON object but a {type(doc).__name__}")
    _check_types(doc)
    key = _dedupe_key(doc)
    if key is not None:
        if key in seen:
            raise Duplicate
        seen.add(key)
    line = (json.dumps(doc, separators=(",", ":"), ensure_ascii=False) + "\n").encode("utf-8")
    if len(line) > MAX_RECORD_BYTES:
        raise Rejected(f"transformed record is {len(line):,} bytes, over Firehose's 1,000 KiB record limit")
    return line


def _log(level: str, message: str, **fields: Any) -> None:
    # One JSON object per line: CloudWatch Logs Insights can filter on the fields.
    print(json.dumps({"level": level, "message": message, **fields}, default=str), file=sys.stdout)


def _record_id_of(record: InputRecord) -> str | None:
    """Our record_id when the payload is readable enough to tell it (for the log line only)."""
    try:
        doc = json.loads(record.data)
    except (ValueError, UnicodeDecodeError):
        return None
    value = doc.get("record_id") if isinstance(doc, dict) else None
    return value if isinstance(value, str) else None


def transform(event: TransformationEvent, log: Callable[..., None] = _log) -> TransformationResponse:
    seen: set[tuple[Any, ...]] = set()
    out: list[OutputRecord] = []
    counts = {"Ok": 0, "Dropped": 0, "ProcessingFailed": 0}
    for record in event.records:
        try:
            out.append(OutputRecord(record.record_id, "Ok", transform_record(record, seen)))
        except Duplicate:
            out.append(OutputRecord(record.record_id, "Dropped", record.data))
        except Rejected as exc:
            log(
                "error",
                "ProcessingFailed",
                recordId=record.record_id,
                record_id=_record_id_of(record),
                reason=str(exc),
            )
            out.append(OutputRecord(record.record_id, "ProcessingFailed", record.data))
        counts[out[-1].result] += 1
    log("info", "transformed", invocationId=event.invocation_id, **counts)
    return TransformationResponse(tuple(out))


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    # A malformed *event* (not a malformed record) raises: Firehose retries the invocation and, when the
    # retries are spent, writes the whole batch under processing-failed — nothing is lost either way.
    return transform(TransformationEvent.from_wire(event)).to_wire()
