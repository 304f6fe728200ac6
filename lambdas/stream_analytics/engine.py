"""The analytics engine: DuckDB runs the SQL files over one micro-batch of Kinesis records and sorts every
record into exactly one outcome:

    destination  mapped, on time, selected by the destination query (sql/destination.sql)
    filtered     mapped, on time, not selected by it (under 21)
    error        could not be parsed or mapped (the reason names the JSON path and the value)
    late         mapped, but its window closed before this batch (event time behind the watermark)
    duplicate    a record id already processed (earlier in this batch, or before: the host's ``seen``)

Window aggregates come out of the window state (windows.py) as windows fire.
"""

from __future__ import annotations

import base64
import json
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import duckdb

from .events import StreamRecord
from .mapping import flag_duplicates_sql, load_columns, mapped_table_sql, read_sql
from .windows import WindowConfig, WindowState, iso_ms

RAW_EXCERPT_BYTES = 2048  # of a malformed record, kept in its error report (the evidence, not the bulk)
ISO = "%Y-%m-%dT%H:%M:%S.%gZ"
OUTCOMES = ("destination", "filtered", "error", "late", "duplicate")

SeenLookup = Callable[[list[str]], set[str]]


@dataclass(frozen=True)
class Outcome:
    record_id: str | None  # None only for a record too broken to carry a readable id
    outcome: str
    shard_id: str
    sequence_number: str


class Document(NamedTuple):
    record_id: str | None  # the record it reports on (None for window aggregates)
    data: bytes  # one JSON document


@dataclass
class BatchOutput:
    destination: list[Document] = field(default_factory=list)
    errors: list[Document] = field(default_factory=list)
    windows: list[Document] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(OUTCOMES, 0)
        for o in self.outcomes:
            counts[o.outcome] += 1
        return counts


def window_documents(docs: list[dict[str, Any]]) -> list[Document]:
    return [
        Document(None, json.dumps(d, separators=(",", ":"), ensure_ascii=False).encode("utf-8")) for d in docs
    ]


