"""The three Freddie Mac file layouts and the canonical schema they normalise to.

Files are pipe-delimited, no header. A layout is recognised by (file kind, field count): the counts
collide across kinds (origination 2024 and performance 2024 both have 32 fields), so the kind comes from
the file name first. Field names are our snake_case names; a field keeps its name when a later release
renames it, so the canonical mapping is "same name, wherever it sits".
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

FieldType = Literal["int", "decimal", "yyyymm", "text"]


class Kind(StrEnum):
    ORIGINATION = "origination"
    PERFORMANCE = "performance"


@dataclass(frozen=True)
class Field:
    name: str
    type: FieldType
    width: int  # int: max digits; decimal: max integer digits; text: max characters
    scale: int = 0  # decimal places (decimal only)
    label: str = ""  # the name in Freddie Mac's guide, where it differs from ours

    @property
    def sql_type(self) -> str:
        if self.type == "int":
            return "SMALLINT" if self.width <= 4 else "INT" if self.width <= 9 else "BIGINT"
        if self.type == "decimal":
            return f"DECIMAL({self.width + self.scale},{self.scale})"
        if self.type == "yyyymm":
            return "DATE"
        return "STRING"


def _f(name: str, type_: FieldType, width: int, scale: int = 0, label: str = "") -> Field:
    return Field(name, type_, width, scale, label)


# --- origination -----------------------------------------------------------------------------------
_ORIG_COMMON_1_24 = (
    _f("fico", "int", 4, label="Credit Score"),
    _f("dt_first_pi", "yyyymm", 6, label="First Payment Date"),
    _f("flag_fthb", "text", 1, label="First Time Homebuyer Flag"),
    _f("dt_matr", "yyyymm", 6, label="Maturity Date"),
    _f("cd_msa", "int", 5, label="MSA"),
    _f("mi_pct", "int", 3, label="Mortgage Insurance Percentage"),
    _f("cnt_units", "int", 1, label="Number of Units"),
    _f("occpy_sts", "text", 1, label="Occupancy Status"),
    _f("cltv", "int", 3, label="Original CLTV"),
    _f("dti", "int", 3, label="Original DTI"),
    _f("orig_upb", "decimal", 10, 2, label="Original UPB"),
    _f("ltv", "int", 3, label="Original LTV"),
    _f("int_rt", "decimal", 3, 3, label="Original Interest Rate"),
    _f("channel", "text", 1, label="Channel"),
    _f("ppmt_pnlty", "text", 1, label="Prepayment Penalty Mortgage Flag"),
    _f("prod_type", "text", 5, label="Amortization Type"),
    _f("st", "text", 2, label="Property State"),
    _f("prop_type", "text", 2, label="Property Type"),
    _f("zipcode", "text", 5, label="Postal Code"),
    _f("id_loan", "text", 12, label="Loan Sequence Number"),
    _f("loan_purpose", "text", 1, label="Loan Purpose"),
    _f("orig_loan_term", "int", 3, label="Original Loan Term"),
    _f("cnt_borr", "int", 2, label="Number of Borrowers"),
    _f("seller_name", "text", 60, label="Seller Name"),
)
_SERVICER = _f("servicer_name", "text", 60, label="Servicer Name")
_FLAG_SC = _f("flag_sc", "text", 1, label="Super Conforming Flag")
_PRE_HARP = _f("pre_harp", "text", 12, label="Pre-HARP Loan Sequence Number")
_HARP = _f("harp_ind", "text", 1, label="HARP Indicator")
_VALUATION = _f("prop_val_method", "int", 1, label="Property Valuation Method")
_IO = _f("io_ind", "text", 1, label="Interest Only Indicator")

ORIG_ARTICLE = (*_ORIG_COMMON_1_24, _SERVICER, _FLAG_SC, _PRE_HARP)
ORIG_2024 = (
    *ORIG_ARTICLE,
    _f("program_ind", "text", 1, label="Program Indicator"),
    _HARP,
    _VALUATION,
    _IO,
    _f("mi_cancel_ind", "text", 1, label="MI Cancellation Indicator"),
)
ORIG_RELEASE47 = (
    *_ORIG_COMMON_1_24,
    _FLAG_SC,
    _PRE_HARP,
    _f("special_elig_program", "text", 1, label="Special Eligibility Program"),
    _HARP,
    _VALUATION,
    _IO,
    _f("vantage_score", "int", 4, label="VantageScore 4.0"),
)

# --- performance -----------------------------------------------------------------------------------
_money = 10
PERF_ARTICLE = (
    _f("id_loan", "text", 12, label="Loan Sequence Number"),
    _f("period", "yyyymm", 6, label="Monthly Reporting Period"),
    _f("act_endg_upb", "decimal", _money, 2, label="Current Actual UPB"),
    _f("delq_sts", "text", 3, label="Current Loan Delinquency Status"),
    _f("loan_age", "int", 3, label="Loan Age"),
    _f("mths_remng", "int", 3, label="Remaining Months to Legal Maturity"),
    _f("repch_flag", "text", 6, label="Defect Settlement Date / Repurchase Flag"),
    _f("flag_mod", "text", 1, label="Modification Flag"),
    _f("cd_zero_bal", "int", 2, label="Zero Balance Code"),
    _f("dt_zero_bal", "yyyymm", 6, label="Zero Balance Effective Date"),
    _f("new_int_rt", "decimal", 3, 3, label="Current Interest Rate"),
    _f("amt_non_int_brng_upb", "decimal", _money, 2, label="Current Deferred UPB"),
    _f("dt_lst_pi", "yyyymm", 6, label="Due Date of Last Paid Installment"),
    _f("mi_recoveries", "decimal", _money, 2, label="MI Recoveries"),
    _f("net_sale_proceeds", "text", 14, label="Net Sales Proceeds"),  # a number, or C / U
    _f("non_mi_recoveries", "decimal", _money, 2, label="Non MI Recoveries"),
    _f("expenses", "decimal", _money, 2, label="Expenses"),
    _f("legal_costs", "decimal", _money, 2, label="Legal Costs"),
    _f("maint_pres_costs", "decimal", _money, 2, label="Maintenance and Preservation Costs"),
    _f("taxes_ins_costs", "decimal", _money, 2, label="Taxes and Insurance"),
    _f("misc_costs", "decimal", _money, 2, label="Miscellaneous Expenses"),
    _f("actual_loss", "decimal", _money, 2, label="Actual Loss Calculation"),
    _f("modcost", "decimal", _money, 2, label="Modification Cost"),
    _f("stepmod_ind", "text", 1, label="Step Modification Flag"),
    _f("dpm_ind", "text", 1, label="Deferred Payment Plan"),
    _f("eltv", "int", 3, label="Estimated LTV"),
)
PERF_2024 = (
    *PERF_ARTICLE,
    _f("zero_bal_removal_upb", "decimal", _money, 2, label="Zero Balance Removal UPB"),
    _f("delq_accrued_int", "decimal", _money, 2, label="Delinquent Accrued Interest"),
    _f("delq_disaster", "text", 1, label="Delinquency Due to Disaster"),
    _f("borrower_assist", "text", 1, label="Borrower Assistance Status Code"),
    _f("curr_month_modcost", "decimal", _money, 2, label="Current Month Modification Cost"),
    _f("int_bearing_upb", "decimal", _money, 2, label="Interest Bearing UPB"),
)
PERF_RELEASE47 = (
    *PERF_2024,
    _f("mi_cancel_ind", "text", 1, label="MI Cancellation Indicator"),
    _SERVICER,
    _f("bankruptcy_cramdown_costs", "decimal", _money, 2, label="Bankruptcy Cramdown Costs"),
)


@dataclass(frozen=True)
class Layout:
    name: Literal["article", "guide2024", "release47"]
    kind: Kind
    fields: tuple[Field, ...]

    @property
    def field_count(self) -> int:
        return len(self.fields)

    def index_of(self, name: str) -> int | None:
        for i, field in enumerate(self.fields):
            if field.name == name:
                return i
        return None


LAYOUT_NAMES = ("article", "guide2024", "release47")
LAYOUTS: tuple[Layout, ...] = (
    Layout("article", Kind.ORIGINATION, ORIG_ARTICLE),
    Layout("guide2024", Kind.ORIGINATION, ORIG_2024),
    Layout("release47", Kind.ORIGINATION, ORIG_RELEASE47),
    Layout("article", Kind.PERFORMANCE, PERF_ARTICLE),
    Layout("guide2024", Kind.PERFORMANCE, PERF_2024),
    Layout("release47", Kind.PERFORMANCE, PERF_RELEASE47),
)

# The canonical schema is the article's (the tables MySQL and Redshift receive).
CANONICAL: dict[Kind, tuple[Field, ...]] = {Kind.ORIGINATION: ORIG_ARTICLE, Kind.PERFORMANCE: PERF_ARTICLE}


class UnknownLayoutError(ValueError):
    """A file whose field count matches no known layout of its kind."""


def layout_for(kind: Kind, field_count: int, *, source: str = "<input>") -> Layout:
    for layout in LAYOUTS:
        if layout.kind == kind and layout.field_count == field_count:
            return layout
    known = ", ".join(f"{lay.name}={lay.field_count}" for lay in LAYOUTS if lay.kind == kind)
    raise UnknownLayoutError(
        f"{source}: {field_count} fields per line matches no known {kind.value} layout (known: {known})"
    )


def get_layout(name: str, kind: Kind) -> Layout:
    for layout in LAYOUTS:
        if layout.name == name and layout.kind == kind:
            return layout
    raise KeyError(f"no {kind.value} layout named {name!r}; choose one of {', '.join(LAYOUT_NAMES)}")
