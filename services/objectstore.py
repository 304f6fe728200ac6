"""S3 helpers shared by the uploader, the HQL engines and the loaders (all through services.aws)."""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError
from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

from services import aws
from services.settings import Settings

MB = 1024 * 1024


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


@dataclass(frozen=True)
class S3Uri:
    bucket: str
    key: str

    @classmethod
    def parse(cls, uri: str) -> S3Uri:
        scheme, sep, rest = uri.partition("://")
        if not sep or scheme not in ("s3", "s3a"):
            raise ValueError(f"not an s3:// URI: {uri!r}")
        bucket, _, key = rest.partition("/")
        return cls(bucket, key)

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def join(self, *parts: str) -> S3Uri:
        key = "/".join(p.strip("/") for p in (self.key, *parts) if p.strip("/"))
        return S3Uri(self.bucket, key)


class ObjectStore:
    """A thin, typed wrapper over the S3 client with the transfers our pipelines need."""

    def __init__(self, settings: Settings, client: Any | None = None) -> None:
        self.settings = settings
        self.s3 = client or aws.client("s3", settings)
        s3cfg = settings.s3
        self.transfer = TransferConfig(
            multipart_threshold=s3cfg.multipart_threshold_mb * MB,
            multipart_chunksize=s3cfg.multipart_chunk_mb * MB,
            max_concurrency=s3cfg.max_concurrency,
            use_threads=True,
        )

    def ensure_bucket(self, bucket: str) -> None:
        if not self.bucket_exists(bucket):
            kwargs: dict[str, Any] = {"Bucket": bucket}
            if self.settings.aws.region != "us-east-1":
                kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.settings.aws.region}
            self.s3.create_bucket(**kwargs)

    def list(self, prefix: S3Uri, modified_since: float | None = None) -> Iterator[tuple[S3Uri, int]]:
        """Objects under a prefix (treated as a folder), with their sizes, in key order; only those written
        at or after ``modified_since`` (epoch seconds) when given."""
        for uri, size, _modified in self.entries(prefix, modified_since):
            yield uri, size

    def entries(
        self, prefix: S3Uri, modified_since: float | None = None
    ) -> Iterator[tuple[S3Uri, int, float]]:
        """Like :meth:`list`, with each object's last-modified time (epoch seconds)."""
        key = prefix.key.rstrip("/") + "/" if prefix.key else ""
        paginator = self.s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=prefix.bucket, Prefix=key):
            for obj in page.get("Contents", []):
                modified = obj["LastModified"].timestamp()
                if modified_since is None or modified >= modified_since:
                    yield S3Uri(prefix.bucket, obj["Key"]), int(obj["Size"]), modified

    def read(self, uri: S3Uri) -> bytes:
        return bytes(self.open(uri).read())

    def open(self, uri: S3Uri) -> Readable:
        """The object's body as a stream (read it in chunks: it is not held in memory)."""
        body: Readable = self.s3.get_object(Bucket=uri.bucket, Key=uri.key)["Body"]
        return body

    def put_bytes(self, dest: S3Uri, body: bytes) -> None:
        self.s3.put_object(Bucket=dest.bucket, Key=dest.key, Body=body)

    def bucket_exists(self, bucket: str) -> bool:
        try:
            self.s3.head_bucket(Bucket=bucket)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchBucket", "NotFound"):
                return False
            raise
        return True

    def data_objects(self, prefix: S3Uri) -> builtins.list[S3Uri]:  # `list` is a method here
        """The data files under a table location: non-empty, and not the markers Hive and Spark leave
        beside them (``_SUCCESS``, ``.crc`` files)."""
        return [
            uri
            for uri, size in self.list(prefix)
            if size > 0 and not uri.key.rsplit("/", 1)[-1].startswith(("_", "."))
        ]

    def delete_prefix(self, prefix: S3Uri) -> int:
        keys = [uri.key for uri, _ in self.list(prefix)]
        for start in range(0, len(keys), 1000):
            batch = [{"Key": k} for k in keys[start : start + 1000]]
            self.s3.delete_objects(Bucket=prefix.bucket, Delete={"Objects": batch, "Quiet": True})
        return len(keys)

    def upload(self, path: Path, dest: S3Uri, progress: Progress | None = None) -> None:
        """Multipart, parallel upload (boto3's transfer manager) with an optional progress bar; a small file
        without one is a single PUT."""
        size = path.stat().st_size
        if progress is None and size < self.transfer.multipart_threshold:
            with path.open("rb") as body:  # one request: skip the transfer manager's thread set-up
                self.s3.put_object(Bucket=dest.bucket, Key=dest.key, Body=body)
            return
        task = progress.add_task(path.name, total=size) if progress else None

        def advance(n: int) -> None:
            if progress is not None and task is not None:
                progress.advance(task, n)

        self.s3.upload_file(str(path), dest.bucket, dest.key, Config=self.transfer, Callback=advance)

    def upload_folder(self, folder: Path, prefix: S3Uri) -> int:
        """Upload the files under ``folder`` to the same relative keys under ``prefix``, several at a time
        (the many small files of a partitioned table go up side by side); the markers Hive and Spark
        leave beside data files (``_SUCCESS``, ``.crc`` files) stay behind. Returns how many went up."""
        files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(("_", ".")))
        keys = [prefix.join(path.relative_to(folder).as_posix()) for path in files]
        with ThreadPoolExecutor(self.settings.s3.max_concurrency) as pool:
            list(pool.map(self.upload, files, keys))  # the first failure is raised here
        return len(files)

    def upload_stream(
        self, stream: Readable, dest: S3Uri, name: str, size: int, progress: Progress | None = None
    ) -> None:
        """Like :meth:`upload`, from a readable stream (an archive member: nothing lands on disk)."""
        task = progress.add_task(name, total=size) if progress else None

        def advance(n: int) -> None:
            if progress is not None and task is not None:
                progress.advance(task, n)

        self.s3.upload_fileobj(stream, dest.bucket, dest.key, Config=self.transfer, Callback=advance)

    def download(self, src: S3Uri, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.s3.download_file(src.bucket, src.key, str(path), Config=self.transfer)

    def put_text(self, dest: S3Uri, text: str) -> None:
        self.put_bytes(dest, text.encode("utf-8"))


def inside(folder: Path, relative: str) -> Path:
    """``folder / relative`` for a name that came from outside (an S3 key, an archive member), refusing
    one that would land outside ``folder``: ``..`` parts, absolute paths, links out."""
    root = folder.resolve()
    target = (root / relative).resolve()
    if target == root or not target.is_relative_to(root):
        raise ValueError(f"{relative!r} would be written outside {folder}: refused")
    return target


def transfer_progress() -> Progress:
    return Progress(
        "[progress.description]{task.description}", BarColumn(), DownloadColumn(), TransferSpeedColumn()
    )
