"""Image transforms shared by training augmentation and the style-shift evaluation.

Colour transforms (hue, channel order, greyscale, inversion) keep the shape and change only the colours,
so a model that still sees the penguin relies on its outline, not on "black and white with orange".
The dataset stores every subject flattened on white; ``background_mask`` finds that white backdrop (the
near-white region connected to the border, not a white belly) so a busy background can replace it."""

from __future__ import annotations

import random

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageOps

NEAR_WHITE = 236  # every channel at least this: the flattened backdrop (JPEG noise included)


def hue_rotate(image: Image.Image, degrees: float) -> Image.Image:
    hsv = np.asarray(image.convert("RGB").convert("HSV")).copy()
    hsv[..., 0] = (hsv[..., 0].astype(np.int16) + round(degrees / 360 * 256)) % 256
    return Image.fromarray(hsv, "HSV").convert("RGB")


def permute_channels(image: Image.Image, order: tuple[int, int, int]) -> Image.Image:
    bands = image.convert("RGB").split()
    return Image.merge("RGB", tuple(bands[i] for i in order))


def greyscale(image: Image.Image) -> Image.Image:
    return image.convert("L").convert("RGB")


def invert(image: Image.Image) -> Image.Image:
    return ImageOps.invert(image.convert("RGB"))


def line_art(image: Image.Image) -> Image.Image:
    """Dark outlines on white, as a pen drawing of the same picture: the strongest edges of the smoothed
    greyscale. The cut is relative (the top tenth of edge strengths), so soft, blurry sprites still give
    their outline, and a floor keeps flat areas from turning into noise."""
    grey = image.convert("L").filter(ImageFilter.GaussianBlur(1.0))
    edges = np.asarray(grey.filter(ImageFilter.FIND_EDGES), dtype=np.float32)
    edges[:3, :] = edges[-3:, :] = edges[:, :3] = edges[:, -3:] = 0  # the filter reads past the border
    cut = max(float(np.percentile(edges, 90)), 12.0)
    lines = Image.fromarray(np.where(edges > cut, 0, 255).astype(np.uint8), "L")
    return lines.filter(ImageFilter.MinFilter(3)).convert("RGB")  # thicken thin edges into strokes


def background_mask(image: Image.Image) -> np.ndarray:
    """True where the pixel belongs to the near-white backdrop reachable from the image border."""
    px = np.asarray(image.convert("RGB"))
    white: np.ndarray = np.all(px >= NEAR_WHITE, axis=2)
    reached = np.zeros_like(white)
    reached[0, :], reached[-1, :], reached[:, 0], reached[:, -1] = (
        white[0, :],
        white[-1, :],
        white[:, 0],
        white[:, -1],
    )
    # Grow from the border through white pixels (4-neighbour flood fill, vectorised).
    while True:
        grown = reached.copy()
        grown[1:, :] |= reached[:-1, :]
        grown[:-1, :] |= reached[1:, :]
        grown[:, 1:] |= reached[:, :-1]
        grown[:, :-1] |= reached[:, 1:]
        grown &= white
        if (grown == reached).all():
            return reached
        reached = grown


def composite(image: Image.Image, background: Image.Image) -> Image.Image:
    """The subject of ``image`` over ``background`` (resized to fit); unchanged if it has no backdrop."""
    mask = background_mask(image)
    if not mask.any():
        return image.convert("RGB")
    back = np.asarray(background.convert("RGB").resize(image.size, Image.Resampling.BILINEAR))
    out = np.where(mask[..., None], back, np.asarray(image.convert("RGB")))
    return Image.fromarray(out.astype(np.uint8), "RGB")


def clutter(size: int, rng: random.Random) -> Image.Image:
    """A busy procedural backdrop: a colour gradient under random shapes, strokes and noise."""
    a, b = (np.array([rng.randint(0, 255) for _ in range(3)], dtype=np.float32) for _ in range(2))
    ramp = np.linspace(0.0, 1.0, size, dtype=np.float32)[:, None, None]
    base = (a * (1 - ramp) + b * ramp).repeat(size, axis=1)
    image = Image.fromarray(base.astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(rng.randint(12, 30)):
        colour = tuple(rng.randint(0, 255) for _ in range(3))
        x0, y0 = rng.randint(-size // 4, size), rng.randint(-size // 4, size)
        x1, y1 = x0 + rng.randint(8, size // 2), y0 + rng.randint(8, size // 2)
        shape = rng.choice(("ellipse", "rectangle", "line"))
        if shape == "line":
            draw.line((x0, y0, x1, y1), fill=colour, width=rng.randint(2, 8))
        else:
            getattr(draw, shape)((x0, y0, x1, y1), fill=colour)
    noise = Image.effect_noise((size, size), rng.uniform(10, 40)).convert("RGB")
    return Image.blend(image, noise, rng.uniform(0.05, 0.25))
