"""Shared ML test fixtures: a synthetic labelled image set, a tiny model trained in seconds through the
real pipeline (assemble → prepare → ml/train.py → ONNX), the real model server, and a real deployment of
the Lambda behind a MiniStack REST API. Import the fixtures you need into a test module."""

from __future__ import annotations

import io
import random
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from ml.dataset.assemble import assemble, user_folder
from ml.prepare.pipeline import PrepareOptions, prepare
from services import aws
from services.settings import Settings
from tests.servers import free_port, running

TINY_SIZE = 64
ENDPOINT = "penguin-test"


def draw_penguin(rng: random.Random, size: int = 160) -> Image.Image:
    """A cartoon penguin: black body, white belly, orange beak and feet, on a light background."""
    bg = tuple(rng.randint(200, 255) for _ in range(3))
    image = Image.new("RGB", (size, size), bg)
    d = ImageDraw.Draw(image)
    cx, w, h = size // 2 + rng.randint(-12, 12), rng.randint(50, 70), rng.randint(90, 120)
    top = (size - h) // 2 + rng.randint(-8, 8)
    d.ellipse((cx - w // 2, top, cx + w // 2, top + h), fill=(15, 15, 20))
    d.ellipse((cx - w // 3, top + h // 4, cx + w // 3, top + h - 6), fill=(245, 245, 245))
    d.polygon([(cx - 6, top + 18), (cx + 6, top + 18), (cx, top + 28)], fill=(250, 150, 20))
    for dx in (-12, 12):
        d.ellipse((cx + dx - 8, top + h - 6, cx + dx + 8, top + h + 4), fill=(250, 150, 20))
    return image


def draw_other(rng: random.Random, size: int = 160) -> Image.Image:
    """Not a penguin: bright shapes on a random background."""
    image = Image.new("RGB", (size, size), tuple(rng.randint(0, 255) for _ in range(3)))
    d = ImageDraw.Draw(image)
    for _ in range(rng.randint(2, 5)):
        x, y, r = rng.randint(0, size), rng.randint(0, size), rng.randint(10, 50)
        colour = tuple(rng.randint(0, 255) for _ in range(3))
        shape = d.ellipse if rng.random() < 0.5 else d.rectangle
        shape((x - r, y - r, x + r, y + r), fill=colour)
    return image


def png_bytes(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def write_user_folder(root: Path, per_class: int, seed: int = 1) -> Path:
    rng = random.Random(seed)
    for label, draw in (("penguin", draw_penguin), ("notpenguin", draw_other)):
        (root / label).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            draw(rng).save(root / label / f"{label}-{i:03d}.png")
    return root


@dataclass(frozen=True)
class TinyModel:
    dataset: Path
    prepared: Path
    model_dir: Path
    output_dir: Path


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> TinyModel:
    """The real pipeline on 40 + 40 synthetic images, with the tiny CNN at 64 px (a few seconds)."""
    from ml import train

    # Test modules import this fixture, so pytest may set it up once per module: the first one trains,
    # the others reuse its files (same session, same base temp folder).
    root = tmp_path_factory.getbasetemp() / "ml-tiny"
    done = TinyModel(root / "dataset", root / "prepared", root / "model", root / "output")
    if (done.output_dir / "metrics.json").exists():
        return done
    users = write_user_folder(root / "user", 40)
    assemble(root / "dataset", root / "cache", [user_folder(users)])
    prepare(root / "dataset", root / "prepared", PrepareOptions(copies_per_class=120, image_size=TINY_SIZE))
    p = root / "prepared"
    args = ["--arch", "tiny", "--image-size", str(TINY_SIZE), "--epochs", "12", "--threads", "2"]
    for channel in ("train", "validation", "test"):
        args += [f"--{channel}", str(p / channel), f"--{channel}-lst", str(p / f"{channel}_lst")]
    args += ["--model-dir", str(root / "model"), "--output-data-dir", str(root / "output")]
    train.main(args)
    return done


@pytest.fixture(scope="session")
def model_server(tiny_model: TinyModel, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real model server (ONNX Runtime under gunicorn, as deployed) on a free port."""
    port = free_port()
    argv = [sys.executable, "-m", "ml.serving.server", "--model-dir", str(tiny_model.model_dir),
            "--port", str(port), "--endpoint-name", ENDPOINT]  # fmt: skip
    with running(argv, port, tmp_path_factory.mktemp("model-server") / "server.log", "/ping") as url:
        yield url


@pytest.fixture(scope="session")
def deployed_api(stack: Settings, model_server: str) -> Iterator[str]:
    """The image-classify Lambda behind a MiniStack REST API (AWS_PROXY), calling the model server."""
    from ml.endpoint.deploy import Names, deploy_api, deploy_function

    names = Names.suffixed(uuid.uuid4().hex[:8])
    arn = deploy_function(stack, model_server, ENDPOINT, names)
    api_id, url = deploy_api(stack, arn, names)
    yield url
    aws.client("apigateway", stack).delete_rest_api(restApiId=api_id)
    aws.client("lambda", stack).delete_function(FunctionName=names.function)
    iam = aws.client("iam", stack)
    iam.delete_role_policy(RoleName=names.role, PolicyName="invoke-endpoint")
    iam.delete_role(RoleName=names.role)
