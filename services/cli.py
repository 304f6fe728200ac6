"""`bdml`: one CLI in front of every pipeline and the embedded stack."""

from __future__ import annotations

import logging
import os

import typer

from deploy.aws.cli import app as aws_app
from hive.cli import app as batch_app
from ml.cli import app as ml_app
from services.stack import cli as stack_cli
from services.streaming.cli import app as stream_app
from webapp.cli import web as web_command

app = typer.Typer(
    help="bdml — Big Data & ML pipelines, local first (profile: BDML_PROFILE=embedded|compose|aws).",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
stack_cli.register(app)
app.add_typer(batch_app, name="batch")
app.add_typer(stream_app, name="stream")
app.add_typer(ml_app, name="ml")
app.command("web")(web_command)
deploy_app = typer.Typer(help="Promote the pipelines to a cloud (today: AWS).", no_args_is_help=True)
deploy_app.add_typer(aws_app, name="aws")
app.add_typer(deploy_app, name="deploy")


@app.command()
def demo() -> None:
    """Run every pipeline on small data against the active profile (embedded by default)."""
    from hive.cli import run as batch_run
    from ml.cli import run as ml_run
    from services.streaming.cli import run as stream_run
    from webapp.demo import demo_upload

    batch_run(acquisitions=20_000, performance=200_000)
    stream_run(records=2_000)
    ml_run()
    typer.echo(f"web app answered a real upload: {demo_upload()}")


def main() -> None:
    logging.basicConfig(
        level=os.environ.get("BDML_LOG_LEVEL", "WARNING"), format="%(levelname)s %(name)s: %(message)s"
    )
    app()
