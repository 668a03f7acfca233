"""`stockroom keys new`: mint an API key; only its hash goes into configuration."""

from __future__ import annotations

import secrets
from typing import Annotated

import typer

from infrastructure.api_keys import Scope, new_key
from interfaces.cli.failures import fail

app = typer.Typer(help="API keys.", no_args_is_help=True)


@app.command("new")
def new(
    scope: Annotated[Scope, typer.Option(help="read: GET only; write: everything.")],
    key_id: Annotated[
        str | None, typer.Option("--id", help="A name for the key (default: random).")
    ] = None,
) -> None:
    """Print a new random key once, and the configuration entry that enables it."""
    try:
        secret, key = new_key(
            key_id if key_id is not None else f"key-{secrets.token_hex(3)}", scope
        )
    except ValueError:
        raise fail("--id must be 1-64 of A-Z a-z 0-9 . _ -", code=2) from None
    typer.echo(f"API key (shown only now, store it safely): {secret}")
    typer.echo("Add this entry to STOCKROOM_API_KEYS (comma-separated with any others):")
    typer.echo(key.entry())
