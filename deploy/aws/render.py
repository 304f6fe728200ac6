"""The CloudFormation templates under ``templates/``, read offline: parameters checked the way CloudFormation
checks them (so a bad value fails here, not half-way through a deploy), conditions evaluated, and each
resource summarised with the physical name it will get and the properties that cost money."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

TEMPLATES = Path(__file__).resolve().parent / "templates"

# The property that names a resource, per type (the rest get a name from CloudFormation).
NAME_PROPERTY = {
    "AWS::S3::Bucket": "BucketName",
    "AWS::Kinesis::Stream": "Name",
    "AWS::SQS::Queue": "QueueName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::Lambda::LayerVersion": "LayerName",
    "AWS::IAM::Role": "RoleName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::KinesisFirehose::DeliveryStream": "DeliveryStreamName",
    "AWS::ApiGateway::RestApi": "Name",
    "AWS::ApiGateway::Stage": "StageName",
    "AWS::ApiGateway::ApiKey": "Name",
    "AWS::ApiGateway::UsagePlan": "UsagePlanName",
    "AWS::SageMaker::Endpoint": "EndpointName",
    "AWS::SageMaker::Model": "ModelName",
    "AWS::EMR::Cluster": "Name",
    "AWS::RDS::DBInstance": "DBInstanceIdentifier",
    "AWS::Redshift::Cluster": "ClusterIdentifier",
    "AWS::SecretsManager::Secret": "Name",
    "AWS::SNS::Topic": "TopicName",
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::CloudWatch::Dashboard": "DashboardName",
    "AWS::Events::Rule": "Name",
    "AWS::IAM::InstanceProfile": "InstanceProfileName",
}

# The properties that decide what a resource costs, per type (shown by `plan`).
COST_PROPERTIES = {
    "AWS::Kinesis::Stream": ("ShardCount", "RetentionPeriodHours"),
    "AWS::Lambda::Function": ("MemorySize", "Timeout"),
    "AWS::KinesisFirehose::DeliveryStream": ("ExtendedS3DestinationConfiguration.BufferingHints",),
    "AWS::ApiGateway::UsagePlan": ("Throttle", "Quota"),
    "AWS::SageMaker::EndpointConfig": ("ProductionVariants",),
    "AWS::EMR::Cluster": ("ReleaseLabel", "Instances.MasterInstanceGroup", "Instances.CoreInstanceGroup"),
    "AWS::RDS::DBInstance": ("DBInstanceClass", "AllocatedStorage", "MultiAZ"),
    "AWS::Redshift::Cluster": ("NodeType", "NumberOfNodes", "ClusterType"),
}

PSEUDO = {"AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com", "AWS::NoValue": None}
_SUB = re.compile(r"\$\{([A-Za-z0-9_:.]+)\}")


class TemplateError(ValueError):
    """A template or a parameter value CloudFormation would refuse; the message names which."""


@cache
def load(name: str) -> dict[str, Any]:
    """``templates/<name>.yaml`` as plain dicts (short-form tags become their ``Fn::`` forms)."""
    from cfnlint.decode import decode  # imported on use: cfn-lint takes a second to load

    path = TEMPLATES / f"{name}.yaml"
    template, errors = decode(str(path))
    if errors or template is None:
        raise TemplateError(f"{path}: {errors[0].message if errors else 'cannot be read'}")
    return template


def check_parameters(name: str, values: dict[str, str]) -> dict[str, str]:
    """The values CloudFormation will receive, completed with the template's defaults; raises on a missing,
    unknown or out-of-range value as CloudFormation would (naming the parameter and the rule)."""
    declared: dict[str, dict[str, Any]] = load(name).get("Parameters", {})
    unknown = sorted(set(values) - set(declared))
    if unknown:
        raise TemplateError(f"{name}.yaml has no parameter {', '.join(unknown)}")
    resolved: dict[str, str] = {}
    for key, spec in declared.items():
        if key in values:
            value = str(values[key])
        elif "Default" in spec:
            value = _as_text(spec["Default"])
        else:
            raise TemplateError(f"{name}.yaml: parameter {key} needs a value ({spec.get('Description', '')})")
        _check_value(name, key, spec, value)
        resolved[key] = value
    return resolved


def _as_text(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)


def _check_value(template: str, key: str, spec: dict[str, Any], value: str) -> None:
    where = f"{template}.yaml parameter {key}={value!r}"
    kind = str(spec.get("Type", "String"))
    items = value.split(",") if kind.startswith("List<") or kind == "CommaDelimitedList" else [value]
    for item in items:
        if kind == "Number":
            try:
                number = float(item)
            except ValueError:
                raise TemplateError(f"{where}: not a number") from None
            if "MinValue" in spec and number < float(spec["MinValue"]):
                raise TemplateError(f"{where}: below the minimum {spec['MinValue']}")
            if "MaxValue" in spec and number > float(spec["MaxValue"]):
                raise TemplateError(f"{where}: above the maximum {spec['MaxValue']}")
        allowed = spec.get("AllowedValues")
        if allowed is not None and item not in [str(a) for a in allowed]:
            raise TemplateError(f"{where}: choose one of {', '.join(map(str, allowed))}")
        pattern = spec.get("AllowedPattern")
        if pattern and not re.fullmatch(str(pattern), item):
            raise TemplateError(f"{where}: does not match {pattern}")


@dataclass
class Resolver:
    """Evaluates the intrinsic functions ``plan`` needs offline; unknown values render as ``<…>``."""

    parameters: dict[str, str]
    conditions: dict[str, Any] = field(default_factory=dict)
    region: str = "us-east-1"

    def condition(self, name: str) -> bool:
        return bool(self.value(self.conditions[name]))

    def value(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self.value(n) for n in node]
        if not isinstance(node, dict):
            return node
        if len(node) != 1:
            return {k: self.value(v) for k, v in node.items()}
        ((fn, arg),) = node.items()
        if fn == "Ref":
            return self._ref(str(arg))
        if fn == "Fn::Sub":
            text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
            return _SUB.sub(lambda m: str(extra.get(m.group(1)) or self._ref(m.group(1))), text)
        if fn == "Fn::Equals":
            return self.value(arg[0]) == self.value(arg[1])
        if fn == "Fn::Not":
            return not self.value(arg[0])
        if fn == "Fn::And":
            return all(self.value(a) for a in arg)
        if fn == "Fn::Or":
            return any(self.value(a) for a in arg)
        if fn == "Condition":
            return self.condition(str(arg))
        if fn == "Fn::If":
            return self.value(arg[1] if self.condition(arg[0]) else arg[2])
        if fn == "Fn::Select":
            items = self.value(arg[1])
            items = items.split(",") if isinstance(items, str) else items
            return items[int(self.value(arg[0]))]
        if fn == "Fn::GetAtt":
            target = arg if isinstance(arg, str) else ".".join(arg)
            return f"<{target}>"
        if fn.startswith("Fn::"):
            return f"<{fn[4:]}>"
        return {fn: self.value(arg)}

    def _ref(self, name: str) -> str:
        if name in self.parameters:
            return self.parameters[name]
        if name == "AWS::Region":
            return self.region
        if name in PSEUDO:
            return str(PSEUDO[name])
        if name.startswith("AWS::"):
            return f"<{name[5:]}>"
        return f"<{name}>"  # another resource's physical id: known once it exists


@dataclass(frozen=True)
class ResourceSummary:
    logical_id: str
    type: str
    name: str  # physical name, or "(generated)"
    settings: dict[str, Any]


def summarise(name: str, parameters: dict[str, str], region: str) -> list[ResourceSummary]:
    """The resources ``templates/<name>.yaml`` creates with these parameters (conditions applied)."""
    template = load(name)
    resolver = Resolver(parameters, template.get("Conditions", {}), region)
    out = []
    for logical_id, resource in template.get("Resources", {}).items():
        if "Condition" in resource and not resolver.condition(resource["Condition"]):
            continue
        kind = str(resource["Type"])
        props = resource.get("Properties", {})
        physical = props.get(NAME_PROPERTY.get(kind, ""), None)
        settings = {}
        for path in COST_PROPERTIES.get(kind, ()):
            node: Any = props
            for part in path.split("."):
                node = node.get(part) if isinstance(node, dict) else None
            if node is not None:
                settings[path.rsplit(".", 1)[-1]] = resolver.value(node)
        out.append(
            ResourceSummary(
                logical_id,
                kind,
                str(resolver.value(physical)) if physical is not None else "(generated)",
                settings,
            )
        )
    return out
