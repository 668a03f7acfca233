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

    Built from the 128-bit integer without `UUID.__init__`, whose argument parsing costs four
    times as much: it runs for every row a list page maps (see bench/README.md)."""
    uuid = object.__new__(UUID)
    object.__setattr__(uuid, "int", value.int)
    object.__setattr__(uuid, "is_safe", SafeUUID.unknown)
    return uuid


def row_to_item(row: Sequence[Any]) -> Item:
    item_id, sku, name, description, price, quantity, version, created_at, updated_at = row
    return Item(
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
