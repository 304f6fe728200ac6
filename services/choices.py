"""A CLI option's allowed values, checked by the CLI before the command runs (exit 2, one line)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

import typer

V = TypeVar("V", str, str | None)


def one_of(values: Sequence[str]) -> Callable[[V], V]:
    """A typer ``callback`` refusing anything but ``values`` (None, an option left out, passes)."""

    def check(value: V) -> V:
        if value is not None and value not in values:
            raise typer.BadParameter(f"{value!r}: choose one of {', '.join(values)}")
        return value

    return check
