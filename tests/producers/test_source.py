"""Discovery of real downloaded files: kind from the name, layout from the field count."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from producers.freddie.generator import FILE_NAMES, generate
from producers.freddie.layouts import LAYOUT_NAMES, Kind, UnknownLayoutError, get_layout
from producers.freddie.source import (
    SourceError,
    detect_kind,
    discover,
    field_counts,
    likely_field_count,
    period_of,
)

pytestmark = pytest.mark.unit


def write_lines(path: Path, field_counts: list[int]) -> Path:
    path.write_text("".join("|".join(["x"] * n) + "\n" for n in field_counts))
    return path


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("sample_orig_2017.txt", Kind.ORIGINATION),
        ("sample_orig_2026.txt", Kind.ORIGINATION),
        ("historical_data_2024Q1.txt", Kind.ORIGINATION),
        ("sample_svcg_2017.txt", Kind.PERFORMANCE),
        ("sample_perf_2026.txt", Kind.PERFORMANCE),
        ("historical_data_time_2024Q1.txt", Kind.PERFORMANCE),
        ("/some/dir/historical_data_time_1999Q4.txt", Kind.PERFORMANCE),
        ("historical_data1_Q12010.txt", Kind.ORIGINATION),
        ("historical_data1_time_Q42009.txt", Kind.PERFORMANCE),
        ("historical_data1_Q12010/historical_data1_Q12010.txt", Kind.ORIGINATION),
    ],
)
def test_detect_kind(name: str, kind: Kind) -> None:
    assert detect_kind(name) is kind


@pytest.mark.parametrize(
    "name",
    [
        "loans.txt",
        "historical_data_2024Q5.txt",
        "sample_orig_2017.csv",
        "svcg_2017.txt",
        "historical_data1_Q52010.txt",
    ],
)
def test_detect_kind_rejects_unknown_names(name: str) -> None:
    with pytest.raises(SourceError) as info:
        detect_kind(name)
    message = str(info.value)
    assert Path(name).name in message
    assert "sample_orig_*.txt" in message and "historical_data_time_YYYYQn.txt" in message


@pytest.mark.parametrize("layout", LAYOUT_NAMES)
def test_discovers_each_generated_layout(tmp_path: Path, layout: str) -> None:
    generate(tmp_path, layout, 300, 900, dirty_share=0.05)
    found = discover(tmp_path).files
    assert [f.name for f in found] == sorted(FILE_NAMES[layout].values())
    for f in found:
        assert f.kind is detect_kind(f.name)
        assert f.layout == get_layout(layout, f.kind)
        assert f.field_count == f.layout.field_count
        assert f.size_bytes == f.path.stat().st_size > 0


def test_discovers_several_layouts_side_by_side(tmp_path: Path) -> None:
    for layout in LAYOUT_NAMES:
        generate(tmp_path, layout, 50, 100)
    found = {f.name: f.layout.name for f in discover(tmp_path).files}
    assert found == {name: layout for layout in LAYOUT_NAMES for name in FILE_NAMES[layout].values()}


def test_dirty_first_lines_do_not_misclassify(tmp_path: Path) -> None:
    # guide2024 origination (32 fields) whose first lines are short, long or blank
    path = write_lines(tmp_path / "historical_data_2024Q1.txt", [27, 33, 31, *[32] * 20])
    path.write_text("\n" + path.read_text())
    (found,) = discover(tmp_path).files
    assert found.layout == get_layout("guide2024", Kind.ORIGINATION)


def test_only_the_first_lines_are_sampled(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "sample_svcg_2017.txt", [26] * 200 + [35] * 1_000)
    with path.open("rb") as handle:
        assert likely_field_count(field_counts(handle), Kind.PERFORMANCE) == 26


def test_ties_prefer_a_known_layout(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "sample_orig_2017.txt", [28, 27])
    with path.open("rb") as handle:
        assert likely_field_count(field_counts(handle), Kind.ORIGINATION) == 27


def test_crlf_line_ends_and_a_bom_are_tolerated(tmp_path: Path) -> None:
    path = tmp_path / "sample_perf_2026.txt"
    path.write_bytes(b"\xef\xbb\xbf" + b"|".join([b"x"] * 35) + b"\r\n")
    (found,) = discover(tmp_path).files
    assert found.layout.name == "release47"


def test_unknown_shape_names_file_and_count(tmp_path: Path) -> None:
    write_lines(tmp_path / "sample_orig_2017.txt", [29] * 5)
    with pytest.raises(UnknownLayoutError, match=r"sample_orig_2017\.txt: 29 fields"):
        discover(tmp_path)


def test_what_is_not_loaded_is_listed_with_its_reason(tmp_path: Path) -> None:
    write_lines(tmp_path / "sample_orig_2017.txt", [27])
    write_lines(tmp_path / "my_loans.txt", [27])
    (tmp_path / "README.md").write_text("notes")
    found = discover(tmp_path)
    assert [f.name for f in found.files] == ["sample_orig_2017.txt"]
    reasons = {Path(s.origin).name: s.reason for s in found.skipped}
    assert reasons.keys() == {"my_loans.txt", "README.md"}
    assert "rename it if it is one" in reasons["my_loans.txt"]
    assert "matches no Freddie Mac" in reasons["README.md"]


def test_subfolders_and_zips_are_searched_in_both_naming_eras(tmp_path: Path) -> None:
    era1 = tmp_path / "2010" / "historical_data1_Q12010"
    era1.mkdir(parents=True)
    write_lines(era1 / "historical_data1_Q12010.txt", [27] * 3)
    write_lines(era1 / "historical_data1_time_Q12010.txt", [26] * 4)
    with zipfile.ZipFile(tmp_path / "historical_data_2024Q1.zip", "w") as archive:
        archive.writestr("historical_data_2024Q1.txt", "|".join(["x"] * 32) + "\n")
        archive.writestr("historical_data_time_2024Q1.txt", "|".join(["x"] * 32) + "\n")
        archive.writestr("__MACOSX/._historical_data_2024Q1.txt", "junk")
    found = discover(tmp_path)
    names = {f.name: (f.kind.value, f.layout.name, f.period, f.member) for f in found.files}
    assert names == {
        "historical_data1_Q12010.txt": ("origination", "article", "2010Q1", None),
        "historical_data1_time_Q12010.txt": ("performance", "article", "2010Q1", None),
        "historical_data_2024Q1.txt": ("origination", "guide2024", "2024Q1", "historical_data_2024Q1.txt"),
        "historical_data_time_2024Q1.txt": (
            "performance", "guide2024", "2024Q1", "historical_data_time_2024Q1.txt"),
    }  # fmt: skip
    zipped = next(f for f in found.files if f.member == "historical_data_2024Q1.txt")
    assert zipped.origin.endswith("historical_data_2024Q1.zip:historical_data_2024Q1.txt")
    with zipped.open() as handle:
        assert handle.read().count(b"|") == 31
    assert [s.origin.split("/")[-2:] for s in found.skipped] == [
        ["historical_data_2024Q1.zip:__MACOSX", "._historical_data_2024Q1.txt"]
    ]


def test_a_zip_and_its_extracted_copy_load_once(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "sample_2017.zip", "w") as archive:
        archive.writestr("sample_orig_2017.txt", "|".join(["x"] * 27) + "\n")
    (tmp_path / "sample_2017").mkdir()
    write_lines(tmp_path / "sample_2017" / "sample_orig_2017.txt", [27])
    found = discover(tmp_path)
    assert len(found.files) == 1
    assert "loaded once" in found.skipped[0].reason


def test_a_single_file_or_zip_may_be_given(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "sample_svcg_2017.txt", [26])
    assert [f.name for f in discover(path).files] == ["sample_svcg_2017.txt"]
    with zipfile.ZipFile(tmp_path / "sample_2017.zip", "w") as archive:
        archive.write(path, "sample_2017/sample_svcg_2017.txt")
    assert [f.member for f in discover(tmp_path / "sample_2017.zip").files] == [
        "sample_2017/sample_svcg_2017.txt"
    ]


def test_a_broken_zip_is_named(tmp_path: Path) -> None:
    (tmp_path / "sample_2017.zip").write_bytes(b"PK not really")
    with pytest.raises(SourceError, match=r"sample_2017\.zip: not a readable zip"):
        discover(tmp_path)


@pytest.mark.parametrize(
    ("name", "period"),
    [("historical_data_2024Q1.txt", "2024Q1"), ("historical_data1_time_Q32009.txt", "2009Q3"),
     ("sample_orig_2017.txt", "2017"), ("sample_perf_2026.txt", "2026")],
)  # fmt: skip
def test_period_comes_from_the_name(name: str, period: str) -> None:
    assert period_of(name) == period


def test_nothing_to_load(tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("")
    with pytest.raises(SourceError, match=r"no Freddie Mac files found \(1 other files skipped\)"):
        discover(tmp_path)


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such file or folder"):
        discover(tmp_path / "nope")


def test_empty_files_are_zero_rows_with_a_note(tmp_path: Path) -> None:
    (tmp_path / "sample_svcg_2017.txt").write_text("\n\n")
    (tmp_path / "sample_orig_2017.txt").write_text("")
    found = discover(tmp_path)
    assert found.files == []
    assert {Path(e.origin).name: e.reason for e in found.empty} == {
        "sample_orig_2017.txt": "empty file: 0 rows",
        "sample_svcg_2017.txt": "only blank lines: 0 rows",
    }
