"""The synthetic generator: shapes, validation rules, determinism, dirty rows and loan histories.

The validator below re-implements the HQL job's rules from the Field specs and counts PHYSICAL lines,
as the job does, so every `expected_rejects` is checked against an independent count.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from producers.freddie.generator import (
    DIRTY_KINDS,
    FILE_NAMES,
    DirtyKind,
    GenerationResult,
    chunks,
    dirt,
    generate,
    rows,
    values,
)
from producers.freddie.layouts import CANONICAL, LAYOUT_NAMES, Field, Kind, Layout, get_layout

pytestmark = pytest.mark.unit

LAYOUT_KINDS = [(name, kind) for name in LAYOUT_NAMES for kind in Kind]
REQUIRED = {Kind.ORIGINATION: {"id_loan", "dt_first_pi"}, Kind.PERFORMANCE: {"id_loan", "period"}}


# --- an independent validator ----------------------------------------------------------------------
def rule(f: Field) -> Callable[[str], bool]:
    """True when a non-blank value is valid for the field."""
    if f.type == "text":
        return lambda v: "|" not in v and "\n" not in v and len(v.strip(" ")) <= f.width
    if f.type == "int":
        pattern = re.compile(rf"-?[0-9]{{1,{f.width}}}")
    elif f.type == "decimal":
        pattern = re.compile(rf"-?[0-9]{{1,{f.width}}}(\.[0-9]{{1,{f.scale}}})?")
    else:
        pattern = re.compile(r"[0-9]{4}(0[1-9]|1[0-2])")
    return lambda v: pattern.fullmatch(v) is not None


class Validator:
    """checked='all': every field of the layout; 'canonical': only what the HQL job checks."""

    def __init__(self, layout: Layout, checked: str = "all") -> None:
        canonical = {f.name for f in CANONICAL[layout.kind]}
        self.count = layout.field_count
        self.checks = [
            (i, f.name, rule(f), f.name in REQUIRED[layout.kind])
            for i, f in enumerate(layout.fields)
            if checked == "all" or f.name in canonical
        ]

    def reason(self, line: str) -> str | None:
        values = line.split("|")
        if len(values) != self.count:
            return f"expected {self.count} fields, found {len(values)}"
        for i, name, ok, required in self.checks:
            value = values[i]
            if name == "id_loan" and not value.strip(" "):
                return "id_loan is blank"
            if value == "" and not required:
                continue
            if not ok(value):
                return f"{name}: {value!r}"
        return None


def physical_lines(path: Path) -> list[str]:
    data = path.read_bytes().decode("ascii")
    assert data.endswith("\n"), "the last line must end with a newline"
    assert "\r" not in data
    return data[:-1].split("\n")


def rejects(path: Path, layout: Layout, checked: str = "all") -> list[str]:
    validator = Validator(layout, checked)
    return [line for line in physical_lines(path) if validator.reason(line) is not None]


def layouts_of(name: str) -> dict[Kind, Layout]:
    return {kind: get_layout(name, kind) for kind in Kind}


def digest(directory: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(directory.iterdir()):
        h.update(path.name.encode() + path.read_bytes())
    return h.hexdigest()


# --- shared samples (generated once per module) ------------------------------------------------------
@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> dict[str, GenerationResult]:
    root = tmp_path_factory.mktemp("clean")
    return {name: generate(root / name, name, 6_000, 30_000, dirty_share=0.0) for name in LAYOUT_NAMES}


@pytest.fixture(scope="module")
def dirty(tmp_path_factory: pytest.TempPathFactory) -> dict[str, GenerationResult]:
    root = tmp_path_factory.mktemp("dirty")
    return {
        name: generate(root / name, name, 8_000, 20_000, dirty_share=0.05, seed=11) for name in LAYOUT_NAMES
    }


def file_of(result: GenerationResult, kind: Kind) -> Path:
    return result.origination.path if kind is Kind.ORIGINATION else result.performance.path


def rows_of(result: GenerationResult, kind: Kind) -> list[list[str]]:
    return [line.split("|") for line in physical_lines(file_of(result, kind))]


def column(result: GenerationResult, kind: Kind, field: str) -> list[str]:
    at = layouts_of(result.origination.layout)[kind].index_of(field)
    assert at is not None
    return [row[at] for row in rows_of(result, kind)]


# --- shape and validation rules ----------------------------------------------------------------------
@pytest.mark.parametrize("name", LAYOUT_NAMES)
def test_file_names(clean: dict[str, GenerationResult], name: str) -> None:
    result = clean[name]
    assert result.origination.path.name == FILE_NAMES[name][Kind.ORIGINATION]
    assert result.performance.path.name == FILE_NAMES[name][Kind.PERFORMANCE]
    assert {p.name for p in result.origination.path.parent.iterdir()} == set(FILE_NAMES[name].values())


@pytest.mark.parametrize(("name", "kind"), LAYOUT_KINDS)
def test_every_clean_line_has_the_layout_field_count(
    clean: dict[str, GenerationResult], name: str, kind: Kind
) -> None:
    layout = layouts_of(name)[kind]
    lines = physical_lines(file_of(clean[name], kind))
    assert len(lines) == (6_000 if kind is Kind.ORIGINATION else 30_000)
    assert {line.count("|") + 1 for line in lines} == {layout.field_count}


@pytest.mark.parametrize(("name", "kind"), LAYOUT_KINDS)
def test_every_clean_value_passes_the_validation_rules(
    clean: dict[str, GenerationResult], name: str, kind: Kind
) -> None:
    result = clean[name]
    layout = layouts_of(name)[kind]
    validator = Validator(layout)
    bad = [(line, validator.reason(line)) for line in physical_lines(file_of(result, kind))]
    assert [b for b in bad if b[1] is not None][:5] == []
    info = result.files[list(Kind).index(kind)]
    assert info.expected_rejects == 0
    assert info.lines == len(bad)


@pytest.mark.parametrize("name", LAYOUT_NAMES)
def test_origination_ids_are_unique_and_well_formed(clean: dict[str, GenerationResult], name: str) -> None:
    ids = column(clean[name], Kind.ORIGINATION, "id_loan")
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids), "Freddie Mac ships loans in id order"
    assert all(re.fullmatch(r"F\d{2}Q[1-4]\d{7}", i) for i in ids)


def test_loan_ids_stay_unique_beyond_ten_million() -> None:
    import numpy as np

    number = np.array([9_999_998, 9_999_999, 19_999_999, 10_000_000 - 1 + 10_000_000], dtype=np.int64)
    first_pi = np.full(4, values.month_index(2017, 3), dtype=np.int64)
    ids = rows.loan_ids(number, first_pi).to_pylist()
    assert ids[0] == "F17Q19999999"
    assert len(set(ids)) == 3  # the last two numbers are equal
    assert all(len(i) == 12 for i in ids)


def test_origination_distributions_look_real(clean: dict[str, GenerationResult]) -> None:
    result = clean["article"]
    fico = [int(v) for v in column(result, Kind.ORIGINATION, "fico")]
    real = [v for v in fico if v != 9999]
    assert 720 < sum(real) / len(real) < 760
    assert min(real) >= 300 and max(real) <= 850
    assert 0 < len(fico) - len(real) < len(fico) * 0.01
    for field, low, high in (("mi_pct", 0.05, 0.15), ("cd_msa", 0.05, 0.2), ("dti", 0.0, 0.04)):
        values = column(result, Kind.ORIGINATION, field)
        assert low <= values.count("") / len(values) <= high, field
    upb = [int(v) for v in column(result, Kind.ORIGINATION, "orig_upb")]
    assert all(v % 1000 == 0 and 50_000 <= v <= 800_000 for v in upb)
    rates = column(result, Kind.ORIGINATION, "int_rt")
    assert all(re.fullmatch(r"\d{1,2}\.\d{3}", r) and float(r) * 8 == int(float(r) * 8) for r in rates)
    first = column(result, Kind.ORIGINATION, "dt_first_pi")
    assert min(first) >= "199901" and max(first) <= "202612"
    sellers = column(result, Kind.ORIGINATION, "seller_name")
    assert any(s != s.rstrip() for s in sellers)  # padded names, as in real files
    assert len(set(sellers)) > 10


def test_maturity_follows_first_payment_and_term(clean: dict[str, GenerationResult]) -> None:
    result = clean["article"]
    for first, matr, term in zip(
        column(result, Kind.ORIGINATION, "dt_first_pi"),
        column(result, Kind.ORIGINATION, "dt_matr"),
        column(result, Kind.ORIGINATION, "orig_loan_term"),
        strict=True,
    ):
        months = (int(matr[:4]) * 12 + int(matr[4:])) - (int(first[:4]) * 12 + int(first[4:]))
        assert months == int(term) - 1


def test_release47_delinquency_is_two_characters(clean: dict[str, GenerationResult]) -> None:
    status = set(column(clean["release47"], Kind.PERFORMANCE, "delq_sts"))
    assert "00" in status and all(len(s) == 2 for s in status)
    assert "0" in set(column(clean["article"], Kind.PERFORMANCE, "delq_sts"))


# --- performance histories -------------------------------------------------------------------------
def month_number(yyyymm: str) -> int:
    return int(yyyymm[:4]) * 12 + int(yyyymm[4:]) - 1


def check_histories(result: GenerationResult, name: str) -> int:
    """Each loan's records are contiguous, month by month, with balance going down; returns loans seen."""
    orig, perf = layouts_of(name)[Kind.ORIGINATION], layouts_of(name)[Kind.PERFORMANCE]
    known = set(column(result, Kind.ORIGINATION, "id_loan"))
    at = {f.name: i for i, f in enumerate(perf.fields)}
    assert orig.index_of("id_loan") is not None
    seen: set[str] = set()
    previous: list[str] | None = None
    for row in rows_of(result, Kind.PERFORMANCE):
        loan = row[at["id_loan"]]
        assert loan in known
        if previous is not None and previous[at["id_loan"]] == loan:
            assert month_number(row[at["period"]]) == month_number(previous[at["period"]]) + 1
            assert int(row[at["loan_age"]]) == int(previous[at["loan_age"]]) + 1
            assert float(row[at["act_endg_upb"]]) <= float(previous[at["act_endg_upb"]])
            assert previous[at["cd_zero_bal"]] == "", "a zero-balance record ends the history"
        else:  # Freddie Mac ships histories by loan id, then month: a loan's records are contiguous
            assert previous is None or loan > previous[at["id_loan"]], "loans come in id order"
            seen.add(loan)
        if row[at["cd_zero_bal"]]:
            assert row[at["dt_zero_bal"]] == row[at["period"]]
            assert float(row[at["act_endg_upb"]]) == 0
        previous = row
    return len(seen)