class Analytics:
    """One DuckDB connection (in memory) reused across micro-batches; not thread-safe."""

    def __init__(self, config: WindowConfig, threads: int = 1) -> None:
        self.config = config
        self.con = duckdb.connect(config={"threads": threads})
        self.con.execute("SET TimeZone = 'UTC'")
        self._mapped_sql = mapped_table_sql(load_columns(self.con))
        self._event_time_sql = read_sql("event_time.sql")
        self._destination_sql = read_sql("destination.sql")
        self._windows_sql = read_sql("window_aggregates.sql")
        # The batch reaches DuckDB as a file its CSV reader takes in one pass: no pyarrow/pandas to ship
        # in the Lambda zip, and binding Python lists as parameters is ~50x slower.
        self._dir = Path(tempfile.mkdtemp(prefix="bdml-analytics-"))
        self._batch_file = self._dir / "batch.tsv"

    def close(self) -> None:
        self.con.close()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> Analytics:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- one micro-batch -----------------------------------------------------------------------------
    def process(
        self, records: Sequence[StreamRecord], state: WindowState, seen: SeenLookup | None = None
    ) -> BatchOutput:
        if not records:
            return BatchOutput(windows=window_documents(state.fire()))
        self._load(records)
        self.con.execute(self._mapped_sql)
        self._flag_duplicates(seen)
        watermark = state.watermark_ms
        self.con.execute(f"SET VARIABLE window_seconds = {int(self.config.window_seconds)}")
        self.con.execute(
            f"SET VARIABLE allowed_lateness_seconds = {float(self.config.allowed_lateness_seconds)}"
        )
        self.con.execute(
            "SET VARIABLE watermark = "
            + ("'-infinity'::TIMESTAMP" if watermark is None else f"make_timestamp({watermark * 1000})")
        )
        self.con.execute(self._event_time_sql)
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE destination_rows AS {self._destination_sql}")
        out = BatchOutput(destination=self._destination_docs(), errors=self._error_docs())
        out.outcomes = self._outcomes()
        for start_ms, gender, n, sum_age in self.con.execute(self._windows_sql).fetchall():
            state.add(int(start_ms), str(gender), int(n), int(sum_age))
        (max_event,) = self.con.execute(
            "SELECT epoch_ms(max(event_time)) FROM classified WHERE outcome = 'accepted'"
        ).fetchone() or (None,)
        state.observe(None if max_event is None else int(max_event))
        out.windows = window_documents(state.fire())
        return out

    def _load(self, records: Sequence[StreamRecord]) -> None:
        # One TSV line per record with the payload in base64: no escaping to get wrong, and base64 is
        # several times cheaper in Python than re-encoding the payload as a JSON string.
        lines = []
        for pos, r in enumerate(records):
            try:
                r.data.decode("utf-8")
                utf8, payload = 1, base64.b64encode(r.data).decode("ascii")
            except UnicodeDecodeError:
                utf8, payload = 0, ""  # reported by the mapping as malformed, with its size
            lines.append(
                f"{pos}\t{r.shard_id}\t{r.sequence_number}\t{r.arrival_ms}\t{len(r.data)}\t{utf8}\t{payload}\n"
            )
        self._batch_file.write_text("".join(lines), encoding="ascii")
        path = str(self._batch_file).replace("'", "''")
        self.con.execute(
            "CREATE OR REPLACE TEMP TABLE raw_batch AS"
            " SELECT pos, shard_id, sequence_number, arrival_ms, nbytes,"
            " CASE WHEN utf8 THEN decode(from_base64(payload)) END AS data"
            f" FROM read_csv('{path}', delim = '\t', header = false, quote = '', escape = '',"
            " columns = {pos: 'INTEGER', shard_id: 'VARCHAR', sequence_number: 'VARCHAR',"
            " arrival_ms: 'BIGINT', nbytes: 'BIGINT', utf8: 'BOOLEAN', payload: 'VARCHAR'})"
        )

    def _flag_duplicates(self, seen: SeenLookup | None) -> None:
        self.con.execute("CREATE OR REPLACE TEMP TABLE seen_ids (record_id VARCHAR)")
        if seen is not None:
            ids = [
                str(i)
                for (i,) in self.con.execute(
                    "SELECT DISTINCT any_record_id FROM mapped WHERE any_record_id IS NOT NULL"
                ).fetchall()
            ]
            repeats = sorted(seen(ids)) if ids else []
            if repeats:
                self.con.executemany("INSERT INTO seen_ids VALUES (?)", [(i,) for i in repeats])
        self.con.execute(flag_duplicates_sql())

    def _destination_docs(self) -> list[Document]:
        # The projection is whatever destination.sql selects; only the wire format is fixed here.
        rows = self.con.execute(
            "SELECT d.record_id, to_json(d) FROM (SELECT 'user' AS type, * REPLACE ("
            f"strftime(event_time, '{ISO}') AS event_time, CAST(record_id AS VARCHAR) AS record_id)"
            " FROM destination_rows) AS d"
        ).fetchall()
        return [Document(str(rid), str(doc).encode("utf-8")) for rid, doc in rows]

    def _error_docs(self) -> list[Document]:
        lateness = float(self.config.allowed_lateness_seconds)
        rows = self.con.execute(
            f"""
            SELECT any_record_id, to_json({{
                'type': 'error',
                'record_id': any_record_id,
                'stage': 'analytics',
                'reason_code': split_part(reason, ':', 1),
                'reason': reason,
                'shard_id': shard_id,
                'sequence_number': sequence_number,
                'arrival': strftime(make_timestamp(arrival_ms * 1000), '{ISO}'),
                'raw_bytes': nbytes,
                'raw': left(data, {RAW_EXCERPT_BYTES})
            }})
            FROM (
                SELECT *, CASE WHEN outcome = 'late' THEN
                    'late: event_time ' || strftime(event_time, '{ISO}') || ' is in window ['
                    || strftime(window_start, '{ISO}') || ', ' || strftime(window_end, '{ISO}')
                    || ') that closed before watermark ' || strftime(getvariable('watermark'), '{ISO}')
                    || ' (allowed lateness {lateness:g} s)'
                ELSE error END AS reason
                FROM classified WHERE outcome IN ('error', 'late')
            )
            ORDER BY pos
            """
        ).fetchall()
        return [Document(None if rid is None else str(rid), str(doc).encode("utf-8")) for rid, doc in rows]

    def _outcomes(self) -> list[Outcome]:
        rows = self.con.execute(
            """
            SELECT c.any_record_id, CASE
                    WHEN c.outcome <> 'accepted' THEN c.outcome
                    WHEN d.record_id IS NOT NULL THEN 'destination'
                    ELSE 'filtered' END,
                c.shard_id, c.sequence_number
            FROM classified c LEFT JOIN destination_rows d ON d.record_id = c.record_id
            ORDER BY c.pos
            """
        ).fetchall()
        return [Outcome(None if i is None else str(i), str(o), str(s), str(q)) for i, o, s, q in rows]


def describe_watermark(state: WindowState) -> str:
    watermark = state.watermark_ms
    return "none yet" if watermark is None else iso_ms(watermark)
