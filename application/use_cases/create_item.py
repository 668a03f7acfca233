from collections.abc import Mapping

from application.ports import UnitOfWorkFactory
from domain.item import Item, NewItem


class CreateItem:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, data: Mapping[str, object]) -> Item:
        item = Item.create(NewItem.parse(data))
        async with self._uow() as uow:
            await uow.items.add(item)
            await uow.commit()
        return item
