"""The change feed in PostgreSQL: reading item_events in commit-safe order, and purging it.

Transactions commit out of id order, so a reader at `id > 41` could miss 40 committed later. The
feed is read in (xid, id) order only below the oldest transaction still running (xmin): every
event below it is committed or never will be, so nothing appears behind a position handed out.
The cost: an open write transaction holds back every event after its own until it ends.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Final
from uuid import UUID

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from application.events import FeedEntry, FeedPosition
from domain.events import EventType, ItemEvent
from infrastructure.db.compiled import Database
from infrastructure.db.errors import unavailable_on_outage
from infrastructure.db.mappers import standard_uuid

#: Below every transaction still running: committed or never to be.
_SETTLED: Final = "xid < pg_snapshot_xmin(pg_current_snapshot())::text::bigint"
_COLUMNS: Final = "xid, id, type, item_id, sku, version, changes, occurred_at"


def _read_sql(item: bool, types: bool) -> str:
    conditions = ["(xid, id) > ($1, $2)", _SETTLED]
    if item:
        conditions.append("item_id = $4")
    if types:
        conditions.append(f"type = ANY(${5 if item else 4}::text[])")
    where = " AND ".join(conditions)
    # Built from this module's constants only.
    return f"SELECT {_COLUMNS} FROM item_events WHERE {where} ORDER BY xid, id LIMIT $3"  # noqa: S608


_READ: Final = {
    (item, types): _read_sql(item, types) for item in (False, True) for types in (False, True)
}
_HORIZON: Final = "SELECT xid, id FROM item_events_horizon"

# One batch of the purge, in one statement: the oldest events in feed order, those of them past
# retention deleted, and the horizon moved to the last one deleted.
_PURGE: Final = text("""
WITH head AS (
    SELECT xid, id, occurred_at FROM item_events
    WHERE xid < pg_snapshot_xmin(pg_current_snapshot())::text::bigint
    ORDER BY xid, id LIMIT :batch
), gone AS (
    DELETE FROM item_events e USING head
    WHERE e.xid = head.xid AND e.id = head.id AND head.occurred_at < :cutoff
    RETURNING e.xid, e.id
), last AS (
    SELECT xid, id FROM gone ORDER BY xid DESC, id DESC LIMIT 1
), mark AS (
    INSERT INTO item_events_horizon (singleton, xid, id) SELECT true, xid, id FROM last
    ON CONFLICT (singleton) DO UPDATE SET xid = excluded.xid, id = excluded.id
    WHERE (item_events_horizon.xid, item_events_horizon.id) < (excluded.xid, excluded.id)
)
SELECT count(*) FROM gone
""")


def _entry(row: Any) -> FeedEntry:
    xid, event_id, kind, item_id, sku, version, changes, occurred_at = row
    # SQLAlchemy's jsonb codec on the connection decodes; plain asyncpg hands back text.
    decoded = orjson.loads(changes) if isinstance(changes, str | bytes) else changes
    event = ItemEvent(
        id=event_id,
        type=EventType(kind),
        item_id=standard_uuid(item_id) if type(item_id) is not UUID else item_id,
        sku=sku,
        version=version,
        changes=decoded,
        occurred_at=occurred_at,
    )
    return FeedEntry(FeedPosition(xid, event_id), event)


class SqlEventFeed:
    def __init__(self, database: Database) -> None:
        self._db = database

    async def read(
        self,
        after: FeedPosition | None,
        limit: int,
        *,
        item_id: UUID | None = None,
        types: frozenset[EventType] | None = None,
    ) -> list[FeedEntry]:
        start = after or FeedPosition(0, 0)
        args: list[Any] = [start.xid, start.id, limit]
        if item_id is not None:
            args.append(item_id)
        if types:
            args.append(sorted(types))
        sql = _READ[item_id is not None, bool(types)]
        with unavailable_on_outage():
            rows = await self._db.fetch(sql, *args)
        return [_entry(row) for row in rows]

    async def horizon(self) -> FeedPosition | None:
        with unavailable_on_outage():
            row = await self._db.fetchrow(_HORIZON)
        return None if row is None else FeedPosition(row[0], row[1])


async def purge_events(engine: AsyncEngine, retention: timedelta, batch: int) -> int:
    """One batch of events older than `retention` deleted, in its own transaction."""
    cutoff = datetime.now(UTC) - retention
    with unavailable_on_outage():
        async with engine.begin() as connection:
            result = await connection.execute(_PURGE, {"batch": batch, "cutoff": cutoff})
            return int(result.scalar_one())


class EventPurger:
    """Deletes events past retention in small batches (short locks); safe to run concurrently."""

    def __init__(self, engine: AsyncEngine, retention: timedelta, batch: int = 1000) -> None:
        self._engine = engine
        self._retention = retention
        self._batch = batch

    async def __call__(self) -> int:
        total = 0
        while purged := await purge_events(self._engine, self._retention, self._batch):
            total += purged
        return total
