"""The SageMaker inference handler on the tiny model: contract functions and their refusals."""

from __future__ import annotations

import io
import json
import random

import numpy as np
import pytest
from PIL import Image

from ml.serving import inference
from tests.ml.fixtures import TinyModel, draw_other, draw_penguin, png_bytes, tiny_model  # noqa: F401

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def model(tiny_model: TinyModel) -> inference.Model:  # noqa: F811
    return inference.model_fn(tiny_model.model_dir)


def test_handler_chain_returns_probabilities_per_class(model: inference.Model) -> None:
    rng = random.Random(99)
    for draw, expected in ((draw_penguin, "penguin"), (draw_other, "notpenguin")):
        data = inference.input_fn(png_bytes(draw(rng)), "image/png")
        prediction = inference.predict_fn(data, model)
        body, content_type = inference.output_fn(prediction, "application/json", model.classes)
        answer = json.loads(body)
        assert content_type == "application/json"
        assert set(answer["probabilities"]) == {"penguin", "notpenguin"}
        assert abs(sum(answer["probabilities"].values()) - 1) < 1e-4
        assert answer["label"] == expected


def test_jpeg_and_x_image_are_accepted(model: inference.Model) -> None:
    out = io.BytesIO()
    draw_penguin(random.Random(1)).save(out, format="JPEG")
    for content_type in ("image/jpeg", "application/x-image", "image/jpeg; charset=binary"):
        assert inference.predict_fn(inference.input_fn(out.getvalue(), content_type), model).shape == (2,)


def test_transparent_png_is_flattened_not_black(model: inference.Model) -> None:
    rgba = draw_penguin(random.Random(2)).convert("RGBA")
    rgba.putalpha(255)
    clear = Image.new("RGBA", (300, 300), (0, 0, 0, 0))
    clear.paste(rgba, (70, 70))
    p = inference.predict_fn(inference.input_fn(png_bytes(clear), "image/png"), model)
    assert np.isclose(p.sum(), 1, atol=1e-4)


@pytest.mark.parametrize(
    ("body", "content_type", "error"),
    [
        (b"hello, this is text", "image/png", inference.BadImage),
        (png_bytes(draw_penguin(random.Random(3)))[:200], "image/png", inference.BadImage),
        (b"", "image/png", inference.BadImage),
        (b"\x89PNG", "text/plain", inference.UnsupportedContentType),
        (b"x" * (6 * 1024 * 1024 + 1), "image/png", inference.PayloadTooLarge),
    ],
    ids=["text", "truncated-png", "empty", "wrong-content-type", "over-6MB"],
)
def test_bad_input_is_refused_with_a_reason(body: bytes, content_type: str, error: type[Exception]) -> None:
    with pytest.raises(error) as caught:
        inference.input_fn(body, content_type)
    assert str(caught.value)


def test_unsupported_accept_is_refused(model: inference.Model) -> None:
    with pytest.raises(inference.UnsupportedContentType):
        inference.output_fn(np.array([0.3, 0.7]), "text/csv", model.classes)
