from collections.abc import Mapping
from uuid import UUID

from application.ports import UnitOfWorkFactory
from domain.item import Item, ItemChanges, utc_now


class UpdateItem:
    """Partial update; with `expected_version`, nothing changes unless it is current."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(
        self, item_id: UUID, data: Mapping[str, object], *, expected_version: int | None = None
    ) -> Item:
        changes = ItemChanges.parse(data)
        async with self._uow() as uow:
            item = await uow.items.update(
                item_id, changes, expected_version=expected_version, now=utc_now()
            )
            await uow.commit()
        return item
