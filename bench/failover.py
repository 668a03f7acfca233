"""RTO and RPO of a primary failover under keyed write load, on the host Patroni cluster.

    uv run python -m bench.failover [--runs 5] [--fault node postgres switchover]

For each fault: three Patroni nodes on etcd with synchronous replication
(tests/support/patroni.py), two `stockroom serve` processes on the multi-host URL with every
node as a read replica, six clients sending keyed creates and stock adjustments
(tests/support/keyed_writes.py). Each run injects the fault on the current primary, waits for
writes to flow again, settles the unknown outcomes by retrying with the same key, and checks
the ledger against the new primary; then the cluster is made whole again (a killed node is
restarted and rejoins) before the next run.

RTO: the longest time a server went without an acknowledged write, from the fault on.
RPO: acknowledged writes missing afterwards. Also counted: writes doubled, writes answered
"refused" that were in fact written, stock arithmetic off, and answers other than 2xx or 503
with Retry-After.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.servers import Server
from tests.support.failover import FAULTS, PATIENCE, Fault, run_fault
from tests.support.patroni import PatroniCluster, patroni_cluster

DESCRIPTIONS = {
    "node": "the primary's node killed (Patroni and PostgreSQL, SIGKILL)",
    "postgres": "PostgreSQL alone killed on the primary (Patroni alive)",
    "switchover": "planned switchover (Patroni REST /switchover)",
}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass
class Runs:
    fault: Fault
    outages: list[float] = field(default_factory=list)
    lost: list[int] = field(default_factory=list)
    doubled: list[int] = field(default_factory=list)
    refused_written: list[int] = field(default_factory=list)
    arithmetic: list[int] = field(default_factory=list)
    bad_answers: list[int] = field(default_factory=list)
    acknowledged: list[int] = field(default_factory=list)
    unknown: list[int] = field(default_factory=list)


def restore(cluster: PatroniCluster, failed: str) -> None:
    """A killed node restarted; every run starts from a healthy three-node cluster."""
    node = cluster.node(failed)
    if node.process is None or node.process.poll() is not None:
        cluster.start_node(node)
    cluster.wait_healthy(within=PATIENCE)


def measure(fault: Fault, runs: int, workdir: Path) -> Runs:
    result = Runs(fault)
    with patroni_cluster() as cluster:
        servers = []
        try:
            for _ in range(2):
                env = {
                    "STOCKROOM_DATABASE_URL": cluster.url(),
                    "STOCKROOM_REPLICA_URLS": cluster.replica_urls(),
                    "STOCKROOM_LOG_LEVEL": "WARNING",
                }
                servers.append(Server(env, workdir=workdir))
            for server in servers:
                server.wait_ready()
            for run in range(1, runs + 1):
                outcome = run_fault(
                    cluster, [s.base_url for s in servers], fault, prefix=f"{fault.upper()}{run}"
                )
                ledger, verdict = outcome.load.ledger, outcome.verdict
                result.outages.append(outcome.outage)
                result.lost.append(len(verdict.lost))
                result.doubled.append(len(verdict.duplicated))
                result.refused_written.append(len(verdict.unexpected))
                result.arithmetic.append(len(verdict.arithmetic))
                result.bad_answers.append(len(ledger.violations))
                result.acknowledged.append(len(ledger.acknowledged()))
                result.unknown.append(sum(1 for w in ledger.writes.values() if w.retries))
                log(
                    f"{fault} run {run}: no writes for {outcome.outage:.1f} s, "
                    f"{len(verdict.lost)} lost, {len(verdict.duplicated)} doubled, "
                    f"answers {dict(sorted(ledger.answers.items()))}"
                )
                restore(cluster, outcome.failed)
        finally:
            for server in servers:
                server.kill()
    return result


def table(results: Sequence[Runs]) -> str:
    lines = [
        "| fault | runs | RTO: time without writes (s), each run | median | max "
        "| RPO: acknowledged writes lost | doubled | written though refused "
        "| answers other than 2xx / 503 + Retry-After | writes acknowledged per run "
        "| unknown outcomes settled by retry |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {DESCRIPTIONS[r.fault]} | {len(r.outages)} "
            f"| {', '.join(f'{o:.1f}' for o in r.outages)} "
            f"| {statistics.median(r.outages):.1f} | {max(r.outages):.1f} "
            f"| {sum(r.lost)} | {sum(r.doubled)} | {sum(r.refused_written)} "
            f"| {sum(r.bad_answers)} | {min(r.acknowledged)} to {max(r.acknowledged)} "
            f"| {sum(r.unknown)} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.failover", description=__doc__)
    parser.add_argument("--runs", type=int, default=5, help="runs per fault (default 5)")
    parser.add_argument(
        "--fault", nargs="+", choices=FAULTS, default=list(FAULTS), help="faults to measure"
    )
    args = parser.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory(prefix="stockroom-bench-failover-") as workdir:
        for fault in args.fault:
            log(f"{fault}: {args.runs} runs")
            results.append(measure(fault, args.runs, Path(workdir)))
    print(table(results))


if __name__ == "__main__":
    main()
