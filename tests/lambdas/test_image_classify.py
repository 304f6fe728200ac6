"""The image-classify Lambda handler: API Gateway proxy events in, proper statuses out.

Validation cases never reach an endpoint; the classification cases call the real model server (tiny
model) through boto3's sagemaker-runtime, as the deployed function does."""

from __future__ import annotations

import base64
import json
import random
from typing import Any

import pytest

from lambdas.image_classify import handler
from tests.ml.fixtures import ENDPOINT, draw_penguin, model_server, png_bytes, tiny_model  # noqa: F401


def _event(body: bytes | str | None, b64: bool = True) -> dict[str, Any]:
    if isinstance(body, bytes):
        body = base64.b64encode(body).decode() if b64 else body.decode("latin-1")
    return {
        "httpMethod": "POST",
        "path": "/classify",
        "headers": {"Content-Type": "image/png"},
        "body": body,
        "isBase64Encoded": b64,
    }


def _call(event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = handler.lambda_handler(event, None)
    assert response["headers"]["Content-Type"] == "application/json"
    return response["statusCode"], json.loads(response["body"])


@pytest.fixture
def endpoint_env(monkeypatch: pytest.MonkeyPatch, model_server: str) -> None:  # noqa: F811
    monkeypatch.setenv("SAGEMAKER_ENDPOINT_NAME", ENDPOINT)
    monkeypatch.setenv("SAGEMAKER_RUNTIME_ENDPOINT_URL", model_server)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setattr(handler, "_client", None)


@pytest.mark.unit
@pytest.mark.parametrize(
    ("event", "status", "words"),
    [
        (_event(None), 400, "empty body"),
        (_event("!!!not base64!!!"), 400, "does not decode"),
        (_event(b"just some text", b64=False), 415, "not an image"),
        (_event(b"just some text"), 415, "not a PNG or JPEG"),
        (_event(b"\x89PNG\r\n\x1a\n" + b"\0" * (7 * 1024 * 1024)), 413, "limit"),
    ],
    ids=["empty", "bad-base64", "text-body", "text-file", "oversize"],
)
def test_bad_requests_get_clear_4xx(event: dict[str, Any], status: int, words: str) -> None:
    code, body = _call(event)
    assert code == status and words in body["error"]


@pytest.mark.integration
def test_classifies_through_the_runtime_api(endpoint_env: None) -> None:
    code, body = _call(_event(png_bytes(draw_penguin(random.Random(21)))))
    assert code == 200
    assert body["label"] == "penguin" and set(body["probabilities"]) == {"penguin", "notpenguin"}


@pytest.mark.integration
def test_json_body_with_base64_image_is_accepted(endpoint_env: None) -> None:
    payload = json.dumps({"image": base64.b64encode(png_bytes(draw_penguin(random.Random(22)))).decode()})
    code, body = _call({"body": payload, "isBase64Encoded": False})
    assert code == 200 and body["label"] == "penguin"


@pytest.mark.integration
def test_truncated_png_is_a_400_from_the_model(endpoint_env: None) -> None:
    code, body = _call(_event(png_bytes(draw_penguin(random.Random(23)))[:400]))
    assert code == 400 and "rejected the image" in body["error"]


@pytest.mark.integration
def test_unreachable_endpoint_is_a_503(endpoint_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAGEMAKER_RUNTIME_ENDPOINT_URL", "http://127.0.0.1:9")  # discard port: refused
    code, body = _call(_event(png_bytes(draw_penguin(random.Random(24)))))
    assert code == 503 and "unreachable" in body["error"]


@pytest.mark.integration
def test_unknown_endpoint_is_a_502(endpoint_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAGEMAKER_ENDPOINT_NAME", "no-such-endpoint")
    code, body = _call(_event(png_bytes(draw_penguin(random.Random(25)))))
    assert code == 502 and "ValidationError" in body["error"]
