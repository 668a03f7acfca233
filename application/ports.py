"""Ports: what the use cases need from the outside world, as protocols."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self
from uuid import UUID

from application.events import FeedEntry, FeedPosition
from application.listing import ListQuery
from domain.events import EventType
from domain.item import Item, ItemChanges


class ItemRepository(Protocol):
    """Items in storage. Every write is atomic on its own; the unit of work groups them."""

    async def add(self, item: Item) -> None:
        """Store a new item; DuplicateSku when its sku is taken."""

    async def add_many(self, items: Sequence[Item]) -> None:
        """Store new items; DuplicateSku (naming one taken sku) when any sku is taken."""

    async def get(self, item_id: UUID) -> Item | None: ...

    async def list(self, query: ListQuery) -> list[Item]:
        """Up to `query.limit + 1` items after `query.after` in `query.sort` order."""

    async def update(
        self, item_id: UUID, changes: ItemChanges, *, expected_version: int | None, now: datetime
    ) -> Item:
        """Apply `changes` in one atomic step: ItemNotFound, VersionConflict or DuplicateSku."""

    async def adjust_stock(self, item_id: UUID, delta: int, *, now: datetime) -> Item:
        """Add `delta` to the quantity atomically: ItemNotFound or InsufficientStock."""

    async def delete(self, item_id: UUID, *, expected_version: int | None) -> None:
        """Remove the item: ItemNotFound or VersionConflict."""

    async def skus_taken(self, skus: Sequence[str]) -> set[str]:
        """Which of `skus` already belong to stored items."""


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """What the caller got the first time: status, the headers worth repeating, the body."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    key: str
    fingerprint: str  # of the request: the same key with another request is refused
    response: StoredResponse


class IdempotencyStore(Protocol):
    """Idempotency records, within the unit of work's transaction. `scope` separates callers."""

    async def acquire(self, scope: str, key: str) -> bool:
        """Hold the key until the transaction ends; False when another transaction holds it."""

    async def find(self, scope: str, key: str) -> IdempotencyRecord | None:
        """The unexpired record for the key, if any."""

    async def save(self, scope: str, record: IdempotencyRecord) -> None: ...


class EventFeed(Protocol):
    """The change feed. Every item write records its events in the same transaction (the item
    repository does, in the statement that writes); this port reads them back."""

    async def read(
        self,
        after: FeedPosition | None,
        limit: int,
        *,
        item_id: UUID | None = None,
        types: frozenset[EventType] | None = None,
    ) -> list[FeedEntry]:
        """Up to `limit` committed events after `after`, in commit-safe order: an event of a
        transaction still running is held back with every event after it."""

    async def horizon(self) -> FeedPosition | None:
        """The position of the last event purged, if any: a cursor before it missed events."""


class UnitOfWork(Protocol):
    """One transaction. Leaving the block without `commit()` rolls everything back. A read-only
    unit may be served from a copy no older than what its caller was told was written."""

    def read_only(self) -> Self:
        """Declare, before entering the block, that this unit only reads; it resets on exit."""

    @property
    def items(self) -> ItemRepository: ...

    @property
    def idempotency(self) -> IdempotencyStore: ...

    @property
    def events(self) -> EventFeed: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...

    async def rollback(self) -> None: ...


UnitOfWorkFactory = Callable[[], UnitOfWork]
