"""The compose stack's one-shot init (service `init` in compose.yaml): what the pipelines expect to find on
LocalStack, made by the code the embedded profile runs, so nothing here can drift from it:

- the raw and processed buckets (``ObjectStore.ensure_bucket``);
- per stream app: the Kinesis stream, the Firehose transform Lambda and the three Firehose delivery
  streams (``streaming.job.prepare``, as ``bdml stream run --delivery firehose`` does);
- the classify Lambda, pointed at the model-server container, and its REST API
  (``ml.endpoint.deploy.deploy_function`` / ``deploy_api``, as ``bdml ml deploy-local`` does).

The REST API is created with a fixed id (LocalStack's ``_custom_id_`` tag) before ``deploy_api`` finds it
by name, so the web app's API URL can be written into compose.yaml. Every step is idempotent.

A script under docker/ rather than a CLI command: it composes pipelines, and only services/cli.py may."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ml.config import endpoint_name
from ml.endpoint.deploy import BINARY_MEDIA_TYPES, Names, deploy_api, deploy_function
from services import aws
from services.objectstore import ObjectStore
from services.settings import Settings, get_settings
from streaming.job import prepare

CUSTOM_ID_TAG = "_custom_id_"


def buckets(settings: Settings) -> list[str]:
    store = ObjectStore(settings)
    names = [settings.s3.raw_bucket, settings.s3.processed_bucket]
    for name in names:
        store.ensure_bucket(name)
    return names


def stream_resources(settings: Settings, app: str) -> str:
    # delivery="firehose" so the delivery streams exist too; the consumer's own (local) delivery needs
    # only the stream and the transform Lambda, which prepare() makes either way.
    cfg = settings.stream.model_copy(update={"app": app, "delivery": "firehose"})
    res = prepare(settings, cfg)
    names = ", ".join(d.name for d in cfg.deliveries())
    return f"{cfg.input_stream} ({res.shards} shards), {cfg.transform_function}, {names}"


def _find_api(apigw: Any, name: str) -> str | None:
    for page in apigw.get_paginator("get_rest_apis").paginate():
        for item in page["items"]:
            if item["name"] == name:
                return str(item["id"])
    return None


def classify_api(settings: Settings, api_id: str) -> str:
    runtime_url = settings.deploy.sagemaker_runtime_url
    if not runtime_url:
        raise SystemExit("init: deploy.sagemaker_runtime_url is empty; the compose profile sets it")
    names = Names()
    apigw = aws.client("apigateway", settings)
    if _find_api(apigw, names.api) is None:
        apigw.create_rest_api(
            name=names.api,
            binaryMediaTypes=BINARY_MEDIA_TYPES,
            endpointConfiguration={"types": ["REGIONAL"]},
            tags={CUSTOM_ID_TAG: api_id},
        )
    function_arn = deploy_function(settings, runtime_url, endpoint_name(settings), names)
    found, url = deploy_api(settings, function_arn, names)
    if found != api_id:
        raise SystemExit(
            f"init: the REST API {names.api} has id {found}, not {api_id}: the web app calls {api_id}. "
            "An API of that name made outside init is in the way: `docker compose down` and up again."
        )
    return url


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description="Create the compose stack's AWS resources on LocalStack.")
    p.add_argument("--stream-app", action="append", default=[], help="a stream app to prepare (repeat)")
    p.add_argument("--api-id", default="bdmlclassify", help="id of the classify REST API")
    args = p.parse_args(argv)
    settings = get_settings()
    print(f"init: buckets {', '.join(buckets(settings))}", flush=True)
    for app in args.stream_app:
        print(f"init: stream app {app}: {stream_resources(settings, app)}", flush=True)
    print(f"init: classify API {classify_api(settings, args.api_id)}", flush=True)
    print("init: done", file=sys.stderr)


if __name__ == "__main__":
    main()
