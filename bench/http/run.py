"""The HTTP benchmark: `stockroom serve` against a raw-asyncpg reference server, under wrk.

    uv run python -m bench.http.run [--rows 100000] [--duration 10] [--rounds 3]
                                    [--baseline-tree DIR]

A throwaway PostgreSQL 15, migrated and seeded; Stockroom installed as deployed (one worker) and
the reference server (reference_server.py) pinned to CPU 0, PostgreSQL and wrk on CPU 1. After
checking that both answer alike, wrk drives every endpoint, the servers one after the other
endpoint by endpoint in each round. With --baseline-tree, another revision of Stockroom runs as a
third server, loaded in each round at the same time as Stockroom on the CPU they share, so that a
shared machine's swings (a third of a server's rate from one run to the next) fall on both alike.
The markdown report goes to stdout and bench/results/latest.md.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, NoReturn

import httpx

from bench.http.database import Seed, seed, throwaway_database
from bench.http.processes import Service
from bench.http.wrk import Endpoint, Wrk, WrkResult, endpoints, require_wrk
from tests.support.ports import free_port

HERE: Final = Path(__file__).resolve().parent
REPO: Final = HERE.parents[1]
SERVER_CPU: Final = "0"
LOAD_CPU: Final = "1"
STOCKROOM, BASELINE, REFERENCE = "stockroom", "baseline", "reference"
#: Stockroom's runs side by side with the baseline's (its own runs are alone on the CPU).
BESIDE: Final = "stockroom beside baseline"
#: Stockroom's requests/s over the reference's; the list pages, one statement and fifty items
#: rendered, are where the reference's lead should be smallest.
MIN_RATIO, MIN_LIST_RATIO = 0.35, 0.45
MAX_P99_OVER_P50: Final = 3.0

Runs = dict[str, dict[str, list[WrkResult]]]


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Stockroom vs a raw-asyncpg reference, under wrk")
    parser.add_argument("--rows", type=int, default=100_000, help="items to seed")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measured run")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds before each run")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, the servers interleaved")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--endpoints", default="", help="a subset: get,list,list_deep,…")
    parser.add_argument(
        "--baseline-tree",
        type=Path,
        metavar="DIR",
        help="also serve Stockroom's packages from DIR (`git archive REV | tar -x -C DIR`) in "
        "every round: a change against its parent on the same load",
    )
    parser.add_argument("--output", type=Path, default=REPO / "bench" / "results" / "latest.md")
    args = parser.parse_args(argv)
    if args.rows < 1000:
        parser.error("--rows must be at least 1000")
    return args


def min_ratio(endpoint: Endpoint) -> float:
    return MIN_LIST_RATIO if endpoint.key.startswith("list") else MIN_RATIO


def production_install(workdir: Path) -> Path:
    """The project as deployed (locked dependencies, no dev group) in a venv of the run's own."""
    venv = workdir / "venv"
    uv = os.environ.get("UV") or shutil.which("uv") or "uv"
    env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(venv)}
    subprocess.run([uv, "sync", "--frozen", "--no-dev", "--quiet"], cwd=REPO, env=env, check=True)
    return venv / "bin" / "stockroom"


def start_servers(
    args: argparse.Namespace, url: str, workdir: Path, stack: ExitStack
) -> dict[str, Service]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STOCKROOM_", "BENCH_"))}
    env["STOCKROOM_DATABASE_URL"] = url
    stockroom = str(production_install(workdir))
    reference = [sys.executable, str(HERE / "reference_server.py"), "--database-url", url]
    plans = {STOCKROOM: ([stockroom, "serve"], env, "/health/ready")}
    if args.baseline_tree is not None:
        baseline_env = {**env, "PYTHONPATH": str(args.baseline_tree.resolve())}
        # Live, not ready: an older release may not know the newer revisions of this schema.
        plans[BASELINE] = ([stockroom, "serve"], baseline_env, "/health/live")
    plans[REFERENCE] = (reference, dict(os.environ), "/health/live")
    servers = {}
    for name, (command, server_env, ready) in plans.items():
        port = free_port()
        log(f"starting {name} on 127.0.0.1:{port}")
        servers[name] = Service(
            name,
            [*command, "--port", str(port)],
            port=port,
            env=server_env,
            cwd=workdir,  # no stray .env from the repository
            cpu=SERVER_CPU,
            ready_path=ready,
        )
        stack.callback(servers[name].stop)
    for service in servers.values():
        service.wait_ready()
    return servers


