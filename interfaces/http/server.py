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
import logging
import os
import signal
import time
from typing import TYPE_CHECKING

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess

from infrastructure.db.embedded import start_embedded
from infrastructure.settings import Settings
from interfaces.http import draining
from interfaces.logs import configure_logging

if TYPE_CHECKING:
    from types import FrameType

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


_log = logging.getLogger("stockroom.serve")


class DrainingServer(uvicorn.Server):
    """uvicorn's server with a drain before its graceful shutdown, for a load balancer to follow.

    SIGTERM first makes /health/ready answer 503 (see draining.py) while everything is served as
    before; `drain` seconds later uvicorn's own shutdown runs: it stops accepting, waits up to
    the grace period for the requests in flight, shuts the app down (its pools) and returns.
    A second SIGTERM or a SIGINT during the drain ends it at once. SIGINT alone (Ctrl+C at a
    terminal) is not drained: no balancer is watching an interactive server.
    """

    def __init__(self, config: uvicorn.Config, *, drain: float) -> None:
        super().__init__(config)
        self.drain = drain
        self.drain_ends: float | None = None
        self.drain_logged = False

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if sig == signal.SIGTERM and self.drain > 0 and self.drain_ends is None:
            # Runs as a signal handler: only flags; the main loop's tick acts on them.
            draining.start()
            self.drain_ends = time.monotonic() + self.drain
            return
        super().handle_exit(sig, frame)

    async def on_tick(self, counter: int) -> bool:
        # uvicorn ticks every 0.1 s: the drain ends within that of its deadline.
        if self.drain_ends is not None and not self.drain_logged:
            self.drain_logged = True  # logged here, not in the signal handler (logging locks)
            _log.info("SIGTERM: draining for %s s (/health/ready answers 503)", self.drain)
        if self.drain_ends is not None and time.monotonic() >= self.drain_ends:
            self.should_exit = True
        return await super().on_tick(counter)


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
    config = uvicorn.Config(
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
    if args.workers > 1:
        # uvicorn's supervisor runs its own (undrained) server in each worker: on SIGTERM it
        # passes the signal on and every worker stops accepting at once (see README.md).
        Multiprocess(config, sockets=[config.bind_socket()]).run()
        return
    # What uvicorn.run does for one process, with the draining server.
    server = DrainingServer(config, drain=settings.shutdown_drain)
    server.run()
    if not server.started:
        sys.exit(STARTUP_FAILURE)


if __name__ == "__main__":
    main()
