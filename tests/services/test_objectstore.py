"""ObjectStore transfers against the emulator: a small file is one PUT, a large one goes multipart."""

from __future__ import annotations

from pathlib import Path

import pytest
from boto3.s3.transfer import TransferConfig

from services.objectstore import ObjectStore, S3Uri


@pytest.mark.integration
def test_small_and_multipart_uploads_land_byte_for_byte(store: ObjectStore, tmp_path: Path) -> None:
    store.transfer = TransferConfig(multipart_threshold=5 * 2**20, multipart_chunksize=5 * 2**20)
    small, large = tmp_path / "small.bin", tmp_path / "large.bin"
    small.write_bytes(b"a|b\n" * 10)
    large.write_bytes(bytes(range(256)) * (11 * 2**20 // 256))  # three parts of 5 MB or less
    root = S3Uri(store.settings.s3.processed_bucket, "objectstore-test")
    store.delete_prefix(root)
    for path in (small, large):
        store.upload(path, root.join(path.name))
    head = store.s3.head_object(Bucket=root.bucket, Key=root.join("large.bin").key)
    assert head["ETag"].strip('"').endswith("-3")  # a multipart upload's ETag counts its parts
    for path in (small, large):
        back = tmp_path / f"back-{path.name}"
        store.download(root.join(path.name), back)
        assert back.read_bytes() == path.read_bytes()
    assert store.delete_prefix(root) == 2


@pytest.mark.integration
def test_a_folder_goes_up_with_its_relative_keys_and_without_markers(
    store: ObjectStore, tmp_path: Path
) -> None:
    """What the engines stage (a partitioned table as Spark writes it to local disk) lands as data only."""
    for name in ("year=2010/part-0.parquet", "year=2011/part-0.parquet", "_SUCCESS", "year=2010/.part-0.crc"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(name.encode())
    root = S3Uri(store.settings.s3.processed_bucket, "objectstore-folder-test")
    store.delete_prefix(root)
    assert store.upload_folder(tmp_path, root) == 2
    assert sorted(uri.key for uri, _ in store.list(root)) == [
        "objectstore-folder-test/year=2010/part-0.parquet",
        "objectstore-folder-test/year=2011/part-0.parquet",
    ]
    assert store.read(root.join("year=2011", "part-0.parquet")) == b"year=2011/part-0.parquet"
    store.delete_prefix(root)
