"""Dataset rules that decide labels and rejections (the package sources themselves are exercised by
`bdml ml dataset`; fetching ~500 MB of packages is too slow for the suite)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from PIL import Image

from ml.dataset import fetch, manifest, sources
from ml.dataset.manifest import Record
from ml.dataset.normalise import Rejected, dhash, normalise
from ml.dataset.sources import SOURCES, _frame_base, _label
from tests.ml.fixtures import draw_penguin, png_bytes

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("emperor_penguin_ralf_ste_01", "penguin"),
        ("Pinguino1", "penguin"),
        ("tux_clemente_01", "penguin"),
        ("baby-tux_alex_kuehne_01", "penguin"),
        ("animals/birds/cartoon/tux", "penguin"),
        ("animals/birds/cartoon/pengwin", "penguin"),
        ("tuxedo_cat_01", "notpenguin"),
        ("tuxpaint-icon", "notpenguin"),
        ("penny_front_coin", "notpenguin"),
        ("giraffe", "notpenguin"),
    ],
)
def test_labels_from_names(name: str, label: str) -> None:
    assert _label(name) == label


def test_normalise_crops_transparency_and_squares() -> None:
    sprite = Image.new("RGBA", (300, 120), (0, 0, 0, 0))
    sprite.paste(draw_penguin(random.Random(1)).resize((80, 100)).convert("RGBA"), (20, 10))
    out = normalise(png_bytes(sprite))
    assert out.size == (256, 256) and out.mode == "RGB"
    assert out.getpixel((0, 0)) == (255, 255, 255)  # padding is white, not black


@pytest.mark.parametrize(
    ("image", "reason"),
    [
        (Image.new("RGBA", (64, 64), (0, 0, 0, 0)), "fully transparent"),
        (Image.effect_noise((400, 40), 60).convert("RGB"), "sprite sheet"),
        (Image.effect_noise((16, 16), 60).convert("RGB"), "too small"),
        (Image.new("RGB", (64, 64), (0, 0, 0)), "flat silhouette"),
    ],
)
def test_unusable_images_are_rejected_with_a_reason(image: Image.Image, reason: str) -> None:
    with pytest.raises(Rejected, match=reason):
        normalise(png_bytes(image))


def test_garbage_bytes_are_rejected() -> None:
    with pytest.raises(Rejected, match="undecodable"):
        normalise(b"definitely not an image")


def test_dhash_ignores_re_encoding_and_scale() -> None:
    picture = draw_penguin(random.Random(2))
    assert dhash(picture) == dhash(picture.resize((80, 80)).resize((160, 160)))


def _record(source: str, origin: str) -> Record:
    return Record(
        f"{source}-0",
        "images/penguin/x.png",
        "penguin",
        source,
        "x",
        "emoji",
        "g",
        "train",
        origin,
        "0",
        1,
        1,
    )


@pytest.mark.parametrize(
    ("source", "origin"),
    [
        ("emoji-apple", "img/apple/64/1f427.png"),
        ("emoji-facebook", "img/facebook/64/1f427.png"),
        ("frozen-bubble", "usr/share/games/frozen-bubble/gfx/p1.png"),
        ("user", "frozen-bubble-data/penguin.png"),
    ],
)
def test_manifest_refuses_sources_reserved_for_the_review(tmp_path: Path, source: str, origin: str) -> None:
    with pytest.raises(manifest.ReservedSource, match="reserved"):
        manifest.write(tmp_path, [_record("openclipart", "a.png"), _record(source, origin)])
    assert not (tmp_path / manifest.MANIFEST).exists()


def test_manifest_read_refuses_a_reserved_source_written_by_hand(tmp_path: Path) -> None:
    manifest.write(tmp_path, [_record("openclipart", "a.png")])
    assert len(manifest.read(tmp_path)) == 1
    text = (tmp_path / manifest.MANIFEST).read_text().replace("openclipart", "emoji-apple")
    (tmp_path / manifest.MANIFEST).write_text(text)
    with pytest.raises(manifest.ReservedSource):
        manifest.read(tmp_path)


@pytest.mark.parametrize("package", sorted(manifest.RESERVED_PACKAGES))
def test_reserved_packages_are_never_fetched(tmp_path: Path, package: str) -> None:
    with pytest.raises(fetch.FetchError, match="reserved"):
        fetch.debian(package, tmp_path) if "emoji" not in package else fetch.npm(package, tmp_path)
    assert not any(tmp_path.iterdir())  # refused before anything was downloaded


def test_no_configured_source_is_reserved() -> None:
    names = {s.name for s in SOURCES}
    assert not names & {"emoji-apple", "emoji-facebook", "frozen-bubble"}
    assert {s.role for s in SOURCES} == {"train", "test"}


@pytest.mark.parametrize(
    ("stem", "base"),
    [("tux_helmet_red3", "tux_helmet_red"), ("tux_helmet_redd", "tux_helmet_red"), ("bigtux0", "bigtux"),
     ("tux-console4", "tux-console"), ("intact", "intact")],
)  # fmt: skip
def test_animation_frames_share_a_group(stem: str, base: str) -> None:
    assert _frame_base(stem) == base


def _fake_debian(monkeypatch: pytest.MonkeyPatch, cache: Path, files: list[str]) -> None:
    """``fetch.debian`` answers with a package tree holding ``files`` (collectors only list them here)."""

    def unpacked(package: str, _: Path) -> Path:
        for rel in files:
            (cache / package / rel).parent.mkdir(parents=True, exist_ok=True)
            (cache / package / rel).write_bytes(b"img")
        return cache / package

    monkeypatch.setattr(fetch, "debian", unpacked)


def test_art4apps_takes_its_penguin_and_animals_before_other_negatives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    art = "usr/share/games/pysiogame/res/images/art4apps"
    files = [f"{art}/animals/penguin.jpg"] + [f"{art}/animals/a{i}.jpg" for i in range(50)]
    files += [f"{art}/food/f{i}.jpg" for i in range(50)]
    _fake_debian(monkeypatch, tmp_path, files)
    got = list(sources.art4apps(tmp_path))
    assert [c.label for c in got].count("penguin") == 1 and got[0].origin == "animals/penguin.jpg"
    others = [c.origin.split("/")[0] for c in got if c.label == "notpenguin"]
    assert others.count("animals") == 40 and others.count("food") == 20


def test_gnome_faces_leaves_out_the_legacy_copies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    faces = "usr/share/pixmaps/faces"
    files = [
        f"{faces}/penguin.jpg",
        f"{faces}/puppy.jpg",
        f"{faces}/legacy/penguin.jpg",
        f"{faces}/notes.txt",
    ]
    _fake_debian(monkeypatch, tmp_path, files)
    got = {(c.origin, c.label, c.kind) for c in sources.gnome_faces(tmp_path)}
    assert got == {("penguin.jpg", "penguin", "photo"), ("puppy.jpg", "notpenguin", "photo")}
