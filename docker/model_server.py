"""The model-server container's entry point: ml/serving/server.py's WSGI app under gunicorn, fed from S3
the way a SageMaker endpoint is fed its ModelDataUrl.

The training job writes ``ml/training/latest.json`` (``{"model_artifact": "s3://…/model.tar.gz"}``) in the
processed bucket; this polls that pointer (``MODEL_POINTER``), unpacks the artifact it names and swaps the
served app when it changes, so a new training run is served without a restart. Until the first model:
``GET /ping`` answers 503 (SageMaker's readiness) and ``GET /healthz`` 200 (the container's liveness, for
the compose health check). Only boto3 is added to the serving image's numpy, Pillow and ONNX Runtime.

Environment: MODEL_POINTER (s3://bucket/key), ENDPOINT_NAME, PORT, POLL_SECONDS, and AWS_ENDPOINT_URL /
AWS_* for the S3 API (boto3 reads them itself)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import tarfile
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from ml.serving import inference
from ml.serving.server import make_app
from services.wsgi import ServerLimits, serve

log = logging.getLogger("bdml.model-server")
NEEDED = ("model.onnx", "metadata.json")


def split_s3(uri: str) -> tuple[str, str]:
    parts = urlsplit(uri)
    if parts.scheme != "s3" or not parts.netloc or not parts.path.strip("/"):
        raise ValueError(f"{uri!r} is not s3://bucket/key")
    return parts.netloc, parts.path.lstrip("/")


class ModelWatcher:
    """The served app, replaced when the pointer names another artifact. One poller thread per worker
    process, started on the first request (threads do not survive gunicorn's fork)."""

    def __init__(self, pointer: str, endpoint: str, workdir: Path, poll_s: float) -> None:
        self.pointer = split_s3(pointer)
        self.endpoint = endpoint
        self.workdir = workdir
        self.poll_s = poll_s
        self.artifact: str | None = None
        self.app: Any = None
        self.folder: Path | None = None
        self.error: str | None = None
        self._lock = threading.Lock()
        self._started_in: int | None = None

    def start(self) -> None:
        with self._lock:
            if self._started_in == os.getpid():
                return
            self._started_in = os.getpid()
        threading.Thread(target=self._loop, name="model-watcher", daemon=True).start()

    def _loop(self) -> None:
        s3 = boto3.client("s3")
        while True:
            try:
                self.refresh(s3)
            except (BotoCoreError, ClientError, OSError, ValueError, KeyError) as exc:
                self.error = f"{type(exc).__name__}: {exc}"
                log.warning("model not (re)loaded: %s", self.error)
            time.sleep(self.poll_s)

    def refresh(self, s3: Any) -> bool:
        """Load the artifact the pointer names, unless it is the one served; True when swapped."""
        bucket, key = self.pointer
        try:
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "NoSuchBucket"):
                self.error = f"no model yet: s3://{bucket}/{key} is missing (train one: bdml ml run)"
                return False
            raise
        artifact = str(json.loads(body)["model_artifact"])
        if artifact == self.artifact:
            return False
        folder = self._unpack(s3, artifact)
        app = make_app(inference.model_fn(folder), self.endpoint)
        previous, self.folder = self.folder, folder
        self.app, self.artifact, self.error = app, artifact, None  # requests see the new app from here on
        if previous is not None:  # the old session is in memory; its files are no longer read
            shutil.rmtree(previous, ignore_errors=True)
        log.info("serving %s as endpoint %r", artifact, self.endpoint)
        return True

    def _unpack(self, s3: Any, artifact: str) -> Path:
        bucket, key = split_s3(artifact)
        self.workdir.mkdir(parents=True, exist_ok=True)
        target = Path(tempfile.mkdtemp(prefix="model-", dir=self.workdir))
        archive = target / "model.tar.gz"
        s3.download_file(bucket, key, str(archive))
        with tarfile.open(archive) as tar:
            tar.extractall(target, filter="data")  # no absolute paths, links out or devices
        archive.unlink()
        missing = [name for name in NEEDED if not (target / name).exists()]
        if missing:
            shutil.rmtree(target, ignore_errors=True)
            raise ValueError(f"{artifact} has no {', '.join(missing)}: not a model built by ml/train.py")
        return target


def make_container_app(watcher: ModelWatcher) -> Any:
    def app(environ: dict[str, Any], start_response: Any) -> Any:
        watcher.start()
        served = watcher.app
        path = environ.get("PATH_INFO", "")
        if path == "/healthz" and environ["REQUEST_METHOD"] == "GET":
            state = {"ok": True, "model_artifact": watcher.artifact, "error": watcher.error}
            return _reply(start_response, 200, state)
        if served is None:
            return _reply(start_response, 503, {"message": watcher.error or "loading the model"})
        return served(environ, start_response)

    return app


def _reply(start_response: Any, status: int, payload: dict[str, Any]) -> list[bytes]:
    body = json.dumps(payload).encode()
    phrase = {200: "OK", 503: "Service Unavailable"}[status]
    start_response(
        f"{status} {phrase}", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    watcher = ModelWatcher(
        os.environ["MODEL_POINTER"],
        os.environ.get("ENDPOINT_NAME", "penguin-classifier"),
        Path(os.environ.get("MODEL_WORKDIR", tempfile.gettempdir())) / "models",
        float(os.environ.get("POLL_SECONDS", "5")),
    )
    port = int(os.environ.get("PORT", "8080"))
    log.info("endpoint %r on :%d, model from %s", watcher.endpoint, port, os.environ["MODEL_POINTER"])
    serve(make_container_app(watcher), "0.0.0.0", port, ServerLimits(), name="bdml-model-server")


if __name__ == "__main__":
    main()
