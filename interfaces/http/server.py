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
import types
from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess
from uvicorn.supervisors.multiprocess import Process

from infrastructure.db.embedded import start_embedded
from infrastructure.settings import Settings
from interfaces.http import draining
from interfaces.logs import configure_logging

if TYPE_CHECKING:
    from socket import socket
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


class ServeConfig(uvicorn.Config):
    """uvicorn's configuration plus the drain: with `--workers` it is what each worker is given
    (pickled into the spawned process), so the drain travels with it."""

    def __init__(self, app: str, *, shutdown_drain: float, **options: Any) -> None:
        super().__init__(app, **options)
        self.shutdown_drain = shutdown_drain


class DrainingServer(uvicorn.Server):
    """uvicorn's server with a drain before its graceful shutdown, for a load balancer to follow.

    SIGTERM first makes /health/ready answer 503 (see draining.py) while everything is served as
    before; `shutdown_drain` seconds later uvicorn's own shutdown runs: it stops accepting, waits
    up to the grace period for the requests in flight, shuts the app down (its pools) and
    returns. A second SIGTERM or a SIGINT during the drain ends it at once. SIGINT alone (Ctrl+C
    at a terminal) is not drained: no balancer is watching an interactive server.
    """

    def __init__(self, config: ServeConfig) -> None:
        super().__init__(config)
        self.drain = config.shutdown_drain
        self.drain_ends: float | None = None
        self.drain_logged = False

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if sig == signal.SIGTERM:
            # Open event streams end from now on, drain or not: the graceful shutdown waits for
            # every request in flight, and a stream would otherwise last its whole grace period.
            draining.start()
        if (
            sig == signal.SIGTERM
            and self.drain > 0
            and self.drain_ends is None
            and not self.should_exit  # already stopping (a SIGINT came first): no drain
        ):
            # Runs as a signal handler: only flags; the main loop's tick acts on them.
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


_STOPS = (signal.SIGTERM, signal.SIGINT)
#: How soon a worker is told again that its drain is over.
_RESEND = 0.1


class DrainingProcess(Process):
    """A worker of uvicorn's supervisor that serves with the DrainingServer and, like one
    process, exits 0 after its graceful shutdown.

    While it drains, uvicorn's health pings (answered from a thread of the worker) keep being
    answered: the worker is still serving, so a supervisor still watching it (a worker signalled
    on its own) does not take it for hung.
    """

    @cached_property
    def server(self) -> DrainingServer:
        if not isinstance(self.config, ServeConfig):
            raise TypeError(f"a draining worker needs a ServeConfig, not {self.config!r}")
        return DrainingServer(self.config)

    def target(self, sockets: list[socket] | None = None) -> None:  # in the worker
        _exit_zero_after_graceful_shutdown()
        super().target(sockets)

    def join(self) -> None:
        """uvicorn joins one worker alone when it retires it (the restart on SIGHUP, SIGTTOU) or
        has killed it. The others keep serving the port, so no balancer needs this one to
        drain: its drain ends at once."""
        _wait_for(self, drain_over=lambda: True)


def _wait_for(process: Process, *, drain_over: Callable[[], bool]) -> None:
    """Wait until `process` has exited, telling it once `drain_over()` that its drain is over.

    A draining worker takes another SIGTERM as the end of its drain (never a SIGINT: one after
    Ctrl+C at a terminal, which reaches the workers too, would skip waiting for the requests in
    flight). Two signals that reach a process close together may be taken as one, so it is sent
    again until the worker has exited.
    """
    while process.exitcode is None:
        if drain_over() and process.pid is not None:
            os.kill(process.pid, signal.SIGTERM)
        process.process.join(_RESEND)


