"""The Lambda deployed on MiniStack behind a REST API (AWS_PROXY, binary media types), called over HTTP
exactly as the web app and curl do: good images get a label, bad ones a clear 4xx."""

from __future__ import annotations

import io
import json
import random
import urllib.error
import urllib.request
from typing import Any

import pytest
from PIL import Image

from tests.ml.fixtures import deployed_api, draw_other, draw_penguin, model_server, png_bytes, tiny_model  # noqa: F401

pytestmark = pytest.mark.integration


def _post(url: str, data: bytes, content_type: str) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, data=data, method="POST", headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def test_png_and_jpeg_are_classified(deployed_api: str) -> None:  # noqa: F811
    status, body = _post(deployed_api, png_bytes(draw_penguin(random.Random(31))), "image/png")
    assert status == 200 and body["label"] == "penguin", body
    out = io.BytesIO()
    draw_other(random.Random(32)).save(out, format="JPEG")
    status, body = _post(deployed_api, out.getvalue(), "image/jpeg")
    assert status == 200 and body["label"] == "notpenguin", body
    assert abs(sum(body["probabilities"].values()) - 1) < 1e-4


@pytest.mark.parametrize(
    ("data", "content_type", "status"),
    [
        (b"this is a text file, not an image\n", "text/plain", 415),
        (b"this is a text file, not an image\n", "image/png", 415),
        (b"", "image/png", 400),
    ],
    ids=["text-file", "text-labelled-png", "empty-body"],
)
def test_bad_uploads_get_clear_4xx(deployed_api: str, data: bytes, content_type: str, status: int) -> None:  # noqa: F811
    got, body = _post(deployed_api, data, content_type)
    assert got == status and body.get("error"), body


def test_truncated_png_is_a_400(deployed_api: str) -> None:  # noqa: F811
    status, body = _post(deployed_api, png_bytes(draw_penguin(random.Random(33)))[:500], "image/png")
    assert status == 400 and "rejected the image" in body["error"]


def test_20_mb_image_is_a_413(deployed_api: str) -> None:  # noqa: F811
    noise = Image.frombytes("RGB", (2600, 2600), random.Random(34).randbytes(2600 * 2600 * 3))
    data = png_bytes(noise)
    assert len(data) > 19 * 1024 * 1024
    status, body = _post(deployed_api, data, "image/png")
    assert status == 413, body