@pytest.mark.parametrize("name", LAYOUT_NAMES)
def test_performance_rows_are_monthly_histories_of_origination_loans(
    clean: dict[str, GenerationResult], name: str
) -> None:
    assert check_histories(clean[name], name) > 1_000


def test_performance_loss_fields_are_mostly_blank(clean: dict[str, GenerationResult]) -> None:
    result = clean["guide2024"]
    for field in ("mi_recoveries", "net_sale_proceeds", "expenses", "actual_loss", "zero_bal_removal_upb"):
        values = column(result, Kind.PERFORMANCE, field)
        assert values.count("") / len(values) > 0.9, field
    codes = set(column(result, Kind.PERFORMANCE, "cd_zero_bal"))
    assert "01" in codes and "" in codes


def test_histories_continue_across_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tiny chunks: several loan chunks, and loan chunks whose records span several row chunks."""
    monkeypatch.setattr(chunks, "CHUNK_ROWS", 97)
    result = generate(tmp_path, "article", 300, 20_000, dirty_share=0.0)
    assert result.performance.lines == 20_000
    assert check_histories(result, "article") == 300
    assert not rejects(result.origination.path, get_layout("article", Kind.ORIGINATION))
    assert not rejects(result.performance.path, get_layout("article", Kind.PERFORMANCE))


def test_long_histories_keep_ages_within_three_digits(tmp_path: Path) -> None:
    result = generate(tmp_path, "article", 2, 2 * values.MAX_MONTHS_PER_LOAN, dirty_share=0.0)
    assert not rejects(result.performance.path, get_layout("article", Kind.PERFORMANCE))
    check_histories(result, "article")


# --- determinism ---------------------------------------------------------------------------------
def test_same_seed_same_bytes(tmp_path: Path) -> None:
    a = generate(tmp_path / "a", "guide2024", 3_000, 9_000, seed=3, workers=1)
    b = generate(tmp_path / "b", "guide2024", 3_000, 9_000, seed=3, workers=4)
    generate(tmp_path / "c", "guide2024", 3_000, 9_000, seed=4)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert digest(tmp_path / "a") != digest(tmp_path / "c")
    assert a.origination.dirty_by_kind == b.origination.dirty_by_kind


def test_same_seed_same_bytes_across_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chunks, "CHUNK_ROWS", 500)
    generate(tmp_path / "a", "release47", 2_000, 7_000, dirty_share=0.03, workers=1)
    generate(tmp_path / "b", "release47", 2_000, 7_000, dirty_share=0.03, workers=3)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")


# --- dirty rows ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "kind"), LAYOUT_KINDS)
def test_rejects_match_expected_exactly(dirty: dict[str, GenerationResult], name: str, kind: Kind) -> None:
    info = dirty[name].files[list(Kind).index(kind)]
    layout = layouts_of(name)[kind]
    lines = physical_lines(info.path)
    assert info.lines == len(lines) == (8_000 if kind is Kind.ORIGINATION else 20_000)
    # What the job checks (canonical fields) and the stricter all-fields check agree exactly.
    assert len(rejects(info.path, layout, "canonical")) == info.expected_rejects
    assert len(rejects(info.path, layout, "all")) == info.expected_rejects
    newline_rows = info.dirty_by_kind[DirtyKind.EMBEDDED_NEWLINE]
    assert info.expected_rejects == sum(info.dirty_by_kind.values()) + newline_rows
    assert set(info.dirty_by_kind) == {k.value for k in DIRTY_KINDS}
    assert all(count > 0 for count in info.dirty_by_kind.values())
    logical = info.lines - newline_rows
    assert sum(info.dirty_by_kind.values()) == round(0.05 * info.lines)
    assert 0.045 < sum(info.dirty_by_kind.values()) / logical < 0.055


@pytest.mark.parametrize("name", LAYOUT_NAMES)
def test_dirty_rows_are_spread_across_the_file(dirty: dict[str, GenerationResult], name: str) -> None:
    layout = layouts_of(name)[Kind.PERFORMANCE]
    validator = Validator(layout)
    lines = physical_lines(dirty[name].performance.path)
    bad = [i for i, line in enumerate(lines) if validator.reason(line) is not None]
    tenth = len(lines) // 10
    assert all(any(t * tenth <= i < (t + 1) * tenth for i in bad) for t in range(10))


def test_embedded_newline_rows_are_two_rejected_lines(tmp_path: Path) -> None:
    result = generate(tmp_path, "article", 4_000, 4_000, dirty_share=0.2, seed=5)
    for info in result.files:
        layout = get_layout("article", info.kind)
        lines = physical_lines(info.path)
        short = [line for line in lines if line.count("|") + 1 < layout.field_count]
        rows = info.dirty_by_kind[DirtyKind.EMBEDDED_NEWLINE]
        assert rows > 50
        # each newline row leaves two lines with too few fields (so do some field_count rows)
        assert len(short) >= 2 * rows
        assert len(lines) == 4_000


@pytest.mark.parametrize(("name", "kind"), LAYOUT_KINDS)
@pytest.mark.parametrize("dirty_kind", DIRTY_KINDS)
def test_no_dirty_variant_passes_validation(
    clean: dict[str, GenerationResult], name: str, kind: Kind, dirty_kind: DirtyKind
) -> None:
    """Every variant, at every target field, of many clean lines, is rejected on every physical line
    by the job's (canonical) checks."""
    layout = layouts_of(name)[kind]
    targets = dirt.targets_for(layout)
    validator = Validator(layout, "canonical")
    lines = physical_lines(file_of(clean[name], kind))[:300]
    rnd = random.Random(1)
    for line in lines:
        corrupted = dirt.corrupt(line.encode(), dirty_kind, targets, rnd).decode()
        parts = corrupted.split("\n")
        assert len(parts) == (2 if dirty_kind is DirtyKind.EMBEDDED_NEWLINE else 1)
        for part in parts:
            assert part, "no empty physical line"
            assert validator.reason(part) is not None, (dirty_kind, corrupted)


