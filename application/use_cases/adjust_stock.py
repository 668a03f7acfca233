from uuid import UUID

from application.ports import UnitOfWork, UnitOfWorkFactory
from application.use_cases.committed import committed
from domain import rules
from domain.errors import FieldError, ItemValidationError
from domain.item import Item, utc_now


class AdjustStock:
    """Add `delta` (≠ 0) to the stock on hand; never below zero, no lost update."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, item_id: UUID, delta: int) -> Item:
        return await committed(self._uow, lambda uow: self.within(uow, item_id, delta))

    async def within(self, uow: UnitOfWork, item_id: UUID, delta: int) -> Item:
        try:
            rules.validate_delta(delta)
        except ValueError as exc:
            raise ItemValidationError([FieldError("delta", str(exc))]) from None
        return await uow.items.adjust_stock(item_id, delta, now=utc_now())
