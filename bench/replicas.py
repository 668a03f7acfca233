"""Reads/s through one primary against a primary plus one streaming standby (read routing).

    uv run python -m bench.replicas [--rows 10000] [--duration 5] [--rounds 3] [--connections 32]

A throwaway primary and its `pg_basebackup -R` standby (tests/support/replication.py), N seeded
items, and two `stockroom serve` processes started once: one with only STOCKROOM_DATABASE_URL,
one with the standby in STOCKROOM_REPLICA_URLS. wrk drives GET /v1/items/{id} (random existing
ids) against each in turn, the two alternating round by round. Both servers are pinned to CPU 0,
both PostgreSQL clusters and wrk to CPU 1: on a 2-core machine this shows what the routing costs,
not what a standby on a machine of its own would add.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, NoReturn

import httpx
from prometheus_client.parser import text_string_to_metric_families

from bench.http.database import seed
from bench.http.processes import Service
from bench.http.wrk import Endpoint, Wrk, WrkResult, endpoints, require_wrk
from tests.support.ports import free_port
from tests.support.replication import ClusterPair, streaming_pair, transactions

#: The worktree's own install: the benchmark compares two settings, not two installs.
STOCKROOM: Final = str(Path(sys.executable).parent / "stockroom")
SERVER_CPU: Final = "0"
LOAD_CPU: Final = "1"
#: Both clusters: durability at PostgreSQL's defaults, room for two pools of 20 and the monitors.
CLUSTER_SETTINGS: Final = {"max_connections": "100", "shared_buffers": "128MB"}
PRIMARY_ONLY: Final = "primary only"
WITH_STANDBY: Final = "primary + 1 standby"
CAVEAT: Final = (
    "On a 2-core machine the primary, the standby, the server and wrk share two cores: this "
    "shows what the read routing costs, not a speed-up. A standby adds read capacity only on "
    "hardware of its own."
)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.replicas", description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000, help="items seeded (default 10000)")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per configuration")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    args = parser.parse_args(argv)
    if args.rows < 1 or args.duration < 1 or args.rounds < 1 or args.connections < 1:
        parser.error("--rows, --duration, --rounds and --connections must be positive")
    return args


@dataclass
class Configuration:
    name: str
    server: Service
    results: list[WrkResult] = field(default_factory=list)
    #: Reads the server counted by where they ran (stockroom_db_reads_total), over all rounds.
    reads: dict[str, float] = field(default_factory=lambda: {"primary": 0.0, "replica": 0.0})

    def median(self, attribute: str) -> float:
        return float(statistics.median(getattr(result, attribute) for result in self.results))


def metric_samples(server: Service, name: str) -> dict[str, float]:
    """`name`'s samples on the server's /metrics, by the value of their only label."""
    text = httpx.get(f"{server.url}/metrics", timeout=5).text
    return {
        next(iter(sample.labels.values()), ""): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    }


def wait_in_rotation(server: Service, replica: str, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if metric_samples(server, "stockroom_db_replica_in_rotation").get(replica) == 1.0:
            return
        time.sleep(0.2)
    raise RuntimeError(f"the standby {replica} not in rotation within {within}s")


def wait_replayed(pair: ClusterPair, rows: int, within: float = 60.0) -> None:
    """The seed (and its VACUUM ANALYZE) has reached the standby."""
    with pair.primary.connect(pair.database) as conn:
        row = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()
    assert row is not None
    target = row[0]
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with pair.standby.connect(pair.database) as conn:
            caught_up = conn.execute(
                "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn, (SELECT count(*) FROM items)",
                (target,),
            ).fetchone()
        if caught_up is not None and caught_up[0] and caught_up[1] == rows:
            return
        time.sleep(0.2)
    raise RuntimeError(f"the standby did not replay the seed within {within}s")


def wait_disconnected(pair: ClusterPair, within: float = 30.0) -> None:
    """No session on the standby's database is left (the harness's own use `postgres`)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with pair.standby.connect() as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (pair.database,)
            ).fetchone()
        if row is not None and row[0] == 0:
            return
        time.sleep(0.1)
    raise RuntimeError(f"sessions on the standby's {pair.database} outlived their server")


def start_server(name: str, env: dict[str, str], workdir: Path) -> Service:
    port = free_port()
    log(f"starting stockroom serve ({name}) on 127.0.0.1:{port}")
    return Service(
        name.replace(" ", "-").replace("+", "and"),
        [STOCKROOM, "serve", "--host", "127.0.0.1", "--port", str(port)],
        port=port,
        env=env,
        cwd=workdir,  # no stray .env from the repository
        cpu=SERVER_CPU,
        ready_path="/health/ready",
    )


