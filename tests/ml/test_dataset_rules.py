"""Dataset rules that decide labels and rejections (the package sources themselves are exercised by
`bdml ml dataset`; fetching ~500 MB of packages is too slow for the suite)."""

from __future__ import annotations

import random

import pytest
from PIL import Image

from ml.dataset.normalise import Rejected, dhash, normalise
from ml.dataset.sources import _label
from tests.ml.fixtures import draw_penguin, png_bytes

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("emperor_penguin_ralf_ste_01", "penguin"),
        ("Pinguino1", "penguin"),
        ("tux_clemente_01", "penguin"),
        ("baby-tux_alex_kuehne_01", "penguin"),
        ("animals/birds/cartoon/tux", "penguin"),
        ("tuxedo_cat_01", "notpenguin"),
        ("tuxpaint-icon", "notpenguin"),
        ("penny_front_coin", "notpenguin"),
        ("giraffe", "notpenguin"),
    ],
)
def test_labels_from_names(name: str, label: str) -> None:
    assert _label(name) == label


def test_normalise_crops_transparency_and_squares() -> None:
    sprite = Image.new("RGBA", (300, 120), (0, 0, 0, 0))
    sprite.paste(draw_penguin(random.Random(1)).resize((80, 100)).convert("RGBA"), (20, 10))
    out = normalise(png_bytes(sprite))
    assert out.size == (256, 256) and out.mode == "RGB"
    assert out.getpixel((0, 0)) == (255, 255, 255)  # padding is white, not black


@pytest.mark.parametrize(
    ("image", "reason"),
    [
        (Image.new("RGBA", (64, 64), (0, 0, 0, 0)), "fully transparent"),
        (Image.effect_noise((400, 40), 60).convert("RGB"), "sprite sheet"),
        (Image.effect_noise((16, 16), 60).convert("RGB"), "too small"),
        (Image.new("RGB", (64, 64), (0, 0, 0)), "flat silhouette"),
    ],
)
def test_unusable_images_are_rejected_with_a_reason(image: Image.Image, reason: str) -> None:
    with pytest.raises(Rejected, match=reason):
        normalise(png_bytes(image))


def test_garbage_bytes_are_rejected() -> None:
    with pytest.raises(Rejected, match="undecodable"):
        normalise(b"definitely not an image")


def test_dhash_ignores_re_encoding_and_scale() -> None:
    picture = draw_penguin(random.Random(2))
    assert dhash(picture) == dhash(picture.resize((80, 80)).resize((160, 160)))
