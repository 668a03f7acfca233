"""`stockroom serve`: check the configuration and the address, prepare the database, then become
the server."""

from __future__ import annotations

import os
import socket
import sys
from typing import Annotated

import typer

from interfaces.cli.failures import fail

SERVER_MODULE = "interfaces.http"
#: Connections the kernel queues until the server accepts them (uvicorn's and gunicorn's default).
_BACKLOG = 2048


def listen(host: str, port: int) -> list[socket.socket]:
    """Listen on `port` at every address of `host`, or fail (exit 1) with one line, before
    anything is migrated."""
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        raise fail(f"--host {host!r}: {getattr(exc, 'strerror', None) or exc}") from None
    sockets: list[socket.socket] = []
    for family, kind, proto, _, address in dict.fromkeys(addresses):
        sock = socket.socket(family, kind, proto)
        sockets.append(sock)
        # A port left in TIME_WAIT by a previous run is free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        try:
            sock.bind(address)
            sock.listen(_BACKLOG)
        except OSError as exc:
            for opened in sockets:
                opened.close()
            raise fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sockets


def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes.")] = 1,
) -> None:
    """Serve the HTTP API (on the embedded PostgreSQL when STOCKROOM_DATABASE_URL is unset)."""
    import logging  # noqa: PLC0415  (what serving needs is loaded only to serve)

    from infrastructure.db.migrator import prepare_database  # noqa: PLC0415
    from interfaces.cli.config import load_settings  # noqa: PLC0415
    from interfaces.cli.failures import reported_failures  # noqa: PLC0415
    from interfaces.logs import configure_logging  # noqa: PLC0415

    settings = load_settings()
    sockets = listen(host, port)
    configure_logging(settings.log_level, settings.log_format)
    if settings.database_url is None:
        with reported_failures():
            prepare_database(settings)  # started and migrated here, where failures read well
        logging.getLogger("stockroom.serve").info(
            "embedded PostgreSQL ready, data in %s", settings.data_dir.expanduser().resolve()
        )
    sys.stderr.flush()
    for sock in sockets:  # only now: the embedded database's processes must not hold them
        sock.set_inheritable(True)
    fds = [f"--fd={sock.fileno()}" for sock in sockets]
    argv = [sys.executable, "-m", SERVER_MODULE, *fds, f"--workers={workers}"]
    os.execv(argv[0], argv)  # noqa: S606  (our interpreter, our module)
