"""`bdml`: one CLI in front of every pipeline and the embedded stack."""

from __future__ import annotations

import logging
import os

import typer

from hive.cli import app as batch_app
from services.stack import cli as stack_cli

app = typer.Typer(
    help="bdml — Big Data & ML pipelines, local first (profile: BDML_PROFILE=embedded|compose|aws).",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
stack_cli.register(app)
app.add_typer(batch_app, name="batch")


@app.command()
def demo() -> None:
    """Run every pipeline on small data against the active profile (embedded by default)."""
    from hive.cli import run as batch_run

    batch_run(
        acquisitions=20_000,
        performance=200_000,
        layout="article",
        dirty_share=0.01,
        seed=7,
        from_dir=None,
        engine=None,
        report=None,
    )


def main() -> None:
    logging.basicConfig(
        level=os.environ.get("BDML_LOG_LEVEL", "WARNING"), format="%(levelname)s %(name)s: %(message)s"
    )
    app()
