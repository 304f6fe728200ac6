"""`bdml web`: the upload page and JSON API under gunicorn (bounded threads, timeouts), not Flask's
development server."""

from __future__ import annotations

from typing import Annotated

import typer

from services.errors import check_port_free
from services.stack.cli import needs_stack
from services.wsgi import LOOPBACK, serve
from webapp.app import _api_url, create_app

app = typer.Typer(help="The penguin web app.")


@needs_stack("ministack")
def web(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 5000,
    api_url: Annotated[
        str | None, typer.Option(help="Classify API URL (default: from deploy-local).")
    ] = None,
) -> None:
    """Serve the upload page and JSON API (needs `bdml ml deploy-local` first, or --api-url)."""
    check_port_free(host, port)
    flask_app = create_app({"API_URL": api_url} if api_url else None)
    configured = _api_url(flask_app) is not None
    if host not in LOOPBACK:
        typer.echo(
            f"warning: listening on {host}: anyone who can reach this machine can upload images and spend "
            "the classifier's quota; put it behind TLS and authentication before exposing it",
            err=True,
        )
    typer.echo(
        f"web app on http://{host}:{port}/ → classify API "
        f"{'configured' if configured else '(none yet: run bdml ml deploy-local)'}"
    )
    serve(flask_app, host, port, name="bdml-web")


app.command()(web)
