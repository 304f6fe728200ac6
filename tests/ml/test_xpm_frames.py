"""XPenguins themes: frame sizes come from the theme's config (defaults, per-pixmap overrides, fields over
several lines) and the first frame is cut from the strip's top-left corner."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from ml.dataset.xpm_frames import first_frames, frame_sizes

pytestmark = pytest.mark.unit

CONFIG = """\
delay 60 # between frames
define default
\twidth 3  # default width
\theight 2
\tframes 2
toon normal
\tdefine walker\tpixmap walker.xpm directions 2
\tdefine explosion pixmap explosion.xpm width 64 height 64
\tdefine faller pixmap faller.xpm speed 3
\t\twidth 5 # on the next line
"""

# A 6×2 strip: two 3×2 frames, the first red with one transparent pixel, the second blue.
WALKER = """/* XPM */
static char * walker_xpm[] = {
"6 2 3 1",
" \tc None",
"r\tc #FF0000",
"b\tc #0000FF",
"rr bbb",
"rrrbbb"};
"""


def test_frame_sizes_follow_defaults_overrides_and_continuation_lines() -> None:
    assert frame_sizes(CONFIG) == {"walker.xpm": (3, 2), "explosion.xpm": (64, 64), "faller.xpm": (5, 2)}


def test_first_frame_is_the_top_left_cell_and_unreadable_pixmaps_are_skipped(tmp_path: Path) -> None:
    (tmp_path / "config").write_text(CONFIG)
    (tmp_path / "walker.xpm").write_text(WALKER)
    (tmp_path / "faller.xpm").write_text("not an image")  # explosion.xpm is missing altogether
    frames = dict(first_frames(tmp_path))
    assert list(frames) == ["walker.xpm"]
    frame = Image.open(io.BytesIO(frames["walker.xpm"])).convert("RGBA")
    assert frame.size == (3, 2)
    assert frame.getpixel((0, 0)) == (255, 0, 0, 255)
    assert frame.getpixel((2, 0))[3] == 0  # transparency kept for the normaliser to flatten
    assert {frame.getpixel((x, 1))[:3] for x in range(3)} == {(255, 0, 0)}  # nothing of the blue frame


def test_a_theme_without_config_yields_nothing(tmp_path: Path) -> None:
    assert list(first_frames(tmp_path)) == []
