"""Promotion of the batch pipeline to AWS: buckets (``provision``/``teardown``), IAM policies (``iam/``) and
EMR steps that run the HQL files (``emr``). Every AWS call goes through ``services.aws.client``, so the same
code runs against an emulator when ``aws.endpoint_url`` is set. See README.md beside this file."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from services.settings import Settings

IAM_DIR = Path(__file__).resolve().parent / "iam"
IAM_POLICIES = (
    "emr-hive-s3-policy",
    "redshift-copy-role-policy",
    "redshift-copy-role-trust-policy",
)

# S3's naming rules (lowercase, digits, dots, hyphens; 3-63 characters; letter or digit at both ends).
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
# The policy files name buckets as ${raw_bucket} / ${processed_bucket}; IAM's own policy variables
# (${aws:username}) always contain a colon, so they never match and pass through untouched.
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def bucket_names(settings: Settings) -> tuple[str, str]:
    """(raw, processed) bucket names, refusing the profile's CHANGE-ME placeholders and invalid names
    before any call reaches AWS."""
    names = (settings.s3.raw_bucket, settings.s3.processed_bucket)
    for field, name in zip(("RAW_BUCKET", "PROCESSED_BUCKET"), names, strict=True):
        if "change-me" in name.lower():
            raise ValueError(
                f"bucket {name!r} is a placeholder: set BDML_S3__{field} to a globally unique name"
            )
        if not _BUCKET.match(name) or ".." in name:
            raise ValueError(f"{name!r} is not a valid S3 bucket name (BDML_S3__{field})")
    if names[0] == names[1]:
        raise ValueError("the raw and processed buckets must differ (their IAM permissions differ)")
    return names


def policy_document(name: str, settings: Settings) -> dict[str, Any]:
    """The IAM policy ``iam/<name>.json`` with the configured bucket names filled in."""
    if name not in IAM_POLICIES:
        raise ValueError(f"unknown policy {name!r}; choose one of: {', '.join(IAM_POLICIES)}")
    raw, processed = bucket_names(settings)
    values = {"raw_bucket": raw, "processed_bucket": processed}

    def fill(match: re.Match[str]) -> str:
        if match.group(1) not in values:
            raise ValueError(f"iam/{name}.json: unknown placeholder {match.group(0)}")
        return values[match.group(1)]

    text = _PLACEHOLDER.sub(fill, (IAM_DIR / f"{name}.json").read_text())
    document: dict[str, Any] = json.loads(text)
    return document
