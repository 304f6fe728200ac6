"""The Kinesis data stream: created when missing (idempotent), waited for until ACTIVE."""

from __future__ import annotations

import time
from typing import Any

from botocore.exceptions import ClientError


class StreamError(RuntimeError):
    """The stream is missing or not usable; the message says what to do."""


def ensure_stream(client: Any, name: str, shards: int, timeout_s: float = 60.0) -> int:
    """Create ``name`` with ``shards`` shards unless it exists; returns its open shard count. An existing
    stream keeps its shards (resharding is an operator's decision, not a side effect of a run)."""
    try:
        client.create_stream(StreamName=name, ShardCount=shards)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ResourceInUseException":
            raise
    deadline = time.monotonic() + timeout_s
    while True:
        summary = client.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        if summary["StreamStatus"] == "ACTIVE":
            return int(summary.get("OpenShardCount", shards))
        if time.monotonic() > deadline:
            raise StreamError(f"Kinesis stream {name} is {summary['StreamStatus']} after {timeout_s:.0f} s")
        time.sleep(0.1)


def list_shards(client: Any, name: str) -> list[dict[str, Any]]:
    shards: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"StreamName": name}
    while True:
        try:
            page = client.list_shards(**kwargs)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                raise StreamError(
                    f"Kinesis stream {name} does not exist: create it with `bdml stream produce` or `run`"
                ) from None
            raise
        shards += page["Shards"]
        if not page.get("NextToken"):
            return shards
        kwargs = {"NextToken": page["NextToken"]}
