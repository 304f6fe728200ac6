"""`bdml deploy aws plan | apply | destroy`: the stacks of ``deploy/aws/templates`` from the settings
(``BDML_PROFILE=aws``, ``BDML_S3__*``, ``BDML_DEPLOY__*``)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from services.settings import get_settings

from . import artifacts as build
from .costs import USAGE, price_source, usage_prices
from .preflight import PreflightError, has_credentials
from .promote import StackPlan, apply, destroy, plan
from .stacks import SELECTIONS, ArtifactKeys, StackKey, selection

app = typer.Typer(help="Promote the pipelines to AWS with CloudFormation.", no_args_is_help=True)
console = Console(stderr=True)
out = Console(width=None if Console().is_terminal else 140)

StackOpt = Annotated[
    str, typer.Option("--stack", help=f"Which stacks: {' | '.join(SELECTIONS)} (core also brings artifacts).")
]


def _keys(name: str) -> tuple[StackKey, ...]:
    try:
        return selection(name)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--stack") from None


def _print_plan(plans: list[StackPlan]) -> None:
    total_hour = total_month = 0.0
    used: set[str] = set()
    for p in plans:
        table = Table(title=f"{p.name} ({p.key}.yaml)", title_justify="left", show_lines=False)
        for column in ("resource", "type", "name", "costs money by", "$/hour", "$/month"):
            table.add_column(column, justify="right" if column.startswith("$") else "left")
        for resource, cost in p.resources:
            used.update(n for n in [USAGE.get(resource.type)] if n)
            settings = ", ".join(f"{k}={v}" for k, v in resource.settings.items())
            table.add_row(
                resource.logical_id,
                resource.type.removeprefix("AWS::"),
                resource.name,
                cost.note if not settings else f"{settings}; {cost.note}".strip("; "),
                f"{cost.per_hour:.3f}" if cost.fixed else "",
                f"{cost.per_month:.2f}" if cost.fixed else "",
            )
        table.add_section()
        table.add_row(
            "total",
            "",
            "",
            "standing charges while the stack exists",
            f"{p.per_hour:.3f}",
            f"{p.per_month:.2f}",
        )
        out.print(table)
        for line in p.lint:
            out.print(f"  [yellow]cfn-lint[/] {line}")
        for line in p.pending:
            out.print(f"  [yellow]before apply[/]: {line}")
        if p.changes is not None:
            summary = ", ".join(f"{c.verb} {c.logical_id}" for c in p.changes) or "no changes"
            out.print(f"  change set: {summary}")
        total_hour += p.per_hour
        total_month += p.per_month
    out.print("billed by use: " + "; ".join(usage_prices(used)))
    out.print(
        f"[bold]all selected stacks: ${total_hour:.3f}/hour, ${total_month:.2f}/month[/] (standing charges; "
        f"requests, GB and training jobs are billed by use) — {price_source()}; no AWS price API is "
        "reachable offline, so check the table's sources before relying on it."
    )


@app.command("plan")
def plan_command(
    stack: StackOpt = "all",
    offline: Annotated[bool, typer.Option(help="Never call AWS, even with credentials.")] = False,
) -> None:
    """Every resource of the selected stacks, with its cost; with credentials also the change sets."""
    settings = get_settings()
    keys = _keys(stack)
    changes = not offline and has_credentials(settings)
    artifact_keys = ArtifactKeys()
    if changes:
        artifact_keys = build.lambda_keys(settings)
    else:
        console.print("no AWS credentials (or --offline): rendering and pricing only, no change sets")
    _print_plan(plan(settings, keys, artifact_keys, changes=changes))


@app.command("apply")
def apply_command(stack: StackOpt = "all") -> None:
    """Upload the artifacts and create or update the selected stacks; record their outputs."""
    settings = get_settings()
    keys = _keys(stack)
    outputs = apply(settings, keys, console.print)
    for key in keys:
        for name, value in outputs.get(key, {}).items():
            out.print(f"{key}.{name} = {value}")


@app.command("destroy")
def destroy_command(
    stack: StackOpt = "all",
    yes: Annotated[
        bool, typer.Option("--yes", help="Really delete (stacks and the buckets they made).")
    ] = False,
) -> None:
    """Delete the selected stacks in reverse order; empties only the buckets the stacks created."""
    settings = get_settings()
    keys = _keys(stack)
    if not yes:
        console.print("[red]✗[/] destroy deletes the stacks and empties the buckets they created: pass --yes")
        raise typer.Exit(2)
    for line in destroy(settings, keys, yes, console.print):
        out.print(line)


@app.command("train")
def train_command(
    steps: Annotated[
        int, typer.Option(help="L-BFGS iterations of the head (ml/train.py --steps).", min=1)
    ] = 200,
) -> None:
    """Run ml/train.py as a SageMaker training job (GPU by default); then `apply --stack ml` serves it."""
    from .promote import recorded_outputs
    from .training import start

    settings = get_settings()
    ml = recorded_outputs(settings).get("ml", {})
    if not ml.get("SageMakerRoleArn") or not ml.get("TrainingSourceKey"):
        raise PreflightError("the ml stack is not deployed: run `bdml deploy aws apply --stack ml` first")
    start(settings, ml["SageMakerRoleArn"], ml["TrainingSourceKey"], {"steps": steps}, console.print)
