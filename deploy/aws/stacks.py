"""The stacks ``bdml deploy aws`` manages, their order, and the parameters each gets from the settings.

    artifacts → core → ml → batch → monitoring        (destroy runs it backwards)

``artifacts`` is its own stack because a Lambda's code must be in S3 before the stack creating the
function exists; every other selection that deploys code brings it along. Names and parameters come from
one place (the settings), so the pipelines' own names (``<prefix>-users``, ``<prefix>-destination`` …) are
the ones the stacks create."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from services.settings import Settings, StreamingSettings

from . import bucket_names

StackKey = Literal["artifacts", "core", "ml", "batch", "monitoring"]
ORDER: tuple[StackKey, ...] = ("artifacts", "core", "ml", "batch", "monitoring")
SELECTIONS: dict[str, tuple[StackKey, ...]] = {
    "core": ("artifacts", "core"),
    "ml": ("artifacts", "ml"),
    "batch": ("artifacts", "batch"),
    "monitoring": ("monitoring",),
    "all": ORDER,
}
CAPABILITIES = ["CAPABILITY_NAMED_IAM"]
ENDPOINT_SUFFIX = "penguin-classifier"


def stack_name(settings: Settings, key: StackKey) -> str:
    return f"{settings.deploy.prefix}-{key}"


def selection(name: str) -> tuple[StackKey, ...]:
    if name not in SELECTIONS:
        raise ValueError(f"unknown stack {name!r}; choose one of: {', '.join(SELECTIONS)}")
    return SELECTIONS[name]


def tags(settings: Settings, key: StackKey) -> list[dict[str, str]]:
    """Stack tags; CloudFormation copies them onto every resource that takes tags."""
    return [
        {"Key": "bdml:prefix", "Value": settings.deploy.prefix},
        {"Key": "bdml:stack", "Value": key},
        {"Key": "bdml:managed-by", "Value": "bdml deploy aws"},
    ]


@dataclass(frozen=True)
class ArtifactKeys:
    """Keys in the artifacts bucket (content-addressed: a changed zip is a new key, so CloudFormation
    sees the change). ``plan`` without credentials uses placeholders: the zips are built by ``apply``."""

    analytics: str = "lambdas/stream_analytics-(built-by-apply).zip"
    transform: str = "lambdas/firehose_transform-(built-by-apply).zip"
    classify: str = "lambdas/image_classify-(built-by-apply).zip"
    boto3_layer: str = ""


def artifacts_bucket(settings: Settings) -> str:
    return settings.deploy.artifacts_bucket_name(settings.s3.processed_bucket)


def inference_image(settings: Settings) -> str:
    """AWS's PyTorch inference container for the region (CPU or GPU build by instance family); it runs
    ``code/inference.py`` from model.tar.gz with the requirements packed beside it."""
    gpu = settings.deploy.endpoint_instance_type.split(".")[1].startswith(("g", "p"))
    flavour = "gpu-py311-cu121" if gpu else "cpu-py311"
    return (
        f"763104351884.dkr.ecr.{settings.aws.region}.amazonaws.com/"
        f"pytorch-inference:2.3.0-{flavour}-ubuntu20.04-sagemaker"
    )


def parameters(
    key: StackKey,
    settings: Settings,
    artifacts: ArtifactKeys,
    outputs: dict[str, dict[str, str]],
) -> dict[str, str]:
    """CloudFormation parameters of one stack. ``outputs``: the recorded outputs of stacks already
    deployed (monitoring watches what core, ml and batch created)."""
    d = settings.deploy
    raw, processed = bucket_names(settings)
    common = {"Prefix": d.prefix}
    if key == "artifacts":
        return {"ArtifactsBucketName": artifacts_bucket(settings)}
    if key == "core":
        stream = settings.stream
        return {
            **common,
            "RawBucketName": raw,
            "ProcessedBucketName": processed,
            "ArtifactsBucketName": artifacts_bucket(settings),
            "AnalyticsCodeKey": artifacts.analytics,
            "TransformCodeKey": artifacts.transform,
            "ClassifyCodeKey": artifacts.classify,
            "Boto3LayerKey": artifacts.boto3_layer,
            "ShardCount": str(stream.shards),
            "WindowSeconds": str(stream.window_seconds),
            "WatermarkDelaySeconds": str(stream.watermark_delay_s),
            "AllowedLatenessSeconds": str(stream.allowed_lateness_s),
            "RootPrefix": stream.root_prefix,
            "BufferSizeMiB": str(stream.buffering.size_mib),
            "BufferIntervalSeconds": str(stream.buffering.interval_s),
            "SageMakerRuntimeUrl": d.sagemaker_runtime_url,
            "ApiRateLimit": str(d.api_rate_limit),
            "ApiBurstLimit": str(d.api_burst_limit),
            "LogRetentionDays": str(d.log_retention_days),
        }
    if key == "ml":
        return {
            **common,
            "ArtifactsBucketName": artifacts_bucket(settings),
            "ProcessedBucketName": processed,
            "ModelDataKey": d.model_data_key,
            "InferenceImage": inference_image(settings),
            "EndpointInstanceType": d.endpoint_instance_type,
            "LogRetentionDays": str(d.log_retention_days),
        }
    if key == "batch":
        return {
            **common,
            "RawBucketName": raw,
            "ProcessedBucketName": processed,
            "ArtifactsBucketName": artifacts_bucket(settings),
            "VpcId": d.vpc_id,
            "SubnetIds": ",".join(d.subnet_ids),
            "AllowedCidr": d.allowed_cidr,
            "EmrReleaseLabel": d.emr_release,
            "EmrInstanceType": d.emr_instance_type,
            "EmrCoreInstanceCount": str(d.emr_core_instances),
            "MySqlInstanceClass": d.mysql_instance_class,
            "RedshiftNodeType": d.redshift_node_type,
            "LogRetentionDays": str(d.log_retention_days),
        }
    core, ml, batch = outputs.get("core", {}), outputs.get("ml", {}), outputs.get("batch", {})
    stream = StreamingSettings(app=d.prefix)
    return {
        **common,
        "AlarmEmail": d.alarm_email,
        "EndpointName": ml.get("EndpointName", "") if d.model_data_key else "",
        "StreamName": core.get("StreamName", stream.input_stream),
        "FunctionNames": ",".join(
            (stream.analytics_function, stream.transform_function, f"{d.prefix}-image-classify")
        ),
        "DeliveryStreamNames": ",".join(c.name for c in stream.deliveries()),
        "EmrClusterId": batch.get("EmrClusterId", ""),
    }
