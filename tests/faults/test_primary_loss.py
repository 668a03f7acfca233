"""What the service does while its primary fails over, with the states a Patroni cluster passes
through played by a real primary and its hot standby: every host a standby, a server refusing
connections while it starts or stops, a connection left on a demoted primary, a COMMIT waiting
for a synchronous standby, a read on a standby cancelled by replay."""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any, Final

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from application.errors import CommitOutcomeUnknown, DataStoreUnavailable
from domain.item import Item, NewItem
from infrastructure.db.engine import build_engine, command_timeout
from infrastructure.db.errors import NO_PRIMARY_DEMOTED, NO_PRIMARY_STANDBYS, NO_PRIMARY_STARTING
from infrastructure.db.replicas import Replica, ReplicaSet
from infrastructure.db.unit_of_work import SqlUnitOfWork
from infrastructure.settings import Settings
from interfaces.http.replica_metrics import ReplicaCollector
from tests.api.helpers import client_with
from tests.api.test_unusable_database import assert_unusable
from tests.faults.cluster import SETTINGS
from tests.support.cluster import Cluster, find_binary, run_as_owner
from tests.support.replication import ClusterPair, streaming_pair

pytestmark = pytest.mark.db

#: The bound a test gives a statement or a COMMIT of its own: the harness's, not a request's.
BOUND: Final = 30.0


@pytest.fixture(scope="module")
def pair() -> Iterator[ClusterPair]:
    # A standby that cancels a conflicting read at once instead of delaying replay for it.
    with streaming_pair(
        "failover", settings={**SETTINGS, "max_standby_streaming_delay": "0"}
    ) as pair:
        yield pair


def settings_for(url: str, **values: Any) -> Settings:
    return Settings(database_url=url, _env_file=None, **values)


@pytest.fixture
async def primary(pair: ClusterPair) -> AsyncIterator[AsyncEngine]:
    url = pair.primary.url(pair.database)
    engine = build_engine(url, settings_for(url, statement_timeout=BOUND))
    yield engine
    await engine.dispose()


def new_item(sku: str) -> Item:
    return Item.create(NewItem.parse({"sku": sku, "name": "Widget", "price": "1.00"}))


def count_sku(cluster: Cluster, database: str, sku: str) -> int:
    with cluster.connect(database) as conn:
        row = conn.execute("SELECT count(*) FROM items WHERE sku = %s", (sku,)).fetchone()
    assert row is not None
    return int(row[0])


async def write(unit: SqlUnitOfWork, item: Item | str) -> None:
    async with unit as uow:
        await uow.items.add(new_item(item) if isinstance(item, str) else item)
        await uow.commit()


def eventually(condition: Any, what: str, within: float = BOUND) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {within}s: {what}")
        time.sleep(0.05)


async def test_every_host_a_standby_is_no_primary_and_503(
    pair: ClusterPair, capsys: pytest.CaptureFixture[str]
) -> None:
    """A multi-host URL that asks for the primary while every host is a standby (mid-failover)."""
    port = pair.standby.port
    url = (
        f"postgresql+asyncpg://postgres:unused-secret@/{pair.database}"
        f"?host=127.0.0.1:{port}&host=127.0.0.1:{port}&target_session_attrs=read-write"
    )
    async for client in client_with(url, connect_timeout=2):
        await assert_unusable(client, NO_PRIMARY_STANDBYS, capsys, "unused-secret")


def start_smart_shutdown(cluster: Cluster) -> None:
    subprocess.run(
        [find_binary("pg_ctl"), "--pgdata", str(cluster.pgdata), "-m", "smart", "-W", "stop"],
        check=True,
        capture_output=True,
        timeout=30,
        **run_as_owner(),
    )


async def test_a_server_refusing_connections_while_it_stops_is_no_primary_and_503(
    pair: ClusterPair, capsys: pytest.CaptureFixture[str]
) -> None:
    """A smart shutdown waits for the sessions it has and refuses new ones (SQLSTATE 57P03),
    as a node does while Patroni restarts or demotes it."""
    standby = pair.standby
    try:
        with standby.connect(pair.database):  # holds the shutdown open
            await asyncio.to_thread(start_smart_shutdown, standby)
            url = standby.url(pair.database).replace("postgres@", "postgres:unused-secret@")
            async for client in client_with(url, connect_timeout=2):
                await assert_unusable(client, NO_PRIMARY_STARTING, capsys, "unused-secret")
    finally:
        eventually(lambda: not standby.running, "the standby to stop")
        standby.start()


async def test_a_write_on_a_demoted_primary_is_503_and_drops_the_pool(pair: ClusterPair) -> None:
    """Connections opened before a failover still lead to the old primary, now a standby: the
    write is unavailable, and the pool is replaced so the next ones look for the new primary."""
    url = pair.standby.url(pair.database)
    engine = build_engine(url, settings_for(url))
    try:
        async with SqlUnitOfWork(engine) as first, SqlUnitOfWork(engine) as second:
            await first.items.get(uuid.uuid4())  # two pooled connections to the demoted node
            await second.items.get(uuid.uuid4())
        pool = engine.pool
        assert pool.checkedin() == 2  # type: ignore[attr-defined]

        async def write() -> None:
            async with SqlUnitOfWork(engine) as uow:
                await uow.items.add(new_item("demoted-1"))
                await uow.commit()

        with pytest.raises(DataStoreUnavailable) as failure:
            await write()
        assert failure.value.reason == NO_PRIMARY_DEMOTED
        assert engine.pool is not pool  # the old pool's connections are gone with it
        assert pool.checkedin() == 0  # type: ignore[attr-defined]
    finally:
        await engine.dispose()


