"""Deploying against an endpoint served by someone else: the compose model-server container's own app
(docker/model_server.py, which loads whatever the training pointer in S3 names) runs here against the
emulator, and bdml waits until it serves the new model instead of starting a server of its own."""

from __future__ import annotations

import importlib.util
import json
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from werkzeug.serving import make_server

from ml.endpoint import model_server
from services.objectstore import ObjectStore, S3Uri
from services.settings import Settings
from tests.ml.fixtures import TinyModel, tiny_model  # noqa: F401

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def _container_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("compose_model_server", REPO / "docker" / "model_server.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def container(
    stack: Settings, store: ObjectStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, S3Uri]]:
    """The container's app on a free port, watching a pointer of this test's own in the processed bucket."""
    for name, value in {
        "AWS_ENDPOINT_URL": stack.aws.endpoint_url or "",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": stack.aws.region,
    }.items():
        monkeypatch.setenv(name, value)  # how the container's boto3 finds the emulator  # fmt: skip
    pointer = S3Uri(stack.s3.processed_bucket, f"ml-external/{tmp_path.name}/latest.json")
    module: Any = _container_module()
    watcher = module.ModelWatcher(str(pointer), "penguin-test", tmp_path / "models", 0.2)
    server = make_server("127.0.0.1", 0, module.make_container_app(watcher), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", pointer
    server.shutdown()


def test_deploying_waits_until_the_endpoint_serves_the_new_model(
    container: tuple[str, S3Uri],
    store: ObjectStore,
    tiny_model: TinyModel,  # noqa: F811
    tmp_path: Path,
) -> None:
    url, pointer = container
    with pytest.raises(RuntimeError, match=r"did not load .* within 1 s.*BDML_ML__SERVER_URL"):
        model_server.wait_for_model(url, "s3://nowhere/model.tar.gz", timeout_s=1)  # nothing trained yet
    archive = tmp_path / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(tiny_model.model_dir.iterdir()):
            tar.add(path, arcname=path.name)
    artifact = S3Uri(pointer.bucket, pointer.key.replace("latest.json", "job-1/model.tar.gz"))
    store.upload(archive, artifact)
    store.put_text(pointer, json.dumps({"model_artifact": str(artifact)}))
    model_server.wait_for_model(url, str(artifact), timeout_s=60)
    assert model_server.ping(url)
