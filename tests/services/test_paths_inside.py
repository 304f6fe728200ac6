"""Names from outside (S3 keys, archive members) never become paths outside their folder."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from ml.transfer import download_tree
from services.objectstore import ObjectStore, S3Uri, inside


@pytest.mark.unit
@pytest.mark.parametrize("name", ["../evil.txt", "a/../../evil.txt", "/etc/passwd", "..", "", "."])
def test_inside_refuses_names_that_leave_the_folder(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError, match="outside"):
        inside(tmp_path / "target", name)


@pytest.mark.unit
def test_inside_keeps_ordinary_names(tmp_path: Path) -> None:
    assert inside(tmp_path, "train/penguin/a.png") == (tmp_path / "train/penguin/a.png").resolve()


@pytest.mark.integration
def test_download_tree_writes_nothing_outside_its_folder(store: ObjectStore, tmp_path: Path) -> None:
    bucket = f"bdml-test-paths-{uuid.uuid4().hex[:8]}"
    store.ensure_bucket(bucket)
    store.put_text(S3Uri(bucket, "prepared/train/ok.txt"), "fine")
    store.put_text(S3Uri(bucket, "prepared/train/../../../escaped.txt"), "evil")
    keys = [uri.key for uri, _ in store.list(S3Uri(bucket, "prepared/train"))]
    assert "prepared/train/../../../escaped.txt" in keys  # S3 keeps such a key as it is
    target = tmp_path / "deep" / "er" / "train"
    with pytest.raises(ValueError, match="outside"):
        download_tree(S3Uri(bucket, "prepared/train"), store, target)
    assert not list(tmp_path.rglob("escaped.txt"))
