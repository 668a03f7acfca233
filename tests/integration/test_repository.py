"""What only the SQL repository does: exact mapping, row locks under concurrency, timeouts.

What every repository does is in tests/contract, run against this one too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Final

import pytest

from application.errors import DataStoreUnavailable
from application.use_cases import AdjustStock
from domain.errors import (
    InsufficientStock,
)
from domain.item import Item, NewItem
from infrastructure.db.engine import build_engine
from infrastructure.db.errors import unavailable_on_outage
from infrastructure.db.unit_of_work import SqlUnitOfWork
from infrastructure.settings import Settings

UowFactory = Callable[[], SqlUnitOfWork]


def new_item(sku: str, **extra: object) -> Item:
    return Item.create(NewItem.parse({"sku": sku, "name": "Widget", "price": "1.00", **extra}))


async def store(uow_factory: UowFactory, *items: Item) -> None:
    async with uow_factory() as uow:
        await uow.items.add_many(items)
        await uow.commit()


async def test_an_item_round_trips_exactly(uow_factory: UowFactory) -> None:
    item = new_item("rt-1", description="ünïcode ✓", price="9999999999.99", quantity=2**31 - 1)
    await store(uow_factory, item)
    async with uow_factory() as uow:
        loaded = await uow.items.get(item.id)
    assert loaded == item
    assert loaded is not None
    assert type(loaded.id) is type(item.id)
    assert loaded.created_at.tzinfo is not None


#: How long a connect, a statement or a pool checkout may wait in the oversell race: the
#: harness's own bound, not a request's. The promise is about the count, and a hundred
#: decrements queued on one row take as long as the machine takes to run them in turn.
QUEUE_BOUND: Final = 60.0


async def test_concurrent_decrements_never_oversell(database_url: str, settings: Settings) -> None:
    # A few connections, each taking its turn on the row lock; the rest wait for one in the pool.
    sized = settings.model_copy(
        update={
            "pool_size": 5,
            "statement_timeout": QUEUE_BOUND,
            "pool_timeout": QUEUE_BOUND,
            "connect_timeout": QUEUE_BOUND,
        }
    )
    engine = build_engine(database_url, sized)
    try:
        await _decrement_race(lambda: SqlUnitOfWork(engine))
    finally:
        await engine.dispose()


async def _decrement_race(uow_factory: UowFactory) -> None:
    item = new_item("race-1", quantity=10)
    await store(uow_factory, item)
    adjust = AdjustStock(uow_factory)

    async def take_one() -> bool:
        try:
            await adjust(item.id, -1)
        except InsufficientStock:
            return False
        return True

    results = await asyncio.gather(*(take_one() for _ in range(100)))
    assert results.count(True) == 10
    async with uow_factory() as uow:
        final = await uow.items.get(item.id)
    assert final is not None
    assert (final.quantity, final.version) == (0, 11)


async def test_a_statement_past_the_timeout_is_unavailable_not_an_error(
    uow_factory: UowFactory,
) -> None:
    async with uow_factory() as uow:
        driver = await uow.driver(write=False)
        with pytest.raises(DataStoreUnavailable), unavailable_on_outage():
            await driver.fetchval("SELECT pg_sleep(5)")
