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

    Built from the 128-bit integer through the slots' own setters, without `UUID.__init__`
    and its argument parsing: it runs for every row a list page maps."""
    uuid = object.__new__(UUID)
    _SET_UUID_INT(uuid, value.int)
    _SET_UUID_IS_SAFE(uuid, SafeUUID.unknown)
    return uuid


# UUID refuses attribute assignment; its own __setstate__ sets these slots through
# object.__setattr__, and their setters do the same without looking the name up.
_SET_UUID_INT: Final = UUID.__dict__["int"].__set__
_SET_UUID_IS_SAFE: Final = UUID.__dict__["is_safe"].__set__


def row_to_item(row: Sequence[Any]) -> Item:
    """The Item a stored row holds, equal to `Item(...)` of its values and built for less.

    A row's values are an item's own (written from an Item, held to its rules by the table's
    constraints), so the slots are set directly rather than through the frozen dataclass's
    `__init__`: a list page builds an item for every row it reads.
    """
    item_id, sku, name, description, price, quantity, version, created_at, updated_at = row
    item = object.__new__(Item)
    _SET_ID(item, standard_uuid(item_id))
    _SET_SKU(item, sku)
    _SET_NAME(item, name)
    _SET_DESCRIPTION(item, description)
    _SET_PRICE(item, price)
    _SET_QUANTITY(item, quantity)
    _SET_VERSION(item, version)
    _SET_CREATED_AT(item, created_at)
    _SET_UPDATED_AT(item, updated_at)
    return item


# The slots' own setters, which a frozen class's `__setattr__` does not guard.
_SET_ID: Final = Item.__dict__["id"].__set__
_SET_SKU: Final = Item.__dict__["sku"].__set__
_SET_NAME: Final = Item.__dict__["name"].__set__
_SET_DESCRIPTION: Final = Item.__dict__["description"].__set__
_SET_PRICE: Final = Item.__dict__["price"].__set__
_SET_QUANTITY: Final = Item.__dict__["quantity"].__set__
_SET_VERSION: Final = Item.__dict__["version"].__set__
_SET_CREATED_AT: Final = Item.__dict__["created_at"].__set__
_SET_UPDATED_AT: Final = Item.__dict__["updated_at"].__set__


def item_to_values(item: Item) -> dict[str, Any]:
    return {name: getattr(item, name) for name in ITEM_FIELDS}
