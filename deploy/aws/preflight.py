"""Checks that run before anything is created: credentials, region, bucket names and the settings a stack
cannot do without. Each failure is one line that says what to set."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from services.aws import client
from services.settings import Settings

from . import _BUCKET, bucket_names
from .stacks import StackKey, artifacts_bucket

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class PreflightError(RuntimeError):
    """A setting or the environment stops the deploy before it starts; the message says what to do."""


def known_regions() -> list[str]:
    return boto3.session.Session().get_available_regions("cloudformation")


def check_settings(settings: Settings, keys: tuple[StackKey, ...]) -> None:
    """Offline checks: bucket names, region, and what the selected stacks need."""
    try:
        bucket_names(settings)
    except ValueError as exc:
        raise PreflightError(str(exc)) from None
    artifacts = artifacts_bucket(settings)
    if not _BUCKET.match(artifacts):
        raise PreflightError(
            f"{artifacts!r} is not a valid S3 bucket name: set BDML_DEPLOY__ARTIFACTS_BUCKET "
            "(3-63 lowercase letters, digits, dots, dashes)"
        )
    region = settings.aws.region
    if region not in known_regions():
        raise PreflightError(
            f"region {region!r} is not an AWS region CloudFormation serves: set BDML_AWS__REGION "
            "(e.g. us-east-1, eu-west-1)"
        )
    email = settings.deploy.alarm_email
    if email and not _EMAIL.match(email):
        raise PreflightError(f"BDML_DEPLOY__ALARM_EMAIL={email!r} is not an e-mail address")
    problems = [line for key in keys for line in missing_settings(key, settings)]
    if problems:
        raise PreflightError("; ".join(problems))


def missing_settings(key: StackKey, settings: Settings) -> list[str]:
    """What the stack ``key`` needs that the settings do not say (empty when ready)."""
    if key != "batch":
        return []
    d = settings.deploy
    out = []
    if not d.vpc_id:
        out.append("batch needs a VPC: set BDML_DEPLOY__VPC_ID (e.g. your default VPC's id)")
    if len(d.subnet_ids) < 2:
        out.append(
            "batch needs two subnets in different zones: "
            'set BDML_DEPLOY__SUBNET_IDS=\'["subnet-…","subnet-…"]\''
        )
    if not d.allowed_cidr:
        out.append(
            "batch needs the CIDR allowed to reach the databases: set BDML_DEPLOY__ALLOWED_CIDR=<your ip>/32"
        )
    else:
        try:
            network = ipaddress.ip_network(d.allowed_cidr, strict=False)
        except ValueError:
            out.append(f"BDML_DEPLOY__ALLOWED_CIDR={d.allowed_cidr!r} is not a CIDR (e.g. 203.0.113.7/32)")
        else:
            if network.prefixlen == 0:
                out.append("BDML_DEPLOY__ALLOWED_CIDR must not open the databases to the whole internet")
    return out


def has_credentials(settings: Settings) -> bool:
    """Whether any credentials are configured (settings keys for an emulator, else the default chain)."""
    if settings.aws.access_key_id:
        return True
    return boto3.Session().get_credentials() is not None


def check_account(settings: Settings) -> dict[str, Any]:
    """Who we are, asked of STS in the target region: fails here, with one line, on missing or invalid
    credentials or a region the account cannot use."""
    if not has_credentials(settings):
        raise PreflightError(
            "no AWS credentials found: set AWS_PROFILE (or run `aws configure` / `aws sso login`), "
            "then run this again"
        )
    try:
        identity: dict[str, Any] = client("sts", settings).get_caller_identity()
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise PreflightError(
            f"AWS refused these credentials in {settings.aws.region}: {error.get('Code')}: "
            f"{error.get('Message')} (check AWS_PROFILE and BDML_AWS__REGION)"
        ) from None
    except BotoCoreError as exc:
        raise PreflightError(f"cannot reach AWS STS in {settings.aws.region}: {exc}") from None
    return identity
