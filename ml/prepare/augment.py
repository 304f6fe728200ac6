"""Augmentation. Every variant starts from a fresh copy of the source image — the article's loop applied
each enhancement to the previous variant (and used the contrast factor for brightness).

Beyond the article's rotations and jitter, variants break the shortcuts the first model learnt: colour
(hue rotation, channel order, greyscale, inversion, line art — a penguin is a shape, not "black and white
with orange"), framing (crops that zoom in or push the subject off-centre, mirror images) and the plain
white backdrop of sprites (a busy procedural background composited behind the subject)."""

from __future__ import annotations

import random
from dataclasses import dataclass

from PIL import Image, ImageEnhance

from ml.prepare import imageops

ROTATIONS = (0, 90, 180, 270)
JITTER = (0.8, 1.2)
ENHANCERS = {
    "color": ImageEnhance.Color,
    "contrast": ImageEnhance.Contrast,
    "brightness": ImageEnhance.Brightness,
    "sharpness": ImageEnhance.Sharpness,
}
# Colour treatments and how often each is drawn; most variants keep their colours.
COLOURS = (
    ("none", 0.37),
    ("hue", 0.22),
    ("channels", 0.14),
    ("grey", 0.14),
    ("invert", 0.05),
    ("lines", 0.08),
)
PERMUTATIONS = ((0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0))
CROP_SCALE = (0.55, 0.9)  # side of the kept square, as a share of the image


@dataclass(frozen=True)
class Variant:
    rotation: int
    factors: dict[str, float]  # enhancer name → factor; empty for the plain copy
    colour: str = "none"  # one of COLOURS
    hue: float = 0.0  # degrees, for colour == 'hue'
    channels: tuple[int, int, int] = (0, 1, 2)  # for colour == 'channels'
    crop: tuple[float, float, float] | None = None  # (side, left, top) as shares of the image
    mirror: bool = False
    background: int | None = None  # seed of a procedural busy backdrop

    @property
    def plain(self) -> bool:
        return (
            self.rotation == 0
            and not self.factors
            and self.colour == "none"
            and self.crop is None
            and not self.mirror
            and self.background is None
        )


def plan(index: int, seed: str) -> Variant:
    """The ``index``-th variant of one source image: the first is the image itself, later ones draw a
    rotation (upright most often), jitter, a colour treatment, a crop, a mirror and a backdrop
    (deterministic for a given seed)."""
    if index == 0:
        return Variant(0, {})
    rng = random.Random(f"{seed}:{index}")
    factors = {name: round(rng.uniform(*JITTER), 4) for name in ENHANCERS}
    rotation = ROTATIONS[index % 4] if index % 4 and rng.random() < 0.3 else 0
    colour = rng.choices([c for c, _ in COLOURS], weights=[w for _, w in COLOURS])[0]
    side = rng.uniform(*CROP_SCALE)
    crop = (round(side, 3), round(rng.uniform(0, 1 - side), 3), round(rng.uniform(0, 1 - side), 3))
    return Variant(
        rotation,
        factors,
        colour,
        hue=round(rng.uniform(30, 330), 1),
        channels=rng.choice(PERMUTATIONS),
        crop=crop if rng.random() < 0.4 else None,
        mirror=rng.random() < 0.5,
        background=rng.randrange(1 << 30) if rng.random() < 0.35 else None,
    )


def _recolour(image: Image.Image, variant: Variant) -> Image.Image:
    if variant.colour == "hue":
        return imageops.hue_rotate(image, variant.hue)
    if variant.colour == "channels":
        return imageops.permute_channels(image, variant.channels)
    if variant.colour == "grey":
        return imageops.greyscale(image)
    if variant.colour == "invert":
        return imageops.invert(image)
    if variant.colour == "lines":
        return imageops.line_art(image)
    return image


def apply(source: Image.Image, variant: Variant, size: int) -> Image.Image:
    image = source.copy().convert("RGB")  # never mutate the source: each variant stands alone
    if image.size != (size, size):
        image = image.resize((size, size), Image.Resampling.LANCZOS)
    # Colour first, while the backdrop is still white (line art and inversion would recolour it too).
    image = _recolour(image, variant)
    if variant.background is not None and variant.colour not in ("invert", "lines"):
        image = imageops.composite(image, imageops.clutter(size, random.Random(variant.background)))
    if variant.crop is not None:
        side, left, top = (round(v * size) for v in variant.crop)
        image = image.crop((left, top, left + side, top + side)).resize(
            (size, size), Image.Resampling.LANCZOS
        )
    if variant.mirror:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    if variant.rotation:
        image = image.rotate(variant.rotation, expand=False)  # square input: 90° steps lose nothing
    for name, factor in variant.factors.items():
        image = ENHANCERS[name](image).enhance(factor)
    return image
