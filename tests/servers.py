"""Real `stockroom serve` processes for end-to-end tests."""

from __future__ import annotations

import contextlib
import itertools
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Final

import httpx

STOCKROOM = str(Path(sys.executable).with_name("stockroom"))


#: Ports below the kernel's ephemeral range, which outgoing connections draw from: a port handed
#: out here cannot be taken by a client socket before its server binds it.
_FIRST_PORT: Final = 10_000
_PORTS_PER_WORKER: Final = 500


def _port_block() -> Iterator[int]:
    """This process's ports, cycled: a block no other xdist worker of the run uses.

    The run's id (shared by its workers) picks where the blocks start, so that two runs on one
    machine seldom share ports either; a port still in use is skipped anyway.
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


def _environment(changes: Mapping[str, str | None]) -> dict[str, str]:
    """This process's environment with `changes` applied (None unsets a variable)."""
    env = {**os.environ}
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def child_pids(pid: int) -> list[int]:
    """Direct children of `pid`, from /proc (Linux)."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:  # the process exited while we looked
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if fields.get("PPid", "").strip() == str(pid):
            children.append(int(entry.name))
    return children


class Server:
    def __init__(self, env: Mapping[str, str | None], *args: str, workdir: Path) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        # Output goes to a file: an unread pipe would fill up and stall the server.
        self.log = workdir / f"serve-{self.port}.log"
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                [STOCKROOM, "serve", "--port", str(self.port), *args],
                env=_environment(env),
                cwd=workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own process group, so a hard kill also reaches `--workers` children.
                start_new_session=True,
            )

    def wait_ready(self, within: float = 60.0, probe: str = "/health/ready") -> None:
        """Poll `probe` until it answers 200: a bounded wait for start-up, not a performance
        assertion. `/health/live` waits only for the process (the database may be down)."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.output()}")
            try:
                if httpx.get(f"{self.base_url}{probe}", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"server not ready within {within}s:\n{self.output()}")

    def terminate(self, timeout: float = 30.0) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def kill(self) -> None:
        """SIGKILL the server and every process of its group (workers included): a hard crash."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def children(self) -> list[int]:
        return child_pids(self.process.pid)

    def output(self) -> str:
        return self.log.read_text(errors="replace")
