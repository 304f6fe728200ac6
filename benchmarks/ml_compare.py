"""Compare two training runs by their leave-one-source-out scores, with the noise that comes from having a
dozen sources: run A's score minus run B's over the sources both scored, and a 95% interval from a paired
bootstrap over those sources; and each run's validation balanced accuracy with the penguins it found.
Use it before keeping a change: a difference inside the interval is not evidence either way. No test
figure is read.

    python benchmarks/ml_compare.py penguin-20261201-060118 penguin-20261201-055817
    python benchmarks/ml_compare.py path/to/a/metrics.json path/to/b/metrics.json

A run is a training job's name (under the ML training folder of the active stack home) or a path to its
metrics.json (as `bdml ml train` writes it)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from ml.config import MlPaths  # noqa: E402
from ml.training.select import SourceScore, combined, paired_bootstrap  # noqa: E402
from services.settings import get_settings  # noqa: E402


def metrics_path(run: str) -> Path:
    path = Path(run)
    if path.is_file():
        return path
    found = sorted((MlPaths(get_settings()).training / run).glob("**/metrics.json"))
    if not found:
        raise SystemExit(f"{run}: neither a metrics.json nor a training job with one; pass the file's path")
    return found[0]


def per_source(path: Path, metrics: dict[str, Any]) -> list[SourceScore]:
    selection = metrics.get("selection") or {}
    if "per_source" not in selection:
        raise SystemExit(f"{path}: no leave-one-source-out figures (trained with --select none?)")
    return [SourceScore(**s) for s in selection["per_source"]]


def validation_split(metrics: dict[str, Any]) -> tuple[float, int, int, int] | None:
    """The validation split's balanced accuracy, the penguins it found, its penguins and its images (None
    when the run has no validation figures)."""
    validation = metrics.get("validation") or {}
    if "balanced_accuracy" not in validation:
        return None
    classes = list(metrics.get("classes") or ["notpenguin", "penguin"])
    matrix = validation["confusion_matrix"]
    penguins = matrix[classes.index("penguin")]  # true penguins: [missed, found]
    return float(validation["balanced_accuracy"]), penguins[-1], sum(penguins), sum(map(sum, matrix))


def validation_line(metrics: dict[str, Any]) -> str:
    """The validation split's balanced accuracy, and how many of its penguins were found: with a few
    dozen penguins there, one image moves it by a few hundredths."""
    split = validation_split(metrics)
    if split is None:
        return "–"
    balanced, found, penguins, _ = split
    return f"{balanced:.4f} (penguins found: {found} of {penguins})"


def _cell(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("a", help="run A: a training job's name or its metrics.json")
    p.add_argument("b", help="run B: the run A is compared with")
    p.add_argument("--resamples", type=int, default=5000)
    args = p.parse_args(argv)
    path_a, path_b = metrics_path(args.a), metrics_path(args.b)
    metrics_a, metrics_b = json.loads(path_a.read_text()), json.loads(path_b.read_text())
    a, b = per_source(path_a, metrics_a), per_source(path_b, metrics_b)
    by_a, by_b = {s.source: s for s in a}, {s.source: s for s in b}
    common = [s for s in a if s.source in by_b]
    print(f"A {path_a}\nB {path_b}\n")
    print(f"{'source':18} {'A penguin':>10} {'B penguin':>10} {'A other':>8} {'B other':>8}")
    for s in common:
        t = by_b[s.source]
        print(
            f"{s.source:18} {_cell(s.penguin_recall):>10} {_cell(t.penguin_recall):>10}"
            f" {_cell(s.other_recall):>8} {_cell(t.other_recall):>8}"
        )
    only = [(s, "A") for s in a if s.source not in by_b] + [(s, "B") for s in b if s.source not in by_a]
    if only:
        # A source one run trained on: its figures are that run's score with the source left out, i.e.
        # how well the other sources taught its kind of picture. They are not in the comparison below.
        print("\nscored in one run only (left out of that run's training):")
        for s, run in only:
            print(
                f"{s.source:18} run {run}: penguin {_cell(s.penguin_recall)}, other {_cell(s.other_recall)}"
            )
    diff, low, high = paired_bootstrap(a, b, args.resamples)
    print(
        f"\nleave-one-source-out over {len(common)} common sources: A {combined(common):.4f},"
        f" B {combined([by_b[s.source] for s in common]):.4f}"
    )
    print(f"A − B = {diff:+.4f}; 95% interval {low:+.4f} … {high:+.4f} ({args.resamples:,} paired resamples)")
    print(f"validation balanced accuracy: A {validation_line(metrics_a)}, B {validation_line(metrics_b)}")
    split_a, split_b = validation_split(metrics_a), validation_split(metrics_b)
    if split_a and split_b and split_a[2:] != split_b[2:]:
        print(
            "  (the two validation splits differ in size, so they hold different images: not a paired figure)"
        )


if __name__ == "__main__":
    main()
