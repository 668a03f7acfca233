"""wrk as the load generator: a Lua script per endpoint, and its parsed result."""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Final

MARKER: Final = "BENCH_JSON "

_COMMON: Final = r"""
local thread_count = 0
function setup(thread)
  thread_count = thread_count + 1
  thread:set("tid", thread_count)
end

ids = {}
seq = 0
json_headers = {["Content-Type"] = "application/json"}
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
    'BENCH_JSON {"requests":%d,"duration_us":%d,"errors":%d,"p50_us":%d,"p99_us":%d}\n',
    summary.requests, summary.duration,
    e.status + e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


@dataclass(frozen=True)
class Endpoint:
    key: str
    label: str
    lua: str  # sets wrk.path or defines request(); PREFIX is replaced per run
    needs_ids: bool = False


def endpoints(deep_cursor: str) -> list[Endpoint]:
    return [
        Endpoint(
            "get",
            "GET /v1/items/{id}",
            'request = function() return wrk.format("GET", "/v1/items/" .. random_id()) end',
            needs_ids=True,
        ),
        Endpoint("list", "GET /v1/items?limit=50", 'wrk.path = "/v1/items?limit=50"'),
        Endpoint(
            "list_deep",
            "GET /v1/items?limit=50&cursor=(deep)",
            f'wrk.path = "/v1/items?limit=50&cursor={deep_cursor}"',
        ),
        Endpoint(
            "patch",
            "PATCH /v1/items/{id} (name)",
            "request = function()\n"
            "  seq = seq + 1\n"
            '  return wrk.format("PATCH", "/v1/items/" .. random_id(), json_headers,\n'
            "    '{\"name\":\"Renamed PREFIX ' .. tid .. '-' .. seq .. '\"}')\n"
            "end",
            needs_ids=True,
        ),
        Endpoint(
            "adjust",
            "POST /v1/items/{id}/stock-adjustments",
            "request = function()\n"
            '  return wrk.format("POST", "/v1/items/" .. random_id() .. "/stock-adjustments",\n'
            "    json_headers, '{\"delta\":1}')\n"
            "end",
            needs_ids=True,
        ),
        Endpoint(
            "create",
            "POST /v1/items",
            "request = function()\n"
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
    errors: int  # non-2xx answers and socket errors
    p50_ms: float
    p99_ms: float
    server_cpu_s: float = float("nan")  # CPU the server's process tree used during the run

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def cpu_us_per_request(self) -> float:
        return self.server_cpu_s * 1e6 / self.requests if self.requests else float("nan")


def require_wrk() -> str:
    """wrk's path; installed from Debian's package when missing and we may (root)."""
    path = shutil.which("wrk")
    if path is None and shutil.which("apt-get") is not None:
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], stdout=sys.stderr, check=False)
        path = shutil.which("wrk")
    if path is None:
        raise SystemExit("wrk is required: apt-get install -y wrk")
    return path


class Wrk:
    def __init__(self, binary: str, workdir: Path, ids: list[str], *, cpu: str) -> None:
        self.binary, self.cpu = binary, cpu
        self.workdir = workdir / "lua"
        self.workdir.mkdir()
        self.ids_file = self.workdir / "ids.txt"
        self.ids_file.write_text("\n".join(ids) + "\n")

    def run(
        self, url: str, endpoint: Endpoint, *, seconds: float, connections: int, threads: int = 1
    ) -> WrkResult:
        # A fresh sku/name prefix per run, so no two runs collide.
        prefix = "B" + secrets.token_hex(4).upper()
        ids = f'IDS_FILE = "{self.ids_file}"\n' if endpoint.needs_ids else "IDS_FILE = nil\n"
        script = self.workdir / f"{endpoint.key}-{prefix}.lua"
        script.write_text(ids + _COMMON + endpoint.lua.replace("PREFIX", prefix) + "\n")
        command = ["taskset", "-c", self.cpu, self.binary, f"-t{threads}", f"-c{connections}"]
        command += [f"-d{max(1, round(seconds))}s", "--timeout", "5s", "-s", str(script), url]
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=seconds + 60, check=False
        )
        for line in done.stdout.splitlines():
            if line.startswith(MARKER):
                data = json.loads(line[len(MARKER) :])
                return WrkResult(
                    requests=data["requests"],
                    seconds=data["duration_us"] / 1e6,
                    errors=data["errors"],
                    p50_ms=data["p50_us"] / 1000,
                    p99_ms=data["p99_us"] / 1000,
                )
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
