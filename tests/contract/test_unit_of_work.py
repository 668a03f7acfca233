"""What every UnitOfWork does: one transaction, kept only when committed."""

from __future__ import annotations

import pytest

from domain.errors import DuplicateSku, InsufficientStock
from domain.item import ItemChanges
from tests.contract.helpers import UowFactory, later, new_item, store, stored


async def test_committed_work_is_kept(uow_factory: UowFactory) -> None:
    item = new_item("UOW-1")
    async with uow_factory() as uow:
        await uow.items.add(item)
        assert await uow.items.get(item.id) == item  # its own writes, before the commit
        await uow.commit()
    assert await stored(uow_factory, item.id) == item


async def test_work_not_committed_is_rolled_back(uow_factory: UowFactory) -> None:
    kept, dropped = new_item("UOW-2"), new_item("UOW-3")
    await store(uow_factory, kept)
    async with uow_factory() as uow:
        await uow.items.add(dropped)
        await uow.items.delete(kept.id, expected_version=None)
    assert await stored(uow_factory, dropped.id) is None
    assert await stored(uow_factory, kept.id) == kept


async def test_work_is_rolled_back_on_an_exception(uow_factory: UowFactory) -> None:
    item = new_item("UOW-4")

    async def fail_midway() -> None:
        async with uow_factory() as uow:
            await uow.items.add(item)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await fail_midway()
    assert await stored(uow_factory, item.id) is None


async def test_rollback_discards_the_work_so_far_and_the_unit_goes_on(
    uow_factory: UowFactory,
) -> None:
    dropped, kept = new_item("UOW-5"), new_item("UOW-6")
    async with uow_factory() as uow:
        await uow.items.add(dropped)
        await uow.rollback()
        assert await uow.items.get(dropped.id) is None
        await uow.items.add(kept)
        await uow.commit()
    assert await stored(uow_factory, dropped.id) is None
    assert await stored(uow_factory, kept.id) == kept


async def test_work_after_a_commit_needs_a_commit_of_its_own(uow_factory: UowFactory) -> None:
    kept, dropped = new_item("UOW-7"), new_item("UOW-8")
    async with uow_factory() as uow:
        await uow.items.add(kept)
        await uow.commit()
        await uow.items.add(dropped)
    assert await stored(uow_factory, kept.id) == kept
    assert await stored(uow_factory, dropped.id) is None


async def test_units_open_at_once_keep_each_others_commits(uow_factory: UowFactory) -> None:
    existing = new_item("UOW-9")
    await store(uow_factory, existing)
    first, second = new_item("UOW-10"), new_item("UOW-11")
    async with uow_factory() as one, uow_factory() as other:
        await one.items.add(first)
        await other.items.add(second)
        await other.items.delete(existing.id, expected_version=None)
        await other.commit()
        await one.commit()
    assert await stored(uow_factory, first.id) == first
    assert await stored(uow_factory, second.id) == second
    assert await stored(uow_factory, existing.id) is None


async def test_a_unit_is_refused_outside_its_block(uow_factory: UowFactory) -> None:
    item = new_item("UOW-12")
    await store(uow_factory, item)
    uow = uow_factory()
    async with uow:
        await uow.items.get(item.id)
    with pytest.raises(RuntimeError):
        await uow.items.get(item.id)
    with pytest.raises(RuntimeError):
        await uow.items.delete(item.id, expected_version=None)
    with pytest.raises(RuntimeError):
        await uow.idempotency.find("alice", "k-1")
    with pytest.raises(RuntimeError):
        await uow.commit()
    assert await stored(uow_factory, item.id) == item


async def test_a_unit_can_be_used_again_for_another_transaction(uow_factory: UowFactory) -> None:
    first, second = new_item("UOW-13"), new_item("UOW-14")
    uow = uow_factory()
    async with uow:
        await uow.items.add(first)
        await uow.commit()
    async with uow:
        assert await uow.items.get(first.id) == first
        await uow.items.add(second)
    assert await stored(uow_factory, second.id) is None


async def test_a_unit_reads_what_others_committed_meanwhile(uow_factory: UowFactory) -> None:
    item, added = new_item("UOW-15"), new_item("UOW-16")
    await store(uow_factory, item)
    async with uow_factory() as reader:
        assert await reader.items.get(added.id) is None
        async with uow_factory() as writer:
            await writer.items.add(added)
            await writer.items.delete(item.id, expected_version=None)
            await writer.commit()
        assert await reader.items.get(added.id) == added
        assert await reader.items.get(item.id) is None


async def test_a_sku_committed_by_another_unit_meanwhile_is_taken(
    uow_factory: UowFactory,
) -> None:
    async with uow_factory() as late:
        await late.items.add(new_item("UOW-17"))
        await store(uow_factory, new_item("UOW-18"))
        with pytest.raises(DuplicateSku):
            await late.items.add(new_item("UOW-18", name="late"))
    async with uow_factory() as uow:
        assert await uow.items.skus_taken(["UOW-17", "UOW-18"]) == {"UOW-18"}


async def test_units_open_at_once_lose_no_stock_adjustment(uow_factory: UowFactory) -> None:
    item = new_item("UOW-19", quantity=10)
    await store(uow_factory, item)
    async with uow_factory() as one:
        await one.items.get(item.id)
        async with uow_factory() as other:
            await other.items.adjust_stock(item.id, -4, now=later(1))
            await other.commit()
        with pytest.raises(InsufficientStock):
            await one.items.adjust_stock(item.id, -7, now=later(2))
    async with uow_factory() as one:
        await one.items.get(item.id)
        async with uow_factory() as other:
            await other.items.adjust_stock(item.id, 5, now=later(3))
            await other.commit()
        adjusted = await one.items.adjust_stock(item.id, -11, now=later(4))
        await one.commit()
    assert (adjusted.quantity, adjusted.version) == (0, 4)
    assert await stored(uow_factory, item.id) == adjusted


async def test_a_refused_batch_leaves_nothing_in_the_unit_and_the_unit_goes_on(
    uow_factory: UowFactory,
) -> None:
    await store(uow_factory, new_item("RB-1"))
    before, fresh, after = new_item("RB-2"), new_item("RB-3"), new_item("RB-4")
    async with uow_factory() as uow:
        await uow.items.add(before)
        with pytest.raises(DuplicateSku):
            await uow.items.add_many([fresh, new_item("RB-1"), new_item("RB-5")])
        assert await uow.items.get(fresh.id) is None
        assert await uow.items.skus_taken(["RB-3", "RB-5"]) == set()
        await uow.items.add(after)
        await uow.commit()
    assert await stored(uow_factory, before.id) == before
    assert await stored(uow_factory, after.id) == after
    assert await stored(uow_factory, fresh.id) is None


async def test_a_unit_goes_on_after_a_refused_update(uow_factory: UowFactory) -> None:
    a, b, c, d = new_item("RU-1"), new_item("RU-2"), new_item("RU-3"), new_item("RU-4")
    await store(uow_factory, a, b)
    async with uow_factory() as uow:
        await uow.items.add(d)
        with pytest.raises(DuplicateSku):
            await uow.items.update(
                a.id, ItemChanges.parse({"sku": "RU-2"}), expected_version=None, now=later(1)
            )
        assert await uow.items.get(a.id) == a
        await uow.items.add(c)
        await uow.commit()
    assert await stored(uow_factory, a.id) == a
    assert await stored(uow_factory, c.id) == c
    assert await stored(uow_factory, d.id) == d
