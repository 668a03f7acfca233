"""The `stockroom` console script.

Loading it is cheap: each command imports what it needs when it runs, so `--help` and usage
errors never load SQLAlchemy, FastAPI, the settings or the container (a test checks this).

Usage errors exit 2: on a terminal in typer's box, otherwise as one `error: ...` line. A closed
stdout (`... | head`) ends a command quietly with status 141, as it ends other Unix tools.
"""

from __future__ import annotations

import functools
import sys
from typing import Annotated, Any

import typer

from interfaces.cli import db, items, keys
from interfaces.cli.failures import closed_pipe
from interfaces.cli.serve import serve
from interfaces.failures import say

app = typer.Typer(
    name="stockroom",
    help="Stockroom: an async item catalog.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _print_version(wanted: bool) -> None:
    if wanted:
        from importlib.metadata import version  # noqa: PLC0415  (slow to import; rarely asked)

        typer.echo(f"stockroom {version('stockroom')}")
        raise typer.Exit


@app.callback()
def _options(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    pass


app.command()(serve)
app.add_typer(db.app, name="db")
app.add_typer(keys.app, name="keys")
app.add_typer(items.app, name="items")


def _quiet_on_closed_pipe(command: Any) -> None:
    """Wrap every command so that a reader going away ends it with `closed_pipe()`.

    Done around each command, inside click: click itself would turn the error into status 1.
    Output still buffered is flushed there too, so the interpreter's exit cannot hit it.
    """
    for sub in getattr(command, "commands", {}).values():  # a group's commands
        _quiet_on_closed_pipe(sub)
    callback = command.callback
    if callback is None:
        return

    @functools.wraps(callback)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            result = callback(*args, **kwargs)
            sys.stdout.flush()
        except BrokenPipeError:
            raise closed_pipe() from None
        return result

    command.callback = guarded


def _report_usage_error(error: typer.TyperException) -> None:
    if type(error).__name__ == "NoArgsIsHelpError":
        return  # the help it stands for has been printed
    if sys.stderr.isatty():
        from typer import rich_utils  # noqa: PLC0415  (only on a terminal)

        rich_utils.rich_format_error(error)  # type: ignore[arg-type]  # the error it is given
        return
    message = " ".join(error.format_message().split())
    context = getattr(error, "ctx", None)
    hint = f" (see '{context.command_path} --help')" if context is not None else ""
    say(f"error: {message}{hint}")


def run() -> None:
    command = typer.main.get_command(app)
    _quiet_on_closed_pipe(command)
    try:
        status = command.main(prog_name="stockroom", standalone_mode=False)
    except typer.TyperException as error:  # click's usage errors
        _report_usage_error(error)
        sys.exit(error.exit_code)
    except typer.Abort:
        say("aborted")
        sys.exit(1)
    sys.exit(status if isinstance(status, int) else 0)
