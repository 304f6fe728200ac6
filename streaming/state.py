"""The consumer's durable state in one SQLite file (WAL): shard checkpoints, window state, the ledger of
processed record ids (outcome per id: the dedupe table and the reconciliation's evidence) and the outbox
of documents waiting for delivery.

One transaction per micro-batch covers all four, so after a crash (even SIGKILL) the consumer resumes from
a checkpoint that matches exactly the outputs already queued: a replayed record either was committed (and
is then a duplicate, by id) or was not (and is processed once now). The outbox is the delivery streams'
durable buffer; a batch claimed from it keeps its id and S3 key until it is delivered, so delivering it
again after a crash overwrites the same object instead of writing a second one.

WAL with synchronous=NORMAL survives a killed process; only a power loss could lose the last commits,
which Kinesis (24 h retention) then replays.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS checkpoints (
    stream TEXT NOT NULL, shard_id TEXT NOT NULL, sequence_number TEXT NOT NULL,
    finished INTEGER NOT NULL DEFAULT 0, updated_at REAL NOT NULL,
    PRIMARY KEY (stream, shard_id));
CREATE TABLE IF NOT EXISTS window_state (
    stream TEXT PRIMARY KEY, state TEXT NOT NULL, updated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS ledger (
    record_id TEXT PRIMARY KEY, outcome TEXT NOT NULL, shard_id TEXT, sequence_number TEXT,
    processed_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS unattributed (
    shard_id TEXT NOT NULL, sequence_number TEXT NOT NULL, outcome TEXT NOT NULL, processed_at REAL NOT NULL,
    PRIMARY KEY (shard_id, sequence_number));
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT, delivery TEXT NOT NULL, record_id TEXT, data BLOB NOT NULL,
    enqueued_at REAL NOT NULL, batch_id TEXT);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (delivery, batch_id, id);
CREATE TABLE IF NOT EXISTS batches (
    batch_id TEXT PRIMARY KEY, delivery TEXT NOT NULL, created_at REAL NOT NULL,
    oldest_enqueued REAL NOT NULL,
    records INTEGER NOT NULL, bytes INTEGER NOT NULL,
    delivered_at REAL, started_at REAL, ok INTEGER, dropped INTEGER, failed INTEGER, keys TEXT);
"""


@dataclass(frozen=True)
class Pending:
    records: int
    bytes: int
    oldest_enqueued: float | None


@dataclass(frozen=True)
class OutboxRecord:
    row_id: int
    record_id: str | None
    data: bytes
    enqueued_at: float


@dataclass(frozen=True)
class OutboxBatch:
    batch_id: str
    delivery: str
    oldest_enqueued: float
    records: tuple[OutboxRecord, ...]


@dataclass(frozen=True)
class LedgerEntry:
    record_id: str | None
    outcome: str
    shard_id: str
    sequence_number: str


