"""A schema change deployed under load: expand migration with a lock held on the table, then a
rolling restart onto the new release, fails no request; old and new releases serve side by side.

HAProxy (the deploy's configuration) in front of two `stockroom serve` processes on one database,
under a steady load of reads, creates and keyed stock adjustments; the clients never retry. The
"new release" is a copy of the code with a test expand revision past the project's head
(tests/migrations/release.py). Another session holds ACCESS SHARE on `items` (a transaction that
read it and stays open): reads and writes pass, DDL on the table waits, and a DDL statement that
waits makes every query behind it wait too.

A request queued behind the DDL for longer than the service's statement timeout fails (503), so
the clients' failures are the measure, not their latencies (which the machine's load decides):

- The negative control first: the same revision with its lock timeout switched off stalls the
  requests past their statement timeout, and they fail.
- Then the release step itself: it gives up on the lock (its lock timeout is well below the
  service's statement timeout), retries, and completes once the lock is gone, while the load sees
  no failure.
- Then each process is replaced by one of the new release; the old ones stay ready throughout.
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import httpx
import psycopg
import pytest

from infrastructure.db import migrator
from infrastructure.settings import Settings
from tests.faults.balancer import Balancer
from tests.faults.cluster import Database, wait_until
from tests.faults.helpers import Serve, new_item, service_env, start_all
from tests.migrations.release import EXPAND, build_release
from tests.servers import STOCKROOM, Server, environment
from tests.support.http import LOOPBACK_TLS

pytestmark = pytest.mark.slow

#: How long the other session holds its lock on `items` during the release step.
LOCK_HELD: Final = 20
DRAIN: Final = 4
GRACE: Final = 10
CLIENTS: Final = 4
#: Pacing between a client's requests: a steady load, not the most the machine can take (the
#: promise is about failed and queued requests, and the suite shares the machine's CPUs).
PAUSE: Final = 0.05
#: A request taking longer than this is a client timeout (a failure).
CLIENT_TIMEOUT: Final = 15
#: How long the negative control keeps its lock once requests queue behind the migration: past
#: the service's statement timeout.
STALL: Final = 2 * Settings.model_fields["statement_timeout"].default
#: Turns the runner's lock timeout off for the revision (the negative control's variant).
NO_LOCK_TIMEOUT: Final = {
    '    op.add_column("items"': '    op.execute("SET lock_timeout = 0")\n    op.add_column("items"'
}


@dataclass
class Load:
    """Clients through the balancer; when each request started, and every failure."""

    base_url: str
    counters: list[str]
    stop: threading.Event = field(default_factory=threading.Event)
    starts: list[float] = field(default_factory=list)
    failures: list[tuple[float, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def client(self, number: int) -> None:
        with httpx.Client(
            base_url=self.base_url, timeout=CLIENT_TIMEOUT, verify=LOOPBACK_TLS
        ) as client:
            n = 0
            while not self.stop.is_set():
                started = time.monotonic()
                try:
                    self.one(client, number, n)
                except httpx.TransportError as exc:  # timeouts included; no retry: a failure
                    self.failures.append((started, f"{type(exc).__name__}: {exc}"))
                with self.lock:
                    self.starts.append(started)
                n += 1
                time.sleep(PAUSE)

    def one(self, client: httpx.Client, number: int, n: int) -> None:
        key = {"Idempotency-Key": str(uuid.uuid4())}
        counter = self.counters[n % len(self.counters)]
        if n % 4 == 0:
            response = client.post("/v1/items", json=new_item(f"ON-{number}-{n}"), headers=key)
            self.expect(response, 201)
        elif n % 4 == 1:
            delta = 1 if n % 8 == 1 else -1
            response = client.post(
                f"/v1/items/{counter}/stock-adjustments", json={"delta": delta}, headers=key
            )
            self.expect(response, 200)
        else:
            self.expect(client.get(f"/v1/items/{counter}"), 200)

    def expect(self, response: httpx.Response, status: int) -> None:
        if response.status_code != status:
            elapsed = response.elapsed.total_seconds()
            self.failures.append(
                (
                    time.monotonic() - elapsed,
                    f"{response.request.method} {response.request.url.path}: "
                    f"{response.status_code} {response.text[:200]}",
                )
            )

    @property
    def requests(self) -> int:
        return len(self.starts)

    def started(self, since: float, until: float) -> int:
        """How many requests started in [since, until]."""
        with self.lock:
            return sum(since <= started <= until for started in self.starts)

    def failed(self, since: float, until: float) -> list[str]:
        """The failures of the requests started in [since, until]."""
        with self.lock:
            return [text for started, text in self.failures if since <= started <= until]


class ReadinessWatch:
    """Polls the old release's processes' /health/ready directly; anything but 200 is noted."""

    def __init__(self, servers: list[Server]) -> None:
        self.watched = {server.base_url for server in servers}
        self.bodies: list[dict[str, object]] = []
        self.problems: list[str] = []
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self.run)
        self.thread.start()

    def forget(self, server: Server) -> None:
        """It is told to stop: out of rotation from now on, as it should be."""
        with self.lock:
            self.watched.discard(server.base_url)

    def run(self) -> None:
        with httpx.Client(timeout=CLIENT_TIMEOUT, verify=LOOPBACK_TLS) as client:
            while not self.stop.wait(0.2):
                with self.lock:
                    urls = list(self.watched)
                for url in urls:
                    try:
                        response = client.get(f"{url}/health/ready")
                    except httpx.TransportError as exc:
                        self.problems.append(f"{url}: {type(exc).__name__}")
                        continue
                    with self.lock:
                        if url not in self.watched:
                            continue
                        if response.status_code != 200:
                            self.problems.append(f"{url}: {response.status_code} {response.text}")
                        else:
                            self.bodies.append(response.json())

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=CLIENT_TIMEOUT + 5)


@contextmanager
def items_locked(database: Database) -> Iterator[psycopg.Connection]:
    """A transaction that read `items` and stays open: ACCESS SHARE until it ends."""
    with psycopg.connect(database.cluster.dsn(database.name), application_name="locker") as conn:
        conn.execute("SELECT count(*) FROM items")
        try:
            yield conn
        finally:
            conn.rollback()


def release_step(url: str, release: Mapping[str, str], *args: str) -> subprocess.Popen[str]:
    """`stockroom db ...` as the new release runs it."""
    return subprocess.Popen(
        [STOCKROOM, "db", *args],
        env=environment({"STOCKROOM_DATABASE_URL": url, **release}),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finished(process: subprocess.Popen[str], within: float) -> tuple[int, str]:
    out, err = process.communicate(timeout=within)
    return process.returncode, out + err


def test_an_expand_migration_under_load_and_a_rolling_restart_fail_no_request(
    database: Database, serve: Serve, balancer: list[Balancer], tmp_path: Path
) -> None:
    release = build_release(tmp_path / "next", up_to=EXPAND)
    unguarded = build_release(tmp_path / "unguarded", up_to=EXPAND, edits=NO_LOCK_TIMEOUT)
    head = migrator.head_revision()
    assert head is not None
    old_env = service_env(database.url, shutdown_drain=str(DRAIN), shutdown_grace=str(GRACE))
    servers = start_all(serve, old_env, old_env)
    lb = Balancer(tmp_path, servers)
    balancer.append(lb)
    for i in range(len(servers)):
        lb.wait_status(f"s{i}", "UP", within=15)
    with httpx.Client(base_url=lb.base_url, timeout=10, verify=LOOPBACK_TLS) as setup:
        counters = [
            setup.post("/v1/items", json=new_item(f"counter-{i}", quantity=10_000))
            .raise_for_status()
            .json()["id"]
            for i in range(3)
        ]

    load = Load(lb.base_url, counters)
    watch = ReadinessWatch(servers)
    clients = [threading.Thread(target=load.client, args=(i,)) for i in range(CLIENTS)]
    for thread in clients:
        thread.start()
    try:
        wait_until(lambda: load.requests >= CLIENTS * 10, within=30, what="the load")

        # Negative control: without a lock timeout the migration waits for the lock, and every
        # request on `items` waits behind it until its statement timeout ends it.
        with items_locked(database):
            start = time.monotonic()
            step = release_step(database.url, unguarded, "upgrade")
            # Not any lock wait: the load's adjustments wait on each other's rows now and then.
            wait_until(database.waiting_on_a_table, within=30, what="requests queued behind DDL")
            time.sleep(STALL)
        code, output = finished(step, within=60)
        control = (start, time.monotonic())
        assert code == 0, output
        stalled = load.failed(*control)
        assert stalled, "no request waited behind the migration past its statement timeout"
        assert all(": 503 " in text for text in stalled), stalled[:5]
        code, output = finished(release_step(database.url, release, "downgrade", "--yes", head), 60)
        assert code == 0, output

        # The release step: the lock is held for LOCK_HELD seconds while it runs.
        with items_locked(database) as locker:
            start = time.monotonic()
            step = release_step(database.url, release, "upgrade")
            time.sleep(LOCK_HELD)
            assert step.poll() is None, "the migration ran although the lock was held"
            locker.rollback()
        code, output = finished(step, within=120)
        assert load.started(start, time.monotonic()) >= 100, "too little load to judge"
        assert code == 0, output
        assert "not granted its locks" in output, output
        assert f"database at {EXPAND}" in output, output
        assert not database.waiting_on_locks()

        # Rolling restart onto the new release, one process at a time.
        new_env = {**old_env, **release}
        for i, old in enumerate(list(servers)):
            servers[i] = serve(new_env, ready=False)
            watch.forget(old)
            old.process.send_signal(signal.SIGTERM)
            lb.wait_status(f"s{i}", "DOWN", within=DRAIN)
            assert old.process.wait(timeout=DRAIN + GRACE + 5) == 0, old.output()[-2000:]
            servers[i].wait_ready()
            lb.command(f"set server api/s{i} addr 127.0.0.1 port {servers[i].port}")
            lb.wait_status(f"s{i}", "UP", within=15)
        after = load.requests
        wait_until(lambda: load.requests > after + 100, within=30, what="load on the new release")
    finally:
        load.stop.set()
        for thread in clients:
            thread.join(timeout=CLIENT_TIMEOUT + 5)
        watch.close()

    # Only the negative control may have failed requests (those queued past their timeout).
    failures = [text for started, text in load.failures if not control[0] <= started <= control[1]]
    assert failures == [], failures[:20]
    # The old release was ready throughout, and said on what schema.
    assert watch.problems == [], watch.problems[:5]
    states = {str(body["schema"]) for body in watch.bodies}
    assert f"{{'revision': '{head}', 'state': 'at head'}}" in states, states
    assert f"{{'revision': '{EXPAND}', 'state': 'ahead by compatible revisions'}}" in states
    with httpx.Client(base_url=servers[0].base_url, verify=LOOPBACK_TLS) as client:
        assert client.get("/health/ready").json()["schema"] == {
            "revision": EXPAND,
            "state": "at head",
        }
