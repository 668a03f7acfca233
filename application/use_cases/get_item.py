from uuid import UUID

from application.ports import UnitOfWorkFactory
from domain.errors import ItemNotFound
from domain.item import Item


class GetItem:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, item_id: UUID) -> Item:
        async with self._uow().read_only() as uow:
            item = await uow.items.get(item_id)
        if item is None:
            raise ItemNotFound(item_id)
        return item
