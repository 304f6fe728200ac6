"""``bdml ml deploy-local``: model.tar.gz in S3 → model server (the endpoint) → Lambda → REST API.

The API Gateway and Lambda parts are plain AWS API calls through ``services.aws`` (MiniStack on the
embedded profile), so every step is idempotent by name: the role, function, API, resource, method and
stage are found and updated, or created when missing."""

from __future__ import annotations

import json
import shutil
import tarfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from ml.config import MlPaths, endpoint_name, server_port
from ml.endpoint import model_server
from ml.training.job import latest_artifact
from services import aws, lambda_package
from services.objectstore import ObjectStore, S3Uri
from services.settings import Settings

STAGE = "local"
RESOURCE = "classify"
# Only these arrive base64-encoded; a text/plain or JSON body stays text and is checked as such.
BINARY_MEDIA_TYPES = ["image/*", "application/x-image", "application/octet-stream"]


@dataclass(frozen=True)
class Names:
    """AWS resource names; tests use their own so they never touch the demo's deployment."""

    function: str = "bdml-image-classify"
    role: str = "bdml-image-classify-role"
    api: str = "bdml-image-classify"
    layer: str = "bdml-boto3"  # shared: the same boto3 for every function

    @classmethod
    def suffixed(cls, suffix: str) -> Names:
        return cls(f"{cls.function}-{suffix}", f"{cls.role}-{suffix}", f"{cls.api}-{suffix}")


@dataclass(frozen=True)
class Deployment:
    endpoint_name: str
    runtime_url: str
    model_artifact: str
    function_arn: str
    api_id: str
    api_url: str

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def read(cls, path: Path) -> Deployment:
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing: run `bdml ml deploy-local` first")
        return cls(**json.loads(path.read_text()))


def unpack_model(store: ObjectStore, artifact: S3Uri, target: Path) -> Path:
    staging = target.with_name(target.name + ".staging")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    archive = staging / "model.tar.gz"
    store.download(artifact, archive)
    with tarfile.open(archive) as tar:
        tar.extractall(staging, filter="data")
    archive.unlink()
    for needed in ("model.onnx", "metadata.json"):
        if not (staging / needed).exists():
            raise FileNotFoundError(f"{artifact} has no {needed}: not a model built by ml/train.py")
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    return target


def _role(settings: Settings, endpoint: str, names: Names) -> str:
    iam = aws.client("iam", settings)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "lambda.amazonaws.com"}}
        ],
    }
    try:
        arn: str = iam.create_role(RoleName=names.role, AssumeRolePolicyDocument=json.dumps(trust))["Role"][
            "Arn"
        ]
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "EntityAlreadyExists":
            raise
        arn = iam.get_role(RoleName=names.role)["Role"]["Arn"]
    # Least privilege — the article's lesson: the Lambda may invoke this one endpoint and write its logs.
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "sagemaker:InvokeEndpoint",
                "Resource": f"arn:aws:sagemaker:{settings.aws.region}:*:endpoint/{endpoint}",
            },
            {
                "Effect": "Allow",
                "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": "*",
            },
        ],
    }
    iam.put_role_policy(RoleName=names.role, PolicyName="invoke-endpoint", PolicyDocument=json.dumps(policy))
    return arn


def deploy_function(
    settings: Settings, runtime_url: str | None, endpoint: str, names: Names = Names()
) -> str:
    lam = aws.client("lambda", settings)
    env = {
        "SAGEMAKER_ENDPOINT_NAME": endpoint,
        **({"SAGEMAKER_RUNTIME_ENDPOINT_URL": runtime_url} if runtime_url else {}),
    }
    # The handler needs boto3: AWS's runtime has it, MiniStack's has not; the layer gives both the tested one.
    boto3_layer = lambda_package.build_layer(lambda_package.BOTO3_LAYER, MlPaths(settings).cache / "layers")
    return lambda_package.deploy(
        lam,
        lambda_package.build("image_classify"),
        names.function,
        _role(settings, endpoint, names),
        env,
        memory_mb=256,
        timeout_s=30,
        layers=[lambda_package.ensure_layer(lam, names.layer, boto3_layer)],
    )


