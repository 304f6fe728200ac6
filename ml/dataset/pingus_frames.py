"""First frames of Pingus' sprites: each ``.sprite`` file names its sheet (relative to itself), where the
first frame sits (``position``) and how large a frame is (``size``); without them the sheet is one frame."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

from PIL import Image, UnidentifiedImageError

_IMAGE = re.compile(r'\(image\s+"([^"]+)"\)')
_PAIR = r"\({}\s+(\d+)\s+(\d+)\)"


def _pair(name: str, text: str) -> tuple[int, int] | None:
    found = re.search(_PAIR.format(name), text)
    return (int(found.group(1)), int(found.group(2))) if found else None


def first_frame(sprite: Path) -> bytes | None:
    """The sprite's first frame as PNG bytes; None when its sheet is missing, unreadable or smaller than
    the frame."""
    text = sprite.read_text(errors="replace")
    image = _IMAGE.search(text)
    if image is None:
        return None
    sheet_path = (sprite.parent / image.group(1)).resolve()
    try:
        with Image.open(sheet_path) as sheet:
            sheet.load()
            x, y = _pair("position", text) or (0, 0)
            width, height = _pair("size", text) or (sheet.width - x, sheet.height - y)
            if x + width > sheet.width or y + height > sheet.height:
                return None
            frame = sheet.convert("RGBA").crop((x, y, x + width, y + height))
    except (OSError, UnidentifiedImageError):
        return None
    out = io.BytesIO()
    frame.save(out, format="PNG")
    return out.getvalue()


def facing_right(player: Path) -> Iterator[tuple[str, Path]]:
    """(action, sprite file) for each action of a player folder: ``<action>/right.sprite`` where the
    action has directions, else ``<action>.sprite``."""
    for sprite in sorted(player.glob("*/right.sprite")):
        yield sprite.parent.name, sprite
    for sprite in sorted(player.glob("*.sprite")):
        yield sprite.stem, sprite
