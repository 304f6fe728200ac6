"""Dirty rows: which lines of a file are spoiled and how (`DirtyKind`), so that the HQL validation has
something to reject and the job knows exactly how many lines it must."""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from producers.freddie.generator.values import S_DIRTY, Ints
from producers.freddie.layouts import CANONICAL, Kind, Layout


class DirtyKind(StrEnum):
    FIELD_COUNT = "field_count"  # a field missing or one extra
    BAD_YYYYMM = "bad_yyyymm"  # 201713, 2017-3 ... in a date field
    NON_NUMERIC = "non_numeric"  # N/A, 7O0 ... in an int/decimal field
    TRAILING_WHITESPACE_NUMERIC = "trailing_whitespace_numeric"  # '720  ': numbers are never trimmed
    EMBEDDED_DELIMITER = "embedded_delimiter"  # a '|' inside a name → one field too many
    EMBEDDED_NEWLINE = "embedded_newline"  # a '\n' inside a text field → two short physical lines


DIRTY_KINDS: tuple[DirtyKind, ...] = tuple(DirtyKind)
NEWLINE = DIRTY_KINDS.index(DirtyKind.EMBEDDED_NEWLINE)


# --- dirty rows ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DirtyPlan:
    """Which logical rows of a file are replaced by a dirty variant, and by which kind."""

    lines: int  # physical lines of the file
    rows: Ints  # logical row numbers, ascending
    kinds: Ints  # index into DIRTY_KINDS

    @property
    def newlines(self) -> int:
        return int(np.count_nonzero(self.kinds == NEWLINE))

    @property
    def logical_rows(self) -> int:
        return self.lines - self.newlines

    @property
    def expected_rejects(self) -> int:
        return len(self.rows) + self.newlines

    def by_kind(self) -> dict[str, int]:
        counts = np.bincount(self.kinds, minlength=len(DIRTY_KINDS))
        return {kind.value: int(count) for kind, count in zip(DIRTY_KINDS, counts, strict=True)}

    def within(self, start: int, stop: int) -> tuple[Ints, Ints]:
        lo, hi = np.searchsorted(self.rows, [start, stop])
        return self.rows[lo:hi] - start, self.kinds[lo:hi]


def plan_dirty(lines: int, share: float, seed: int, kind: Kind) -> DirtyPlan:
    rng = np.random.default_rng([seed, S_DIRTY, list(Kind).index(kind)])
    count = round(lines * share)
    kinds = rng.integers(0, len(DIRTY_KINDS), count)
    newline = np.flatnonzero(kinds == NEWLINE)
    excess = count + len(newline) - lines  # each embedded newline needs a second line
    if excess > 0:
        kinds[newline[len(newline) - excess :]] = DIRTY_KINDS.index(DirtyKind.FIELD_COUNT)
    logical = lines - int(np.count_nonzero(kinds == NEWLINE))
    # One dirty row per stratum of the file: spread evenly, positions jittered by the seed.
    j = np.arange(count, dtype=np.int64)
    lo, hi = j * logical // max(count, 1), (j + 1) * logical // max(count, 1)
    rows = lo + np.floor(rng.random(count) * (hi - lo)).astype(np.int64)
    return DirtyPlan(lines, rows, kinds.astype(np.int64))


@dataclass(frozen=True)
class Targets:
    """Where each kind may strike. Value faults hit only fields the job validates (the canonical ones)."""

    dates: tuple[int, ...]
    numbers: tuple[int, ...]
    names: tuple[int, ...]  # a '|' here adds a field
    splittable: tuple[int, ...]  # text fields neither first nor last: both halves get a wrong count


def targets_for(layout: Layout) -> Targets:
    canonical = {f.name for f in CANONICAL[layout.kind]}
    checked = [(i, f) for i, f in enumerate(layout.fields) if f.name in canonical]
    text = [i for i, f in enumerate(layout.fields) if f.type == "text" and f.name != "id_loan"]
    names = [i for i, f in enumerate(layout.fields) if f.name in ("seller_name", "servicer_name")]
    inner = [i for i in (names or text) if 0 < i < layout.field_count - 1]
    return Targets(
        dates=tuple(i for i, f in checked if f.type == "yyyymm"),
        numbers=tuple(i for i, f in checked if f.type in ("int", "decimal")),
        names=tuple(names or text),
        splittable=tuple(inner or (i for i in text if 0 < i < layout.field_count - 1)),
    )


_NOT_NUMBERS = (b"N/A", b"7O0", b"1,250", b"12.5.0", b"NULL", b"--", b"0x1F")


def corrupt(line: bytes, kind: DirtyKind, targets: Targets, rnd: random.Random) -> bytes:
    """The dirty variant of a clean line (without its line end); every variant fails validation."""
    fields = line.split(b"|")
    if kind is DirtyKind.FIELD_COUNT:
        at = rnd.randrange(len(fields))
        if rnd.random() < 0.5:
            del fields[at]
        else:
            fields.insert(at, b"X")
    elif kind is DirtyKind.BAD_YYYYMM:
        at = rnd.choice(targets.dates)
        v = fields[at] or b"201703"
        fields[at] = rnd.choice((v[:4] + b"13", v[:4] + b"00", v[:4] + b"-" + v[5:], v[2:]))
    elif kind is DirtyKind.NON_NUMERIC:
        fields[rnd.choice(targets.numbers)] = rnd.choice(_NOT_NUMBERS)
    elif kind is DirtyKind.TRAILING_WHITESPACE_NUMERIC:
        at = rnd.choice(targets.numbers)
        fields[at] = (fields[at] or b"720") + b"  "
    elif kind is DirtyKind.EMBEDDED_DELIMITER:
        at = rnd.choice(targets.names)
        fields[at] = _insert_middle(fields[at], b"|")
    else:
        at = rnd.choice(targets.splittable)
        fields[at] = _insert_middle(fields[at], b"\n")
    return b"|".join(fields)


def _insert_middle(value: bytes, insert: bytes) -> bytes:
    middle = len(value.rstrip()) // 2
    return value[:middle] + insert + value[middle:]
