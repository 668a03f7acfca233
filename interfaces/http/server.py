"""The serving process: uvicorn with the app factory `serve_app`, and nothing of the command line.

`stockroom serve` replaces itself with `python -m interfaces.http`, which runs `main` (`os.execv`:
same process id for signals and supervisors), handing over its listening sockets, so what serves
never imported the CLI. With
`--workers N`, gunicorn supervises N forked workers, each running the same draining server.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import gc
import logging
import math
import os
import signal
import socket
import sys
from typing import TYPE_CHECKING, Any

import uvicorn
from gunicorn import glogging
from gunicorn.app.base import BaseApplication
from gunicorn.arbiter import Arbiter
from uvicorn.config import STARTUP_FAILURE
from uvicorn_worker import UvicornWorker

from infrastructure.db.embedded import start_embedded, supervise
from infrastructure.settings import Settings
from interfaces.http import draining
from interfaces.http.request_head import with_header_timeout
from interfaces.logs import configure_logging

if TYPE_CHECKING:
    from types import FrameType

    from fastapi import FastAPI
    from gunicorn.config import Config as GunicornConfig


def _settle_memory() -> None:
    # What is loaded by now lives as long as the process: keep full collections from walking it.
    gc.collect()
    gc.freeze()
    gc.enable()  # off while the modules loaded (interfaces/http/__main__.py)
    # glibc keeps what importing freed resident unless asked; absent on other libcs. The
    # process's own symbols include its libc's (no `find_library`, which runs `ldconfig -p`).
    trim = getattr(ctypes.CDLL(None), "malloc_trim", None)
    if trim is not None:
        trim(0)


def serve_app() -> FastAPI:
    """The app of one serving process, on a container of its own, its memory settled."""
    from infrastructure.container import Container  # noqa: PLC0415  (see the module's docstring)
    from interfaces.http.app import create_app  # noqa: PLC0415

    container = Container()
    settings = container.settings()
    configure_logging(settings.log_level, settings.log_format)
    app = create_app(container)
    _settle_memory()
    return app


_log = logging.getLogger("stockroom.serve")


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """How uvicorn serves, in one process or in each worker."""
    return {
        "loop": "uvloop",
        "http": with_header_timeout(settings.header_timeout),
        "ws": "none",
        # Nothing reads the client address: X-Forwarded-* parsing would be work for nothing.
        "proxy_headers": False,
        "access_log": False,  # EdgeMiddleware writes one structured line per request
        "log_config": None,
        "timeout_graceful_shutdown": settings.shutdown_grace,
        "log_level": settings.log_level.lower(),
    }


class DrainingServer(uvicorn.Server):
    """uvicorn's server with a drain before its graceful shutdown, for a load balancer to follow.

    SIGTERM makes /health/ready answer 503 for `drain` seconds before uvicorn's own shutdown.
    SIGINT alone is not drained: no balancer is watching an interactive server.
    """

    def __init__(self, config: uvicorn.Config, *, drain: float) -> None:
        super().__init__(config)
        self.drain = drain
        self.draining = False
        self.loop: asyncio.AbstractEventLoop | None = None

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        self.loop = asyncio.get_running_loop()
        await super().serve(sockets)

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        for sock in sockets or []:
            host, port = sock.getsockname()[:2]
            _log.info("serving on http://%s:%s", f"[{host}]" if ":" in host else host, port)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if sig == signal.SIGTERM:
            # Open event streams end now: otherwise each would last the whole grace period.
            draining.start()
        if sig == signal.SIGTERM and self.drain > 0 and not self.draining and not self.should_exit:
            self.draining = True
            # A signal handler: the loop does the rest (logging, the timer) outside of it.
            if self.loop is not None:
                self.loop.call_soon_threadsafe(self._drain)
            return
        super().handle_exit(sig, frame)

    def _drain(self) -> None:
        _log.info("SIGTERM: draining for %s s (/health/ready answers 503)", self.drain)
        assert self.loop is not None
        self.loop.call_later(self.drain, super().handle_exit, signal.SIGTERM, None)

    def stop_without_drain(self, sig: int, frame: FrameType | None) -> None:
        self.should_exit = True


class DrainingWorker(UvicornWorker):  # type: ignore[misc]
    """A gunicorn worker serving with the DrainingServer; SIGQUIT stops it without a drain."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.settings = Settings()
        self.CONFIG_KWARGS = uvicorn_options(self.settings)
        super().__init__(*args, **kwargs)

    def run(self) -> None:
        self.config.app = self.wsgi
        server = DrainingServer(self.config, drain=self.settings.shutdown_drain)
        signal.signal(signal.SIGQUIT, server.stop_without_drain)
        _exit_zero_after_graceful_shutdown()
        server.run(sockets=self.sockets)
        if not server.started:
            sys.exit(Arbiter.WORKER_BOOT_ERROR)


