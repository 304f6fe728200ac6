"""Pingus sprites: the first frame is cut where the .sprite file says (its sheet named relative to it), an
action's right-facing sprite is the one taken, and a sprite whose sheet is missing gives nothing."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from ml.dataset.pingus_frames import facing_right, first_frame

pytestmark = pytest.mark.unit

SPRITE = """(pingus-sprite
  (image "../walker.png")
  (offset 0 2)
  (position 0 4)
  (array 2 1)
  (size 3 4))
"""


def _player(tmp_path: Path) -> Path:
    player = tmp_path / "player0"
    (player / "walker").mkdir(parents=True)
    sheet = Image.new("RGB", (6, 8), (255, 0, 0))  # row 0: facing left (red); row 1: right (green, blue)
    sheet.paste((0, 255, 0), (0, 4, 3, 8))
    sheet.paste((0, 0, 255), (3, 4, 6, 8))
    sheet.save(player / "walker.png")
    (player / "walker" / "right.sprite").write_text(SPRITE)
    (player / "walker" / "left.sprite").write_text(SPRITE.replace("(position 0 4)", "(position 0 0)"))
    (player / "superman.png").write_bytes((player / "walker.png").read_bytes())
    (player / "superman.sprite").write_text('(pingus-sprite (image "superman.png"))')
    (player / "angel.sprite").write_text('(pingus-sprite (image "missing.png") (size 3 4))')
    return player


def test_the_first_frame_is_cut_where_the_sprite_file_says(tmp_path: Path) -> None:
    player = _player(tmp_path)
    frame = Image.open(io.BytesIO(first_frame(player / "walker" / "right.sprite") or b""))
    assert frame.size == (3, 4)
    assert {c for _n, c in frame.convert("RGB").getcolors() or []} == {(0, 255, 0)}
    whole = Image.open(io.BytesIO(first_frame(player / "superman.sprite") or b""))
    assert whole.size == (6, 8)  # no position or size: the sheet is one frame


def test_each_action_is_taken_facing_right_and_a_missing_sheet_gives_nothing(tmp_path: Path) -> None:
    player = _player(tmp_path)
    actions = dict(facing_right(player))
    assert actions["walker"] == player / "walker" / "right.sprite"
    assert set(actions) == {"walker", "superman", "angel"}
    assert first_frame(actions["angel"]) is None