def parity(stockroom: Service, reference: Service, seeded: Seed, deep: str) -> list[str]:
    """Same status, headers and bytes on reads; same status and fields on writes."""
    problems = []
    clients = httpx.Client(base_url=stockroom.url), httpx.Client(base_url=reference.url)
    ids = seeded.ids
    for path in (f"/v1/items/{ids[0]}", "/v1/items?limit=50", f"/v1/items?limit=50&cursor={deep}"):
        s, r = (client.get(path) for client in clients)
        if (s.status_code, s.content) != (200, r.content) or r.status_code != 200:
            problems.append(f"GET {path}: {s.status_code} {s.content[:200]!r} vs {r.status_code}")
        for header in ("etag", "link", "content-type"):
            if s.headers.get(header) != r.headers.get(header):
                problems.append(f"GET {path}: {header} differs")
    writes: list[tuple[str, str, dict[str, Any] | None]] = [
        ("PATCH", f"/v1/items/{ids[1]}", {"name": "Parity"}),
        ("POST", f"/v1/items/{ids[2]}/stock-adjustments", {"delta": 1}),
        ("POST", "/v1/items", {"sku": "PARITY-{}", "name": "P", "price": 1, "quantity": 2}),
        ("GET", f"/v1/items/{'0' * 32}", None),
    ]
    for method, path, body in writes:
        answers = []
        for n, client in enumerate(clients):
            sent = body and {k: v.format(n) if k == "sku" else v for k, v in body.items()}
            response = client.request(method, path, json=sent)
            answers.append((response.status_code, list(response.json())))
        if answers[0] != answers[1]:
            problems.append(f"{method} {path}: {answers[0]} vs {answers[1]}")
    for client in clients:
        client.close()
    return problems


def load(
    args: argparse.Namespace, servers: dict[str, Service], wrk: Wrk, chosen: list[Endpoint]
) -> Runs:
    def measured(service: Service, endpoint: Endpoint) -> WrkResult:
        wrk.run(service.url, endpoint, seconds=args.warmup, connections=args.connections)
        before = service.cpu_seconds()
        result = wrk.run(service.url, endpoint, seconds=args.duration, connections=args.connections)
        return replace(result, server_cpu_s=service.cpu_seconds() - before)

    runs: Runs = {}
    with ThreadPoolExecutor(2) as pool:
        for number in range(1, args.rounds + 1):
            for endpoint in chosen:
                results = {
                    name: measured(service, endpoint)
                    for name, service in servers.items()
                    if name != BASELINE
                }
                if BASELINE in servers:
                    pair = [
                        pool.submit(measured, servers[n], endpoint) for n in (STOCKROOM, BASELINE)
                    ]
                    results[BESIDE], results[BASELINE] = (future.result() for future in pair)
                for name, result in results.items():
                    runs.setdefault(name, {}).setdefault(endpoint.key, []).append(result)
                    log(
                        f"round {number} {name:9} {endpoint.label:38} {result.rps:7,.0f} req/s  "
                        f"p50 {result.p50_ms:6.2f} ms  p99 {result.p99_ms:6.2f} ms  "
                        f"CPU {result.cpu_us_per_request:5,.0f} us/req  errors {result.errors}"
                    )
    return runs


def median(runs: Runs, server: str, key: str, attr: str) -> float:
    results = runs.get(server, {}).get(key, [])
    return statistics.median(getattr(r, attr) for r in results) if results else math.nan


def _f(value: float, digits: int = 0) -> str:
    return "—" if math.isnan(value) else f"{value:,.{digits}f}"


