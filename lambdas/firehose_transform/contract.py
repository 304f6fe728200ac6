"""The Firehose data-transformation contract (Kinesis Data Streams / Direct PUT sources), typed.

Firehose invokes the processor with ``{invocationId, deliveryStreamArn, region, records[]}`` where each
record is ``{recordId, approximateArrivalTimestamp (epoch ms), data (base64)}``; the function must answer
``{records[]}`` with ``{recordId, result: Ok|Dropped|ProcessingFailed, data (base64)}`` for every input
id exactly once. Both sides of that exchange are here: the handler builds responses with it and our local
delivery stream (streaming.delivery.local) checks responses with it, so the two cannot drift.

Standard library only: this module ships inside the Lambda zip.
"""

from __future__ import annotations

import base64
import binascii
from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal, cast, get_args

Result = Literal["Ok", "Dropped", "ProcessingFailed"]
RESULTS: frozenset[str] = frozenset(get_args(Result))

# Firehose's own limits that the processor's answer must respect.
MAX_RECORD_BYTES = 1_000 * 1024  # a record in a delivery stream: 1,000 KiB
MAX_RESPONSE_BYTES = 6 * 1024 * 1024  # a synchronous Lambda response: 6 MB


class ContractError(ValueError):
    """A message does not follow the transformation contract; the text says which field and why."""


def _b64decode(value: Any, where: str) -> bytes:
    if not isinstance(value, str):
        raise ContractError(f"{where}: data must be a base64 string, got {type(value).__name__}")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ContractError(f"{where}: data is not valid base64 ({exc})") from None


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _field(raw: Any, name: str, kind: type, where: str) -> Any:
    if not isinstance(raw, dict):
        raise ContractError(f"{where}: expected a JSON object, got {type(raw).__name__}")
    if name not in raw:
        raise ContractError(f"{where}: missing field {name!r}")
    value = raw[name]
    # bool is an int in Python; the contract's integers are never booleans.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ContractError(f"{where}: field {name!r} must be {kind.__name__}, got {type(value).__name__}")
    return value


@dataclass(frozen=True)
class InputRecord:
    record_id: str
    data: bytes
    approximate_arrival_timestamp: int  # epoch milliseconds

    @classmethod
    def from_wire(cls, raw: Any, index: int = 0) -> InputRecord:
        where = f"records[{index}]"
        return cls(
            record_id=_field(raw, "recordId", str, where),
            data=_b64decode(_field(raw, "data", str, where), where),
            approximate_arrival_timestamp=_field(raw, "approximateArrivalTimestamp", int, where),
        )

    def to_wire(self) -> dict[str, Any]:
        return {
            "recordId": self.record_id,
            "approximateArrivalTimestamp": self.approximate_arrival_timestamp,
            "data": _b64encode(self.data),
        }


@dataclass(frozen=True)
class TransformationEvent:
    invocation_id: str
    delivery_stream_arn: str
    region: str
    records: tuple[InputRecord, ...]

    @classmethod
    def from_wire(cls, raw: Any) -> TransformationEvent:
        records = _field(raw, "records", list, "event")
        return cls(
            invocation_id=_field(raw, "invocationId", str, "event"),
            delivery_stream_arn=_field(raw, "deliveryStreamArn", str, "event"),
            region=_field(raw, "region", str, "event"),
            records=tuple(InputRecord.from_wire(r, i) for i, r in enumerate(records)),
        )

    def to_wire(self) -> dict[str, Any]:
        return {
            "invocationId": self.invocation_id,
            "deliveryStreamArn": self.delivery_stream_arn,
            "region": self.region,
            "records": [r.to_wire() for r in self.records],
        }


@dataclass(frozen=True)
class OutputRecord:
    record_id: str
    result: Result
    data: bytes

    @classmethod
    def from_wire(cls, raw: Any, index: int = 0) -> OutputRecord:
        where = f"records[{index}]"
        result = _field(raw, "result", str, where)
        if result not in RESULTS:
            raise ContractError(f"{where}: result {result!r} is not one of {sorted(RESULTS)}")
        # Firehose reads data only for Ok records; the others may omit it.
        data = _b64decode(raw["data"], where) if result == "Ok" or "data" in raw else b""
        return cls(_field(raw, "recordId", str, where), cast(Result, result), data)

    def to_wire(self) -> dict[str, Any]:
        return {"recordId": self.record_id, "result": self.result, "data": _b64encode(self.data)}


@dataclass(frozen=True)
class TransformationResponse:
    records: tuple[OutputRecord, ...]

    @classmethod
    def from_wire(cls, raw: Any) -> TransformationResponse:
        records = _field(raw, "records", list, "response")
        return cls(tuple(OutputRecord.from_wire(r, i) for i, r in enumerate(records)))

    def to_wire(self) -> dict[str, Any]:
        return {"records": [r.to_wire() for r in self.records]}


@dataclass(frozen=True)
class Violation:
    """Why Firehose would reject a whole response; ``code`` is the error code it reports."""

    code: str
    message: str


def check_response(event: TransformationEvent, response: TransformationResponse) -> list[Violation]:
    """Every input id exactly once, nothing else, Ok payloads within the record limit."""
    sent = {r.record_id for r in event.records}
    counts = Counter(r.record_id for r in response.records)
    problems: list[Violation] = []
    missing = sorted(sent - counts.keys())
    if missing:
        problems.append(
            Violation("Lambda.MissingRecordId", f"{len(missing)} record ids not returned: {missing[:5]}")
        )
    dupes = sorted(i for i, n in counts.items() if n > 1)
    if dupes:
        problems.append(Violation("Lambda.DuplicatedRecordId", f"record ids returned twice: {dupes[:5]}"))
    unknown = sorted(counts.keys() - sent)
    if unknown:
        problems.append(Violation("Lambda.MissingRecordId", f"record ids never sent: {unknown[:5]}"))
    big = [r.record_id for r in response.records if r.result == "Ok" and len(r.data) > MAX_RECORD_BYTES]
    if big:
        problems.append(Violation("Lambda.InvalidReturnFormat", f"Ok records over 1,000 KiB: {big[:5]}"))
    return problems
