"""Grouped split (no group on both sides) and the SageMaker .lst format."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from ml.prepare import lst
from ml.prepare.split import grouped_split

pytestmark = pytest.mark.unit


@dataclass(frozen=True)
class Item:
    group: str
    label: str
    n: int


def _items() -> list[Item]:
    items = []
    for g in range(30):
        label = "penguin" if g < 6 else "notpenguin"
        items += [Item(f"g{g}", label, k) for k in range(1 + g % 4)]  # groups of 1–4 (frames, copies)
    return items


def test_no_group_in_both_splits_and_each_label_on_both_sides() -> None:
    kept, held = grouped_split(_items(), 0.25, seed=3)
    assert {i.group for i in kept}.isdisjoint({i.group for i in held})
    assert len(kept) + len(held) == len(_items())
    for label in ("penguin", "notpenguin"):
        assert any(i.label == label for i in kept) and any(i.label == label for i in held)


def test_split_is_deterministic_and_near_the_fraction() -> None:
    a = grouped_split(_items(), 0.25, seed=3)
    b = grouped_split(_items(), 0.25, seed=3)
    assert a == b
    share = len(a[1]) / len(_items())
    assert 0.15 <= share <= 0.4


def test_bad_fraction_is_refused() -> None:
    with pytest.raises(ValueError, match="fraction"):
        grouped_split(_items(), 1.0)


def test_lst_round_trip_and_exact_format(tmp_path: Path) -> None:
    entries = [lst.LstEntry(0, 1, "penguin/a-0.jpg"), lst.LstEntry(1, 0, "notpenguin/b-0.jpg")]
    path = tmp_path / "train.lst"
    lst.write(path, entries)
    assert path.read_bytes() == b"0\t1\tpenguin/a-0.jpg\n1\t0\tnotpenguin/b-0.jpg\n"
    assert lst.read(path) == entries


def test_lst_reads_the_builtin_algorithms_float_labels(tmp_path: Path) -> None:
    path = tmp_path / "x.lst"
    path.write_text("7\t1.000000\tpenguin/x.jpg\n")
    assert lst.read(path) == [lst.LstEntry(7, 1, "penguin/x.jpg")]


@pytest.mark.parametrize("bad", ["/abs/x.jpg", "a\\b.jpg", "../x.jpg", "a\tb.jpg"])
def test_lst_refuses_unsafe_paths(bad: str) -> None:
    with pytest.raises(lst.LstError):
        lst.format_line(lst.LstEntry(0, 0, bad))


def test_lst_reports_malformed_lines(tmp_path: Path) -> None:
    path = tmp_path / "bad.lst"
    path.write_text("0\t1\n")
    with pytest.raises(lst.LstError, match=r"bad\.lst:1"):
        lst.read(path)
