"""Expected failures of a command: one line on stderr and exit status 1, never a traceback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console

from application.errors import ApplicationError
from domain.errors import DomainError
from infrastructure.db.embedded import EmbeddedDatabaseError
from infrastructure.db.errors import is_unavailable
from infrastructure.db.schema import SchemaDrift

stderr = Console(stderr=True, highlight=False, soft_wrap=True)


def fail(message: str, code: int = 1) -> typer.Exit:
    stderr.print(f"error: {message}", markup=False)
    return typer.Exit(code)


@contextmanager
def reported_failures() -> Iterator[None]:
    try:
        yield
    except (DomainError, SchemaDrift, EmbeddedDatabaseError) as exc:
        raise fail(str(exc)) from None
    except ApplicationError as exc:
        raise fail(str(exc)) from None
    except Exception as exc:
        if is_unavailable(exc):
            raise fail(f"cannot reach the database ({type(exc).__name__})") from None
        raise
