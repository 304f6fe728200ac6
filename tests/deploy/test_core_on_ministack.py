"""The artifacts and core stacks on the MiniStack emulator (its CloudFormation creates real S3, Kinesis,
Lambda, Firehose and API Gateway resources): apply, use what was deployed, destroy, and check that every
physical resource is gone — and that a bucket the stacks did not create is left alone.

Known emulator deviations, asserted around rather than hidden: MiniStack's Firehose writes one object per
record (no buffering) and drops records the transform marks ProcessingFailed; its Kinesis event source has
no tumbling windows, so the analytics Lambda's window aggregates are never flushed there; there is no
SageMaker, so the classify Lambda is shown to run (its own JSON error for the missing endpoint) rather
than to classify."""

from __future__ import annotations

import io
import json
import os
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from deploy.aws.artifacts import lambda_keys
from deploy.aws.promote import apply, destroy, plan
from producers.stream.records import RecordKind, UserGenerator
from services.aws import client
from services.objectstore import ObjectStore
from services.settings import (
    AwsSettings,
    DeploySettings,
    S3Settings,
    Settings,
    StackSettings,
    StreamingSettings,
)
from streaming.job import RunRequest, StreamRun, prepare
from streaming.outputs import read_outputs
from streaming.streams import StreamError
from webapp.app import create_app

pytestmark = pytest.mark.integration
EMULATOR = "http://127.0.0.1:4566"


@pytest.fixture
def deployed(stack: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    prefix = f"t{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("BDML_DEPLOYED_FILE", str(tmp_path / "deployed.json"))
    settings = Settings(
        aws=AwsSettings(endpoint_url=EMULATOR, access_key_id="test", secret_access_key="test"),
        s3=S3Settings(raw_bucket=f"{prefix}-raw", processed_bucket=f"{prefix}-processed"),
        stack=StackSettings(home=stack.stack.home),
        deploy=DeploySettings(prefix=prefix, boto3_layer=True),  # MiniStack's runtime has no boto3
    )
    try:
        yield settings
    finally:
        destroy(settings, ("artifacts", "core", "monitoring"), yes=True, say=lambda _line: None)


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def _png() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 40, 40)).save(buffer, "PNG")
    return buffer.getvalue()


def _alive(settings: Settings, prefix: str) -> dict[str, list[str]]:
    """Every resource of the core stack's kinds whose name carries the prefix."""
    iam = client("iam", settings)
    return {
        "buckets": [
            b["Name"] for b in client("s3", settings).list_buckets()["Buckets"] if prefix in b["Name"]
        ],
        "functions": [
            f["FunctionName"]
            for f in client("lambda", settings).list_functions()["Functions"]
            if prefix in f["FunctionName"]
        ],
        "streams": [s for s in client("kinesis", settings).list_streams()["StreamNames"] if prefix in s],
        "deliveries": [
            s
            for s in client("firehose", settings).list_delivery_streams()["DeliveryStreamNames"]
            if prefix in s
        ],
        "apis": [
            a["name"] for a in client("apigateway", settings).get_rest_apis()["items"] if prefix in a["name"]
        ],
        "roles": [r["RoleName"] for r in iam.list_roles()["Roles"] if prefix in r["RoleName"]],
        "queues": [q for q in client("sqs", settings).list_queues().get("QueueUrls", []) if prefix in q],
    }


