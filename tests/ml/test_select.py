"""Leave-one-source-out selection: folds never see the source they score, sources weigh equally, and the
threshold moves towards 'penguin' when unseen sources' penguins score low."""

from __future__ import annotations

import pytest
import torch

from ml.training import select
from ml.training.fit import Features

pytestmark = pytest.mark.unit


def _features(pooled: list[list[float]], labels: list[int]) -> Features:
    return Features(torch.tensor(pooled), torch.zeros(len(labels), 1), torch.tensor(labels))


def _cluster(centre: list[float], n: int, seed: int) -> list[list[float]]:
    g = torch.Generator().manual_seed(seed)
    return (torch.tensor(centre) + 0.05 * torch.randn(n, len(centre), generator=g)).tolist()


def test_a_source_is_scored_by_a_head_that_never_saw_it() -> None:
    # Source 'b' labels its points the opposite way to 'a' and 'c': a head fitted without 'b' gets 'b' all
    # wrong. Had 'b' been in its own fold's training data, its recall would not be zero.
    pooled = _cluster([2, 0], 10, 1) + _cluster([-2, 0], 10, 2)
    labels = [1] * 10 + [0] * 10
    sources = ["a"] * 20
    pooled += _cluster([2, 0], 10, 3) + _cluster([-2, 0], 10, 4)
    labels += [0] * 10 + [1] * 10
    sources += ["b"] * 20
    pooled += _cluster([2, 0], 10, 5) + _cluster([-2, 0], 10, 6)
    labels += [1] * 10 + [0] * 10
    sources += ["c"] * 20
    logits, scored = select.held_out_logits(_features(pooled, labels), sources, l2=0.01)
    assert bool(scored.all()) and logits.shape == (1, len(sources))
    _, per_source = select.score(logits[0], torch.tensor(labels), sources, 0.0)
    by_name = {s.source: s for s in per_source}
    assert by_name["b"].penguin_recall == 0.0 and by_name["b"].other_recall == 0.0


def test_sources_weigh_equally_whatever_their_size() -> None:
    logits = torch.tensor([1.0] * 98 + [-1.0, -1.0, 1.0, -1.0])
    labels = torch.tensor([1] * 100 + [1, 1])
    sources = ["big"] * 100 + ["small"] * 2
    total, per_source = select.score(logits, labels, sources, 0.0)
    recalls = {s.source: s.penguin_recall for s in per_source}
    assert recalls == pytest.approx({"big": 0.98, "small": 0.5})
    assert total == pytest.approx((0.74 + 0.0) / 2)  # no source has others: their mean counts as 0


def test_the_threshold_moves_towards_penguin_when_unseen_penguins_score_low() -> None:
    # Each source draws its penguins at its own distance from the others (which sit at x = -2): a head that
    # never saw a source whose penguins are nearer the others than the rest's under-calls them at the
    # balanced threshold.
    pooled, labels, sources = [], [], []
    for k, x in enumerate((2.0, 1.0, 0.0, -1.0)):
        pooled += _cluster([x, 0.0], 15, 10 + k) + _cluster([-2.0, 0.0], 15, 20 + k)
        labels += [1] * 15 + [0] * 15
        sources += [f"s{k}"] * 30
    best, candidates = select.choose(_features(pooled, labels), sources, l2_grid=(0.1,))
    assert len(candidates) == len(select.OFFSET_GRID)
    plain = next(c for c in candidates if c.offset == 0.0)
    assert best.offset > 0.0 and best.score > plain.score  # it moved, and moving paid
    figures = select.report(best, candidates)
    assert figures["l2"] == 0.1 and len(figures["per_source"]) == 4


