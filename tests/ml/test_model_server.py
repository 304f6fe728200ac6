"""The model server through an unchanged boto3 `sagemaker-runtime` client, and its container paths."""

from __future__ import annotations

import json
import random
import urllib.error
import urllib.request
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.ml.fixtures import (  # noqa: F401  (fixtures)
    ENDPOINT,
    draw_other,
    draw_penguin,
    model_server,
    png_bytes,
    tiny_model,
)

pytestmark = pytest.mark.integration


def _runtime(url: str) -> Any:
    return boto3.client(
        "sagemaker-runtime",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def test_ping(model_server: str) -> None:  # noqa: F811
    with urllib.request.urlopen(f"{model_server}/ping") as response:
        assert response.status == 200


def test_invoke_endpoint_through_boto3(model_server: str) -> None:  # noqa: F811
    reply = _runtime(model_server).invoke_endpoint(
        EndpointName=ENDPOINT,
        ContentType="image/png",
        Accept="application/json",
        Body=png_bytes(draw_penguin(random.Random(11))),
    )
    assert reply["ContentType"] == "application/json"
    assert reply["InvokedProductionVariant"] == "AllTraffic"
    answer = json.loads(reply["Body"].read())
    assert answer["label"] == "penguin" and set(answer["probabilities"]) == {"penguin", "notpenguin"}


def test_container_invocations_path(model_server: str) -> None:  # noqa: F811
    request = urllib.request.Request(
        f"{model_server}/invocations",
        method="POST",
        data=png_bytes(draw_other(random.Random(12))),
        headers={"Content-Type": "application/x-image"},
    )
    with urllib.request.urlopen(request) as response:
        assert json.loads(response.read())["label"] == "notpenguin"


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"not an image at all", "image/png", 400),
        (b"", "image/jpeg", 400),
        (png_bytes(draw_penguin(random.Random(13)))[:300], "image/png", 400),
        (b"{}", "application/json", 415),
    ],
    ids=["text", "empty", "truncated", "json"],
)
def test_bad_input_is_a_model_error_with_the_containers_status(
    model_server: str,  # noqa: F811
    body: bytes,
    content_type: str,
    status: int,
) -> None:
    with pytest.raises(ClientError) as caught:
        _runtime(model_server).invoke_endpoint(EndpointName=ENDPOINT, ContentType=content_type, Body=body)
    response: dict[str, Any] = dict(caught.value.response)
    assert response["Error"]["Code"] == "ModelError"
    assert response["OriginalStatusCode"] == status
    assert response["OriginalMessage"]


def test_oversize_payload_is_refused_without_reading_it(model_server: str) -> None:  # noqa: F811
    request = urllib.request.Request(
        f"{model_server}/invocations",
        method="POST",
        data=b"x" * (7 * 1024 * 1024),
        headers={"Content-Type": "image/png"},
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request)
    assert caught.value.code == 413


def test_unknown_endpoint_is_a_validation_error(model_server: str) -> None:  # noqa: F811
    with pytest.raises(ClientError) as caught:
        _runtime(model_server).invoke_endpoint(EndpointName="nope", ContentType="image/png", Body=b"x")
    assert caught.value.response["Error"]["Code"] == "ValidationError"
