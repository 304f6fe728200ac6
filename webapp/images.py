"""Upload checks: size, content sniffing (never the file name), full decode, and re-encoding for the API.

Uploads live only in memory: nothing a user sends is written to disk, so no user-supplied name or path
ever reaches the filesystem (the article saved uploads under their own names in a static folder)."""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

MAX_UPLOAD_BYTES = 6 * 1024 * 1024
MAX_PIXELS = 40_000_000
API_SIDE = 512  # the model reads 224 px; sending at most 512 px keeps API calls small and fast
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
SNIFF = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
)


class UploadError(ValueError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Upload:
    preview: bytes  # what the page shows (PNG or JPEG, at most API_SIDE px)
    preview_type: str
    width: int
    height: int
    format: str


def sniff(data: bytes) -> str | None:
    for magic, name in SNIFF:
        if data.startswith(magic):
            return name
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def check(data: bytes) -> Upload:
    if not data:
        raise UploadError(400, "The file is empty. Choose a PNG, JPEG, GIF, WebP or BMP image.")
    if len(data) > MAX_UPLOAD_BYTES:
        raise UploadError(
            413, f"The file is {len(data) / 1e6:.1f} MB; the limit is {MAX_UPLOAD_BYTES / 1e6:.0f} MB."
        )
    kind = sniff(data)
    if kind is None:
        raise UploadError(415, "This is not an image (PNG, JPEG, GIF, WebP or BMP), whatever its name says.")
    try:
        image = Image.open(io.BytesIO(data))
        if image.width * image.height > MAX_PIXELS:
            raise UploadError(
                413, f"The image is {image.width}×{image.height} pixels; at most 40 megapixels."
            )
        image.load()  # a truncated or corrupt file fails here
    except UploadError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError):
        raise UploadError(400, f"The {kind} file is corrupt or truncated and cannot be read.") from None
    picture: Image.Image = ImageOps.exif_transpose(image) or image
    width, height = picture.size
    picture.thumbnail((API_SIDE, API_SIDE))
    out = io.BytesIO()
    if picture.mode in ("RGBA", "LA", "P"):  # keep transparency: the model flattens it on white itself
        picture.convert("RGBA").save(out, format="PNG")
        content_type = "image/png"
    else:
        picture.convert("RGB").save(out, format="JPEG", quality=92)
        content_type = "image/jpeg"
    return Upload(out.getvalue(), content_type, width, height, kind)
