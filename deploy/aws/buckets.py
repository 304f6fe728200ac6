"""Emptying a bucket before its stack deletes it (S3 refuses to delete a bucket that holds anything)."""

from __future__ import annotations

from typing import Any

# DeleteObjects takes at most 1,000 keys per call.
_DELETE_BATCH = 1000


def empty_bucket(s3: Any, bucket: str) -> int:
    """Delete every object version and delete marker (a versioned bucket keeps old versions after a plain
    delete) and abort unfinished multipart uploads; the number of versions deleted."""
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
