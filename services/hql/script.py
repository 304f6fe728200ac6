"""Reading HQL files: variable substitution (``${hivevar:x}`` and ``${x}``), comment stripping and
splitting on semicolons outside quotes. Each statement remembers its file and position for errors."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

_VAR = re.compile(r"\$\{(?:hivevar:|hiveconf:)?([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class HqlStatement:
    text: str
    source: str = "<inline>"
    index: int = 1  # 1-based position in its file

    @property
    def origin(self) -> str:
        return f"{self.source} statement {self.index}"

    @property
    def keyword(self) -> str:
        """The leading keywords, upper-cased (``CREATE EXTERNAL TABLE``, ``INSERT OVERWRITE``...)."""
        return " ".join(self.text.split()[:3]).upper()


def substitute(text: str, variables: Mapping[str, str], *, source: str = "<inline>") -> str:
    def repl(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in variables:
            raise KeyError(f"{source}: variable ${{{name}}} is not defined (have: {', '.join(variables)})")
        return str(variables[name])

    return _VAR.sub(repl, text)


def split_statements(text: str, *, source: str = "<inline>") -> list[HqlStatement]:
    """Split on ``;`` outside single/double quotes and backticks; drop ``--`` comments and blanks."""
    statements: list[str] = []
    buf: list[str] = []
    quote: str | None = None
    i = 0
    while i < len(text):
        ch = text[i]
        if quote:
            buf.append(ch)
            if ch == "\\" and i + 1 < len(text):  # Hive string escapes
                buf.append(text[i + 1])
                i += 1
            elif ch == quote:
                quote = None
        elif ch in "'\"`":
            quote = ch
            buf.append(ch)
        elif ch == "-" and text.startswith("--", i):
            newline = text.find("\n", i)
            i = len(text) if newline == -1 else newline
            continue
        elif ch == ";":
            statements.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
        i += 1
    statements.append("".join(buf))
    cleaned = [s.strip() for s in statements if s.strip()]
    return [HqlStatement(s, source, n) for n, s in enumerate(cleaned, start=1)]


def load_script(path: Path, variables: Mapping[str, str]) -> list[HqlStatement]:
    text = substitute(path.read_text(encoding="utf-8"), variables, source=path.name)
    return split_statements(text, source=path.name)
