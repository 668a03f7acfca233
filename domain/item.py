"""The Item entity: the one aggregate of the catalog, with its invariants and behaviour."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, field, fields, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final
from uuid import UUID

from domain import rules
from domain.errors import (
    FieldError,
    InsufficientStock,
    ItemValidationError,
    StockLimitExceeded,
    VersionConflict,
)
from domain.ids import new_item_id

#: The rule of each field a caller may set (the fields of NewItem).
_NORMALIZERS: Final[Mapping[str, Callable[[object], Any]]] = {
    "sku": rules.normalize_sku,
    "name": rules.normalize_name,
    "description": rules.normalize_description,
    "price": rules.normalize_price,
    "quantity": rules.normalize_quantity,
}


def utc_now() -> datetime:
    return datetime.now(UTC)


def _normalize(values: Mapping[str, object]) -> dict[str, Any]:
    """Normalise every field given, collecting all errors before raising."""
    normalized: dict[str, Any] = {}
    errors: list[FieldError] = []
    for name, raw in values.items():
        normalizer = _NORMALIZERS.get(name)
        if normalizer is None:
            reason = "is read-only" if name in READ_ONLY_FIELDS else "is not a field of an item"
            errors.append(FieldError(name, reason))
            continue
        if raw is None and name not in NULLABLE_FIELDS:
            errors.append(FieldError(name, "must not be null"))
            continue
        try:
            normalized[name] = normalizer(raw)
        except ValueError as exc:
            errors.append(FieldError(name, str(exc)))
    if errors:
        raise ItemValidationError(errors)
    return normalized


@dataclass(frozen=True, slots=True)
class ItemChanges:
    """A validated partial update: only the fields present in `values` change."""

    values: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, raw: Mapping[str, object]) -> ItemChanges:
        if not raw:
            raise ItemValidationError([FieldError("", "at least one field must be given")])
        return cls(_normalize(raw))


@dataclass(frozen=True, slots=True, kw_only=True)
class NewItem:
    """Validated input for creating an item: the fields a caller may choose, in the Item's order."""

    sku: str
    name: str
    description: str | None = None
    price: Decimal
    quantity: int = 0

    @classmethod
    def parse(cls, raw: Mapping[str, object]) -> NewItem:
        missing = [FieldError(f, "is required") for f in REQUIRED_FIELDS if f not in raw]
        try:
            values = _normalize(raw)
        except ItemValidationError as exc:
            raise ItemValidationError(missing + exc.errors) from None
        if missing:
            raise ItemValidationError(missing)
        return cls(**values)


@dataclass(frozen=True, slots=True)
class Item:
    """An item of the catalog. Immutable: behaviour returns the next state."""

    id: UUID
    sku: str
    name: str
    description: str | None
    price: Decimal
    quantity: int
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def create(cls, new: NewItem, *, now: datetime | None = None) -> Item:
        at = now or utc_now()
        chosen = {name: getattr(new, name) for name in WRITABLE_FIELDS}
        return cls(id=new_item_id(), version=1, created_at=at, updated_at=at, **chosen)

    def check_version(self, expected: int | None) -> None:
        if expected is not None and expected != self.version:
            raise VersionConflict(self.id, expected, self.version)

    def apply(self, changes: ItemChanges, *, now: datetime | None = None) -> Item:
        return replace(
            self, **changes.values, version=self.version + 1, updated_at=now or utc_now()
        )

    def adjust_stock(self, delta: int, *, now: datetime | None = None) -> Item:
        try:
            rules.validate_delta(delta)
        except ValueError as exc:
            raise ItemValidationError([FieldError("delta", str(exc))]) from None
        quantity = self.quantity + delta
        if quantity < 0:
            raise InsufficientStock(self.id, self.quantity, delta)
        if quantity > rules.QUANTITY_MAX:
            raise StockLimitExceeded(self.id, self.quantity, delta, rules.QUANTITY_MAX)
        return replace(
            self, quantity=quantity, version=self.version + 1, updated_at=now or utc_now()
        )


# The field lists the table's mapping, the JSON, the CSV files and the command line derive from.
ITEM_FIELDS: Final = tuple(f.name for f in fields(Item))
WRITABLE_FIELDS: Final = tuple(f.name for f in fields(NewItem))
READ_ONLY_FIELDS: Final = tuple(name for name in ITEM_FIELDS if name not in WRITABLE_FIELDS)
REQUIRED_FIELDS: Final = tuple(
    f.name for f in fields(NewItem) if f.default is MISSING and f.default_factory is MISSING
)
NULLABLE_FIELDS: Final = tuple(f.name for f in fields(NewItem) if f.default is None)
