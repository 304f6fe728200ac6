"""`bdml deploy aws` offline: the plan of every stack with its costs, the parameter checks CloudFormation
would make, and the failures that must stop a deploy before anything is created (one line, no traceback).
The training-job request is checked against botocore's own SageMaker model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from deploy.aws.preflight import PreflightError, check_account, check_settings
from deploy.aws.promote import plan
from deploy.aws.render import TemplateError, check_parameters
from deploy.aws.stacks import ORDER, ArtifactKeys, parameters
from deploy.aws.training import check_request, training_job_request
from services.cli import app
from services.settings import AwsSettings, DeploySettings, S3Settings, Settings

pytestmark = pytest.mark.unit

RAW, PROCESSED = "bdml-raw-plan-test", "bdml-processed-plan-test"


def _settings(**deploy: object) -> Settings:
    return Settings(
        s3=S3Settings(raw_bucket=RAW, processed_bucket=PROCESSED),
        deploy=DeploySettings(**deploy),  # type: ignore[arg-type]
    )


@pytest.fixture
def offline_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The aws profile with real bucket names and no credentials anywhere (no file, no instance role)."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    env = {
        "BDML_PROFILE": "aws",
        "BDML_S3__RAW_BUCKET": RAW,
        "BDML_S3__PROCESSED_BUCKET": PROCESSED,
        "BDML_DEPLOYED_FILE": str(tmp_path / "deployed.json"),
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    from services.settings import get_settings

    get_settings.cache_clear()
    yield env
    get_settings.cache_clear()


def test_plan_prices_every_resource_of_every_stack() -> None:
    plans = plan(_settings(), ORDER)
    assert [p.key for p in plans] == list(ORDER)
    by_type = {r.type: (r, c) for p in plans for r, c in p.resources}
    shards = by_type["AWS::Kinesis::Stream"]
    assert shards[0].name == "bdml-users" and shards[1].per_hour == pytest.approx(2 * 0.015)
    endpoint = by_type["AWS::SageMaker::EndpointConfig"][1]
    assert endpoint.per_hour == pytest.approx(0.115), "one ml.m5.large endpoint instance"
    assert by_type["AWS::EMR::Cluster"][1].per_hour == pytest.approx(3 * 0.240)
    assert by_type["AWS::Redshift::Cluster"][1].per_hour == pytest.approx(0.543)
    assert all(p.lint == [] for p in plans)
    batch = next(p for p in plans if p.key == "batch")
    assert any("BDML_DEPLOY__VPC_ID" in line for line in batch.pending), "says what batch still needs"
    total = sum(p.per_month for p in plans)
    assert 500 < total < 2000, total


def test_plan_follows_the_settings() -> None:
    gpu = plan(_settings(endpoint_instance_type="ml.g4dn.xlarge", prefix="acme"), ("ml",))[0]
    config = next(r for r, _ in gpu.resources if r.type == "AWS::SageMaker::EndpointConfig")
    assert config.settings["ProductionVariants"][0]["InstanceType"] == "ml.g4dn.xlarge"
    assert gpu.name == "acme-ml" and gpu.per_hour == pytest.approx(0.736)


def test_parameters_are_checked_as_cloudformation_would() -> None:
    core = parameters("core", _settings(), ArtifactKeys(), {})
    with pytest.raises(TemplateError, match="ShardCount"):
        check_parameters("core", {**core, "ShardCount": "0"})
    with pytest.raises(TemplateError, match="RawBucketName needs a value"):
        check_parameters("core", {k: v for k, v in core.items() if k != "RawBucketName"})
    with pytest.raises(TemplateError, match="no parameter Bogus"):
        check_parameters("artifacts", {"Bogus": "x"})
    ml = parameters("ml", _settings(endpoint_instance_type="ml.huge"), ArtifactKeys(), {})
    with pytest.raises(TemplateError, match="EndpointInstanceType"):
        check_parameters("ml", ml)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (Settings(s3=S3Settings(raw_bucket="bdml-raw-CHANGE-ME", processed_bucket="p-x-y")), "placeholder"),
        (
            Settings(
                aws=AwsSettings(region="us-nowhere-9"),
                s3=S3Settings(raw_bucket=RAW, processed_bucket=PROCESSED),
            ),
            "not an AWS region",
        ),
    ],
)
def test_preflight_refuses_placeholders_and_wrong_regions(settings: Settings, message: str) -> None:
    with pytest.raises(PreflightError, match=message):
        check_settings(settings, ORDER)


def test_batch_refuses_a_database_open_to_the_internet() -> None:
    settings = _settings(vpc_id="vpc-1", subnet_ids=["subnet-a", "subnet-b"], allowed_cidr="0.0.0.0/0")
    with pytest.raises(PreflightError, match="whole internet"):
        check_settings(settings, ("batch",))


def test_no_credentials_fails_before_anything(offline_env: dict[str, str]) -> None:
    with pytest.raises(PreflightError, match="no AWS credentials"):
        check_account(_settings())


def test_cli_plan_works_offline_and_apply_refuses_without_credentials(offline_env: dict[str, str]) -> None:
    runner = CliRunner()
    planned = runner.invoke(app, ["deploy", "aws", "plan", "--stack", "core"])
    assert planned.exit_code == 0, planned.output
    assert "bdml-core" in planned.output and "$/month" in planned.output
    assert "no AWS price API is reachable offline" in planned.output

    applied = runner.invoke(app, ["deploy", "aws", "apply", "--stack", "core"])
    assert applied.exit_code == 1
    assert "no AWS credentials" in applied.output and "Traceback" not in applied.output

    refused = runner.invoke(app, ["deploy", "aws", "destroy"])
    assert refused.exit_code == 2 and "--yes" in refused.output

    unknown = runner.invoke(app, ["deploy", "aws", "plan", "--stack", "everything"])
    assert unknown.exit_code == 2


def test_cli_plan_names_a_placeholder_bucket(
    offline_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BDML_S3__RAW_BUCKET", "bdml-raw-CHANGE-ME")
    from services.settings import get_settings

    get_settings.cache_clear()
    result = CliRunner().invoke(app, ["deploy", "aws", "plan"])
    assert result.exit_code == 1
    assert "BDML_S3__RAW_BUCKET" in result.output and "Traceback" not in result.output


def test_training_request_matches_the_local_contract_and_botocore() -> None:
    settings = _settings()
    request = training_job_request(
        settings,
        "arn:aws:iam::123456789012:role/r",
        "penguin-1",
        "ml/source/sourcedir-0.tar.gz",
        {"steps": 200},
    )
    check_request(request)  # botocore's CreateTrainingJob shape, and the instance type in its enum
    from ml.training.job import CHANNELS

    assert [c["ChannelName"] for c in request["InputDataConfig"]] == list(CHANNELS)
    assert request["ResourceConfig"]["InstanceType"] == "ml.g5.xlarge"
    assert "gpu" in request["AlgorithmSpecification"]["TrainingImage"]
    assert request["HyperParameters"]["sagemaker_program"] == '"train_entry.py"'
    assert request["HyperParameters"]["steps"] == "200"
    assert request["OutputDataConfig"]["S3OutputPath"] == f"s3://{PROCESSED}/ml/training/"
    request["ResourceConfig"]["InstanceType"] = "ml.nonexistent.xlarge"
    with pytest.raises(ValueError, match="not a SageMaker training instance type"):
        check_request(request)
