"""Read replicas with real streaming replication: a primary, a `pg_basebackup -R` standby that
applies each commit 200 ms late (so a read the routing sends there too early really is stale),
and real `stockroom serve` processes reading from it."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Final

import httpx
import pytest

from tests.faults.cluster import SETTINGS
from tests.faults.helpers import Serve, new_item, service_env, start_all
from tests.servers import Server
from tests.support.cluster import Cluster
from tests.support.replication import ClusterPair, streaming_pair, transactions

pytestmark = pytest.mark.db

MAX_LAG: Final = "1.0"
#: The standby applies every commit this late: without read-your-writes a read right after a
#: write, if sent to the standby, misses it.
APPLY_DELAY: Final = "200ms"
SESSION: Final = "Stockroom-Session"


def replica_env(pair: ClusterPair) -> dict[str, str | None]:
    """A `stockroom serve` on the primary with the standby as its replica."""
    return service_env(
        pair.primary.url(pair.database),
        replica_urls=pair.standby.url(pair.database),
        replica_max_lag=MAX_LAG,
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
    text = httpx.get(f"{server.base_url}/metrics", timeout=5).text
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
        assert httpx.get(f"{server.base_url}{path}", timeout=5).status_code in (200, 404)
        return replica_reads(server) > before

    return check


def test_reads_are_served_by_the_standby(replicated: ClusterPair, serve: Serve) -> None:
    server = serve(replica_env(replicated))
    with httpx.Client(base_url=server.base_url, timeout=5) as client:
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
    with httpx.Client(base_url=server.base_url, timeout=5) as client:
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
    item = httpx.post(f"{writer.base_url}/v1/items", json=new_item("token-0"), timeout=5).json()
    path = f"/v1/items/{item['id']}"
    eventually(in_rotation(reader, path), 10, "the reader's standby is in rotation")
    with (
        httpx.Client(base_url=writer.base_url, timeout=5) as write,
        httpx.Client(base_url=reader.base_url, timeout=5) as read,
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
    item = httpx.post(f"{writer.base_url}/v1/items", json=new_item("paused-0"), timeout=5).json()
    eventually(in_rotation(reader, f"/v1/items/{item['id']}"), 10, "the standby in rotation")
    with replicated.standby.connect() as conn:
        conn.execute("SELECT pg_wal_replay_pause()")
    created = httpx.post(f"{writer.base_url}/v1/items", json=new_item("paused-1"), timeout=5)
    path = f"/v1/items/{created.json()['id']}"
    # Without a token the reader may lag, but by no more than the bound (plus a poll).
    eventually(
        lambda: httpx.get(f"{reader.base_url}{path}", timeout=5).status_code == 200,
        float(MAX_LAG) + 2,
        "the reader sees the write once the paused standby is too far behind",
    )
    assert metric(reader, "stockroom_db_replica_in_rotation", _replica_label(replicated)) == 0
    served = replica_reads(reader)
    for _ in range(50):
        assert httpx.get(f"{reader.base_url}{path}", timeout=5).status_code == 200
    assert replica_reads(reader) == served  # all from the primary while replay is paused
    with replicated.standby.connect() as conn:
        conn.execute("SELECT pg_wal_replay_resume()")
    eventually(in_rotation(reader, path), 10, "the standby back in rotation after resuming")


def test_a_stopped_standby_costs_no_read(replicated: ClusterPair, serve: Serve) -> None:
    server = serve(replica_env(replicated))
    with httpx.Client(base_url=server.base_url, timeout=5) as client:
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
        httpx.Client(base_url=writer.base_url, timeout=5) as write,
        httpx.Client(base_url=reader.base_url, timeout=5) as read,
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
