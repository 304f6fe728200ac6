"""The ML chain as steps the CLI (and ``bdml demo``) call: dataset → prepare → train → deploy-local → check.

Each step reads what the previous one left (on disk or in S3) and reports a ``StepReport``; ``run`` chains
them and writes one JSON report with the figures and where everything is."""

from __future__ import annotations

import json
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from ml.config import MlPaths, resource_suffix
from ml.dataset.assemble import assemble, user_folder
from ml.dataset.sources import SOURCES
from ml.endpoint.deploy import Deployment, Names, deploy
from ml.prepare.pipeline import Prepared, PrepareOptions, prepare
from ml.training.job import TrainingResult, run_job
from ml.transfer import upload_tree
from services.console import make_console
from services.objectstore import ObjectStore
from services.reconcile import StepReport, timed
from services.settings import Settings


@dataclass
class MlReport:
    profile: str
    steps: list[StepReport] = field(default_factory=list)
    training: dict[str, Any] = field(default_factory=dict)
    deployment: dict[str, Any] = field(default_factory=dict)
    check: dict[str, Any] = field(default_factory=dict)
    style_shift: dict[str, Any] = field(default_factory=dict)
    pictures: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "steps": [s.as_dict() for s in self.steps]}


class MlPipeline:
    def __init__(self, settings: Settings, console: Console | None = None) -> None:
        self.settings = settings
        self.paths = MlPaths(settings)
        self.console = console or make_console()
        self._store: ObjectStore | None = None

    @property
    def store(self) -> ObjectStore:
        if self._store is None:
            self._store = ObjectStore(self.settings)
        return self._store

    def dataset(self, from_dir: Path | None = None) -> StepReport:
        sources = [user_folder(from_dir)] if from_dir else list(SOURCES)
        _, report = assemble(self.paths.dataset, self.paths.cache, sources, self.console)
        return report

    def prepare(self, options: PrepareOptions | None = None) -> tuple[Prepared, StepReport]:
        prepared = prepare(self.paths.dataset, self.paths.prepared, options, self.console)
        dest = self.paths.s3("prepared")
        with timed(StepReport("upload channels", detail={"s3": str(dest)})) as upload:
            files = upload_tree(self.paths.prepared, self.store, dest, self.console)
            upload.rows_in = upload.rows_out = files
        return prepared, upload.check()

    def train(self, hyperparameters: dict[str, Any]) -> TrainingResult:
        return run_job(self.paths, self.store, hyperparameters, console=self.console)

    def style_shift(self, model: Path, image_size: int, out: Path) -> tuple[dict[str, Any], StepReport]:
        """The held-out test images in other styles through the exported model (ml.training.styleshift);
        figures per slice, the slice chart and the galleries of misses under ``out``."""
        from ml.training import styleshift
        from ml.training.data import load_channel

        step = StepReport("style-shift evaluation")
        channel = self.paths.prepared / "test"
        if not any(channel.rglob("*.jpg")):
            step.detail = {"skipped": "no held-out test images"}
            return step.detail, step
        with timed(step):
            samples = load_channel(channel, self.paths.prepared / "test_lst", "test")
            figures = styleshift.run(model, samples, image_size, out)
            step.rows_in = step.rows_out = len(samples)
        return figures, step.check()

    def deploy(self) -> Deployment:
        suffix = resource_suffix(self.settings)
        return deploy(self.settings, self.store, names=Names.suffixed(suffix) if suffix else Names())

    def check(self, deployment: Deployment) -> dict[str, Any]:
        """One real request through API Gateway → Lambda → endpoint with a held-out penguin image."""
        sample = next(iter(sorted((self.paths.prepared / "test" / "penguin").glob("*.jpg"))), None)
        if sample is None:
            return {"skipped": "no held-out penguin image to send"}
        request = urllib.request.Request(
            deployment.api_url,
            data=sample.read_bytes(),
            method="POST",
            headers={"Content-Type": "image/jpeg"},
        )
        started = time.perf_counter()
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = json.loads(response.read())
        return {
            "image": sample.name,
            "answer": answer,
            "ms": round((time.perf_counter() - started) * 1000, 1),
        }

    def run(
        self,
        hyperparameters: dict[str, Any],
        from_dir: Path | None = None,
        options: PrepareOptions | None = None,
    ) -> MlReport:
        report = MlReport(profile=self.settings.profile.value)
        self.console.rule("dataset")
        report.steps.append(self.dataset(from_dir))
        self.console.rule("prepare")
        prepared, upload = self.prepare(options)
        report.steps += [*prepared.reports, upload]
        self.console.rule("train")
        result = self.train(hyperparameters)
        report.steps.append(
            StepReport(
                "train",
                rows_in=result.metrics["images"]["train"],
                rows_out=result.metrics["images"]["train"],
                seconds=result.wall_seconds,
            )
        )
        report.training = {
            "job": result.job,
            "model_artifact": str(result.model_artifact),
            "artifact_bytes": result.artifact_bytes,
            "metrics_uri": str(result.metrics_uri),
            "wall_seconds": round(result.wall_seconds, 1),
            "metrics": result.metrics,
        }
        self.console.rule("style shift")
        report.style_shift, step = self.style_shift(
            result.local_output.parent.parent / "model" / "model.onnx",
            int(result.metrics["hyperparameters"]["image_size"]),
            result.local_output / "style-shift",
        )
        report.steps.append(step)
        report.pictures = [
            *(str(p) for p in sorted(result.local_output.glob("confusion-*.png"))),
            *report.style_shift.get("pictures", []),
        ]
        self.console.rule("deploy-local")
        deployment = self.deploy()
        report.deployment = deployment.__dict__
        report.check = self.check(deployment)
        return report
