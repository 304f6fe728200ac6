"""Turn any source image into a clean RGB square: transparency flattened on white, cropped to content.

Sprites and stamps carry large transparent margins; cropping to the opaque box keeps the subject at a
comparable scale across sources, and flattening on white matches what a user's PNG looks like in a page."""

from __future__ import annotations

import io

from PIL import Image, ImageOps, UnidentifiedImageError

STORE_SIZE = 256  # stored size: above the model's 224 so prepare can resize with some margin
MIN_SIDE = 24
MAX_ASPECT = 3.0  # wider than this is a sprite sheet or a banner, not one subject


class Rejected(ValueError):
    """The image is unusable; the message is the reason (counted in the reconciliation)."""


def decode(data: bytes) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise Rejected("undecodable") from exc
    return ImageOps.exif_transpose(image) or image


def flatten(image: Image.Image) -> Image.Image:
    rgba = image.convert("RGBA")
    box = rgba.getchannel("A").getbbox()
    if box is None:
        raise Rejected("fully transparent")
    rgba = rgba.crop(box)
    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(background, rgba).convert("RGB")


def square(image: Image.Image, size: int = STORE_SIZE) -> Image.Image:
    w, h = image.size
    side = max(w, h)
    canvas = Image.new("RGB", (side, side), (255, 255, 255))
    canvas.paste(image, ((side - w) // 2, (side - h) // 2))
    return canvas.resize((size, size), Image.Resampling.LANCZOS)


def is_silhouette(image: Image.Image) -> bool:
    """Nearly all non-white pixels one colour: a mask or shadow frame, not a picture of anything."""
    small = image.convert("RGB").resize((64, 64), Image.Resampling.NEAREST)
    counts = [n for n, c in small.getcolors(64 * 64) or [] if c != (255, 255, 255)]
    return not counts or max(counts) / sum(counts) > 0.97


def normalise(data: bytes) -> Image.Image:
    image = flatten(decode(data))
    if is_silhouette(image):
        raise Rejected("flat silhouette")
    w, h = image.size
    if min(w, h) < MIN_SIDE:
        raise Rejected("too small")
    if max(w, h) / min(w, h) > MAX_ASPECT:
        raise Rejected("sprite sheet or banner")
    return square(image)


def dhash(image: Image.Image) -> str:
    """64-bit difference hash: the same picture re-encoded or re-scaled hashes the same."""
    small = image.convert("L").resize((9, 8), Image.Resampling.LANCZOS)
    px = list(small.tobytes())
    bits = "".join("1" if px[r * 9 + c] > px[r * 9 + c + 1] else "0" for r in range(8) for c in range(8))
    return f"{int(bits, 2):016x}"