@pytest.mark.parametrize(("name", "kind"), LAYOUT_KINDS)
def test_newline_targets_leave_both_halves_short(name: str, kind: Kind) -> None:
    layout = layouts_of(name)[kind]
    targets = dirt.targets_for(layout)
    assert targets.splittable and targets.names and targets.dates and targets.numbers
    for i in targets.splittable:
        assert layout.fields[i].type == "text"
        assert i + 1 != layout.field_count and layout.field_count - i != layout.field_count


@pytest.mark.parametrize(("name", "kind"), LAYOUT_KINDS)
def test_value_faults_hit_only_fields_the_job_checks(name: str, kind: Kind) -> None:
    layout = layouts_of(name)[kind]
    targets = dirt.targets_for(layout)
    canonical = {f.name for f in CANONICAL[kind]}
    for i in (*targets.dates, *targets.numbers):
        assert layout.fields[i].name in canonical


def test_all_dirty_still_fits_the_line_count(tmp_path: Path) -> None:
    result = generate(tmp_path, "article", 500, 1_000, dirty_share=1.0)
    for info in result.files:
        lines = physical_lines(info.path)
        assert len(lines) == info.lines == info.expected_rejects
        assert len(rejects(info.path, get_layout("article", info.kind))) == len(lines)


# --- results, arguments, progress ------------------------------------------------------------------
def test_result_as_dict_is_json(dirty: dict[str, GenerationResult]) -> None:
    data = json.loads(json.dumps(dirty["article"].as_dict()))
    assert [f["kind"] for f in data["files"]] == ["origination", "performance"]
    first = data["files"][0]
    assert set(first) >= {"path", "kind", "layout", "lines", "expected_rejects", "dirty_by_kind", "seconds"}
    assert first["rows_per_second"] > 0
    assert first["expected_clean"] == first["lines"] - first["expected_rejects"]
    assert data["lines"] == 28_000


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"layout": "nope"}, "unknown layout"),
        ({"dirty_share": 1.5}, "dirty_share"),
        ({"origination_rows": -1}, ">= 0"),
        ({"origination_rows": 0}, "performance rows need at least"),
        ({"origination_rows": 1, "performance_rows": 1_000}, "at most 360"),
    ],
)
def test_bad_arguments(tmp_path: Path, kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"layout": "article", "origination_rows": 10, "performance_rows": 10}
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        generate(tmp_path, **args)  # type: ignore[arg-type]


def test_empty_files(tmp_path: Path) -> None:
    result = generate(tmp_path, "article", 0, 0)
    assert [f.lines for f in result.files] == [0, 0]
    assert result.origination.path.read_bytes() == b""


def test_progress_bar(tmp_path: Path) -> None:
    result = generate(tmp_path, "release47", 1_000, 2_000, progress=True)
    assert result.lines == 3_000
