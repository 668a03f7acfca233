"""List queries: filters, sort orders and opaque keyset cursors."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import unicodedata
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Final
from uuid import UUID

from application.errors import InvalidCursor, InvalidQuery
from domain.item import Item
from domain.rules import NAME_MAX, normalize_price, normalize_sku

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


def name_order(name: str) -> str:
    """Names sort lower-cased, in the database's collation (code point order when embedded)."""
    return name.lower()


def sort_key(item: Item, field: SortField) -> SortValue:
    """The value an item is ordered by in a list sorted on `field`."""
    value: SortValue = getattr(item, field.value)
    return name_order(value) if field is SortField.NAME and isinstance(value, str) else value


#: The filters a cursor is bound to when the list has none.
UNFILTERED: Final = ""

_CURSOR_ERRORS: Final = (
    binascii.Error,
    ValueError,  # UnicodeDecodeError and json.JSONDecodeError too
    TypeError,
    InvalidOperation,
    RecursionError,  # deeply nested JSON
)


def filters_fingerprint(
    q: str | None, min_price: Decimal | None, max_price: Decimal | None, in_stock: bool | None
) -> str:
    """A short digest of a list's filters, which its cursors carry (UNFILTERED when none), so a
    cursor handed to a differently filtered list is refused instead of skipping rows."""
    if q is None and min_price is None and max_price is None and in_stock is None:
        return UNFILTERED
    bounds = [None if b is None else str(b.normalize()) for b in (min_price, max_price)]
    canonical = json.dumps([q, *bounds, in_stock], ensure_ascii=False, separators=(",", ":"))
    digest = hashlib.blake2b(canonical.encode("utf-8", "surrogatepass"), digest_size=6).digest()
    return base64.urlsafe_b64encode(digest).decode()


@dataclass(frozen=True, slots=True)
class Cursor:
    """The position after the last item of a page: its sort value and id (the tie-breaker).

    Decoding is strict, so a forged cursor is either refused or one the service could have
    issued, and no value reaches the database that an item could not hold.
    """

    sort: Sort
    value: SortValue
    id: UUID

    @classmethod
    def after(cls, item: Item, sort: Sort) -> Cursor:
        value: SortValue = getattr(item, sort.field.value)
        return cls(sort=sort, value=value, id=item.id)

    def encode(self, filters: str = UNFILTERED) -> str:
        value = self.value.isoformat() if isinstance(self.value, datetime) else str(self.value)
        raw = json.dumps(
            [self.sort.value, value, str(self.id), filters],
            ensure_ascii=False,
            separators=(",", ":"),
        )
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str, sort: Sort, filters: str = UNFILTERED) -> Cursor:
        try:
            padded = token + "=" * (-len(token) % 4)
            payload = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
            if not (isinstance(payload, list) and all(isinstance(p, str) for p in payload)):
                raise TypeError("cursor payload must be a list of strings")
            sort_raw, value_raw, id_raw, filters_raw = payload
            cursor_sort = Sort(sort_raw)
            cursor = cls(
                sort=cursor_sort, value=_parse_value(cursor_sort.field, value_raw), id=UUID(id_raw)
            )
            if cursor.encode(filters_raw) != token:
                raise ValueError("not the canonical encoding of its values")
        except _CURSOR_ERRORS:
            raise InvalidCursor("the cursor is malformed; use next_cursor as returned") from None
        if cursor_sort is not sort:
            raise InvalidCursor(f"the cursor belongs to sort={cursor_sort.value}, not {sort.value}")
        if filters_raw != filters:
            raise InvalidCursor("the cursor belongs to a list with other filters")
        return cursor


def _parse_value(field: SortField, raw: str) -> SortValue:
    """The sort value, held to the rule its field has on an item."""
    if field is SortField.CREATED_AT:
        parsed = datetime.fromisoformat(raw)
        if parsed.utcoffset() != timedelta(0):
            raise ValueError("the service issues UTC timestamps only")
        return parsed
    if field is SortField.PRICE:
        return normalize_price(raw)
    if field is SortField.NAME:
        return _stored_name(raw)
    return normalize_sku(raw)


def _stored_name(raw: str) -> str:
    """A name as it may be stored: names written before they were normalised (to NFC, with a
    visible character) are still stored as written, and a cursor after one stays valid."""
    if raw != raw.strip() or not 1 <= len(raw) <= NAME_MAX or "\x00" in raw or not _is_text(raw):
        raise ValueError("not a name an item can have")
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
        if self.q is not None and not _is_text(self.q):
            raise InvalidQuery("q", "must be valid Unicode text (no lone surrogates)")
        for name in ("min_price", "max_price"):
            bound = getattr(self, name)
            if bound is not None and (not bound.is_finite() or bound < 0):
                raise InvalidQuery(name, "must be a number at least 0")

    @property
    def filters(self) -> str:
        """The fingerprint of this list's filters, which its cursors carry."""
        return filters_fingerprint(self.q, self.min_price, self.max_price, self.in_stock)

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
        query = cls(
            limit=limit,
            sort=sort,
            # Names are stored in NFC: a search typed with combining accents finds them too.
            q=unicodedata.normalize("NFC", q) if q and _is_text(q) else q or None,
            min_price=min_price,
            max_price=max_price,
            in_stock=in_stock,
        )
        if not cursor:
            return query
        return replace(query, after=Cursor.decode(cursor, sort, query.filters))


def _is_text(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class Page:
    items: list[Item]
    next_cursor: str | None
