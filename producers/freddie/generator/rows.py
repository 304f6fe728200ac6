"""The rows themselves, a chunk at a time: loans (the attributes origination and performance share), the
origination columns of a layout and the monthly performance histories of the loans."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from producers.freddie.generator.values import (
    ASSIST,
    BORROWERS,
    CHANNEL,
    CUTOFF,
    DELQ_1,
    DELQ_2,
    DELQ_MONTHS,
    DISASTER,
    FIRST_PI_MAX,
    FIRST_PI_MIN,
    FLAG_SC,
    FTHB,
    GEO,
    INTS,
    IO,
    LIQUIDATING,
    MAX_MONTHS_PER_LOAN,
    MI_CANCEL,
    MONTH_BASE,
    MONTHS,
    MSAS,
    NET_SALE_CODE,
    OCCUPANCY,
    PPMT,
    PROGRAM,
    PROP_TYPE,
    PURPOSE,
    RATE_BY_YEAR,
    RATES,
    REPURCHASE,
    S_HISTORY,
    S_LOANS,
    SELLERS,
    TERM_P,
    TERMS,
    UNITS,
    UPB_THOUSANDS,
    VALUATION,
    ZERO_BAL,
    ZIPS,
    Bools,
    Floats,
    Ints,
    string_offsets,
)
from producers.freddie.layouts import Layout


# --- loans: the attributes the origination row and the loan's monthly records share -------------------
@dataclass(frozen=True)
class Loans:
    number: Ints  # 0-based loan number across the whole file
    first_pi: Ints  # first payment month (see month_index)
    term: Ints
    upb_thousands: Ints
    rate_eighths: Ints

    def __len__(self) -> int:
        return len(self.number)


_ID_LETTERS = "QABCDEFGHJKLMNPRSTUVWXYZ"  # 'Q' for the first 10M loans, then one letter per block
MAX_LOANS = len(_ID_LETTERS) * 10_000_000 - 1


def _first_payment_months_in_id_order() -> Ints:
    """Every first-payment month, ordered as the ids of its loans sort: by origination year as two
    digits (so 1998 and 1999 come after 2026), then quarter."""
    months = np.arange(FIRST_PI_MIN, FIRST_PI_MAX + 1, dtype=np.int64)
    origination = months - 2
    return months[np.argsort((origination // 12 % 100) * 4 + origination % 12 // 3, kind="stable")]


_FIRST_PI_BY_ID = _first_payment_months_in_id_order()


def first_payment_months(number: Ints, loans: int) -> Ints:
    """Months spread evenly over the loans, in id order: with the serial rising too, a file lists its
    loans sorted by id, as Freddie Mac ships them (up to 10M loans, while the id's letter stays 'Q')."""
    return _FIRST_PI_BY_ID[number * len(_FIRST_PI_BY_ID) // loans]


def history_weight(first: int, last: int, loans: int) -> int:
    """Loans ``first``..``last``'s share of the performance rows: their months observed by the cutoff."""
    return int((CUTOFF + 1 - first_payment_months(np.arange(first, last, dtype=np.int64), loans)).sum())


def draw_loans(seed: int, chunk: int, start: int, n: int, loans: int) -> Loans:
    """Loans ``start``..``start + n`` of ``loans``."""
    rng = np.random.default_rng([seed, S_LOANS, chunk])
    number = np.arange(start, start + n, dtype=np.int64)
    first_pi = first_payment_months(number, loans)
    term = TERMS[np.searchsorted(np.cumsum(TERM_P), rng.random(n) * 0.999999)]
    upb = np.exp(rng.normal(np.log(235_000), 0.55, n)) * np.where(term <= 180, 0.65, 1.0)
    upb_thousands = np.clip(np.rint(upb / 1000), 50, 800).astype(np.int64)
    year_rate = RATE_BY_YEAR[first_pi // 12 - 1999]
    rate = year_rate + rng.normal(0.0, 0.35, n) - np.where(term <= 180, 0.6, 0.0)
    rate_eighths = np.clip(np.rint(rate * 8), 12, 8 * 15).astype(np.int64)
    return Loans(number, first_pi, term.astype(np.int64), upb_thousands, rate_eighths)


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


def loan_ids(number: Ints, first_pi: Ints) -> pa.Array:
    """Origination year and quarter (two months before the first payment) plus a unique serial."""
    orig_month = first_pi - 2
    serial = number + 1
    letters = np.frombuffer(_ID_LETTERS.encode(), dtype=np.uint8)[serial // 10_000_000]
    return _fixed_ids(orig_month // 12, letters, (orig_month % 12) // 3 + 1, serial % 10_000_000)


# --- origination -----------------------------------------------------------------------------------
def origination_columns(layout: Layout, loans: Loans, rng: np.random.Generator) -> list[pa.Array]:
    names = {f.name for f in layout.fields}
    n = len(loans)
    cols: dict[str, pa.Array] = {}

    fico = np.clip(np.rint(rng.normal(742, 48, n)), 300, 850).astype(np.int64)
    fico[rng.random(n) < 0.003] = 9999  # "not available"
    cols["fico"] = INTS.take(fico)
    cols["dt_first_pi"] = MONTHS.take(loans.first_pi - MONTH_BASE)
    cols["flag_fthb"] = FTHB.sample(rng, n)
    cols["dt_matr"] = MONTHS.take(loans.first_pi + loans.term - 1 - MONTH_BASE)
    geo = GEO.index(rng, n)
    cols["cd_msa"] = MSAS.take(geo, blank=rng.random(n) < 0.05)  # plus the non-metro prefixes
    ltv = _ltv(rng, n)
    cols["mi_pct"] = INTS.take(_mi_pct(ltv), blank=rng.random(n) < 0.10)
    cols["cnt_units"] = UNITS.sample(rng, n)
    cols["occpy_sts"] = OCCUPANCY.sample(rng, n)
    cltv = ltv + np.where(rng.random(n) < 0.10, rng.integers(1, 16, n), 0)
    cols["cltv"] = INTS.take(cltv)
    dti = np.clip(np.rint(rng.normal(36, 9.5, n)), 1, 65).astype(np.int64)
    cols["dti"] = INTS.take(dti, blank=rng.random(n) < 0.015)
    cols["orig_upb"] = UPB_THOUSANDS.take(loans.upb_thousands)
    cols["ltv"] = INTS.take(ltv)
    cols["int_rt"] = RATES.take(loans.rate_eighths)
    cols["channel"] = CHANNEL.sample(rng, n)
    cols["ppmt_pnlty"] = PPMT.sample(rng, n)
    cols["prod_type"] = _repeat("FRM", n)
    cols["st"] = GEO.values.take(geo)
    cols["prop_type"] = PROP_TYPE.sample(rng, n)
    cols["zipcode"] = ZIPS.take(geo)
    cols["id_loan"] = loan_ids(loans.number, loans.first_pi)
    cols["loan_purpose"] = PURPOSE.sample(rng, n)
    cols["orig_loan_term"] = INTS.take(loans.term)
    cols["cnt_borr"] = BORROWERS.sample(rng, n)
    seller = SELLERS.index(rng, n)
    cols["seller_name"] = SELLERS.values.take(seller)
    if "servicer_name" in names:  # most loans are serviced by their seller
        servicer = np.where(rng.random(n) < 0.7, seller, SELLERS.index(rng, n))
        cols["servicer_name"] = SELLERS.values.take(servicer)
    cols["flag_sc"] = FLAG_SC.sample(rng, n)
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
            cols[name] = PROGRAM.sample(rng, n)
    if "prop_val_method" in names:
        cols["prop_val_method"] = VALUATION.sample(rng, n)
    if "io_ind" in names:
        cols["io_ind"] = IO.sample(rng, n)
    if "mi_cancel_ind" in names:
        cols["mi_cancel_ind"] = MI_CANCEL.sample(rng, n)
    if "vantage_score" in names:
        score = np.clip(np.rint(rng.normal(725, 55, n)), 300, 850).astype(np.int64)
        cols["vantage_score"] = INTS.take(score, blank=rng.random(n) < 0.7)


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
    value_offsets = string_offsets(values)
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
class Histories:
    """Which monthly records one chunk of loans gets: loan i owns rows [ends[i-1], ends[i])."""

    loans: Loans
    ends: Ints
    first_age: Ints
    terminated: Bools  # the last record carries a zero-balance code
    modified: Bools
    servicer: npt.NDArray[np.uint8]


def draw_histories(seed: int, chunk: int, loans: Loans, rows: int) -> Histories:
    n = len(loans)
    rng = np.random.default_rng([seed, S_HISTORY, chunk])
    age_at_cutoff = CUTOFF - loans.first_pi + 1
    # Older loans have longer observable histories: share the rows in proportion to that window.
    weights = rng.uniform(0.25, 1.75, n) * age_at_cutoff
    # Every loan has at least its first month (when there are rows enough); the rest by weight.
    least = 1 if rows >= n else 0
    spread = rows - least * n
    by_weight = np.floor(np.cumsum(weights) * (spread / weights.sum())).astype(np.int64)
    ends = by_weight + least * np.arange(1, n + 1)
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
    return Histories(loans, ends, first_age, terminated, modified, SELLERS.index(rng, n))


def performance_columns(
    layout: Layout, hist: Histories, start: int, stop: int, rng: np.random.Generator
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
    statuses = DELQ_2 if layout.name == "release47" else DELQ_1
    delq = np.where(zero_bal, 0, statuses.index(rng, n))
    modified = hist.modified[loan]
    zb_rows = np.flatnonzero(zero_bal)
    zb_code = ZERO_BAL.index(rng, len(zb_rows))
    liquidated = zb_rows[LIQUIDATING[zb_code]]

    cols: dict[str, pa.Array] = {}
    cols["id_loan"] = loan_ids(loans.number[loan], loans.first_pi[loan])
    cols["period"] = MONTHS.take(period - MONTH_BASE)
    upb = _money(cents)
    cols["act_endg_upb"] = upb
    cols["delq_sts"] = statuses.values.take(delq)
    cols["loan_age"] = INTS.take(age)
    cols["mths_remng"] = INTS.take(np.maximum(term - age, 0))
    cols["repch_flag"] = _scatter(n, zb_rows, REPURCHASE.sample(rng, len(zb_rows)))
    cols["flag_mod"] = _flag(modified, "Y")
    cols["cd_zero_bal"] = _scatter(n, zb_rows, ZERO_BAL.values.take(zb_code))
    cols["dt_zero_bal"] = _scatter(n, zb_rows, MONTHS.take(period[zb_rows] - MONTH_BASE))
    cols["new_int_rt"] = RATES.take(loans.rate_eighths[loan] - np.where(modified, 8, 0))
    cols["amt_non_int_brng_upb"] = _repeat("0", n)
    cols["dt_lst_pi"] = MONTHS.take(period - DELQ_MONTHS[delq] - MONTH_BASE)
    cols.update(_loss_columns(rng, n, liquidated, balance))
    cols["stepmod_ind"] = cols["dpm_ind"] = _flag(modified, "N")
    eltv = np.clip(np.rint(rng.normal(62, 18, n)), 5, 150).astype(np.int64)
    cols["eltv"] = INTS.take(eltv, blank=rng.random(n) < 0.65)
    if "int_bearing_upb" in names:
        removal = _money(np.rint(balance[zb_rows] * 100).astype(np.int64))
        cols["zero_bal_removal_upb"] = _scatter(n, zb_rows, removal)
        cols["delq_disaster"] = DISASTER.sample(rng, n)
        cols["borrower_assist"] = ASSIST.sample(rng, n)
        cols["curr_month_modcost"] = _flag(modified, "0")
        cols["int_bearing_upb"] = upb
    if "bankruptcy_cramdown_costs" in names:
        cols["mi_cancel_ind"] = MI_CANCEL.sample(rng, n)
        cols["servicer_name"] = SELLERS.values.take(hist.servicer[loan])
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
        sale = pc.if_else(pa.array(coded), NET_SALE_CODE.sample(rng, k), sale)
    cols["net_sale_proceeds"] = _scatter(n, liquidated, sale)
    cols["actual_loss"] = share_of_owed(0.0, 0.4, sign=-1)
    cols["modcost"] = share_of_owed(0.0, 0.0)
    cols["delq_accrued_int"] = share_of_owed(0.0, 0.05)
    return cols
