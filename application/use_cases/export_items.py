from collections.abc import AsyncIterator

from application.listing import MAX_LIMIT, ListQuery
from application.paging import pages
from application.ports import UnitOfWorkFactory
from application.use_cases.list_items import ListItems
from domain.item import Item


class ExportItems:
    """Every item a list query selects, one keyset page at a time."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._list = ListItems(uow)

    async def __call__(self, query: ListQuery | None = None) -> AsyncIterator[list[Item]]:
        async for page in pages(self._list, query or ListQuery(limit=MAX_LIMIT)):
            if page.items:
                yield page.items
