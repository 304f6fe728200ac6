"""The three Freddie Mac layouts: field counts, names, positions and how a file's layout is found."""

from __future__ import annotations

import pytest

from producers.freddie.layouts import (
    CANONICAL,
    LAYOUT_NAMES,
    LAYOUTS,
    Kind,
    UnknownLayoutError,
    get_layout,
    layout_for,
)

pytestmark = pytest.mark.unit

EXPECTED_COUNTS = {
    ("article", Kind.ORIGINATION): 27,
    ("article", Kind.PERFORMANCE): 26,
    ("guide2024", Kind.ORIGINATION): 32,
    ("guide2024", Kind.PERFORMANCE): 32,
    ("release47", Kind.ORIGINATION): 31,
    ("release47", Kind.PERFORMANCE): 35,
}


@pytest.mark.parametrize(("name", "kind"), list(EXPECTED_COUNTS))
def test_field_counts(name: str, kind: Kind) -> None:
    assert get_layout(name, kind).field_count == EXPECTED_COUNTS[(name, kind)]


@pytest.mark.parametrize(("name", "kind"), list(EXPECTED_COUNTS))
def test_layout_for_finds_each_layout_by_kind_and_count(name: str, kind: Kind) -> None:
    assert layout_for(kind, EXPECTED_COUNTS[(name, kind)]) == get_layout(name, kind)


def test_colliding_counts_are_told_apart_by_kind() -> None:
    assert layout_for(Kind.ORIGINATION, 32).fields != layout_for(Kind.PERFORMANCE, 32).fields
    assert layout_for(Kind.ORIGINATION, 32).kind is Kind.ORIGINATION
    assert layout_for(Kind.PERFORMANCE, 32).kind is Kind.PERFORMANCE


@pytest.mark.parametrize("kind", list(Kind))
def test_unknown_count_names_source_and_count(kind: Kind) -> None:
    with pytest.raises(UnknownLayoutError, match=r"odd_file\.txt: 29 fields") as info:
        layout_for(kind, 29, source="odd_file.txt")
    assert kind.value in str(info.value)


def test_unknown_layout_error_is_a_value_error() -> None:
    assert issubclass(UnknownLayoutError, ValueError)


def test_get_layout_rejects_unknown_name() -> None:
    with pytest.raises(KeyError, match="no origination layout named 'nope'"):
        get_layout("nope", Kind.ORIGINATION)


def test_six_layouts_with_unique_field_names() -> None:
    assert {(lay.name, lay.kind) for lay in LAYOUTS} == set(EXPECTED_COUNTS)
    assert set(LAYOUT_NAMES) == {lay.name for lay in LAYOUTS}
    for layout in LAYOUTS:
        names = [f.name for f in layout.fields]
        assert len(names) == len(set(names)), layout
        assert layout.index_of("id_loan") is not None
        assert layout.index_of("nope") is None


def test_field_specs_are_consistent() -> None:
    for layout in LAYOUTS:
        for f in layout.fields:
            assert f.width > 0, f
            assert (f.scale > 0) == (f.type == "decimal"), f
            assert f.type in ("int", "decimal", "yyyymm", "text")
            if f.type == "yyyymm":
                assert f.width == 6


def test_canonical_is_the_article() -> None:
    assert CANONICAL[Kind.ORIGINATION] == get_layout("article", Kind.ORIGINATION).fields
    assert CANONICAL[Kind.PERFORMANCE] == get_layout("article", Kind.PERFORMANCE).fields


@pytest.mark.parametrize("name", LAYOUT_NAMES)
def test_performance_layouts_only_append(name: str) -> None:
    """The HQL reads the canonical performance fields at the same positions in every layout."""
    fields = get_layout(name, Kind.PERFORMANCE).fields
    assert fields[: len(CANONICAL[Kind.PERFORMANCE])] == CANONICAL[Kind.PERFORMANCE]


def test_origination_canonical_positions() -> None:
    """guide2024 appends; release47 drops servicer_name, so flag_sc and pre_harp move up one."""
    canonical = CANONICAL[Kind.ORIGINATION]
    assert get_layout("guide2024", Kind.ORIGINATION).fields[:27] == canonical
    release47 = get_layout("release47", Kind.ORIGINATION)
    assert release47.index_of("servicer_name") is None
    assert release47.fields[:24] == canonical[:24]
    assert release47.index_of("flag_sc") == 24
    assert release47.index_of("pre_harp") == 25


def test_sql_types() -> None:
    orig = get_layout("article", Kind.ORIGINATION)
    types = {f.name: f.sql_type for f in orig.fields}
    assert types["fico"] == "SMALLINT"
    assert types["cd_msa"] == "INT"
    assert types["orig_upb"] == "DECIMAL(12,2)"
    assert types["int_rt"] == "DECIMAL(6,3)"
    assert types["dt_first_pi"] == "DATE"
    assert types["seller_name"] == "STRING"
