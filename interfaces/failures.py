"""Expected failures of a command or a script: the one line each is reported with, and the quiet
end when the reader of stdout has gone. Anything else is a bug, and keeps its traceback.

The exception classes are imported when a failure is classified, not when this module loads: a
command's `--help` and usage errors must not pay for SQLAlchemy, asyncpg or the settings.
"""

from __future__ import annotations

import os
import sys
from typing import Final

from interfaces.terminal import plain

#: The status of a command whose reader went away (`... | head`): what a shell reports for a
#: Unix tool ended by SIGPIPE (128 + 13), without dying of the signal so cleanup still runs.
CLOSED_PIPE: Final = 141


def say(message: str) -> None:
    """One line on stderr, control characters neutralised."""
    sys.stderr.write(plain(message) + "\n")
    sys.stderr.flush()


def failure_message(exc: BaseException) -> str | None:
    """The line an expected failure is reported with; None for anything else."""
    from application.errors import ApplicationError, DataStoreUnavailable  # noqa: PLC0415
    from domain.errors import DomainError  # noqa: PLC0415
    from infrastructure.db.embedded import EmbeddedDatabaseError  # noqa: PLC0415
    from infrastructure.db.errors import is_unavailable  # noqa: PLC0415
    from infrastructure.db.migrator import MigrationError  # noqa: PLC0415
    from interfaces.configuration import ConfigurationError  # noqa: PLC0415

    if isinstance(exc, DataStoreUnavailable):
        cause = exc.__cause__
        if isinstance(cause, OSError):  # refused, unreachable, DNS, connect timeout
            return f"cannot reach the database ({type(cause).__name__})"
        return f"{exc} ({type(cause).__name__})" if cause is not None else str(exc)
    expected = (DomainError, ApplicationError, MigrationError, EmbeddedDatabaseError)
    if isinstance(exc, (*expected, ConfigurationError)):
        return str(exc)
    if isinstance(exc, Exception) and is_unavailable(exc):
        return f"cannot reach the database ({type(exc).__name__})"
    return None


def stop_writing_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's final flush cannot fail again."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
