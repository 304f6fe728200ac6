"""deploy/aws: the EMR step shape and the IAM policies (unit), and provision / teardown / step submission
against the MiniStack emulator on 127.0.0.1:4566 (integration; MiniStack marks EMR steps COMPLETED without
running them, so only their names and order are checked there)."""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from deploy.aws import IAM_DIR, IAM_POLICIES, bucket_names, policy_document
from deploy.aws.emr import emr_steps, submit_steps
from deploy.aws.provision import provision
from deploy.aws.teardown import teardown
from services.aws import client
from services.settings import AwsSettings, S3Settings, Settings

EMULATOR = "http://127.0.0.1:4566"
RAW, PROCESSED = "bdml-unit-raw", "bdml-unit-processed"


def _settings(raw: str = RAW, processed: str = PROCESSED, region: str = "us-east-1") -> Settings:
    return Settings(
        aws=AwsSettings(endpoint_url=EMULATOR, region=region, access_key_id="test", secret_access_key="test"),
        s3=S3Settings(raw_bucket=raw, processed_bucket=processed),
    )


def _hql(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(body)
    return path


# --- unit ------------------------------------------------------------------------------------------------


@pytest.mark.unit
def test_emr_steps_exact_shape(tmp_path: Path) -> None:
    raw_sql = "CREATE EXTERNAL TABLE t (a STRING) LOCATION '${hivevar:raw_root}/origination/';\n"
    first = _hql(tmp_path, "01_raw.hql", raw_sql)
    second = _hql(
        tmp_path, "02_processed.hql", "INSERT OVERWRITE DIRECTORY '${hivevar:processed_root}/x' …;\n"
    )
    variables = {"raw_root": f"s3://{RAW}/freddie", "processed_root": f"s3://{PROCESSED}/freddie"}

    steps = emr_steps(_settings(), [first, second], variables)

    defines = ["-d", f"processed_root=s3://{PROCESSED}/freddie", "-d", f"raw_root=s3://{RAW}/freddie"]
    assert steps == [
        {
            "Name": f"bdml-hql-{stem}",
            "ActionOnFailure": "CANCEL_AND_WAIT",
            "HadoopJarStep": {
                "Jar": "command-runner.jar",
                "Args": [
                    "hive-script",
                    "--run-hive-script",
                    "--args",
                    "-f",
                    f"s3://{PROCESSED}/bdml/hql/{stem}.hql",
                    *defines,
                ],
            },
        }
        for stem in ("01_raw", "02_processed")
    ]


@pytest.mark.unit
def test_emr_steps_refuse_a_missing_hivevar(tmp_path: Path) -> None:
    path = _hql(tmp_path, "01_raw.hql", "SELECT '${hivevar:raw_root}', '${hivevar:run_date}';")
    with pytest.raises(ValueError, match="run_date"):
        emr_steps(_settings(), [path], {"raw_root": "s3://b/freddie"})


@pytest.mark.unit
@pytest.mark.parametrize("variables", [{"bad name": "x"}, {"raw_root": ""}, {"raw_root": "s3://b/has space"}])
def test_emr_steps_refuse_bad_variables(tmp_path: Path, variables: dict[str, str]) -> None:
    path = _hql(tmp_path, "01.hql", "SELECT 1;")
    with pytest.raises(ValueError):
        emr_steps(_settings(), [path], variables)


@pytest.mark.unit
def test_emr_steps_refuse_non_hql_and_duplicate_names(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    sql = _hql(tmp_path, "x.sql", "SELECT 1;")
    one = _hql(tmp_path, "x.hql", "SELECT 1;")
    two = _hql(tmp_path / "a", "x.hql", "SELECT 1;")
    with pytest.raises(ValueError, match=r"\.hql"):
        emr_steps(_settings(), [sql], {})
    with pytest.raises(ValueError, match="two HQL files"):
        emr_steps(_settings(), [one, two], {})
    with pytest.raises(ValueError, match="no HQL"):
        emr_steps(_settings(), [], {})


@pytest.mark.unit
@pytest.mark.parametrize(
    ("raw", "processed"),
    [("bdml-raw-CHANGE-ME", "bdml-processed-x"), ("Bad_Name", "bdml-p"), ("same-name", "same-name")],
)
def test_bucket_names_refuse_placeholders_and_invalid_names(raw: str, processed: str) -> None:
    with pytest.raises(ValueError):
        bucket_names(_settings(raw, processed))


def _s3_buckets(document: dict[str, Any]) -> set[str]:
    """Every bucket an S3 resource ARN of the policy names."""
    buckets: set[str] = set()
    for statement in document["Statement"]:
        resources = statement.get("Resource", [])
        for arn in [resources] if isinstance(resources, str) else resources:
            assert arn != "*", "no statement may apply to every resource"
            assert arn.startswith("arn:aws:s3:::"), arn
            buckets.add(arn.removeprefix("arn:aws:s3:::").split("/", 1)[0])
    return buckets


@pytest.mark.unit
def test_iam_files_parse_and_use_only_bucket_placeholders() -> None:
    for name in IAM_POLICIES:
        text = (IAM_DIR / f"{name}.json").read_text()
        document = json.loads(text)  # the files themselves are valid JSON, placeholders and all
        assert document["Version"] == "2012-10-17"
        assert "bdml-raw" not in text and "bdml-processed" not in text, "bucket names come from settings"
        for statement in document["Statement"]:
            assert statement["Effect"] == "Allow"
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert not any(a.endswith(":*") or a == "*" for a in actions), f"{name}: wildcard action"


@pytest.mark.unit
def test_iam_policies_name_only_the_configured_buckets() -> None:
    settings = _settings()
    emr = policy_document("emr-hive-s3-policy", settings)
    redshift = policy_document("redshift-copy-role-policy", settings)
    assert _s3_buckets(emr) == {RAW, PROCESSED}
    assert _s3_buckets(redshift) == {PROCESSED}, "Redshift COPY reads processed data only"
    # The cluster only reads the raw files; writes go to the processed bucket.
    raw_object_actions = {
        action
        for statement in emr["Statement"]
        for arn in statement["Resource"]
        if arn.startswith(f"arn:aws:s3:::{RAW}/")
        for action in statement["Action"]
    }
    assert raw_object_actions == {"s3:GetObject"}
    assert all(
        a in ("s3:GetObject", "s3:ListBucket", "s3:GetBucketLocation")
        for s in redshift["Statement"]
        for a in s["Action"]
    )


@pytest.mark.unit
def test_redshift_trust_policy_trusts_redshift_only() -> None:
    trust = policy_document("redshift-copy-role-trust-policy", _settings())
    assert trust["Statement"] == [
        {
            "Sid": "RedshiftAssumesThisRoleForCopy",
            "Effect": "Allow",
            "Principal": {"Service": "redshift.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ]


# --- integration: MiniStack ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def emulator() -> None:
    with socket.socket() as s:
        s.settimeout(1)
        if s.connect_ex(("127.0.0.1", 4566)) != 0:
            pytest.skip("no emulator on 127.0.0.1:4566 (start it with `bdml up`)")


@pytest.fixture(params=["us-east-1", "eu-west-1"])
def deploy_settings(request: pytest.FixtureRequest, emulator: None) -> Iterator[Settings]:
    suffix = uuid.uuid4().hex[:8]
    settings = _settings(
        f"bdml-test-deploy-raw-{suffix}", f"bdml-test-deploy-processed-{suffix}", region=request.param
    )
    yield settings
    teardown(settings, yes=True)  # leaves nothing behind even when the test failed half-way


@pytest.mark.integration
def test_provision_and_teardown_against_emulator(deploy_settings: Settings) -> None:
    raw, processed = bucket_names(deploy_settings)
    region = deploy_settings.aws.region
    s3 = client("s3", deploy_settings)

    assert provision(deploy_settings) == [
        f"created s3://{raw} in {region}",
        f"public access blocked on s3://{raw}",
        f"created s3://{processed} in {region}",
        f"public access blocked on s3://{processed}",
    ]
    for bucket in (raw, processed):
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        assert all(block.values()) and len(block) == 4
        location = s3.get_bucket_location(Bucket=bucket).get("LocationConstraint")
        assert (location or "us-east-1") == region

    assert provision(deploy_settings)[0] == f"exists s3://{raw}", "a second run changes nothing"

    s3.put_object(Bucket=raw, Key="freddie/origination/layout=2024/x.txt", Body=b"1|2\n")
    s3.put_object(Bucket=processed, Key="freddie/p/part-0", Body=b"x")
    assert teardown(deploy_settings, yes=False) == [
        f"would empty and delete s3://{raw} (pass --yes)",
        f"would empty and delete s3://{processed} (pass --yes)",
    ]
    assert s3.list_objects_v2(Bucket=raw)["KeyCount"] == 1, "nothing is deleted without yes"

    assert teardown(deploy_settings, yes=True) == [
        f"deleted s3://{raw} (1 object versions)",
        f"deleted s3://{processed} (1 object versions)",
    ]
    assert teardown(deploy_settings, yes=True) == [f"absent s3://{raw}", f"absent s3://{processed}"]


@pytest.mark.integration
def test_teardown_keeps_a_bucket_it_did_not_create(emulator: None) -> None:
    suffix = uuid.uuid4().hex[:8]
    settings = _settings(f"bdml-test-deploy-raw-{suffix}", f"bdml-test-deploy-processed-{suffix}")
    raw, processed = bucket_names(settings)
    s3 = client("s3", settings)
    s3.create_bucket(Bucket=raw)  # made by hand, not by provision
    try:
        assert teardown(settings, yes=True) == [
            f"kept s3://{raw}: not created by deploy.aws.provision (no bdml:provisioned tag)",
            f"absent s3://{processed}",
        ]
        s3.head_bucket(Bucket=raw)
    finally:
        s3.delete_bucket(Bucket=raw)


@pytest.mark.integration
def test_submit_steps_to_emulator_cluster(tmp_path: Path, emulator: None) -> None:
    suffix = uuid.uuid4().hex[:8]
    settings = _settings(f"bdml-test-deploy-raw-{suffix}", f"bdml-test-deploy-processed-{suffix}")
    raw, processed = bucket_names(settings)
    hql_dir = tmp_path / "hql"
    hql_dir.mkdir()
    files = [
        _hql(hql_dir, "01_raw.hql", "CREATE EXTERNAL TABLE r (a STRING) LOCATION '${hivevar:raw_root}/o/';"),
        _hql(
            hql_dir, "02_processed.hql", "INSERT OVERWRITE DIRECTORY '${hivevar:processed_root}/p' SELECT 1;"
        ),
    ]
    variables = {"raw_root": f"s3://{raw}/freddie", "processed_root": f"s3://{processed}/freddie"}
    emr = client("emr", settings)
    cluster_id = emr.run_job_flow(
        Name=f"bdml-test-deploy-{suffix}",
        ReleaseLabel="emr-7.5.0",
        Applications=[{"Name": "Hive"}],
        Instances={
            "InstanceCount": 1,
            "MasterInstanceType": "m5.xlarge",
            "KeepJobFlowAliveWhenNoSteps": True,
        },
        JobFlowRole="EMR_EC2_DefaultRole",
        ServiceRole="EMR_DefaultRole",
    )["JobFlowId"]
    provision(settings)
    try:
        steps = emr_steps(settings, files, variables)
        step_ids = submit_steps(settings, cluster_id, steps, hql_dir=hql_dir)

        assert len(step_ids) == 2
        # StepIds come back in submission order; list order differs (AWS: newest first; MiniStack: oldest).
        names = {s["Id"]: s["Name"] for s in emr.list_steps(ClusterId=cluster_id)["Steps"]}
        assert [names[i] for i in step_ids] == ["bdml-hql-01_raw", "bdml-hql-02_processed"]
        keys = client("s3", settings).list_objects_v2(Bucket=processed, Prefix="bdml/hql/")["Contents"]
        assert sorted(o["Key"] for o in keys) == ["bdml/hql/01_raw.hql", "bdml/hql/02_processed.hql"]

        # A step whose script is not in the uploaded folder is refused before reaching the cluster.
        stray = emr_steps(settings, [_hql(tmp_path, "99_stray.hql", "SELECT 1;")], {})
        with pytest.raises(ValueError, match="99_stray"):
            submit_steps(settings, cluster_id, stray, hql_dir=hql_dir)
    finally:
        emr.terminate_job_flows(JobFlowIds=[cluster_id])
        teardown(settings, yes=True)
