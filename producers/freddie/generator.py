"""Fast, deterministic synthetic Freddie Mac loan-level files (origination + monthly performance).

Rows are generated a chunk at a time with numpy and written with Arrow's CSV writer: every column is
built as an Arrow string array by `take` from a preformatted table ("0".."9999", "199901".."219912",
"3.875", seller names ...), so the writer only copies bytes. A chunk's random numbers come from its own
seeded stream, so the output depends only on (layout, sizes, dirty_share, seed), not on thread timing.

A share of the rows is replaced by a dirty variant that the HQL validation must reject (see
`DirtyKind`). Sizes are PHYSICAL lines, as the job counts them: an `embedded_newline` row is two lines.
"""

from __future__ import annotations

import os
import random
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from producers.freddie.layouts import CANONICAL, LAYOUT_NAMES, Kind, Layout, get_layout
from services.errors import UsageError

Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]
Floats = npt.NDArray[np.float64]

CHUNK_ROWS = 1 << 17  # part of the output's identity: changing it changes the bytes for a given seed
MAX_MONTHS_PER_LOAN = 360  # performance_rows / origination_rows may not exceed a 30-year history

FILE_NAMES: dict[str, dict[Kind, str]] = {
    "article": {Kind.ORIGINATION: "sample_orig_2017.txt", Kind.PERFORMANCE: "sample_svcg_2017.txt"},
    "guide2024": {
        Kind.ORIGINATION: "historical_data_2024Q1.txt",
        Kind.PERFORMANCE: "historical_data_time_2024Q1.txt",
    },
    "release47": {Kind.ORIGINATION: "sample_orig_2026.txt", Kind.PERFORMANCE: "sample_perf_2026.txt"},
}


class DirtyKind(StrEnum):
    FIELD_COUNT = "field_count"  # a field missing or one extra
    BAD_YYYYMM = "bad_yyyymm"  # 201713, 2017-3 ... in a date field
    NON_NUMERIC = "non_numeric"  # N/A, 7O0 ... in an int/decimal field
    TRAILING_WHITESPACE_NUMERIC = "trailing_whitespace_numeric"  # '720  ': numbers are never trimmed
    EMBEDDED_DELIMITER = "embedded_delimiter"  # a '|' inside a name → one field too many
    EMBEDDED_NEWLINE = "embedded_newline"  # a '\n' inside a text field → two short physical lines


DIRTY_KINDS: tuple[DirtyKind, ...] = tuple(DirtyKind)
_NEWLINE = DIRTY_KINDS.index(DirtyKind.EMBEDDED_NEWLINE)

# Streams of the per-chunk random generators (seeded with [seed, stream, chunk, ...]).
_S_LOANS, _S_ORIG, _S_HISTORY, _S_PERF, _S_DIRTY = range(5)


# --- results ---------------------------------------------------------------------------------------
@dataclass
class GeneratedFile:
    """One written file and what the validating job must make of it."""

    path: Path
    kind: Kind
    layout: str
    lines: int  # physical lines written (= rows in, for the job)
    expected_rejects: int  # physical lines the validator must reject
    dirty_by_kind: dict[str, int]  # dirty LOGICAL rows per DirtyKind (an embedded_newline row = 2 lines)
    seconds: float
    size_bytes: int = 0

    @property
    def rows_per_second(self) -> float:
        return self.lines / self.seconds if self.seconds > 0 else 0.0

    @property
    def expected_clean(self) -> int:
        return self.lines - self.expected_rejects

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(
            path=str(self.path),
            kind=self.kind.value,
            seconds=round(self.seconds, 3),
            rows_per_second=round(self.rows_per_second, 1),
            expected_clean=self.expected_clean,
        )
        return data


@dataclass
class GenerationResult:
    origination: GeneratedFile
    performance: GeneratedFile
    seed: int
    dirty_share: float

    @property
    def files(self) -> tuple[GeneratedFile, GeneratedFile]:
        return (self.origination, self.performance)

    @property
    def lines(self) -> int:
        return self.origination.lines + self.performance.lines

    @property
    def seconds(self) -> float:
        return self.origination.seconds + self.performance.seconds

    @property
    def rows_per_second(self) -> float:
        return self.lines / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "dirty_share": self.dirty_share,
            "lines": self.lines,
            "seconds": round(self.seconds, 3),
            "rows_per_second": round(self.rows_per_second, 1),
            "files": [f.as_dict() for f in self.files],
        }


# --- preformatted text tables ----------------------------------------------------------------------
class _Table:
    """Strings indexed by number; the index one past the end is the blank string."""

    def __init__(self, values: Sequence[str]) -> None:
        self.values = pa.array([*values, ""], pa.string())
        self.blank = len(values)

    def take(self, index: npt.NDArray[Any], blank: Bools | None = None) -> pa.Array:
        if blank is not None:
            index = np.where(blank, self.blank, index)
        return self.values.take(index)


_U16 = 1 << 16


