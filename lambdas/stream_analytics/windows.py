"""Tumbling windows on event time with a watermark and allowed lateness (the semantics of Flink and Spark
Structured Streaming, computed over micro-batches).

- The watermark is the largest event time seen so far minus ``watermark_delay`` (the out-of-orderness we
  wait for). It only moves forward.
- A window ``[start, end)`` fires (is emitted, revision 0) once the watermark reaches ``end``.
- Until the watermark reaches ``end + allowed_lateness`` the window is kept: a late row that still lands in
  it updates it and the window is emitted again with the next revision (downstream keeps the highest).
- A row whose window is past ``end + allowed_lateness`` is *late*: it goes to the error stream (decided in
  sql/event_time.sql from the watermark carried in here).

The state is a JSON-safe dict so both hosts can persist it unchanged: the local consumer in SQLite, the
Lambda host in the tumbling-window ``state`` that AWS hands back on the next invocation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

STATE_VERSION = 1


def iso_ms(epoch_ms: int) -> str:
    """Epoch milliseconds as ISO 8601 UTC with milliseconds and a Z (the format every output uses)."""
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass(frozen=True)
class WindowConfig:
    window_seconds: int = 10
    watermark_delay_seconds: float = 2.0
    allowed_lateness_seconds: float = 5.0
    scope: str = "all-shards"  # what the aggregates cover: all shards (local consumer) or one shard (Lambda)

    @property
    def window_ms(self) -> int:
        return self.window_seconds * 1000


@dataclass
class Window:
    count: int = 0
    sum_age: int = 0
    revision: int = -1  # -1: never emitted
    dirty: bool = True  # changed since it was last emitted


@dataclass
class WindowState:
    config: WindowConfig
    max_event_ms: int | None = None
    windows: dict[tuple[int, str], Window] = field(default_factory=dict)

    # --- time ----------------------------------------------------------------------------------------
    @property
    def watermark_ms(self) -> int | None:
        if self.max_event_ms is None:
            return None
        return self.max_event_ms - int(self.config.watermark_delay_seconds * 1000)

    def observe(self, max_event_ms: int | None) -> None:
        if max_event_ms is not None and (self.max_event_ms is None or max_event_ms > self.max_event_ms):
            self.max_event_ms = max_event_ms

    def advance_to(self, watermark_ms: int) -> None:
        """Move the watermark forward without data (an idle stream): as if an event at ``watermark_ms +
        delay`` had been seen. Never moves it back."""
        self.observe(watermark_ms + int(self.config.watermark_delay_seconds * 1000))

    # --- data ----------------------------------------------------------------------------------------
    def add(self, start_ms: int, gender: str, count: int, sum_age: int) -> None:
        window = self.windows.setdefault((start_ms, gender), Window())
        window.count += count
        window.sum_age += sum_age
        window.dirty = True

    def fire(self, final: bool = False) -> list[dict[str, Any]]:
        """Documents for every window due (watermark past its end) and changed since last emitted; drop
        windows past their lateness. ``final``: end of input (or of a Lambda tumbling window) — emit every
        open window and forget them all."""
        watermark = self.watermark_ms
        lateness_ms = int(self.config.allowed_lateness_seconds * 1000)
        docs = []
        for key in sorted(self.windows):
            start, gender = key
            end = start + self.config.window_ms
            window = self.windows[key]
            due = final or (watermark is not None and end <= watermark)
            if due and window.dirty:
                window.revision += 1
                window.dirty = False
                docs.append(self._doc(start, gender, window))
            if final or (watermark is not None and end + lateness_ms <= watermark):
                del self.windows[key]
        return docs

    def _doc(self, start: int, gender: str, window: Window) -> dict[str, Any]:
        watermark = self.watermark_ms
        return {
            "type": "window",
            "scope": self.config.scope,
            "window_start": iso_ms(start),
            "window_end": iso_ms(start + self.config.window_ms),
            "gender": gender,
            "count": window.count,
            "sum_age": window.sum_age,
            "avg_age": round(window.sum_age / window.count, 3),
            "revision": window.revision,
            "watermark": iso_ms(watermark) if watermark is not None else None,
        }

    # --- persistence (JSON-safe) ---------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "v": STATE_VERSION,
            "max_event_ms": self.max_event_ms,
            "windows": [
                [start, gender, w.count, w.sum_age, w.revision, w.dirty]
                for (start, gender), w in sorted(self.windows.items())
            ],
        }

    @classmethod
    def from_dict(cls, config: WindowConfig, data: dict[str, Any] | None) -> WindowState:
        if not data:
            return cls(config)
        if data.get("v") != STATE_VERSION:
            raise ValueError(f"window state version {data.get('v')!r} is not {STATE_VERSION}")
        state = cls(config, max_event_ms=data.get("max_event_ms"))
        for start, gender, count, sum_age, revision, dirty in data.get("windows", []):
            state.windows[(int(start), str(gender))] = Window(
                int(count), int(sum_age), int(revision), bool(dirty)
            )
        return state

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))
