"""Start-up of the `stockroom` command: what a person waits for before anything happens.

    uv run python -m bench.startup [--runs 5] [--mode with|without|both] [--stockroom PATH]

On the embedded default, medians of `--runs` processes: `stockroom --help`; `stockroom items get
ID` while a `stockroom serve` keeps the embedded PostgreSQL running; `stockroom serve` until
/health/ready answers, with its phases read from its JSON log. "without" bytecode: every process
compiles the modules that have no compiled file (PYTHONDONTWRITEBYTECODE=1); "with": a filled
PYTHONPYCACHEPREFIX, as an install that compiles bytecode.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from tests.support.ports import free_port

STOCKROOM = str(Path(sys.executable).with_name("stockroom"))
PHASES = (
    ("command (to database ready)", "embedded PostgreSQL ready"),
    ("server process (exec, imports, app)", "Started server process"),
    ("lifespan", "serving on"),
)


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


class Serve:
    """A `stockroom serve` process with its JSON log in a file."""

    def __init__(self, stockroom: str, env: dict[str, str], workdir: Path) -> None:
        self.port = free_port()
        self.log = workdir / f"serve-{self.port}.log"
        self.started = time.monotonic()
        self.started_at = datetime.now().astimezone()
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                [stockroom, "serve", "--port", str(self.port)],
                env={**env, "STOCKROOM_LOG_FORMAT": "json"},
                cwd=workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_ready(self, within: float = 120.0) -> float:
        """Seconds from the process start to the first 200 of /health/ready."""
        url = f"http://127.0.0.1:{self.port}/health/ready"
        deadline = self.started + within
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                sys.exit(f"serve exited early:\n{self.log.read_text()}")
            if answers(url):
                return time.monotonic() - self.started
            time.sleep(0.01)
        self.process.kill()
        sys.exit(f"serve not ready within {within}s:\n{self.log.read_text()}")

    def phases(self) -> list[float]:
        """Seconds from the process start to each phase's log line."""
        stamps: dict[str, float] = {}
        for line in self.log.read_text().splitlines():
            try:
                record = json.loads(line)
            except ValueError:  # an older build's plain-text line
                continue
            for _, prefix in PHASES:
                if record["event"].startswith(prefix) and prefix not in stamps:
                    logged = datetime.fromisoformat(record["timestamp"].replace("Z", "+00:00"))
                    stamps[prefix] = (logged - self.started_at).total_seconds()
        return [stamps.get(prefix, float("nan")) for _, prefix in PHASES]

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        if self.process.wait(60) != 0:
            sys.exit(f"serve exited with {self.process.returncode}:\n{self.log.read_text()}")


def timed(command: list[str], env: dict[str, str], workdir: Path) -> tuple[float, float]:
    """The wall time and the CPU time (user + system, its waited children's included)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    subprocess.run(
        command, env=env, cwd=workdir, check=True, stdout=subprocess.DEVNULL, timeout=120
    )
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def medians_of(runs: int, measure: Callable[[], tuple[float, float]]) -> tuple[float, float]:
    walls, cpus = zip(*(measure() for _ in range(runs)), strict=True)
    return statistics.median(walls), statistics.median(cpus)


def environment(mode: str, data_dir: Path, cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STOCKROOM_")}
    env["STOCKROOM_DATA_DIR"] = str(data_dir)
    env["STOCKROOM_SHUTDOWN_DRAIN"] = "0"  # no balancer to drain for between runs
    if mode == "with":
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(cache)
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env.pop("PYTHONPYCACHEPREFIX", None)
    return env


def measure(stockroom: str, mode: str, runs: int, workdir: Path) -> dict[str, float]:
    data_dir = workdir / "data"
    env = environment(mode, data_dir, workdir / "pycache")
    # Untimed: creates and migrates the data directory, and fills the bytecode cache ("with").
    warm = Serve(stockroom, env, workdir)
    warm.wait_ready()
    request = urllib.request.Request(
        f"http://127.0.0.1:{warm.port}/v1/items",
        data=json.dumps({"sku": f"bench-{mode}", "name": "Bench", "price": "1"}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request) as response:
        item_id = json.loads(response.read())["id"]
    get = [stockroom, "items", "get", item_id]
    timed(get, env, workdir)  # fills the cache of the command's own modules
    results: dict[str, float] = {}
    for name, command in (
        ("stockroom --help", [stockroom, "--help"]),
        ("stockroom items get ID (server running)", get),
    ):
        wall, cpu = medians_of(runs, functools.partial(timed, command, env, workdir))
        results[name] = wall
        results[f"  {name.split(' (')[0]}: CPU time"] = cpu
    warm.stop()  # its PostgreSQL stops with it: each timed serve starts it again

    ready: list[float] = []
    phases: list[list[float]] = []
    for _ in range(runs):
        serve = Serve(stockroom, env, workdir)
        ready.append(serve.wait_ready())
        serve.stop()
        phases.append(serve.phases())
    results["stockroom serve until /health/ready"] = statistics.median(ready)
    for index, (label, _) in enumerate(PHASES):
        results[f"  serve: {label}, at"] = statistics.median(run[index] for run in phases)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=5, help="processes per measurement")
    parser.add_argument("--mode", choices=("with", "without", "both"), default="both")
    parser.add_argument("--stockroom", default=STOCKROOM, help="another checkout's command")
    args = parser.parse_args()
    modes = ("without", "with") if args.mode == "both" else (args.mode,)
    table: dict[str, dict[str, float]] = {}
    for mode in modes:
        with tempfile.TemporaryDirectory(prefix="stockroom-startup-") as workdir:
            table[mode] = measure(args.stockroom, mode, args.runs, Path(workdir))
    load = os.getloadavg()[0]
    print(f"median of {args.runs} runs; load average {load:.1f} on {os.cpu_count()} CPUs")
    print(f"| measurement | {' | '.join(f'{m} bytecode' for m in modes)} |")
    print(f"|---|{'---:|' * len(modes)}")
    for name in table[modes[0]]:
        print(f"| {name} | {' | '.join(f'{table[m][name]:.2f} s' for m in modes)} |")


if __name__ == "__main__":
    main()
