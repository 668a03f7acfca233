"""The change feed under concurrent writers: read while they write, it equals the committed set,
with no gap and no repeat. The control reads the same workload by event id alone (`id > last`)
and misses events: transactions take their ids at INSERT and commit in another order."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid4

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from application.events import FeedPosition
from domain.item import Item, NewItem
from infrastructure.db.engine import build_engine
from infrastructure.db.unit_of_work import SqlUnitOfWork
from infrastructure.settings import Settings

pytestmark = pytest.mark.db

WRITERS = 32
TRANSACTIONS_PER_WRITER = 6
#: Seconds a writer keeps a transaction open after its INSERT, at most (random below it).
LONGEST_HOLD = 0.25
#: How long a statement may take here: the harness's bound, not a request's.
QUEUE_BOUND = 60.0


@pytest.fixture
async def wide_engine(database_url: str, settings: Settings) -> AsyncIterator[AsyncEngine]:
    """A pool with a connection for every writer and the reader, and the harness's patience
    (tests/conftest.py): on a loaded machine thirty-odd connections opened at once, and their
    statements, are slow, and what this test checks is the feed's order, not how fast it comes."""
    patient = {"pool_size": WRITERS + 4, "statement_timeout": QUEUE_BOUND}
    engine = build_engine(database_url, settings.model_copy(update=patient))
    yield engine
    await engine.dispose()


@dataclass
class Workload:
    committed: set[UUID] = field(default_factory=set)
    rolled_back: set[UUID] = field(default_factory=set)


async def _writer(engine: AsyncEngine, number: int, workload: Workload, rng: random.Random) -> None:
    run = uuid4().hex[:8]  # the database outlives one test: each run's skus are its own
    for round_ in range(TRANSACTIONS_PER_WRITER):
        items = [
            Item.create(
                NewItem.parse({"sku": f"W{run}-{number}-{round_}-{k}", "name": "n", "price": "1"})
            )
            for k in range(rng.randint(1, 3))
        ]
        async with SqlUnitOfWork(engine) as uow:
            await uow.items.add_many(items)
            await asyncio.sleep(rng.uniform(0, LONGEST_HOLD))  # its ids taken, not committed
            if rng.random() < 0.1:
                workload.rolled_back.update(item.id for item in items)
                continue  # leaves the block uncommitted: rolled back
            await uow.commit()
        workload.committed.update(item.id for item in items)


Reader = Callable[[Any], Awaitable[list[tuple[Any, UUID]]]]


async def _feed_reader(engine: AsyncEngine, start: FeedPosition | None) -> Reader:
    """The service's reader: commit-safe order from `start`."""
    cursor = start

    async def read(_: Any) -> list[tuple[Any, UUID]]:
        nonlocal cursor
        async with SqlUnitOfWork(engine).read_only() as uow:
            entries = await uow.events.read(cursor, 100)
        if entries:
            cursor = entries[-1].position
        return [(entry.position, entry.event.item_id) for entry in entries]

    return read


async def _sequence_reader(engine: AsyncEngine, start: FeedPosition | None) -> Reader:
    """The control: event ids alone, as a plain sequence cursor reads them."""
    last = 0
    if start is not None:
        last = start.id

    async def read(_: Any) -> list[tuple[Any, UUID]]:
        nonlocal last
        async with SqlUnitOfWork(engine).read_only() as uow:
            connection = await uow.driver(write=False)
            rows = await connection.fetch(
                "SELECT id, item_id FROM item_events WHERE id > $1 ORDER BY id LIMIT 100", last
            )
        if rows:
            last = rows[-1][0]
        return [(row[0], UUID(str(row[1]))) for row in rows]

    return read


async def _end_of_feed(engine: AsyncEngine) -> FeedPosition | None:
    end = None
    async with SqlUnitOfWork(engine).read_only() as uow:
        while entries := await uow.events.read(end, 1000):
            end = entries[-1].position
    return end


async def _settled(engine: AsyncEngine, start: FeedPosition | None, count: int) -> None:
    for _ in range(300):
        async with SqlUnitOfWork(engine).read_only() as uow:
            if len(await uow.events.read(start, count + 1)) >= count:
                return
        await asyncio.sleep(0.1)


async def _run(
    engine: AsyncEngine, make_reader: Callable[..., Awaitable[Reader]]
) -> tuple[Workload, list[UUID]]:
    start = await _end_of_feed(engine)
    read = await make_reader(engine, start)
    workload = Workload()
    rng = random.Random()
    seen: list[UUID] = []
    # A task group: should a writer fail, the others are cancelled and their connections handed
    # back before the engine goes, rather than left running into the next test.
    async with asyncio.TaskGroup() as group:
        writers = [
            group.create_task(_writer(engine, n, workload, random.Random(rng.random())))
            for n in range(WRITERS)
        ]
        while not all(writer.done() for writer in writers):  # read again and again meanwhile
            seen += [item_id for _, item_id in await read(None)]
            await asyncio.sleep(0.002)
    # Then to the end, once every committed event can show: events show when every
    # transaction older than theirs has ended on the whole server (other tests run on its
    # other databases), so wait for that with a reader of its own, within bounds.
    await _settled(engine, start, len(workload.committed))
    while page := await read(None):
        seen += [item_id for _, item_id in page]
    return workload, seen


async def test_the_feed_read_during_concurrent_writes_is_exactly_the_committed_set(
    wide_engine: AsyncEngine,
) -> None:
    workload, seen = await _run(wide_engine, _feed_reader)
    assert len(seen) == len(set(seen)), "an event was read twice"
    assert not set(seen) & workload.rolled_back, "an event of a rolled-back write was read"
    assert set(seen) == workload.committed, f"{len(workload.committed - set(seen))} events missed"


async def test_control_a_sequence_cursor_misses_late_commits(wide_engine: AsyncEngine) -> None:
    """The same workload read by id alone: what the commit-safe reader above is proven against.
    This passing shows the workload does commit out of order, so the test above can fail."""
    workload, seen = await _run(wide_engine, _sequence_reader)
    assert len(seen) == len(set(seen))
    missed = workload.committed - set(seen)
    assert missed, "the sequence cursor saw every event: the workload did not interleave"
