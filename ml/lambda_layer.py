"""A Lambda layer with boto3 and its dependencies, built from this interpreter's installed packages.

The AWS Python runtimes ship boto3, but pinning it in a layer is the usual practice (the handler gets the
SDK it was tested with), and an emulator's Lambda runtime may have no boto3 at all (MiniStack runs
handlers with its own interpreter). The zip is cached per boto3 version; a layer version with the same
description is reused, so redeploys publish nothing new."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import zipfile
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from services import aws
from services.settings import Settings

PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")


def _package_path(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise RuntimeError(f"{name} is not installed in this environment; cannot build the boto3 layer")
    origin = Path(spec.origin)
    return origin.parent if origin.name == "__init__.py" else origin


def build(cache: Path) -> tuple[Path, str]:
    version = importlib.metadata.version("boto3")
    target = cache / f"boto3-layer-{version}.zip"
    if not target.exists():
        cache.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".partial")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
            for name in PACKAGES:
                path = _package_path(name)
                files = [path] if path.is_file() else sorted(path.rglob("*"))
                for f in files:
                    if f.is_file() and "__pycache__" not in f.parts:
                        zf.write(f, f"python/{f.relative_to(path.parent).as_posix()}")
        partial.rename(target)
    return target, f"boto3 {version}"


def ensure(settings: Settings, name: str, cache: Path) -> str:
    """The ARN of a layer version carrying this environment's boto3 (published when missing)."""
    lam: Any = aws.client("lambda", settings)
    zip_path, description = build(cache)
    try:
        for version in lam.list_layer_versions(LayerName=name).get("LayerVersions", []):
            if version.get("Description") == description:
                return str(version["LayerVersionArn"])
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
    published = lam.publish_layer_version(
        LayerName=name,
        Description=description,
        Content={"ZipFile": zip_path.read_bytes()},
        CompatibleRuntimes=["python3.11", "python3.12"],
    )
    return str(published["LayerVersionArn"])
