"""First frames of XPenguins' sprite strips: each theme's ``config`` names a pixmap per action and the size
of one frame in it (falling back to the theme's ``define default``); frames run left to right, directions
top to bottom, so the top-left cell is one whole sprite."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

from PIL import Image, UnidentifiedImageError

_TOKEN = re.compile(r"\S+")
_SIZES = ("width", "height")


def frame_sizes(config: str) -> dict[str, tuple[int, int]]:
    """Pixmap file name → (width, height) of one frame, from a theme's config text. A ``define`` block's
    fields may run over several lines, up to the next ``define`` or ``toon``."""
    tokens = _TOKEN.findall("\n".join(line.split("#", 1)[0] for line in config.splitlines()))
    blocks: list[dict[str, str]] = []
    for i, token in enumerate(tokens):
        if token in ("define", "toon"):
            blocks.append({"kind": token, "name": tokens[i + 1] if i + 1 < len(tokens) else ""})
        elif blocks and token in (*_SIZES, "pixmap") and i + 1 < len(tokens):
            blocks[-1][token] = tokens[i + 1]
    default = {"width": "30", "height": "30"}
    sizes: dict[str, tuple[int, int]] = {}
    for block in blocks:
        if block["kind"] == "define" and block["name"] == "default":
            default.update({k: block[k] for k in _SIZES if k in block})
        elif "pixmap" in block:
            merged = {**default, **block}
            sizes.setdefault(block["pixmap"], (int(merged["width"]), int(merged["height"])))
    return sizes


def first_frames(theme: Path) -> Iterator[tuple[str, bytes]]:
    """(pixmap name, PNG bytes of its first frame) for every pixmap of ``theme`` that Pillow can read;
    Pillow's XPM reader refuses some palettes — those pixmaps are skipped."""
    config = theme / "config"
    if not config.is_file():
        return
    for name, (width, height) in sorted(frame_sizes(config.read_text(errors="replace")).items()):
        try:
            with Image.open(theme / name) as strip:
                frame = strip.convert("RGBA").crop((0, 0, width, height))
        except (OSError, ValueError, UnidentifiedImageError):
            continue
        out = io.BytesIO()
        frame.save(out, format="PNG")
        yield name, out.getvalue()
