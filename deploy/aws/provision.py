"""Create the two buckets of the batch pipeline (raw, processed), idempotently, with public access blocked.

    BDML_PROFILE=aws BDML_S3__RAW_BUCKET=… BDML_S3__PROCESSED_BUCKET=… python -m deploy.aws.provision
    python -m deploy.aws.provision --write-policies build/iam     # also render the IAM policies for them

A bucket this creates is tagged ``bdml:provisioned=true``; ``teardown`` deletes only buckets carrying that
tag, so a bucket that existed before (or a mistyped name that hits someone else's) is never emptied by it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from services.aws import client
from services.settings import Settings, get_settings

from . import IAM_POLICIES, bucket_names, policy_document

PROVISIONED_TAG = {"Key": "bdml:provisioned", "Value": "true"}
# us-east-1 is S3's default location and rejects an explicit LocationConstraint for itself.
DEFAULT_REGION = "us-east-1"


def bucket_state(s3: Any, bucket: str) -> str:
    """'ours' (exists, ours to use), 'absent', or raises when it belongs to another account."""
    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in ("404", "NoSuchBucket", "NotFound"):
            return "absent"
        if code in ("403", "AccessDenied", "Forbidden"):
            raise PermissionError(
                f"s3://{bucket} exists but is not accessible to these credentials (another account's?); "
                "choose another name"
            ) from exc
        raise
    return "ours"


def provision(settings: Settings) -> list[str]:
    """Ensure both buckets exist with public access blocked; one line per action taken."""
    s3 = client("s3", settings)
    region = settings.aws.region
    done: list[str] = []
    for bucket in bucket_names(settings):
        if bucket_state(s3, bucket) == "absent":
            kwargs: dict[str, Any] = {"Bucket": bucket}
            if region != DEFAULT_REGION:
                kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
            try:
                s3.create_bucket(**kwargs)
            except ClientError as exc:
                # Lost a race with a parallel run of ours: the bucket is there, which is all we want.
                if exc.response.get("Error", {}).get("Code") != "BucketAlreadyOwnedByYou":
                    raise
                done.append(f"exists s3://{bucket}")
            else:
                s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [PROVISIONED_TAG]})
                done.append(f"created s3://{bucket} in {region}")
        else:
            done.append(f"exists s3://{bucket}")
        # Applied every time: cheap, and it repairs a bucket whose setting was loosened by hand.
        s3.put_public_access_block(
            Bucket=bucket,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
        done.append(f"public access blocked on s3://{bucket}")
    return done


def write_policies(settings: Settings, out_dir: Path) -> list[str]:
    """Render ``iam/*.json`` for the configured buckets into ``out_dir`` (for ``aws iam create-policy``)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[str] = []
    for name in IAM_POLICIES:
        path = out_dir / f"{name}.json"
        path.write_text(json.dumps(policy_document(name, settings), indent=2) + "\n")
        written.append(f"wrote {path}")
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.aws.provision", description="Create the raw and processed buckets."
    )
    parser.add_argument("--write-policies", type=Path, metavar="DIR", help="also render the IAM policies")
    args = parser.parse_args(argv)
    settings = get_settings()
    lines = provision(settings)
    if args.write_policies:
        lines += write_policies(settings, args.write_policies)
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
