"""Rasterise one emoji glyph from a colour (COLR) font with Pillow's FreeType, as PNG bytes."""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

SIZE = 160


@lru_cache(maxsize=4)
def _font(path: Path) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(path), 109)


def render_glyph(font: Path, text: str) -> bytes:
    image = Image.new("RGB", (SIZE, SIZE), "white")
    ImageDraw.Draw(image).text(
        (SIZE // 2, SIZE // 2), text, font=_font(font), embedded_color=True, anchor="mm"
    )
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
