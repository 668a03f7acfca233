"""Mapping between table rows and the domain Item."""

from collections.abc import Sequence
from dataclasses import fields
from typing import Any, Final
from uuid import UUID, SafeUUID

from sqlalchemy import ColumnElement

from domain.item import Item
from infrastructure.db.tables import ITEMS

ITEM_FIELDS: Final = tuple(f.name for f in fields(Item))
#: The item's columns in the order of the entity's fields, so a row maps positionally.
ITEM_COLUMNS: Final[Sequence[ColumnElement[Any]]] = tuple(ITEMS.c[name] for name in ITEM_FIELDS)


def standard_uuid(value: UUID) -> UUID:
    """The standard library's UUID of asyncpg's (its own subclass; the domain holds the former).

    Built from the 128-bit integer through the slots' own setters, without `UUID.__init__`,
    whose argument parsing costs about seven times as much: it runs for every row a list page
    maps (see bench/README.md)."""
    uuid = object.__new__(UUID)
    _SET_UUID_INT(uuid, value.int)
    _SET_UUID_IS_SAFE(uuid, SafeUUID.unknown)
    return uuid


# UUID refuses attribute assignment; its own __setstate__ sets these slots through
# object.__setattr__, and their setters do the same without looking the name up.
_SET_UUID_INT: Final = UUID.__dict__["int"].__set__
_SET_UUID_IS_SAFE: Final = UUID.__dict__["is_safe"].__set__


def row_to_item(row: Sequence[Any]) -> Item:
    item_id, sku, name, description, price, quantity, version, created_at, updated_at = row
    # A stored row holds an item's own values: no need to build it through the constructor.
    return Item.from_stored(
        standard_uuid(item_id),
        sku,
        name,
        description,
        price,
        quantity,
        version,
        created_at,
        updated_at,
    )


def item_to_values(item: Item) -> dict[str, Any]:
    return {name: getattr(item, name) for name in ITEM_FIELDS}
