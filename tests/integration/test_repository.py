"""The SQL repository against real PostgreSQL: mapping, atomic writes, keyset listing."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from uuid import uuid4

import pytest

from application.errors import DataStoreUnavailable
from application.listing import Cursor, ListQuery, Sort
from application.use_cases import AdjustStock, CreateItems, ListItems
from domain.errors import (
    DuplicateSku,
    InsufficientStock,
    ItemNotFound,
    VersionConflict,
)
from domain.item import Item, ItemChanges, NewItem
from infrastructure.db.errors import unavailable_on_outage
from infrastructure.db.unit_of_work import SqlUnitOfWork

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


async def test_a_taken_sku_is_a_duplicate_and_nothing_is_stored(uow_factory: UowFactory) -> None:
    await store(uow_factory, new_item("dup-1"))
    with pytest.raises(DuplicateSku) as caught:
        await store(uow_factory, new_item("ok-1"), new_item("dup-1"))
    assert (caught.value.sku, caught.value.index) == ("DUP-1", 1)
    async with uow_factory() as uow:
        assert await uow.items.skus_taken(["OK-1", "DUP-1"]) == {"DUP-1"}


async def test_update_is_conditional_on_the_version(uow_factory: UowFactory) -> None:
    item = new_item("upd-1")
    await store(uow_factory, item)
    now = datetime.now(UTC)
    async with uow_factory() as uow:
        updated = await uow.items.update(
            item.id, ItemChanges.parse({"name": "New"}), expected_version=1, now=now
        )
        await uow.commit()
    assert (updated.name, updated.version, updated.updated_at) == ("New", 2, now)
    async with uow_factory() as uow:
        with pytest.raises(VersionConflict):
            await uow.items.update(
                item.id, ItemChanges.parse({"name": "Old"}), expected_version=1, now=now
            )
        with pytest.raises(ItemNotFound):
            await uow.items.update(
                uuid4(), ItemChanges.parse({"name": "Old"}), expected_version=None, now=now
            )


async def test_update_to_a_taken_sku_is_a_duplicate(uow_factory: UowFactory) -> None:
    first, second = new_item("sku-a"), new_item("sku-b")
    await store(uow_factory, first, second)
    async with uow_factory() as uow:
        with pytest.raises(DuplicateSku):
            await uow.items.update(
                second.id,
                ItemChanges.parse({"sku": "sku-a"}),
                expected_version=None,
                now=datetime.now(UTC),
            )


async def test_delete_is_conditional_on_the_version(uow_factory: UowFactory) -> None:
    item = new_item("del-1")
    await store(uow_factory, item)
    async with uow_factory() as uow:
        with pytest.raises(VersionConflict):
            await uow.items.delete(item.id, expected_version=5)
        await uow.items.delete(item.id, expected_version=1)
        await uow.commit()
    async with uow_factory() as uow:
        with pytest.raises(ItemNotFound):
            await uow.items.delete(item.id, expected_version=None)


async def test_stock_never_goes_negative(uow_factory: UowFactory) -> None:
    item = new_item("stk-1", quantity=1)
    await store(uow_factory, item)
    now = datetime.now(UTC)
    async with uow_factory() as uow:
        assert (await uow.items.adjust_stock(item.id, -1, now=now)).quantity == 0
        with pytest.raises(InsufficientStock):
            await uow.items.adjust_stock(item.id, -1, now=now)
        with pytest.raises(ItemNotFound):
            await uow.items.adjust_stock(uuid4(), 1, now=now)


async def test_concurrent_decrements_never_oversell(uow_factory: UowFactory) -> None:
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


async def test_keyset_pages_cover_every_row_once_for_every_sort(uow_factory: UowFactory) -> None:
    await CreateItems(uow_factory)(
        [{"sku": f"k{i:03}", "name": f"name {i % 4}", "price": f"{i % 3}.50"} for i in range(37)]
    )
    list_items = ListItems(uow_factory)
    for sort in Sort:
        seen: list[Item] = []
        after = None
        while True:
            page = await list_items(ListQuery(limit=5, sort=sort, after=after))
            seen.extend(page.items)
            if page.next_cursor is None:
                break
            after = Cursor.decode(page.next_cursor, sort)
        keys = [(getattr(i, sort.field.value), i.id) for i in seen]
        assert len(set(keys)) == 37, sort
        assert keys == sorted(keys, reverse=sort.descending), sort


async def test_filters_match_the_specification(uow_factory: UowFactory) -> None:
    await CreateItems(uow_factory)(
        [
            {"sku": "mug-1", "name": "Red Mug", "price": "3.00", "quantity": 0},
            {"sku": "cup-2", "name": "Blue cup", "price": "5.00", "quantity": 2},
            {"sku": "pct_3", "name": "100% cotton", "price": "7.00", "quantity": 1},
        ]
    )
    list_items = ListItems(uow_factory)

    async def skus(**query: object) -> list[str]:
        page = await list_items(ListQuery(sort=Sort.SKU, **query))  # type: ignore[arg-type]
        return [i.sku for i in page.items]

    assert await skus(q="mUg") == ["MUG-1"]
    assert await skus(q="cup") == ["CUP-2"]
    assert await skus(q="%") == ["PCT_3"]  # LIKE wildcards are matched literally
    assert await skus(q="_") == ["PCT_3"]
    assert await skus(in_stock=True) == ["CUP-2", "PCT_3"]
    assert await skus(in_stock=False) == ["MUG-1"]
    assert await skus(min_price=Decimal("3.00"), max_price=Decimal("5.00")) == ["CUP-2", "MUG-1"]


async def test_a_statement_past_the_timeout_is_unavailable_not_an_error(
    uow_factory: UowFactory,
) -> None:
    async with uow_factory() as uow:
        driver = await uow.driver(write=False)
        with pytest.raises(DataStoreUnavailable), unavailable_on_outage():
            await driver.fetchval("SELECT pg_sleep(5)")
