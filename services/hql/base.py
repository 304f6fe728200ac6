"""The engine contract every HQL executor honours."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any

from services.hql.script import HqlStatement


class HqlError(RuntimeError):
    """A statement failed; the message names the HQL file and statement number."""

    def __init__(self, statement: HqlStatement, cause: BaseException | str) -> None:
        preview = " ".join(statement.text.split())[:160]
        super().__init__(f"{statement.origin}: {cause}\n  statement: {preview}")
        self.statement = statement


class HqlEngine(ABC):
    """Runs Hive-dialect statements against tables whose data lives in S3.

    ``execute`` runs one statement (DDL or DML); ``query`` runs a SELECT and returns its rows.
    Engines must be usable as context managers and release their sessions on ``close``.
    """

    name: str

    @abstractmethod
    def execute(self, statement: HqlStatement) -> None: ...

    @abstractmethod
    def query(self, sql: str) -> list[tuple[Any, ...]]: ...

    def run(self, statements: Iterable[HqlStatement]) -> None:
        for statement in statements:
            self.execute(statement)

    def count(self, table: str) -> int:
        return int(self.query(f"SELECT COUNT(*) FROM {table}")[0][0])

    def close(self) -> None:  # noqa: B027 - optional hook
        pass

    def __enter__(self) -> HqlEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
