"""Target table schemas, described once and rendered for each warehouse dialect."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from services.objectstore import S3Uri
    from services.reconcile import StepReport


class LoadError(RuntimeError):
    """A load was refused or rolled back; the target table is as it was before the run."""


@dataclass(frozen=True)
class Column:
    name: str
    hive_type: str  # SMALLINT, INT, BIGINT, DECIMAL(p,s), DATE, STRING
    width: int = 0  # for STRING: the longest value the validator lets through

    def sql_type(self, dialect: str) -> str:
        t = self.hive_type.upper()
        if t == "STRING":
            return f"VARCHAR({max(self.width, 1)})"
        if t == "TINYINT" and dialect != "mysql":
            return "SMALLINT"
        return t


@dataclass(frozen=True)
class TableSchema:
    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ()

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def ddl(self, dialect: str, name: str | None = None) -> str:
        cols = [f"  {c.name} {c.sql_type(dialect)}" for c in self.columns]
        if self.primary_key:
            cols.append(f"  PRIMARY KEY ({', '.join(self.primary_key)})")
        suffix = " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4" if dialect == "mysql" else ""
        return f"CREATE TABLE IF NOT EXISTS {name or self.name} (\n" + ",\n".join(cols) + f"\n){suffix}"


_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def checked_identifier(name: str) -> str:
    """Table names end up in SQL text: allow plain identifiers only."""
    if not _IDENT.match(name):
        raise ValueError(f"not a plain SQL identifier: {name!r}")
    return name


class Loader(Protocol):
    """What the batch job needs of a warehouse: replace ``schema.name`` with the rows of these processed
    objects (pipe-delimited text, NULL as \\N) in one step that either fully happens or leaves the table
    as it was, and report rows in and out."""

    def load(self, schema: TableSchema, objects: list[S3Uri]) -> StepReport: ...
