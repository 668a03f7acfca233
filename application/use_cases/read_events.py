"""Reading the change feed: a page after a position, or following it as events commit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from application.events import CursorExpired, EventPage, EventQuery, FeedEntry
from application.ports import UnitOfWorkFactory


class ReadEvents:
    """One page of the feed after a position, in commit-safe order."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, query: EventQuery) -> EventPage:
        async with self._uow().read_only() as uow:
            entries = await uow.events.read(
                query.after, query.limit, item_id=query.item_id, types=query.types
            )
            if query.after is not None:
                # Checked after reading: a purge that ran before the read shows here, so a
                # page is never returned with a hole where purged events were.
                horizon = await uow.events.horizon()
                if horizon is not None and query.after < horizon:
                    raise CursorExpired(
                        "events after this cursor were purged (older than the retention "
                        "period); start again without a cursor"
                    )
        last = entries[-1].position if entries else query.after
        return EventPage(entries, None if last is None else last.encode())


async def follow(
    read: ReadEvents,
    query: EventQuery,
    *,
    poll_seconds: float = 0.5,
    stop: Callable[[], bool] = lambda: False,
) -> AsyncIterator[FeedEntry]:
    """Every event after `query.after`, then each new one as it commits, until `stop()`."""
    after = query.after
    while not stop():
        page = await read(EventQuery(after, query.limit, query.item_id, query.types))
        for entry in page.entries:
            yield entry
        if page.entries:
            after = page.entries[-1].position
        if len(page.entries) < query.limit:
            await asyncio.sleep(poll_seconds)
