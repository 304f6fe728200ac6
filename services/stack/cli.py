"""`bdml up | down | status`: the embedded stack's commands, added to the root Typer app by ``register``."""

import functools
import json
import sys
from collections.abc import Callable
from typing import Annotated, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from services import stack
from services.console import make_console
from services.settings import Settings, get_settings
from services.stack.common import ComponentStatus, StackStatus

P = ParamSpec("P")
R = TypeVar("R")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print the status as JSON (StackStatus.as_dict()).")]

_STYLE = {"up": "green", "external": "cyan", "down": "yellow", "missing": "red", "error": "bold red"}


def render(status: StackStatus, console: Console) -> None:
    """The status as a table."""
    table = Table(show_lines=False)
    for column in ("component", "state", "endpoint", "pid", "by bdml"):
        table.add_column(column, no_wrap=True)
    table.add_column("detail", overflow="fold", ratio=1)
    for c in status.components:
        style = _STYLE.get(c.state, "")
        table.add_row(
            c.name,
            f"[{style}]{c.state}[/]" if style else c.state,
            c.endpoint,
            str(c.pid or ""),
            "yes" if c.managed_by_us else "",
            c.detail,
        )
    console.print(table)


def _problems(components: tuple[ComponentStatus, ...], verb: str, err: Console) -> None:
    for c in components:
        message = f"bdml {verb}: {c.name} is {c.state}: {c.detail}"
        err.print(message, markup=False, highlight=False, soft_wrap=True)


def _emit(status: StackStatus, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(status.as_dict(), indent=2))
    else:
        # Not a terminal (CI logs, pipes): rich would assume 80 columns; the details read better wider.
        render(status, Console(width=None if sys.stdout.isatty() else 140))


def register(app: typer.Typer, settings: Callable[[], Settings] = get_settings) -> None:
    """Add ``up``, ``down`` and ``status`` to ``app``. ``settings`` is called when a command runs."""
    err = Console(stderr=True)

    def progress(message: str) -> None:
        err.print(f"[dim]… {message}[/]", highlight=False, soft_wrap=True)

    @app.command("up")
    def up_command(as_json: JsonFlag = False) -> None:
        """Start the embedded stack (MiniStack, MariaDB, PostgreSQL); safe to run again."""
        result = stack.up(settings(), progress)
        _emit(result, as_json)
        failing = tuple(c for c in result.components if not c.healthy)
        if failing:
            _problems(failing, "up", err)
            raise typer.Exit(1)

    @app.command("down")
    def down_command(as_json: JsonFlag = False) -> None:
        """Stop what `bdml up` started; servers it did not start keep running. Exit 1 if a stop failed."""
        result = stack.down(settings(), progress)
        _emit(result, as_json)
        failing = tuple(c for c in result.components if c.state == "error" and c.managed_by_us)
        if failing:
            _problems(failing, "down", err)
            raise typer.Exit(1)

    @app.command("status")
    def status_command(as_json: JsonFlag = False) -> None:
        """Show each component's state, endpoint and pid; exit 1 when one is not up."""
        result = stack.status(settings())
        _emit(result, as_json)
        if not result.ok:
            raise typer.Exit(1)


def needs_stack(*components: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a pipeline command so that it first starts the parts of the local stack it uses (all
    when none are named) when they are down. It runs after the CLI has checked the command's arguments,
    so a bad value still starts nothing."""

    def decorate(command: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(command)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            err = make_console()
            stack.ensure_up(
                get_settings(),
                lambda message: err.print(f"… {message}", highlight=False),
                components or stack.ORDER,
            )
            return command(*args, **kwargs)

        return wrapper

    return decorate
