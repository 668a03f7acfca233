"""Server processes under test (pinned to a CPU), their memory, and a small HTTP client."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import orjson

_TICK: Final = os.sysconf("SC_CLK_TCK")


class Service:
    """A server process in its own session (Ctrl-C reaches us, not it: we stop it ourselves)."""

    def __init__(
        self,
        name: str,
        command: list[str],
        *,
        port: int,
        env: Mapping[str, str],
        cwd: Path,
        cpu: str,
        ready_path: str,
    ) -> None:
        self.name = name
        self.port = port
        self.ready_path = ready_path
        self.log = cwd / f"{name}.log"
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                ["taskset", "-c", cpu, *command],
                env=dict(env),
                cwd=cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, within: float = 60.0) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{self.output()}")
            try:
                if Client(self.port, timeout=1).request("GET", self.ready_path)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready within {within}s:\n{self.output()}")

    def cpu_seconds(self) -> float:
        return tree_cpu_seconds(self.pid)

    def rss_mib(self) -> float:
        """Resident memory of the process and its descendants, in MiB."""
        return sum(_rss_kib(pid) for pid in _tree(self.pid)) / 1024

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        except ProcessLookupError:
            pass

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-6000:]


def _children() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    return children


def _tree(pid: int) -> list[int]:
    children = _children()
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, []))
    return tree


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its descendants, the exited ones included.

    Exited children count through their parent's cutime/cstime once it has reaped them (the
    postmaster reaps every backend a connection pool closed).
    """
    ticks = 0
    for member in _tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # utime, stime, cutime, cstime: fields 14 to 17 of /proc/PID/stat
        ticks += int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
    return ticks / _TICK


def machine_busy_seconds() -> float:
    """CPU time all cores spent on anything but idle and iowait since boot."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / _TICK


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class Client:
    """Keep-alive HTTP/1.1 to 127.0.0.1 (standard library only)."""

    def __init__(self, port: int, *, timeout: float = 30.0) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        all_headers = dict(headers or {})
        payload = None
        if body is not None:
            payload = orjson.dumps(body)
            all_headers.setdefault("Content-Type", "application/json")
        try:
            self.conn.request(method, path, body=payload, headers=all_headers)
            response = self.conn.getresponse()
            data = response.read()
        except (http.client.HTTPException, OSError):
            self.conn.close()
            raise
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data

    def json(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        status, _, data = self.request(method, path, body)
        return status, orjson.loads(data) if data else None

    def close(self) -> None:
        self.conn.close()
