"""ML benchmark: training wall time, held-out accuracy (balanced, per source and kind), the style-shift
slices (recall per class on the held-out images transformed), artifact size, p50/p95 latency at the model
server (boto3 sagemaker-runtime) and through API Gateway → Lambda, and what hostile inputs cost the
server (huge thin images, broken Content-Length): status and peak memory.

    python benchmarks/ml.py                  # full: dataset → prepare → training job → latency
    python benchmarks/ml.py --skip-training  # latency and figures of the last training job only

Uses the active profile (embedded: `bdml up` first), its own S3 prefix (ml-bench/), server port (8181)
and AWS resource names, so the demo's deployment is left alone. Writes bench-ml.json and bench-ml.png
(latency histograms) under .bdml/reports/bench/, next to the confusion matrix of the held-out test set and
bench-ml-shift/ (the slice chart and the galleries of misses)."""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import socket
import statistics
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("BDML_ML__S3_PREFIX", "ml-bench")
os.environ.setdefault("BDML_ML__SERVER_PORT", "8181")
os.environ.setdefault("BDML_ML__ENDPOINT_NAME", "penguin-bench")

from ml.config import MlPaths, endpoint_name, server_port  # noqa: E402
from ml.endpoint import model_server  # noqa: E402
from ml.endpoint.deploy import Names, deploy  # noqa: E402
from ml.job import MlPipeline  # noqa: E402
from ml.training.job import latest_artifact  # noqa: E402
from services import aws  # noqa: E402
from services.objectstore import S3Uri  # noqa: E402
from services.settings import get_settings  # noqa: E402
from services.stack import process  # noqa: E402

TARGETS = {
    "training_seconds": 300,
    "test_balanced_accuracy": 0.95,
    "style_shift_penguin_recall": 0.9,
    "artifact_mb": 25,
    "server_p50_ms": 15,
    "server_p95_ms": 30,
    "api_p95_ms": 150,
}


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {
        "p50": round(pick(0.5), 2),
        "p95": round(pick(0.95), 2),
        "mean": round(statistics.mean(ordered), 2),
        "n": len(ordered),
    }


def images(paths: MlPaths, n: int) -> list[tuple[bytes, str]]:
    files = sorted((paths.prepared / "test").rglob("*.jpg"))
    if not files:
        raise SystemExit("no held-out test images: run without --skip-training (or `bdml ml prepare`)")
    return [(files[i % len(files)].read_bytes(), "image/jpeg") for i in range(n)]


def server_latency(url: str, payloads: list[tuple[bytes, str]]) -> tuple[list[float], list[float]]:
    runtime = aws.client(
        "sagemaker-runtime",
        get_settings().model_copy(
            update={"aws": get_settings().aws.model_copy(update={"endpoint_url": url})}
        ),
    )
    endpoint = endpoint_name(get_settings())
    for body, ctype in payloads[:10]:  # warm-up: first calls pay for connection set-up and page faults
        runtime.invoke_endpoint(EndpointName=endpoint, ContentType=ctype, Body=body)
    client_ms, server_ms = [], []
    for body, ctype in payloads:
        started = time.perf_counter()
        reply = runtime.invoke_endpoint(EndpointName=endpoint, ContentType=ctype, Body=body)
        reply["Body"].read()
        client_ms.append((time.perf_counter() - started) * 1000)
        server_ms.append(float(reply["ResponseMetadata"]["HTTPHeaders"]["x-inference-ms"]))
    return client_ms, server_ms


def _peak_rss_mib(pid: int) -> int:
    """The highest peak (VmHWM) among the server's processes (gunicorn's arbiter and its worker)."""
    pids = [pid, *(int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split())]
    return int(max(process.peak_rss_mb(p) or 0.0 for p in pids))


def _raw(url: str, request: bytes) -> str:
    """The status line the server answers a raw request with (or how the connection ended)."""
    parts = urllib.parse.urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(request)
        try:
            return sock.recv(4096).split(b"\r\n", 1)[0].decode() or "closed"
        except OSError as exc:
            return f"{type(exc).__name__}"


def hostile_inputs(url: str, pid: int) -> dict[str, Any]:
    """What a hostile client costs the server: very long thin images (tiny files, 40 MP decoded) and
    broken request framing. Peak memory of the server before and after; the status it answered."""
    from PIL import Image

    before = _peak_rss_mib(pid)
    answers: dict[str, str] = {}
    for width, height in ((20_000, 2_000), (40_000, 1_000)):
        buffer = io.BytesIO()
        Image.new("L", (width, height), 255).save(buffer, "PNG")
        body = buffer.getvalue()
        head = (
            f"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: {len(body)}"
        )
        answers[f"png {width}x{height} ({len(body) // 1024} KB)"] = _raw(
            url, head.encode() + b"\r\n\r\n" + body
        )
    for length in ("-1", "abc"):
        request = f"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n"
        answers[f"Content-Length: {length}"] = _raw(url, request.encode())
    return {"answers": answers, "peak_rss_mib_before": before, "peak_rss_mib_after": _peak_rss_mib(pid)}


def api_latency(url: str, payloads: list[tuple[bytes, str]]) -> list[float]:
    def call(body: bytes, ctype: str) -> float:
        request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": ctype})
        started = time.perf_counter()
        with urllib.request.urlopen(request, timeout=60) as response:
            response.read()
        return (time.perf_counter() - started) * 1000

    for body, ctype in payloads[:5]:
        call(body, ctype)
    return [call(b, c) for b, c in payloads]


