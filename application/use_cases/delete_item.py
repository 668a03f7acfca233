from uuid import UUID

from application.ports import UnitOfWork, UnitOfWorkFactory
from application.use_cases.committed import committed


class DeleteItem:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, item_id: UUID, *, expected_version: int | None = None) -> None:
        await committed(
            self._uow, lambda uow: self.within(uow, item_id, expected_version=expected_version)
        )

    async def within(
        self, uow: UnitOfWork, item_id: UUID, *, expected_version: int | None = None
    ) -> None:
        await uow.items.delete(item_id, expected_version=expected_version)
