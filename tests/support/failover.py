"""One failover under keyed write load, start to verdict: the failover tests and
bench/failover.py both drive it."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeVar

import psycopg

from tests.support.keyed_writes import Load, Verdict, check, create_counters, settle
from tests.support.patroni import PatroniCluster

T = TypeVar("T")
Fault = Literal["node", "postgres", "switchover"]
FAULTS: Final[tuple[Fault, ...]] = ("node", "postgres", "switchover")
#: Writes acknowledged after the fault before the load stops: the service is writing again.
WRITES_AFTER: Final = 40
#: How long the harness waits for anything before it gives up (far past any promised bound).
PATIENCE: Final = 90.0


def wait_for(check: Callable[[], object], *, within: float, what: str) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what}")
        time.sleep(0.1)


def inject(cluster: PatroniCluster, fault: Fault) -> str:
    """The fault on the current primary; returns the name of the node it hit."""
    leader = cluster.leader()
    if leader is None:
        raise AssertionError(f"no leader to fail: {cluster.members()}")
    if fault == "node":
        cluster.kill_node(leader)
    elif fault == "postgres":
        cluster.crash_postgres(leader)
    else:
        response = cluster.switchover(leader)
        if response.status_code != 200:
            raise AssertionError(f"switchover refused: {response.status_code} {response.text}")
    return leader.name


@dataclass
class Outcome:
    load: Load
    verdict: Verdict
    #: The longest time any server went without an acknowledged write, from the fault on.
    outage: float
    #: The node the fault hit.
    failed: str


def run_fault(
    cluster: PatroniCluster, base_urls: Sequence[str], fault: Fault, prefix: str = "HA"
) -> Outcome:
    """The load, the fault, writes back, the unknown outcomes settled, the ledger checked."""
    counters = create_counters(base_urls[0], prefix)
    load = Load(base_urls, counters, prefix=prefix)
    load.start()
    try:
        wait_for(lambda: load.acknowledged_since(0) > WRITES_AFTER, within=30, what="the load")
        started = time.monotonic()
        failed = inject(cluster, fault)
        # Counted from when the fault is complete (every process dead, the switchover done):
        # writes the old primary acknowledged while it was being killed are not "back".
        injected = time.monotonic()
        wait_for(
            lambda: load.acknowledged_since(injected) > WRITES_AFTER,
            within=PATIENCE,
            what="writes after the fault",
        )
        ended = time.monotonic()
    finally:
        load.finish()
    settle(base_urls[0], load.ledger)
    verdict = on_the_primary(cluster, lambda conn: check(conn, load.ledger, counters, prefix))
    return Outcome(load, verdict, load.ledger.longest_gap(started, ended), failed)


def on_the_primary(cluster: PatroniCluster, query: Callable[[psycopg.Connection[Any]], T]) -> T:
    """`query` on the node that is the primary now. Patroni's view lags the servers' by up to
    a loop: a node it still calls the leader may be restarting or already demoted."""
    deadline = time.monotonic() + PATIENCE
    while True:
        leader = cluster.wait_leader(within=PATIENCE)
        try:
            with leader.connect() as conn:
                row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
                if row is not None and not row[0]:
                    return query(conn)
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            raise AssertionError(f"no primary to check: {cluster.members()}")
        time.sleep(0.2)
