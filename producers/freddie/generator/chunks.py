"""Chunks of a file in parallel, in file order: columns → CSV bytes (Arrow) → dirty lines spliced in."""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from producers.freddie.generator.dirt import DIRTY_KINDS, NEWLINE, DirtyPlan, Targets, corrupt, targets_for
from producers.freddie.generator.rows import (
    Histories,
    draw_histories,
    draw_loans,
    history_weight,
    origination_columns,
    performance_columns,
)
from producers.freddie.generator.values import S_ORIG, S_PERF, Ints, string_offsets
from producers.freddie.layouts import Layout

# --- chunks: columns → CSV bytes → dirty lines spliced in --------------------------------------------
_WRITE_OPTIONS = pacsv.WriteOptions(include_header=False, delimiter="|", quoting_style="none")
WRITE_BUFFER = 1 << 22  # the pieces between dirty lines are small: batch them into few system calls

CHUNK_ROWS = 1 << 17  # part of the output's identity: changing it changes the bytes for a given seed


@dataclass
class _Chunk:
    parts: list[Any]  # buffers and bytes, in file order
    lines: int


def _line_spans(columns: Sequence[pa.Array], rows: Ints) -> tuple[Ints, Ints]:
    """Byte [start, end) of the given rows in the written CSV, end including the '\\n' (from the string
    offsets: each row is its values plus one delimiter or line end per field)."""
    width = len(columns)
    start, end = rows * width, (rows + 1) * width
    for column in columns:
        offsets = string_offsets(column)
        start = start + (offsets[rows] - offsets[0])
        end = end + (offsets[rows + 1] - offsets[0])
    return start, end


def _assemble(
    columns: Sequence[pa.Array], dirty: tuple[Ints, Ints], targets: Targets, rnd: random.Random
) -> _Chunk:
    table = pa.Table.from_arrays(list(columns), names=[str(i) for i in range(len(columns))])
    sink = pa.BufferOutputStream()
    pacsv.write_csv(table, sink, _WRITE_OPTIONS)
    data = sink.getvalue()
    rows, kinds = dirty
    if not len(rows):
        return _Chunk([data], table.num_rows)
    view = memoryview(data)
    parts: list[Any] = []
    previous = 0
    for start, end, kind in zip(*_line_spans(columns, rows), kinds.tolist(), strict=True):
        if view[end - 1] != 10:
            raise RuntimeError("line spans out of step with the written bytes")
        parts.append(view[previous:start])
        parts.append(corrupt(bytes(view[start : end - 1]), DIRTY_KINDS[kind], targets, rnd) + b"\n")
        previous = int(end)
    parts.append(view[previous:])
    newlines = int(np.count_nonzero(kinds == NEWLINE))
    return _Chunk(parts, table.num_rows + newlines)


ChunkTask = Callable[[], _Chunk]


def origination_tasks(layout: Layout, plan: DirtyPlan, seed: int) -> Iterator[ChunkTask]:
    targets = targets_for(layout)
    for chunk, start in enumerate(range(0, plan.logical_rows, CHUNK_ROWS)):
        stop = min(start + CHUNK_ROWS, plan.logical_rows)

        def task(chunk: int = chunk, start: int = start, stop: int = stop) -> _Chunk:
            loans = draw_loans(seed, chunk, start, stop - start, plan.logical_rows)
            columns = origination_columns(layout, loans, np.random.default_rng([seed, S_ORIG, chunk]))
            rnd = random.Random(f"{seed}:origination:{chunk}")
            return _assemble(columns, plan.within(start, stop), targets, rnd)

        yield task


def performance_tasks(layout: Layout, plan: DirtyPlan, seed: int, loans: int) -> Iterator[ChunkTask]:
    """Performance rows are spread over the loans a loan chunk at a time (each chunk's share in
    proportion to the months its loans can have been observed), then cut into chunks of at most
    CHUNK_ROWS rows."""
    targets = targets_for(layout)
    total = plan.logical_rows
    firsts = range(0, loans, CHUNK_ROWS)
    weights = [history_weight(first, min(first + CHUNK_ROWS, loans), loans) for first in firsts]
    cumulative = [0, *accumulate(weights)]
    bounds = [total * weight // max(cumulative[-1], 1) for weight in cumulative]
    for chunk, first in enumerate(firsts):
        last = min(first + CHUNK_ROWS, loans)
        base = bounds[chunk]
        rows = bounds[chunk + 1] - base
        if rows == 0:
            continue
        hist = draw_histories(seed, chunk, draw_loans(seed, chunk, first, last - first, loans), rows)
        parts = -(-rows // CHUNK_ROWS)  # equal parts: no sliver chunk when rows is a little over
        for part in range(parts):
            start, stop = rows * part // parts, rows * (part + 1) // parts

            def task(chunk: int = chunk, part: int = part, start: int = start, stop: int = stop,
                     hist: Histories = hist, base: int = base) -> _Chunk:  # fmt: skip
                rng = np.random.default_rng([seed, S_PERF, chunk, part])
                columns = performance_columns(layout, hist, start, stop, rng)
                rnd = random.Random(f"{seed}:performance:{chunk}:{part}")
                return _assemble(columns, plan.within(base + start, base + stop), targets, rnd)

            yield task


def in_order(tasks: Iterator[ChunkTask], workers: int) -> Iterator[_Chunk]:
    """Run tasks on a small thread pool (numpy and Arrow release the GIL), yielding results in order
    with a bounded number in flight, so memory stays at a few chunks."""
    if workers <= 1:
        for task in tasks:
            yield task()
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="freddie-gen") as pool:
        pending: deque[Future[_Chunk]] = deque()
        for task in tasks:
            pending.append(pool.submit(task))
            if len(pending) > workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
