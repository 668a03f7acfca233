"""How an Item looks outside the process: the one JSON shape, shared by HTTP, the CLI and scripts.

The HTTP API renders items with `present_item` too, so an item printed by
`stockroom items ... --json` or written by an export is byte-for-byte what the API returns.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime
from typing import Any, Final

import orjson

from domain.item import Item

__all__ = ["CSV_COLUMNS", "JSON_OPTIONS", "item_csv_row", "item_json", "present_item"]

#: The options every JSON rendering of an item uses (RFC 3339 timestamps ending in `Z`).
JSON_OPTIONS: Final = orjson.OPT_UTC_Z
#: The columns of an exported CSV file: the item's fields, in the order of its JSON.
CSV_COLUMNS: Final = tuple(field.name for field in fields(Item))


def present_item(item: Item) -> dict[str, Any]:
    """The JSON of an Item (built by hand: this is the hottest path of every response).

    `ItemOut` in the HTTP schemas documents this shape; a test holds the two together."""
    return {
        "id": item.id,
        "sku": item.sku,
        "name": item.name,
        "description": item.description,
        "price": f"{item.price:.2f}",
        "quantity": item.quantity,
        "version": item.version,
        "created_at": item.created_at,
        "updated_at": item.updated_at,
    }


def item_json(item: Item) -> bytes:
    return orjson.dumps(present_item(item), option=JSON_OPTIONS)


def _timestamp(value: datetime) -> str:
    # Rendered by orjson, so the text is exactly the JSON's (minus the quotes).
    return orjson.dumps(value, option=JSON_OPTIONS)[1:-1].decode()


def item_csv_row(item: Item) -> list[str]:
    """The item as CSV cells; a null description is an empty cell."""
    return [
        str(item.id),
        item.sku,
        item.name,
        item.description or "",
        f"{item.price:.2f}",
        str(item.quantity),
        str(item.version),
        _timestamp(item.created_at),
        _timestamp(item.updated_at),
    ]
