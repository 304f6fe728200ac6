"""Stacks through CloudFormation change sets: create a change set, show it, execute it, follow the stack's
events until it settles; delete in reverse order. Every call goes through ``services.aws.client``, so the
same code runs against AWS or an emulator."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError, WaiterError

# Stack states a deploy can start from without a human looking first.
_ROLLED_BACK_EMPTY = "ROLLBACK_COMPLETE"  # a failed create leaves this; it can only be deleted
_SETTLED = ("_COMPLETE", "_FAILED")
_CHANGE_SET_WAIT = {"Delay": 2, "MaxAttempts": 300}


class StackError(RuntimeError):
    """CloudFormation refused or rolled back; the message carries its reasons."""


@dataclass(frozen=True)
class Change:
    action: str  # Add | Modify | Remove | Import | Dynamic
    logical_id: str
    type: str
    replacement: str  # True | False | Conditional | "" (for Add/Remove)

    @property
    def verb(self) -> str:
        if self.action == "Modify" and self.replacement in ("True", "Conditional"):
            return "replace" if self.replacement == "True" else "replace?"
        return {"Add": "add", "Modify": "modify", "Remove": "remove"}.get(self.action, self.action.lower())


def stack_status(cfn: Any, name: str) -> str | None:
    """The stack's status, or None when it does not exist."""
    try:
        stacks = cfn.describe_stacks(StackName=name)["Stacks"]
    except ClientError as exc:
        if "does not exist" in str(exc):
            return None
        raise
    status = str(stacks[0]["StackStatus"]) if stacks else None
    return None if status == "DELETE_COMPLETE" else status


def create_change_set(
    cfn: Any,
    name: str,
    template_body: str,
    parameters: dict[str, str],
    tags: list[dict[str, str]],
    capabilities: list[str],
) -> tuple[str | None, list[Change]]:
    """A change set for the stack (CREATE when it does not exist yet); returns (its id, the changes), or
    (None, []) when the stack already matches."""
    status = stack_status(cfn, name)
    if status == _ROLLED_BACK_EMPTY:  # a create that failed earlier: nothing in it to keep
        cfn.delete_stack(StackName=name)
        cfn.get_waiter("stack_delete_complete").wait(StackName=name, WaiterConfig=_CHANGE_SET_WAIT)
        status = None
    if status is not None and not status.endswith(_SETTLED):
        raise StackError(f"stack {name} is {status}: wait until it settles, then run this again")
    kind = "CREATE" if status in (None, "REVIEW_IN_PROGRESS") else "UPDATE"
    change_set = f"bdml-{time.strftime('%Y%m%d-%H%M%S')}"
    created = cfn.create_change_set(
        StackName=name,
        ChangeSetName=change_set,
        ChangeSetType=kind,
        TemplateBody=template_body,
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=capabilities,
        Tags=tags,
    )
    change_set_id = str(created["Id"])
    try:
        cfn.get_waiter("change_set_create_complete").wait(
            ChangeSetName=change_set_id, StackName=name, WaiterConfig=_CHANGE_SET_WAIT
        )
    except WaiterError:
        described = cfn.describe_change_set(ChangeSetName=change_set_id, StackName=name)
        reason = str(described.get("StatusReason", ""))
        if "didn't contain changes" in reason or "No updates" in reason:
            cfn.delete_change_set(ChangeSetName=change_set_id, StackName=name)
            return None, []
        raise StackError(f"stack {name}: the change set failed: {reason}") from None
    return change_set_id, describe_changes(cfn, name, change_set_id)


def describe_changes(cfn: Any, name: str, change_set_id: str) -> list[Change]:
    changes: list[Change] = []
    kwargs: dict[str, Any] = {"ChangeSetName": change_set_id, "StackName": name}
    while True:
        page = cfn.describe_change_set(**kwargs)
        for entry in page.get("Changes", []):
            rc = entry.get("ResourceChange", {})
            changes.append(
                Change(
                    str(rc.get("Action", "")),
                    str(rc.get("LogicalResourceId", "")),
                    str(rc.get("ResourceType", "")),
                    str(rc.get("Replacement", "") or ""),
                )
            )
        if not page.get("NextToken"):
            return changes
        kwargs["NextToken"] = page["NextToken"]


def delete_change_set(cfn: Any, name: str, change_set_id: str) -> None:
    cfn.delete_change_set(ChangeSetName=change_set_id, StackName=name)
    if stack_status(cfn, name) == "REVIEW_IN_PROGRESS":  # a CREATE change set leaves an empty stack
        cfn.delete_stack(StackName=name)


def execute(
    cfn: Any, name: str, change_set_id: str, on_event: Callable[[str], None], timeout_s: float = 3600
) -> str:
    """Execute the change set and follow the stack's events until it settles; the final status, or
    StackError with the reasons CloudFormation gave for what failed."""
    started = time.time() - 5  # the clocks of this machine and the service may differ a little
    cfn.execute_change_set(ChangeSetName=change_set_id, StackName=name)
    return follow(cfn, name, started, on_event, timeout_s)


def follow(
    cfn: Any, name: str, since: float, on_event: Callable[[str], None], timeout_s: float = 3600
) -> str:
    seen: set[str] = set()
    failures: list[str] = []
    deadline = time.monotonic() + timeout_s
    while True:
        for event in reversed(_events(cfn, name)):
            if event["EventId"] in seen or event["Timestamp"].timestamp() < since:
                continue
            seen.add(event["EventId"])
            status, reason = str(event.get("ResourceStatus", "")), str(event.get("ResourceStatusReason", ""))
            on_event(f"{event.get('LogicalResourceId')} ({event.get('ResourceType')}): {status}")
            if status.endswith("_FAILED") and reason and "cancelled" not in reason.lower():
                failures.append(f"{event.get('LogicalResourceId')}: {reason}")
        status_now = stack_status(cfn, name)
        if status_now is None:
            return "DELETE_COMPLETE"
        if status_now.endswith(_SETTLED) and not status_now.endswith("_IN_PROGRESS"):
            if "ROLLBACK" in status_now or status_now.endswith("_FAILED"):
                detail = "; ".join(failures[:3]) or "see the stack's events"
                raise StackError(f"stack {name} ended {status_now}: {detail}")
            return status_now
        if time.monotonic() > deadline:
            raise StackError(f"stack {name} still {status_now} after {timeout_s:.0f} s")
        time.sleep(2)


def _events(cfn: Any, name: str) -> list[dict[str, Any]]:
    try:
        return list(cfn.describe_stack_events(StackName=name).get("StackEvents", []))
    except ClientError as exc:
        if "does not exist" in str(exc):
            return []
        raise


def outputs(cfn: Any, name: str) -> dict[str, str]:
    stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
    return {str(o["OutputKey"]): str(o["OutputValue"]) for o in stack.get("Outputs", [])}


def physical_resources(cfn: Any, name: str, resource_type: str) -> list[str]:
    ids: list[str] = []
    for page in cfn.get_paginator("list_stack_resources").paginate(StackName=name):
        ids += [
            str(r["PhysicalResourceId"])
            for r in page["StackResourceSummaries"]
            if r["ResourceType"] == resource_type and r.get("PhysicalResourceId")
        ]
    return ids


def delete(cfn: Any, name: str, on_event: Callable[[str], None], timeout_s: float = 3600) -> str:
    since = time.time() - 5
    cfn.delete_stack(StackName=name)
    return follow(cfn, name, since, on_event, timeout_s)