def test_training_applies_the_chosen_offset_to_the_served_head() -> None:
    import argparse

    from ml import train
    from ml.training.fit import fit_head

    pooled = _cluster([2, 0], 12, 1) + _cluster([-2, 0], 12, 2) + _cluster([1.5, 0.5], 6, 3)
    labels = [1] * 12 + [0] * 12 + [1] * 6
    sources = ["a"] * 24 + ["b"] * 6
    done = {"train": _features(pooled[:24], labels[:24]), "validation": _features(pooled[24:], labels[24:])}
    args = argparse.Namespace(select="loso", l2=0.1, steps=50, fusion=False)
    head, figures = train._fit_head(args, done, sources, [])
    plain = fit_head(done["train"], done["validation"], figures["l2"], 50)
    # Two L-BFGS fits of one head agree to ~1e-4 (not bit for bit): far finer than the 0.25 offset grid.
    assert float(head.linear.bias) == pytest.approx(float(plain.linear.bias) + figures["offset"], abs=1e-3)
    assert figures["method"].startswith("leave-one-source-out")
    args.select = "none"
    _, none = train._fit_head(args, done, sources, [])
    assert none == {}


def test_colour_shifted_copies_move_the_threshold_towards_penguin() -> None:
    # As stored, every source separates cleanly at the balanced threshold. Recoloured, its penguins drift
    # towards the others (the frozen features' weakness): only a score that counts the recoloured copies
    # asks for a larger offset.
    pooled, shifted, labels, sources = [], [], [], []
    for k in range(4):
        pooled += _cluster([2.0, 0.0], 15, 10 + k) + _cluster([-2.0, 0.0], 15, 20 + k)
        shifted += _cluster([-0.6, 0.0], 15, 30 + k) + _cluster([-2.0, 0.0], 15, 40 + k)
        labels += [1] * 15 + [0] * 15
        sources += [f"s{k}"] * 30
    features = _features(pooled, labels)
    stored, _ = select.choose(features, sources, l2_grid=(0.1,))
    recoloured, _ = select.choose(features, sources, l2_grid=(0.1,), shifted=[torch.tensor(shifted)])
    assert stored.offset == 0.0
    assert recoloured.offset > stored.offset
    logits, _ = select.held_out_logits(features, sources, 0.1, shifted=[torch.tensor(shifted)])
    assert logits.shape == (2, len(sources))


def test_colour_shifts_are_the_style_shift_colours_and_keep_the_shape() -> None:
    from PIL import Image

    image = Image.new("RGB", (8, 8), (200, 40, 10))
    grey = select.colour_shift("greyscale")(image)
    bgr = select.colour_shift("channels BGR")(image)
    pixel = grey.getpixel((0, 0))
    assert grey.size == image.size and isinstance(pixel, tuple) and len(set(pixel)) == 1
    assert bgr.getpixel((0, 0)) == (10, 40, 200)
    assert set(select.COLOUR_SHIFTS) <= set(select.SLICES)


def test_paired_bootstrap_gives_the_difference_and_its_spread_over_sources() -> None:
    from ml.training.select import SourceScore, paired_bootstrap

    base = [SourceScore(f"s{k}", 0.5 + k / 20, 0.6 + k / 30) for k in range(6)]
    base.append(SourceScore("o", None, 0.7))  # a source of others only
    assert paired_bootstrap(base, base, resamples=200) == (0.0, 0.0, 0.0)
    better = [SourceScore(s.source, (s.penguin_recall or 0) + 0.1, (s.other_recall or 0) + 0.1) for s in base]
    better[-1] = SourceScore("o", None, 0.8)
    diff, low, high = paired_bootstrap(better, base, resamples=200)
    assert diff == pytest.approx(0.1) and low == pytest.approx(0.1) and high == pytest.approx(0.1)
    mixed = list(base)
    mixed[0] = SourceScore("s0", base[0].penguin_recall, 0.9)  # one source carries the whole gain
    diff, low, high = paired_bootstrap(mixed, base, resamples=500)
    assert low < diff < high and low == pytest.approx(0.0)  # resamples without s0 gain nothing
    with pytest.raises(ValueError, match="share no source"):
        paired_bootstrap(base, [SourceScore("elsewhere", 0.5, 0.5)])
