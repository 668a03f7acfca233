"""Free TCP ports on 127.0.0.1 for servers the tests and benchmarks start."""

from __future__ import annotations

import itertools
import os
import secrets
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Final

#: Ports below the kernel's ephemeral range, which outgoing connections draw from: a port handed
#: out here cannot be taken by a client socket before its server binds it.
_FIRST_PORT: Final = 10_000
_PORTS_PER_WORKER: Final = 500


def _port_block() -> Iterator[int]:
    """This process's ports, cycled: a block no other xdist worker of the run uses.

    The run's id (shared by its workers) picks where the blocks start, so that two runs on one
    machine seldom share ports either; a port still in use is skipped anyway. Outside pytest
    (a benchmark) the block is a random one.
    """
    ephemeral = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
    blocks = (int(ephemeral[0]) - _FIRST_PORT) // _PORTS_PER_WORKER
    run = int(os.environ.get("PYTEST_XDIST_TESTRUNUID") or secrets.token_hex(8), 16)
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
    first = _FIRST_PORT + (run + worker) % blocks * _PORTS_PER_WORKER
    return itertools.cycle(range(first, first + _PORTS_PER_WORKER))


_ports = _port_block()


def free_port() -> int:
    """A port nothing listens on, unique to this xdist worker within the run."""
    for port in itertools.islice(_ports, _PORTS_PER_WORKER):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:  # in use (or lingering in TIME_WAIT): the next one
                continue
            return port
    raise RuntimeError(f"no free port among {_PORTS_PER_WORKER} tried")