def retire_without_drain(arbiter: Arbiter) -> None:
    """gunicorn's `on_reload` hook (SIGHUP): the new workers serve the port, so the old ones
    need no drain."""
    arbiter.kill_workers(signal.SIGQUIT)


class ProcessLogger(glogging.Logger):  # type: ignore[misc]
    """gunicorn's messages through this process's logging, in its format (JSON when asked)."""

    def setup(self, cfg: GunicornConfig) -> None:
        self.cfg = cfg
        self.error_log.setLevel(self.LOG_LEVELS.get(cfg.loglevel.lower(), logging.INFO))
        # The process's own handler: uvicorn-worker also gives it to uvicorn's logger in each
        # worker (which, forked from a loaded app, configures no logging of its own).
        self.error_log.handlers = logging.getLogger().handlers
        self.error_log.propagate = False
        self.access_log.disabled = True


class Workers(BaseApplication):  # type: ignore[misc]
    """gunicorn, configured here rather than from a file or its command line."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for name, value in self.options.items():
            self.cfg.set(name, value)

    def load(self) -> FastAPI:
        return serve_app()


def _exit_zero_after_graceful_shutdown() -> None:
    """A graceful shutdown exits 0: uvicorn re-raises the signal, so it is ignored (not caught,
    as Python restores a caught signal's default while finalizing)."""
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, signal.SIG_IGN)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="stockroom serve")
    parser.add_argument("--fd", type=int, action="append", required=True)
    parser.add_argument("--workers", type=int, required=True)
    args = parser.parse_args(argv)
    for fd in args.fd:
        os.set_inheritable(fd, False)  # not into the embedded database's processes
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    if settings.database_url is None:
        # Attaching makes this process an owner, so that its clean exit stops the server.
        os.environ["STOCKROOM_DATABASE_URL"] = start_embedded(settings.data_dir)
        supervise(settings.data_dir)
    if args.workers > 1:
        Workers(
            {
                "bind": [f"fd://{fd}" for fd in args.fd],
                "workers": args.workers,
                "worker_class": DrainingWorker,
                # Loaded once, then forked: a worker starts without importing the app again.
                "preload_app": True,
                "on_reload": retire_without_drain,
                "logger_class": ProcessLogger,
                "loglevel": settings.log_level.lower(),
                "graceful_timeout": math.ceil(settings.shutdown_drain + settings.shutdown_grace)
                + 1,
                "keepalive": 5,  # uvicorn's default, as for one process
                "control_socket_disable": True,
            }
        ).run()
        return
    _exit_zero_after_graceful_shutdown()
    config = uvicorn.Config(
        "interfaces.http.server:serve_app", factory=True, **uvicorn_options(settings)
    )
    server = DrainingServer(config, drain=settings.shutdown_drain)
    server.run(sockets=[socket.socket(fileno=fd) for fd in args.fd])
    if not server.started:
        sys.exit(STARTUP_FAILURE)