def one_round(
    configuration: Configuration, wrk: Wrk, get: Endpoint, args: argparse.Namespace
) -> None:
    before = metric_samples(configuration.server, "stockroom_db_reads_total")
    result = wrk.run(
        configuration.server.url,
        get,
        seconds=args.duration,
        connections=args.connections,
        threads=1,
    )
    after = metric_samples(configuration.server, "stockroom_db_reads_total")
    for target in configuration.reads:
        configuration.reads[target] += after.get(target, 0.0) - before.get(target, 0.0)
    configuration.results.append(result)
    log(
        f"{configuration.name}: {result.rps:,.0f} reads/s, p50 {result.p50_ms:.2f} ms, "
        f"p99 {result.p99_ms:.2f} ms, errors {result.errors}"
    )


def report(
    configurations: list[Configuration],
    args: argparse.Namespace,
    standby_transactions: int,
    sent: float,
) -> str:
    lines = [
        f"Read replicas: GET /v1/items/{{id}}, {args.rows:,} items, wrk -t1 -c{args.connections}, "
        f"{args.rounds} rounds of {args.duration:g} s each, alternating; medians of the rounds",
        "",
        "| configuration | reads/s | p50 ms | p99 ms | rounds reads/s | reads on the primary "
        "| reads on the standby | errors |",
        "|---|---:|---:|---:|---|---:|---:|---:|",
    ]
    for configuration in configurations:
        rounds = " / ".join(f"{result.rps:,.0f}" for result in configuration.results)
        errors = sum(result.errors for result in configuration.results)
        lines.append(
            f"| {configuration.name} | {configuration.median('rps'):,.0f} "
            f"| {configuration.median('p50_ms'):.2f} | {configuration.median('p99_ms'):.2f} "
            f"| {rounds} | {configuration.reads['primary']:,.0f} "
            f"| {configuration.reads['replica']:,.0f} | {errors} |"
        )
    base, routed = (configuration.median("rps") for configuration in configurations)
    lines += [
        "",
        f"with the standby / primary only: {routed / base:.2f}",
        f"the standby's pg_stat_database since the servers started: {standby_transactions:,} "
        f"transactions, of which {sent:,.0f} reads the server sent there (the warm-up "
        "included); the rest are the replica monitor's polls (every 0.5 s)",
        "",
        CAVEAT,
    ]
    return "\n".join(lines)


def _terminate(signum: int, _: object) -> NoReturn:
    log(f"stopped by signal {signum}: stopping the servers and PostgreSQL")
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    wrk_binary = require_wrk()
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-replicas-")))
        log("starting a primary and its streaming standby")
        pair = stack.enter_context(streaming_pair("bench", settings=CLUSTER_SETTINGS, cpu=LOAD_CPU))
        log(f"seeding {args.rows:,} items on the primary")
        seeded = asyncio.run(seed(pair.primary.url(pair.database), args.rows))
        wait_replayed(pair, args.rows)

        env = {k: v for k, v in os.environ.items() if not k.startswith(("STOCKROOM_", "BENCH_"))}
        env |= {
            "STOCKROOM_DATABASE_URL": pair.primary.url(pair.database),
            "STOCKROOM_LOG_LEVEL": "WARNING",
            "STOCKROOM_SHUTDOWN_DRAIN": "0",
        }
        replica = f"127.0.0.1:{pair.standby.port}"
        wait_disconnected(pair)  # the replay check's session has flushed its counts
        standby_before = transactions(pair.standby, pair.database)
        configurations = []
        for name, extra in (
            (PRIMARY_ONLY, {}),
            (WITH_STANDBY, {"STOCKROOM_REPLICA_URLS": pair.standby.url(pair.database)}),
        ):
            server = start_server(name, env | extra, workdir)
            stack.callback(server.stop)
            server.wait_ready()
            configurations.append(Configuration(name, server))
        wait_in_rotation(configurations[1].server, replica)
        log(f"the standby {replica} is in rotation")

        wrk = Wrk(wrk_binary, workdir, seeded.ids, cpu=LOAD_CPU)
        get = next(endpoint for endpoint in endpoints("") if endpoint.key == "get")
        for configuration in configurations:  # warm-up, not counted
            wrk.run(
                configuration.server.url, get, seconds=1, connections=args.connections, threads=1
            )
        for number in range(1, args.rounds + 1):
            log(f"round {number} of {args.rounds}")
            for configuration in configurations:
                one_round(configuration, wrk, get, args)
        # Every read the standby ran, the warm-up included, to set against its own count.
        sent = metric_samples(configurations[1].server, "stockroom_db_reads_total")["replica"]
        # A backend flushes its statistics when it exits: stopping the servers ends theirs.
        for configuration in configurations:
            configuration.server.stop()
        wait_disconnected(pair)
        standby_transactions = transactions(pair.standby, pair.database) - standby_before
        print(report(configurations, args, standby_transactions, sent), flush=True)
        errors = sum(result.errors for c in configurations for result in c.results)
    return 3 if errors else 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:  # the servers and clusters are already stopped and removed
        log("interrupted")
        raise SystemExit(130) from None
