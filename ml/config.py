"""Where the ML pipeline keeps its files and S3 objects, derived from the shared settings.

Everything here is derived from the settings: ``stack.home``, the processed bucket and the ``[ml]``
section (``BDML_ML__*``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from services.objectstore import S3Uri
from services.settings import Settings

CLASSES: tuple[str, ...] = ("notpenguin", "penguin")  # label index = position (.lst labels start at 0)
# What ml/train.py can train, each with its input size: the Lite backbones at the size they were trained at.
NATIVE_IMAGE_SIZE = {"efficientnet_lite0": 224, "efficientnet_lite1": 240, "tiny": 64}
ARCHITECTURES: tuple[str, ...] = tuple(NATIVE_IMAGE_SIZE)


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
        return S3Uri(self.settings.s3.processed_bucket, self.settings.ml.s3_prefix)

    def s3(self, *parts: str) -> S3Uri:
        return self.s3_root.join(*parts)


def endpoint_name(settings: Settings) -> str:
    return settings.ml.endpoint_name


def server_port(settings: Settings) -> int:
    return settings.ml.server_port


def resource_suffix(settings: Settings) -> str:
    """Appended to the Lambda/API/role names (tests and benchmarks keep the demo's deployment intact)."""
    return settings.ml.name_suffix
