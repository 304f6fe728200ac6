"""The SageMaker inference handler on the tiny model: contract functions and their refusals."""

from __future__ import annotations

import io
import json
import random
import subprocess
import sys
from pathlib import Path

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
        body, content_type = inference.output_fn(prediction, "application/json")
        answer = json.loads(body)
        assert content_type == "application/json"
        assert set(answer["probabilities"]) == {"penguin", "notpenguin"}
        assert abs(sum(answer["probabilities"].values()) - 1) < 1e-4
        assert answer["label"] == expected


def test_jpeg_and_x_image_are_accepted(model: inference.Model) -> None:
    out = io.BytesIO()
    draw_penguin(random.Random(1)).save(out, format="JPEG")
    for content_type in ("image/jpeg", "application/x-image", "image/jpeg; charset=binary"):
        assert inference.predict_fn(
            inference.input_fn(out.getvalue(), content_type), model
        ).probabilities.shape == (2,)


def test_transparent_png_is_flattened_not_black(model: inference.Model) -> None:
    rgba = draw_penguin(random.Random(2)).convert("RGBA")
    rgba.putalpha(255)
    clear = Image.new("RGBA", (300, 300), (0, 0, 0, 0))
    clear.paste(rgba, (70, 70))
    p = inference.predict_fn(inference.input_fn(png_bytes(clear), "image/png"), model)
    assert np.isclose(p.probabilities.sum(), 1, atol=1e-4)


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
        inference.output_fn(inference.Prediction(np.array([0.3, 0.7]), model.classes), "text/csv")


def test_handlers_match_the_serving_toolkits_calling_convention() -> None:
    """SageMaker's serving toolkit passes its context as one extra argument to a handler declaring one
    parameter more than it calls with; so each handler must take exactly the toolkit's own arguments."""
    import inspect

    calls = {"model_fn": 1, "input_fn": 2, "predict_fn": 2, "output_fn": 2}
    for name, count in calls.items():
        assert len(inspect.signature(getattr(inference, name)).parameters) == count, name


@pytest.mark.parametrize("fmt", ["TIFF", "ICO", "EPS"])
def test_only_web_image_formats_are_decoded(fmt: str) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), (10, 200, 10)).save(buffer, fmt)
    with pytest.raises(inference.BadImage) as caught:
        inference.input_fn(buffer.getvalue(), "image/png")
    assert caught.value.args[0] == "not a readable image (JPEG, PNG, GIF, WebP or BMP)"


def test_a_long_thin_image_costs_little_memory(tmp_path: Path) -> None:
    """20000×2000 is 40 MP, inside the pixel cap; padding it to a square before shrinking took 2 GB."""
    image = tmp_path / "long.png"
    Image.new("L", (20_000, 2_000), 255).save(image)
    script = (
        "import sys\n"
        "from ml.serving.preprocess import decode, to_array\n"
        "a = to_array(decode(open(sys.argv[1], 'rb').read()), 224)\n"
        "assert a.shape == (3, 224, 224)\n"
        # VmHWM: this process's own peak (ru_maxrss would count the forking test process's too)
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0]\n"
        "print(int(hwm.split()[1]) // 1024)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(image)], capture_output=True, text=True, check=True
    )
    assert int(done.stdout) < 400, f"peak RSS {done.stdout.strip()} MiB"
