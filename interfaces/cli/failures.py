"""Expected failures of a command: one line on stderr and exit status 1 (as `typer.Exit`), never
a traceback; which failures are expected, and their lines, are interfaces/failures.py's."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer

from interfaces.configuration import ConfigurationError
from interfaces.failures import CLOSED_PIPE, failure_message, say, stop_writing_stdout


def fail(message: str, code: int = 1) -> typer.Exit:
    say(f"error: {message}")
    return typer.Exit(code)


def closed_pipe() -> typer.Exit:
    """Stop quietly: the reader has gone (`... --json | head`), as any filter would."""
    stop_writing_stdout()
    return typer.Exit(CLOSED_PIPE)


@contextmanager
def reported_failures() -> Iterator[None]:
    try:
        yield
    except BrokenPipeError:
        raise closed_pipe() from None
    except Exception as exc:
        message = failure_message(exc)
        if message is None:
            raise
        raise fail(message, code=2 if isinstance(exc, ConfigurationError) else 1) from None
