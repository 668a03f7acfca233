"""Errors the domain raises; every interface maps them to its own vocabulary."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID


class DomainError(Exception):
    """Base of every error that is the caller's to fix, not the system's."""


@dataclass(frozen=True, slots=True)
class FieldError:
    """One invalid field: `field` is a dotted path (`price`, `items.3.sku`)."""

    field: str
    message: str


class ItemValidationError(DomainError):
    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))

    def prefixed(self, prefix: str) -> ItemValidationError:
        return ItemValidationError(
            [FieldError(f"{prefix}.{e.field}", e.message) for e in self.errors]
        )


class ItemNotFound(DomainError):
    def __init__(self, item_id: UUID) -> None:
        self.item_id = item_id
        super().__init__(f"item {item_id} does not exist")


class DuplicateSku(DomainError):
    def __init__(
        self, sku: str | None = None, *, index: int | None = None, within_batch: bool = False
    ) -> None:
        self.sku = sku
        self.index = index
        self.within_batch = within_batch
        where = f"items[{index}]: " if index is not None else ""
        what = f"sku {sku!r}" if sku else "the sku"
        why = "appears more than once in the batch" if within_batch else "is already taken"
        super().__init__(f"{where}{what} {why}")


class InsufficientStock(DomainError):
    def __init__(self, item_id: UUID, quantity: int, delta: int) -> None:
        self.item_id = item_id
        self.quantity = quantity
        self.delta = delta
        super().__init__(
            f"item {item_id} has {quantity} in stock; "
            f"an adjustment of {delta} would make it negative"
        )


class StockLimitExceeded(DomainError):
    def __init__(self, item_id: UUID, quantity: int, delta: int, limit: int) -> None:
        self.item_id = item_id
        super().__init__(
            f"item {item_id} has {quantity} in stock; an adjustment of {delta} "
            f"would exceed the limit of {limit}"
        )


class VersionConflict(DomainError):
    def __init__(self, item_id: UUID, expected: int, actual: int) -> None:
        self.item_id = item_id
        self.expected = expected
        self.actual = actual
        super().__init__(f"item {item_id} is at version {actual}, not {expected}")
