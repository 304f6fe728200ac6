"""API Gateway (REST, AWS_PROXY) → SageMaker endpoint: classify one uploaded image.

Deployable alone: the standard library and boto3 (which every AWS Lambda Python runtime provides).
Configuration from the environment:
  SAGEMAKER_ENDPOINT_NAME         the endpoint to invoke (required)
  SAGEMAKER_RUNTIME_ENDPOINT_URL  where the runtime API is (unset on AWS; the local model server otherwise)
  MAX_IMAGE_BYTES                 upload limit, default 6 MB (the endpoint's own payload limit)

Every failure is a 4xx/5xx with a JSON ``{"error": ...}`` body — the article's version answered 200 with a
hard-coded label whatever happened."""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

log = logging.getLogger()
log.setLevel(logging.INFO)

DEFAULT_MAX_BYTES = 6 * 1024 * 1024
SIGNATURES = (  # magic bytes → the content type the endpoint accepts
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
)
_client: Any = None


class RequestError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _runtime() -> Any:
    """One client per warm container; an explicit endpoint_url outranks AWS_ENDPOINT_URL in the env."""
    global _client
    if _client is None:
        _client = boto3.client(
            "sagemaker-runtime",
            endpoint_url=os.environ.get("SAGEMAKER_RUNTIME_ENDPOINT_URL") or None,
            config=Config(
                connect_timeout=2, read_timeout=20, retries={"max_attempts": 2, "mode": "standard"}
            ),
        )
    return _client


def _response(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json", "Access-Control-Allow-Origin": "*"},
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }


def _image_bytes(event: dict[str, Any]) -> bytes:
    body = event.get("body")
    if not body:
        raise RequestError(400, "empty body: POST the image bytes (image/png or image/jpeg)")
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise RequestError(400, "the body is marked base64 but does not decode") from None
    # A text body: API Gateway passed it through as text (no binary media type matched). Accept the JSON
    # form {"image": "<base64>"} for clients that cannot send binary; anything else is not an image.
    try:
        payload = json.loads(body)
        return base64.b64decode(payload["image"], validate=True)
    except (ValueError, TypeError, KeyError, binascii.Error):
        raise RequestError(
            415,
            "not an image: send PNG/JPEG bytes with Content-Type image/png or image/jpeg, "
            'or JSON {"image": "<base64>"}',
        ) from None


def _validate(data: bytes) -> str:
    limit = int(os.environ.get("MAX_IMAGE_BYTES", DEFAULT_MAX_BYTES))
    if not data:
        raise RequestError(400, "empty image")
    if len(data) > limit:
        raise RequestError(413, f"image is {len(data):,} bytes; the limit is {limit:,}")
    for magic, content_type in SIGNATURES:
        if data.startswith(magic):
            return content_type
    raise RequestError(415, "not a PNG or JPEG image (checked the file's first bytes, not its name)")


def _classify(data: bytes, content_type: str) -> dict[str, Any]:
    endpoint = os.environ.get("SAGEMAKER_ENDPOINT_NAME")
    if not endpoint:
        raise RequestError(500, "SAGEMAKER_ENDPOINT_NAME is not configured")
    try:
        reply = _runtime().invoke_endpoint(
            EndpointName=endpoint, ContentType=content_type, Accept="application/json", Body=data
        )
        result: dict[str, Any] = json.loads(reply["Body"].read())
    except ClientError as exc:
        error = exc.response.get("Error", {})
        original = exc.response.get("OriginalStatusCode")
        if error.get("Code") == "ModelError" and isinstance(original, int) and 400 <= original < 500:
            # The model rejected the image (corrupt, truncated, too many pixels): the caller's problem.
            message = exc.response.get("OriginalMessage") or error.get("Message", "")
            raise RequestError(
                413 if original == 413 else 400, f"the model rejected the image: {message}"
            ) from None
        log.error("endpoint %s failed: %s", endpoint, exc)
        raise RequestError(502, f"the model endpoint failed ({error.get('Code', 'error')})") from None
    except BotoCoreError as exc:  # connection refused, timeouts: the endpoint is not there
        log.error("endpoint %s unreachable: %s", endpoint, exc)
        raise RequestError(503, "the model endpoint is unreachable; try again shortly") from None
    return {"label": result["label"], "probabilities": result["probabilities"]}


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        data = _image_bytes(event)
        return _response(200, _classify(data, _validate(data)))
    except RequestError as exc:
        return _response(exc.status, {"error": exc.message})
    except Exception:
        log.exception("unexpected failure")
        return _response(500, {"error": "internal error"})
