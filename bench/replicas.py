"""Reads/s through one primary against a primary plus one streaming standby (read routing).

    uv run python -m bench.replicas [--rows 10000] [--duration 5] [--rounds 3] [--connections 32]

Two `stockroom serve` processes on CPU 0, one with the standby in STOCKROOM_REPLICA_URLS; both
clusters and wrk on CPU 1; GET /v1/items/{id} on random ids, the two alternating round by round.
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
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import httpx
from prometheus_client.parser import text_string_to_metric_families

from bench.http.database import seed
from bench.http.processes import Service
from bench.http.wrk import Wrk, WrkResult, endpoints, require_wrk
from tests.support.ports import free_port
from tests.support.replication import ClusterPair, streaming_pair, transactions

STOCKROOM: Final = str(Path(sys.executable).parent / "stockroom")
CLUSTER_SETTINGS: Final = {"max_connections": "100", "shared_buffers": "128MB"}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass
class Configuration:
    name: str
    server: Service
    results: list[WrkResult] = field(default_factory=list)
    reads: dict[str, float] = field(default_factory=lambda: {"primary": 0.0, "replica": 0.0})

    def median(self, attribute: str) -> float:
        return float(statistics.median(getattr(result, attribute) for result in self.results))


def metric(server: Service, name: str) -> dict[str, float]:
    """`name`'s samples on the server's /metrics, by the value of their only label."""
    text = httpx.get(f"{server.url}/metrics", timeout=5).text
    return {
        next(iter(sample.labels.values()), ""): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    }


def wait_until(what: str, done: Callable[[], bool], within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while not done():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not within {within} s")
        time.sleep(0.2)


def replayed(pair: ClusterPair, rows: int) -> Callable[[], bool]:
    with pair.primary.connect(pair.database) as conn:
        row = conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()
    assert row is not None

    def check() -> bool:
        with pair.standby.connect(pair.database) as conn:
            state = conn.execute(
                "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn, (SELECT count(*) FROM items)",
                (row[0],),
            ).fetchone()
        return state is not None and state[0] and state[1] == rows

    return check


def disconnected(pair: ClusterPair) -> bool:
    """No session left on the standby's database: their statistics are flushed."""
    with pair.standby.connect() as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (pair.database,)
        ).fetchone()
    return row is not None and row[0] == 0


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.replicas", description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda signum, _: sys.exit(128 + signum))
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-replicas-")))
        log("starting a primary and its streaming standby")
        pair = stack.enter_context(streaming_pair("bench", settings=CLUSTER_SETTINGS, cpu="1"))
        seeded = asyncio.run(seed(pair.primary.url(pair.database), args.rows))
        wait_until("the standby replays the seed", replayed(pair, args.rows))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("STOCKROOM_", "BENCH_"))}
        env |= {
            "STOCKROOM_DATABASE_URL": pair.primary.url(pair.database),
            "STOCKROOM_LOG_LEVEL": "WARNING",
            "STOCKROOM_SHUTDOWN_DRAIN": "0",
        }
        wait_until("the replay check's session ends", lambda: disconnected(pair))
        standby_before = transactions(pair.standby, pair.database)
        configurations: list[Configuration] = []
        for name, extra in (
            ("primary only", {}),
            ("primary + 1 standby", {"STOCKROOM_REPLICA_URLS": pair.standby.url(pair.database)}),
        ):
            port = free_port()
            command = [STOCKROOM, "serve", "--host", "127.0.0.1", "--port", str(port)]
            server = Service(
                f"stockroom-{len(configurations)}",
                command,
                port=port,
                env=env | extra,
                cwd=workdir,
                cpu="0",
                ready_path="/health/ready",
            )
            stack.callback(server.stop)
            server.wait_ready()
            configurations.append(Configuration(name, server))
        replica = f"127.0.0.1:{pair.standby.port}"
        routed = configurations[1].server
        wait_until(
            "the standby in rotation",
            lambda: metric(routed, "stockroom_db_replica_in_rotation").get(replica) == 1.0,
        )

        wrk = Wrk(require_wrk(), workdir, seeded.ids, cpu="1")
        get = endpoints("")[0]
        for configuration in configurations:  # warm-up, not counted
            wrk.run(configuration.server.url, get, seconds=1, connections=args.connections)
        for _ in range(args.rounds):
            for c in configurations:
                before = metric(c.server, "stockroom_db_reads_total")
                result = wrk.run(
                    c.server.url, get, seconds=args.duration, connections=args.connections
                )
                after = metric(c.server, "stockroom_db_reads_total")
                for target in c.reads:
                    c.reads[target] += after.get(target, 0.0) - before.get(target, 0.0)
                c.results.append(result)
                log(f"{c.name}: {result.rps:,.0f} reads/s, p99 {result.p99_ms:.2f} ms")
        sent = metric(routed, "stockroom_db_reads_total")["replica"]
        for configuration in configurations:  # a backend flushes its statistics as it exits
            configuration.server.stop()
        wait_until("the servers' sessions end", lambda: disconnected(pair))
        standby_transactions = transactions(pair.standby, pair.database) - standby_before

    print(
        f"GET /v1/items/{{id}}, {args.rows:,} items, wrk -t1 -c{args.connections}, "
        f"{args.rounds} rounds of {args.duration:g} s, alternating; medians\n\n"
        "| configuration | reads/s | p50 ms | p99 ms | rounds reads/s | reads on the primary "
        "| reads on the standby | errors |\n|---|---:|---:|---:|---|---:|---:|---:|"
    )
    for c in configurations:
        print(
            f"| {c.name} | {c.median('rps'):,.0f} | {c.median('p50_ms'):.2f} "
            f"| {c.median('p99_ms'):.2f} | {' / '.join(f'{r.rps:,.0f}' for r in c.results)} "
            f"| {c.reads['primary']:,.0f} | {c.reads['replica']:,.0f} "
            f"| {sum(r.errors for r in c.results)} |"
        )
    print(
        f"\nwith the standby / primary only: "
        f"{configurations[1].median('rps') / configurations[0].median('rps'):.2f}; the "
        f"standby counted {standby_transactions:,} transactions, {sent:,.0f} of them reads the "
        "server sent there (the warm-up included), the rest the replica monitor's polls"
    )
    return 3 if any(r.errors for c in configurations for r in c.results) else 0


if __name__ == "__main__":
    sys.exit(main())
