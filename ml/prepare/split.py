"""Grouped, stratified split: every image of one group (and so every augmented copy of it) lands in one
split. The article split augmented copies at random, so validation saw rotations of training images."""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Protocol, TypeVar


class Item(Protocol):
    @property
    def group(self) -> str: ...
    @property
    def label(self) -> str: ...


T = TypeVar("T", bound="Item")


def _rank(group: str, seed: int) -> str:
    return hashlib.sha1(f"{seed}:{group}".encode()).hexdigest()


def grouped_split(items: Sequence[T], fraction: float, seed: int = 13) -> tuple[list[T], list[T]]:
    """Split into (kept, held) with about ``fraction`` of each label's images held out, whole groups only.

    Groups are ranked by a seeded hash and taken for the held-out side until that label's share is reached,
    so a rerun gives the same split and adding one group moves no other."""
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be between 0 and 1, got {fraction}")
    groups: dict[str, list[T]] = defaultdict(list)
    for item in items:
        groups[item.group].append(item)
    # A group's label is its majority label: groups are one artwork, so this is nearly always unanimous.
    by_label: dict[str, list[str]] = defaultdict(list)
    for name, members in groups.items():
        majority = Counter(m.label for m in members).most_common(1)[0][0]
        by_label[majority].append(name)
    held_groups: set[str] = set()
    for names in by_label.values():
        total = sum(len(groups[n]) for n in names)
        taken = 0
        for name in sorted(names, key=lambda n: _rank(n, seed)):
            # Always keep at least one group on each side when a label has two or more groups.
            if taken >= fraction * total or len(held_groups & set(names)) == len(names) - 1:
                break
            held_groups.add(name)
            taken += len(groups[name])
    kept = [i for i in items if i.group not in held_groups]
    held = [i for i in items if i.group in held_groups]
    return kept, held
