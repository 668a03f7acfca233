"""Read replicas with real streaming replication: a primary, a `pg_basebackup -R` standby that
applies each commit 200 ms late (so a read the routing sends there too early really is stale),
and real `stockroom serve` processes reading from it."""

from __future__ import annotations

import itertools
import re
import threading
import time
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import Any, Final, Self

import httpx
import pytest

from tests.faults.cluster import SETTINGS, PgBouncer
from tests.faults.helpers import Serve, new_item, service_env, start_all
from tests.servers import Server
from tests.support.cluster import Cluster
from tests.support.http import LOOPBACK_TLS
from tests.support.replication import (
    ClusterPair,
    frozen,
    reads_waiting_on_a_lock,
    streaming_pair,
    transactions,
)

pytestmark = pytest.mark.db

MAX_LAG: Final = "1.0"
#: The standby applies every commit this late: without read-your-writes a read right after a
#: write, if sent to the standby, misses it.
APPLY_DELAY: Final = "200ms"
SESSION: Final = "Stockroom-Session"


def replica_env(
    pair: ClusterPair, *, standby_port: int | None = None, **settings: str
) -> dict[str, str | None]:
    """A `stockroom serve` on the primary with the standby (or `standby_port`) as its replica."""
    return service_env(
        pair.primary.url(pair.database),
        replica_urls=pair.standby.url(pair.database, port=standby_port),
        replica_max_lag=MAX_LAG,
        **settings,
    )


@pytest.fixture(scope="module")
def replication() -> Iterator[ClusterPair]:
    with streaming_pair("replicas", settings=SETTINGS, apply_delay=APPLY_DELAY) as pair:
        yield pair


def _replaying(standby: Cluster) -> None:
    standby.ensure_running()
    with standby.connect() as conn:
        conn.execute("SELECT pg_wal_replay_resume()")


@pytest.fixture
def replicated(replication: ClusterPair) -> Iterator[ClusterPair]:
    """The standby running and replaying, whatever the test before did to it."""
    _replaying(replication.standby)
    yield replication
    _replaying(replication.standby)


def metric(server: Server, name: str, labels: str) -> float:
    text = httpx.get(f"{server.base_url}/metrics", timeout=5, verify=LOOPBACK_TLS).text
    found = re.search(rf"^{re.escape(name)}\{{{re.escape(labels)}\}} (\S+)$", text, re.M)
    assert found is not None, f"{name}{{{labels}}} not in /metrics"
    return float(found[1])


def replica_reads(server: Server) -> float:
    return metric(server, "stockroom_db_reads_total", 'target="replica"')


