"""Discovery of real downloaded files: kind from the name, layout from the field count."""

from __future__ import annotations

from pathlib import Path

import pytest

from producers.freddie.generator import FILE_NAMES, generate
from producers.freddie.layouts import LAYOUT_NAMES, Kind, UnknownLayoutError, get_layout
from producers.freddie.source import SourceError, detect_kind, discover, sample_field_count

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
    ],
)
def test_detect_kind(name: str, kind: Kind) -> None:
    assert detect_kind(name) is kind


@pytest.mark.parametrize(
    "name", ["loans.txt", "historical_data_2024Q5.txt", "sample_orig_2017.csv", "svcg_2017.txt"]
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
    found = discover(tmp_path)
    assert [f.path.name for f in found] == sorted(FILE_NAMES[layout].values())
    for f in found:
        assert f.kind is detect_kind(f.path.name)
        assert f.layout == get_layout(layout, f.kind)
        assert f.field_count == f.layout.field_count
        assert f.size_bytes == f.path.stat().st_size > 0


def test_discovers_several_layouts_side_by_side(tmp_path: Path) -> None:
    for layout in LAYOUT_NAMES:
        generate(tmp_path, layout, 50, 100)
    found = {f.path.name: f.layout.name for f in discover(tmp_path)}
    assert found == {name: layout for layout in LAYOUT_NAMES for name in FILE_NAMES[layout].values()}


def test_dirty_first_lines_do_not_misclassify(tmp_path: Path) -> None:
    # guide2024 origination (32 fields) whose first lines are short, long or blank
    path = write_lines(tmp_path / "historical_data_2024Q1.txt", [27, 33, 31, *[32] * 20])
    path.write_text("\n" + path.read_text())
    (found,) = discover(tmp_path)
    assert found.layout == get_layout("guide2024", Kind.ORIGINATION)


def test_only_the_first_lines_are_sampled(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "sample_svcg_2017.txt", [26] * 200 + [35] * 1_000)
    assert sample_field_count(path, Kind.PERFORMANCE) == 26


def test_ties_prefer_a_known_layout(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "sample_orig_2017.txt", [28, 27])
    assert sample_field_count(path, Kind.ORIGINATION) == 27


def test_crlf_line_ends_are_tolerated(tmp_path: Path) -> None:
    path = tmp_path / "sample_perf_2026.txt"
    path.write_bytes(b"|".join([b"x"] * 35) + b"\r\n")
    (found,) = discover(tmp_path)
    assert found.layout.name == "release47"


def test_unknown_shape_names_file_and_count(tmp_path: Path) -> None:
    write_lines(tmp_path / "sample_orig_2017.txt", [29] * 5)
    with pytest.raises(UnknownLayoutError, match=r"sample_orig_2017\.txt: 29 fields"):
        discover(tmp_path)


def test_unknown_name_is_an_error_naming_the_file(tmp_path: Path) -> None:
    write_lines(tmp_path / "sample_orig_2017.txt", [27])
    write_lines(tmp_path / "my_loans.txt", [27])
    with pytest.raises(SourceError, match=r"my_loans\.txt: not a Freddie Mac"):
        discover(tmp_path)


def test_other_files_are_ignored(tmp_path: Path) -> None:
    write_lines(tmp_path / "sample_orig_2017.txt", [27])
    (tmp_path / "README.md").write_text("notes")
    (tmp_path / "sample_2017.zip").write_bytes(b"PK")
    (tmp_path / "sub").mkdir()
    write_lines(tmp_path / "sub" / "sample_svcg_2017.txt", [26])
    assert [f.path.name for f in discover(tmp_path)] == ["sample_orig_2017.txt"]


def test_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("")
    with pytest.raises(SourceError, match=r"no Freddie Mac \.txt files found"):
        discover(tmp_path)


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="not a directory"):
        discover(tmp_path / "nope")


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "sample_svcg_2017.txt").write_text("\n\n")
    with pytest.raises(SourceError, match=r"sample_svcg_2017\.txt: the file is empty"):
        discover(tmp_path)
