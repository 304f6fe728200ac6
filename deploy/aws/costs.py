"""What a stack costs while it exists, from the dated price table ``prices.toml`` (no AWS price API is
reachable offline). Only charges that run by the hour or the month are summed; per-request and per-GB
services are shown with their unit price, because they cost nothing while idle."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from .render import ResourceSummary

PRICES = Path(__file__).resolve().parent / "prices.toml"

# Resource type → the usage-priced service it bills under (shown, not summed).
USAGE = {
    "AWS::Lambda::Function": "lambda",
    "AWS::KinesisFirehose::DeliveryStream": "firehose",
    "AWS::ApiGateway::RestApi": "apigateway",
    "AWS::S3::Bucket": "s3",
    "AWS::SQS::Queue": "sqs",
    "AWS::SNS::Topic": "sns",
    "AWS::Logs::LogGroup": "logs",
}


@dataclass(frozen=True)
class Cost:
    per_hour: float
    per_month: float
    note: str  # how it was computed, or the unit price of a usage-priced service

    @property
    def fixed(self) -> bool:
        return self.per_hour > 0 or self.per_month > 0


@cache
def prices() -> dict[str, Any]:
    with PRICES.open("rb") as fh:
        return tomllib.load(fh)


def usage_prices(services: set[str]) -> list[str]:
    """The unit prices of the usage-priced services named, one line each."""
    table: dict[str, str] = prices()["usage"]
    return [f"{name}: {table[name]}" for name in sorted(services) if name in table]


def price_source() -> str:
    meta = prices()["meta"]
    return f"list prices of {meta['region']} copied on {meta['date']} (deploy/aws/prices.toml)"


def _hourly(key: str) -> float:
    table: dict[str, float] = prices()["hourly"]
    if key not in table:
        raise KeyError(f"deploy/aws/prices.toml has no hourly price for {key!r}: add it with its source")
    return table[key]


def _monthly(key: str) -> float:
    return float(prices()["monthly"][key])


def _per_hour(hourly: float, note: str, monthly: float = 0.0) -> Cost:
    hours = float(prices()["meta"]["hours_per_month"])
    return Cost(hourly + monthly / hours, hourly * hours + monthly, note)


def estimate(resource: ResourceSummary) -> Cost:
    """The standing cost of one resource with its planned settings."""
    s = resource.settings
    kind = resource.type
    if kind == "AWS::Kinesis::Stream":
        shards = int(s.get("ShardCount", 1))
        return _per_hour(shards * _hourly("kinesis.shard"), f"{shards} shard(s)")
    if kind == "AWS::SageMaker::EndpointConfig":
        total, parts = 0.0, []
        for variant in s.get("ProductionVariants", []):
            count = int(variant.get("InitialInstanceCount", 1))
            total += count * _hourly(f"sagemaker.{variant['InstanceType']}")
            parts.append(f"{count} × {variant['InstanceType']}")
        return _per_hour(total, ", ".join(parts) + " (real-time endpoint)")
    if kind == "AWS::EMR::Cluster":
        total, parts = 0.0, []
        for group in ("MasterInstanceGroup", "CoreInstanceGroup"):
            spec = s.get(group) or {}
            count = int(spec.get("InstanceCount", 1))
            total += count * _hourly(f"emr.{spec.get('InstanceType')}")
            parts.append(f"{count} × {spec.get('InstanceType')}")
        return _per_hour(total, " + ".join(parts) + " (until the idle timeout ends it)")
    if kind == "AWS::RDS::DBInstance":
        storage = int(s.get("AllocatedStorage", 20))
        return _per_hour(
            _hourly(f"rds.{s.get('DBInstanceClass')}"),
            f"{s.get('DBInstanceClass')}, {storage} GB",
            storage * _monthly("rds.storage.gp2.gb"),
        )
    if kind == "AWS::Redshift::Cluster":
        nodes = int(s.get("NumberOfNodes", 1))
        return _per_hour(nodes * _hourly(f"redshift.{s.get('NodeType')}"), f"{nodes} × {s.get('NodeType')}")
    if kind == "AWS::SecretsManager::Secret":
        return _per_hour(0.0, "one secret", _monthly("secretsmanager.secret"))
    if kind == "AWS::CloudWatch::Alarm":
        return _per_hour(0.0, "one alarm", _monthly("cloudwatch.alarm"))
    if kind == "AWS::CloudWatch::Dashboard":
        return _per_hour(0.0, "one dashboard", _monthly("cloudwatch.dashboard"))
    if kind in USAGE:
        return Cost(0.0, 0.0, f"by use ({USAGE[kind]})")
    return Cost(0.0, 0.0, "")
