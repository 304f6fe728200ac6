"""`bdml web`: start the Flask app (threaded development server; it is a local demo front end)."""

from __future__ import annotations

from typing import Annotated

import typer

from webapp.app import create_app

app = typer.Typer(help="The penguin web app.")


def web(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 5000,
    api_url: Annotated[
        str | None, typer.Option(help="Classify API URL (default: from deploy-local).")
    ] = None,
) -> None:
    """Serve the upload page and JSON API (needs `bdml ml deploy-local` first, or --api-url)."""
    flask_app = create_app({"API_URL": api_url} if api_url else None)
    with flask_app.app_context():
        from webapp.app import _api_url

        url = _api_url(flask_app)
    typer.echo(
        f"web app on http://{host}:{port}/ → classify API {url or '(none yet: run bdml ml deploy-local)'}"
    )
    flask_app.run(host=host, port=port, threaded=True)


app.command()(web)
