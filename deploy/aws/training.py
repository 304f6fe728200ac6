"""``ml/train.py`` as a SageMaker script-mode training job on a GPU instance.

The request is built with boto3's ``create_training_job`` rather than the ``sagemaker`` SDK: SDK v2's
PyTorch estimator would only fill in the same fields (channels, ``sagemaker_program``,
``sagemaker_submit_directory``, the framework image) and pins its own boto3/numpy ranges; v3 has no
``sagemaker.pytorch`` and is ~1 GB. The request is checked against botocore's own service model (field
names, types, the instance-type enum) before it is sent.

The channels are the local training job's (``ml.training.job.CHANNELS``, from the same S3 prefixes), so
SageMaker sets the same ``SM_CHANNEL_*`` variables the local job sets; hyperparameters go as SageMaker
passes them to a framework container (JSON-encoded strings, arriving as ``--name value``)."""

from __future__ import annotations

import json
from typing import Any

import botocore.session
from botocore.validate import validate_parameters

from ml.config import MlPaths
from ml.training.job import CHANNELS
from services.settings import Settings

from .stacks import artifacts_bucket

MAX_RUNTIME_S = 3600


def training_image(settings: Settings) -> str:
    """AWS's PyTorch training container (GPU build for ml.g*/ml.p* instances) for the region."""
    family = settings.deploy.training_instance_type.split(".")[1]
    flavour = "gpu-py311-cu121" if family.startswith(("g", "p")) else "cpu-py311"
    return (
        f"763104351884.dkr.ecr.{settings.aws.region}.amazonaws.com/"
        f"pytorch-training:2.3.0-{flavour}-ubuntu20.04-sagemaker"
    )


def training_job_request(
    settings: Settings, role_arn: str, job_name: str, source_key: str, hyperparameters: dict[str, Any]
) -> dict[str, Any]:
    paths = MlPaths(settings)
    channels = [
        {
            "ChannelName": channel,
            "InputMode": "File",
            "DataSource": {
                "S3DataSource": {
                    "S3DataType": "S3Prefix",
                    "S3Uri": f"{paths.s3('prepared', channel)}/",
                    "S3DataDistributionType": "FullyReplicated",
                }
            },
        }
        for channel in CHANNELS
    ]
    framework = {
        "sagemaker_program": "train_entry.py",
        "sagemaker_submit_directory": f"s3://{artifacts_bucket(settings)}/{source_key}",
        "sagemaker_region": settings.aws.region,
        "sagemaker_container_log_level": 20,
    }
    return {
        "TrainingJobName": job_name,
        "RoleArn": role_arn,
        "AlgorithmSpecification": {"TrainingImage": training_image(settings), "TrainingInputMode": "File"},
        "HyperParameters": {k: json.dumps(v) for k, v in {**framework, **hyperparameters}.items()},
        "InputDataConfig": channels,
        "OutputDataConfig": {"S3OutputPath": f"{paths.s3('training')}/"},
        "ResourceConfig": {
            "InstanceType": settings.deploy.training_instance_type,
            "InstanceCount": 1,
            "VolumeSizeInGB": 30,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": MAX_RUNTIME_S},
        "Tags": [{"Key": "bdml:prefix", "Value": settings.deploy.prefix}],
    }


def check_request(request: dict[str, Any]) -> None:
    """Raise ValueError when SageMaker would refuse the request's shape or instance type."""
    model = botocore.session.get_session().get_service_model("sagemaker")
    shape: Any = model.operation_model("CreateTrainingJob").input_shape
    validate_parameters(request, shape)  # raises ParamValidationError (a ValueError) on a bad field
    allowed = shape.members["ResourceConfig"].members["InstanceType"].enum
    instance = request["ResourceConfig"]["InstanceType"]
    if instance not in allowed:
        raise ValueError(
            f"{instance!r} is not a SageMaker training instance type (BDML_DEPLOY__TRAINING_INSTANCE_TYPE)"
        )


def start(
    settings: Settings, role_arn: str, source_key: str, hyperparameters: dict[str, Any], say: Any
) -> str:
    """Start the job, wait for it, and point ``ml/training/latest.json`` at its model.tar.gz (the pointer
    the local pipeline writes too), so ``apply --stack ml`` deploys it. Returns the artifact's S3 URI."""
    import time

    from services.aws import client

    job = time.strftime("penguin-%Y%m%d-%H%M%S")
    request = training_job_request(settings, role_arn, job, source_key, hyperparameters)
    check_request(request)
    sagemaker = client("sagemaker", settings)
    sagemaker.create_training_job(**request)
    say(f"training job {job} on {settings.deploy.training_instance_type} started; waiting")
    sagemaker.get_waiter("training_job_completed_or_stopped").wait(
        TrainingJobName=job, WaiterConfig={"Delay": 30, "MaxAttempts": MAX_RUNTIME_S // 30 + 10}
    )
    described = sagemaker.describe_training_job(TrainingJobName=job)
    if described["TrainingJobStatus"] != "Completed":
        raise RuntimeError(
            f"training job {job} ended {described['TrainingJobStatus']}: {described.get('FailureReason')}"
        )
    artifact = str(described["ModelArtifacts"]["S3ModelArtifacts"])
    pointer = MlPaths(settings).s3("training", "latest.json")
    client("s3", settings).put_object(
        Bucket=pointer.bucket, Key=pointer.key, Body=json.dumps({"job": job, "model_artifact": artifact})
    )
    say(f"training job {job} completed: {artifact}")
    return artifact
