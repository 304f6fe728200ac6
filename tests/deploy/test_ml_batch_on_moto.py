"""The ml and batch stacks on moto's server (MiniStack refuses SageMaker, EMR and Redshift types): apply
through change sets, assert each resource through its own service API, start the training job, destroy.

moto's gaps, listed rather than hidden: it reports a training job Completed at once without running it,
cannot take image bytes on invoke_endpoint (inference stays on our model server), reports no Outputs for a
stack created through a change set, ignores the endpoint's and the Redshift cluster's names, leaves a
Redshift cluster behind when its stack is deleted, and crashes on one line of batch.yaml (see below); those
are asserted as such."""

from __future__ import annotations

import io
import json
import os
import sys
import tarfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from deploy.aws import promote
from deploy.aws.cloudformation import physical_resources
from deploy.aws.promote import apply, destroy
from deploy.aws.stacks import StackKey
from deploy.aws.training import start
from services.aws import client
from services.settings import AwsSettings, DeploySettings, S3Settings, Settings, StackSettings
from tests.servers import free_port, running

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def moto_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    argv = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    with running(argv, port, tmp_path_factory.mktemp("moto") / "moto.log") as url:
        yield url


@pytest.fixture
def moto_settings(moto_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    prefix = f"m{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("BDML_DEPLOYED_FILE", str(tmp_path / "deployed.json"))
    return Settings(
        aws=AwsSettings(endpoint_url=moto_url, access_key_id="test", secret_access_key="test"),
        s3=S3Settings(raw_bucket=f"{prefix}-raw", processed_bucket=f"{prefix}-processed"),
        stack=StackSettings(home=tmp_path / "home"),
        deploy=DeploySettings(prefix=prefix),
    )


def _trained_model(settings: Settings) -> None:
    """What a training job leaves: model.tar.gz under the processed bucket and the latest.json pointer."""
    s3 = client("s3", settings)
    bucket = settings.s3.processed_bucket
    s3.create_bucket(Bucket=bucket)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, body in (("model.onnx", b"onnx"), ("metadata.json", b"{}")):
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    s3.put_object(Bucket=bucket, Key="ml/training/job-1/output/model.tar.gz", Body=buffer.getvalue())
    pointer = {"job": "job-1", "model_artifact": f"s3://{bucket}/ml/training/job-1/output/model.tar.gz"}
    s3.put_object(Bucket=bucket, Key="ml/training/latest.json", Body=json.dumps(pointer))


def _outputs_or_names(outputs: dict[str, str], settings: Settings, key: str) -> dict[str, str]:
    """moto reports no Outputs for a stack created through a change set (its output map is built before
    the change set runs): fill the names the templates give, from the services themselves."""
    if len(outputs) > 1:
        return outputs
    prefix = settings.deploy.prefix
    iam = client("iam", settings)
    if key == "ml":
        return {
            **outputs,
            "EndpointName": f"{prefix}-penguin-classifier",
            "SageMakerRoleArn": iam.get_role(RoleName=f"{prefix}-sagemaker-execution")["Role"]["Arn"],
        }
    clusters = client("emr", settings).list_clusters()["Clusters"]
    return {
        **outputs,
        "EmrClusterId": next(c["Id"] for c in clusters if c["Name"].startswith(prefix)),
        "RedshiftCopyRoleArn": iam.get_role(RoleName=f"{prefix}-redshift-copy")["Role"]["Arn"],
    }


def test_ml_stack_serves_the_trained_model_and_trains_on_sagemaker(moto_settings: Settings) -> None:
    settings, prefix = moto_settings, moto_settings.deploy.prefix
    _trained_model(settings)
    lines: list[str] = []
    try:
        outputs = apply(settings, ("artifacts", "ml"), lines.append)
        ml = _outputs_or_names(outputs["ml"], settings, "ml")
        sagemaker = client("sagemaker", settings)
        # moto names the endpoint itself (it ignores EndpointName): find it through the stack.
        (name,) = physical_resources(
            client("cloudformation", settings), f"{prefix}-ml", "AWS::SageMaker::Endpoint"
        )
        assert ml["EndpointName"] == f"{prefix}-penguin-classifier"
        name = name.rsplit("/", 1)[-1]  # the physical id is the endpoint ARN
        endpoint = sagemaker.describe_endpoint(EndpointName=name)
        assert endpoint["EndpointStatus"] == "InService"
        config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
        assert config["ProductionVariants"][0]["InstanceType"] == "ml.m5.large"
        model = sagemaker.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
        data_url = model["PrimaryContainer"]["ModelDataUrl"]
        assert data_url.startswith(f"s3://{prefix}-processed-artifacts/ml/model/model-")
        # The packed model carries the inference entry and its requirements beside the weights.
        bucket, key = data_url.removeprefix("s3://").split("/", 1)
        body = client("s3", settings).get_object(Bucket=bucket, Key=key)["Body"].read()
        with tarfile.open(fileobj=io.BytesIO(body)) as tar:
            names = set(tar.getnames())
        assert {
            "model.onnx",
            "code/inference.py",
            "code/requirements.txt",
            "code/ml/serving/inference.py",
        } <= names
        assert (
            client("iam", settings).get_role(RoleName=f"{prefix}-sagemaker-execution")["Role"]["Arn"]
            == ml["SageMakerRoleArn"]
        )

        artifact = start(
            settings, ml["SageMakerRoleArn"], ml["TrainingSourceKey"], {"steps": 5}, lines.append
        )
        assert artifact.endswith("model.tar.gz")
        job = sagemaker.list_training_jobs()["TrainingJobSummaries"][0]["TrainingJobName"]
        described = sagemaker.describe_training_job(TrainingJobName=job)
        assert described["ResourceConfig"]["InstanceType"] == "ml.g5.xlarge"
        assert described["HyperParameters"]["sagemaker_program"] == '"train_entry.py"'
    finally:
        destroy(settings, ("artifacts", "ml"), yes=True, say=lines.append)
    with pytest.raises(sagemaker.exceptions.ClientError):
        sagemaker.describe_endpoint(EndpointName=name)


# moto 5.2.5 answers HTTP 500 to the RDS instance when DBParameterGroupName is a Ref (it resolves the Ref
# to a Python object: "'DBParameterGroup' object has no attribute 'startswith'"). moto gets the template
# without that one line; the parameters are still checked against the real template, and AWS gets it whole.
_MOTO_CRASH = "      DBParameterGroupName: !Ref MySqlParameterGroup\n"


def _without_moto_crash(original: Callable[[StackKey], str]) -> Callable[[StackKey], str]:
    def body(key: StackKey) -> str:
        text = original(key)
        if key != "batch":
            return text
        assert _MOTO_CRASH in text, "batch.yaml changed: re-check whether moto still needs this patch"
        return text.replace(_MOTO_CRASH, "")

    return body


def test_batch_stack_creates_emr_rds_redshift(
    moto_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(promote, "_template_body", _without_moto_crash(promote._template_body))
    ec2 = client("ec2", moto_settings)
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.9.{i}.0/24", AvailabilityZone=f"us-east-1{zone}")[
            "Subnet"
        ]["SubnetId"]
        for i, zone in enumerate("ab")
    ]
    settings = moto_settings.model_copy(
        update={
            "deploy": moto_settings.deploy.model_copy(
                update={"vpc_id": vpc, "subnet_ids": subnets, "allowed_cidr": "203.0.113.7/32"}
            )
        }
    )
    prefix = settings.deploy.prefix
    lines: list[str] = []
    try:
        batch = _outputs_or_names(
            apply(settings, ("artifacts", "batch"), lines.append)["batch"], settings, "batch"
        )
        assert any("uploaded" in line and "HQL files" in line for line in lines)
        # moto's EMR from CloudFormation keeps name and release only (no applications or instance groups).
        emr = client("emr", settings).describe_cluster(ClusterId=batch["EmrClusterId"])["Cluster"]
        assert emr["ReleaseLabel"] == "emr-7.5.0" and emr["Name"] == f"{prefix}-hive"
        mysql = client("rds", settings).describe_db_instances(DBInstanceIdentifier=f"{prefix}-mysql")
        instance = mysql["DBInstances"][0]
        assert instance["Engine"] == "mysql" and instance["StorageEncrypted"]
        assert instance["DBName"] == "bdml" and instance["MasterUsername"] == "bdml_admin"
        # moto names the cluster <stack>-RedshiftCluster-<random> (it ignores ClusterIdentifier).
        clusters = client("redshift", settings).describe_clusters()["Clusters"]
        cluster = next(c for c in clusters if c["ClusterIdentifier"].lower().startswith(f"{prefix}-batch"))
        redshift = cluster["ClusterIdentifier"]
        assert cluster["Encrypted"] and cluster["NodeType"] == "ra3.large" and cluster["DBName"] == "dev"
        # moto only marks the two secrets created; the databases get their {{resolve:…}} references, so
        # no password text exists in the template, the parameters or what apply records.
        assert cluster["MasterUsername"] == "bdml_admin"
        role = client("iam", settings).get_role(RoleName=batch["RedshiftCopyRoleArn"].rsplit("/", 1)[-1])
        assert "redshift.amazonaws.com" in json.dumps(role["Role"]["AssumeRolePolicyDocument"])
        recorded = Path(os.environ["BDML_DEPLOYED_FILE"]).read_text()
        assert "password" not in recorded.lower(), "no database password is ever recorded"
    finally:
        destroy(settings, ("artifacts", "batch"), yes=True, say=lines.append)
    rds = client("rds", settings)
    with pytest.raises(rds.exceptions.DBInstanceNotFoundFault):
        rds.describe_db_instances(DBInstanceIdentifier=f"{prefix}-mysql")
    iam = client("iam", settings)
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_role(RoleName=f"{prefix}-redshift-copy")
    # moto gap: its Redshift model has no CloudFormation delete, so the cluster outlives the stack there.
    assert client("redshift", settings).describe_clusters(ClusterIdentifier=redshift)["Clusters"]
