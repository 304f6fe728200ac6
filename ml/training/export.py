"""Export to ONNX and check the exported graph against torch on real inputs before it ships."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

MODEL_FILE = "model.onnx"
METADATA_FILE = "metadata.json"


def to_onnx(model: nn.Module, image_size: int, path: Path, outputs: list[str]) -> Path:
    """The TorchScript exporter (``dynamo=False``): one self-contained file with a dynamic batch axis.
    Its deprecation and constant-folding warnings say nothing about this model, so they are muted."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module=r"torch\.onnx")
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        torch.onnx.export(
            model.eval(),
            (torch.zeros(1, 3, image_size, image_size),),
            str(path),
            input_names=["image"],
            output_names=outputs,
            dynamic_axes={"image": {0: "batch"}, **{name: {0: "batch"} for name in outputs}},
            opset_version=17,
            dynamo=False,
        )
    return path


def export(model: nn.Module, image_size: int, out: Path, probe: np.ndarray) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = to_onnx(model, image_size, out / MODEL_FILE, ["probabilities"])
    _verify(model, path, probe)
    return path


def _verify(model: nn.Module, path: Path, probe: np.ndarray) -> None:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {"image": probe})[0]
    with torch.inference_mode():
        want = model(torch.from_numpy(probe)).numpy()
    worst = float(np.abs(got - want).max())
    if worst > 1e-3:
        raise AssertionError(f"ONNX output differs from torch by {worst:.2e} (> 1e-3): export is wrong")


def write_metadata(out: Path, metadata: dict[str, Any]) -> Path:
    path = out / METADATA_FILE
    path.write_text(json.dumps(metadata, indent=2, sort_keys=True) + "\n")
    return path
