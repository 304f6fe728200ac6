"""Evaluation figures: accuracy, balanced accuracy, per-class recall, confusion matrix, per-slice figures.

Balanced accuracy (mean per-class recall) leads: the sets are lopsided (few penguins), so plain accuracy
rewards a model that calls everything 'not penguin'."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


def confusion(y_true: Sequence[int], y_pred: Sequence[int], n_classes: int) -> list[list[int]]:
    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    for t, p in zip(y_true, y_pred, strict=True):
        matrix[t, p] += 1
    return [[int(v) for v in row] for row in matrix]


def summary(y_true: Sequence[int], y_pred: Sequence[int], classes: Sequence[str]) -> dict[str, Any]:
    matrix = confusion(y_true, y_pred, len(classes))
    recalls: dict[str, float | None] = {}
    for i, name in enumerate(classes):
        total = sum(matrix[i])
        recalls[name] = round(matrix[i][i] / total, 4) if total else None
    present = [r for r in recalls.values() if r is not None]
    correct = sum(matrix[i][i] for i in range(len(classes)))
    return {
        "count": len(y_true),
        "accuracy": round(correct / len(y_true), 4) if y_true else None,
        "balanced_accuracy": round(sum(present) / len(present), 4) if present else None,
        "recall": recalls,
        "confusion_matrix": matrix,
    }


def evaluate(
    y_true: Sequence[int], y_pred: Sequence[int], classes: Sequence[str], slices: dict[str, Sequence[str]]
) -> dict[str, Any]:
    """Overall figures plus one block per slice key (e.g. 'source', 'kind') and value."""
    result = summary(y_true, y_pred, classes)
    result["slices"] = {}
    for key, values in slices.items():
        index: dict[str, list[int]] = defaultdict(list)
        for i, v in enumerate(values):
            index[v].append(i)
        result["slices"][key] = {
            v: summary([y_true[i] for i in idx], [y_pred[i] for i in idx], classes)
            for v, idx in sorted(index.items())
        }
    return result


def plot_confusion(matrix: list[list[int]], classes: Sequence[str], title: str, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")  # no display on servers and training instances
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.2, 3.8), dpi=120)
    data = np.array(matrix)
    ax.imshow(data, cmap="Blues")
    ax.set_xticks(range(len(classes)), classes)
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    for (i, j), v in np.ndenumerate(data):
        ax.text(j, i, str(v), ha="center", va="center", color="white" if v > data.max() / 2 else "black")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