class _Choice(_Table):
    """Weighted categorical values, drawn through a 65,536-entry lookup table (one uint16 per row)."""

    def __init__(self, weighted: Sequence[tuple[str, float]]) -> None:
        if len(weighted) >= 255:
            raise ValueError("a choice indexes its values with uint8")
        super().__init__([value for value, _ in weighted])
        weights = np.array([w for _, w in weighted], dtype=np.float64)
        cumulative = np.cumsum(weights / weights.sum())
        points = (np.arange(_U16) + 0.5) / _U16
        lut = np.minimum(np.searchsorted(cumulative, points, side="right"), len(weighted) - 1)
        self.lut = lut.astype(np.uint8)  # 64 KiB: stays in cache, unlike int64 indices

    def index(self, rng: np.random.Generator, n: int) -> npt.NDArray[np.uint8]:
        return self.lut[rng.integers(0, _U16, n, dtype=np.uint16)]

    def sample(self, rng: np.random.Generator, n: int) -> pa.Array:
        return self.values.take(self.index(rng, n))


def _month(year: int, month: int) -> int:
    """Months since year 0: consecutive months are consecutive numbers."""
    return year * 12 + month - 1


_MONTH_BASE = _month(1990, 1)
_MONTHS = _Table([f"{m // 12}{m % 12 + 1:02d}" for m in range(_MONTH_BASE, _month(2200, 1))])
_INTS = _Table([str(i) for i in range(10_000)])
_UPB_THOUSANDS = _Table([str(k * 1000) for k in range(1001)])
_RATES = _Table([f"{e / 8:.3f}" for e in range(8 * 16)])  # note rates move in 1/8 %: 3.875, 6.125

FIRST_PI_MIN = _month(1999, 1)
FIRST_PI_MAX = _month(2026, 6)
CUTOFF = FIRST_PI_MAX  # the last reporting period of a "current" history

# 30-year fixed rate by first-payment year (approximate market averages), 1999..2026.
_RATE_BY_YEAR = np.array(
    [7.4, 8.0, 7.0, 6.5, 5.8, 5.8, 5.9, 6.4, 6.3, 6.0, 5.0, 4.7, 4.5, 3.7,
     4.0, 4.2, 3.9, 3.7, 4.0, 4.6, 4.0, 3.1, 3.0, 5.3, 6.8, 6.7, 6.6, 6.3],
)  # fmt: skip

# (state, 3-digit zip prefix, MSA or "" for non-metro, weight)
_GEO_ROWS: tuple[tuple[str, str, str, float], ...] = (
    ("CA", "900", "31080", 5.0), ("CA", "941", "41860", 2.5), ("CA", "920", "41740", 2.2),
    ("CA", "956", "40900", 1.4), ("CA", "925", "40140", 2.0), ("TX", "770", "26420", 3.0),
    ("TX", "752", "19100", 3.0), ("TX", "787", "12420", 1.6), ("TX", "782", "41700", 1.2),
    ("FL", "331", "33100", 2.5), ("FL", "328", "36740", 1.5), ("FL", "336", "45300", 1.6),
    ("FL", "322", "27260", 0.8), ("NY", "100", "35620", 2.0), ("NY", "112", "35620", 1.5),
    ("NY", "142", "15380", 0.5), ("NJ", "070", "35620", 1.5), ("IL", "606", "16980", 3.0),
    ("PA", "191", "37980", 1.8), ("PA", "152", "38300", 0.9), ("OH", "432", "18140", 0.9),
    ("OH", "441", "17460", 0.9), ("GA", "303", "12060", 2.2), ("NC", "282", "16740", 1.2),
    ("NC", "276", "39580", 0.9), ("MI", "482", "19820", 1.6), ("VA", "221", "47900", 1.6),
    ("VA", "232", "40060", 0.6), ("WA", "981", "42660", 1.8), ("AZ", "850", "38060", 2.0),
    ("MA", "021", "14460", 1.8), ("TN", "372", "34980", 0.9), ("IN", "462", "26900", 0.8),
    ("MO", "631", "41180", 0.9), ("MD", "212", "12580", 1.0), ("WI", "532", "33340", 0.6),
    ("CO", "802", "19740", 1.5), ("MN", "554", "33460", 1.3), ("SC", "294", "16700", 0.5),
    ("AL", "352", "13820", 0.4), ("LA", "701", "35380", 0.4), ("KY", "402", "31140", 0.4),
    ("OR", "972", "38900", 0.9), ("OK", "731", "36420", 0.4), ("CT", "061", "25540", 0.5),
    ("UT", "841", "41620", 0.8), ("NV", "891", "29820", 0.9), ("MT", "596", "", 0.3),
    ("WY", "826", "", 0.2), ("VT", "056", "", 0.2), ("ME", "044", "", 0.3), ("IA", "505", "", 0.4),
    ("KS", "675", "", 0.3), ("NE", "688", "", 0.3), ("ID", "833", "", 0.3), ("WV", "261", "", 0.2),
)  # fmt: skip
_GEO = _Choice([(st, w) for st, _, _, w in _GEO_ROWS])
_ZIPS = _Table([f"{zip3}00" for _, zip3, _, _ in _GEO_ROWS])  # Freddie masks the last two digits
_MSAS = _Table([msa for _, _, msa, _ in _GEO_ROWS])