def eventually(condition: Callable[[], bool], within: float, what: str) -> None:
    """Poll until `condition` holds: a bounded wait for the monitor, not a speed assertion."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"not within {within}s: {what}")


def in_rotation(server: Server, path: str) -> Callable[[], bool]:
    """True once a read of `path` was served by the standby (which may not have it yet)."""

    def check() -> bool:
        before = replica_reads(server)
        assert httpx.get(
            f"{server.base_url}{path}", timeout=5, verify=LOOPBACK_TLS
        ).status_code in (200, 404)
        return replica_reads(server) > before

    return check


def test_reads_are_served_by_the_standby(replicated: ClusterPair, serve: Serve) -> None:
    server = serve(replica_env(replicated))
    with httpx.Client(base_url=server.base_url, timeout=5, verify=LOOPBACK_TLS) as client:
        created = client.post("/v1/items", json=new_item("replica-1"))
        assert created.status_code == 201
        assert SESSION in created.headers
        path = f"/v1/items/{created.json()['id']}"
        eventually(in_rotation(server, path), 10, "the standby serves reads")

        standby_before = transactions(replicated.standby, replicated.database)
        primary_before = transactions(replicated.primary, replicated.database)
        served_before = replica_reads(server)
        for _ in range(200):
            response = client.get(path)
            assert response.status_code == 200
            assert response.json() == created.json()
        assert replica_reads(server) - served_before >= 190  # a poll may see lag for a moment

        # The databases' own counts (each backend flushes its own): the standby ran the reads.
        eventually(
            lambda: transactions(replicated.standby, replicated.database) - standby_before >= 150,
            12,  # an idle backend may hold its counts up to 10 s
            "the standby's pg_stat_database counts the reads",
        )
        assert transactions(replicated.primary, replicated.database) - primary_before < 100
        assert metric(server, "stockroom_db_replica_lag_seconds", _replica_label(replicated)) >= 0


def _replica_label(replication: ClusterPair) -> str:
    return f'replica="127.0.0.1:{replication.standby.port}"'


def test_a_process_reads_its_own_writes(replicated: ClusterPair, serve: Serve) -> None:
    server = serve(replica_env(replicated))
    with httpx.Client(base_url=server.base_url, timeout=5, verify=LOOPBACK_TLS) as client:
        item = client.post("/v1/items", json=new_item("own-0")).json()
        for number in range(1, 101):
            created = client.post("/v1/items", json=new_item(f"own-{number}"))
            assert created.status_code == 201
            fetched = client.get(f"/v1/items/{created.json()['id']}")
            assert fetched.status_code == 200, number
            assert fetched.json() == created.json()
        for number in range(100):
            changed = client.patch(f"/v1/items/{item['id']}", json={"name": f"Name {number}"})
            assert changed.status_code == 200
            fetched = client.get(f"/v1/items/{item['id']}")
            assert fetched.json()["version"] == changed.json()["version"], number


def test_the_session_token_carries_a_write_to_another_process(
    replicated: ClusterPair, serve: Serve
) -> None:
    writer, reader = start_all(serve, replica_env(replicated), replica_env(replicated))
    item = httpx.post(
        f"{writer.base_url}/v1/items", json=new_item("token-0"), timeout=5, verify=LOOPBACK_TLS
    ).json()
    path = f"/v1/items/{item['id']}"
    eventually(in_rotation(reader, path), 10, "the reader's standby is in rotation")
    with (
        httpx.Client(base_url=writer.base_url, timeout=5, verify=LOOPBACK_TLS) as write,
        httpx.Client(base_url=reader.base_url, timeout=5, verify=LOOPBACK_TLS) as read,
    ):
        for number in range(1, 101):
            created = write.post("/v1/items", json=new_item(f"token-{number}"))
            token = created.headers[SESSION]
            fetched = read.get(f"/v1/items/{created.json()['id']}", headers={SESSION: token})
            assert fetched.status_code == 200, number
        for number in range(100):
            changed = write.patch(path, json={"name": f"Name {number}"})
            fetched = read.get(path, headers={SESSION: changed.headers[SESSION]})
            assert fetched.json()["version"] == changed.json()["version"], number
        # A token that cannot be read cannot be shown to be satisfied: the primary answers.
        assert (
            read.get(path, headers={SESSION: "not-an-lsn"}).json()["version"]
            == (changed.json()["version"])
        )


def test_a_paused_standby_leaves_the_rotation(replicated: ClusterPair, serve: Serve) -> None:
    writer, reader = start_all(serve, replica_env(replicated), replica_env(replicated))
    item = httpx.post(
        f"{writer.base_url}/v1/items", json=new_item("paused-0"), timeout=5, verify=LOOPBACK_TLS
    ).json()
    eventually(in_rotation(reader, f"/v1/items/{item['id']}"), 10, "the standby in rotation")
    with replicated.standby.connect() as conn:
        conn.execute("SELECT pg_wal_replay_pause()")
    created = httpx.post(
        f"{writer.base_url}/v1/items", json=new_item("paused-1"), timeout=5, verify=LOOPBACK_TLS
    )
    path = f"/v1/items/{created.json()['id']}"
    # Without a token the reader may lag, but by no more than the bound (plus a poll).
    eventually(
        lambda: (
            httpx.get(f"{reader.base_url}{path}", timeout=5, verify=LOOPBACK_TLS).status_code == 200
        ),
        float(MAX_LAG) + 2,
        "the reader sees the write once the paused standby is too far behind",
    )
    assert metric(reader, "stockroom_db_replica_in_rotation", _replica_label(replicated)) == 0
    served = replica_reads(reader)
    for _ in range(50):
        assert (
            httpx.get(f"{reader.base_url}{path}", timeout=5, verify=LOOPBACK_TLS).status_code == 200
        )
    assert replica_reads(reader) == served  # all from the primary while replay is paused
    with replicated.standby.connect() as conn:
        conn.execute("SELECT pg_wal_replay_resume()")
    eventually(in_rotation(reader, path), 10, "the standby back in rotation after resuming")


def test_a_stopped_standby_costs_no_read(replicated: ClusterPair, serve: Serve) -> None:
    server = serve(replica_env(replicated))
    with httpx.Client(base_url=server.base_url, timeout=5, verify=LOOPBACK_TLS) as client:
        item = client.post("/v1/items", json=new_item("stopped-0")).json()
        path = f"/v1/items/{item['id']}"
        eventually(in_rotation(server, path), 10, "the standby in rotation")
        replicated.standby.stop("fast")
        for _ in range(100):
            assert client.get(path).status_code == 200
            assert client.get("/v1/items").status_code == 200
        # Ready follows the primary; the stopped standby is reported, out of rotation.
        eventually(
            lambda: not client.get("/health/ready").json()["replicas"][0]["in_rotation"],
            5,
            "readiness to report the standby out of rotation",
        )
        ready = client.get("/health/ready")
        assert ready.status_code == 200
        assert ready.json()["replicas"][0]["problem"]
        replicated.standby.start()
        eventually(in_rotation(server, path), 10, "the standby back in rotation")
        eventually(
            lambda: client.get("/health/ready").json()["replicas"][0]["in_rotation"],
            5,
            "readiness to report the standby back in rotation",
        )


def test_idempotent_replays_and_conditional_writes_are_unaffected(
    replicated: ClusterPair, serve: Serve
) -> None:
    writer, reader = start_all(serve, replica_env(replicated), replica_env(replicated))
    key = {"Idempotency-Key": "replicas-create-1"}
    with (
        httpx.Client(base_url=writer.base_url, timeout=5, verify=LOOPBACK_TLS) as write,
        httpx.Client(base_url=reader.base_url, timeout=5, verify=LOOPBACK_TLS) as read,
    ):
        first = write.post("/v1/items", json=new_item("idem-1"), headers=key)
        replay = read.post("/v1/items", json=new_item("idem-1"), headers=key)
        assert first.status_code == replay.status_code == 201
        assert replay.json() == first.json()
        path = f"/v1/items/{first.json()['id']}"
        fetched = read.get(path, headers={SESSION: replay.headers[SESSION]})
        assert fetched.json() == first.json()

        stale = first.headers["etag"]
        changed = write.patch(path, json={"name": "Changed"}, headers={"If-Match": stale})
        assert changed.status_code == 200
        refused = read.patch(path, json={"name": "Again"}, headers={"If-Match": stale})
        assert refused.status_code == 412
        fetched = read.get(path, headers={SESSION: changed.headers[SESSION]})
        assert fetched.json() == changed.json()


#: What a process logs when a read its standby failed is run again on the primary.
FALLBACK_LOG: Final = "running it on the primary"


def reads_to_check(server: Server, sku_prefix: str, count: int) -> dict[str, Any]:
    """Items created through `server` and the answers to their GETs and list pages, each read
    once the standby serves reads: what every later read of them must answer."""
    with httpx.Client(base_url=server.base_url, timeout=5, verify=LOOPBACK_TLS) as client:
        items = [
            client.post("/v1/items", json=new_item(f"{sku_prefix}-{n}")).json()
            for n in range(count)
        ]
        paths = [f"/v1/items/{item['id']}" for item in items]
        eventually(in_rotation(server, paths[-1]), 10, "the standby in rotation")
        first_page = f"/v1/items?q={sku_prefix}-&limit=2"
        paths.append(first_page)
        paths.append(f"{first_page}&cursor={client.get(first_page).json()['next_cursor']}")
        return {path: client.get(path).json() for path in paths}


class ReadStream:
    """Clients reading through `server` back to back until the block ends: item GETs and list
    pages, each answer compared with `expected`. Every failure is kept, none is retried."""

    def __init__(self, server: Server, expected: dict[str, Any], clients: int = 3) -> None:
        self._server = server
        self._expected = expected
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._read, args=(n,)) for n in range(clients)]
        self.answered = 0
        self.failures: list[str] = []

    def __enter__(self) -> Self:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)

    def _read(self, offset: int) -> None:
        paths = list(self._expected)
        with httpx.Client(
            base_url=self._server.base_url, timeout=10, verify=LOOPBACK_TLS
        ) as client:
            for turn in itertools.count(offset):
                if self._stop.is_set():
                    return
                path = paths[turn % len(paths)]
                try:
                    response = client.get(path)
                except httpx.HTTPError as error:
                    failure: str | None = f"{path}: {error!r}"
                else:
                    failure = None
                    if response.status_code != 200:
                        failure = f"{path}: {response.status_code} {response.text[:200]}"
                    elif response.json() != self._expected[path]:
                        failure = f"{path}: another answer {response.text[:200]}"
                with self._lock:
                    self.answered += 1
                    if failure is not None:
                        self.failures.append(failure)

    def answer(self, count: int, within: float, what: str) -> None:
        """Wait until `count` more reads are answered (well or not)."""
        target = self.answered + count
        eventually(lambda: self.answered >= target, within, what)


def test_a_frozen_standby_costs_no_read(replicated: ClusterPair, serve: Serve) -> None:
    """A standby that stops answering (SIGSTOP: its connections stay open, no timeout of its
    own fires) with reads on their way to it: they are answered from the primary."""
    server = serve(replica_env(replicated))
    _freeze_under_reads(replicated, server, "frozen", _replica_label(replicated))


@pytest.fixture
def standby_pgbouncer(replicated: ClusterPair) -> Iterator[PgBouncer]:
    bouncer = PgBouncer(replicated.standby)
    try:
        bouncer.start()
        yield bouncer
    finally:
        bouncer.stop()


def test_a_frozen_standby_behind_pgbouncer_costs_no_read(
    replicated: ClusterPair, standby_pgbouncer: PgBouncer, serve: Serve
) -> None:
    """The same behind PgBouncer, where every read is a transaction of its own: the read may
    be waiting at its BEGIN, or its ROLLBACK, when the standby stops answering."""
    server = serve(replica_env(replicated, standby_port=standby_pgbouncer.port, pgbouncer="true"))
    label = f'replica="127.0.0.1:{standby_pgbouncer.port}"'
    _freeze_under_reads(replicated, server, "silent-bouncer", label)


def _freeze_under_reads(pair: ClusterPair, server: Server, sku_prefix: str, label: str) -> None:
    expected = reads_to_check(server, sku_prefix, 5)
    with ReadStream(server, expected) as stream:
        stream.answer(30, 10, "the stream to read")
        with frozen(pair.standby):
            eventually(
                lambda: metric(server, "stockroom_db_replica_in_rotation", label) == 0,
                5,
                "the frozen standby out of rotation",
            )
            stream.answer(50, 20, "reads to be answered while the standby is frozen")
        served = replica_reads(server)
        eventually(lambda: replica_reads(server) > served, 10, "the standby back in rotation")
        stream.answer(30, 10, "reads to be answered once it is back")
    assert stream.failures == []
    assert FALLBACK_LOG in server.output()  # reads were in flight on the frozen standby


def test_a_standby_killed_under_reads_costs_no_read(replicated: ClusterPair, serve: Serve) -> None:
    """A standby stopped at once (every backend killed) while reads wait on it: they are
    answered from the primary.

    Reads are held in flight on the standby by a lock: the primary's ACCESS EXCLUSIVE lock on
    the table is replayed on the standby, where reads of it wait. The same lock holds the
    reads run again on the primary until it is released, right after the standby is gone.
    The statement timeout is longer than that wait, so no read is cancelled meanwhile.
    """
    server = serve(replica_env(replicated, statement_timeout="10"))
    expected = reads_to_check(server, "killed", 5)
    with ReadStream(server, expected) as stream:
        stream.answer(30, 10, "the stream to read")
        served = replica_reads(server)
        eventually(lambda: replica_reads(server) > served, 5, "the stream reading the standby")
        with replicated.primary.connect(replicated.database) as lock, lock.transaction():
            lock.execute("LOCK TABLE items IN ACCESS EXCLUSIVE MODE")
            with replicated.primary.connect() as conn:  # WAL is sent once flushed: flush it
                conn.execute("SELECT pg_switch_wal()")
            eventually(
                lambda: reads_waiting_on_a_lock(replicated.standby) > 0,
                5,
                "reads waiting on the standby",
            )
            replicated.standby.stop("immediate")
        stream.answer(50, 20, "reads to be answered once the standby is gone")
    assert stream.failures == []
    assert FALLBACK_LOG in server.output()
