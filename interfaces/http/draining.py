"""Whether this serving process is draining: told to stop, still serving, no longer ready.

A load balancer takes a process out of rotation only after its readiness check fails a few
times; the server (interfaces/http/server.py) flips this on SIGTERM and keeps serving for the
drain delay, and the readiness probe answers 503 meanwhile. One flag per process.
"""

from __future__ import annotations

_draining = False


def start() -> None:
    global _draining  # noqa: PLW0603  (one process-wide fact, set once by a signal handler)
    _draining = True


def is_draining() -> bool:
    return _draining
