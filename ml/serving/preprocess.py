"""Image → model input, shared by training (for evaluation) and serving so both see identical pixels.

Same steps as the dataset's normalisation: transparency flattened on white, cropped to the opaque box,
padded to a square; then resized and scaled (x − 127) / 128 as EfficientNet-Lite expects."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

# Decompression bombs: a 6 MB PNG can claim gigapixels. 40 MP covers any camera photo.
MAX_PIXELS = 40_000_000
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
# The model sees 224 px: anything longer than this is shrunk right after decoding, before any copy,
# conversion or padding (padding a 20000×2000 image to a square cost 2 GB).
MAX_SIDE = 1024
FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "BMP")  # what an upload may be, whatever else Pillow can open


class BadImage(ValueError):
    """The bytes are not a usable image; the message is safe to show to the caller."""


def decode(data: bytes, max_side: int = MAX_SIDE) -> Image.Image:
    """The image, at most ``max_side`` on its longest side. Messages are fixed texts: nothing of the
    decoder's own reaches the caller."""
    if not data:
        raise BadImage("empty body: send the image bytes")
    try:
        image: Image.Image = Image.open(io.BytesIO(data), formats=FORMATS)
        if image.width * image.height > MAX_PIXELS:
            raise BadImage(f"image is {image.width}×{image.height}; at most {MAX_PIXELS:,} pixels")
        image.draft("RGB", (max_side, max_side))  # JPEG: decode at a reduced scale, never full size
        image.load()  # truncated files fail here, not later
    except (UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise BadImage("not a readable image (JPEG, PNG, GIF, WebP or BMP)") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise BadImage("corrupt or truncated image") from exc
    if max(image.size) > max_side:
        scale = max_side / max(image.size)
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    return ImageOps.exif_transpose(image) or image


def to_square_rgb(image: Image.Image) -> Image.Image:
    rgba = image.convert("RGBA")
    box = rgba.getchannel("A").getbbox() or (0, 0, *rgba.size)
    rgba = rgba.crop(box)
    flat = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba).convert("RGB")
    side = max(flat.size)
    canvas = Image.new("RGB", (side, side), (255, 255, 255))
    canvas.paste(flat, ((side - flat.width) // 2, (side - flat.height) // 2))
    return canvas


def to_array(image: Image.Image, size: int) -> np.ndarray:
    """(3, size, size) float32, scaled (x − 127) / 128."""
    square = to_square_rgb(image)
    if square.size != (size, size):
        square = square.resize((size, size), Image.Resampling.BILINEAR)
    pixels = np.asarray(square, dtype=np.float32)
    return ((pixels - 127.0) / 128.0).transpose(2, 0, 1).copy()
