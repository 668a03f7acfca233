"""The `stockroom` console script."""

from __future__ import annotations

import typer

from interfaces.cli import db, items, keys
from interfaces.cli.serve import serve

app = typer.Typer(
    name="stockroom",
    help="Stockroom: an async item catalog.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command()(serve)
app.add_typer(db.app, name="db")
app.add_typer(keys.app, name="keys")
app.add_typer(items.app, name="items")


def run() -> None:
    app()