def test_core_stack_apply_use_destroy(deployed: Settings) -> None:
    settings, prefix = deployed, deployed.deploy.prefix
    # With credentials, plan asks CloudFormation for change sets (and leaves nothing behind).
    keys = lambda_keys(settings)
    planned = {p.key: p.changes for p in plan(settings, ("artifacts", "core"), keys, changes=True)}
    assert planned["artifacts"] and {c.verb for c in planned["artifacts"]} == {"add"}
    buckets = client("s3", settings).list_buckets()["Buckets"]
    assert not any(b["Name"].startswith(prefix) for b in buckets), "a plan creates nothing"

    lines: list[str] = []
    started = time.monotonic()
    outputs = apply(settings, ("artifacts", "core"), lines.append)
    apply_seconds = time.monotonic() - started
    core = outputs["core"]
    assert core["StreamName"] == f"{prefix}-users"
    assert any("CREATE_COMPLETE" in line for line in lines)
    deployed_file = Path(os.environ["BDML_DEPLOYED_FILE"])
    recorded = json.loads(deployed_file.read_text())
    assert recorded["stream"] == {
        "app": prefix,
        "delivery": "firehose",
        "provisioned": True,
        "analytics": "lambda",
        "lambda_role_arn": core["FirehoseRoleArn"],
    }
    assert oct(deployed_file.stat().st_mode & 0o777) == "0o600"

    # A second apply with nothing changed changes nothing (content-addressed artifacts, no-op change sets).
    again: list[str] = []
    apply(settings, ("artifacts", "core"), again.append)
    assert f"{prefix}-core: no changes" in again
    replanned = plan(settings, ("artifacts", "core"), keys, changes=True)
    assert all(p.changes == [] for p in replanned), "an applied stack plans no changes"

    # The streaming pipeline, told its resources are provisioned, finds them and changes nothing.
    lam = client("lambda", settings)
    before = lam.get_function_configuration(FunctionName=f"{prefix}-firehose-transform")["LastModified"]
    res = prepare(settings, StreamingSettings(app=prefix, provisioned=True, delivery="firehose"))
    assert (res.transform_arn, res.shards) == (core["TransformFunctionArn"], 2)
    assert (
        lam.get_function_configuration(FunctionName=f"{prefix}-firehose-transform")["LastModified"] == before
    )
    with pytest.raises(StreamError, match="bdml deploy aws apply"):
        prepare(settings, StreamingSettings(app=f"{prefix}x", provisioned=True))

    # Records put to the deployed stream are analysed by the deployed Lambda and land in S3 through the
    # deployed delivery streams (the analytics' own destination / error decisions).
    kinds = (RecordKind.BAD_JSON, RecordKind.MISSING_FIELD, RecordKind.WRONG_TYPE)  # oversize: the producer's
    records = [r for r, _ in zip(UserGenerator(11, 0.1, kinds), range(60), strict=False)]
    kinesis = client("kinesis", settings)
    put = kinesis.put_records(
        StreamName=core["StreamName"],
        Records=[{"Data": r.data, "PartitionKey": r.partition_key} for r in records],
    )
    assert put["FailedRecordCount"] == 0
    want = {kind: {r.record_id for r in records if r.expected == kind} for kind in ("destination", "error")}
    assert want["destination"] and want["error"]
    cfg = StreamingSettings(app=prefix)
    store = ObjectStore(settings)
    deadline = time.monotonic() + 120
    while True:
        out = read_outputs(store, cfg, core["ProcessedBucketName"])
        landed = {"destination": set(out.destination), "error": set(out.errors)}
        if all(want[k] <= landed[k] for k in want) or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert want["destination"] <= landed["destination"], "destination records missing in S3"
    assert want["error"] <= landed["error"], "malformed records missing under the error prefix"
    filtered = {r.record_id for r in records if r.expected == "filtered"}
    assert not filtered & (landed["destination"] | landed["error"])

    # `bdml stream run` on the deployed stack: the deployed Lambda analyses, the deployed delivery streams
    # deliver, and the run reconciles by record id from S3.
    run_cfg = StreamingSettings(
        app=prefix, provisioned=True, analytics="lambda", delivery="firehose", state_dir=deployed_file.parent
    )
    report = StreamRun(settings, run_cfg).run(RunRequest(records=150, seed=5, malformed_share=0.05))
    assert report.reconciliation.ok, report.reconciliation.problems
    assert report.produce.rejected, "oversize records went to the error stream from the producer"
    placement = report.reconciliation.placement
    assert placement["destination"] and placement["filtered"] and placement["error"]
    # MiniStack's event source has no tumbling windows (no state carried, no final call per window), so
    # the Lambda's open windows are never flushed there; on AWS the window check is part of report.ok.
    accepted = placement["destination"] + placement["filtered"]
    assert report.windows_check[1].endswith(f"analytics accepted {accepted:,}")

    # The API needs its key; with it, the request reaches the classify Lambda, which answers in its own
    # JSON (no SageMaker on the emulator, so the endpoint call fails there, as the Lambda reports).
    url = f"{EMULATOR}/_aws/execute-api/{core['ApiId']}/v1/classify"
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
    status, _ = _post(url, png, {"Content-Type": "image/png"})
    assert status == 403
    key = client("apigateway", settings).get_api_key(apiKey=core["ApiKeyId"], includeValue=True)["value"]
    status, body = _post(url, png, {"Content-Type": "image/png", "x-api-key": key})
    assert status in (400, 502) and "error" in body, (status, body)
    # The web app, configured from what apply recorded, sends the key: the Lambda answers, not a 403.
    assert recorded["web"] == {"api_url": url, "api_key": key}
    web = create_app({"API_URL": url, "API_KEY": key, "TESTING": True}).test_client()
    answer = web.post("/api/classify", data=_png(), content_type="image/png")
    assert answer.status_code == 502 and "classifier said" in answer.get_json()["error"], answer.get_json()

    # Monitoring watches what core created: an alarm per failure mode, the topic they notify, a dashboard.
    watch = apply(settings, ("monitoring",), lines.append)["monitoring"]
    alarms = client("cloudwatch", settings).describe_alarms(AlarmNamePrefix=prefix)["MetricAlarms"]
    assert {a["MetricName"] for a in alarms} >= {
        "Errors",
        "Throttles",
        "GetRecords.IteratorAgeMilliseconds",
        "DeliveryToS3.DataFreshness",
    }
    assert all(a["AlarmActions"] == [watch["AlarmTopicArn"]] for a in alarms)
    assert {d["Dimensions"][0]["Value"] for d in alarms if d["MetricName"] == "Errors"} == {
        f"{prefix}-stream-analytics",
        f"{prefix}-firehose-transform",
        f"{prefix}-image-classify",
    }
    assert client("cloudwatch", settings).get_dashboard(DashboardName=watch["DashboardName"])["DashboardBody"]
    destroy(settings, ("monitoring",), yes=True, say=lambda _line: None)
    assert not client("cloudwatch", settings).describe_alarms(AlarmNamePrefix=prefix)["MetricAlarms"]

    # Destroy leaves a bucket it did not create (and its objects) alone, and everything else gone.
    s3 = client("s3", settings)
    foreign = f"{prefix}-not-ours"
    s3.create_bucket(Bucket=foreign)
    s3.put_object(Bucket=foreign, Key="keep.txt", Body=b"mine")
    try:
        destroyed = destroy(settings, ("artifacts", "core"), yes=True, say=lambda _line: None)
        assert [line.split(":")[0] for line in destroyed] == [f"{prefix}-core", f"{prefix}-artifacts"]
        assert set(destroyed[0].split(" with ")[1].split(", ")) == {f"{prefix}-raw", f"{prefix}-processed"}
        assert destroyed[1] == f"{prefix}-artifacts: deleted with {prefix}-processed-artifacts"
        alive = _alive(settings, prefix)
        assert alive.pop("buckets") == [foreign]
        assert all(not names for names in alive.values()), alive
        assert s3.get_object(Bucket=foreign, Key="keep.txt")["Body"].read() == b"mine"
    finally:
        s3.delete_object(Bucket=foreign, Key="keep.txt")
        s3.delete_bucket(Bucket=foreign)
    print(f"core apply on MiniStack: {apply_seconds:.1f} s")
