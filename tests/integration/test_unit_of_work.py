"""What only the SQL unit of work does: its pool, its ORM session, its per-transaction settings.

What every unit of work does (commit, rollback) is in tests/contract, run against this one too.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool

from domain.errors import DuplicateSku
from domain.item import Item, NewItem
from infrastructure.db.engine import transaction_setup
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


async def test_behind_pgbouncer_every_unit_sets_its_timeouts_in_its_own_transaction(
    engine: AsyncEngine, settings: Settings
) -> None:
    """Transaction pooling keeps no session state, so each unit of work, reads included,
    begins a transaction and sets the timeouts in it (engine.py, unit_of_work.py)."""
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
