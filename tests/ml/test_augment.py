"""Augmentation: every variant from a fresh copy, the right enhancer with its own factor, in range."""

from __future__ import annotations

import random

import pytest
from PIL import Image, ImageChops, ImageEnhance

from ml.prepare.augment import ENHANCERS, JITTER, ROTATIONS, Variant, apply, plan
from tests.ml.fixtures import draw_penguin

pytestmark = pytest.mark.unit


def test_first_variant_is_the_image_itself() -> None:
    assert plan(0, "x").plain


def test_variants_cycle_rotations_and_jitter_in_range() -> None:
    variants = [plan(i, "img-1") for i in range(1, 13)]
    assert {v.rotation for v in variants} == set(ROTATIONS)
    for v in variants:
        assert set(v.factors) == set(ENHANCERS)
        assert all(JITTER[0] <= f <= JITTER[1] for f in v.factors.values())
    assert plan(5, "img-1") == plan(5, "img-1")  # deterministic for a seed
    assert plan(5, "img-1") != plan(5, "img-2")


def test_source_image_is_never_modified() -> None:
    source = draw_penguin(random.Random(3))
    before = source.tobytes()
    for i in range(8):
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
