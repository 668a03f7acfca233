"""What only the SQL unit of work does: its pool, its per-transaction settings, and its reads on
a standby that fails them.

What every unit of work does (commit, rollback) is in tests/contract, run against this one too.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool

from application.errors import DataStoreUnavailable
from domain.errors import DuplicateSku
from domain.item import Item, NewItem
from infrastructure.db.engine import build_engine, transaction_setup
from infrastructure.db.replicas import POSITION_UNKNOWN, Replica, ReplicaSet
from infrastructure.db.unit_of_work import SqlUnitOfWork
from infrastructure.settings import Settings

UowFactory = Callable[[], SqlUnitOfWork]


def new_item(sku: str) -> Item:
    return Item.create(NewItem.parse({"sku": sku, "name": "Widget", "price": "1.00"}))


async def test_using_the_unit_of_work_outside_its_block_is_an_error(
    uow_factory: UowFactory,
) -> None:
    uow = uow_factory()
    with pytest.raises(RuntimeError, match="outside"):
        await uow.commit()


async def test_every_unit_hands_its_connection_back_to_the_pool(
    uow_factory: UowFactory, engine: AsyncEngine
) -> None:
    item = new_item("uow-5")
    async with uow_factory() as uow:  # a read: no transaction at all
        assert await uow.items.get(item.id) is None
    async with uow_factory() as uow:  # a committed write
        await uow.items.add(item)
        await uow.commit()
    with pytest.raises(DuplicateSku):  # a failed write, rolled back
        async with uow_factory() as uow:
            await uow.items.add(item)
    async with uow_factory() as uow:
        driver = await uow.driver(write=False)
        assert not driver.is_in_transaction()
    assert isinstance(engine.pool, QueuePool)
    assert engine.pool.checkedout() == 0


async def test_an_overflow_connection_returned_to_a_full_pool_is_closed(
    database_url: str, settings: Settings
) -> None:
    """Returning a connection to a full pool closes it, which awaits (connection.py hands
    the others back without a greenlet): with one overflow connection, two units that end
    together leave one connection open on the server, not two."""
    sized = settings.model_copy(update={"pool_size": 1, "pool_max_overflow": 1})
    engine = build_engine(database_url, sized, application_name="uow-overflow")
    count_open = text(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'uow-overflow'"
    )
    try:
        async with AsyncExitStack() as units:
            for _ in range(2):  # each in a transaction on a connection of its own
                uow = await units.enter_async_context(SqlUnitOfWork(engine))
                await uow.driver(write=True)
        assert isinstance(engine.pool, QueuePool)
        assert (engine.pool.checkedout(), engine.pool.checkedin()) == (0, 1)
        async with engine.connect() as connection:  # the pooled one: it counts itself
            assert (await connection.execute(count_open)).scalar_one() == 1
    finally:
        await engine.dispose()


async def test_behind_pgbouncer_every_unit_sets_its_timeouts_in_its_own_transaction(
    engine: AsyncEngine, settings: Settings
) -> None:
    """Transaction pooling keeps no session state, so each unit of work, reads included,
    begins a transaction and sets the timeouts in it (engine.py, connection.py)."""
    behind_pgbouncer = settings.model_copy(update={"pgbouncer": True, "statement_timeout": 0.7})
    setup = transaction_setup(behind_pgbouncer)
    show = "SELECT current_setting('statement_timeout')"
    async with SqlUnitOfWork(engine, transaction_setup=setup) as uow:
        driver = await uow.driver(write=False)
        assert driver.is_in_transaction()
        assert await driver.fetchval(show) == "700ms"
    # Set locally: gone with the transaction.
    async with SqlUnitOfWork(engine) as uow:
        driver = await uow.driver(write=False)
        assert not driver.is_in_transaction()
        assert await driver.fetchval(show) == "1500ms"


STANDBY_APPLICATION = "stockroom-standby"


@pytest.fixture
async def standby(database_url: str, settings: Settings) -> AsyncIterator[ReplicaSet]:
    """The test database named a second time, as a standby: its own pool, under its own
    application name, in rotation as its monitor would find it (no monitor runs here)."""
    replica = Replica(
        "standby",
        database_url,
        build_engine(database_url, settings, application_name=STANDBY_APPLICATION),
        replayed=2**62,
        checked_at=time.monotonic(),
        in_recovery=True,
        lag=0.0,
        problem="",
    )
    yield ReplicaSet([replica], max_lag=60.0)
    await replica.engine.dispose()


async def _waiting_on_a_lock(engine: AsyncEngine, application_name: str) -> bool:
    async with engine.connect() as conn:
        waiting = await conn.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = :name"
                " AND wait_event_type = 'Lock' AND datname = current_database()"
            ),
            {"name": application_name},
        )
    return bool(waiting)


async def test_a_read_in_flight_on_a_standby_taken_out_runs_again_on_the_primary(
    engine: AsyncEngine, standby: ReplicaSet
) -> None:
    """Held in flight on the standby by a lock, the read is ended when the standby leaves the
    rotation, and its unit runs it on the primary, where it waits for the same lock."""
    item = new_item("uow-standby-1")
    async with SqlUnitOfWork(engine) as uow:
        await uow.items.add(item)
        await uow.commit()
    replica = standby.replicas[0]

    async def read() -> Item | None:
        async with SqlUnitOfWork(engine, replicas=standby).read_only() as uow:
            return await uow.items.get(item.id)

    async with engine.connect() as lock:
        await lock.exec_driver_sql("LOCK TABLE items IN ACCESS EXCLUSIVE MODE")
        reading = asyncio.create_task(read())
        for _ in range(100):  # bounded: the read reaches the lock within milliseconds
            if await _waiting_on_a_lock(engine, STANDBY_APPLICATION):
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the read never waited on the standby")
        assert len(replica.readers) == 1
        standby.take_out(replica, "silent")  # as the monitor does when a poll goes unanswered
        assert not replica.readers
        await lock.rollback()
    assert await reading == item
    assert standby.reads == {"primary": 1, "replica": 0}  # served by the primary
    assert replica.problem == "silent"


async def test_a_read_whose_standby_connection_is_lost_runs_on_the_primary(
    engine: AsyncEngine, standby: ReplicaSet
) -> None:
    item = new_item("uow-standby-2")
    async with SqlUnitOfWork(engine) as uow:
        await uow.items.add(item)
        await uow.commit()
    async with SqlUnitOfWork(engine, replicas=standby).read_only() as uow:
        (await uow.driver(write=False)).terminate()  # the standby's connection, gone
        assert await uow.items.get(item.id) == item
    assert standby.reads == {"primary": 1, "replica": 0}
    assert standby.replicas[0].problem  # out of rotation until its monitor sees it again
    async with SqlUnitOfWork(engine, replicas=standby).read_only() as uow:
        assert await uow.items.get(item.id) == item
    assert standby.reads == {"primary": 2, "replica": 0}


async def test_a_read_whose_primary_connection_is_lost_fails_as_before(
    database_url: str, settings: Settings
) -> None:
    """Only a standby's failure is hidden: on the primary a lost connection is an outage."""
    engine = build_engine(database_url, settings)  # its own: an outage drops the engine's pool

    async def read() -> None:
        async with SqlUnitOfWork(engine).read_only() as uow:
            (await uow.driver(write=False)).terminate()
            await uow.items.get(new_item("uow-standby-3").id)

    try:
        with pytest.raises(DataStoreUnavailable):
            await read()
    finally:
        await engine.dispose()


