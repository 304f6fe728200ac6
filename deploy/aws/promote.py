"""``plan``, ``apply`` and ``destroy`` over the stacks of ``stacks.py``.

- plan: offline, renders every selected template from the settings, checks the parameter values as
  CloudFormation would, lints the templates (cfn-lint) and prices each resource from ``prices.toml``;
  with credentials it also creates a change set per stack and lists its changes, then deletes it.
- apply: preflight (credentials, region, names), uploads the artifacts, executes one change set per stack
  in order with its events as progress, and records the outputs where the profile reads them.
- destroy: only with ``yes``; empties the buckets its stacks created (and no other), deletes the stacks
  in reverse order and waits."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from services.aws import client
from services.objectstore import S3Uri
from services.settings import Settings, deployed_overlay_file

from . import artifacts as build
from . import cloudformation as cfn_ops
from .buckets import empty_bucket
from .costs import Cost, estimate
from .emr import hql_root, upload_hql
from .preflight import PreflightError, check_account, check_settings, missing_settings
from .render import TEMPLATES, ResourceSummary, check_parameters, summarise
from .stacks import CAPABILITIES, ArtifactKeys, StackKey, artifacts_bucket, parameters, stack_name, tags

Say = Callable[[str], None]
# Stand-ins (documentation ranges) for the batch network settings, so `plan` prices batch before they exist.
_UNSET_NETWORK = {
    "VpcId": "vpc-00000000",
    "SubnetIds": "subnet-0000000a,subnet-0000000b",
    "AllowedCidr": "192.0.2.1/32",
}


@dataclass
class StackPlan:
    key: StackKey
    name: str
    parameters: dict[str, str]
    resources: list[tuple[ResourceSummary, Cost]]
    lint: list[str]
    pending: list[str] = field(default_factory=list)  # settings to give before apply
    changes: list[cfn_ops.Change] | None = None  # None: not asked (offline)

    @property
    def per_hour(self) -> float:
        return sum(cost.per_hour for _, cost in self.resources)

    @property
    def per_month(self) -> float:
        return sum(cost.per_month for _, cost in self.resources)


def _prefixed(say: Say, name: str) -> Say:
    return lambda line: say(f"  {name} {line}")


def lint(key: StackKey, region: str) -> list[str]:
    """cfn-lint findings for one template (errors and warnings), one line each."""
    from cfnlint.api import ManualArgs, lint_file  # imported on use: cfn-lint takes a second to load

    matches = lint_file(TEMPLATES / f"{key}.yaml", config=ManualArgs(regions=[region]))
    return [f"{m.rule.id} {m.message} ({m.filename}:{m.linenumber})" for m in matches]


def _template_body(key: StackKey) -> str:
    return (TEMPLATES / f"{key}.yaml").read_text()


def recorded_outputs(settings: Settings) -> dict[str, dict[str, str]]:
    path = deployed_overlay_file(settings.profile.value)
    if not path.is_file():
        return {}
    stacks: dict[str, dict[str, str]] = json.loads(path.read_text()).get("outputs", {})
    return stacks


def plan(
    settings: Settings,
    keys: tuple[StackKey, ...],
    artifacts: ArtifactKeys | None = None,
    changes: bool = False,
) -> list[StackPlan]:
    """The plan of each selected stack; ``changes`` also asks CloudFormation (needs credentials)."""
    check_settings(settings, ())
    recorded = recorded_outputs(settings)
    cfn = client("cloudformation", settings) if changes else None
    plans = []
    for key in keys:
        values = parameters(key, settings, artifacts or ArtifactKeys(), recorded)
        pending = missing_settings(key, settings)
        # Render what is not set yet with documentation values, and say so (pending), instead of failing.
        values.update({k: v for k, v in _UNSET_NETWORK.items() if k in values and not values[k]})
        if key == "ml" and not values["ModelDataKey"]:  # price the endpoint a trained model will get
            values["ModelDataKey"] = "ml/model/model-(uploaded-by-apply).tar.gz"
        resolved = check_parameters(key, values)
        priced = [(r, estimate(r)) for r in summarise(key, resolved, settings.aws.region)]
        stack_plan = StackPlan(
            key, stack_name(settings, key), resolved, priced, lint(key, settings.aws.region), pending
        )
        if cfn is not None and not pending:
            change_set, stack_plan.changes = cfn_ops.create_change_set(
                cfn, stack_plan.name, _template_body(key), resolved, tags(settings, key), CAPABILITIES
            )
            if change_set:
                cfn_ops.delete_change_set(cfn, stack_plan.name, change_set)
        plans.append(stack_plan)
    return plans


def apply(settings: Settings, keys: tuple[StackKey, ...], say: Say) -> dict[str, dict[str, str]]:
    """Deploy the selected stacks in order; returns (and records) every stack's outputs."""
    check_settings(settings, keys)
    identity = check_account(settings)
    say(f"account {identity.get('Account')} in {settings.aws.region}")
    cfn = client("cloudformation", settings)
    s3 = client("s3", settings)
    outputs = recorded_outputs(settings)
    keys_built = ArtifactKeys()
    for key in keys:
        name = stack_name(settings, key)
        if key == "core":
            keys_built = build.upload_lambdas(s3, artifacts_bucket(settings), settings, say)
        elif key == "batch":
            say(f"uploaded {len(upload_hql(settings))} HQL files to {hql_root(settings)}")
        values = parameters(key, settings, keys_built, outputs)
        source_key = ""
        if key == "ml":
            source_key, values["ModelDataKey"] = _upload_ml(settings, s3, say)
        values = check_parameters(key, values)
        change_set, changes = cfn_ops.create_change_set(
            cfn, name, _template_body(key), values, tags(settings, key), CAPABILITIES
        )
        if change_set is None:
            say(f"{name}: no changes")
        else:
            say(f"{name}: " + ", ".join(f"{c.verb} {c.logical_id}" for c in changes))
            status = cfn_ops.execute(cfn, name, change_set, _prefixed(say, name))
            say(f"{name}: {status}")
        outputs[key] = cfn_ops.outputs(cfn, name)
        if key == "ml":  # where `deploy aws train` finds the script-mode source it uploaded
            outputs[key]["TrainingSourceKey"] = source_key
        record(settings, outputs)
    return outputs


