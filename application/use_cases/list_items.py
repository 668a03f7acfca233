from application.listing import Cursor, ListQuery, Page
from application.ports import UnitOfWorkFactory


class ListItems:
    """One keyset page; `next_cursor` is None on the last page."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, query: ListQuery) -> Page:
        async with self._uow().read_only() as uow:
            items = await uow.items.list(query)
        if len(items) <= query.limit:
            return Page(items=items, next_cursor=None)
        page = items[: query.limit]
        return Page(
            items=page, next_cursor=Cursor.after(page[-1], query.sort).encode(query.filters)
        )