async def test_behind_pgbouncer_a_standby_lost_at_rollback_keeps_the_answer(
    engine: AsyncEngine, standby: ReplicaSet, settings: Settings
) -> None:
    """Behind PgBouncer a read is a transaction: its answer is read before the ROLLBACK, so a
    standby lost only then takes the standby out and fails nothing."""
    setup = transaction_setup(settings.model_copy(update={"pgbouncer": True}))
    item = new_item("uow-standby-4")
    async with SqlUnitOfWork(engine) as uow:
        await uow.items.add(item)
        await uow.commit()
    async with SqlUnitOfWork(engine, transaction_setup=setup, replicas=standby).read_only() as uow:
        assert await uow.items.get(item.id) == item
        (await uow.driver(write=False)).terminate()
    assert standby.reads == {"primary": 0, "replica": 1}
    assert standby.replicas[0].problem


async def test_a_write_whose_connection_goes_right_after_commit_stands_and_reads_use_the_primary(
    engine: AsyncEngine, standby: ReplicaSet
) -> None:
    """COMMIT answered, then the connection lost before the write's WAL position is read (a
    primary failing over): the write is acknowledged, not refused, and no standby is trusted
    with this process's reads until the primary's position is sampled again."""
    item = new_item("uow-after-commit")
    async with SqlUnitOfWork(engine, replicas=standby) as uow:
        await uow.items.add(item)
        await uow.commit()
        (await uow.driver(write=False)).terminate()  # the committed write's connection
    async with SqlUnitOfWork(engine) as uow:
        assert await uow.items.get(item.id) == item
    assert standby.written == POSITION_UNKNOWN
    standby.sampled_primary(42)
    assert standby.written == 42