# Real files pad some names with trailing spaces; the job trims text, so that is clean.
_LENDERS: tuple[tuple[str, float], ...] = (
    ("WELLS FARGO BANK, N.A.", 9.0), ("WELLS FARGO BANK, N.A.        ", 2.0),
    ("JPMORGAN CHASE BANK, N.A.", 5.0), ("U.S. BANK N.A.", 4.0), ("QUICKEN LOANS INC.", 4.0),
    ("ROCKET MORTGAGE, LLC", 4.0), ("UNITED WHOLESALE MORTGAGE, LLC", 5.0),
    ("PENNYMAC LOAN SERVICES, LLC", 3.0), ("CALIBER HOME LOANS, INC.", 2.5),
    ("LOANDEPOT.COM, LLC", 3.0), ("FAIRWAY INDEPENDENT MORTGAGE CORPORATION", 2.0),
    ("GUARANTEED RATE, INC.", 2.0), ("NEWREZ LLC", 2.0), ("TRUIST BANK", 1.5),
    ("FLAGSTAR BANK, FSB", 1.5), ("AMERIHOME MORTGAGE COMPANY, LLC", 1.5), ("CITIMORTGAGE, INC.", 1.5),
    ("BANK OF AMERICA, N.A.", 3.0), ("SUNTRUST MORTGAGE, INC.", 1.0), ("NATIONSTAR MORTGAGE LLC", 2.0),
    ("BRANCH BANKING & TRUST COMPANY", 1.0), ("PRIMELENDING, A PLAINSCAPITAL COMPANY", 1.0),
    ("Other sellers", 20.0),
)  # fmt: skip
_SELLERS = _Choice(_LENDERS)

_FTHB = _Choice([("N", 0.84), ("Y", 0.13), ("9", 0.03)])
_UNITS = _Choice([("1", 0.965), ("2", 0.025), ("3", 0.005), ("4", 0.005)])
_OCCUPANCY = _Choice([("P", 0.88), ("I", 0.08), ("S", 0.04)])
_CHANNEL = _Choice([("R", 0.47), ("C", 0.38), ("B", 0.10), ("T", 0.05)])
_PPMT = _Choice([("N", 0.999), ("Y", 0.001)])
_PROP_TYPE = _Choice([("SF", 0.65), ("PU", 0.25), ("CO", 0.08), ("MH", 0.01), ("CP", 0.01)])
_PURPOSE = _Choice([("P", 0.45), ("N", 0.32), ("C", 0.23)])
_BORROWERS = _Choice([("1", 0.47), ("2", 0.52), ("3", 0.01)])
_FLAG_SC = _Choice([("", 0.96), ("Y", 0.04)])
_PROGRAM = _Choice([("9", 0.90), ("H", 0.04), ("F", 0.04), ("R", 0.02)])
_VALUATION = _Choice([("2", 0.75), ("1", 0.15), ("3", 0.08), ("9", 0.02)])
_IO = _Choice([("N", 0.995), ("Y", 0.005)])
_MI_CANCEL = _Choice([("", 0.55), ("N", 0.35), ("Y", 0.05), ("7", 0.05)])
_TERMS = np.array([360, 180, 240, 120, 300])
_TERM_P = np.array([0.79, 0.12, 0.05, 0.02, 0.02])

_DELQ = (("0", 0.962), ("1", 0.022), ("2", 0.007), ("3", 0.004), ("4", 0.002), ("5", 0.001),
         ("6", 0.0008), ("9", 0.0008), ("12", 0.0002), ("RA", 0.0002))  # fmt: skip
_DELQ_1 = _Choice(_DELQ)
_DELQ_2 = _Choice([(s if s == "RA" else s.zfill(2), w) for s, w in _DELQ])  # release 47: '00', '01'
_DELQ_MONTHS = np.array([0 if s == "RA" else int(s) for s, _ in _DELQ])
_ZERO_BAL = _Choice([("01", 0.86), ("96", 0.04), ("09", 0.04), ("03", 0.03), ("06", 0.02),
                     ("15", 0.008), ("02", 0.002)])  # fmt: skip
_LIQUIDATION = {"09", "03", "15", "02"}  # zero-balance codes that carry loss and recovery fields
_LIQUIDATING = np.array([code in _LIQUIDATION for code in _ZERO_BAL.values.to_pylist()[:-1]])
_NET_SALE_CODE = _Choice([("C", 0.8), ("U", 0.2)])
_REPURCHASE = _Choice([("N", 0.99), ("Y", 0.01)])
_DISASTER = _Choice([("", 0.97), ("N", 0.02), ("Y", 0.01)])
_ASSIST = _Choice([("", 0.97), ("F", 0.015), ("R", 0.01), ("T", 0.005)])


# --- loans: the attributes the origination row and the loan's monthly records share -------------------
@dataclass(frozen=True)
class _Loans:
    number: Ints  # 0-based loan number across the whole file
    first_pi: Ints  # first payment month (see _month)
    term: Ints
    upb_thousands: Ints
    rate_eighths: Ints

    def __len__(self) -> int:
        return len(self.number)


_ID_LETTERS = "QABCDEFGHJKLMNPRSTUVWXYZ"  # 'Q' for the first 10M loans, then one letter per block
MAX_LOANS = len(_ID_LETTERS) * 10_000_000 - 1


