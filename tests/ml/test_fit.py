"""The two feature paths of training agree: torch (what a GPU instance runs, here on the CPU) and ONNX
Runtime (what a CPU runs), on the real EfficientNet-Lite0 backbone."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from ml.model.networks import BackboneFeatures, load_backbone
from ml.training import fit
from ml.training.data import Sample

pytestmark = pytest.mark.unit


def test_torch_and_onnx_features_agree(tmp_path: Path) -> None:
    samples = []
    for i, colour in enumerate([(20, 20, 20), (240, 240, 240), (200, 120, 30)]):
        path = tmp_path / f"{i}.png"
        Image.new("RGB", (96, 64), colour).save(path)
        samples.append(Sample(path, i % 2, "generated", "flat"))
    net = BackboneFeatures(load_backbone())
    on_cpu = fit.extract(net, samples, 224, 2, lambda _n: None, tmp_path / "work")
    with_torch = fit.extract_torch(net, samples, 224, 2, lambda _n: None, torch.device("cpu"))
    assert torch.equal(on_cpu.labels, with_torch.labels)
    assert torch.allclose(on_cpu.pooled, with_torch.pooled, atol=1e-3)
    assert torch.allclose(on_cpu.king, with_torch.king, atol=1e-3)
    assert fit.device().type == ("cuda" if torch.cuda.is_available() else "cpu")


def test_batches_recolour_each_image_before_scaling(tmp_path: Path) -> None:
    from ml.training.data import batches
    from ml.training.select import colour_shift

    path = tmp_path / "red.png"
    Image.new("RGB", (16, 16), (220, 30, 30)).save(path)
    samples = [Sample(path, 1, "s", "clipart")]
    ((plain, labels),) = batches(samples, 4, 8)
    ((grey, _),) = batches(samples, 4, 8, colour_shift("greyscale"))
    assert labels.tolist() == [1]
    assert plain[0, 0].mean() > plain[0, 1].mean() + 1  # red stays red without a transform
    assert abs(grey[0, 0] - grey[0, 1]).max() < 1e-6 and abs(grey[0, 1] - grey[0, 2]).max() < 1e-6


def test_each_lite_backbone_loads_from_its_own_package() -> None:
    from ml.config import NATIVE_IMAGE_SIZE

    for arch in ("efficientnet_lite0", "efficientnet_lite1"):
        size = NATIVE_IMAGE_SIZE[arch]
        pooled, king = BackboneFeatures(load_backbone(arch))(torch.zeros(1, 3, size, size))
        assert pooled.shape == (1, 1280) and king.shape == (1, 1)
        assert float(king) < 0  # a log-probability
