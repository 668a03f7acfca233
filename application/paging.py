"""Walking a list query page after page: the export, the command line's `items list --all` and
scripts all take this one path."""

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace

from application.listing import Cursor, ListQuery, Page


async def pages(
    list_items: Callable[[ListQuery], Awaitable[Page]], query: ListQuery
) -> AsyncIterator[Page]:
    """The pages of `query` (from its cursor on), each fetched when the one before is consumed.

    Each page is its own short read-only unit of work (`list_items` is the `ListItems` use
    case), so a walk is not a snapshot: it holds no row twice and misses none that existed
    throughout (keyset order), while rows written during the walk may or may not appear.
    """
    while True:
        page = await list_items(query)
        yield page
        if page.next_cursor is None:
            return
        query = replace(query, after=Cursor.after(page.items[-1], query.sort))
