"""Expected failures of a command or a script: the one line each is reported with, and the quiet
end when the reader of stdout has gone. Anything else is a bug, and keeps its traceback.

The exception classes are imported lazily: `--help` must not pay for SQLAlchemy or asyncpg.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Final

from interfaces.terminal import plain

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

#: What a shell reports for a tool ended by SIGPIPE, without dying of it so cleanup still runs.
CLOSED_PIPE: Final = 141


class OutputFailed(Exception):
    """Writing the output failed (not an OSError: that would be taken for a database outage)."""

    def __init__(self, error: OSError) -> None:
        super().__init__(f"cannot write the output: {error.strerror or error}")


class OutputFile(io.FileIO):
    """A command's output descriptor whose failed writes raise OutputFailed; it then points at
    /dev/null, so later flushes cannot fail again and bury the one line reported."""

    def write(self, data: ReadableBuffer, /) -> int:
        try:
            return super().write(data)
        except BrokenPipeError:
            raise
        except OSError as error:
            _stop_writing(self.fileno())
            raise OutputFailed(error) from error


@contextmanager
def checked_stdout() -> Iterator[None]:
    """Within: `sys.stdout` raises OutputFailed when its output cannot be written. A stdout closed
    at start fails with EBADF, as in other Unix tools; descriptor 1 stays held so nothing takes it.
    """
    previous = sys.stdout
    if previous is not sys.__stdout__:
        yield
        return
    like: dict[str, Any] = {}
    if isinstance(previous, io.TextIOWrapper):
        previous.flush()
        like = {
            "encoding": previous.encoding,
            "errors": previous.errors,
            "line_buffering": previous.line_buffering,
            "write_through": previous.write_through,
        }
    else:  # None: closed when the process started
        _hold_closed(1)
    sys.stdout = io.TextIOWrapper(io.BufferedWriter(OutputFile(1, "w", closefd=False)), **like)
    try:
        yield
    finally:
        sys.stdout = previous


def _hold_closed(descriptor: int) -> None:
    spare = os.open(os.devnull, os.O_RDONLY)  # writing to it fails with EBADF, as to a closed one
    if spare != descriptor:
        os.dup2(spare, descriptor)
        os.close(spare)


def say(message: str) -> None:
    """One line on stderr, control characters neutralised; dropped if stderr fails."""
    stream = sys.stderr
    if stream is None:  # closed when the process started
        return
    try:
        stream.write(plain(message) + "\n")
        stream.flush()
    except OSError:  # and the flushes at exit must not fail again: the interpreter would exit 120
        _stop_writing(stream.fileno())


def failure_message(exc: BaseException) -> str | None:
    """The line an expected failure is reported with; None for anything else."""
    if isinstance(exc, OutputFailed):
        return str(exc)

    from application.errors import (  # noqa: PLC0415
        ApplicationError,
        CommitOutcomeUnknown,
        DataStoreUnavailable,
    )
    from domain.errors import DomainError  # noqa: PLC0415
    from infrastructure.db.embedded import EmbeddedDatabaseError  # noqa: PLC0415
    from infrastructure.db.errors import is_unavailable  # noqa: PLC0415
    from infrastructure.db.migrator import MigrationError  # noqa: PLC0415
    from interfaces.configuration import ConfigurationError  # noqa: PLC0415

    if isinstance(exc, CommitOutcomeUnknown):
        return f"{exc}: it may or may not have been applied; check before running it again"
    if isinstance(exc, DataStoreUnavailable):
        return _unavailable_message(exc)
    expected = (DomainError, ApplicationError, MigrationError, EmbeddedDatabaseError)
    if isinstance(exc, (*expected, ConfigurationError)):
        return str(exc)
    if isinstance(exc, Exception) and is_unavailable(exc):
        return f"cannot reach the database ({type(exc).__name__})"
    return None


def _unavailable_message(exc: Exception) -> str:
    cause = exc.__cause__
    if isinstance(cause, OSError):  # refused, unreachable, DNS, connect timeout
        return f"cannot reach the database ({type(cause).__name__})"
    return f"{exc} ({type(cause).__name__})" if cause is not None else str(exc)


def stop_writing_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's final flush cannot fail again."""
    _stop_writing(sys.stdout.fileno())


def _stop_writing(descriptor: int) -> None:
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, descriptor)
    os.close(null)
