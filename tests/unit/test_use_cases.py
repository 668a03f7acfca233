"""Use cases against in-memory fakes of the ports."""

from __future__ import annotations

from decimal import Decimal
from uuid import UUID, uuid4

import pytest

from application.errors import InvalidCursor, InvalidQuery
from application.listing import Cursor, ListQuery, Sort
from application.use_cases import (
    AdjustStock,
    CreateItem,
    CreateItems,
    DeleteItem,
    GetItem,
    ListItems,
    UpdateItem,
)
from domain.errors import (
    DuplicateSku,
    InsufficientStock,
    ItemNotFound,
    ItemValidationError,
    VersionConflict,
)
from domain.item import Item, NewItem
from tests.unit.fakes import InMemoryUnitOfWork


@pytest.fixture
def uow(store: dict[UUID, Item]) -> InMemoryUnitOfWork:
    return InMemoryUnitOfWork(store)


def widget(sku: str = "w-1", **extra: object) -> dict[str, object]:
    return {"sku": sku, "name": "Widget", "price": "2.50", **extra}


async def test_create_then_get(uow: InMemoryUnitOfWork) -> None:
    created = await CreateItem(lambda: uow)(widget(quantity=4))
    assert created.sku == "W-1"
    assert created.price == Decimal("2.50")
    assert await GetItem(lambda: uow)(created.id) == created


async def test_create_rejects_a_taken_sku_and_stores_nothing_else(
    uow: InMemoryUnitOfWork, store: dict[UUID, Item]
) -> None:
    await CreateItem(lambda: uow)(widget())
    with pytest.raises(DuplicateSku):
        await CreateItem(lambda: uow)(widget(" W-1 "))
    assert len(store) == 1


async def test_get_unknown_is_not_found(uow: InMemoryUnitOfWork) -> None:
    with pytest.raises(ItemNotFound):
        await GetItem(lambda: uow)(uuid4())


async def test_update_changes_only_the_fields_sent(uow: InMemoryUnitOfWork) -> None:
    item = await CreateItem(lambda: uow)(widget(description="blue"))
    updated = await UpdateItem(lambda: uow)(item.id, {"name": "Gadget"}, expected_version=1)
    assert (updated.name, updated.description, updated.version) == ("Gadget", "blue", 2)


async def test_update_with_a_stale_version_changes_nothing(
    uow: InMemoryUnitOfWork, store: dict[UUID, Item]
) -> None:
    item = await CreateItem(lambda: uow)(widget())
    with pytest.raises(VersionConflict):
        await UpdateItem(lambda: uow)(item.id, {"name": "Gadget"}, expected_version=7)
    assert store[item.id] == item


async def test_update_to_a_taken_sku_is_a_duplicate(uow: InMemoryUnitOfWork) -> None:
    await CreateItem(lambda: uow)(widget("a"))
    other = await CreateItem(lambda: uow)(widget("b"))
    with pytest.raises(DuplicateSku):
        await UpdateItem(lambda: uow)(other.id, {"sku": "A"})


async def test_delete_honours_the_expected_version(
    uow: InMemoryUnitOfWork, store: dict[UUID, Item]
) -> None:
    item = await CreateItem(lambda: uow)(widget())
    with pytest.raises(VersionConflict):
        await DeleteItem(lambda: uow)(item.id, expected_version=2)
    await DeleteItem(lambda: uow)(item.id, expected_version=1)
    assert store == {}
    with pytest.raises(ItemNotFound):
        await DeleteItem(lambda: uow)(item.id)


async def test_adjust_stock_never_goes_negative(
    uow: InMemoryUnitOfWork, store: dict[UUID, Item]
) -> None:
    item = await CreateItem(lambda: uow)(widget(quantity=2))
    adjust = AdjustStock(lambda: uow)
    assert (await adjust(item.id, -2)).quantity == 0
    with pytest.raises(InsufficientStock):
        await adjust(item.id, -1)
    assert store[item.id].quantity == 0
    assert store[item.id].version == 2
    with pytest.raises(ItemValidationError, match="delta"):
        await adjust(item.id, 0)


async def test_batch_is_all_or_nothing(uow: InMemoryUnitOfWork, store: dict[UUID, Item]) -> None:
    create = CreateItems(lambda: uow)
    with pytest.raises(ItemValidationError) as caught:
        await create([widget("a"), widget("b", price="-1")])
    assert [e.field for e in caught.value.errors] == ["items.1.price"]
    with pytest.raises(DuplicateSku, match="more than once"):
        await create([widget("a"), widget(" A ")])
    await CreateItem(lambda: uow)(widget("taken"))
    with pytest.raises(DuplicateSku, match="TAKEN"):
        await create([widget("c"), widget("taken")])
    assert [i.sku for i in store.values()] == ["TAKEN"]
    created = await create([widget("c"), widget("d")])
    assert len(created) == 2
    assert len(store) == 3


async def test_batch_size_is_bounded(uow: InMemoryUnitOfWork) -> None:
    with pytest.raises(ItemValidationError, match="1 to 1000"):
        await CreateItems(lambda: uow)([])
    with pytest.raises(ItemValidationError, match="1 to 1000"):
        await CreateItems(lambda: uow)([widget(f"s{i}") for i in range(1001)])


async def test_listing_walks_every_item_once_in_order(uow: InMemoryUnitOfWork) -> None:
    create = CreateItems(lambda: uow)
    await create([widget(f"s{i:03}", name=f"n{i % 7}", price=f"{i % 5}.00") for i in range(40)])
    list_items = ListItems(lambda: uow)
    for sort in Sort:
        seen: list[Item] = []
        cursor: str | None = None
        while True:
            after = Cursor.decode(cursor, sort) if cursor else None
            page = await list_items(ListQuery(limit=6, sort=sort, after=after))
            seen.extend(page.items)
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert len({i.id for i in seen}) == 40, sort
        keys = [(getattr(i, sort.field.value), i.id) for i in seen]
        assert keys == sorted(keys, reverse=sort.descending), sort


async def test_listing_filters(uow: InMemoryUnitOfWork) -> None:
    await CreateItems(lambda: uow)(
        [
            widget("red-1", name="Red cup", price="1.00", quantity=0),
            widget("blue-2", name="Blue cup", price="5.00", quantity=3),
        ]
    )
    list_items = ListItems(lambda: uow)
    assert [i.sku for i in (await list_items(ListQuery(q="RED"))).items] == ["RED-1"]
    assert [i.sku for i in (await list_items(ListQuery(in_stock=True))).items] == ["BLUE-2"]
    page = await list_items(ListQuery(min_price=Decimal(2), max_price=Decimal(5)))
    assert [i.sku for i in page.items] == ["BLUE-2"]


def test_cursors_round_trip_and_reject_tampering() -> None:
    item = Item.create(NewItem.parse(widget()))
    for sort in Sort:
        token = Cursor.after(item, sort).encode()
        assert Cursor.decode(token, sort) == Cursor.after(item, sort)
    token = Cursor.after(item, Sort.NAME).encode()
    with pytest.raises(InvalidCursor, match="sort=name"):
        Cursor.decode(token, Sort.PRICE)
    for bad in ["", "x", "!!!", "e30", token[:-3]]:
        with pytest.raises(InvalidCursor):
            Cursor.decode(bad, Sort.NAME)


def test_list_parameters_are_bounded() -> None:
    with pytest.raises(InvalidQuery):
        ListQuery(limit=0)
    with pytest.raises(InvalidQuery):
        ListQuery(limit=201)
    with pytest.raises(InvalidQuery):
        ListQuery(min_price=Decimal(-1))
