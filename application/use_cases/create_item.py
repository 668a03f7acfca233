from collections.abc import Mapping

from application.ports import UnitOfWork, UnitOfWorkFactory
from domain.item import Item, NewItem


class CreateItem:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, data: Mapping[str, object]) -> Item:
        async with self._uow() as uow:
            item = await self.within(uow, data)
            await uow.commit()
        return item

    async def within(self, uow: UnitOfWork, data: Mapping[str, object]) -> Item:
        """The effect alone, inside a unit of work the caller commits (see RunIdempotently)."""
        item = Item.create(NewItem.parse(data))
        await uow.items.add(item)
        return item
