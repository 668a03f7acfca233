from collections.abc import Mapping

from application.ports import UnitOfWork, UnitOfWorkFactory
from application.use_cases.committed import committed
from domain.item import Item, NewItem


class CreateItem:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, data: Mapping[str, object]) -> Item:
        return await committed(self._uow, lambda uow: self.within(uow, data))

    async def within(self, uow: UnitOfWork, data: Mapping[str, object]) -> Item:
        item = Item.create(NewItem.parse(data))
        await uow.items.add(item)
        return item
