"""The CloudFormation templates: cfn-lint clean, and the rules a review would check by eye — no IAM action
wildcard in an Allow, every bucket private, encrypted and TLS-only, data buckets kept on stack deletion, the
API throttled and not anonymous, every log group with a retention."""

from __future__ import annotations

from typing import Any

import pytest

from deploy.aws.promote import lint
from deploy.aws.render import load
from deploy.aws.stacks import ORDER

pytestmark = pytest.mark.unit


def _resources(kind: str) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (stack, logical_id, resource)
        for stack in ORDER
        for logical_id, resource in load(stack).get("Resources", {}).items()
        if resource["Type"] == kind
    ]


def _statements(node: Any) -> list[dict[str, Any]]:
    """Every IAM statement anywhere under ``node`` (role policies, bucket and queue policies …)."""
    if isinstance(node, dict):
        found = list(node["Statement"]) if isinstance(node.get("Statement"), list) else []
        return found + [s for value in node.values() for s in _statements(value)]
    if isinstance(node, list):
        return [s for item in node for s in _statements(item)]
    return []


@pytest.mark.parametrize("stack", ORDER)
def test_cfn_lint_finds_nothing(stack: str) -> None:
    assert lint(stack, "us-east-1") == []  # type: ignore[arg-type]


@pytest.mark.parametrize("stack", ORDER)
def test_no_allow_statement_grants_a_wildcard_action(stack: str) -> None:
    for statement in _statements(load(stack)["Resources"]):
        if statement.get("Effect") != "Allow":
            continue  # Deny s3:* for non-TLS requests is the point of those statements
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        wild = [a for a in actions if isinstance(a, str) and (a == "*" or a.endswith(":*"))]
        assert not wild, f"{stack}: Allow {wild}"


def test_every_bucket_is_private_encrypted_and_tls_only() -> None:
    buckets = _resources("AWS::S3::Bucket")
    assert {logical for _, logical, _ in buckets} >= {"RawBucket", "ProcessedBucket", "ArtifactsBucket"}
    policies = {
        str(r["Properties"]["Bucket"]["Ref"]): r["Properties"]["PolicyDocument"]
        for _, _, r in _resources("AWS::S3::BucketPolicy")
    }
    for stack, logical, bucket in buckets:
        props = bucket["Properties"]
        block = props["PublicAccessBlockConfiguration"]
        assert all(
            block[k] is True
            for k in ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")
        ), logical
        assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"], logical
        denies = [
            s
            for s in policies[logical]["Statement"]
            if s["Effect"] == "Deny" and s["Condition"]["Bool"]["aws:SecureTransport"] == "false"
        ]
        assert denies, f"{stack}.{logical} admits plain HTTP"


def test_data_buckets_survive_stack_deletion() -> None:
    core = load("core")["Resources"]
    for logical in ("RawBucket", "ProcessedBucket"):
        assert core[logical]["DeletionPolicy"] == "Retain"
        assert core[logical]["UpdateReplacePolicy"] == "Retain"


def test_classify_api_is_throttled_and_needs_a_key() -> None:
    core = load("core")["Resources"]
    method = core["ClassifyMethod"]["Properties"]
    assert method["ApiKeyRequired"] is True or method["AuthorizationType"] != "NONE"
    settings = core["ClassifyStage"]["Properties"]["MethodSettings"][0]
    assert "ThrottlingRateLimit" in settings and "ThrottlingBurstLimit" in settings
    plan = core["ClassifyUsagePlan"]["Properties"]
    assert plan["Throttle"] and plan["Quota"]
    assert core["ClassifyUsagePlanKey"]["Properties"]["KeyId"] == {"Ref": "ClassifyApiKey"}
    assert "MAX_IMAGE_BYTES" in core["ClassifyFunction"]["Properties"]["Environment"]["Variables"]


def test_every_log_group_has_a_retention() -> None:
    groups = _resources("AWS::Logs::LogGroup")
    assert groups
    for stack, logical, group in groups:
        assert "RetentionInDays" in group["Properties"], f"{stack}.{logical}"


def test_analytics_event_source_loses_no_batch() -> None:
    mapping = load("core")["Resources"]["AnalyticsEventSource"]["Properties"]
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert "TumblingWindowInSeconds" in mapping
    assert mapping["DestinationConfig"]["OnFailure"]["Destination"]


def test_service_roles_trust_only_this_account() -> None:
    """A service principal alone lets that service act for any account (the confused deputy)."""
    batch = load("batch")["Resources"]
    trust = batch["RedshiftCopyRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}
    firehose = load("core")["Resources"]["FirehoseRole"]["Properties"]["AssumeRolePolicyDocument"]
    assert firehose["Statement"][0]["Condition"]["StringEquals"]["sts:ExternalId"] == {
        "Ref": "AWS::AccountId"
    }