class StateStore:
    """Not shared between threads: each thread opens its own (SQLite serialises the writers)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(path, timeout=60, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # --- checkpoints and window state ----------------------------------------------------------------
    def checkpoints(self, stream: str) -> dict[str, str]:
        rows = self.db.execute(
            "SELECT shard_id, sequence_number FROM checkpoints WHERE stream = ?", (stream,)
        )
        return dict(rows.fetchall())

    def finished_shards(self, stream: str) -> set[str]:
        rows = self.db.execute(
            "SELECT shard_id FROM checkpoints WHERE stream = ? AND finished = 1", (stream,)
        )
        return {r[0] for r in rows.fetchall()}

    def window_state(self, stream: str) -> str | None:
        row = self.db.execute("SELECT state FROM window_state WHERE stream = ?", (stream,)).fetchone()
        return row[0] if row else None

    def mark_finished(self, stream: str, shard_id: str, sequence_number: str | None) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO checkpoints VALUES (?, ?, ?, 1, ?) ON CONFLICT (stream, shard_id) DO UPDATE"
                " SET finished = 1, updated_at = excluded.updated_at",
                (stream, shard_id, sequence_number or "", time.time()),
            )

    # --- dedupe --------------------------------------------------------------------------------------
    def seen(self, record_ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(record_ids), 900):  # under SQLite's bound-parameter limit
            chunk = record_ids[start : start + 900]
            marks = ",".join("?" * len(chunk))
            rows = self.db.execute(f"SELECT record_id FROM ledger WHERE record_id IN ({marks})", chunk)
            found.update(r[0] for r in rows.fetchall())
        return found

    # --- the per-micro-batch commit ------------------------------------------------------------------
    def commit_batch(
        self,
        stream: str,
        checkpoints: dict[str, str],
        window_state: str,
        outcomes: Iterable[LedgerEntry],
        outbox: dict[str, Sequence[tuple[str | None, bytes]]],
    ) -> None:
        now = time.time()
        with self.transaction() as db:
            db.executemany(
                "INSERT INTO checkpoints VALUES (?, ?, ?, 0, ?) ON CONFLICT (stream, shard_id) DO UPDATE"
                " SET sequence_number = excluded.sequence_number, updated_at = excluded.updated_at",
                [(stream, shard, seq, now) for shard, seq in checkpoints.items()],
            )
            db.execute("INSERT OR REPLACE INTO window_state VALUES (?, ?, ?)", (stream, window_state, now))
            attributed, unattributed = [], []
            for o in outcomes:
                if o.outcome == "duplicate":
                    continue  # the first occurrence holds the id's outcome
                if o.record_id is None:
                    unattributed.append((o.shard_id, o.sequence_number, o.outcome, now))
                else:
                    attributed.append((o.record_id, o.outcome, o.shard_id, o.sequence_number, now))
            db.executemany("INSERT OR IGNORE INTO ledger VALUES (?, ?, ?, ?, ?)", attributed)
            db.executemany("INSERT OR IGNORE INTO unattributed VALUES (?, ?, ?, ?)", unattributed)
            self._enqueue(db, outbox, now)

    def record_rejects(self, delivery: str, rejects: Sequence[tuple[str, bytes]]) -> int:
        """Producer-side rejects: into the ledger (as errors) and the error outbox, once per record id."""
        now = time.time()
        with self.transaction() as db:
            fresh = []
            for record_id, doc in rejects:
                cur = db.execute(
                    "INSERT OR IGNORE INTO ledger VALUES (?, 'error', NULL, NULL, ?)", (record_id, now)
                )
                if cur.rowcount:
                    fresh.append((record_id, doc))
            self._enqueue(db, {delivery: fresh}, now)
        return len(fresh)

    @staticmethod
    def _enqueue(
        db: sqlite3.Connection, outbox: dict[str, Sequence[tuple[str | None, bytes]]], now: float
    ) -> None:
        for delivery, docs in outbox.items():
            db.executemany(
                "INSERT INTO outbox (delivery, record_id, data, enqueued_at) VALUES (?, ?, ?, ?)",
                [(delivery, rid, data, now) for rid, data in docs],
            )

    # --- the outbox ----------------------------------------------------------------------------------
    def pending(self, delivery: str) -> Pending:
        n, size, oldest = self.db.execute(
            "SELECT count(*), coalesce(sum(length(data)), 0), min(enqueued_at) FROM outbox"
            " WHERE delivery = ? AND batch_id IS NULL",
            (delivery,),
        ).fetchone()
        return Pending(int(n), int(size), oldest)

    def open_batch(self, delivery: str) -> OutboxBatch | None:
        """A batch claimed earlier but not delivered (a crash between claim and delivery)."""
        row = self.db.execute(
            "SELECT batch_id FROM batches WHERE delivery = ? AND delivered_at IS NULL"
            " ORDER BY created_at LIMIT 1",
            (delivery,),
        ).fetchone()
        return self._load_batch(row[0]) if row else None

    def claim(self, delivery: str, max_bytes: int) -> OutboxBatch | None:
        """The oldest pending records up to ``max_bytes`` (at least one) as a new batch."""
        rows = self.db.execute(
            "SELECT id, length(data) FROM outbox WHERE delivery = ? AND batch_id IS NULL ORDER BY id",
            (delivery,),
        )
        last_id, total, count = None, 0, 0
        for row_id, size in rows:
            if count and total + size > max_bytes:
                break
            last_id, total, count = row_id, total + size, count + 1
        rows.close()
        if last_id is None:
            return None
        batch_id = uuid.uuid4().hex
        with self.transaction() as db:
            db.execute(
                "UPDATE outbox SET batch_id = ? WHERE delivery = ? AND batch_id IS NULL AND id <= ?",
                (batch_id, delivery, last_id),
            )
            oldest = db.execute(
                "SELECT min(enqueued_at) FROM outbox WHERE batch_id = ?", (batch_id,)
            ).fetchone()[0]
            db.execute(
                "INSERT INTO batches (batch_id, delivery, created_at, oldest_enqueued, records, bytes)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (batch_id, delivery, time.time(), oldest, count, total),
            )
        return self._load_batch(batch_id)

    def _load_batch(self, batch_id: str) -> OutboxBatch:
        delivery, oldest = self.db.execute(
            "SELECT delivery, oldest_enqueued FROM batches WHERE batch_id = ?", (batch_id,)
        ).fetchone()
        rows = self.db.execute(
            "SELECT id, record_id, data, enqueued_at FROM outbox WHERE batch_id = ? ORDER BY id", (batch_id,)
        ).fetchall()
        return OutboxBatch(batch_id, delivery, oldest, tuple(OutboxRecord(*r) for r in rows))

    def complete(
        self,
        batch: OutboxBatch,
        started_at: float,
        ok: int,
        dropped: int,
        failed: int,
        keys: Sequence[str],
        requeue: Sequence[int] = (),
    ) -> None:
        """Mark a batch delivered; rows in ``requeue`` (a sender's leftovers) go back to pending."""
        with self.transaction() as db:
            db.execute(
                "UPDATE batches SET delivered_at = ?, started_at = ?, ok = ?, dropped = ?, failed = ?,"
                " keys = ? WHERE batch_id = ?",
                (time.time(), started_at, ok, dropped, failed, "\n".join(keys), batch.batch_id),
            )
            db.executemany("UPDATE outbox SET batch_id = NULL WHERE id = ?", [(i,) for i in requeue])

    def undelivered(self) -> int:
        (n,) = self.db.execute(
            "SELECT count(*) FROM outbox o LEFT JOIN batches b USING (batch_id) WHERE b.delivered_at IS NULL"
        ).fetchone()
        return int(n)

    # --- reading the evidence ------------------------------------------------------------------------
    def outcomes(self, record_ids: Iterable[str] | None = None) -> dict[str, str]:
        if record_ids is None:
            return dict(self.db.execute("SELECT record_id, outcome FROM ledger").fetchall())
        ids = list(record_ids)
        found: dict[str, str] = {}
        for start in range(0, len(ids), 900):
            chunk = ids[start : start + 900]
            marks = ",".join("?" * len(chunk))
            found.update(
                self.db.execute(
                    f"SELECT record_id, outcome FROM ledger WHERE record_id IN ({marks})", chunk
                ).fetchall()
            )
        return found

    def unattributed_count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM unattributed").fetchone()[0])

    def delivery_times(self, delivery: str, since: float = 0.0) -> list[tuple[str, float, float, float]]:
        """(record_id, enqueued_at, batch started_at, batch delivered_at) of delivered records."""
        return self.db.execute(
            "SELECT o.record_id, o.enqueued_at, b.started_at, b.delivered_at FROM outbox o JOIN batches b"
            " USING (batch_id) WHERE o.delivery = ? AND b.delivered_at IS NOT NULL AND o.enqueued_at >= ?"
            " AND o.record_id IS NOT NULL",
            (delivery, since),
        ).fetchall()

    def keys_since(self, delivery: str, since: float) -> list[str]:
        """S3 keys written by batches of ``delivery`` delivered at or after ``since``."""
        rows = self.db.execute(
            "SELECT keys FROM batches WHERE delivery = ? AND delivered_at >= ? AND keys IS NOT NULL",
            (delivery, since),
        ).fetchall()
        return [k for (keys,) in rows for k in keys.split("\n") if k]

    def prune(self, older_than_s: float) -> int:
        """Forget delivered outbox rows older than ``older_than_s`` (the ledger is kept for dedupe)."""
        cutoff = time.time() - older_than_s
        with self.transaction() as db:
            old = [r[0] for r in db.execute("SELECT batch_id FROM batches WHERE delivered_at < ?", (cutoff,))]
            db.executemany("DELETE FROM outbox WHERE batch_id = ?", [(b,) for b in old])
            db.executemany("DELETE FROM batches WHERE batch_id = ?", [(b,) for b in old])
        return len(old)
