"""Real `stockroom serve` processes for end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

STOCKROOM = str(Path(sys.executable).with_name("stockroom"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _environment(changes: Mapping[str, str | None]) -> dict[str, str]:
    """This process's environment with `changes` applied (None unsets a variable)."""
    env = {**os.environ}
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


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
            )

    def wait_ready(self, within: float = 60.0) -> None:
        """Poll /health/ready; a bounded wait for start-up, not a performance assertion."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.output()}")
            try:
                if httpx.get(f"{self.base_url}/health/ready", timeout=1).status_code == 200:
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
        self.process.kill()
        self.process.wait(10)

    def output(self) -> str:
        return self.log.read_text(errors="replace")
