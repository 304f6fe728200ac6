"""`bdml`: one CLI in front of every pipeline and the embedded stack."""

from __future__ import annotations

import logging
import os
from typing import Any

import typer
from typer.core import TyperGroup

from deploy.aws.cli import app as aws_app
from deploy.aws.cloudformation import StackError as CloudFormationError
from deploy.aws.preflight import PreflightError
from deploy.aws.render import TemplateError
from hive.cli import app as batch_app
from ml.cli import app as ml_app
from ml.dataset.fetch import FetchError
from ml.prepare.lst import LstError
from producers.freddie.layouts import UnknownLayoutError
from producers.freddie.source import SourceError as FreddieSourceError
from producers.stream.source import SourceError as StreamSourceError
from services.clean import clean as clean_command
from services.errors import RUNTIME, USAGE, Known, handled
from services.hql.base import HqlError
from services.hql.hiveserver2_engine import HiveServer2Unavailable
from services.lambda_package import DeployError
from services.reconcile import ReconciliationError
from services.runs_cli import runs as runs_command
from services.stack import cli as stack_cli
from services.stack.common import StackError
from services.warehouse.schema import LoadError
from streaming.cli import app as stream_app
from streaming.delivery.prefix import PrefixError
from streaming.streams import StreamError
from webapp.api_client import ApiError
from webapp.cli import web as web_command

# The project's errors carry messages written for a person; this says which are the user's to fix (exit 2)
# and which failed around them (exit 1). services.errors words library exceptions and everything else.
PROJECT_ERRORS: Known = {
    FreddieSourceError: USAGE,
    UnknownLayoutError: USAGE,
    PrefixError: USAGE,
    TemplateError: USAGE,
    LstError: USAGE,
    ReconciliationError: RUNTIME,
    HqlError: RUNTIME,
    HiveServer2Unavailable: RUNTIME,
    LoadError: RUNTIME,
    StackError: RUNTIME,
    StreamError: RUNTIME,
    StreamSourceError: RUNTIME,
    DeployError: RUNTIME,
    CloudFormationError: RUNTIME,
    PreflightError: RUNTIME,
    FetchError: RUNTIME,
    ApiError: RUNTIME,
}


class _Bdml(TyperGroup):
    """The root command: whatever a command raises goes through ``services.errors`` (here rather than
    around ``app()``, so that tests invoking the app see what a person sees)."""

    def invoke(self, ctx: Any) -> Any:  # a click Context (typer keeps its own copy of click)
        with handled(PROJECT_ERRORS):
            return super().invoke(ctx)


app = typer.Typer(
    cls=_Bdml,
    help="bdml — Big Data & ML pipelines, local first (profile: BDML_PROFILE=embedded|compose|aws). "
    "Failures print what to fix in a line or two; set BDML_DEBUG=1 to see the traceback as well.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
stack_cli.register(app)
app.add_typer(batch_app, name="batch")
app.add_typer(stream_app, name="stream")
app.add_typer(ml_app, name="ml")
app.command("web")(web_command)
app.command("runs")(runs_command)
app.command("clean")(clean_command)
deploy_app = typer.Typer(help="Promote the pipelines to a cloud (today: AWS).", no_args_is_help=True)
deploy_app.add_typer(aws_app, name="aws")
app.add_typer(deploy_app, name="deploy")


@app.command()
def demo() -> None:
    """Run every pipeline on small data against the active profile (embedded by default)."""
    from hive.cli import run as batch_run
    from ml.cli import run as ml_run
    from streaming.cli import run as stream_run
    from webapp.demo import demo_upload

    batch_run(acquisitions=20_000, performance=200_000)
    stream_run(records=2_000)
    ml_run()
    answer = demo_upload()
    scores = ", ".join(f"{k} {v}" for k, v in answer.items() if k not in ("image", "label"))
    typer.echo(f"web app answered a real upload: {answer['image']} → {answer['label']} ({scores})")


def main() -> None:
    logging.basicConfig(
        level=os.environ.get("BDML_LOG_LEVEL", "WARNING"), format="%(levelname)s %(name)s: %(message)s"
    )
    app()
