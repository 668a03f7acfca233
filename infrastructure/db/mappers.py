"""Mapping between table rows and the domain Item."""

from collections.abc import Sequence
from typing import Any, Final
from uuid import UUID, SafeUUID

from sqlalchemy import ColumnElement

from domain.item import ITEM_FIELDS, Item
from infrastructure.db.tables import ITEMS

__all__ = ["ITEM_COLUMNS", "ITEM_FIELDS", "item_to_values", "row_to_item", "standard_uuid"]

#: The item's columns in the order of the entity's fields, so a row maps positionally.
ITEM_COLUMNS: Final[Sequence[ColumnElement[Any]]] = tuple(ITEMS.c[name] for name in ITEM_FIELDS)


def standard_uuid(value: UUID) -> UUID:
    """The standard library's UUID of asyncpg's subclass, without `UUID.__init__`'s parsing."""
    uuid = object.__new__(UUID)
    _SET_UUID_INT(uuid, value.int)
    _SET_UUID_IS_SAFE(uuid, SafeUUID.unknown)
    return uuid


# UUID refuses attribute assignment; its own __setstate__ sets these slots the same way.
_SET_UUID_INT: Final = UUID.__dict__["int"].__set__
_SET_UUID_IS_SAFE: Final = UUID.__dict__["is_safe"].__set__


def row_to_item(row: Sequence[Any]) -> Item:
    """The Item a stored row holds, equal to `Item(*row)`: a row's values already keep the
    item's rules (the table's constraints), so the slots are set directly."""
    item = object.__new__(Item)
    _SET_ID(item, standard_uuid(row[0]))
    for position, set_field in _SET_OTHER_FIELDS:
        set_field(item, row[position])
    return item


# The slots' own setters, which a frozen class's `__setattr__` does not guard, by row position.
_SET_ID: Final = Item.__dict__["id"].__set__
_SET_OTHER_FIELDS: Final = tuple(
    (position, Item.__dict__[name].__set__)
    for position, name in enumerate(ITEM_FIELDS[1:], start=1)
)


def item_to_values(item: Item) -> dict[str, Any]:
    return {name: getattr(item, name) for name in ITEM_FIELDS}
