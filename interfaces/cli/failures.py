"""Expected failures of a command: one line on stderr and exit status 1, never a traceback.

The exception classes are imported when a command runs, not when this module loads: `--help` and
usage errors must not pay for SQLAlchemy, asyncpg or the settings.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

import typer

from interfaces.cli.terminal import plain

#: The status of a command whose reader went away (`... | head`): what a shell reports for a
#: Unix tool ended by SIGPIPE (128 + 13), without dying of the signal so cleanup still runs.
CLOSED_PIPE: Final = 141


def say(message: str) -> None:
    """One line on stderr, control characters and markup neutralised."""
    sys.stderr.write(plain(message) + "\n")
    sys.stderr.flush()


def fail(message: str, code: int = 1) -> typer.Exit:
    say(f"error: {message}")
    return typer.Exit(code)


def closed_pipe() -> typer.Exit:
    """Stop quietly: the reader has gone (`... --json | head`), as any filter would.

    stdout is pointed at /dev/null so that the interpreter's final flush cannot fail again.
    """
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return typer.Exit(CLOSED_PIPE)


@contextmanager
def reported_failures() -> Iterator[None]:
    from application.errors import ApplicationError  # noqa: PLC0415  (see the module's docstring)
    from domain.errors import DomainError  # noqa: PLC0415
    from infrastructure.db.embedded import EmbeddedDatabaseError  # noqa: PLC0415
    from infrastructure.db.errors import is_unavailable  # noqa: PLC0415
    from infrastructure.db.migrator import MigrationError  # noqa: PLC0415

    try:
        yield
    except (DomainError, ApplicationError, MigrationError, EmbeddedDatabaseError) as exc:
        raise fail(str(exc)) from None
    except BrokenPipeError:
        raise closed_pipe() from None
    except Exception as exc:
        if is_unavailable(exc):
            raise fail(f"cannot reach the database ({type(exc).__name__})") from None
        raise
