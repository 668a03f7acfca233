from collections.abc import Mapping, Sequence

from application.ports import UnitOfWork, UnitOfWorkFactory
from application.use_cases.committed import committed
from domain.errors import DuplicateSku, FieldError, ItemValidationError
from domain.item import Item, NewItem, utc_now
from domain.rules import BATCH_MAX


def parse_batch(rows: Sequence[Mapping[str, object]]) -> list[NewItem]:
    """Validate every row, reporting all invalid ones (`items.<index>.<field>`) at once."""
    if not 1 <= len(rows) <= BATCH_MAX:
        raise ItemValidationError([FieldError("items", f"must hold 1 to {BATCH_MAX} items")])
    parsed: list[NewItem] = []
    errors: list[FieldError] = []
    for index, row in enumerate(rows):
        try:
            parsed.append(NewItem.parse(row))
        except ItemValidationError as exc:
            errors.extend(exc.prefixed(f"items.{index}").errors)
    if errors:
        raise ItemValidationError(errors)
    return parsed


def first_repeated_sku(items: Sequence[NewItem]) -> tuple[int, str] | None:
    seen: set[str] = set()
    for index, item in enumerate(items):
        if item.sku in seen:
            return index, item.sku
        seen.add(item.sku)
    return None


class CreateItems:
    """Batch create: every item is stored, or none is."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, rows: Sequence[Mapping[str, object]]) -> list[Item]:
        return await committed(self._uow, lambda uow: self.within(uow, rows))

    async def within(self, uow: UnitOfWork, rows: Sequence[Mapping[str, object]]) -> list[Item]:
        new_items = parse_batch(rows)
        repeated = first_repeated_sku(new_items)
        if repeated is not None:
            index, sku = repeated
            raise DuplicateSku(sku, index=index, within_batch=True)
        now = utc_now()
        items = [Item.create(new, now=now) for new in new_items]
        await uow.items.add_many(items)
        return items
