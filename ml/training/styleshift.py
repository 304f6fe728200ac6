"""Style-shift evaluation: the held-out test images, transformed, through the exported model.

A new data source is the honest test of robustness but rare; these slices show the same images in styles
the sources seldom have — other colours, tighter or off-centre framing, tiny uploads, busy backgrounds, a
pen drawing — and give the recall per class on each. Every transform is deterministic (a fixed parameter
per image index), so two runs of one model give the same figures. The busy backgrounds are the held-out
set's own photos, not the procedural clutter training composites, so that slice is not a replay of an
augmentation. Also here: the gallery of misses, so a person sees at once what the model gets wrong."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ml.config import CLASSES
from ml.prepare import imageops
from ml.serving.preprocess import to_array
from ml.training import metrics
from ml.training.data import Sample

MAX_OTHERS = 200  # not-penguins per slice: every penguin is kept, the far larger other class sampled
SMALL_SIDE = 32  # 'small': an upload this size, which the server scales up
TARGET_RECALL = 0.9

Transform = Callable[[Image.Image, int, list[Image.Image]], Image.Image]


def _tight(image: Image.Image, _i: int, _b: list[Image.Image]) -> Image.Image:
    w, h = image.size
    return image.crop((round(w * 0.2), round(h * 0.2), round(w * 0.8), round(h * 0.8)))


def _off_centre(image: Image.Image, i: int, _b: list[Image.Image]) -> Image.Image:
    """A 70 % window in one of the four corners: the subject is cut at one side and not centred."""
    w, h = image.size
    side_w, side_h = round(w * 0.7), round(h * 0.7)
    left = 0 if i % 2 == 0 else w - side_w
    top = 0 if (i // 2) % 2 == 0 else h - side_h
    return image.crop((left, top, left + side_w, top + side_h))


def _small(image: Image.Image, _i: int, _b: list[Image.Image]) -> Image.Image:
    return image.resize((SMALL_SIDE, SMALL_SIDE), Image.Resampling.BOX)


def _busy(image: Image.Image, i: int, backdrops: list[Image.Image]) -> Image.Image:
    if not backdrops:
        return image
    return imageops.composite(image, backdrops[(i * 7919) % len(backdrops)])


SLICES: dict[str, Transform] = {
    "original": lambda im, _i, _b: im,
    "hue +120°": lambda im, _i, _b: imageops.hue_rotate(im, 120),
    "hue +240°": lambda im, _i, _b: imageops.hue_rotate(im, 240),
    "channels BGR": lambda im, _i, _b: imageops.permute_channels(im, (2, 1, 0)),
    "channels GBR": lambda im, _i, _b: imageops.permute_channels(im, (1, 2, 0)),
    "greyscale": lambda im, _i, _b: imageops.greyscale(im),
    "inverted": lambda im, _i, _b: imageops.invert(im),
    "tight crop": _tight,
    "off-centre crop": _off_centre,
    f"small ({SMALL_SIDE} px)": _small,
    "busy background": _busy,
    "line art": lambda im, _i, _b: imageops.line_art(im),
}


@dataclass(frozen=True)
class Prediction:
    sample: Sample
    slice: str
    index: int
    predicted: int
    confidence: float  # probability of the predicted class


def _subset(samples: list[Sample]) -> list[tuple[int, Sample]]:
    """Every penguin and an evenly spaced sample of the rest, with their index in the test channel."""
    penguin = CLASSES.index("penguin")
    ours = [(i, s) for i, s in enumerate(samples) if s.label == penguin]
    others = [(i, s) for i, s in enumerate(samples) if s.label != penguin]
    step = max(1, len(others) // MAX_OTHERS)
    return ours + others[::step][:MAX_OTHERS]


def _backdrops(samples: list[Sample]) -> list[Image.Image]:
    photos = [s for s in samples if s.kind == "photo" and CLASSES[s.label] == "notpenguin"]
    out = []
    for s in photos[:: max(1, len(photos) // 40)]:
        with Image.open(s.path) as image:
            photo = image.convert("RGB")
        # The stored photos are padded square with white: keep only the picture itself.
        box = Image.fromarray(~imageops.background_mask(photo)).getbbox()
        if box and (box[2] - box[0]) * (box[3] - box[1]) >= 0.3 * photo.width * photo.height:
            out.append(photo.crop(box))
    return out


def transformed(name: str, sample: Sample, index: int, backdrops: list[Image.Image]) -> Image.Image:
    with Image.open(sample.path) as image:
        return SLICES[name](image.convert("RGB"), index, backdrops)


def evaluate(
    session: Any, samples: list[Sample], image_size: int, batch_size: int = 64
) -> tuple[dict[str, Any], list[Prediction]]:
    """Figures per slice (overall, and recall per class) and every prediction, for the galleries."""
    subset = _subset(samples)
    backdrops = _backdrops(samples)
    figures: dict[str, Any] = {}
    predictions: list[Prediction] = []
    for name in SLICES:
        chosen = list(enumerate(samples)) if name == "original" else subset
        probs = []
        for start in range(0, len(chosen), batch_size):
            chunk = chosen[start : start + batch_size]
            x = np.stack([to_array(transformed(name, s, i, backdrops), image_size) for i, s in chunk])
            probs.append(session.run(None, {"image": x})[0])
        p = np.concatenate(probs)
        y_pred = p.argmax(1).tolist()
        figures[name] = metrics.summary([s.label for _, s in chosen], y_pred, CLASSES)
        predictions += [
            Prediction(s, name, i, int(y), float(p[k, y]))
            for k, ((i, s), y) in enumerate(zip(chosen, y_pred, strict=True))
        ]
    return figures, predictions


def plot_slices(figures: dict[str, Any], path: Path, example: dict[str, Image.Image] | None = None) -> Path:
    """Recall per class on every slice (the 0.9 penguin target marked), above one penguin in each style."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(figures)
    rows = 2 if example else 1
    fig = plt.figure(figsize=(12, 4.2 + 1.6 * (rows - 1)), dpi=110)
    grid = fig.add_gridspec(rows, len(names), height_ratios=[1, 3.2] if example else [1])
    if example:
        for k, name in enumerate(names):
            ax = fig.add_subplot(grid[0, k])
            ax.imshow(np.asarray(example[name].convert("RGB").resize((96, 96))))
            ax.set_title(name, fontsize=7)
            ax.axis("off")
    ax = fig.add_subplot(grid[rows - 1, :])
    x = np.arange(len(names))
    for offset, cls, colour in ((-0.2, "penguin", "#4477aa"), (0.2, "notpenguin", "#bbbbbb")):
        values = [figures[n]["recall"][cls] or 0.0 for n in names]
        ax.bar(x + offset, values, width=0.4, color=colour, label=f"recall {cls}")
    ax.axhline(TARGET_RECALL, color="#cc3311", linewidth=1, label=f"penguin target {TARGET_RECALL}")
    ax.set_xticks(x, names, rotation=30, ha="right", fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("recall")
    ax.set_title("style shift: held-out test images, transformed", fontsize=10)
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def gallery(
    misses: list[Prediction], path: Path, title: str, backdrops: list[Image.Image], columns: int = 6
) -> Path:
    """Thumbnails of misses, most confident first: the image as the model saw it, true and predicted
    class, the confidence, and where it came from."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = sorted(misses, key=lambda m: -m.confidence)[: columns * 5]
    rows = max(1, -(-len(shown) // columns))
    fig, axes = plt.subplots(
        rows, columns, figsize=(2.0 * columns, 2.35 * rows + 0.4), dpi=100, squeeze=False
    )
    for ax in axes.flat:
        ax.axis("off")
    for ax, m in zip(axes.flat, shown, strict=False):
        ax.imshow(np.asarray(transformed(m.slice, m.sample, m.index, backdrops).resize((128, 128))))
        where = m.sample.source if m.slice == "original" else f"{m.slice} · {m.sample.source}"
        ax.set_title(
            f"true {CLASSES[m.sample.label]}\npredicted {CLASSES[m.predicted]} {m.confidence:.2f}\n{where}",
            fontsize=7,
            color="#cc3311",
        )
    if not shown:
        axes.flat[0].text(0.5, 0.5, "no misses", ha="center", va="center")
    fig.suptitle(f"{title} ({len(misses)} in all; up to {columns * 5} most confident shown)", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def run(model: Path, samples: list[Sample], image_size: int, out: Path) -> dict[str, Any]:
    """Evaluate ``model`` (ONNX) on every slice; write the slice chart and the two galleries of misses.
    Returns the figures per slice and the pictures written."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    figures, predictions = evaluate(session, samples, image_size)
    backdrops = _backdrops(samples)
    penguin = CLASSES.index("penguin")
    first = next((i for i, s in enumerate(samples) if s.label == penguin), 0)
    example = (
        {name: transformed(name, samples[first], first, backdrops) for name in SLICES} if samples else None
    )
    misses = [p for p in predictions if p.predicted != p.sample.label]
    pictures = [
        plot_slices(figures, out / "style-shift.png", example),
        gallery(
            [m for m in misses if m.slice == "original"],
            out / "misses-test.png",
            "held-out test misses",
            backdrops,
        ),
        gallery(
            [m for m in misses if m.slice != "original" and m.sample.label == penguin],
            out / "misses-style-shift.png",
            "style-shift misses: penguins called not a penguin",
            backdrops,
        ),
    ]
    worst = min(figures.values(), key=lambda f: f["recall"]["penguin"] or 0.0)
    return {
        "slices": figures,
        "min_penguin_recall": worst["recall"]["penguin"],
        "pictures": [str(p) for p in pictures],
    }
