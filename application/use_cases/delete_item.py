from uuid import UUID

from application.ports import UnitOfWorkFactory


class DeleteItem:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, item_id: UUID, *, expected_version: int | None = None) -> None:
        async with self._uow() as uow:
            await uow.items.delete(item_id, expected_version=expected_version)
            await uow.commit()
