"""In-memory stand-ins for unit tests of orchestration code (the real-server tests cover the adapters)."""

from __future__ import annotations

import builtins
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rich.progress import Progress

from services.objectstore import ObjectStore, Readable, S3Uri
from services.reconcile import StepReport
from services.settings import Settings
from services.warehouse.schema import TableSchema


class MemoryStore(ObjectStore):
    """An object store in a dict: {(bucket, key): bytes}. ``truncate`` drops that many bytes from every
    upload, as a broken transfer would."""

    def __init__(self, settings: Settings, truncate: int = 0) -> None:
        super().__init__(settings, client=object())
        self.objects: dict[tuple[str, str], bytes] = {}
        self.buckets: set[str] = set()
        self.truncate = truncate

    def ensure_bucket(self, bucket: str) -> None:
        self.buckets.add(bucket)

    def bucket_exists(self, bucket: str) -> bool:
        return bucket in self.buckets

    def entries(
        self, prefix: S3Uri, modified_since: float | None = None
    ) -> Iterator[tuple[S3Uri, int, float]]:
        folder = prefix.key.rstrip("/") + "/" if prefix.key else ""
        for (bucket, key), body in sorted(self.objects.items()):
            if bucket == prefix.bucket and key.startswith(folder):
                yield S3Uri(bucket, key), len(body), 0.0

    def delete_prefix(self, prefix: S3Uri) -> int:
        gone = [(u.bucket, u.key) for u, _, _ in self.entries(prefix)]
        for item in gone:
            del self.objects[item]
        return len(gone)

    def upload_stream(
        self, stream: Readable, dest: S3Uri, name: str, size: int, progress: Progress | None = None
    ) -> None:
        body = b"".join(iter(lambda: stream.read(1 << 16), b""))
        self.objects[(dest.bucket, dest.key)] = body[: len(body) - self.truncate]

    def upload(self, path: Path, dest: S3Uri, progress: Progress | None = None) -> None:
        self.objects[(dest.bucket, dest.key)] = path.read_bytes()

    def put_bytes(self, dest: S3Uri, body: bytes) -> None:
        self.objects[(dest.bucket, dest.key)] = body

    def open(self, uri: S3Uri) -> Readable:
        return io.BytesIO(self.objects[(uri.bucket, uri.key)])

    def download(self, src: S3Uri, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.read(src))


class MemoryLoader:
    """A warehouse table in a list: ``load`` replaces it with the objects' lines, or keeps only
    ``keep`` of them (a warehouse that silently lost rows)."""

    def __init__(self, store: ObjectStore, step: str, keep: int | None = None) -> None:
        self.store, self.step, self.keep = store, step, keep
        self.rows: builtins.list[str] = []
        self.loaded: builtins.list[builtins.list[S3Uri]] = []

    def load(self, schema: TableSchema, objects: builtins.list[S3Uri]) -> StepReport:
        lines = [line for uri in objects for line in self.store.read(uri).decode().splitlines()]
        self.loaded.append(objects)
        self.rows = lines[: self.keep] if self.keep is not None else lines
        report = StepReport(f"{self.step} {schema.name}", rows_in=len(lines), rows_out=len(self.rows))
        report.rows_rejected = len(lines) - len(self.rows)
        return report


def no_engine() -> Any:
    raise AssertionError("this test runs no HQL")
