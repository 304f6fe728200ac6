"""Reading what the delivery streams wrote to S3: the destination rows, the error reports (analytics and
producer rejects), the transform's processing-failed envelopes and the window aggregates. Used by the
reconciliation, the tests and `bdml stream tail`."""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from services.objectstore import ObjectStore, S3Uri
from services.settings import StreamingSettings


@dataclass
class Outputs:
    destination: Counter[str] = field(default_factory=Counter)  # record_id → times written
    errors: Counter[str] = field(default_factory=Counter)  # record_id → times reported
    error_reasons: dict[str, str] = field(default_factory=dict)  # record_id → reason
    processing_failed: Counter[str] = field(default_factory=Counter)  # record_id inside rawData → times
    unattributed_errors: int = 0  # error reports / failed records whose id could not be read
    windows: list[dict[str, Any]] = field(default_factory=list)
    objects: int = 0

    def final_windows(self) -> dict[tuple[str, str, str], dict[str, Any]]:
        """The latest revision of each (scope, window_start, gender)."""
        latest: dict[tuple[str, str, str], dict[str, Any]] = {}
        for w in self.windows:
            key = (w["scope"], w["window_start"], w["gender"])
            if key not in latest or w["revision"] > latest[key]["revision"]:
                latest[key] = w
        return latest


def _lines(store: ObjectStore, uri: S3Uri) -> Iterator[bytes]:
    body = store.read(uri)
    return (line for line in body.splitlines() if line.strip())


def root(cfg: StreamingSettings, bucket: str) -> S3Uri:
    return S3Uri(bucket, cfg.root_prefix)


def read_outputs(store: ObjectStore, cfg: StreamingSettings, bucket: str) -> Outputs:
    out = Outputs()
    failed_prefix = f"{cfg.root_prefix}errors/processing-failed/"
    for uri, _size in store.list(root(cfg, bucket)):
        out.objects += 1
        if uri.key.startswith(failed_prefix):
            for line in _lines(store, uri):
                _failed(out, json.loads(line))
            continue
        for line in _lines(store, uri):
            doc = json.loads(line)
            kind = doc.get("type")
            if kind == "user":
                out.destination[doc["record_id"]] += 1
            elif kind == "window":
                out.windows.append(doc)
            elif kind == "error" and doc.get("record_id"):
                out.errors[doc["record_id"]] += 1
                out.error_reasons[doc["record_id"]] = doc["reason"]
            elif kind == "error":
                out.unattributed_errors += 1
    return out


def _failed(out: Outputs, envelope: dict[str, Any]) -> None:
    try:
        doc = json.loads(base64.b64decode(envelope["rawData"]))
        record_id = doc.get("record_id") if isinstance(doc, dict) else None
    except (ValueError, KeyError):
        record_id = None
    if isinstance(record_id, str):
        out.processing_failed[record_id] += 1
    else:
        out.unattributed_errors += 1


# Objects are compared with the time a run started; S3's clock and this machine's may differ a little.
CLOCK_SLACK_S = 5.0


def read_windows(
    store: ObjectStore, cfg: StreamingSettings, bucket: str, keys: list[str], since: float
) -> Outputs:
    """Only the window aggregates one run delivered: the objects our delivery wrote (``keys``), or, where
    a Firehose delivery stream named its own objects (``firehose:…``), those under the aggregates prefix
    written since the run started."""
    uris = [S3Uri(bucket, key) for key in keys if not key.startswith("firehose:")]
    if len(uris) < len(keys):
        prefix = S3Uri(bucket, f"{cfg.root_prefix}aggregates/")
        uris += [uri for uri, _ in store.list(prefix, modified_since=since - CLOCK_SLACK_S)]
    out = Outputs()
    for uri in dict.fromkeys(uris):
        out.objects += 1
        out.windows += [json.loads(line) for line in _lines(store, uri)]
    return out
