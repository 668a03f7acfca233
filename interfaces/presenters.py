"""How an Item looks outside the process: the one JSON shape, shared by HTTP, the CLI and scripts.

`present_item` is the HTTP API's own presenter (re-exported, not copied), so an item printed by
`stockroom items ... --json` or written by an export is byte-for-byte what the API returns.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

import orjson

from domain.item import Item
from interfaces.http.schemas import present_item

__all__ = ["CSV_COLUMNS", "JSON_OPTIONS", "item_csv_row", "item_json", "present_item"]

#: The options every JSON rendering of an item uses (RFC 3339 timestamps ending in `Z`).
JSON_OPTIONS: Final = orjson.OPT_UTC_Z
#: The columns of an exported CSV file: the item's JSON fields, in the same order.
CSV_COLUMNS: Final = (
    "id",
    "sku",
    "name",
    "description",
    "price",
    "quantity",
    "version",
    "created_at",
    "updated_at",
)


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
