"""The unit of work owns one transaction: it commits only when told to."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from domain.item import Item, NewItem
from infrastructure.db.unit_of_work import SqlUnitOfWork

UowFactory = Callable[[], SqlUnitOfWork]


def new_item(sku: str) -> Item:
    return Item.create(NewItem.parse({"sku": sku, "name": "Widget", "price": "1.00"}))


async def test_committed_work_is_stored(uow_factory: UowFactory) -> None:
    item = new_item("uow-1")
    async with uow_factory() as uow:
        await uow.items.add(item)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.items.get(item.id) == item


async def test_work_is_rolled_back_when_not_committed(uow_factory: UowFactory) -> None:
    item = new_item("uow-2")
    async with uow_factory() as uow:
        await uow.items.add(item)
    async with uow_factory() as uow:
        assert await uow.items.get(item.id) is None


async def test_work_is_rolled_back_on_an_exception(uow_factory: UowFactory) -> None:
    item = new_item("uow-3")

    async def fail_midway() -> None:
        async with uow_factory() as uow:
            await uow.items.add(item)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await fail_midway()
    async with uow_factory() as uow:
        assert await uow.items.get(item.id) is None


async def test_explicit_rollback_discards_the_work(uow_factory: UowFactory) -> None:
    item = new_item("uow-4")
    async with uow_factory() as uow:
        await uow.items.add(item)
        await uow.rollback()
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.items.get(item.id) is None


async def test_using_the_unit_of_work_outside_its_block_is_an_error(
    uow_factory: UowFactory,
) -> None:
    uow = uow_factory()
    with pytest.raises(RuntimeError, match="outside"):
        await uow.commit()
