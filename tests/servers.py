"""Real `stockroom serve` processes for end-to-end tests."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

from tests.support.http import LOOPBACK_TLS
from tests.support.ports import free_port

STOCKROOM = str(Path(sys.executable).with_name("stockroom"))


def environment(changes: Mapping[str, str | None]) -> dict[str, str]:
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
                # No drain unless a test asks for one: nothing balances these servers.
                env=environment({"STOCKROOM_SHUTDOWN_DRAIN": "0", **env}),
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
        # One client for the whole wait: each new one loads the CA bundle (~40 ms of CPU), and
        # one per poll, ten polls a second, cost about as much as the server spends starting.
        with httpx.Client(base_url=self.base_url, timeout=1, verify=LOOPBACK_TLS) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"server exited early:\n{self.output()}")
                try:
                    if client.get(probe).status_code == 200:
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
