"""Empty and delete the two buckets of the batch pipeline: only with an explicit ``--yes``, and only buckets
that ``provision`` created (tagged ``bdml:provisioned=true``). Without ``--yes`` it prints what it would do.

    BDML_PROFILE=aws python -m deploy.aws.teardown          # the plan
    BDML_PROFILE=aws python -m deploy.aws.teardown --yes    # delete
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from botocore.exceptions import ClientError

from services.aws import client
from services.settings import Settings, get_settings

from . import bucket_names
from .provision import PROVISIONED_TAG, bucket_state

# DeleteObjects takes at most 1,000 keys per call.
_DELETE_BATCH = 1000


def _provisioned_by_us(s3: Any, bucket: str) -> bool:
    try:
        tags = s3.get_bucket_tagging(Bucket=bucket).get("TagSet", [])
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NoSuchTagSet":
            return False
        raise
    return PROVISIONED_TAG in tags


def _empty(s3: Any, bucket: str) -> int:
    """Delete every object version and delete marker (a versioned bucket keeps old versions after a plain
    delete, and S3 refuses to delete a bucket that holds any) and abort unfinished multipart uploads."""
    deleted = 0
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        entries = [
            {"Key": v["Key"], "VersionId": v["VersionId"]}
            for v in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
        ]
        for start in range(0, len(entries), _DELETE_BATCH):
            batch = entries[start : start + _DELETE_BATCH]
            response = s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
            if response.get("Errors"):
                first = response["Errors"][0]
                raise RuntimeError(
                    f"s3://{bucket}: could not delete {first.get('Key')}: {first.get('Message')}"
                )
            deleted += len(batch)
    for page in s3.get_paginator("list_multipart_uploads").paginate(Bucket=bucket):
        for upload in page.get("Uploads", []):
            s3.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
    return deleted


def teardown(settings: Settings, yes: bool) -> list[str]:
    """Empty and delete both buckets when ``yes``; otherwise only report the plan. One line per bucket."""
    s3 = client("s3", settings)
    lines: list[str] = []
    for bucket in bucket_names(settings):
        if bucket_state(s3, bucket) == "absent":
            lines.append(f"absent s3://{bucket}")
        elif not _provisioned_by_us(s3, bucket):
            lines.append(f"kept s3://{bucket}: not created by deploy.aws.provision (no bdml:provisioned tag)")
        elif not yes:
            lines.append(f"would empty and delete s3://{bucket} (pass --yes)")
        else:
            count = _empty(s3, bucket)
            s3.delete_bucket(Bucket=bucket)
            lines.append(f"deleted s3://{bucket} ({count} object versions)")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.aws.teardown", description="Empty and delete the raw and processed buckets."
    )
    parser.add_argument("--yes", action="store_true", help="really delete (otherwise print the plan)")
    args = parser.parse_args(argv)
    for line in teardown(get_settings(), yes=args.yes):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