def _api_id(apigw: Any, name: str) -> str:
    for page in apigw.get_paginator("get_rest_apis").paginate():
        for item in page["items"]:
            if item["name"] != name:
                continue
            missing = [t for t in BINARY_MEDIA_TYPES if t not in item.get("binaryMediaTypes", [])]
            if missing:  # an API from an older deploy: add what it lacks ('/' is '~1' in patch paths)
                ops = [{"op": "add", "path": f"/binaryMediaTypes/{t.replace('/', '~1')}"} for t in missing]
                apigw.update_rest_api(restApiId=item["id"], patchOperations=ops)
            return str(item["id"])
    created = apigw.create_rest_api(
        name=name, binaryMediaTypes=BINARY_MEDIA_TYPES, endpointConfiguration={"types": ["REGIONAL"]}
    )
    return str(created["id"])


def _resource_id(apigw: Any, api_id: str) -> str:
    resources = apigw.get_resources(restApiId=api_id)["items"]
    for r in resources:
        if r.get("path") == f"/{RESOURCE}":
            return str(r["id"])
    root = next(r["id"] for r in resources if r["path"] == "/")
    return str(apigw.create_resource(restApiId=api_id, parentId=root, pathPart=RESOURCE)["id"])


def deploy_api(settings: Settings, function_arn: str, names: Names = Names()) -> tuple[str, str]:
    apigw = aws.client("apigateway", settings)
    api_id = _api_id(apigw, names.api)
    resource = _resource_id(apigw, api_id)
    region = settings.aws.region
    try:
        apigw.put_method(restApiId=api_id, resourceId=resource, httpMethod="POST", authorizationType="NONE")
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ConflictException":
            raise
    apigw.put_integration(
        restApiId=api_id,
        resourceId=resource,
        httpMethod="POST",
        type="AWS_PROXY",
        integrationHttpMethod="POST",
        uri=f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{function_arn}/invocations",
    )
    try:
        aws.client("lambda", settings).add_permission(
            FunctionName=names.function,
            StatementId="apigateway-invoke",
            Action="lambda:InvokeFunction",
            Principal="apigateway.amazonaws.com",
            SourceArn=f"arn:aws:execute-api:{region}:*:{api_id}/*/POST/{RESOURCE}",
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceConflictException":
            raise
    apigw.create_deployment(restApiId=api_id, stageName=STAGE)
    return api_id, api_url(settings, api_id)


def api_url(settings: Settings, api_id: str, stage: str = STAGE) -> str:
    if settings.aws.endpoint_url:  # an emulator: its path-style execute-api route
        return f"{settings.aws.endpoint_url.rstrip('/')}/_aws/execute-api/{api_id}/{stage}/{RESOURCE}"
    return f"https://{api_id}.execute-api.{settings.aws.region}.amazonaws.com/{stage}/{RESOURCE}"


def deploy(
    settings: Settings, store: ObjectStore, artifact: S3Uri | None = None, names: Names = Names()
) -> Deployment:
    paths = MlPaths(settings)
    artifact = artifact or latest_artifact(paths, store)
    default = names == Names()
    endpoint = endpoint_name(settings)
    if settings.ml.server_url:  # something else serves the endpoint (the compose model-server container)
        server_url = settings.ml.server_url.rstrip("/")
        model_server.wait_for_model(server_url, str(artifact))
        lambda_url = settings.deploy.sagemaker_runtime_url or server_url  # as the Lambda reaches it
    else:
        model_dir = unpack_model(
            store, artifact, paths.model if default else paths.home / f"model-{names.function}"
        )
        server_url = lambda_url = model_server.start(settings, model_dir, server_port(settings), endpoint).url
    function_arn = deploy_function(settings, lambda_url, endpoint, names)
    api_id, url = deploy_api(settings, function_arn, names)
    deployment = Deployment(endpoint, server_url, str(artifact), function_arn, api_id, url)
    # `bdml web` reads the default deployment only; suffixed ones (tests, benchmarks) keep their own file.
    deployment.write(paths.state if default else paths.home / f"deployment-{names.function}.json")
    return deployment
