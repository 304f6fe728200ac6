"""`python -m webapp` — the same as `bdml web`."""

from webapp.cli import app

app(prog_name="bdml web")