def report(runs: Runs, chosen: list[Endpoint], config: dict[str, str], flagged: list[str]) -> str:
    out = ["# Stockroom HTTP benchmark", "", *(f"- {k}: {v}" for k, v in config.items()), ""]
    out += [
        "## Medians over the rounds",
        "",
        "| endpoint | Stockroom req/s | p50 ms | p99 ms | CPU µs/req | reference req/s | p50 ms "
        "| p99 ms | CPU µs/req | ratio S/R | target | S p99/p50 | errors S / R |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|:-:|---:|---:|",
    ]
    for ep in chosen:

        def m(server: str, attr: str, key: str = ep.key) -> float:
            return median(runs, server, key, attr)

        ratio = m(STOCKROOM, "rps") / m(REFERENCE, "rps")
        tail = m(STOCKROOM, "p99_ms") / m(STOCKROOM, "p50_ms")
        errors = [sum(r.errors for r in runs[s].get(ep.key, [])) for s in (STOCKROOM, REFERENCE)]
        out.append(
            f"| `{ep.label}` | {_f(m(STOCKROOM, 'rps'))} | {_f(m(STOCKROOM, 'p50_ms'), 2)} "
            f"| {_f(m(STOCKROOM, 'p99_ms'), 2)} | {_f(m(STOCKROOM, 'cpu_us_per_request'))} "
            f"| {_f(m(REFERENCE, 'rps'))} | {_f(m(REFERENCE, 'p50_ms'), 2)} "
            f"| {_f(m(REFERENCE, 'p99_ms'), 2)} | {_f(m(REFERENCE, 'cpu_us_per_request'))} "
            f"| {_f(ratio, 2)} | {'✅' if ratio >= min_ratio(ep) else '❌'} ≥ {min_ratio(ep)} "
            f"| {_f(tail, 1)} | {errors[0]} / {errors[1]} |"
        )
    if BASELINE in runs:
        out += [
            "",
            "## Stockroom against the baseline, loaded together on their shared CPU",
            "",
            "| endpoint | baseline req/s | Stockroom req/s | baseline CPU µs/req "
            "| Stockroom CPU µs/req | CPU change, median of the rounds' pairs |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for ep in chosen:
            pairs = zip(runs[BASELINE][ep.key], runs[BESIDE][ep.key], strict=True)
            change = statistics.median(
                s.cpu_us_per_request / b.cpu_us_per_request - 1 for b, s in pairs
            )
            out.append(
                f"| `{ep.label}` | {_f(median(runs, BASELINE, ep.key, 'rps'))} "
                f"| {_f(median(runs, BESIDE, ep.key, 'rps'))} "
                f"| {_f(median(runs, BASELINE, ep.key, 'cpu_us_per_request'))} "
                f"| {_f(median(runs, BESIDE, ep.key, 'cpu_us_per_request'))} | {change:+.1%} |"
            )
    out += ["", "## Errors and parity", ""]
    out += [f"- {p}" for p in flagged] or ["None: no error, and the checked answers matched."]
    return "\n".join(out) + "\n"


def run(args: argparse.Namespace, workdir: Path, stack: ExitStack) -> tuple[str, int]:
    started = time.monotonic()
    log("starting a throwaway PostgreSQL cluster")
    database = stack.enter_context(throwaway_database(cpu=LOAD_CPU))
    from application.listing import Cursor, Sort  # noqa: PLC0415  (the service's own encoding)
    from infrastructure.db import migrator  # noqa: PLC0415

    migrator.upgrade(database.url)
    log(f"seeding {args.rows:,} items")
    seeded = asyncio.run(seed(database.url, args.rows))
    created_at, item_id = seeded.deep_after
    deep = Cursor(sort=Sort.CREATED_AT, value=created_at, id=item_id).encode()
    chosen = [
        e for e in endpoints(deep) if not args.endpoints or e.key in args.endpoints.split(",")
    ]
    servers = start_servers(args, database.url, workdir, stack)
    flagged = parity(servers[STOCKROOM], servers[REFERENCE], seeded, deep)
    runs = load(args, servers, Wrk(require_wrk(), workdir, seeded.ids, cpu=LOAD_CPU), chosen)
    flagged += [
        f"{server} {key}: {sum(r.errors for r in results)} non-2xx or socket errors"
        for server, by_key in runs.items()
        for key, results in by_key.items()
        if any(r.errors for r in results)
    ]
    config = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "uv run python -m bench.http.run " + " ".join(sys.argv[1:]),
        "machine": f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the end",
        "seed": f"{args.rows:,} items in {seeded.seconds:.1f} s",
        "load": f"wrk -t1 -c{args.connections}, {args.warmup:g} s warm-up + {args.duration:g} s, "
        f"{args.rounds} rounds, servers on CPU {SERVER_CPU}, PostgreSQL and wrk on CPU {LOAD_CPU}",
        "RSS after the load": ", ".join(f"{n} {s.rss_mib():.1f} MiB" for n, s in servers.items()),
        "took": f"{(time.monotonic() - started) / 60:.1f} min",
    }
    if args.baseline_tree is not None:
        config["baseline"] = f"Stockroom's packages from {args.baseline_tree}"
    for ep in chosen:
        ratio = median(runs, STOCKROOM, ep.key, "rps") / median(runs, REFERENCE, ep.key, "rps")
        tail = median(runs, STOCKROOM, ep.key, "p99_ms") / median(runs, STOCKROOM, ep.key, "p50_ms")
        if ratio < min_ratio(ep) or tail > MAX_P99_OVER_P50:
            log(f"target missed: {ep.label}: ratio {ratio:.2f}, p99/p50 {tail:.1f}")
    return report(runs, chosen, config, flagged), 3 if flagged else 0


def _terminate(signum: int, _: object) -> NoReturn:
    raise SystemExit(128 + signum)  # unwinds the stack: servers and PostgreSQL stop


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="stockroom-bench-")))
        text, status = run(args, workdir, stack)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    print(text)
    if status:
        log("RUN FLAGGED: see 'Errors and parity'")
    return status


if __name__ == "__main__":
    sys.exit(main())
