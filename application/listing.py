"""List queries: filters, sort orders and opaque keyset cursors."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Final
from uuid import UUID

from application.errors import InvalidCursor, InvalidQuery
from domain.item import Item

DEFAULT_LIMIT: Final = 50
MAX_LIMIT: Final = 200
Q_MAX: Final = 200


class SortField(StrEnum):
    CREATED_AT = "created_at"
    NAME = "name"
    PRICE = "price"
    SKU = "sku"


class Sort(StrEnum):
    """The sort orders a list accepts; a leading '-' means descending."""

    CREATED_AT = "created_at"
    CREATED_AT_DESC = "-created_at"
    NAME = "name"
    NAME_DESC = "-name"
    PRICE = "price"
    PRICE_DESC = "-price"
    SKU = "sku"
    SKU_DESC = "-sku"

    @property
    def field(self) -> SortField:
        return SortField(self.value.lstrip("-"))

    @property
    def descending(self) -> bool:
        return self.value.startswith("-")


SortValue = datetime | str | Decimal


@dataclass(frozen=True, slots=True)
class Cursor:
    """The position after the last item of a page: its sort value and id (the tie-breaker)."""

    sort: Sort
    value: SortValue
    id: UUID

    @classmethod
    def after(cls, item: Item, sort: Sort) -> Cursor:
        value: SortValue = getattr(item, sort.field.value)
        return cls(sort=sort, value=value, id=item.id)

    def encode(self) -> str:
        value = self.value.isoformat() if isinstance(self.value, datetime) else str(self.value)
        raw = json.dumps([self.sort.value, value, str(self.id)], separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str, sort: Sort) -> Cursor:
        try:
            padded = token + "=" * (-len(token) % 4)
            payload = json.loads(base64.urlsafe_b64decode(padded))
            if not (isinstance(payload, list) and all(isinstance(p, str) for p in payload)):
                raise TypeError("cursor payload must be a list of strings")
            sort_raw, value_raw, id_raw = payload
            cursor_sort = Sort(sort_raw)
            item_id = UUID(id_raw)
            value = _parse_value(cursor_sort.field, value_raw)
        except (binascii.Error, ValueError, TypeError, InvalidOperation, UnicodeDecodeError):
            raise InvalidCursor("the cursor is malformed; use next_cursor as returned") from None
        if cursor_sort is not sort:
            raise InvalidCursor(f"the cursor belongs to sort={cursor_sort.value}, not {sort.value}")
        return cls(sort=cursor_sort, value=value, id=item_id)


def _parse_value(field: SortField, raw: object) -> SortValue:
    if not isinstance(raw, str) or "\x00" in raw:
        raise TypeError("cursor value must be a string without NUL")
    if field is SortField.CREATED_AT:
        parsed = datetime.fromisoformat(raw)
        if parsed.tzinfo is None:
            raise ValueError("naive timestamp")
        return parsed
    if field is SortField.PRICE:
        price = Decimal(raw)
        if not price.is_finite():
            raise ValueError("non-finite price")
        return price
    return raw


@dataclass(frozen=True, slots=True)
class ListQuery:
    """What a list asks for; `after` is None on the first page."""

    limit: int = DEFAULT_LIMIT
    sort: Sort = Sort.CREATED_AT
    after: Cursor | None = None
    q: str | None = None
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    in_stock: bool | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_LIMIT:
            raise InvalidQuery("limit", f"must be between 1 and {MAX_LIMIT}")
        if self.q is not None and len(self.q) > Q_MAX:
            raise InvalidQuery("q", f"must be at most {Q_MAX} characters")
        if self.q is not None and "\x00" in self.q:
            raise InvalidQuery("q", "must not contain NUL characters")
        for name in ("min_price", "max_price"):
            bound = getattr(self, name)
            if bound is not None and (not bound.is_finite() or bound < 0):
                raise InvalidQuery(name, "must be a number at least 0")

    @classmethod
    def parse(
        cls,
        *,
        limit: int = DEFAULT_LIMIT,
        sort: Sort = Sort.CREATED_AT,
        cursor: str | None = None,
        q: str | None = None,
        min_price: Decimal | None = None,
        max_price: Decimal | None = None,
        in_stock: bool | None = None,
    ) -> ListQuery:
        """The query as a caller states it: an encoded cursor (InvalidCursor if it is not one
        of this sort's), an empty search meaning none."""
        return cls(
            limit=limit,
            sort=sort,
            after=Cursor.decode(cursor, sort) if cursor else None,
            q=q or None,
            min_price=min_price,
            max_price=max_price,
            in_stock=in_stock,
        )


@dataclass(frozen=True, slots=True)
class Page:
    items: list[Item]
    next_cursor: str | None
