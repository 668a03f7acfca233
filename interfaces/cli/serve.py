"""`stockroom serve`: check the configuration, prepare the database, then become the server."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from infrastructure.db.embedded import prepare_database
from interfaces.cli.config import load_settings
from interfaces.cli.failures import reported_failures
from interfaces.logs import configure_logging

SERVER_MODULE = "interfaces.http.server"


def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes.")] = 1,
) -> None:
    """Serve the HTTP API (on the embedded PostgreSQL when STOCKROOM_DATABASE_URL is unset)."""
    settings = load_settings()
    configure_logging(settings.log_level, settings.log_format)
    if settings.database_url is None:
        with reported_failures():
            prepare_database(settings)  # started and migrated here, where failures read well
        typer.echo(f"embedded PostgreSQL ready, data in {settings.data_dir.resolve()}", err=True)
    # The server runs in this same process, but without the command line loaded (see the module
    # it runs; not imported here, as it keeps rich out of the process that imports it).
    sys.stderr.flush()
    argv = [sys.executable, "-m", SERVER_MODULE, f"--host={host}", f"--port={port}"]
    os.execv(argv[0], [*argv, f"--workers={workers}"])  # noqa: S606  (our interpreter, our module)
