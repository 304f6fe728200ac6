"""`python -m ml …` — the same commands as `bdml ml …`."""

from ml.cli import app

app(prog_name="bdml ml")
