"""Where the ML pipeline keeps its files and S3 objects, derived from the shared settings.

The shared ``Settings`` has no ML section yet; everything here is derived from ``stack.home`` and the
processed bucket, and a few knobs read ``BDML_ML__*`` environment variables, so the tests' per-run buckets
and homes carry over without extra wiring."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from services.objectstore import S3Uri
from services.settings import Settings

CLASSES: tuple[str, ...] = ("notpenguin", "penguin")  # label index = position (.lst labels start at 0)
IMAGE_SIZE = 224  # EfficientNet-Lite0's input
ARCHITECTURES: tuple[str, ...] = ("efficientnet_lite0", "tiny")  # what ml/train.py can train


@dataclass(frozen=True)
class MlPaths:
    settings: Settings

    @property
    def home(self) -> Path:
        return self.settings.stack.home / "ml"

    @property
    def cache(self) -> Path:
        """Downloaded packages (.deb, npm tarballs) and what they unpack to; reused across runs."""
        return self.home / "cache"

    @property
    def dataset(self) -> Path:
        return self.home / "dataset"

    @property
    def prepared(self) -> Path:
        return self.home / "prepared"

    @property
    def training(self) -> Path:
        return self.home / "training"

    @property
    def model(self) -> Path:
        """The unpacked model.tar.gz the local server loads."""
        return self.home / "model"

    @property
    def reports(self) -> Path:
        return self.settings.stack.home / "reports"

    @property
    def state(self) -> Path:
        """Endpoint, API and server facts written by deploy-local, read by the web app."""
        return self.home / "deployment.json"

    @property
    def s3_root(self) -> S3Uri:
        prefix = os.environ.get("BDML_ML__S3_PREFIX", "ml")
        return S3Uri(self.settings.s3.processed_bucket, prefix)

    def s3(self, *parts: str) -> S3Uri:
        return self.s3_root.join(*parts)


def endpoint_name() -> str:
    return os.environ.get("BDML_ML__ENDPOINT_NAME", "penguin-classifier")


def server_port() -> int:
    return int(os.environ.get("BDML_ML__SERVER_PORT", "8080"))


def resource_suffix() -> str:
    """Appended to the Lambda/API/role names (tests and benchmarks keep the demo's deployment intact)."""
    return os.environ.get("BDML_ML__NAME_SUFFIX", "")
