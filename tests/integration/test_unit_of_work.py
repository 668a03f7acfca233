"""What only the SQL unit of work does: its pool, its ORM session, its per-transaction settings.

What every unit of work does (commit, rollback) is in tests/contract, run against this one too.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlalchemy.pool import QueuePool
from sqlmodel.ext.asyncio.session import AsyncSession

from domain.errors import DuplicateSku
from domain.item import Item, NewItem
from infrastructure.db.engine import transaction_setup
from infrastructure.db.mappers import item_to_values
from infrastructure.db.tables import ItemRow
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


async def test_the_orm_session_commits_and_rolls_back_like_the_driver(
    uow_factory: UowFactory,
) -> None:
    kept, dropped = new_item("uow-6"), new_item("uow-7")
    for item, commit in [(kept, True), (dropped, False)]:
        async with uow_factory() as uow:
            uow.session.add(ItemRow(**item_to_values(item)))
            await uow.session.flush()
            if commit:
                await uow.commit()
    async with uow_factory() as uow:
        assert await uow.items.get(kept.id) == kept
        assert await uow.items.get(dropped.id) is None


async def test_one_unit_uses_the_driver_or_the_session_never_both(
    uow_factory: UowFactory,
) -> None:
    async with uow_factory() as uow:
        await uow.items.get(new_item("uow-8").id)
        with pytest.raises(RuntimeError, match="not on both"):
            _ = uow.session
    async with uow_factory() as uow:
        _ = uow.session
        with pytest.raises(RuntimeError, match="not on both"):
            await uow.items.get(new_item("uow-9").id)


async def test_behind_pgbouncer_every_unit_sets_its_timeouts_in_its_own_transaction(
    engine: AsyncEngine, session_factory: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    """Transaction pooling keeps no session state, so each unit of work, reads included,
    begins a transaction and sets the timeouts in it (engine.py, unit_of_work.py)."""
    behind_pgbouncer = settings.model_copy(update={"pgbouncer": True, "statement_timeout": 0.7})
    setup = transaction_setup(behind_pgbouncer)
    show = "SELECT current_setting('statement_timeout')"
    async with SqlUnitOfWork(engine, session_factory, transaction_setup=setup) as uow:
        driver = await uow.driver(write=False)
        assert driver.is_in_transaction()
        assert await driver.fetchval(show) == "700ms"
    # Set locally: gone with the transaction.
    async with SqlUnitOfWork(engine, session_factory) as uow:
        driver = await uow.driver(write=False)
        assert not driver.is_in_transaction()
        assert await driver.fetchval(show) == "1500ms"
