"""`bdml ml run` end to end on the embedded profile (tiny model, synthetic images): dataset → prepare →
S3 channels → training job → model.tar.gz in S3 → model server → Lambda → API Gateway → one real answer."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tarfile
import uuid
from pathlib import Path

import pytest

from ml.endpoint.deploy import Names
from services import aws
from services.objectstore import ObjectStore, S3Uri
from services.settings import Settings
from tests.ml.fixtures import write_user_folder

pytestmark = pytest.mark.e2e


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_ml_run_chain(store: ObjectStore, stack: Settings, tmp_path: Path) -> None:
    suffix = uuid.uuid4().hex[:8]
    env = {
        **os.environ,
        "BDML_S3__PROCESSED_BUCKET": stack.s3.processed_bucket,
        "BDML_STACK__HOME": str(tmp_path / "home"),
        "BDML_ML__SERVER_PORT": str(_free_port()),
        "BDML_ML__ENDPOINT_NAME": f"penguin-{suffix}",
        "BDML_ML__NAME_SUFFIX": suffix,
    }
    users = write_user_folder(tmp_path / "user", 30, seed=7)
    report_path = tmp_path / "ml.json"
    argv = [
        sys.executable,
        "-m",
        "ml",
        "run",
        "--from",
        str(users),
        "--arch",
        "tiny",
        "--copies",
        "90",
        "--epochs",
        "10",
        "--report",
        str(report_path),
    ]
    try:
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        report = json.loads(report_path.read_text())
        assert all(step["balanced"] for step in report["steps"])
        assert report["check"]["answer"]["label"] in ("penguin", "notpenguin")
        assert set(report["check"]["answer"]["probabilities"]) == {"penguin", "notpenguin"}
        shift = report["style_shift"]["slices"]
        assert {"original", "greyscale", "inverted", "line art", "busy background"} <= set(shift)
        assert all(set(m["recall"]) == {"penguin", "notpenguin"} for m in shift.values())
        stems = [Path(p).stem for p in report["pictures"]]  # <run stamp>-<name>
        for name in ("confusion-test", "style-shift", "misses-test", "misses-style-shift"):
            assert any(stem.endswith(f"-{name}") for stem in stems), (name, stems)
        assert all(Path(p).is_file() for p in report["pictures"])
        artifact = S3Uri.parse(report["training"]["model_artifact"])
        local = tmp_path / "model.tar.gz"
        store.download(artifact, local)
        with tarfile.open(local) as tar:
            assert sorted(tar.getnames()) == ["metadata.json", "model.onnx"]
        channels = {
            uri.key.split("/")[2] for uri, _ in store.list(S3Uri(stack.s3.processed_bucket, "ml/prepared"))
        }
        assert {"train", "validation", "train_lst", "validation_lst"} <= channels
    finally:
        subprocess.run(
            [
                sys.executable,
                "-c",
                "from ml import config; from ml.endpoint import model_server; "
                "from services.settings import get_settings; "
                "s = get_settings(); model_server.stop(s, config.server_port(s))",
            ],
            env=env,
            check=False,
        )
        names = Names.suffixed(suffix)
        apigw = aws.client("apigateway", stack)
        for api in apigw.get_rest_apis()["items"]:
            if api["name"] == names.api:
                apigw.delete_rest_api(restApiId=api["id"])
        lam = aws.client("lambda", stack)
        if any(f["FunctionName"] == names.function for f in lam.list_functions()["Functions"]):
            lam.delete_function(FunctionName=names.function)
