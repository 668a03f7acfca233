"""Mapping between table rows and the domain Item."""

from collections.abc import Sequence
from dataclasses import fields
from typing import Any, Final
from uuid import UUID

from sqlalchemy import ColumnElement

from domain.item import Item
from infrastructure.db.tables import ITEMS

ITEM_FIELDS: Final = tuple(f.name for f in fields(Item))
#: The item's columns in the order of the entity's fields, so a row maps positionally.
ITEM_COLUMNS: Final[Sequence[ColumnElement[Any]]] = tuple(ITEMS.c[name] for name in ITEM_FIELDS)


def row_to_item(row: Sequence[Any]) -> Item:
    # asyncpg returns its own UUID subclass; the domain holds the standard library's.
    item_id, sku, name, description, price, quantity, version, created_at, updated_at = row
    return Item(
        UUID(bytes=item_id.bytes),
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
