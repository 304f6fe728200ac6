"""deploy/aws/emr.py: the EMR step shape (unit) and step submission against the MiniStack emulator on
127.0.0.1:4566 (integration; MiniStack marks EMR steps COMPLETED without running them, so only their names
and order are checked there)."""

from __future__ import annotations

import socket
import uuid
from pathlib import Path

import pytest

from deploy.aws import bucket_names
from deploy.aws.buckets import empty_bucket
from deploy.aws.emr import emr_steps, submit_steps
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
                    f"s3://{PROCESSED}-artifacts/hql/{stem}.hql",
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


# --- integration: MiniStack ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def emulator() -> None:
    with socket.socket() as s:
        s.settimeout(1)
        if s.connect_ex(("127.0.0.1", 4566)) != 0:
            pytest.skip("no emulator on 127.0.0.1:4566 (start it with `bdml up`)")


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
    s3 = client("s3", settings)
    artifacts = f"{processed}-artifacts"
    s3.create_bucket(Bucket=artifacts)
    try:
        steps = emr_steps(settings, files, variables)
        step_ids = submit_steps(settings, cluster_id, steps, hql_dir=hql_dir)

        assert len(step_ids) == 2
        # StepIds come back in submission order; list order differs (AWS: newest first; MiniStack: oldest).
        names = {s["Id"]: s["Name"] for s in emr.list_steps(ClusterId=cluster_id)["Steps"]}
        assert [names[i] for i in step_ids] == ["bdml-hql-01_raw", "bdml-hql-02_processed"]
        keys = s3.list_objects_v2(Bucket=artifacts, Prefix="hql/")["Contents"]
        assert sorted(o["Key"] for o in keys) == ["hql/01_raw.hql", "hql/02_processed.hql"]

        # A step whose script is not in the uploaded folder is refused before reaching the cluster.
        stray = emr_steps(settings, [_hql(tmp_path, "99_stray.hql", "SELECT 1;")], {})
        with pytest.raises(ValueError, match="99_stray"):
            submit_steps(settings, cluster_id, stray, hql_dir=hql_dir)
    finally:
        emr.terminate_job_flows(JobFlowIds=[cluster_id])
        empty_bucket(s3, artifacts)
        s3.delete_bucket(Bucket=artifacts)
