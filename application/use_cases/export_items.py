from collections.abc import AsyncIterator
from dataclasses import replace

from application.listing import MAX_LIMIT, Cursor, ListQuery
from application.ports import UnitOfWorkFactory
from application.use_cases.list_items import ListItems
from domain.item import Item


class ExportItems:
    """Every item a list query selects, one keyset page at a time: never the whole table.

    Each page is its own short transaction (the same `ListItems` path as a list request), so an
    export is not a snapshot: it holds no row twice and misses none that existed throughout,
    while rows written during the export may or may not appear.
    """

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._list = ListItems(uow)

    async def __call__(self, query: ListQuery | None = None) -> AsyncIterator[list[Item]]:
        query = query or ListQuery(limit=MAX_LIMIT)
        while True:
            page = await self._list(query)
            if page.items:
                yield page.items
            if page.next_cursor is None:
                return
            query = replace(query, after=Cursor.after(page.items[-1], query.sort))
