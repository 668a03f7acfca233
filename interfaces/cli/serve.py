"""`stockroom serve`: uvicorn with the app factory."""

from __future__ import annotations

import os
import signal
from typing import Annotated

import typer
import uvicorn

from infrastructure.db.embedded import prepare_database
from interfaces.cli.config import load_settings
from interfaces.cli.failures import reported_failures
from interfaces.logs import configure_logging


def _exit_zero_after_graceful_shutdown() -> None:
    """uvicorn re-raises SIGTERM/SIGINT once it has shut down gracefully, so the process would die
    by the signal (status -15). A completed graceful shutdown is a success for a supervisor, so
    the re-raised signal lands on a no-op handler and `serve` returns normally (exit 0).
    """
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)


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
            url = prepare_database(settings)
        # Workers must share the one embedded server this process started and owns.
        os.environ["STOCKROOM_DATABASE_URL"] = url
        typer.echo(f"embedded PostgreSQL ready, data in {settings.data_dir.resolve()}", err=True)
    _exit_zero_after_graceful_shutdown()
    uvicorn.run(
        "interfaces.http.asgi:serve_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        # Bound to loopback by default; a proxy in front sets X-Request-ID, nothing reads
        # the client address, so X-Forwarded-* parsing would be work for nothing.
        proxy_headers=False,
        access_log=False,  # EdgeMiddleware writes one structured line per request
        log_config=None,  # keep the structured logging configured above
        timeout_graceful_shutdown=settings.shutdown_grace,
        log_level=settings.log_level.lower(),
    )
