"""What every item store does with the change feed: each change records its event in the same
transaction, and the feed hands back committed events only, in order, once each."""

from __future__ import annotations

import asyncio

import pytest

from application.events import FeedEntry, FeedPosition
from domain.errors import DuplicateSku, InsufficientStock
from domain.events import EventType
from domain.item import ItemChanges
from tests.contract.helpers import UowFactory, later, new_item, store


async def _read(
    uow_factory: UowFactory, after: FeedPosition | None = None, **filters: object
) -> list[FeedEntry]:
    async with uow_factory() as uow:
        return await uow.events.read(after, 1000, **filters)  # type: ignore[arg-type]


async def _feed(
    uow_factory: UowFactory, after: FeedPosition | None, count: int, **filters: object
) -> list[FeedEntry]:
    """The feed after `after` once it holds `count` events. PostgreSQL hands out events only
    below the cluster's oldest running transaction, and other tests' transactions (on other
    databases of the same server) may run a while: a committed event can show a moment later."""
    for _ in range(300):
        entries = await _read(uow_factory, after, **filters)
        if len(entries) >= count:
            return entries
        await asyncio.sleep(0.1)
    return entries


@pytest.fixture
async def start(uow_factory: UowFactory) -> FeedPosition | None:
    """The end of the feed before the test: the store is shared with the suite's other tests."""
    entries = await _read(uow_factory)
    while len(entries) == 1000:
        entries = await _read(uow_factory, entries[-1].position)
    return entries[-1].position if entries else None


def _summary(entries: list[FeedEntry]) -> list[tuple[str, str, int, dict[str, object]]]:
    return [
        (e.event.type.value, e.event.sku, e.event.version, dict(e.event.changes)) for e in entries
    ]


async def test_every_kind_of_change_records_its_event(
    uow_factory: UowFactory, start: FeedPosition | None
) -> None:
    item = new_item("EV-1", description="blue", quantity=2)
    await store(uow_factory, item)
    async with uow_factory() as uow:
        await uow.items.update(
            item.id,
            ItemChanges.parse({"name": "gadget", "price": "3.5"}),
            expected_version=None,
            now=later(1),
        )
        await uow.items.adjust_stock(item.id, -2, now=later(2))
        await uow.items.delete(item.id, expected_version=3)
        await uow.commit()
    entries = await _feed(uow_factory, start, 4)
    assert _summary(entries) == [
        (
            "item.created",
            "EV-1",
            1,
            {
                "sku": "EV-1",
                "name": "widget",
                "description": "blue",
                "price": "1.00",
                "quantity": 2,
            },
        ),
        ("item.updated", "EV-1", 2, {"name": "gadget", "price": "3.50"}),
        ("item.stock_adjusted", "EV-1", 3, {"quantity": 0}),
        ("item.deleted", "EV-1", 3, {}),
    ]
    assert {e.event.item_id for e in entries} == {item.id}
    positions = [e.position for e in entries]
    assert positions == sorted(positions)
    assert len(set(positions)) == len(positions)


async def test_work_not_committed_has_no_events(
    uow_factory: UowFactory, start: FeedPosition | None
) -> None:
    async with uow_factory() as uow:
        await uow.items.add(new_item("EV-2"))
    await store(uow_factory, new_item("EV-2B"))
    assert [e.event.sku for e in await _feed(uow_factory, start, 1)] == ["EV-2B"]


async def test_a_refused_write_records_nothing(
    uow_factory: UowFactory, start: FeedPosition | None
) -> None:
    kept = new_item("EV-3")
    await store(uow_factory, kept)
    async with uow_factory() as uow:
        with pytest.raises(DuplicateSku):
            await uow.items.add_many([new_item("EV-4"), new_item("EV-3")])
        with pytest.raises(InsufficientStock):
            await uow.items.adjust_stock(kept.id, -1, now=later(1))
        await uow.items.add(new_item("EV-5"))
        await uow.commit()
    assert [(e.event.type, e.event.sku) for e in await _feed(uow_factory, start, 2)] == [
        (EventType.CREATED, "EV-3"),
        (EventType.CREATED, "EV-5"),
    ]


async def test_reading_resumes_after_a_position_with_filters(
    uow_factory: UowFactory, start: FeedPosition | None
) -> None:
    first, second = new_item("EV-6"), new_item("EV-7")
    await store(uow_factory, first, second)
    async with uow_factory() as uow:
        await uow.items.adjust_stock(first.id, 5, now=later(1))
        await uow.commit()
    everything = await _feed(uow_factory, start, 3)
    assert len(everything) == 3
    async with uow_factory() as uow:
        assert await uow.events.read(everything[0].position, 1) == everything[1:2]
        assert await uow.events.read(everything[-1].position, 10) == []
        assert await uow.events.horizon() is None
    by_item = await _feed(uow_factory, start, 2, item_id=first.id)
    assert [e.event.type for e in by_item] == [EventType.CREATED, EventType.STOCK_ADJUSTED]
    by_type = await _feed(uow_factory, start, 1, types=frozenset({EventType.STOCK_ADJUSTED}))
    assert [e.event.sku for e in by_type] == ["EV-6"]
