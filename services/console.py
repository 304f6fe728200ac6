"""The console every command prints through: rich on a terminal, plain lines in a log.

When stderr is not a terminal (CI, `> run.log`, a pipe) rich already drops colour codes; this also
fixes the width (no wrapping at 80 columns), leaves source positions out of ``log`` lines and turns
``rule`` into a plain heading (a line of box characters says nothing in a log)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.text import Text

LOG_WIDTH = 120


class BdmlConsole(Console):
    def __init__(self, *, stderr: bool = True, **kwargs: Any) -> None:
        super().__init__(stderr=stderr, log_path=False, **kwargs)
        if not self.is_terminal:
            self.width = LOG_WIDTH

    def rule(self, title: str | Text = "", *args: Any, **kwargs: Any) -> None:
        if self.is_terminal:
            super().rule(title, *args, **kwargs)
        elif title:
            self.print(f"== {title}")


def make_console(*, stderr: bool = True) -> BdmlConsole:
    return BdmlConsole(stderr=stderr)
