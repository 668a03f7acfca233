"""The `stockroom` console script.

Each command imports what it needs when it runs, so `--help` and usage errors stay quick.
"""

from __future__ import annotations

import atexit
import functools
import gc
import logging
import os
import sys
from typing import Annotated, Any

import typer

from interfaces.cli import db, events, items, keys, webhooks
from interfaces.cli.failures import closed_pipe
from interfaces.cli.serve import serve
from interfaces.failures import OutputFailed, checked_stdout, say

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
app.add_typer(events.app, name="events")
app.add_typer(webhooks.app, name="webhooks")


def _quiet_on_closed_pipe(command: Any) -> None:
    """Wrap every command so that a reader going away ends it with `closed_pipe()` (inside click,
    which would turn the error into status 1)."""
    for sub in getattr(command, "commands", {}).values():
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
    """The console script: run the command, exit with its status (see _end_without_teardown)."""
    status: list[int] = []
    atexit.register(_end_without_teardown, status)
    # Collecting while modules load frees nothing; run_with_container turns it back on.
    gc.disable()
    with checked_stdout():
        status.append(_status_of_command())
    sys.exit(status[0])


def _status_of_command() -> int:
    command = typer.main.get_command(app)
    _quiet_on_closed_pipe(command)
    try:
        status = command.main(prog_name="stockroom", standalone_mode=False)
    except typer.TyperException as error:  # click's usage errors
        _report_usage_error(error)
        return error.exit_code
    except typer.Abort:
        say("aborted")
        return 1
    except OutputFailed as error:  # raised outside a command too: `--help`, `--version`
        say(f"error: {error}")
        return 1
    return status if isinstance(status, int) else 0


def _end_without_teardown(status: list[int]) -> None:
    """End the process with the command's status, skipping the interpreter's teardown, which
    frees every module one at a time for nobody. Registered first, it runs after every other
    exit handler (the embedded server's last owner stops it)."""
    if not status:
        return
    logging.shutdown()
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:  # None: the descriptor was closed when the process started
                stream.flush()
    except (OSError, ValueError):
        return
    os._exit(status[0])
