"""Augmentation: every variant from a fresh copy, the right enhancer with its own factor, in range; and the
variants that break colour and backdrop shortcuts do what they say."""

from __future__ import annotations

import random
from collections import Counter

import numpy as np
import pytest
from PIL import Image, ImageChops, ImageEnhance

from ml.prepare import imageops
from ml.prepare.augment import COLOURS, ENHANCERS, JITTER, ROTATIONS, Variant, apply, plan
from tests.ml.fixtures import draw_penguin

pytestmark = pytest.mark.unit


def _sprite() -> Image.Image:
    """A penguin on the dataset's white backdrop (the white belly is inside the outline)."""
    canvas = Image.new("RGB", (96, 96), "white")
    penguin = draw_penguin(random.Random(9)).crop((40, 20, 120, 150)).resize((48, 72))
    canvas.paste(penguin, (24, 12))
    return canvas


def test_first_variant_is_the_image_itself() -> None:
    assert plan(0, "x").plain


def test_variants_draw_every_treatment_with_jitter_in_range() -> None:
    variants = [plan(i, "img-1") for i in range(1, 400)]
    assert {v.rotation for v in variants} == set(ROTATIONS)
    assert Counter(v.rotation for v in variants)[0] > len(variants) / 2  # upright most often
    assert {v.colour for v in variants} == {c for c, _ in COLOURS}
    assert any(v.crop for v in variants) and any(v.crop is None for v in variants)
    assert any(v.background is not None for v in variants) and any(v.mirror for v in variants)
    for v in variants:
        assert set(v.factors) == set(ENHANCERS)
        assert all(JITTER[0] <= f <= JITTER[1] for f in v.factors.values())
        if v.crop:
            side, left, top = v.crop
            assert 0.5 < side < 1 and left + side <= 1.001 and top + side <= 1.001
    assert plan(5, "img-1") == plan(5, "img-1")  # deterministic for a seed
    assert plan(5, "img-1") != plan(5, "img-2")


def test_source_image_is_never_modified() -> None:
    source = draw_penguin(random.Random(3))
    before = source.tobytes()
    for i in range(12):
        apply(source, plan(i, "s"), 64)
    assert source.tobytes() == before


def test_variants_do_not_accumulate() -> None:
    """The article applied each enhancement to the previous variant; here variant k depends only on k."""
    source = draw_penguin(random.Random(4))
    alone = apply(source, plan(3, "s"), 64)
    for i in range(1, 3):
        apply(source, plan(i, "s"), 64)
    again = apply(source, plan(3, "s"), 64)
    assert ImageChops.difference(alone, again).getbbox() is None


def test_brightness_uses_its_own_factor() -> None:
    source = draw_penguin(random.Random(5)).resize((64, 64), Image.Resampling.LANCZOS)
    got = apply(source, Variant(0, {"brightness": 1.2}), 64)
    want = ImageEnhance.Brightness(source).enhance(1.2)
    assert ImageChops.difference(got, want).getbbox() is None
    contrast = ImageEnhance.Contrast(source).enhance(1.2)  # the article's bug used contrast here
    assert ImageChops.difference(got, contrast).getbbox() is not None


def test_rotation_turns_the_picture() -> None:
    source = Image.new("RGB", (64, 64), "white")
    source.paste((0, 0, 0), (0, 0, 32, 8))  # a bar along the top edge
    turned = apply(source, Variant(180, {}), 64)
    assert turned.getpixel((50, 60)) == (0, 0, 0) and turned.getpixel((10, 2)) == (255, 255, 255)


def test_colour_treatments_change_colour_not_shape() -> None:
    source = Image.new("RGB", (8, 8), (250, 150, 20))  # the orange of a beak
    assert apply(source, Variant(0, {}, "grey"), 8).getpixel((0, 0)) == (165, 165, 165)  # ITU-R 601 luma
    assert apply(source, Variant(0, {}, "invert"), 8).getpixel((0, 0)) == (5, 105, 235)
    assert apply(source, Variant(0, {}, "channels", channels=(2, 1, 0)), 8).getpixel((0, 0)) == (20, 150, 250)
    r, g, b = np.asarray(apply(source, Variant(0, {}, "hue", hue=120), 8))[0, 0].tolist()
    assert g > r and g > b  # orange turned a third of the way round the wheel: green


def test_line_art_is_dark_strokes_on_white() -> None:
    lines = np.asarray(apply(_sprite(), Variant(0, {}, "lines"), 96).convert("L"))
    assert set(np.unique(lines)) <= {0, 255}
    assert 0.02 < (lines == 0).mean() < 0.4 and lines[0, 0] == 255


def test_busy_background_replaces_the_backdrop_not_the_white_belly() -> None:
    sprite = _sprite()
    mask = imageops.background_mask(sprite)
    assert mask[0, 0] and mask[-1, -1]
    belly = (48, 60)  # white, but enclosed by the black body
    assert sprite.getpixel(belly) == (245, 245, 245) and not mask[belly[1], belly[0]]
    busy = apply(sprite, Variant(0, {}, background=7), 96)
    assert busy.getpixel(belly) == (245, 245, 245)
    px = np.asarray(busy)[mask]
    assert (px < imageops.NEAR_WHITE).any(axis=1).mean() > 0.5  # most of the backdrop is no longer white


def test_crop_zooms_into_the_chosen_square() -> None:
    source = Image.new("RGB", (100, 100), "white")
    source.paste((0, 0, 0), (50, 50, 100, 100))  # bottom-right quarter black
    zoomed = apply(source, Variant(0, {}, crop=(0.5, 0.5, 0.5)), 100)
    assert np.asarray(zoomed).max() < 30  # the whole frame is now that black quarter
