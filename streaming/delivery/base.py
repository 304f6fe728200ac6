"""The delivery interface and the pump that drives it from the outbox."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Protocol

from services.settings import DeliveryStreamConfig
from streaming.state import OutboxBatch, Pending, StateStore


@dataclass
class Receipt:
    """What became of one outbox batch."""

    ok: int = 0  # written to the destination prefix (or accepted by Firehose)
    dropped: int = 0  # Dropped by the transform (repeats)
    failed: int = 0  # written under the error prefix
    keys: list[str] = field(default_factory=list)
    requeue: list[int] = field(default_factory=list)  # outbox rows to send again later


class Delivery(Protocol):
    config: DeliveryStreamConfig

    def max_batch_bytes(self) -> int:
        """The most bytes one batch (one S3 object, or one round of calls) takes from the outbox."""
        ...

    def due(self, pending: Pending, now: float) -> bool:
        """Whether pending records should go now (the buffering hints, for a delivery stream of ours)."""
        ...

    def deliver(self, batch: OutboxBatch) -> Receipt:
        """Deliver every record of the batch, or raise (the batch stays claimed and is retried as is)."""
        ...


@dataclass
class PumpStats:
    batches: int = 0
    ok: int = 0
    dropped: int = 0
    failed: int = 0


class DeliveryPump:
    """Moves outbox batches to their deliveries: inline (``pump``), or in a background thread (``start``)
    so that transform invocations and S3 writes overlap with reading and analysing the next records.
    It needs a StateStore of its own (one SQLite connection per thread)."""

    def __init__(self, store: StateStore, deliveries: dict[str, Delivery]) -> None:
        self.store = store
        self.deliveries = deliveries
        self.stats: dict[str, PumpStats] = {name: PumpStats() for name in deliveries}
        self.error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()

    # --- background mode -----------------------------------------------------------------------------
    def start(self) -> DeliveryPump:
        self._thread = threading.Thread(target=self._loop, name="delivery-pump", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.pump()
            except BaseException as exc:  # reported to the consumer by check(); the outbox keeps the data
                self.error = exc
                return
            self._wake.wait(min(0.2, self.next_due_in() or 0.2))
            self._wake.clear()

    def kick(self) -> None:
        """New records in the outbox: deliver what is due now (in the background when started)."""
        if self._thread is None:
            self.pump()
        else:
            self._wake.set()

    def check(self) -> None:
        if self.error is not None:
            raise RuntimeError(f"delivery failed: {type(self.error).__name__}: {self.error}") from self.error

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def pump(self, now: float | None = None) -> int:
        delivered = 0
        for name, delivery in self.deliveries.items():
            # A batch claimed before a crash goes first, unchanged (same id, same S3 key).
            batch = self.store.open_batch(name)
            while batch is not None or delivery.due(self.store.pending(name), now or time.time()):
                batch = batch or self.store.claim(name, delivery.max_batch_bytes())
                if batch is None:
                    break
                started = time.time()
                receipt = delivery.deliver(batch)
                self.store.complete(
                    batch, started, receipt.ok, receipt.dropped, receipt.failed, receipt.keys, receipt.requeue
                )
                stats = self.stats[name]
                stats.batches += 1
                stats.ok += receipt.ok
                stats.dropped += receipt.dropped
                stats.failed += receipt.failed
                delivered += len(batch.records)
                batch = None
        return delivered

    def next_due_in(self, now: float | None = None) -> float | None:
        """Seconds until some pending batch becomes due by interval (None: nothing pending)."""
        now = now or time.time()
        waits = []
        for name, delivery in self.deliveries.items():
            pending = self.store.pending(name)
            if pending.records and pending.oldest_enqueued is not None:
                waits.append(max(0.0, pending.oldest_enqueued + delivery.config.buffering.interval_s - now))
        return min(waits) if waits else None
