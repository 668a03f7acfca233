"""The serving process: uvicorn with the app factory `serve_app`, and nothing of the command line.

`stockroom serve` checks the configuration and prepares the database, then replaces itself with
this module (`os.execv`: same process id, so signals and supervisors see one process). What
serves has therefore never imported the CLI (typer, rich, the commands): about 2 MiB of its
memory, which the benchmark measures (bench/README.md).

uvicorn imports this module again by name for `serve_app` (in each worker process, with
`--workers`); run as the main module it only parses its arguments and starts uvicorn, so the app
is imported where it serves, never in the supervisor of several workers.
"""

# ruff: noqa: E402  (rich is kept out below, before anything imports structlog)

from __future__ import annotations

import sys

# structlog.dev imports rich, and rich's traceback module pygments, at import time, only to
# pretty-print exceptions on a terminal (without them it prints plain tracebacks). They are
# about 5 MiB of a serving process's memory: keep them out of this one (only of this one).
sys.modules.setdefault("rich", None)  # type: ignore[arg-type]

import argparse
import ctypes
import ctypes.util
import gc
import os
import signal
from typing import TYPE_CHECKING

import uvicorn

from infrastructure.db.embedded import start_embedded
from infrastructure.settings import Settings
from interfaces.logs import configure_logging

if TYPE_CHECKING:
    from fastapi import FastAPI


def _settle_memory() -> None:
    # What is loaded by now (modules, the app, its routes and schemas) lives as long as the
    # process: keep it out of the cyclic garbage collector, whose full collections would walk
    # it all again and again. Those pauses were most of the p99 in the benchmark (100 ms).
    gc.collect()
    gc.freeze()
    # Importing frees a lot (compiled code, schema building) that glibc keeps resident unless
    # asked to give it back: about 2 MiB. A plain C call no library wraps; absent on other libcs.
    libc = ctypes.util.find_library("c")
    trim = getattr(ctypes.CDLL(libc), "malloc_trim", None) if libc else None
    if trim is not None:
        trim(0)


def serve_app() -> FastAPI:
    """The factory uvicorn calls in each worker: it configures the worker's logs, builds the app
    on a container of its own, and settles its memory once everything is loaded."""
    from infrastructure.container import Container  # noqa: PLC0415  (see the module's docstring)
    from interfaces.http.app import create_app  # noqa: PLC0415

    container = Container()
    settings = container.settings()
    configure_logging(settings.log_level, settings.log_format)
    app = create_app(container)
    _settle_memory()
    return app


def _exit_zero_after_graceful_shutdown() -> None:
    """uvicorn re-raises SIGTERM/SIGINT once it has shut down gracefully, so the process would die
    by the signal (status -15). A completed graceful shutdown is a success for a supervisor, so
    the re-raised signal lands on a no-op handler and the process returns normally (exit 0).
    """
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="stockroom serve")
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, required=True)
    args = parser.parse_args(argv)
    settings = Settings()  # checked by `stockroom serve` before it got here
    configure_logging(settings.log_level, settings.log_format)
    if settings.database_url is None:
        # `stockroom serve` started and migrated it; attaching makes this process an owner,
        # so that its clean exit stops the server. Workers share the one server.
        os.environ["STOCKROOM_DATABASE_URL"] = start_embedded(settings.data_dir)
    _exit_zero_after_graceful_shutdown()
    uvicorn.run(
        "interfaces.http.server:serve_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        loop="uvloop",
        http="httptools",
        ws="none",  # no WebSocket routes: nothing to load for them
        # Bound to loopback by default; a proxy in front sets X-Request-ID, nothing reads
        # the client address, so X-Forwarded-* parsing would be work for nothing.
        proxy_headers=False,
        access_log=False,  # EdgeMiddleware writes one structured line per request
        log_config=None,  # keep the structured logging configured above
        timeout_graceful_shutdown=settings.shutdown_grace,
        log_level=settings.log_level.lower(),
    )


if __name__ == "__main__":
    main()
