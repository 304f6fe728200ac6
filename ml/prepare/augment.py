"""Augmentation. Every variant starts from a fresh copy of the source image — the article's loop applied
each enhancement to the previous variant (and used the contrast factor for brightness)."""

from __future__ import annotations

import random
from dataclasses import dataclass

from PIL import Image, ImageEnhance

ROTATIONS = (0, 90, 180, 270)
JITTER = (0.8, 1.2)
ENHANCERS = {
    "color": ImageEnhance.Color,
    "contrast": ImageEnhance.Contrast,
    "brightness": ImageEnhance.Brightness,
    "sharpness": ImageEnhance.Sharpness,
}


@dataclass(frozen=True)
class Variant:
    rotation: int
    factors: dict[str, float]  # enhancer name → factor; empty for the plain copy

    @property
    def plain(self) -> bool:
        return self.rotation == 0 and not self.factors


def plan(index: int, seed: str) -> Variant:
    """The ``index``-th variant of one source image: the first is the image itself, later ones cycle the
    rotations and draw one independent factor per enhancer (deterministic for a given seed)."""
    if index == 0:
        return Variant(0, {})
    rng = random.Random(f"{seed}:{index}")
    return Variant(ROTATIONS[index % 4], {name: round(rng.uniform(*JITTER), 4) for name in ENHANCERS})


def apply(source: Image.Image, variant: Variant, size: int) -> Image.Image:
    image = source.copy().convert("RGB")  # never mutate the source: each variant stands alone
    if image.size != (size, size):
        image = image.resize((size, size), Image.Resampling.LANCZOS)
    if variant.rotation:
        image = image.rotate(variant.rotation, expand=False)  # square input: 90° steps lose nothing
    for name, factor in variant.factors.items():
        image = ENHANCERS[name](image).enhance(factor)
    return image
