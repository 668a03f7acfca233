"""HAProxy in front of `stockroom serve` processes, with the deploy's own configuration."""

from __future__ import annotations

import csv
import socket
import subprocess
from pathlib import Path
from typing import Final

from tests.faults.cluster import wait_until
from tests.servers import Server
from tests.support.cluster import find_binary
from tests.support.ports import free_port

SHARED_CONFIG: Final = Path(__file__).parents[2] / "deploy" / "haproxy" / "haproxy.cfg"


class Balancer:
    """HAProxy in the foreground, with a runtime API socket to move and inspect servers."""

    def __init__(self, workdir: Path, servers: list[Server]) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.admin = workdir / "haproxy.sock"
        self.log = workdir / "haproxy.log"
        lines = [
            "global",
            f"    stats socket {self.admin} mode 600 level admin",
            "frontend http",
            f"    bind 127.0.0.1:{self.port}",
            "backend api",
            *(f"    server s{i} 127.0.0.1:{s.port}" for i, s in enumerate(servers)),
        ]
        servers_file = workdir / "servers.cfg"
        servers_file.write_text("\n".join(lines) + "\n")
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                [find_binary("haproxy"), "-db", "-f", str(SHARED_CONFIG), "-f", str(servers_file)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def command(self, line: str) -> str:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.connect(str(self.admin))
            sock.sendall(line.encode() + b"\n")
            return b"".join(iter(lambda: sock.recv(65536), b"")).decode()

    def status(self, name: str) -> str:
        """The server's state as the balancer sees it: UP, DOWN, or a transition (UP 1/2)."""
        if self.process.poll() is not None:
            raise RuntimeError(f"haproxy exited:\n{self.log.read_text()}")
        if not self.admin.exists():
            return "not started"
        rows = csv.DictReader(self.command("show stat").removeprefix("# ").splitlines())
        return next(row["status"] for row in rows if row["svname"] == name)

    def wait_status(self, name: str, status: str, within: float) -> None:
        wait_until(
            lambda: self.status(name) == status,
            within=within,
            what=f"the balancer to see {name} {status}",
            every=0.1,
        )

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)
