"""Walking a list query page after page (export, `items list --all`, scripts)."""

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace

from application.listing import Cursor, ListQuery, Page


async def pages(
    list_items: Callable[[ListQuery], Awaitable[Page]], query: ListQuery
) -> AsyncIterator[Page]:
    """Each page its own short read-only unit of work: no snapshot, but keyset order neither
    repeats a row nor misses one that existed throughout."""
    while True:
        page = await list_items(query)
        yield page
        if page.next_cursor is None:
            return
        query = replace(query, after=Cursor.after(page.items[-1], query.sort))
