"""The sphere-figure renderer (Extreme Tux Racer's character format) and the source built on it."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ml.dataset import fetch, sources
from ml.dataset.normalise import Rejected
from ml.dataset.spheres import Pose, parse_shape, pose, render, render_png

pytestmark = pytest.mark.unit

# A snowman-like figure in the game's format: a black body, a white belly pushed forward (+z, towards the
# viewer at yaw 0), a head on a 'neck' joint written over two lines, and an id used twice — the second
# node 3 is a hat whose child must hang under the hat, not under the head.
FIGURE = """\
*[material] 1 [mat] black [diff] 0.1 0.1 0.1 [spec] 0.0 0.0 0.0 [exp] 20.0
*[material] 1 [mat] white [diff] 0.9 0.9 0.9 [spec] 0.0 0.0 0.0 [exp] 20.0
*[material] 1 [mat] red [diff] 0.9 0.1 0.1 [spec] 0.0 0.0 0.0 [exp] 20.0
*[node] 1 [par] 0 [order] 45 [scale] 1.0 1.0 0.8 [vis] 10 [mat] black
*[node] 2 [par] 0 [order] 045 [trans] 0 0 0.5 [scale] 0.6 0.8 0.4 [vis] 10 [mat] white
*[node] 3 [par] 0 [joint] neck
*[node] 4 [par] 3 [order] 045 [vis] 10 [trans] 0 1.4 0
\t[scale] 0.5 0.5 0.5 [mat] black
*[node] 3 [par] 4 [order] 0 [trans] 0 0.5 0
*[node] 5 [par] 3 [order] 045 [trans] 0 0 0 [scale] 0.3 0.1 0.3 [vis] 3 [mat] red
"""


def _pixel(image: Image.Image, x: float, y: float) -> tuple[int, ...]:
    w, h = image.size
    return tuple(np.asarray(image)[int(y * (h - 1)), int(x * (w - 1))].tolist())


def test_an_indented_line_continues_its_entry_and_a_reused_id_adds_a_node() -> None:
    shape = parse_shape(FIGURE)
    assert len(shape.nodes) == 1 + 6  # the root, then every node line, the reused id included
    head = shape.nodes[4]
    assert head.visible and head.material == "black"  # its scale and material sit on the second line
    assert np.allclose(head.matrix[:3, 3], [0, 1.4, 0]) and np.allclose(np.diag(head.matrix)[:3], 0.5)
    hat, brim = shape.nodes[5], shape.nodes[6]
    assert hat.parent == 4 and brim.parent == 5  # the brim hangs under the newer node 3, the hat
    assert shape.nodes[4].parent == 3 and shape.nodes[3].joint == "neck"


def test_order_applies_translate_then_scale_as_the_game_does() -> None:
    belly = parse_shape(FIGURE).nodes[2].matrix
    # Translate then scale, multiplied on the right: the unit sphere is scaled first, then moved.
    assert np.allclose(belly @ [1, 0, 0, 1], [0.6, 0, 0.5, 1])


def test_the_front_view_shows_the_belly_and_the_back_view_does_not() -> None:
    shape = parse_shape(FIGURE)
    front, back = render(shape, Pose(), 96), render(shape, Pose(yaw=180), 96)
    assert front.mode == "RGBA" and _pixel(front, 0.0, 0.0)[3] == 0  # transparent ground
    belly_front, belly_back = _pixel(front, 0.5, 0.62), _pixel(back, 0.5, 0.62)
    assert belly_front[3] == belly_back[3] == 255
    assert belly_front[0] > 150 > 60 > belly_back[0]  # white in front, black behind


def test_a_turned_joint_moves_what_hangs_from_it() -> None:
    shape = parse_shape(FIGURE)
    still = np.asarray(render(shape, Pose(), 96))[..., 3] > 0
    nodding = np.asarray(render(shape, Pose(joints=(("neck", 3, 60.0),)), 96))[..., 3] > 0
    assert (still != nodding).sum() > 50


def test_views_walk_round_the_figure_and_repeat_for_the_same_seed() -> None:
    yaws = [pose(i, 8, "tux").yaw for i in range(8)]
    assert all(abs(y - 45 * i) <= 15 for i, y in enumerate(yaws))
    assert pose(3, 8, "tux") == pose(3, 8, "tux") != pose(3, 8, "boris")


def test_etr_characters_renders_each_character_as_one_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chars = tmp_path / "extremetuxracer-data/usr/share/games/etr/char"
    for name in ("tux", "samuel"):  # the other three are missing: skipped, not an error
        (chars / name).mkdir(parents=True)
        (chars / name / "shape.lst").write_text(FIGURE)
    monkeypatch.setattr(fetch, "debian", lambda package, cache: cache / package)
    got = list(sources.etr_characters(tmp_path))
    assert [(c.group, c.label) for c in got] == [("etr-tux", "penguin")] * sources.ETR_VIEWS + [
        ("etr-samuel", "notpenguin")
    ] * sources.ETR_VIEWS
    image = Image.open(io.BytesIO(got[0].load()))
    assert image.mode == "RGBA" and image.getchannel("A").getbbox() is not None


def test_a_shape_file_that_cannot_be_followed_is_a_rejected_image(tmp_path: Path) -> None:
    broken = tmp_path / "tux" / "shape.lst"
    broken.parent.mkdir()
    broken.write_text("*[node] 1 [par] 7 [order] 45 [vis] 10\n")  # its parent 7 is never defined
    with pytest.raises(Rejected, match="unreadable character shape"):
        render_png(broken, 0, 8)
