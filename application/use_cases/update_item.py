from collections.abc import Mapping
from uuid import UUID

from application.ports import UnitOfWork, UnitOfWorkFactory
from application.use_cases.committed import committed
from domain.item import Item, ItemChanges, utc_now


class UpdateItem:
    """Partial update; with `expected_version`, nothing changes unless it is current."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(
        self, item_id: UUID, data: Mapping[str, object], *, expected_version: int | None = None
    ) -> Item:
        return await committed(
            self._uow,
            lambda uow: self.within(uow, item_id, data, expected_version=expected_version),
        )

    async def within(
        self,
        uow: UnitOfWork,
        item_id: UUID,
        data: Mapping[str, object],
        *,
        expected_version: int | None = None,
    ) -> Item:
        changes = ItemChanges.parse(data)
        return await uow.items.update(
            item_id, changes, expected_version=expected_version, now=utc_now()
        )
