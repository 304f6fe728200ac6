"""boto3 client factory: the only place that knows where the AWS APIs are."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from services.settings import Settings, get_settings


def client(service: str, settings: Settings | None = None, **config: Any) -> Any:
    s = settings or get_settings()
    return boto3.client(
        service,  # type: ignore[call-overload]
        endpoint_url=s.aws.endpoint_url,
        region_name=s.aws.region,
        aws_access_key_id=s.aws.access_key_id,
        aws_secret_access_key=s.aws.secret_access_key,
        config=Config(retries={"max_attempts": 5, "mode": "standard"}, **config),
    )
