"""Promotion to AWS: CloudFormation stacks for the three pipelines (``templates/``), deployed with change
sets by ``bdml deploy aws plan | apply | destroy | train`` (``cli.py``), and EMR steps that run the HQL
files (``emr.py``). Every AWS call goes through ``services.aws.client``, so the same code runs against an
emulator when ``aws.endpoint_url`` is set. See README.md beside this file."""

from __future__ import annotations

import re

from services.errors import UsageError
from services.settings import Settings

# S3's naming rules (lowercase, digits, dots, hyphens; 3-63 characters; letter or digit at both ends).
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def bucket_names(settings: Settings) -> tuple[str, str]:
    """(raw, processed) bucket names, refusing the profile's CHANGE-ME placeholders and invalid names
    before any call reaches AWS."""
    names = (settings.s3.raw_bucket, settings.s3.processed_bucket)
    for field, name in zip(("RAW_BUCKET", "PROCESSED_BUCKET"), names, strict=True):
        if "change-me" in name.lower():
            raise UsageError(
                f"bucket {name!r} is a placeholder: set BDML_S3__{field} to a globally unique name"
            )
        if not _BUCKET.match(name) or ".." in name:
            raise UsageError(f"{name!r} is not a valid S3 bucket name (BDML_S3__{field})")
    if names[0] == names[1]:
        raise UsageError("the raw and processed buckets must differ (their IAM permissions differ)")
    return names
