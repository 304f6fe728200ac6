"""Preformatted text tables and the vocabularies the rows are drawn from (states, sellers, rates, codes),
and the ids of the per-chunk random streams."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]
Floats = npt.NDArray[np.float64]

MAX_MONTHS_PER_LOAN = 360  # performance_rows / origination_rows may not exceed a 30-year history
# Streams of the per-chunk random generators (seeded with [seed, stream, chunk, ...]).
S_LOANS, S_ORIG, S_HISTORY, S_PERF, S_DIRTY = range(5)


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


def month_index(year: int, month: int) -> int:
    """Months since year 0: consecutive months are consecutive numbers."""
    return year * 12 + month - 1


MONTH_BASE = month_index(1990, 1)
MONTHS = _Table([f"{m // 12}{m % 12 + 1:02d}" for m in range(MONTH_BASE, month_index(2200, 1))])
INTS = _Table([str(i) for i in range(10_000)])
UPB_THOUSANDS = _Table([str(k * 1000) for k in range(1001)])
RATES = _Table([f"{e / 8:.3f}" for e in range(8 * 16)])  # note rates move in 1/8 %: 3.875, 6.125

FIRST_PI_MIN = month_index(1999, 1)
FIRST_PI_MAX = month_index(2026, 6)
CUTOFF = FIRST_PI_MAX  # the last reporting period of a "current" history

# 30-year fixed rate by first-payment year (approximate market averages), 1999..2026.
RATE_BY_YEAR = np.array(
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
GEO = _Choice([(st, w) for st, _, _, w in _GEO_ROWS])
ZIPS = _Table([f"{zip3}00" for _, zip3, _, _ in _GEO_ROWS])  # Freddie masks the last two digits
MSAS = _Table([msa for _, _, msa, _ in _GEO_ROWS])

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
SELLERS = _Choice(_LENDERS)

FTHB = _Choice([("N", 0.84), ("Y", 0.13), ("9", 0.03)])
UNITS = _Choice([("1", 0.965), ("2", 0.025), ("3", 0.005), ("4", 0.005)])
OCCUPANCY = _Choice([("P", 0.88), ("I", 0.08), ("S", 0.04)])
CHANNEL = _Choice([("R", 0.47), ("C", 0.38), ("B", 0.10), ("T", 0.05)])
PPMT = _Choice([("N", 0.999), ("Y", 0.001)])
PROP_TYPE = _Choice([("SF", 0.65), ("PU", 0.25), ("CO", 0.08), ("MH", 0.01), ("CP", 0.01)])
PURPOSE = _Choice([("P", 0.45), ("N", 0.32), ("C", 0.23)])
BORROWERS = _Choice([("1", 0.47), ("2", 0.52), ("3", 0.01)])
FLAG_SC = _Choice([("", 0.96), ("Y", 0.04)])
PROGRAM = _Choice([("9", 0.90), ("H", 0.04), ("F", 0.04), ("R", 0.02)])
VALUATION = _Choice([("2", 0.75), ("1", 0.15), ("3", 0.08), ("9", 0.02)])
IO = _Choice([("N", 0.995), ("Y", 0.005)])
MI_CANCEL = _Choice([("", 0.55), ("N", 0.35), ("Y", 0.05), ("7", 0.05)])
TERMS = np.array([360, 180, 240, 120, 300])
TERM_P = np.array([0.79, 0.12, 0.05, 0.02, 0.02])

_DELQ = (("0", 0.962), ("1", 0.022), ("2", 0.007), ("3", 0.004), ("4", 0.002), ("5", 0.001),
         ("6", 0.0008), ("9", 0.0008), ("12", 0.0002), ("RA", 0.0002))  # fmt: skip
DELQ_1 = _Choice(_DELQ)
DELQ_2 = _Choice([(s if s == "RA" else s.zfill(2), w) for s, w in _DELQ])  # release 47: '00', '01'
DELQ_MONTHS = np.array([0 if s == "RA" else int(s) for s, _ in _DELQ])
ZERO_BAL = _Choice([("01", 0.86), ("96", 0.04), ("09", 0.04), ("03", 0.03), ("06", 0.02),
                     ("15", 0.008), ("02", 0.002)])  # fmt: skip
_LIQUIDATION = {"09", "03", "15", "02"}  # zero-balance codes that carry loss and recovery fields
LIQUIDATING = np.array([code in _LIQUIDATION for code in ZERO_BAL.values.to_pylist()[:-1]])
NET_SALE_CODE = _Choice([("C", 0.8), ("U", 0.2)])
REPURCHASE = _Choice([("N", 0.99), ("Y", 0.01)])
DISASTER = _Choice([("", 0.97), ("N", 0.02), ("Y", 0.01)])
ASSIST = _Choice([("", 0.97), ("F", 0.015), ("R", 0.01), ("T", 0.005)])


def string_offsets(column: pa.Array) -> npt.NDArray[np.int32]:
    if column.type != pa.string() or column.null_count:
        raise TypeError(f"chunk columns must be non-null strings, got {column.type}")
    raw = np.frombuffer(column.buffers()[1], dtype=np.int32)
    return raw[column.offset : column.offset + len(column) + 1]
