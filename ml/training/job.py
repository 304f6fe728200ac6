"""A local SageMaker training job: S3 channels → ``ml/train.py`` in script mode → ``model.tar.gz`` in S3.

What SageMaker does around a script, done here the same way: channels are downloaded from S3 into
``<job>/input/data/<channel>``, the script runs with ``SM_*`` variables and hyperparameters as
``--name value`` arguments, then ``SM_MODEL_DIR`` is tarred into ``output/model.tar.gz`` and
``SM_OUTPUT_DATA_DIR`` into ``output/output.tar.gz``, both uploaded under the job's S3 prefix."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError
from rich.console import Console

from ml.config import MlPaths
from ml.transfer import download_tree
from services.console import make_console
from services.objectstore import ObjectStore, S3Uri
from services.settings import REPO_ROOT

CHANNELS = ("train", "validation", "train_lst", "validation_lst", "test", "test_lst")
MAX_ARTIFACT_BYTES = 25 * 1024 * 1024


@dataclass(frozen=True)
class TrainingResult:
    job: str
    model_artifact: S3Uri
    metrics_uri: S3Uri
    metrics: dict[str, Any]
    wall_seconds: float
    artifact_bytes: int
    local_output: Path


def _tar(folder: Path, target: Path) -> Path:
    with tarfile.open(target, "w:gz") as tar:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                tar.add(path, arcname=path.relative_to(folder).as_posix())
    return target


def run_job(
    paths: MlPaths,
    store: ObjectStore,
    hyperparameters: dict[str, Any],
    job: str | None = None,
    console: Console | None = None,
) -> TrainingResult:
    console = console or make_console()
    job = job or time.strftime("penguin-%Y%m%d-%H%M%S")
    root = paths.training / job
    shutil.rmtree(root, ignore_errors=True)
    data = root / "input" / "data"
    for channel in CHANNELS:
        source = paths.s3("prepared", channel)
        if channel.startswith("test") and not any(True for _ in store.list(source)):
            continue  # no held-out sources: the job simply has no test channel
        download_tree(source, store, data / channel, console)
    model_dir, output_dir = root / "model", root / "output" / "data"
    env = {
        **os.environ,
        "SM_MODEL_DIR": str(model_dir),
        "SM_OUTPUT_DATA_DIR": str(output_dir),
        "SM_HPS": json.dumps(hyperparameters),
        **{f"SM_CHANNEL_{c.upper()}": str(data / c) for c in CHANNELS if (data / c).is_dir()},
    }
    argv = [sys.executable, "-m", "ml.train"]
    for name, value in hyperparameters.items():
        argv += [f"--{name.replace('_', '-')}", str(value)]
    console.print(f"[bold]training job {job}[/]: {' '.join(argv[3:]) or '(default hyperparameters)'}")
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=REPO_ROOT, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"training job {job} failed (exit {done.returncode}); see the output above")
    output = root / "output"
    model_tar = _tar(model_dir, output / "model.tar.gz")
    size = model_tar.stat().st_size
    if size > MAX_ARTIFACT_BYTES:
        raise RuntimeError(
            f"model.tar.gz is {size / 1e6:.1f} MB; the budget is {MAX_ARTIFACT_BYTES / 1e6:.0f} MB"
        )
    _tar(output_dir, output / "output.tar.gz")
    prefix = paths.s3("training", job, "output")
    store.ensure_bucket(prefix.bucket)
    store.upload(model_tar, prefix.join("model.tar.gz"))
    store.upload(output / "output.tar.gz", prefix.join("output.tar.gz"))
    metrics_uri = prefix.join("metrics.json")
    metrics = json.loads((output_dir / "metrics.json").read_text())
    store.put_text(metrics_uri, json.dumps(metrics, indent=2))
    store.put_text(
        paths.s3("training", "latest.json"),
        json.dumps({"job": job, "model_artifact": str(prefix.join("model.tar.gz"))}),
    )
    return TrainingResult(job, prefix.join("model.tar.gz"), metrics_uri, metrics, wall, size, output_dir)


def latest_artifact(paths: MlPaths, store: ObjectStore) -> S3Uri:
    pointer = paths.s3("training", "latest.json")
    try:
        body = store.read(pointer)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("NoSuchKey", "404"):
            raise
        raise FileNotFoundError(f"no trained model yet ({pointer} is missing): run `bdml ml train`") from None
    return S3Uri.parse(json.loads(body)["model_artifact"])
