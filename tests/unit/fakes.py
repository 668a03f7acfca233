"""In-memory fakes of the ports, for unit tests of the use cases (no database)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from types import TracebackType
from typing import Self
from uuid import UUID

from application.listing import ListQuery
from application.ports import IdempotencyRecord
from domain.errors import DuplicateSku, ItemNotFound
from domain.item import Item, ItemChanges


class InMemoryItemRepository:
    def __init__(self, items: dict[UUID, Item]) -> None:
        self.items = items

    async def add(self, item: Item) -> None:
        await self.add_many([item])

    async def add_many(self, items: Sequence[Item]) -> None:
        taken = {item.sku for item in self.items.values()}
        for index, item in enumerate(items):
            if item.sku in taken:
                raise DuplicateSku(item.sku, index=index if len(items) > 1 else None)
        for item in items:
            self.items[item.id] = item

    async def get(self, item_id: UUID) -> Item | None:
        return self.items.get(item_id)

    async def list(self, query: ListQuery) -> list[Item]:
        field = query.sort.field.value

        def key(item: Item) -> tuple[object, UUID]:
            return getattr(item, field), item.id

        selected = [item for item in self.items.values() if _matches(item, query)]
        selected.sort(key=key, reverse=query.sort.descending)
        if query.after is not None:
            seek = (query.after.value, query.after.id)
            if query.sort.descending:
                selected = [i for i in selected if key(i) < seek]
            else:
                selected = [i for i in selected if key(i) > seek]
        return selected[: query.limit + 1]

    async def update(
        self, item_id: UUID, changes: ItemChanges, *, expected_version: int | None, now: datetime
    ) -> Item:
        item = self._current(item_id)
        item.check_version(expected_version)
        sku = changes.values.get("sku")
        if sku is not None and any(i.sku == sku and i.id != item_id for i in self.items.values()):
            raise DuplicateSku(sku)
        self.items[item_id] = updated = item.apply(changes, now=now)
        return updated

    async def adjust_stock(self, item_id: UUID, delta: int, *, now: datetime) -> Item:
        self.items[item_id] = adjusted = self._current(item_id).adjust_stock(delta, now=now)
        return adjusted

    async def delete(self, item_id: UUID, *, expected_version: int | None) -> None:
        self._current(item_id).check_version(expected_version)
        del self.items[item_id]

    async def skus_taken(self, skus: Sequence[str]) -> set[str]:
        wanted = set(skus)
        return {item.sku for item in self.items.values() if item.sku in wanted}

    def _current(self, item_id: UUID) -> Item:
        item = self.items.get(item_id)
        if item is None:
            raise ItemNotFound(item_id)
        return item


def _matches(item: Item, query: ListQuery) -> bool:
    if query.q and not (
        query.q.lower() in item.name.lower() or query.q.lower() in item.sku.lower()
    ):
        return False
    if query.min_price is not None and item.price < query.min_price:
        return False
    if query.max_price is not None and item.price > query.max_price:
        return False
    return query.in_stock is None or (item.quantity > 0) == query.in_stock


class InMemoryIdempotencyStore:
    """Records keyed by (scope, key); `held` is shared by all units of work, like a lock table."""

    def __init__(
        self, records: dict[tuple[str, str], IdempotencyRecord], held: set[tuple[str, str]]
    ) -> None:
        self.records = records
        self.held = held
        self.mine: set[tuple[str, str]] = set()

    async def acquire(self, scope: str, key: str) -> bool:
        if (scope, key) in self.held:
            return False
        self.held.add((scope, key))
        self.mine.add((scope, key))
        return True

    async def find(self, scope: str, key: str) -> IdempotencyRecord | None:
        return self.records.get((scope, key))

    async def save(self, scope: str, record: IdempotencyRecord) -> None:
        self.records[(scope, record.key)] = record

    def release(self) -> None:
        self.held.difference_update(self.mine)
        self.mine.clear()


class InMemoryUnitOfWork:
    """Works on a copy of the store; only commit() publishes it, like a transaction."""

    def __init__(self, store: dict[UUID, Item]) -> None:
        self.store = store
        self.committed = False
        self.idempotency_records: dict[tuple[str, str], IdempotencyRecord] = {}
        self.held_keys: set[tuple[str, str]] = set()

    async def __aenter__(self) -> Self:
        self.items = InMemoryItemRepository(dict(self.store))
        self.idempotency = InMemoryIdempotencyStore(dict(self.idempotency_records), self.held_keys)
        self.committed = False
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.idempotency.release()
        self.items = InMemoryItemRepository({})

    async def commit(self) -> None:
        self.store.clear()
        self.store.update(self.items.items)
        self.idempotency_records.update(self.idempotency.records)
        self.committed = True

    async def rollback(self) -> None:
        self.items = InMemoryItemRepository(dict(self.store))


class _RecordingItemRepository(InMemoryItemRepository):
    def __init__(self, items: dict[UUID, Item], batches: list[int]) -> None:
        super().__init__(items)
        self._batches = batches

    async def add_many(self, items: Sequence[Item]) -> None:
        self._batches.append(len(items))
        await super().add_many(items)


class RecordingUnitOfWork(InMemoryUnitOfWork):
    """An InMemoryUnitOfWork that counts its transactions and the size of every batch stored."""

    def __init__(self, store: dict[UUID, Item]) -> None:
        super().__init__(store)
        self.transactions = 0
        self.batches: list[int] = []

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        self.transactions += 1
        self.items = _RecordingItemRepository(self.items.items, self.batches)
        return self
