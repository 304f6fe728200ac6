"""Batch limits and retries shared by every batch writer: the Kinesis producer (put_records) and both
Firehose senders (put_record_batch). Standard library only (it ships in the analytics Lambda zip)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


def chunks(items: Sequence[T], max_count: int, max_bytes: int, size: Callable[[T], int]) -> Iterator[list[T]]:
    """Consecutive runs of ``items`` with at most ``max_count`` items and ``max_bytes`` bytes each. An item
    larger than ``max_bytes`` on its own is the caller's to reject before (it would never fit)."""
    batch: list[T] = []
    total = 0
    for item in items:
        n = size(item)
        if batch and (len(batch) >= max_count or total + n > max_bytes):
            yield batch
            batch, total = [], 0
        batch.append(item)
        total += n
    if batch:
        yield batch


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with full jitter (sleep a random time in [0, min(cap, base * 2**attempt)]): the
    retries of many writers spread out instead of hitting a throttled shard together."""

    base_s: float = 0.05
    cap_s: float = 5.0
    max_attempts: int = 8

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        ceiling = min(self.cap_s, self.base_s * (2**attempt))
        return (rng or random).uniform(0, ceiling)

    def sleep(
        self, attempt: int, rng: random.Random | None = None, sleeper: Callable[[float], None] = time.sleep
    ) -> float:
        seconds = self.delay(attempt, rng)
        sleeper(seconds)
        return seconds


DEFAULT_BACKOFF = Backoff()
