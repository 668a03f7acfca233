"""wrk as the load generator: Lua scripts per endpoint, runs, and their parsed results."""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Final

#: Every script reports through this line, written by its done() hook.
MARKER: Final = "BENCH_JSON "

_COMMON: Final = r"""
local thread_count = 0
function setup(thread)
  thread_count = thread_count + 1
  thread:set("tid", thread_count)
end

ids = {}
seq = 0
function init(args)
  if IDS_FILE then
    for line in io.lines(IDS_FILE) do ids[#ids + 1] = line end
  end
  math.randomseed(os.time() + (tid or 0) * 7919)
end

function random_id()
  return ids[math.random(#ids)]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"non2xx":%d,"connect":%d,"read":%d,' ..
    '"write":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,' ..
    '"mean_us":%.1f}\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    latency.mean))
end
"""

_JSON_HEADERS: Final = 'local json_headers = {["Content-Type"] = "application/json"}\n'


@dataclass(frozen=True)
class Endpoint:
    key: str
    label: str
    #: Lua that sets wrk.path/method/body or defines request(); PREFIX is replaced per run.
    lua: str
    needs_ids: bool = False
    #: The fixed path of a GET endpoint (None when every request differs).
    path: str | None = None


def _fixed(key: str, label: str, path: str) -> Endpoint:
    return Endpoint(key, label, f'wrk.path = "{path}"', path=path)


def endpoints(deep_cursor: str) -> list[Endpoint]:
    return [
        Endpoint(
            "get",
            "GET /v1/items/{id}",
            'request = function() return wrk.format("GET", "/v1/items/" .. random_id()) end',
            needs_ids=True,
        ),
        _fixed("list", "GET /v1/items?limit=50", "/v1/items?limit=50"),
        _fixed(
            "list_deep",
            "GET /v1/items?limit=50&cursor=(deep)",
            f"/v1/items?limit=50&cursor={deep_cursor}",
        ),
        Endpoint(
            "patch",
            "PATCH /v1/items/{id} (name)",
            _JSON_HEADERS + "request = function()\n"
            "  seq = seq + 1\n"
            '  return wrk.format("PATCH", "/v1/items/" .. random_id(), json_headers,\n'
            '    \'{"name":"Renamed PREFIX \' .. tid .. "-" .. seq .. \'"}\')\n'
            "end",
            needs_ids=True,
        ),
        Endpoint(
            "adjust",
            "POST /v1/items/{id}/stock-adjustments",
            _JSON_HEADERS + "request = function()\n"
            '  return wrk.format("POST", "/v1/items/" .. random_id() .. "/stock-adjustments",\n'
            "    json_headers, '{\"delta\":1}')\n"
            "end",
            needs_ids=True,
        ),
        Endpoint(
            "create",
            "POST /v1/items",
            _JSON_HEADERS + "request = function()\n"
            "  seq = seq + 1\n"
            '  return wrk.format("POST", "/v1/items", json_headers,\n'
            '    \'{"sku":"PREFIX-\' .. tid .. \'-\' .. seq .. \'","name":"Bench item",\' ..\n'
            '    \'"description":"made by wrk","price":"9.99","quantity":5}\')\n'
            "end",
        ),
    ]


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    non2xx: int
    socket_errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    #: CPU seconds the server under test used during the run (its process tree).
    server_cpu_s: float = float("nan")
    #: Cores' worth of CPU used by processes other than the server, PostgreSQL and wrk.
    other_cores: float = float("nan")
    #: PostgreSQL sessions opened during the run (a pool that keeps its connections opens 0).
    connections_opened: int = -1

    @property
    def cpu_us_per_request(self) -> float:
        return self.server_cpu_s * 1e6 / self.requests if self.requests else float("nan")

    @property
    def server_utilization(self) -> float:
        return self.server_cpu_s / self.seconds if self.seconds else float("nan")

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def errors(self) -> int:
        return self.non2xx + self.socket_errors


def require_wrk() -> str:
    """wrk's path; installed from Debian's packages when missing and we may (root)."""
    path = shutil.which("wrk")
    if path is None and shutil.which("apt-get") is not None:
        print("wrk is missing: installing Debian's wrk package …", flush=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False)
        path = shutil.which("wrk")
    if path is None:
        raise SystemExit("wrk is required: apt-get install -y wrk (Debian package 'wrk')")
    return path


class Wrk:
    def __init__(self, binary: str, workdir: Path, ids: list[str], *, cpu: str) -> None:
        self.binary = binary
        self.cpu = cpu
        self.workdir = workdir / "lua"
        self.workdir.mkdir()
        self.ids_file = self.workdir / "ids.txt"
        self.ids_file.write_text("\n".join(ids) + "\n")

    def script(self, endpoint: Endpoint) -> Path:
        """A fresh script with a new random sku/name prefix, so no two runs collide."""
        prefix = "B" + secrets.token_hex(4).upper()
        ids = f'IDS_FILE = "{self.ids_file}"\n' if endpoint.needs_ids else "IDS_FILE = nil\n"
        path = self.workdir / f"{endpoint.key}-{prefix}.lua"
        path.write_text(ids + _COMMON + endpoint.lua.replace("PREFIX", prefix) + "\n")
        return path

    def command(
        self, url: str, endpoint: Endpoint, *, seconds: float, connections: int, threads: int
    ) -> list[str]:
        return [
            "taskset",
            "-c",
            self.cpu,
            self.binary,
            f"-t{threads}",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "5s",
            "--latency",
            "-s",
            str(self.script(endpoint)),
            url,
        ]

    def run(
        self, url: str, endpoint: Endpoint, *, seconds: float, connections: int, threads: int
    ) -> WrkResult:
        command = self.command(
            url, endpoint, seconds=seconds, connections=connections, threads=threads
        )
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=seconds + 60, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
        return parse(done.stdout)


def parse(output: str) -> WrkResult:
    for line in output.splitlines():
        if line.startswith(MARKER):
            data = json.loads(line[len(MARKER) :])
            return WrkResult(
                requests=int(data["requests"]),
                seconds=data["duration_us"] / 1e6,
                non2xx=int(data["non2xx"]),
                socket_errors=sum(int(data[k]) for k in ("connect", "read", "write", "timeout")),
                p50_ms=data["p50_us"] / 1000,
                p90_ms=data["p90_us"] / 1000,
                p99_ms=data["p99_us"] / 1000,
                max_ms=data["max_us"] / 1000,
            )
    raise RuntimeError(f"wrk printed no result line:\n{output}")
