"""Style-shift evaluation: every slice transforms the held-out image as named, deterministically; the
figures count every penguin and recall per class; the chart and the galleries of misses are written."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from ml.config import CLASSES
from ml.training import styleshift
from ml.training.data import Sample
from tests.ml.fixtures import TinyModel, draw_other, draw_penguin, tiny_model  # noqa: F401  (fixture)

pytestmark = pytest.mark.unit

PENGUIN, OTHER = CLASSES.index("penguin"), CLASSES.index("notpenguin")


def _samples(folder: Path, penguins: int, others: int) -> list[Sample]:
    rng = random.Random(3)
    out = []
    for i in range(penguins + others):
        is_penguin = i < penguins
        path = folder / f"{i}.jpg"
        (draw_penguin if is_penguin else draw_other)(rng, 96).save(path)
        out.append(Sample(path, PENGUIN if is_penguin else OTHER, "made", "photo"))
    return out


class Always:
    """A stand-in ONNX session that calls every image ``label`` with probability 0.8."""

    def __init__(self, label: int) -> None:
        self.label = label
        self.seen: list[int] = []

    def run(self, _outputs: Any, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        n = feeds["image"].shape[0]
        self.seen.append(n)
        probs = np.full((n, 2), 0.2, dtype=np.float32)
        probs[:, self.label] = 0.8
        return [probs]


def test_slices_cover_the_issue_list() -> None:
    names = " ".join(styleshift.SLICES).lower()
    for word in ("hue", "channels", "greyscale", "inverted", "tight", "off-centre", "small", "busy", "line"):
        assert word in names


def test_transforms_are_deterministic_and_do_what_they_say(tmp_path: Path) -> None:
    (sample,) = _samples(tmp_path, 1, 0)
    backdrops = [Image.new("RGB", (50, 50), (0, 200, 0))]
    original = styleshift.transformed("original", sample, 0, backdrops)
    for name in styleshift.SLICES:
        a = styleshift.transformed(name, sample, 5, backdrops)
        b = styleshift.transformed(name, sample, 5, backdrops)
        assert a.tobytes() == b.tobytes(), name
    grey = np.asarray(styleshift.transformed("greyscale", sample, 0, backdrops)).astype(int)
    assert np.abs(grey[..., 0] - grey[..., 1]).max() == 0
    inverted = np.asarray(styleshift.transformed("inverted", sample, 0, backdrops)).astype(int)
    assert np.abs(inverted + np.asarray(original).astype(int) - 255).max() == 0
    assert styleshift.transformed("small (32 px)", sample, 0, backdrops).size == (32, 32)
    assert styleshift.transformed("tight crop", sample, 0, backdrops).size == (58, 58)
    corners = {
        styleshift.transformed("off-centre crop", sample, i, backdrops).getpixel((0, 0)) for i in range(4)
    }
    assert len(corners) > 1  # the window moves between corners
    sprite = tmp_path / "sprite.png"
    canvas = Image.new("RGB", (96, 96), "white")
    canvas.paste((10, 10, 10), (30, 20, 66, 80))
    canvas.save(sprite)
    busy = styleshift.transformed("busy background", Sample(sprite, PENGUIN, "made", "sprite"), 0, backdrops)
    assert busy.getpixel((0, 0)) == (0, 200, 0)  # the white backdrop is now the other picture
    assert busy.getpixel((48, 50)) == (10, 10, 10)  # the subject is untouched


def test_figures_count_every_penguin_and_recall_per_class(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(styleshift, "MAX_OTHERS", 10)
    samples = _samples(tmp_path, 6, 30)
    figures, predictions = styleshift.evaluate(Always(PENGUIN), samples, 32, batch_size=8)
    assert list(figures) == list(styleshift.SLICES)
    assert figures["original"]["count"] == 36  # the untouched slice is the whole test set
    for name, f in figures.items():
        assert f["recall"] == {"notpenguin": 0.0, "penguin": 1.0}, name
        if name != "original":
            assert f["count"] == 16  # every penguin, and the others sampled down to MAX_OTHERS
    misses = [p for p in predictions if p.predicted != p.sample.label]
    assert misses and all(p.sample.label == OTHER and abs(p.confidence - 0.8) < 1e-6 for p in misses)


def test_run_writes_the_chart_and_both_galleries(tiny_model: TinyModel, tmp_path: Path) -> None:  # noqa: F811
    from ml.training.data import load_channel

    prepared = tiny_model.prepared
    samples = load_channel(prepared / "test", prepared / "test_lst", "test")
    result = styleshift.run(tiny_model.model_dir / "model.onnx", samples, 64, tmp_path / "shift")
    assert set(result["slices"]) == set(styleshift.SLICES)
    assert 0.0 <= result["min_penguin_recall"] <= 1.0
    assert [Path(p).name for p in result["pictures"]] == [
        "style-shift.png",
        "misses-test.png",
        "misses-style-shift.png",
    ]
    for picture in result["pictures"]:
        with Image.open(picture) as image:
            assert image.width > 400 and image.height > 150
