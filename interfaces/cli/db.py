"""`stockroom db ...`: migrations as a release step.

Exit status: 0 done; 1 the migration failed (unknown revision, database not at head, models and
migrations differ, a lock not granted, database unreachable or refusing the connection) with one
`error: ...` line; 2 a usage or configuration error.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from infrastructure.db import migrator
from interfaces.cli.config import load_settings
from interfaces.cli.failures import fail, reported_failures
from interfaces.failures import say

app = typer.Typer(help="Database migrations (Alembic).", no_args_is_help=True)


def _url() -> str:
    return migrator.resolve_database_url(load_settings())


def _waiting(attempt: int, attempts: int, pause: float) -> None:
    # Progress for the operator: a retried migration is expected while the table is busy.
    say(
        f"note: a migration was not granted its locks (attempt {attempt} of {attempts}); "
        f"trying again in {pause:.1f} s"
    )


@app.command()
def upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Migrate the database up to REVISION (default: head)."""
    with reported_failures():
        url = _url()
        migrator.upgrade(url, revision, on_retry=_waiting)
        typer.echo(f"database at {migrator.current(url) or 'base'}")


@app.command()
def downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision, or base.")],
    yes: Annotated[
        bool, typer.Option("--yes", help="Drop tables and columns holding data without asking.")
    ] = False,
) -> None:
    """Migrate the database down to REVISION.

    A downgrade that drops tables or columns holding data says how many rows would go and asks
    first (on a terminal), or needs --yes. A database at a revision this release does not know
    is left alone.
    """
    with reported_failures():
        url = _url()
        losses = migrator.downgrade_losses(url, revision)
        if losses and not yes:
            lost = ", ".join(f"{loss.what} ({loss.rows} rows)" for loss in losses)
            what = f"downgrading to {revision} drops data: {lost}"
            if not sys.stdin.isatty():
                raise fail(f"{what}; run again with --yes to confirm")
            if not typer.confirm(f"{what}. Go ahead?", default=False, err=True):
                raise fail("nothing was changed")
        migrator.downgrade(url, revision, on_retry=_waiting)
        typer.echo(f"database at {migrator.current(url) or 'base'}")


@app.command()
def current() -> None:
    """Print the database's current revision."""
    with reported_failures():
        typer.echo(migrator.current(_url()) or "base (no migration applied)")


@app.command()
def check() -> None:
    """Fail when the database is not at head, or the table models and the migrations differ."""
    with reported_failures():
        migrator.check(_url())
        typer.echo("models and migrations agree")
