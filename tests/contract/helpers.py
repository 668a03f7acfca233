"""Building blocks of the contract tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from uuid import UUID

from application.ports import IdempotencyRecord, UnitOfWork
from domain.item import Item, NewItem

UowFactory = Callable[[], UnitOfWork]

#: A fixed instant, so tests can give items equal or ordered timestamps.
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def new_item(sku: str, *, at: datetime = T0, **extra: object) -> Item:
    raw = {"sku": sku, "name": "widget", "price": "1.00", **extra}
    return Item.create(NewItem.parse(raw), now=at)


def later(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


async def store(uow_factory: UowFactory, *items: Item) -> None:
    async with uow_factory() as uow:
        await uow.items.add_many(items)
        await uow.commit()


async def stored(uow_factory: UowFactory, item_id: UUID) -> Item | None:
    async with uow_factory() as uow:
        return await uow.items.get(item_id)


async def saved_record(uow_factory: UowFactory, scope: str, key: str) -> IdempotencyRecord | None:
    async with uow_factory() as uow:
        return await uow.idempotency.find(scope, key)
