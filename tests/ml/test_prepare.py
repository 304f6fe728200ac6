"""The prepare step on a real (synthetic) dataset: channels, .lst files, balance, no leakage, and the
training script's outputs under the SageMaker contract."""

from __future__ import annotations

import csv
import json
from collections import Counter

import pytest

from ml.config import CLASSES
from ml.dataset import manifest
from ml.prepare import lst
from tests.ml.fixtures import TinyModel, tiny_model  # noqa: F401  (fixture)

pytestmark = pytest.mark.unit


def _groups(tiny: TinyModel, channel: str) -> set[str]:
    with (tiny.prepared / f"{channel}_lst" / f"{channel}.samples.csv").open() as f:
        return {row["group"] for row in csv.DictReader(f)}


def test_manifest_records_source_licence_and_group(tiny_model: TinyModel) -> None:  # noqa: F811
    records = manifest.read(tiny_model.dataset)
    assert 76 <= len(records) <= 80  # near-identical drawings are dropped as duplicates (dHash)
    assert {r.source for r in records} == {"user"} and {r.licence for r in records} == {"user-supplied"}
    assert all((tiny_model.dataset / r.file).exists() and r.group for r in records)


def test_channels_have_no_group_in_two_splits(tiny_model: TinyModel) -> None:  # noqa: F811
    train, validation, test = (_groups(tiny_model, c) for c in ("train", "validation", "test"))
    assert train and validation and test
    assert train.isdisjoint(validation) and train.isdisjoint(test) and validation.isdisjoint(test)


def test_lst_files_list_every_image_with_labels_from_zero(tiny_model: TinyModel) -> None:  # noqa: F811
    for channel in ("train", "validation", "test"):
        entries = lst.read(tiny_model.prepared / f"{channel}_lst" / f"{channel}.lst")
        files = sorted(
            p.relative_to(tiny_model.prepared / channel).as_posix()
            for p in (tiny_model.prepared / channel).rglob("*.jpg")
        )
        assert sorted(e.path for e in entries) == files
        assert [e.index for e in entries] == list(range(len(entries)))
        for e in entries:
            assert CLASSES[e.label] == e.path.split("/")[0]


def test_training_channel_is_balanced(tiny_model: TinyModel) -> None:  # noqa: F811
    entries = lst.read(tiny_model.prepared / "train_lst" / "train.lst")
    counts = Counter(e.label for e in entries)
    assert set(counts) == {0, 1}
    assert max(counts.values()) / min(counts.values()) < 1.3


def test_train_script_writes_model_and_metrics(tiny_model: TinyModel) -> None:  # noqa: F811
    assert (tiny_model.model_dir / "model.onnx").stat().st_size < 25 * 1024 * 1024
    meta = json.loads((tiny_model.model_dir / "metadata.json").read_text())
    assert meta["classes"] == list(CLASSES) and meta["image_size"] == 64
    metrics = json.loads((tiny_model.output_dir / "metrics.json").read_text())
    for key in ("accuracy", "balanced_accuracy", "recall", "confusion_matrix", "slices"):
        assert key in metrics["test"]
    assert sum(map(sum, metrics["test"]["confusion_matrix"])) == metrics["images"]["test"]
    assert (
        metrics["test"]["balanced_accuracy"] >= 0.8
    )  # synthetic penguins are easy; this catches a broken fit
    assert (tiny_model.output_dir / "confusion-test.png").exists()


def _records(source: str, label: str, n: int) -> list[manifest.Record]:
    return [
        manifest.Record(
            f"{source}-{i}", "f", label, source, "x", "k", f"{source}:{i}", "train", "o", "0", 1, 1
        )
        for i in range(n)
    ]


def test_each_source_weighs_about_the_same_within_a_class() -> None:
    from ml.prepare.pipeline import MAX_COPIES, PrepareOptions, _copies

    records = [
        *_records("sprites", "penguin", 100),
        *_records("clipart", "penguin", 10),
        *_records("emoji", "penguin", 1),
        *_records("photos", "notpenguin", 900),
    ]
    copies = _copies(records, PrepareOptions(copies_per_class=900))
    total = {s: sum(copies[r.id] for r in records if r.source == s) for s in ("sprites", "clipart", "emoji")}
    assert copies["emoji-0"] == MAX_COPIES  # one image cannot fill a third of the class on its own
    assert total["clipart"] == 420  # an equal share of what the capped emoji left
    assert total["sprites"] <= 500  # 10× the images of clipart, about the same weight
    assert 900 <= sum(total.values()) <= 980  # the class still reaches about copies_per_class
    assert all(copies[f"photos-{i}"] == 1 for i in range(900))


def test_ml_run_prepares_images_at_the_side_its_architecture_trains_at() -> None:
    from ml.cli import prepare_options

    assert prepare_options(800, "efficientnet_lite1").image_size == 240  # not 224 scaled up to 240
    assert prepare_options(800, "efficientnet_lite0").image_size == 224
    assert prepare_options(50, "tiny").copies_per_class == 50