def _loans(seed: int, chunk: int, start: int, n: int) -> _Loans:
    rng = np.random.default_rng([seed, _S_LOANS, chunk])
    first_pi = rng.integers(FIRST_PI_MIN, FIRST_PI_MAX + 1, n)
    term = _TERMS[np.searchsorted(np.cumsum(_TERM_P), rng.random(n) * 0.999999)]
    upb = np.exp(rng.normal(np.log(235_000), 0.55, n)) * np.where(term <= 180, 0.65, 1.0)
    upb_thousands = np.clip(np.rint(upb / 1000), 50, 800).astype(np.int64)
    year_rate = _RATE_BY_YEAR[first_pi // 12 - 1999]
    rate = year_rate + rng.normal(0.0, 0.35, n) - np.where(term <= 180, 0.6, 0.0)
    rate_eighths = np.clip(np.rint(rate * 8), 12, 8 * 15).astype(np.int64)
    number = np.arange(start, start + n, dtype=np.int64)
    return _Loans(number, first_pi.astype(np.int64), term.astype(np.int64), upb_thousands, rate_eighths)


def _fixed_ids(year: Ints, letter: npt.NDArray[np.uint8], quarter: Ints, serial: Ints) -> pa.Array:
    """12-character ids like F17Q10000001, assembled as bytes (no per-row Python)."""
    n = len(serial)
    out = np.empty((n, 12), dtype=np.uint8)
    out[:, 0] = ord("F")
    out[:, 1] = 48 + (year // 10) % 10
    out[:, 2] = 48 + year % 10
    out[:, 3] = letter
    out[:, 4] = 48 + quarter
    for digit in range(7):
        out[:, 11 - digit] = 48 + (serial // 10**digit) % 10
    offsets = np.arange(0, 12 * (n + 1), 12, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(out.tobytes()))


def _loan_ids(number: Ints, first_pi: Ints) -> pa.Array:
    """Origination year and quarter (two months before the first payment) plus a unique serial."""
    orig_month = first_pi - 2
    serial = number + 1
    letters = np.frombuffer(_ID_LETTERS.encode(), dtype=np.uint8)[serial // 10_000_000]
    return _fixed_ids(orig_month // 12, letters, (orig_month % 12) // 3 + 1, serial % 10_000_000)


# --- origination -----------------------------------------------------------------------------------
def _origination_columns(layout: Layout, loans: _Loans, rng: np.random.Generator) -> list[pa.Array]:
    names = {f.name for f in layout.fields}
    n = len(loans)
    cols: dict[str, pa.Array] = {}

    fico = np.clip(np.rint(rng.normal(742, 48, n)), 300, 850).astype(np.int64)
    fico[rng.random(n) < 0.003] = 9999  # "not available"
    cols["fico"] = _INTS.take(fico)
    cols["dt_first_pi"] = _MONTHS.take(loans.first_pi - _MONTH_BASE)
    cols["flag_fthb"] = _FTHB.sample(rng, n)
    cols["dt_matr"] = _MONTHS.take(loans.first_pi + loans.term - 1 - _MONTH_BASE)
    geo = _GEO.index(rng, n)
    cols["cd_msa"] = _MSAS.take(geo, blank=rng.random(n) < 0.05)  # plus the non-metro prefixes
    ltv = _ltv(rng, n)
    cols["mi_pct"] = _INTS.take(_mi_pct(ltv), blank=rng.random(n) < 0.10)
    cols["cnt_units"] = _UNITS.sample(rng, n)
    cols["occpy_sts"] = _OCCUPANCY.sample(rng, n)
    cltv = ltv + np.where(rng.random(n) < 0.10, rng.integers(1, 16, n), 0)
    cols["cltv"] = _INTS.take(cltv)
    dti = np.clip(np.rint(rng.normal(36, 9.5, n)), 1, 65).astype(np.int64)
    cols["dti"] = _INTS.take(dti, blank=rng.random(n) < 0.015)
    cols["orig_upb"] = _UPB_THOUSANDS.take(loans.upb_thousands)
    cols["ltv"] = _INTS.take(ltv)
    cols["int_rt"] = _RATES.take(loans.rate_eighths)
    cols["channel"] = _CHANNEL.sample(rng, n)
    cols["ppmt_pnlty"] = _PPMT.sample(rng, n)
    cols["prod_type"] = _repeat("FRM", n)
    cols["st"] = _GEO.values.take(geo)
    cols["prop_type"] = _PROP_TYPE.sample(rng, n)
    cols["zipcode"] = _ZIPS.take(geo)
    cols["id_loan"] = _loan_ids(loans.number, loans.first_pi)
    cols["loan_purpose"] = _PURPOSE.sample(rng, n)
    cols["orig_loan_term"] = _INTS.take(loans.term)
    cols["cnt_borr"] = _BORROWERS.sample(rng, n)
    seller = _SELLERS.index(rng, n)
    cols["seller_name"] = _SELLERS.values.take(seller)
    if "servicer_name" in names:  # most loans are serviced by their seller
        servicer = np.where(rng.random(n) < 0.7, seller, _SELLERS.index(rng, n))
        cols["servicer_name"] = _SELLERS.values.take(servicer)
    cols["flag_sc"] = _FLAG_SC.sample(rng, n)
    harp = rng.random(n) < 0.005
    cols["pre_harp"] = _pre_harp_ids(rng, harp)
    if "harp_ind" in names:
        cols["harp_ind"] = _flag(harp, "Y")
    _origination_extras(names, rng, n, cols)
    return [cols[f.name] for f in layout.fields]


def _origination_extras(names: set[str], rng: np.random.Generator, n: int, cols: dict[str, pa.Array]) -> None:
    """Fields only the 2024 guide and release 47 carry."""
    for name in ("program_ind", "special_elig_program"):
        if name in names:
            cols[name] = _PROGRAM.sample(rng, n)
    if "prop_val_method" in names:
        cols["prop_val_method"] = _VALUATION.sample(rng, n)
    if "io_ind" in names:
        cols["io_ind"] = _IO.sample(rng, n)
    if "mi_cancel_ind" in names:
        cols["mi_cancel_ind"] = _MI_CANCEL.sample(rng, n)
    if "vantage_score" in names:
        score = np.clip(np.rint(rng.normal(725, 55, n)), 300, 850).astype(np.int64)
        cols["vantage_score"] = _INTS.take(score, blank=rng.random(n) < 0.7)


def _ltv(rng: np.random.Generator, n: int) -> Ints:
    ltv = np.clip(np.rint(rng.normal(72, 16, n)), 8, 97).astype(np.int64)
    snap = rng.random(n)  # lenders cluster at the MI and pricing thresholds
    return np.select([snap < 0.22, snap < 0.30, snap < 0.36], [80, 95, 90], ltv).astype(np.int64)


def _mi_pct(ltv: Ints) -> Ints:
    return np.select([ltv <= 80, ltv <= 85, ltv <= 90, ltv <= 95], [0, 12, 25, 30], 35).astype(np.int64)


def _pre_harp_ids(rng: np.random.Generator, harp: Bools) -> pa.Array:
    rows = np.flatnonzero(harp)
    k = len(rows)
    letters = np.full(k, ord("Q"), dtype=np.uint8)
    ids = _fixed_ids(rng.integers(2005, 2010, k), letters, rng.integers(1, 5, k), rng.integers(1, 10**7, k))
    return _scatter(len(harp), rows, ids)


def _scatter(n: int, rows: Ints, values: pa.Array) -> pa.Array:
    """A column blank everywhere except `rows`, which get `values` in order. Built from offsets
    (blank rows are zero-length), which is cheaper than a take over the whole column."""
    if not len(rows):
        return _repeat("", n)
    value_offsets = _offsets(values)
    lengths = np.zeros(n + 1, dtype=np.int32)
    lengths[rows + 1] = np.diff(value_offsets)
    offsets = np.cumsum(lengths, dtype=np.int32)
    data = values.buffers()[2] or pa.py_buffer(b"")
    data = data.slice(int(value_offsets[0]), int(value_offsets[-1] - value_offsets[0]))
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), data)


def _repeat(text: str, n: int) -> pa.Array:
    """The same text on every row."""
    raw = text.encode()
    offsets = np.arange(n + 1, dtype=np.int32) * len(raw)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(raw * n))


def _flag(mask: Bools, text: str) -> pa.Array:
    """`text` where mask is set, blank elsewhere."""
    rows = np.flatnonzero(mask)
    return _scatter(len(mask), rows, _repeat(text, len(rows)))


def _money(cents: Ints) -> pa.Array:
    """Cents as '245123.45' text, through Arrow's decimal formatting (no per-row Python)."""
    words = np.empty((len(cents), 2), dtype=np.int64)  # decimal128 = two little-endian int64 words
    words[:, 0] = cents
    words[:, 1] = np.where(cents < 0, -1, 0)
    decimals = pa.Array.from_buffers(pa.decimal128(18, 2), len(cents), [None, pa.py_buffer(words)])
    return pc.cast(decimals, pa.string())


# --- performance -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Histories:
    """Which monthly records one chunk of loans gets: loan i owns rows [ends[i-1], ends[i])."""

    loans: _Loans
    ends: Ints
    first_age: Ints
    terminated: Bools  # the last record carries a zero-balance code
    modified: Bools
    servicer: npt.NDArray[np.uint8]


def _histories(seed: int, chunk: int, loans: _Loans, rows: int) -> _Histories:
    n = len(loans)
    rng = np.random.default_rng([seed, _S_HISTORY, chunk])
    age_at_cutoff = CUTOFF - loans.first_pi + 1
    # Older loans have longer observable histories: share the rows in proportion to that window.
    weights = rng.uniform(0.25, 1.75, n) * age_at_cutoff
    ends = np.floor(np.cumsum(weights) * (rows / weights.sum())).astype(np.int64)
    ends[-1] = rows
    lengths = np.diff(ends, prepend=0)
    if lengths.max() > 2 * MAX_MONTHS_PER_LOAN:  # very many rows per loan: keep ages within 3 digits
        ends = (np.arange(1, n + 1) * rows) // n
        lengths = np.diff(ends, prepend=0)
    slack = np.maximum(age_at_cutoff - lengths, 0)
    first_age = 1 + np.floor(rng.random(n) * (slack + 1)).astype(np.int64)
    ended_early = first_age + lengths - 1 < age_at_cutoff  # paid off, sold or liquidated before cutoff
    terminated = ended_early & (rng.random(n) < 0.3)
    modified = rng.random(n) < 0.015
    return _Histories(loans, ends, first_age, terminated, modified, _SELLERS.index(rng, n))


def _performance_columns(
    layout: Layout, hist: _Histories, start: int, stop: int, rng: np.random.Generator
) -> list[pa.Array]:
    names = {f.name for f in layout.fields}
    rows = np.arange(start, stop, dtype=np.int64)
    n = len(rows)
    loan = np.searchsorted(hist.ends, rows, side="right")
    loans = hist.loans
    first_row = np.where(loan > 0, hist.ends[np.maximum(loan - 1, 0)], 0)
    age = hist.first_age[loan] + rows - first_row
    period = loans.first_pi[loan] + age - 1
    zero_bal = hist.terminated[loan] & (rows == hist.ends[loan] - 1)
    term = loans.term[loan]
    rate_pct = loans.rate_eighths[loan].astype(np.float64) / 8.0
    balance = _balance((loans.upb_thousands[loan] * 1000).astype(np.float64), rate_pct, term, age)
    cents = np.where(zero_bal, 0, np.rint(balance * 100)).astype(np.int64)
    statuses = _DELQ_2 if layout.name == "release47" else _DELQ_1
    delq = np.where(zero_bal, 0, statuses.index(rng, n))
    modified = hist.modified[loan]
    zb_rows = np.flatnonzero(zero_bal)
    zb_code = _ZERO_BAL.index(rng, len(zb_rows))
    liquidated = zb_rows[_LIQUIDATING[zb_code]]

    cols: dict[str, pa.Array] = {}
    cols["id_loan"] = _loan_ids(loans.number[loan], loans.first_pi[loan])
    cols["period"] = _MONTHS.take(period - _MONTH_BASE)
    upb = _money(cents)
    cols["act_endg_upb"] = upb
    cols["delq_sts"] = statuses.values.take(delq)
    cols["loan_age"] = _INTS.take(age)
    cols["mths_remng"] = _INTS.take(np.maximum(term - age, 0))
    cols["repch_flag"] = _scatter(n, zb_rows, _REPURCHASE.sample(rng, len(zb_rows)))
    cols["flag_mod"] = _flag(modified, "Y")
    cols["cd_zero_bal"] = _scatter(n, zb_rows, _ZERO_BAL.values.take(zb_code))
    cols["dt_zero_bal"] = _scatter(n, zb_rows, _MONTHS.take(period[zb_rows] - _MONTH_BASE))
    cols["new_int_rt"] = _RATES.take(loans.rate_eighths[loan] - np.where(modified, 8, 0))
    cols["amt_non_int_brng_upb"] = _repeat("0", n)
    cols["dt_lst_pi"] = _MONTHS.take(period - _DELQ_MONTHS[delq] - _MONTH_BASE)
    cols.update(_loss_columns(rng, n, liquidated, balance))
    cols["stepmod_ind"] = cols["dpm_ind"] = _flag(modified, "N")
    eltv = np.clip(np.rint(rng.normal(62, 18, n)), 5, 150).astype(np.int64)
    cols["eltv"] = _INTS.take(eltv, blank=rng.random(n) < 0.65)
    if "int_bearing_upb" in names:
        removal = _money(np.rint(balance[zb_rows] * 100).astype(np.int64))
        cols["zero_bal_removal_upb"] = _scatter(n, zb_rows, removal)
        cols["delq_disaster"] = _DISASTER.sample(rng, n)
        cols["borrower_assist"] = _ASSIST.sample(rng, n)
        cols["curr_month_modcost"] = _flag(modified, "0")
        cols["int_bearing_upb"] = upb
    if "bankruptcy_cramdown_costs" in names:
        cols["mi_cancel_ind"] = _MI_CANCEL.sample(rng, n)
        cols["servicer_name"] = _SELLERS.values.take(hist.servicer[loan])
        cols["bankruptcy_cramdown_costs"] = _repeat("", n)
    return [cols[f.name] for f in layout.fields]


def _balance(upb: Floats, rate_pct: Floats, term: Ints, age: Ints) -> Floats:
    """Scheduled balance after `age` level payments."""
    r = rate_pct / 1200.0
    growth_n = np.power(1.0 + r, term)
    growth_k = np.power(1.0 + r, np.minimum(age, term))
    return np.maximum(upb * (growth_n - growth_k) / (growth_n - 1.0), 0.0)


_LOSS_FIELDS = ("mi_recoveries", "non_mi_recoveries", "expenses", "legal_costs", "maint_pres_costs",
                "taxes_ins_costs", "misc_costs")  # fmt: skip


def _loss_columns(rng: np.random.Generator, n: int, liquidated: Ints, balance: Floats) -> dict[str, pa.Array]:
    """Loss and recovery fields: present only on liquidation records, blank everywhere else."""
    k = len(liquidated)
    owed = balance[liquidated]

    def share_of_owed(low: float, high: float, sign: int = 1) -> pa.Array:
        amounts = _money(sign * np.rint(owed * rng.uniform(low, high, k) * 100).astype(np.int64))
        return _scatter(n, liquidated, amounts)

    cols = {name: share_of_owed(0.0, 0.08 if i else 0.25) for i, name in enumerate(_LOSS_FIELDS)}
    sale = _money(np.rint(owed * rng.uniform(50.0, 105.0, k)).astype(np.int64))
    coded = rng.random(k) < 0.3  # 'C' (covered) or 'U' (unknown) instead of an amount
    if k:
        sale = pc.if_else(pa.array(coded), _NET_SALE_CODE.sample(rng, k), sale)
    cols["net_sale_proceeds"] = _scatter(n, liquidated, sale)
    cols["actual_loss"] = share_of_owed(0.0, 0.4, sign=-1)
    cols["modcost"] = share_of_owed(0.0, 0.0)
    cols["delq_accrued_int"] = share_of_owed(0.0, 0.05)
    return cols


# --- dirty rows ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _DirtyPlan:
    """Which logical rows of a file are replaced by a dirty variant, and by which kind."""

    lines: int  # physical lines of the file
    rows: Ints  # logical row numbers, ascending
    kinds: Ints  # index into DIRTY_KINDS

    @property
    def newlines(self) -> int:
        return int(np.count_nonzero(self.kinds == _NEWLINE))

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


def _plan_dirty(lines: int, share: float, seed: int, kind: Kind) -> _DirtyPlan:
    rng = np.random.default_rng([seed, _S_DIRTY, list(Kind).index(kind)])
    count = round(lines * share)
    kinds = rng.integers(0, len(DIRTY_KINDS), count)
    newline = np.flatnonzero(kinds == _NEWLINE)
    excess = count + len(newline) - lines  # each embedded newline needs a second line
    if excess > 0:
        kinds[newline[len(newline) - excess :]] = DIRTY_KINDS.index(DirtyKind.FIELD_COUNT)
    logical = lines - int(np.count_nonzero(kinds == _NEWLINE))
    # One dirty row per stratum of the file: spread evenly, positions jittered by the seed.
    j = np.arange(count, dtype=np.int64)
    lo, hi = j * logical // max(count, 1), (j + 1) * logical // max(count, 1)
    rows = lo + np.floor(rng.random(count) * (hi - lo)).astype(np.int64)
    return _DirtyPlan(lines, rows, kinds.astype(np.int64))


@dataclass(frozen=True)
class _Targets:
    """Where each kind may strike. Value faults hit only fields the job validates (the canonical ones)."""

    dates: tuple[int, ...]
    numbers: tuple[int, ...]
    names: tuple[int, ...]  # a '|' here adds a field
    splittable: tuple[int, ...]  # text fields neither first nor last: both halves get a wrong count


def _targets(layout: Layout) -> _Targets:
    canonical = {f.name for f in CANONICAL[layout.kind]}
    checked = [(i, f) for i, f in enumerate(layout.fields) if f.name in canonical]
    text = [i for i, f in enumerate(layout.fields) if f.type == "text" and f.name != "id_loan"]
    names = [i for i, f in enumerate(layout.fields) if f.name in ("seller_name", "servicer_name")]
    inner = [i for i in (names or text) if 0 < i < layout.field_count - 1]
    return _Targets(
        dates=tuple(i for i, f in checked if f.type == "yyyymm"),
        numbers=tuple(i for i, f in checked if f.type in ("int", "decimal")),
        names=tuple(names or text),
        splittable=tuple(inner or (i for i in text if 0 < i < layout.field_count - 1)),
    )


_NOT_NUMBERS = (b"N/A", b"7O0", b"1,250", b"12.5.0", b"NULL", b"--", b"0x1F")


def _corrupt(line: bytes, kind: DirtyKind, targets: _Targets, rnd: random.Random) -> bytes:
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


# --- chunks: columns → CSV bytes → dirty lines spliced in --------------------------------------------
_WRITE_OPTIONS = pacsv.WriteOptions(include_header=False, delimiter="|", quoting_style="none")
_WRITE_BUFFER = 1 << 22  # the pieces between dirty lines are small: batch them into few system calls


@dataclass
class _Chunk:
    parts: list[Any]  # buffers and bytes, in file order
    lines: int


def _offsets(column: pa.Array) -> npt.NDArray[np.int32]:
    if column.type != pa.string() or column.null_count:
        raise TypeError(f"chunk columns must be non-null strings, got {column.type}")
    raw = np.frombuffer(column.buffers()[1], dtype=np.int32)
    return raw[column.offset : column.offset + len(column) + 1]


def _line_spans(columns: Sequence[pa.Array], rows: Ints) -> tuple[Ints, Ints]:
    """Byte [start, end) of the given rows in the written CSV, end including the '\\n' (from the string
    offsets: each row is its values plus one delimiter or line end per field)."""
    width = len(columns)
    start, end = rows * width, (rows + 1) * width
    for column in columns:
        offsets = _offsets(column)
        start = start + (offsets[rows] - offsets[0])
        end = end + (offsets[rows + 1] - offsets[0])
    return start, end


def _assemble(
    columns: Sequence[pa.Array], dirty: tuple[Ints, Ints], targets: _Targets, rnd: random.Random
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
        parts.append(_corrupt(bytes(view[start : end - 1]), DIRTY_KINDS[kind], targets, rnd) + b"\n")
        previous = int(end)
    parts.append(view[previous:])
    newlines = int(np.count_nonzero(kinds == _NEWLINE))
    return _Chunk(parts, table.num_rows + newlines)


ChunkTask = Callable[[], _Chunk]


def _origination_tasks(layout: Layout, plan: _DirtyPlan, seed: int) -> Iterator[ChunkTask]:
    targets = _targets(layout)
    for chunk, start in enumerate(range(0, plan.logical_rows, CHUNK_ROWS)):
        stop = min(start + CHUNK_ROWS, plan.logical_rows)

        def task(chunk: int = chunk, start: int = start, stop: int = stop) -> _Chunk:
            loans = _loans(seed, chunk, start, stop - start)
            columns = _origination_columns(layout, loans, np.random.default_rng([seed, _S_ORIG, chunk]))
            rnd = random.Random(f"{seed}:origination:{chunk}")
            return _assemble(columns, plan.within(start, stop), targets, rnd)

        yield task


def _performance_tasks(layout: Layout, plan: _DirtyPlan, seed: int, loans: int) -> Iterator[ChunkTask]:
    """Performance rows are spread over the loans a loan chunk at a time (each chunk's share in
    proportion to its loans), then cut into chunks of at most CHUNK_ROWS rows."""
    targets = _targets(layout)
    total = plan.logical_rows
    for chunk, first in enumerate(range(0, loans, CHUNK_ROWS)):
        last = min(first + CHUNK_ROWS, loans)
        base = total * first // loans
        rows = total * last // loans - base
        if rows == 0:
            continue
        hist = _histories(seed, chunk, _loans(seed, chunk, first, last - first), rows)
        parts = -(-rows // CHUNK_ROWS)  # equal parts: no sliver chunk when rows is a little over
        for part in range(parts):
            start, stop = rows * part // parts, rows * (part + 1) // parts

            def task(chunk: int = chunk, part: int = part, start: int = start, stop: int = stop,
                     hist: _Histories = hist, base: int = base) -> _Chunk:  # fmt: skip
                rng = np.random.default_rng([seed, _S_PERF, chunk, part])
                columns = _performance_columns(layout, hist, start, stop, rng)
                rnd = random.Random(f"{seed}:performance:{chunk}:{part}")
                return _assemble(columns, plan.within(base + start, base + stop), targets, rnd)

            yield task


def _in_order(tasks: Iterator[ChunkTask], workers: int) -> Iterator[_Chunk]:
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


# --- progress ----------------------------------------------------------------------------------------
class _Progress:
    """A rich progress bar per file, or nothing."""

    def __init__(self, enabled: bool) -> None:
        self._bar: Any = None
        if enabled:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("lines"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
            )

    def __enter__(self) -> _Progress:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def track(self, description: str, total: int) -> Callable[[int], None]:
        if self._bar is None:
            return lambda lines: None
        task_id = self._bar.add_task(description, total=total)
        return lambda lines: self._bar.advance(task_id, lines)


# --- public entry point ----------------------------------------------------------------------------
def _write(
    path: Path, layout: Layout, plan: _DirtyPlan, tasks: Iterator[ChunkTask], workers: int, bar: _Progress
) -> GeneratedFile:
    advance = bar.track(path.name, plan.lines)
    started = time.perf_counter()
    lines = written = 0
    with path.open("wb", buffering=_WRITE_BUFFER) as out:
        for chunk in _in_order(tasks, workers):
            for part in chunk.parts:
                written += out.write(part)
            lines += chunk.lines
            advance(chunk.lines)
    if lines != plan.lines:
        raise RuntimeError(f"{path}: wrote {lines} lines, planned {plan.lines}")
    return GeneratedFile(
        path=path,
        kind=layout.kind,
        layout=layout.name,
        lines=lines,
        expected_rejects=plan.expected_rejects,
        dirty_by_kind=plan.by_kind(),
        seconds=time.perf_counter() - started,
        size_bytes=written,
    )


def _check_arguments(layout: str, origination_rows: int, performance_rows: int, dirty_share: float) -> None:
    if layout not in LAYOUT_NAMES:
        raise UsageError(f"unknown layout {layout!r}; choose one of {', '.join(LAYOUT_NAMES)}")
    if origination_rows < 0 or performance_rows < 0:
        raise UsageError("row counts must be >= 0")
    if not 0.0 <= dirty_share <= 1.0:
        raise UsageError(f"dirty_share must be within [0, 1], got {dirty_share}")


def generate(
    out_dir: Path,
    layout: str,
    origination_rows: int,
    performance_rows: int,
    dirty_share: float = 0.01,
    seed: int = 7,
    progress: bool = False,
    workers: int | None = None,
) -> GenerationResult:
    """Write the origination and performance files of `layout` into `out_dir`.

    Row counts are physical lines. The same arguments always give the same bytes (`workers` only
    changes the speed). Performance rows are monthly records of the origination file's loans, so
    performance_rows needs origination rows (at most MAX_MONTHS_PER_LOAN per loan on average).
    """
    _check_arguments(layout, origination_rows, performance_rows, dirty_share)
    orig_layout = get_layout(layout, Kind.ORIGINATION)
    perf_layout = get_layout(layout, Kind.PERFORMANCE)
    orig_plan = _plan_dirty(origination_rows, dirty_share, seed, Kind.ORIGINATION)
    perf_plan = _plan_dirty(performance_rows, dirty_share, seed, Kind.PERFORMANCE)
    loans = orig_plan.logical_rows
    if loans > MAX_LOANS:
        raise UsageError(f"at most {MAX_LOANS:,} origination rows (12-character loan ids)")
    if perf_plan.logical_rows > MAX_MONTHS_PER_LOAN * loans:
        raise UsageError(
            f"{performance_rows:,} performance rows need at least "
            f"{-(-perf_plan.logical_rows // MAX_MONTHS_PER_LOAN):,} origination rows "
            f"(at most {MAX_MONTHS_PER_LOAN} monthly records per loan on average)"
        )
    workers = workers if workers is not None else min(os.cpu_count() or 1, 4)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    names = FILE_NAMES[layout]
    with _Progress(progress) as bar:
        orig = _write(out_dir / names[Kind.ORIGINATION], orig_layout, orig_plan,
                      _origination_tasks(orig_layout, orig_plan, seed), workers, bar)  # fmt: skip
        perf = _write(out_dir / names[Kind.PERFORMANCE], perf_layout, perf_plan,
                      _performance_tasks(perf_layout, perf_plan, seed, loans), workers, bar)  # fmt: skip
    return GenerationResult(orig, perf, seed, dirty_share)