async def test_a_commit_waiting_for_a_synchronous_standby_is_never_cancelled(
    pair: ClusterPair,
) -> None:
    """Past its bound (the service's own) the COMMIT's outcome is unknown, and the client
    closed its connection rather than cancel the wait, which would have committed locally
    without replicating."""
    url = pair.primary.url(pair.database)
    settings = settings_for(url)
    engine = build_engine(url, settings)
    with pair.primary.connect() as conn:
        conn.execute("ALTER SYSTEM SET synchronous_standby_names = 'nobody'")
        conn.execute("SELECT pg_reload_conf()")
    item = new_item("sync-1")
    try:
        with pytest.raises(CommitOutcomeUnknown):
            await write(SqlUnitOfWork(engine, commit_timeout=command_timeout(settings)), item)
        # Still waiting for a synchronous standby: not visible, not given up.
        assert count_sku(pair.primary, pair.database, item.sku) == 0
        with pair.primary.connect() as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'SyncRep'"
            ).fetchone()
        assert row is not None
        assert row[0] == 1
    finally:
        await engine.dispose()
        with pair.primary.connect() as conn:
            conn.execute("ALTER SYSTEM RESET synchronous_standby_names")
            conn.execute("SELECT pg_reload_conf()")
    # Once a standby acknowledges (none is required now), the commit completes; a cancel
    # would have ended the wait long before, and the server says so in its log.
    eventually(lambda: count_sku(pair.primary, pair.database, item.sku) == 1, "the commit")
    assert "canceling wait for synchronous replication" not in pair.primary.log_tail(200)


async def test_a_write_whose_connection_is_lost_before_commit_is_unavailable_not_unknown(
    pair: ClusterPair, primary: AsyncEngine
) -> None:
    """Nothing was committed: a plain 503, which a client may retry without wondering."""

    async def write_then_lose_the_connection() -> None:
        async with SqlUnitOfWork(primary) as uow:
            await uow.items.add(new_item("lost-1"))
            pid = await uow.fetchval("SELECT pg_backend_pid()", write=True)
            with pair.primary.connect() as conn:
                conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
            driver = await uow.driver(write=True)
            for _ in range(200):  # bounded: the server's goodbye arrives within milliseconds
                if driver.is_closed():
                    break
                await asyncio.sleep(0.05)
            await uow.commit()

    with pytest.raises(DataStoreUnavailable) as failure:
        await write_then_lose_the_connection()
    assert not isinstance(failure.value, CommitOutcomeUnknown)
    assert count_sku(pair.primary, pair.database, "LOST-1") == 0


async def test_a_read_cancelled_by_recovery_on_a_standby_runs_on_the_primary(
    pair: ClusterPair, primary: AsyncEngine
) -> None:
    url = pair.standby.url(pair.database)
    standby = Replica(
        "standby",
        url,
        build_engine(url, settings_for(url, statement_timeout=BOUND)),
        replayed=2**62,
        checked_at=time.monotonic(),
        in_recovery=True,
        lag=0.0,
        problem="",
    )
    replicas = ReplicaSet([standby], max_lag=60.0)
    sql = "SELECT count(*) FROM items CROSS JOIN pg_sleep(1)"  # holds its lock on items a while

    async def read() -> Any:
        async with SqlUnitOfWork(primary, replicas=replicas).read_only() as uow:
            return await uow.fetchval(sql)

    def sleeping_on_the_standby() -> bool:
        with pair.standby.connect(pair.database) as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep'"
            ).fetchone()
        return row is not None and row[0] == 1

    try:
        reading = asyncio.create_task(read())
        await asyncio.to_thread(eventually, sleeping_on_the_standby, "the read on the standby")
        with pair.primary.connect(pair.database) as conn, conn.transaction():
            conn.execute("LOCK TABLE items IN ACCESS EXCLUSIVE MODE")  # replayed: a conflict
        with pair.primary.connect(pair.database) as conn:
            row = conn.execute("SELECT count(*) FROM items").fetchone()
        assert row is not None
        assert await reading == row[0]
        assert replicas.reads == {"primary": 1, "replica": 0}
        assert standby.problem == ""  # a conflict is no failure of the standby
    finally:
        await standby.engine.dispose()


async def test_metrics_count_a_failover_and_the_time_writes_were_unavailable(
    pair: ClusterPair, primary: AsyncEngine
) -> None:
    """Writes lose their primary (here, a connection left on a demoted one), then commit on
    the new one: one failover seen, and the time between counted."""
    replicas = ReplicaSet([], max_lag=1.0)
    url = pair.standby.url(pair.database)
    demoted = build_engine(url, settings_for(url))
    try:
        with pytest.raises(DataStoreUnavailable):
            await write(SqlUnitOfWork(demoted, replicas=replicas), "metrics-1")
    finally:
        await demoted.dispose()
    assert (replicas.writes.failovers, replicas.writes.unavailable_seconds > 0) == (0, True)
    await write(SqlUnitOfWork(primary, replicas=replicas), "metrics-2")
    exported = {
        sample.name: sample.value
        for metric in ReplicaCollector(lambda: replicas).collect()
        for sample in metric.samples
    }
    assert exported["stockroom_db_failovers_total"] == 1
    assert exported["stockroom_db_writes_unavailable_seconds_total"] > 0
