"""`stockroom db ...`: migrations as a release step.

Exit status: 0 done; 1 the migration failed (unknown revision, database not at head, models and
migrations differ, database unreachable) with one `error: ...` line; 2 a usage or configuration
error.
"""

from __future__ import annotations

from typing import Annotated

import typer

from infrastructure.db import migrator
from interfaces.cli.config import load_settings
from interfaces.cli.failures import reported_failures

app = typer.Typer(help="Database migrations (Alembic).", no_args_is_help=True)


def _url() -> str:
    return migrator.resolve_database_url(load_settings())


@app.command()
def upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Migrate the database up to REVISION (default: head)."""
    with reported_failures():
        url = _url()
        migrator.upgrade(url, revision)
        typer.echo(f"database at {migrator.current(url) or 'base'}")


@app.command()
def downgrade(revision: Annotated[str, typer.Argument(help="Target revision, or base.")]) -> None:
    """Migrate the database down to REVISION."""
    with reported_failures():
        url = _url()
        migrator.downgrade(url, revision)
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
