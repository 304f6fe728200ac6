"""The long-running local Kinesis consumer: the local host of the stream analytics.

Each round reads every open shard once (GetRecords from its checkpoint), runs the analytics over the
records of all shards as one micro-batch, and commits in one SQLite transaction the new checkpoints, the
window state, the ledger (outcome per record id) and the outputs (the delivery outbox); then it lets the
delivery pump move outbox batches to S3. A crash anywhere loses nothing: the next start resumes after the
committed checkpoints, and a record already committed is recognised by its id and not output twice.

Shards: a shard that ends (resharding) is marked finished and its children are read after it, so the
order of records per partition key holds. The consumer honours AWS's 5 GetRecords calls per second per
shard and re-creates iterators that expire (5 minutes).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from lambdas.stream_analytics.engine import Analytics, BatchOutput, window_documents
from lambdas.stream_analytics.events import StreamRecord, from_get_records
from lambdas.stream_analytics.windows import WindowConfig, WindowState
from services.settings import StreamingSettings
from streaming.delivery.base import DeliveryPump
from streaming.state import LedgerEntry, StateStore
from streaming.streams import list_shards

log = logging.getLogger(__name__)
OUTBOX_RETENTION_S = 24 * 3600
RETRYABLE = {"ProvisionedThroughputExceededException", "LimitExceededException", "KMSThrottlingException"}


def window_config(cfg: StreamingSettings) -> WindowConfig:
    return WindowConfig(cfg.window_seconds, cfg.watermark_delay_s, cfg.allowed_lateness_s, "all-shards")


@dataclass
class ConsumerStats:
    records: int = 0
    micro_batches: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    windows_emitted: int = 0
    analytics_seconds: float = 0.0
    started: float = field(default_factory=time.time)

    def add(self, out: BatchOutput) -> None:
        for name, n in out.counts().items():
            self.outcomes[name] = self.outcomes.get(name, 0) + n
        self.windows_emitted += len(out.windows)


class StreamConsumer:
    def __init__(
        self,
        kinesis: Any,
        stream: str,
        cfg: StreamingSettings,
        store: StateStore,
        engine: Analytics,
        pump: DeliveryPump,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.kinesis = kinesis
        self.stream = stream
        self.cfg = cfg
        self.store = store
        self.engine = engine
        self.pump = pump
        self.clock = clock
        self.state = WindowState.from_dict(
            window_config(cfg), json.loads(store.window_state(stream) or "null")
        )
        self.stats = ConsumerStats()
        self.iterators: dict[str, str | None] = {}
        self.parents: dict[str, str | None] = {}
        self.last_call: dict[str, float] = {}
        self.last_record_at = clock()
        self._readers = ThreadPoolExecutor(max_workers=8, thread_name_prefix="kinesis-reader")
        # Delivered outbox rows are evidence for a day (reports, latency), then dropped. The ledger stays:
        # it is the dedupe memory, and a replay can come from as far back as the stream's retention.
        store.prune(OUTBOX_RETENTION_S)
        self._refresh_shards()

    def close(self) -> None:
        self.pump.stop()
        self._readers.shutdown()
        self.engine.close()
        self.store.close()

    # --- shards and iterators ------------------------------------------------------------------------
    def _refresh_shards(self) -> None:
        finished = self.store.finished_shards(self.stream)
        for shard in list_shards(self.kinesis, self.stream):
            shard_id = shard["ShardId"]
            self.parents[shard_id] = shard.get("ParentShardId")
            if shard_id not in finished and shard_id not in self.iterators:
                self.iterators[shard_id] = None

    def _readable(self, shard_id: str) -> bool:
        # A child shard waits until its parent is read to the end (per-key order across a reshard).
        parent = self.parents.get(shard_id)
        return parent is None or parent not in self.iterators

    def _iterator(self, shard_id: str) -> str:
        checkpoint = self.store.checkpoints(self.stream).get(shard_id)
        kwargs: dict[str, Any] = {"StreamName": self.stream, "ShardId": shard_id}
        if checkpoint:
            kwargs.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=checkpoint)
        else:
            kwargs.update(ShardIteratorType=self.cfg.starting_position)
        return str(self.kinesis.get_shard_iterator(**kwargs)["ShardIterator"])

    def _read(self, shard_id: str) -> tuple[list[StreamRecord], bool]:
        """One GetRecords on a shard: (records, shard ended)."""
        wait = self.last_call.get(shard_id, 0.0) + self.cfg.poll_interval_s - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self.last_call[shard_id] = time.monotonic()
        iterator = self.iterators.get(shard_id) or self._iterator(shard_id)
        try:
            response = self.kinesis.get_records(ShardIterator=iterator, Limit=self.cfg.max_batch_records)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "ExpiredIteratorException":
                self.iterators[shard_id] = None  # re-created from the checkpoint next round
                return [], False
            if code in RETRYABLE:
                log.warning("%s on %s; backing off", code, shard_id)
                return [], False
            raise
        self.iterators[shard_id] = response.get("NextShardIterator")
        records = [from_get_records(shard_id, r) for r in response["Records"]]
        return records, response.get("NextShardIterator") is None

    # --- one round -----------------------------------------------------------------------------------
    def poll_once(self) -> int:
        records: list[StreamRecord] = []
        ended: list[str] = []
        shards = [s for s in self.iterators if self._readable(s)]
        # The shards are read in parallel: each call mostly waits on the service.
        for shard_id, (shard_records, done) in zip(
            shards, self._readers.map(self._read, shards), strict=True
        ):
            records += shard_records
            if done:
                ended.append(shard_id)
        if records:
            self.process(records)
        else:
            self._idle_tick()
        if ended:
            checkpoints = self.store.checkpoints(self.stream)
            for shard_id in ended:
                self.store.mark_finished(self.stream, shard_id, checkpoints.get(shard_id))
                del self.iterators[shard_id]
            self._refresh_shards()  # the ended shards' children become readable
        self.pump.check()
        self.pump.kick()
        return len(records)

    def process(self, records: list[StreamRecord]) -> BatchOutput:
        started = time.perf_counter()
        out = self.engine.process(records, self.state, seen=self.store.seen)
        self.stats.analytics_seconds += time.perf_counter() - started
        checkpoints: dict[str, str] = {}
        for r in records:  # per shard, records come in sequence order: the last one is the checkpoint
            checkpoints[r.shard_id] = r.sequence_number
        self._commit(checkpoints, out)
        self.stats.records += len(records)
        self.stats.micro_batches += 1
        self.stats.add(out)
        self.last_record_at = self.clock()
        return out

    def _commit(self, checkpoints: dict[str, str], out: BatchOutput) -> None:
        cfg = self.cfg
        self.store.commit_batch(
            self.stream,
            checkpoints,
            self.state.to_json(),
            [LedgerEntry(o.record_id, o.outcome, o.shard_id, o.sequence_number) for o in out.outcomes],
            {
                cfg.destination.name: out.destination,
                cfg.errors.name: out.errors,
                cfg.aggregates.name: out.windows,
            },
        )

    def _idle_tick(self) -> None:
        """No records this round: after ``idle_watermark_s`` of quiet, let wall-clock time move the
        watermark so the last windows of a quiet stream fire."""
        now = self.clock()
        if now - self.last_record_at < self.cfg.idle_watermark_s:
            return
        before = self.state.watermark_ms
        self.state.advance_to(int((now - self.cfg.idle_watermark_s) * 1000))
        if self.state.watermark_ms != before:
            self._emit_windows(final=False)

    def _emit_windows(self, final: bool) -> None:
        docs = window_documents(self.state.fire(final=final))
        if docs:
            self._commit({}, BatchOutput(windows=docs))
            self.stats.windows_emitted += len(docs)

    # --- loops ---------------------------------------------------------------------------------------
    def caught_up(self, targets: dict[str, str]) -> bool:
        done = self.store.checkpoints(self.stream)
        return all(shard in done and int(done[shard]) >= int(seq) for shard, seq in targets.items())

    def run(self, stop: threading.Event, targets: Callable[[], dict[str, str] | None] | None = None) -> None:
        """Poll until ``stop`` is set, or until the checkpoints reach ``targets()`` (when it gives some)."""
        while not stop.is_set():
            got = self.poll_once()
            wanted = targets() if targets else None
            if wanted is not None and self.caught_up(wanted):
                return
            if not got:
                stop.wait(self.cfg.poll_interval_s)

    def end_of_input(self) -> None:
        """A bounded run ended: emit every open window (as Flink and Spark do at the end of bounded input)."""
        self._emit_windows(final=True)

    def finish(self) -> None:
        """End the input and deliver everything: what a graceful stop, the end of a run, and a run taking
        over an earlier session's open windows all do."""
        self.end_of_input()
        self.drain()

    def drain(self, timeout_s: float = 960.0) -> None:
        """Deliver everything in the outbox, honouring the buffering hints (waits out the interval)."""
        deadline = time.monotonic() + timeout_s
        while self.store.undelivered():
            self.pump.check()
            self.pump.kick()
            if not self.store.undelivered():
                return
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{self.store.undelivered()} records still undelivered after {timeout_s:.0f} s"
                )
            time.sleep(0.05)  # the pump thread delivers as the hints allow