def _upload_ml(settings: Settings, s3: Any, say: Say) -> tuple[str, str]:
    """Upload the training source and the newest trained model (with its inference code); their keys,
    the model's "" when nothing is trained yet (the stack then holds the roles only)."""
    bucket = artifacts_bucket(settings)
    source, source_key = build.training_source()
    build.put(s3, bucket, source_key, source, say)
    if settings.deploy.model_data_key:
        return source_key, settings.deploy.model_data_key
    pointer = S3Uri(settings.s3.processed_bucket, "ml/training/latest.json")
    try:
        latest = json.loads(s3.get_object(Bucket=pointer.bucket, Key=pointer.key)["Body"].read())
    except (s3.exceptions.NoSuchKey, s3.exceptions.NoSuchBucket):
        say("no trained model yet: the ml stack gets its roles only (train, then apply --stack ml again)")
        return source_key, ""
    trained = S3Uri.parse(latest["model_artifact"])
    model, model_key = build.inference_model(
        s3.get_object(Bucket=trained.bucket, Key=trained.key)["Body"].read()
    )
    return source_key, build.put(s3, bucket, model_key, model, say)


def record(settings: Settings, outputs: dict[str, dict[str, str]]) -> Path:
    """Write the stacks' outputs where the profile's settings read them (``deployed_overlay_file``): the
    pipelines then find the stream, delivery streams, roles and endpoints without names typed by hand."""
    core, batch = outputs.get("core", {}), outputs.get("batch", {})
    overlay: dict[str, Any] = {"outputs": outputs}
    if core:
        overlay["stream"] = {
            "app": settings.deploy.prefix,
            "delivery": "firehose",
            "provisioned": True,
            "analytics": "lambda",
            "lambda_role_arn": core["FirehoseRoleArn"],
        }
    if core.get("ApiId"):  # the web app sends uploads to the deployed API, with its key (kept server-side)
        from ml.endpoint.deploy import api_url  # imported on use: it loads the model server's modules

        key = client("apigateway", settings).get_api_key(apiKey=core["ApiKeyId"], includeValue=True)
        overlay["web"] = {
            "api_url": api_url(settings, core["ApiId"], core["ApiStage"]),
            "api_key": key["value"],
        }
    if batch.get("MySqlEndpoint"):  # the databases: addresses here, passwords stay in Secrets Manager
        ca = settings.deploy.rds_ca_bundle
        query = f"?ssl_ca={quote(str(ca), safe='/')}" if ca else ""
        overlay["mysql"] = {
            "dsn": f"mysql://bdml_admin@{batch['MySqlEndpoint']}:{batch['MySqlPort']}/bdml{query}",
            "password_secret": batch.get("MySqlSecretArn"),
        }
    if batch.get("RedshiftCopyRoleArn"):
        overlay["redshift"] = {"iam_role": batch["RedshiftCopyRoleArn"], "loader": "copy_s3"}
        if batch.get("RedshiftEndpoint"):
            port = batch.get("RedshiftPort", "5439")
            overlay["redshift"] |= {
                "dsn": f"postgresql://bdml_admin@{batch['RedshiftEndpoint']}:{port}/dev",
                "password_secret": batch.get("RedshiftSecretArn"),
            }
    path = deployed_overlay_file(settings.profile.value)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(overlay, indent=2) + "\n")
    os.chmod(path, 0o600)
    return path


def destroy(settings: Settings, keys: tuple[StackKey, ...], yes: bool, say: Say) -> list[str]:
    """Delete the selected stacks, last first. Without ``yes`` nothing happens."""
    if not yes:
        raise PreflightError("destroy deletes the stacks and empties their buckets: pass --yes to do it")
    check_settings(settings, ())
    check_account(settings)
    cfn = client("cloudformation", settings)
    s3 = client("s3", settings)
    done: list[str] = []
    outputs = recorded_outputs(settings)
    for key in reversed(keys):
        name = stack_name(settings, key)
        if cfn_ops.stack_status(cfn, name) is None:
            done.append(f"{name}: absent")
            outputs.pop(key, None)
            continue
        buckets = cfn_ops.physical_resources(cfn, name, "AWS::S3::Bucket")
        for bucket in buckets:  # only what this stack created; retained data buckets are deleted after
            say(f"emptying s3://{bucket} ({empty_bucket(s3, bucket)} object versions)")
        cfn_ops.delete(cfn, name, _prefixed(say, name))
        for bucket in buckets:
            with contextlib.suppress(s3.exceptions.NoSuchBucket):  # gone with its stack already
                s3.delete_bucket(Bucket=bucket)
        done.append(f"{name}: deleted" + (f" with {', '.join(buckets)}" if buckets else ""))
        outputs.pop(key, None)
        record(settings, outputs)
    return done
