"""Extreme Tux Racer's characters, rendered: each is a tree of scaled spheres (``char/<name>/shape.lst``),
so a few lines of ray casting turn one into a shaded 3D figure seen from any side, in any pose.

Why: the review's misses were penguins rendered in 3D and coloured other than black and white, and no
other source shows the model such a penguin from several sides. The game ships three penguins (Tux, pink
Trixi, grey Boris) and two figures built the same way that are not penguins (Samuel the seal, Beastie the
BSD daemon): the same renderer draws both classes, so "shaded spheres" cannot become a penguin cue.

The file format: ``*[material] 1 [mat] NAME [diff] r g b [spec] r g b [exp] e`` and ``*[node] ID [par]
PARENT [order] DIGITS [trans] … [rot] … [scale] … [vis] LEVEL [mat] NAME [joint] NAME``. ``order`` lists
the node's transforms, each multiplied on the right of the node's matrix, as the game does: 0 translate,
1/2/3 rotate about x/y/z by ``rot``'s x/y/z, 9 rotate about y by ``rot``'s z, 4 scale, 5 make visible (a
unit sphere)."""

from __future__ import annotations

import io
import math
import random
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

from ml.dataset.normalise import Rejected

FIELD = re.compile(r"\[(\w+)\]\s*([^\[]*)")
LIGHT = np.array([0.4, 0.6, 1.0]) / np.linalg.norm([0.4, 0.6, 1.0])  # from the viewer's upper right
AMBIENT = 0.35
MIN_SCALE = 0.005
# Joints a view may turn, each about one axis, at most this many degrees either way: flippers flap, the
# head turns and nods, legs swing — enough to vary the outline without breaking the figure.
JOINT_TURNS = (
    ("left_shldr", 3, 40),
    ("right_shldr", 3, 40),
    ("neck", 2, 30),
    ("head", 1, 20),
    ("left_hip", 3, 20),
    ("right_hip", 3, 20),
)


@dataclass
class Node:
    parent: int
    matrix: np.ndarray  # local transform (4×4), applied to column vectors
    visible: bool = False
    material: str = ""
    joint: str = ""


@dataclass
class Shape:
    materials: dict[str, tuple[np.ndarray, np.ndarray, float]]
    # Parents come first; ``Node.parent`` indexes this list. Files reuse ids (Trixi's bow and Beastie's
    # horns are new nodes 72 and 73): as in the game, a later node takes the id, the earlier one stays.
    nodes: list[Node] = field(default_factory=list)


@dataclass(frozen=True)
class Pose:
    yaw: float = 0.0  # degrees about the vertical axis: 0 faces the viewer
    pitch: float = 0.0  # degrees, positive looks down on the figure
    joints: tuple[tuple[str, int, float], ...] = ()  # (joint, axis 1–3, degrees) on top of the rest pose


def _rotation(axis: int, degrees: float) -> np.ndarray:
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    i, j = [(1, 2), (2, 0), (0, 1)][axis - 1]
    m = np.eye(4)
    m[i, i], m[i, j], m[j, i], m[j, j] = c, -s, s, c
    return m


def _vector(text: str, default: float = 0.0) -> np.ndarray:
    values = [float(v) for v in text.split()] if text.strip() else []
    return np.array(values[:3] if len(values) >= 3 else [default] * 3)


def _entries(text: str) -> list[str]:
    """One string per ``*`` entry: an indented line continues the entry above it (as Trixi's are written)."""
    entries: list[str] = []
    for line in text.splitlines():
        if line.startswith("*"):
            entries.append(line)
        elif entries and line[:1].isspace():
            entries[-1] += " " + line.strip()
    return entries


def parse_shape(text: str) -> Shape:
    shape = Shape({}, [Node(-1, np.eye(4))])
    index = {0: 0}  # node id → its position in shape.nodes
    for line in _entries(text):
        fields = {k: v.strip() for k, v in FIELD.findall(line)}
        if "material" in fields:
            spec = _vector(fields.get("spec", ""))
            shape.materials[fields["mat"]] = (_vector(fields["diff"]), spec, float(fields.get("exp", 50)))
            continue
        if "node" not in fields:
            continue
        rot, matrix = _vector(fields.get("rot", "")), np.eye(4)
        for step in fields.get("order", ""):
            if step == "0":
                m = np.eye(4)
                m[:3, 3] = _vector(fields["trans"])
            elif step in "123":
                m = _rotation(int(step), rot[int(step) - 1])
            elif step == "9":
                m = _rotation(2, rot[2])
            elif step == "4":
                scale = _vector(fields.get("scale", ""), 1.0)
                # Samuel's whiskers are flat discs (a zero scale): give them a sliver of thickness.
                m = np.diag([*np.where(np.abs(scale) < MIN_SCALE, MIN_SCALE, scale), 1.0])
            else:
                continue
            matrix = matrix @ m
        visible = "5" in fields.get("order", "") and float(fields.get("vis", "-1") or -1) > 0
        parent = index[int(fields.get("par", 0))]
        index[int(fields["node"])] = len(shape.nodes)
        shape.nodes.append(Node(parent, matrix, visible, fields.get("mat", ""), fields.get("joint", "")))
    return shape


