"""In-memory fakes of the ports, for unit tests of the use cases (no database)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Self
from uuid import UUID

from application.events import FeedEntry, FeedPosition
from application.listing import ListQuery, SortField, name_order, sort_key
from application.ports import IdempotencyRecord
from domain.errors import DuplicateSku, ItemNotFound
from domain.events import EventType, ItemEvent
from domain.item import Item, ItemChanges


def _event_value(item: Item, name: str) -> object:
    value = getattr(item, name)
    return f"{value:.2f}" if name == "price" else value


#: What a creation's event carries: the item's own fields.
CREATED_FIELDS = ("sku", "name", "description", "price", "quantity")


@dataclass
class InMemoryFeedLog:
    """The committed events, shared by every unit of work: a commit appends its transaction's
    events at once, so the order of commits is the feed's order (what PostgreSQL's reading
    below the oldest running transaction gives)."""

    entries: list[FeedEntry] = field(default_factory=list)
    purged_through: FeedPosition | None = None
    _transactions: int = 0
    _ids: int = 0

    def append(self, events: list[tuple[EventType, Item, tuple[str, ...]]]) -> None:
        if not events:
            return
        self._transactions += 1
        for kind, item, names in events:
            self._ids += 1
            event = ItemEvent(
                id=self._ids,
                type=kind,
                item_id=item.id,
                sku=item.sku,
                version=item.version,
                changes={name: _event_value(item, name) for name in names},
                occurred_at=datetime.now(UTC),
            )
            self.entries.append(FeedEntry(FeedPosition(self._transactions, self._ids), event))

    def purge_before(self, cutoff: datetime) -> int:
        gone = [e for e in self.entries if e.event.occurred_at < cutoff]
        if gone:
            self.purged_through = max(e.position for e in gone)
            self.entries = [e for e in self.entries if e.event.occurred_at >= cutoff]
        return len(gone)


class InMemoryEventFeed:
    def __init__(self, log: InMemoryFeedLog) -> None:
        self.log = log

    async def read(
        self,
        after: FeedPosition | None,
        limit: int,
        *,
        item_id: UUID | None = None,
        types: frozenset[EventType] | None = None,
    ) -> list[FeedEntry]:
        selected = [
            entry
            for entry in self.log.entries
            if (after is None or entry.position > after)
            and (item_id is None or entry.event.item_id == item_id)
            and (not types or entry.event.type in types)
        ]
        return selected[:limit]

    async def horizon(self) -> FeedPosition | None:
        return self.log.purged_through


class InMemoryItemRepository:
    """One transaction's items: its own writes over the shared committed ones, which it reads
    as they are now (PostgreSQL's read committed), so it cannot take a sku another transaction
    committed meanwhile, nor adjust stock from a stale quantity."""

    def __init__(self, committed: dict[UUID, Item]) -> None:
        self.committed = committed
        self.written: dict[UUID, Item | None] = {}  # None: deleted
        #: This transaction's events, in the order of its writes (each write records its own).
        self.events: list[tuple[EventType, Item, tuple[str, ...]]] = []

    async def add(self, item: Item) -> None:
        await self.add_many([item])

    async def add_many(self, items: Sequence[Item]) -> None:
        stored = {item.sku for item in self._visible()}
        batch: set[str] = set()  # a sku repeated within the batch is taken by its first use
        for index, item in enumerate(items):
            if item.sku in stored or item.sku in batch:
                raise DuplicateSku(
                    item.sku,
                    index=index if len(items) > 1 else None,
                    within_batch=item.sku in batch,
                )
            batch.add(item.sku)
        for item in items:
            self.written[item.id] = item
            self.events.append((EventType.CREATED, item, CREATED_FIELDS))

    async def get(self, item_id: UUID) -> Item | None:
        if item_id in self.written:
            return self.written[item_id]
        return self.committed.get(item_id)

    async def list(self, query: ListQuery) -> list[Item]:
        field = query.sort.field

        def key(item: Item) -> tuple[object, UUID]:
            return sort_key(item, field), item.id

        selected = [item for item in self._visible() if _matches(item, query)]
        selected.sort(key=key, reverse=query.sort.descending)
        if query.after is not None:
            value = query.after.value
            order = (
                name_order(value) if isinstance(value, str) and field is SortField.NAME else value
            )
            seek = (order, query.after.id)
            if query.sort.descending:
                selected = [i for i in selected if key(i) < seek]
            else:
                selected = [i for i in selected if key(i) > seek]
        return selected[: query.limit + 1]

    async def update(
        self, item_id: UUID, changes: ItemChanges, *, expected_version: int | None, now: datetime
    ) -> Item:
        item = await self._current(item_id)
        item.check_version(expected_version)
        sku = changes.values.get("sku")
        if sku is not None and any(i.sku == sku and i.id != item_id for i in self._visible()):
            raise DuplicateSku(sku)
        self.written[item_id] = updated = item.apply(changes, now=now)
        self.events.append((EventType.UPDATED, updated, tuple(sorted(changes.values))))
        return updated

    async def adjust_stock(self, item_id: UUID, delta: int, *, now: datetime) -> Item:
        adjusted = (await self._current(item_id)).adjust_stock(delta, now=now)
        self.written[item_id] = adjusted
        self.events.append((EventType.STOCK_ADJUSTED, adjusted, ("quantity",)))
        return adjusted

    async def delete(self, item_id: UUID, *, expected_version: int | None) -> None:
        current = await self._current(item_id)
        current.check_version(expected_version)
        self.written[item_id] = None
        self.events.append((EventType.DELETED, current, ()))

    async def skus_taken(self, skus: Sequence[str]) -> set[str]:
        wanted = set(skus)
        return {item.sku for item in self._visible() if item.sku in wanted}

    def publish(self) -> None:
        """Commit: the transaction's writes become everyone's."""
        for item_id, item in self.written.items():
            if item is None:
                self.committed.pop(item_id, None)
            else:
                self.committed[item_id] = item
        self.written.clear()

    def _visible(self) -> Iterator[Item]:
        merged = {**self.committed, **self.written}
        return (item for item in merged.values() if item is not None)

    async def _current(self, item_id: UUID) -> Item:
        item = await self.get(item_id)
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
    """One transaction's view of the records keyed by (scope, key): its own saves stay private
    until the unit of work publishes them. `held` is shared by every unit of work, like the
    database's lock table; a transaction may take a key it holds again."""

    def __init__(
        self, records: dict[tuple[str, str], IdempotencyRecord], held: set[tuple[str, str]]
    ) -> None:
        self.records = records
        self.held = held
        self.saved: dict[tuple[str, str], IdempotencyRecord] = {}
        self.mine: set[tuple[str, str]] = set()

    async def acquire(self, scope: str, key: str) -> bool:
        if (scope, key) in self.mine:
            return True
        if (scope, key) in self.held:
            return False
        self.held.add((scope, key))
        self.mine.add((scope, key))
        return True

    async def find(self, scope: str, key: str) -> IdempotencyRecord | None:
        return self.saved.get((scope, key)) or self.records.get((scope, key))

    async def save(self, scope: str, record: IdempotencyRecord) -> None:
        self.saved[(scope, record.key)] = record

    def end(self, *, commit: bool) -> None:
        """The transaction is over: publish its records or drop them, release its keys."""
        if commit:
            self.records.update(self.saved)
        self.saved.clear()
        self.held.difference_update(self.mine)
        self.mine.clear()


class InMemoryUnitOfWork:
    """Transactions over a shared store: writes stay private until commit() publishes them;
    leaving the block without committing drops them."""

    def __init__(
        self,
        store: dict[UUID, Item],
        idempotency_records: dict[tuple[str, str], IdempotencyRecord] | None = None,
        held_keys: set[tuple[str, str]] | None = None,
        feed: InMemoryFeedLog | None = None,
    ) -> None:
        self.store = store
        self.feed = InMemoryFeedLog() if feed is None else feed
        self.idempotency_records = {} if idempotency_records is None else idempotency_records
        self.held_keys = set() if held_keys is None else held_keys
        self._active = False
        self.reads_only = False

    @property
    def items(self) -> InMemoryItemRepository:
        self._check_active()
        return self._items

    @property
    def idempotency(self) -> InMemoryIdempotencyStore:
        self._check_active()
        return self._idempotency

    @property
    def events(self) -> InMemoryEventFeed:
        self._check_active()
        return InMemoryEventFeed(self.feed)

    def read_only(self) -> Self:
        self.reads_only = True
        return self

    async def __aenter__(self) -> Self:
        self._active = True
        self._begin()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._active = False
        self.reads_only = False
        self._idempotency.end(commit=False)

    async def commit(self) -> None:
        self._check_active()
        if self.reads_only:
            raise RuntimeError("a read-only unit of work cannot commit")
        self.feed.append(self._items.events)
        self._items.publish()
        self._idempotency.end(commit=True)
        self._begin()

    async def rollback(self) -> None:
        self._check_active()
        self._idempotency.end(commit=False)
        self._begin()

    def _begin(self) -> None:
        self._items = self._repository(self.store)
        self._idempotency = InMemoryIdempotencyStore(self.idempotency_records, self.held_keys)

    def _repository(self, committed: dict[UUID, Item]) -> InMemoryItemRepository:
        return InMemoryItemRepository(committed)

    def _check_active(self) -> None:
        if not self._active:
            raise RuntimeError("the unit of work is used outside its `async with` block")


class _RecordingItemRepository(InMemoryItemRepository):
    def __init__(self, committed: dict[UUID, Item], batches: list[int]) -> None:
        super().__init__(committed)
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
        self.transactions += 1
        return await super().__aenter__()

    def _repository(self, committed: dict[UUID, Item]) -> InMemoryItemRepository:
        return _RecordingItemRepository(committed, self.batches)
