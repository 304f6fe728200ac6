"""The model's ``code/inference.py`` inside model.tar.gz for a SageMaker PyTorch inference container.

The container's toolkit calls ``output_fn(prediction, accept)`` with two arguments; our handler also needs
the model's class names, so this entry keeps them from ``model_fn``. Everything else is
``ml.serving.inference`` unchanged (packed beside this file under ``code/ml/``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ml.serving import inference

_classes: tuple[str, ...] = ()

input_fn = inference.input_fn
predict_fn = inference.predict_fn


def model_fn(model_dir: str) -> inference.Model:
    global _classes
    model = inference.model_fn(model_dir)
    _classes = model.classes
    return model


def output_fn(prediction: np.ndarray, accept: str) -> tuple[Any, str]:
    return inference.output_fn(prediction, accept, _classes)
