"""FirehoseDelivery: the outbox drained into a real Firehose delivery stream with put_record_batch (the
same sender the analytics Lambda uses). Buffering, the transform Lambda and the S3 keys are then the
service's; ``ensure_delivery_stream`` creates the stream with our prefixes, hints and processor.

Delivery is at least once: a crash after put_record_batch and before the outbox is marked delivered sends
the batch again (readers dedupe on record_id). Records a partial failure leaves behind after the sender's
retries go back to the outbox and are sent on the next pump — never dropped."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from lambdas.stream_analytics.firehose_sink import MAX_BATCH_BYTES, put_batch
from services.settings import DeliveryStreamConfig
from streaming.delivery.base import Receipt
from streaming.state import OutboxBatch, Pending


class FirehoseDelivery:
    def __init__(self, config: DeliveryStreamConfig, client: Any) -> None:
        self.config = config
        self.client = client

    def max_batch_bytes(self) -> int:
        return MAX_BATCH_BYTES

    def due(self, pending: Pending, now: float) -> bool:
        return pending.records > 0  # Firehose buffers by the hints itself

    def deliver(self, batch: OutboxBatch) -> Receipt:
        result = put_batch(self.client, self.config.name, [r.data for r in batch.records])
        requeue = [batch.records[i].row_id for i, _ in result.failed]
        return Receipt(ok=result.sent, requeue=requeue, keys=[f"firehose:{self.config.name}"])


def ensure_delivery_stream(
    client: Any, config: DeliveryStreamConfig, bucket: str, role_arn: str, processor_arn: str | None
) -> None:
    """Create the delivery stream (Direct PUT → S3) when it does not exist; leave an existing one as is."""
    try:
        client.describe_delivery_stream(DeliveryStreamName=config.name)
        return
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
    destination: dict[str, Any] = {
        "RoleARN": role_arn,
        "BucketARN": f"arn:aws:s3:::{bucket}",
        "Prefix": config.prefix,
        "ErrorOutputPrefix": config.error_prefix,
        "BufferingHints": {
            "SizeInMBs": config.buffering.size_mib,
            "IntervalInSeconds": config.buffering.interval_s,
        },
        "CompressionFormat": "UNCOMPRESSED",
    }
    if processor_arn:
        destination["ProcessingConfiguration"] = {
            "Enabled": True,
            "Processors": [
                {
                    "Type": "Lambda",
                    "Parameters": [
                        {"ParameterName": "LambdaArn", "ParameterValue": processor_arn},
                        {"ParameterName": "NumberOfRetries", "ParameterValue": "3"},
                    ],
                }
            ],
        }
    client.create_delivery_stream(
        DeliveryStreamName=config.name,
        DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration=destination,
    )