def _spawning_draining_processes(
    method: Callable[[Multiprocess], None],
) -> Callable[[Multiprocess], None]:
    """uvicorn's supervisor method `method`, run with its name `Process` meaning DrainingProcess.

    uvicorn's supervisor names its worker class directly (`Process(self.config, self.sockets)`)
    in the four methods that start workers, with no factory to override. Rather than copy those
    methods, their own code runs here against a copy of their module's namespace in which
    `Process` is DrainingProcess; uvicorn's module itself is left untouched. If uvicorn changes
    how these methods start workers, this fails at import instead of starting undrained workers.
    """
    if not isinstance(method, types.FunctionType) or "Process" not in method.__code__.co_names:
        raise TypeError(f"uvicorn's {method!r} no longer starts its workers by `Process`")
    namespace = {**method.__globals__, "Process": DrainingProcess}
    rebound = types.FunctionType(method.__code__, namespace, method.__name__)
    rebound.__qualname__ = method.__qualname__
    return rebound


class DrainingMultiprocess(Multiprocess):
    """uvicorn's supervisor of `--workers`, whose workers drain as one process does.

    Its SIGTERM reaches the workers as uvicorn passes it on (`terminate_all`), and each drains;
    the supervisor waits for them meanwhile, so it exits only once they have. A second SIGTERM or
    a SIGINT then ends their drain at once, as does a stop that was not one SIGTERM (a SIGINT, or
    a worker that failed to start).
    """

    init_processes = _spawning_draining_processes(Multiprocess.init_processes)
    keep_subprocess_alive = _spawning_draining_processes(Multiprocess.keep_subprocess_alive)
    restart_all = _spawning_draining_processes(Multiprocess.restart_all)
    handle_ttin = _spawning_draining_processes(Multiprocess.handle_ttin)

    def __init__(self, config: ServeConfig, sockets: list[socket]) -> None:
        super().__init__(config, sockets)
        self.stop_signals: list[int] = []
        self.drain_over = False

    def handle_term(self) -> None:
        self.stop_signals.append(signal.SIGTERM)
        super().handle_term()

    def handle_int(self) -> None:
        self.stop_signals.append(signal.SIGINT)
        super().handle_int()

    def join_all(self) -> None:
        # No worker is started from now on: the workers' copies of the listening socket are its
        # last, so once they have stopped accepting, connections are refused (as for one
        # process) instead of queueing where nobody accepts them.
        for sock in self.sockets:
            sock.close()
        # uvicorn reads its signal queue no more: a stop signal now ends the drain directly.
        # One that came before (handled, or still queued) counts too.
        for sig in _STOPS:
            signal.signal(sig, self.end_drain)
        stops = [*self.stop_signals, *(s for s in self.signal_queue if s in _STOPS)]
        self.drain_over = stops != [signal.SIGTERM]
        for process in self.processes:
            _wait_for(process, drain_over=lambda: self.drain_over)
        _exit_zero_after_graceful_shutdown()  # every worker is gone: nothing left to stop

    def end_drain(self, sig: int, frame: FrameType | None) -> None:
        self.drain_over = True  # a signal handler: only flags; join_all acts on it


def _exit_zero_after_graceful_shutdown() -> None:
    """uvicorn re-raises SIGTERM/SIGINT once it has shut down gracefully, so the process would die
    by the signal (status -15). A completed graceful shutdown is a success for a supervisor, so
    the re-raised signal is ignored and the process returns normally (exit 0). Ignored, not
    caught by a no-op: Python puts back the default for a signal it catches as it finalizes,
    and a late signal (a supervisor repeats its SIGTERM) would kill the process after all.
    """
    for sig in _STOPS:
        signal.signal(sig, signal.SIG_IGN)


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
    config = ServeConfig(
        "interfaces.http.server:serve_app",
        shutdown_drain=settings.shutdown_drain,
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
        supervisor = DrainingMultiprocess(config, sockets=[config.bind_socket()])
        supervisor.run()
        # uvicorn's supervisor exits 0 whatever its workers did: this one succeeds only if
        # each of its last workers did (a graceful shutdown, not a failed start or a kill).
        failed = {p.pid: p.exitcode for p in supervisor.processes if p.exitcode != 0}
        if failed:
            _log.error("workers ended with a failure (pid: exit status): %s", failed)
            sys.exit(1)
        return
    # What uvicorn.run does for one process, with the draining server.
    server = DrainingServer(config)
    server.run()
    if not server.started:
        sys.exit(STARTUP_FAILURE)


if __name__ == "__main__":
    main()
