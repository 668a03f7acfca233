"""What every ItemRepository does, whichever storage is behind it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from application.listing import Cursor, ListQuery, Sort
from domain.errors import (
    DuplicateSku,
    InsufficientStock,
    ItemNotFound,
    StockLimitExceeded,
    VersionConflict,
)
from domain.item import Item, ItemChanges
from domain.rules import QUANTITY_MAX
from tests.contract.helpers import UowFactory, later, new_item, store, stored


async def test_an_item_round_trips_exactly(uow_factory: UowFactory) -> None:
    item = new_item("RT-1", description="ünïcode ✓", price="9999999999.99", quantity=QUANTITY_MAX)
    await store(uow_factory, item)
    assert await stored(uow_factory, item.id) == item


async def test_an_unknown_id_is_none(uow_factory: UowFactory) -> None:
    assert await stored(uow_factory, uuid4()) is None


async def test_adding_a_taken_sku_is_a_duplicate(uow_factory: UowFactory) -> None:
    first = new_item("DUP-1")
    await store(uow_factory, first)
    with pytest.raises(DuplicateSku) as caught:
        async with uow_factory() as uow:
            await uow.items.add(new_item("DUP-1", name="other"))
    assert (caught.value.sku, caught.value.index) == ("DUP-1", None)
    assert await stored(uow_factory, first.id) == first


async def test_a_batch_with_a_taken_sku_names_it_and_stores_nothing(
    uow_factory: UowFactory,
) -> None:
    await store(uow_factory, new_item("TAKEN-1"))
    batch = [new_item("FREE-1"), new_item("TAKEN-1"), new_item("FREE-2")]
    with pytest.raises(DuplicateSku) as caught:
        await store(uow_factory, *batch)
    assert (caught.value.sku, caught.value.index) == ("TAKEN-1", 1)
    assert await stored(uow_factory, batch[0].id) is None
    async with uow_factory() as uow:
        assert await uow.items.skus_taken(["FREE-1", "TAKEN-1", "FREE-2"]) == {"TAKEN-1"}


async def test_a_sku_repeated_in_a_batch_is_a_duplicate_and_stores_nothing(
    uow_factory: UowFactory,
) -> None:
    batch = [new_item("REP-0"), new_item("REP-1"), new_item("REP-1", name="two")]
    with pytest.raises(DuplicateSku) as caught:
        await store(uow_factory, *batch)
    error = caught.value
    assert (error.sku, error.index, error.within_batch) == ("REP-1", 2, True)
    async with uow_factory() as uow:
        assert await uow.items.skus_taken(["REP-0", "REP-1"]) == set()


async def test_a_batch_of_one_with_a_taken_sku_has_no_index(uow_factory: UowFactory) -> None:
    await store(uow_factory, new_item("ONE-1"))
    with pytest.raises(DuplicateSku) as caught:
        await store(uow_factory, new_item("ONE-1"))
    assert (caught.value.sku, caught.value.index) == ("ONE-1", None)


async def test_skus_taken_are_matched_exactly(uow_factory: UowFactory) -> None:
    await store(uow_factory, new_item("SK-1"), new_item("SK-2"))
    async with uow_factory() as uow:
        assert await uow.items.skus_taken(["SK-2", "SK-3", "sk-1", "SK"]) == {"SK-2"}
        assert await uow.items.skus_taken([]) == set()


# Listing. Names and skus are chosen so that every collation orders them alike.


def catalog() -> list[Item]:
    """Ties in every sort field, so the id must break them."""
    return [
        new_item("K-01", name="beta", price="5.00", quantity=0, at=later(0)),
        new_item("K-02", name="alpha", price="5.00", quantity=3, at=later(0)),
        new_item("K-03", name="beta", price="1.50", quantity=1, at=later(1)),
        new_item("K-04", name="gamma", price="9.99", quantity=0, at=later(1)),
        new_item("K-05", name="alpha", price="1.50", quantity=7, at=later(-1)),
        new_item("K-06", name="beta", price="5.00", quantity=2, at=later(0)),
    ]


def in_order(items: list[Item], sort: Sort) -> list[Item]:
    field = sort.field.value
    return sorted(items, key=lambda i: (getattr(i, field), i.id), reverse=sort.descending)


Lister = Callable[[ListQuery], Awaitable[list[Item]]]


def in_new_units(uow_factory: UowFactory) -> Lister:
    """Lists each page in a unit of work of its own, as the use cases do."""

    async def list_page(query: ListQuery) -> list[Item]:
        async with uow_factory() as uow:
            return await uow.items.list(query)

    return list_page


async def walk(list_page: Lister, query: ListQuery) -> list[Item]:
    """Every page of the query, each asked for after the last item of the one before."""
    seen: list[Item] = []
    after = None
    while True:
        found = await list_page(replace(query, after=after))
        assert len(found) <= query.limit + 1
        page = found[: query.limit]
        assert not set(page) & set(seen), "a page repeats items"  # or the walk never ends
        seen.extend(page)
        if len(found) <= query.limit:
            return seen
        after = Cursor.after(found[query.limit - 1], query.sort)


@pytest.mark.parametrize("sort", list(Sort))
async def test_pages_walk_every_sort_in_order_with_ties_broken_by_id(
    uow_factory: UowFactory, sort: Sort
) -> None:
    items = catalog()
    await store(uow_factory, *items)
    assert await walk(in_new_units(uow_factory), ListQuery(limit=2, sort=sort)) == in_order(
        items, sort
    )


async def test_a_page_holds_one_more_item_when_there_are_more(uow_factory: UowFactory) -> None:
    items = catalog()
    await store(uow_factory, *items)
    async with uow_factory() as uow:
        first = await uow.items.list(ListQuery(limit=4, sort=Sort.SKU))
        last = await uow.items.list(ListQuery(limit=6, sort=Sort.SKU))
    assert first == in_order(items, Sort.SKU)[:5]
    assert last == in_order(items, Sort.SKU)


async def test_a_page_after_the_last_item_is_empty(uow_factory: UowFactory) -> None:
    items = catalog()
    await store(uow_factory, *items)
    last = in_order(items, Sort.PRICE_DESC)[-1]
    async with uow_factory() as uow:
        query = ListQuery(sort=Sort.PRICE_DESC, after=Cursor.after(last, Sort.PRICE_DESC))
        assert await uow.items.list(query) == []


def searchable() -> list[Item]:
    return [
        new_item("BLUE-1", name="Blue Widget", price="2.00", quantity=5),
        new_item("GRN-2", name="green gadget", price="3.00", quantity=0),
        new_item("X-WIDGET-3", name="sprocket", price="4.00", quantity=1),
        new_item("PCT-4", name="100% cotton", price="5.00", quantity=0),
        new_item("USC-5", name="under_score", price="6.00", quantity=2),
        new_item("BSL-6", name="back\\slash", price="7.00", quantity=0),
        new_item("ACC-7", name="Émile Zola", price="8.00", quantity=0),
    ]


@pytest.mark.parametrize(
    ("q", "skus"),
    [
        ("widget", {"BLUE-1", "X-WIDGET-3"}),  # name or sku, any case
        ("WIDGET", {"BLUE-1", "X-WIDGET-3"}),
        ("GadGet", {"GRN-2"}),
        ("grn", {"GRN-2"}),
        ("éMILE", {"ACC-7"}),
        ("%", {"PCT-4"}),  # pattern characters are literal
        ("_", {"USC-5"}),
        ("\\", {"BSL-6"}),
        ("0% c", {"PCT-4"}),
        ("nothing", set()),
    ],
)
async def test_q_is_a_case_insensitive_substring_of_name_or_sku(
    uow_factory: UowFactory, q: str, skus: set[str]
) -> None:
    await store(uow_factory, *searchable())
    found = await walk(in_new_units(uow_factory), ListQuery(limit=2, sort=Sort.NAME, q=q))
    assert {item.sku for item in found} == skus


@pytest.mark.parametrize(
    ("filters", "skus"),
    [
        (
            {"min_price": Decimal("3.00")},
            {"GRN-2", "X-WIDGET-3", "PCT-4", "USC-5", "BSL-6", "ACC-7"},
        ),
        ({"max_price": Decimal("3.00")}, {"BLUE-1", "GRN-2"}),  # both bounds inclusive
        ({"min_price": Decimal("3.00"), "max_price": Decimal("4.00")}, {"GRN-2", "X-WIDGET-3"}),
        ({"min_price": Decimal("4.01"), "max_price": Decimal("4.99")}, set()),
        ({"in_stock": True}, {"BLUE-1", "X-WIDGET-3", "USC-5"}),
        ({"in_stock": False}, {"GRN-2", "PCT-4", "BSL-6", "ACC-7"}),
        ({"in_stock": True, "min_price": Decimal("3.00"), "q": "O"}, {"USC-5", "X-WIDGET-3"}),
    ],
)
async def test_filters_combine(
    uow_factory: UowFactory, filters: dict[str, Any], skus: set[str]
) -> None:
    await store(uow_factory, *searchable())
    query = ListQuery(limit=1, sort=Sort.PRICE_DESC, **filters)
    found = await walk(in_new_units(uow_factory), query)
    assert [item.sku for item in found] == [
        item.sku for item in in_order(searchable(), Sort.PRICE_DESC) if item.sku in skus
    ]


# Writes.


async def test_update_changes_only_the_given_fields(uow_factory: UowFactory) -> None:
    item = new_item("UPD-1", description="kept", quantity=4)
    await store(uow_factory, item)
    changes = ItemChanges.parse({"name": "renamed", "price": "3.25", "sku": "upd-2"})
    async with uow_factory() as uow:
        updated = await uow.items.update(item.id, changes, expected_version=1, now=later(60))
        await uow.commit()
    expected = replace(
        item, sku="UPD-2", name="renamed", price=Decimal("3.25"), version=2, updated_at=later(60)
    )
    assert updated == expected
    assert await stored(uow_factory, item.id) == expected


async def test_update_without_an_expected_version_always_applies(
    uow_factory: UowFactory,
) -> None:
    item = new_item("UPD-3")
    await store(uow_factory, item)
    async with uow_factory() as uow:
        for n in range(2):
            changes = ItemChanges.parse({"quantity": n})
            await uow.items.update(item.id, changes, expected_version=None, now=later(n))
        await uow.commit()
    assert await stored(uow_factory, item.id) == replace(
        item, quantity=1, version=3, updated_at=later(1)
    )


async def test_update_at_another_version_is_a_conflict_and_changes_nothing(
    uow_factory: UowFactory,
) -> None:
    item = new_item("UPD-4")
    await store(uow_factory, item)
    with pytest.raises(VersionConflict) as caught:
        async with uow_factory() as uow:
            await uow.items.update(
                item.id, ItemChanges.parse({"name": "x"}), expected_version=2, now=later(1)
            )
    assert (caught.value.expected, caught.value.actual) == (2, 1)
    assert await stored(uow_factory, item.id) == item


@pytest.mark.parametrize("expected_version", [None, 1])
async def test_update_of_an_unknown_item_is_not_found(
    uow_factory: UowFactory, expected_version: int | None
) -> None:
    with pytest.raises(ItemNotFound):
        async with uow_factory() as uow:
            await uow.items.update(
                uuid4(),
                ItemChanges.parse({"name": "x"}),
                expected_version=expected_version,
                now=later(1),
            )


async def test_update_to_a_taken_sku_is_a_duplicate_and_changes_nothing(
    uow_factory: UowFactory,
) -> None:
    item, other = new_item("UPD-5"), new_item("UPD-6")
    await store(uow_factory, item, other)
    with pytest.raises(DuplicateSku) as caught:
        async with uow_factory() as uow:
            await uow.items.update(
                item.id, ItemChanges.parse({"sku": "upd-6"}), expected_version=1, now=later(1)
            )
    assert caught.value.sku == "UPD-6"
    assert await stored(uow_factory, item.id) == item


async def test_update_to_its_own_sku_is_allowed(uow_factory: UowFactory) -> None:
    item = new_item("UPD-7")
    await store(uow_factory, item)
    async with uow_factory() as uow:
        updated = await uow.items.update(
            item.id, ItemChanges.parse({"sku": "UPD-7"}), expected_version=1, now=later(1)
        )
    assert (updated.sku, updated.version) == ("UPD-7", 2)


async def test_stock_moves_both_ways_and_bumps_the_version(uow_factory: UowFactory) -> None:
    item = new_item("STK-1", quantity=5)
    await store(uow_factory, item)
    async with uow_factory() as uow:
        await uow.items.adjust_stock(item.id, -5, now=later(1))
        adjusted = await uow.items.adjust_stock(item.id, QUANTITY_MAX, now=later(2))
        await uow.commit()
    assert (adjusted.quantity, adjusted.version, adjusted.updated_at) == (
        QUANTITY_MAX,
        3,
        later(2),
    )
    assert await stored(uow_factory, item.id) == adjusted


async def test_stock_never_goes_below_zero(uow_factory: UowFactory) -> None:
    item = new_item("STK-2", quantity=2)
    await store(uow_factory, item)
    with pytest.raises(InsufficientStock) as caught:
        async with uow_factory() as uow:
            await uow.items.adjust_stock(item.id, -3, now=later(1))
    assert (caught.value.quantity, caught.value.delta) == (2, -3)
    assert await stored(uow_factory, item.id) == item


async def test_stock_never_exceeds_the_limit(uow_factory: UowFactory) -> None:
    item = new_item("STK-3", quantity=QUANTITY_MAX - 1)
    await store(uow_factory, item)
    with pytest.raises(StockLimitExceeded):
        async with uow_factory() as uow:
            await uow.items.adjust_stock(item.id, 2, now=later(1))
    assert await stored(uow_factory, item.id) == item


async def test_stock_of_an_unknown_item_is_not_found(uow_factory: UowFactory) -> None:
    with pytest.raises(ItemNotFound):
        async with uow_factory() as uow:
            await uow.items.adjust_stock(uuid4(), 1, now=later(1))


@pytest.mark.parametrize("expected_version", [None, 1])
async def test_delete_removes_the_item(
    uow_factory: UowFactory, expected_version: int | None
) -> None:
    item, kept = new_item("DEL-1"), new_item("DEL-2")
    await store(uow_factory, item, kept)
    async with uow_factory() as uow:
        await uow.items.delete(item.id, expected_version=expected_version)
        await uow.commit()
    assert await stored(uow_factory, item.id) is None
    assert await stored(uow_factory, kept.id) == kept
    async with uow_factory() as uow:
        assert await uow.items.skus_taken(["DEL-1", "DEL-2"]) == {"DEL-2"}


async def test_delete_at_another_version_is_a_conflict(uow_factory: UowFactory) -> None:
    item = new_item("DEL-3")
    await store(uow_factory, item)
    with pytest.raises(VersionConflict):
        async with uow_factory() as uow:
            await uow.items.delete(item.id, expected_version=7)
    assert await stored(uow_factory, item.id) == item


@pytest.mark.parametrize("expected_version", [None, 1])
async def test_delete_of_an_unknown_item_is_not_found(
    uow_factory: UowFactory, expected_version: int | None
) -> None:
    with pytest.raises(ItemNotFound):
        async with uow_factory() as uow:
            await uow.items.delete(uuid4(), expected_version=expected_version)


# Any catalog, any query: lower-case ASCII text, which every collation orders alike.

TEXT = st.text("abc", min_size=1, max_size=3)
PRICES = st.sampled_from([Decimal("0.00"), Decimal("1.50"), Decimal("2.00"), Decimal("9.99")])
CATALOGS = st.lists(
    st.builds(
        lambda sku, name, price, quantity, second: new_item(
            sku, name=name, price=price, quantity=quantity, at=later(second)
        ),
        sku=TEXT.map(str.upper),
        name=TEXT,
        price=PRICES,
        quantity=st.integers(0, 2),
        second=st.integers(0, 2),
    ),
    min_size=1,
    max_size=12,
    unique_by=lambda item: item.sku,
)
QUERIES = st.builds(
    ListQuery,
    limit=st.integers(1, 4),
    sort=st.sampled_from(Sort),
    q=st.none() | st.text("abcAB", min_size=1, max_size=2),
    min_price=st.none() | PRICES,
    max_price=st.none() | PRICES,
    in_stock=st.none() | st.booleans(),
)


def matches(item: Item, query: ListQuery) -> bool:
    q = (query.q or "").lower()
    return (
        (q in item.name or q in item.sku.lower())
        and (query.min_price is None or item.price >= query.min_price)
        and (query.max_price is None or item.price <= query.max_price)
        and (query.in_stock is None or (item.quantity > 0) is query.in_stock)
    )


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(items=CATALOGS, query=QUERIES)
async def test_pages_hold_exactly_the_matching_items_in_order(
    uow_factory: UowFactory, items: list[Item], query: ListQuery
) -> None:
    async with uow_factory() as uow:  # never committed: every example starts from nothing
        await uow.items.add_many(items)
        found = await walk(uow.items.list, query)
    assert found == [item for item in in_order(items, query.sort) if matches(item, query)]