def _world(shape: Shape, pose: Pose) -> list[tuple[np.ndarray, str]]:
    """(world matrix, material) of every visible sphere, with the pose's joint turns applied."""
    turns: dict[str, np.ndarray] = {}
    for joint, axis, degrees in pose.joints:
        turns[joint] = turns.get(joint, np.eye(4)) @ _rotation(axis, degrees)
    view = _rotation(1, pose.pitch) @ _rotation(2, pose.yaw)
    world: list[np.ndarray] = []
    for node in shape.nodes:
        above = view if node.parent < 0 else world[node.parent]
        world.append(above @ node.matrix @ turns.get(node.joint, np.eye(4)))
    return [(matrix, node.material) for matrix, node in zip(world, shape.nodes, strict=True) if node.visible]


def render(shape: Shape, pose: Pose, size: int = 256) -> Image.Image:
    """The figure on a transparent ground, orthographic, lit from the front; framed to its own extent."""
    spheres = _world(shape, pose)
    # Each sphere's extent on screen: its centre ± the length of its matrix's rows (x and y).
    centres = np.array([m[:2, 3] for m, _ in spheres])
    radii = np.array([np.linalg.norm(m[:2, :3], axis=1) for m, _ in spheres])
    low, high = (centres - radii).min(0), (centres + radii).max(0)
    half = (high - low).max() / 2 * 1.05
    mid = (low + high) / 2
    axis = (np.arange(size) + 0.5) / size * 2 - 1
    xs, ys = np.meshgrid(mid[0] + axis * half, mid[1] - axis * half)
    origins = np.stack([xs.ravel(), ys.ravel(), np.full(xs.size, 100.0), np.ones(xs.size)])
    direction = np.array([0.0, 0.0, -1.0, 0.0])
    depth = np.full(xs.size, np.inf)
    colour = np.zeros((xs.size, 3))
    for matrix, material in spheres:
        inverse = np.linalg.inv(matrix)
        o, d = (inverse @ origins)[:3], (inverse @ direction)[:3]
        a, b, c = d @ d, d @ o, (o * o).sum(0) - 1  # |o + t·d|² = 1, halved b
        disc = b * b - a * c
        hit = disc > 0
        t = np.where(hit, (-b - np.sqrt(np.where(hit, disc, 0))) / a, np.inf)
        near = hit & (t > 0) & (t < depth)
        if not near.any():
            continue
        local = o[:, near] + t[near] * d[:, None]
        normal = inverse[:3, :3].T @ local
        normal /= np.linalg.norm(normal, axis=0)
        diffuse, specular, exponent = shape.materials.get(material, (np.full(3, 0.5), np.zeros(3), 1.0))
        lambert = np.clip(LIGHT @ normal, 0, None)
        reflect = 2 * (LIGHT @ normal) * normal[2] - LIGHT[2]  # reflected light towards the viewer (+z)
        shine = np.clip(reflect, 0, None) ** exponent
        colour[near] = (diffuse[:, None] * (AMBIENT + lambert) + specular[:, None] * shine).T
        depth[near] = t[near]
    rgb = (np.clip(colour, 0, 1) * 255).astype(np.uint8).reshape(size, size, 3)
    alpha = np.where(np.isfinite(depth), 255, 0).astype(np.uint8).reshape(size, size, 1)
    return Image.fromarray(np.concatenate([rgb, alpha], axis=2), "RGBA")


def pose(index: int, count: int, seed: str) -> Pose:
    """The ``index``-th of ``count`` views: yaw walks round the figure (front, sides, back), pitch and the
    joints are drawn from ``seed`` — the same arguments give the same view."""
    rng = random.Random(f"{seed}:{index}")
    yaw = 360 * index / count + rng.uniform(-15, 15)
    joints = tuple((joint, axis, rng.uniform(-limit, limit)) for joint, axis, limit in JOINT_TURNS)
    return Pose(yaw=yaw, pitch=rng.uniform(-10, 30), joints=joints)


@lru_cache(maxsize=8)
def _load(shape_file: Path) -> Shape:
    """A character's shape, parsed once for all its views (rendering never changes it)."""
    return parse_shape(shape_file.read_text(encoding="latin-1"))


def render_png(shape_file: Path, index: int, count: int) -> bytes:
    """One view of the character in ``shape_file`` as PNG bytes (RGBA, transparent ground); the
    character's folder name seeds its poses. A file this parser cannot follow is a rejected image (its
    reason counted in the dataset's reconciliation), not a failed run."""
    try:
        image = render(_load(shape_file), pose(index, count, shape_file.parent.name))
    except (KeyError, ValueError, IndexError, np.linalg.LinAlgError) as exc:
        raise Rejected("unreadable character shape") from exc
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
