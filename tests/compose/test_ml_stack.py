"""The ML pipeline on the compose stack, as the embedded suite runs it (tests/ml/test_cli_e2e.py): dataset →
prepare → S3 channels → training job → model.tar.gz in LocalStack S3; then the containers take over: the
model-server container loads the model the training pointer names, and one held-out image goes through API
Gateway → the classify Lambda (a LocalStack container on the compose network) → the model server, and
through the web-app container's JSON API and upload page. Needs a Docker engine; skipped as a module where
none answers."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import NO_ENGINE_REASON, Stack, compose_stack, docker_engine_available

if not docker_engine_available():
    pytest.skip(NO_ENGINE_REASON, allow_module_level=True)

from tests.ml.fixtures import write_user_folder

pytestmark = pytest.mark.compose

CLASSES = {"penguin", "notpenguin"}


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    with compose_stack("init", "model-server", "webapp", build=True) as running:
        yield running


def _ml(env: dict[str, str], *args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ml", *args], env=env, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stderr[-3000:]


def _get(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def _post(url: str, body: bytes, content_type: str) -> Any:
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": content_type})
    with urllib.request.urlopen(request, timeout=120) as response:
        raw = response.read()
    return json.loads(raw) if response.headers.get_content_type() == "application/json" else raw.decode()


def test_trained_model_is_served_through_lambda_api_and_web_app(stack: Stack, tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = stack.env(BDML_STACK__HOME=str(home))
    server = f"http://127.0.0.1:{stack.port('BDML_MODEL_SERVER_PORT')}"
    assert _get(f"{server}/ping")[0] == 503, "no model before the first training"

    users = write_user_folder(tmp_path / "user", 30, seed=7)
    _ml(env, "dataset", "--from", str(users))
    _ml(env, "prepare", "--copies", "90")
    _ml(env, "train", "--arch", "tiny", "--epochs", "10")

    deadline = time.monotonic() + 180  # the container polls the training pointer every few seconds
    while (state := _get(f"{server}/healthz")[1]).get("model_artifact") is None:
        assert time.monotonic() < deadline, f"the model server did not load the model: {state}"
        time.sleep(3)
    assert state["model_artifact"].endswith("model.tar.gz")
    assert _get(f"{server}/ping")[0] == 200

    image = sorted((home / "ml" / "prepared" / "test" / "penguin").glob("*.jpg"))[0].read_bytes()
    answer = _post(env["BDML_WEB__API_URL"], image, "image/jpeg")  # API Gateway → Lambda → model server
    assert answer["label"] in CLASSES and set(answer["probabilities"]) == CLASSES

    web = f"http://127.0.0.1:{stack.port('BDML_WEB_PORT')}"
    assert _get(f"{web}/healthz")[1]["classifier_configured"] is True
    through_web = _post(f"{web}/api/classify", image, "image/jpeg")
    assert through_web["label"] == answer["label"]
    boundary = uuid.uuid4().hex
    form = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="upload.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + image
        + f"\r\n--{boundary}--\r\n".encode()
    )
    page = _post(f"{web}/", form, f"multipart/form-data; boundary={boundary}")
    assert f'id="label">{answer["label"]}<' in page