def chart(server: list[float], api: list[float], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.2), dpi=110)
    for ax, data, title, target in (
        (axes[0], server, "model server (boto3 invoke_endpoint)", 30),
        (axes[1], api, "API Gateway → Lambda → endpoint", 150),
    ):
        ax.hist(data, bins=40, color="#4477aa")
        ax.axvline(target, color="#cc3311", label=f"p95 target {target} ms")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("ms per image")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--skip-training", action="store_true")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--api-requests", type=int, default=150)
    parser.add_argument("--out", type=Path, help="Folder for the results (default: .bdml/reports/bench).")
    args = parser.parse_args()
    settings = get_settings()
    args.out = args.out or settings.stack.home / "reports" / "bench"
    pipeline = MlPipeline(settings)
    paths = pipeline.paths
    if args.skip_training:
        artifact = latest_artifact(paths, pipeline.store)
        job = artifact.key.split("/")[-3]
        metrics = json.loads(
            pipeline.store.read(S3Uri(artifact.bucket, artifact.key.replace("model.tar.gz", "metrics.json")))
        )
        # The job's wall time is not stored; the script's own time (fit, export, evaluation) is.
        training_seconds, artifact_bytes = (
            float(metrics["train_seconds"]),
            pipeline.store.s3.head_object(Bucket=artifact.bucket, Key=artifact.key)["ContentLength"],
        )
    else:
        pipeline.dataset()
        pipeline.prepare()
        result = pipeline.train({"arch": "efficientnet_lite0", "image_size": 224})
        job, metrics = result.job, result.metrics
        training_seconds, artifact_bytes = result.wall_seconds, result.artifact_bytes
        args.out.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(result.local_output / "confusion-test.png", args.out / "bench-ml-confusion-test.png")

    names = Names.suffixed("bench")
    deployment = deploy(settings, pipeline.store, names=names)
    # The style shift runs on the model just unpacked for the server: exactly what is being measured.
    model_dir = paths.home / f"model-{names.function}"
    image_size = int(json.loads((model_dir / "metadata.json").read_text())["image_size"])
    style_shift, _ = pipeline.style_shift(model_dir / "model.onnx", image_size, args.out / "bench-ml-shift")
    payloads = images(paths, args.requests)
    try:
        client_samples, inside_samples = server_latency(deployment.runtime_url, payloads)
        api_samples = api_latency(deployment.api_url, payloads[: args.api_requests])
        info = model_server.status(settings, server_port(settings), endpoint_name(settings))
        pid = info.pid if info else None
        hostile = hostile_inputs(deployment.runtime_url, pid) if pid else {"error": "server pid not found"}
        after_samples, _ = server_latency(deployment.runtime_url, payloads)
    finally:  # the bench endpoint is not a deployment to keep: leave no server behind
        model_server.stop(settings, server_port(settings))
    server_client, server_inside, api = (
        percentiles(x) for x in (client_samples, inside_samples, api_samples)
    )
    test = metrics["test"]
    figures: dict[str, Any] = {
        "job": job,
        "training_seconds": round(training_seconds, 1),
        "train_script_seconds": metrics.get("train_seconds"),
        "test_images": test["count"],
        "test_accuracy": test["accuracy"],
        "test_balanced_accuracy": test["balanced_accuracy"],
        "test_recall": test["recall"],
        "test_confusion_matrix": test["confusion_matrix"],
        "test_by_kind": {
            k: {"n": v["count"], "balanced_accuracy": v["balanced_accuracy"], "recall": v["recall"]}
            for k, v in test["slices"]["kind"].items()
        },
        "test_by_source": {
            k: {"n": v["count"], "balanced_accuracy": v["balanced_accuracy"], "recall": v["recall"]}
            for k, v in test["slices"]["source"].items()
        },
        "validation_balanced_accuracy": metrics["validation"]["balanced_accuracy"],
        "style_shift": {
            name: {"n": m["count"], "balanced_accuracy": m["balanced_accuracy"], "recall": m["recall"]}
            for name, m in style_shift.get("slices", {}).items()
        },
        "style_shift_pictures": style_shift.get("pictures", []),
        "artifact_mb": round(artifact_bytes / 1e6, 2),
        "server_client_ms": server_client,
        "server_inside_ms": server_inside,
        "api_ms": api,
        "hostile_inputs": hostile,
        "server_client_ms_after_hostile_inputs": percentiles(after_samples),
        "server_port": server_port(settings),
    }
    checks = {
        "training ≤ 5 min": figures["training_seconds"] <= TARGETS["training_seconds"],
        "held-out balanced accuracy ≥ 95%": test["balanced_accuracy"] >= TARGETS["test_balanced_accuracy"],
        "penguin recall ≥ 0.9 on every style-shift slice": (style_shift.get("min_penguin_recall") or 0.0)
        >= TARGETS["style_shift_penguin_recall"],
        "artifact ≤ 25 MB": figures["artifact_mb"] <= TARGETS["artifact_mb"],
        "server p50 ≤ 15 ms": server_client["p50"] <= TARGETS["server_p50_ms"],
        "server p95 ≤ 30 ms": server_client["p95"] <= TARGETS["server_p95_ms"],
        "API Gateway p95 ≤ 150 ms": api["p95"] <= TARGETS["api_p95_ms"],
    }
    figures["targets_met"] = checks
    print(json.dumps(figures, indent=2))
    for name, ok in checks.items():
        print(f"  {'✓' if ok else '✗'} {name}")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench-ml.json").write_text(json.dumps(figures, indent=2) + "\n")
    chart(client_samples, api_samples, args.out / "bench-ml.png")
    print(f"wrote {args.out / 'bench-ml.json'} and {args.out / 'bench-ml.png'}")


if __name__ == "__main__":
    main()
